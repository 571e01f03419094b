package memstore

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// checkRecDerivation requires the words and sort keys newRec derives
// through the fold cache (twice: filling it, then from it) to equal those
// of package search.
func checkRecDerivation(t *testing.T, f *folder, first, last, email string) {
	t.Helper()
	for range 2 {
		r := newRec(store.User{FirstName: first, LastName: last, Email: email}, f)
		if diff := cmp.Diff(search.Words(first, last, email), r.words, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("words of (%q, %q, %q) differ from search.Words (-want +got):\n%s", first, last, email, diff)
		}
		for i, s := range []search.Sort{search.SortLastName, search.SortFirstName, search.SortEmail} {
			if want := search.SortKey(s, first, last, email); r.keys[i] != want {
				t.Errorf("%s key of (%q, %q, %q) = %q, want search.SortKey's %q", s, first, last, email, r.keys[i], want)
			}
		}
		if want := search.Fold(email); r.email != want {
			t.Errorf("folded email of %q = %q, want %q", email, r.email, want)
		}
	}
}

func TestRecWordsAndKeysEqualPackageSearch(t *testing.T) {
	t.Parallel()
	f := &folder{c: &foldCache{}}
	for _, p := range [][3]string{
		{"Ana", "García-Márquez", "ana.garcia+hr@Example.COM"},
		{"Zoë", "O'Brien", "zoe@example.com"},
		{"Łukasz", "Żółć", "LUKASZ@example.com"},
		{"  Mary  Ann ", "van der Berg", " mary ann@example.com"},
		{"ǅemal", "ﬁnn", "x@y"},
		{"", "", ""},
		{"Ana", "Ana", "ana@ana"},
		{strings.Repeat("Ä", 300), strings.Repeat("b-", 40), strings.Repeat("c.", 200) + "@d"},
	} {
		checkRecDerivation(t, f, p[0], p[1], p[2])
	}
}

func FuzzRecWordsAndKeysEqualPackageSearch(f *testing.F) {
	f.Add("Ana", "García-Márquez", "ana.garcia+hr@Example.COM")
	f.Add("Zoë", "O'Brien", "zoe@example.com")
	f.Add("ǅemal", "ﬁnn", "A B@c")
	fc := &foldCache{}
	f.Fuzz(func(t *testing.T, first, last, email string) {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		checkRecDerivation(t, &folder{c: fc}, first, last, email)
	})
}
