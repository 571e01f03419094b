package memstore

import (
	"cmp"
	"encoding/binary"
	"iter"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// srcKey identifies a row by source and external ID.
type srcKey struct{ source, external string }

// userRec is a stored user with everything derived from it that the indexes
// and queries need. A userRec is never changed after it is committed, except
// for dead, which marks it replaced or deleted (under the write lock): an
// update commits a new userRec.
type userRec struct {
	user store.User
	u    *store.User // &user; Groups is always nil

	dept, div, office string     // folded (or raw under faults.caseSensitive)
	tags              []string   // distinct folded tag values, any field
	tagFields         []fieldTag // distinct (field, folded value)
	words             []string   // search.Words
	keys              [3]string  // search.SortKey for last name, first name, email
	pk                [3]uint64  // keyPrefix of each of keys
	email             string     // folded email, for LoadUsers
	slot              uint32     // the user's place in org.slots, assigned by org.index
	dead              bool       // replaced or deleted

	// Interned value IDs, assigned by org.index, for matching and counting
	// facets in slices rather than maps: tags (in org.tag) and tag field
	// values (tfIDs[i] is tagFields[i]). Department, division and office
	// are in the user's slot.
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

// keyPrefix packs the first 8 bytes of k (zero-padded) big-endian, so that
// unequal prefixes order as their strings do; equal prefixes say nothing.
func keyPrefix(k string) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// compareKeys orders a and b by sort key sortIdx (comparing the key
// prefixes first), then by ID.
func compareKeys(a, b *userRec, sortIdx int) int {
	if sortIdx < 3 {
		if pa, pb := a.pk[sortIdx], b.pk[sortIdx]; pa != pb {
			return cmp.Compare(pa, pb)
		}
		if c := strings.Compare(a.keys[sortIdx], b.keys[sortIdx]); c != 0 {
			return c
		}
	}
	return strings.Compare(a.u.ID, b.u.ID)
}

func (r *userRec) key(sortIdx int) string {
	if sortIdx == 3 {
		return ""
	}
	return r.keys[sortIdx]
}

// newRec derives a userRec from a row (which it keeps), folding through f.
func newRec(u store.User, f *folder) *userRec {
	r := &userRec{user: u}
	r.u = &r.user
	r.dept, r.div, r.office = f.value(u.Department), f.value(u.Division), f.value(u.Office)
	first, last := f.name(u.FirstName), f.name(u.LastName)
	r.email = search.Fold(u.Email)
	// Words and SortKey fold again; the folded email folds on the fast path
	// when it is ASCII.
	emailWords := search.Words("", "", r.email)
	r.words = joinWords(first.words, last.words, emailWords)
	r.keys[0] = last.key + "\x01" + first.key
	r.keys[1] = first.key + "\x01" + last.key
	r.keys[2] = search.SortKey(search.SortEmail, "", "", r.email)
	for i, k := range r.keys {
		r.pk[i] = keyPrefix(k)
	}
	for _, t := range u.Tags {
		fv := f.value(t.Value)
		if fv == "" || t.Field == "" {
			continue
		}
		if !slices.Contains(r.tags, fv) {
			r.tags = append(r.tags, fv)
		}
		ft := fieldTag{field: t.Field, folded: fv, value: t.Value}
		if !slices.ContainsFunc(r.tagFields, func(x fieldTag) bool { return x.field == ft.field && x.folded == ft.folded }) {
			r.tagFields = append(r.tagFields, ft)
		}
	}
	return r
}

// joinWords returns the distinct words of lists in order: search.Words of
// a first name, a last name and an email address, joined, equal
// search.Words of the three.
func joinWords(lists ...[]string) []string {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]string, 0, n)
	var seen map[string]struct{}
	if n > 16 {
		seen = make(map[string]struct{}, n)
	}
	for _, l := range lists {
		for _, w := range l {
			if seen != nil {
				if _, ok := seen[w]; ok {
					continue
				}
				seen[w] = struct{}{}
			} else if slices.Contains(out, w) {
				continue
			}
			out = append(out, w)
		}
	}
	return out
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

// slotInfo is one entry of org.slots: a user, or nil once the user was
// replaced or deleted, with the columns that matching and counting read
// most.
type slotInfo struct {
	rec    *userRec
	vid    [3]int32 // department, division and office value IDs; -1 when empty
	active bool
}

// postings is an ascending list of slots. New slots are always the
// highest, so adding appends; entries of dead slots stay until dead
// outgrows half the list, when remove drops them.
type postings struct {
	slots []uint32
	dead  int
}

func (p *postings) live() int { return len(p.slots) - p.dead }

// slotsOrNil returns p's slots, or nil when p is nil.
func (p *postings) slotsOrNil() []uint32 {
	if p == nil {
		return nil
	}
	return p.slots
}

// remove records that one of the list's slots died (o.slots already says
// so).
func (p *postings) remove(o *org) {
	if p.dead++; p.dead >= 8 && 2*p.dead > len(p.slots) {
		keep := p.slots[:0]
		for _, s := range p.slots {
			if o.slots[s].rec != nil {
				keep = append(keep, s)
			}
		}
		clear(p.slots[len(keep):])
		p.slots, p.dead = slices.Clip(keep), 0
	}
}

// valueIndex indexes one filterable field by interned value ID: the users
// holding each folded value, how many of them are active, and the original
// spellings stored (with how many users hold each), for facet labels. IDs
// are never reused.
type valueIndex struct {
	ids   map[string]int32 // folded value → ID
	names []string         // by ID: the folded value
	vals  []valueEntry     // by ID
}

type valueEntry struct {
	post   postings
	active int
	spell  map[string]int
	label  string // the bytewise least key of spell
}

func newValueIndex() *valueIndex { return &valueIndex{ids: map[string]int32{}} }

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
		x.vals = append(x.vals, valueEntry{})
	}
	return id
}

// lookup returns the ID of a folded value, or -1 when it was never stored.
func (x *valueIndex) lookup(folded string) int32 {
	if id, ok := x.ids[folded]; ok {
		return id
	}
	return -1
}

// add indexes the user in slot s under the value (interning it) and
// returns its ID, or -1 for the empty value.
func (x *valueIndex) add(folded, original string, s uint32, active bool) int32 {
	id := x.intern(folded)
	if id < 0 {
		return id
	}
	e := &x.vals[id]
	e.post.slots = append(e.post.slots, s)
	if active {
		e.active++
	}
	if e.spell == nil {
		e.spell = map[string]int{}
	}
	if e.spell[original]++; e.spell[original] == 1 && (len(e.spell) == 1 || original < e.label) {
		e.label = original
	}
	return id
}

func (x *valueIndex) remove(o *org, id int32, original string, active bool) {
	if id < 0 {
		return
	}
	e := &x.vals[id]
	e.post.remove(o)
	if active {
		e.active--
	}
	if e.spell[original]--; e.spell[original] <= 0 {
		delete(e.spell, original)
		if original == e.label {
			e.label = ""
			for sp := range e.spell {
				if e.label == "" || sp < e.label {
					e.label = sp
				}
			}
		}
	}
}

// label returns the bytewise least original spelling of a value.
func (x *valueIndex) label(id int32) string {
	if l := x.vals[id].label; l != "" || len(x.vals[id].spell) > 0 {
		return l
	}
	return x.names[id]
}

// count returns how many users with status st hold the value.
func (x *valueIndex) count(id int32, st search.Status) int {
	e := &x.vals[id]
	switch st {
	case search.StatusAll:
		return e.post.live()
	case search.StatusInactive:
		return e.post.live() - e.active
	default:
		return e.active
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
	compacted  func() // called after a merge dropped the dead entries; may be nil
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
	x.small = mergeSorted(x.small, vs, x.cmp)
	if len(x.small) > x.bound() {
		x.compact()
	}
}

// mergeSorted returns the sorted a and b merged into a new slice. When b
// is much shorter than a, it finds each element's place in a by binary
// search and copies the runs of a between them, comparing O(len(b) log
// len(a)) times rather than O(len(a)).
func mergeSorted[T any](a, b []T, cmp func(x, y T) int) []T {
	out := make([]T, 0, len(a)+len(b))
	if len(b)*bits.Len(uint(len(a))) < len(a) {
		for _, v := range b {
			i, _ := slices.BinarySearchFunc(a, v, cmp)
			out = append(out, a[:i]...)
			out = append(out, v)
			a = a[i:]
		}
		return append(out, a...)
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || (i < len(a) && cmp(a[i], b[j]) <= 0) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
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
	if x.compacted != nil {
		x.compacted()
	}
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
	users   map[string]*userRec // by user ID
	byExt   map[srcKey]*userRec
	byIdp   map[string][]*userRec
	byEmail map[string][]*userRec // folded email

	// slots holds every user indexed since the last renumbering, in the
	// order indexed; the postings lists refer to users by slot. deadSlots
	// counts the entries whose user was replaced or deleted.
	slots     []slotInfo
	deadSlots int
	bySource  map[string]*postings
	inactive  postings
	nActive   int

	dept, div, office, tag *valueIndex
	tagFields              map[string]int32 // tag field name → index in tagFieldList
	tagFieldList           []*valueIndex
	tagFieldNames          []string

	words     map[string]int32 // word → ID in wordPosts
	wordPosts []postings       // by word ID
	freeWords []int32          // word IDs no word holds
	// deadWords are the words wordIdx still holds that no user does.
	deadWords map[string]struct{}
	wordIdx   *lsm[string]      // distinct words, sorted
	orders    [4]*lsm[*userRec] // per sortIndex

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
		bySource:    map[string]*postings{},
		byIdp:       map[string][]*userRec{},
		byEmail:     map[string][]*userRec{},
		dept:        newValueIndex(),
		div:         newValueIndex(),
		office:      newValueIndex(),
		tag:         newValueIndex(),
		tagFields:   map[string]int32{},
		words:       map[string]int32{},
		deadWords:   map[string]struct{}{},
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
		cmp:       strings.Compare,
		alive:     func(w string) bool { _, ok := o.words[w]; return ok },
		compacted: func() { clear(o.deadWords) },
	}
	for i := range o.orders {
		o.orders[i] = &lsm[*userRec]{
			cmp:   func(a, b *userRec) int { return compareKeys(a, b, i) },
			alive: func(r *userRec) bool { return !r.dead },
		}
	}
	return o
}

// index adds a committed user to every index.
func (o *org) index(r *userRec) {
	u := r.u
	o.users[u.ID] = r
	o.byExt[srcKey{u.SourceID, u.ExternalID}] = r
	s := uint32(len(o.slots))
	r.slot = s
	src := o.bySource[u.SourceID]
	if src == nil {
		src = &postings{}
		o.bySource[u.SourceID] = src
	}
	src.slots = append(src.slots, s)
	if u.IdpID != "" {
		o.byIdp[u.IdpID] = append(o.byIdp[u.IdpID], r)
	}
	if r.email != "" {
		o.byEmail[r.email] = append(o.byEmail[r.email], r)
	}
	if u.Active {
		o.nActive++
	} else {
		o.inactive.slots = append(o.inactive.slots, s)
	}
	o.slots = append(o.slots, slotInfo{
		rec: r,
		vid: [3]int32{
			o.dept.add(r.dept, u.Department, s, u.Active),
			o.div.add(r.div, u.Division, s, u.Active),
			o.office.add(r.office, u.Office, s, u.Active),
		},
		active: u.Active,
	})
	r.tagIDs = make([]int32, len(r.tags))
	for i, f := range r.tags {
		r.tagIDs[i] = o.tag.add(f, r.tagSpelling(f), s, u.Active)
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
		r.tfIDs[i] = tfID{fi, o.tagFieldList[fi].add(t.folded, t.value, s, u.Active)}
	}
	for _, w := range r.words {
		id, ok := o.words[w]
		if !ok {
			if n := len(o.freeWords); n > 0 {
				id, o.freeWords = o.freeWords[n-1], o.freeWords[:n-1]
			} else {
				id = int32(len(o.wordPosts))
				o.wordPosts = append(o.wordPosts, postings{})
			}
			o.words[w] = id
			if _, ok := o.deadWords[w]; ok {
				delete(o.deadWords, w) // wordIdx holds it
			} else {
				o.newWords = append(o.newWords, w)
			}
		}
		o.wordPosts[id].slots = append(o.wordPosts[id].slots, s)
	}
	o.newRecs = append(o.newRecs, r)
}

// flush puts the users and words indexed since the last flush into the
// sorted orders and the word list, and renumbers the slots when most are
// dead. Writers call it before releasing the lock.
func (o *org) flush() {
	if len(o.newWords) > 0 {
		o.wordIdx.insertMany(o.newWords)
		clear(o.newWords)
		o.newWords = o.newWords[:0]
	}
	if len(o.newRecs) > 0 {
		for _, x := range o.orders {
			x.insertMany(slices.Clone(o.newRecs))
		}
		clear(o.newRecs)
		o.newRecs = o.newRecs[:0]
	}
	if o.deadSlots > max(minRenumber, len(o.slots)/2) {
		o.renumber()
	}
}

// minRenumber is how many dead slots an org keeps at least before
// renumbering.
const minRenumber = 1024

// renumber drops the dead slots, keeping the live ones in order, and
// rewrites every postings list to match.
func (o *org) renumber() {
	to := make([]uint32, len(o.slots)) // old slot → new slot
	live := make([]slotInfo, 0, len(o.slots)-o.deadSlots)
	for i, si := range o.slots {
		if si.rec != nil {
			to[i] = uint32(len(live))
			si.rec.slot = uint32(len(live))
			live = append(live, si)
		}
	}
	rewrite := func(p *postings) {
		keep := p.slots[:0]
		for _, s := range p.slots {
			if o.slots[s].rec != nil {
				keep = append(keep, to[s])
			}
		}
		clear(p.slots[len(keep):])
		p.slots, p.dead = slices.Clip(keep), 0
	}
	for _, p := range o.bySource {
		rewrite(p)
	}
	rewrite(&o.inactive)
	for _, x := range append([]*valueIndex{o.dept, o.div, o.office, o.tag}, o.tagFieldList...) {
		for i := range x.vals {
			rewrite(&x.vals[i].post)
		}
	}
	for i := range o.wordPosts {
		rewrite(&o.wordPosts[i])
	}
	o.slots, o.deadSlots = live, 0
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
	si := o.slots[r.slot]
	o.slots[r.slot].rec = nil
	o.deadSlots++
	if p := o.bySource[u.SourceID]; p != nil {
		if p.remove(o); p.live() == 0 {
			delete(o.bySource, u.SourceID)
		}
	}
	if u.IdpID != "" {
		removeRec(o.byIdp, u.IdpID, r)
	}
	if r.email != "" {
		removeRec(o.byEmail, r.email, r)
	}
	if u.Active {
		o.nActive--
	} else {
		o.inactive.remove(o)
	}
	o.dept.remove(o, si.vid[fDept], u.Department, u.Active)
	o.div.remove(o, si.vid[fDiv], u.Division, u.Active)
	o.office.remove(o, si.vid[fOffice], u.Office, u.Active)
	for i, f := range r.tags {
		o.tag.remove(o, r.tagIDs[i], r.tagSpelling(f), u.Active)
	}
	for i, t := range r.tfIDs { // tfIDs[i] is tagFields[i]
		o.tagFieldList[t.field].remove(o, t.id, r.tagFields[i].value, u.Active)
	}
	for _, w := range r.words {
		id, ok := o.words[w]
		if !ok {
			continue
		}
		p := &o.wordPosts[id]
		if p.remove(o); p.live() == 0 {
			delete(o.words, w)
			*p = postings{}
			o.freeWords = append(o.freeWords, id)
			o.deadWords[w] = struct{}{}
			o.wordIdx.killed()
		}
	}
	r.dead = true
	for _, x := range o.orders {
		x.killed()
	}
}

// removeRec removes r from the list of key k.
func removeRec(m map[string][]*userRec, k string, r *userRec) {
	l := m[k]
	if i := slices.Index(l, r); i >= 0 {
		l[i] = l[len(l)-1]
		l[len(l)-1] = nil
		l = l[:len(l)-1]
	}
	if len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
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
