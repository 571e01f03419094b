package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/app"
	"github.com/directorysync/directorysync/internal/config"
)

// testServer is the reference server on a memory store with two file orgs
// (acme, globex) and one WorkOS org (initech) whose API is never called.
type testServer struct {
	t    testing.TB
	app  *app.App
	srv  *httptest.Server
	dir  string
	auth *authenticator
}

const adminToken, acmeToken = "admin-token", "acme-token"

func writePeople(t testing.TB, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,first,last,email,dept,office,team,groups\n")
	depts := []string{"Engineering", "Sales", "Customer Success"}
	for i := range n {
		fmt.Fprintf(&b, "%d,Person%d,Último%02d,p%d@acme.test,%s,%s,team%d,All;%s\n", i+1, i, i, i, depts[i%3], []string{"Zürich", "Oslo"}[i%2], i%2, depts[i%3])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTestServer(t testing.TB, withAuth bool) *testServer {
	t.Helper()
	dir := t.TempDir()
	writePeople(t, filepath.Join(dir, "acme.csv"), 30)
	writePeople(t, filepath.Join(dir, "globex.csv"), 12)
	sum := sha256.Sum256([]byte(acmeToken))
	doc := `
store: memory
orgs:
  - id: acme
    name: Acme
    provider: {type: file, path: acme.csv, groups_field: groups}
    mapping: &m
      first_name: raw.first
      last_name: raw.last
      email: raw.email
      department: raw.dept
      office: raw.office
      tags: {team: raw.team}
  - id: globex
    provider: {type: file, path: globex.csv, groups_field: groups}
    mapping: *m
  - id: initech
    provider: {type: workos, directory_id: directory_01TEST}
`
	if withAuth {
		doc += fmt.Sprintf(`
auth:
  tokens:
    - sha256: %s
      orgs: [acme]
    - env: ADMIN_TOKEN
      orgs: ["*"]
`, hex.EncodeToString(sum[:]))
	}
	path := filepath.Join(dir, "dirsync.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WORKOS_API_KEY": "sk_test_secret", "WORKOS_WEBHOOK_SECRET": "whsec_test", "ADMIN_TOKEN": adminToken,
		"WORKOS_BASE_URL": "http://127.0.0.1:1"}
	getenv := func(k string) string { return env[k] }
	logger := slog.New(slog.DiscardHandler)
	a, err := app.Open(context.Background(), cfg, app.Options{Getenv: getenv, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := newAuthenticator(cfg.Auth, getenv)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	mux, err := newMux(a, auth, logger, getenv, runCtx, &wg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		a.Close()
	})
	return &testServer{t: t, app: a, srv: srv, dir: dir, auth: auth}
}

type response struct {
	status int
	body   map[string]any
	raw    []byte
}

func (s *testServer) do(method, path, token string, body io.Reader) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return response{status: res.StatusCode, body: m, raw: raw}
}

func (s *testServer) get(path string) response { return s.do("GET", path, "", nil) }

func (s *testServer) sync(org string) {
	s.t.Helper()
	r := s.do("POST", "/v1/orgs/"+org+"/sync?wait=60s", "", nil)
	if r.status != 200 || r.body["status"] != "succeeded" {
		s.t.Fatalf("sync %s: %d %s", org, r.status, r.raw)
	}
}

func wantStatus(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code != "" {
		e, _ := r.body["error"].(map[string]any)
		if e == nil || e["code"] != code || e["message"] == "" {
			t.Fatalf("error body %s, want code %q with a message", r.raw, code)
		}
	}
}

func data(r response) []any { d, _ := r.body["data"].([]any); return d }

func TestAPI(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false)
	s.sync("acme")
	s.sync("globex")

	t.Run("HealthzAnswersOK", func(t *testing.T) {
		r := s.get("/healthz")
		wantStatus(t, r, 200, "")
		if r.body["status"] != "ok" {
			t.Fatalf("%.2000s", r.raw)
		}
	})

	t.Run("OrgsListsEveryOrgWithItsLastRun", func(t *testing.T) {
		r := s.get("/v1/orgs")
		wantStatus(t, r, 200, "")
		orgs := data(r)
		if len(orgs) != 3 {
			t.Fatalf("%.2000s", r.raw)
		}
		first := orgs[0].(map[string]any)
		if first["id"] != "acme" || first["name"] != "Acme" || first["last_run"].(map[string]any)["status"] != "succeeded" {
			t.Fatalf("%.2000s", r.raw)
		}
		if orgs[2].(map[string]any)["last_run"] != nil {
			t.Fatalf("initech never synced but has a last run: %s", r.raw)
		}
	})

	t.Run("UsersFiltersAndPagesWithTheCursor", func(t *testing.T) {
		seen := map[string]bool{}
		path := "/v1/orgs/acme/users?department=engineering&limit=4"
		pages := 0
		for {
			r := s.get(path)
			wantStatus(t, r, 200, "")
			for _, u := range data(r) {
				um := u.(map[string]any)
				if um["department"] != "Engineering" {
					t.Fatalf("user outside the filter: %v", um)
				}
				id := um["id"].(string)
				if seen[id] {
					t.Fatalf("user %s on two pages", id)
				}
				seen[id] = true
			}
			pages++
			next, _ := r.body["next_cursor"].(string)
			if next == "" {
				if _, ok := r.body["next_cursor"]; !ok {
					t.Fatalf("next_cursor missing on the last page: %s", r.raw)
				}
				break
			}
			path = "/v1/orgs/acme/users?department=engineering&limit=4&cursor=" + url.QueryEscape(next)
		}
		if len(seen) != 10 || pages != 3 {
			t.Fatalf("saw %d users on %d pages, want 10 on 3", len(seen), pages)
		}
	})

	t.Run("UsersHaveTheDesignShape", func(t *testing.T) {
		r := s.get("/v1/orgs/acme/users?q=person1&limit=1")
		wantStatus(t, r, 200, "")
		u := data(r)[0].(map[string]any)
		for _, k := range []string{"id", "org_id", "external_id", "idp_id", "email", "first_name", "last_name", "department",
			"division", "office", "title", "tags", "tag_fields", "groups", "active", "created_at", "updated_at"} {
			if _, ok := u[k]; !ok {
				t.Errorf("user has no %q: %v", k, u)
			}
		}
		if len(u["groups"].([]any)) != 2 {
			t.Errorf("groups = %v", u["groups"])
		}
		one := s.get("/v1/orgs/acme/users/" + u["id"].(string))
		wantStatus(t, one, 200, "")
		if one.body["email"] != u["email"] {
			t.Fatalf("%.2000s", one.raw)
		}
	})

	t.Run("CherokeeTextIsSearchedNotFatal", func(t *testing.T) {
		// Folding Cherokee once recursed until the stack overflowed,
		// which killed the whole server.
		for _, q := range []string{"q=" + url.QueryEscape("Ꮺ"), "q=" + url.QueryEscape("ꮺꭹ"), "department=" + url.QueryEscape("ᏣᎳᎩ")} {
			r := s.get("/v1/orgs/acme/users?" + q)
			wantStatus(t, r, 200, "")
			if len(data(r)) != 0 {
				t.Errorf("%s matched %.2000s", q, r.raw)
			}
		}
	})

	t.Run("BadFiltersAndCursorsAre400", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=abc", "status=gone", "sort=age", "colour=red", "cursor=garbage", "q=" + strings.Repeat("x", 2000)} {
			wantStatus(t, s.get("/v1/orgs/acme/users?"+q), 400, "bad_request")
		}
		wantStatus(t, s.get("/v1/orgs/acme/facets?limit=0"), 400, "bad_request")
	})

	t.Run("ACursorFromAnotherOrgIs400", func(t *testing.T) {
		r := s.get("/v1/orgs/acme/users?limit=1")
		cur := r.body["next_cursor"].(string)
		wantStatus(t, s.get("/v1/orgs/globex/users?limit=1&cursor="+url.QueryEscape(cur)), 400, "bad_request")
	})

	t.Run("UnknownOrgUserAndEndpointAre404", func(t *testing.T) {
		wantStatus(t, s.get("/v1/orgs/nope/users"), 404, "not_found")
		wantStatus(t, s.get("/v1/orgs/acme/users/usr_nope"), 404, "not_found")
		wantStatus(t, s.get("/v1/orgs/acme/nothing"), 404, "not_found")
		other := data(s.get("/v1/orgs/globex/users?limit=1"))[0].(map[string]any)["id"].(string)
		wantStatus(t, s.get("/v1/orgs/acme/users/"+other), 404, "not_found")
	})

	t.Run("FacetsCountDisjunctively", func(t *testing.T) {
		r := s.get("/v1/orgs/acme/facets?department=Sales")
		wantStatus(t, r, 200, "")
		dept := r.body["department"].(map[string]any)
		if dept["Engineering"] != float64(10) || dept["Sales"] != float64(10) {
			t.Fatalf("department facet ignores its own filter: %s", r.raw)
		}
		office := r.body["office"].(map[string]any)
		if office["Zürich"].(float64)+office["Oslo"].(float64) != 10 {
			t.Fatalf("office facet under department=Sales: %s", r.raw)
		}
		if tf := r.body["tag_fields"].(map[string]any)["team"].(map[string]any); len(tf) != 2 {
			t.Fatalf("tag_fields: %s", r.raw)
		}
	})

	t.Run("GroupsListMemberCounts", func(t *testing.T) {
		r := s.get("/v1/orgs/acme/groups")
		wantStatus(t, r, 200, "")
		counts := map[string]float64{}
		for _, g := range data(r) {
			gm := g.(map[string]any)
			counts[gm["name"].(string)] = gm["member_count"].(float64)
		}
		if counts["All"] != 30 || counts["Sales"] != 10 {
			t.Fatalf("%.2000s", r.raw)
		}
	})

	t.Run("ChangesPageByAfter", func(t *testing.T) {
		r := s.get("/v1/orgs/acme/changes?after=0&limit=5")
		wantStatus(t, r, 200, "")
		cs := data(r)
		if len(cs) != 5 || r.body["next_after"] != float64(5) || cs[0].(map[string]any)["seq"] != float64(1) {
			t.Fatalf("%.2000s", r.raw)
		}
		r = s.get("/v1/orgs/acme/changes?after=5&limit=1")
		if data(r)[0].(map[string]any)["seq"] != float64(6) {
			t.Fatalf("%.2000s", r.raw)
		}
		wantStatus(t, s.get("/v1/orgs/acme/changes?after=-1"), 400, "bad_request")
		wantStatus(t, s.get("/v1/orgs/acme/changes?limit=5000"), 400, "bad_request")
		wantStatus(t, s.get("/v1/orgs/acme/changes?since=1"), 400, "bad_request")
	})

	t.Run("PageIsServedWithAStrictContentSecurityPolicy", func(t *testing.T) {
		res, err := http.Get(s.srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), "Power Search") ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
		res, err = http.Get(s.srv.URL + "/static/app.js")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("app.js: %d", res.StatusCode)
		}
	})
}

func TestSyncEndpoints(t *testing.T) {
	t.Parallel()

	t.Run("StartAnswers202WithTheRunningRun", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		r := s.do("POST", "/v1/orgs/acme/sync", "", nil)
		wantStatus(t, r, 202, "")
		if r.body["status"] != "running" || r.body["mode"] != "full" || r.body["id"] == "" {
			t.Fatalf("%.2000s", r.raw)
		}
		id := r.body["id"].(string)
		deadline := time.Now().Add(30 * time.Second)
		for {
			run := s.get("/v1/orgs/acme/sync/runs/" + id)
			wantStatus(t, run, 200, "")
			if run.body["status"] == "succeeded" {
				if run.body["created"] != float64(30) {
					t.Fatalf("%s", run.raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run never finished: %s", run.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		list := s.get("/v1/orgs/acme/sync/runs")
		if len(data(list)) != 1 || data(list)[0].(map[string]any)["id"] != id {
			t.Fatalf("%s", list.raw)
		}
	})

	t.Run("ASyncRunningElsewhereIs409", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		lease, err := s.app.Store.AcquireLease(context.Background(), "acme", "another-replica", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		defer s.app.Store.ReleaseLease(context.Background(), lease)
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?wait=5s", "", nil), 409, "sync_running")
	})

	t.Run("BadWaitAndUnknownParametersAre400", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?wait=6m", "", nil), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?wait=soon", "", nil), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?dry_run=maybe", "", nil), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?force=1", "", nil), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/nope/sync", "", nil), 404, "not_found")
	})

	t.Run("DryRunReturnsItsPlanAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		r := s.do("POST", "/v1/orgs/acme/sync?dry_run=1&wait=60s", "", nil)
		wantStatus(t, r, 200, "")
		created := 0
		for _, it := range r.body["plan"].([]any) {
			if it.(map[string]any)["kind"] == "created" {
				created++
			}
		}
		if r.body["mode"] != "dry_run" || r.body["status"] != "succeeded" || created != 30 {
			t.Fatalf("%.2000s", r.raw)
		}
		one := s.get("/v1/orgs/acme/sync/runs/" + r.body["id"].(string))
		item := one.body["plan"].([]any)[0].(map[string]any)
		if item["kind"] != "created" || item["external_id"] == "" {
			t.Fatalf("%.2000s", one.raw)
		}
		if users := data(s.get("/v1/orgs/acme/users")); len(users) != 0 {
			t.Fatalf("a dry run wrote %d users", len(users))
		}
	})

	t.Run("AHaltedSyncIsReportedAndItsHeldSetApprovedOnce", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		s.sync("acme")
		writePeople(t, filepath.Join(s.dir, "acme.csv"), 10) // 20 of 30 gone: over the 20 % guard
		r := s.do("POST", "/v1/orgs/acme/sync?wait=60s", "", nil)
		wantStatus(t, r, 200, "")
		if r.body["status"] != "halted" || r.body["held"] != float64(20) || r.body["deactivated"] != float64(0) || r.body["halt_reason"] == "" {
			t.Fatalf("%.2000s", r.raw)
		}
		id := r.body["id"].(string)
		a := s.do("POST", "/v1/orgs/acme/sync/runs/"+id+"/approve", "", nil)
		wantStatus(t, a, 200, "")
		if a.body["status"] != "succeeded" || a.body["deactivated"] != float64(20) {
			t.Fatalf("%s", a.raw)
		}
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync/runs/"+id+"/approve", "", nil), 409, "not_halted")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync/runs/run_nope/approve", "", nil), 404, "not_found")
		if n := len(data(s.get("/v1/orgs/acme/users?status=inactive&limit=100"))); n != 20 {
			t.Fatalf("%d inactive after approval, want 20", n)
		}
	})

	t.Run("ParkedEventsAreListedAndReleased", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false)
		o, _ := s.app.Org("acme")
		res, err := o.Syncer.ApplyEvent(context.Background(), dirsync.Event{ID: "event_1", Kind: dirsync.EventDirectoryDeleted,
			DirectoryID: "dir", OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)})
		if err != nil || res.Outcome != dirsync.EventParked {
			t.Fatalf("%v %v", res, err)
		}
		r := s.get("/v1/orgs/acme/events/parked")
		wantStatus(t, r, 200, "")
		ev := data(r)[0].(map[string]any)
		if ev["id"] != "event_1" || ev["reason"] == "" || ev["received_at"] == "" {
			t.Fatalf("%.2000s", r.raw)
		}
		if len(data(s.get("/v1/orgs/globex/events/parked"))) != 0 {
			t.Fatal("another org sees acme's parked event")
		}
		wantStatus(t, s.do("POST", "/v1/orgs/acme/events/parked/approve", "", strings.NewReader(`{"ids":["event_x"]}`)), 404, "not_found")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/events/parked/approve", "", strings.NewReader(`{"ids":`)), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/events/parked/approve", "", strings.NewReader(`{"idz":[]}`)), 400, "bad_request")
		big := `{"ids":["` + strings.Repeat("x", 2<<20) + `"]}`
		wantStatus(t, s.do("POST", "/v1/orgs/acme/events/parked/approve", "", strings.NewReader(big)), 413, "too_large")
		a := s.do("POST", "/v1/orgs/acme/events/parked/approve", "", strings.NewReader(`{"ids":["event_1"]}`))
		wantStatus(t, a, 200, "")
		if a.body["applied"] != float64(1) || len(data(s.get("/v1/orgs/acme/events/parked"))) != 0 {
			t.Fatalf("%s", a.raw)
		}
	})
}

func TestWebhookEndpointRejectsABadSignature(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false)
	req, _ := http.NewRequest("POST", s.srv.URL+"/v1/webhooks/workos", bytes.NewReader([]byte(`{"id":"event_1","event":"dsync.user.created","data":{}}`)))
	req.Header.Set("WorkOS-Signature", fmt.Sprintf("t=%d, v1=%s", time.Now().UnixMilli(), strings.Repeat("0", 64)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true)
	s.do("POST", "/v1/orgs/acme/sync?wait=60s", adminToken, nil)

	t.Run("ARequestWithoutATokenIs401", func(t *testing.T) {
		wantStatus(t, s.get("/v1/orgs"), 401, "unauthorized")
		wantStatus(t, s.do("GET", "/v1/orgs", "wrong", nil), 401, "unauthorized")
	})
	t.Run("AScopedTokenSeesOnlyItsOrgs", func(t *testing.T) {
		r := s.do("GET", "/v1/orgs", acmeToken, nil)
		wantStatus(t, r, 200, "")
		if len(data(r)) != 1 || data(r)[0].(map[string]any)["id"] != "acme" {
			t.Fatalf("%.2000s", r.raw)
		}
		if n := len(data(s.do("GET", "/v1/orgs", adminToken, nil))); n != 3 {
			t.Fatalf("admin sees %d orgs", n)
		}
	})
	t.Run("AnOrgTheTokenMayNotSeeIs404LikeAMissingOne", func(t *testing.T) {
		hidden := s.do("GET", "/v1/orgs/globex/users", acmeToken, nil)
		missing := s.do("GET", "/v1/orgs/nope/users", acmeToken, nil)
		wantStatus(t, hidden, 404, "not_found")
		wantStatus(t, missing, 404, "not_found")
		wantStatus(t, s.do("POST", "/v1/orgs/globex/sync", acmeToken, nil), 404, "not_found")
		wantStatus(t, s.do("GET", "/v1/orgs/acme/users", acmeToken, nil), 200, "")
	})
	t.Run("TheHealthCheckAndThePageNeedNoToken", func(t *testing.T) {
		wantStatus(t, s.get("/healthz"), 200, "")
		res, err := http.Get(s.srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatal(res.StatusCode)
		}
	})
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("RefusesANonLoopbackAddressWithoutTokens", func(t *testing.T) {
		t.Parallel()
		err := run(context.Background(), []string{"-addr", "0.0.0.0:0"}, func(string) string { return "" }, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "no auth.tokens are configured") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ServesTheDemoAndStopsCleanly", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(cfgPath, []byte("store: sqlite:"+filepath.Join(dir, "d.db")+"\norgs: [{id: demo, provider: {type: demo}}]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-config", cfgPath, "-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, ready)
		}()
		var addr string
		select {
		case addr = <-ready:
		case err := <-done:
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := http.Get("http://" + addr + "/v1/orgs/demo/users?q=a&limit=5")
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Data []any }
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode == 200 && len(body.Data) == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the demo never became searchable (status %d)", res.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
	})
}
