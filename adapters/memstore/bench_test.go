package memstore_test

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// The benchmarks use the shared synthetic directory of internal/synth: 100k
// people with Zipf-distributed departments, offices and tags.
const (
	benchOrg   = "bench"
	benchN     = 100_000
	benchBatch = 500 // users per Apply, as the engine batches a listing
)

var benchUsers = sync.OnceValue(func() []store.User { return synth.Users(42, benchOrg, "src", benchN) })

// applyAll writes users into st in batches of benchBatch.
func applyAll(st store.Store, users []store.User) error {
	ctx := context.Background()
	for start := 0; start < len(users); start += benchBatch {
		req := store.ApplyRequest{OrgID: benchOrg}
		for _, u := range users[start:min(start+benchBatch, len(users))] {
			req.Users = append(req.Users, store.UserWrite{User: u})
			req.Changes = append(req.Changes, store.Change{Kind: store.ChangeCreated, SubjectID: u.ID, Cause: "run_bench"})
		}
		if _, err := st.Apply(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

var benchStoreOnce = sync.OnceValues(func() (*memstore.Store, error) {
	st := memstore.New()
	return st, applyAll(st, benchUsers())
})

// benchStore returns a store holding the 100k people, built once.
func benchStore(b *testing.B) *memstore.Store {
	st, err := benchStoreOnce()
	if err != nil {
		b.Fatalf("Apply: %v", err)
	}
	return st
}

// BenchmarkApply100k writes 100k people (with their journal entries) into
// an empty store, 500 per Apply. One op is the whole 100k.
func BenchmarkApply100k(b *testing.B) {
	users := benchUsers()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if err := applyAll(memstore.New(), users); err != nil {
			b.Fatalf("Apply: %v", err)
		}
	}
	reportCPU(b, start)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/user")
}

// BenchmarkSnapshot100k streams the compact snapshot of 100k people.
func BenchmarkSnapshot100k(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		n := 0
		if err := st.Snapshot(ctx, benchOrg, "src", func(store.SnapshotEntry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != benchN {
			b.Fatalf("Snapshot streamed %d entries, want %d", n, benchN)
		}
	}
	reportCPU(b, start)
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per op since start as "cpu-ns/op":
// on a shared, loaded machine wall time (ns/op) includes waiting for a core,
// CPU time does not. The benchmark runs alone in its process, so the figure
// is its own (garbage collection included).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// valueNear returns the value of field held by the number of active people
// closest to want: a filter as selective as a real one.
func valueNear(users []store.User, want int, field func(store.User) []string) string {
	counts := map[string]int{}
	for _, u := range users {
		if u.Active {
			for _, v := range field(u) {
				counts[search.Fold(v)]++
			}
		}
	}
	spelled := map[string]string{}
	for _, u := range users {
		for _, v := range field(u) {
			spelled[search.Fold(v)] = v
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	best := slices.MinFunc(keys, func(a, b string) int {
		return cmp.Compare(abs(counts[a]-want), abs(counts[b]-want))
	})
	return spelled[best]
}

func abs(x int) int { return max(x, -x) }

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// BenchmarkSearch100k runs one page (50 people) of typical queries over
// 100k people. "matches" is how many people the query matches in all.
func BenchmarkSearch100k(b *testing.B) {
	st := benchStore(b)
	users := benchUsers()
	dept := func(u store.User) []string { return one(u.Department) }
	office := func(u store.User) []string { return one(u.Office) }
	tags := func(u store.User) []string {
		var out []string
		for _, t := range u.Tags {
			out = append(out, t.Value)
		}
		return out
	}
	lastPrefix := func(u store.User) []string {
		w := search.Words("", u.LastName, "")
		if len(w) == 0 || len([]rune(w[0])) < 4 {
			return nil
		}
		return []string{string([]rune(w[0])[:3])}
	}
	queries := []struct {
		name string
		q    search.Query
	}{
		{"OneField", search.Query{Offices: []string{valueNear(users, 1000, office)}}},
		{"TwoFields", search.Query{Departments: []string{valueNear(users, 5000, dept)}, Offices: []string{valueNear(users, 3000, office)}}},
		{"Tag", search.Query{Tags: []string{valueNear(users, 1000, tags)}}},
		{"TextPrefix", search.Query{Text: valueNear(users, 500, lastPrefix)}},
		{"NoFilter", search.Query{}},
		{"CommonDepartment", search.Query{Departments: []string{valueNear(users, benchN, dept)}}},
	}
	ctx := context.Background()
	for _, qc := range queries {
		all := qc.q
		all.Limit = search.MaxLimit
		matches := 0
		for page := all; ; {
			p, err := st.Search(ctx, benchOrg, page)
			if err != nil {
				b.Fatal(err)
			}
			matches += len(p.Users)
			if page.Cursor = p.NextCursor; page.Cursor == "" {
				break
			}
		}
		b.Run(qc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := st.Search(ctx, benchOrg, qc.q); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(matches), "matches")
		})
		b.Run(qc.name+"Facets", func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := st.Facets(ctx, benchOrg, qc.q); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(matches), "matches")
		})
	}
}
