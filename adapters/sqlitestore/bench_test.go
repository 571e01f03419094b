package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// benchPeople is the size of the sync benchmarks: 100k, or
// DIRSYNC_BENCH_PEOPLE for a quick run.
func benchPeople(b *testing.B) int {
	if v := os.Getenv("DIRSYNC_BENCH_PEOPLE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("DIRSYNC_BENCH_PEOPLE=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

// applyBatch is how many people one Apply carries, as the engine batches.
const applyBatch = 1000

// createRequests are the Apply requests of a first sync of users: batches
// of applyBatch creations, each with its journal entry, as the engine makes
// them.
func createRequests(org string, users []store.User) []store.ApplyRequest {
	var reqs []store.ApplyRequest
	for start := 0; start < len(users); start += applyBatch {
		part := users[start:min(start+applyBatch, len(users))]
		req := store.ApplyRequest{OrgID: org, Users: make([]store.UserWrite, len(part)), Changes: make([]store.Change, len(part))}
		for i := range part {
			req.Users[i] = store.UserWrite{User: part[i]}
			_, after := store.Diff(&store.User{}, &part[i])
			req.Changes[i] = store.Change{Kind: store.ChangeCreated, SubjectID: part[i].ID, After: after, Cause: "run_bench"}
		}
		reqs = append(reqs, req)
	}
	return reqs
}

func applyAll(ctx context.Context, s *Store, reqs []store.ApplyRequest) error {
	for _, req := range reqs {
		if _, err := s.Apply(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// rawRow is everything the raw loop writes for one person, computed before
// the clock starts.
type rawRow struct {
	user   []any
	words  []wordRow
	tags   []tagRow
	id     string
	change string
}

// rawLoad writes the same rows into the same tables and indexes as Apply
// does (users, words, tags, counter and journal), with prepared statements
// in one transaction: the database's limit for this schema.
func rawLoad(ctx context.Context, s *Store, org string, rows []rawRow, counts map[countKey]int, now int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		st, perr := tx.PrepareContext(ctx, q)
		if perr != nil && err == nil {
			err = perr
		}
		return st
	}
	insUser, insWord, insTag, insChange := prep(qUserInsert), prep(qWordInsert), prep(qTagInsert), prep(qChangeInsert)
	if err != nil {
		return err
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, qCounterBump, org, len(rows)).Scan(&seq); err != nil {
		return err
	}
	seq -= int64(len(rows))
	for i := range rows {
		r := &rows[i]
		res, err := insUser.ExecContext(ctx, r.user...)
		if err != nil {
			return err
		}
		uid, _ := res.LastInsertId()
		for _, w := range r.words {
			if _, err := insWord.ExecContext(ctx, org, w.lcp, w.word, uid); err != nil {
				return err
			}
		}
		for _, t := range r.tags {
			if _, err := insTag.ExecContext(ctx, org, t.folded, t.value, t.field, uid); err != nil {
				return err
			}
		}
		seq++
		if _, err := insChange.ExecContext(ctx, org, seq, "created", r.id, nil, r.change, "run_bench", now); err != nil {
			return err
		}
	}
	for k, n := range counts {
		if _, err := tx.ExecContext(ctx, qCountAdd, org, k.facet, k.folded, k.value, k.active, n); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rawRows computes the raw loop's rows and facet counts.
func rawRows(org string, users []store.User, now int64) ([]rawRow, map[countKey]int) {
	t := &txn{}
	rows := make([]rawRow, len(users))
	for i := range users {
		u := &users[i]
		d, _ := derive(u)
		_, after := store.Diff(&store.User{}, u)
		ch, _ := marshalFields(after)
		rows[i] = rawRow{
			user: []any{org, u.ID, u.SourceID, u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName,
				u.Department, u.Division, u.Office, u.Title, d.tags, u.Active, nullBytes(u.Source), u.SourceHash, u.ProfileHash,
				u.MappingVersion, toNanos(u.ProviderUpdatedAt), 1, now, now, toNanosPtr(u.DeactivatedAt),
				d.fEmail, d.fDept.folded, d.fDiv.folded, d.fOffice.folded, d.fTags, d.skLast, d.skFirst, d.skEmail},
			words:  d.words,
			tags:   d.tagRows,
			id:     u.ID,
			change: ch.(string),
		}
		t.countUser(+1, u.Active, d.fDept, d.fDiv, d.fOffice, d.tagRows)
	}
	return rows, t.counts
}

// cpuTime is the process's user and system CPU time so far. On a shared,
// oversubscribed machine it shows the work done where wall time shows the
// queue.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rowsWritten is the number of rows the writer connection has inserted,
// updated or deleted since it opened.
func rowsWritten(b *testing.B, s *Store) int64 {
	var n int64
	if err := s.w.QueryRowContext(context.Background(), `SELECT total_changes()`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkSync measures, in one run: the raw database limit (a prepared
// insert loop in one transaction into the same tables), a full sync through
// Apply of the same people (batches of 1000 with their journal entries),
// and a no-op resync (snapshot and compare, as the engine does: nothing to
// apply, so nothing may be written).
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	n := benchPeople(b)
	const org = "bench"
	users := synth.Users(1, org, "src", n)
	reqs := createRequests(org, users)
	var rawTotal, applyTotal, resyncTotal, rawCPU, applyCPU time.Duration
	var written int64
	for i := 0; b.Loop(); i++ {
		now := time.Now().UnixNano()
		rows, counts := rawRows(org, users, now)

		raw := setup(b)
		start, cpu := time.Now(), cpuTime()
		if err := rawLoad(ctx, raw, org, rows, counts, now); err != nil {
			b.Fatal(err)
		}
		rawTotal += time.Since(start)
		rawCPU += cpuTime() - cpu
		raw.Close()

		s := setup(b)
		start, cpu = time.Now(), cpuTime()
		if err := applyAll(ctx, s, reqs); err != nil {
			b.Fatal(err)
		}
		applyTotal += time.Since(start)
		applyCPU += cpuTime() - cpu

		before := rowsWritten(b, s)
		start = time.Now()
		byExt := make(map[string]*store.User, len(users))
		for i := range users {
			byExt[users[i].ExternalID] = &users[i]
		}
		changed := 0
		err := s.Snapshot(ctx, org, "src", func(e store.SnapshotEntry) error {
			u := byExt[e.ExternalID]
			if u == nil || u.SourceHash != e.SourceHash || u.ProfileHash != e.ProfileHash {
				changed++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		resyncTotal += time.Since(start)
		written += rowsWritten(b, s) - before
		if changed != 0 {
			b.Fatalf("resync found %d changed people; want 0", changed)
		}
		s.Close()
	}
	iters := float64(b.N)
	b.ReportMetric(float64(n)*iters/rawTotal.Seconds(), "raw_people/s")
	b.ReportMetric(float64(n)*iters/applyTotal.Seconds(), "apply_people/s")
	b.ReportMetric(applyTotal.Seconds()/rawTotal.Seconds(), "apply/raw")
	b.ReportMetric(applyCPU.Seconds()/rawCPU.Seconds(), "apply/raw_cpu")
	b.ReportMetric(float64(n)*iters/applyCPU.Seconds(), "apply_people/cpu_s")
	b.ReportMetric(resyncTotal.Seconds()/applyTotal.Seconds(), "resync/apply")
	b.ReportMetric(float64(written)/iters, "resync_rows_written")
}

// searchFixture is a store of orgs of people (searchSize),
// with groups, built once for the search benchmarks.
type searchFixture struct {
	s     *Store
	orgs  []string
	users map[string][]store.User
	dir   string
}

// searchSize is the search fixture's number of orgs and people per org:
// 10 × 10k, or DIRSYNC_BENCH_ORGS and DIRSYNC_BENCH_ORG_PEOPLE (to see the
// effect of a larger file, or of a larger org).
func searchSize(b *testing.B) (orgs, people int) {
	orgs, people = 10, 10_000
	for _, v := range []struct {
		env string
		n   *int
	}{{"DIRSYNC_BENCH_ORGS", &orgs}, {"DIRSYNC_BENCH_ORG_PEOPLE", &people}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q is not a positive number", v.env, s)
			}
			*v.n = n
		}
	}
	return orgs, people
}

var (
	fixtureOnce sync.Once
	fixture     *searchFixture
	fixtureErr  error
)

func loadSearchFixture(b *testing.B) *searchFixture {
	searchOrgs, searchPeople := searchSize(b)
	fixtureOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "sqlitestore-bench-")
		if err != nil {
			fixtureErr = err
			return
		}
		s, err := Open(ctx, filepath.Join(dir, "search.db"))
		if err != nil {
			fixtureErr = err
			return
		}
		f := &searchFixture{s: s, users: map[string][]store.User{}, dir: dir}
		for i := range searchOrgs {
			org := fmt.Sprintf("org%02d", i)
			users := synth.Users(int64(i+1), org, "src", searchPeople)
			if err := applyAll(ctx, s, createRequests(org, users)); err != nil {
				fixtureErr = err
				return
			}
			recs := synth.Records(int64(i+1), searchPeople)
			req := store.ApplyRequest{OrgID: org}
			for _, g := range synth.Groups(int64(i+1), recs, 40) {
				gid := "group_" + strings.TrimPrefix(g.ExternalID, "directory_group_")
				req.Groups = append(req.Groups, store.GroupWrite{Group: store.Group{OrgID: org, SourceID: "src", ID: gid, ExternalID: g.ExternalID, Name: g.Name}})
				for _, m := range g.Members {
					req.Members = append(req.Members, store.MemberWrite{Membership: store.Membership{UserID: synth.UserID(m), GroupID: gid}})
				}
			}
			if _, err := s.Apply(ctx, req); err != nil {
				fixtureErr = err
				return
			}
			f.orgs = append(f.orgs, org)
			f.users[org] = users
		}
		if _, err := s.w.ExecContext(ctx, `PRAGMA optimize`); err != nil {
			fixtureErr = err
			return
		}
		fixture = f
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixture
}

// queryMix returns one random query of kind for a random org. Filter values
// are drawn from a random person, so they follow the values' frequencies.
func (f *searchFixture) queryMix(b *testing.B, r *rand.Rand, kind string) (string, search.Query) {
	org := f.orgs[r.IntN(len(f.orgs))]
	users := f.users[org]
	u := users[r.IntN(len(users))]
	for u.Department == "" || u.Office == "" || len(u.Tags) == 0 || u.LastName == "" {
		u = users[r.IntN(len(users))]
	}
	tag := u.Tags[r.IntN(len(u.Tags))].Value
	prefix := func(n int) string {
		w := []rune(search.Fold(u.LastName))
		return string(w[:min(n, len(w))])
	}
	switch kind {
	case "one_field":
		return org, search.Query{Departments: []string{u.Department}}
	case "top_department":
		return org, search.Query{Departments: []string{f.topDepartment(org)}}
	case "two_fields":
		return org, search.Query{Departments: []string{u.Department}, Offices: []string{u.Office}}
	case "tag":
		return org, search.Query{Tags: []string{tag}}
	case "tag_text":
		return org, search.Query{Tags: []string{tag}, Text: prefix(2)}
	case "prefix1":
		return org, search.Query{Text: prefix(1)}
	case "prefix2":
		return org, search.Query{Text: prefix(2)}
	case "facets", "facets_department":
		if kind == "facets_department" {
			return org, search.Query{Departments: []string{u.Department}}
		}
		return org, search.Query{}
	}
	b.Fatalf("unknown query kind %q", kind)
	return "", search.Query{}
}

func (f *searchFixture) topDepartment(org string) string {
	counts := map[string]int{}
	best := ""
	for _, u := range f.users[org] {
		counts[u.Department]++
		if u.Department != "" && counts[u.Department] > counts[best] {
			best = u.Department
		}
	}
	return best
}

// reportLatencies reports the p50 and p99 of the per-query durations.
func reportLatencies(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := min(int(p*float64(len(d))), len(d)-1)
		return float64(d[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
}

// BenchmarkSearch runs the search query mix at 10 orgs × 10k people (see
// searchSize for other sizes); run it with -benchtime=500x (or more) for p50
// and p99 over at least 500 queries. The mix is internal/bench's.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	f := loadSearchFixture(b)
	for _, kind := range []string{"one_field", "top_department", "two_fields", "tag", "tag_text", "prefix1", "prefix2", "facets", "facets_department"} {
		b.Run(kind, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			var d []time.Duration
			for b.Loop() {
				org, q := f.queryMix(b, r, kind)
				start := time.Now()
				var err error
				if strings.HasPrefix(kind, "facets") {
					_, err = f.s.Facets(ctx, org, q)
				} else {
					_, err = f.s.Search(ctx, org, q)
				}
				d = append(d, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatencies(b, d)
		})
	}
	b.Run("page200", func(b *testing.B) {
		// The cursor of the 200th page (limit 50, everyone) of each org.
		q := search.Query{Status: search.StatusAll}
		cursors := map[string]string{}
		for _, org := range f.orgs {
			q.Cursor = ""
			for range 199 {
				p, err := f.s.Search(ctx, org, q)
				if err != nil {
					b.Fatal(err)
				}
				if p.NextCursor == "" {
					b.Fatalf("org %s has fewer than 200 pages", org)
				}
				q.Cursor = p.NextCursor
			}
			cursors[org] = q.Cursor
		}
		r := rand.New(rand.NewPCG(1, 2))
		var d []time.Duration
		for b.Loop() {
			org := f.orgs[r.IntN(len(f.orgs))]
			q.Cursor = cursors[org]
			start := time.Now()
			p, err := f.s.Search(ctx, org, q)
			d = append(d, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Users) == 0 {
				b.Fatal("the 200th page is empty")
			}
		}
		reportLatencies(b, d)
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		fixture.s.Close()
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}
