package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// The filterable fields, as indexes into query.vals.
const (
	fDept = iota
	fDiv
	fOffice
	fTag
	nValueFields
	fNone = -1 // skip no field
)

// maxPrefixWords bounds how many distinct words a text term's prefix may
// cover for its users to serve as a candidate set; a shorter prefix is
// checked on each candidate instead.
const maxPrefixWords = 2048

// query is a normalised search.Query compiled against one org.
type query struct {
	q    search.Query
	vals [nValueFields][]string // folded values; nil when the field is not filtered
	// ids are the interned IDs of vals that the org stores (a value it
	// does not store matches nobody); nil when the field is not filtered.
	ids     [nValueFields][]int32
	groups  map[string]struct{} // group IDs matched by the group filter; nil when none
	terms   []string
	sortIdx int
}

// foldValues returns the folded distinct values of a filter, or nil when it
// has none that folds to a non-empty value: such a filter filters nothing.
func (s *Store) foldValues(vals []string) []string {
	if !s.faults.caseSensitive {
		if out := search.FoldedValues(vals); len(out) > 0 {
			return out
		}
		return nil
	}
	var out []string
	for _, v := range vals {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func (o *org) valueIndexes() [nValueFields]*valueIndex {
	return [nValueFields]*valueIndex{o.dept, o.div, o.office, o.tag}
}

func (s *Store) compile(o *org, q search.Query) *query {
	c := &query{q: q, terms: search.Terms(q.Text), sortIdx: sortIndex(q.Sort)}
	c.vals[fDept] = s.foldValues(q.Departments)
	c.vals[fDiv] = s.foldValues(q.Divisions)
	c.vals[fOffice] = s.foldValues(q.Offices)
	c.vals[fTag] = s.foldValues(q.Tags)
	for f, x := range o.valueIndexes() {
		if c.vals[f] == nil {
			continue
		}
		c.ids[f] = make([]int32, 0, len(c.vals[f]))
		for _, v := range c.vals[f] {
			if id := x.lookup(v); id >= 0 {
				c.ids[f] = append(c.ids[f], id)
			}
		}
	}
	if names := s.foldValues(q.Groups); len(names) > 0 {
		c.groups = map[string]struct{}{}
		for _, n := range names {
			for id := range o.groupByName[n] {
				c.groups[id] = struct{}{}
			}
		}
		for _, v := range q.Groups {
			if _, ok := o.groups[v]; ok {
				c.groups[v] = struct{}{}
			}
		}
	}
	return c
}

// onlyStatus reports whether, ignoring field skip, the query filters by
// nothing but status.
func (c *query) onlyStatus(skip int) bool {
	for f, v := range c.vals {
		if f != skip && v != nil {
			return false
		}
	}
	return c.groups == nil && len(c.terms) == 0
}

// known says which of a query's filters a user is known to pass (because
// the candidate came from their index) or is to be judged without: the
// value fields in the bits of fields (1<<f), and the text term of index
// term (-1 for none).
type known struct {
	fields uint8
	term   int
}

func skipField(f int) known {
	if f == fNone {
		return known{term: -1}
	}
	return known{fields: 1 << f, term: -1}
}

// match reports whether the user in slot s satisfies the query, ignoring
// what k names.
func (o *org) match(s uint32, c *query, k known) bool {
	si := &o.slots[s]
	switch c.q.Status {
	case search.StatusActive:
		if !si.active {
			return false
		}
	case search.StatusInactive:
		if si.active {
			return false
		}
	}
	for f := range 3 {
		if k.fields&(1<<f) == 0 && c.ids[f] != nil && !slices.Contains(c.ids[f], si.vid[f]) {
			return false
		}
	}
	r := si.rec
	if k.fields&(1<<fTag) == 0 && c.ids[fTag] != nil {
		ok := false
		for _, t := range r.tagIDs {
			if slices.Contains(c.ids[fTag], t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if c.groups != nil {
		ok := false
		for gid := range o.userGroups[r.u.ID] {
			if _, in := c.groups[gid]; in {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i, t := range c.terms {
		if i != k.term && !search.MatchTerm(t, r.words) {
			return false
		}
	}
	return true
}

// source is a candidate set: a superset of the users a query matches,
// drawn from one index.
type source struct {
	est   int // its size, or an upper bound of it
	lists []*postings
	ids   []map[string]struct{} // user ID sets (group members)
	// sure is what every candidate is known to pass: the value field the
	// lists index, or a text term whose prefix's lists are exactly its
	// matches.
	sure known
}

// each calls yield with the slot of every live user of the set, once.
func (src *source) each(o *org, yield func(uint32)) {
	if len(src.lists) == 1 && len(src.ids) == 0 {
		for _, s := range src.lists[0].slots {
			if o.slots[s].rec != nil {
				yield(s)
			}
		}
		return
	}
	seen := make([]uint64, (len(o.slots)+63)/64)
	visit := func(s uint32) {
		if seen[s/64]&(1<<(s%64)) == 0 && o.slots[s].rec != nil {
			seen[s/64] |= 1 << (s % 64)
			yield(s)
		}
	}
	for _, p := range src.lists {
		for _, s := range p.slots {
			visit(s)
		}
	}
	for _, ids := range src.ids {
		for id := range ids {
			if r := o.users[id]; r != nil {
				visit(r.slot)
			}
		}
	}
}

// prefixLists returns the postings of the words starting with p, or
// ok == false when more than maxPrefixWords words do.
func (o *org) prefixLists(p string) (lists []*postings, est int, ok bool) {
	for w := range o.wordIdx.from(func(w string) bool { return w >= p }) {
		if !strings.HasPrefix(w, p) {
			break
		}
		if len(lists) == maxPrefixWords {
			return nil, 0, false
		}
		l := &o.wordPosts[o.words[w]]
		lists = append(lists, l)
		est += l.live()
	}
	return lists, est, true
}

// best returns the smallest candidate set for the query ignoring field skip,
// or nil when no index narrows it, and the fraction of the org the query is
// expected to match, taking the indexed filters as independent.
func (o *org) best(c *query, skip int) (b *source, frac float64) {
	n := len(o.users)
	frac = 1
	consider := func(src *source) {
		if n > 0 {
			frac *= min(1, float64(src.est)/float64(n))
		}
		if b == nil || src.est < b.est {
			b = src
		}
	}
	for f, x := range o.valueIndexes() {
		if f == skip || c.ids[f] == nil {
			continue
		}
		src := &source{sure: skipField(f)}
		for _, id := range c.ids[f] {
			p := &x.vals[id].post
			src.lists = append(src.lists, p)
			src.est += p.live()
		}
		consider(src)
	}
	if c.groups != nil {
		src := &source{sure: skipField(fNone)}
		for gid := range c.groups {
			if m := o.members[gid]; m != nil {
				src.ids = append(src.ids, m)
				src.est += len(m)
			}
		}
		consider(src)
	}
	for i, t := range c.terms {
		lists, est, ok := o.prefixLists(t)
		if !ok {
			continue
		}
		sure := known{term: i}
		if parts := search.TermParts(t); len(parts) > 0 && !(len(parts) == 1 && parts[0] == t) {
			// The term also matches through its parts; every such match
			// holds a word starting with each part, so the smallest part's
			// users bound them.
			sure.term = -1
			var pb []*postings
			pest, pok := 0, false
			for _, p := range parts {
				l, e, ok := o.prefixLists(p)
				if ok && (!pok || e < pest) {
					pb, pest, pok = l, e, true
				}
			}
			if !pok {
				continue
			}
			lists, est = append(lists, pb...), est+pest
		}
		consider(&source{lists: lists, est: est, sure: sure})
	}
	switch c.q.Status {
	case search.StatusInactive:
		consider(&source{lists: []*postings{&o.inactive}, est: o.inactive.live(), sure: skipField(fNone)})
	case search.StatusActive:
		if n > 0 {
			frac *= float64(o.nActive) / float64(n)
		}
	}
	return b, frac
}

// topK keeps the k first users in (sort key, ID) order, as a max-heap.
type topK struct {
	k       int
	sortIdx int
	items   []*userRec
}

func (h *topK) less(a, b *userRec) bool { return compareKeys(a, b, h.sortIdx) < 0 }

func (h *topK) push(r *userRec) {
	if len(h.items) < h.k {
		h.items = append(h.items, r)
		for i := len(h.items) - 1; i > 0; {
			p := (i - 1) / 2
			if !h.less(h.items[p], h.items[i]) {
				break
			}
			h.items[p], h.items[i] = h.items[i], h.items[p]
			i = p
		}
		return
	}
	if !h.less(r, h.items[0]) {
		return
	}
	h.items[0] = r
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h.items) && h.less(h.items[m], h.items[l]) {
			m = l
		}
		if l+1 < len(h.items) && h.less(h.items[m], h.items[l+1]) {
			m = l + 1
		}
		if m == i {
			break
		}
		h.items[m], h.items[i] = h.items[i], h.items[m]
		i = m
	}
}

func (h *topK) sorted() []*userRec {
	slices.SortFunc(h.items, func(a, b *userRec) int { return compareKeys(a, b, h.sortIdx) })
	return h.items
}

// find returns up to k users matching c after pos, in order.
func (o *org) find(c *query, pos search.Position, hasPos bool, k int) []*userRec {
	src, frac := o.best(c, fNone)
	after := func(r *userRec) bool { return !hasPos || pos.After(r.key(c.sortIdx), r.u.ID) }
	// Walking the sorted order visits about k/frac users; the candidate set
	// costs its size. Walk when that is cheaper, and give up on the walk
	// once it has cost twice the candidate set (the filters may be less
	// independent than assumed).
	if src == nil || float64(k) < frac*float64(src.est) {
		var out []*userRec
		budget := -1
		if src != nil {
			budget = 2*src.est + k
		}
		steps := 0
		all := skipField(fNone)
		for r := range o.orders[c.sortIdx].from(after) {
			if o.match(r.slot, c, all) {
				if out = append(out, r); len(out) == k {
					return out
				}
			}
			if steps++; steps == budget {
				break
			}
		}
		if steps != budget {
			return out
		}
	}
	h := &topK{k: k, sortIdx: c.sortIdx}
	src.each(o, func(s uint32) {
		if o.match(s, c, src.sure) {
			if r := o.slots[s].rec; after(r) {
				h.push(r)
			}
		}
	})
	return h.sorted()
}

// Search returns one page of q; see store.Store.
func (s *Store) Search(ctx context.Context, orgID string, q search.Query) (store.Page, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Page{}, err
	}
	if err := checkOrg(orgID); err != nil {
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil {
		return store.Page{}, nil
	}
	c := s.compile(o, q)
	found := o.find(c, pos, hasPos, q.Limit+1)
	var page store.Page
	if len(found) > q.Limit {
		last := found[q.Limit-1]
		if s.faults.cursorOffByOne {
			last = found[q.Limit] // deliberately wrong: skips a row
		}
		page.NextCursor = search.EncodeCursor(orgID, q, search.Position{Key: last.key(c.sortIdx), ID: last.u.ID})
		found = found[:q.Limit]
	}
	page.Users = make([]store.User, len(found))
	for i, r := range found {
		page.Users[i] = o.userOut(r, true)
		page.Users[i].Source = nil
	}
	return page, nil
}

// Facets counts values among the users q matches, each facet ignoring its
// own filter; see store.Store.
func (s *Store) Facets(ctx context.Context, orgID string, q search.Query) (store.Facets, error) {
	out := store.Facets{
		Department: map[string]int{}, Division: map[string]int{}, Office: map[string]int{},
		Tag: map[string]int{}, TagFields: map[string]map[string]int{},
	}
	if err := ctxErr(ctx); err != nil {
		return out, err
	}
	if err := checkOrg(orgID); err != nil {
		return out, err
	}
	q.Cursor, q.Limit = "", 0
	q, err := q.Normalize()
	if err != nil {
		return out, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil {
		return out, nil
	}
	c := s.compile(o, q)
	indexes := o.valueIndexes()
	fc := &facetCounts{}
	for f := range nValueFields {
		fc.fields[f] = make([]int32, len(indexes[f].names))
	}
	fc.tagFields = make([][]int32, len(o.tagFieldList))
	for i, x := range o.tagFieldList {
		fc.tagFields[i] = make([]int32, len(x.names))
	}

	// Facets whose field is not filtered share one pass over the matches;
	// each filtered facet needs its own, ignoring its filter.
	var shared []int
	for f := range nValueFields {
		if c.vals[f] == nil {
			shared = append(shared, f)
			continue
		}
		o.countFacets(c, f, []int{f}, fc)
	}
	if len(shared) > 0 {
		o.countFacets(c, fNone, shared, fc)
	}

	for f, m := range [nValueFields]map[string]int{out.Department, out.Division, out.Office, out.Tag} {
		for id, n := range fc.fields[f] {
			if n > 0 {
				m[indexes[f].label(int32(id))] += int(n)
			}
		}
	}
	for fi, cs := range fc.tagFields {
		x := o.tagFieldList[fi]
		for id, n := range cs {
			if n <= 0 {
				continue
			}
			field := o.tagFieldNames[fi]
			if out.TagFields[field] == nil {
				out.TagFields[field] = map[string]int{}
			}
			out.TagFields[field][x.label(int32(id))] += int(n)
		}
	}
	if s.faults.crossOrgCounts {
		// Deliberately wrong: another org's departments are counted too.
		for id, other := range s.orgs {
			if id == orgID {
				continue
			}
			for vid := range other.dept.names {
				if n := other.dept.count(int32(vid), q.Status); n > 0 {
					out.Department[other.dept.label(int32(vid))] += n
				}
			}
		}
	}
	return out, nil
}

// facetCounts are counts by interned value ID: per field, and per tag
// field (by index in org.tagFieldList).
type facetCounts struct {
	fields    [nValueFields][]int32
	tagFields [][]int32
}

// countFacets counts the values of fields (and, when fTag is among them,
// of every tag field) among the users matching c ignoring field skip.
func (o *org) countFacets(c *query, skip int, fields []int, fc *facetCounts) {
	indexes := o.valueIndexes()
	withTags := slices.Contains(fields, fTag)
	if c.onlyStatus(skip) {
		// Nothing but status narrows these facets: the indexes hold the counts.
		for _, f := range fields {
			x := indexes[f]
			for id := range x.names {
				fc.fields[f][id] = int32(x.count(int32(id), c.q.Status))
			}
		}
		if withTags {
			for fi, x := range o.tagFieldList {
				for id := range x.names {
					fc.tagFields[fi][id] = int32(x.count(int32(id), c.q.Status))
				}
			}
		}
		return
	}
	var cols []int // the value fields counted from the slot
	for _, f := range fields {
		if f != fTag {
			cols = append(cols, f)
		}
	}
	count := func(s uint32, k known) {
		if !o.match(s, c, k) {
			return
		}
		si := &o.slots[s]
		for _, f := range cols {
			if id := si.vid[f]; id >= 0 {
				fc.fields[f][id]++
			}
		}
		if withTags {
			r := si.rec
			for _, id := range r.tagIDs {
				fc.fields[fTag][id]++
			}
			for _, t := range r.tfIDs {
				fc.tagFields[t.field][t.id]++
			}
		}
	}
	k := skipField(skip)
	if src, _ := o.best(c, skip); src != nil {
		k.fields |= src.sure.fields
		k.term = src.sure.term
		src.each(o, func(s uint32) { count(s, k) })
		return
	}
	for s, si := range o.slots {
		if si.rec != nil {
			count(uint32(s), k)
		}
	}
}
