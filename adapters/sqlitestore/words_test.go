package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Migration 008 rebuilds dirsync_user_words as Apply keeps it: from a
// store with the table of migration 001 (every word of every person), it
// writes the rows Apply's creations, renames and deletions left.
func TestWordRowsMigrationWritesWhatApplyKeeps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	for _, org := range []string{"acme", "beta"} {
		users := synth.Users(11, org, "src", 300)
		// Separators in a last name; a name longer than a sort key part.
		users[3].LastName = "O'Brien-Smith"
		users[4].LastName = strings.Repeat("Smith", 60)
		if err := applyAll(ctx, s, createRequests(org, users)); err != nil {
			t.Fatal(err)
		}
		req := store.ApplyRequest{OrgID: org}
		for i, u := range users {
			switch {
			case i%11 == 0:
				req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1, Delete: true})
			case i%7 == 0:
				// A new lead word, and words whose lcp changes.
				u.FirstName, u.LastName = "Sm"+u.FirstName, "Smith"+u.LastName
				req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
			}
		}
		if _, err := s.Apply(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []string {
		return queryStrings(t, s, `SELECT org || '|' || lcp || '|' || word || '|' || uid FROM dirsync_user_words ORDER BY 1`)
	}
	kept := read()
	if len(kept) < 1000 {
		t.Fatalf("Apply kept %d word rows; some 550 people should make over a thousand", len(kept))
	}
	// The table as migration 001 made it and Apply wrote it before 008.
	if _, err := s.w.ExecContext(ctx, `DROP TABLE dirsync_user_words;
		CREATE TABLE dirsync_user_words (org TEXT NOT NULL, word TEXT NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY (org, word, uid)) WITHOUT ROWID;
		DELETE FROM dirsync_schema_migrations WHERE version >= 8`); err != nil {
		t.Fatal(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT org, uid, first_name, last_name, email FROM dirsync_users`)
	if err != nil {
		t.Fatal(err)
	}
	type person struct {
		org                string
		uid                int64
		first, last, email string
	}
	var people []person
	for rows.Next() {
		var p person
		if err := rows.Scan(&p.org, &p.uid, &p.first, &p.last, &p.email); err != nil {
			t.Fatal(err)
		}
		people = append(people, p)
	}
	rows.Close()
	for _, p := range people {
		for _, w := range search.Words(p.first, p.last, p.email) {
			if _, err := s.w.ExecContext(ctx, `INSERT INTO dirsync_user_words (org, word, uid) VALUES (?, ?, ?)`, p.org, w, p.uid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kept, read()); diff != "" {
		t.Errorf("word rows written by migration 008 differ from those Apply keeps (-apply +migration):\n%s", diff)
	}
}

// queryStrings returns the one text column of a query's rows, read through
// the store's readers.
func queryStrings(t *testing.T, s *Store, query string) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
