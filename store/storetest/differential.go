package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Pools the random directories draw from: spellings that fold alike, names
// with separators, and values that differ only in case or accents, so that
// random queries keep meeting the edge cases.
var (
	randFirst  = []string{"Ana", "Anna", "Ánna", "Zoë", "Zoe", "Søren", "Soren", "Anne-Marie", "Jean", "Jan", "Jane", "María", "Maria", "Łukasz", "Lukas", "İlkay", "Ilka", "Chloé", "Chloe", "Mary-Kate", "Bob", "bob", "BOB", "Ng", ""}
	randLast   = []string{"Álvarez", "Alvarez", "Alves", "O'Connor", "Oconnor", "D’Angelo", "D'Angelo", "Dangelo", "Smith", "Smyth", "Müller", "Muller", "Mueller", "張", "Nguyễn", "Nguyen", "García", "Garcia", "Al-Farsi", "Doe", "van der Berg", "St. John", ""}
	randDomain = []string{"acme.com", "Acme.COM", "example.org", "ex-ample.co.uk"}
	randDept   = []string{"Engineering", "engineering", "ENGINEERING", "R&D", "r&d", "Sales", "Zürich Ops", "Zurich Ops", ""}
	randDiv    = []string{"Product", "product", "Go-To-Market", "G&A", ""}
	randOffice = []string{"Zürich", "Zurich", "ZÜRICH", "New York", "new york", "São Paulo", "Sao Paulo", ""}
	randFields = []string{"team", "cost_center", "location"}
	randTag    = []string{"NYC", "nyc", "Mobile", "mobile", "CC-100", "cc-100", "Platform", "Ops", "Zürich"}
	randGroup  = []string{"Managers", "managers", "Zürich Office", "Zurich office", "Eng", "All Hands"}
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// randomDirectory makes n people, four groups and random memberships.
func randomDirectory(r *rand.Rand, org string, n int) Reference {
	ref := Reference{OrgID: org}
	for i := range n {
		first, last := pick(r, randFirst), pick(r, randLast)
		email := ""
		if r.IntN(8) > 0 {
			local := strings.ToLower(strings.NewReplacer(" ", "", "'", "", "’", "").Replace(first + pick(r, []string{".", "_", "-", ""}) + last))
			if r.IntN(4) == 0 {
				local += "+" + pick(r, []string{"hr", "eng", "x1"})
			}
			if local == "" {
				local = fmt.Sprint("u", i)
			}
			email = local + "@" + pick(r, randDomain)
		}
		var tg []mapping.Tag
		for range r.IntN(4) {
			tg = append(tg, mapping.Tag{Field: pick(r, randFields), Value: pick(r, randTag)})
		}
		src := srcA
		if r.IntN(5) == 0 {
			src = srcB
		}
		u := store.User{
			OrgID: org, SourceID: src, ID: fmt.Sprintf("u%03d", i), ExternalID: fmt.Sprintf("ext-%03d", i),
			Email: email, FirstName: first, LastName: last,
			Department: pick(r, randDept), Division: pick(r, randDiv), Office: pick(r, randOffice),
			Tags: store.NormalizeTags(tg), Active: r.IntN(4) > 0, ProviderUpdatedAt: at(0),
		}
		ref.Users = append(ref.Users, u)
	}
	for i := range 4 {
		src := srcA
		if i == 3 {
			src = srcB
		}
		ref.Groups = append(ref.Groups, group(org, src, fmt.Sprintf("g%d", i), pick(r, randGroup)))
	}
	for _, u := range ref.Users {
		for _, g := range ref.Groups {
			if r.IntN(3) == 0 {
				ref.Memberships = append(ref.Memberships, store.Membership{UserID: u.ID, GroupID: g.ID})
			}
		}
	}
	return ref
}

// randomValues picks 1 to 3 values of a field, now and then one nobody has.
func randomValues(r *rand.Rand, pool []string) []string {
	var out []string
	for range 1 + r.IntN(3) {
		v := pick(r, pool)
		if v == "" || r.IntN(10) == 0 {
			v = "Nowhere"
		}
		out = append(out, v)
	}
	return out
}

// randomTerm draws a text term from the directory's real names and emails:
// a prefix of a word, a joined pair of prefixes, an email prefix, or noise.
func randomTerm(r *rand.Rand, ref Reference) string {
	u := pick(r, ref.Users)
	prefix := func(s string) string {
		n := utf8.RuneCountInString(s)
		if n == 0 {
			return "zz"
		}
		return string([]rune(s)[:1+r.IntN(n)])
	}
	var term string
	switch r.IntN(6) {
	case 0, 1:
		term = prefix(pick(r, []string{u.FirstName, u.LastName}))
	case 2:
		term = prefix(u.FirstName) + pick(r, []string{"-", "'", ".", "’"}) + prefix(u.LastName)
	case 3:
		term = prefix(u.Email)
	case 4:
		words := search.Words(u.FirstName, u.LastName, u.Email)
		if len(words) == 0 {
			return "q"
		}
		term = prefix(pick(r, words))
	default:
		term = pick(r, []string{"varez", "xyz", "a", "j", "@", "-", "o'", "+hr"})
	}
	if r.IntN(3) == 0 {
		term = strings.ToUpper(term)
	}
	if strings.TrimSpace(term) == "" {
		return "q"
	}
	return strings.Join(strings.Fields(term), "")
}

func randomQuery(r *rand.Rand, ref Reference) search.Query {
	var q search.Query
	if r.IntN(4) == 0 {
		q.Departments = randomValues(r, randDept)
	}
	if r.IntN(5) == 0 {
		q.Divisions = randomValues(r, randDiv)
	}
	if r.IntN(4) == 0 {
		q.Offices = randomValues(r, randOffice)
	}
	if r.IntN(4) == 0 {
		q.Tags = randomValues(r, randTag)
	}
	if r.IntN(5) == 0 {
		if r.IntN(2) == 0 {
			q.Groups = randomValues(r, randGroup)
		} else {
			q.Groups = []string{pick(r, ref.Groups).ID}
		}
	}
	if r.IntN(2) == 0 {
		terms := []string{randomTerm(r, ref)}
		if r.IntN(4) == 0 {
			terms = append(terms, randomTerm(r, ref))
		}
		q.Text = strings.Join(terms, " ")
	}
	q.Status = pick(r, []search.Status{"", search.StatusActive, search.StatusInactive, search.StatusAll})
	q.Sort = pick(r, []search.Sort{"", search.SortLastName, search.SortFirstName, search.SortEmail, search.SortID})
	q.Limit = pick(r, []int{0, 1, 2, 3, 5, 7, 50})
	return q
}

func describe(seed int64, round, i int, q search.Query) string {
	b, _ := json.Marshal(q)
	return fmt.Sprintf("seed %d round %d query %d %s", seed, round, i, b)
}

func (s *suite) differentialCases(t testing.TB) {
	for round := 1; round <= s.f.Rounds; round++ {
		run(t, fmt.Sprintf("RandomDirectoryRound%02dMatchesTheReferencePageByPage", round), func(t testing.TB) {
			parallel(t)
			s.differentialRound(t, round)
		})
	}
}

func (s *suite) differentialRound(t testing.TB, round int) {
	const queries = 40
	r := newRand(s.f.Seed, uint64(round))
	st := s.open(t)
	ref := randomDirectory(r, orgA, 20+r.IntN(50))
	noise := randomDirectory(r, orgB, 30) // same IDs, other org
	loadDirectory(t, st, noise)
	loadDirectory(t, st, ref)
	failures := 0
	for i := range queries {
		if failures >= 3 {
			t.Errorf("seed %d round %d: stopping after %d failing queries", s.f.Seed, round, failures)
			return
		}
		q := randomQuery(r, ref)
		where := describe(s.f.Seed, round, i, q)
		if !comparePages(t, st, ref, q, where) {
			failures++
			continue
		}
		want, err := ref.Facets(q)
		if err != nil {
			t.Fatalf("%s: Reference.Facets: %v", where, err)
		}
		got, err := st.Facets(t.Context(), orgA, q)
		if err != nil {
			t.Errorf("%s: Facets: %v", where, err)
			failures++
			continue
		}
		if diff := cmp.Diff(want, trimFacets(got), cmpOpts); diff != "" {
			t.Errorf("%s: Facets (-reference +store):\n%s", where, diff)
			failures++
		}
	}
}

// comparePages walks q on the store and on the reference side by side and
// reports the first difference.
func comparePages(t testing.TB, st store.Store, ref Reference, q search.Query, where string) bool {
	t.Helper()
	sq, rq := q, q
	// The reference matches once and cuts every page from that list, as
	// Reference.Search would, to keep long walks fast.
	nq, err := q.Normalize()
	if err != nil {
		t.Fatalf("%s: Normalize: %v", where, err)
	}
	all := ref.match(nq)
	for page := 1; page <= 500; page++ {
		pos, hasPos, err := search.DecodeCursor(ref.OrgID, rq)
		if err != nil {
			t.Fatalf("%s: reference cursor: %v", where, err)
		}
		want := ref.page(all, nq, pos, hasPos)
		got, err := st.Search(t.Context(), orgA, sq)
		if err != nil {
			t.Errorf("%s: page %d: Search: %v", where, page, err)
			return false
		}
		// cmp.Diff only explains a difference; it is too slow to find one.
		if !slices.Equal(userIDs(want.Users), userIDs(got.Users)) {
			t.Errorf("%s: page %d IDs (-reference +store):\n%s", where, page, cmp.Diff(userIDs(want.Users), userIDs(got.Users)))
			return false
		}
		for i := range want.Users {
			if !slices.Equal(want.Users[i].Groups, got.Users[i].Groups) {
				diff := cmp.Diff(want.Users[i].Groups, got.Users[i].Groups)
				t.Errorf("%s: page %d user %s groups (-reference +store):\n%s", where, page, want.Users[i].ID, diff)
				return false
			}
		}
		if (want.NextCursor == "") != (got.NextCursor == "") {
			t.Errorf("%s: page %d: reference next cursor %q, store next cursor %q", where, page, want.NextCursor, got.NextCursor)
			return false
		}
		if want.NextCursor == "" {
			return true
		}
		rq.Cursor, sq.Cursor, nq.Cursor = want.NextCursor, got.NextCursor, want.NextCursor
	}
	t.Errorf("%s: more than 500 pages", where)
	return false
}
