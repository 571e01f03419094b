package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// The raw database limit: the rows a cold sync of the same people writes
// (users with their folded copies and sort keys, the word and tag side
// tables, one journal entry each and the journal counter), written into the
// same tables and indexes by the database's fastest plain path, with none
// of the engine's or the store's logic. The rows are computed before the
// clock starts.

// rawBatch is the number of people per raw PostgreSQL transaction.
const rawBatch = 1000

// rawPerson is everything the raw load writes for one person.
type rawPerson struct {
	u      *store.User
	tags   string // JSON, "" for none
	words  []string
	tagRow []rawTag
	after  string // the created entry's fields, JSON
	fEmail string
	fDept  string
	fDiv   string
	fOff   string
	kLast  string
	kFirst string
	kEmail string
}

type rawTag struct{ field, folded, value string }

func rawPeople(users []store.User) ([]rawPerson, error) {
	out := make([]rawPerson, len(users))
	for i := range users {
		u := &users[i]
		p := rawPerson{
			u:      u,
			words:  search.Words(u.FirstName, u.LastName, u.Email),
			fEmail: search.Fold(u.Email),
			fDept:  search.Fold(u.Department),
			fDiv:   search.Fold(u.Division),
			fOff:   search.Fold(u.Office),
			kLast:  search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email),
			kFirst: search.SortKey(search.SortFirstName, u.FirstName, u.LastName, u.Email),
			kEmail: search.SortKey(search.SortEmail, u.FirstName, u.LastName, u.Email),
		}
		if len(u.Tags) > 0 {
			b, err := json.Marshal(u.Tags)
			if err != nil {
				return nil, fmt.Errorf("raw rows: tags of %s: %w", u.ID, err)
			}
			p.tags = string(b)
		}
		for _, t := range store.NormalizeTags(u.Tags) {
			if f := search.Fold(t.Value); f != "" {
				p.tagRow = append(p.tagRow, rawTag{t.Field, f, t.Value})
			}
		}
		_, after := store.Diff(&store.User{}, u)
		b, err := json.Marshal(after)
		if err != nil {
			return nil, fmt.Errorf("raw rows: journal entry of %s: %w", u.ID, err)
		}
		p.after = string(b)
		out[i] = p
	}
	return out, nil
}

func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func nanosPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

func textOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// pgUserCols are the columns of pgstore's users table.
var pgUserCols = []string{"org_id", "id", "source_id", "external_id", "idp_id", "email", "first_name", "last_name",
	"department", "division", "office", "title", "tags", "active", "source", "source_hash", "profile_hash",
	"mapping_version", "provider_updated_at", "version", "created_at", "updated_at", "deactivated_at",
	"f_email", "f_department", "f_division", "f_office", "k_last", "k_first"}

// rawPostgres writes people into pgstore's tables in schema: per batch of
// rawBatch, one transaction that COPYs the rows into temporary tables and
// merges each into its table with INSERT … ON CONFLICT, then sets the
// journal counter.
func rawPostgres(ctx context.Context, pool *pgxpool.Pool, schema, org string, people []rawPerson) error {
	now := time.Now().UnixNano()
	var seq int64
	for start := 0; start < len(people); start += rawBatch {
		batch := people[start:min(start+rawBatch, len(people))]
		var users, words, tags, changes [][]any
		for i := range batch {
			p := &batch[i]
			u := p.u
			users = append(users, []any{org, u.ID, u.SourceID, u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName,
				u.Department, u.Division, u.Office, u.Title, textOrNil(p.tags), u.Active, bytesOrNil(u.Source),
				u.SourceHash, u.ProfileHash, u.MappingVersion, nanos(u.ProviderUpdatedAt), int64(1), now, now,
				nanosPtr(u.DeactivatedAt), p.fEmail, p.fDept, p.fDiv, p.fOff, p.kLast, p.kFirst})
			for _, w := range p.words {
				words = append(words, []any{org, w, u.ID})
			}
			for _, t := range p.tagRow {
				tags = append(tags, []any{org, t.folded, u.ID, t.field, t.value})
			}
			seq++
			changes = append(changes, []any{org, seq, string(store.ChangeCreated), u.ID, nil, p.after, "run_raw", now})
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, t := range []struct {
				table string
				cols  []string
				rows  [][]any
				merge string
			}{
				{"users", pgUserCols, users, `ON CONFLICT (org_id, id) DO UPDATE SET email = excluded.email, version = excluded.version`},
				{"user_words", []string{"org_id", "word", "user_id"}, words, `ON CONFLICT DO NOTHING`},
				{"user_tags", []string{"org_id", "f_value", "user_id", "field", "value"}, tags, `ON CONFLICT DO NOTHING`},
				{"changes", []string{"org_id", "seq", "kind", "subject_id", "before", "after", "cause", "at"}, changes, `ON CONFLICT DO NOTHING`},
			} {
				tmp := "raw_" + t.table
				if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+tmp+` (LIKE `+schema+`.`+t.table+`) ON COMMIT DROP`); err != nil {
					return fmt.Errorf("temp table for %s: %w", t.table, err)
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
					return fmt.Errorf("copy %s: %w", t.table, err)
				}
				cols := strings.Join(t.cols, ", ")
				if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.`+t.table+` (`+cols+`) SELECT `+cols+` FROM `+tmp+` `+t.merge); err != nil {
					return fmt.Errorf("merge %s: %w", t.table, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.counters (org_id, seq) VALUES ($1, $2)
				ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq`, org, seq)
			return err
		})
		if err != nil {
			return fmt.Errorf("raw PostgreSQL load, batch at %d: %w", start, err)
		}
	}
	return nil
}

// The statements sqlitestore writes a new person with.
const (
	sqliteUserUpsert = `INSERT INTO dirsync_users (org, id, source_id, external_id, idp_id, email, first_name, last_name,
		department, division, office, title, tags, active, source, source_hash, profile_hash, mapping_version,
		provider_updated_at, version, created_at, updated_at, deactivated_at,
		f_email, f_department, f_division, f_office, sk_last, sk_first, sk_email)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, id) DO UPDATE SET email = excluded.email RETURNING uid`
	sqliteWordInsert   = `INSERT INTO dirsync_user_words (org, word, uid) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	sqliteTagInsert    = `INSERT INTO dirsync_user_tags (org, folded, value, field, uid) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	sqliteChangeInsert = `INSERT INTO dirsync_changes (org, seq, kind, subject_id, before, after, cause, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqliteCounterSet   = `INSERT INTO dirsync_counters (org, seq) VALUES (?, ?) ON CONFLICT (org) DO UPDATE SET seq = excluded.seq`
)

// rawSQLite writes people into sqlitestore's tables with prepared
// statements in one transaction, on db (a connection to a migrated file).
func rawSQLite(ctx context.Context, db *sql.DB, org string, people []rawPerson) (err error) {
	now := time.Now().UnixNano()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("raw SQLite load: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var stmts [4]*sql.Stmt
	for i, q := range []string{sqliteUserUpsert, sqliteWordInsert, sqliteTagInsert, sqliteChangeInsert} {
		if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("raw SQLite load: prepare: %w", err)
		}
		defer stmts[i].Close()
	}
	insUser, insWord, insTag, insChange := stmts[0], stmts[1], stmts[2], stmts[3]
	for i := range people {
		p := &people[i]
		u := p.u
		tags := p.tags
		if tags == "" {
			tags = "[]"
		}
		var uid int64
		err := insUser.QueryRowContext(ctx, org, u.ID, u.SourceID, u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName,
			u.Department, u.Division, u.Office, u.Title, tags, u.Active, bytesOrNil(u.Source), u.SourceHash, u.ProfileHash,
			u.MappingVersion, nanos(u.ProviderUpdatedAt), 1, now, now, nanosPtr(u.DeactivatedAt),
			p.fEmail, p.fDept, p.fDiv, p.fOff, p.kLast, p.kFirst, p.kEmail).Scan(&uid)
		if err != nil {
			return fmt.Errorf("raw SQLite load: user %s: %w", u.ID, err)
		}
		for _, w := range p.words {
			if _, err := insWord.ExecContext(ctx, org, w, uid); err != nil {
				return fmt.Errorf("raw SQLite load: word of %s: %w", u.ID, err)
			}
		}
		for _, t := range p.tagRow {
			if _, err := insTag.ExecContext(ctx, org, t.folded, t.value, t.field, uid); err != nil {
				return fmt.Errorf("raw SQLite load: tag of %s: %w", u.ID, err)
			}
		}
		if _, err := insChange.ExecContext(ctx, org, int64(i+1), string(store.ChangeCreated), u.ID, nil, p.after, "run_raw", now); err != nil {
			return fmt.Errorf("raw SQLite load: journal entry of %s: %w", u.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqliteCounterSet, org, len(people)); err != nil {
		return fmt.Errorf("raw SQLite load: counter: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("raw SQLite load: commit: %w", err)
	}
	return nil
}
