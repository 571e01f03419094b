package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

const org = "acme"

// clock is a settable clock shared by the store and the Syncer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	clock *clock
	mem   *memstore.Store
	st    store.Store // mem, or a wrapper around it
	p     *dirsynctest.Provider
	s     *dirsync.Syncer
	cfg   dirsync.Config
}

// people returns n active records e001…, with idp IDs and a fixed
// provider updated_at.
func people(n int) []mapping.Record {
	recs := make([]mapping.Record, n)
	for i := range recs {
		recs[i] = dirsynctest.Person(fmt.Sprintf("e%03d", i+1), fmt.Sprintf("First%d", i+1), fmt.Sprintf("Last%d", i+1))
		recs[i].IdpID = fmt.Sprintf("idp%03d", i+1)
		recs[i].UpdatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return recs
}

// setup returns an env with n people listed (not yet synced).
func setup(t *testing.T, n int, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock()}
	e.mem = memstore.NewWithConfig(memstore.Config{Now: e.clock.Now})
	e.st = e.mem
	e.p = dirsynctest.New("test:dir", people(n)...)
	e.p.SetPageSize(10)
	e.cfg = dirsync.Config{OrgID: org, Provider: e.p, Now: e.clock.Now, BatchSize: 10}
	for _, o := range opts {
		o(e)
	}
	e.newSyncer()
	return e
}

func (e *env) newSyncer() {
	e.t.Helper()
	s, err := dirsync.New(e.st, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.s = s
}

// sync runs a sync that must succeed.
func (e *env) sync() store.SyncRun {
	e.t.Helper()
	run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
	if err != nil {
		e.t.Fatalf("Sync: %v (run %+v)", err, run)
	}
	return run
}

func (e *env) changes() []store.Change {
	e.t.Helper()
	var all []store.Change
	var after int64
	for {
		cs, err := e.mem.Changes(context.Background(), org, after, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(cs) == 0 {
			return all
		}
		all = append(all, cs...)
		after = cs[len(cs)-1].Seq
	}
}

func (e *env) changesAfter(seq int64) []store.Change {
	var out []store.Change
	for _, c := range e.changes() {
		if c.Seq > seq {
			out = append(out, c)
		}
	}
	return out
}

func (e *env) lastSeq() int64 {
	e.t.Helper()
	n, err := e.mem.LastSeq(context.Background(), org)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// user returns the stored user with the external ID, or nil.
func (e *env) user(ext string) *store.User {
	e.t.Helper()
	us, err := e.mem.LoadUsers(context.Background(), store.LoadUsersRequest{OrgID: org, SourceID: e.p.SourceID(), ExternalIDs: []string{ext}})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range us {
		if us[i].ExternalID == ext {
			return &us[i]
		}
	}
	return nil
}

// activeCount counts the source's active users.
func (e *env) activeCount() (active, all int) {
	e.t.Helper()
	err := e.mem.Snapshot(context.Background(), org, e.p.SourceID(), func(se store.SnapshotEntry) error {
		all++
		if se.Active {
			active++
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return active, all
}

func (e *env) search(q search.Query) []store.User {
	e.t.Helper()
	pg, err := e.mem.Search(context.Background(), org, q)
	if err != nil {
		e.t.Fatal(err)
	}
	return pg.Users
}

func kinds(cs []store.Change) map[store.ChangeKind]int {
	m := map[store.ChangeKind]int{}
	for _, c := range cs {
		m[c.Kind]++
	}
	return m
}

// faultStore wraps a store and fails chosen Apply calls.
type faultStore struct {
	store.Store
	calls atomic.Int64
	// fail decides, per Apply call (1-based), whether it fails.
	fail func(n int64, req store.ApplyRequest) error
	// beforeRenew, when set, is called by RenewLease first.
	blockRenew atomic.Bool
	// renewed, when set, receives renewed leases (when not full).
	renewed chan store.Lease
}

func (f *faultStore) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	n := f.calls.Add(1)
	if f.fail != nil {
		if err := f.fail(n, req); err != nil {
			return store.ApplyResult{}, err
		}
	}
	return f.Store.Apply(ctx, req)
}

func (f *faultStore) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if f.blockRenew.Load() {
		return store.Lease{}, errors.New("process paused")
	}
	nl, err := f.Store.RenewLease(ctx, l, ttl)
	if err == nil && f.renewed != nil {
		select {
		case f.renewed <- nl:
		default:
		}
	}
	return nl, err
}

var errInjected = errors.New("injected failure")

// failingMapper fails on records whose custom "bad" attribute is set, and
// otherwise maps the standard fields plus custom "department".
type failingMapper struct{ version string }

func (m failingMapper) Version() string {
	if m.version == "" {
		return "failing-v1"
	}
	return m.version
}

func (m failingMapper) Map(rec *mapping.Record) (mapping.Profile, error) {
	if _, bad := rec.Custom["bad"]; bad {
		return mapping.Profile{}, &mapping.FieldError{ExternalID: rec.ExternalID, Field: "department", Err: errors.New("custom.department is not a string")}
	}
	p, err := mapping.Standard().Map(rec)
	if d, ok := rec.Custom["department"].(string); ok {
		p.Department = mapping.Clean(d)
	}
	return p, err
}

func memstoreNew() store.Store { return memstore.New() }

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
