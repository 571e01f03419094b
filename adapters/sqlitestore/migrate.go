package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/directorysync/directorysync/internal/wordrows"
	"github.com/directorysync/directorysync/search"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, checking that their versions
// run 1, 2, 3, … without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.up.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("sqlitestore: migration file %s: name must be NNN_description.up.sql", base)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(rest, ".up.sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlitestore: migration %03d_%s: expected version %d (versions must run 1, 2, 3, … without gaps)", m.version, m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema version this code knows.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0
	}
	return len(ms)
}

// Migrate applies the embedded migrations the database has not seen yet, in
// one BEGIN IMMEDIATE transaction, and records each in
// dirsync_schema_migrations. It is idempotent; when several processes
// migrate at once, one applies the migrations and the others wait for it
// (up to Config.BusyTimeout) and then find nothing to do. A database whose
// schema version is newer than SchemaVersion is refused.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	return s.migrate(ctx, ms)
}

func (s *Store) migrate(ctx context.Context, ms []migration) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: begin: %w", interpretError(err))
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS dirsync_schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlitestore: migrate: create dirsync_schema_migrations: %w", interpretError(err))
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM dirsync_schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlitestore: migrate: read schema version: %w", interpretError(err))
	}
	known := len(ms)
	if current > known {
		return fmt.Errorf("sqlitestore: migrate: the database's schema version is %d but this code knows only up to %d; upgrade the library (or use a database this version created)", current, known)
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlitestore: migrate: %03d_%s: %w", m.version, m.name, interpretError(err))
		}
		if step := goSteps[m.version]; step != nil {
			if err := step(ctx, tx); err != nil {
				return fmt.Errorf("sqlitestore: migrate: %03d_%s: %w", m.version, m.name, interpretError(err))
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dirsync_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, s.now().UnixNano()); err != nil {
			return fmt.Errorf("sqlitestore: migrate: record %03d_%s: %w", m.version, m.name, interpretError(err))
		}
		s.cfg.Logger.InfoContext(ctx, "sqlitestore: applied migration", slog.Int("version", m.version), slog.String("name", m.name))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: migrate: commit: %w", interpretError(err))
	}
	return nil
}

// goSteps are the parts of migrations written in Go, run after the
// migration's SQL in the same transaction.
var goSteps = map[int]func(context.Context, *sql.Tx) error{
	8: fillWordRows,
}

// fillWordRows writes the dirsync_user_words rows of every person
// (migration 008) from the stored names and sort key, as Apply writes
// them.
func fillWordRows(ctx context.Context, tx *sql.Tx) error {
	ins, err := tx.PrepareContext(ctx, qWordInsert)
	if err != nil {
		return err
	}
	defer ins.Close()
	// The word rows are written while the users are read: a connection
	// may write one table while reading another.
	rows, err := tx.QueryContext(ctx, `SELECT org, uid, first_name, last_name, email, sk_last FROM dirsync_users`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var org, first, last, email, kLast string
		var uid int64
		if err := rows.Scan(&org, &uid, &first, &last, &email, &kLast); err != nil {
			return err
		}
		ws, lcps := wordrows.Rows(kLast, search.Words(first, last, email))
		for i, w := range ws {
			if _, err := ins.ExecContext(ctx, org, lcps[i], w, uid); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// currentVersion reads the schema version recorded in the database.
func currentVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM dirsync_schema_migrations`).Scan(&v)
	return v, err
}
