package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// facet names a filter field that a facet ignores.
type facet int

const (
	noFacet facet = iota
	facetDepartment
	facetDivision
	facetOffice
	facetTag
)

// where is a parameterised SQL condition being built.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", anys(vals)...)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// prefixUpper returns the least string greater than every string with the
// prefix p, bytewise, or ok == false when there is none (p is all 0xff).
// The word range of prefix p is then word >= p AND word < upper.
func prefixUpper(p string) (upper string, ok bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// wordCond is the condition "user u has a word with prefix p".
func (w *where) wordCond(org, p string) string {
	upper, ok := prefixUpper(p)
	if !ok {
		w.args = append(w.args, org, p)
		return "u.uid IN (SELECT uw.uid FROM dirsync_user_words uw WHERE uw.org = ? AND uw.word >= ?)"
	}
	w.args = append(w.args, org, p, upper)
	return "u.uid IN (SELECT uw.uid FROM dirsync_user_words uw WHERE uw.org = ? AND uw.word >= ? AND uw.word < ?)"
}

// filter builds the condition of q (normalised) over dirsync_users u,
// leaving out the filter that skip names.
func filter(org string, q search.Query, skip facet) *where {
	w := &where{}
	w.add("u.org = ?", org)
	switch q.Status {
	case search.StatusActive:
		w.add("u.active = 1")
	case search.StatusInactive:
		w.add("u.active = 0")
	}
	if skip != facetDepartment {
		w.in("u.f_department", search.FoldedValues(q.Departments))
	}
	if skip != facetDivision {
		w.in("u.f_division", search.FoldedValues(q.Divisions))
	}
	if skip != facetOffice {
		w.in("u.f_office", search.FoldedValues(q.Offices))
	}
	if tags := search.FoldedValues(q.Tags); skip != facetTag && len(tags) > 0 {
		w.add("u.uid IN (SELECT ut.uid FROM dirsync_user_tags ut WHERE ut.org = ? AND ut.folded IN ("+placeholders(len(tags))+"))",
			append([]any{org}, anys(tags)...)...)
	}
	if names := search.FoldedValues(q.Groups); len(names) > 0 {
		ids := nonEmpty(q.Groups)
		w.add("u.uid IN (SELECT m.uid FROM dirsync_groups g JOIN dirsync_members m ON m.org = g.org AND m.gid = g.gid"+
			" WHERE g.org = ? AND (g.f_name IN ("+placeholders(len(names))+") OR g.id IN ("+placeholders(len(ids))+")))",
			append(append([]any{org}, anys(names)...), anys(ids)...)...)
	}
	// Each term must match (search.MatchTerm): it prefixes a word, or each
	// of its parts does.
	for _, term := range search.Terms(q.Text) {
		cond := w.wordCond(org, term)
		parts := search.TermParts(term)
		if len(parts) > 0 && !(len(parts) == 1 && parts[0] == term) {
			pc := make([]string, len(parts))
			for i, p := range parts {
				pc[i] = w.wordCond(org, p)
			}
			cond = "(" + cond + " OR (" + strings.Join(pc, " AND ") + "))"
		}
		w.conds = append(w.conds, cond)
	}
	return w
}

// sortCol is the stored sort key column of each order ("" for sort by ID).
func sortCol(s search.Sort) string {
	switch s {
	case search.SortFirstName:
		return "u.sk_first"
	case search.SortEmail:
		return "u.sk_email"
	case search.SortID:
		return ""
	default:
		return "u.sk_last"
	}
}

// Search returns one page of q; see store.Store.
func (s *Store) Search(ctx context.Context, orgID string, q search.Query) (store.Page, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Page{}, err
	}
	q, err := q.Normalize()
	if err != nil {
		return store.Page{}, err
	}
	pos, hasPos, err := search.DecodeCursor(orgID, q)
	if err != nil {
		return store.Page{}, err
	}
	w := filter(orgID, q, noFacet)
	col := sortCol(q.Sort)
	order := "u.id"
	if col != "" {
		order = col + ", u.id"
	}
	if hasPos {
		if col == "" {
			w.add("u.id > ?", pos.ID)
		} else {
			w.add("("+col+", u.id) > (?, ?)", pos.Key, pos.ID)
		}
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	defer tx.Rollback()

	args := append(w.args, q.Limit+1)
	rows, err := s.query(ctx, tx, "SELECT u.uid FROM dirsync_users u WHERE "+w.sql()+" ORDER BY "+order+" LIMIT ?", args...)
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	uids := make([]int64, 0, q.Limit+1)
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			rows.Close()
			return store.Page{}, readErr("search", err)
		}
		uids = append(uids, uid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.Page{}, readErr("search", err)
	}
	more := len(uids) > q.Limit
	if more {
		uids = uids[:q.Limit]
	}
	users, err := s.usersByUID(ctx, tx, uids)
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	groups, err := s.groupsOf(ctx, tx, orgID, uids)
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	page := store.Page{Users: make([]store.User, 0, len(uids))}
	for _, uid := range uids {
		u, ok := users[uid]
		if !ok {
			return store.Page{}, readErr("search", fmt.Errorf("user row %d vanished inside a read transaction", uid))
		}
		u.Groups = groups[uid]
		page.Users = append(page.Users, u)
	}
	if more && len(page.Users) > 0 {
		last := page.Users[len(page.Users)-1]
		page.NextCursor = search.EncodeCursor(orgID, q, search.Position{
			Key: search.SortKey(q.Sort, last.FirstName, last.LastName, last.Email),
			ID:  last.ID,
		})
	}
	return page, nil
}

func (s *Store) usersByUID(ctx context.Context, tx *sql.Tx, uids []int64) (map[int64]store.User, error) {
	out := make(map[int64]store.User, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	rows, err := s.query(ctx, tx, "SELECT "+userCols+" FROM dirsync_users u WHERE u.uid IN (SELECT value FROM json_each(?))", uidList(uids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		uid, u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out[uid] = u
	}
	return out, rows.Err()
}

// restricted reports whether q, leaving out the filter skip names, selects
// people by anything but their status.
func restricted(q search.Query, skip facet) bool {
	return (skip != facetDepartment && len(search.FoldedValues(q.Departments)) > 0) ||
		(skip != facetDivision && len(search.FoldedValues(q.Divisions)) > 0) ||
		(skip != facetOffice && len(search.FoldedValues(q.Offices)) > 0) ||
		(skip != facetTag && len(search.FoldedValues(q.Tags)) > 0) ||
		len(search.FoldedValues(q.Groups)) > 0 ||
		len(search.Terms(q.Text)) > 0
}

// statusCond is q's status as a condition on the column col.
func statusCond(q search.Query, col string) string {
	switch q.Status {
	case search.StatusActive:
		return " AND " + col + " = 1"
	case search.StatusInactive:
		return " AND " + col + " = 0"
	}
	return ""
}

// Facets counts values under q, each facet ignoring its own filter; see
// store.Store. A facet whose query is restricted by nothing but status reads
// the counts Apply keeps (dirsync_facet_counts); otherwise it counts the
// matching people. Labels are the least original spelling stored for the
// org, read from the first entry of an index range.
func (s *Store) Facets(ctx context.Context, orgID string, q search.Query) (store.Facets, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Facets{}, err
	}
	q.Cursor, q.Limit = "", 0
	q, err := q.Normalize()
	if err != nil {
		return store.Facets{}, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Facets{}, readErr("facets", err)
	}
	defer tx.Rollback()
	f := store.Facets{
		Department: map[string]int{},
		Division:   map[string]int{},
		Office:     map[string]int{},
		Tag:        map[string]int{},
		TagFields:  map[string]map[string]int{},
	}
	// Facets whose own filter is empty all count the people the whole query
	// matches: one statement reads those people's rows once for all of them.
	var shared []string
	var sharedArgs []any
	for _, c := range []struct {
		skip          facet
		folded, label string
		own           []string
		out           map[string]int
	}{
		{facetDepartment, "f_department", "department", q.Departments, f.Department},
		{facetDivision, "f_division", "division", q.Divisions, f.Division},
		{facetOffice, "f_office", "office", q.Offices, f.Office},
	} {
		label := `(SELECT l.value FROM dirsync_facet_counts l WHERE l.org = ? AND l.facet = ? AND l.folded = v.f AND l.n > 0
			ORDER BY l.value LIMIT 1)`
		var query string
		args := []any{orgID, c.label}
		switch {
		case !restricted(q, c.skip):
			query = `SELECT ` + label + `, v.n FROM (SELECT c.folded AS f, sum(c.n) AS n FROM dirsync_facet_counts c
				WHERE c.org = ? AND c.facet = ?` + statusCond(q, "c.active") + ` GROUP BY c.folded) v WHERE v.n > 0`
			args = append(args, orgID, c.label)
		case len(search.FoldedValues(c.own)) == 0:
			shared = append(shared, `SELECT '`+c.label+`', '', `+label+`, v.n FROM (SELECT m.`+c.folded+` AS f, count(*) AS n
				FROM m WHERE m.`+c.folded+` <> '' GROUP BY 1) v`)
			sharedArgs = append(sharedArgs, args...)
			continue
		default:
			// Driven from the matching people (rowid lookups), not from
			// the facet's index over the whole org.
			w := filter(orgID, q, c.skip)
			query = `SELECT ` + label + `, v.n FROM (SELECT x.` + c.folded + ` AS f, count(*) AS n FROM dirsync_users x
				WHERE x.uid IN (SELECT u.uid FROM dirsync_users u WHERE ` + w.sql() + `) AND x.` + c.folded + ` <> ''
				GROUP BY x.` + c.folded + `) v`
			args = append(args, w.args...)
		}
		if err := s.countInto(ctx, tx, c.out, query, args); err != nil {
			return store.Facets{}, readErr("facets: "+c.label, err)
		}
	}

	tagLabel := `(SELECT x.value FROM dirsync_user_tags x WHERE x.org = ? AND x.folded = v.f ORDER BY x.value LIMIT 1)`
	fieldLabel := `(SELECT x.value FROM dirsync_user_tags x WHERE x.org = ? AND x.folded = v.f AND x.field = v.field
		ORDER BY x.value LIMIT 1)`
	var tagQuery, fieldQuery string
	var tagArgs, fieldArgs []any
	switch {
	case !restricted(q, facetTag):
		tagQuery = `SELECT ` + tagLabel + `, v.n FROM (SELECT c.folded AS f, sum(c.n) AS n FROM dirsync_facet_counts c
			WHERE c.org = ? AND c.facet = 'tag'` + statusCond(q, "c.active") + ` GROUP BY c.folded) v WHERE v.n > 0`
		tagArgs = []any{orgID, orgID}
		fieldQuery = `SELECT v.field, ` + fieldLabel + `, v.n FROM (SELECT substr(c.facet, 7) AS field, c.folded AS f, sum(c.n) AS n
			FROM dirsync_facet_counts c WHERE c.org = ? AND c.facet >= 'field:' AND c.facet < 'field;'` +
			statusCond(q, "c.active") + ` GROUP BY c.facet, c.folded) v WHERE v.n > 0`
		fieldArgs = []any{orgID, orgID}
	case len(search.FoldedValues(q.Tags)) == 0:
		shared = append(shared,
			`SELECT 'tag', '', `+tagLabel+`, v.n FROM (SELECT json_extract(j.value, '$[1]') AS f, count(DISTINCT m.uid) AS n
				FROM m, json_each(m.f_tags) j GROUP BY 1) v`,
			`SELECT 'field', v.field, `+fieldLabel+`, v.n FROM (SELECT json_extract(j.value, '$[0]') AS field,
				json_extract(j.value, '$[1]') AS f, count(*) AS n FROM m, json_each(m.f_tags) j GROUP BY 1, 2) v`)
		sharedArgs = append(sharedArgs, orgID, orgID)
	default:
		// The matching people's folded tags come from their f_tags column.
		w := filter(orgID, q, facetTag)
		from := `FROM dirsync_users x, json_each(x.f_tags) j WHERE x.uid IN (SELECT u.uid FROM dirsync_users u WHERE ` + w.sql() + `)`
		tagQuery = `SELECT ` + tagLabel + `, v.n FROM (SELECT json_extract(j.value, '$[1]') AS f, count(DISTINCT x.uid) AS n
			` + from + ` GROUP BY 1) v`
		tagArgs = append([]any{orgID}, w.args...)
		fieldQuery = `SELECT v.field, ` + fieldLabel + `, v.n FROM (SELECT json_extract(j.value, '$[0]') AS field,
			json_extract(j.value, '$[1]') AS f, count(*) AS n ` + from + ` GROUP BY 1, 2) v`
		fieldArgs = append([]any{orgID}, w.args...)
	}
	if len(shared) > 0 {
		w := filter(orgID, q, noFacet)
		query := `WITH m AS MATERIALIZED (SELECT x.uid, x.f_department, x.f_division, x.f_office, x.f_tags
			FROM dirsync_users x WHERE x.uid IN (SELECT u.uid FROM dirsync_users u WHERE ` + w.sql() + `))
			` + strings.Join(shared, "\nUNION ALL\n")
		if err := s.sharedFacets(ctx, tx, &f, query, append(w.args, sharedArgs...)); err != nil {
			return store.Facets{}, readErr("facets", err)
		}
	}
	if tagQuery == "" {
		return f, nil
	}
	if err := s.countInto(ctx, tx, f.Tag, tagQuery, tagArgs); err != nil {
		return store.Facets{}, readErr("facets: tag", err)
	}
	rows, err := s.query(ctx, tx, fieldQuery, fieldArgs...)
	if err != nil {
		return store.Facets{}, readErr("facets: tag fields", err)
	}
	defer rows.Close()
	for rows.Next() {
		var field, label string
		var n int
		if err := rows.Scan(&field, &label, &n); err != nil {
			return store.Facets{}, readErr("facets: tag fields", err)
		}
		m := f.TagFields[field]
		if m == nil {
			m = map[string]int{}
			f.TagFields[field] = m
		}
		m[label] += n
	}
	if err := rows.Err(); err != nil {
		return store.Facets{}, readErr("facets: tag fields", err)
	}
	return f, nil
}

// sharedFacets reads rows of (facet, tag field, label, count) into f.
func (s *Store) sharedFacets(ctx context.Context, tx *sql.Tx, f *store.Facets, query string, args []any) error {
	rows, err := s.query(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, field, label string
		var n int
		if err := rows.Scan(&kind, &field, &label, &n); err != nil {
			return err
		}
		var m map[string]int
		switch kind {
		case "department":
			m = f.Department
		case "division":
			m = f.Division
		case "office":
			m = f.Office
		case "tag":
			m = f.Tag
		default:
			if m = f.TagFields[field]; m == nil {
				m = map[string]int{}
				f.TagFields[field] = m
			}
		}
		m[label] += n
	}
	return rows.Err()
}

func (s *Store) countInto(ctx context.Context, tx *sql.Tx, out map[string]int, query string, args []any) error {
	rows, err := s.query(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var label string
		var n int
		if err := rows.Scan(&label, &n); err != nil {
			return err
		}
		out[label] += n
	}
	return rows.Err()
}
