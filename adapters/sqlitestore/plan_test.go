package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

// Every plan choosePlan picks (a rare condition driving, the sort index
// walked with listed or row-checked conditions, a field index driving, a
// term's lead range merged with its word rows) must read the same pages as
// the reference evaluator, in every sort order, through a whole keyset
// walk.
func TestCommonConditionsWalkTheSortIndexInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	const org = "acme"
	users := synth.Users(11, org, "src", 400)
	// Names longer than a sort key part: sk_last holds them cut, so the
	// row check of a common term must read the stored names to find "mo".
	users[7].FirstName, users[7].LastName, users[7].Email = strings.Repeat("x", 300)+" Mo", strings.Repeat("y", 300), "qq@qq.qq"
	// A term longer than wordrows.Cap that prefixes the sort key and an
	// e-mail word: the lead range and the word rows both hold the person.
	users[8].LastName, users[8].Email = "Abcdefghijklmnopq", "abcdefghijklmnopqr@example.com"
	// Common first names make "m" and "s" common terms: a last name's
	// people are found from the sort key, not counted in word rows
	// (migration 008), and the synthetic names alone would leave both
	// under the bound of a count.
	mia, sam := 0, 0
	for i := range users {
		if i == 7 || strings.ContainsRune("ejklmsv", rune(strings.ToLower(users[i].FirstName)[0])) {
			continue
		}
		switch {
		case mia < 104: // and the rest Sam
			users[i].FirstName, mia = "Mia", mia+1
		default:
			users[i].FirstName, sam = "Sam", sam+1
		}
	}
	if err := applyAll(ctx, s, createRequests(org, users)); err != nil {
		t.Fatal(err)
	}
	ref := &storetest.Reference{OrgID: org, Users: users}
	// In the default sort, a query of one plain term whose word rows are
	// fewer than a walk would read reads the term's lead range and word
	// rows merged.
	splitIn := map[string]plan{
		"PrefixUnderA25thDrives": {split: "v"},
		"CommonTagRarePrefix":    {split: "ki", tagProbe: true},
		"LongTermInBoth":         {split: "abcdefghijklmnop"},
	}
	for name, c := range map[string]struct {
		q    search.Query
		plan plan
	}{
		"CommonTag":    {search.Query{Tags: []string{"Full-Time"}, Limit: 3}, plan{sortIndex: true, tagProbe: true}},
		"ListedTag":    {search.Query{Tags: []string{"contractor"}, Limit: 3}, plan{sortIndex: true}},
		"RareTag":      {search.Query{Tags: []string{"CC-1004"}, Limit: 3}, plan{driveTags: true}},
		"CommonPrefix": {search.Query{Text: "m", Limit: 1}, plan{sortIndex: true, rowTerms: []string{"m"}}},
		"CommonPrefixLongName": {search.Query{Text: "m", Limit: 1, Status: search.StatusAll},
			plan{sortIndex: true, rowTerms: []string{"m"}}},
		// Few people match both: the row checks run out of budget and the
		// page ends from the terms' lists.
		"RowTermsOverBudget":  {search.Query{Text: "m s", Limit: 1}, plan{sortIndex: true, rowTerms: []string{"m", "s"}}},
		"TwoListedConditions": {search.Query{Tags: []string{"contractor"}, Text: "l", Limit: 3}, plan{intersect: true}},
		"ListedTermWithParts": {search.Query{Tags: []string{"contractor"}, Text: "e-c", Limit: 3}, plan{sortIndex: true}},
		// 13 words of 400 people: the model would walk, but a prefix's
		// matches may all lie at the end of the order.
		"PrefixUnderA25thDrives": {search.Query{Text: "v", Limit: 1}, plan{driveTerm: "v"}},
		"ListedPrefix":           {search.Query{Text: "l", Limit: 3}, plan{sortIndex: true}},
		"LongTermInBoth":         {search.Query{Text: "abcdefghijklmnop", Limit: 3}, plan{driveTerm: "abcdefghijklmnop"}},
		"ListedAndRowPrefix":     {search.Query{Text: "jo E", Limit: 3}, plan{sortIndex: true, rowTerms: []string{"e"}}},
		"PrefixWithParts":        {search.Query{Text: "e-c", Limit: 3}, plan{sortIndex: true}},
		"RarePrefixDrives":       {search.Query{Text: "e ki", Limit: 3, Status: search.StatusAll}, plan{driveTerm: "ki", rowTerms: []string{"e"}}},
		"CommonTagAndPrefix": {search.Query{Tags: []string{"full-time"}, Text: "e", Limit: 2, Status: search.StatusAll},
			plan{sortIndex: true, tagProbe: true, rowTerms: []string{"e"}}},
		"CommonTagRarePrefix": {search.Query{Tags: []string{"full-time"}, Text: "ki", Limit: 3}, plan{tagProbe: true, driveTerm: "ki"}},
		"RareTagCommonPrefixes": {search.Query{Tags: []string{"cc-1004", "cc-1044"}, Text: "e ma", Limit: 3},
			plan{driveTags: true, rowTerms: []string{"e", "ma"}}},
		"CommonTagDepartment":    {search.Query{Tags: []string{"full-time"}, Departments: []string{"engineering"}, Limit: 3}, plan{tagProbe: true}},
		"DepartmentCommonPrefix": {search.Query{Departments: []string{"engineering", "sales"}, Text: "e", Limit: 3}, plan{rowTerms: []string{"e"}}},
		"DepartmentRarePrefix":   {search.Query{Departments: []string{"engineering"}, Text: "jo", Limit: 3}, plan{}},
		"CommonDepartmentRareOffice": {search.Query{Departments: []string{"Engineering"}, Offices: []string{"lisboa", "Nairobi"}, Limit: 2},
			plan{index: "dirsync_users_office"}},
		"RareDivisionCommonOffice": {search.Query{Divisions: []string{"corporate"}, Offices: []string{"new york"}, Limit: 2},
			plan{index: "dirsync_users_division"}},
	} {
		for _, sort := range []search.Sort{search.SortLastName, search.SortFirstName, search.SortEmail, search.SortID} {
			t.Run(name+"/"+string(sort), func(t *testing.T) {
				t.Parallel()
				q := c.q
				q.Sort = sort
				nq, err := q.Normalize()
				if err != nil {
					t.Fatal(err)
				}
				tx, err := s.r.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.choosePlan(ctx, tx, org, nq)
				tx.Rollback()
				want := c.plan
				if split, ok := splitIn[name]; ok && sort == search.SortLastName {
					want = split
				}
				if err != nil || !cmp.Equal(p, want, cmp.AllowUnexported(plan{})) {
					t.Fatalf("choosePlan(%+v) = %+v, %v; want %+v: the test would not cover that plan", q, p, err, want)
				}
				seen := 0
				for pages := 0; ; pages++ {
					want, err := ref.Search(q)
					if err != nil {
						t.Fatal(err)
					}
					got, err := s.Search(ctx, org, q)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(pageIDs(want), pageIDs(got)); diff != "" {
						t.Fatalf("page %d of %+v mismatch (-reference +store):\n%s", pages, q, diff)
					}
					seen += len(got.Users)
					if got.NextCursor == "" {
						break
					}
					q.Cursor = got.NextCursor
				}
				if seen == 0 {
					t.Errorf("%+v matched nobody; the walk compared empty pages", c.q)
				}
			})
		}
	}
}

// pageIDs is a page's user IDs and cursor (the reference holds no stored
// versions or times).
func pageIDs(p store.Page) []string {
	ids := make([]string, 0, len(p.Users)+1)
	for _, u := range p.Users {
		ids = append(ids, u.ID)
	}
	return append(ids, "cursor:"+p.NextCursor)
}
