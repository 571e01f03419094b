package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

var _ store.Store = (*Store)(nil)

// setup opens a fresh, migrated store in the test's temporary directory.
func setup(t testing.TB, cfg ...Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "dirsync.db"), cfg...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return setup(t) }, storetest.Features{})
}
