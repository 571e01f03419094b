package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/adapters/pgstore"
	"github.com/directorysync/directorysync/adapters/sqlitestore"
	"github.com/directorysync/directorysync/store"
)

// The stores the harness measures.
const (
	Memory   = "memory"
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// benchStore is a fresh, empty store of one kind, with what the harness
// needs beside the store.Store: a way to count rows written, and the raw
// load into the same tables.
type benchStore struct {
	store.Store
	// writes returns a function that counts the rows written since
	// writes was called (for memstore: journal entries).
	writes func(ctx context.Context) (func(ctx context.Context) (int64, error), error)
	// raw prepares people's rows for the raw load and returns the load
	// itself, which the caller times; nil for memstore.
	raw func(ctx context.Context, org string, people []rawPerson) (func(context.Context) error, error)
	// settle does after a bulk load what PostgreSQL's autovacuum does
	// within a minute (vacuum and planner statistics); nil where the store
	// has nothing to do.
	settle func(ctx context.Context) error
	close  func() error
}

var storeSeq atomic.Int64

// openStore opens a fresh, empty store of kind under spec.
func openStore(ctx context.Context, spec Spec, kind string) (*benchStore, error) {
	n := storeSeq.Add(1)
	switch kind {
	case Memory:
		st := memstore.New()
		bs := &benchStore{Store: st, close: func() error { return nil }}
		bs.writes = func(ctx context.Context) (func(context.Context) (int64, error), error) {
			return journalWrites(ctx, st)
		}
		return bs, nil
	case SQLite:
		path := filepath.Join(spec.Dir, fmt.Sprintf("bench-%d-%d.db", os.Getpid(), n))
		return openSQLite(ctx, path)
	case Postgres:
		if spec.PostgresDSN == "" {
			return nil, errors.New("the postgres store needs a DSN (-postgres or DIRSYNC_TEST_POSTGRES_DSN)")
		}
		return openPostgres(ctx, spec.PostgresDSN, fmt.Sprintf("dirsync_bench_%d_%d", os.Getpid(), n))
	}
	return nil, fmt.Errorf("unknown store %q (want %s, %s or %s)", kind, Memory, SQLite, Postgres)
}

// journalWrites counts journal entries: all a store-agnostic check can see.
func journalWrites(ctx context.Context, st store.Store) (func(context.Context) (int64, error), error) {
	orgs := []string{benchOrg}
	before := map[string]int64{}
	for _, o := range orgs {
		s, err := st.LastSeq(ctx, o)
		if err != nil {
			return nil, err
		}
		before[o] = s
	}
	return func(ctx context.Context) (int64, error) {
		var n int64
		for _, o := range orgs {
			s, err := st.LastSeq(ctx, o)
			if err != nil {
				return 0, err
			}
			n += s - before[o]
		}
		return n, nil
	}, nil
}

func openSQLite(ctx context.Context, path string) (*benchStore, error) {
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	// A second handle on the same file, for the raw load and the row
	// checks, with the store's pragmas.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "foreign_keys(1)", "synchronous(NORMAL)", "temp_store(MEMORY)",
		"journal_mode(WAL)", "cache_size(-65536)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		st.Close()
		return nil, err
	}
	db.SetMaxOpenConns(1)
	bs := &benchStore{Store: st}
	bs.close = func() error {
		err := errors.Join(st.Close(), db.Close())
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
		return err
	}
	bs.raw = func(ctx context.Context, org string, people []rawPerson) (func(context.Context) error, error) {
		return rawSQLite(ctx, db, org, people)
	}
	bs.writes = func(ctx context.Context) (func(context.Context) (int64, error), error) {
		before, err := sqliteFingerprint(ctx, db)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (int64, error) {
			after, err := sqliteFingerprint(ctx, db)
			if err != nil {
				return 0, err
			}
			var n int64
			for i := range after {
				d := after[i] - before[i]
				n += max(d, -d)
			}
			return n, nil
		}, nil
	}
	return bs, nil
}

// sqliteFingerprint sums what any write to the people's tables changes:
// row counts, the users' row versions and update times, the journal counter.
func sqliteFingerprint(ctx context.Context, db *sql.DB) ([]int64, error) {
	var f [7]int64
	err := db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM dirsync_users),
		(SELECT coalesce(sum(version), 0) FROM dirsync_users),
		(SELECT count(*) FROM dirsync_user_words),
		(SELECT count(*) FROM dirsync_user_tags),
		(SELECT count(*) FROM dirsync_changes),
		(SELECT coalesce(sum(seq), 0) FROM dirsync_counters),
		(SELECT count(*) FROM dirsync_members)`).Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6])
	if err != nil {
		return nil, fmt.Errorf("count SQLite rows: %w", err)
	}
	return f[:], nil
}

// pgTables are the tables a sync of people writes.
var pgTables = []string{"users", "user_words", "user_tags", "facet_counts", "changes", "counters", "groups", "memberships"}

// pgOptionalTables are written by a sync in newer schemas.
var pgOptionalTables = []string{"user_sources", "facet_pairs"}

func openPostgres(ctx context.Context, dsn, schema string) (*benchStore, error) {
	if err := CheckLoopback(dsn); err != nil {
		return nil, err
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema})
	if err != nil {
		return nil, err
	}
	drop := func() error {
		_, err := st.Pool().Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		drop()
		st.Close()
		return nil, err
	}
	qs := pgx.Identifier{schema}.Sanitize()
	tables := slices.Clone(pgTables)
	for _, t := range pgOptionalTables {
		var exists bool
		if err := st.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, qs+"."+t).Scan(&exists); err != nil {
			drop()
			st.Close()
			return nil, err
		}
		if exists {
			tables = append(tables, t)
		}
	}
	bs := &benchStore{Store: st}
	bs.close = func() error {
		err := drop()
		st.Close()
		return err
	}
	bs.raw = func(ctx context.Context, org string, people []rawPerson) (func(context.Context) error, error) {
		return rawPostgres(ctx, st.Pool(), schema, org, people)
	}
	bs.settle = func(ctx context.Context) error {
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = qs + "." + t
		}
		// VACUUM as well as ANALYZE: autovacuum (PostgreSQL 13 on) vacuums a
		// table after bulk inserts as well as after updates, which sets the
		// visibility map that index-only scans need; without it every
		// index entry a search reads costs a heap visit (seconds per query
		// after a remap of a million rows).
		if _, err := st.Pool().Exec(ctx, `VACUUM (ANALYZE) `+strings.Join(names, ", ")); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
		return nil
	}
	count := func(ctx context.Context, since int64) (rows, newer int64, err error) {
		for _, t := range tables {
			var r, n int64
			err := st.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE xmin::text::bigint >= $1)
				FROM `+qs+`.`+t, since).Scan(&r, &n)
			if err != nil {
				return 0, 0, fmt.Errorf("count PostgreSQL rows of %s: %w", t, err)
			}
			rows += r
			newer += n
		}
		return rows, newer, nil
	}
	bs.writes = func(ctx context.Context) (func(context.Context) (int64, error), error) {
		// Transaction IDs from here on are this check's: rows whose xmin is
		// at least the next one were written (inserted or updated) after it.
		var next int64
		if err := st.Pool().QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint % 4294967296`).Scan(&next); err != nil {
			return nil, fmt.Errorf("read the next PostgreSQL transaction ID: %w", err)
		}
		before, _, err := count(ctx, next)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (int64, error) {
			after, newer, err := count(ctx, next)
			if err != nil {
				return 0, err
			}
			return newer + max(0, before-after), nil
		}, nil
	}
	return bs, nil
}

// CheckLoopback returns an error unless every host a PostgreSQL DSN names
// is on this machine (a loopback address, "localhost" or a Unix socket):
// the benchmark must send traffic nowhere else.
func CheckLoopback(dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse the PostgreSQL DSN: %w", err)
	}
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") || h == "localhost" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			continue
		}
		return fmt.Errorf("the PostgreSQL DSN names host %q; the benchmark runs only against a database on loopback (127.0.0.1, ::1, localhost or a Unix socket)", h)
	}
	return nil
}
