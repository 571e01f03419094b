package pgstore

import (
	"context"
	"fmt"
	"math"
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
	// inRow checks tag and text filters on the user row's arrays, for a
	// walk of a sort index; otherwise they are semi-joins with the side
	// tables, which drive a query from the filter.
	inRow bool
}

func (w *whereBuilder) add(field int, cond string) {
	w.conds = append(w.conds, cond)
	w.field = append(w.field, field)
}

func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// buildWhere renders q's filters (q is normalized) with semi-joins, for a
// query driven from its filters.
func buildWhere(orgID string, q search.Query) *whereBuilder {
	return buildWhereMode(orgID, q, nil)
}

// buildWhereMode renders q's filters; tag and text filters are checked on
// the row (for a walk of the sort order) except for the one that drives,
// which is a semi-join with its side table.
func buildWhereMode(orgID string, q search.Query, d *driver) *whereBuilder {
	w := &whereBuilder{args: []any{orgID}, inRow: d != nil}
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
		switch {
		case !w.inRow:
			w.add(skipTag, "u.id IN (SELECT t.user_id FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = ANY("+w.arg(f)+"))")
		case d.tags:
			// The IDs first, then one primary-key lookup each: the
			// planner cannot start from the users instead.
			w.add(skipTag, "u.id = ANY(ARRAY(SELECT t.user_id FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = ANY("+w.arg(f)+")))")
		default:
			w.add(skipTag, "u.tag_values && "+w.arg(f)+"::text[]")
		}
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
	for i, term := range search.Terms(q.Text) {
		if w.inRow && d.term == i {
			// The driving term (a simple one): its IDs first, then one
			// primary-key lookup each.
			w.add(skipNone, "u.id = ANY(ARRAY(SELECT x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND "+w.wordRange(term)+"))")
			continue
		}
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

// prefix renders "some word of u starts with p": a range scan of
// user_words, or a check of the row's words.
func (w *whereBuilder) prefix(p string) string {
	cond := w.wordRange(p)
	if w.inRow {
		return "EXISTS (SELECT 1 FROM unnest(u.words) x(word) WHERE " + cond + ")"
	}
	return "u.id IN (SELECT x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND " + cond + ")"
}

// wordRange renders "x.word starts with p" as a range.
func (w *whereBuilder) wordRange(p string) string {
	cond := "x.word >= " + w.arg(p)
	if hi, ok := successor(p); ok {
		cond += " AND x.word < " + w.arg(hi)
	}
	return cond
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

// driver is how Search reads a query with tag or text filters: by walking
// the sort order and checking those filters on each row (neither field
// set), or driven from the tag filter's or one text term's side-table rows
// (tags, or term >= 0), when they are few.
type driver struct {
	tags bool
	term int // the index among search.Terms of the driving term, or -1
}

// driveLimit bounds the side-table rows counted when sizing a text term.
const driveLimit = 1000

// chooseDriver sizes the query's tag filter (from facet_counts) and its
// simple text terms (counting up to driveLimit of their user_words rows),
// and estimates the rows a walk of the sort order would read to fill a page
// (page size x people / expected matches, taking the filters as
// independent). The smallest side-table set drives the query if it is
// smaller than that walk; otherwise it walks. Queries without tag or text
// filters return nil: the planner chooses among the users indexes, whose
// statistics it knows.
func (s *Store) chooseDriver(ctx context.Context, orgID string, q search.Query) (*driver, error) {
	tags := search.FoldedValues(q.Tags)
	terms := search.Terms(q.Text)
	if len(tags) == 0 && len(terms) == 0 {
		return nil, nil
	}
	active := []bool{true, false}
	switch q.Status {
	case search.StatusActive:
		active = []bool{true}
	case search.StatusInactive:
		active = []bool{false}
	}
	b := &pgx.Batch{}
	// People of the status, and those each filter field's values hold
	// (an upper bound: one person may hold two values).
	b.Queue(s.sql(`SELECT coalesce(sum(n) FILTER (WHERE facet = 'all'), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'department' AND f_value = ANY($3)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'division' AND f_value = ANY($4)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'office' AND f_value = ANY($5)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'tag' AND f_value = ANY($6)), 0)
		FROM {S}.facet_counts WHERE org_id = $1 AND active = ANY($2)
		AND (facet = 'all' OR f_value = ANY($3) OR f_value = ANY($4) OR f_value = ANY($5) OR f_value = ANY($6))`),
		orgID, active, search.FoldedValues(q.Departments), search.FoldedValues(q.Divisions), search.FoldedValues(q.Offices), tags)
	var simple []int
	for i, t := range terms {
		if parts := search.TermParts(t); len(parts) == 1 && parts[0] == t {
			simple = append(simple, i)
			w := &whereBuilder{args: []any{orgID, driveLimit}}
			b.Queue(s.sql(`SELECT count(*) FROM (SELECT 1 FROM {S}.user_words x WHERE x.org_id = $1 AND `+w.wordRange(t)+` LIMIT $2) x`),
				w.args...)
		}
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var total, dept, div, office, tagN float64
	if err := br.QueryRow().Scan(&total, &dept, &div, &office, &tagN); err != nil {
		return nil, fmt.Errorf("pgstore: search: size the filters: %w", interpretError(err))
	}
	termN := make([]float64, len(simple))
	for k := range simple {
		if err := br.QueryRow().Scan(&termN[k]); err != nil {
			return nil, fmt.Errorf("pgstore: search: size a text term: %w", interpretError(err))
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("pgstore: search: %w", interpretError(err))
	}
	if total == 0 {
		return nil, nil
	}
	// Expected matches, as if the filters were independent.
	matches := total
	sel := func(n float64) {
		matches *= min(n, total) / total
	}
	if len(search.FoldedValues(q.Departments)) > 0 {
		sel(dept)
	}
	if len(search.FoldedValues(q.Divisions)) > 0 {
		sel(div)
	}
	if len(search.FoldedValues(q.Offices)) > 0 {
		sel(office)
	}
	best, d := math.Inf(1), &driver{term: -1}
	if len(tags) > 0 {
		sel(tagN)
		best, d.tags = tagN, true
	}
	for k, i := range simple {
		// A full count means at least driveLimit rows.
		sel(termN[k])
		if termN[k] < best {
			best, d.tags, d.term = termN[k], false, i
		}
	}
	walk := float64(q.Limit+1) * total / max(matches, 1)
	if best >= walk {
		return &driver{term: -1}, nil
	}
	return d, nil
}

// searchSQL renders the page query of q (normalized) read by d, after pos
// if hasCursor.
func (s *Store) searchSQL(orgID string, q search.Query, d *driver, pos search.Position, hasCursor bool) (string, []any) {
	w := buildWhereMode(orgID, q, d)
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
	return s.sql(`SELECT ` + userSelect + ` FROM {S}.users u WHERE ` + w.sql(skipNone) + ` ORDER BY ` + order + ` LIMIT ` + limit), w.args
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
	d, err := s.chooseDriver(ctx, orgID, q)
	if err != nil {
		return store.Page{}, err
	}
	sql, args := s.searchSQL(orgID, q, d, pos, hasCursor)
	users, err := s.queryUsers(ctx, sql, args...)
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

// The facet column of facet_counts.
const (
	facetAll         = "all"
	facetDepartment  = "department"
	facetDivision    = "division"
	facetOffice      = "office"
	facetTag         = "tag"
	facetFieldPrefix = "field:"
)

// restricted reports whether q restricts the people a facet counts beyond
// their status, leaving out the facet's own field skip.
func restricted(q search.Query, skip int) bool {
	for _, f := range []struct {
		field int
		vals  []string
	}{{skipDepartment, q.Departments}, {skipDivision, q.Divisions}, {skipOffice, q.Offices}, {skipTag, q.Tags}, {skipNone, q.Groups}} {
		if f.field != skip || f.field == skipNone {
			if len(search.FoldedValues(f.vals)) > 0 {
				return true
			}
		}
	}
	return len(search.Terms(q.Text)) > 0
}

// without returns q without the filter of field skip (a facet's own), so
// that a builder references every parameter it holds.
func without(q search.Query, skip int) search.Query {
	switch skip {
	case skipDepartment:
		q.Departments = nil
	case skipDivision:
		q.Divisions = nil
	case skipOffice:
		q.Offices = nil
	case skipTag:
		q.Tags = nil
	}
	return q
}

// orgCounts are an org's facet_counts rows, read once per Facets call.
type orgCounts struct {
	// label is the least spelling with a count, by facet and folded value
	// (for the tag facet, the least over every tag field).
	label map[string]map[string]string
	// n counts the people of the query's status, by facet and folded value.
	n map[string]map[string]int
}

func (s *Store) readCounts(ctx context.Context, orgID string, status search.Status) (*orgCounts, error) {
	rows, err := s.pool.Query(ctx, s.sql(`SELECT facet, f_value, value, active, n FROM {S}.facet_counts
		WHERE org_id = $1 AND n > 0`), orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := &orgCounts{label: map[string]map[string]string{}, n: map[string]map[string]int{}}
	setLabel := func(facet, fv, value string) {
		m := c.label[facet]
		if m == nil {
			m = map[string]string{}
			c.label[facet] = m
		}
		if l, ok := m[fv]; !ok || value < l {
			m[fv] = value
		}
	}
	for rows.Next() {
		var facet, fv, value string
		var active bool
		var n int
		if err := rows.Scan(&facet, &fv, &value, &active, &n); err != nil {
			return nil, err
		}
		if facet != facetTag && facet != facetAll {
			setLabel(facet, fv, value)
			if strings.HasPrefix(facet, facetFieldPrefix) {
				setLabel(facetTag, fv, value)
			}
		}
		if status == search.StatusAll || active == (status == search.StatusActive) {
			m := c.n[facet]
			if m == nil {
				m = map[string]int{}
				c.n[facet] = m
			}
			m[fv] += n
		}
	}
	return c, rows.Err()
}

// add counts n people under the label of (facet, folded value) in out.
func (c *orgCounts) add(out map[string]int, facet, fv string, n int) {
	if n <= 0 || fv == "" {
		return
	}
	l, ok := c.label[facet][fv]
	if !ok {
		// A value counted by a query is stored, so it has a label; the
		// folded value stands in should a concurrent write remove it.
		l = fv
	}
	out[l] += n
}

// Facets counts values among the users q matches, each facet ignoring its
// own field's filter. A facet that nothing but status restricts reads the
// counts Apply keeps (facet_counts); the others count the matching people.
// Labels come from facet_counts.
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
	counts, err := s.readCounts(ctx, orgID, q.Status)
	if err != nil {
		return store.Facets{}, fmt.Errorf("pgstore: facets counts: %w", interpretError(err))
	}
	fieldOut := func(field string) map[string]int {
		m := f.TagFields[field]
		if m == nil {
			m = map[string]int{}
			f.TagFields[field] = m
		}
		return m
	}
	outs := map[string]map[string]int{facetDepartment: f.Department, facetDivision: f.Division, facetOffice: f.Office, facetTag: f.Tag}
	// Facets whose own filter is empty all count the people the whole
	// query matches: they share one pass over those people. A facet with
	// its own filter counts the people matching the rest of the query.
	b := &pgx.Batch{}
	var shared []string
	for _, c := range []struct {
		skip  int
		facet string
		own   []string
	}{
		{skipDepartment, facetDepartment, q.Departments},
		{skipDivision, facetDivision, q.Divisions},
		{skipOffice, facetOffice, q.Offices},
		{skipTag, facetTag, q.Tags},
	} {
		switch {
		case !restricted(q, c.skip):
			for facet, m := range counts.n {
				if facet == c.facet || (c.facet == facetTag && strings.HasPrefix(facet, facetFieldPrefix)) {
					out := outs[facet]
					if out == nil {
						out = fieldOut(strings.TrimPrefix(facet, facetFieldPrefix))
					}
					for fv, n := range m {
						counts.add(out, facet, fv, n)
					}
				}
			}
		case len(search.FoldedValues(c.own)) == 0:
			shared = append(shared, c.facet)
		default:
			w := buildWhere(orgID, without(q, c.skip))
			b.Queue(s.sql(facetQuery(w, []string{c.facet})), w.args...)
		}
	}
	if len(shared) > 0 {
		w := buildWhere(orgID, q)
		b.Queue(s.sql(facetQuery(w, shared)), w.args...)
	}
	if b.Len() == 0 {
		return f, nil
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for range b.Len() {
		rows, err := br.Query()
		if err != nil {
			return store.Facets{}, fmt.Errorf("pgstore: facets: %w", interpretError(err))
		}
		for rows.Next() {
			var facet, fv string
			var n, first int
			if err := rows.Scan(&facet, &fv, &n, &first); err != nil {
				rows.Close()
				return store.Facets{}, fmt.Errorf("pgstore: facets: %w", interpretError(err))
			}
			out := outs[facet]
			if out == nil {
				out = fieldOut(strings.TrimPrefix(facet, facetFieldPrefix))
				counts.add(f.Tag, facetTag, fv, first)
			}
			counts.add(out, facet, fv, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return store.Facets{}, fmt.Errorf("pgstore: facets: %w", interpretError(err))
		}
	}
	if err := br.Close(); err != nil {
		return store.Facets{}, fmt.Errorf("pgstore: facets: %w", interpretError(err))
	}
	return f, nil
}

// facetQuery counts, among the people w matches, the values of the given
// facets (department, division, office, tag; tag includes the tag fields),
// as rows (facet_counts facet, folded value, people, first): for a tag
// field, first counts the people for whom it is the first field holding the
// value, so the tag facet (a person once) is the sum of first over the
// fields. Department, division and office share one GROUPING SETS pass;
// with tags too, both passes read one materialized copy of the matching
// rows.
func facetQuery(w *whereBuilder, facets []string) string {
	src, cond := "{S}.users u", w.sql(skipNone)
	var cols []string
	tags := false
	for _, f := range facets {
		if f == facetTag {
			tags = true
		} else {
			cols = append(cols, "u.f_"+f)
		}
	}
	with := ""
	if tags && len(cols) > 0 {
		with = "WITH m AS MATERIALIZED (SELECT " + strings.Join(cols, ", ") + ", u.tag_fields, u.tag_values FROM " +
			src + " WHERE " + cond + ") "
		src, cond = "m u", "true"
	}
	var parts []string
	switch len(cols) {
	case 0:
	case 1:
		parts = append(parts, `SELECT '`+strings.TrimPrefix(cols[0], "u.f_")+`', `+cols[0]+`, count(*), 0 FROM `+src+
			` WHERE `+cond+` GROUP BY `+cols[0])
	default:
		facet, value := "CASE", "CASE"
		for _, c := range cols {
			facet += " WHEN GROUPING(" + c + ") = 0 THEN '" + strings.TrimPrefix(c, "u.f_") + "'"
			value += " WHEN GROUPING(" + c + ") = 0 THEN " + c
		}
		parts = append(parts, `SELECT `+facet+` END, `+value+` END, count(*), 0 FROM `+src+` WHERE `+cond+
			` GROUP BY GROUPING SETS ((`+strings.Join(cols, "), (")+`))`)
	}
	if tags {
		parts = append(parts, `SELECT 'field:' || x.f, x.v, count(*), count(*) FILTER (WHERE x.i = array_position(u.tag_values, x.v))
			FROM `+src+` CROSS JOIN LATERAL unnest(u.tag_fields, u.tag_values) WITH ORDINALITY x(f, v, i)
			WHERE `+cond+` GROUP BY x.f, x.v`)
	}
	return with + strings.Join(parts, " UNION ALL ")
}
