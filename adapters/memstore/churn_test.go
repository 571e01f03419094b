package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

// TestSearchAgreesWithTheReferenceAfterChurn rewrites every user of an org
// several times (new names, statuses, departments and tags) and deletes
// some, so that postings lists drop their dead entries and the org
// renumbers its slots, then requires the reference evaluator's results and
// facets for queries on every kind of filter.
func TestSearchAgreesWithTheReferenceAfterChurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const orgID, n = "churn", 2500
	st := New()
	users := synth.Users(5, orgID, "src", n)
	apply := func(ws []store.UserWrite) {
		t.Helper()
		for start := 0; start < len(ws); start += 500 {
			if _, err := st.Apply(ctx, store.ApplyRequest{OrgID: orgID, Users: ws[start:min(start+500, len(ws))]}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
		}
	}
	var ws []store.UserWrite
	for _, u := range users {
		ws = append(ws, store.UserWrite{User: u})
	}
	apply(ws)
	version := map[string]int64{}
	for _, u := range users {
		version[u.ID] = 1
	}
	for round := range 3 {
		ws = ws[:0]
		for i := range users {
			u := &users[i]
			if u.ID == "" {
				continue
			}
			if i%41 == round {
				ws = append(ws, store.UserWrite{User: store.User{OrgID: orgID, ID: u.ID}, ExpectVersion: version[u.ID], Delete: true})
				u.ID = ""
				continue
			}
			u.LastName = fmt.Sprintf("R%d-%s", round, u.LastName)
			if i%3 == round {
				u.Active = !u.Active
			}
			if i%7 == round {
				u.Department = users[(i+1)%n].Department
			}
			// Every address changes and changes back, so that more words
			// die than the word list keeps dead, and come back.
			switch round {
			case 0:
				u.Email = "moved-" + u.Email
			case 1:
				u.Email = strings.TrimPrefix(u.Email, "moved-")
			}
			if i%5 == round && len(u.Tags) > 0 {
				u.Tags = slices.Clone(u.Tags[1:])
			}
			ws = append(ws, store.UserWrite{User: *u, ExpectVersion: version[u.ID]})
			version[u.ID]++
		}
		apply(ws)
	}

	ref := storetest.Reference{OrgID: orgID}
	for _, u := range users {
		if u.ID != "" {
			ref.Users = append(ref.Users, u)
		}
	}
	o := st.orgs[orgID]
	if live := len(o.users); len(o.slots) > max(2*live, live+minRenumber) || o.deadSlots != len(o.slots)-live {
		t.Errorf("the org holds %d slots (%d dead) for %d users: dead slots were not dropped", len(o.slots), o.deadSlots, live)
	}

	queries := []search.Query{{}, {Status: search.StatusAll}, {Status: search.StatusInactive}, {Text: "r2"}, {Text: "r2-a"}, {Text: "moved"}}
	for i, u := range ref.Users {
		if i%97 != 0 {
			continue
		}
		q := search.Query{Departments: []string{u.Department}, Status: search.StatusAll, Limit: 1000}
		if len(u.Tags) > 0 {
			q.Tags = []string{u.Tags[0].Value}
		}
		queries = append(queries, search.Query{Text: u.Email})
		words := search.Words(u.FirstName, "", "")
		queries = append(queries, q,
			search.Query{Offices: []string{u.Office}, Text: words[0][:1], Sort: search.SortFirstName},
			search.Query{Departments: []string{u.Department, ref.Users[i/2].Department}, Divisions: []string{u.Division}, Status: search.StatusInactive})
	}
	for _, q := range queries {
		want, err := ref.Match(q)
		if err != nil {
			t.Fatalf("Reference.Match(%+v): %v", q, err)
		}
		var got []store.User
		for page := q; ; {
			p, err := st.Search(ctx, orgID, page)
			if err != nil {
				t.Fatalf("Search(%+v): %v", page, err)
			}
			got = append(got, p.Users...)
			if page.Cursor = p.NextCursor; page.Cursor == "" || len(got) > len(want) {
				break
			}
		}
		if diff := cmp.Diff(userIDs(want), userIDs(got)); diff != "" {
			t.Errorf("Search(%+v) differs from the reference (-want +got):\n%s", q, diff)
		}
		wantF, err := ref.Facets(q)
		if err != nil {
			t.Fatalf("Reference.Facets(%+v): %v", q, err)
		}
		gotF, err := st.Facets(ctx, orgID, q)
		if err != nil {
			t.Fatalf("Facets(%+v): %v", q, err)
		}
		if diff := cmp.Diff(wantF, gotF, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Facets(%+v) differ from the reference (-want +got):\n%s", q, diff)
		}
	}
	n2 := 0
	if err := st.Snapshot(ctx, orgID, "src", func(store.SnapshotEntry) error { n2++; return nil }); err != nil || n2 != len(ref.Users) {
		t.Errorf("Snapshot streamed %d entries (error %v), want %d", n2, err, len(ref.Users))
	}
}

func userIDs(users []store.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}
