package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
)

// TestLoadUsersProbesIndexes: LoadUsers by external IDs alone (a remap's
// listing), and by external IDs, idp IDs and emails of inactive users (a
// sync's candidates), must probe indexes per list entry, never scan the
// org's users. (A branch for an empty list once made the planner scan the
// whole org twice per call.)
func TestLoadUsersProbesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	if err := applyAll(ctx, s, createRequests("acme", synth.Users(3, "acme", "src", 500))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                          string
		ext, idp, email, onlyInactive bool
	}{
		{"ExternalIDs", true, false, false, false},
		{"ExternalIDsOfInactive", true, false, false, true},
		{"Candidates", true, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := queryPlan(t, s, loadUsersSQL(c.ext, c.idp, c.email, c.onlyInactive),
				"acme", "src", `["a","b"]`, `["i"]`, `["e@x"]`)
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN m") || strings.HasPrefix(d, "SCAN u") || strings.HasPrefix(d, "SCAN dirsync_users") {
					t.Errorf("the plan scans the users table:\n%s", strings.Join(plan, "\n"))
					break
				}
			}
		})
	}
}

// TestDrivingListsProbeRowIDs: a query driven from a list of row IDs (a
// rare tag's, a rare term's, or the intersection of two) must look its
// people up by row ID, never scan the org's users. (A term's condition
// written as an OR of its word rows and its sort key's range once made
// the driven query read every row: 0.7 -> 7 ms at 10k people.)
func TestDrivingListsProbeRowIDs(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		q search.Query
		p plan
	}{
		"Term":      {search.Query{Text: "zh", Tags: []string{"cc-1000"}}, plan{driveTerm: "zh", tagProbe: true}},
		"Tags":      {search.Query{Text: "m e", Tags: []string{"cc-1000"}}, plan{driveTags: true, rowTerms: []string{"m", "e"}}},
		"Intersect": {search.Query{Text: "li", Tags: []string{"contractor"}}, plan{intersect: true}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			q, err := c.q.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			query, args := matchQuery("acme", q, c.p, search.Position{}, false, q.Limit+1)
			plan := queryPlan(t, s, query, args...)
			probes := false
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN u") {
					t.Errorf("the driven query scans the users table:\n%s", strings.Join(plan, "\n"))
				}
				probes = probes || strings.HasPrefix(d, "SEARCH u USING INTEGER PRIMARY KEY")
			}
			if !probes {
				t.Errorf("the driven query does not look up users by row ID:\n%s", strings.Join(plan, "\n"))
			}
		})
	}
}

// queryPlan returns the details of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
