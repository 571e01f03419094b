package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/directorysync/directorysync/internal/wordrows"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// txn is one write transaction with statements prepared on first use and
// reused for the rest of it.
type txn struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	// counts are the facet count deltas of the user writes so far.
	counts map[countKey]int
	// pairs are the facet pair count deltas (migration 007).
	pairs map[pairKey]int
}

// pairKey is one row of dirsync_facet_pairs.
type pairKey struct {
	by, byValue, facet, folded string
	active                     bool
}

// countKey is one row of dirsync_facet_counts.
type countKey struct {
	facet, folded, value string
	active               bool
}

// fieldValue is a profile field's value and its folded form.
type fieldValue struct{ folded, value string }

func fold(v string) fieldValue { return fieldValue{search.Fold(v), v} }

// countUser adds delta (+1 or -1) to the facet counts of a user with the
// given folded values.
func (t *txn) countUser(delta int, active bool, dept, div, office fieldValue, tags []tagRow) {
	if t.counts == nil {
		t.counts = make(map[countKey]int)
	}
	add := func(facet, folded, value string) {
		if folded != "" {
			t.counts[countKey{facet, folded, value, active}] += delta
		}
	}
	add("department", dept.folded, dept.value)
	add("division", div.folded, div.value)
	add("office", office.folded, office.value)
	for i, tr := range tags {
		add("field:"+tr.field, tr.folded, "")
		if firstOfValue(tags, i) {
			add("tag", tr.folded, "")
		}
	}
	// The pairs: each of the user's department, division and office values
	// with each of the user's other values.
	fields := [3]struct{ facet, folded string }{{"department", dept.folded}, {"division", div.folded}, {"office", office.folded}}
	for _, by := range fields {
		if by.folded == "" {
			continue
		}
		if t.pairs == nil {
			t.pairs = make(map[pairKey]int)
		}
		for _, f := range fields {
			if f.facet != by.facet && f.folded != "" {
				t.pairs[pairKey{by.facet, by.folded, f.facet, f.folded, active}] += delta
			}
		}
		for i, tr := range tags {
			if tr.folded == "" {
				// Counted nowhere, as in dirsync_facet_counts.
				continue
			}
			t.pairs[pairKey{by.facet, by.folded, "field:" + tr.field, tr.folded, active}] += delta
			if firstOfValue(tags, i) {
				t.pairs[pairKey{by.facet, by.folded, "tag", tr.folded, active}] += delta
			}
		}
	}
}

// firstOfValue reports whether tags[i] is the first of tags with its folded
// value: the tag facet counts people, a value held in two fields once.
func firstOfValue(tags []tagRow, i int) bool {
	for _, prev := range tags[:i] {
		if prev.folded == tags[i].folded {
			return false
		}
	}
	return true
}

// flushCounts writes the summed facet count deltas, in key order so that
// the statement sequence is deterministic.
func (t *txn) flushCounts(org string) error {
	keys := changed(t.counts, func(a, b countKey) int {
		return cmp.Or(cmp.Compare(a.facet, b.facet), cmp.Compare(a.folded, b.folded), cmp.Compare(a.value, b.value),
			boolCmp(a.active, b.active))
	})
	removed := false
	for _, k := range keys {
		d := t.counts[k]
		removed = removed || d < 0
		if _, err := t.exec(qCountAdd, org, k.facet, k.folded, k.value, k.active, d); err != nil {
			return stepErr("update facet counts", err)
		}
	}
	if removed {
		if _, err := t.exec(qCountPrune, org); err != nil {
			return stepErr("prune facet counts", err)
		}
	}
	clear(t.counts)
	pairs := changed(t.pairs, func(a, b pairKey) int {
		return cmp.Or(cmp.Compare(a.by, b.by), cmp.Compare(a.byValue, b.byValue), cmp.Compare(a.facet, b.facet),
			cmp.Compare(a.folded, b.folded), boolCmp(a.active, b.active))
	})
	for _, k := range pairs {
		d := t.pairs[k]
		if _, err := t.exec(qPairAdd, org, k.by, k.byValue, k.facet, k.folded, k.active, d); err != nil {
			return stepErr("update facet pairs", err)
		}
		// An org has tens of thousands of pairs: a row that may have
		// reached 0 is deleted by its key, not found by a scan.
		if d < 0 {
			if _, err := t.exec(qPairPrune, org, k.by, k.byValue, k.facet, k.folded, k.active); err != nil {
				return stepErr("prune facet pairs", err)
			}
		}
	}
	clear(t.pairs)
	return nil
}

// changed returns the keys of deltas whose delta is not 0, sorted by
// compare.
func changed[K comparable](deltas map[K]int, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (t *txn) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmts[q] = st
	return st, nil
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// execN is exec returning the number of rows affected.
func (t *txn) execN(q string, args ...any) (int64, error) {
	res, err := t.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *txn) queryRow(q string, args []any, dest ...any) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(t.ctx, args...).Scan(dest...)
}

func (t *txn) close() {
	for _, st := range t.stmts {
		st.Close()
	}
}

// write runs fn in one writer transaction (BEGIN IMMEDIATE), committing
// when fn returns nil and rolling back otherwise.
func (s *Store) write(ctx context.Context, what string, fn func(t *txn) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: begin: %w", what, interpretError(err))
	}
	t := &txn{ctx: ctx, tx: tx, stmts: make(map[string]*sql.Stmt, 16)}
	err = fn(t)
	t.close()
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: %s: commit: %w", what, interpretError(err))
	}
	s.ckpt.committed()
	return nil
}

// Statements of Apply. Each is prepared once per transaction.
const (
	qLeaseCheck  = `SELECT token, expires_at FROM dirsync_leases WHERE org = ?`
	qEventInsert = `INSERT INTO dirsync_event_marks (org, id, at, deactivations) VALUES (?, ?, ?, ?)`
	qUserInsert  = `INSERT INTO dirsync_users (org, id, source_id, external_id, idp_id, email, first_name, last_name,
		department, division, office, title, tags, active, source, source_hash, profile_hash, mapping_version,
		provider_updated_at, version, created_at, updated_at, deactivated_at,
		f_email, f_department, f_division, f_office, f_tags, sk_last, sk_first, sk_email)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUserLoad = `SELECT uid, version, external_id, provider_updated_at, first_name, last_name, email, tags,
		department, division, office, active,
		source_id, idp_id, f_email, f_department, f_division, f_office, f_tags, sk_last, sk_first, sk_email
		FROM dirsync_users WHERE org = ? AND id = ?`
	// qUserUpdateRow updates a user whose indexed columns (source and
	// external ID, idp ID, state, folded values, sort keys) stay as they
	// are: SQLite leaves alone every index whose columns the SET list does
	// not name, so a remap that changes titles touches no index at all.
	qUserUpdateRow = `UPDATE dirsync_users SET email = ?, first_name = ?, last_name = ?, department = ?, division = ?,
		office = ?, title = ?, tags = ?, source = ?, source_hash = ?, profile_hash = ?, mapping_version = ?,
		provider_updated_at = ?, version = version + 1, updated_at = ?, deactivated_at = ?
		WHERE uid = ? AND version = ?`
	qUserUpdate = `UPDATE dirsync_users SET source_id = ?, external_id = ?, idp_id = ?, email = ?, first_name = ?,
		last_name = ?, department = ?, division = ?, office = ?, title = ?, tags = ?, active = ?, source = ?,
		source_hash = ?, profile_hash = ?, mapping_version = ?, provider_updated_at = ?, version = version + 1,
		updated_at = ?, deactivated_at = ?, f_email = ?, f_department = ?, f_division = ?, f_office = ?,
		f_tags = ?, sk_last = ?, sk_first = ?, sk_email = ?
		WHERE uid = ? AND version = ?`
	qUserDelete        = `DELETE FROM dirsync_users WHERE uid = ?`
	qUserMembersDelete = `DELETE FROM dirsync_members WHERE org = ? AND uid = ?`
	qCountAdd          = `INSERT INTO dirsync_facet_counts (org, facet, folded, value, active, n) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, facet, folded, value, active) DO UPDATE SET n = n + excluded.n`
	qCountPrune = `DELETE FROM dirsync_facet_counts WHERE org = ? AND n <= 0`
	qPairAdd    = `INSERT INTO dirsync_facet_pairs (org, by_facet, by_value, facet, folded, active, n) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, by_facet, by_value, facet, folded, active) DO UPDATE SET n = n + excluded.n`
	qPairPrune = `DELETE FROM dirsync_facet_pairs WHERE org = ? AND by_facet = ? AND by_value = ? AND facet = ? AND folded = ?
		AND active = ? AND n <= 0`
	qWordInsert = `INSERT INTO dirsync_user_words (org, lcp, word, uid) VALUES (?, ?, ?, ?)`
	qWordDelete = `DELETE FROM dirsync_user_words WHERE org = ? AND lcp = ? AND word = ? AND uid = ?`
	qTagInsert  = `INSERT INTO dirsync_user_tags (org, folded, value, field, uid) VALUES (?, ?, ?, ?, ?)`
	qTagDelete  = `DELETE FROM dirsync_user_tags WHERE org = ? AND folded = ? AND value = ? AND field = ? AND uid = ?`

	qGroupInsert = `INSERT INTO dirsync_groups (org, id, source_id, external_id, name, f_name, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`
	qGroupLoad   = `SELECT gid, version FROM dirsync_groups WHERE org = ? AND id = ?`
	qGroupUpdate = `UPDATE dirsync_groups SET source_id = ?, external_id = ?, name = ?, f_name = ?, version = version + 1,
		updated_at = ? WHERE gid = ? AND version = ?`
	qGroupDelete        = `DELETE FROM dirsync_groups WHERE gid = ?`
	qGroupMembersDelete = `DELETE FROM dirsync_members WHERE org = ? AND gid = ?`

	qMemberAdd = `INSERT INTO dirsync_members (org, gid, uid)
		SELECT g.org, g.gid, u.uid FROM dirsync_groups g, dirsync_users u
		WHERE g.org = ? AND g.id = ? AND u.org = g.org AND u.id = ?
		ON CONFLICT DO NOTHING`
	qMemberRemove = `DELETE FROM dirsync_members WHERE org = ?
		AND gid = (SELECT gid FROM dirsync_groups WHERE org = ? AND id = ?)
		AND uid = (SELECT uid FROM dirsync_users WHERE org = ? AND id = ?)`
	qMemberParents = `SELECT EXISTS (SELECT 1 FROM dirsync_users WHERE org = ? AND id = ?),
		EXISTS (SELECT 1 FROM dirsync_groups WHERE org = ? AND id = ?)`

	qCounterBump = `INSERT INTO dirsync_counters (org, seq) VALUES (?, ?)
		ON CONFLICT (org) DO UPDATE SET seq = seq + excluded.seq RETURNING seq`
	qChangeInsert = `INSERT INTO dirsync_changes (org, seq, kind, subject_id, before, after, cause, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	qTombstoneUpsert = `INSERT INTO dirsync_tombstones (org, source_id, external_id, deleted_at, expires_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (org, source_id, external_id)
		DO UPDATE SET deleted_at = excluded.deleted_at, expires_at = excluded.expires_at`
	qUnpark = `DELETE FROM dirsync_parked_events WHERE org = ? AND id = ?`
)

// Apply writes req in one BEGIN IMMEDIATE transaction; see store.Store.
func (s *Store) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	var res store.ApplyResult
	if err := validateApply(&req); err != nil {
		return res, err
	}
	now := s.now()
	err := s.write(ctx, "apply", func(t *txn) error {
		var err error
		res, err = applyTx(t, &req, now)
		return err
	})
	if err != nil {
		return store.ApplyResult{}, err
	}
	return res, nil
}

func applyErr(op string, i int, id string, err error) error {
	return &store.ApplyError{Op: op, Index: i, ID: id, Err: err}
}

// stepErr names the statement that failed and maps the native error.
func stepErr(step string, err error) error {
	return fmt.Errorf("%s: %w", step, interpretError(err))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrInvalid, fmt.Sprintf(format, args...))
}

func validateApply(req *store.ApplyRequest) error {
	if err := store.ValidateOrgID(req.OrgID); err != nil {
		return applyErr("request", -1, "", err)
	}
	for i, w := range req.Users {
		u := &w.User
		switch {
		case u.OrgID != req.OrgID:
			return applyErr("user", i, u.ID, invalid("user is of org %q, not %q", u.OrgID, req.OrgID))
		case u.ID == "":
			return applyErr("user", i, u.ID, invalid("user has no ID"))
		case w.ExpectVersion < 0:
			return applyErr("user", i, u.ID, invalid("expected version %d is negative", w.ExpectVersion))
		}
		if err := errors.Join(checkTime("provider_updated_at", u.ProviderUpdatedAt), checkTimePtr("deactivated_at", u.DeactivatedAt)); err != nil {
			return applyErr("user", i, u.ID, err)
		}
	}
	for i, w := range req.Groups {
		g := &w.Group
		switch {
		case g.OrgID != req.OrgID:
			return applyErr("group", i, g.ID, invalid("group is of org %q, not %q", g.OrgID, req.OrgID))
		case g.ID == "":
			return applyErr("group", i, g.ID, invalid("group has no ID"))
		case w.ExpectVersion < 0:
			return applyErr("group", i, g.ID, invalid("expected version %d is negative", w.ExpectVersion))
		}
	}
	for i, m := range req.Members {
		if m.UserID == "" || m.GroupID == "" {
			return applyErr("member", i, m.UserID, invalid("membership needs a user ID and a group ID"))
		}
	}
	for i, c := range req.Changes {
		switch {
		case c.Kind == "":
			return applyErr("change", i, c.SubjectID, invalid("change has no kind"))
		case c.OrgID != "" && c.OrgID != req.OrgID:
			return applyErr("change", i, c.SubjectID, invalid("change is of org %q, not %q", c.OrgID, req.OrgID))
		}
		if err := checkTime("at", c.At); err != nil {
			return applyErr("change", i, c.SubjectID, err)
		}
	}
	for i, tb := range req.Tombstones {
		switch {
		case tb.OrgID != "" && tb.OrgID != req.OrgID:
			return applyErr("tombstone", i, tb.ExternalID, invalid("tombstone is of org %q, not %q", tb.OrgID, req.OrgID))
		case tb.ExternalID == "":
			return applyErr("tombstone", i, tb.ExternalID, invalid("tombstone has no external ID"))
		}
		if err := errors.Join(checkTime("deleted_at", tb.DeletedAt), checkTime("expires_at", tb.ExpiresAt)); err != nil {
			return applyErr("tombstone", i, tb.ExternalID, err)
		}
	}
	if req.Event != nil && req.Event.ID == "" {
		return applyErr("event", -1, "", invalid("event mark has no ID"))
	}
	return nil
}

func checkTimePtr(name string, t *time.Time) error {
	if t == nil {
		return nil
	}
	return checkTime(name, *t)
}

func applyTx(t *txn, req *store.ApplyRequest, now time.Time) (store.ApplyResult, error) {
	var res store.ApplyResult
	org := req.OrgID
	if l := req.Lease; l != nil {
		var token string
		var exp int64
		err := t.queryRow(qLeaseCheck, []any{org}, &token, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return res, applyErr("lease", -1, "", fmt.Errorf("%w: org %q has no lease", store.ErrLeaseLost, org))
		}
		if err != nil {
			return res, applyErr("lease", -1, "", stepErr("read lease", err))
		}
		if l.OrgID != org || token != l.Token || exp <= now.UnixNano() {
			return res, applyErr("lease", -1, "", fmt.Errorf("%w: token %q is not org %q's current unexpired lease", store.ErrLeaseLost, l.Token, org))
		}
	}
	if ev := req.Event; ev != nil {
		if _, err := t.exec(qEventInsert, org, ev.ID, now.UnixNano(), ev.Deactivations); err != nil {
			err = interpretError(err)
			if errors.Is(err, store.ErrConflict) {
				return res, applyErr("event", -1, ev.ID, fmt.Errorf("%w: event %q", store.ErrDuplicateEvent, ev.ID))
			}
			return res, applyErr("event", -1, ev.ID, fmt.Errorf("insert event mark: %w", err))
		}
	}
	for i := range req.Users {
		if err := writeUser(t, org, &req.Users[i], now); err != nil {
			return res, applyErr("user", i, req.Users[i].User.ID, err)
		}
	}
	if err := t.flushCounts(org); err != nil {
		return res, applyErr("user", -1, "", err)
	}
	for i := range req.Groups {
		if err := writeGroup(t, org, &req.Groups[i], now); err != nil {
			return res, applyErr("group", i, req.Groups[i].Group.ID, err)
		}
	}
	for i, m := range req.Members {
		if err := writeMember(t, org, m); err != nil {
			return res, applyErr("member", i, m.UserID, err)
		}
	}
	if n := len(req.Changes); n > 0 {
		var last int64
		if err := t.queryRow(qCounterBump, []any{org, n}, &last); err != nil {
			return res, applyErr("change", -1, "", stepErr("take sequence numbers", err))
		}
		res.FirstSeq, res.LastSeq = last-int64(n)+1, last
		for i, c := range req.Changes {
			at := c.At
			if at.IsZero() {
				at = now
			}
			before, err := marshalFields(c.Before)
			if err != nil {
				return res, applyErr("change", i, c.SubjectID, invalid("before: %v", err))
			}
			after, err := marshalFields(c.After)
			if err != nil {
				return res, applyErr("change", i, c.SubjectID, invalid("after: %v", err))
			}
			if _, err := t.exec(qChangeInsert, org, res.FirstSeq+int64(i), string(c.Kind), c.SubjectID, before, after, c.Cause, at.UnixNano()); err != nil {
				return res, applyErr("change", i, c.SubjectID, stepErr("insert journal entry", err))
			}
		}
	}
	for i, tb := range req.Tombstones {
		if _, err := t.exec(qTombstoneUpsert, org, tb.SourceID, tb.ExternalID, orZero(tb.DeletedAt), orZero(tb.ExpiresAt)); err != nil {
			return res, applyErr("tombstone", i, tb.ExternalID, stepErr("write tombstone", err))
		}
	}
	for i, id := range req.Unpark {
		if _, err := t.exec(qUnpark, org, id); err != nil {
			return res, applyErr("unpark", i, id, stepErr("delete parked event", err))
		}
	}
	return res, nil
}

// orZero is a required time column: the zero time is stored as 0.
func orZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func marshalFields(m map[string]any) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// derived holds the folded copies of a user row.
type derived struct {
	tags                     string
	fEmail                   string
	fDept, fDiv, fOffice     fieldValue
	fTags                    string
	skLast, skFirst, skEmail string
	words                    []wordRow
	tagRows                  []tagRow
}

// wordRow is a dirsync_user_words row of a person (migration 008).
type wordRow struct {
	word string
	lcp  int16
}

// wordRowsOf returns the word rows of a person whose last-name sort key
// is kLast and whose words (search.Words) are words (wordrows.Rows).
func wordRowsOf(kLast string, words []string) []wordRow {
	ws, lcps := wordrows.Rows(kLast, words)
	out := make([]wordRow, len(ws))
	for i, w := range ws {
		out[i] = wordRow{w, lcps[i]}
	}
	return out
}

type tagRow struct{ folded, value, field string }

func derive(u *store.User) (derived, error) {
	d := derived{
		fEmail:  search.Fold(u.Email),
		fDept:   fold(u.Department),
		fDiv:    fold(u.Division),
		fOffice: fold(u.Office),
		skLast:  search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email),
		skFirst: search.SortKey(search.SortFirstName, u.FirstName, u.LastName, u.Email),
		skEmail: search.SortKey(search.SortEmail, u.FirstName, u.LastName, u.Email),
		tagRows: tagRows(u.Tags),
	}
	d.words = wordRowsOf(d.skLast, search.Words(u.FirstName, u.LastName, u.Email))
	d.fTags = foldedTagsJSON(d.tagRows)
	d.tags = "[]"
	if len(u.Tags) > 0 {
		b, err := json.Marshal(u.Tags)
		if err != nil {
			return d, invalid("tags: %v", err)
		}
		d.tags = string(b)
	}
	return d, nil
}

// foldedTagsJSON is the f_tags column: [[field, folded value], …].
func foldedTagsJSON(rows []tagRow) string {
	pairs := make([][2]string, len(rows))
	for i, r := range rows {
		pairs[i] = [2]string{r.field, r.folded}
	}
	b, err := json.Marshal(pairs)
	if err != nil {
		return "[]" // unreachable: strings always marshal
	}
	return string(b)
}

func tagRows(tags []mapping.Tag) []tagRow {
	norm := store.NormalizeTags(tags)
	rows := make([]tagRow, 0, len(norm))
	for _, tg := range norm {
		rows = append(rows, tagRow{folded: search.Fold(tg.Value), value: tg.Value, field: tg.Field})
	}
	return rows
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

func writeUser(t *txn, org string, w *store.UserWrite, now time.Time) error {
	u := &w.User
	if w.Delete {
		return deleteUser(t, org, w)
	}
	d, err := derive(u)
	if err != nil {
		return err
	}
	if w.ExpectVersion == 0 {
		res, err := t.exec(qUserInsert, org, u.ID, u.SourceID, u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName,
			u.Department, u.Division, u.Office, u.Title, d.tags, u.Active, nullBytes(u.Source), u.SourceHash, u.ProfileHash,
			u.MappingVersion, toNanos(u.ProviderUpdatedAt), 1, now.UnixNano(), now.UnixNano(), toNanosPtr(u.DeactivatedAt),
			d.fEmail, d.fDept.folded, d.fDiv.folded, d.fOffice.folded, d.fTags, d.skLast, d.skFirst, d.skEmail)
		if err != nil {
			err = interpretError(err)
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("insert user row: %w: the org already has user %q or external ID %q in source %q", err, u.ID, u.ExternalID, u.SourceID)
			}
			return fmt.Errorf("insert user row: %w", err)
		}
		uid, err := res.LastInsertId()
		if err != nil {
			return stepErr("read new user's row ID", err)
		}
		if err := insertWords(t, org, d.words, uid); err != nil {
			return err
		}
		t.countUser(+1, u.Active, d.fDept, d.fDiv, d.fOffice, d.tagRows)
		for _, tr := range d.tagRows {
			if _, err := t.exec(qTagInsert, org, tr.folded, tr.value, tr.field, uid); err != nil {
				return stepErr("insert tag", err)
			}
		}
		return nil
	}

	old, err := loadForWrite(t, org, u.ID)
	if err != nil {
		return err
	}
	if old.version != w.ExpectVersion {
		return fmt.Errorf("%w: user %q is at version %d, not %d", store.ErrConflict, u.ID, old.version, w.ExpectVersion)
	}
	if old.externalID == u.ExternalID && old.providerUpdatedAt.Valid && old.providerUpdatedAt.Int64 > orderNanos(u.ProviderUpdatedAt) {
		return fmt.Errorf("%w: provider updated_at %s is older than the stored %s", store.ErrStale,
			u.ProviderUpdatedAt.UTC().Format(time.RFC3339Nano), fromNanos(old.providerUpdatedAt).Format(time.RFC3339Nano))
	}
	var n int64
	if old.externalID == u.ExternalID && old.active == u.Active && old.indexed == indexedOf(u, &d) {
		n, err = t.execN(qUserUpdateRow, u.Email, u.FirstName, u.LastName, u.Department, u.Division, u.Office, u.Title,
			d.tags, nullBytes(u.Source), u.SourceHash, u.ProfileHash, u.MappingVersion, toNanos(u.ProviderUpdatedAt),
			now.UnixNano(), toNanosPtr(u.DeactivatedAt), old.uid, w.ExpectVersion)
	} else {
		n, err = t.execN(qUserUpdate, u.SourceID, u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName,
			u.Department, u.Division, u.Office, u.Title, d.tags, u.Active, nullBytes(u.Source), u.SourceHash, u.ProfileHash,
			u.MappingVersion, toNanos(u.ProviderUpdatedAt), now.UnixNano(), toNanosPtr(u.DeactivatedAt),
			d.fEmail, d.fDept.folded, d.fDiv.folded, d.fOffice.folded, d.fTags, d.skLast, d.skFirst, d.skEmail, old.uid, w.ExpectVersion)
	}
	if err != nil {
		err = interpretError(err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("update user row: %w: external ID %q is taken in source %q", err, u.ExternalID, u.SourceID)
		}
		return fmt.Errorf("update user row: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: user %q changed during the write", store.ErrConflict, u.ID)
	}
	oldTags := tagRows(old.tags)
	t.countUser(-1, old.active, fold(old.department), fold(old.division), fold(old.office), oldTags)
	t.countUser(+1, u.Active, d.fDept, d.fDiv, d.fOffice, d.tagRows)
	oldWords := old.words()
	for _, w := range minus(oldWords, d.words) {
		if _, err := t.exec(qWordDelete, org, w.lcp, w.word, old.uid); err != nil {
			return stepErr("delete search word", err)
		}
	}
	if err := insertWords(t, org, minus(d.words, oldWords), old.uid); err != nil {
		return err
	}
	for _, tr := range minus(oldTags, d.tagRows) {
		if _, err := t.exec(qTagDelete, org, tr.folded, tr.value, tr.field, old.uid); err != nil {
			return stepErr("delete tag", err)
		}
	}
	for _, tr := range minus(d.tagRows, oldTags) {
		if _, err := t.exec(qTagInsert, org, tr.folded, tr.value, tr.field, old.uid); err != nil {
			return stepErr("insert tag", err)
		}
	}
	return nil
}

// wordChunk bounds the rows of one multi-row insert of search words.
const wordChunk = 16

// insertWords inserts a user's word rows, several per statement (a
// person has about five; one statement each would double the cost of
// writing them).
func insertWords(t *txn, org string, words []wordRow, uid int64) error {
	for len(words) > 0 {
		k := min(len(words), wordChunk)
		q := qWordInsert
		if k > 1 {
			q += strings.Repeat(", (?, ?, ?, ?)", k-1)
		}
		args := make([]any, 0, 4*k)
		for _, w := range words[:k] {
			args = append(args, org, w.lcp, w.word, uid)
		}
		if _, err := t.exec(q, args...); err != nil {
			return stepErr("insert search words", err)
		}
		words = words[k:]
	}
	return nil
}

// minus returns the elements of a not in b.
func minus[T comparable](a, b []T) []T {
	var out []T
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

type oldUser struct {
	uid                          int64
	version                      int64
	externalID                   string
	providerUpdatedAt            sql.NullInt64
	firstName, lastName, email   string
	tags                         []mapping.Tag
	department, division, office string
	active                       bool
	// indexed is the row's other indexed text columns, in indexedCols
	// order.
	indexed indexedCols
}

// indexedCols are the indexed text columns of a users row but the IDs:
// source_id, idp_id, f_email, f_department, f_division, f_office, f_tags,
// sk_last, sk_first, sk_email.
type indexedCols [10]string

// words returns the row's dirsync_user_words rows (from its stored names and
// sort key).
func (o *oldUser) words() []wordRow {
	return wordRowsOf(o.indexed[7], search.Words(o.firstName, o.lastName, o.email))
}

// indexedOf returns the indexedCols u's row will have.
func indexedOf(u *store.User, d *derived) indexedCols {
	return indexedCols{u.SourceID, u.IdpID, d.fEmail, d.fDept.folded, d.fDiv.folded, d.fOffice.folded,
		d.fTags, d.skLast, d.skFirst, d.skEmail}
}

func loadForWrite(t *txn, org, id string) (oldUser, error) {
	var o oldUser
	var tags string
	err := t.queryRow(qUserLoad, []any{org, id}, &o.uid, &o.version, &o.externalID, &o.providerUpdatedAt,
		&o.firstName, &o.lastName, &o.email, &tags, &o.department, &o.division, &o.office, &o.active,
		&o.indexed[0], &o.indexed[1], &o.indexed[2], &o.indexed[3], &o.indexed[4], &o.indexed[5], &o.indexed[6],
		&o.indexed[7], &o.indexed[8], &o.indexed[9])
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("%w: org %q has no user %q", store.ErrConflict, org, id)
	}
	if err != nil {
		return o, stepErr("read user row", err)
	}
	if err := json.Unmarshal([]byte(tags), &o.tags); err != nil {
		return o, fmt.Errorf("read user row: stored tags of %q: %w", id, err)
	}
	return o, nil
}

func deleteUser(t *txn, org string, w *store.UserWrite) error {
	u := &w.User
	old, err := loadForWrite(t, org, u.ID)
	if err != nil {
		return err
	}
	if w.ExpectVersion != 0 && old.version != w.ExpectVersion {
		return fmt.Errorf("%w: user %q is at version %d, not %d", store.ErrConflict, u.ID, old.version, w.ExpectVersion)
	}
	for _, w := range old.words() {
		if _, err := t.exec(qWordDelete, org, w.lcp, w.word, old.uid); err != nil {
			return stepErr("delete search word", err)
		}
	}
	oldTags := tagRows(old.tags)
	t.countUser(-1, old.active, fold(old.department), fold(old.division), fold(old.office), oldTags)
	for _, tr := range oldTags {
		if _, err := t.exec(qTagDelete, org, tr.folded, tr.value, tr.field, old.uid); err != nil {
			return stepErr("delete tag", err)
		}
	}
	if _, err := t.exec(qUserMembersDelete, org, old.uid); err != nil {
		return stepErr("delete user's memberships", err)
	}
	if _, err := t.exec(qUserDelete, old.uid); err != nil {
		return stepErr("delete user row", err)
	}
	return nil
}

func writeGroup(t *txn, org string, w *store.GroupWrite, now time.Time) error {
	g := &w.Group
	if w.ExpectVersion == 0 && !w.Delete {
		if _, err := t.exec(qGroupInsert, org, g.ID, g.SourceID, g.ExternalID, g.Name, search.Fold(g.Name), now.UnixNano(), now.UnixNano()); err != nil {
			err = interpretError(err)
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("insert group row: %w: the org already has group %q or external ID %q in source %q", err, g.ID, g.ExternalID, g.SourceID)
			}
			return fmt.Errorf("insert group row: %w", err)
		}
		return nil
	}
	var gid, version int64
	err := t.queryRow(qGroupLoad, []any{org, g.ID}, &gid, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: org %q has no group %q", store.ErrConflict, org, g.ID)
	}
	if err != nil {
		return stepErr("read group row", err)
	}
	if w.ExpectVersion != 0 && version != w.ExpectVersion {
		return fmt.Errorf("%w: group %q is at version %d, not %d", store.ErrConflict, g.ID, version, w.ExpectVersion)
	}
	if w.Delete {
		if _, err := t.exec(qGroupMembersDelete, org, gid); err != nil {
			return stepErr("delete group's memberships", err)
		}
		if _, err := t.exec(qGroupDelete, gid); err != nil {
			return stepErr("delete group row", err)
		}
		return nil
	}
	n, err := t.execN(qGroupUpdate, g.SourceID, g.ExternalID, g.Name, search.Fold(g.Name), now.UnixNano(), gid, w.ExpectVersion)
	if err != nil {
		err = interpretError(err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("update group row: %w: external ID %q is taken in source %q", err, g.ExternalID, g.SourceID)
		}
		return fmt.Errorf("update group row: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: group %q changed during the write", store.ErrConflict, g.ID)
	}
	return nil
}

func writeMember(t *txn, org string, m store.MemberWrite) error {
	var n int64
	var err error
	if m.Remove {
		n, err = t.execN(qMemberRemove, org, org, m.GroupID, org, m.UserID)
		if err != nil {
			return stepErr("delete membership", err)
		}
	} else {
		n, err = t.execN(qMemberAdd, org, m.GroupID, m.UserID)
		if err != nil {
			return stepErr("insert membership", err)
		}
	}
	if n > 0 {
		return nil
	}
	// Nothing written: either there was nothing to do or a side is missing.
	var userOK, groupOK bool
	if err := t.queryRow(qMemberParents, []any{org, m.UserID, org, m.GroupID}, &userOK, &groupOK); err != nil {
		return stepErr("check membership's user and group", err)
	}
	switch {
	case !userOK:
		return invalid("membership of user %q in group %q: org %q has no such user", m.UserID, m.GroupID, org)
	case !groupOK:
		return invalid("membership of user %q in group %q: org %q has no such group", m.UserID, m.GroupID, org)
	}
	return nil
}
