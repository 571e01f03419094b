package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directorysync/directorysync/dirsync"
)

// TestTenantIsolationThroughTheAPI gives org globex (B) users, groups,
// changes, a halted run with held deactivations and a parked event, then
// checks that acme's token (A) can reach none of it: every endpoint under
// B's path is 404 exactly as for an org that does not exist, every ID of B's
// used under A's path is 404 (or matches nothing), nothing of B's appears in
// any answer under A's path, and A's approvals leave B's run and event as
// they were.
func TestTenantIsolationThroughTheAPI(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true)
	must := func(r response, status int) response {
		t.Helper()
		wantStatus(t, r, status, "")
		return r
	}
	for _, org := range []string{"acme", "globex"} {
		r := must(s.do("POST", "/v1/orgs/"+org+"/sync?wait=60s", adminToken, nil), 200)
		if r.body["status"] != "succeeded" {
			t.Fatalf("sync %s: %s", org, r.raw)
		}
	}
	// B: a halted run (6 of 12 gone is over the 20 % guard) and a parked
	// event.
	writePeople(t, filepath.Join(s.dir, "globex.csv"), 6)
	halted := must(s.do("POST", "/v1/orgs/globex/sync?wait=60s", adminToken, nil), 200)
	if halted.body["status"] != "halted" {
		t.Fatalf("globex's second sync did not halt: %s", halted.raw)
	}
	bRun := halted.body["id"].(string)
	globex, _ := s.app.Org("globex")
	if res, err := globex.Syncer.ApplyEvent(context.Background(), dirsync.Event{ID: "event_globex_1", Kind: dirsync.EventDirectoryDeleted,
		DirectoryID: "dir_globex", OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)}); err != nil || res.Outcome != dirsync.EventParked {
		t.Fatalf("parking globex's event: %v %v", res, err)
	}
	bUsers := map[string]bool{}
	for _, u := range data(must(s.do("GET", "/v1/orgs/globex/users?status=all&limit=1000", adminToken, nil), 200)) {
		bUsers[u.(map[string]any)["id"].(string)] = true
	}
	var bGroups []string
	for _, g := range data(must(s.do("GET", "/v1/orgs/globex/groups", adminToken, nil), 200)) {
		bGroups = append(bGroups, g.(map[string]any)["id"].(string))
	}
	if len(bUsers) != 12 || len(bGroups) == 0 {
		t.Fatalf("globex has %d users and %d groups, want 12 and some", len(bUsers), len(bGroups))
	}
	bUser := func() string {
		for id := range bUsers {
			return id
		}
		return ""
	}()

	t.Run("EveryEndpointUnderBsPathIs404LikeAMissingOrg", func(t *testing.T) {
		for _, ep := range []struct{ method, path, body string }{
			{"GET", "/users", ""},
			{"GET", "/users?q=person", ""},
			{"GET", "/users/" + bUser, ""},
			{"GET", "/facets", ""},
			{"GET", "/groups", ""},
			{"POST", "/sync", ""},
			{"POST", "/sync?dry_run=1&wait=5s", ""},
			{"GET", "/sync/runs", ""},
			{"GET", "/sync/runs/" + bRun, ""},
			{"POST", "/sync/runs/" + bRun + "/approve", ""},
			{"GET", "/events/parked", ""},
			{"POST", "/events/parked/approve", ""},
			{"POST", "/events/parked/approve", `{"ids":["event_globex_1"]}`},
			{"GET", "/changes", ""},
			{"GET", "/changes?after=0&limit=1000", ""},
		} {
			hidden := s.do(ep.method, "/v1/orgs/globex"+ep.path, acmeToken, strings.NewReader(ep.body))
			missing := s.do(ep.method, "/v1/orgs/nope"+ep.path, acmeToken, strings.NewReader(ep.body))
			wantStatus(t, hidden, 404, "not_found")
			if got, want := strings.ReplaceAll(string(hidden.raw), "globex", "ORG"), strings.ReplaceAll(string(missing.raw), "nope", "ORG"); got != want {
				t.Errorf("%s %s: the answer tells a hidden org from a missing one:\n hidden  %s\n missing %s", ep.method, ep.path, hidden.raw, missing.raw)
			}
		}
	})

	t.Run("BsIDsUnderAsPathAre404", func(t *testing.T) {
		wantStatus(t, s.do("GET", "/v1/orgs/acme/users/"+bUser, acmeToken, nil), 404, "not_found")
		wantStatus(t, s.do("GET", "/v1/orgs/acme/sync/runs/"+bRun, acmeToken, nil), 404, "not_found")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync/runs/"+bRun+"/approve", acmeToken, nil), 404, "not_found")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/events/parked/approve", acmeToken, strings.NewReader(`{"ids":["event_globex_1"]}`)), 404, "not_found")
		// The admin token too: an ID is looked up in the path's org only.
		wantStatus(t, s.do("GET", "/v1/orgs/acme/users/"+bUser, adminToken, nil), 404, "not_found")
		wantStatus(t, s.do("POST", "/v1/orgs/acme/sync/runs/"+bRun+"/approve", adminToken, nil), 404, "not_found")
	})

	t.Run("ApprovingAllUnderAsPathLeavesBsEventParked", func(t *testing.T) {
		r := must(s.do("POST", "/v1/orgs/acme/events/parked/approve", acmeToken, nil), 200)
		if r.body["applied"] != float64(0) {
			t.Fatalf("approving acme's parked events applied something: %s", r.raw)
		}
	})

	t.Run("BsGroupsFilterNothingUnderAsPath", func(t *testing.T) {
		for _, g := range bGroups {
			if users := data(must(s.do("GET", "/v1/orgs/acme/users?group="+g, acmeToken, nil), 200)); len(users) != 0 {
				t.Errorf("group %s of globex matches %d acme users", g, len(users))
			}
		}
	})

	t.Run("NothingOfBsAppearsInAnyAnswerUnderAsPath", func(t *testing.T) {
		var all strings.Builder
		for _, p := range []string{"/users?status=all&limit=1000", "/facets?status=all", "/groups", "/sync/runs", "/events/parked", "/changes?after=0&limit=1000"} {
			r := must(s.do("GET", "/v1/orgs/acme"+p, acmeToken, nil), 200)
			all.Write(r.raw)
			for _, item := range data(r) {
				if org, ok := item.(map[string]any)["org_id"]; ok && org != "acme" {
					t.Errorf("%s lists an item of org %v", p, org)
				}
			}
		}
		for id := range bUsers {
			if strings.Contains(all.String(), id) {
				t.Errorf("acme's answers show globex's user %s", id)
			}
		}
		for _, id := range append([]string{bRun, "event_globex_1", "globex"}, bGroups...) {
			if strings.Contains(all.String(), id) {
				t.Errorf("acme's answers show globex's %s", id)
			}
		}
		orgs := data(must(s.do("GET", "/v1/orgs", acmeToken, nil), 200))
		if len(orgs) != 1 || orgs[0].(map[string]any)["id"] != "acme" {
			t.Errorf("acme's token lists orgs %v", orgs)
		}
	})

	t.Run("BsRunAndEventAreUntouched", func(t *testing.T) {
		run := must(s.do("GET", "/v1/orgs/globex/sync/runs/"+bRun, adminToken, nil), 200)
		if run.body["status"] != "halted" || run.body["held"] != float64(6) {
			t.Errorf("globex's halted run changed: %s", run.raw)
		}
		parked := data(must(s.do("GET", "/v1/orgs/globex/events/parked", adminToken, nil), 200))
		if len(parked) != 1 {
			t.Errorf("globex's parked events: %v", parked)
		}
		if n := len(data(must(s.do("GET", "/v1/orgs/globex/users?limit=100", adminToken, nil), 200))); n != 12 {
			t.Errorf("globex has %d active users, want all 12", n)
		}
	})
}
