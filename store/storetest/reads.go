package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/store"
)

func (s *suite) readCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"SnapshotStreamsTheCompactFieldsOfOneSource", readSnapshot},
		{"SnapshotStopsAtTheCallbacksError", readSnapshotStops},
		{"LoadUsersByExternalIDIsScopedToTheSource", readLoadByExternalID},
		{"LoadUsersByIdpIDAndFoldedEmailSpansSources", readLoadByIdpAndEmail},
		{"LoadUsersOnlyInactiveRestrictsIdpAndEmailMatches", readLoadOnlyInactive},
		{"GetUserReturnsGroupsSortedByNameThenID", readGetUserGroups},
		{"GetUserOfAnUnknownIDIsErrNotFound", readGetUserNotFound},
		{"GroupsListsMemberCountsOrderedByNameThenID", readGroups},
		{"MembershipsStreamsTheSourcesMemberships", readMemberships},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

func readSnapshot(t testing.TB, st store.Store) {
	a := user(orgA, srcA, "u1")
	b := user(orgA, srcA, "u2")
	b.Active, b.ProviderUpdatedAt, b.MappingVersion, b.SourceHash, b.ProfileHash = false, at(time.Hour), "m2", "s1:bbb", "p1:bbb"
	other := user(orgA, srcB, "u3")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(a, b, other)})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: b, ExpectVersion: 1}}})
	got := snapshot(t, st, orgA, srcA)
	want := map[string]store.SnapshotEntry{
		"ext-u1": {ExternalID: "ext-u1", UserID: "u1", SourceHash: a.SourceHash, ProfileHash: a.ProfileHash, MappingVersion: "m1", Active: true, ProviderUpdatedAt: at(0), Version: 1},
		"ext-u2": {ExternalID: "ext-u2", UserID: "u2", SourceHash: "s1:bbb", ProfileHash: "p1:bbb", MappingVersion: "m2", Active: false, ProviderUpdatedAt: at(time.Hour), Version: 2},
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("Snapshot(%s) (-want +got):\n%s", srcA, diff)
	}
	if got := snapshot(t, st, orgA, "src-none"); len(got) != 0 {
		t.Errorf("Snapshot of an unknown source = %+v, want nothing", got)
	}
}

func readSnapshotStops(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"), user(orgA, srcA, "u2"), user(orgA, srcA, "u3"))})
	stop := errors.New("stop here")
	calls := 0
	err := st.Snapshot(t.Context(), orgA, srcA, func(store.SnapshotEntry) error { calls++; return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Snapshot returned %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("Snapshot called fn %d times after it failed, want 1", calls)
	}
}

func loadIDs(t testing.TB, st store.Store, req store.LoadUsersRequest) []string {
	t.Helper()
	us, err := st.LoadUsers(t.Context(), req)
	if err != nil {
		t.Fatalf("LoadUsers(%+v): %v", req, err)
	}
	return userIDs(us)
}

func loadFixture(t testing.TB, st store.Store) (a, b, c, d store.User) {
	a = user(orgA, srcA, "u1")
	a.Email = "Jane.Doe@Example.com"
	b = user(orgA, srcB, "u2")
	b.ExternalID, b.IdpID, b.Email = "ext-u1", "idp-shared", "zoë@example.com" // same external ID, other source
	b.Active = false
	c = user(orgA, srcA, "u3")
	c.IdpID, c.Email = "idp-shared", "jane.doe@example.com"
	d = user(orgA, srcB, "u4")
	d.IdpID, d.Active = "idp-u4", false
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(c, a, d, b)})
	return a, b, c, d
}

func readLoadByExternalID(t testing.TB, st store.Store) {
	a, _, _, _ := loadFixture(t, st)
	us, err := st.LoadUsers(t.Context(), store.LoadUsersRequest{OrgID: orgA, SourceID: srcA, ExternalIDs: []string{"ext-u1", "ext-u3", "ext-missing"}})
	if err != nil {
		t.Fatalf("LoadUsers: %v", err)
	}
	if diff := cmp.Diff([]string{"u1", "u3"}, userIDs(us)); diff != "" {
		t.Errorf("LoadUsers by external ID in %s (-want +got):\n%s", srcA, diff)
	}
	if len(us) > 0 {
		if diff := cmp.Diff(a, us[0], userOpts); diff != "" {
			t.Errorf("LoadUsers returns the full row (-written +loaded):\n%s", diff)
		}
	}
	if diff := cmp.Diff([]string{"u2"}, loadIDs(t, st, store.LoadUsersRequest{OrgID: orgA, SourceID: srcB, ExternalIDs: []string{"ext-u1"}})); diff != "" {
		t.Errorf("LoadUsers by external ID in %s (-want +got):\n%s", srcB, diff)
	}
}

func readLoadByIdpAndEmail(t testing.TB, st store.Store) {
	loadFixture(t, st)
	cases := []struct {
		name string
		req  store.LoadUsersRequest
		want []string
	}{
		{"idp ID in every source", store.LoadUsersRequest{IdpIDs: []string{"idp-shared"}}, []string{"u2", "u3"}},
		{"email folded", store.LoadUsersRequest{Emails: []string{"JANE.DOE@example.COM"}}, []string{"u1", "u3"}},
		{"email with accent folded", store.LoadUsersRequest{Emails: []string{"ZOE@EXAMPLE.COM"}}, []string{"u2"}},
		{"lists are OR-ed and each user is returned once", store.LoadUsersRequest{SourceID: srcA, ExternalIDs: []string{"ext-u3"}, IdpIDs: []string{"idp-shared", "idp-u4"}, Emails: []string{"jane.doe@example.com"}}, []string{"u1", "u2", "u3", "u4"}},
		{"nothing matches", store.LoadUsersRequest{IdpIDs: []string{"idp-none"}, Emails: []string{"none@example.com"}}, nil},
	}
	for _, c := range cases {
		c.req.OrgID = orgA
		if diff := cmp.Diff(c.want, loadIDs(t, st, c.req), cmpOpts); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func readLoadOnlyInactive(t testing.TB, st store.Store) {
	loadFixture(t, st)
	got := loadIDs(t, st, store.LoadUsersRequest{OrgID: orgA, IdpIDs: []string{"idp-shared", "idp-u4"}, Emails: []string{"jane.doe@example.com"}, OnlyInactive: true})
	if diff := cmp.Diff([]string{"u2", "u4"}, got); diff != "" {
		t.Errorf("LoadUsers OnlyInactive by idp ID and email (-want +got):\n%s", diff)
	}
	got = loadIDs(t, st, store.LoadUsersRequest{OrgID: orgA, SourceID: srcA, ExternalIDs: []string{"ext-u1"}, OnlyInactive: true})
	if diff := cmp.Diff([]string{"u1"}, got); diff != "" {
		t.Errorf("OnlyInactive must not restrict external ID matches (-want +got):\n%s", diff)
	}
}

func readGetUserGroups(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")),
		Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g3", "Beta")}, {Group: group(orgA, srcA, "g1", "Gamma")}, {Group: group(orgA, srcA, "g2", "Beta")}, {Group: group(orgA, srcA, "g4", "Alpha")}},
		Members: []store.MemberWrite{
			{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}, {Membership: store.Membership{UserID: "u1", GroupID: "g3"}},
			{Membership: store.Membership{UserID: "u1", GroupID: "g2"}}, {Membership: store.Membership{UserID: "u1", GroupID: "g4"}},
		},
	})
	want := []store.GroupRef{{ID: "g4", Name: "Alpha"}, {ID: "g2", Name: "Beta"}, {ID: "g3", Name: "Beta"}, {ID: "g1", Name: "Gamma"}}
	if diff := cmp.Diff(want, getUser(t, st, orgA, "u1").Groups); diff != "" {
		t.Errorf("GetUser groups (-want +got):\n%s", diff)
	}
}

func readGetUserNotFound(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"))})
	for _, c := range []struct{ org, id string }{{orgA, "u2"}, {orgA, "ext-u1"}, {orgB, "u1"}} {
		if _, err := st.GetUser(t.Context(), c.org, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(%q, %q) error %v, want ErrNotFound", c.org, c.id, err)
		}
	}
}

func readGroups(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"), user(orgA, srcA, "u2"), user(orgA, srcB, "u3")),
		Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g2", "Team")}, {Group: group(orgA, srcA, "g1", "Team")}, {Group: group(orgA, srcB, "g3", "Alpha")}, {Group: group(orgA, srcA, "g4", "Empty")}},
		Members: []store.MemberWrite{
			{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}, {Membership: store.Membership{UserID: "u2", GroupID: "g1"}},
			{Membership: store.Membership{UserID: "u2", GroupID: "g2"}}, {Membership: store.Membership{UserID: "u3", GroupID: "g3"}},
		},
	})
	summaries := func(source string) []string {
		gs, err := st.Groups(t.Context(), orgA, source)
		if err != nil {
			t.Fatalf("Groups(%q): %v", source, err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.ID+" "+g.Name+" "+string(rune('0'+g.MemberCount)))
			if g.OrgID != orgA || g.Version != 1 || g.ExternalID != "ext-"+g.ID {
				t.Errorf("Groups returned %+v: want the stored row", g.Group)
			}
		}
		return out
	}
	if diff := cmp.Diff([]string{"g3 Alpha 1", "g4 Empty 0", "g1 Team 2", "g2 Team 1"}, summaries("")); diff != "" {
		t.Errorf("Groups of every source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"g4 Empty 0", "g1 Team 2", "g2 Team 1"}, summaries(srcA)); diff != "" {
		t.Errorf("Groups of %s (-want +got):\n%s", srcA, diff)
	}
}

func readMemberships(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"), user(orgA, srcA, "u2"), user(orgA, srcB, "u3")),
		Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}, {Group: group(orgA, srcB, "g3", "Alpha")}},
		Members: []store.MemberWrite{
			{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}, {Membership: store.Membership{UserID: "u2", GroupID: "g1"}},
			{Membership: store.Membership{UserID: "u3", GroupID: "g3"}},
		},
	})
	var got []store.Membership
	if err := st.Memberships(t.Context(), orgA, srcA, func(m store.Membership) error { got = append(got, m); return nil }); err != nil {
		t.Fatalf("Memberships: %v", err)
	}
	slices.SortFunc(got, func(a, b store.Membership) int {
		if a.GroupID != b.GroupID {
			return cmpString(a.GroupID, b.GroupID)
		}
		return cmpString(a.UserID, b.UserID)
	})
	if diff := cmp.Diff([]store.Membership{{UserID: "u1", GroupID: "g1"}, {UserID: "u2", GroupID: "g1"}}, got); diff != "" {
		t.Errorf("Memberships(%s) (-want +got):\n%s", srcA, diff)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
