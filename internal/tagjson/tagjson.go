// Package tagjson reads the tags column both SQL stores keep: the JSON that
// encoding/json writes for a user's []mapping.Tag. Decoding it is on every
// search's path (once per user of the page), where json.Unmarshal was the
// largest part of what the stores allocated; Decode reads the common form
// by scanning its quoted strings and leaves anything else to encoding/json.
package tagjson

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/directorysync/directorysync/mapping"
)

// Decode returns the tags of s, the JSON of a []mapping.Tag, exactly as
// json.Unmarshal reads it (an error where it fails). A plain s holds no
// escapes, and as encoding/json writes it is
// [{"field":F,"value":V},…]: that form is read by scanning the quoted
// strings and confirmed by writing it again; anything else goes through
// encoding/json.
func Decode(s string) ([]mapping.Tag, error) {
	if plain(s) {
		if out, ok := scan(s); ok {
			return out, nil
		}
	}
	var out []mapping.Tag
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// plain reports whether s has no backslash (so no escapes), no control
// character (which JSON strings must escape) and is valid UTF-8 (which
// encoding/json would otherwise replace).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}

// scan reads s as [{"field":F,"value":V},…] with no escapes, reporting
// whether it is exactly that.
func scan(s string) ([]mapping.Tag, bool) {
	n := strings.Count(s, `"`)
	if n == 0 || n%8 != 0 {
		return nil, false
	}
	out := make([]mapping.Tag, 0, n/8)
	rest := s
	var strs [4]string
	k := 0
	for {
		i := strings.IndexByte(rest, '"')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+1:], '"')
		if j < 0 {
			return nil, false
		}
		strs[k] = rest[i+1 : i+1+j]
		rest = rest[i+j+2:]
		if k++; k == 4 {
			if strs[0] != "field" || strs[2] != "value" {
				return nil, false
			}
			out = append(out, mapping.Tag{Field: strs[1], Value: strs[3]})
			k = 0
		}
	}
	if k != 0 || len(out) == 0 || !writtenAs(s, out) {
		return nil, false
	}
	return out, true
}

// writtenAs reports whether s is what encoding/json writes for tags whose
// fields and values need no escapes.
func writtenAs(s string, tags []mapping.Tag) bool {
	rest, ok := strings.CutPrefix(s, "[")
	if !ok {
		return false
	}
	for i, t := range tags {
		if i > 0 {
			rest, ok = strings.CutPrefix(rest, ",")
			if !ok {
				return false
			}
		}
		for _, part := range [...]string{`{"field":"`, t.Field, `","value":"`, t.Value, `"}`} {
			if rest, ok = strings.CutPrefix(rest, part); !ok {
				return false
			}
		}
	}
	return rest == "]"
}
