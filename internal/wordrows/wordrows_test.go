package wordrows

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRows(t *testing.T) {
	// Olivia Smith, olivia.smith10@example.com: "smith" is a lead word,
	// "smith10" shares "smith" with the key, the address shares "olivia"
	// with the smaller first name.
	ws, lcps := Rows("smith\x01olivia", []string{"olivia", "smith", "smith10", "example", "com", "olivia.smith10@example.com"})
	got := map[string]int16{}
	for i, w := range ws {
		got[w] = lcps[i]
	}
	want := map[string]int16{"olivia": 0, "smith10": 5, "example": 0, "com": 0, "olivia.smith10@example.com": 6}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rows (-want +got):\n%s", diff)
	}
}

// TestEveryMatchIsFound checks the rule search relies on: for any term a
// person's word starts with, either the sort key starts with it or one of
// the person's rows for a word starting with it has an lcp below its
// length (or the term is longer than Cap).
func TestEveryMatchIsFound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "é", "ab", "ba", "."}
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		kLast := word() + "\x01" + word()
		seen := map[string]bool{}
		var words []string
		for range 1 + r.IntN(5) {
			if w := word(); !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
		ws, lcps := Rows(kLast, words)
		for _, w := range words {
			for n := 1; n <= len(w); n++ {
				p := w[:n]
				if strings.HasPrefix(kLast, p) {
					continue
				}
				found := false
				for i, x := range ws {
					if strings.HasPrefix(x, p) && (int(lcps[i]) < len(p) || len(p) > Cap) {
						found = true
					}
				}
				if !found {
					t.Fatalf("key %q, words %q: term %q finds no row (rows %q, lcps %v)", kLast, words, p, ws, lcps)
				}
			}
		}
	}
}
