package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Tenant isolation: two orgs hold overlapping IDs, external IDs, emails and
// values; every method called for one org must behave as if the other did
// not exist.
func (s *suite) isolationCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"ReadsSeeOnlyTheirOrgsRows", isoReads},
		{"SearchAndFacetsNeverSeeOrCountAnotherOrg", isoSearch},
		{"ApplyNeverWritesAnotherOrgsRowWithTheSameID", isoApply},
		{"JournalSequencesAndFeedsAreIndependent", isoJournal},
		{"PruneAndRedactTouchOnlyTheirOrg", isoPruneRedact},
		{"RunsParkedEventsMarksTombstonesAndStateAreOrgScoped", isoState},
		{"LeasesAreOrgScoped", isoLeases},
		{"PurgeOrgLeavesTheOtherOrgWhole", purgeOrg},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

// twoOrgs writes the same IDs into both orgs with different values: org A's
// users work in "Alpha", org B's in "Beta".
func twoOrgs(t testing.TB, st store.Store) {
	t.Helper()
	for _, org := range []string{orgA, orgB} {
		var us []store.User
		for _, id := range []string{"u1", "u2", "u3"} {
			u := user(org, srcA, id)
			u.Department, u.Email = map[string]string{orgA: "Alpha", orgB: "Beta"}[org], id+"@shared.example"
			u.Active = org == orgA || id != "u3"
			us = append(us, u)
		}
		mustApply(t, st, store.ApplyRequest{
			OrgID: org, Users: insertUsers(us...),
			Groups:  []store.GroupWrite{{Group: group(org, srcA, "g1", "Team "+org)}},
			Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
		})
	}
	// Org B has one more member, so counts differ.
	mustApply(t, st, store.ApplyRequest{OrgID: orgB, Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u2", GroupID: "g1"}}}})
}

func isoReads(t testing.TB, st store.Store) {
	twoOrgs(t, st)
	ctx := t.Context()
	for _, org := range []string{orgA, orgB} {
		dept := map[string]string{orgA: "Alpha", orgB: "Beta"}[org]
		u := getUser(t, st, org, "u1")
		if u.OrgID != org || u.Department != dept || len(u.Groups) != 1 || u.Groups[0].Name != "Team "+org {
			t.Errorf("GetUser(%s, u1) = org %q, department %q, groups %v", org, u.OrgID, u.Department, u.Groups)
		}
		snap := snapshot(t, st, org, srcA)
		if len(snap) != 3 || snap["ext-u3"].Active != (org == orgA) {
			t.Errorf("Snapshot(%s) = %+v: want its own three users", org, snap)
		}
		us, err := st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: org, SourceID: srcA, ExternalIDs: []string{"ext-u1"}, IdpIDs: []string{"idp-u2"}, Emails: []string{"u3@shared.example"}})
		if err != nil || len(us) != 3 {
			t.Errorf("LoadUsers(%s) = %d users, %v; want 3", org, len(us), err)
		}
		for _, u := range us {
			if u.OrgID != org || u.Department != dept {
				t.Errorf("LoadUsers(%s) returned %s of org %q, department %q", org, u.ID, u.OrgID, u.Department)
			}
		}
		gs, err := st.Groups(ctx, org, "")
		wantCount := map[string]int{orgA: 1, orgB: 2}[org]
		if err != nil || len(gs) != 1 || gs[0].MemberCount != wantCount || gs[0].Name != "Team "+org {
			t.Errorf("Groups(%s) = %+v, %v; want one group with %d members", org, gs, err, wantCount)
		}
		n := 0
		if err := st.Memberships(ctx, org, srcA, func(store.Membership) error { n++; return nil }); err != nil || n != wantCount {
			t.Errorf("Memberships(%s) streamed %d, %v; want %d", org, n, err, wantCount)
		}
	}
	if _, err := st.GetUser(ctx, "org-c", "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser in an org with no data: %v, want ErrNotFound", err)
	}
}

func isoSearch(t testing.TB, st store.Store) {
	twoOrgs(t, st)
	ctx := t.Context()
	check := func(org string, q search.Query, want []string) {
		t.Helper()
		got := searchAll(t, st, org, q)
		if diff := cmp.Diff(want, userIDs(got), cmpOpts); diff != "" {
			t.Errorf("Search(%s, %+v) (-want +got):\n%s", org, q, diff)
		}
		for _, u := range got {
			if u.OrgID != org {
				t.Errorf("Search(%s) returned a user of org %q", org, u.OrgID)
			}
		}
	}
	check(orgA, search.Query{Departments: []string{"Beta"}}, nil)
	check(orgA, search.Query{Status: search.StatusAll}, []string{"u1", "u2", "u3"})
	check(orgB, search.Query{}, []string{"u1", "u2"})
	check(orgA, search.Query{Groups: []string{"Team org-b"}}, nil)
	check(orgB, search.Query{Groups: []string{"g1"}}, []string{"u1", "u2"})
	check(orgA, search.Query{Text: "u3@shared"}, []string{"u3"})
	check(orgB, search.Query{Text: "u3@shared"}, nil)
	check("org-c", search.Query{Status: search.StatusAll}, nil)

	f, err := st.Facets(ctx, orgA, search.Query{Status: search.StatusAll})
	if err != nil {
		t.Fatalf("Facets: %v", err)
	}
	if diff := cmp.Diff(map[string]int{"Alpha": 3}, f.Department); diff != "" {
		t.Errorf("Facets(%s) department (-want +got):\n%s", orgA, diff)
	}
	if f.Tag["Mobile"] != 3 || f.TagFields["team"]["Mobile"] != 3 {
		t.Errorf("Facets(%s) tag counts %v / %v: want 3, only this org's people", orgA, f.Tag, f.TagFields)
	}
	f, err = st.Facets(ctx, "org-c", search.Query{Status: search.StatusAll})
	if err != nil {
		t.Fatalf("Facets of an empty org: %v", err)
	}
	if len(f.Department)+len(f.Division)+len(f.Office)+len(f.Tag)+len(trimFacets(f).TagFields) != 0 {
		t.Errorf("Facets of an org with no people = %+v, want no counts", f)
	}

	// A cursor of org A's query is refused by org B.
	page, err := st.Search(ctx, orgA, search.Query{Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("Search(%s, limit 1) = %+v, %v; want a next page", orgA, page, err)
	}
	_, err = st.Search(ctx, orgB, search.Query{Limit: 1, Cursor: page.NextCursor})
	wantSearchError(t, "Search of org B with org A's cursor", err, "cursor")
}

func isoApply(t testing.TB, st store.Store) {
	twoOrgs(t, st)
	// Org B's u1 is at version 1 as well; an update in org A must not touch it.
	ua := getUser(t, st, orgA, "u1")
	ua.Department = "Alpha Prime"
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: ua, ExpectVersion: 1}}})
	if ub := getUser(t, st, orgB, "u1"); ub.Department != "Beta" || ub.Version != 1 {
		t.Errorf("org B's u1 after org A's update: department %q, version %d", ub.Department, ub.Version)
	}
	// An update of a user that exists only in the other org is a conflict.
	only := user(orgB, srcA, "u9")
	mustApply(t, st, store.ApplyRequest{OrgID: orgB, Users: insertUsers(only)})
	ghost := user(orgA, srcA, "u9")
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: ghost, ExpectVersion: 1}}})
	wantErr(t, "update in org A of a user only org B has", err, store.ErrConflict)
	// Deleting in org A leaves org B's row and memberships.
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: user(orgA, srcA, "u2"), ExpectVersion: 1, Delete: true}}})
	if u := getUser(t, st, orgB, "u2"); len(u.Groups) != 1 {
		t.Errorf("org B's u2 lost its groups when org A deleted its own u2: %v", u.Groups)
	}
	// A membership in org A cannot point at org B's group or user.
	_, err = st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u9", GroupID: "g1"}}}})
	wantErr(t, "membership in org A of org B's user", err, store.ErrInvalid)
}

func isoJournal(t testing.TB, st store.Store) {
	ra := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: changesN(orgA, "u1", 3, at(0))})
	rb := mustApply(t, st, store.ApplyRequest{OrgID: orgB, Changes: changesN(orgB, "u1", 2, at(0))})
	if ra.FirstSeq != 1 || rb.FirstSeq != 1 || rb.LastSeq != 2 {
		t.Errorf("seqs %d..%d (A) and %d..%d (B): each org's counter starts at 1", ra.FirstSeq, ra.LastSeq, rb.FirstSeq, rb.LastSeq)
	}
	if n := lastSeq(t, st, orgA); n != 3 {
		t.Errorf("LastSeq(A) = %d, want 3", n)
	}
	if n := lastSeq(t, st, orgB); n != 2 {
		t.Errorf("LastSeq(B) = %d, want 2", n)
	}
	for _, c := range allChanges(t, st, orgB) {
		if c.OrgID != orgB {
			t.Errorf("Changes(B) returned an entry of org %q", c.OrgID)
		}
	}
	if n := len(allChanges(t, st, orgB)); n != 2 {
		t.Errorf("Changes(B) has %d entries, want 2", n)
	}
}

func isoPruneRedact(t testing.TB, st store.Store) {
	for _, org := range []string{orgA, orgB} {
		mustApply(t, st, store.ApplyRequest{OrgID: org, Changes: changesN(org, "u1", 3, at(-48*time.Hour))})
	}
	if n, err := st.RedactSubject(t.Context(), orgA, "u1"); err != nil || n != 3 {
		t.Errorf("RedactSubject(A) = %d, %v; want 3", n, err)
	}
	for _, c := range allChanges(t, st, orgB) {
		if c.Before == nil || c.After == nil {
			t.Errorf("RedactSubject in org A scrubbed org B's entry %d", c.Seq)
		}
	}
	if n, err := st.PruneChanges(t.Context(), orgA, at(0)); err != nil || n != 3 {
		t.Errorf("PruneChanges(A) = %d, %v; want 3", n, err)
	}
	if n := len(allChanges(t, st, orgB)); n != 3 {
		t.Errorf("PruneChanges in org A left org B %d entries, want 3", n)
	}
}

func isoState(t testing.TB, st store.Store) {
	ctx := t.Context()
	fillOrg(t, st, orgB)
	before := orgContents(t, st, orgB)
	// Org A has none of org B's state under the same IDs.
	if _, err := st.GetRun(ctx, orgA, "run-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun(A, run-1) = %v, want ErrNotFound", err)
	}
	if rs, _ := st.ListRuns(ctx, orgA, 10); len(rs) != 0 {
		t.Errorf("ListRuns(A) = %+v, want none", rs)
	}
	if ps, _ := st.ParkedEvents(ctx, orgA); len(ps) != 0 {
		t.Errorf("ParkedEvents(A) = %+v, want none", ps)
	}
	if ok, _ := st.EventProcessed(ctx, orgA, "ev-1"); ok {
		t.Error("EventProcessed(A, ev-1) sees org B's mark")
	}
	if n, _ := st.EventDeactivations(ctx, orgA, time.Now().Add(-time.Hour)); n != 0 {
		t.Errorf("EventDeactivations(A) = %d counts org B's marks", n)
	}
	if ok, _ := st.Tombstoned(ctx, orgA, srcA, "ext-gone"); ok {
		t.Error("Tombstoned(A) sees org B's tombstone")
	}
	if ss, _ := st.SourceState(ctx, orgA, srcA); !ss.NextDueAt.IsZero() || ss.OrgID != orgA {
		t.Errorf("SourceState(A) = %+v, want zero for org A", ss)
	}
	// Writes under the same IDs in org A leave org B alone.
	r := run1(orgA, "run-1", at(0))
	if err := st.UpdateRun(ctx, r, store.RunRunning); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRun(A, run-1) = %v, want ErrNotFound", err)
	}
	if err := st.CreateRun(ctx, r); err != nil {
		t.Fatalf("CreateRun(A, run-1): %v", err)
	}
	r.Status = store.RunFailed
	if err := st.UpdateRun(ctx, r, store.RunRunning); err != nil {
		t.Fatalf("UpdateRun(A, run-1): %v", err)
	}
	if err := st.ParkEvent(ctx, parked(orgA, "ev-2", at(0))); err != nil {
		t.Fatalf("ParkEvent(A): %v", err)
	}
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Event: &store.EventMark{ID: "ev-1", Deactivations: 5}, Unpark: []string{"ev-2"}})
	if err := st.PutSourceState(ctx, store.SourceState{OrgID: orgA, SourceID: srcA, NextDueAt: at(9 * time.Hour)}); err != nil {
		t.Fatalf("PutSourceState(A): %v", err)
	}
	if diff := cmp.Diff(before, orgContents(t, st, orgB)); diff != "" {
		t.Errorf("writes in org A changed org B (-before +after):\n%s", diff)
	}
	if rb, _ := st.GetRun(ctx, orgB, "run-1"); rb.Status != store.RunRunning {
		t.Errorf("org B's run-1 is %q after org A updated its own run-1", rb.Status)
	}
}

func isoLeases(t testing.TB, st store.Store) {
	la := acquire(t, st, orgA, "h1", time.Minute)
	lb := acquire(t, st, orgB, "h2", time.Minute)
	if la.Token == lb.Token {
		t.Error("two orgs' leases share a token")
	}
	if err := st.ReleaseLease(t.Context(), store.Lease{OrgID: orgB, Holder: la.Holder, Token: la.Token, ExpiresAt: la.ExpiresAt}); err != nil {
		t.Errorf("ReleaseLease of a token that is not org B's: %v, want a no-op", err)
	}
	_, err := st.AcquireLease(t.Context(), orgB, "h3", time.Minute)
	wantErr(t, "AcquireLease(B) after releasing org A's token under org B", err, store.ErrLeaseHeld)
	if err := st.ReleaseLease(t.Context(), la); err != nil {
		t.Fatalf("ReleaseLease(A): %v", err)
	}
	_, err = st.AcquireLease(t.Context(), orgB, "h3", time.Minute)
	wantErr(t, "AcquireLease(B) after org A released its lease", err, store.ErrLeaseHeld)
	_, err = st.RenewLease(t.Context(), store.Lease{OrgID: orgB, Holder: la.Holder, Token: la.Token}, time.Minute)
	wantErr(t, "RenewLease under org B with org A's token", err, store.ErrLeaseLost)
}
