// Package sqlitestore is a store.Store on SQLite through modernc.org/sqlite,
// a pure-Go driver (no cgo).
//
//	st, err := sqlitestore.Open(ctx, "dirsync.db")
//	if err != nil { … }
//	defer st.Close()
//
// # Connections
//
// Open keeps two *sql.DB handles on the one database file: a writer limited
// to a single connection (SetMaxOpenConns(1)), whose transactions begin with
// BEGIN IMMEDIATE, and a pool of readers. SQLite allows one writer at a time
// per file; funnelling every write of the process through one connection
// makes writers queue in Go rather than spin on SQLITE_BUSY, and BEGIN
// IMMEDIATE takes the write lock at the start of a transaction, so a
// transaction never fails half-way for want of it. The database runs in WAL
// mode, so readers never block the writer nor see a half-committed
// transaction.
//
// # Caveats
//
//   - Writes are serialised: a long Apply delays every other write of the
//     process (reads carry on). Other processes that open the same file wait
//     up to Config.BusyTimeout for the write lock, then fail with a database
//     error ("database is locked").
//   - WAL mode needs a local file system with working shared memory; do not
//     put the database on a network share.
//   - ":memory:" is refused: the writer and the readers would each see their
//     own empty database. Use a file in a temporary directory instead.
//   - Once the -wal file has reached 64 MiB, the WAL is checkpointed in the
//     background, on a connection of its own, at most every 250 ms after a
//     commit (a PASSIVE checkpoint, which blocks no one), so the writer
//     does not copy pages inside its commits;
//     the writer's own automatic checkpoint, at 65536 pages (256 MiB)
//     instead of SQLite's default 1000, is the backstop. The -wal file
//     beside the database can reach that size in a bulk sync, and more
//     while a long read keeps a checkpoint from finishing.
//   - The writer's page cache is 64 MiB by default (Config.CacheSizeKiB),
//     each reader's a quarter of it: memory in exchange for bulk writes that
//     do not re-read index pages.
//   - Times are stored as Unix nanoseconds, so they keep their full precision
//     but must fall between the years 1678 and 2262; they are returned in UTC.
//
// # Migrations
//
// The schema is a series of embedded, versioned migrations
// (migrations/NNN_name.up.sql). Open applies the pending ones unless
// Config.SkipMigrate is set; Migrate applies them explicitly. Migrating is
// idempotent and safe when several processes migrate at once: each runs in
// one BEGIN IMMEDIATE transaction, so the second process waits and then finds
// nothing to do. A database whose schema is newer than this code knows is
// refused with an error naming both versions. All tables are prefixed with
// dirsync_, so a host can keep them in its own database file.
//
// # Search
//
// Search and facets run in SQL over folded copies that search.Fold produced
// in Go (never SQLite's lower(), which folds only ASCII): folded department,
// division, office and email columns, a sort key column per sort order, and
// side tables of folded tag values and of name and email words (search.Words)
// compared bytewise. Text terms become index range scans over the word table
// (word >= prefix AND word < the prefix's byte successor). Pages are keyset
// ranges over (sort key, ID) indexes. Search picks the plan from stored
// counts before SQLite plans the statement (the store keeps no ANALYZE
// statistics, and without them SQLite walks the sort order's index for
// every query): for a query filtered only by tags and text, a condition
// matching few people drives it (its people are looked up by row ID and
// sorted, the other conditions checked on their rows): fewer than 3 pages,
// or fewer than sqrt(org size × page / 10) (the org size estimated from the
// facet counts), or, for a lone listed text term, under 1/25 of the org
// (a prefix's matches may all lie late in the sort order); otherwise each
// condition is checked against a list of its people, or,
// when it matches 80 pages' worth or more (a 1-letter prefix at 10k
// people), on each candidate's row: a tag in the f_tags column, a text term
// in Go against the words of the folded names and email (up to 16 pages of
// rows, then the term is listed after all). Two or more listed conditions
// drive the query from the intersection of their lists; one is probed while
// the sort order's index is walked. With two or more department, division
// and office filters, the one matching the fewest people drives.
// Apply keeps per-org counts of each facet value and spelling, so facets over
// a whole org (or a facet whose only filter is its own) read a few hundred
// rows, and of each department, division and office value with each value of
// the other facets (facet pairs), so facets filtered by one such field alone
// are sums of those rows; other facets read four narrow columns of each
// matching person once per distinct filter and count in Go, so their cost
// grows with the number of matches (about 2 ms for 2,500 people; a department
// filter's pass reads only the department index, which holds those columns).
// See the benchmarks in bench_test.go.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/directorysync/directorysync/store"
)

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// Readers is the most reader connections open at once. Defaults to 4.
	Readers int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing. Defaults to 5s.
	BusyTimeout time.Duration
	// CacheSizeKiB is SQLite's page cache per connection, in KiB. A large
	// cache matters for bulk writes into several indexes. Defaults to 65536
	// (64 MiB) for the writer; readers use a quarter of it.
	CacheSizeKiB int
	// SkipMigrate makes Open leave the schema alone; the host then calls
	// Migrate itself. Defaults to false: Open migrates.
	SkipMigrate bool
	// Now is the clock for the times the store assigns and for lease and
	// tombstone expiry. Defaults to time.Now.
	Now func() time.Time
	// Logger receives migration notes. Defaults to a logger that discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Readers == 0 {
		c.Readers = 4
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.CacheSizeKiB == 0 {
		c.CacheSizeKiB = 65536
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	switch {
	case c.Readers < 1:
		return fmt.Errorf("Readers is %d; it must be at least 1", c.Readers)
	case c.BusyTimeout < 0:
		return fmt.Errorf("BusyTimeout is %v; it must not be negative", c.BusyTimeout)
	case c.CacheSizeKiB < 0:
		return fmt.Errorf("CacheSizeKiB is %d; it must not be negative", c.CacheSizeKiB)
	}
	return nil
}

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	w   *sql.DB // one connection; transactions BEGIN IMMEDIATE
	r   *sql.DB // readers
	cfg Config
	own bool // Close closes w and r

	// ckpt checkpoints the WAL in the background (nil on handles the
	// caller opened).
	ckpt *checkpointer

	// stmts caches the readers' prepared statements by query text (each
	// *sql.Stmt is prepared once per reader connection and reused).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// maxCachedStmts bounds the statement cache; search queries vary with the
// number of filter values, so the set of texts is large but finite.
const maxCachedStmts = 512

// query runs a read query inside tx through a cached prepared statement.
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[q]
	if !ok && len(s.stmts) < maxCachedStmts {
		var err error
		if st, err = s.r.PrepareContext(ctx, q); err != nil {
			s.stmtMu.Unlock()
			return nil, err
		}
		if s.stmts == nil {
			s.stmts = make(map[string]*sql.Stmt)
		}
		s.stmts[q] = st
		ok = true
	}
	s.stmtMu.Unlock()
	if !ok {
		return tx.QueryContext(ctx, q, args...)
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and, unless
// cfg.SkipMigrate is set, migrates it. At most one Config is used.
func Open(ctx context.Context, path string, cfg ...Config) (*Store, error) {
	var c Config
	if len(cfg) > 1 {
		return nil, fmt.Errorf("sqlitestore: invalid config: %d configs given; pass at most one", len(cfg))
	}
	if len(cfg) == 1 {
		c = cfg[0]
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("sqlitestore: path %q: an in-memory database cannot be shared by the writer and the readers; use a file", path)
	}
	w, err := sql.Open("sqlite", dsn(path, c, true))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer's first connection creates the file and switches it to WAL
	// before any reader opens it.
	if err := openWriter(ctx, w, c.BusyTimeout); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, c, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(c.Readers)
	r.SetMaxIdleConns(c.Readers)
	ck, err := sql.Open("sqlite", checkpointDSN(path, c))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	s := &Store{w: w, r: r, cfg: c, own: true, ckpt: startCheckpointer(ck, path, c.Logger)}
	if !c.SkipMigrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// newWithDB makes a Store on handles the caller opened (tests inject
// go-sqlmock here). Close does not close them.
func newWithDB(writer, reader *sql.DB, cfg Config) *Store {
	cfg.setDefaults()
	return &Store{w: writer, r: reader, cfg: cfg}
}

// openWriter opens the writer's first connection, trying again for up to
// busyTimeout while the file is busy: switching a new file to WAL while
// another process opens it too can fail with SQLITE_BUSY without waiting
// (seen under load with four processes opening one new file at once).
func openWriter(ctx context.Context, w *sql.DB, busyTimeout time.Duration) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := w.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func dsn(path string, c Config, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	cache := c.CacheSizeKiB
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "wal_autocheckpoint(65536)")
		q.Set("_txlock", "immediate")
	} else {
		cache /= 4
		q.Add("_pragma", "query_only(1)")
	}
	if cache > 0 {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cache))
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// checkpointDSN is the DSN of the background checkpointer's connection:
// no cache to speak of, and never a writer of rows.
func checkpointDSN(path string, c Config) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "cache_size(-256)")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Close closes the database handles.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	errs = append(errs, s.ckpt.close())
	if s.own {
		errs = append(errs, s.r.Close(), s.w.Close())
	}
	return errors.Join(errs...)
}

func (s *Store) now() time.Time { return s.cfg.Now().UTC() }
