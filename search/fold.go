package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// folder is safe for concurrent use: cases.Caser is not, so Fold builds a
// fresh one per call through foldCaser.
func foldCaser() cases.Caser { return cases.Fold() }

// Fold returns the comparison form of s that every store and the reference
// evaluator use: Unicode case folding, compatibility decomposition (NFKD) with
// combining marks removed, control characters dropped, and runs of white space
// collapsed to one ASCII space with the ends trimmed. Stores keep folded copies
// of filterable values, name and email words and sort keys, and compare them
// bytewise; they never fold in the database.
//
// Fold is idempotent: Fold(Fold(s)) == Fold(s).
func Fold(s string) string {
	if isFoldedASCII(s) {
		return s
	}
	return foldSlow(s)
}

// foldSlow is Fold without the fast path for folded ASCII.
func foldSlow(s string) string {
	out, _ := foldPasses(s)
	return out
}

// foldPasses is foldSlow, also returning how many passes it took.
func foldPasses(s string) (out string, passes int) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	c := foldCaser()
	for passes < maxFoldPasses {
		passes++
		out = clean(norm.NFKD.String(caseFold(c, s)))
		// Folding after decomposition can expose new upper-case forms in
		// rare compatibility characters; another pass makes Fold
		// idempotent.
		next := norm.NFKD.String(caseFold(c, out))
		if next == out {
			break
		}
		s = next
	}
	return out, passes
}

// maxFoldPasses bounds foldSlow's passes. One or two are all any code point
// needs (TestFoldEveryCodePoint); the bound keeps a caser that undoes its
// own output from looping, as golang.org/x/text's did on Cherokee, folding
// each case of a letter to the other: Fold recursed until the stack
// overflowed, which no recover catches, on any text holding one.
const maxFoldPasses = 4

// caseFold is c.String(s), the Unicode case folding, with Cherokee folded
// to its capital letters as Unicode's CaseFolding.txt says (U+AB70..U+ABBF
// to U+13A0..U+13EF, U+13F8..U+13FD to U+13F0..U+13F5). cases.Fold maps
// each case to the other, which folding again undoes.
func caseFold(c cases.Caser, s string) string {
	// strings.Map returns s itself when no rune changes.
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xAB70 && r <= 0xABBF:
			return r - 0xAB70 + 0x13A0
		case r >= 0x13F8 && r <= 0x13FD:
			return r - 0x13F8 + 0x13F0
		}
		return r
	}, c.String(s))
}

// clean drops combining marks, control and format characters, collapses
// runs of white space to one ASCII space and trims the ends.
func clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r):
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

// isFoldedASCII reports whether s is already in folded form and pure ASCII,
// the common case, which Fold returns without allocating.
func isFoldedASCII(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf, c >= 'A' && c <= 'Z', c < 0x20, c == 0x7f:
			return false
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	return len(s) == 0 || s[len(s)-1] != ' '
}

// nameSeparators split a person's name into words.
func isNameSep(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '\'' || r == '.' || r == '’'
}

// emailSeparators split an email address into words.
func isEmailSep(r rune) bool {
	return r == '@' || r == '.' || r == '_' || r == '-' || r == '+' || unicode.IsSpace(r)
}

// termSeparators split a search term into the parts that must each prefix a word.
func isTermSep(r rune) bool {
	return r == '-' || r == '\'' || r == '.' || r == '_' || r == '+' || r == '@' || r == '’'
}

// Words returns the folded words a text search term can match for a person:
// the words of the first and last name (split at white space, hyphens,
// apostrophes and dots), the words of the email address (split at '@', '.',
// '_', '-' and '+'), and the whole folded email address. Duplicates are removed; the order is
// stable. Every store indexes exactly these words.
func Words(firstName, lastName, email string) []string {
	var out []string
	seen := make(map[string]struct{}, 8)
	add := func(w string) {
		if w == "" {
			return
		}
		if _, ok := seen[w]; ok {
			return
		}
		seen[w] = struct{}{}
		out = append(out, w)
	}
	for _, n := range [...]string{firstName, lastName} {
		for _, w := range strings.FieldsFunc(Fold(n), isNameSep) {
			add(w)
		}
	}
	fe := Fold(email)
	for _, w := range strings.FieldsFunc(fe, isEmailSep) {
		add(w)
	}
	add(strings.ReplaceAll(fe, " ", ""))
	return out
}

// Terms splits free text into folded search terms at white space. Empty
// input yields no terms.
func Terms(text string) []string {
	return strings.Fields(Fold(text))
}

// TermParts splits one folded term at hyphens, apostrophes (' and ’), dots,
// '_', '+' and '@'. A term matches a person when it is a prefix of one of the person's Words, or when
// every one of its parts is.
func TermParts(term string) []string {
	return strings.FieldsFunc(term, isTermSep)
}

// MatchTerm reports whether the folded term matches a person whose folded
// words are words, by the rule of TermParts.
func MatchTerm(term string, words []string) bool {
	if hasPrefix(words, term) {
		return true
	}
	parts := TermParts(term)
	if len(parts) == 0 || (len(parts) == 1 && parts[0] == term) {
		return false
	}
	for _, p := range parts {
		if !hasPrefix(words, p) {
			return false
		}
	}
	return true
}

func hasPrefix(words []string, p string) bool {
	for _, w := range words {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}
