package storetest

import (
	"strings"
	"testing"

	"github.com/directorysync/directorysync/store"
)

// brokenStore fails every call by panicking (its embedded Store is nil).
type brokenStore struct{ store.Store }

func TestRunReportCollectsFailuresWithoutFailingTheTest(t *testing.T) {
	t.Parallel()
	failures := RunReport(func(testing.TB) store.Store { return brokenStore{} }, Features{Rounds: 1})
	if len(failures) < 60 {
		t.Fatalf("RunReport against a store that panics on every call reported %d failures, want one per case (at least 60)", len(failures))
	}
	for _, f := range failures {
		if !strings.HasPrefix(f, "Run/") {
			t.Errorf("failure %q does not start with its case path", f)
		}
	}
	if !strings.Contains(strings.Join(failures, "\n"), "panic") {
		t.Errorf("failures do not mention the panics: %q", failures[0])
	}
}

func TestRunReportReportsANilStore(t *testing.T) {
	t.Parallel()
	failures := RunReport(func(testing.TB) store.Store { return nil }, Features{Rounds: 1})
	if len(failures) == 0 || !strings.Contains(failures[0], "nil store") {
		t.Fatalf("RunReport with a nil store: %q", failures)
	}
}
