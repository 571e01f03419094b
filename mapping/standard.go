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
	if s == "" {
		return ""
	}
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
