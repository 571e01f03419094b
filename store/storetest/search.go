package storetest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

const (
	peopleOrg = "acme"
	shadowOrg = "acme-shadow"
)

func (s *suite) searchCases(t testing.TB) {
	// One store holds the people fixture and its shadow in another org for
	// the table and facet cases; they only read it.
	var once sync.Once
	var shared store.Store
	people := peopleDirectory(peopleOrg)
	fixture := func(t testing.TB) store.Store {
		once.Do(func() {
			shared = s.open(t)
			loadDirectory(t, shared, shadowDirectory(shadowOrg))
			loadDirectory(t, shared, people)
		})
		if shared == nil {
			t.Fatal("the people fixture could not be loaded")
		}
		return shared
	}
	// The shared store must outlive the parallel cases, so it is opened
	// by the group itself rather than lazily by the first case.
	fixture(t)

	run(t, "Table", func(t testing.TB) {
		for _, c := range searchTable {
			run(t, c.name, func(t testing.TB) {
				parallel(t)
				st := fixture(t)
				got := searchAll(t, st, peopleOrg, c.q)
				if diff := cmp.Diff(c.want, userIDs(got), cmpOpts); diff != "" {
					t.Errorf("Search(%+v) IDs (-want +got):\n%s", c.q, diff)
				}
			})
		}
	})
	run(t, "Facets", func(t testing.TB) {
		for _, c := range facetTable {
			run(t, c.name, func(t testing.TB) {
				parallel(t)
				got, err := fixture(t).Facets(t.Context(), peopleOrg, c.q)
				if err != nil {
					t.Fatalf("Facets(%+v): %v", c.q, err)
				}
				if diff := cmp.Diff(c.want, trimFacets(got), cmpOpts); diff != "" {
					t.Errorf("Facets(%+v) (-want +got):\n%s", c.q, diff)
				}
			})
		}
	})
	run(t, "ResultsCarryTheRowWithoutItsSourceAndGroupsSortedByName", func(t testing.TB) {
		parallel(t)
		st := fixture(t)
		page, err := st.Search(t.Context(), peopleOrg, search.Query{Text: "emma johansson"})
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		want, _ := people.Search(search.Query{Text: "emma johansson"})
		if len(want.Users) != 1 || len(want.Users[0].Groups) != 2 {
			t.Fatalf("fixture: reference found %+v", want.Users)
		}
		// The provider record stays with GetUser.
		i := slices.IndexFunc(people.Users, func(u store.User) bool { return u.ID == want.Users[0].ID })
		if i < 0 || len(people.Users[i].Source) == 0 {
			t.Fatalf("fixture: %s has no source record", want.Users[0].ID)
		}
		full, err := st.GetUser(t.Context(), peopleOrg, want.Users[0].ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if diff := cmp.Diff(people.Users[i].Source, full.Source, cmpOpts); diff != "" {
			t.Errorf("GetUser source (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want.Users, page.Users, userOpts); diff != "" {
			t.Errorf("Search users (-want +got):\n%s", diff)
		}
		if len(page.Users) == 1 {
			if diff := cmp.Diff(want.Users[0].Groups, page.Users[0].Groups); diff != "" {
				t.Errorf("Search user groups (-want +got):\n%s", diff)
			}
		}
	})
	run(t, "DefaultLimitIs50AndTheLastPageHasNoCursor", func(t testing.TB) {
		parallel(t)
		st := fixture(t)
		q := search.Query{Status: search.StatusAll}
		var total int
		for pages := 1; ; pages++ {
			page, err := st.Search(t.Context(), peopleOrg, q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			total += len(page.Users)
			if page.NextCursor == "" {
				if pages != 4 || len(page.Users) != 50 || total != 200 {
					t.Errorf("walk of 200 people at the default limit ended on page %d with %d users, %d in all; want page 4, 50, 200", pages, len(page.Users), total)
				}
				return
			}
			if len(page.Users) != 50 || pages > 4 {
				t.Fatalf("page %d has %d users and a cursor; want 50 per page and 4 pages", pages, len(page.Users))
			}
			q.Cursor = page.NextCursor
		}
	})
	run(t, "Validation", func(t testing.TB) { s.validationCases(t, fixture) })
	run(t, "Pagination", func(t testing.TB) { s.paginationCases(t, fixture) })
	run(t, "Differential", s.differentialCases)
}

// trimFacets drops empty tag field maps, which a store may or may not return.
func trimFacets(f store.Facets) store.Facets {
	out := f
	out.TagFields = map[string]map[string]int{}
	for k, v := range f.TagFields {
		if len(v) > 0 {
			out.TagFields[k] = v
		}
	}
	return out
}

func (s *suite) validationCases(t testing.TB, fixture func(testing.TB) store.Store) {
	many := make([]string, search.MaxValues+1)
	for i := range many {
		many[i] = fmt.Sprint("v", i)
	}
	cases := []struct {
		name  string
		q     search.Query
		field string
	}{
		{"NegativeLimit", search.Query{Limit: -1}, "limit"},
		{"LimitOver1000", search.Query{Limit: 1001}, "limit"},
		{"UnknownStatus", search.Query{Status: "deleted"}, "status"},
		{"UnknownSort", search.Query{Sort: "salary"}, "sort"},
		{"TooManyValuesForAField", search.Query{Departments: many}, "department"},
		{"ValueOver1KiB", search.Query{Offices: []string{strings.Repeat("x", search.MaxValueBytes+1)}}, "office"},
		{"TextOver1KiB", search.Query{Text: strings.Repeat("a ", search.MaxValueBytes)}, "q"},
		{"GarbageCursor", search.Query{Cursor: "not-a-cursor!"}, "cursor"},
	}
	for _, c := range cases {
		run(t, c.name+"IsASearchError", func(t testing.TB) {
			parallel(t)
			_, err := fixture(t).Search(t.Context(), peopleOrg, c.q)
			wantSearchError(t, "Search", err, c.field)
		})
	}
	run(t, "FacetsRejectAnUnknownStatus", func(t testing.TB) {
		parallel(t)
		_, err := fixture(t).Facets(t.Context(), peopleOrg, search.Query{Status: "deleted"})
		wantSearchError(t, "Facets", err, "status")
	})
	cursorCases := []struct {
		name  string
		org   string
		alter func(q search.Query) search.Query
	}{
		{"AlteredCursor", peopleOrg, func(q search.Query) search.Query {
			raw, _ := base64.RawURLEncoding.DecodeString(q.Cursor)
			raw[len(raw)/2] ^= 1
			q.Cursor = base64.RawURLEncoding.EncodeToString(raw)
			return q
		}},
		{"TruncatedCursor", peopleOrg, func(q search.Query) search.Query { q.Cursor = q.Cursor[:len(q.Cursor)-2]; return q }},
		{"CursorOfAnotherOrg", shadowOrg, func(q search.Query) search.Query { return q }},
		{"CursorOfAnotherFilter", peopleOrg, func(q search.Query) search.Query { q.Departments = []string{"Sales"}; return q }},
		{"CursorOfAnotherText", peopleOrg, func(q search.Query) search.Query { q.Text = "jane"; return q }},
		{"CursorOfAnotherSort", peopleOrg, func(q search.Query) search.Query { q.Sort = search.SortEmail; return q }},
		{"CursorOfAnotherStatus", peopleOrg, func(q search.Query) search.Query { q.Status = search.StatusAll; return q }},
	}
	for _, c := range cursorCases {
		run(t, c.name+"IsRejected", func(t testing.TB) {
			parallel(t)
			st := fixture(t)
			q := search.Query{Limit: 5}
			page, err := st.Search(t.Context(), peopleOrg, q)
			if err != nil || page.NextCursor == "" {
				t.Fatalf("Search(%+v) = %d users, cursor %q, %v; want a next page", q, len(page.Users), page.NextCursor, err)
			}
			q.Cursor = page.NextCursor
			bad := c.alter(q)
			_, err = st.Search(t.Context(), c.org, bad)
			wantSearchError(t, "Search with "+c.name, err, "cursor")
		})
	}
	run(t, "ACursorStaysValidWhenTheLimitChanges", func(t testing.TB) {
		parallel(t)
		st := fixture(t)
		page, err := st.Search(t.Context(), peopleOrg, search.Query{Limit: 5})
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		rest := searchAll(t, st, peopleOrg, search.Query{Limit: 7, Cursor: page.NextCursor})
		all := searchAll(t, st, peopleOrg, search.Query{Limit: 1000})
		if diff := cmp.Diff(userIDs(all), append(userIDs(page.Users), userIDs(rest)...)); diff != "" {
			t.Errorf("first page of 5 then pages of 7 (-one page +paged):\n%s", diff)
		}
	})
}

func (s *suite) paginationCases(t testing.TB, fixture func(testing.TB) store.Store) {
	for _, sort := range []search.Sort{search.SortLastName, search.SortEmail, search.SortID} {
		run(t, "VisitsEveryResultOnceUnderConcurrentInsertsSortedBy_"+string(sort), func(t testing.TB) {
			parallel(t)
			st := s.open(t)
			ref := randomDirectory(newRand(s.f.Seed, 999), orgA, 240)
			loadDirectory(t, st, ref)
			loadDirectory(t, st, randomDirectory(newRand(s.f.Seed, 998), orgB, 60))
			q := search.Query{Status: search.StatusAll, Sort: sort, Limit: 7}
			existing, _ := ref.Match(q)

			var stop atomic.Bool
			var wg sync.WaitGroup
			insertErr := make(chan error, 2)
			safeGo(&wg, insertErr, func() {
				r := newRand(s.f.Seed, 997)
				for i := 0; !stop.Load() && i < 200; i++ {
					batch := randomDirectory(r, orgA, 3)
					for j := range batch.Users {
						batch.Users[j].ID = fmt.Sprintf("n%03d-%d", i, j)
						batch.Users[j].ExternalID = "ext-" + batch.Users[j].ID
					}
					if _, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(batch.Users...)}); err != nil {
						select {
						case insertErr <- err:
						default:
						}
						return
					}
				}
			})
			var got []store.User
			var walkErr error
			for pages := 0; ; pages++ {
				page, err := st.Search(t.Context(), orgA, q)
				if err != nil {
					walkErr = err
					break
				}
				got = append(got, page.Users...)
				if page.NextCursor == "" || pages > 1000 {
					break
				}
				q.Cursor = page.NextCursor
			}
			stop.Store(true)
			wg.Wait()
			select {
			case err := <-insertErr:
				t.Fatalf("concurrent insert: %v", err)
			default:
			}
			if walkErr != nil {
				t.Fatalf("Search: %v", walkErr)
			}
			seen := map[string]int{}
			for i, u := range got {
				seen[u.ID]++
				if i > 0 {
					prev := got[i-1]
					if !(search.Position{Key: sortKey(sort, prev), ID: prev.ID}).After(sortKey(sort, u), u.ID) {
						t.Errorf("result %d (%s) does not sort after result %d (%s)", i, u.ID, i-1, prev.ID)
					}
				}
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("user %s visited %d times", id, n)
				}
			}
			for _, u := range existing {
				if seen[u.ID] == 0 {
					t.Errorf("existing user %s was skipped", u.ID)
				}
			}
		})
	}
}
