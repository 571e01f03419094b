// Package wordrows computes the rows of the SQL stores' word side tables
// for one person (pgstore's user_words, its migration 004; sqlitestore's
// dirsync_user_words, its migration 008), so that each store and the
// benchmark's raw load write the same rows.
package wordrows

import "strings"

// Cap bounds a row's lcp: a term longer than Cap bytes reads the rows of
// every lcp.
const Cap = 15

// prefixLen returns the bytes a and b have in common at their start, at
// most Cap.
func prefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && n < Cap && a[n] == b[n] {
		n++
	}
	return n
}

// Rows returns the rows of a person whose last-name sort key is kLast and
// whose words (search.Words) are words: each word with its lcp, the length
// (at most Cap) of the longest start it shares with the sort key or with
// one of the person's words that sorts before it. A term no longer than
// that which the word starts with is a prefix of the sort key, whose range
// finds the person, or of that smaller word, which has a row of its own
// for it (the least such word has one); so the row is read only for longer
// terms. Lead words, prefixes of the sort key, have no row. The rows
// depend on all of the person's words: a writer rewrites them all when one
// changes.
func Rows(kLast string, words []string) (ws []string, lcps []int16) {
	for _, w := range words {
		if strings.HasPrefix(kLast, w) {
			continue
		}
		n := prefixLen(w, kLast)
		for _, v := range words {
			if v < w {
				n = max(n, prefixLen(w, v))
			}
		}
		ws, lcps = append(ws, w), append(lcps, int16(n))
	}
	return ws, lcps
}
