package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/directorysync/directorysync/internal/tagjson"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// userCols are the columns scanUser reads, prefixed with the alias u.
const userCols = `u.uid, u.org, u.id, u.source_id, u.external_id, u.idp_id, u.email, u.first_name, u.last_name,
	u.department, u.division, u.office, u.title, u.tags, u.active, u.source, u.source_hash, u.profile_hash,
	u.mapping_version, u.provider_updated_at, u.version, u.created_at, u.updated_at, u.deactivated_at`

// resultCols are userCols with NULL for the source record, which search
// results leave out (store.Store.Search): a large source spills into
// overflow pages that a result list would read for nothing.
var resultCols = strings.Replace(userCols, "u.source,", "NULL,", 1)

type scanner interface{ Scan(dest ...any) error }

// userScanner reads rows of userCols into store.Users. One scanner serves
// every row of a query: its destinations are made once, where building
// them per row (a slice of two dozen pointers, and the row's values
// escaping to the heap) was the largest part of what a search allocated.
type userScanner struct {
	uid                   int64
	u                     store.User
	tags                  string
	source                []byte
	pua, created, updated sql.NullInt64
	deactivated           sql.NullInt64
	dest                  []any
}

func newUserScanner() *userScanner {
	sc := &userScanner{}
	u := &sc.u
	sc.dest = []any{&sc.uid, &u.OrgID, &u.ID, &u.SourceID, &u.ExternalID, &u.IdpID, &u.Email, &u.FirstName, &u.LastName,
		&u.Department, &u.Division, &u.Office, &u.Title, &sc.tags, &u.Active, &sc.source, &u.SourceHash, &u.ProfileHash,
		&u.MappingVersion, &sc.pua, &u.Version, &sc.created, &sc.updated, &sc.deactivated}
	return sc
}

// scan reads the current row of sc into u and returns the row's uid.
func (sc *userScanner) scan(rows scanner, u *store.User) (int64, error) {
	sc.source = nil
	if err := rows.Scan(sc.dest...); err != nil {
		return 0, err
	}
	*u = sc.u
	if sc.tags != "" && sc.tags != "[]" {
		var err error
		if u.Tags, err = tagjson.Decode(sc.tags); err != nil {
			return 0, fmt.Errorf("stored tags of user %q: %w", u.ID, err)
		}
	}
	if len(sc.source) > 0 {
		u.Source = json.RawMessage(sc.source)
	}
	u.ProviderUpdatedAt = fromNanos(sc.pua)
	u.CreatedAt = fromNanos(sc.created)
	u.UpdatedAt = fromNanos(sc.updated)
	u.DeactivatedAt = fromNanosPtr(sc.deactivated)
	return sc.uid, nil
}

// scanUser reads one row of userCols.
func scanUser(sc scanner) (int64, store.User, error) {
	var u store.User
	uid, err := newUserScanner().scan(sc, &u)
	return uid, u, err
}

// readErr wraps a read failure with the method's name.
func readErr(method string, err error) error {
	return fmt.Errorf("sqlitestore: %s: %w", method, interpretError(err))
}

// Snapshot streams the source's compact user entries; see store.Store.
func (s *Store) Snapshot(ctx context.Context, orgID, sourceID string, fn func(store.SnapshotEntry) error) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT external_id, id, source_hash, profile_hash, mapping_version, active,
		provider_updated_at, version FROM dirsync_users WHERE org = ? AND source_id = ?`, orgID, sourceID)
	if err != nil {
		return readErr("snapshot", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.SnapshotEntry
		var pua sql.NullInt64
		if err := rows.Scan(&e.ExternalID, &e.UserID, &e.SourceHash, &e.ProfileHash, &e.MappingVersion, &e.Active, &pua, &e.Version); err != nil {
			return readErr("snapshot", err)
		}
		e.ProviderUpdatedAt = fromNanos(pua)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return readErr("snapshot", err)
	}
	return nil
}

// maxLoad bounds each list of a LoadUsersRequest.
const maxLoad = 1000

// LoadUsers returns the full rows a diff or an identity match needs; see
// store.Store.
func (s *Store) LoadUsers(ctx context.Context, req store.LoadUsersRequest) ([]store.User, error) {
	if err := store.ValidateOrgID(req.OrgID); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"ExternalIDs", len(req.ExternalIDs)}, {"IdpIDs", len(req.IdpIDs)}, {"Emails", len(req.Emails)}} {
		if l.n > maxLoad {
			return nil, fmt.Errorf("sqlitestore: load users: %w: %s holds %d entries; the limit is %d", store.ErrInvalid, l.name, l.n, maxLoad)
		}
	}
	var emails []string
	for _, e := range req.Emails {
		if f := search.Fold(e); f != "" {
			emails = append(emails, f)
		}
	}
	idps := nonEmpty(req.IdpIDs)
	if len(req.ExternalIDs) == 0 && len(idps) == 0 && len(emails) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, loadUsersSQL(len(req.ExternalIDs) > 0, len(idps) > 0, len(emails) > 0, req.OnlyInactive),
		req.OrgID, req.SourceID, jsonStrings(req.ExternalIDs), jsonStrings(idps), jsonStrings(emails))
	if err != nil {
		return nil, readErr("load users", err)
	}
	defer rows.Close()
	var out []store.User
	sc := newUserScanner()
	for rows.Next() {
		out = append(out, store.User{})
		if _, err := sc.scan(rows, &out[len(out)-1]); err != nil {
			return nil, readErr("load users", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("load users", err)
	}
	return out, nil
}

// loadUsersSQL is LoadUsers' statement: up to three index look-ups over
// json_each lists ($3 external IDs, $4 idp IDs, $5 folded emails), one
// statement text per combination of non-empty lists (so few cached
// prepared statements) for any list lengths, and a probe per list entry
// (CROSS JOIN keeps the list as the outer loop) rather than one scan of the
// org with ORs of IN lists. With onlyInactive ("active = 0") the identity
// look-ups probe the partial indexes on inactive users; without it no index
// covers them and the planner chooses. An empty list has no branch at all:
// with a plain JOIN SQLite may put the users table outside and scan the
// whole org once per branch even for an empty list — which made a remap's
// look-ups by external ID alone scan the org twice per chunk (90 % of a
// 100k-person remap's time).
func loadUsersSQL(ext, idp, email, onlyInactive bool) string {
	identity := " JOIN dirsync_users m ON m.org = ?1"
	if onlyInactive {
		identity = " CROSS JOIN dirsync_users m ON m.org = ?1 AND m.active = 0"
	}
	var branches []string
	if ext {
		branches = append(branches, `SELECT m.uid FROM json_each(?3) x CROSS JOIN dirsync_users m ON m.org = ?1 AND m.source_id = ?2 AND m.external_id = x.value`)
	}
	if idp {
		branches = append(branches, `SELECT m.uid FROM json_each(?4) x`+identity+` AND m.idp_id = x.value`)
	}
	if email {
		branches = append(branches, `SELECT m.uid FROM json_each(?5) x`+identity+` AND m.f_email = x.value`)
	}
	return `SELECT ` + userCols + ` FROM dirsync_users u WHERE u.org = ?1 AND u.uid IN (
		` + strings.Join(branches, "\n\t\tUNION ") + `)
		ORDER BY u.id`
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func appendStrings(args []any, ss []string) []any {
	for _, s := range ss {
		args = append(args, s)
	}
	return args
}

// GetUser returns one user with its groups; see store.Store.
func (s *Store) GetUser(ctx context.Context, orgID, userID string) (store.User, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.User{}, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.User{}, readErr("get user", err)
	}
	defer tx.Rollback()
	rows, err := s.query(ctx, tx, `SELECT `+userCols+` FROM dirsync_users u WHERE u.org = ? AND u.id = ?`, orgID, userID)
	if err != nil {
		return store.User{}, readErr("get user", err)
	}
	var uid int64
	var u store.User
	if rows.Next() {
		uid, u, err = scanUser(rows)
	} else if err = rows.Err(); err == nil {
		err = sql.ErrNoRows
	}
	rows.Close()
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("sqlitestore: get user: %w: org %q has no user %q", store.ErrNotFound, orgID, userID)
	}
	if err != nil {
		return store.User{}, readErr("get user", err)
	}
	groups, err := s.groupsOf(ctx, tx, orgID, []int64{uid})
	if err != nil {
		return store.User{}, readErr("get user", err)
	}
	u.Groups = groups[uid]
	return u, nil
}

// uidList is a JSON array of row IDs, for "IN (SELECT value FROM
// json_each(?))": one statement text for any number of IDs.
func uidList(uids []int64) string {
	b := make([]byte, 0, 8*len(uids)+2)
	b = append(b, '[')
	for i, id := range uids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// groupsOf returns the groups of the given users, each list sorted by name
// then ID.
func (s *Store) groupsOf(ctx context.Context, tx *sql.Tx, org string, uids []int64) (map[int64][]store.GroupRef, error) {
	out := make(map[int64][]store.GroupRef, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	rows, err := s.query(ctx, tx, `SELECT m.uid, g.id, g.name FROM dirsync_members m
		JOIN dirsync_groups g ON g.gid = m.gid
		WHERE m.org = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid, g.name, g.id`, org, uidList(uids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var uid int64
		var g store.GroupRef
		if err := rows.Scan(&uid, &g.ID, &g.Name); err != nil {
			return nil, err
		}
		out[uid] = append(out[uid], g)
	}
	return out, rows.Err()
}

// Groups lists groups with member counts; see store.Store.
func (s *Store) Groups(ctx context.Context, orgID, sourceID string) ([]store.GroupSummary, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	q := `SELECT g.org, g.id, g.source_id, g.external_id, g.name, g.version, g.created_at, g.updated_at,
		(SELECT count(*) FROM dirsync_members m WHERE m.org = g.org AND m.gid = g.gid)
		FROM dirsync_groups g WHERE g.org = ?`
	args := []any{orgID}
	if sourceID != "" {
		q += ` AND g.source_id = ?`
		args = append(args, sourceID)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY g.name, g.id`, args...)
	if err != nil {
		return nil, readErr("groups", err)
	}
	defer rows.Close()
	var out []store.GroupSummary
	for rows.Next() {
		var g store.GroupSummary
		var created, updated sql.NullInt64
		if err := rows.Scan(&g.OrgID, &g.ID, &g.SourceID, &g.ExternalID, &g.Name, &g.Version, &created, &updated, &g.MemberCount); err != nil {
			return nil, readErr("groups", err)
		}
		g.CreatedAt, g.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("groups", err)
	}
	return out, nil
}

// Memberships streams the memberships of the source's groups; see
// store.Store.
func (s *Store) Memberships(ctx context.Context, orgID, sourceID string, fn func(store.Membership) error) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT u.id, g.id FROM dirsync_groups g
		JOIN dirsync_members m ON m.org = g.org AND m.gid = g.gid
		JOIN dirsync_users u ON u.uid = m.uid
		WHERE g.org = ? AND g.source_id = ?`, orgID, sourceID)
	if err != nil {
		return readErr("memberships", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m store.Membership
		if err := rows.Scan(&m.UserID, &m.GroupID); err != nil {
			return readErr("memberships", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return readErr("memberships", err)
	}
	return nil
}
