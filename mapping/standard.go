package mapping

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Clean is the normalisation every mapped string goes through: Unicode NFC,
// ends trimmed, inner runs of white space collapsed to one space, control
// characters removed. An empty result means unset.
func Clean(s string) string {
	if s == "" || isClean(s) {
		return s
	}
	return cleanSlow(s)
}

// cleanSlow is Clean without the fast path for already-clean strings.
func cleanSlow(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == '\uFFFD':
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isClean reports whether s is printable ASCII without leading, trailing or
// doubled spaces — already what Clean would return — so the common case
// costs no allocation.
func isClean(s string) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || (c == ' ' && s[i+1] == ' ') {
			return false
		}
	}
	return true
}

// standard maps only the provider's standard fields.
type standard struct{}

// Standard returns the Mapper used when an org configures no mapping: first
// and last name, email (lower-cased) and job title from the record's standard
// fields; no department, division, office or tags.
func Standard() Mapper { return standard{} }

func (standard) Version() string { return "standard-v1" }

func (standard) Map(rec *Record) (Profile, error) {
	return Profile{
		FirstName: Clean(rec.FirstName),
		LastName:  Clean(rec.LastName),
		Email:     strings.ToLower(Clean(rec.Email)),
		Title:     Clean(rec.JobTitle),
	}, nil
}
