package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/internal/wordrows"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// benchSize reads a size from the environment (for quick runs while
// developing), or returns def.
func benchSize(env string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
		return n
	}
	return def
}

// applyBatch is how many people one Apply writes in the benchmarks: the
// engine's batch size order of magnitude.
const applyBatch = 1000

// BenchmarkFullSync measures a cold full sync of DIRSYNC_BENCH_PEOPLE
// (default 100,000) synthetic people through Apply (users, sources, tag and
// word side tables, one journal entry each), against the raw database limit
// measured in the same run: COPY of the same precomputed rows into
// temporary tables and one INSERT … ON CONFLICT merge per table, per batch,
// into the same tables and indexes, facet counts included (x-raw); and against a bare COPY of those
// rows straight into the tables (x-rawcopy). It then measures a no-op resync
// (Snapshot and diff of everyone, nothing to apply) and checks that it wrote
// and locked no row.
func BenchmarkFullSync(b *testing.B) {
	n := benchSize("DIRSYNC_BENCH_PEOPLE", 100_000)
	const org = "bench"
	users := synth.Users(1, org, "src", n)
	ctx := context.Background()
	var rawDur, rawCopyDur, storeDur, noopDur time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raw := setup(b)
		rows := rawRowsOf(users, time.Now().UnixNano())
		b.StartTimer()

		t0 := time.Now()
		if err := rawLoad(ctx, raw, org, rows, true); err != nil {
			b.Fatal(err)
		}
		rawDur += time.Since(t0)

		b.StopTimer()
		rawCopy := setup(b)
		b.StartTimer()
		t0 = time.Now()
		if err := rawLoad(ctx, rawCopy, org, rows, false); err != nil {
			b.Fatal(err)
		}
		rawCopyDur += time.Since(t0)

		b.StopTimer()
		s := setup(b)
		b.StartTimer()
		t1 := time.Now()
		for start := 0; start < n; start += applyBatch {
			if _, err := s.Apply(ctx, createReq(org, users[start:min(start+applyBatch, n)])); err != nil {
				b.Fatal(err)
			}
		}
		storeDur += time.Since(t1)

		b.StopTimer()
		before := rowState(b, s)
		b.StartTimer()
		t2 := time.Now()
		want := make(map[string]*store.User, n)
		for k := range users {
			want[users[k].ExternalID] = &users[k]
		}
		var changed int
		err := s.Snapshot(ctx, org, "src", func(e store.SnapshotEntry) error {
			u := want[e.ExternalID]
			if u == nil || u.SourceHash != e.SourceHash || u.ProfileHash != e.ProfileHash || u.Active != e.Active {
				changed++
			}
			delete(want, e.ExternalID)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		changed += len(want)
		if changed != 0 {
			b.Fatalf("no-op resync found %d changed people", changed)
		}
		noopDur += time.Since(t2)
		b.StopTimer()
		after := rowState(b, s)
		if after.maxXmin != before.maxXmin || after.rows != before.rows || after.locked != before.locked {
			b.Fatalf("no-op resync wrote or locked rows: before %+v, after %+v", before, after)
		}
		b.StartTimer()
	}
	people := float64(n) * float64(b.N)
	b.ReportMetric(people/storeDur.Seconds(), "people/s")
	b.ReportMetric(people/rawDur.Seconds(), "raw-people/s")
	b.ReportMetric(storeDur.Seconds()/rawDur.Seconds(), "x-raw")
	b.ReportMetric(people/rawCopyDur.Seconds(), "rawcopy-people/s")
	b.ReportMetric(storeDur.Seconds()/rawCopyDur.Seconds(), "x-rawcopy")
	b.ReportMetric(noopDur.Seconds()/storeDur.Seconds(), "noop-x-cold")
	b.ReportMetric(noopDur.Seconds()/float64(b.N), "noop-s")
	b.ReportMetric(0, "noop-rows-written") // checked above: any write fails the benchmark
}

type rowStats struct {
	rows, locked int64
	maxXmin      int64
}

// rowState sums, over the store's tables, the rows, the rows carrying a
// row lock or a deletion (xmax set), and the newest inserting transaction.
func rowState(b *testing.B, s *Store) rowStats {
	b.Helper()
	var st rowStats
	for _, t := range []string{"users", "user_sources", "user_words", "user_tags", "changes", "counters"} {
		var rows, locked, maxXmin int64
		err := s.pool.QueryRow(context.Background(), s.sql(`SELECT count(*), count(*) FILTER (WHERE xmax::text <> '0'),
			coalesce(max(xmin::text::bigint), 0) FROM {S}.`+t)).Scan(&rows, &locked, &maxXmin)
		if err != nil {
			b.Fatal(err)
		}
		st.rows += rows
		st.locked += locked
		st.maxXmin = max(st.maxXmin, maxXmin)
	}
	return st
}

// rawRows are the rows of every table for a set of users, computed before
// the clock starts.
type rawRows struct {
	users, sources, words, tags, changes, counts [][][]any // per batch, per row
}

func rawRowsOf(users []store.User, now int64) rawRows {
	var r rawRows
	seq := int64(0)
	for start := 0; start < len(users); start += applyBatch {
		batch := users[start:min(start+applyBatch, len(users))]
		var ua userArrays
		var ur, sr, wr, tr, cr, fr [][]any
		counts := map[countKey]int64{}
		for k := range batch {
			u := &batch[k]
			tags := tagRows(u.Tags)
			ua.add(u, 1, now, now, search.Words(u.FirstName, u.LastName, u.Email), tags)
			src := &userSource{org: u.OrgID, ua: &ua, i: k + 1}
			row, _ := src.Values()
			ur = append(ur, row)
			sr = append(sr, []any{u.OrgID, u.ID, ua.source[k]})
			kLast := ua.kLast[k]
			ws, lcps := wordrows.Rows(kLast, search.Words(u.FirstName, u.LastName, u.Email))
			for i, w := range ws {
				wr = append(wr, []any{u.OrgID, w, kLast, u.ID, lcps[i]})
			}
			for _, t := range tags {
				tr = append(tr, []any{u.OrgID, t.fvalue, kLast, u.ID, t.field, t.value})
			}
			addCounts(counts, u.Department, u.Division, u.Office, u.Active, tags, 1)
			seq++
			cr = append(cr, []any{u.OrgID, seq, string(store.ChangeCreated), u.ID, nil, encodeFields(map[string]any{"email": u.Email}), "run-1", now})
		}
		for k, n := range counts {
			fr = append(fr, []any{batch[0].OrgID, k.facet, k.fvalue, k.value, k.active, n})
		}
		r.users, r.sources, r.counts = append(r.users, ur), append(r.sources, sr), append(r.counts, fr)
		r.words, r.tags, r.changes = append(r.words, wr), append(r.tags, tr), append(r.changes, cr)
	}
	return r
}

// rawLoad is the raw database limit: per batch, one transaction that
// COPYs the rows into temporary tables and merges each into its table
// (merge), or, with merge false, COPYs them straight into the tables (the
// floor of any insert path, with no conflict handling at all).
func rawLoad(ctx context.Context, s *Store, org string, r rawRows, merge bool) error {
	userColNames := splitCols(userCols)
	var last int64
	for bi := range r.users {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, t := range []struct {
				table string
				cols  []string
				rows  [][]any
				merge string
			}{
				{"users", userColNames, r.users[bi], `ON CONFLICT (org_id, id) DO UPDATE SET email = excluded.email, version = excluded.version`},
				{"user_sources", []string{"org_id", "id", "source"}, r.sources[bi], `ON CONFLICT (org_id, id) DO UPDATE SET source = excluded.source`},
				{"user_words", []string{"org_id", "word", "k_last", "user_id", "lcp"}, r.words[bi], `ON CONFLICT DO NOTHING`},
				{"user_tags", []string{"org_id", "f_value", "k_last", "user_id", "field", "value"}, r.tags[bi], `ON CONFLICT DO NOTHING`},
				{"changes", []string{"org_id", "seq", "kind", "subject_id", "before", "after", "cause", "at"}, r.changes[bi], `ON CONFLICT DO NOTHING`},
				{"facet_counts", []string{"org_id", "facet", "f_value", "value", "active", "n"}, r.counts[bi],
					`ON CONFLICT (org_id, facet, f_value, value, active) DO UPDATE SET n = facet_counts.n + excluded.n`},
			} {
				// Counts are sums across batches: even the bare load
				// merges them.
				if !merge && t.table != "facet_counts" {
					if _, err := tx.CopyFrom(ctx, pgx.Identifier{s.cfg.Schema, t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
						return fmt.Errorf("copy %s: %w", t.table, err)
					}
					continue
				}
				tmp := "tmp_" + t.table
				if _, err := tx.Exec(ctx, s.sql(`CREATE TEMP TABLE `+tmp+` (LIKE {S}.`+t.table+`) ON COMMIT DROP`)); err != nil {
					return err
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
					return fmt.Errorf("copy %s: %w", t.table, err)
				}
				cols := strings.Join(t.cols, ", ")
				if _, err := tx.Exec(ctx, s.sql(`INSERT INTO {S}.`+t.table+` (`+cols+`) SELECT `+cols+` FROM `+tmp+` `+t.merge)); err != nil {
					return fmt.Errorf("merge %s: %w", t.table, err)
				}
			}
			last += int64(len(r.changes[bi]))
			_, err := tx.Exec(ctx, s.sql(`INSERT INTO {S}.counters (org_id, seq) VALUES ($1, $2)
				ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq`), org, last)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSearch measures search and facets over DIRSYNC_BENCH_ORGS orgs
// (default 10) of DIRSYNC_BENCH_ORG_PEOPLE people (default 10,000) each,
// with the query mix; each sub-benchmark reports p50 and p99 in
// milliseconds over its b.N queries (run with -benchtime=500x or more).
// Filter values are drawn by frequency, so common values dominate as in
// real use; the most common department has its own case.
func BenchmarkSearch(b *testing.B) {
	orgs := benchSize("DIRSYNC_BENCH_ORGS", 10)
	per := benchSize("DIRSYNC_BENCH_ORG_PEOPLE", 10_000)
	ctx := context.Background()
	s := setup(b)
	type orgData struct {
		id                          string
		depts, offices, tags, names []string // one entry per person: draws are by frequency
		commonDept                  string
		page200                     search.Query
	}
	data := make([]orgData, orgs)
	for o := range orgs {
		d := &data[o]
		d.id = fmt.Sprintf("org-%03d", o)
		users := synth.Users(int64(o+1), d.id, "src", per)
		for start := 0; start < per; start += applyBatch {
			if _, err := s.Apply(ctx, createReq(d.id, users[start:min(start+applyBatch, per)])); err != nil {
				b.Fatal(err)
			}
		}
		counts := map[string]int{}
		for _, u := range users {
			if u.Department != "" {
				d.depts = append(d.depts, u.Department)
				counts[u.Department]++
			}
			if u.Office != "" {
				d.offices = append(d.offices, u.Office)
			}
			for _, t := range u.Tags {
				d.tags = append(d.tags, t.Value)
			}
			if w := search.Words(u.FirstName, u.LastName, ""); len(w) > 0 {
				d.names = append(d.names, w[0])
			}
		}
		for v, c := range counts {
			if c > counts[d.commonDept] || (c == counts[d.commonDept] && v < d.commonDept) {
				d.commonDept = v
			}
		}
		// The cursor of the 200th page of 40 (past 8,000 people) in the
		// default order.
		q := search.Query{Limit: 40}
		for page := 1; page < 200; page++ {
			p, err := s.Search(ctx, d.id, q)
			if err != nil {
				b.Fatal(err)
			}
			if p.NextCursor == "" {
				b.Fatalf("org %s has fewer than 200 pages of 40", d.id)
			}
			q.Cursor = p.NextCursor
		}
		d.page200 = q
	}
	if _, err := s.pool.Exec(ctx, s.sql(`ANALYZE {S}.users, {S}.user_words, {S}.user_tags, {S}.memberships, {S}.groups`)); err != nil {
		b.Fatal(err)
	}
	pick := func(vals []string, i int) string { return vals[(i*7919)%len(vals)] }
	prefix := func(w string, n int) string {
		r := []rune(w)
		return string(r[:min(n, len(r))])
	}
	cases := []struct {
		name   string
		facets bool
		query  func(d *orgData, i int) search.Query
	}{
		{"DepartmentMostCommon", false, func(d *orgData, i int) search.Query { return search.Query{Departments: []string{d.commonDept}} }},
		{"DepartmentByFrequency", false, func(d *orgData, i int) search.Query { return search.Query{Departments: []string{pick(d.depts, i)}} }},
		{"DepartmentAndOffice", false, func(d *orgData, i int) search.Query {
			return search.Query{Departments: []string{pick(d.depts, i)}, Offices: []string{pick(d.offices, i+1)}}
		}},
		{"Tag", false, func(d *orgData, i int) search.Query { return search.Query{Tags: []string{pick(d.tags, i)}} }},
		{"TagAndText", false, func(d *orgData, i int) search.Query {
			return search.Query{Tags: []string{pick(d.tags, i)}, Text: prefix(pick(d.names, i), 2)}
		}},
		{"OneLetterPrefix", false, func(d *orgData, i int) search.Query { return search.Query{Text: prefix(pick(d.names, i), 1)} }},
		{"TwoLetterPrefix", false, func(d *orgData, i int) search.Query { return search.Query{Text: prefix(pick(d.names, i), 2)} }},
		{"Page200", false, func(d *orgData, i int) search.Query { return d.page200 }},
		{"FacetsWholeOrg", true, func(d *orgData, i int) search.Query { return search.Query{} }},
		{"FacetsDepartment", true, func(d *orgData, i int) search.Query { return search.Query{Departments: []string{pick(d.depts, i)}} }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				d := &data[i%orgs]
				q := c.query(d, i)
				t0 := time.Now()
				var err error
				if c.facets {
					_, err = s.Facets(ctx, d.id, q)
				} else {
					_, err = s.Search(ctx, d.id, q)
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.SortFunc(lat, func(x, y time.Duration) int { return cmp.Compare(x, y) })
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}
