package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// fuzzPeople have names and addresses that exercise word splitting, folding
// and byte-range prefixes.
var fuzzPeople = [][3]string{
	{"Ann", "Álvarez", "ann.alvarez@acme.com"},
	{"Seán", "O'Connor", "sean+hr@acme.io"},
	{"Anne-Marie", "Dupont", "anne-marie.dupont@acme.fr"},
	{"Jane", "Doe", "jane.doe@acme.com"},
	{"Ærøskøbing", "Straße", "strasse_ae@example.org"},
	{"李", "小龍", "li@example.cn"},
	{"Ωmega", "ÿ\u00ffz", "omega@x.y"},
	{"", "", ""},
	{"Zoë", "van der Berg", "ZOE.VDB@ACME.COM"},
}

// FuzzSearchText checks that the SQL text search finds exactly the people
// search.MatchTerm says each term matches, for any text.
func FuzzSearchText(f *testing.F) {
	for _, seed := range []string{"ann", "o'connor", "anne-marie", "jane.doe@acme", "varez", "STRASSE", "李", "ÿ", "\xff", "a b", "-", "@", "+hr", "zoe.vdb@acme.com", "É"} {
		f.Add(seed)
	}
	ctx := context.Background()
	s := setup(f)
	req := store.ApplyRequest{OrgID: "fuzz"}
	words := map[string][]string{}
	for i, p := range fuzzPeople {
		id := fmt.Sprintf("u%02d", i)
		req.Users = append(req.Users, store.UserWrite{User: store.User{OrgID: "fuzz", SourceID: "src", ID: id,
			ExternalID: id, FirstName: p[0], LastName: p[1], Email: p[2], Active: true}})
		words[id] = search.Words(p[0], p[1], p[2])
	}
	if _, err := s.Apply(ctx, req); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		page, err := s.Search(ctx, "fuzz", search.Query{Text: text, Sort: search.SortID, Limit: search.MaxLimit})
		if len(text) > search.MaxValueBytes {
			if !errors.Is(err, search.ErrInvalid) {
				t.Fatalf("Search of %d bytes returned %v, want a validation error", len(text), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Search(%q): %v", text, err)
		}
		var got, want []string
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		for id, ws := range words {
			ok := true
			for _, term := range search.Terms(text) {
				if !search.MatchTerm(term, ws) {
					ok = false
					break
				}
			}
			if ok {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Search(%q) found %v, want %v", text, got, want)
		}
	})
}
