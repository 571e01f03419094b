package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The hand-derived tables and the reference evaluator are written
// independently; they must agree.
func TestSearchTableAgreesWithReference(t *testing.T) {
	t.Parallel()
	ref := peopleDirectory("acme")
	if n := len(ref.Users); n != 200 {
		t.Errorf("fixture has %d people, want 200", n)
	}
	for _, c := range searchTable {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			q := c.q
			for {
				page, err := ref.Search(q)
				if err != nil {
					t.Fatalf("Reference.Search: %v", err)
				}
				got = append(got, userIDs(page.Users)...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if diff := cmp.Diff(c.want, got, cmpOpts); diff != "" {
				t.Errorf("(-table +reference):\n%s", diff)
			}
		})
	}
}

func TestFacetTableAgreesWithReference(t *testing.T) {
	t.Parallel()
	ref := peopleDirectory("acme")
	for _, c := range facetTable {
		t.Run(c.name, func(t *testing.T) {
			got, err := ref.Facets(c.q)
			if err != nil {
				t.Fatalf("Reference.Facets: %v", err)
			}
			if diff := cmp.Diff(c.want, got, cmpOpts); diff != "" {
				t.Errorf("(-table +reference):\n%s", diff)
			}
		})
	}
}
