package dirsync_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// benchPeople is the directory size; DIRSYNC_BENCH_PEOPLE overrides it
// for quick profiling.
var benchPeople = func() int {
	if n, err := strconv.Atoi(os.Getenv("DIRSYNC_BENCH_PEOPLE")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

var benchRecords = sync.OnceValues(func() ([]mapping.Record, []mapping.Record) {
	recs := synth.Records(1, benchPeople)
	// 1 % churn: 0.6 % updated, 0.2 % gone, 0.2 % added.
	return recs, synth.Churn(2, recs, 0.006, 0.002, 0.002)
})

// benchSyncer returns a Syncer over a fresh memstore listing recs in pages
// of 100 (the WorkOS page size).
func benchSyncer(b *testing.B, recs []mapping.Record) (*dirsync.Syncer, *dirsynctest.Provider) {
	b.Helper()
	p := dirsynctest.New("bench:dir", recs...)
	p.SetPageSize(100)
	s, err := dirsync.New(memstore.New(), dirsync.Config{OrgID: "bench", Provider: p})
	if err != nil {
		b.Fatal(err)
	}
	return s, p
}

func benchSync(b *testing.B, s *dirsync.Syncer) store.SyncRun {
	b.Helper()
	run, err := s.Sync(context.Background(), dirsync.SyncOptions{})
	if err != nil {
		b.Fatalf("Sync: %v (%+v)", err, run.Counts)
	}
	return run
}

// BenchmarkSync measures whole syncs of 100k synthetic people into memstore
// with the default mapper: a cold sync (everyone created), a no-op resync
// (nothing changed: hashes compared, no row loaded), and a resync with 1 %
// churn. Compare ns/op and B/op of NoopResync with ColdSync: the target is
// at most a third.
func BenchmarkSync(b *testing.B) {
	recs, churned := benchRecords()
	b.Run("ColdSync100k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			s, _ := benchSyncer(b, recs)
			b.StartTimer()
			if run := benchSync(b, s); run.Counts.Created != benchPeople {
				b.Fatalf("counts %+v", run.Counts)
			}
		}
	})
	b.Run("NoopResync100k", func(b *testing.B) {
		s, _ := benchSyncer(b, recs)
		benchSync(b, s)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if run := benchSync(b, s); run.Counts.Unchanged != benchPeople {
				b.Fatalf("counts %+v", run.Counts)
			}
		}
	})
	b.Run("Churn1pct100k", func(b *testing.B) {
		s, p := benchSyncer(b, recs)
		benchSync(b, s)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			// Alternate between the churned and the original listing; each
			// direction changes about 1 % of the people.
			b.StopTimer()
			if i%2 == 0 {
				p.SetUsers(churned...)
			} else {
				p.SetUsers(recs...)
			}
			i++
			b.StartTimer()
			if run := benchSync(b, s); run.Counts.Unchanged < benchPeople*97/100 {
				b.Fatalf("counts %+v", run.Counts)
			}
		}
	})
}
