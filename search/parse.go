package search

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// URL parameter and search-box field names.
const (
	paramText       = "q"
	paramDepartment = "department"
	paramDivision   = "division"
	paramOffice     = "office"
	paramTag        = "tag"
	paramGroup      = "group"
	paramStatus     = "status"
	paramSort       = "sort"
	paramLimit      = "limit"
	paramCursor     = "cursor"
)

// filterFields lists the repeatable filter fields in their canonical order.
var filterFields = []string{paramDepartment, paramDivision, paramOffice, paramTag, paramGroup}

// filter returns a pointer to q's values of a filter field.
func (q *Query) filter(field string) *[]string {
	switch field {
	case paramDepartment:
		return &q.Departments
	case paramDivision:
		return &q.Divisions
	case paramOffice:
		return &q.Offices
	case paramTag:
		return &q.Tags
	case paramGroup:
		return &q.Groups
	}
	return nil
}

// ParseValues parses URL query parameters into a normalized Query. It
// accepts q, status, sort, limit and cursor once each, and department,
// division, office, tag and group any number of times (up to MaxValues).
// An empty or all-white-space value means "not given", as an HTML form
// sends it. Text is whitespace-collapsed; status and sort are
// case-insensitive.
//
// Every problem is an *Error naming the parameter: an unknown parameter, a
// single-valued parameter given twice, a limit that is not a whole number in
// 1..MaxLimit, a value longer than MaxValueBytes, more than MaxValues values,
// or parameters totalling more than MaxQueryBytes (field "query").
func ParseValues(v url.Values) (Query, error) {
	keys := make([]string, 0, len(v))
	size := 0
	for k, vals := range v {
		keys = append(keys, k)
		for _, s := range vals {
			size += len(k) + len(s) + 2
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" {
			return Query{}, &Error{Field: `""`, Message: "a parameter has an empty name"}
		}
		if !isParam(k) {
			return Query{}, &Error{Field: printable(k), Message: "unknown parameter; the parameters are q, department, division, office, tag, group, status, sort, limit and cursor"}
		}
	}
	if size > MaxQueryBytes {
		return Query{}, &Error{Field: "query", Message: fmt.Sprintf("parameters total %d bytes; the limit is %d", size, MaxQueryBytes)}
	}
	var q Query
	for _, k := range keys {
		vals := v[k]
		if f := q.filter(k); f != nil {
			if len(vals) > MaxValues {
				return Query{}, tooMany(k, 0)
			}
			for _, s := range vals {
				if len(s) > MaxValueBytes {
					return Query{}, tooLong(k, len(s), 0)
				}
				if strings.TrimSpace(s) != "" {
					*f = append(*f, s)
				}
			}
			continue
		}
		if len(vals) > 1 {
			return Query{}, &Error{Field: k, Message: fmt.Sprintf("given %d times; it takes one value", len(vals))}
		}
		if len(vals) == 0 || vals[0] == "" {
			continue
		}
		if err := q.setSingle(k, vals[0], 0); err != nil {
			return Query{}, err
		}
	}
	return q.Normalize()
}

func isParam(k string) bool {
	switch k {
	case paramText, paramDepartment, paramDivision, paramOffice, paramTag, paramGroup, paramStatus, paramSort, paramLimit, paramCursor:
		return true
	}
	return false
}

// setSingle sets a single-valued field from its raw value; pos is the
// value's 1-based position in a search box, or 0.
func (q *Query) setSingle(field, s string, pos int) error {
	if len(s) > MaxValueBytes && field != paramCursor {
		return tooLong(field, len(s), pos)
	}
	switch field {
	case paramText:
		q.Text = collapse(s)
	case paramStatus:
		q.Status = Status(strings.ToLower(strings.TrimSpace(s)))
		switch q.Status {
		case StatusActive, StatusInactive, StatusAll:
		default:
			return &Error{Field: field, Pos: pos, Message: fmt.Sprintf("%q is not one of active, inactive, all", printable(s))}
		}
	case paramSort:
		q.Sort = Sort(strings.ToLower(strings.TrimSpace(s)))
		switch q.Sort {
		case SortLastName, SortFirstName, SortEmail, SortID:
		default:
			return &Error{Field: field, Pos: pos, Message: fmt.Sprintf("%q is not one of last_name, first_name, email, id", printable(s))}
		}
	case paramLimit:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > MaxLimit {
			return &Error{Field: field, Pos: pos, Message: fmt.Sprintf("%q is not a whole number from 1 to %d", printable(s), MaxLimit)}
		}
		q.Limit = n
	case paramCursor:
		if len(s) > MaxCursorBytes {
			return &Error{Field: field, Pos: pos, Message: "cursor is too long"}
		}
		q.Cursor = s
	}
	return nil
}

func tooMany(field string, pos int) error {
	return &Error{Field: field, Pos: pos, Message: fmt.Sprintf("more than %d values", MaxValues)}
}

func tooLong(field string, n, pos int) error {
	return &Error{Field: field, Pos: pos, Message: fmt.Sprintf("a value is %d bytes; the limit is %d", n, MaxValueBytes)}
}

// collapse trims s and collapses its runs of white space to one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// printable shortens s and makes it safe to quote in an error message.
func printable(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Values returns q as URL parameters that ParseValues turns back into q
// (for a q that ParseValues or ParseBox returned). Fields at their default
// (status active, sort last_name, limit 50) and empty fields are left out.
func (q Query) Values() url.Values {
	v := url.Values{}
	for _, f := range filterFields {
		if vals := *q.filter(f); len(vals) > 0 {
			v[f] = slices.Clone(vals)
		}
	}
	if q.Text != "" {
		v.Set(paramText, q.Text)
	}
	if q.Status != "" && q.Status != StatusActive {
		v.Set(paramStatus, string(q.Status))
	}
	if q.Sort != "" && q.Sort != SortLastName {
		v.Set(paramSort, string(q.Sort))
	}
	if q.Limit != 0 && q.Limit != DefaultLimit {
		v.Set(paramLimit, strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set(paramCursor, q.Cursor)
	}
	return v
}

// boxFields maps the field names the search box accepts (lower-cased) to
// the parameter they set. "dept" is an alias of "department".
var boxFields = map[string]string{
	paramDepartment: paramDepartment,
	"dept":          paramDepartment,
	paramDivision:   paramDivision,
	paramOffice:     paramOffice,
	paramTag:        paramTag,
	paramGroup:      paramGroup,
	paramStatus:     paramStatus,
	paramSort:       paramSort,
	paramLimit:      paramLimit,
}

// ParseBox parses the search-box syntax into a normalized Query:
//
//	department:"Customer Success" tag:nyc status:all ali
//
// The string is a list of tokens separated by white space. A token that
// starts with a field name and a colon sets that field: department (alias
// dept), division, office, tag, group (each repeatable), status, sort and
// limit (each at most once); field names are case-insensitive. Every other
// token is text; the text terms are joined by single spaces into Query.Text.
//
// Double quotes group characters, white space included; inside them a
// backslash escapes the next character (\" and \\). Quotes may close and
// reopen within a token, as in a shell: tag:"new york" and tag:new" york"
// are the same tag value. A field name must be unquoted, so "tag:nyc" is
// text; a backslash outside quotes is an ordinary character; a token that
// does not start with a letter, such as 10:30, is text.
//
// Every problem is an *Error with the field and the 1-based byte position in
// s: an unknown field name (write it in quotes to search for it as text), a
// field without a value or with an empty one, an unterminated quote, a
// repeated single-valued field, a bad status, sort or limit, a value or text
// longer than MaxValueBytes, more than MaxValues values of a field, or s longer than
// MaxQueryBytes (field "query").
func ParseBox(s string) (Query, error) {
	if len(s) > MaxQueryBytes {
		return Query{}, &Error{Field: "query", Message: fmt.Sprintf("search is %d bytes; the limit is %d", len(s), MaxQueryBytes)}
	}
	var q Query
	var text []string
	seen := map[string]bool{}
	p := boxParser{s: s}
	for {
		tok, ok, err := p.next()
		if err != nil {
			return Query{}, err
		}
		if !ok {
			break
		}
		if !tok.field {
			text = append(text, tok.value)
			continue
		}
		param, known := boxFields[strings.ToLower(tok.name)]
		if !known {
			return Query{}, &Error{Field: printable(tok.name), Pos: tok.pos, Message: "unknown field; the fields are department (or dept), division, office, tag, group, status, sort and limit; quote the word to search for it as text"}
		}
		if !tok.hasValue {
			return Query{}, &Error{Field: param, Pos: tok.valuePos, Message: "no value after the colon"}
		}
		if f := q.filter(param); f != nil {
			if strings.TrimSpace(tok.value) == "" {
				return Query{}, &Error{Field: param, Pos: tok.valuePos, Message: "empty value"}
			}
			if len(tok.value) > MaxValueBytes {
				return Query{}, tooLong(param, len(tok.value), tok.valuePos)
			}
			if len(*f) == MaxValues {
				return Query{}, tooMany(param, tok.pos)
			}
			*f = append(*f, tok.value)
			continue
		}
		if seen[param] {
			return Query{}, &Error{Field: param, Pos: tok.pos, Message: "given twice; it takes one value"}
		}
		seen[param] = true
		if err := q.setSingle(param, tok.value, tok.valuePos); err != nil {
			return Query{}, err
		}
	}
	q.Text = collapse(strings.Join(text, " "))
	if len(q.Text) > MaxValueBytes {
		return Query{}, &Error{Field: paramText, Message: fmt.Sprintf("text is %d bytes; the limit is %d", len(q.Text), MaxValueBytes)}
	}
	return q.Normalize()
}

// boxToken is one token of a search-box string.
type boxToken struct {
	field    bool   // name:value
	name     string // the field name, when field
	hasValue bool   // something (perhaps "") follows the colon
	value    string // the value, or the text
	pos      int    // 1-based byte position of the token
	valuePos int    // 1-based byte position of the value
}

type boxParser struct {
	s string
	i int
}

// next returns the next token, or ok == false at the end.
func (p *boxParser) next() (tok boxToken, ok bool, err error) {
	s := p.s
	for p.i < len(s) {
		r, w := utf8.DecodeRuneInString(s[p.i:])
		if !unicode.IsSpace(r) {
			break
		}
		p.i += w
	}
	if p.i >= len(s) {
		return boxToken{}, false, nil
	}
	tok.pos = p.i + 1
	if n := fieldNameLen(s[p.i:]); n > 0 {
		tok.field = true
		tok.name = s[p.i : p.i+n]
		p.i += n + 1 // the name and the colon
	}
	tok.valuePos = p.i + 1
	var b strings.Builder
	for p.i < len(s) {
		c := s[p.i]
		if c == '"' {
			tok.hasValue = true
			open := p.i
			p.i++
			closed := false
			for p.i < len(s) {
				c := s[p.i]
				if c == '\\' && p.i+1 < len(s) {
					b.WriteByte(s[p.i+1])
					p.i += 2
					continue
				}
				if c == '\\' {
					break
				}
				p.i++
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				field := paramText
				if tok.field {
					field = printable(tok.name)
				}
				return boxToken{}, false, &Error{Field: field, Pos: open + 1, Message: "unterminated quote"}
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(s[p.i:])
		if unicode.IsSpace(r) {
			break
		}
		tok.hasValue = true
		b.WriteString(s[p.i : p.i+w])
		p.i += w
	}
	tok.value = b.String()
	return tok, true, nil
}

// fieldNameLen returns the length of the field name at the start of s when
// s starts with one followed by a colon ([A-Za-z][A-Za-z0-9_]*:), or 0.
func fieldNameLen(s string) int {
	if s == "" || !isASCIILetter(s[0]) {
		return 0
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			return i
		case isASCIILetter(c), c >= '0' && c <= '9', c == '_':
		default:
			return 0
		}
	}
	return 0
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// FormatBox returns q in the search-box syntax, which ParseBox turns back
// into q (for a q that ParseBox or ParseValues returned, without its
// cursor, which the box does not carry). Filters come first in the order
// department, division, office, tag, group; then status, sort and limit when
// not at their defaults; then the text. Values and text words are quoted
// when they hold white space, quotes, backslashes or colons, or are empty.
func FormatBox(q Query) string {
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
	}
	for _, f := range filterFields {
		for _, v := range *q.filter(f) {
			sep()
			b.WriteString(f)
			b.WriteByte(':')
			writeBoxValue(&b, v, false)
		}
	}
	if q.Status != "" && q.Status != StatusActive {
		sep()
		b.WriteString("status:")
		writeBoxValue(&b, string(q.Status), false)
	}
	if q.Sort != "" && q.Sort != SortLastName {
		sep()
		b.WriteString("sort:")
		writeBoxValue(&b, string(q.Sort), false)
	}
	if q.Limit != 0 && q.Limit != DefaultLimit {
		sep()
		b.WriteString("limit:")
		b.WriteString(strconv.Itoa(q.Limit))
	}
	for _, w := range strings.Fields(q.Text) {
		sep()
		writeBoxValue(&b, w, true)
	}
	return b.String()
}

// String returns FormatBox(q).
func (q Query) String() string { return FormatBox(q) }

// writeBoxValue writes v, quoted when ParseBox would not read it back
// bare. A text word is also quoted when it would read as a field.
func writeBoxValue(b *strings.Builder, v string, text bool) {
	quote := v == "" || text && fieldNameLen(v) > 0
	if !quote {
		for _, r := range v {
			if r == '"' || r == '\\' || r == ':' || unicode.IsSpace(r) {
				quote = true
				break
			}
		}
	}
	if !quote {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}
