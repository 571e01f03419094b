package memstore

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// srcKey identifies a row by source and external ID.
type srcKey struct{ source, external string }

// recSet is a set of users.
type recSet map[*userRec]struct{}

// userRec is a stored user with everything derived from it that the indexes
// and queries need. A userRec is never changed after it is committed, except
// for dead, which marks it replaced or deleted (under the write lock): an
// update commits a new userRec.
type userRec struct {
	u *store.User // the stored row; Groups is always nil

	dept, div, office string     // folded (or raw under faults.caseSensitive)
	tags              []string   // distinct folded tag values, any field
	tagFields         []fieldTag // distinct (field, folded value)
	words             []string   // search.Words
	keys              [3]string  // search.SortKey for last name, first name, email
	email             string     // folded email, for LoadUsers
	active            bool       // u.Active, kept here to spare a dereference per candidate
	dead              bool       // replaced or deleted

	// Interned value IDs, assigned by org.index, for counting facets in
	// slices rather than maps: department, division, office (-1 when
	// empty), tags (in org.tag) and tag field values (tfIDs[i] is
	// tagFields[i]).
	vid    [3]int32
	tagIDs []int32
	tfIDs  []tfID
}

// tfID is a tag field value: the field's index in org.tagFieldList and the
// value's ID in that field's valueIndex.
type tfID struct{ field, id int32 }

// fieldTag is one folded tag value of one tag field, with its original
// spelling.
type fieldTag struct{ field, folded, value string }

// sortIndex maps a search.Sort to an index into userRec.keys and org.orders.
func sortIndex(s search.Sort) int {
	switch s {
	case search.SortFirstName:
		return 1
	case search.SortEmail:
		return 2
	case search.SortID:
		return 3
	default:
		return 0
	}
}

func (r *userRec) key(sortIdx int) string {
	if sortIdx == 3 {
		return ""
	}
	return r.keys[sortIdx]
}

// newRec derives a userRec from a row. fold folds filter values (search.Fold,
// or the identity under faults.caseSensitive).
func newRec(u *store.User, fold func(string) string) *userRec {
	r := &userRec{
		u:      u,
		dept:   fold(u.Department),
		div:    fold(u.Division),
		office: fold(u.Office),
		words:  search.Words(u.FirstName, u.LastName, u.Email),
		email:  search.Fold(u.Email),
		active: u.Active,
	}
	r.keys[0] = search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email)
	r.keys[1] = search.SortKey(search.SortFirstName, u.FirstName, u.LastName, u.Email)
	r.keys[2] = search.SortKey(search.SortEmail, u.FirstName, u.LastName, u.Email)
	for _, t := range u.Tags {
		f := fold(t.Value)
		if f == "" || t.Field == "" {
			continue
		}
		if !slices.Contains(r.tags, f) {
			r.tags = append(r.tags, f)
		}
		ft := fieldTag{field: t.Field, folded: f, value: t.Value}
		if !slices.ContainsFunc(r.tagFields, func(x fieldTag) bool { return x.field == ft.field && x.folded == ft.folded }) {
			r.tagFields = append(r.tagFields, ft)
		}
	}
	return r
}

// tagSpelling returns the original spelling of the user's tag value that
// folds to f (the bytewise least, when several fields hold it).
func (r *userRec) tagSpelling(f string) string {
	best := ""
	for _, t := range r.tagFields {
		if t.folded == f && (best == "" || t.value < best) {
			best = t.value
		}
	}
	return best
}

// valueIndex indexes one filterable field: folded value → users, how many of
// them are active, and the original spellings stored (with how many users
// hold each), for facet labels.
type valueIndex struct {
	sets   map[string]recSet
	active map[string]int
	spell  map[string]map[string]int
	// ids interns folded values (for counting); names[id] is the value.
	// IDs are never reused.
	ids   map[string]int32
	names []string
}

func newValueIndex() *valueIndex {
	return &valueIndex{sets: map[string]recSet{}, active: map[string]int{}, spell: map[string]map[string]int{}, ids: map[string]int32{}}
}

// intern returns the ID of a folded value, or -1 for the empty value.
func (x *valueIndex) intern(folded string) int32 {
	if folded == "" {
		return -1
	}
	id, ok := x.ids[folded]
	if !ok {
		id = int32(len(x.names))
		x.ids[folded] = id
		x.names = append(x.names, folded)
	}
	return id
}

func (x *valueIndex) add(folded, original string, r *userRec) {
	if folded == "" {
		return
	}
	set := x.sets[folded]
	if set == nil {
		set = recSet{}
		x.sets[folded] = set
	}
	set[r] = struct{}{}
	if r.u.Active {
		x.active[folded]++
	}
	sp := x.spell[folded]
	if sp == nil {
		sp = map[string]int{}
		x.spell[folded] = sp
	}
	sp[original]++
}

func (x *valueIndex) remove(folded, original string, r *userRec) {
	if folded == "" {
		return
	}
	if set := x.sets[folded]; set != nil {
		delete(set, r)
		if len(set) == 0 {
			delete(x.sets, folded)
		}
	}
	if r.u.Active {
		if x.active[folded]--; x.active[folded] <= 0 {
			delete(x.active, folded)
		}
	}
	if sp := x.spell[folded]; sp != nil {
		if sp[original]--; sp[original] <= 0 {
			delete(sp, original)
		}
		if len(sp) == 0 {
			delete(x.spell, folded)
		}
	}
}

// label returns the bytewise least original spelling of a folded value.
func (x *valueIndex) label(folded string) string {
	best, first := "", true
	for s := range x.spell[folded] {
		if first || s < best {
			best, first = s, false
		}
	}
	if first {
		return folded
	}
	return best
}

// count returns how many users with status st hold the folded value.
func (x *valueIndex) count(folded string, st search.Status) int {
	switch st {
	case search.StatusAll:
		return len(x.sets[folded])
	case search.StatusInactive:
		return len(x.sets[folded]) - x.active[folded]
	default:
		return x.active[folded]
	}
}

// lsmMax is the least size the small sorted run of an lsm may reach before
// it is merged into the large slice; the run may also grow to a quarter of
// the large slice, so that building a large collection merges only a
// logarithmic number of times.
const lsmMax = 2048

// lsm is a sorted collection with cheap inserts: a large sorted slice and a
// small sorted run of recent inserts, merged when the run (or the number of
// dead entries) outgrows its bound. Dead entries (alive reports false) are
// skipped when iterating and dropped when merging.
type lsm[T any] struct {
	big, small []T
	dead       int
	cmp        func(a, b T) int
	alive      func(T) bool
}

func (x *lsm[T]) bound() int { return max(lsmMax, len(x.big)/4) }

func (x *lsm[T]) insert(v T) {
	i, _ := slices.BinarySearchFunc(x.small, v, x.cmp)
	x.small = slices.Insert(x.small, i, v)
	if len(x.small) > x.bound() {
		x.compact()
	}
}

// insertMany inserts vs (which it sorts) in one merge with the small run.
func (x *lsm[T]) insertMany(vs []T) {
	if len(vs) < 16 {
		for _, v := range vs {
			x.insert(v)
		}
		return
	}
	slices.SortFunc(vs, x.cmp)
	vs = slices.CompactFunc(vs, func(a, b T) bool { return x.cmp(a, b) == 0 })
	merged := make([]T, 0, len(x.small)+len(vs))
	i, j := 0, 0
	for i < len(x.small) || j < len(vs) {
		if j >= len(vs) || (i < len(x.small) && x.cmp(x.small[i], vs[j]) <= 0) {
			merged = append(merged, x.small[i])
			i++
		} else {
			merged = append(merged, vs[j])
			j++
		}
	}
	x.small = merged
	if len(x.small) > x.bound() {
		x.compact()
	}
}

// contains reports whether v is in the collection (alive or not).
func (x *lsm[T]) contains(v T) bool {
	if _, ok := slices.BinarySearchFunc(x.big, v, x.cmp); ok {
		return true
	}
	_, ok := slices.BinarySearchFunc(x.small, v, x.cmp)
	return ok
}

// killed records that an entry died.
func (x *lsm[T]) killed() {
	if x.dead++; x.dead > x.bound() {
		x.compact()
	}
}

func (x *lsm[T]) compact() {
	merged := make([]T, 0, len(x.big)+len(x.small))
	i, j := 0, 0
	for i < len(x.big) || j < len(x.small) {
		var v T
		if j >= len(x.small) || (i < len(x.big) && x.cmp(x.big[i], x.small[j]) <= 0) {
			v = x.big[i]
			i++
		} else {
			v = x.small[j]
			j++
		}
		if x.alive(v) {
			merged = append(merged, v)
		}
	}
	x.big, x.small, x.dead = merged, nil, 0
}

// from yields the live entries in order, starting with the first for which
// geq is true; geq must be false for a prefix of the order and true after.
func (x *lsm[T]) from(geq func(T) bool) iter.Seq[T] {
	return func(yield func(T) bool) {
		i, _ := slices.BinarySearchFunc(x.big, true, func(v T, _ bool) int {
			if geq(v) {
				return 1
			}
			return -1
		})
		j, _ := slices.BinarySearchFunc(x.small, true, func(v T, _ bool) int {
			if geq(v) {
				return 1
			}
			return -1
		})
		for i < len(x.big) || j < len(x.small) {
			var v T
			if j >= len(x.small) || (i < len(x.big) && x.cmp(x.big[i], x.small[j]) <= 0) {
				v = x.big[i]
				i++
			} else {
				v = x.small[j]
				j++
			}
			if x.alive(v) && !yield(v) {
				return
			}
		}
	}
}

// org is everything stored for one org.
type org struct {
	users    map[string]*userRec // by user ID
	byExt    map[srcKey]*userRec
	bySource map[string]recSet
	byIdp    map[string]recSet
	byEmail  map[string]recSet // folded email
	inactive recSet
	nActive  int

	dept, div, office, tag *valueIndex
	tagFields              map[string]int32 // tag field name → index in tagFieldList
	tagFieldList           []*valueIndex
	tagFieldNames          []string

	words   map[string]recSet // word → users
	wordIdx *lsm[string]      // distinct words, sorted
	orders  [4]*lsm[*userRec] // per sortIndex

	// New users and words that index has not yet put in orders and
	// wordIdx; flush inserts them in one merge per collection.
	newRecs  []*userRec
	newWords []string

	groups      map[string]*store.Group
	groupByExt  map[srcKey]*store.Group
	groupByName map[string]map[string]struct{} // folded name → group IDs
	members     map[string]map[string]struct{} // group ID → user IDs
	userGroups  map[string]map[string]struct{} // user ID → group IDs

	seq     int64
	changes []store.Change // in Seq order

	runs       map[string]*store.SyncRun
	parked     map[string]*store.ParkedEvent
	events     map[string]eventMark
	tombstones map[srcKey]store.Tombstone
	lease      *store.Lease
	states     map[string]store.SourceState
}

type eventMark struct {
	at            time.Time
	deactivations int
}

func newOrg() *org {
	o := &org{
		users:       map[string]*userRec{},
		byExt:       map[srcKey]*userRec{},
		bySource:    map[string]recSet{},
		byIdp:       map[string]recSet{},
		byEmail:     map[string]recSet{},
		inactive:    recSet{},
		dept:        newValueIndex(),
		div:         newValueIndex(),
		office:      newValueIndex(),
		tag:         newValueIndex(),
		tagFields:   map[string]int32{},
		words:       map[string]recSet{},
		groups:      map[string]*store.Group{},
		groupByExt:  map[srcKey]*store.Group{},
		groupByName: map[string]map[string]struct{}{},
		members:     map[string]map[string]struct{}{},
		userGroups:  map[string]map[string]struct{}{},
		runs:        map[string]*store.SyncRun{},
		parked:      map[string]*store.ParkedEvent{},
		events:      map[string]eventMark{},
		tombstones:  map[srcKey]store.Tombstone{},
		states:      map[string]store.SourceState{},
	}
	o.wordIdx = &lsm[string]{
		cmp:   strings.Compare,
		alive: func(w string) bool { _, ok := o.words[w]; return ok },
	}
	for i := range o.orders {
		o.orders[i] = &lsm[*userRec]{
			cmp: func(a, b *userRec) int {
				if c := strings.Compare(a.key(i), b.key(i)); c != 0 {
					return c
				}
				return strings.Compare(a.u.ID, b.u.ID)
			},
			alive: func(r *userRec) bool { return !r.dead },
		}
	}
	return o
}

func addTo[K comparable](m map[K]recSet, k K, r *userRec) {
	set := m[k]
	if set == nil {
		set = recSet{}
		m[k] = set
	}
	set[r] = struct{}{}
}

func removeFrom[K comparable](m map[K]recSet, k K, r *userRec) {
	if set := m[k]; set != nil {
		delete(set, r)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// index adds a committed user to every index.
func (o *org) index(r *userRec) {
	u := r.u
	o.users[u.ID] = r
	o.byExt[srcKey{u.SourceID, u.ExternalID}] = r
	addTo(o.bySource, u.SourceID, r)
	if u.IdpID != "" {
		addTo(o.byIdp, u.IdpID, r)
	}
	if r.email != "" {
		addTo(o.byEmail, r.email, r)
	}
	if u.Active {
		o.nActive++
	} else {
		o.inactive[r] = struct{}{}
	}
	o.dept.add(r.dept, u.Department, r)
	o.div.add(r.div, u.Division, r)
	o.office.add(r.office, u.Office, r)
	r.vid = [3]int32{o.dept.intern(r.dept), o.div.intern(r.div), o.office.intern(r.office)}
	r.tagIDs = make([]int32, len(r.tags))
	for i, f := range r.tags {
		o.tag.add(f, r.tagSpelling(f), r)
		r.tagIDs[i] = o.tag.intern(f)
	}
	r.tfIDs = make([]tfID, len(r.tagFields))
	for i, t := range r.tagFields {
		fi, ok := o.tagFields[t.field]
		if !ok {
			fi = int32(len(o.tagFieldList))
			o.tagFields[t.field] = fi
			o.tagFieldList = append(o.tagFieldList, newValueIndex())
			o.tagFieldNames = append(o.tagFieldNames, t.field)
		}
		x := o.tagFieldList[fi]
		x.add(t.folded, t.value, r)
		r.tfIDs[i] = tfID{fi, x.intern(t.folded)}
	}
	for _, w := range r.words {
		set := o.words[w]
		if set == nil {
			set = recSet{}
			o.words[w] = set
			if !o.wordIdx.contains(w) {
				o.newWords = append(o.newWords, w)
			}
		}
		set[r] = struct{}{}
	}
	o.newRecs = append(o.newRecs, r)
}

// flush puts the users and words indexed since the last flush into the
// sorted orders and the word list. Writers call it before releasing the
// lock.
func (o *org) flush() {
	if len(o.newWords) > 0 {
		o.wordIdx.insertMany(o.newWords)
		o.newWords = o.newWords[:0]
	}
	if len(o.newRecs) > 0 {
		for _, x := range o.orders {
			x.insertMany(slices.Clone(o.newRecs))
		}
		clear(o.newRecs)
		o.newRecs = o.newRecs[:0]
	}
}

// unindex removes a committed user from every index and marks it dead.
func (o *org) unindex(r *userRec) {
	u := r.u
	if o.users[u.ID] == r {
		delete(o.users, u.ID)
	}
	if k := (srcKey{u.SourceID, u.ExternalID}); o.byExt[k] == r {
		delete(o.byExt, k)
	}
	removeFrom(o.bySource, u.SourceID, r)
	if u.IdpID != "" {
		removeFrom(o.byIdp, u.IdpID, r)
	}
	if r.email != "" {
		removeFrom(o.byEmail, r.email, r)
	}
	if u.Active {
		o.nActive--
	} else {
		delete(o.inactive, r)
	}
	o.dept.remove(r.dept, u.Department, r)
	o.div.remove(r.div, u.Division, r)
	o.office.remove(r.office, u.Office, r)
	for _, f := range r.tags {
		o.tag.remove(f, r.tagSpelling(f), r)
	}
	for i, t := range r.tfIDs { // tfIDs[i] is tagFields[i]
		ft := r.tagFields[i]
		o.tagFieldList[t.field].remove(ft.folded, ft.value, r)
	}
	for _, w := range r.words {
		if set := o.words[w]; set != nil {
			delete(set, r)
			if len(set) == 0 {
				delete(o.words, w)
				o.wordIdx.killed()
			}
		}
	}
	r.dead = true
	for _, x := range o.orders {
		x.killed()
	}
}

// groupRefs returns the user's groups sorted by name then ID.
func (o *org) groupRefs(userID string) []store.GroupRef {
	gs := o.userGroups[userID]
	if len(gs) == 0 {
		return nil
	}
	out := make([]store.GroupRef, 0, len(gs))
	for id := range gs {
		if g := o.groups[id]; g != nil {
			out = append(out, store.GroupRef{ID: g.ID, Name: g.Name})
		}
	}
	slices.SortFunc(out, func(a, b store.GroupRef) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// userOut returns a caller's copy of a stored user, with groups when
// withGroups.
func (o *org) userOut(r *userRec, withGroups bool) store.User {
	u := copyUser(r.u)
	if withGroups {
		u.Groups = o.groupRefs(u.ID)
	}
	return u
}

// addGroup indexes a committed group.
func (o *org) addGroup(g *store.Group, fold func(string) string) {
	o.groups[g.ID] = g
	o.groupByExt[srcKey{g.SourceID, g.ExternalID}] = g
	n := fold(g.Name)
	ids := o.groupByName[n]
	if ids == nil {
		ids = map[string]struct{}{}
		o.groupByName[n] = ids
	}
	ids[g.ID] = struct{}{}
}

// removeGroup unindexes a group (not its memberships).
func (o *org) removeGroup(g *store.Group, fold func(string) string) {
	if o.groups[g.ID] == g {
		delete(o.groups, g.ID)
	}
	if k := (srcKey{g.SourceID, g.ExternalID}); o.groupByExt[k] == g {
		delete(o.groupByExt, k)
	}
	n := fold(g.Name)
	if ids := o.groupByName[n]; ids != nil {
		delete(ids, g.ID)
		if len(ids) == 0 {
			delete(o.groupByName, n)
		}
	}
}

func (o *org) addMember(userID, groupID string) {
	m := o.members[groupID]
	if m == nil {
		m = map[string]struct{}{}
		o.members[groupID] = m
	}
	m[userID] = struct{}{}
	ug := o.userGroups[userID]
	if ug == nil {
		ug = map[string]struct{}{}
		o.userGroups[userID] = ug
	}
	ug[groupID] = struct{}{}
}

func (o *org) removeMember(userID, groupID string) {
	if m := o.members[groupID]; m != nil {
		delete(m, userID)
		if len(m) == 0 {
			delete(o.members, groupID)
		}
	}
	if ug := o.userGroups[userID]; ug != nil {
		delete(ug, groupID)
		if len(ug) == 0 {
			delete(o.userGroups, userID)
		}
	}
}
