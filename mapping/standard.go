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
// It normalises last, so that removing a character between two combining
// marks cannot leave a string that is not NFC (Clean is idempotent).
func cleanSlow(s string) string {
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
	return norm.NFC.String(b.String())
}

// isClean reports whether s is already what Clean would return (NFC, no
// white space but single inner spaces, no control characters), so the
// common case costs no allocation.
func isClean(s string) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if c < 0x20 || c == 0x7f || (c == ' ' && s[i+1] == ' ') {
			return false
		}
	}
	if ascii {
		return true
	}
	prevSpace := false
	for _, r := range s {
		space := r == ' '
		switch {
		case space && prevSpace:
			return false
		case !space && unicode.IsSpace(r), unicode.IsControl(r), r == '\uFFFD':
			return false
		}
		prevSpace = space
	}
	return norm.NFC.IsNormalString(s)
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
