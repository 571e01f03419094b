package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/directorysync/directorysync/internal/wordrows"
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

// prefixRange renders "col starts with p" as a range and returns its
// arguments.
func prefixRange(col, p string) (string, []any) {
	if upper, ok := prefixUpper(p); ok {
		return col + " >= ? AND " + col + " < ?", []any{p, upper}
	}
	return col + " >= ?", []any{p}
}

// wordRowsSub is the query of the people with a dirsync_user_words row
// that p reads (migration 008): a word p starts with, of an lcp below
// len(p), one index range per lcp value. With the people whose sort key
// starts with p (see leadTerm), they are those with a word p prefixes.
func wordRowsSub(org, p string) (string, []any) {
	rng, args := prefixRange("uw.word", p)
	lcps := make([]string, min(len(p), wordrows.Cap+1))
	for i := range lcps {
		lcps[i] = strconv.Itoa(i)
	}
	return "SELECT uw.uid FROM dirsync_user_words uw WHERE uw.org = ? AND uw.lcp IN (" + strings.Join(lcps, ", ") + ") AND " + rng,
		append([]any{org}, args...)
}

// leadTerm reports whether the people whose last-name sort key (folded
// last name, U+0001, folded first name) starts with term all have a word
// it starts with, so that the sort key's range joins its word rows: the
// people a term matches through a word without a row it reads (a lead
// word, or one sharing more than the term with the key or a smaller word)
// have a key that starts with it (migration 008). A term without the name
// separators of search.Words (white space, hyphens, apostrophes, dots)
// that prefixes the key lies within the first word of the last name, so
// that word starts with it. A term with one is read from the word rows
// alone: those it misses (whose key starts with it) have the term's parts
// at the starts of their last name's and e-mail address's words, so that
// its parts match them (search.MatchTerm's rule; each part is a term
// without separators).
func leadTerm(term string) bool {
	return !strings.ContainsFunc(term, func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '\'' || r == '.' || r == '’'
	})
}

// leadCond renders "alias's last-name sort key starts with p".
func leadCond(alias, p string) (string, []any) {
	return prefixRange(alias+".sk_last", p)
}

// wordSub is the query of the people who have a word with prefix p.
func wordSub(org, p string) (string, []any) {
	words, args := wordRowsSub(org, p)
	if !leadTerm(p) {
		return words, args
	}
	// One SELECT, so that it composes with INTERSECT (compound operators
	// bind left to right).
	lead, largs := leadCond("lu", p)
	return "SELECT uid FROM (" + words + " UNION ALL SELECT lu.uid FROM dirsync_users lu WHERE lu.org = ? AND " + lead + ")",
		append(append(args, org), largs...)
}

// wordCond is the condition "user u has a word with prefix p".
func (w *where) wordCond(org, p string) string {
	words, args := wordRowsSub(org, p)
	w.args = append(w.args, args...)
	if !leadTerm(p) {
		return "u.uid IN (" + words + ")"
	}
	lead, largs := leadCond("u", p)
	w.args = append(w.args, largs...)
	return "(u.uid IN (" + words + ") OR (" + lead + "))"
}

// filter builds the condition of q (normalised) over dirsync_users u,
// leaving out the filter that skip names.
func filter(org string, q search.Query, skip facet) *where {
	return filterWith(org, q, skip, plan{})
}

// plainTerm reports whether the text term is matched by its own word range
// alone: its condition is then one list of people, which can drive a query
// (a term with several parts is an OR of ranges).
func plainTerm(term string) bool {
	parts := search.TermParts(term)
	return len(parts) == 0 || (len(parts) == 1 && parts[0] == term)
}

// filterWith is filter under the plan p: with p.tagProbe, the tag condition
// reads each candidate's f_tags column instead of the tag side table, for
// when the tags match many people and the query is driven by something else
// (the side-table form builds a list of every person holding the tags
// first); the terms in p.rowTerms are left out, for Search to check on the
// rows the query returns.
func filterWith(org string, q search.Query, skip facet, p plan) *where {
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
	// With p.intersect, the listed tag and term conditions (all plain) are
	// one list: the intersection of their people.
	var inter []string
	var interArgs []any
	if tags := search.FoldedValues(q.Tags); skip != facetTag && len(tags) > 0 && p.tagProbe {
		w.tagProbe(tags)
	} else if skip != facetTag && len(tags) > 0 {
		sub := "SELECT ut.uid FROM dirsync_user_tags ut WHERE ut.org = ? AND ut.folded IN (" + placeholders(len(tags)) + ")"
		args := append([]any{org}, anys(tags)...)
		if p.intersect {
			inter, interArgs = append(inter, sub), append(interArgs, args...)
		} else {
			w.add("u.uid IN ("+sub+")", args...)
		}
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
		if slices.Contains(p.rowTerms, term) {
			continue
		}
		if p.intersect {
			sub, args := wordSub(org, term)
			inter, interArgs = append(inter, sub), append(interArgs, args...)
			continue
		}
		if term == p.driveTerm {
			// The list of row IDs is the way in (wordCond's OR with the
			// sort key's range would read every row).
			sub, args := wordSub(org, term)
			w.add("u.uid IN ("+sub+")", args...)
			continue
		}
		cond := w.wordCond(org, term)
		if !plainTerm(term) {
			parts := search.TermParts(term)
			pc := make([]string, len(parts))
			for i, p := range parts {
				pc[i] = w.wordCond(org, p)
			}
			cond = "(" + cond + " OR (" + strings.Join(pc, " AND ") + "))"
		}
		w.conds = append(w.conds, cond)
	}
	if len(inter) > 0 {
		w.add("u.uid IN ("+strings.Join(inter, " INTERSECT ")+")", interArgs...)
	}
	return w
}

// tagProbe adds "u holds one of tags (folded)", checked on u's f_tags
// column: by finding each value's pair ending in it (tagNeedle), a
// substring search, or, for a value that has none, by parsing it with
// json_each (at 100 orgs × 10k, a common tag with a two-letter prefix
// spent a quarter of its time parsing f_tags; finding needles took its
// p50 from 2.5 to 1.6 ms).
func (w *where) tagProbe(tags []string) {
	needles := make([]any, len(tags))
	found := make([]string, len(tags))
	for i, v := range tags {
		n, ok := tagNeedle(v)
		if !ok {
			w.add("EXISTS (SELECT 1 FROM json_each(u.f_tags) j WHERE j.value ->> 1 IN ("+placeholders(len(tags))+"))", anys(tags)...)
			return
		}
		needles[i], found[i] = n, "instr(u.f_tags, ?) > 0"
	}
	w.add("("+strings.Join(found, " OR ")+")", needles...)
}

// tagNeedle returns the text that appears in an f_tags column exactly when
// one of its pairs' folded values is v, and whether v has one: `","v"]`,
// for v non-empty and holding no '"', '\', ',' and nothing that
// encoding/json escapes or replaces ('<', '>', '&', invalid UTF-8; folding
// dropped control characters and made U+2028 and U+2029 spaces), so that
// it is written as itself.
//
// foldedTagsJSON writes [["field","value"],…], where a quote inside a
// string follows a backslash. The needle's second quote follows a comma,
// so it delimits a string. If it opens one, the comma follows a pair's
// field (no other string is followed by a comma), and the value it opens
// ends at the needle's last quote, v having no quote or backslash: that
// value is v. If it closes one, v's first byte is what follows a string:
// a comma, which v has not, or the ']' ending a pair, after which the
// column holds only ',' (not in v) or its final ']', where the needle goes
// on with v's next byte or a quote.
func tagNeedle(v string) (string, bool) {
	if v == "" || !utf8.ValidString(v) || strings.ContainsAny(v, "\",\\<>&") {
		return "", false
	}
	return `","` + v + `"]`, true
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

// sortIndex is the index that holds an org's people in the order s.
func sortIndex(s search.Sort) string {
	switch s {
	case search.SortFirstName:
		return "dirsync_users_sk_first"
	case search.SortEmail:
		return "dirsync_users_sk_email"
	case search.SortID:
		return "dirsync_users_id"
	default:
		return "dirsync_users_sk_last"
	}
}

// The plan of a query filtered only by tags and text follows from how many
// people each condition matches, in pages (limit + 1 people):
//
//   - fewer than rareFactor pages: the rarest such condition drives the
//     query. Its people are looked up by row ID and sorted; the other
//     conditions are checked on their rows. Walking the sort order instead
//     would read the whole org when the matches are few.
//   - otherwise a condition is checked against a list of its people built
//     first (building it costs in proportion to the matches), or, from
//     rowFactor pages on, on each candidate's row (a row read per
//     candidate, but nothing in proportion to the matches). Two or more
//     listed conditions drive the query from the intersection of their
//     lists, which holds few people; otherwise the sort order's index is
//     walked, and a page fills after about org size / matches × page
//     entries (more when the matches are late in the order, as a prefix of
//     last names is in the last-name order).
//
// At 10k people the list of a 1-letter prefix such as "c" (11k words) took
// 5 ms to build, where the row check fills its page after 51 rows; "m"
// (4,263 words) after 339. Row checks are bounded by rowBudget.
const (
	rareFactor = 3
	rowFactor  = 80
)

// commonFactor sets when a tag condition is checked on the row in a query
// that a department, division, office or group filter drives.
const commonFactor = 20

// plan is how Search reads a query's matches.
type plan struct {
	// sortIndex walks the sort order's index, probing the conditions.
	sortIndex bool
	// tagProbe checks tags on each candidate row (filterWith).
	tagProbe bool
	// index, when set, is the field filter index the query must read: the
	// one whose values match the fewest people.
	index string
	// driveTags and driveTerm name the condition whose people are listed
	// and looked up by row ID: the tags, or a text term.
	driveTags bool
	driveTerm string
	// intersect drives the query from the intersection of the people of
	// the listed (not row-checked) conditions, two or more plain ones.
	intersect bool
	// rowTerms are the text terms checked in Go on each candidate's name
	// and email (search.MatchTerm) instead of in SQL.
	rowTerms []string
	// split, when set, is the one text term, read by splitUIDs (the
	// other conditions are checked on the rows, tags by tagProbe).
	split string
}

// choosePlan picks the plan of q from the number of people its tag and
// text conditions match (see rareFactor). Tags are counted from
// dirsync_facet_counts, text terms by a count of word entries bounded by
// rowFactor pages. A query that also filters by department, division,
// office or group is driven by that filter's index, as SQLite plans it; a
// common tag is checked on its rows and a very common term in Go.
func (s *Store) choosePlan(ctx context.Context, tx *sql.Tx, org string, q search.Query) (plan, error) {
	var p plan
	if err := s.chooseFieldIndex(ctx, tx, org, q, &p); err != nil {
		return p, err
	}
	tags, terms := search.FoldedValues(q.Tags), search.Terms(q.Text)
	if len(tags) == 0 && len(terms) == 0 {
		return p, nil
	}
	page := q.Limit + 1
	fields := len(search.FoldedValues(q.Departments)) > 0 || len(search.FoldedValues(q.Divisions)) > 0 ||
		len(search.FoldedValues(q.Offices)) > 0 || len(search.FoldedValues(q.Groups)) > 0
	rarest := -1 // the fewest matches of a condition that can drive
	tagCount := 0
	if len(tags) > 0 {
		err := s.queryRow(ctx, tx, `SELECT coalesce(sum(n), 0) FROM dirsync_facet_counts
			WHERE org = ? AND facet = 'tag' AND folded IN (SELECT value FROM json_each(?))`, []any{org, jsonStrings(tags)}, &tagCount)
		if err != nil {
			return p, err
		}
		rarest, p.driveTags = tagCount, true
	}
	termCounts := make([]int, len(terms))
	wordRows := make([]int, len(terms)) // of termCounts, the word rows
	rareTerm, rareTermAt := "", 0       // the plain term with the fewest matches
	for i, term := range terms {
		bound := rowFactor * page
		rows, args := wordRowsSub(org, term)
		if err := s.queryRow(ctx, tx, "SELECT count(*) FROM ("+rows+" LIMIT ?)", append(args, bound), &wordRows[i]); err != nil {
			return p, err
		}
		termCounts[i] = wordRows[i]
		if leadTerm(term) && termCounts[i] < bound {
			// And the people whose sort key starts with it (no word rows).
			var lead int
			rng, args := leadCond("u", term)
			err := s.queryRow(ctx, tx, "SELECT count(*) FROM (SELECT 1 FROM dirsync_users u INDEXED BY dirsync_users_sk_last WHERE u.org = ? AND "+
				rng+" LIMIT ?)", append(append([]any{org}, args...), bound-termCounts[i]), &lead)
			if err != nil {
				return p, err
			}
			termCounts[i] += lead
		}
		// A term counted to the bound matches at least rowFactor pages,
		// how many more is unknown: it never drives (reading its people
		// costs more than a walk's row budget). At a million people, "s"
		// drove, reading 471k word rows (1.2 s).
		if plainTerm(term) && termCounts[i] < bound && (rarest < 0 || termCounts[i] < rarest) {
			rarest, p.driveTags, p.driveTerm = termCounts[i], false, term
		}
		if plainTerm(term) && (rareTerm == "" || termCounts[i] < termCounts[rareTermAt]) {
			rareTerm, rareTermAt = term, i
		}
	}
	// split reads the one plain term of a query in the default sort (and
	// maybe tags) as two ordered streams merged: its lead range (people
	// whose sort key starts with it, a range of the sort index) and its
	// word rows, listed and sorted (see splitUIDs), when they are fewer
	// than the rows a walk of the sort order would read to fill the page
	// were the term's people spread evenly (org size × page / people).
	// It replaces that walk, which meets the lead range only where the
	// term sorts (after most of the org for "sm"), and a list of every
	// match. A tag held by fewer than rowFactor pages is listed instead
	// (driving, or intersected with the term's list): the split would
	// check it on every row of the lead range. (In 100 orgs of 10k,
	// splitting every term with fewer word rows than rowFactor pages
	// listed 800 rows for "s" where the walk reads 200, and checked a
	// rare tag on each of a common last name's people: one-letter
	// prefixes 10 ms p99, tag+text 9.3.)
	// orgSize reads orgSizeEstimate once per search: the walk's estimate
	// and the split may both need it.
	orgSize := -1
	size := func() (int, error) {
		if orgSize < 0 {
			n, err := s.orgSizeEstimate(ctx, tx, org)
			if err != nil {
				return 0, err
			}
			orgSize = n
		}
		return orgSize, nil
	}
	split := func(p plan) (plan, error) {
		if fields || q.Sort != search.SortLastName || len(terms) != 1 || !plainTerm(terms[0]) || !leadTerm(terms[0]) ||
			wordRows[0] >= rowFactor*page || (len(tags) > 0 && tagCount < rowFactor*page) {
			return p, nil
		}
		n, err := size()
		if err != nil {
			return p, err
		}
		if wordRows[0]*max(termCounts[0], 1) >= n*page {
			return p, nil
		}
		return plan{split: terms[0], tagProbe: len(tags) > 0}, nil
	}
	if fields {
		p.driveTags, p.driveTerm = false, ""
		p.tagProbe = len(tags) > 0 && tagCount >= commonFactor*page
		for i, term := range terms {
			if termCounts[i] >= rowFactor*page {
				p.rowTerms = append(p.rowTerms, term)
			}
		}
		return p, nil
	}
	drive := rarest >= 0 && rarest < rareFactor*page
	if rarest >= rareFactor*page {
		// Driving reads a row per match of the driver; walking reads about
		// org size × page / matches index entries, each about a tenth of a
		// row read, more when the row checks (tags from rowFactor pages,
		// terms counted up to it) thin the matches out. So a driver of m
		// matches beats the walk while m² < org size × page / (10 ×
		// density of the row checks): 226 at 10k people, 714 at 100k.
		n, err := size()
		if err != nil {
			return p, err
		}
		n = max(n, rarest)
		density := 1.0
		if len(tags) > 0 && tagCount >= rowFactor*page {
			density *= min(1, float64(tagCount)/float64(n))
		}
		for i := range terms {
			if termCounts[i] >= rowFactor*page {
				density *= min(1, float64(termCounts[i])/float64(n))
			}
		}
		drive = float64(rarest)*float64(rarest)*10*density < float64(n)*float64(page)
		// Except that a prefix's matches are not spread over the sort
		// order: those of a prefix of last names lie together in the
		// last-name order, and the walk reaches "zh" after most of the
		// org. A term drives whenever reading its rows costs less than
		// walking the whole org, under 1/25 of it (a row read costs about
		// 25 index entries of the walk): at 100k people the walk took 15
		// ms to fill a page of "zh" (800 words), driving 2.
		// (Two listed conditions are intersected instead, which costs
		// less.)
		listed := 0
		if len(tags) > 0 && tagCount < rowFactor*page {
			listed++
		}
		for i := range terms {
			if termCounts[i] < rowFactor*page {
				listed++
			}
		}
		if !drive && rareTerm != "" && listed == 1 {
			if m := termCounts[rareTermAt]; m < rowFactor*page && m*25 < n {
				drive, p.driveTags, p.driveTerm = true, false, rareTerm
			}
		}
	}
	if drive {
		// The driving rows are read anyway: every other condition is
		// checked on them.
		p.tagProbe = len(tags) > 0 && !p.driveTags
		for _, term := range terms {
			if p.driveTags || term != p.driveTerm {
				p.rowTerms = append(p.rowTerms, term)
			}
		}
		return split(p)
	}
	p.driveTags, p.driveTerm = false, ""
	p.tagProbe = len(tags) > 0 && tagCount >= rowFactor*page
	listed, plain := 0, true
	if len(tags) > 0 && !p.tagProbe {
		listed++
	}
	for i, term := range terms {
		if termCounts[i] >= rowFactor*page {
			p.rowTerms = append(p.rowTerms, term)
		} else {
			listed++
			plain = plain && plainTerm(term)
		}
	}
	// Two listed conditions, each matching a share of the org, match
	// together few people, where the walk would read much of the sort
	// index (more so when a prefix of last names lies late in it): their
	// intersection, built from both lists, drives instead.
	p.intersect = listed >= 2 && plain
	p.sortIndex = !p.intersect
	return split(p)
}

// orgSizeEstimate is about the number of people in org, from the stored
// facet counts: the most people counted by department, division or office
// (people with none of them are missed, so it errs low).
func (s *Store) orgSizeEstimate(ctx context.Context, tx *sql.Tx, org string) (int, error) {
	var n int
	err := s.queryRow(ctx, tx, `SELECT coalesce(max(t), 0) FROM (SELECT sum(n) AS t FROM dirsync_facet_counts
		WHERE org = ? AND facet IN ('department', 'division', 'office') GROUP BY facet)`, []any{org}, &n)
	return n, err
}

// chooseFieldIndex sets p.index when q filters by more than one of
// department, division and office: SQLite, not knowing how many people each
// value holds, may walk a common department's index and look up every row
// to check a rare office. The stored facet counts say which filter matches
// the fewest people; its index drives the query.
func (s *Store) chooseFieldIndex(ctx context.Context, tx *sql.Tx, org string, q search.Query, p *plan) error {
	type field struct {
		facet, index string
		values       []string
	}
	var fields []field
	for _, f := range []field{
		{"department", "dirsync_users_department", search.FoldedValues(q.Departments)},
		{"division", "dirsync_users_division", search.FoldedValues(q.Divisions)},
		{"office", "dirsync_users_office", search.FoldedValues(q.Offices)},
	} {
		if len(f.values) > 0 {
			fields = append(fields, f)
		}
	}
	if len(fields) < 2 {
		return nil
	}
	best := -1
	for _, f := range fields {
		var n int
		err := s.queryRow(ctx, tx, `SELECT coalesce(sum(n), 0) FROM dirsync_facet_counts
			WHERE org = ? AND facet = ? AND folded IN (SELECT value FROM json_each(?))`, []any{org, f.facet, jsonStrings(f.values)}, &n)
		if err != nil {
			return err
		}
		if best < 0 || n < best {
			best, p.index = n, f.index
		}
	}
	return nil
}

// queryRow runs a one-row read query inside tx through a cached statement.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args []any, dest ...any) error {
	rows, err := s.query(ctx, tx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
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
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	defer tx.Rollback()
	p, err := s.choosePlan(ctx, tx, orgID, q)
	if err != nil {
		return store.Page{}, readErr("search", err)
	}
	var uids []int64
	var stop *search.Position
	if p.split != "" {
		uids, err = s.splitUIDs(ctx, tx, orgID, q, p, pos, hasPos, q.Limit+1)
	} else {
		uids, stop, err = s.matchUIDs(ctx, tx, orgID, q, p, pos, hasPos, q.Limit+1)
	}
	if err == nil && stop != nil {
		// The row checks ran out of budget: the rest of the page comes from
		// the lists of the terms, after the last row checked.
		var rest []int64
		rest, _, err = s.matchUIDs(ctx, tx, orgID, q, p.listed(q), *stop, true, q.Limit+1-len(uids))
		uids = append(uids, rest...)
	}
	if err != nil {
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
	page := store.Page{Users: users}
	for i, uid := range uids {
		if users[i].ID == "" {
			return store.Page{}, readErr("search", fmt.Errorf("user row %d vanished inside a read transaction", uid))
		}
		users[i].Groups = groups[uid]
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

// rowBudget bounds, in pages, the rows a search checks in Go (rowTerms)
// before it lists the terms instead: rare combinations of common terms
// ("m s" matches 1 % of 10k people) would read much of the org, at about
// 2.5 µs a row. A query of one term alone checks up to rowFactor pages:
// the term's list holds at least that many people (it is checked on the
// rows because its count reached the bound), and its matches may lie
// apart in the sort order (people named M… in the middle of each last
// name's people: 2,500 rows before the first at a million people).
const rowBudget = 16

// matchUIDs returns the row IDs of up to want people that q matches under
// plan p, in q's order, after pos when hasPos. When p checks terms on rows
// and its row budget was spent before want matched, it stops and returns
// the position of the last row checked.
func (s *Store) matchUIDs(ctx context.Context, tx *sql.Tx, org string, q search.Query, p plan, pos search.Position,
	hasPos bool, want int) (uids []int64, stop *search.Position, err error) {
	query, args := matchQuery(org, q, p, pos, hasPos, want)
	rows, err := s.query(ctx, tx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	budget := rowBudget * (q.Limit + 1)
	if len(p.rowTerms) == 1 && len(search.Terms(q.Text)) == 1 && len(search.FoldedValues(q.Tags)) == 0 {
		budget = rowFactor * (q.Limit + 1)
	}
	for len(uids) < want && rows.Next() {
		var uid int64
		var names, email string
		var at search.Position
		dest := []any{&uid}
		if len(p.rowTerms) > 0 {
			dest = append(dest, &names, &email, &at.Key, &at.ID)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		if len(p.rowTerms) > 0 {
			first, last, err := s.foldedNames(ctx, tx, uid, names)
			if err != nil {
				return nil, nil, err
			}
			if budget--; !matchTerms(p.rowTerms, search.Words(first, last, email)) {
				if budget <= 0 {
					return uids, &at, rows.Close()
				}
				continue
			}
		}
		uids = append(uids, uid)
	}
	return uids, nil, rows.Close()
}

// splitUIDs returns the row IDs of up to want people that q matches under
// a split plan (p.split), in the default sort order, after pos when
// hasPos: the merge of two ordered reads of up to want rows each, the
// lead range of the term (people whose sort key starts with it, read from
// the sort index) and the people of its word rows (listed, then sorted),
// both with q's other conditions. A person in both comes once (only a term
// longer than wordrows.Cap can find one in both: a shorter one reads no
// row of a word that shares it with the sort key).
func (s *Store) splitUIDs(ctx context.Context, tx *sql.Tx, org string, q search.Query, p plan, pos search.Position,
	hasPos bool, want int) ([]int64, error) {
	type row struct {
		uid     int64
		key, id string
	}
	read := func(from, cond string, condArgs []any) ([]row, error) {
		w := filterWith(org, q, noFacet, plan{tagProbe: p.tagProbe, rowTerms: []string{p.split}})
		w.add(cond, condArgs...)
		if hasPos {
			w.add("(u.sk_last, u.id) > (?, ?)", pos.Key, pos.ID)
		}
		rows, err := s.query(ctx, tx, "SELECT u.uid, u.sk_last, u.id FROM "+from+" WHERE "+w.sql()+
			" ORDER BY u.sk_last, u.id LIMIT ?", append(w.args, want)...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.uid, &r.key, &r.id); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	lead, leadArgs := leadCond("u", p.split)
	a, err := read("dirsync_users u INDEXED BY dirsync_users_sk_last", lead, leadArgs)
	if err != nil {
		return nil, err
	}
	words, wordArgs := wordRowsSub(org, p.split)
	// No index: the word rows' list of row IDs is the way in.
	b, err := read("dirsync_users u NOT INDEXED", "u.uid IN ("+words+")", wordArgs)
	if err != nil {
		return nil, err
	}
	uids := make([]int64, 0, want)
	for len(uids) < want && (len(a) > 0 || len(b) > 0) {
		var next row
		switch {
		case len(b) == 0 || (len(a) > 0 && (a[0].key < b[0].key || (a[0].key == b[0].key && a[0].id <= b[0].id))):
			next, a = a[0], a[1:]
			if len(b) > 0 && b[0].uid == next.uid {
				b = b[1:]
			}
		default:
			next, b = b[0], b[1:]
		}
		uids = append(uids, next.uid)
	}
	return uids, nil
}

// matchQuery is the query of matchUIDs: the row IDs (and, with p.rowTerms,
// the names, e-mail and position to check them on) of the people q
// matches under plan p, in q's order, after pos when hasPos.
func matchQuery(org string, q search.Query, p plan, pos search.Position, hasPos bool, want int) (string, []any) {
	w := filterWith(org, q, noFacet, p)
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
	from := "dirsync_users u"
	switch {
	case p.sortIndex:
		from += " INDEXED BY " + sortIndex(q.Sort)
	case p.index != "":
		from += " INDEXED BY " + p.index
	case p.driveTags || p.driveTerm != "" || p.intersect:
		// No index: the driving condition's list of row IDs, the only
		// condition on u.uid under this plan, is the only way in.
		from += " NOT INDEXED"
	}
	cols, limit := "u.uid", " LIMIT ?"
	args := w.args
	if len(p.rowTerms) > 0 {
		// Rows stream until enough of them match the terms. The words come
		// from the folded names in sk_last and the folded email:
		// search.Words folds already folded ASCII without work, where the
		// stored spelling ("Liam") takes Fold's slow path. The row's
		// position is kept for a stop.
		key := "''"
		if col != "" {
			key = col
		}
		cols, limit = "u.uid, u.sk_last, u.f_email, "+key+", u.id", ""
	} else {
		args = append(args, want)
	}
	return "SELECT " + cols + " FROM " + from + " WHERE " + w.sql() + " ORDER BY " + order + limit, args
}

// listed is p with its row-checked terms listed instead: a walk of the sort
// index or an intersection then drives from the lists of all its listed
// conditions (their intersection when two or more, all plain).
func (p plan) listed(q search.Query) plan {
	if len(p.rowTerms) == 0 {
		return p
	}
	p.rowTerms = nil
	if !p.sortIndex && !p.intersect {
		return p
	}
	listed, plain := 0, true
	if len(search.FoldedValues(q.Tags)) > 0 && !p.tagProbe {
		listed++
	}
	for _, t := range search.Terms(q.Text) {
		listed++
		plain = plain && plainTerm(t)
	}
	p.intersect = listed >= 2 && plain
	p.sortIndex = !p.intersect
	return p
}

// foldedNames returns the folded first and last name of the user uid from
// its last-name sort key (search.SortKey: last name, U+0001, first name),
// or, when a part may have been cut at search.MaxSortKeyPart, folds the
// stored names.
func (s *Store) foldedNames(ctx context.Context, tx *sql.Tx, uid int64, key string) (first, last string, err error) {
	last, first, ok := strings.Cut(key, "\x01")
	if ok && len(last) <= search.MaxSortKeyPart-utf8.UTFMax && len(first) <= search.MaxSortKeyPart-utf8.UTFMax {
		return first, last, nil
	}
	err = s.queryRow(ctx, tx, `SELECT first_name, last_name FROM dirsync_users WHERE uid = ?`, []any{uid}, &first, &last)
	return first, last, err
}

// matchTerms reports whether every folded term matches a person whose
// words are words (search.MatchTerm).
func matchTerms(terms, words []string) bool {
	for _, t := range terms {
		if !search.MatchTerm(t, words) {
			return false
		}
	}
	return true
}

// usersByUID returns the users of uids, in uids' order (the rows of users
// that are gone are left zero, ID "").
func (s *Store) usersByUID(ctx context.Context, tx *sql.Tx, uids []int64) ([]store.User, error) {
	out := make([]store.User, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	pos := make(map[int64]int, len(uids))
	for i, uid := range uids {
		pos[uid] = i
	}
	rows, err := s.query(ctx, tx, "SELECT "+resultCols+" FROM dirsync_users u WHERE u.uid IN (SELECT value FROM json_each(?))", uidList(uids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sc := newUserScanner()
	var u store.User
	for rows.Next() {
		uid, err := sc.scan(rows, &u)
		if err != nil {
			return nil, err
		}
		if i, ok := pos[uid]; ok {
			out[i] = u
		}
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
// the counts Apply keeps (dirsync_facet_counts); one restricted by a single
// department, division or office filter alone sums the facet pairs Apply
// keeps (dirsync_facet_pairs); otherwise it counts the matching people.
// Labels are the least original spelling stored for the
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
	// Facets restricted by more than status count the matching people: one
	// pass per distinct filter (facets whose own filter is empty share the
	// whole query's pass), from the facet pairs when the filter is one
	// department, division or office field alone, else reading four narrow
	// columns per person and counting in Go.
	passes := map[facet]*countPass{}
	pass := func(c facet, own []string) *countPass {
		key := noFacet
		if len(search.FoldedValues(own)) > 0 {
			key = c
		}
		p := passes[key]
		if p == nil {
			p = &countPass{skip: key, want: map[facet]bool{}}
			passes[key] = p
		}
		return p
	}
	for _, c := range []struct {
		skip  facet
		label string
		own   []string
		out   map[string]int
	}{
		{facetDepartment, "department", q.Departments, f.Department},
		{facetDivision, "division", q.Divisions, f.Division},
		{facetOffice, "office", q.Offices, f.Office},
	} {
		if restricted(q, c.skip) {
			pass(c.skip, c.own).want[c.skip] = true
			continue
		}
		label := `(SELECT l.value FROM dirsync_facet_counts l WHERE l.org = ? AND l.facet = ? AND l.folded = v.f AND l.n > 0
			ORDER BY l.value LIMIT 1)`
		query := `SELECT ` + label + `, v.n FROM (SELECT c.folded AS f, sum(c.n) AS n FROM dirsync_facet_counts c
			WHERE c.org = ? AND c.facet = ?` + statusCond(q, "c.active") + ` GROUP BY c.folded) v WHERE v.n > 0`
		if err := s.countInto(ctx, tx, c.out, query, []any{orgID, c.label, orgID, c.label}); err != nil {
			return store.Facets{}, readErr("facets: "+c.label, err)
		}
	}
	if restricted(q, facetTag) {
		pass(facetTag, q.Tags).want[facetTag] = true
	} else {
		if err := s.wholeOrgTags(ctx, tx, orgID, q, &f); err != nil {
			return store.Facets{}, readErr("facets: tags", err)
		}
	}
	for _, key := range []facet{noFacet, facetDepartment, facetDivision, facetOffice, facetTag} {
		if p := passes[key]; p != nil {
			if err := s.runCountPass(ctx, tx, orgID, q, p, &f); err != nil {
				return store.Facets{}, readErr("facets", err)
			}
		}
	}
	return f, nil
}

// wholeOrgTags adds the tag and tag field facets of the whole org under q's
// status to f, from dirsync_facet_counts. Labels are looked up once per
// (tag field, folded value), in every status: a tag value's label, its
// least spelling in any field, is the least of its fields' labels.
func (s *Store) wholeOrgTags(ctx context.Context, tx *sql.Tx, org string, q search.Query, f *store.Facets) error {
	inStatus := "1"
	switch q.Status {
	case search.StatusActive:
		inStatus = "c.active = 1"
	case search.StatusInactive:
		inStatus = "c.active = 0"
	}
	rows, err := s.query(ctx, tx, `SELECT v.field, v.f, v.n, (SELECT x.value FROM dirsync_user_tags x
		WHERE x.org = ? AND x.folded = v.f AND x.field = v.field ORDER BY x.value LIMIT 1)
		FROM (SELECT substr(c.facet, 7) AS field, c.folded AS f, sum(CASE WHEN `+inStatus+` THEN c.n ELSE 0 END) AS n
		FROM dirsync_facet_counts c WHERE c.org = ? AND c.facet >= 'field:' AND c.facet < 'field;'
		GROUP BY c.facet, c.folded) v`, org, org)
	if err != nil {
		return err
	}
	defer rows.Close()
	labels := map[string]string{}
	for rows.Next() {
		var field, folded string
		var n int
		var label sql.NullString
		if err := rows.Scan(&field, &folded, &n, &label); err != nil {
			return err
		}
		if !label.Valid {
			return fmt.Errorf("tag field %q value %q has no stored spelling", field, folded)
		}
		if l, ok := labels[folded]; !ok || label.String < l {
			labels[folded] = label.String
		}
		if n > 0 {
			m := f.TagFields[field]
			if m == nil {
				m = map[string]int{}
				f.TagFields[field] = m
			}
			m[label.String] += n
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.query(ctx, tx, `SELECT c.folded, sum(c.n) FROM dirsync_facet_counts c WHERE c.org = ? AND c.facet = 'tag'`+
		statusCond(q, "c.active")+` GROUP BY c.folded HAVING sum(c.n) > 0`, org)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var folded string
		var n int
		if err := rows.Scan(&folded, &n); err != nil {
			return err
		}
		label, ok := labels[folded]
		if !ok {
			return fmt.Errorf("tag value %q is counted but held in no tag field", folded)
		}
		f.Tag[label] += n
	}
	return rows.Err()
}

// countPass is one read of the people a filter matches, counting the
// facets in want (department, division, office; facetTag stands for the
// tag facet and the tag fields' facets).
type countPass struct {
	skip facet // the filter left out
	want map[facet]bool
}

// tagPair is one (tag field, folded value) of a person.
type tagPair struct{ field, folded string }

// runCountPass counts p's facets over the people filter(q, p.skip) matches
// and adds them, labelled, to f.
func (s *Store) runCountPass(ctx context.Context, tx *sql.Tx, org string, q search.Query, p *countPass, f *store.Facets) error {
	counts := map[facet]map[string]int{}
	for k := range p.want {
		counts[k] = map[string]int{}
	}
	fields := map[tagPair]int{}
	if by, values, ok := pairsFilter(q, p); ok {
		if err := s.pairCounts(ctx, tx, org, q, by, values, counts, fields); err != nil {
			return err
		}
	} else if err := s.rowCounts(ctx, tx, org, q, p, counts, fields); err != nil {
		return err
	}
	return s.labelCounts(ctx, tx, org, counts, fields, f)
}

// pairsFilter reports whether the people p counts are those of one
// department, division or office filter alone (by, with its folded
// values), under q's status, and p does not count that field: the counts
// are then sums of dirsync_facet_pairs rows (migration 007). A person has
// one value of each field, so the sums over several values of the filter
// count nobody twice.
func pairsFilter(q search.Query, p *countPass) (by string, values []string, ok bool) {
	if len(search.FoldedValues(q.Groups)) > 0 || len(search.Terms(q.Text)) > 0 ||
		(p.skip != facetTag && len(search.FoldedValues(q.Tags)) > 0) {
		return "", nil, false
	}
	for _, c := range []struct {
		k    facet
		name string
		own  []string
	}{{facetDepartment, "department", q.Departments}, {facetDivision, "division", q.Divisions}, {facetOffice, "office", q.Offices}} {
		if c.k == p.skip {
			continue
		}
		if vs := search.FoldedValues(c.own); len(vs) > 0 {
			if values != nil || p.want[c.k] {
				return "", nil, false
			}
			by, values = c.name, vs
		}
	}
	return by, values, values != nil
}

// pairCounts adds the counts of the facets in counts (and of the tag
// fields, if the tag facet is there) among the people holding one of
// values in field by, from dirsync_facet_pairs.
func (s *Store) pairCounts(ctx context.Context, tx *sql.Tx, org string, q search.Query, by string, values []string,
	counts map[facet]map[string]int, fields map[tagPair]int) error {
	rows, err := s.query(ctx, tx, `SELECT p.facet, p.folded, sum(p.n) FROM dirsync_facet_pairs p
		WHERE p.org = ? AND p.by_facet = ? AND p.by_value IN (SELECT value FROM json_each(?))`+statusCond(q, "p.active")+`
		GROUP BY p.facet, p.folded`, org, by, jsonStrings(values))
	if err != nil {
		return err
	}
	defer rows.Close()
	var name, folded string
	var n int
	dest := []any{&name, &folded, &n}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if n <= 0 {
			continue
		}
		var k facet
		switch name {
		case "department":
			k = facetDepartment
		case "division":
			k = facetDivision
		case "office":
			k = facetOffice
		case "tag":
			k = facetTag
		default:
			field, ok := strings.CutPrefix(name, "field:")
			if !ok {
				return fmt.Errorf("stored facet pair of unknown facet %q", name)
			}
			if counts[facetTag] != nil {
				fields[tagPair{field, folded}] += n
			}
			continue
		}
		if m := counts[k]; m != nil {
			m[folded] += n
		}
	}
	return rows.Err()
}

// rowCounts adds the counts of the facets in counts (and of the tag
// fields, if the tag facet is there) over the people filter(q, p.skip)
// matches, read row by row.
func (s *Store) rowCounts(ctx context.Context, tx *sql.Tx, org string, q search.Query, p *countPass,
	counts map[facet]map[string]int, fields map[tagPair]int) error {
	w := filter(org, q, p.skip)
	// Only the wanted columns are read (the others read as constants): with
	// a department filter they all come from the department index, so the
	// pass reads no table row. They come joined into one text, split at
	// U+001F (which folded values never hold, and JSON escapes), because the
	// driver's cost is per column of each row. Grouping in SQL instead costs
	// more (its sorter) than counting each row in Go.
	cols := []string{"''", "''", "''", "'[]'"}
	for i, k := range []facet{facetDepartment, facetDivision, facetOffice, facetTag} {
		if p.want[k] {
			cols[i] = []string{"u.f_department", "u.f_division", "u.f_office", "u.f_tags"}[i]
		}
	}
	rows, err := s.query(ctx, tx, `SELECT `+strings.Join(cols, " || char(31) || ")+` FROM dirsync_users u WHERE `+w.sql(), w.args...)
	if err != nil {
		return err
	}
	// People share combinations of values (a department's 2,500 people
	// about 700), so each distinct row is counted first and split and
	// parsed once.
	combos := map[string]int{}
	for rows.Next() {
		var joined string
		if err := rows.Scan(&joined); err != nil {
			rows.Close()
			return err
		}
		combos[joined]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var pairs []tagPair
	for joined, n := range combos {
		var vals [3]string
		ftags := joined
		for i := range vals {
			var ok bool
			if vals[i], ftags, ok = strings.Cut(ftags, "\x1f"); !ok {
				return fmt.Errorf("stored facet columns %q: want four parts", joined)
			}
		}
		for i, k := range []facet{facetDepartment, facetDivision, facetOffice} {
			if m := counts[k]; m != nil && vals[i] != "" {
				m[vals[i]] += n
			}
		}
		if m := counts[facetTag]; m != nil {
			var err error
			if pairs, err = parseFoldedTags(pairs[:0], ftags); err != nil {
				return err
			}
			for i, tp := range pairs {
				fields[tp] += n
				// The tag facet counts people: a value held in two fields once.
				dup := false
				for _, prev := range pairs[:i] {
					if prev.folded == tp.folded {
						dup = true
						break
					}
				}
				if !dup {
					m[tp.folded] += n
				}
			}
		}
	}
	return nil
}

// labelCounts adds counts and fields to f under their labels: each folded
// value's least stored spelling.
func (s *Store) labelCounts(ctx context.Context, tx *sql.Tx, org string, counts map[facet]map[string]int, fields map[tagPair]int, f *store.Facets) error {
	// A value that folds to nothing (a tag of white space) is counted in
	// no facet, as in dirsync_facet_counts and the other stores.
	for _, m := range counts {
		delete(m, "")
	}
	for tp := range fields {
		if tp.folded == "" {
			delete(fields, tp)
		}
	}
	outs := map[facet]map[string]int{facetDepartment: f.Department, facetDivision: f.Division, facetOffice: f.Office, facetTag: f.Tag}
	names := map[facet]string{facetDepartment: "department", facetDivision: "division", facetOffice: "office"}
	for _, k := range []facet{facetDepartment, facetDivision, facetOffice, facetTag} {
		m := counts[k]
		if len(m) == 0 {
			continue
		}
		folded := make([]string, 0, len(m))
		for v := range m {
			folded = append(folded, v)
		}
		var query string
		var args []any
		if k == facetTag {
			query = `SELECT j.value, (SELECT x.value FROM dirsync_user_tags x WHERE x.org = ? AND x.folded = j.value
				ORDER BY x.value LIMIT 1) FROM json_each(?) j`
			args = []any{org, jsonStrings(folded)}
		} else {
			query = `SELECT j.value, (SELECT l.value FROM dirsync_facet_counts l WHERE l.org = ? AND l.facet = ?
				AND l.folded = j.value AND l.n > 0 ORDER BY l.value LIMIT 1) FROM json_each(?) j`
			args = []any{org, names[k], jsonStrings(folded)}
		}
		if err := s.labelInto(ctx, tx, outs[k], m, query, args); err != nil {
			return err
		}
	}
	if len(fields) > 0 {
		list := make([][2]string, 0, len(fields))
		for tp := range fields {
			list = append(list, [2]string{tp.field, tp.folded})
		}
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		rows, err := s.query(ctx, tx, `SELECT j.value ->> 0, j.value ->> 1, (SELECT x.value FROM dirsync_user_tags x
			WHERE x.org = ? AND x.folded = j.value ->> 1 AND x.field = j.value ->> 0 ORDER BY x.value LIMIT 1)
			FROM json_each(?) j`, org, string(b))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tp tagPair
			var label sql.NullString
			if err := rows.Scan(&tp.field, &tp.folded, &label); err != nil {
				return err
			}
			if !label.Valid {
				return fmt.Errorf("tag field %q value %q has no stored spelling", tp.field, tp.folded)
			}
			m := f.TagFields[tp.field]
			if m == nil {
				m = map[string]int{}
				f.TagFields[tp.field] = m
			}
			m[label.String] += fields[tp]
		}
		return rows.Err()
	}
	return nil
}

// labelInto adds the counts of folded values (counts) to out under the
// labels query returns as (folded, label) rows.
func (s *Store) labelInto(ctx context.Context, tx *sql.Tx, out, counts map[string]int, query string, args []any) error {
	rows, err := s.query(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var folded string
		var label sql.NullString
		if err := rows.Scan(&folded, &label); err != nil {
			return err
		}
		if !label.Valid {
			return fmt.Errorf("facet value %q has no stored spelling", folded)
		}
		out[label.String] += counts[folded]
	}
	return rows.Err()
}

// jsonStrings is a JSON array of ss, for "FROM json_each(?)".
func jsonStrings(ss []string) string {
	b, err := json.Marshal(ss)
	if err != nil {
		return "[]" // unreachable: strings always marshal
	}
	return string(b)
}

// parseFoldedTags appends the (field, folded value) pairs of an f_tags
// column (foldedTagsJSON) to dst. Without a backslash the JSON holds no
// escapes and every '"' delimits a string, so the pairs are read by
// scanning; otherwise encoding/json decodes it.
func parseFoldedTags(dst []tagPair, s string) ([]tagPair, error) {
	if !strings.Contains(s, `\`) {
		var strs [2]string
		n := 0
		for {
			i := strings.IndexByte(s, '"')
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return dst, fmt.Errorf("stored folded tags %q: unterminated string", s)
			}
			strs[n] = s[i+1 : i+1+j]
			s = s[i+j+2:]
			if n++; n == 2 {
				dst = append(dst, tagPair{strs[0], strs[1]})
				n = 0
			}
		}
		if n != 0 {
			return dst, fmt.Errorf("stored folded tags: odd number of strings")
		}
		return dst, nil
	}
	var list [][2]string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return dst, fmt.Errorf("stored folded tags: %w", err)
	}
	for _, p := range list {
		dst = append(dst, tagPair{p[0], p[1]})
	}
	return dst, nil
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
