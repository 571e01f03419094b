package sqlitestore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

// The whole-org facet counts kept by Apply must follow inserts, updates
// (of values, spelling, tags and status) and deletes exactly.
func TestFacetCountsFollowUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	const org = "acme"
	users := synth.Users(7, org, "src", 300)
	if err := applyAll(ctx, s, createRequests(org, users)); err != nil {
		t.Fatal(err)
	}
	const blank = "\u200b"
	if search.Fold(blank) != "" {
		t.Fatalf("%q folds to %q: the test wants a tag value that folds to nothing", blank, search.Fold(blank))
	}
	var final []store.User
	req := store.ApplyRequest{OrgID: org}
	for i, u := range users {
		switch {
		case i%7 == 0:
			req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1, Delete: true})
			continue
		case i%3 == 0:
			u.Department = "ENGINEERING"
			u.Office = ""
			u.Active = !u.Active
			u.Tags = store.NormalizeTags(append(u.Tags, mapping.Tag{Field: "extra", Value: "Nyc"}, mapping.Tag{Field: "team", Value: "nyc"}))
			if i%2 == 0 {
				// A tag that folds to nothing is counted in no facet.
				u.Tags = store.NormalizeTags(append(u.Tags, mapping.Tag{Field: "extra", Value: blank}))
			}
			req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
		case i%5 == 0:
			u.Tags = nil
			u.Division = "Élite"
			req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
		}
		final = append(final, u)
	}
	if _, err := s.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	ref := &storetest.Reference{OrgID: org, Users: final}
	for _, status := range []search.Status{search.StatusActive, search.StatusInactive, search.StatusAll} {
		for name, q := range map[string]search.Query{
			"NoFilter":         {Status: status},
			"DepartmentFilter": {Status: status, Departments: []string{"engineering"}},
			// One field's filter alone: sums of the facet pairs.
			"TwoDepartments": {Status: status, Departments: []string{"engineering", users[1].Department}},
			"DivisionFilter": {Status: status, Divisions: []string{"élite", users[2].Division}},
			"OfficeFilter":   {Status: status, Offices: []string{users[4].Office}},
			// Department facets by office, office facets by department.
			"DepartmentAndOffice": {Status: status, Departments: []string{"engineering"}, Offices: []string{users[4].Office}},
			"TagFilter":           {Status: status, Tags: []string{"NYC"}},
			"TextFilter":          {Status: status, Text: "a"},
			"EveryFilterKind":     {Status: status, Departments: []string{"Engineering", "sales"}, Tags: []string{"nyc", "full-time"}, Text: "e"},
		} {
			t.Run(string(status)+"/"+name, func(t *testing.T) {
				t.Parallel()
				want, err := ref.Facets(q)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Facets(ctx, org, q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Facets(%+v) mismatch (-reference +store):\n%s", q, diff)
				}
			})
		}
	}
}

// The f_tags column must read back as the pairs written, with and without
// characters that JSON escapes.
func TestParseFoldedTagsReadsWhatFoldedTagsJSONWrote(t *testing.T) {
	t.Parallel()
	for name, rows := range map[string][]tagRow{
		"NoTags":           nil,
		"PlainValues":      {{field: "team", folded: "core"}, {field: "cost_center", folded: "cc-1000"}},
		"EscapedValues":    {{field: `a"b`, folded: `c\d`}, {field: "x<y>&", folded: "tab\there"}},
		"NonASCIIValues":   {{field: "équipe", folded: "équipe alpha"}, {field: "κ", folded: "日本"}},
		"EmptyFoldedValue": {{field: "team", folded: ""}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var want []tagPair
			for _, r := range rows {
				want = append(want, tagPair{r.field, r.folded})
			}
			got, err := parseFoldedTags(nil, foldedTagsJSON(rows))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(tagPair{})); diff != "" {
				t.Errorf("parseFoldedTags mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a truncated column is an error", func(t *testing.T) {
		t.Parallel()
		if _, err := parseFoldedTags(nil, `[["team","co`); err == nil {
			t.Error("parseFoldedTags accepted a truncated column")
		}
	})
}

// Migration 007 counts the facet pairs of the people already stored as
// Apply keeps them: rebuilt from the users, the table is what Apply's
// deltas made of creations, updates (of values, tags and status) and
// deletions.
func TestFacetPairsMigrationCountsAsApplyDoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	for _, org := range []string{"acme", "beta"} {
		users := synth.Users(11, org, "src", 250)
		if err := applyAll(ctx, s, createRequests(org, users)); err != nil {
			t.Fatal(err)
		}
		req := store.ApplyRequest{OrgID: org}
		for i, u := range users {
			switch {
			case i%9 == 0:
				req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1, Delete: true})
			case i%4 == 0:
				u.Department, u.Active = "Sales", !u.Active
				u.Tags = store.NormalizeTags(append(u.Tags, mapping.Tag{Field: "extra", Value: "NYC"}, mapping.Tag{Field: "team", Value: "nyc"}))
				req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
			case i%5 == 0:
				u.Office, u.Tags = "", nil
				req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
			}
		}
		if _, err := s.Apply(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []string {
		return queryStrings(t, s, `SELECT org || '|' || by_facet || '|' || by_value || '|' || facet || '|' || folded || '|' || active || '|' || n
			FROM dirsync_facet_pairs ORDER BY 1`)
	}
	kept := read()
	if len(kept) < 100 {
		t.Fatalf("Apply kept %d facet pairs; the test data should make hundreds", len(kept))
	}
	if _, err := s.w.ExecContext(ctx, `DROP TABLE dirsync_facet_pairs; DELETE FROM dirsync_schema_migrations WHERE version >= 7`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kept, read()); diff != "" {
		t.Errorf("facet pairs rebuilt by migration 007 differ from those Apply kept (-apply +migration):\n%s", diff)
	}
}
