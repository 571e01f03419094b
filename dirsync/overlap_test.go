package dirsync_test

import (
	"context"
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

// laggingStore holds the n-th Apply of users back until the (n+1)-th
// LoadUsers has returned (or a moment has passed: the last batch has no
// next read), so the run reads each batch's rows before the previous
// batch's write: the reads are stale, deterministically.
type laggingStore struct {
	store.Store
	mu      sync.Mutex
	loads   int
	more    chan struct{} // closed when loads grows
	applies int
}

func newLaggingStore(st store.Store) *laggingStore {
	return &laggingStore{Store: st, more: make(chan struct{})}
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
	want := l.applies + 1
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
// relinked user's old external ID in the next; an inactive person, then
// the same email) once with writes held back until the next batch has been
// read, once plainly: the stored users and the counts are the same, and
// no write conflicted (a conflict would show as an extra Apply).
func TestReadsOverlappingTheWriteGiveTheSameResult(t *testing.T) {
	t.Parallel()
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
		return []mapping.Record{r1, old, a, b, c}
	}
	run := func(lag bool) (map[string]string, store.Counts, int) {
		var ls *laggingStore
		e := setup(t, 20, func(e *env) {
			e.cfg.BatchSize = 1
			if lag {
				ls = newLaggingStore(e.mem)
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
	if d := cmp.Diff([]string{"a", "b", "c", "new1", "old"}, keys); d != "" {
		t.Errorf("external IDs stored (-want +got):\n%s", d)
	}
	// One Apply per record written, and none for a retried conflict: five
	// records, "old" relinked to new1 first and created anew.
	if applies != 5 {
		t.Errorf("%d applies, want 5 (one per record, no conflict retry)", applies)
	}
}
