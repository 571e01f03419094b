package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
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

func TestReviewRequestParsing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false)
	approve := "/v1/orgs/acme/events/parked/approve"

	t.Run("ContentAfterTheJSONBodyIs400", func(t *testing.T) {
		for _, body := range []string{`{"ids":["x"]} {"ids":[]}`, `{"ids":[]}]`, `{"ids":[]} garbage`, `{} {}`} {
			wantStatus(t, s.do("POST", approve, "", strings.NewReader(body)), 400, "bad_request")
		}
	})
	t.Run("AnEmptyBodyOrTrailingWhiteSpaceIsFine", func(t *testing.T) {
		for _, body := range []string{``, `  `, `{"ids":[]}` + "\n\t ", `{}`} {
			r := s.do("POST", approve, "", strings.NewReader(body))
			wantStatus(t, r, 200, "")
			if r.body["applied"] != float64(0) {
				t.Errorf("body %q: %s", body, r.raw)
			}
		}
	})
	t.Run("ExplicitNullIDsIs400AndApprovesNothing", func(t *testing.T) {
		o, _ := s.app.Org("acme")
		if res, err := o.Syncer.ApplyEvent(context.Background(), dirsync.Event{ID: "event_null", Kind: dirsync.EventDirectoryDeleted,
			DirectoryID: "dir", OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)}); err != nil || res.Outcome != dirsync.EventParked {
			t.Fatalf("%v %v", res, err)
		}
		for _, body := range []string{`{"ids":null}`, `{"ids": null }`, `{"ids":"event_null"}`, `{"ids":[1]}`} {
			wantStatus(t, s.do("POST", approve, "", strings.NewReader(body)), 400, "bad_request")
		}
		if n := len(data(s.get("/v1/orgs/acme/events/parked"))); n != 1 {
			t.Fatalf("%d parked events left, want 1", n)
		}
		r := s.do("POST", approve, "", strings.NewReader(`{"ids":["event_null"]}`))
		wantStatus(t, r, 200, "")
		if r.body["applied"] != float64(1) {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("ARepeatedSyncParameterIs400", func(t *testing.T) {
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?dry_run=0&dry_run=1", "", nil), 400, "bad_request")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync?wait=1s&wait=2s", "", nil), 400, "bad_request")
		wantStatus(t, s.do("GET", "/v1/orgs/acme/changes?limit=1&limit=2", "", nil), 400, "bad_request")
	})
	t.Run("JSONAnswersAreNeverSniffedOrCached", func(t *testing.T) {
		for _, p := range []string{"/v1/orgs", "/v1/orgs/nope/users", "/v1/orgs/acme/users?limit=0"} {
			res, err := http.Get(s.srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: headers %v", p, res.Header)
			}
		}
	})
}

// TestReviewUnauthenticatedRequestsLearnNothing: without a valid token every
// /v1 path — an org that exists, one that does not, an unknown endpoint —
// answers the same 401, so a caller cannot probe which orgs exist.
func TestReviewUnauthenticatedRequestsLearnNothing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true)
	var first string
	for _, p := range []string{"/v1/orgs", "/v1/orgs/acme/users", "/v1/orgs/nope/users", "/v1/orgs/globex/sync/runs/run_x", "/v1/nothing"} {
		for _, tok := range []string{"", "wrong", acmeToken + "x", strings.ToUpper(acmeToken)} {
			r := s.do("GET", p, tok, nil)
			wantStatus(t, r, 401, "unauthorized")
			if first == "" {
				first = string(r.raw)
			} else if string(r.raw) != first {
				t.Errorf("GET %s with %q answers %s, unlike %s", p, tok, r.raw, first)
			}
		}
	}
	req, _ := http.NewRequest("GET", s.srv.URL+"/v1/orgs", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %v", res.Header)
	}
	// The scheme is case-insensitive and white space around the token is
	// ignored; the token itself is exact.
	for _, h := range []string{"bearer " + acmeToken, "BEARER  " + acmeToken + " "} {
		req, _ := http.NewRequest("GET", s.srv.URL+"/v1/orgs", nil)
		req.Header.Set("Authorization", h)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("Authorization %q: %d", h, res.StatusCode)
		}
	}
}

// TestReviewShutdownAnswersAWaitingSyncAtOnce: a request waiting (wait=5m)
// for a sync that cannot finish soon (its WorkOS API is unreachable, so the
// transport keeps backing off) is answered 202 with the running run when the
// server shuts down, and the shutdown completes at once instead of timing
// out.
func TestReviewShutdownAnswersAWaitingSyncAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("store: memory\norgs: [{id: initech, provider: {type: workos, directory_id: directory_01X}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WORKOS_API_KEY": "sk_test", "WORKOS_BASE_URL": "http://127.0.0.1:1"}
	getenv := func(k string) string { return env[k] }
	logger := slog.New(slog.DiscardHandler)
	a, err := app.Open(context.Background(), cfg, app.Options{Getenv: getenv, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	auth, _ := newAuthenticator(nil, getenv)
	runCtx, cancelRuns := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancelRuns(); wg.Wait() }()
	stopping := make(chan struct{})
	mux, err := newMux(a, auth, logger, getenv, runCtx, &wg, stopping)
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(mux, logger, stopping)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()

	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := http.Post("http://"+ln.Addr().String()+"/v1/orgs/initech/sync?wait=5m", "", nil)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer res.Body.Close()
		var body map[string]any
		b, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(b, &body)
		answered <- answer{status: res.StatusCode, body: body}
	}()
	// Wait until the run is recorded: the handler is then waiting.
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, err := a.Store.ListRuns(context.Background(), "initech", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the handler reach its wait
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		t.Fatalf("Shutdown: %v (a waiting request held it)", err)
	}
	select {
	case got := <-answered:
		if got.err != nil || got.status != 202 || got.body["status"] != "running" {
			t.Fatalf("the waiting request got %d %v %v, want 202 with the running run", got.status, got.body, got.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting request was never answered")
	}
}

// FuzzAPIRequest sends any method, path, query, body and Authorization
// header to the API: it answers one of the documented statuses (never 500),
// errors are {"error":{"code","message"}}, and the scoped token never gets
// a 2xx under another org's path.
func FuzzAPIRequest(f *testing.F) {
	for _, seed := range []struct {
		method            uint8
		path, query, body string
		token             uint8
	}{
		{0, "/v1/orgs/acme/users", "q=person&department=Sales&limit=2", "", 1},
		{0, "/v1/orgs/acme/facets", "tag=team1&status=all", "", 2},
		{0, "/v1/orgs/globex/users", "", "", 1},
		{0, "/v1/orgs/acme/changes", "after=3&limit=2", "", 2},
		{0, "/v1/orgs/acme/users/usr_x", "", "", 2},
		{0, "/v1/orgs/acme/sync/runs", "limit=5", "", 2},
		{1, "/v1/orgs/acme/events/parked/approve", "", `{"ids":["e1"]}`, 2},
		{1, "/v1/orgs/acme/events/parked/approve", "", `{"ids":`, 1},
		{1, "/v1/orgs/acme/sync/runs/run_x/approve", "", "", 2},
		{1, "/v1/orgs/acme/sync", "dry_run=1&wait=1ms", "", 2},
		{0, "/v1/orgs", "", "", 0},
		{0, "/v1/orgs/acme/users", "cursor=%ff%00&sort=email", "", 2},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.body, seed.token)
	}
	s := newTestServer(f, true)
	for _, org := range []string{"acme", "globex"} {
		if r := s.do("POST", "/v1/orgs/"+org+"/sync?wait=60s", adminToken, nil); r.status != 200 {
			f.Fatalf("sync %s: %d %s", org, r.status, r.raw)
		}
	}
	tokens := []string{"", acmeToken, adminToken, "wrong"}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	f.Fuzz(func(t *testing.T, method uint8, path, query, body string, token uint8) {
		if len(path) > 4096 || len(query) > 1<<16 || len(body) > 2<<20 ||
			strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			return // net/http itself refuses such a request line, before the API sees it
		}
		u, err := url.Parse("http://x")
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + strings.TrimPrefix(path, "/")
		u.RawQuery = query
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, methods[int(method)%len(methods)], s.srv.URL+u.RequestURI(), strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		tok := tokens[int(token)%len(tokens)]
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := s.srv.Client().Do(req)
		if err != nil {
			return // e.g. the 2 s bound on a sync with wait
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		switch res.StatusCode {
		case 200, 202, 301, 307, 308, 400, 401, 404, 405, 409, 413, 503:
		default:
			t.Fatalf("%s %s: status %d: %.500s", req.Method, req.URL, res.StatusCode, raw)
		}
		if !strings.HasPrefix(req.URL.Path, "/v1/") {
			return
		}
		if res.StatusCode >= 400 && res.StatusCode != 405 {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: status %d with body %.500q", req.Method, req.URL, res.StatusCode, raw)
			}
		}
		if tok == acmeToken && res.StatusCode < 300 && strings.HasPrefix(req.URL.Path, "/v1/orgs/") &&
			!strings.HasPrefix(req.URL.Path, "/v1/orgs/acme/") {
			t.Fatalf("acme's token got %d for %s: %.500s", res.StatusCode, req.URL.Path, raw)
		}
	})
}
