package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/internal/wordrows"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. File names
// are NNN_name.up.sql.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".up.sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration file %q does not start with a version number", name)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".up.sql"), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := range out {
		if out[i].version != i+1 {
			return nil, fmt.Errorf("pgstore: migration versions must run 1, 2, …; found %d at position %d", out[i].version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this code knows: the highest embedded
// migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates the schema if needed and applies the embedded migrations
// not yet applied, all in one transaction. It is idempotent, and safe when
// several processes migrate at once: a transaction-scoped advisory lock
// (released at commit, so it works behind transaction poolers) serialises
// them. It refuses to run, changing nothing, when the database's schema
// version is newer than this code knows.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('directorysync.migrate.' || $1, 0))`, s.cfg.Schema); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.schema); err != nil {
		return fmt.Errorf("pgstore: migrate: create schema %s: %w", s.cfg.Schema, err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+s.schema); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.schema+`.schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.schema+`.schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("pgstore: migrate: read version: %w", err)
	}
	known := len(ms)
	if current > known {
		return fmt.Errorf("pgstore: migrate: schema %s is at version %d, newer than this code knows (%d); upgrade directorysync", s.cfg.Schema, current, known)
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
		if step := migrationSteps[m.version]; step != nil {
			if err := step(ctx, tx); err != nil {
				return fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: migrate: record %s: %w", m.name, err)
		}
		s.cfg.Logger.InfoContext(ctx, "pgstore: applied migration", "schema", s.cfg.Schema, "migration", m.name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: commit: %w", err)
	}
	return nil
}

// migrationSteps are the parts of migrations written in Go, run after the
// version's SQL in the same transaction (with search_path set to the
// store's schema).
var migrationSteps = map[int]func(ctx context.Context, tx pgx.Tx) error{
	4: fillUserWords,
}

// fillUserWordsBatch is how many users migration 004 reads at a time.
const fillUserWordsBatch = 10_000

// fillUserWords writes the user_words rows of every user (migration 004)
// with wordrows.Rows, as Apply writes them, then adds the table's primary key
// and statistics.
func fillUserWords(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `DECLARE dirsync_fill_words NO SCROLL CURSOR FOR SELECT org_id, id, k_last, words FROM users`); err != nil {
		return err
	}
	for {
		rows, err := tx.Query(ctx, `FETCH `+strconv.Itoa(fillUserWordsBatch)+` FROM dirsync_fill_words`)
		if err != nil {
			return err
		}
		var batch [][]any
		var org, id, kLast string
		var words []string
		users := 0
		_, err = pgx.ForEachRow(rows, []any{&org, &id, &kLast, &words}, func() error {
			users++
			ws, lcps := wordrows.Rows(kLast, words)
			for i, w := range ws {
				batch = append(batch, []any{org, lcps[i], w, kLast, id})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if users == 0 {
			break
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"user_words"}, []string{"org_id", "lcp", "word", "k_last", "user_id"},
			pgx.CopyFromRows(batch)); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE dirsync_fill_words`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `ALTER TABLE user_words ADD CONSTRAINT user_words_pkey PRIMARY KEY (org_id, lcp, word, k_last, user_id);
		ANALYZE user_words`, pgx.QueryExecModeSimpleProtocol)
	return err
}
