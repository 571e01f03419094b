package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

var _ store.Store = (*memstore.Store)(nil)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() }, storetest.Features{})
}

// scaleOrg is a directory large enough that the store's sorted orders and
// word list have merged their recent writes several times, and that queries
// take each of the store's paths (walking an order, a candidate set, and a
// walk that falls back to a candidate set).
type scaleOrg struct {
	st  *memstore.Store
	ref storetest.Reference
}

const scaleOrgID = "scale"

func newScaleOrg(t *testing.T, n int) *scaleOrg {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	users := synth.Users(7, scaleOrgID, "src", n)
	// Some people share spellings that fold alike, so facet labels and
	// folded filters matter.
	for i := range users {
		switch i % 97 {
		case 3:
			users[i].Department = strings.ToUpper(users[i].Department)
		case 5:
			users[i].Office = strings.ToLower(users[i].Office)
		}
	}
	for start := 0; start < len(users); start += 500 {
		end := min(start+500, len(users))
		req := store.ApplyRequest{OrgID: scaleOrgID}
		for _, u := range users[start:end] {
			req.Users = append(req.Users, store.UserWrite{User: u})
		}
		if _, err := st.Apply(ctx, req); err != nil {
			t.Fatalf("Apply users %d..%d: %v", start, end, err)
		}
	}
	// Rewrite a tenth of them (new names move them in every order) and
	// delete a few, so the indexes hold replaced and dead entries.
	ref := storetest.Reference{OrgID: scaleOrgID}
	var updates []store.UserWrite
	for i := range users {
		switch {
		case i%10 == 1:
			u := users[i]
			u.LastName = "Zz-" + u.LastName
			u.Active = !u.Active
			updates = append(updates, store.UserWrite{User: u, ExpectVersion: 1})
			users[i] = u
		case i%53 == 2:
			updates = append(updates, store.UserWrite{User: store.User{OrgID: scaleOrgID, ID: users[i].ID}, ExpectVersion: 1, Delete: true})
			users[i].ID = ""
		}
	}
	if _, err := st.Apply(ctx, store.ApplyRequest{OrgID: scaleOrgID, Users: updates}); err != nil {
		t.Fatalf("Apply updates: %v", err)
	}
	for _, u := range users {
		if u.ID != "" {
			ref.Users = append(ref.Users, u)
		}
	}
	recs := make([]mapping.Record, 0, len(ref.Users))
	for _, u := range ref.Users {
		recs = append(recs, mapping.Record{ExternalID: u.ExternalID})
	}
	byExt := map[string]string{}
	for _, u := range ref.Users {
		byExt[u.ExternalID] = u.ID
	}
	greq := store.ApplyRequest{OrgID: scaleOrgID}
	for i, g := range synth.Groups(7, recs, 25) {
		grp := store.Group{OrgID: scaleOrgID, SourceID: "src", ID: fmt.Sprintf("g%02d", i), ExternalID: g.ExternalID, Name: g.Name}
		greq.Groups = append(greq.Groups, store.GroupWrite{Group: grp})
		ref.Groups = append(ref.Groups, grp)
		for _, ext := range g.Members {
			m := store.Membership{UserID: byExt[ext], GroupID: grp.ID}
			greq.Members = append(greq.Members, store.MemberWrite{Membership: m})
			ref.Memberships = append(ref.Memberships, m)
		}
	}
	if _, err := st.Apply(ctx, greq); err != nil {
		t.Fatalf("Apply groups: %v", err)
	}
	// Another org with the same people must change nothing.
	other := synth.Users(7, "other", "src", 300)
	oreq := store.ApplyRequest{OrgID: "other"}
	for _, u := range other {
		oreq.Users = append(oreq.Users, store.UserWrite{User: u})
	}
	if _, err := st.Apply(ctx, oreq); err != nil {
		t.Fatalf("Apply other org: %v", err)
	}
	return &scaleOrg{st: st, ref: ref}
}

// randomQuery draws a query from the directory's own values, with case and
// accent variations.
func (o *scaleOrg) randomQuery(r *rand.Rand) search.Query {
	pick := func(f func(u store.User) string) string {
		for range 20 {
			if v := f(o.ref.Users[r.IntN(len(o.ref.Users))]); v != "" {
				if r.IntN(3) == 0 {
					v = strings.ToUpper(v)
				}
				return v
			}
		}
		return "nobody-has-this"
	}
	var q search.Query
	for _, field := range []*[]string{&q.Departments, &q.Divisions, &q.Offices, &q.Tags, &q.Groups} {
		if r.IntN(3) != 0 {
			continue
		}
		for range 1 + r.IntN(2) {
			var v string
			switch field {
			case &q.Departments:
				v = pick(func(u store.User) string { return u.Department })
			case &q.Divisions:
				v = pick(func(u store.User) string { return u.Division })
			case &q.Offices:
				v = pick(func(u store.User) string { return u.Office })
			case &q.Tags:
				v = pick(func(u store.User) string {
					if len(u.Tags) == 0 {
						return ""
					}
					return u.Tags[r.IntN(len(u.Tags))].Value
				})
			default:
				g := o.ref.Groups[r.IntN(len(o.ref.Groups))]
				v = g.Name
				if r.IntN(2) == 0 {
					v = g.ID
				}
			}
			*field = append(*field, v)
		}
	}
	if r.IntN(2) == 0 {
		var terms []string
		for range 1 + r.IntN(2) {
			words := search.Words(pick(func(u store.User) string { return u.FirstName }), pick(func(u store.User) string { return u.LastName }), "")
			w := []rune(words[r.IntN(len(words))])
			terms = append(terms, string(w[:1+r.IntN(len(w))]))
		}
		q.Text = strings.Join(terms, " ")
	}
	q.Status = []search.Status{"", search.StatusActive, search.StatusInactive, search.StatusAll}[r.IntN(4)]
	q.Sort = []search.Sort{"", search.SortFirstName, search.SortEmail, search.SortID}[r.IntN(4)]
	q.Limit = []int{1, 7, 50, 400}[r.IntN(4)]
	return q
}

func ids(users []store.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

// TestSearchAgreesWithTheReferenceAtScale pages through random queries over
// a directory of thousands and requires exactly the reference evaluator's
// results, and its facets. The directory is just larger than the store's
// small sorted runs (lsmMax), so they merge during the test.
func TestSearchAgreesWithTheReferenceAtScale(t *testing.T) {
	t.Parallel()
	o := newScaleOrg(t, 2400)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	queries := []search.Query{
		{},                                      // no filter: walks the order
		{Status: search.StatusAll, Limit: 1000}, // inactive and active
		{Status: search.StatusInactive},
		{Text: "a"},
		{Departments: []string{o.ref.Users[0].Department}, Offices: []string{o.ref.Users[1].Office}},
	}
	for range 30 {
		queries = append(queries, o.randomQuery(r))
	}
	for i, q := range queries {
		want, err := o.ref.Match(q)
		if err != nil {
			t.Fatalf("Reference.Match(%+v): %v", q, err)
		}
		var got []store.User
		page, err := o.st.Search(ctx, scaleOrgID, q)
		if err != nil {
			t.Fatalf("Search(%+v): %v", q, err)
		}
		first, err := o.ref.Search(q)
		if err != nil {
			t.Fatalf("Reference.Search(%+v): %v", q, err)
		}
		if diff := cmp.Diff(first.NextCursor, page.NextCursor); diff != "" {
			t.Errorf("Search(%+v) first page cursor differs from the reference (-want +got):\n%s", q, diff)
		}
		for pages := 0; ; pages++ {
			got = append(got, page.Users...)
			if page.NextCursor == "" || pages > len(want)+1 {
				break
			}
			next := q
			next.Cursor = page.NextCursor
			if page, err = o.st.Search(ctx, scaleOrgID, next); err != nil {
				t.Fatalf("Search(%+v) next page: %v", q, err)
			}
		}
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Errorf("Search(%+v) paged results differ from the reference (-want +got):\n%s", q, diff)
		}
		if len(got) > 0 {
			if diff := cmp.Diff(want[0].Groups, got[0].Groups, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Search(%+v) first user's groups differ (-want +got):\n%s", q, diff)
			}
		}
		if i%3 != 0 {
			continue // the reference's facets are slow; a third of the queries suffice
		}
		wantF, err := o.ref.Facets(q)
		if err != nil {
			t.Fatalf("Reference.Facets(%+v): %v", q, err)
		}
		gotF, err := o.st.Facets(ctx, scaleOrgID, q)
		if err != nil {
			t.Fatalf("Facets(%+v): %v", q, err)
		}
		if diff := cmp.Diff(wantF, gotF, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Facets(%+v) differ from the reference (-want +got):\n%s", q, diff)
		}
	}
}

// TestReturnedValuesAreCopies mutates everything the store hands out and
// requires the stored rows to be unchanged.
func TestReturnedValuesAreCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	u := synth.Users(3, "acme", "src", 1)[0]
	in := u
	in.Tags = slices.Clone(u.Tags)
	ch := store.Change{Kind: store.ChangeCreated, SubjectID: u.ID, After: map[string]any{"tags.team": []string{"Mobile"}}}
	if _, err := st.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: []store.UserWrite{{User: in}}, Changes: []store.Change{ch}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// The caller's request values are its own after Apply.
	in.Tags[0].Value = "mutated-input"
	ch.After["tags.team"].([]string)[0] = "mutated-input"

	got, err := st.GetUser(ctx, "acme", u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	got.Tags[0].Value = "mutated-output"
	got.Source[0] = 'X'
	page, err := st.Search(ctx, "acme", search.Query{Status: search.StatusAll})
	if err != nil || len(page.Users) != 1 {
		t.Fatalf("Search: %v, %d users", err, len(page.Users))
	}
	page.Users[0].Tags[0].Value = "mutated-output"
	changes, err := st.Changes(ctx, "acme", 0, 10)
	if err != nil || len(changes) != 1 {
		t.Fatalf("Changes: %v, %d entries", err, len(changes))
	}
	changes[0].After["tags.team"].([]string)[0] = "mutated-output"

	again, err := st.GetUser(ctx, "acme", u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if diff := cmp.Diff(u.Tags, again.Tags); diff != "" {
		t.Errorf("stored tags changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(string(u.Source), string(again.Source)); diff != "" {
		t.Errorf("stored source changed (-want +got):\n%s", diff)
	}
	changes, _ = st.Changes(ctx, "acme", 0, 10)
	if diff := cmp.Diff(map[string]any{"tags.team": []string{"Mobile"}}, changes[0].After); diff != "" {
		t.Errorf("stored journal entry changed (-want +got):\n%s", diff)
	}
}

// TestConfigNowStampsRowsAndExpiresLeases checks that the configured clock
// is the one the store uses.
func TestConfigNowStampsRowsAndExpiresLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st := memstore.NewWithConfig(memstore.Config{Now: func() time.Time { return now }})
	u := synth.Users(3, "acme", "src", 1)[0]
	if _, err := st.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: []store.UserWrite{{User: u}}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := st.GetUser(ctx, "acme", u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want both %v", got.CreatedAt, got.UpdatedAt, now)
	}
	lease, err := st.AcquireLease(ctx, "acme", "a", time.Minute)
	if err != nil {
		t.Fatalf("AcquireLease: %v", err)
	}
	if _, err := st.AcquireLease(ctx, "acme", "b", time.Minute); err == nil {
		t.Fatal("a second holder acquired an unexpired lease")
	}
	now = now.Add(time.Minute)
	if _, err := st.RenewLease(ctx, lease, time.Minute); err == nil {
		t.Fatal("an expired lease was renewed")
	}
	if _, err := st.AcquireLease(ctx, "acme", "b", time.Minute); err != nil {
		t.Fatalf("AcquireLease after expiry: %v", err)
	}
}
