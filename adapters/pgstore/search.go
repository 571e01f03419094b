package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// facet fields a where clause may leave out.
const (
	skipNone = iota
	skipDepartment
	skipDivision
	skipOffice
	skipTag
)

// whereBuilder renders the WHERE clause of a query over users u; $1 is the
// org.
type whereBuilder struct {
	args  []any
	conds []string
	field []int // the facet field each cond filters, or skipNone
}

func (w *whereBuilder) add(field int, cond string) {
	w.conds = append(w.conds, cond)
	w.field = append(w.field, field)
}

func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// buildWhere renders q's filters (q is normalized); sql(skip) leaves out
// one field's filter for disjunctive facets.
func buildWhere(orgID string, q search.Query) *whereBuilder {
	w := &whereBuilder{args: []any{orgID}}
	w.add(skipNone, "u.org_id = $1")
	switch q.Status {
	case search.StatusActive:
		w.add(skipNone, "u.active")
	case search.StatusInactive:
		w.add(skipNone, "NOT u.active")
	}
	field := func(id int, col string, vals []string) {
		if f := search.FoldedValues(vals); len(f) > 0 {
			w.add(id, col+" = ANY("+w.arg(f)+")")
		}
	}
	field(skipDepartment, "u.f_department", q.Departments)
	field(skipDivision, "u.f_division", q.Divisions)
	field(skipOffice, "u.f_office", q.Offices)
	if f := search.FoldedValues(q.Tags); len(f) > 0 {
		w.add(skipTag, "u.id IN (SELECT t.user_id FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = ANY("+w.arg(f)+"))")
	}
	// A group matches by folded name, or by ID exactly (the reference
	// evaluator's rule); values that fold to nothing are ignored.
	var groupIDs []string
	for _, v := range q.Groups {
		if search.Fold(v) != "" && storable(v) {
			groupIDs = append(groupIDs, v)
		}
	}
	if names := search.FoldedValues(q.Groups); len(names) > 0 {
		pn, pi := w.arg(names), w.arg(groupIDs)
		w.add(skipNone, `u.id IN (SELECT m.user_id FROM {S}.memberships m JOIN {S}.groups g
			ON g.org_id = m.org_id AND g.id = m.group_id
			WHERE m.org_id = $1 AND g.org_id = $1 AND (g.f_name = ANY(`+pn+`) OR g.id = ANY(`+pi+`)))`)
	}
	for _, term := range search.Terms(q.Text) {
		cond := w.prefix(term)
		parts := search.TermParts(term)
		if len(parts) > 0 && !(len(parts) == 1 && parts[0] == term) {
			all := make([]string, len(parts))
			for i, p := range parts {
				all[i] = w.prefix(p)
			}
			cond = "(" + cond + " OR (" + strings.Join(all, " AND ") + "))"
		}
		w.add(skipNone, cond)
	}
	return w
}

// prefix renders "some word of u starts with p" as an index range scan.
func (w *whereBuilder) prefix(p string) string {
	cond := "x.word >= " + w.arg(p)
	if hi, ok := successor(p); ok {
		cond += " AND x.word < " + w.arg(hi)
	}
	return "u.id IN (SELECT x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND " + cond + ")"
}

// successor returns the least string greater than every string with
// prefix p (bytewise, which for UTF-8 is code point order), or false when
// there is none.
func successor(p string) (string, bool) {
	for len(p) > 0 {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.RuneError && size <= 1 {
			continue
		}
		next := r + 1
		if next >= 0xD800 && next <= 0xDFFF {
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			return p + string(next), true
		}
	}
	return "", false
}

// sql renders the conditions but those of field skip.
func (w *whereBuilder) sql(skip int) string {
	var out []string
	for i, c := range w.conds {
		if skip == skipNone || w.field[i] != skip {
			out = append(out, c)
		}
	}
	return strings.Join(out, " AND ")
}

// sortColumn is the SQL sort key for a sort order.
func sortColumn(s search.Sort) string {
	switch s {
	case search.SortFirstName:
		return "u.k_first"
	case search.SortEmail:
		return "u.f_email"
	case search.SortID:
		return "''::text COLLATE \"C\""
	default:
		return "u.k_last"
	}
}

// Search returns one page of q.
func (s *Store) Search(ctx context.Context, orgID string, q search.Query) (store.Page, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Page{}, err
	}
	q, err := q.Normalize()
	if err != nil {
		return store.Page{}, err
	}
	pos, hasCursor, err := search.DecodeCursor(orgID, q)
	if err != nil {
		return store.Page{}, err
	}
	w := buildWhere(orgID, q)
	key := sortColumn(q.Sort)
	if hasCursor {
		if q.Sort == search.SortID {
			w.add(skipNone, "u.id > "+w.arg(pos.ID))
		} else {
			// A row comparison is one index range on (org, key, id).
			w.add(skipNone, "("+key+", u.id) > ("+w.arg(pos.Key)+", "+w.arg(pos.ID)+")")
		}
	}
	order := key + ", u.id"
	if q.Sort == search.SortID {
		order = "u.id"
	}
	limit := w.arg(q.Limit + 1)
	sql := s.sql(`SELECT ` + userSelect + ` FROM {S}.users u WHERE ` + w.sql(skipNone) + ` ORDER BY ` + order + ` LIMIT ` + limit)
	users, err := s.queryUsers(ctx, sql, w.args...)
	if err != nil {
		return store.Page{}, err
	}
	var page store.Page
	if len(users) > q.Limit {
		users = users[:q.Limit]
		last := users[len(users)-1]
		page.NextCursor = search.EncodeCursor(orgID, q, search.Position{
			Key: search.SortKey(q.Sort, last.FirstName, last.LastName, last.Email),
			ID:  last.ID,
		})
	}
	if err := s.fillGroups(ctx, orgID, users); err != nil {
		return store.Page{}, err
	}
	if users == nil {
		users = []store.User{}
	}
	page.Users = users
	return page, nil
}

// Facets counts values among the users q matches, each facet ignoring its
// own field's filter.
func (s *Store) Facets(ctx context.Context, orgID string, q search.Query) (store.Facets, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Facets{}, err
	}
	q.Cursor, q.Limit = "", 0
	q, err := q.Normalize()
	if err != nil {
		return store.Facets{}, err
	}
	f := store.Facets{
		Department: map[string]int{}, Division: map[string]int{}, Office: map[string]int{},
		Tag: map[string]int{}, TagFields: map[string]map[string]int{},
	}
	// Each query reads the org's values once: counts under the query (each
	// facet without its own filter) and, over every stored value, the
	// label (the bytewise least original spelling). All three go in one
	// round trip.
	b := &pgx.Batch{}
	type into struct {
		name string
		scan func(rows pgx.Rows) error
	}
	var intos []into
	w := buildWhere(orgID, q)
	// Department, division and office in one pass over the org's rows.
	b.Queue(s.sql(`SELECT GROUPING(u.f_department), GROUPING(u.f_division), GROUPING(u.f_office),
		u.f_department, u.f_division, u.f_office, min(u.department), min(u.division), min(u.office),
		count(*) FILTER (WHERE `+w.sql(skipDepartment)+`),
		count(*) FILTER (WHERE `+w.sql(skipDivision)+`),
		count(*) FILTER (WHERE `+w.sql(skipOffice)+`)
		FROM {S}.users u WHERE u.org_id = $1
		GROUP BY GROUPING SETS ((u.f_department), (u.f_division), (u.f_office))`), w.args...)
	intos = append(intos, into{"department, division and office", func(rows pgx.Rows) error {
		var gDept, gDiv, gOff int
		var fDept, fDiv, fOff, lDept, lDiv, lOff *string
		var nDept, nDiv, nOff int
		if err := rows.Scan(&gDept, &gDiv, &gOff, &fDept, &fDiv, &fOff, &lDept, &lDiv, &lOff, &nDept, &nDiv, &nOff); err != nil {
			return err
		}
		// GROUPING is 0 for the column a row is grouped by.
		switch {
		case gDept == 0 && fDept != nil && *fDept != "" && nDept > 0:
			f.Department[*lDept] += nDept
		case gDiv == 0 && fDiv != nil && *fDiv != "" && nDiv > 0:
			f.Division[*lDiv] += nDiv
		case gOff == 0 && fOff != nil && *fOff != "" && nOff > 0:
			f.Office[*lOff] += nOff
		}
		return nil
	}})
	// The tag facets ignore the tag filter; a builder of their own keeps
	// every parameter referenced.
	qt := q
	qt.Tags = nil
	w = buildWhere(orgID, qt)
	matched := `LEFT JOIN (SELECT u.id FROM {S}.users u WHERE ` + w.sql(skipNone) + `) m ON m.id = t.user_id`
	// A person holding a value in two tag fields counts once in "tag".
	b.Queue(s.sql(`SELECT min(v.label), count(*) FILTER (WHERE v.matched) FROM (
		SELECT t.f_value, min(t.value) AS label, bool_or(m.id IS NOT NULL) AS matched
		FROM {S}.user_tags t `+matched+` WHERE t.org_id = $1 GROUP BY t.f_value, t.user_id) v GROUP BY v.f_value`), w.args...)
	intos = append(intos, into{"tag", func(rows pgx.Rows) error {
		var label string
		var n int
		if err := rows.Scan(&label, &n); err != nil {
			return err
		}
		if n > 0 {
			f.Tag[label] += n
		}
		return nil
	}})
	b.Queue(s.sql(`SELECT t.field, min(t.value), count(m.id) FROM {S}.user_tags t `+matched+`
		WHERE t.org_id = $1 GROUP BY t.field, t.f_value`), w.args...)
	intos = append(intos, into{"tag fields", func(rows pgx.Rows) error {
		var field, label string
		var n int
		if err := rows.Scan(&field, &label, &n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		m := f.TagFields[field]
		if m == nil {
			m = map[string]int{}
			f.TagFields[field] = m
		}
		m[label] += n
		return nil
	}})
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for _, in := range intos {
		rows, err := br.Query()
		if err != nil {
			return store.Facets{}, fmt.Errorf("pgstore: facets %s: %w", in.name, interpretError(err))
		}
		for rows.Next() {
			if err := in.scan(rows); err != nil {
				rows.Close()
				return store.Facets{}, fmt.Errorf("pgstore: facets %s: %w", in.name, interpretError(err))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return store.Facets{}, fmt.Errorf("pgstore: facets %s: %w", in.name, interpretError(err))
		}
	}
	if err := br.Close(); err != nil {
		return store.Facets{}, fmt.Errorf("pgstore: facets: %w", interpretError(err))
	}
	return f, nil
}
