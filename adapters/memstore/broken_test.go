package memstore

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

// TestSuiteCatchesBrokenStores runs the conformance suite against
// deliberately broken variants of the store and requires each to fail it:
// a suite that passes a broken store proves nothing. Two differential rounds
// (of the default twelve) keep the six runs short; every variant still fails
// outside the differential cases too.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    faults
	}{
		{"CaseSensitiveMatching", faults{caseSensitive: true}},
		{"CrossOrgCountLeak", faults{crossOrgCounts: true}},
		{"CursorOffByOne", faults{cursorOffByOne: true}},
		{"GapInTheSequence", faults{seqGap: true}},
		{"JournalWrittenOutsideTheTransaction", faults{journalOutsideTx: true}},
		{"LeaseThatNeverExpires", faults{leaseNeverExpires: true}},
	} {
		t.Run(tc.name+"Fails", func(t *testing.T) {
			t.Parallel()
			failures := storetest.RunReport(func(testing.TB) store.Store {
				s := New()
				s.faults = tc.f
				return s
			}, storetest.Features{Rounds: 2})
			if len(failures) == 0 {
				t.Fatalf("the conformance suite passed a store with the fault %+v", tc.f)
			}
			cases := map[string]bool{}
			for _, f := range failures {
				name, _, _ := strings.Cut(f, ": ")
				cases[name] = true
			}
			names := slices.Sorted(maps.Keys(cases))
			t.Logf("%d failed checks in %d cases, among them %s", len(failures), len(cases), strings.Join(names[:min(4, len(names))], ", "))
		})
	}
}

// TestLSMKeepsOrderAcrossMerges inserts and kills more entries than the
// small run holds and requires the live entries in order.
func TestLSMKeepsOrderAcrossMerges(t *testing.T) {
	t.Parallel()
	dead := map[int]bool{}
	x := &lsm[int]{
		cmp:   func(a, b int) int { return a - b },
		alive: func(v int) bool { return !dead[v] },
	}
	const n = 3*lsmMax + 17
	for i := range n - 500 {
		x.insert((i * 7919) % n) // every value once, out of order
		if i%5 == 0 {
			dead[(i*7919)%n] = true
			x.killed()
		}
	}
	var batch []int
	for i := n - 500; i < n; i++ {
		batch = append(batch, (i*7919)%n)
	}
	x.insertMany(batch)
	var got []int
	for v := range x.from(func(v int) bool { return v >= 100 }) {
		got = append(got, v)
	}
	var want []int
	for v := 100; v < n; v++ {
		if !dead[v] {
			want = append(want, v)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d live entries from 100, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d is %d, want %d", i, got[i], want[i])
		}
	}
	if !x.contains(5) || x.contains(n+1) {
		t.Errorf("contains(5), contains(%d) = %v, %v; want true, false", n+1, x.contains(5), x.contains(n+1))
	}
}
