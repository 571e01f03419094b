package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("IsIdempotent", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		for range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		v, err := currentVersion(ctx, s.r)
		if err != nil {
			t.Fatal(err)
		}
		if want := SchemaVersion(); v != want || want < 1 {
			t.Errorf("schema version %d, want %d (at least 1)", v, want)
		}
	})

	t.Run("IsSafeWhenSeveralProcessesMigrateAtOnce", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "shared.db")
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, err := Open(ctx, path)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
			}
		}
		s, err := Open(ctx, path, Config{SkipMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var rows int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM dirsync_schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != SchemaVersion() {
			t.Errorf("%d migrations recorded, want each of the %d once", rows, SchemaVersion())
		}
	})

	t.Run("RefusesADatabaseWithANewerSchema", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "newer.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO dirsync_schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`, SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "knows only up to") {
			t.Fatalf("Open of a newer database returned %v, want an error naming both versions", err)
		}
	})

	t.Run("SkipMigrateLeavesTheSchemaAlone", func(t *testing.T) {
		t.Parallel()
		s := setup(t, Config{SkipMigrate: true})
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'dirsync_users'`).Scan(&n)
		if err != nil || n != 0 {
			t.Fatalf("dirsync_users exists (%d, %v) although migration was skipped", n, err)
		}
	})

	t.Run("RejectsMigrationFilesWithAGap", func(t *testing.T) {
		t.Parallel()
		fsys := fstest.MapFS{
			"migrations/001_a.up.sql": {Data: []byte("SELECT 1")},
			"migrations/003_c.up.sql": {Data: []byte("SELECT 1")},
		}
		if _, err := loadMigrations(fsys); err == nil || !strings.Contains(err.Error(), "expected version 2") {
			t.Fatalf("loadMigrations returned %v, want an error about the missing version 2", err)
		}
	})

	t.Run("RejectsABadlyNamedMigrationFile", func(t *testing.T) {
		t.Parallel()
		fsys := fstest.MapFS{"migrations/first.up.sql": {Data: []byte("SELECT 1")}}
		if _, err := loadMigrations(fsys); err == nil {
			t.Fatal("loadMigrations accepted a file without a version number")
		}
	})

	t.Run("RollsBackAFailedMigration", func(t *testing.T) {
		t.Parallel()
		s := setup(t, Config{SkipMigrate: true})
		ms := []migration{{1, "ok", "CREATE TABLE a (x)"}, {2, "broken", "CREATE TABLE"}}
		err := s.migrate(ctx, ms)
		if err == nil || !strings.Contains(err.Error(), "002_broken") {
			t.Fatalf("migrate returned %v, want an error naming 002_broken", err)
		}
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'a'`).Scan(&n); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("table a of the first migration survived the failed migration")
		}
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, path string
		cfg        Config
		want       string
	}{
		{"RefusesAnInMemoryDatabase", ":memory:", Config{}, "in-memory"},
		{"RefusesAnEmptyPath", "", Config{}, "in-memory"},
		{"RefusesNegativeReaders", "x.db", Config{Readers: -1}, "invalid config: Readers"},
		{"RefusesANegativeBusyTimeout", "x.db", Config{BusyTimeout: -1}, "invalid config: BusyTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path != "" && path != ":memory:" {
				path = filepath.Join(t.TempDir(), path)
			}
			s, err := Open(ctx, path, tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open returned %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPrefixUpper(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a", "b", true},
		{"ab", "ac", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"é", "\xc3\xaa", true},
		{"z\xc3\xbf", "z\xc3\xc0", true},
	} {
		got, ok := prefixUpper(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixUpper(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		// Every string with the prefix sorts below the bound.
		for _, suffix := range []string{"", "a", "\xff\xff\xff", "zzz"} {
			if s := tc.in + suffix; ok && !(s < got) {
				t.Errorf("%q is not below the bound %q of prefix %q", s, got, tc.in)
			}
		}
	}
}
