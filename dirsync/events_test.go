package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

func TestEventsAreAppliedOnceAndDuplicatesAreNoOps(t *testing.T) {
	t.Parallel()
	e := setup(t, 5)
	e.sync()
	rec := dirsynctest.Person("new1", "Grace", "Hopper")
	ev := dirsynctest.Event("ev1", dirsync.EventUserCreated, rec, e.clock.Now())
	res, err := e.s.ApplyEvent(context.Background(), ev)
	if err != nil || res.Outcome != dirsync.EventApplied || res.Changes != 1 {
		t.Fatalf("first = %+v, %v", res, err)
	}
	seq := e.lastSeq()
	res, err = e.s.ApplyEvent(context.Background(), ev)
	if err != nil || res.Outcome != dirsync.EventDuplicate {
		t.Errorf("duplicate = %+v, %v", res, err)
	}
	if e.lastSeq() != seq {
		t.Error("a duplicate event wrote to the journal")
	}
	if c := e.changes()[seq-1]; c.Cause != "ev1" || c.Kind != store.ChangeCreated {
		t.Errorf("change = %+v", c)
	}
}

func TestOlderEventWritesOnlyItsMark(t *testing.T) {
	t.Parallel()
	e := setup(t, 5)
	e.sync()
	rec := e.p.Records()[0]
	rec.JobTitle = "Stale"
	rec.UpdatedAt = rec.UpdatedAt.Add(-time.Hour)
	seq := e.lastSeq()
	res, err := e.s.ApplyEvent(context.Background(), dirsynctest.Event("old", dirsync.EventUserUpdated, rec, rec.UpdatedAt))
	if err != nil || res.Outcome != dirsync.EventStale {
		t.Fatalf("res = %+v, %v", res, err)
	}
	if e.lastSeq() != seq || e.user("e001").Title == "Stale" {
		t.Error("a stale event changed data")
	}
	if done, _ := e.mem.EventProcessed(context.Background(), org, "old"); !done {
		t.Error("the stale event's mark was not written")
	}
}

func TestCrashBetweenApplyAndEventMarkNeitherLosesNorDoublesTheEvent(t *testing.T) {
	t.Parallel()
	var fs *faultStore
	e := setup(t, 5, func(e *env) {
		fs = &faultStore{Store: e.mem}
		e.st = fs
	})
	e.sync()
	// The store fails the Apply that carries the event mark: if the rows
	// and the mark were separate writes, the rows would land without it.
	fs.fail = func(_ int64, req store.ApplyRequest) error {
		if req.Event != nil {
			return errInjected
		}
		return nil
	}
	seq := e.lastSeq()
	rec := e.p.Records()[1]
	rec.JobTitle = "Promoted"
	rec.UpdatedAt = rec.UpdatedAt.Add(time.Hour)
	ev := dirsynctest.Event("ev-crash", dirsync.EventUserUpdated, rec, rec.UpdatedAt)
	if _, err := e.s.ApplyEvent(context.Background(), ev); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	if e.lastSeq() != seq || e.user("e002").Title == "Promoted" {
		t.Fatal("the failed Apply left rows or journal entries behind")
	}
	if done, _ := e.mem.EventProcessed(context.Background(), org, "ev-crash"); done {
		t.Fatal("the mark was written without the rows")
	}
	fs.fail = nil
	for range 2 { // the provider redelivers; then delivers once more
		if _, err := e.s.ApplyEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	cs := e.changesAfter(seq)
	if len(cs) != 1 || cs[0].Kind != store.ChangeUpdated || cs[0].Cause != "ev-crash" || e.user("e002").Title != "Promoted" {
		t.Errorf("journal after redelivery = %+v", cs)
	}
}

func TestEventDuringAListing(t *testing.T) {
	t.Parallel()
	e := setup(t, 40)
	e.sync()
	// The listing pauses before page 2. Meanwhile an event updates e015
	// (listed on page 2 with an older, different record) and creates
	// e900, whom the listing does not show.
	e.p.UpdateUser("e015", func(r *mapping.Record) { r.JobTitle = "From listing"; r.UpdatedAt = r.UpdatedAt.Add(time.Hour) })
	pause := e.p.PauseOnPage(2)
	done := make(chan store.SyncRun, 1)
	go func() {
		run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- run
	}()
	<-pause.Reached()
	newer := e.p.Records()[14]
	newer.JobTitle = "From event"
	newer.UpdatedAt = newer.UpdatedAt.Add(2 * time.Hour)
	if _, err := e.s.ApplyEvent(context.Background(), dirsynctest.Event("ev-upd", dirsync.EventUserUpdated, newer, newer.UpdatedAt)); err != nil {
		t.Fatal(err)
	}
	created := dirsynctest.Person("e900", "Mid", "Run")
	if _, err := e.s.ApplyEvent(context.Background(), dirsynctest.Event("ev-new", dirsync.EventUserCreated, created, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	pause.Release()
	run := <-done
	t.Run("AnEventIsNotUndoneByAnOlderPage", func(t *testing.T) {
		if got := e.user("e015").Title; got != "From event" {
			t.Errorf("title = %q, want the event's", got)
		}
		if run.Counts.Skipped != 1 {
			t.Errorf("counts = %+v", run.Counts)
		}
	})
	t.Run("AUserCreatedByAnEventMidRunIsNotDeactivatedAsAbsent", func(t *testing.T) {
		if u := e.user("e900"); u == nil || !u.Active {
			t.Errorf("e900 = %+v", u)
		}
		if run.Counts.Deactivated != 0 {
			t.Errorf("counts = %+v", run.Counts)
		}
	})
}

func TestEventStormOfDeletionsIsParkedPastTheBudget(t *testing.T) {
	t.Parallel()
	e := setup(t, 50)
	e.sync()
	recs := e.p.Records()
	var outcomes []dirsync.EventOutcome
	for i := range 15 {
		ev := dirsynctest.Event(fmt.Sprintf("del-%02d", i), dirsync.EventUserDeleted, recs[i], e.clock.Now())
		res, err := e.s.ApplyEvent(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, res.Outcome)
	}
	var want []dirsync.EventOutcome
	for i := range 15 {
		if i < 10 { // 20 % of 50
			want = append(want, dirsync.EventApplied)
		} else {
			want = append(want, dirsync.EventParked)
		}
	}
	if diff := cmp.Diff(want, outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if active, _ := e.activeCount(); active != 40 {
		t.Errorf("active = %d", active)
	}
	parked, _ := e.mem.ParkedEvents(context.Background(), org)
	if len(parked) != 5 || parked[0].ID != "del-10" || parked[0].Reason == "" {
		t.Fatalf("parked = %+v", parked)
	}
	t.Run("TheBudgetSlidesWithTheHour", func(t *testing.T) {
		e.clock.Advance(61 * time.Minute)
		ev := dirsynctest.Event("del-later", dirsync.EventUserDeleted, recs[30], e.clock.Now())
		if res, err := e.s.ApplyEvent(context.Background(), ev); err != nil || res.Outcome != dirsync.EventApplied {
			t.Errorf("res = %+v, %v", res, err)
		}
	})
	t.Run("ADirectoryDeletionIsAlwaysParked", func(t *testing.T) {
		ev := dirsync.Event{ID: "dir-del", Kind: dirsync.EventDirectoryDeleted, DirectoryID: "directory_1"}
		if res, err := e.s.ApplyEvent(context.Background(), ev); err != nil || res.Outcome != dirsync.EventParked {
			t.Errorf("res = %+v, %v", res, err)
		}
	})
	t.Run("ApprovingParkedEventsAppliesThemInOrderAndUnparksThem", func(t *testing.T) {
		if _, err := e.s.ApproveParked(context.Background(), []string{"nope"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown ID: err = %v", err)
		}
		ids := []string{"del-10", "del-11", "del-12", "del-13", "del-14"}
		n, err := e.s.ApproveParked(context.Background(), ids)
		if err != nil || n != 5 {
			t.Fatalf("applied %d, %v", n, err)
		}
		if active, _ := e.activeCount(); active != 34 {
			t.Errorf("active = %d", active)
		}
		parked, _ := e.mem.ParkedEvents(context.Background(), org)
		if len(parked) != 1 || parked[0].ID != "dir-del" {
			t.Errorf("parked = %+v", parked)
		}
	})
}

func TestMembershipEventsAreOrderedPerUserAndGroupByEventTime(t *testing.T) {
	t.Parallel()
	e := setup(t, 5)
	e.sync()
	g := dirsync.ProviderGroup{ExternalID: "g1", Name: "Eng"}
	rec := e.p.Records()[0]
	t0 := e.clock.Now()
	apply := func(id string, kind dirsync.EventKind, at time.Time) dirsync.EventOutcome {
		t.Helper()
		res, err := e.s.ApplyEvent(context.Background(), dirsynctest.MemberEvent(id, kind, rec, g, at))
		if err != nil {
			t.Fatal(err)
		}
		return res.Outcome
	}
	groups := func() int {
		u, err := e.mem.GetUser(context.Background(), org, e.user("e001").ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(u.Groups)
	}
	if o := apply("m1", dirsync.EventGroupUserAdded, t0); o != dirsync.EventApplied || groups() != 1 {
		t.Fatalf("add: %s, groups %d", o, groups())
	}
	if o := apply("m3", dirsync.EventGroupUserRemoved, t0.Add(2*time.Minute)); o != dirsync.EventApplied || groups() != 0 {
		t.Fatalf("remove: %s, groups %d", o, groups())
	}
	// An add that happened before the removal arrives late.
	if o := apply("m2", dirsync.EventGroupUserAdded, t0.Add(time.Minute)); o != dirsync.EventStale || groups() != 0 {
		t.Errorf("late add: %s, groups %d", o, groups())
	}
}

func TestEventsAboutAnotherDirectoryAreIgnored(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	e.p.SetDirectoryID("directory_mine")
	ev := dirsynctest.Event("x", dirsync.EventUserCreated, dirsynctest.Person("z", "Z", "Z"), e.clock.Now())
	ev.DirectoryID = "directory_other"
	if res, err := e.s.ApplyEvent(context.Background(), ev); err != nil || res.Outcome != dirsync.EventIgnored {
		t.Errorf("res = %+v, %v", res, err)
	}
}

func TestMalformedEventsAreRejected(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	for _, ev := range []dirsync.Event{
		{Kind: dirsync.EventUserCreated},
		{ID: "a", Kind: dirsync.EventUserCreated},
		{ID: "b", Kind: "user.exploded", User: &mapping.Record{ExternalID: "x"}},
		{ID: "c", Kind: dirsync.EventGroupUserAdded, User: &mapping.Record{ExternalID: "x"}},
		{ID: "d", Kind: dirsync.EventUserCreated, User: &mapping.Record{}},
	} {
		if _, err := e.s.ApplyEvent(context.Background(), ev); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("event %+v: err = %v", ev, err)
		}
	}
}

func TestWatchDeliversJournalEntriesResumably(t *testing.T) {
	t.Parallel()
	e := setup(t, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []store.Change, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- dirsync.Watch(ctx, e.mem, org, 0, func(cs []store.Change) error {
			got <- cs
			return nil
		}, dirsync.WatchOptions{PollInterval: time.Hour, BatchSize: 5})
	}()
	e.sync()
	var seqs []int64
	for len(seqs) < 7 {
		for _, c := range <-got {
			seqs = append(seqs, c.Seq)
		}
	}
	if diff := cmp.Diff([]int64{1, 2, 3, 4, 5, 6, 7}, seqs); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v", err)
	}
	t.Run("ResumesAfterTheGivenSequence", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := errors.New("stop")
		err := dirsync.Watch(ctx, e.mem, org, 5, func(cs []store.Change) error {
			if cs[0].Seq != 6 || len(cs) != 2 {
				t.Errorf("resumed with %d entries from %d", len(cs), cs[0].Seq)
			}
			return stop
		})
		if !errors.Is(err, stop) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSlogObserverLogsRunsWithoutPersonalData(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	e := setup(t, 12, func(e *env) { e.cfg.Observer = dirsync.SlogObserver(newTextLogger(&buf)) })
	e.sync()
	e.p.SetUsers()
	_, _ = e.s.Sync(context.Background(), dirsync.SyncOptions{})
	out := buf.String()
	for _, want := range []string{"run started", "run finished", "halted", "held=12"} {
		if !contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, pii := range []string{"First1", "Last1", "example.com"} {
		if contains(out, pii) {
			t.Errorf("log contains personal data %q", pii)
		}
	}
}
