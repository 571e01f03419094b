package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

func (s *suite) journalCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"ChangesPagesByAfterAndLimit", journalPaging},
		{"ChangesRejectsALimitOutside1To1000", journalBadLimit},
		{"LastSeqIsZeroForAnEmptyJournal", journalEmpty},
		{"PruneChangesDeletesOldEntriesAndNeverReusesSequences", journalPrune},
		{"RedactSubjectScrubsOnlyThatSubjectsValues", journalRedact},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

func (s *suite) stateCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"CreateRunOfAnExistingIDIsAConflict", runsCreateConflict},
		{"GetRunRoundTripsEveryField", runsRoundTrip},
		{"UpdateRunIsACompareAndSetOnStatus", runsUpdateCAS},
		{"ListRunsIsNewestFirstAndLimited", runsList},
		{"RunningRunPastItsLeaseExpiryIsReportedFailed", runsAbandoned},
		{"ParkingAnEventTwiceKeepsOne", parkIdempotent},
		{"ParkedEventsAreListedOldestFirst", parkOrder},
		{"EventProcessedReportsRecordedMarks", eventProcessed},
		{"EventDeactivationsSumsMarksInTheWindow", eventWindow},
		{"TombstonedHonoursExpiryAndSource", tombstoneExpiry},
		{"SourceStateRoundTripsAndDefaultsToZero", sourceState},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

func changesN(org, subject string, n int, start time.Time) []store.Change {
	cs := make([]store.Change, n)
	for i := range cs {
		cs[i] = store.Change{Kind: store.ChangeUpdated, SubjectID: subject, Before: map[string]any{"title": fmt.Sprint("t", i)}, After: map[string]any{"title": fmt.Sprint("t", i+1)}, Cause: "run-1", At: start.Add(time.Duration(i) * time.Minute)}
	}
	return cs
}

func journalPaging(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: changesN(orgA, "u1", 25, at(0))})
	for _, c := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 10, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{10, 10, []int64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
		{20, 10, []int64{21, 22, 23, 24, 25}},
		{25, 10, []int64{}},
		{3, 2, []int64{4, 5}},
		{0, 0, seqRange(1, 25)}, // 0 means 100
		{24, 1000, []int64{25}},
	} {
		got, err := st.Changes(t.Context(), orgA, c.after, c.limit)
		if err != nil {
			t.Fatalf("Changes(after %d, limit %d): %v", c.after, c.limit, err)
		}
		if diff := cmp.Diff(c.want, seqs(got), cmpOpts); diff != "" {
			t.Errorf("Changes(after %d, limit %d) seqs (-want +got):\n%s", c.after, c.limit, diff)
		}
	}
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func journalBadLimit(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: changesN(orgA, "u1", 3, at(0))})
	for _, limit := range []int{-1, 1001} {
		if got, err := st.Changes(t.Context(), orgA, 0, limit); err == nil {
			t.Errorf("Changes with limit %d returned %d entries and no error", limit, len(got))
		}
	}
}

func journalEmpty(t testing.TB, st store.Store) {
	if n := lastSeq(t, st, orgA); n != 0 {
		t.Errorf("LastSeq of an empty journal = %d, want 0", n)
	}
	if cs := allChanges(t, st, orgA); len(cs) != 0 {
		t.Errorf("Changes of an empty journal = %+v", cs)
	}
}

func journalPrune(t testing.TB, st store.Store) {
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: append(changesN(orgA, "u1", 4, at(-48*time.Hour)), changesN(orgA, "u1", 3, at(0))...)})
	n, err := st.PruneChanges(t.Context(), orgA, at(-time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("PruneChanges = %d, %v; want 4 deleted", n, err)
	}
	if diff := cmp.Diff([]int64{5, 6, 7}, seqs(allChanges(t, st, orgA))); diff != "" {
		t.Errorf("journal after prune (-want +got):\n%s", diff)
	}
	if n, _ := st.PruneChanges(t.Context(), orgA, at(time.Hour)); n != 3 {
		t.Errorf("second PruneChanges deleted %d, want 3", n)
	}
	res := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: changesN(orgA, "u1", 1, at(2*time.Hour))})
	if res.FirstSeq != 8 {
		t.Errorf("after pruning everything the next change got seq %d, want 8 (sequences are never reused)", res.FirstSeq)
	}
}

func journalRedact(t testing.TB, st store.Store) {
	cs := append(changesN(orgA, "u1", 2, at(0)), changesN(orgA, "u2", 2, at(0))...)
	cs = append(cs, store.Change{Kind: store.ChangeMemberAdded, SubjectID: "u1", After: map[string]any{"group": "g1"}, Cause: "ev-9", At: at(time.Hour)})
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Changes: cs})
	n, err := st.RedactSubject(t.Context(), orgA, "u1")
	if err != nil || n != 3 {
		t.Fatalf("RedactSubject = %d, %v; want 3", n, err)
	}
	got := allChanges(t, st, orgA)
	want := make([]store.Change, len(cs))
	for i, c := range cs {
		c.Seq, c.OrgID = int64(i+1), orgA
		if c.SubjectID == "u1" {
			c.Before, c.After = nil, nil
		}
		want[i] = c
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("journal after RedactSubject(u1) (-want +got):\n%s", diff)
	}
}

func run1(org, id string, started time.Time) store.SyncRun {
	fin := started.Add(time.Minute)
	return store.SyncRun{
		ID: id, OrgID: org, SourceID: srcA, Mode: store.ModeFull, Status: store.RunRunning, StartSeq: 7, StartedAt: started,
		LeaseExpiresAt: time.Now().UTC().Truncate(time.Second).Add(time.Hour), Counts: store.Counts{Created: 3, Updated: 2, Unchanged: 9},
		Errors:     []store.RecordError{{ExternalID: "ext-9", Field: "department", Message: "not a string"}},
		HaltReason: "", MappingVersion: "m1", FinishedAt: &fin,
		Plan: []store.PlanItem{{Kind: store.ChangeUpdated, ExternalID: "ext-1", UserID: "u1", Before: map[string]any{"title": "a"}, After: map[string]any{"title": "b"}}},
	}
}

func runsCreateConflict(t testing.TB, st store.Store) {
	r := run1(orgA, "run-1", at(0))
	if err := st.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	wantErr(t, "CreateRun of an existing ID", st.CreateRun(t.Context(), r), store.ErrConflict)
	if err := st.CreateRun(t.Context(), run1(orgB, "run-1", at(0))); err != nil {
		t.Errorf("CreateRun of the same ID in another org: %v", err)
	}
}

func runsRoundTrip(t testing.TB, st store.Store) {
	r := run1(orgA, "run-1", at(0))
	if err := st.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	got, err := st.GetRun(t.Context(), orgA, "run-1")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if diff := cmp.Diff(r, got, cmpOpts); diff != "" {
		t.Errorf("GetRun (-created +read):\n%s", diff)
	}
	_, err = st.GetRun(t.Context(), orgA, "run-2")
	wantErr(t, "GetRun of an unknown run", err, store.ErrNotFound)
}

func runsUpdateCAS(t testing.TB, st store.Store) {
	r := run1(orgA, "run-1", at(0))
	if err := st.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	r.Status, r.HaltReason = store.RunHalted, "would deactivate 40%"
	r.Held = []store.HeldDeactivation{{UserID: "u1", ExternalID: "ext-1"}, {UserID: "u2", ExternalID: "ext-2"}}
	if err := st.UpdateRun(t.Context(), r, store.RunRunning); err != nil {
		t.Fatalf("UpdateRun running → halted: %v", err)
	}
	again := r
	again.Status = store.RunFailed
	wantErr(t, "UpdateRun expecting running on a halted run", st.UpdateRun(t.Context(), again, store.RunRunning), store.ErrConflict)
	got, err := st.GetRun(t.Context(), orgA, "run-1")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if diff := cmp.Diff(r, got, cmpOpts); diff != "" {
		t.Errorf("GetRun after UpdateRun (-want +got):\n%s", diff)
	}
	approved := at(time.Hour)
	r.Status, r.ApprovedAt = store.RunSucceeded, &approved
	if err := st.UpdateRun(t.Context(), r, store.RunHalted); err != nil {
		t.Errorf("UpdateRun halted → succeeded: %v", err)
	}
	wantErr(t, "second approval", st.UpdateRun(t.Context(), r, store.RunHalted), store.ErrConflict)
	missing := run1(orgA, "run-404", at(0))
	wantErr(t, "UpdateRun of an unknown run", st.UpdateRun(t.Context(), missing, store.RunRunning), store.ErrNotFound)
}

func runsList(t testing.TB, st store.Store) {
	for i, id := range []string{"run-b", "run-a", "run-d", "run-c"} {
		if err := st.CreateRun(t.Context(), run1(orgA, id, at(time.Duration([]int{2, 1, 4, 3}[i])*time.Hour))); err != nil {
			t.Fatalf("CreateRun: %v", err)
		}
	}
	ids := func(limit int) []string {
		rs, err := st.ListRuns(t.Context(), orgA, limit)
		if err != nil {
			t.Fatalf("ListRuns(%d): %v", limit, err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"run-d", "run-c", "run-b", "run-a"}, ids(10)); diff != "" {
		t.Errorf("ListRuns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"run-d", "run-c"}, ids(2)); diff != "" {
		t.Errorf("ListRuns limit 2 (-want +got):\n%s", diff)
	}
}

func parked(org, id string, received time.Time) store.ParkedEvent {
	return store.ParkedEvent{OrgID: org, ID: id, Kind: "dsync.user.deleted", DirectoryID: "directory_1", Payload: []byte(`{"id":"` + id + `","data":{"x":1}}`), ReceivedAt: received, Reason: "event budget exhausted"}
}

func parkIdempotent(t testing.TB, st store.Store) {
	ev := parked(orgA, "ev-1", at(0))
	for range 2 {
		if err := st.ParkEvent(t.Context(), ev); err != nil {
			t.Fatalf("ParkEvent: %v", err)
		}
	}
	ps, err := st.ParkedEvents(t.Context(), orgA)
	if err != nil {
		t.Fatalf("ParkedEvents: %v", err)
	}
	if diff := cmp.Diff([]store.ParkedEvent{ev}, ps, cmpOpts); diff != "" {
		t.Errorf("ParkedEvents after parking twice (-want +got):\n%s", diff)
	}
}

func parkOrder(t testing.TB, st store.Store) {
	for _, p := range []store.ParkedEvent{parked(orgA, "ev-b", at(2*time.Minute)), parked(orgA, "ev-c", at(3*time.Minute)), parked(orgA, "ev-a", at(time.Minute))} {
		if err := st.ParkEvent(t.Context(), p); err != nil {
			t.Fatalf("ParkEvent: %v", err)
		}
	}
	ps, err := st.ParkedEvents(t.Context(), orgA)
	if err != nil {
		t.Fatalf("ParkedEvents: %v", err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if diff := cmp.Diff([]string{"ev-a", "ev-b", "ev-c"}, ids); diff != "" {
		t.Errorf("ParkedEvents order (-want +got):\n%s", diff)
	}
}

func eventProcessed(t testing.TB, st store.Store) {
	if ok, err := st.EventProcessed(t.Context(), orgA, "ev-1"); err != nil || ok {
		t.Fatalf("EventProcessed before any mark = %v, %v", ok, err)
	}
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Event: &store.EventMark{ID: "ev-1"}})
	if ok, err := st.EventProcessed(t.Context(), orgA, "ev-1"); err != nil || !ok {
		t.Errorf("EventProcessed after its mark = %v, %v; want true", ok, err)
	}
	if ok, _ := st.EventProcessed(t.Context(), orgA, "ev-2"); ok {
		t.Error("EventProcessed(ev-2) = true without a mark")
	}
}

func eventWindow(t testing.TB, st store.Store) {
	start := time.Now().Add(-time.Second)
	for i, n := range []int{2, 0, 3} {
		mustApply(t, st, store.ApplyRequest{OrgID: orgA, Event: &store.EventMark{ID: fmt.Sprint("ev-", i), Deactivations: n}})
	}
	if n, err := st.EventDeactivations(t.Context(), orgA, start.Add(-time.Hour)); err != nil || n != 5 {
		t.Errorf("EventDeactivations over the last hour = %d, %v; want 5", n, err)
	}
	if n, err := st.EventDeactivations(t.Context(), orgA, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("EventDeactivations since a future time = %d, %v; want 0", n, err)
	}
}

func tombstoneExpiry(t testing.TB, st store.Store) {
	now := time.Now()
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Tombstones: []store.Tombstone{
		{OrgID: orgA, SourceID: srcA, ExternalID: "ext-live", DeletedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{OrgID: orgA, SourceID: srcA, ExternalID: "ext-expired", DeletedAt: now.Add(-96 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
	}})
	for _, c := range []struct {
		source, ext string
		want        bool
	}{{srcA, "ext-live", true}, {srcA, "ext-expired", false}, {srcB, "ext-live", false}, {srcA, "ext-none", false}} {
		if ok, err := st.Tombstoned(t.Context(), orgA, c.source, c.ext); err != nil || ok != c.want {
			t.Errorf("Tombstoned(%s, %s) = %v, %v; want %v", c.source, c.ext, ok, err, c.want)
		}
	}
}

func sourceState(t testing.TB, st store.Store) {
	got, err := st.SourceState(t.Context(), orgA, srcA)
	if err != nil {
		t.Fatalf("SourceState: %v", err)
	}
	if diff := cmp.Diff(store.SourceState{OrgID: orgA, SourceID: srcA}, got, cmpOpts); diff != "" {
		t.Errorf("SourceState before any Put (-want +got):\n%s", diff)
	}
	want := store.SourceState{OrgID: orgA, SourceID: srcA, NextDueAt: at(24 * time.Hour), EventsCursor: "event_01H", EventsCursorAt: at(time.Minute), MappingVersion: "m7"}
	if err := st.PutSourceState(t.Context(), want); err != nil {
		t.Fatalf("PutSourceState: %v", err)
	}
	want.NextDueAt = at(48 * time.Hour)
	if err := st.PutSourceState(t.Context(), want); err != nil {
		t.Fatalf("PutSourceState again: %v", err)
	}
	got, err = st.SourceState(t.Context(), orgA, srcA)
	if err != nil {
		t.Fatalf("SourceState: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("SourceState after Put (-want +got):\n%s", diff)
	}
	if other, _ := st.SourceState(t.Context(), orgA, srcB); !other.NextDueAt.IsZero() || other.SourceID != srcB {
		t.Errorf("SourceState of another source = %+v, want zero with IDs", other)
	}
}

// fillOrg writes one of everything for org.
func fillOrg(t testing.TB, st store.Store, org string) {
	t.Helper()
	ctx := t.Context()
	mustApply(t, st, store.ApplyRequest{
		OrgID: org, Users: insertUsers(user(org, srcA, "u1"), user(org, srcA, "u2")),
		Groups:     []store.GroupWrite{{Group: group(org, srcA, "g1", "Team")}},
		Members:    []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
		Changes:    changesN(org, "u1", 3, at(0)),
		Tombstones: []store.Tombstone{{OrgID: org, SourceID: srcA, ExternalID: "ext-gone", DeletedAt: at(0), ExpiresAt: time.Now().Add(time.Hour)}},
		Event:      &store.EventMark{ID: "ev-1", Deactivations: 1},
	})
	if err := st.CreateRun(ctx, run1(org, "run-1", at(0))); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if err := st.ParkEvent(ctx, parked(org, "ev-2", at(0))); err != nil {
		t.Fatalf("ParkEvent: %v", err)
	}
	if err := st.PutSourceState(ctx, store.SourceState{OrgID: org, SourceID: srcA, NextDueAt: at(time.Hour)}); err != nil {
		t.Fatalf("PutSourceState: %v", err)
	}
}

// orgContents summarises everything an org holds, for comparisons.
func orgContents(t testing.TB, st store.Store, org string) map[string]any {
	t.Helper()
	ctx := t.Context()
	out := map[string]any{}
	out["snapshot"] = len(snapshot(t, st, org, srcA))
	u, err := st.GetUser(ctx, org, "u1")
	out["user"] = err == nil && u.OrgID == org
	gs, _ := st.Groups(ctx, org, "")
	out["groups"] = len(gs)
	out["changes"] = len(allChanges(t, st, org))
	out["lastSeq"] = lastSeq(t, st, org)
	_, err = st.GetRun(ctx, org, "run-1")
	out["run"] = err == nil
	rs, _ := st.ListRuns(ctx, org, 10)
	out["runs"] = len(rs)
	ps, _ := st.ParkedEvents(ctx, org)
	out["parked"] = len(ps)
	out["event"], _ = st.EventProcessed(ctx, org, "ev-1")
	out["eventDeactivations"], _ = st.EventDeactivations(ctx, org, time.Now().Add(-time.Hour))
	out["tombstone"], _ = st.Tombstoned(ctx, org, srcA, "ext-gone")
	ss, _ := st.SourceState(ctx, org, srcA)
	out["sourceState"] = !ss.NextDueAt.IsZero()
	us, _ := st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: org, SourceID: srcA, ExternalIDs: []string{"ext-u1", "ext-u2"}})
	out["loaded"] = len(us)
	// Facets read the counts a store keeps beside its rows (whole-org, and
	// by a department filter alone), which a purge must remove too.
	for key, q := range map[string]search.Query{"orgFacets": {}, "facets": {Departments: []string{"Engineering"}}} {
		if f, err := st.Facets(ctx, org, q); err != nil {
			out[key] = err.Error()
		} else {
			out[key] = len(f.Department) + len(f.Division) + len(f.Office) + len(f.Tag) + len(f.TagFields)
		}
	}
	return out
}

func purgeOrg(t testing.TB, st store.Store) {
	fillOrg(t, st, orgA)
	fillOrg(t, st, orgB)
	full := orgContents(t, st, orgB)
	if err := st.PurgeOrg(t.Context(), orgA); err != nil {
		t.Fatalf("PurgeOrg: %v", err)
	}
	empty := map[string]any{"snapshot": 0, "user": false, "groups": 0, "changes": 0, "lastSeq": int64(0), "run": false, "runs": 0, "parked": 0,
		"event": false, "eventDeactivations": 0, "tombstone": false, "sourceState": false, "loaded": 0, "orgFacets": 0, "facets": 0}
	if diff := cmp.Diff(empty, orgContents(t, st, orgA)); diff != "" {
		t.Errorf("purged org still holds data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(full, orgContents(t, st, orgB)); diff != "" {
		t.Errorf("PurgeOrg(%s) changed %s (-before +after):\n%s", orgA, orgB, diff)
	}
	if _, err := st.AcquireLease(t.Context(), orgA, "h1", time.Minute); err != nil {
		t.Errorf("AcquireLease after PurgeOrg: %v", err)
	}
	if errors.Is(st.PurgeOrg(t.Context(), "org-never"), store.ErrInvalid) {
		t.Error("PurgeOrg of an org with no data failed")
	}
}

func runsAbandoned(t testing.TB, st store.Store) {
	r := run1(orgA, "run-1", at(0))
	r.FinishedAt = nil
	r.LeaseExpiresAt = time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	if err := st.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	live := run1(orgA, "run-2", at(time.Hour))
	live.FinishedAt = nil
	if err := st.CreateRun(t.Context(), live); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	got, err := st.GetRun(t.Context(), orgA, "run-1")
	if err != nil || got.Status != store.RunFailed {
		t.Errorf("GetRun of a running run past its lease: status %q, %v; want failed", got.Status, err)
	}
	rs, err := st.ListRuns(t.Context(), orgA, 10)
	if err != nil || len(rs) != 2 || rs[0].Status != store.RunRunning || rs[1].Status != store.RunFailed {
		t.Errorf("ListRuns = %+v, %v; want run-2 running, then run-1 failed", rs, err)
	}
}
