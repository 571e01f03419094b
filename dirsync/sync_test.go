package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

func extIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("e%03d", i))
	}
	return ids
}

func TestFirstSyncCreatesEveryoneAndJournalsThem(t *testing.T) {
	t.Parallel()
	e := setup(t, 25)
	run := e.sync()
	if run.Status != store.RunSucceeded || run.Counts.Created != 25 || run.Mode != store.ModeFull {
		t.Fatalf("run = %+v", run)
	}
	if diff := cmp.Diff(map[store.ChangeKind]int{store.ChangeCreated: 25}, kinds(e.changes())); diff != "" {
		t.Errorf("journal kinds (-want +got):\n%s", diff)
	}
	got, err := e.mem.GetRun(context.Background(), org, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RunSucceeded || got.StartSeq != 0 || got.FinishedAt == nil {
		t.Errorf("stored run = %+v", got)
	}
	t.Run("ResyncChangesNothing", func(t *testing.T) {
		run := e.sync()
		if run.Counts.Unchanged != 25 || run.Counts.Created+run.Counts.Updated != 0 || run.StartSeq != 25 {
			t.Errorf("counts = %+v, start seq %d", run.Counts, run.StartSeq)
		}
		if n := e.lastSeq(); n != 25 {
			t.Errorf("journal grew to %d", n)
		}
	})
	t.Run("ChangedProfileIsOneUpdatedEntryWithOnlyTheChangedFields", func(t *testing.T) {
		seq := e.lastSeq()
		e.p.UpdateUser("e007", func(r *mapping.Record) { r.JobTitle = "Chief"; r.UpdatedAt = r.UpdatedAt.Add(time.Hour) })
		run := e.sync()
		if run.Counts.Updated != 1 {
			t.Errorf("counts = %+v", run.Counts)
		}
		cs := e.changesAfter(seq)
		want := []store.Change{{Kind: store.ChangeUpdated, SubjectID: e.user("e007").ID, After: map[string]any{"title": "Chief"}, Cause: run.ID}}
		if diff := cmp.Diff(want, cs, cmpChange); diff != "" {
			t.Errorf("journal (-want +got):\n%s", diff)
		}
	})
	t.Run("SourceOnlyChangeRewritesTheRowWithoutAJournalEntry", func(t *testing.T) {
		seq := e.lastSeq()
		before := e.user("e008")
		e.p.UpdateUser("e008", func(r *mapping.Record) { r.Raw = map[string]any{"cost_center": "X"} })
		run := e.sync()
		if run.Counts.Unchanged != 25 {
			t.Errorf("counts = %+v", run.Counts)
		}
		after := e.user("e008")
		if after.SourceHash == before.SourceHash || after.Version != before.Version+1 {
			t.Errorf("source not rewritten: %q→%q, version %d→%d", before.SourceHash, after.SourceHash, before.Version, after.Version)
		}
		if cs := e.changesAfter(seq); len(cs) != 0 {
			t.Errorf("journal entries %+v", cs)
		}
	})
}

var cmpChange = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		n := p.Last().String()
		return n == ".Seq" || n == ".At" || n == ".OrgID"
	}, cmp.Ignore()),
}

func TestRecordFirstSeenInactiveIsStoredInactiveAndCountedCreated(t *testing.T) {
	t.Parallel()
	e := setup(t, 12)
	e.p.UpdateUser("e002", func(r *mapping.Record) { r.State = mapping.StateSuspended })
	run := e.sync()
	if run.Counts.Created != 12 || run.Counts.Deactivated != 0 {
		t.Errorf("counts = %+v", run.Counts)
	}
	u := e.user("e002")
	if u == nil || u.Active || u.DeactivatedAt == nil {
		t.Fatalf("user = %+v", u)
	}
}

// guardEnv has 50 synced active users.
func guardEnv(t *testing.T) *env {
	e := setup(t, 50)
	e.sync()
	return e
}

func TestGuard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		remove int
		halt   bool
	}{
		{"JustUnderTheThresholdDeactivates", 9, false},
		{"AtTheThresholdDeactivates", 10, false},
		{"JustOverTheThresholdHalts", 11, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := guardEnv(t)
			e.p.RemoveUsers(extIDs(1, tc.remove)...)
			run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
			if !tc.halt {
				if err != nil || run.Status != store.RunSucceeded || run.Counts.Deactivated != tc.remove {
					t.Fatalf("run = %+v, err %v", run, err)
				}
				if active, _ := e.activeCount(); active != 50-tc.remove {
					t.Errorf("active = %d", active)
				}
				return
			}
			if !errors.Is(err, dirsync.ErrHalted) || run.Status != store.RunHalted || run.Counts.Deactivated != 0 || len(run.Held) != tc.remove || run.HaltReason == "" {
				t.Fatalf("run = %+v, err %v", run, err)
			}
			if active, _ := e.activeCount(); active != 50 {
				t.Errorf("active = %d after a halted run", active)
			}
			stored, _ := e.mem.GetRun(context.Background(), org, run.ID)
			if stored.Status != store.RunHalted || len(stored.Held) != tc.remove {
				t.Errorf("stored run = %+v", stored)
			}
		})
	}
}

func TestGuardSmallOrg(t *testing.T) {
	t.Parallel()
	t.Run("ListingThatDeactivatesAllButOneApplies", func(t *testing.T) {
		t.Parallel()
		e := setup(t, 5)
		e.sync()
		e.p.RemoveUsers(extIDs(1, 4)...)
		run := e.sync()
		if run.Counts.Deactivated != 4 {
			t.Errorf("counts = %+v", run.Counts)
		}
	})
	t.Run("ListingThatWouldDeactivateEveryoneHalts", func(t *testing.T) {
		t.Parallel()
		e := setup(t, 5)
		e.sync()
		e.p.SetUsers()
		run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
		if !errors.Is(err, dirsync.ErrHalted) || len(run.Held) != 5 || run.Counts.Deactivated != 0 {
			t.Fatalf("run = %+v, err %v", run, err)
		}
	})
}

func TestApprove(t *testing.T) {
	t.Parallel()
	e := guardEnv(t)
	e.p.RemoveUsers(extIDs(1, 15)...)
	halted, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
	if !errors.Is(err, dirsync.ErrHalted) {
		t.Fatal(err)
	}
	// The directory changes after the halt: a new run would compute another
	// set. Approval must apply exactly the held one.
	e.p.RemoveUsers(extIDs(16, 18)...)
	seq := e.lastSeq()

	t.Run("AppliesExactlyTheHeldSetWithTheRunAsCause", func(t *testing.T) {
		run, err := e.s.Approve(context.Background(), halted.ID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunSucceeded || run.ApprovedAt == nil || run.Counts.Deactivated != 15 {
			t.Fatalf("run = %+v", run)
		}
		cs := e.changesAfter(seq)
		var got []string
		for _, c := range cs {
			if c.Kind != store.ChangeDeactivated || c.Cause != halted.ID {
				t.Errorf("change %+v", c)
			}
			got = append(got, c.SubjectID)
		}
		var want []string
		for _, h := range halted.Held {
			want = append(want, h.UserID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("deactivated (-held +got):\n%s", diff)
		}
		for _, ext := range extIDs(16, 18) {
			if !e.user(ext).Active {
				t.Errorf("%s was deactivated but not held", ext)
			}
		}
	})
	t.Run("SecondApprovalIsRefused", func(t *testing.T) {
		seq := e.lastSeq()
		if _, err := e.s.Approve(context.Background(), halted.ID); !errors.Is(err, dirsync.ErrNotHalted) {
			t.Errorf("err = %v, want ErrNotHalted", err)
		}
		if n := e.lastSeq(); n != seq {
			t.Errorf("second approval wrote %d entries", n-seq)
		}
	})
}

func TestFailureOnPage3DeactivatesNoOne(t *testing.T) {
	t.Parallel()
	e := setup(t, 50)
	e.sync()
	e.p.RemoveUsers(extIDs(45, 50)...) // 6 gone: within the guard
	e.p.UpdateUser("e001", func(r *mapping.Record) { r.JobTitle = "Updated"; r.UpdatedAt = r.UpdatedAt.Add(time.Hour) })
	e.p.FailOnPage(3, errInjected)
	run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
	if !errors.Is(err, dirsync.ErrRunFailed) || run.Status != store.RunFailed || !strings.Contains(run.Error, "no one was deactivated") {
		t.Fatalf("run = %+v, err %v", run, err)
	}
	if run.Counts.Deactivated != 0 {
		t.Errorf("counts = %+v", run.Counts)
	}
	if active, _ := e.activeCount(); active != 50 {
		t.Errorf("active = %d, want 50", active)
	}
	if e.user("e001").Title != "Updated" {
		t.Error("an update streamed before the failure was not applied")
	}
}

func TestMoreThanTenPercentMappingFailuresFailTheRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  int
		fail bool
	}{
		{"TenPercentSucceeds", 3, false},
		{"MoreThanTenPercentFailsAndDeactivatesNoOne", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, 31, func(e *env) { e.cfg.Mapper = failingMapper{} })
			e.sync()
			e.p.RemoveUsers("e031") // 30 listed
			for _, ext := range extIDs(1, tc.bad) {
				e.p.UpdateUser(ext, func(r *mapping.Record) { r.Custom = map[string]any{"bad": true} })
			}
			run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
			if len(run.Errors) != tc.bad || run.Errors[0].Field != "department" || run.Errors[0].ExternalID != "e001" {
				t.Errorf("errors = %+v", run.Errors)
			}
			if !tc.fail {
				if err != nil || run.Counts.Deactivated != 1 {
					t.Errorf("run = %+v, err %v", run, err)
				}
				return
			}
			if !errors.Is(err, dirsync.ErrRunFailed) || run.Counts.Deactivated != 0 || !e.user("e031").Active {
				t.Errorf("run = %+v, err %v", run, err)
			}
		})
	}
}

func TestTerminatedPersonWhoseRecordNoLongerMapsIsStillDeactivated(t *testing.T) {
	t.Parallel()
	e := setup(t, 20, func(e *env) { e.cfg.Mapper = failingMapper{} })
	e.p.UpdateUser("e005", func(r *mapping.Record) { r.Custom = map[string]any{"department": "Sales"} })
	e.sync()
	e.p.UpdateUser("e005", func(r *mapping.Record) {
		r.State = mapping.StateInactive
		r.Custom = map[string]any{"bad": true}
		r.UpdatedAt = r.UpdatedAt.Add(time.Hour)
	})
	run := e.sync()
	if run.Counts.Deactivated != 1 {
		t.Errorf("counts = %+v", run.Counts)
	}
	want := []store.RecordError{{ExternalID: "e005", Field: "department", Message: "custom.department is not a string"}}
	if diff := cmp.Diff(want, run.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	u := e.user("e005")
	if u.Active || u.Department != "Sales" {
		t.Errorf("user active=%v department=%q; want inactive, department kept", u.Active, u.Department)
	}
}

func TestApplyFailingOnBatchNThenRerunConvergesWithoutDuplicateJournalEntries(t *testing.T) {
	t.Parallel()
	// One writer stops at the failed batch; with two, the batch after it
	// may already be in flight when the failure is seen.
	for writers, stored := range map[int][]int{1: {20}, 2: {20, 30}} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			t.Parallel()
			var fs *faultStore
			e := setup(t, 60, func(e *env) {
				fs = &faultStore{Store: e.mem}
				e.st = fs
				e.cfg.Writers = writers
			})
			fs.fail = func(n int64, req store.ApplyRequest) error {
				// The third batch: two may run at once, so not the
				// third call.
				for _, w := range req.Users {
					if w.User.ExternalID == "e025" {
						return errInjected
					}
				}
				return nil
			}
			run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
			if !errors.Is(err, errInjected) || run.Status != store.RunFailed {
				t.Fatalf("first run = %+v, err %v", run, err)
			}
			_, n := e.activeCount()
			if !slices.Contains(stored, n) {
				t.Fatalf("after failing on batch 3: %d users stored, want one of %v", n, stored)
			}
			fs.fail = nil
			run = e.sync()
			if run.Counts.Created != 60-n || run.Counts.Unchanged != n {
				t.Errorf("re-run counts = %+v", run.Counts)
			}
			seen := map[string]int{}
			for _, c := range e.changes() {
				seen[string(c.Kind)+" "+c.SubjectID]++
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("%s journaled %d times", k, n)
				}
			}
			if len(seen) != 60 {
				t.Errorf("%d journal entries, want 60", len(seen))
			}
		})
	}
}

func TestUnlinkedDirectoryDeactivatesNoOne(t *testing.T) {
	t.Parallel()
	e := setup(t, 30)
	e.sync()
	e.p.RemoveUsers("e001", "e002")
	e.p.SetStatus(false, "invalid_credentials")
	run := e.sync()
	if run.Counts.Deactivated != 0 || run.Counts.Skipped != 2 {
		t.Errorf("counts = %+v", run.Counts)
	}
	if active, _ := e.activeCount(); active != 30 {
		t.Errorf("active = %d", active)
	}
}

func TestDryRunWritesNothingButTheRun(t *testing.T) {
	t.Parallel()
	e := setup(t, 30)
	e.sync()
	e.p.RemoveUsers("e001")
	e.p.UpdateUser("e002", func(r *mapping.Record) { r.LastName = "Changed"; r.UpdatedAt = r.UpdatedAt.Add(time.Hour) })
	e.p.AddUsers(dirsynctest.Person("new1", "New", "Person"))
	seq := e.lastSeq()
	before, _ := e.mem.ListRuns(context.Background(), org, 100)
	var streamed []store.PlanItem
	run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{DryRun: true, Plan: func(p store.PlanItem) error {
		streamed = append(streamed, p)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Mode != store.ModeDryRun || run.Counts.Created != 1 || run.Counts.Updated != 1 || run.Counts.Deactivated != 1 {
		t.Errorf("run = %+v", run)
	}
	var gotKinds []store.ChangeKind
	for _, p := range streamed {
		gotKinds = append(gotKinds, p.Kind)
	}
	if diff := cmp.Diff([]store.ChangeKind{store.ChangeUpdated, store.ChangeCreated, store.ChangeDeactivated}, gotKinds); diff != "" {
		t.Errorf("plan kinds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(streamed, run.Plan); diff != "" {
		t.Errorf("run plan differs from the stream:\n%s", diff)
	}
	if n := e.lastSeq(); n != seq {
		t.Errorf("dry run journaled %d entries", n-seq)
	}
	if !e.user("e001").Active || e.user("e002").LastName == "Changed" || e.user("new1") != nil {
		t.Error("dry run changed users")
	}
	after, _ := e.mem.ListRuns(context.Background(), org, 100)
	if len(after) != len(before)+1 {
		t.Errorf("runs %d → %d", len(before), len(after))
	}
	t.Run("PlanIsBoundedInTheRunButStreamedInFull", func(t *testing.T) {
		e.cfg.PlanLimit = 1
		e.newSyncer()
		n := 0
		run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{DryRun: true, Plan: func(store.PlanItem) error { n++; return nil }})
		if err != nil || len(run.Plan) != 1 || n != 3 {
			t.Errorf("plan kept %d, streamed %d, err %v", len(run.Plan), n, err)
		}
	})
}

func TestLeaseHolderThatPausesPastItsExpiryCannotWrite(t *testing.T) {
	t.Parallel()
	var fs *faultStore
	e := setup(t, 30, func(e *env) {
		fs = &faultStore{Store: e.mem}
		e.st = fs
	})
	pause := e.p.PauseOnPage(2)
	type result struct {
		run store.SyncRun
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
		done <- result{run, err}
	}()
	<-pause.Reached()
	// Page 1's write runs in the background while page 2 is fetched: let
	// it land under the live lease first.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, n := e.activeCount(); n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("page 1 was never written")
		}
	}
	// The process "pauses": its heartbeat cannot renew, and the lease
	// lapses; another replica takes the org.
	fs.blockRenew.Store(true)
	e.clock.Advance(2 * time.Minute)
	if _, err := e.mem.AcquireLease(context.Background(), org, "other-replica", time.Minute); err != nil {
		t.Fatalf("another holder could not take the expired lease: %v", err)
	}
	pause.Release()
	res := <-done
	if !errors.Is(res.err, store.ErrLeaseLost) || res.run.Status != store.RunFailed {
		t.Fatalf("run = %+v, err %v", res.run, res.err)
	}
	if _, n := e.activeCount(); n != 10 {
		t.Errorf("%d users stored; only page 1 (10) was written under the lease", n)
	}
}

func TestReturningEmployeeWithANewExternalIDIsRelinkedNotDuplicated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		idpID string
	}{
		{"ByIdpID", "idp003"},
		{"ByEmail", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, 20)
			e.sync()
			old := e.user("e003")
			e.p.RemoveUsers("e003")
			e.sync() // deactivated; WorkOS deletes the directory user
			seq := e.lastSeq()
			back := dirsynctest.Person("e003-new", "First3", "Last3")
			back.IdpID = tc.idpID
			back.Email = strings.ToUpper(back.Email) // folded match
			back.UpdatedAt = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			e.p.AddUsers(back)
			run := e.sync()
			if run.Counts.Relinked != 1 || run.Counts.Reactivated != 1 || run.Counts.Created != 0 {
				t.Errorf("counts = %+v", run.Counts)
			}
			u := e.user("e003-new")
			if u == nil || u.ID != old.ID || !u.Active {
				t.Fatalf("returning user = %+v, want ID %s active", u, old.ID)
			}
			if e.user("e003") != nil {
				t.Error("the old external ID still has a row")
			}
			var got []store.ChangeKind
			for _, c := range e.changesAfter(seq) {
				if c.SubjectID != old.ID {
					t.Errorf("change about %s", c.SubjectID)
				}
				got = append(got, c.Kind)
			}
			if diff := cmp.Diff([]store.ChangeKind{store.ChangeRelinked, store.ChangeReactivated}, got); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeletePolicyDeletesWithATombstoneThatStopsALateEvent(t *testing.T) {
	t.Parallel()
	e := setup(t, 20, func(e *env) { e.cfg.DeletePolicy = dirsync.DeleteGone })
	e.sync()
	gone := e.user("e004")
	rec := e.p.Records()[3]
	e.p.RemoveUsers("e004")
	run := e.sync()
	if run.Counts.Deleted != 1 || e.user("e004") != nil {
		t.Fatalf("counts = %+v", run.Counts)
	}
	last := e.changes()[len(e.changes())-1]
	if last.Kind != store.ChangeDeleted || last.SubjectID != gone.ID {
		t.Errorf("last change = %+v", last)
	}
	res, err := e.s.ApplyEvent(context.Background(), dirsynctest.Event("ev-late", dirsync.EventUserUpdated, rec, e.clock.Now()))
	if err != nil || res.Outcome != dirsync.EventIgnored {
		t.Errorf("late event = %+v, %v", res, err)
	}
	if e.user("e004") != nil {
		t.Error("a late event recreated a deleted person")
	}
}

func TestMappingVersionChangeMakesTheNextSyncARemap(t *testing.T) {
	t.Parallel()
	e := setup(t, 12, func(e *env) { e.cfg.Mapper = failingMapper{} })
	e.p.UpdateUser("e001", func(r *mapping.Record) { r.Custom = map[string]any{"department": "  Sales  "} })
	e.sync()
	e.s.SetMapper(upperDept{})
	run := e.sync()
	if run.Mode != store.ModeRemap || run.Counts.Updated != 1 || run.Counts.Unchanged != 11 {
		t.Errorf("run = %+v", run)
	}
	if d := e.user("e001").Department; d != "SALES" {
		t.Errorf("department = %q", d)
	}
	if mv := e.user("e002").MappingVersion; mv != "upper-v1" {
		t.Errorf("unchanged user's mapping version = %q", mv)
	}
	if run := e.sync(); run.Mode != store.ModeFull || run.Counts.Unchanged != 12 {
		t.Errorf("next run = %+v", run)
	}
}

// upperDept maps department upper-cased.
type upperDept struct{}

func (upperDept) Version() string { return "upper-v1" }
func (upperDept) Map(rec *mapping.Record) (mapping.Profile, error) {
	p, err := failingMapper{}.Map(rec)
	p.Department = strings.ToUpper(p.Department)
	return p, err
}

func TestGroupsAndMemberships(t *testing.T) {
	t.Parallel()
	e := setup(t, 12)
	e.p.SetGroups(dirsync.ProviderGroup{ExternalID: "g1", Name: "Engineering"}, dirsync.ProviderGroup{ExternalID: "g2", Name: "Sales"})
	e.p.SetMembers("g1", "e001", "e002", "unknown")
	e.p.SetMembers("g2", "e003")
	e.sync()
	if diff := cmp.Diff(map[store.ChangeKind]int{store.ChangeCreated: 12, store.ChangeGroupCreated: 2, store.ChangeMemberAdded: 3}, kinds(e.changes())); diff != "" {
		t.Errorf("journal kinds (-want +got):\n%s", diff)
	}
	if got := e.search(search.Query{Groups: []string{"Engineering"}}); len(got) != 2 {
		t.Errorf("group search found %d", len(got))
	}
	seq := e.lastSeq()
	e.p.SetGroups(dirsync.ProviderGroup{ExternalID: "g1", Name: "R&D"})
	e.p.SetMembers("g1", "e002", "e004")
	e.sync()
	if diff := cmp.Diff(map[store.ChangeKind]int{store.ChangeGroupUpdated: 1, store.ChangeGroupDeleted: 1, store.ChangeMemberAdded: 1, store.ChangeMemberRemoved: 1}, kinds(e.changesAfter(seq))); diff != "" {
		t.Errorf("journal kinds (-want +got):\n%s", diff)
	}
	u, err := e.mem.GetUser(context.Background(), org, e.user("e004").ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Groups) != 1 || u.Groups[0].Name != "R&D" {
		t.Errorf("groups = %+v", u.Groups)
	}
	seq = e.lastSeq()
	e.sync()
	if n := e.lastSeq(); n != seq {
		t.Errorf("a resync journaled %d group entries", n-seq)
	}
}

func TestRemapAndPreview(t *testing.T) {
	t.Parallel()
	e := setup(t, 20, func(e *env) { e.cfg.Mapper = failingMapper{} })
	for _, ext := range extIDs(1, 4) {
		e.p.UpdateUser(ext, func(r *mapping.Record) { r.Custom = map[string]any{"department": "sales"} })
	}
	e.sync()
	listings := e.p.Listings()
	seq := e.lastSeq()

	rep, err := dirsync.Preview(context.Background(), e.mem, dirsync.PreviewRequest{OrgID: org, SourceID: e.p.SourceID(), Mapper: upperDept{}, Examples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 20 || rep.Changed != 4 || rep.Fields["department"] != 4 || len(rep.Examples["department"]) != 2 || rep.WouldHalt {
		t.Errorf("preview = %+v", rep)
	}
	if ex := rep.Examples["department"][0]; ex.Before["department"] != "sales" || ex.After["department"] != "SALES" {
		t.Errorf("example = %+v", ex)
	}
	if n := e.lastSeq(); n != seq {
		t.Error("Preview wrote to the journal")
	}
	runs, _ := e.mem.ListRuns(context.Background(), org, 10)

	run, err := e.s.Remap(context.Background(), upperDept{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Mode != store.ModeRemap || run.Counts.Updated != 4 || e.p.Listings() != listings {
		t.Errorf("remap run = %+v (listings %d→%d)", run, listings, e.p.Listings())
	}
	for _, c := range e.changesAfter(seq) {
		if c.Kind != store.ChangeUpdated || c.Cause != run.ID {
			t.Errorf("change %+v", c)
		}
	}
	if runs2, _ := e.mem.ListRuns(context.Background(), org, 10); len(runs2) != len(runs)+1 {
		t.Error("Preview recorded a run, or Remap did not")
	}
	if run := e.sync(); run.Mode != store.ModeFull || run.Counts.Unchanged != 20 {
		t.Errorf("sync after remap = %+v", run)
	}
}

func TestSyncWhileAnotherHoldsTheLeaseIsBusy(t *testing.T) {
	t.Parallel()
	e := setup(t, 3)
	if _, err := e.mem.AcquireLease(context.Background(), org, "other", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Sync(context.Background(), dirsync.SyncOptions{}); !errors.Is(err, dirsync.ErrBusy) || !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("err = %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	p := dirsynctest.New("test:dir")
	for _, tc := range []struct {
		name string
		cfg  dirsync.Config
		want string
	}{
		{"MissingOrg", dirsync.Config{Provider: p}, "org ID"},
		{"MissingProvider", dirsync.Config{OrgID: org}, "Provider"},
		{"ShortTombstone", dirsync.Config{OrgID: org, Provider: p, TombstoneTTL: time.Hour}, "TombstoneTTL"},
		{"BadFraction", dirsync.Config{OrgID: org, Provider: p, Guard: dirsync.Guard{MaxDeactivateFraction: 2}}, "MaxDeactivateFraction"},
		{"BadPolicy", dirsync.Config{OrgID: org, Provider: p, DeletePolicy: "shred"}, "DeletePolicy"},
		{"BadBatchSize", dirsync.Config{OrgID: org, Provider: p, BatchSize: dirsync.MaxBatchSize + 1}, "BatchSize"},
		{"NegativeWriters", dirsync.Config{OrgID: org, Provider: p, Writers: -1}, "Writers"},
		{"TooManyWriters", dirsync.Config{OrgID: org, Provider: p, Writers: dirsync.MaxWriters + 1}, "Writers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dirsync.New(memstoreNew(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), "invalid config") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// terminator is a mapping whose "active" expression says everyone with a
// custom status "Terminated" is inactive.
type terminator struct{}

func (terminator) Version() string { return "terminator-v1" }
func (terminator) Map(rec *mapping.Record) (mapping.Profile, error) {
	p, err := mapping.Standard().Map(rec)
	if rec.Custom["status"] == "Terminated" {
		f := false
		p.Active = &f
	}
	return p, err
}

func TestRemapGoesThroughTheGuard(t *testing.T) {
	t.Parallel()
	e := setup(t, 20)
	for _, ext := range extIDs(1, 5) {
		e.p.UpdateUser(ext, func(r *mapping.Record) { r.Custom = map[string]any{"status": "Terminated"} })
	}
	e.sync()
	run, err := e.s.Remap(context.Background(), terminator{})
	if !errors.Is(err, dirsync.ErrHalted) || len(run.Held) != 5 || run.Mode != store.ModeRemap {
		t.Fatalf("run = %+v, err %v", run, err)
	}
	if active, _ := e.activeCount(); active != 20 {
		t.Errorf("active = %d after a halted remap", active)
	}
	if _, err := e.s.Approve(context.Background(), run.ID); err != nil {
		t.Fatal(err)
	}
	if active, _ := e.activeCount(); active != 15 {
		t.Errorf("active = %d after approval", active)
	}
}

func TestDryRunThatWouldHaltSaysSoAndCannotBeApproved(t *testing.T) {
	t.Parallel()
	e := guardEnv(t)
	e.p.RemoveUsers(extIDs(1, 20)...)
	run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{DryRun: true})
	if !errors.Is(err, dirsync.ErrHalted) || !strings.HasPrefix(run.HaltReason, "dry run:") || len(run.Held) != 20 {
		t.Fatalf("run = %+v, err %v", run, err)
	}
	if k := kindsOfPlan(run.Plan); k[store.ChangeDeactivated] != 20 || len(k) != 1 {
		t.Errorf("plan kinds = %v, want the 20 held deactivations", k)
	}
	if _, err := e.s.Approve(context.Background(), run.ID); !errors.Is(err, dirsync.ErrNotHalted) {
		t.Errorf("approving a dry run: err = %v", err)
	}
	if active, _ := e.activeCount(); active != 50 {
		t.Errorf("active = %d", active)
	}
}

func kindsOfPlan(plan []store.PlanItem) map[store.ChangeKind]int {
	m := map[store.ChangeKind]int{}
	for _, p := range plan {
		m[p.Kind]++
	}
	return m
}

func TestHeartbeatKeepsTheLeaseAndTheRunAliveWhileAListingWaits(t *testing.T) {
	t.Parallel()
	var fs *faultStore
	e := setup(t, 30, func(e *env) {
		fs = &faultStore{Store: e.mem, renewed: make(chan store.Lease)}
		e.st = fs
		e.cfg.LeaseTTL = 30 * time.Millisecond
	})
	pause := e.p.PauseOnPage(2)
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
		done <- err
	}()
	<-pause.Reached()
	var last store.Lease
	for range 3 {
		// Without the renewal just seen, the lease would lapse during
		// this advance.
		last = <-fs.renewed
		e.clock.Advance(20 * time.Millisecond)
	}
	// One more renewal: the keeper has recorded the previous one's expiry
	// on the run by then.
	<-fs.renewed
	runs, err := e.mem.ListRuns(context.Background(), org, 1)
	if err != nil || len(runs) != 1 || runs[0].Status != store.RunRunning || runs[0].LeaseExpiresAt.Before(last.ExpiresAt) {
		t.Errorf("running run = %+v, err %v; lease expires %v", runs, err, last.ExpiresAt)
	}
	pause.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, n := e.activeCount(); n != 30 {
		t.Errorf("%d users stored", n)
	}
}

// Batches larger than the store's look-up limit (1000 IDs a LoadUsers)
// must still load, diff and deactivate everyone.
func TestBatchesLargerThanTheLookupLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, 2500, func(e *env) {
		e.cfg.BatchSize = 2500
		e.cfg.Guard.MaxDeactivateFraction = 1
		e.p.SetPageSize(500)
	})
	if run := e.sync(); run.Counts.Created != 2500 {
		t.Fatalf("cold sync counts %+v", run.Counts)
	}
	var gone []string
	for _, r := range e.p.Records()[:1200] {
		gone = append(gone, r.ExternalID)
	}
	e.p.RemoveUsers(gone...)
	e.p.UpdateUser(e.p.Records()[0].ExternalID, func(r *mapping.Record) { r.LastName = "Changed" })
	run := e.sync()
	if run.Counts.Deactivated != 1200 || run.Counts.Updated != 1 || run.Counts.Unchanged != 1299 {
		t.Errorf("resync counts %+v; want 1200 deactivated, 1 updated, 1299 unchanged", run.Counts)
	}
	if active, all := e.activeCount(); active != 1300 || all != 2500 {
		t.Errorf("%d active of %d; want 1300 of 2500", active, all)
	}
}
