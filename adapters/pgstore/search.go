package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/internal/wordrows"
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
	// ordered leaves the driving filter out of conds: the query reads it
	// as an ordered source of (k_last, user_id) pairs (see orderedSource).
	ordered bool
	// boundNull (bounded reads only) is true in SQL when the bound of the
	// pairs is the sort key of the tag's last user_tags row: every pair
	// was read.
	boundNull string
	// pairConds (ordered reads only) filter the driving pairs d before
	// their users are read: a tag filter that does not drive is an
	// index-only probe of user_tags per pair, a few index pages instead of
	// a user row.
	pairConds []string
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
	w := &whereBuilder{args: []any{orgID}, inRow: d != nil, ordered: d != nil && d.ordered}
	w.add(skipNone, "u.org_id = $1")
	switch q.Status {
	case search.StatusActive:
		w.add(skipNone, "u.active")
	case search.StatusInactive:
		w.add(skipNone, "NOT u.active")
	}
	field := func(id int, col string, vals []string) {
		switch f := search.FoldedValues(vals); len(f) {
		case 0:
		case 1:
			// An equality, not = ANY: the planner reads an index on
			// (org, field, k_last, id) in sort order only for an
			// equality.
			w.add(id, col+" = "+w.arg(f[0]))
		default:
			w.add(id, col+" = ANY("+w.arg(f)+")")
		}
	}
	field(skipDepartment, "u.f_department", q.Departments)
	field(skipDivision, "u.f_division", q.Divisions)
	field(skipOffice, "u.f_office", q.Offices)
	if f := search.FoldedValues(q.Tags); len(f) > 0 {
		switch {
		case w.ordered && d.drivesTags():
			// The driving filter: read by orderedSource.
		case w.ordered:
			w.pairConds = append(w.pairConds, "EXISTS (SELECT 1 FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = ANY("+
				w.arg(f)+") AND t.k_last = d.k_last AND t.user_id = d.user_id)")
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
		if w.ordered && d.drivesTerm(i, term) {
			continue
		}
		if w.inRow && d.term == i {
			// The driving term (a simple one): its candidates' IDs first
			// — its side-table rows and the sort-key range they leave
			// out (migration 004) — then one primary-key lookup each,
			// checked on the row below.
			w.add(skipNone, "u.id = ANY(ARRAY(SELECT x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND "+w.sideRange(term)+
				" UNION ALL SELECT v.id FROM {S}.users v WHERE v.org_id = $1 AND "+w.keyRange("v.k_last", term)+"))")
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

// prefix renders "some word of u starts with p": a check of the row's
// words, or a range scan of user_words or (for the users its rows leave
// out, migration 004) of the sort key, whose candidates the row confirms.
func (w *whereBuilder) prefix(p string) string {
	if w.inRow {
		return w.rowPrefix(p)
	}
	return "(u.id IN (SELECT x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND " + w.sideRange(p) + ") OR (" +
		w.keyRange("u.k_last", p) + " AND " + w.rowPrefix(p) + "))"
}

// rowPrefix renders "some word of u starts with p" checked on u's words.
func (w *whereBuilder) rowPrefix(p string) string {
	return "EXISTS (SELECT 1 FROM unnest(u.words) x(word) WHERE " + w.wordRange(p) + ")"
}

// wordRange renders "x.word starts with p" as a range.
func (w *whereBuilder) wordRange(p string) string {
	return w.keyRange("x.word", p)
}

// streamRange renders the user_words rows x of a two-character term p as
// one range of migration 006's index, in sort order: the rows whose first
// two characters are p's and whose lcp is below their byte length, which
// is then p's (the database computes both with left(), counting characters
// as its index does). The index holds only such rows (migration 007): the
// condition is written as its WHERE clause is, for PostgreSQL to prove the
// index applies (TestStreamReadsFirstTwoIndex checks the plan). Where that
// byte length is not len(p) (in a database whose encoding has characters
// of other byte lengths than UTF-8's, p not ASCII), the rows are checked
// by lcp and word range instead, and PostgreSQL sorts them. It folds the test of p into a constant when it
// plans the query, leaving one of the two conditions.
func (w *whereBuilder) streamRange(p string) string {
	pa, n := w.arg(p), w.arg(len(p))
	return "left(x.word, 2) = left(" + pa + "::text, 2) AND ((octet_length(left(" + pa + "::text, 2)) = " + n +
		" AND x.lcp < octet_length(left(x.word, 2))) OR (octet_length(left(" + pa + "::text, 2)) <> " + n +
		" AND x.lcp < " + w.arg(int16(min(len(p), wordrows.Cap+1))) + "::int2 AND " + w.wordRange(p) + "))"
}

// sideRange renders the user_words rows x a term p reads: those whose
// word starts with p and whose lcp is below len(p) (migration 004), one
// index range per lcp value. The users they leave out have a sort key
// that starts with p.
func (w *whereBuilder) sideRange(p string) string {
	return "x.lcp = ANY(" + w.arg(lcpBelow(len(p))) + "::int2[]) AND " + w.wordRange(p)
}

// keyRange renders "col starts with p" as a range.
func (w *whereBuilder) keyRange(col, p string) string {
	cond := col + " >= " + w.arg(p)
	if hi, ok := successor(p); ok {
		cond += " AND " + col + " < " + w.arg(hi)
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
	// ordered reads the driving filter's side-table rows as (k_last,
	// user_id) pairs in the default sort order (searchSQL sets it for that
	// sort): a tag's index range is already in that order, so the page
	// needs only its first rows; a term's pairs come from the index alone
	// and are sorted before any user row is read.
	ordered bool
	// all (in the default sort) drives from the intersection of the tag
	// filter's and every simple term's pairs, all read from the indexes
	// alone: only users matching all of them are read.
	all bool
	// take, when positive, bounds the pairs an ordered read sorts (top-N
	// in memory, not a sort of every pair, which spills to disk past a few
	// tens of thousands): enough, by the estimates, to fill the page. A
	// short page read from take pairs is read again with more.
	take int
	// split (the default sort) is the index among search.Terms of the one
	// simple term that may drive, alone or in the intersection, or -1.
	// Its side-table pairs leave out the users whose sort key starts with
	// the term (migration 004); Search reads those from the sort key's
	// range (leadPage) and merges the two.
	split int
	// below, when hasBelow, bounds the sort keys read (exclusive): a
	// leadPage reads one key range.
	below    string
	hasBelow bool
	// bounded (with all, and a tag filter of one value) makes take the
	// number of the tag's user_tags rows after the cursor, in sort order,
	// whose last sort key bounds the pairs read (see orderedSource),
	// instead of a number of pairs to
	// sort: the tag's pairs are then one short index range and the term's
	// are filtered by the index scan, neither read nor sorted in full.
	bounded bool
	// stream (the default sort; the split term has two characters) reads
	// the split term's pairs from migration 006's index, which holds them
	// in sort order, each user once: a read stops when the page is full,
	// with nothing to sort (see streams).
	stream bool
}

// streamTerm reports whether term is read in sort order from migration
// 006's index: one word prefix of two characters, so that all of its rows
// share their first two, and no longer than wordrows.Cap bytes, so that a
// user has at most one row with lcp below its length.
func streamTerm(term string) bool {
	return simpleTerm(term) && utf8.RuneCountInString(term) == 2 && len(term) <= wordrows.Cap
}

// streams reports whether an ordered read with d takes its pairs from the
// split term's stream alone (any tag filter probed per pair), or from the
// stream joined with the one value of the tag filter (d.all): pairs in
// sort order, each user once, so the read needs no sort, no DISTINCT and
// no take.
func (d *driver) streams(q search.Query) bool {
	if d == nil || !d.stream || d.split < 0 {
		return false
	}
	if d.all {
		return len(search.FoldedValues(q.Tags)) == 1
	}
	return d.term == d.split && !d.tags
}

// simpleTerm reports whether term is one word prefix (no parts), which
// one range of user_words answers.
func simpleTerm(term string) bool {
	parts := search.TermParts(term)
	return len(parts) == 1 && parts[0] == term
}

func (d *driver) drivesTags() bool { return d.tags || d.all }

func (d *driver) drivesTerm(i int, term string) bool {
	return d.term == i || (d.all && i == d.split)
}

// drivesSplit reports whether an ordered read with d takes the split
// term's pairs, which leave out the users its lead words match.
func (d *driver) drivesSplit() bool {
	return d != nil && d.split >= 0 && (d.term == d.split || d.all)
}

// splitTerm returns the index among terms of the simple term an ordered
// read may drive from: the longest (most selective, as a rule), the first
// of equals; or -1.
func splitTerm(terms []string) int {
	split := -1
	for i, t := range terms {
		if simpleTerm(t) && (split < 0 || len(t) > len(terms[split])) {
			split = i
		}
	}
	return split
}

// termCountLimit bounds the user_words rows counted when sizing a text
// term: counting is about as costly as reading the term's pairs, so a term
// with more rows is sized by the planner's estimate instead (from the
// column's histogram; good to a small factor, which is all the choice
// needs).
const termCountLimit = 5000

// pairCost is the cost of reading and sorting one (sort key, ID) pair from
// a side table's index alone, as a fraction of reading one user row (a
// random heap page): measured at 1M people, about 0.5 µs against 20 µs.
const pairCost = 1.0 / 40

// keyedRowCost is the cost of the rows of the plan driven by the tag
// filter (each holder's row read by primary key and checked for the other
// filters) as a multiple of a row read walking a sort index: a descent of
// the primary key's index as well as the heap page, both at random. The
// other plans' keyed reads (a term's candidates, an intersection's page)
// are not scaled: they read few rows past the page. Measured at 1M people:
// 1,600 such rows in 27–45 ms against an estimate of 12 ms; at 2x a tag
// with a one-letter term reads bounded pairs instead (tag plus text 25–34
// -> 22–28 ms p99 in three runs each, one-letter prefixes unchanged).
const keyedRowCost = 2.0

// chooseDriver sizes the query's filters from facet_counts and its simple
// text terms by counting their user_words rows (up to termCountLimit, past
// which the planner's estimate stands in), all in one round trip, and
// estimates the cost, in user rows read, of each way to read a page, taking
// the filters as independent:
//   - walking the sort order (or a department, division or office index,
//     whichever holds fewest people) and checking tags and words on each
//     row: (limit+1) x people walked / expected matches;
//   - in the default sort, driving from the tag filter's side-table range,
//     already in sort order: the same formula over the tag's holders;
//   - in the default sort, driving from a term: its (sort key, ID) pairs,
//     read and sorted from the index alone (pairCost of a row each), then
//     the users of the page;
//   - in another sort, driving from the tag filter or a term means reading
//     every user it holds.
//
// The cheapest wins. Queries without tag or text filters return nil: the
// planner chooses among the users indexes, whose statistics it knows.
func (s *Store) chooseDriver(ctx context.Context, orgID string, q search.Query) (*driver, error) {
	tags := search.FoldedValues(q.Tags)
	terms := search.Terms(q.Text)
	if len(tags) == 0 && len(terms) == 0 {
		return nil, nil
	}
	sizeKey := orgID + "\x00" + string(q.Status)
	if v, ok := s.sizes.Load(sizeKey); ok {
		if sz := v.(orgSize); sz.n < smallOrg && time.Since(sz.at) < sizeTTL {
			if d, ok := smallDriver(q, tags, terms); ok {
				return d, nil
			}
		}
	}
	active := []bool{true, false}
	switch q.Status {
	case search.StatusActive:
		active = []bool{true}
	case search.StatusInactive:
		active = []bool{false}
	}
	depts, divs, offices := search.FoldedValues(q.Departments), search.FoldedValues(q.Divisions), search.FoldedValues(q.Offices)
	// People of the status, and those each filter field's values hold
	// (an upper bound: one person may hold two values).
	b := &pgx.Batch{}
	b.Queue(s.sql(`SELECT coalesce(sum(n) FILTER (WHERE facet = 'all'), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'department' AND f_value = ANY($3)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'division' AND f_value = ANY($4)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'office' AND f_value = ANY($5)), 0),
		coalesce(sum(n) FILTER (WHERE facet = 'tag' AND f_value = ANY($6)), 0)
		FROM {S}.facet_counts WHERE org_id = $1 AND active = ANY($2)
		AND (facet = 'all' OR f_value = ANY($3) OR f_value = ANY($4) OR f_value = ANY($5) OR f_value = ANY($6))`),
		orgID, active, depts, divs, offices, tags)
	var simple []int
	for i, t := range terms {
		if simpleTerm(t) {
			simple = append(simple, i)
			w := &whereBuilder{args: []any{orgID}}
			rng := w.sideRange(t)
			b.Queue(s.sql(`SELECT count(*) FROM (SELECT 1 FROM {S}.user_words x WHERE x.org_id = $1 AND `+rng+` LIMIT `+
				strconv.Itoa(termCountLimit)+`) x`), w.args...)
			b.Queue(s.sql(`EXPLAIN (FORMAT JSON) SELECT 1 FROM {S}.user_words x WHERE x.org_id = $1 AND `+rng), w.args...)
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
		var plan string
		err := br.QueryRow().Scan(&termN[k])
		if err == nil {
			err = br.QueryRow().Scan(&plan)
		}
		if err != nil {
			return nil, fmt.Errorf("pgstore: search: size a text term: %w", interpretError(err))
		}
		if termN[k] >= termCountLimit {
			termN[k] = max(termN[k], planRows(plan))
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("pgstore: search: %w", interpretError(err))
	}
	if total > 0 && total < smallOrg {
		s.sizes.Store(sizeKey, orgSize{n: total, at: time.Now()})
	} else {
		// Only small orgs with people are remembered: the map holds
		// no more entries than there are such orgs and statuses.
		s.sizes.Delete(sizeKey)
	}
	if total == 0 {
		return nil, nil
	}
	// Expected matches, as if the filters were independent; the walk reads
	// the users index holding fewest people.
	matches, walked := total, total
	sel := func(n float64) {
		matches *= min(n, total) / total
	}
	for _, f := range []struct {
		vals []string
		n    float64
	}{{depts, dept}, {divs, div}, {offices, office}} {
		if len(f.vals) > 0 {
			sel(f.n)
			walked = min(walked, f.n)
		}
	}
	if len(tags) > 0 {
		sel(tagN)
	}
	for k := range simple {
		// A full count means at least that many rows.
		sel(termN[k])
	}
	page := float64(q.Limit + 1)
	ordered := q.Sort == search.SortLastName
	// reads is the user rows read to fill a page from an ordered source of
	// n rows.
	reads := func(n float64) float64 {
		return min(n, page*n/max(matches, 1))
	}
	split := -1
	if ordered {
		split = splitTerm(terms)
	}
	stream := split >= 0 && streamTerm(terms[split])
	best, d := reads(walked), &driver{term: -1, split: split, stream: stream}
	if len(tags) > 0 {
		c := tagN
		if ordered {
			c = reads(tagN)
		}
		// Each of the tag's holders is a primary-key lookup of its row.
		c *= keyedRowCost
		if c < best {
			best, d.tags = c, true
		}
	}
	for k, i := range simple {
		if ordered && i != split {
			// Only the split term's users left out of its pairs are
			// read from the sort key (leadPage); another term's pairs
			// would miss its own.
			continue
		}
		c := termN[k]
		if ordered {
			// The pairs walked to fill the page; with a tag filter, each
			// is probed in user_tags and only those holding it are read.
			walkedPairs, rowsPer := reads(termN[k]), 1.0
			if len(tags) > 0 {
				rowsPer = probeCost + min(tagN, total)/total
			}
			if stream {
				// Read in order until the page is full: no sort.
				c = walkedPairs * (pairCost + rowsPer)
			} else {
				c = termN[k]*pairCost + walkedPairs*rowsPer
			}
		}
		if c < best {
			best, d.tags, d.term = c, false, i
			d.take = 0
			if !stream {
				d.take = takeFor(page, termN[k], matches)
			}
		}
	}
	if k := slices.Index(simple, split); ordered && len(tags) > 0 && k >= 0 {
		// The intersection of the tag filter's and the split term's
		// pairs: every pair of both read, and the users holding both.
		pairs := tagN + termN[k]
		common := total * min(tagN, total) / total * min(termN[k], total) / total
		merged := stream && len(tags) == 1
		bound := 0
		switch {
		case merged:
			// A merge of two ranges in sort order stops when the page is
			// full: it reads the share of both that comes before the
			// page's last match.
			pairs *= min(1, page/max(common, 1))
		case len(tags) == 1:
			// The tag's first holders, enough for four pages by the
			// estimates, bound the sort keys read: the term's pairs
			// beyond the bound are skipped by the index scan (a quarter
			// of the cost of a pair read), the rest hashed.
			if bound = takeFor(page, tagN, common); bound > 0 {
				f := float64(bound) / max(tagN, 1)
				pairs = float64(bound) + termN[k]*(f+0.25)
			}
		}
		if c := pairs*pairCost + reads(common); c < best {
			all := &driver{term: -1, all: true, split: split, stream: stream}
			switch {
			case merged:
			case bound > 0:
				all.take, all.bounded = bound, true
			default:
				all.take = takeFor(page, common, matches)
			}
			return all, nil
		}
	}
	return d, nil
}

// smallOrg is the number of people of a query's status below which Search
// reads some queries without sizing their filters (see smallDriver), once
// a sized search has found the org that small (within sizeTTL): the
// sizing round trip cost about as much as the page (1 of the 3–5 ms p50
// of a text search at 10k people).
const smallOrg = 20_000

// sizeTTL is how long a sized search's count of an org's people stands
// in for sizing: an org that grows past smallOrg is sized again within it.
const sizeTTL = 30 * time.Second

// orgSize is a Store.sizes entry: people of one status in an org, and
// when they were counted.
type orgSize struct {
	n  float64
	at time.Time
}

// smallDriver returns how Search reads q (normalized, with tags or text
// terms) in an org of fewer than smallOrg people without sizing it, and
// whether it knows one: in the default sort, a two-character split term
// streams (merged with a one-value tag filter, or probing the tag's
// values per pair), which reads a few thousand index entries at most
// whatever the term's or the tag's size; a tag filter alone drives from
// its index range. Other queries are sized: a one-letter term held by
// nearly everyone (the "c" of ".com") must walk the sort order, a rare
// one must not.
func smallDriver(q search.Query, tags, terms []string) (*driver, bool) {
	if q.Sort != search.SortLastName {
		return nil, false
	}
	split := splitTerm(terms)
	switch {
	case split >= 0 && streamTerm(terms[split]):
		d := &driver{term: split, split: split, stream: true}
		if len(tags) == 1 {
			d.term, d.all = -1, true
		}
		return d, true
	case len(terms) == 0 && len(tags) > 0:
		return &driver{term: -1, split: -1, tags: true}, true
	}
	return nil, false
}

// takeFor returns the pairs to sort for a page of page users from a source
// of n pairs, expected to yield matches users: four times the pairs per
// match (duplicates and estimation error), or 0 (all) when that is most of
// them.
func takeFor(page, n, matches float64) int {
	t := 4 * page * max(1, n/max(matches, 1))
	if t >= n/2 || t > 1e6 {
		return 0
	}
	return int(t)
}

// probeCost is the cost of one index-only probe of user_tags for a (tag,
// sort key, ID) as a fraction of reading a user row: a few index pages,
// most of them cached (about 6 µs measured at 1M, against 20 µs or more).
const probeCost = 1.0 / 4

// planRows returns the row estimate of an EXPLAIN (FORMAT JSON) output, or
// 0 if it cannot be read.
func planRows(plan string) float64 {
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &p); err != nil || len(p) == 0 {
		return 0
	}
	return p[0].Plan.Rows
}

// orderedTagBranches bounds the tag values read as separate index ranges
// merged in sort order; more values are read as one range and sorted.
const orderedTagBranches = 16

// orderedSource renders the driving filters of d (ordered) as rows
// (k_last, user_id) of their side tables, after pos if hasCursor: one
// index range per tag value, in the default sort order, or the pairs of a
// term's word range; with d.all, the intersection of the tag filter's and
// every simple term's pairs.
func (w *whereBuilder) orderedSource(q search.Query, d *driver, pos search.Position, hasCursor bool) string {
	after := func(alias string) string {
		return ""
	}
	if hasCursor {
		k, id := w.arg(pos.Key), w.arg(pos.ID)
		after = func(alias string) string {
			return " AND (" + alias + ".k_last, " + alias + ".user_id) > (" + k + ", " + id + ")"
		}
	}
	if d.hasBelow {
		hi, prev := w.arg(d.below), after
		after = func(alias string) string {
			return prev(alias) + " AND " + alias + ".k_last < " + hi
		}
	}
	if d.bounded && d.take > 0 {
		// The sort key of the tag's (take+1)-th user_tags row after pos
		// (any status, any tag field) bounds both sides, inclusive; or
		// its last row's, when it has no more: the pairs are then all
		// read, and boundNull is true. (PostgreSQL computes the bound
		// once per place it appears: three index reads of take rows.)
		tag, prev := w.arg(search.FoldedValues(q.Tags)[0]), after
		nth := "(SELECT kt.k_last FROM {S}.user_tags kt WHERE kt.org_id = $1 AND kt.f_value = " + tag + prev("kt") +
			" ORDER BY kt.k_last, kt.user_id OFFSET " + w.arg(d.take) + " LIMIT 1)"
		w.boundNull = nth + " IS NULL"
		bound := "coalesce(" + nth + ", (SELECT max(kt.k_last) FROM {S}.user_tags kt WHERE kt.org_id = $1 AND kt.f_value = " + tag + "))"
		after = func(alias string) string {
			return prev(alias) + " AND " + alias + ".k_last <= " + bound
		}
	}
	if d.all && d.streams(q) {
		// The split term's stream and the tag's range, both in sort
		// order: PostgreSQL merges them (a merge semi join) or, when the
		// tag is common, probes it per pair.
		term, tag := search.Terms(q.Text)[d.split], search.FoldedValues(q.Tags)[0]
		return "SELECT x.k_last, x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND " + w.streamRange(term) + after("x") +
			" AND EXISTS (SELECT 1 FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = " + w.arg(tag) +
			" AND t.k_last = x.k_last AND t.user_id = x.user_id" + after("t") + ")"
	}
	var sources []string
	if tags := search.FoldedValues(q.Tags); len(tags) > 0 && d.drivesTags() {
		if len(tags) > orderedTagBranches {
			sources = append(sources, "SELECT t.k_last, t.user_id FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = ANY("+w.arg(tags)+")"+after("t"))
		} else {
			branches := make([]string, len(tags))
			for i, v := range tags {
				branches[i] = "SELECT t.k_last, t.user_id FROM {S}.user_tags t WHERE t.org_id = $1 AND t.f_value = " + w.arg(v) + after("t")
			}
			sources = append(sources, strings.Join(branches, " UNION ALL "))
		}
	}
	for i, term := range search.Terms(q.Text) {
		switch {
		case d.stream && i == d.split && d.drivesTerm(i, term):
			sources = append(sources, "SELECT x.k_last, x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND "+w.streamRange(term)+after("x"))
		case d.drivesTerm(i, term):
			sources = append(sources, "SELECT x.k_last, x.user_id FROM {S}.user_words x WHERE x.org_id = $1 AND "+w.sideRange(term)+after("x"))
		}
	}
	if len(sources) == 1 {
		return sources[0]
	}
	for i, src := range sources {
		sources[i] = "SELECT * FROM (" + src + ") s" + strconv.Itoa(i)
	}
	return strings.Join(sources, " INTERSECT ")
}

// searchSQL renders the page query of q (normalized) read by d, after pos
// if hasCursor.
func (s *Store) searchSQL(orgID string, q search.Query, d *driver, pos search.Position, hasCursor bool) (string, []any) {
	if orderedRead(q, d) {
		// The driving filter's pairs in sort order (each user once), then
		// each user's row, checked against the other filters, until the
		// page is full: the nested loop keeps the pairs' order.
		od := *d
		od.ordered = true
		w := buildWhereMode(orgID, q, &od)
		src := w.orderedSource(q, &od, pos, hasCursor)
		// Conditions on the pair alone run before the user's row is read
		// (the planner makes them a one-time filter of each rescan); in
		// the outer WHERE it would hash-join every pair first.
		conds := append(slices.Clone(w.pairConds), w.sql(skipNone))
		join := ` CROSS JOIN LATERAL (SELECT * FROM {S}.users u WHERE ` + strings.Join(conds, " AND ") + ` AND u.id = d.user_id OFFSET 0) u
			ORDER BY d.k_last, d.user_id LIMIT ` + w.arg(q.Limit+1)
		if od.streams(q) {
			// Pairs in sort order, each user once: read until the page
			// is full.
			return s.sql(`SELECT ` + resultSelect + `, -1::bigint FROM (` + src + `) d` + join), w.args
		}
		if d.bounded && d.take > 0 {
			// The pairs up to the bound, and take as their count unless
			// the bound read them all.
			return s.sql(`SELECT ` + resultSelect + `, CASE WHEN ` + w.boundNull + ` THEN 0 ELSE ` + w.arg(d.take) + `::bigint END
				FROM (SELECT DISTINCT d.k_last, d.user_id FROM (` + src + `) d ORDER BY d.k_last, d.user_id) d` + join), w.args
		}
		if d.take > 0 {
			// The first take pairs (a top-N sort), and how many there
			// were: as many as take means there may be more.
			return s.sql(`WITH c AS MATERIALIZED (SELECT p.k_last, p.user_id FROM (` + src + `) p
				ORDER BY p.k_last, p.user_id LIMIT ` + w.arg(d.take) + `)
				SELECT ` + resultSelect + `, (SELECT count(*) FROM c) FROM (SELECT DISTINCT c.k_last, c.user_id FROM c
				ORDER BY c.k_last, c.user_id) d` + join), w.args
		}
		return s.sql(`SELECT ` + resultSelect + `, -1::bigint FROM (SELECT DISTINCT d.k_last, d.user_id FROM (` + src + `) d
			ORDER BY d.k_last, d.user_id) d` + join), w.args
	}
	w := buildWhereMode(orgID, q, d)
	twoPhase := d == nil && q.Sort == search.SortLastName && fieldFiltered(q)
	key := sortColumn(q.Sort)
	if hasCursor {
		if q.Sort == search.SortID {
			w.add(skipNone, "u.id > "+w.arg(pos.ID))
		} else {
			// A row comparison is one index range on (org, key, id).
			w.add(skipNone, "("+key+", u.id) > ("+w.arg(pos.Key)+", "+w.arg(pos.ID)+")")
		}
	}
	if d != nil && d.hasBelow {
		w.add(skipNone, key+" < "+w.arg(d.below))
	}
	order := key + ", u.id"
	if q.Sort == search.SortID {
		order = "u.id"
	}
	limit := w.arg(q.Limit + 1)
	if twoPhase {
		// The page's IDs first, from the field indexes alone (they
		// include the other fields and the status), then its users.
		return s.sql(`SELECT ` + resultSelect + ` FROM (SELECT u.k_last, u.id FROM {S}.users u WHERE ` + w.sql(skipNone) +
			` ORDER BY ` + order + ` LIMIT ` + limit + `) p
			CROSS JOIN LATERAL (SELECT * FROM {S}.users u WHERE u.org_id = $1 AND u.id = p.id OFFSET 0) u
			ORDER BY p.k_last, p.id`), w.args
	}
	return s.sql(`SELECT ` + resultSelect + ` FROM {S}.users u WHERE ` + w.sql(skipNone) + ` ORDER BY ` + order + ` LIMIT ` + limit), w.args
}

// fieldFiltered reports whether q filters by department, division or
// office.
func fieldFiltered(q search.Query) bool {
	return len(search.FoldedValues(q.Departments)) > 0 || len(search.FoldedValues(q.Divisions)) > 0 ||
		len(search.FoldedValues(q.Offices)) > 0
}

// searchPage reads the users of one page of q (up to q.Limit+1) with d.
// A read that sorted only d.take pairs and came back short is read again
// with eight times as many, and finally (or at once, if it came back
// empty) with all of them.
func (s *Store) searchPage(ctx context.Context, orgID string, q search.Query, d *driver, pos search.Position, hasCursor bool) ([]store.User, []string, error) {
	for {
		sql, args := s.searchSQL(orgID, q, d, pos, hasCursor)
		ordered := orderedRead(q, d)
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, nil, interpretError(err)
		}
		users := make([]store.User, 0, q.Limit+1)
		keys := make([]string, 0, q.Limit+1)
		var key string
		var pairs int64
		extra := []any{&key}
		if ordered {
			extra = append(extra, &pairs)
		}
		sc := newUserScanner(extra...)
		for rows.Next() {
			users = append(users, store.User{})
			if err := sc.scan(rows, &users[len(users)-1]); err != nil {
				rows.Close()
				return nil, nil, interpretError(err)
			}
			keys = append(keys, key)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, interpretError(err)
		}
		if !ordered || d.take <= 0 || len(users) > q.Limit || (len(users) > 0 && pairs < int64(d.take)) {
			return users, keys, nil
		}
		// A short page: the pairs may have run out before the matches.
		// An empty one carries no count: read every pair.
		more := *d
		if more.take *= 8; more.take > 1e6 || len(users) == 0 {
			more.take = 0
		}
		d = &more
	}
}

// readPage reads the users of one page of q (up to q.Limit+1) with d: when
// d drives from the split term's pairs, the users those leave out come
// from the sort key's range (leadPage) and the two are merged.
func (s *Store) readPage(ctx context.Context, orgID string, q search.Query, d *driver, pos search.Position, hasCursor bool) ([]store.User, error) {
	if !orderedRead(q, d) || !d.drivesSplit() {
		users, _, err := s.searchPage(ctx, orgID, q, d, pos, hasCursor)
		return users, err
	}
	// The two reads run at once, on two of the pool's connections.
	var lead []store.User
	var leadKeys []string
	var leadErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead, leadKeys, leadErr = s.leadPage(ctx, orgID, q, search.Terms(q.Text)[d.split], pos, hasCursor)
	}()
	users, keys, err := s.searchPage(ctx, orgID, q, d, pos, hasCursor)
	<-done
	if err != nil {
		return nil, err
	}
	if leadErr != nil {
		return nil, leadErr
	}
	if len(lead) == 0 {
		return users, nil
	}
	// Both pages are in (last-name sort key, ID) order, with the keys the
	// database holds: merge them. No user is in both (a word the term reads
	// does not share the term with the sort key, migration 004); one that
	// were would meet itself, same key and ID, and be kept once.
	out := make([]store.User, 0, q.Limit+1)
	i, j := 0, 0
	for len(out) < q.Limit+1 && (i < len(users) || j < len(lead)) {
		var c int
		switch {
		case i == len(users):
			c = 1
		case j == len(lead):
			c = -1
		default:
			c = cmp.Or(strings.Compare(keys[i], leadKeys[j]), strings.Compare(users[i].ID, lead[j].ID))
		}
		switch {
		case c < 0:
			out = append(out, users[i])
			i++
		case c > 0:
			out = append(out, lead[j])
			j++
		default:
			out = append(out, users[i])
			i, j = i+1, j+1
		}
	}
	return out, nil
}

// leadPage reads (up to q.Limit+1, after pos if hasCursor) the users q
// matches whose last-name sort key starts with term: among them, all the
// users the term's user_words rows leave out (migration 004). It reads the key
// range of the sort index, checking the filters on each row, or, with a
// tag filter, the tag's side-table pairs in that range, which are in sort
// order too, whatever the tag's size.
func (s *Store) leadPage(ctx context.Context, orgID string, q search.Query, term string, pos search.Position, hasCursor bool) ([]store.User, []string, error) {
	d := &driver{term: -1, split: -1, tags: len(search.FoldedValues(q.Tags)) > 0}
	d.below, d.hasBelow = successor(term)
	if from := (search.Position{Key: term}); !hasCursor || pos.Key < from.Key {
		pos, hasCursor = from, true
	}
	return s.searchPage(ctx, orgID, q, d, pos, hasCursor)
}

// orderedRead reports whether searchSQL reads q with d from ordered
// side-table pairs (its rows then end with a count of the pairs taken).
func orderedRead(q search.Query, d *driver) bool {
	return d != nil && (d.tags || d.term >= 0 || d.all) && q.Sort == search.SortLastName
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
	users, err := s.readPage(ctx, orgID, q, d, pos, hasCursor)
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
	label map[facetValue]string
	// n counts the people of the query's status, by facet: each folded
	// value once, with a count above 0.
	n map[string][]valueCount
}

// facetValue is a folded value of a facet.
type facetValue struct{ facet, fv string }

// valueCount is how many people hold a folded value.
type valueCount struct {
	fv string
	n  int
}

// readCounts reads the org's facet_counts, one row per facet and folded
// value: its least spelling (of any status) and the count of the status's
// people. The database groups the rows (by spelling and status, half as
// many again), which was most of the client's work in a Facets call.
func (s *Store) readCounts(ctx context.Context, orgID string, status search.Status) (*orgCounts, error) {
	active := []bool{true, false}
	switch status {
	case search.StatusActive:
		active = []bool{true}
	case search.StatusInactive:
		active = []bool{false}
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT facet, f_value, min(value), coalesce(sum(n) FILTER (WHERE active = ANY($2)), 0)
		FROM {S}.facet_counts WHERE org_id = $1 AND n > 0 GROUP BY facet, f_value`), orgID, active)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := &orgCounts{label: map[facetValue]string{}, n: map[string][]valueCount{}}
	setLabel := func(facet, fv, value string) {
		k := facetValue{facet, fv}
		if l, ok := c.label[k]; !ok || value < l {
			c.label[k] = value
		}
	}
	var facet, fv, value string
	var n int
	dest := []any{&facet, &fv, &value, &n}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if facet != facetTag && facet != facetAll {
			setLabel(facet, fv, value)
			if strings.HasPrefix(facet, facetFieldPrefix) {
				setLabel(facetTag, fv, value)
			}
		}
		if n > 0 {
			// Rows come grouped by (facet, folded value): each once.
			c.n[facet] = append(c.n[facet], valueCount{fv, n})
		}
	}
	return c, rows.Err()
}

// add counts n people under the label of (facet, folded value) in out.
func (c *orgCounts) add(out map[string]int, facet, fv string, n int) {
	if n <= 0 || fv == "" {
		return
	}
	l, ok := c.label[facetValue{facet, fv}]
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
					for _, vc := range m {
						counts.add(out, facet, vc.fv, vc.n)
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
	if by, vals := pairField(q); len(shared) > 0 && by != "" {
		// One field filter alone: the other facets are sums of the
		// pair counts Apply keeps (facet_pairs), by the status.
		b.Queue(s.sql(`SELECT facet, f_value, sum(n)::bigint, 0::bigint FROM {S}.facet_pairs
			WHERE org_id = $1 AND by_facet = $2 AND by_value = ANY($3) AND active = ANY($4)
			AND (facet = ANY($5) OR ($6 AND facet LIKE 'field:%'))
			GROUP BY facet, f_value HAVING sum(n) > 0`),
			orgID, by, vals, statusActive(q.Status), shared, slices.Contains(shared, facetTag))
	} else if len(shared) > 0 {
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

// pairField returns the field (department, division or office) and the
// folded values of q's one field filter when it is q's only restriction
// beyond status, so that facet_pairs answers the other facets; or "".
func pairField(q search.Query) (string, []string) {
	if len(search.FoldedValues(q.Tags)) > 0 || len(search.FoldedValues(q.Groups)) > 0 || len(search.Terms(q.Text)) > 0 {
		return "", nil
	}
	by, vals := "", []string(nil)
	for _, f := range []struct {
		facet string
		vals  []string
	}{{facetDepartment, q.Departments}, {facetDivision, q.Divisions}, {facetOffice, q.Offices}} {
		if fv := search.FoldedValues(f.vals); len(fv) > 0 {
			if by != "" {
				return "", nil
			}
			by, vals = f.facet, fv
		}
	}
	return by, vals
}

// statusActive returns the values of users.active that status admits.
func statusActive(status search.Status) []bool {
	switch status {
	case search.StatusActive:
		return []bool{true}
	case search.StatusInactive:
		return []bool{false}
	}
	return []bool{true, false}
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
