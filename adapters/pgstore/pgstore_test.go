package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/directorysync/directorysync/store"
	"github.com/directorysync/directorysync/store/storetest"
)

var _ store.Store = (*Store)(nil)

// dsnEnv names the variable that points the tests at a PostgreSQL server.
const dsnEnv = "DIRSYNC_TEST_POSTGRES_DSN"

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// testPool returns the pool shared by every test, or skips the test when
// DIRSYNC_TEST_POSTGRES_DSN is unset.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" && os.Getenv("DIRSYNC_TEST_REQUIRE_POSTGRES") != "" {
		t.Fatalf("DIRSYNC_TEST_REQUIRE_POSTGRES is set but %s is not: the PostgreSQL suite must run", dsnEnv)
	}
	if dsn == "" {
		t.Skipf("%s is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests", dsnEnv)
	}
	poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			poolErr = err
			return
		}
		cfg.MaxConns = 16
		cfg.ConnConfig.RuntimeParams["jit"] = "off" // as Open does
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
		pool, poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	if poolErr != nil {
		t.Fatalf("connect to %s: %v", dsnEnv, poolErr)
	}
	return pool
}

func randomSchema() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "dirsync_test_" + hex.EncodeToString(b[:])
}

// setup returns a migrated store in a schema of its own, dropped when the
// test ends.
func setup(t testing.TB) *Store {
	t.Helper()
	p := testPool(t)
	schema := randomSchema()
	s, err := New(p, Config{Schema: schema})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if _, err := p.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+s.schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	// CI (.ci/run) names a marker file and fails unless the suite ran and
	// passed: a skipped PostgreSQL suite must not pass for one that ran. The
	// cleanup runs after every (parallel) subtest has finished.
	if m := os.Getenv("DIRSYNC_TEST_POSTGRES_MARKER"); m != "" {
		t.Cleanup(func() {
			if t.Failed() || t.Skipped() {
				return
			}
			if err := os.WriteFile(m, []byte("pgstore TestConformance passed\n"), 0o644); err != nil {
				t.Errorf("writing the CI marker: %v", err)
			}
		})
	}
	storetest.Run(t, func(t *testing.T) store.Store { return setup(t) }, storetest.Features{})
}
