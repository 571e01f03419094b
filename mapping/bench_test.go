package mapping_test

import (
	"testing"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
)

const benchRecords = 100_000

// benchSetup compiles synth's WorkOS-style mapping (seven fields, active and
// three tag fields) once and generates the records.
func benchSetup(b *testing.B) (*mapping.Mapping, []mapping.Record) {
	b.Helper()
	cfg, err := mapping.ParseYAML([]byte(synth.MappingYAML))
	if err != nil {
		b.Fatal(err)
	}
	m, err := mapping.Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m, synth.Records(1, benchRecords)
}

// BenchmarkMap maps one record per operation, cycling through 100k
// WorkOS-shaped records: ns/op and allocs/op are per record on one core.
func BenchmarkMap(b *testing.B) {
	m, recs := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := m.Map(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
	}
}

// BenchmarkMap100k maps all 100k records per operation on one goroutine
// and reports records per second (per core), wall and CPU nanoseconds per
// record, and allocations (allocs/op / 100000 per record).
func BenchmarkMap100k(b *testing.B) {
	m, recs := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for j := range recs {
			if _, err := m.Map(&recs[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := float64(b.N * len(recs))
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/n, "ns/record")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/record")
		b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkMapParallel maps records from every P, showing that the pooled
// VMs scale across cores.
func BenchmarkMapParallel(b *testing.B) {
	m, recs := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Map(&recs[i%len(recs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
