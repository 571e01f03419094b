package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// base is the fixed time the suite's records are stamped with. Times are
// whole seconds in UTC, so every database keeps them exactly.
var base = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// at returns base shifted by d.
func at(d time.Duration) time.Time { return base.Add(d) }

// cmpOpts compare records as stored: times by instant, JSON by value.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	cmp.Comparer(jsonEqual),
	cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().Type() != reflect.TypeFor[json.RawMessage]()
	}, cmpopts.EquateEmpty()),
}

// userOpts compare users ignoring what the store assigns.
var userOpts = cmp.Options{
	cmpOpts,
	cmpopts.IgnoreFields(store.User{}, "Version", "CreatedAt", "UpdatedAt", "Groups"),
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 || string(a) == "null" || string(b) == "null" {
		return (len(a) == 0 || string(a) == "null") == (len(b) == 0 || string(b) == "null")
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// user returns a complete active user of org and source, with every field
// set from id.
func user(org, source, id string) store.User {
	rec := mapping.Record{ExternalID: "ext-" + id, State: mapping.StateActive, Email: id + "@example.com", FirstName: "First " + id, LastName: "Last " + id, UpdatedAt: at(0)}
	src, _ := json.Marshal(rec)
	u := store.User{
		OrgID: org, SourceID: source, ID: id, ExternalID: "ext-" + id, IdpID: "idp-" + id,
		Email: id + "@example.com", FirstName: "First " + id, LastName: "Last " + id,
		Department: "Engineering", Division: "Product", Office: "Zürich", Title: "Engineer",
		Tags:   store.NormalizeTags([]mapping.Tag{{Field: "team", Value: "Mobile"}, {Field: "cost_center", Value: "CC-1"}}),
		Active: true, Source: src, SourceHash: store.HashSource(&rec), MappingVersion: "m1",
		ProviderUpdatedAt: at(0),
	}
	u.ProfileHash = store.HashProfile(&u)
	return u
}

func group(org, source, id, name string) store.Group {
	return store.Group{OrgID: org, SourceID: source, ID: id, ExternalID: "ext-" + id, Name: name}
}

func insertUsers(users ...store.User) []store.UserWrite {
	w := make([]store.UserWrite, len(users))
	for i, u := range users {
		w[i] = store.UserWrite{User: u}
	}
	return w
}

func mustApply(t testing.TB, st store.Store, req store.ApplyRequest) store.ApplyResult {
	t.Helper()
	res, err := st.Apply(t.Context(), req)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// getUser returns the stored user or fails the case.
func getUser(t testing.TB, st store.Store, org, id string) store.User {
	t.Helper()
	u, err := st.GetUser(t.Context(), org, id)
	if err != nil {
		t.Fatalf("GetUser(%q, %q): %v", org, id, err)
	}
	return u
}

// wantErr fails the case unless errors.Is(err, target).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantApplyError fails the case unless err is an *ApplyError for op at
// index wrapping target.
func wantApplyError(t testing.TB, err, target error, op string, index int) {
	t.Helper()
	wantErr(t, "Apply", err, target)
	var ae *store.ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("Apply: error %v (%T) is not a *store.ApplyError", err, err)
	}
	if ae.Op != op || ae.Index != index {
		t.Fatalf("Apply: ApplyError names %s[%d], want %s[%d] (%v)", ae.Op, ae.Index, op, index, err)
	}
}

// wantSearchError fails the case unless err is a *search.Error for field.
func wantSearchError(t testing.TB, what string, err error, field string) {
	t.Helper()
	var se *search.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: got error %v (%T), want a *search.Error for %q", what, err, err, field)
	}
	if field != "" && se.Field != field {
		t.Fatalf("%s: *search.Error names field %q, want %q (%v)", what, se.Field, field, err)
	}
}

// allChanges reads the org's whole journal, page by page.
func allChanges(t testing.TB, st store.Store, org string) []store.Change {
	t.Helper()
	var out []store.Change
	after := int64(0)
	for {
		page, err := st.Changes(t.Context(), org, after, 1000)
		if err != nil {
			t.Fatalf("Changes(%q, %d): %v", org, after, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

func seqs(cs []store.Change) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.Seq
	}
	return out
}

func lastSeq(t testing.TB, st store.Store, org string) int64 {
	t.Helper()
	n, err := st.LastSeq(t.Context(), org)
	if err != nil {
		t.Fatalf("LastSeq(%q): %v", org, err)
	}
	return n
}

func userIDs(us []store.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// snapshot reads a source's snapshot into a map by external ID.
func snapshot(t testing.TB, st store.Store, org, source string) map[string]store.SnapshotEntry {
	t.Helper()
	out := map[string]store.SnapshotEntry{}
	err := st.Snapshot(t.Context(), org, source, func(e store.SnapshotEntry) error {
		if _, dup := out[e.ExternalID]; dup {
			return fmt.Errorf("external ID %q streamed twice", e.ExternalID)
		}
		out[e.ExternalID] = e
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot(%q, %q): %v", org, source, err)
	}
	return out
}

// searchAll walks every page of q and returns the users in order. It fails
// the case on an error, on a page over the limit, or after too many pages.
func searchAll(t testing.TB, st store.Store, org string, q search.Query) []store.User {
	t.Helper()
	var out []store.User
	limit := q.Limit
	if limit == 0 {
		limit = search.DefaultLimit
	}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("Search(%q, %+v): more than 10000 pages", org, q)
		}
		page, err := st.Search(t.Context(), org, q)
		if err != nil {
			t.Fatalf("Search(%q, %+v): %v", org, q, err)
		}
		if len(page.Users) > limit {
			t.Fatalf("Search(%q, %+v): %d users on a page of limit %d", org, q, len(page.Users), limit)
		}
		out = append(out, page.Users...)
		if page.NextCursor == "" {
			return out
		}
		if len(page.Users) == 0 {
			t.Fatalf("Search(%q, %+v): an empty page with a next cursor", org, q)
		}
		q.Cursor = page.NextCursor
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
