// Package pgstore is the PostgreSQL store.Store, on github.com/jackc/pgx/v5.
//
// Open connects with a DSN; New wraps a host's existing *pgxpool.Pool. The
// tables live in one schema (Config.Schema, "dirsync" by default) so they sit
// beside the host's own. Migrate applies the embedded migrations; call it once
// at start-up (it is idempotent and safe to run from several processes).
//
// # How it works
//
//   - Apply runs one READ COMMITTED transaction. Leases are rows (org, holder,
//     token, expiry): a fenced Apply reads the org's lease row FOR SHARE and
//     checks token and expiry, so a lease cannot change hands until the
//     write commits. No advisory locks are held across statements, so the
//     store works behind transaction poolers.
//   - User and group writes are compare-and-set: rows to change or delete
//     are read FOR UPDATE (in ID order, so concurrent applies cannot
//     deadlock) and checked in Go (version, then provider updated_at).
//     Changed users are written by one pipelined batch (UPDATE … FROM
//     unnest(arrays), and only the word and tag side rows that changed).
//     New users, their side rows and the journal entries go in by COPY
//     straight into the tables. Measured here (BenchmarkFullSync, 100k
//     people, a shared 2-core machine under load), that bulk path took
//     0.36-0.69x the time of the raw baseline of COPY into temporary tables
//     plus one INSERT … ON CONFLICT merge per table, and about 1.75x that of
//     a bare COPY of the same rows; INSERT … SELECT FROM unnest(arrays)
//     measured 0.96-1.08x of the merge baseline, so COPY it is. A COPY that
//     meets an existing key fails whole, so the request is then retried once
//     with INSERT … ON CONFLICT DO NOTHING, which names the write that
//     conflicts. A no-op resync sends no Apply and so writes and locks
//     nothing; an empty ApplyRequest does not even open a transaction.
//   - Journal sequences come from a per-org counter row updated as the last
//     write of the transaction, so commits land in sequence order, a reader
//     never skips an entry, and the counter row is locked only briefly.
//   - Search and facets are SQL over folded copies made in Go by search.Fold
//     and compared bytewise (COLLATE "C"): folded department, division,
//     office and sort keys on the users table, each of the three filters
//     with an (org, value, last-name key, id) index; tags and name/email
//     words in side tables keyed (org, value, last-name key, user)
//     (migration 002), and again as arrays in the users row (tag_fields,
//     tag_values, words). A text term is a range word >= prefix AND
//     word < successor(prefix). A user's words that start the way the
//     user's last-name sort key does are found, for a term no longer than
//     what they share (user_words.lcp, migration 004), in the sort key's
//     range [term, successor(term)) instead: user_words keeps only the rows
//     a term of that length needs, and in the default sort a term drives
//     from both sources, merged. Pages are keyset pagination on (sort key,
//     ID). A single filter value compares with =, so its index is read in
//     sort order.
//   - Apply keeps facet_counts: people per (facet, folded value, spelling,
//     status). Whole-org facets and every facet label read those rows; a
//     filtered facet counts the matching people's columns and tag arrays
//     (one GROUPING SETS pass and one unnest pass). Search sizes a tag
//     filter from facet_counts and each simple text term by counting up to
//     5000 of its user_words rows (beyond that, by the planner's estimate),
//     prices each plan in user rows read, and takes the cheapest: walk the
//     sort index (or a field filter's index), checking tags and words on
//     each row; or, in the default sort, read (last-name key, user) pairs
//     from the side tables — a tag's index range is already in page order
//     and is read with LIMIT; a term's pairs come from the index alone and
//     only the first few thousand are sorted (top-N), read again with more
//     if the page comes back short; a tag with terms reads the intersection
//     of their pairs — probing a tag that does not drive in user_tags per
//     pair, and reading only the users of the page. A two-character term
//     (the commonest typed prefix) is one range of migration 006's index
//     (partial since 007: only the rows such terms read) in page order: read until the page is full, and with a one-value tag
//     filter merged with the tag's range (a merge semi join, or a probe per
//     pair for a common tag). Other terms with one tag value read only the
//     pairs up to the sort key of the tag's n-th holder after the cursor
//     (n enough for four pages by the estimates; more if the page comes
//     back short). In the other sorts a
//     small tag or term set is looked up by primary key and sorted. The
//     sizes are taken as independent except for a term and the last-name
//     order: the users a term matches by the start of their sort key sit
//     together in that order, and are read from there (leadPage).
//
// # Caveats
//
//   - PostgreSQL text cannot hold NUL bytes or invalid UTF-8: Apply refuses
//     such strings with store.ErrInvalid naming the field. Lookups by such a
//     value find nothing.
//   - Times are stored as Unix nanoseconds, so they round-trip exactly; a
//     time before 1678 or after 2261 is refused with store.ErrInvalid.
//   - Snapshot and Memberships hold a pooled connection while they call fn;
//     fn may call the store again only if the pool has a spare connection.
//   - LoadUsers by idp ID or email without OnlyInactive reads all of the
//     org's rows (only inactive users are indexed for identity matching).
//   - Search costs one extra round trip (sizing the filters) when it has a
//     tag or text filter — except, in an org a sized search found to have
//     fewer than 20,000 people of the status in the last 30 s, for a tag
//     alone or a two-character term — and, when a term drives, a second
//     query at the same time (its sort-key range). At a million people in
//     one org (measured on a 2-core machine whose 128 MB of shared buffers
//     hold little of it), a tag with a one-letter text term still reads
//     thousands of side-table pairs (tag plus text: 24 ms p99), and a
//     search whose pages are not in the OS cache either takes several
//     times as long. Facets filtered by more than one field, or by a tag or
//     text, count the matching rows (their index entries and tag arrays):
//     seconds when they match a quarter of a million people.
//   - RedactSubject and PruneChanges scan the org's journal; they are meant
//     for occasional maintenance, not for a hot path.
//   - Open turns PostgreSQL's JIT compilation off for its connections (it
//     added about 140 ms of compilation to a single facet query), sets
//     plan_cache_mode=force_custom_plan (a generic plan of a cached search
//     statement is one plan for every filter value) and
//     max_parallel_workers_per_gather=0 (starting parallel workers cost
//     about 30 ms, on a 2-core machine, for searches that take a few
//     milliseconds: one- and two-letter prefixes at a million people went
//     from 57 and 49 ms p99 to 19 and 24); a pool given to New keeps its
//     own settings, so set all three there too. A DSN that names one of
//     them as a parameter of its own keeps its value; one set inside the
//     DSN's options parameter (or PGOPTIONS) is overridden.
//   - Behind PgBouncer in transaction mode, configure the pool with a query
//     exec mode that does not rely on named prepared statements
//     (pgx.QueryExecModeExec or QueryExecModeSimpleProtocol).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/directorysync/directorysync/store"
)

// Config configures a Store. The zero value is valid.
type Config struct {
	// Schema is the PostgreSQL schema that holds the store's tables; it must
	// be a lower-case identifier of at most 63 characters. Defaults to
	// "dirsync".
	Schema string
	// Logger receives migration messages. Defaults to a discarding logger.
	Logger *slog.Logger
	// Now returns the current time; it stamps rows and judges lease expiry.
	// Defaults to time.Now.
	Now func() time.Time
}

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = "dirsync"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	if !schemaPattern.MatchString(c.Schema) {
		return fmt.Errorf("schema %q must match %s", c.Schema, schemaPattern)
	}
	return nil
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	cfg     Config
	schema  string // quoted identifier
	// sizes remembers, by org and status, how many people the last sized
	// search found (an orgSize), so that searches in small orgs skip the
	// sizing round trip (see smallOrg).
	sizes sync.Map
}

// Open connects to the database at dsn (a PostgreSQL URL or key=value
// string) and returns a Store that owns its pool; Close closes it. The
// first Config, if any, is used.
func Open(ctx context.Context, dsn string, cfg ...Config) (*Store, error) {
	var c Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("pgstore: invalid config: %w", err)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse DSN: %w", err)
	}
	// JIT compilation costs more than it saves on the store's short
	// queries. A generic plan, which PostgreSQL may switch a prepared
	// statement to after five executions, is one plan for every filter
	// value: at a million people it read a common department's rows for a
	// rare one (two-field filters 6.3 ms p50 generic, 2.0 ms custom).
	// Parallel workers take tens of milliseconds to start, longer than
	// the searches they would split. A host pool given to New wants the
	// same settings (see New).
	for k, v := range map[string]string{"jit": "off", "plan_cache_mode": "force_custom_plan", "max_parallel_workers_per_gather": "0"} {
		if _, ok := pc.ConnConfig.RuntimeParams[k]; !ok {
			pc.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s, err := New(pool, c)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New returns a Store on a pool the host owns; Close leaves the pool open.
// The store's searches want the pool's connections to run with jit=off,
// plan_cache_mode=force_custom_plan and max_parallel_workers_per_gather=0,
// which Open sets: add them to the
// pool's ConnConfig.RuntimeParams (or the role's settings) where the
// host's own queries allow.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: invalid config: nil pool")
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pgstore: invalid config: %w", err)
	}
	return &Store{pool: pool, cfg: cfg, schema: pgx.Identifier{cfg.Schema}.Sanitize()}, nil
}

// Close closes the pool if Open created it.
func (s *Store) Close() {
	if s.ownPool {
		s.pool.Close()
	}
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.cfg.Schema }

// sql qualifies the table names of q: "{S}." becomes the quoted schema.
func (s *Store) sql(q string) string { return strings.ReplaceAll(q, "{S}.", s.schema+".") }

// interpretError maps a PostgreSQL or pgx error to the store's sentinels,
// keeping the original error in the chain. Other errors pass unchanged.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case "22021", "22P05", "23502", "23503", "23514", "22001", "54000":
			// invalid byte sequence, untranslatable character (NUL), not-null,
			// foreign key, check, value too long, program limit exceeded.
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	return err
}

// Times are stored as Unix nanoseconds; NULL is the zero time.
var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%w: %s %s is outside the storable range (1678 to 2261)", store.ErrInvalid, field, t.Format(time.RFC3339))
	}
	return nil
}

// tsArg is a nullable nanosecond timestamp argument.
func tsArg(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func tsPtrArg(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	return tsArg(*t)
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

func fromNanosPtr(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := time.Unix(0, *n).UTC()
	return &t
}

// checkText reports why s cannot be stored in a PostgreSQL text column.
func checkText(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s contains a NUL byte, which PostgreSQL text cannot hold", store.ErrInvalid, field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", store.ErrInvalid, field)
	}
	return nil
}

// storable reports whether s can be a lookup key; a key that cannot be
// stored matches nothing.
func storable(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }

func storableAll(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if storable(s) {
			out = append(out, s)
		}
	}
	return out
}
