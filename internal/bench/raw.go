package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/directorysync/directorysync/internal/wordrows"
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
	u     *store.User
	tags  string // JSON, "" for none
	words []string
	// rowWords and rowLcps are the word side tables' rows
	// (wordrows.Rows), both stores'.
	rowWords []string
	rowLcps  []int16
	tagRow   []rawTag
	after    string // the created entry's fields, JSON
	fEmail   string
	fDept    string
	fDiv     string
	fOff     string
	kLast    string
	kFirst   string
	kEmail   string
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
		p.rowWords, p.rowLcps = wordrows.Rows(p.kLast, p.words)
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

// pgUserValues are the users row (and the user_sources row, for a schema
// that keeps source records apart) of p by column name.
func pgUserValues(org string, p *rawPerson, now int64) map[string]any {
	u := p.u
	return map[string]any{
		"org_id": org, "id": u.ID, "source_id": u.SourceID, "external_id": u.ExternalID, "idp_id": u.IdpID,
		"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "department": u.Department,
		"division": u.Division, "office": u.Office, "title": u.Title, "tags": textOrNil(p.tags), "active": u.Active,
		"source": bytesOrNil(u.Source), "source_hash": u.SourceHash, "profile_hash": u.ProfileHash,
		"mapping_version": u.MappingVersion, "provider_updated_at": nanos(u.ProviderUpdatedAt), "version": int64(1),
		"created_at": now, "updated_at": now, "deactivated_at": nanosPtr(u.DeactivatedAt),
		"f_email": p.fEmail, "f_department": p.fDept, "f_division": p.fDiv, "f_office": p.fOff,
		"k_last": p.kLast, "k_first": p.kFirst, "k_email": p.kEmail,
	}
}

// pgColumns returns the columns of schema.table that known fills, in
// table order, or nil if there is no such table; a NOT NULL column without
// default that known lacks is an error naming it.
func pgColumns(ctx context.Context, pool *pgxpool.Pool, schema, table string, known map[string]any) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT column_name, is_nullable = 'NO', column_default IS NOT NULL
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("raw PostgreSQL load: columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name string
		var notNull, hasDefault bool
		if err := rows.Scan(&name, &notNull, &hasDefault); err != nil {
			return nil, err
		}
		if _, ok := known[name]; ok {
			cols = append(cols, name)
		} else if notNull && !hasDefault {
			return nil, fmt.Errorf("raw PostgreSQL load: %s has a column %q the raw load does not fill; teach internal/bench about it", table, name)
		}
	}
	return cols, rows.Err()
}

// rawPostgres prepares the rows of people for pgstore's tables in schema
// and returns the load, which the caller times: per batch of rawBatch, one
// transaction that COPYs the rows into temporary tables and merges each
// into its table with INSERT … ON CONFLICT, then sets the journal counter.
func rawPostgres(ctx context.Context, pool *pgxpool.Pool, schema, org string, people []rawPerson) (func(context.Context) error, error) {
	if len(people) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	now := time.Now().UnixNano()
	qs := pgx.Identifier{schema}.Sanitize()
	sample := pgUserValues(org, &people[0], now)
	userCols, err := pgColumns(ctx, pool, schema, "users", sample)
	if err != nil {
		return nil, err
	}
	srcCols, err := pgColumns(ctx, pool, schema, "user_sources", map[string]any{"org_id": 0, "id": 0, "source": 0})
	if err != nil {
		return nil, err
	}
	// The side tables' columns, read too: newer schemas carry the sort key.
	wordCols, err := pgColumns(ctx, pool, schema, "user_words", map[string]any{"org_id": 0, "word": 0, "user_id": 0, "k_last": 0, "lcp": 0})
	if err != nil {
		return nil, err
	}
	tagCols, err := pgColumns(ctx, pool, schema, "user_tags", map[string]any{"org_id": 0, "f_value": 0, "user_id": 0, "field": 0, "value": 0, "k_last": 0})
	if err != nil {
		return nil, err
	}
	// byName picks a row's values in cols order from vals, whose names are
	// names (positions worked out once, not per row).
	byName := func(cols, names []string) func(vals ...any) []any {
		pos := make([]int, len(cols))
		for k, c := range cols {
			pos[k] = slices.Index(names, c)
		}
		return func(vals ...any) []any {
			row := make([]any, len(pos))
			for k, p := range pos {
				row[k] = vals[p]
			}
			return row
		}
	}
	wordRow := byName(wordCols, []string{"org_id", "word", "user_id", "k_last", "lcp"})
	tagRow := byName(tagCols, []string{"org_id", "f_value", "user_id", "field", "value", "k_last"})
	type load = rawLoad
	type batchLoad struct {
		start int
		loads []load
		seq   int64
	}
	var batches []batchLoad
	var seq int64
	for start := 0; start < len(people); start += rawBatch {
		batch := people[start:min(start+rawBatch, len(people))]
		var users, sources, words, tags, changes [][]any
		for i := range batch {
			p := &batch[i]
			u := p.u
			vals := pgUserValues(org, p, now)
			row := make([]any, len(userCols))
			for k, c := range userCols {
				row[k] = vals[c]
			}
			users = append(users, row)
			if len(srcCols) > 0 {
				row := make([]any, len(srcCols))
				for k, c := range srcCols {
					row[k] = vals[c]
				}
				sources = append(sources, row)
			}
			for k, w := range p.rowWords {
				words = append(words, wordRow(org, w, u.ID, p.kLast, p.rowLcps[k]))
			}
			for _, t := range p.tagRow {
				tags = append(tags, tagRow(org, t.folded, u.ID, t.field, t.value, p.kLast))
			}
			seq++
			changes = append(changes, []any{org, seq, string(store.ChangeCreated), u.ID, nil, p.after, "run_raw", now})
		}
		loads := []load{
			{"users", userCols, users, `ON CONFLICT (org_id, id) DO UPDATE SET email = excluded.email, version = excluded.version`},
			{"user_words", wordCols, words, `ON CONFLICT DO NOTHING`},
			{"user_tags", tagCols, tags, `ON CONFLICT DO NOTHING`},
			{"changes", []string{"org_id", "seq", "kind", "subject_id", "before", "after", "cause", "at"}, changes, `ON CONFLICT DO NOTHING`},
		}
		if len(srcCols) > 0 {
			loads = append(loads, load{"user_sources", srcCols, sources, `ON CONFLICT DO NOTHING`})
		}
		batches = append(batches, batchLoad{start, loads, seq})
	}
	return func(ctx context.Context) error {
		for _, bl := range batches {
			if err := rawPostgresBatch(ctx, pool, qs, org, bl.loads, bl.seq); err != nil {
				return fmt.Errorf("raw PostgreSQL load, batch at %d: %w", bl.start, err)
			}
		}
		return nil
	}, nil
}

// rawLoad is the rows of one table in one raw PostgreSQL batch.
type rawLoad = struct {
	table string
	cols  []string
	rows  [][]any
	merge string
}

// rawPostgresBatch writes one batch in one transaction.
func rawPostgresBatch(ctx context.Context, pool *pgxpool.Pool, qs, org string, loads []rawLoad, seq int64) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, t := range loads {
			tmp := "raw_" + t.table
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+tmp+` (LIKE `+qs+`.`+t.table+`) ON COMMIT DROP`); err != nil {
				return fmt.Errorf("temp table for %s: %w", t.table, err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
			cols := strings.Join(t.cols, ", ")
			if _, err := tx.Exec(ctx, `INSERT INTO `+qs+`.`+t.table+` (`+cols+`) SELECT `+cols+` FROM `+tmp+` `+t.merge); err != nil {
				return fmt.Errorf("merge %s: %w", t.table, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+qs+`.counters (org_id, seq) VALUES ($1, $2)
				ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq`, org, seq)
		return err
	})
}

// The statements sqlitestore writes a new person's side rows and journal
// entry with. The users row's columns are read from the database, so that a
// column the store adds is either filled (if the raw load knows it) or named
// in an error, never silently left out.
const (
	sqliteWordInsert   = `INSERT INTO dirsync_user_words (org, lcp, word, uid) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	sqliteTagInsert    = `INSERT INTO dirsync_user_tags (org, folded, value, field, uid) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	sqliteChangeInsert = `INSERT INTO dirsync_changes (org, seq, kind, subject_id, before, after, cause, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqliteCounterSet   = `INSERT INTO dirsync_counters (org, seq) VALUES (?, ?) ON CONFLICT (org) DO UPDATE SET seq = excluded.seq`
	sqlitePairAdd      = `INSERT INTO dirsync_facet_pairs (org, by_facet, by_value, facet, folded, active, n) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, by_facet, by_value, facet, folded, active) DO UPDATE SET n = n + excluded.n`
	sqliteCountAdd = `INSERT INTO dirsync_facet_counts (org, facet, folded, value, active, n) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, facet, folded, value, active) DO UPDATE SET n = n + excluded.n`
)

// sqliteUserValues are the users row of p by column name.
func sqliteUserValues(org string, p *rawPerson, now int64) map[string]any {
	u := p.u
	tags := p.tags
	if tags == "" {
		tags = "[]"
	}
	pairs := make([][2]string, len(p.tagRow))
	for i, t := range p.tagRow {
		pairs[i] = [2]string{t.field, t.folded}
	}
	fTags, _ := json.Marshal(pairs)
	return map[string]any{
		"org": org, "id": u.ID, "source_id": u.SourceID, "external_id": u.ExternalID, "idp_id": u.IdpID,
		"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "department": u.Department,
		"division": u.Division, "office": u.Office, "title": u.Title, "tags": tags, "active": u.Active,
		"source": bytesOrNil(u.Source), "source_hash": u.SourceHash, "profile_hash": u.ProfileHash,
		"mapping_version": u.MappingVersion, "provider_updated_at": nanos(u.ProviderUpdatedAt), "version": 1,
		"created_at": now, "updated_at": now, "deactivated_at": nanosPtr(u.DeactivatedAt),
		"f_email": p.fEmail, "f_department": p.fDept, "f_division": p.fDiv, "f_office": p.fOff,
		"f_tags": string(fTags), "sk_last": p.kLast, "sk_first": p.kFirst, "sk_email": p.kEmail,
	}
}

// sqliteColumns returns the columns of table but its integer primary key,
// and an error naming a NOT NULL column without default that known lacks.
func sqliteColumns(ctx context.Context, db *sql.DB, table string, known map[string]any) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, "notnull", dflt_value IS NOT NULL, pk FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, fmt.Errorf("raw SQLite load: columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name string
		var notNull, hasDefault bool
		var pk int
		if err := rows.Scan(&name, &notNull, &hasDefault, &pk); err != nil {
			return nil, err
		}
		if _, ok := known[name]; ok {
			cols = append(cols, name)
		} else if notNull && !hasDefault && pk == 0 {
			return nil, fmt.Errorf("raw SQLite load: %s has a column %q the raw load does not fill; teach internal/bench about it", table, name)
		}
	}
	return cols, rows.Err()
}

// rawSQLite prepares the rows of people for sqlitestore's tables and
// returns the load, which the caller times: prepared statements in one
// transaction, on db (a connection to a migrated file), and the summed facet
// counts, where the schema keeps them.
func rawSQLite(ctx context.Context, db *sql.DB, org string, people []rawPerson) (func(context.Context) error, error) {
	now := time.Now().UnixNano()
	var cols []string
	if len(people) > 0 {
		var err error
		if cols, err = sqliteColumns(ctx, db, "dirsync_users", sqliteUserValues(org, &people[0], now)); err != nil {
			return nil, err
		}
	}
	var hasCounts, hasPairs int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE name = 'dirsync_facet_counts'), count(*) FILTER (WHERE name = 'dirsync_facet_pairs')
		FROM sqlite_schema`).Scan(&hasCounts, &hasPairs); err != nil {
		return nil, fmt.Errorf("raw SQLite load: %w", err)
	}
	// Every person's users row, in cols order, before the clock starts.
	userArgs := make([][]any, len(people))
	for i := range people {
		vals := sqliteUserValues(org, &people[i], now)
		row := make([]any, len(cols))
		for k, c := range cols {
			row[k] = vals[c]
		}
		userArgs[i] = row
	}
	return func(ctx context.Context) error {
		return rawSQLiteLoad(ctx, db, org, people, cols, userArgs, hasCounts > 0, hasPairs > 0, now)
	}, nil
}

// rawSQLiteLoad is the timed part of rawSQLite.
func rawSQLiteLoad(ctx context.Context, db *sql.DB, org string, people []rawPerson, cols []string, userArgs [][]any, hasCounts, hasPairs bool, now int64) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("raw SQLite load: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if len(people) == 0 {
		return tx.Commit()
	}
	userInsert := `INSERT INTO dirsync_users (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) +
		`) ON CONFLICT (org, id) DO UPDATE SET email = excluded.email RETURNING uid`
	var stmts [4]*sql.Stmt
	for i, q := range []string{userInsert, sqliteWordInsert, sqliteTagInsert, sqliteChangeInsert} {
		if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("raw SQLite load: prepare: %w", err)
		}
		defer stmts[i].Close()
	}
	insUser, insWord, insTag, insChange := stmts[0], stmts[1], stmts[2], stmts[3]
	type countKey struct {
		facet, folded, value string
		active               bool
	}
	counts := map[countKey]int{}
	type pairKey struct {
		by, byValue, facet, folded string
		active                     bool
	}
	pairs := map[pairKey]int{}
	for i := range people {
		p := &people[i]
		u := p.u
		var uid int64
		if err := insUser.QueryRowContext(ctx, userArgs[i]...).Scan(&uid); err != nil {
			return fmt.Errorf("raw SQLite load: user %s: %w", u.ID, err)
		}
		for k, w := range p.rowWords {
			if _, err := insWord.ExecContext(ctx, org, p.rowLcps[k], w, uid); err != nil {
				return fmt.Errorf("raw SQLite load: word of %s: %w", u.ID, err)
			}
		}
		seen := map[string]bool{}
		for _, t := range p.tagRow {
			if _, err := insTag.ExecContext(ctx, org, t.folded, t.value, t.field, uid); err != nil {
				return fmt.Errorf("raw SQLite load: tag of %s: %w", u.ID, err)
			}
			counts[countKey{"field:" + t.field, t.folded, "", u.Active}]++
			if !seen[t.folded] {
				seen[t.folded] = true
				counts[countKey{"tag", t.folded, "", u.Active}]++
			}
		}
		fields := [][3]string{{"department", p.fDept, u.Department}, {"division", p.fDiv, u.Division}, {"office", p.fOff, u.Office}}
		for _, f := range fields {
			if f[1] != "" {
				counts[countKey{f[0], f[1], f[2], u.Active}]++
			}
		}
		if hasPairs {
			for _, by := range fields {
				if by[1] == "" {
					continue
				}
				for _, f := range fields {
					if f[0] != by[0] && f[1] != "" {
						pairs[pairKey{by[0], by[1], f[0], f[1], u.Active}]++
					}
				}
				clear(seen)
				for _, t := range p.tagRow {
					pairs[pairKey{by[0], by[1], "field:" + t.field, t.folded, u.Active}]++
					if !seen[t.folded] {
						seen[t.folded] = true
						pairs[pairKey{by[0], by[1], "tag", t.folded, u.Active}]++
					}
				}
			}
		}
		if _, err := insChange.ExecContext(ctx, org, int64(i+1), string(store.ChangeCreated), u.ID, nil, p.after, "run_raw", now); err != nil {
			return fmt.Errorf("raw SQLite load: journal entry of %s: %w", u.ID, err)
		}
	}
	if hasCounts {
		for k, n := range counts {
			if _, err := tx.ExecContext(ctx, sqliteCountAdd, org, k.facet, k.folded, k.value, k.active, n); err != nil {
				return fmt.Errorf("raw SQLite load: facet counts: %w", err)
			}
		}
	}
	for k, n := range pairs {
		if _, err := tx.ExecContext(ctx, sqlitePairAdd, org, k.by, k.byValue, k.facet, k.folded, k.active, n); err != nil {
			return fmt.Errorf("raw SQLite load: facet pairs: %w", err)
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
