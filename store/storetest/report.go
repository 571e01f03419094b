package storetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/directorysync/directorysync/store"
)

// RunReport runs the same cases as Run against stores made by newStore, but
// without a *testing.T: failures are collected instead of failing a test.
// It returns one line per failed check, each starting with the case's path
// (for example "Run/Apply/InsertOfExistingIDIsAConflict: …"), or nil when
// every case passed. A panic in a case or in the store counts as a failure
// of that case.
//
// RunReport exists to prove that the suite bites: a test runs it against a
// deliberately broken store and requires failures, without itself failing:
//
//	func TestSuiteCatchesCaseSensitiveMatching(t *testing.T) {
//		failures := storetest.RunReport(func(t testing.TB) store.Store {
//			return memstore.New(memstore.Config{Fault: memstore.FaultCaseSensitive})
//		}, storetest.Features{})
//		if len(failures) == 0 {
//			t.Fatal("the conformance suite passed a store that matches case-sensitively")
//		}
//		t.Logf("%d failures, first: %s", len(failures), failures[0])
//	}
//
// The testing.TB given to newStore supports Cleanup, TempDir, Context,
// Helper, Log and the failure methods; a failure reported through it (a
// store that cannot be created) is a failure of the case. Cases run one at a
// time (Parallel is a no-op), so a report takes longer than Run; a test that
// runs many reports may pass Features{Rounds: 2} to shorten the
// differential cases.
func RunReport(newStore func(t testing.TB) store.Store, f Features) []string {
	rep := &report{}
	root := newReportT(rep, "Run", context.Background())
	s := &suite{newStore: newStore, f: f.withDefaults()}
	root.runBody(func(t testing.TB) { s.all(t) })
	rep.mu.Lock()
	defer rep.mu.Unlock()
	return slices.Clone(rep.failures)
}

// report collects the failures of one RunReport.
type report struct {
	mu       sync.Mutex
	failures []string
}

func (r *report) add(name, msg string) {
	r.mu.Lock()
	r.failures = append(r.failures, name+": "+msg)
	r.mu.Unlock()
}

// reportT is the testing.TB of RunReport. The embedded interface is nil: it
// only satisfies testing.TB's unexported method, and every method is
// overridden below.
type reportT struct {
	testing.TB
	rep    *report
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failed   bool
	skipped  bool
	cleanups []func()
}

var _ testing.TB = (*reportT)(nil)

func newReportT(rep *report, name string, parent context.Context) *reportT {
	ctx, cancel := context.WithCancel(parent)
	return &reportT{rep: rep, name: name, ctx: ctx, cancel: cancel}
}

// runBody runs body as the test function of t, in its own goroutine so that
// FailNow and SkipNow can end it, then runs t's cleanups.
func (t *reportT) runBody(body func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				t.fail(fmt.Sprintf("panic: %v", r))
			}
		}()
		body(t)
	}()
	<-done
	t.cancel()
	t.mu.Lock()
	cleanups := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		t.protect(cleanups[i])
	}
}

// protect runs fn so that FailNow, SkipNow or a panic in it ends only fn.
func (t *reportT) protect(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				t.fail(fmt.Sprintf("panic in cleanup: %v", r))
			}
		}()
		fn()
	}()
	<-done
}

// run runs a subtest and reports whether it passed (or was skipped).
func (t *reportT) run(name string, body func(testing.TB)) bool {
	c := newReportT(t.rep, t.name+"/"+name, context.Background())
	c.runBody(body)
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if failed {
		t.mu.Lock()
		t.failed = true
		t.mu.Unlock()
	}
	return !failed
}

func (t *reportT) fail(msg string) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.rep.add(t.name, msg)
}

func (t *reportT) ArtifactDir() string    { return t.TempDir() }
func (t *reportT) Attr(key, value string) {}
func (t *reportT) Cleanup(fn func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, fn)
	t.mu.Unlock()
}
func (t *reportT) Error(args ...any) { t.fail(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (t *reportT) Errorf(format string, args ...any) {
	t.fail(fmt.Sprintf(format, args...))
}
func (t *reportT) Fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}
func (t *reportT) FailNow() {
	t.Fail()
	runtime.Goexit()
}
func (t *reportT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
func (t *reportT) Fatal(args ...any) {
	t.Error(args...)
	runtime.Goexit()
}
func (t *reportT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}
func (t *reportT) Helper()                          {}
func (t *reportT) Log(args ...any)                  {}
func (t *reportT) Logf(format string, args ...any)  {}
func (t *reportT) Name() string                     { return t.name }
func (t *reportT) Output() io.Writer                { return io.Discard }
func (t *reportT) Context() context.Context         { return t.ctx }
func (t *reportT) Skip(args ...any)                 { t.SkipNow() }
func (t *reportT) Skipf(format string, args ...any) { t.SkipNow() }
func (t *reportT) SkipNow() {
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	runtime.Goexit()
}
func (t *reportT) Skipped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}

func (t *reportT) TempDir() string {
	dir, err := os.MkdirTemp("", "storetest")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *reportT) Setenv(key, value string) {
	old, had := os.LookupEnv(key)
	os.Setenv(key, value)
	t.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}

func (t *reportT) Chdir(dir string) {
	old, err := os.Getwd()
	if err != nil {
		t.Fatalf("Chdir: %v", err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatalf("Chdir: %v", err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}

// run runs a named subtest of t, a *testing.T or RunReport's recorder.
func run(t testing.TB, name string, body func(t testing.TB)) bool {
	switch tt := t.(type) {
	case *testing.T:
		return tt.Run(name, func(t *testing.T) { body(t) })
	case *reportT:
		return tt.run(name, body)
	default:
		panic(fmt.Sprintf("storetest: unsupported testing.TB %T", t))
	}
}

// parallel marks a real subtest parallel; RunReport runs cases one by one.
func parallel(t testing.TB) {
	if tt, ok := t.(*testing.T); ok {
		tt.Parallel()
	}
}
