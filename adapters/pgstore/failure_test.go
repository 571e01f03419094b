package pgstore

import (
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/store"
)

// createReq inserts users with one "created" journal entry each.
func createReq(org string, users []store.User) store.ApplyRequest {
	req := store.ApplyRequest{OrgID: org}
	for _, u := range users {
		req.Users = append(req.Users, store.UserWrite{User: u})
		req.Changes = append(req.Changes, store.Change{Kind: store.ChangeCreated, SubjectID: u.ID, After: map[string]any{"email": u.Email}, Cause: "run-1"})
	}
	return req
}

// storedIDs returns the IDs of the org's users.
func storedIDs(t testing.TB, s *Store, org string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := s.Snapshot(context.Background(), org, "src", func(e store.SnapshotEntry) error {
		out[e.UserID] = e.Version
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return out
}

// checkConsistent checks what every committed Apply leaves: a gap-free
// journal whose subjects are exactly the stored users, and side-table rows
// for exactly the stored users.
func checkConsistent(t testing.TB, s *Store, org string) {
	t.Helper()
	ctx := context.Background()
	ids := storedIDs(t, s, org)
	last, err := s.LastSeq(ctx, org)
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	subjects := map[string]bool{}
	var next int64 = 1
	for after := int64(0); ; {
		cs, err := s.Changes(ctx, org, after, 1000)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			if c.Seq != next {
				t.Fatalf("journal has seq %d where %d was due: not gap-free", c.Seq, next)
			}
			next++
			subjects[c.SubjectID] = true
		}
		after = cs[len(cs)-1].Seq
	}
	if next-1 != last {
		t.Errorf("LastSeq = %d, but the journal ends at %d", last, next-1)
	}
	if len(subjects) != len(ids) {
		t.Errorf("journal names %d subjects, the store holds %d users: a write was half-committed", len(subjects), len(ids))
	}
	for id := range ids {
		if !subjects[id] {
			t.Errorf("user %s is stored without its journal entry", id)
		}
	}
	var orphans int
	err = s.pool.QueryRow(ctx, s.sql(`SELECT
		(SELECT count(*) FROM {S}.user_words w WHERE w.org_id = $1 AND NOT EXISTS (SELECT 1 FROM {S}.users u WHERE u.org_id = w.org_id AND u.id = w.user_id)) +
		(SELECT count(*) FROM {S}.users u WHERE u.org_id = $1 AND NOT EXISTS (SELECT 1 FROM {S}.user_words w WHERE w.org_id = u.org_id AND w.user_id = u.id))`), org).Scan(&orphans)
	if err != nil {
		t.Fatalf("count orphans: %v", err)
	}
	if orphans != 0 {
		t.Errorf("%d users or word rows without their counterpart", orphans)
	}
	if n := staleSideKeys(t, s, org); n != 0 {
		t.Errorf("%d side rows carry a sort key other than their user's", n)
	}
}

// staleSideKeys counts the org's word and tag rows whose k_last differs
// from their user's: search reads pages in the side tables' key order.
func staleSideKeys(t testing.TB, s *Store, org string) int {
	t.Helper()
	var n int
	err := s.pool.QueryRow(context.Background(), s.sql(`SELECT
		(SELECT count(*) FROM {S}.user_words w JOIN {S}.users u ON u.org_id = w.org_id AND u.id = w.user_id
			WHERE w.org_id = $1 AND w.k_last <> u.k_last) +
		(SELECT count(*) FROM {S}.user_tags w JOIN {S}.users u ON u.org_id = w.org_id AND u.id = w.user_id
			WHERE w.org_id = $1 AND w.k_last <> u.k_last)`), org).Scan(&n)
	if err != nil {
		t.Fatalf("count stale side keys: %v", err)
	}
	return n
}

// converge re-runs what a sync would: every user not yet stored is
// inserted.
func converge(t testing.TB, s *Store, org string, users []store.User) {
	t.Helper()
	have := storedIDs(t, s, org)
	var missing []store.User
	for _, u := range users {
		if _, ok := have[u.ID]; !ok {
			missing = append(missing, u)
		}
	}
	for start := 0; start < len(missing); start += 500 {
		if _, err := s.Apply(context.Background(), createReq(org, missing[start:min(start+500, len(missing))])); err != nil {
			t.Fatalf("re-run Apply: %v", err)
		}
	}
	got := storedIDs(t, s, org)
	if len(got) != len(users) {
		t.Fatalf("after re-running, %d users stored, want %d", len(got), len(users))
	}
	checkConsistent(t, s, org)
}

func TestFailures(t *testing.T) {
	t.Parallel()

	t.Run("ConnectionTerminatedMidApplyReturnsAnErrorAndReRunConverges", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := context.Background()
		const org = "acme"
		users := synth.Users(7, org, "src", 600)
		if _, err := s.Apply(ctx, createReq(org, users[:100])); err != nil {
			t.Fatal(err)
		}
		// Hold the org's counter row, so the next Apply writes its users
		// and then waits at the journal counter, mid-transaction.
		blocker, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer blocker.Rollback(ctx)
		if _, err := blocker.Exec(ctx, s.sql(`SELECT seq FROM {S}.counters WHERE org_id = $1 FOR UPDATE`), org); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.Apply(ctx, createReq(org, users[100:]))
			done <- err
		}()
		var pid int
		for i := 0; ; i++ {
			err := s.pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%counters%'`,
				s.schema+".").Scan(&pid)
			if err == nil {
				break
			}
			if i > 2000 {
				t.Fatalf("the Apply never waited on the counter row: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		if err := <-done; err == nil {
			t.Fatal("Apply on a terminated connection returned no error")
		}
		if err := blocker.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(storedIDs(t, s, org)); got != 100 {
			t.Fatalf("after the terminated Apply %d users are stored, want the 100 of the first Apply", got)
		}
		checkConsistent(t, s, org)
		converge(t, s, org, users)
	})

	t.Run("ProxyCuttingConnectionsAtRandomNeverLeavesHalfWrittenState", func(t *testing.T) {
		t.Parallel()
		base := setup(t)
		ctx := context.Background()
		dsn := os.Getenv(dsnEnv)
		seed := time.Now().UnixNano()
		t.Logf("proxy seed %d", seed)
		proxy := newCutProxy(t, dsn, rand.New(rand.NewPCG(uint64(seed), 1)))
		cfg, err := pgxpool.ParseConfig(proxy.dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 2
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		s, err := New(p, Config{Schema: base.cfg.Schema})
		if err != nil {
			t.Fatal(err)
		}
		const org = "acme"
		users := synth.Users(11, org, "src", 1500)
		var okCount, errCount int
		for start := 0; start < len(users); start += 25 {
			batch := users[start : start+25]
			actx, cancel := context.WithTimeout(ctx, 20*time.Second)
			_, err := s.Apply(actx, createReq(org, batch))
			cancel()
			// Either everything of the batch is stored or nothing.
			have := storedIDs(t, base, org)
			n := 0
			for _, u := range batch {
				if _, ok := have[u.ID]; ok {
					n++
				}
			}
			switch {
			case err == nil && n != len(batch):
				t.Fatalf("Apply succeeded but %d of %d users are stored", n, len(batch))
			case err != nil && n != 0 && n != len(batch):
				t.Fatalf("Apply failed (%v) leaving %d of %d users: half-written", err, n, len(batch))
			case err == nil:
				okCount++
			default:
				errCount++
			}
		}
		t.Logf("through the proxy: %d applies succeeded, %d failed; %d connections, %d cut; DSN %s", okCount, errCount, proxy.conns.Load(), proxy.cuts.Load(), proxy.dsn)
		if errCount == 0 {
			t.Errorf("the proxy cut no Apply; the test proved nothing (seed %d)", seed)
		}
		checkConsistent(t, base, org)
		converge(t, base, org, users)
	})
}

// cutProxy forwards TCP connections on 127.0.0.1 to the database and cuts
// each after a random number of bytes, up to about two Applies' worth.
type cutProxy struct {
	dsn   string
	cuts  atomic.Int64
	conns atomic.Int64
}

func newCutProxy(t *testing.T, dsn string, rng *rand.Rand) *cutProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("the proxy test needs a URL DSN with a host; %s = %q", dsnEnv, dsn)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	p := &cutProxy{}
	var mu sync.Mutex
	budget := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Int64N(100_000)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			p.conns.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c, target, budget())
			}()
		}
	}()
	u2 := *u
	u2.Host = ln.Addr().String()
	p.dsn = u2.String()
	return p
}

func (p *cutProxy) serve(c net.Conn, target string, budget int64) {
	defer c.Close()
	d, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer d.Close()
	var left atomic.Int64
	left.Store(budget)
	var once sync.Once
	cut := func() {
		once.Do(func() {
			p.cuts.Add(1)
			c.Close()
			d.Close()
		})
	}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if left.Add(-int64(n)) < 0 {
					cut()
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		d.Close()
	}
	done := make(chan struct{})
	go func() { pipe(d, c); close(done) }()
	pipe(c, d)
	<-done
}
