package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/store"
)

const (
	orgA = "org-a"
	orgB = "org-b"
	srcA = "src-a"
	srcB = "src-b"
)

func (s *suite) applyCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"InsertStoresTheWholeRowAtVersionOne", applyInsert},
		{"UpdateWithTheStoredVersionBumpsItAndKeepsCreatedAt", applyUpdate},
		{"UpdateWithAWrongVersionIsAConflict", applyWrongVersion},
		{"UpdateOfAMissingUserIsAConflict", applyUpdateMissing},
		{"InsertOfAnExistingIDIsAConflict", applyInsertExistingID},
		{"InsertOfAnExistingExternalIDInTheSourceIsAConflict", applyInsertExistingExternalID},
		{"SameExternalIDInAnotherSourceIsAnotherUser", applyExternalIDOtherSource},
		{"ReapplyingARequestIsAConflictAndDoublesNothing", applyReapply},
		{"DeleteRemovesTheUserAndItsMemberships", applyDelete},
		{"DeleteWithAWrongVersionIsAConflict", applyDeleteWrongVersion},
		{"GroupsAreInsertedUpdatedAndDeletedWithCompareAndSet", applyGroups},
		{"DeletingAGroupRemovesItsMemberships", applyDeleteGroup},
		{"MembershipAddAndRemoveAreIdempotent", applyMembershipIdempotent},
		{"MembershipOfAUserInsertedInTheSameRequestIsAllowed", applyMembershipSameRequest},
		{"MembershipOfAMissingUserIsInvalid", applyMembershipMissingUser},
		{"MembershipOfAMissingGroupIsInvalid", applyMembershipMissingGroup},
		{"OlderProviderUpdatedAtIsStaleAndWritesNothing", applyStale},
		{"EqualOrNewerProviderUpdatedAtIsApplied", applyNewer},
		{"RelinkWithAnOlderProviderUpdatedAtIsAllowed", applyRelink},
		{"ApplyErrorNamesTheFailingWrite", applyErrorNames},
		{"EmptyOrgIsInvalid", applyEmptyOrg},
		{"UserOfAnotherOrgIsInvalid", applyForeignUser},
		{"GroupOfAnotherOrgIsInvalid", applyForeignGroup},
		{"ChangesGetConsecutiveSequenceNumbersAndRoundTrip", applyChangesRoundTrip},
		{"SequenceIsGapFreeAndInCommitOrderUnderConcurrentWriters", s.applyConcurrent},
		{"SecondMarkOfAnEventIsErrDuplicateEvent", applyDuplicateEvent},
		{"FailedApplyLeavesNoRowJournalMarkOrTombstone", applyAtomic},
		{"TombstonesAndUnparkingCommitWithTheRows", applyTombstoneUnpark},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

func applyInsert(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	before := time.Now().Add(-time.Minute)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	got := getUser(t, st, orgA, "u1")
	if diff := cmp.Diff(u, got, userOpts); diff != "" {
		t.Errorf("GetUser after insert (-written +stored):\n%s", diff)
	}
	if got.Version != 1 {
		t.Errorf("Version = %d after insert, want 1", got.Version)
	}
	if got.CreatedAt.Before(before) || got.UpdatedAt.Before(before) {
		t.Errorf("CreatedAt %v, UpdatedAt %v: not assigned by the store", got.CreatedAt, got.UpdatedAt)
	}
}

func applyUpdate(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	v1 := getUser(t, st, orgA, "u1")
	u.Department, u.Active, u.ProviderUpdatedAt = "Sales", false, at(time.Hour)
	d := at(time.Hour)
	u.DeactivatedAt = &d
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: u, ExpectVersion: 1}}})
	got := getUser(t, st, orgA, "u1")
	if diff := cmp.Diff(u, got, userOpts); diff != "" {
		t.Errorf("GetUser after update (-written +stored):\n%s", diff)
	}
	if got.Version != 2 {
		t.Errorf("Version = %d after one update, want 2", got.Version)
	}
	if !got.CreatedAt.Equal(v1.CreatedAt) {
		t.Errorf("CreatedAt changed on update: %v, was %v", got.CreatedAt, v1.CreatedAt)
	}
	if got.UpdatedAt.Before(v1.UpdatedAt) {
		t.Errorf("UpdatedAt went back on update: %v, was %v", got.UpdatedAt, v1.UpdatedAt)
	}
}

func applyWrongVersion(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	for _, v := range []int64{2, 7} {
		w := u
		w.Department = "Sales"
		_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: w, ExpectVersion: v}}})
		wantApplyError(t, err, store.ErrConflict, "user", 0)
	}
	if got := getUser(t, st, orgA, "u1"); got.Department != "Engineering" || got.Version != 1 {
		t.Errorf("a conflicting update was written: department %q, version %d", got.Department, got.Version)
	}
}

func applyUpdateMissing(t testing.TB, st store.Store) {
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: user(orgA, srcA, "u1"), ExpectVersion: 1}}})
	wantApplyError(t, err, store.ErrConflict, "user", 0)
	if _, err := st.GetUser(t.Context(), orgA, "u1"); err == nil {
		t.Error("an update of a missing user inserted it")
	}
}

func applyInsertExistingID(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"))})
	again := user(orgA, srcA, "u1")
	again.ExternalID, again.Email = "ext-other", "other@example.com"
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(again)})
	wantApplyError(t, err, store.ErrConflict, "user", 0)
	if got := getUser(t, st, orgA, "u1"); got.ExternalID != "ext-u1" {
		t.Errorf("the conflicting insert overwrote the user: external ID %q", got.ExternalID)
	}
}

func applyInsertExistingExternalID(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"))})
	dup := user(orgA, srcA, "u2")
	dup.ExternalID = "ext-u1"
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(dup)})
	wantApplyError(t, err, store.ErrConflict, "user", 0)
	if _, err := st.GetUser(t.Context(), orgA, "u2"); err == nil {
		t.Error("a user with a duplicate (source, external ID) was inserted")
	}
}

func applyExternalIDOtherSource(t testing.TB, st store.Store) {
	a := user(orgA, srcA, "u1")
	b := user(orgA, srcB, "u2")
	b.ExternalID = a.ExternalID
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(a, b)})
	if got := snapshot(t, st, orgA, srcB); got["ext-u1"].UserID != "u2" {
		t.Errorf("snapshot of %s = %+v, want ext-u1 → u2", srcB, got)
	}
}

func applyReapply(t testing.TB, st store.Store) {
	req := store.ApplyRequest{
		OrgID:   orgA,
		Users:   insertUsers(user(orgA, srcA, "u1")),
		Groups:  []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}},
		Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
		Changes: []store.Change{{Kind: store.ChangeCreated, SubjectID: "u1", Cause: "run-1"}, {Kind: store.ChangeMemberAdded, SubjectID: "u1", After: map[string]any{"group": "g1"}, Cause: "run-1"}},
	}
	mustApply(t, st, req)
	_, err := st.Apply(t.Context(), req)
	wantErr(t, "second Apply of the same request", err, store.ErrConflict)
	if n := len(allChanges(t, st, orgA)); n != 2 {
		t.Errorf("journal has %d entries after a repeated request, want 2", n)
	}
	if got := getUser(t, st, orgA, "u1"); got.Version != 1 || len(got.Groups) != 1 {
		t.Errorf("after a repeated request: version %d, groups %v; want 1 and one group", got.Version, got.Groups)
	}
	if n := len(snapshot(t, st, orgA, srcA)); n != 1 {
		t.Errorf("snapshot has %d users after a repeated request, want 1", n)
	}
	gs, err := st.Groups(t.Context(), orgA, "")
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if len(gs) != 1 || gs[0].MemberCount != 1 {
		t.Errorf("Groups after a repeated request = %+v, want one group with one member", gs)
	}
}

func applyDelete(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(u, user(orgA, srcA, "u2")),
		Groups:  []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}},
		Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}, {Membership: store.Membership{UserID: "u2", GroupID: "g1"}}},
	})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: u, ExpectVersion: 1, Delete: true}}})
	if _, err := st.GetUser(t.Context(), orgA, "u1"); !errorsIs(err, store.ErrNotFound) {
		t.Errorf("GetUser of a deleted user: %v, want ErrNotFound", err)
	}
	if _, ok := snapshot(t, st, orgA, srcA)["ext-u1"]; ok {
		t.Error("a deleted user is still in the snapshot")
	}
	var ms []store.Membership
	if err := st.Memberships(t.Context(), orgA, srcA, func(m store.Membership) error { ms = append(ms, m); return nil }); err != nil {
		t.Fatalf("Memberships: %v", err)
	}
	if diff := cmp.Diff([]store.Membership{{UserID: "u2", GroupID: "g1"}}, ms); diff != "" {
		t.Errorf("memberships after deleting u1 (-want +got):\n%s", diff)
	}
	// The ID and external ID are free again.
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
}

func applyDeleteWrongVersion(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: u, ExpectVersion: 3, Delete: true}}})
	wantApplyError(t, err, store.ErrConflict, "user", 0)
	getUser(t, st, orgA, "u1")
}

func applyGroups(t testing.TB, st store.Store) {
	g := group(orgA, srcA, "g1", "Team")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g}}})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g}}})
	wantApplyError(t, err, store.ErrConflict, "group", 0)
	dupExt := group(orgA, srcA, "g2", "Other")
	dupExt.ExternalID = g.ExternalID
	_, err = st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: dupExt}}})
	wantApplyError(t, err, store.ErrConflict, "group", 0)
	g.Name = "Team Renamed"
	_, err = st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g, ExpectVersion: 2}}})
	wantApplyError(t, err, store.ErrConflict, "group", 0)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g, ExpectVersion: 1}}})
	gs, err := st.Groups(t.Context(), orgA, srcA)
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if len(gs) != 1 || gs[0].Name != "Team Renamed" || gs[0].Version != 2 || gs[0].ExternalID != "ext-g1" {
		t.Fatalf("Groups after rename = %+v, want g1 \"Team Renamed\" at version 2", gs)
	}
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g, ExpectVersion: 2, Delete: true}}})
	if gs, _ := st.Groups(t.Context(), orgA, ""); len(gs) != 0 {
		t.Errorf("Groups after delete = %+v, want none", gs)
	}
}

func applyDeleteGroup(t testing.TB, st store.Store) {
	g := group(orgA, srcA, "g1", "Team")
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")),
		Groups:  []store.GroupWrite{{Group: g}, {Group: group(orgA, srcA, "g2", "Other")}},
		Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}, {Membership: store.Membership{UserID: "u1", GroupID: "g2"}}},
	})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: g, ExpectVersion: 1, Delete: true}}})
	got := getUser(t, st, orgA, "u1")
	if diff := cmp.Diff([]store.GroupRef{{ID: "g2", Name: "Other"}}, got.Groups); diff != "" {
		t.Errorf("user's groups after deleting g1 (-want +got):\n%s", diff)
	}
}

func applyMembershipIdempotent(t testing.TB, st store.Store) {
	m := store.Membership{UserID: "u1", GroupID: "g1"}
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")),
		Groups:  []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}},
		Members: []store.MemberWrite{{Membership: m}},
	})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: m}, {Membership: m}}})
	gs, _ := st.Groups(t.Context(), orgA, srcA)
	if len(gs) != 1 || gs[0].MemberCount != 1 {
		t.Fatalf("after adding a membership three times Groups = %+v, want one member", gs)
	}
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: m, Remove: true}}})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: m, Remove: true}}})
	gs, _ = st.Groups(t.Context(), orgA, srcA)
	if len(gs) != 1 || gs[0].MemberCount != 0 {
		t.Fatalf("after removing the membership twice Groups = %+v, want no member", gs)
	}
	if got := getUser(t, st, orgA, "u1"); len(got.Groups) != 0 {
		t.Errorf("user still lists groups %v after removal", got.Groups)
	}
}

func applyMembershipSameRequest(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{
		OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")),
		Groups:  []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}},
		Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
	})
	if got := getUser(t, st, orgA, "u1"); len(got.Groups) != 1 || got.Groups[0].ID != "g1" || got.Groups[0].Name != "Team" {
		t.Errorf("GetUser groups = %v, want [g1 Team]", got.Groups)
	}
}

func applyMembershipMissingUser(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}}})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: store.Membership{UserID: "nobody", GroupID: "g1"}}}})
	wantErr(t, "membership of a missing user", err, store.ErrInvalid)
}

func applyMembershipMissingGroup(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"))})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "nogroup"}}}})
	wantErr(t, "membership of a missing group", err, store.ErrInvalid)
}

func applyStale(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	u.ProviderUpdatedAt = at(time.Hour)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	old := u
	old.ProviderUpdatedAt, old.Department = at(time.Hour-time.Second), "Sales"
	_, err := st.Apply(t.Context(), store.ApplyRequest{
		OrgID:   orgA,
		Users:   []store.UserWrite{{User: old, ExpectVersion: 1}},
		Changes: []store.Change{{Kind: store.ChangeUpdated, SubjectID: "u1", Cause: "ev-old"}},
		Event:   &store.EventMark{ID: "ev-old"},
	})
	wantApplyError(t, err, store.ErrStale, "user", 0)
	if got := getUser(t, st, orgA, "u1"); got.Department != "Engineering" || got.Version != 1 || !got.ProviderUpdatedAt.Equal(u.ProviderUpdatedAt) {
		t.Errorf("a stale write changed the user: department %q, version %d, updated_at %v", got.Department, got.Version, got.ProviderUpdatedAt)
	}
	if n := lastSeq(t, st, orgA); n != 0 {
		t.Errorf("a stale write journaled: LastSeq %d", n)
	}
	if ok, _ := st.EventProcessed(t.Context(), orgA, "ev-old"); ok {
		t.Error("a stale write recorded its event mark")
	}
}

func applyNewer(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	u.Department = "Sales" // same updated_at
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: u, ExpectVersion: 1}}})
	u.Department, u.ProviderUpdatedAt = "Legal", at(time.Minute)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: u, ExpectVersion: 2}}})
	got := getUser(t, st, orgA, "u1")
	if got.Department != "Legal" || got.Version != 3 || !got.ProviderUpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after equal and newer writes: department %q, version %d, updated_at %v; want Legal, 3, %v", got.Department, got.Version, got.ProviderUpdatedAt, at(time.Minute))
	}
}

func applyRelink(t testing.TB, st store.Store) {
	u := user(orgA, srcA, "u1")
	u.Active, u.ProviderUpdatedAt = false, at(time.Hour)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	re := u
	re.ExternalID, re.Active, re.ProviderUpdatedAt = "ext-new", true, at(-time.Hour)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: []store.UserWrite{{User: re, ExpectVersion: 1}},
		Changes: []store.Change{{Kind: store.ChangeRelinked, SubjectID: "u1", Before: map[string]any{"external_id": "ext-u1"}, After: map[string]any{"external_id": "ext-new"}, Cause: "run-1"}}})
	got := getUser(t, st, orgA, "u1")
	if got.ExternalID != "ext-new" || !got.Active {
		t.Errorf("after relink: external ID %q, active %v; want ext-new, true", got.ExternalID, got.Active)
	}
	snap := snapshot(t, st, orgA, srcA)
	if _, ok := snap["ext-u1"]; ok || snap["ext-new"].UserID != "u1" {
		t.Errorf("snapshot after relink = %+v, want only ext-new → u1", snap)
	}
}

func applyErrorNames(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u3")), Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}}})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"), user(orgA, srcA, "u2"), user(orgA, srcA, "u3"))})
	wantApplyError(t, err, store.ErrConflict, "user", 2)
	_, err = st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: group(orgA, srcA, "g2", "Two")}, {Group: group(orgA, srcA, "g1", "Team")}}})
	wantApplyError(t, err, store.ErrConflict, "group", 1)
	_, err = st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Members: []store.MemberWrite{
		{Membership: store.Membership{UserID: "u3", GroupID: "g1"}},
		{Membership: store.Membership{UserID: "u3", GroupID: "g1"}},
		{Membership: store.Membership{UserID: "ghost", GroupID: "g1"}},
	}})
	wantApplyError(t, err, store.ErrInvalid, "member", 2)
	var ae *store.ApplyError
	if errorsAs(err, &ae) && ae.Error() == "" {
		t.Error("ApplyError has an empty message")
	}
}

func applyEmptyOrg(t testing.TB, st store.Store) {
	u := user("", srcA, "u1")
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: "", Users: insertUsers(u)})
	wantErr(t, "Apply with an empty org", err, store.ErrInvalid)
}

func applyForeignUser(t testing.TB, st store.Store) {
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1"), user(orgB, srcA, "u2"))})
	wantErr(t, "Apply of a user of another org", err, store.ErrInvalid)
	if _, err := st.GetUser(t.Context(), orgB, "u2"); err == nil {
		t.Error("a user of another org was written through org A's request")
	}
	if _, err := st.GetUser(t.Context(), orgA, "u1"); err == nil {
		t.Error("a request that failed wrote its first user")
	}
}

func applyForeignGroup(t testing.TB, st store.Store) {
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Groups: []store.GroupWrite{{Group: group(orgB, srcA, "g1", "Team")}}})
	wantErr(t, "Apply of a group of another org", err, store.ErrInvalid)
	if gs, _ := st.Groups(t.Context(), orgB, ""); len(gs) != 0 {
		t.Errorf("a group of another org was written: %+v", gs)
	}
}

func applyChangesRoundTrip(t testing.TB, st store.Store) {
	written := []store.Change{
		{Kind: store.ChangeCreated, SubjectID: "u1", After: map[string]any{"email": "u1@example.com", "active": true, "tags.team": []string{"Mobile", "NYC"}}, Cause: "run-1", At: at(time.Minute)},
		{Kind: store.ChangeUpdated, SubjectID: "u1", Before: map[string]any{"department": "Sales"}, After: map[string]any{"department": "Legal"}, Cause: "run-1", At: at(2 * time.Minute)},
		{Kind: store.ChangeMemberAdded, SubjectID: "u1", After: map[string]any{"group": "g1"}, Cause: "ev-1", At: at(3 * time.Minute)},
	}
	res := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")), Changes: written})
	if res.FirstSeq != 1 || res.LastSeq != 3 {
		t.Errorf("first Apply assigned seq %d..%d, want 1..3", res.FirstSeq, res.LastSeq)
	}
	before := time.Now().Add(-time.Minute)
	res = mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: []store.Change{{Kind: store.ChangeDeactivated, SubjectID: "u1", Cause: "run-2"}}})
	if res.FirstSeq != 4 || res.LastSeq != 4 {
		t.Errorf("second Apply assigned seq %d..%d, want 4..4", res.FirstSeq, res.LastSeq)
	}
	if res := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u2"))}); res.FirstSeq != 0 || res.LastSeq != 0 {
		t.Errorf("an Apply without changes reported seq %d..%d, want 0..0", res.FirstSeq, res.LastSeq)
	}
	got := allChanges(t, st, orgA)
	want := append([]store.Change(nil), written...)
	for i := range want {
		want[i].Seq, want[i].OrgID = int64(i+1), orgA
	}
	if len(got) != 4 {
		t.Fatalf("journal has %d entries, want 4: %+v", len(got), got)
	}
	if diff := cmp.Diff(want, got[:3], cmpOpts); diff != "" {
		t.Errorf("journal (-written +read):\n%s", diff)
	}
	if got[3].Seq != 4 || got[3].OrgID != orgA || got[3].At.Before(before) {
		t.Errorf("entry 4 = %+v: want seq 4, org %s and At assigned by the store", got[3], orgA)
	}
	if n := lastSeq(t, st, orgA); n != 4 {
		t.Errorf("LastSeq = %d, want 4", n)
	}
}

// applyConcurrent runs Writers goroutines that each apply a series of
// requests with journal entries, while a reader follows the feed. Every
// sequence number must be used exactly once, and the reader must never see
// a number before all lower ones (commits land in sequence order).
func (s *suite) applyConcurrent(t testing.TB, st store.Store) {
	const perWriter = 25
	writers := s.f.Writers
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter+writers+2)
	var mu sync.Mutex
	var ranges [][2]int64
	for w := range writers {
		safeGo(&wg, errs, func() {
			for i := range perWriter {
				id := fmt.Sprintf("w%02d-%03d", w, i)
				n := 1 + (w+i)%3
				cs := make([]store.Change, n)
				for j := range cs {
					cs[j] = store.Change{Kind: store.ChangeUpdated, SubjectID: id, Cause: fmt.Sprintf("run-%d-%d", w, j)}
				}
				res, err := st.Apply(ctx, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, id)), Changes: cs})
				if err != nil {
					errs <- fmt.Errorf("writer %d apply %d: %w", w, i, err)
					return
				}
				if res.LastSeq-res.FirstSeq+1 != int64(n) {
					errs <- fmt.Errorf("writer %d apply %d: %d changes got seq %d..%d", w, i, n, res.FirstSeq, res.LastSeq)
				}
				mu.Lock()
				ranges = append(ranges, [2]int64{res.FirstSeq, res.LastSeq})
				mu.Unlock()
			}
		})
	}
	total := int64(0)
	for w := range writers {
		for i := range perWriter {
			total += int64(1 + (w+i)%3)
		}
	}
	var reader sync.WaitGroup
	var seen []int64
	safeGo(&reader, errs, func() {
		after := int64(0)
		deadline := time.Now().Add(2 * time.Minute)
		for after < total && time.Now().Before(deadline) {
			page, err := st.Changes(ctx, orgA, after, 7)
			if err != nil {
				errs <- fmt.Errorf("reader: Changes(%d): %w", after, err)
				return
			}
			for _, c := range page {
				if c.Seq != after+1 {
					errs <- fmt.Errorf("reader after seq %d next saw seq %d: a sequence was skipped or committed out of order", after, c.Seq)
					return
				}
				seen = append(seen, c.Seq)
				after = c.Seq
			}
			if len(page) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	wg.Wait()
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	got := seqs(allChanges(t, st, orgA))
	for i, sq := range got {
		if sq != int64(i+1) {
			t.Fatalf("journal seq at position %d is %d, want %d (journal must be 1..%d without gaps)", i, sq, i+1, total)
		}
	}
	if int64(len(got)) != total || lastSeq(t, st, orgA) != total || int64(len(seen)) != total {
		t.Errorf("journal has %d entries, reader saw %d, LastSeq %d; want %d", len(got), len(seen), lastSeq(t, st, orgA), total)
	}
	used := map[int64]bool{}
	for _, r := range ranges {
		for sq := r[0]; sq <= r[1]; sq++ {
			if used[sq] {
				t.Fatalf("seq %d assigned to two Apply calls", sq)
			}
			used[sq] = true
		}
	}
}

func applyDuplicateEvent(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")), Event: &store.EventMark{ID: "ev-1", Deactivations: 1},
		Changes: []store.Change{{Kind: store.ChangeCreated, SubjectID: "u1", Cause: "ev-1"}}})
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u2")), Event: &store.EventMark{ID: "ev-1", Deactivations: 1},
		Changes: []store.Change{{Kind: store.ChangeCreated, SubjectID: "u2", Cause: "ev-1"}}})
	wantErr(t, "second Apply with the same event mark", err, store.ErrDuplicateEvent)
	if _, err := st.GetUser(t.Context(), orgA, "u2"); err == nil {
		t.Error("a duplicate event wrote its user")
	}
	if n := lastSeq(t, st, orgA); n != 1 {
		t.Errorf("LastSeq = %d after a duplicate event, want 1", n)
	}
	n, err := st.EventDeactivations(t.Context(), orgA, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Errorf("EventDeactivations = %d, %v after a duplicate mark; want 1", n, err)
	}
}

// applyAtomic makes requests whose last write fails in different ways and
// checks that nothing of them was written.
func applyAtomic(t testing.TB, st store.Store) {
	existing := user(orgA, srcA, "u0")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(existing), Event: &store.EventMark{ID: "ev-done"},
		Changes: []store.Change{{Kind: store.ChangeCreated, SubjectID: "u0", Cause: "run-0"}}})
	if err := st.ParkEvent(t.Context(), store.ParkedEvent{OrgID: orgA, ID: "ev-parked", Kind: "dsync.user.deleted", Payload: []byte(`{}`), ReceivedAt: at(0), Reason: "budget"}); err != nil {
		t.Fatalf("ParkEvent: %v", err)
	}
	stale := existing
	stale.ProviderUpdatedAt = at(-time.Hour)
	failures := []struct {
		name string
		edit func(*store.ApplyRequest)
		want error
	}{
		{"LastMembershipOfAMissingUser", func(r *store.ApplyRequest) {
			r.Members = append(r.Members, store.MemberWrite{Membership: store.Membership{UserID: "ghost", GroupID: "g1"}})
		}, store.ErrInvalid},
		{"LastUserConflicts", func(r *store.ApplyRequest) {
			r.Users = append(r.Users, store.UserWrite{User: user(orgA, srcA, "u0")})
		}, store.ErrConflict},
		{"LastUserIsStale", func(r *store.ApplyRequest) {
			r.Users = append(r.Users, store.UserWrite{User: stale, ExpectVersion: 1})
		}, store.ErrStale},
		{"EventAlreadyProcessed", func(r *store.ApplyRequest) { r.Event = &store.EventMark{ID: "ev-done"} }, store.ErrDuplicateEvent},
		{"LastGroupConflicts", func(r *store.ApplyRequest) {
			r.Groups = append(r.Groups, store.GroupWrite{Group: group(orgA, srcA, "g1", "Again")})
		}, store.ErrConflict},
	}
	for _, f := range failures {
		req := store.ApplyRequest{
			OrgID:      orgA,
			Users:      insertUsers(user(orgA, srcA, "u1"), user(orgA, srcA, "u2")),
			Groups:     []store.GroupWrite{{Group: group(orgA, srcA, "g1", "Team")}},
			Members:    []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
			Changes:    []store.Change{{Kind: store.ChangeCreated, SubjectID: "u1", Cause: "ev-new"}, {Kind: store.ChangeCreated, SubjectID: "u2", Cause: "ev-new"}},
			Tombstones: []store.Tombstone{{OrgID: orgA, SourceID: srcA, ExternalID: "ext-gone", DeletedAt: at(0), ExpiresAt: time.Now().Add(time.Hour)}},
			Event:      &store.EventMark{ID: "ev-new", Deactivations: 2},
			Unpark:     []string{"ev-parked"},
		}
		f.edit(&req)
		_, err := st.Apply(t.Context(), req)
		if !errorsIs(err, f.want) {
			t.Errorf("%s: Apply error %v, want %v", f.name, err, f.want)
		}
		for _, id := range []string{"u1", "u2"} {
			if _, err := st.GetUser(t.Context(), orgA, id); err == nil {
				t.Errorf("%s: failed Apply left user %s", f.name, id)
			}
		}
		if gs, _ := st.Groups(t.Context(), orgA, ""); len(gs) != 0 {
			t.Errorf("%s: failed Apply left groups %+v", f.name, gs)
		}
		if n := lastSeq(t, st, orgA); n != 1 {
			t.Errorf("%s: failed Apply moved LastSeq to %d, want 1", f.name, n)
		}
		if cs := allChanges(t, st, orgA); len(cs) != 1 {
			t.Errorf("%s: failed Apply left journal entries: %+v", f.name, cs)
		}
		if ok, _ := st.EventProcessed(t.Context(), orgA, "ev-new"); ok {
			t.Errorf("%s: failed Apply recorded its event mark", f.name)
		}
		if n, _ := st.EventDeactivations(t.Context(), orgA, time.Now().Add(-time.Hour)); n != 0 {
			t.Errorf("%s: failed Apply counted %d event deactivations", f.name, n)
		}
		if ok, _ := st.Tombstoned(t.Context(), orgA, srcA, "ext-gone"); ok {
			t.Errorf("%s: failed Apply wrote its tombstone", f.name)
		}
		if ps, _ := st.ParkedEvents(t.Context(), orgA); len(ps) != 1 {
			t.Errorf("%s: failed Apply unparked: parked events %+v", f.name, ps)
		}
		if got := getUser(t, st, orgA, "u0"); got.Version != 1 {
			t.Errorf("%s: failed Apply changed u0 to version %d", f.name, got.Version)
		}
	}
	// The same request without its failing write succeeds, and the next
	// sequence number is 2: failed Apply calls consumed none.
	res := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(user(orgA, srcA, "u1")), Changes: []store.Change{{Kind: store.ChangeCreated, SubjectID: "u1", Cause: "ev-new"}}})
	if res.FirstSeq != 2 {
		t.Errorf("after failed Apply calls the next change got seq %d, want 2", res.FirstSeq)
	}
}

func applyTombstoneUnpark(t testing.TB, st store.Store) {
	ctx := t.Context()
	for _, id := range []string{"ev-1", "ev-2"} {
		if err := st.ParkEvent(ctx, store.ParkedEvent{OrgID: orgA, ID: id, Kind: "dsync.user.deleted", Payload: []byte(`{"id":"` + id + `"}`), ReceivedAt: at(0), Reason: "budget"}); err != nil {
			t.Fatalf("ParkEvent: %v", err)
		}
	}
	u := user(orgA, srcA, "u1")
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Users: insertUsers(u)})
	mustApply(t, st, store.ApplyRequest{
		OrgID:      orgA,
		Users:      []store.UserWrite{{User: u, ExpectVersion: 1, Delete: true}},
		Changes:    []store.Change{{Kind: store.ChangeDeleted, SubjectID: "u1", Cause: "ev-1"}},
		Tombstones: []store.Tombstone{{OrgID: orgA, SourceID: srcA, ExternalID: "ext-u1", DeletedAt: at(0), ExpiresAt: time.Now().Add(72 * time.Hour)}},
		Event:      &store.EventMark{ID: "ev-1", Deactivations: 1},
		Unpark:     []string{"ev-1"},
	})
	if ok, err := st.Tombstoned(ctx, orgA, srcA, "ext-u1"); err != nil || !ok {
		t.Errorf("Tombstoned = %v, %v after a delete with a tombstone; want true", ok, err)
	}
	ps, err := st.ParkedEvents(ctx, orgA)
	if err != nil || len(ps) != 1 || ps[0].ID != "ev-2" {
		t.Errorf("ParkedEvents after unparking ev-1 = %+v, %v; want only ev-2", ps, err)
	}
	if ok, err := st.EventProcessed(ctx, orgA, "ev-1"); err != nil || !ok {
		t.Errorf("EventProcessed(ev-1) = %v, %v; want true", ok, err)
	}
}

// safeGo runs fn in a goroutine of wg, turning a panic (a broken store)
// into an error instead of crashing the test binary.
func safeGo(wg *sync.WaitGroup, errs chan<- error, fn func()) {
	wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				select {
				case errs <- fmt.Errorf("panic: %v", r):
				default:
				}
			}
		}()
		fn()
	})
}
