package dirsync_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/store"
)

// staleReader answers its first SourceState with what the store held then,
// but only after resume is closed.
type staleReader struct {
	store.Store
	once         sync.Once
	read, resume chan struct{}
}

func (s *staleReader) SourceState(ctx context.Context, org, source string) (store.SourceState, error) {
	st, err := s.Store.SourceState(ctx, org, source)
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.read)
		<-s.resume
	}
	return st, err
}

func TestScheduler(t *testing.T) {
	t.Parallel()

	t.Run("RunsANeverSyncedSourceAtOnceAndThenNotUntilDue", func(t *testing.T) {
		t.Parallel()
		st := memstore.New()
		p := dirsynctest.New("src", dirsynctest.Person("u1", "Ann", "Lee"))
		s, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: p})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		sched, err := dirsync.NewScheduler(st, []dirsync.ScheduledSync{{Syncer: s, Interval: time.Hour}},
			dirsync.SchedulerConfig{Now: clock, Jitter: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if n := sched.RunDue(ctx); n != 1 {
			t.Fatalf("first RunDue ran %d syncs, want 1", n)
		}
		if n := sched.RunDue(ctx); n != 0 {
			t.Fatalf("RunDue right after ran %d syncs, want 0", n)
		}
		ss, err := st.SourceState(ctx, "acme", "src")
		if err != nil {
			t.Fatal(err)
		}
		if d := ss.NextDueAt.Sub(now); d < 54*time.Minute || d > 66*time.Minute {
			t.Fatalf("next due in %v, want 1h ± 10%%", d)
		}
		now = now.Add(67 * time.Minute)
		if n := sched.RunDue(ctx); n != 1 {
			t.Fatalf("RunDue after the interval ran %d syncs, want 1", n)
		}
		if got := p.Listings(); got != 2 {
			t.Fatalf("provider listed %d times, want 2", got)
		}
	})

	t.Run("ReplicasSharingAStoreRunEachDueSyncExactlyOnce", func(t *testing.T) {
		t.Parallel()
		st := memstore.New()
		p := dirsynctest.New("src", dirsynctest.Person("u1", "Ann", "Lee"))
		const replicas = 6
		var scheds []*dirsync.Scheduler
		for range replicas {
			s, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: p})
			if err != nil {
				t.Fatal(err)
			}
			sc, err := dirsync.NewScheduler(st, []dirsync.ScheduledSync{{Syncer: s, Interval: time.Hour}}, dirsync.SchedulerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			scheds = append(scheds, sc)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, sc := range scheds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sc.RunDue(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		if got := p.Listings(); got != 1 {
			t.Fatalf("%d replicas listed the provider %d times, want exactly 1", replicas, got)
		}
		runs, err := st.ListRuns(context.Background(), "acme", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 {
			t.Fatalf("%d runs recorded, want 1", len(runs))
		}
	})

	t.Run("AReplicaThatSawTheSyncDueSkipsItOnceAnotherClaimedIt", func(t *testing.T) {
		t.Parallel()
		st := memstore.New()
		p := dirsynctest.New("src", dirsynctest.Person("u1", "Ann", "Lee"))
		newSched := func(s store.Store) *dirsync.Scheduler {
			syncer, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: p})
			if err != nil {
				t.Fatal(err)
			}
			sc, err := dirsync.NewScheduler(s, []dirsync.ScheduledSync{{Syncer: syncer, Interval: time.Hour}}, dirsync.SchedulerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return sc
		}
		// B reads the source's state (due), then waits while A claims and
		// runs the sync, then goes on with what it read.
		slow := &staleReader{Store: st, read: make(chan struct{}), resume: make(chan struct{})}
		a, b := newSched(st), newSched(slow)
		done := make(chan int)
		go func() { done <- b.RunDue(context.Background()) }()
		<-slow.read
		if n := a.RunDue(context.Background()); n != 1 {
			t.Fatalf("A ran %d syncs, want 1", n)
		}
		close(slow.resume)
		if n := <-done; n != 0 {
			t.Fatalf("B ran %d syncs after A had claimed the due one, want 0", n)
		}
		if got := p.Listings(); got != 1 {
			t.Fatalf("provider listed %d times, want 1", got)
		}
	})

	t.Run("RejectsABadConfig", func(t *testing.T) {
		t.Parallel()
		if _, err := dirsync.NewScheduler(memstore.New(), nil, dirsync.SchedulerConfig{Jitter: 0.9}); err == nil {
			t.Fatal("Jitter 0.9 accepted")
		}
		if _, err := dirsync.NewScheduler(memstore.New(), []dirsync.ScheduledSync{{}}, dirsync.SchedulerConfig{}); err == nil {
			t.Fatal("a job without a Syncer accepted")
		}
		st := memstore.New()
		s, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: dirsynctest.New("src")})
		if err != nil {
			t.Fatal(err)
		}
		for iv, want := range map[time.Duration]string{
			time.Millisecond:                "shorter than 1s",
			dirsync.MaxInterval + time.Hour: "longer than 8784h",
			2_500_000 * time.Hour:           "longer than 8784h",
		} {
			_, err := dirsync.NewScheduler(st, []dirsync.ScheduledSync{{Syncer: s, Interval: iv}}, dirsync.SchedulerConfig{})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("interval %v: got %v, want an error saying %q", iv, err, want)
			}
		}
		if _, err := dirsync.NewScheduler(st, []dirsync.ScheduledSync{{Syncer: s, Interval: dirsync.MaxInterval}}, dirsync.SchedulerConfig{}); err != nil {
			t.Errorf("interval MaxInterval: %v", err)
		}
	})

	t.Run("StopsWhenItsContextEnds", func(t *testing.T) {
		t.Parallel()
		sc, err := dirsync.NewScheduler(memstore.New(), nil, dirsync.SchedulerConfig{Tick: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sc.Run(ctx); close(done) }()
		cancel()
		<-done
	})
}
