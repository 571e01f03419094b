// Package storetest is the conformance suite every store.Store adapter runs,
// including a third party's. It checks the obligations documented on
// store.Store and the search semantics of package search, with the same
// cases for every store: capability differences are declared as data in
// Features, and the suite never branches on which adapter it runs.
//
// An adapter's test file runs it like this:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := mystore.New(…) // fresh, empty and isolated
//			t.Cleanup(func() { s.Close() })
//			return s
//		}, storetest.Features{})
//	}
//
// Cases are grouped (Run/Apply/…, Run/Search/…) and named as the rule they
// check, so a failure reads as the broken rule. RunReport runs the same
// cases without a *testing.T and returns the failures, for tests that prove
// the suite catches a broken store.
//
// # Reference evaluator
//
// Reference is a plain, obviously correct evaluator of search queries and
// facets over a slice of users, groups and memberships, built only from the
// helpers of package search (Fold, Words, Terms, MatchTerm, SortKey,
// EncodeCursor, DecodeCursor, FoldedValues). The differential cases require a
// store to return exactly what Reference returns, page by page.
//
// # Facet labels
//
// Values that fold alike count together. The suite requires each facet value
// to be labelled with the bytewise least original spelling among all of the
// org's stored users' values for that field (any status, any source, whether
// or not they match the query); for the tag facet among the values of every
// tag field, for a tag field facet among that field's values. Counts are
// numbers of matching users, so a person holding "NYC" in two tag fields
// counts once in the tag facet.
package storetest

import (
	"testing"

	"github.com/directorysync/directorysync/store"
)

// Features declares what a store supports and tunes the suite's costs. The
// zero value runs every case at its default size; every case is mandatory
// for every store.
type Features struct {
	// Seed seeds the random directories and queries of the differential
	// cases; failures print it, so a failure can be replayed by setting it.
	// Defaults to 1.
	Seed int64
	// Rounds is how many random directories the differential cases build.
	// Defaults to 12.
	Rounds int
	// Writers is how many goroutines write at once in the concurrency
	// cases. Defaults to 8.
	Writers int
}

func (f Features) withDefaults() Features {
	if f.Seed == 0 {
		f.Seed = 1
	}
	if f.Rounds <= 0 {
		f.Rounds = 12
	}
	if f.Writers <= 0 {
		f.Writers = 8
	}
	return f
}

// Run runs the conformance suite against stores made by newStore. Each call
// of newStore must return a fresh, empty store isolated from every other
// call's (the adapter registers its own cleanup on t); cases run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, f Features) {
	t.Helper()
	s := &suite{
		newStore: func(tb testing.TB) store.Store { return newStore(tb.(*testing.T)) },
		f:        f.withDefaults(),
	}
	s.all(t)
}

// suite holds what every case needs.
type suite struct {
	newStore func(t testing.TB) store.Store
	f        Features
}

// all runs every group of cases.
func (s *suite) all(t testing.TB) {
	run(t, "Apply", s.applyCases)
	run(t, "Read", s.readCases)
	run(t, "Journal", s.journalCases)
	run(t, "State", s.stateCases)
	run(t, "Lease", s.leaseCases)
	run(t, "Search", s.searchCases)
	run(t, "Isolation", s.isolationCases)
}

// open returns a fresh store for one case, failing the case if there is none.
func (s *suite) open(t testing.TB) store.Store {
	t.Helper()
	st := s.newStore(t)
	if st == nil {
		t.Fatal("newStore returned a nil store")
	}
	return st
}
