package storetest

import (
	"cmp"
	"slices"
	"sync"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Reference evaluates search queries and facets over one org's users,
// groups and memberships the plain way: a scan that applies the rules of
// package search with its own helpers and nothing else. It is the oracle of
// the suite's differential cases; other packages' tests may use it too.
//
// Users, groups and memberships of other orgs (by OrgID) are ignored, and a
// membership counts only when both its user and its group are present.
type Reference struct {
	// OrgID is the org queried; it also binds the cursors Search issues
	// and accepts.
	OrgID string
	// Users are the stored users, as written (their Groups are ignored;
	// Search fills them from Groups and Memberships). Any order.
	Users []store.User
	// Groups are the org's groups, whose names and IDs the group filter
	// matches.
	Groups []store.Group
	// Memberships link Users to Groups; duplicates count once.
	Memberships []store.Membership
}

// Search returns the page of q that a store must return for the org, with
// each user's Groups filled (sorted by name, then ID) and Source left out
// (see store.Store.Search). The cursor of a page
// that has a next one is search.EncodeCursor of the normalized query and the
// last user's position; the last page has none. Errors are those of
// Query.Normalize and search.DecodeCursor.
func (r *Reference) Search(q search.Query) (store.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return store.Page{}, err
	}
	pos, hasPos, err := search.DecodeCursor(r.OrgID, q)
	if err != nil {
		return store.Page{}, err
	}
	return r.page(r.match(q), q, pos, hasPos), nil
}

// page cuts the page after pos (when hasPos) from all, the sorted matches
// of the normalized query q.
func (r *Reference) page(all []store.User, q search.Query, pos search.Position, hasPos bool) store.Page {
	var page store.Page
	for _, u := range all {
		if hasPos && !pos.After(sortKey(q.Sort, u), u.ID) {
			continue
		}
		if len(page.Users) == q.Limit {
			last := page.Users[len(page.Users)-1]
			page.NextCursor = search.EncodeCursor(r.OrgID, q, search.Position{Key: sortKey(q.Sort, last), ID: last.ID})
			break
		}
		u.Source = nil
		page.Users = append(page.Users, u)
	}
	return page
}

// Match returns every user q matches, in q's order, ignoring limit and
// cursor, each with its Groups filled.
func (r *Reference) Match(q search.Query) ([]store.User, error) {
	q.Cursor = ""
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	return r.match(q), nil
}

// Facets returns the facet counts a store must return for q (see package
// storetest, "Facet labels"). Every map is non-nil; TagFields holds only the
// fields with at least one count.
func (r *Reference) Facets(q search.Query) (store.Facets, error) {
	q.Cursor, q.Limit = "", 0
	q, err := q.Normalize()
	if err != nil {
		return store.Facets{}, err
	}
	users := r.orgUsers()
	// Labels: the bytewise least spelling among all of the org's users.
	labels := map[string]map[string]string{}
	label := func(facet, v string) {
		k := fold(v)
		if k == "" {
			return
		}
		m := labels[facet]
		if m == nil {
			m = map[string]string{}
			labels[facet] = m
		}
		if old, ok := m[k]; !ok || v < old {
			m[k] = v
		}
	}
	for _, u := range users {
		label("department", u.Department)
		label("division", u.Division)
		label("office", u.Office)
		for _, tg := range u.Tags {
			label("tag", tg.Value)
			label("tag_fields."+tg.Field, tg.Value)
		}
	}
	count := func(facet string, matched []store.User, values func(store.User) []string) map[string]int {
		out := map[string]int{}
		for _, u := range matched {
			seen := map[string]bool{}
			for _, v := range values(u) {
				k := fold(v)
				if k == "" || seen[k] {
					continue
				}
				seen[k] = true
				out[labels[facet][k]]++
			}
		}
		return out
	}
	f := store.Facets{TagFields: map[string]map[string]int{}}
	qd := q
	qd.Departments = nil
	f.Department = count("department", r.match(qd), func(u store.User) []string { return []string{u.Department} })
	qv := q
	qv.Divisions = nil
	f.Division = count("division", r.match(qv), func(u store.User) []string { return []string{u.Division} })
	qo := q
	qo.Offices = nil
	f.Office = count("office", r.match(qo), func(u store.User) []string { return []string{u.Office} })
	qt := q
	qt.Tags = nil
	tagMatched := r.match(qt)
	f.Tag = count("tag", tagMatched, func(u store.User) []string {
		var vs []string
		for _, tg := range u.Tags {
			vs = append(vs, tg.Value)
		}
		return vs
	})
	fields := map[string]bool{}
	for _, u := range tagMatched {
		for _, tg := range u.Tags {
			fields[tg.Field] = true
		}
	}
	for field := range fields {
		m := count("tag_fields."+field, tagMatched, func(u store.User) []string {
			var vs []string
			for _, tg := range u.Tags {
				if tg.Field == field {
					vs = append(vs, tg.Value)
				}
			}
			return vs
		})
		if len(m) > 0 {
			f.TagFields[field] = m
		}
	}
	return f, nil
}

func (r *Reference) orgUsers() []store.User {
	var out []store.User
	for _, u := range r.Users {
		if u.OrgID == r.OrgID {
			out = append(out, u)
		}
	}
	return out
}

// groupsOf returns each user's groups, sorted by name then ID.
func (r *Reference) groupsOf() map[string][]store.GroupRef {
	groups := map[string]store.Group{}
	for _, g := range r.Groups {
		if g.OrgID == r.OrgID {
			groups[g.ID] = g
		}
	}
	out := map[string][]store.GroupRef{}
	seen := map[store.Membership]bool{}
	for _, m := range r.Memberships {
		g, ok := groups[m.GroupID]
		if !ok || seen[m] {
			continue
		}
		seen[m] = true
		out[m.UserID] = append(out[m.UserID], store.GroupRef{ID: g.ID, Name: g.Name})
	}
	for _, refs := range out {
		slices.SortFunc(refs, func(a, b store.GroupRef) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	}
	return out
}

// match returns the users a normalized q matches, sorted, with groups.
func (r *Reference) match(q search.Query) []store.User {
	groups := r.groupsOf()
	deps := search.FoldedValues(q.Departments)
	divs := search.FoldedValues(q.Divisions)
	offs := search.FoldedValues(q.Offices)
	tags := search.FoldedValues(q.Tags)
	var groupVals []string
	for _, v := range q.Groups {
		if fold(v) != "" {
			groupVals = append(groupVals, v)
		}
	}
	terms := search.Terms(q.Text)

	var out []store.User
	for _, u := range r.orgUsers() {
		switch {
		case q.Status == search.StatusActive && !u.Active,
			q.Status == search.StatusInactive && u.Active:
			continue
		}
		if len(deps) > 0 && !slices.Contains(deps, fold(u.Department)) ||
			len(divs) > 0 && !slices.Contains(divs, fold(u.Division)) ||
			len(offs) > 0 && !slices.Contains(offs, fold(u.Office)) {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(u.Tags, func(tg mapping.Tag) bool {
			return slices.Contains(tags, fold(tg.Value))
		}) {
			continue
		}
		if len(groupVals) > 0 && !slices.ContainsFunc(groups[u.ID], func(g store.GroupRef) bool {
			for _, v := range groupVals {
				if fold(v) == fold(g.Name) || v == g.ID {
					return true
				}
			}
			return false
		}) {
			continue
		}
		words := words(u.FirstName, u.LastName, u.Email)
		if !all(terms, func(term string) bool { return search.MatchTerm(term, words) }) {
			continue
		}
		u.Groups = groups[u.ID]
		out = append(out, u)
	}
	type keyed struct {
		key string
		u   store.User
	}
	ks := make([]keyed, len(out))
	for i, u := range out {
		ks[i] = keyed{sortKey(q.Sort, u), u}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.u.ID, b.u.ID))
	})
	for i, k := range ks {
		out[i] = k.u
	}
	return out
}

func sortKey(s search.Sort, u store.User) string {
	return memoized(&sortKeyMemo, [4]string{string(s), u.FirstName, u.LastName, u.Email}, func(k [4]string) string {
		return search.SortKey(search.Sort(k[0]), k[1], k[2], k[3])
	})
}

// The reference calls the pure helpers of package search many times with
// the same arguments; these memos only save time (the results are the
// helpers' own). Each memo is bounded: it is dropped when it grows large.
var (
	foldMemo, wordsMemo, sortKeyMemo memo
)

type memo struct {
	mu sync.Mutex
	m  map[any]any
}

const memoMax = 1 << 16

func memoized[K comparable, V any](m *memo, k K, f func(K) V) V {
	m.mu.Lock()
	v, ok := m.m[k]
	m.mu.Unlock()
	if ok {
		return v.(V)
	}
	out := f(k)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoMax {
		m.m = make(map[any]any)
	}
	m.m[k] = out
	m.mu.Unlock()
	return out
}

func fold(s string) string { return memoized(&foldMemo, s, search.Fold) }

func words(first, last, email string) []string {
	return memoized(&wordsMemo, [3]string{first, last, email}, func(k [3]string) []string {
		return search.Words(k[0], k[1], k[2])
	})
}

func all[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}
