package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/internal/synth"
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
			rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+loadUsersSQL(c.ext, c.idp, c.email, c.onlyInactive),
				"acme", "src", `["a","b"]`, `["i"]`, `["e@x"]`)
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
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN m") || strings.HasPrefix(d, "SCAN u") || strings.HasPrefix(d, "SCAN dirsync_users") {
					t.Errorf("the plan scans the users table:\n%s", strings.Join(plan, "\n"))
					break
				}
			}
		})
	}
}
