package workos_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/store"
)

// stateStore is the part of a store the poller uses, in memory.
type stateStore struct {
	mu sync.Mutex
	m  map[string]store.SourceState
}

func (s *stateStore) SourceState(_ context.Context, orgID, sourceID string) (store.SourceState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[orgID+"/"+sourceID]; ok {
		return st, nil
	}
	return store.SourceState{OrgID: orgID, SourceID: sourceID}, nil
}

func (s *stateStore) PutSourceState(_ context.Context, st store.SourceState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]store.SourceState{}
	}
	s.m[st.OrgID+"/"+st.SourceID] = st
	return nil
}

// failingApplier fails on one event ID until cleared.
type failingApplier struct {
	recorder
	failOn string
}

func (a *failingApplier) ApplyEvent(ctx context.Context, ev dirsync.Event) (dirsync.EventResult, error) {
	a.mu.Lock()
	fail := a.failOn != "" && ev.ID == a.failOn
	a.mu.Unlock()
	if fail {
		return dirsync.EventResult{}, errors.New("apply failed")
	}
	return a.recorder.ApplyEvent(ctx, ev)
}

type pollerFixture struct {
	*fixture
	st         *stateStore
	reconciles int
}

func newPollerFixture(t *testing.T) *pollerFixture {
	f := &pollerFixture{fixture: setup(t, setupOpts{}), st: &stateStore{}}
	f.fake.SeedDirectory(f.dirID, "org_A", 1, 0)
	return f
}

func (f *pollerFixture) poller(t *testing.T, app workos.EventApplier) *workos.Poller {
	t.Helper()
	p, err := workos.NewPoller(f.prov, workos.PollerConfig{
		OrgID: "acme", Store: f.st, Applier: app, Clock: f.clock,
		Reconcile: func(context.Context) error { f.reconciles++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// addEvents adds n user events from first on, one a second after now;
// every third is of another directory, every fifth a connection event.
func (f *pollerFixture) addEvents(first, n int) (ours []string) {
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("event_%06d", i)
		dir, name := f.dirID, "dsync.user.updated"
		if i%3 == 0 {
			dir = "directory_B"
		}
		if i%5 == 0 {
			name = "connection.activated"
		}
		f.fake.AddEvent(id, name, f.clock.Now().Add(time.Duration(i-first+1)*time.Second), map[string]any{
			"id": fmt.Sprintf("directory_user_%d", i), "directory_id": dir, "state": "active",
			"updated_at": "2026-11-20T10:00:00.000Z",
		})
		if dir == f.dirID && name != "connection.activated" {
			ours = append(ours, id)
		}
	}
	return ours
}

func (f *pollerFixture) cursor() store.SourceState {
	st, _ := f.st.SourceState(context.Background(), "acme", "workos:directory_A")
	return st
}

func TestPoller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FirstPollReconcilesAndReadsEventsFromItsStart", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		rec := &recorder{}
		res, err := f.poller(t, rec).Poll(ctx)
		if err != nil || !res.Reconciled || f.reconciles != 1 {
			t.Fatalf("res %+v err %v reconciles %d", res, err, f.reconciles)
		}
		if st := f.cursor(); st.EventsCursor != "" || !st.EventsCursorAt.Equal(epoch) {
			t.Errorf("state after reconcile = %+v", st)
		}
		// An event from before the reconcile is covered by it; later ones are read.
		f.fake.AddEvent("event_000000", "dsync.user.updated", epoch.Add(-time.Minute),
			map[string]any{"id": "directory_user_x", "directory_id": f.dirID, "state": "active"})
		ours := f.addEvents(1, 10)
		res, err = f.poller(t, rec).Poll(ctx)
		if err != nil || res.Reconciled {
			t.Fatalf("res %+v err %v", res, err)
		}
		if diff := cmp.Diff(ours, rec.ids()); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
	})

	t.Run("ResumesAfterARestartWithoutReapplying", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		if _, err := f.poller(t, &recorder{}).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		ours := f.addEvents(1, 250) // three pages
		first := &recorder{}
		res, err := f.poller(t, first).Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ours, first.ids()); diff != "" {
			t.Errorf("first run applied (-want +got):\n%s", diff)
		}
		if res.Applied != len(ours) || res.Skipped != 250-50-len(ours) /* connection events are filtered by WorkOS */ || res.Outcomes[dirsync.EventApplied] != len(ours) {
			t.Errorf("result = %+v", res)
		}
		if got := f.cursor().EventsCursor; got != "event_000249" { // 250 is a connection event
			t.Errorf("cursor = %q, want the last dsync event listed", got)
		}
		// Restart: a new poller, a new applier with no memory.
		second := &recorder{}
		if _, err := f.poller(t, second).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if len(second.ids()) != 0 {
			t.Errorf("re-applied after restart: %v", second.ids())
		}
		more := f.addEvents(251, 4)
		if _, err := f.poller(t, second).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(more, second.ids()); diff != "" {
			t.Errorf("after restart applied (-want +got):\n%s", diff)
		}
		if f.reconciles != 1 {
			t.Errorf("%d reconciles, want 1", f.reconciles)
		}
	})

	t.Run("ApplyErrorKeepsTheCursorBeforeTheFailedEvent", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		if _, err := f.poller(t, &recorder{}).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		ours := f.addEvents(1, 20)
		app := &failingApplier{failOn: ours[4]}
		if _, err := f.poller(t, app).Poll(ctx); err == nil {
			t.Fatal("no error from a failed apply")
		}
		if diff := cmp.Diff(ours[:4], app.ids()); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		if got := f.cursor().EventsCursor; got != ours[3] {
			t.Errorf("cursor = %q, want %q", got, ours[3])
		}
		app.failOn = ""
		if _, err := f.poller(t, app).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ours, app.ids()); diff != "" {
			t.Errorf("after the fix applied (-want +got):\n%s", diff)
		}
	})

	t.Run("CursorOlderThanRetentionReconciles", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		_ = f.st.PutSourceState(ctx, store.SourceState{OrgID: "acme", SourceID: "workos:directory_A",
			EventsCursor: "event_old", EventsCursorAt: epoch.Add(-31 * 24 * time.Hour), MappingVersion: "m1"})
		before := len(f.fake.Requests())
		res, err := f.poller(t, &recorder{}).Poll(ctx)
		if err != nil || !res.Reconciled || f.reconciles != 1 {
			t.Fatalf("res %+v err %v reconciles %d", res, err, f.reconciles)
		}
		if n := len(f.fake.Requests()) - before; n != 0 {
			t.Errorf("%d event requests for an expired cursor", n)
		}
		want := store.SourceState{OrgID: "acme", SourceID: "workos:directory_A", EventsCursorAt: epoch, MappingVersion: "m1"}
		if diff := cmp.Diff(want, f.cursor()); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
	})

	t.Run("CursorWorkOSRefusesReconciles", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		_ = f.st.PutSourceState(ctx, store.SourceState{OrgID: "acme", SourceID: "workos:directory_A",
			EventsCursor: "event_gone", EventsCursorAt: epoch.Add(-time.Hour)})
		res, err := f.poller(t, &recorder{}).Poll(ctx)
		if err != nil || !res.Reconciled {
			t.Fatalf("res %+v err %v", res, err)
		}
	})

	t.Run("FailedReconcileKeepsTheState", func(t *testing.T) {
		t.Parallel()
		f := newPollerFixture(t)
		p, err := workos.NewPoller(f.prov, workos.PollerConfig{OrgID: "acme", Store: f.st, Applier: &recorder{}, Clock: f.clock,
			Reconcile: func(context.Context) error { return errors.New("listing failed") }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Poll(ctx); err == nil {
			t.Error("no error")
		}
		if st := f.cursor(); !st.EventsCursorAt.IsZero() {
			t.Errorf("state moved: %+v", st)
		}
	})
}
