package dirsync_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// TestAPersonCreatedInactiveEarlierInTheRunIsNotRelinked: a record listed
// inactive creates an inactive user; a later record with the same email in
// another batch is someone else (the first is still listed under its own
// external ID), not a returning person.
func TestAPersonCreatedInactiveEarlierInTheRunIsNotRelinked(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, func(e *env) { e.cfg.BatchSize = 1 })
	a := dirsynctest.Person("a", "Ann", "Lee")
	a.State = mapping.StateSuspended
	b := dirsynctest.Person("b", "Ann", "Lee")
	b.Email = a.Email
	e.p.SetUsers(a, b)
	run := e.sync()
	if run.Counts.Created != 2 || run.Counts.Relinked != 0 {
		t.Errorf("counts = %+v, want 2 created, none relinked", run.Counts)
	}
	ua, ub := e.user("a"), e.user("b")
	if ua == nil || ub == nil || ua.ID == ub.ID || ua.Active || !ub.Active {
		t.Errorf("users a = %+v, b = %+v; want two, a inactive and b active", ua, ub)
	}
}

// laggingStore holds the n-th Apply of users back until the (n+depth)-th
// LoadUsers has returned (or a moment has passed: the last batches have no
// next read), so the run reads each batch's rows before the previous
// depth batches' writes: the reads are stale, deterministically.
type laggingStore struct {
	store.Store
	depth   int
	mu      sync.Mutex
	loads   int
	more    chan struct{} // closed when loads grows
	applies int
}

func newLaggingStore(st store.Store, depth int) *laggingStore {
	return &laggingStore{Store: st, depth: depth, more: make(chan struct{})}
}

func (l *laggingStore) LoadUsers(ctx context.Context, req store.LoadUsersRequest) ([]store.User, error) {
	us, err := l.Store.LoadUsers(ctx, req)
	l.mu.Lock()
	l.loads++
	close(l.more)
	l.more = make(chan struct{})
	l.mu.Unlock()
	return us, err
}

func (l *laggingStore) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	l.mu.Lock()
	l.applies++
	want := l.applies + l.depth
	l.mu.Unlock()
	timeout := time.After(200 * time.Millisecond)
	for len(req.Users) > 0 {
		l.mu.Lock()
		if l.loads >= want {
			l.mu.Unlock()
			break
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
			continue
		case <-timeout:
		}
		break
	}
	return l.Store.Apply(ctx, req)
}

// outcome is what a run leaves, independent of generated IDs: each
// external ID's user (by the external ID it was created under), state and
// email, and the run's counts.
func outcome(t *testing.T, e *env, run store.SyncRun) (map[string]string, store.Counts) {
	t.Helper()
	users, err := e.mem.LoadUsers(context.Background(), store.LoadUsersRequest{OrgID: org, SourceID: e.p.SourceID(),
		ExternalIDs: []string{"old", "new1", "new2", "a", "b", "c", "d"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, u := range users {
		out[u.ExternalID] = u.Email + " " + map[bool]string{true: "active", false: "inactive"}[u.Active]
	}
	return out, run.Counts
}

// TestReadsOverlappingTheWriteGiveTheSameResult runs listings whose
// batches depend on the ones before them (a relink in one batch, the
// relinked user's old external ID two batches later; an inactive person,
// then the same email in the next) once with writes held back until the
// next batches have been read (one with one writer, two with two), once
// plainly: the stored users and the counts are the same, and no write
// conflicted (a conflict would show as an extra Apply).
func TestReadsOverlappingTheWriteGiveTheSameResult(t *testing.T) {
	t.Parallel()
	for _, writers := range []int{1, 2} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			t.Parallel()
			testReadsOverlappingTheWrite(t, writers)
		})
	}
}

func testReadsOverlappingTheWrite(t *testing.T, writers int) {
	listing := func() []mapping.Record {
		r1 := dirsynctest.Person("new1", "Old", "Timer")
		r1.IdpID = "idp-old"
		old := dirsynctest.Person("old", "Old", "Timer")
		old.IdpID = "idp-old"
		a := dirsynctest.Person("a", "Ann", "Lee")
		a.State = mapping.StateSuspended
		b := dirsynctest.Person("b", "Ann", "Lee")
		b.Email = a.Email
		c := dirsynctest.Person("c", "Cy", "Moss")
		d := dirsynctest.Person("d", "Di", "Fern")
		return []mapping.Record{r1, d, old, a, b, c}
	}
	run := func(lag bool) (map[string]string, store.Counts, int) {
		var ls *laggingStore
		e := setup(t, 20, func(e *env) {
			e.cfg.BatchSize = 1
			e.cfg.Writers = writers
			if lag {
				ls = newLaggingStore(e.mem, writers)
				e.st = ls
			}
		})
		e.p.SetPageSize(1)
		// "old" exists and is inactive: gone from an earlier listing.
		old := dirsynctest.Person("old", "Old", "Timer")
		old.IdpID = "idp-old"
		e.p.AddUsers(old)
		e.sync()
		e.p.RemoveUsers("old")
		e.sync()
		if u := e.user("old"); u == nil || u.Active {
			t.Fatalf("old = %+v, want inactive", u)
		}
		e.p.AddUsers(listing()...)
		applies := 0
		if ls != nil {
			ls.mu.Lock()
			ls.applies, ls.loads = 0, 0
			ls.mu.Unlock()
		}
		r := e.sync()
		if ls != nil {
			ls.mu.Lock()
			applies = ls.applies
			ls.mu.Unlock()
		}
		got, counts := outcome(t, e, r)
		return got, counts, applies
	}
	wantUsers, wantCounts, _ := run(false)
	gotUsers, gotCounts, applies := run(true)
	if d := cmp.Diff(wantUsers, gotUsers); d != "" {
		t.Errorf("stored users differ when reads overlap writes (-plain +overlapped):\n%s", d)
	}
	if d := cmp.Diff(wantCounts, gotCounts); d != "" {
		t.Errorf("counts differ (-plain +overlapped):\n%s", d)
	}
	keys := make([]string, 0, len(wantUsers))
	for k := range wantUsers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if d := cmp.Diff([]string{"a", "b", "c", "d", "new1", "old"}, keys); d != "" {
		t.Errorf("external IDs stored (-want +got):\n%s", d)
	}
	// One Apply per record written, and none for a retried conflict: six
	// records, "old" relinked to new1 first and created anew.
	if applies != 6 {
		t.Errorf("%d applies, want 6 (one per record, no conflict retry)", applies)
	}
}

// concurrencyStore records how many Applies of users ran at once: each
// waits (up to a moment) for another to arrive.
type concurrencyStore struct {
	store.Store
	mu       sync.Mutex
	in, most int
	arrived  chan struct{}
}

func (c *concurrencyStore) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	if len(req.Users) == 0 {
		return c.Store.Apply(ctx, req)
	}
	c.mu.Lock()
	c.in++
	c.most = max(c.most, c.in)
	arrived := c.arrived
	if c.in >= 2 {
		close(arrived)
		c.arrived = make(chan struct{})
	}
	c.mu.Unlock()
	select {
	case <-arrived:
	case <-time.After(50 * time.Millisecond):
	}
	defer func() {
		c.mu.Lock()
		c.in--
		c.mu.Unlock()
	}()
	return c.Store.Apply(ctx, req)
}

// TestWritersBoundTheAppliesInFlight: batches that share no identity are
// written by up to Config.Writers Applies at once, and never more.
func TestWritersBoundTheAppliesInFlight(t *testing.T) {
	t.Parallel()
	for _, writers := range []int{1, 2} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			t.Parallel()
			var cs *concurrencyStore
			e := setup(t, 40, func(e *env) {
				cs = &concurrencyStore{Store: e.mem, arrived: make(chan struct{})}
				e.st = cs
				e.cfg.Writers = writers
			})
			run := e.sync()
			if run.Counts.Created != 40 {
				t.Fatalf("counts = %+v, want 40 created", run.Counts)
			}
			cs.mu.Lock()
			defer cs.mu.Unlock()
			if cs.most != writers {
				t.Errorf("at most %d Applies ran at once, want %d", cs.most, writers)
			}
		})
	}
}
