package memstore

import (
	"sync"

	"github.com/directorysync/directorysync/search"
)

// Folding is most of the cost of indexing a user, and the values folded
// repeat: a directory has few departments, offices and tag values, and its
// first and last names repeat too. A foldCache remembers them.

// maxFoldCache bounds each map of a foldCache; a full map is emptied.
const maxFoldCache = 1 << 16

// maxFoldCached is the longest value a foldCache keeps.
const maxFoldCached = 128

// foldCache maps raw values to their folded forms. It is a cache of pure
// functions, so one serves every org.
type foldCache struct {
	mu    sync.Mutex
	vals  map[string]string   // raw → search.Fold
	names map[string]nameFold // raw name → its sort key part and words
}

// nameFold is what a first or last name contributes to a user's words and
// sort keys.
type nameFold struct {
	key   string   // the name's part of search.SortKey
	words []string // search.Words of the name alone; shared, never modified
}

// folder folds the values of one request through the cache, whose lock
// the holder of the folder holds.
type folder struct {
	c   *foldCache
	raw bool // faults.caseSensitive: filter values are not folded
}

// value returns the folded filter value (department, division, office,
// tag), or v itself under faults.caseSensitive.
func (f *folder) value(v string) string {
	if f.raw {
		return v
	}
	if len(v) > maxFoldCached {
		return search.Fold(v)
	}
	if folded, ok := f.c.vals[v]; ok {
		return folded
	}
	folded := search.Fold(v)
	if f.c.vals == nil || len(f.c.vals) >= maxFoldCache {
		f.c.vals = make(map[string]string)
	}
	f.c.vals[v] = folded
	return folded
}

// name returns what a first or last name contributes to a user's words and
// sort keys: by search.Words and search.SortKey, a user's words are the
// distinct words of the first name, the last name and the email address in
// that order, and each sort key joins the folded and cut names.
func (f *folder) name(v string) nameFold {
	if len(v) <= maxFoldCached {
		if nf, ok := f.c.names[v]; ok {
			return nf
		}
	}
	folded := search.Fold(v)
	nf := nameFold{
		// SortKey under email is the key part of its one input.
		key:   search.SortKey(search.SortEmail, "", "", folded),
		words: search.Words(folded, "", ""),
	}
	if len(v) <= maxFoldCached {
		if f.c.names == nil || len(f.c.names) >= maxFoldCache {
			f.c.names = make(map[string]nameFold)
		}
		f.c.names[v] = nf
	}
	return nf
}
