package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/store"
)

// childEnv makes the test binary serve one measurement (Exec) instead of
// running the tests.
const childEnv = "DIRSYNC_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testStores() []string {
	st := []string{Memory, SQLite}
	if os.Getenv("DIRSYNC_TEST_POSTGRES_DSN") != "" {
		st = append(st, Postgres)
	}
	return st
}

// checkResult checks the figures of one measurement of n people are whole
// and sane.
func checkResult(t *testing.T, x Result, n int) {
	t.Helper()
	if x.People != n {
		t.Errorf("%s: people %d, want %d", x.Store, x.People, n)
	}
	if x.ColdCounts.Created != n {
		t.Errorf("%s: cold sync created %d, want %d", x.Store, x.ColdCounts.Created, n)
	}
	if x.NoopCounts.Unchanged != n || x.NoopCounts.Created+x.NoopCounts.Updated+x.NoopCounts.Deactivated != 0 {
		t.Errorf("%s: no-op resync counts %+v, want all %d unchanged", x.Store, x.NoopCounts, n)
	}
	if x.NoopWrites != 0 {
		t.Errorf("%s: no-op resync wrote %d rows, want 0", x.Store, x.NoopWrites)
	}
	// 1 % churn of n: 0.6 % updated, 0.2 % gone, 0.2 % new.
	c := x.ChurnCounts
	if c.Created == 0 || c.Updated == 0 || c.Deactivated == 0 || c.Created+c.Updated+c.Deactivated > n/50 {
		t.Errorf("%s: churn resync counts %+v, want about 1 %% of %d changed", x.Store, c, n)
	}
	if x.RemapCounts.Updated < n/2 {
		t.Errorf("%s: remap updated %d of %d, want most", x.Store, x.RemapCounts.Updated, n)
	}
	for name, v := range map[string]float64{"cold": x.Cold, "no-op": x.Noop, "churn": x.Churn, "remap": x.Remap} {
		if v <= 0 {
			t.Errorf("%s: %s sync took %v s", x.Store, name, v)
		}
	}
	if x.ColdDecode <= 0 || x.ColdDecode >= x.Cold || x.NoopDecode >= x.Noop {
		t.Errorf("%s: decode times cold %v of %v, no-op %v of %v", x.Store, x.ColdDecode, x.Cold, x.NoopDecode, x.Noop)
	}
	if (x.Store == Memory) != (x.Raw == 0) || x.Raw < 0 {
		t.Errorf("%s: raw limit %v s", x.Store, x.Raw)
	}
	if x.BaseRSS <= 0 || x.PeakRSS < x.BaseRSS {
		t.Errorf("%s: RSS before %d, cold peak %d", x.Store, x.BaseRSS, x.PeakRSS)
	}
	var kinds []string
	for _, l := range x.Search {
		kinds = append(kinds, l.Kind)
		if l.P50 <= 0 || l.P99 < l.P50 {
			t.Errorf("%s: %s p50 %v ms, p99 %v ms", x.Store, l.Kind, l.P50, l.P99)
		}
	}
	if d := cmp.Diff(Kinds, kinds); d != "" {
		t.Errorf("%s: search kinds (-want +got):\n%s", x.Store, d)
	}
}

func TestRunMeasuresEveryStoreInChildProcesses(t *testing.T) {
	t.Parallel()
	const n = 500
	stores := testStores()
	opts := Options{
		Sizes:       []int{n},
		Stores:      stores,
		PostgresDSN: os.Getenv("DIRSYNC_TEST_POSTGRES_DSN"),
		Queries:     20,
		Runs:        1,
		Dir:         t.TempDir(),
		Child:       Exec{Path: os.Args[0], Env: []string{childEnv + "=1"}}.Run,
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(stores) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(stores))
	}
	for i, x := range rep.Results {
		if x.Store != stores[i] {
			t.Errorf("result %d is of %s, want %s", i, x.Store, stores[i])
		}
		checkResult(t, x, n)
		if x.MaxRSS < x.PeakRSS {
			t.Errorf("%s: child's max RSS %d below the cold sync's peak %d", x.Store, x.MaxRSS, x.PeakRSS)
		}
	}
	var b strings.Builder
	if err := rep.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{rep.Machine, rep.GoVersion, "| no-op rows written |", "| facets_org |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	for _, st := range stores {
		if got := strings.Count(md, "| "+st+" | 500 |"); got != 2 {
			t.Errorf("the report has %d sync rows for %s at 500, want 2 (figures and counts):\n%s", got, st, md)
		}
		if !strings.Contains(md, "| "+st+" | 1 × 500 |") {
			t.Errorf("the report has no search row for %s:\n%s", st, md)
		}
	}
	if st := stores[len(stores)-1]; st != Memory && !strings.Contains(md, "x raw") {
		t.Errorf("the report gives no ratio to the raw limit:\n%s", md)
	}
}

func TestRunChildMeasuresSearchOverManyOrgs(t *testing.T) {
	t.Parallel()
	spec := Spec{Store: SQLite, People: 300, Queries: 10, Runs: 1, Orgs: 3, OrgPeople: 300, Dir: t.TempDir()}
	res, err := RunChild(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orgs != 3 || res.OrgPeople != 300 || len(res.MultiOrg) != len(Kinds) {
		t.Fatalf("orgs %d × %d, %d latencies; want 3 × 300 and %d", res.Orgs, res.OrgPeople, len(res.MultiOrg), len(Kinds))
	}
	for _, l := range res.MultiOrg {
		if l.P50 <= 0 || l.P99 < l.P50 {
			t.Errorf("%s: p50 %v ms, p99 %v ms", l.Kind, l.P50, l.P99)
		}
	}
}

func TestOrgsOnlyMeasuresTheManyOrgsAlone(t *testing.T) {
	t.Parallel()
	spec := Spec{Store: SQLite, People: 300, Queries: 10, Runs: 1, Orgs: 2, OrgPeople: 300, Dir: t.TempDir(), SearchOnly: true, OrgsOnly: true}
	res, err := RunChild(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Search) != 0 || len(res.MultiOrg) != len(Kinds) || res.Orgs != 2 {
		t.Fatalf("orgs-only result: %d single-org latencies, %d many-orgs latencies over %d orgs; want 0, %d, 2",
			len(res.Search), len(res.MultiOrg), res.Orgs, len(Kinds))
	}
	var b strings.Builder
	if err := (Report{Results: []Result{res}}).Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if strings.Contains(md, "1 × 300") || !strings.Contains(md, "| sqlite | 2 × 300 |") || !strings.Contains(md, "(10 queries of each kind per run)") {
		t.Errorf("markdown of an orgs-only run:\n%s", md)
	}
	spec.Store = Memory
	if _, err := RunChild(context.Background(), spec, nil); err == nil {
		t.Error("an orgs-only run of memstore, which has no many orgs, did not fail")
	}
}

func TestSearchOnlyLoadsThroughApplyAndReportsNoSyncs(t *testing.T) {
	t.Parallel()
	for _, st := range testStores() {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			spec := Spec{Store: st, People: 300, Queries: 10, Runs: 1, Dir: t.TempDir(), SearchOnly: true,
				PostgresDSN: os.Getenv("DIRSYNC_TEST_POSTGRES_DSN")}
			if st != Memory {
				spec.Orgs, spec.OrgPeople = 2, 300
			}
			res, err := RunChild(context.Background(), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.SearchOnly || res.Cold != 0 || res.Raw != 0 || res.ColdCounts.Created != 0 {
				t.Errorf("search-only result has sync figures: %+v", res)
			}
			if len(res.Search) != len(Kinds) {
				t.Fatalf("%d latencies, want %d", len(res.Search), len(Kinds))
			}
			for _, l := range append(res.Search, res.MultiOrg...) {
				if l.P50 <= 0 || l.P99 < l.P50 {
					t.Errorf("%s: p50 %v ms, p99 %v ms", l.Kind, l.P50, l.P99)
				}
			}
			if st != Memory && len(res.MultiOrg) != len(Kinds) {
				t.Errorf("%d many-orgs latencies, want %d", len(res.MultiOrg), len(Kinds))
			}
			var b strings.Builder
			if err := (Report{Results: []Result{res}}).Markdown(&b); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			if strings.Contains(md, "cold sync") || !strings.Contains(md, "| "+st+" | 1 × 300 (loaded by Apply) |") {
				t.Errorf("markdown of a search-only run:\n%s", md)
			}
		})
	}
}

func TestRunChildRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, spec := range map[string]Spec{
		"no people":           {Store: Memory, Queries: 1, Runs: 1, Dir: dir},
		"no queries":          {Store: Memory, People: 10, Runs: 1, Dir: dir},
		"no directory":        {Store: Memory, People: 10, Queries: 1, Runs: 1},
		"an unknown store":    {Store: "oracle", People: 10, Queries: 1, Runs: 1, Dir: dir},
		"postgres and no DSN": {Store: Postgres, People: 10, Queries: 1, Runs: 1, Dir: dir},
		"an unknown phase":    {Store: Memory, People: 10, Queries: 1, Runs: 1, Dir: dir, Phase: "warm"},
		"a sync unprepared":   {Store: Memory, People: 10, Queries: 1, Runs: 1, Dir: dir, Phase: PhaseSync},
	} {
		t.Run("it refuses "+name, func(t *testing.T) {
			t.Parallel()
			if _, err := RunChild(context.Background(), spec, nil); err == nil {
				t.Errorf("RunChild(%+v) succeeded", spec)
			}
		})
	}
}

func TestServeChildRefusesUnknownAndOversizedSpecs(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"an unknown field": `{"store":"memory","people":10,"queries":1,"runs":1,"dir":"/tmp","bogus":1}`,
		"a torn document":  `{"store":"memory"`,
		"an oversized one": `{"store":"` + strings.Repeat("x", maxSpec) + `"}`,
	} {
		t.Run("it refuses "+name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if err := ServeChild(context.Background(), strings.NewReader(in), &out, nil); err == nil {
				t.Errorf("ServeChild accepted it and wrote %q", out.String())
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"10k": 10_000, "100K": 100_000, "1m": 1_000_000, "2500": 2500, " 5k ": 5000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if got := FormatSize(want); got != strings.ToLower(strings.TrimSpace(in)) && in != "2500" {
			t.Errorf("FormatSize(%d) = %q, want %q", want, got, in)
		}
	}
	for _, in := range []string{"", "k", "0", "-5k", "1.5m", "11m", "10g", "99999999999999999999"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"10k", "1m", "500", "", "k", "-1", "10000000", "10m", "9223372036854775807k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 1 || n > 10_000_000 {
			t.Fatalf("ParseSize(%q) = %d, outside 1..10m", s, n)
		}
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	})
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://postgres@localhost/test",
		"postgres://postgres@[::1]:5432/test",
		"host=/var/run/postgresql dbname=test",
	} {
		if err := CheckLoopback(dsn); err != nil {
			t.Errorf("CheckLoopback(%q): %v", dsn, err)
		}
	}
	for _, dsn := range []string{
		"postgres://postgres@db.example.com/test",
		"postgres://postgres@10.0.0.5/test",
		"postgres://postgres@127.0.0.1,10.0.0.5/test",
		"::not a dsn",
	} {
		if err := CheckLoopback(dsn); err == nil {
			t.Errorf("CheckLoopback(%q) accepted it", dsn)
		}
	}
}

// BenchmarkWholeSync runs the harness in this process at 10k people on
// each store (postgres when DIRSYNC_TEST_POSTGRES_DSN is set) with a short
// search mix, and reports its main figures; `dirsync bench` is the full
// measurement.
func BenchmarkWholeSync(b *testing.B) {
	for _, st := range testStores() {
		b.Run(st+"/10k", func(b *testing.B) {
			spec := Spec{Store: st, People: 10_000, Queries: 50, Runs: 1, Dir: b.TempDir(),
				PostgresDSN: os.Getenv("DIRSYNC_TEST_POSTGRES_DSN")}
			var x Result
			for b.Loop() {
				var err error
				if x, err = RunChild(context.Background(), spec, nil); err != nil {
					b.Fatal(err)
				}
			}
			cold := x.Cold - x.ColdDecode
			b.ReportMetric(cold, "cold-s")
			if x.Raw > 0 {
				b.ReportMetric(cold/x.Raw, "cold-x-raw")
			}
			b.ReportMetric((x.Noop-x.NoopDecode)/cold, "noop-x-cold")
			b.ReportMetric((x.Churn-x.ChurnDecode)/cold, "churn-x-cold")
			b.ReportMetric(float64(x.NoopWrites), "noop-rows")
			b.ReportMetric(float64(x.PeakRSS)/(1<<20), "peak-MiB")
		})
	}
}

func TestSkipRemapLeavesTheRemapOutAndSaysSo(t *testing.T) {
	t.Parallel()
	const n = 300
	spec := Spec{Store: Memory, People: n, Queries: 5, Runs: 1, Dir: t.TempDir(), SkipRemap: true}
	res, err := RunChild(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SkipRemap || res.Remap != 0 || res.RemapCounts != (store.Counts{}) {
		t.Errorf("skip remap: %v, remap %v s, counts %+v; want skipped, 0, none", res.SkipRemap, res.Remap, res.RemapCounts)
	}
	if res.ColdCounts.Created != n || res.Cold <= 0 {
		t.Errorf("cold sync %v s, counts %+v", res.Cold, res.ColdCounts)
	}
	var b strings.Builder
	if err := (Report{Results: []Result{res}}).Markdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "— (not measured)") {
		t.Errorf("the report does not say the remap was not measured:\n%s", b.String())
	}
}
