package search

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Status selects people by whether they are active.
type Status string

// The statuses a Query accepts.
const (
	StatusActive   Status = "active"   // only active people (the default)
	StatusInactive Status = "inactive" // only deactivated people
	StatusAll      Status = "all"      // everyone
)

// Sort names the order of results. Every order ends with the user ID, so it
// is total and keyset pagination is exact.
type Sort string

// The sort orders a Query accepts.
const (
	SortLastName  Sort = "last_name"  // last name, then first name, then ID (the default)
	SortFirstName Sort = "first_name" // first name, then last name, then ID
	SortEmail     Sort = "email"      // email, then ID
	SortID        Sort = "id"         // ID
)

// Bounds on a query from outside.
const (
	DefaultLimit   = 50   // results per page when Limit is 0
	MaxLimit       = 1000 // the largest Limit accepted
	MaxValues      = 100  // values per filter field
	MaxValueBytes  = 1024 // bytes in one filter value or in Text
	MaxQueryBytes  = 8192 // bytes in a whole search-box string or URL query
	MaxCursorBytes = 2048 // bytes in an encoded cursor
)

// Query is one Power Search request. The zero value (after Normalize) finds
// every active person, sorted by last name, 50 at a time.
//
// Values within one field are OR-ed and fields are AND-ed. Values match after
// Fold, exactly. Text is split into terms; each must match the person (see
// MatchTerm).
type Query struct {
	// Departments are department values, any of which matches; at most
	// MaxValues of at most MaxValueBytes each. Values that fold to nothing
	// are ignored; no values means no filter.
	Departments []string `json:"department,omitempty"`
	// Divisions are division values, any of which matches, bounded like
	// Departments.
	Divisions []string `json:"division,omitempty"`
	// Offices are office values, any of which matches, bounded like
	// Departments.
	Offices []string `json:"office,omitempty"`
	Tags    []string `json:"tag,omitempty"`   // a value of any tag field
	Groups  []string `json:"group,omitempty"` // a group's name or ID
	// Text is the search box: whitespace-separated terms, each of which must
	// match the person's name or email words (see MatchTerm); at most
	// MaxValueBytes. Empty matches everyone.
	Text string `json:"q,omitempty"`
	// Status selects active, inactive or all people; Normalize sets the
	// default, StatusActive.
	Status Status `json:"status,omitempty"`
	// Sort is the result order; Normalize sets the default, SortLastName.
	// Ties break on ID.
	Sort Sort `json:"sort,omitempty"`
	// Limit is the page size, 1 to MaxLimit; 0 means DefaultLimit.
	Limit int `json:"limit,omitempty"`
	// Cursor continues a previous page; it must come from a page of the same
	// query in the same org.
	Cursor string `json:"cursor,omitempty"`
}

// Error is a validation error that names the field (or search-box position)
// that was wrong. HTTP layers answer it with 400.
type Error struct {
	Field   string // the parameter or field, e.g. "limit", "department", "cursor"
	Pos     int    // 1-based byte position in a search-box string, or 0
	Message string // what was wrong
}

// Error names the field, the position when there is one, and the problem.
func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("search: %s at position %d: %s", e.Field, e.Pos, e.Message)
	}
	return fmt.Sprintf("search: %s: %s", e.Field, e.Message)
}

// ErrInvalid is matched by every *Error through errors.Is.
var ErrInvalid = errors.New("invalid search query")

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Normalize fills defaults (status active, sort last_name, limit 50) and
// validates q, returning the first problem found as an *Error.
func (q Query) Normalize() (Query, error) {
	if q.Status == "" {
		q.Status = StatusActive
	}
	if q.Sort == "" {
		q.Sort = SortLastName
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	switch q.Status {
	case StatusActive, StatusInactive, StatusAll:
	default:
		return q, &Error{Field: "status", Message: fmt.Sprintf("%q is not one of active, inactive, all", q.Status)}
	}
	switch q.Sort {
	case SortLastName, SortFirstName, SortEmail, SortID:
	default:
		return q, &Error{Field: "sort", Message: fmt.Sprintf("%q is not one of last_name, first_name, email, id", q.Sort)}
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return q, &Error{Field: "limit", Message: fmt.Sprintf("%d is outside 1..%d", q.Limit, MaxLimit)}
	}
	if len(q.Text) > MaxValueBytes {
		return q, &Error{Field: "q", Message: fmt.Sprintf("text is %d bytes; the limit is %d", len(q.Text), MaxValueBytes)}
	}
	if len(q.Cursor) > MaxCursorBytes {
		return q, &Error{Field: "cursor", Message: "cursor is too long"}
	}
	for _, f := range []struct {
		name string
		vals []string
	}{{"department", q.Departments}, {"division", q.Divisions}, {"office", q.Offices}, {"tag", q.Tags}, {"group", q.Groups}} {
		if len(f.vals) > MaxValues {
			return q, &Error{Field: f.name, Message: fmt.Sprintf("%d values; the limit is %d", len(f.vals), MaxValues)}
		}
		for _, v := range f.vals {
			if len(v) > MaxValueBytes {
				return q, &Error{Field: f.name, Message: fmt.Sprintf("a value is %d bytes; the limit is %d", len(v), MaxValueBytes)}
			}
		}
	}
	return q, nil
}

// FoldedValues returns the folded, deduplicated, sorted non-empty values of a
// filter field, as stores compare them.
func FoldedValues(vals []string) []string {
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if f := Fold(v); f != "" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MaxSortKeyPart bounds each folded name or address in a sort key, so that
// a cursor always fits in MaxCursorBytes. People whose folded names share
// their first MaxSortKeyPart bytes sort by the next key part, then by ID.
const MaxSortKeyPart = 256

// SortKey returns the folded key a person sorts by under s, without the ID
// tie-break: for last_name the folded last name, "\x01" and the folded
// first name; for first_name the reverse; for email the folded address; for
// id the empty string. Each part is cut to at most MaxSortKeyPart bytes at
// a character boundary. Stores keep it (or compute it identically) and
// compare keys bytewise, then IDs bytewise.
func SortKey(s Sort, firstName, lastName, email string) string {
	switch s {
	case SortFirstName:
		return keyPart(firstName) + "\x01" + keyPart(lastName)
	case SortEmail:
		return keyPart(email)
	case SortID:
		return ""
	default:
		return keyPart(lastName) + "\x01" + keyPart(firstName)
	}
}

// keyPart folds s and cuts it to MaxSortKeyPart bytes without splitting a
// character.
func keyPart(s string) string {
	f := Fold(s)
	if len(f) <= MaxSortKeyPart {
		return f
	}
	n := MaxSortKeyPart
	for n > 0 && !utf8.RuneStart(f[n]) {
		n--
	}
	return f[:n]
}

// Position is a place in a sorted result list: the sort key and ID of the
// last result of a page. A page continued from Position p starts with the
// first result whose (Key, ID) is bytewise greater than (p.Key, p.ID).
type Position struct {
	// Key is the result's SortKey under the query's sort.
	Key string `json:"k"`
	// ID is the result's user ID, the tie-break.
	ID string `json:"i"`
}

// After reports whether (key, id) sorts strictly after p.
func (p Position) After(key, id string) bool {
	if key != p.Key {
		return key > p.Key
	}
	return id > p.ID
}

// fingerprint identifies the query a cursor belongs to: org, filters, text,
// status and sort (with their defaults filled in), but not limit or cursor,
// so a page size may change while paging. Filters that fold alike and text
// with the same terms give the same fingerprint: they find the same people.
func fingerprint(org string, q Query) []byte {
	q.Limit, q.Cursor = 0, ""
	if q.Status == "" {
		q.Status = StatusActive
	}
	if q.Sort == "" {
		q.Sort = SortLastName
	}
	q.Departments = FoldedValues(q.Departments)
	q.Divisions = FoldedValues(q.Divisions)
	q.Offices = FoldedValues(q.Offices)
	q.Tags = FoldedValues(q.Tags)
	q.Groups = FoldedValues(q.Groups)
	q.Text = strings.Join(Terms(q.Text), " ")
	b, _ := json.Marshal(q)
	h := sha256.New()
	h.Write([]byte("dirsync-cursor-v1\x00"))
	h.Write([]byte(org))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)
}

const cursorMACLen = 12

// EncodeCursor returns the opaque cursor for the page after p in org's query
// q. It is tamper-evident and tied to the query: DecodeCursor rejects it for
// another org, other filters, text, status or sort, or after any alteration.
// It is not secret: its check is a hash, not a keyed MAC, so it guards
// against mistakes, not against a client forging a position inside its own
// query (which can reveal nothing the query does not already return). A
// cursor fits MaxCursorBytes when p.Key comes from SortKey and p.ID is
// shorter than 900 bytes.
//
// The format is base64url (unpadded) of: version byte 1, the payload length
// (uvarint), the payload — the key length (uvarint), the key, the ID — and
// the first 12 bytes of SHA-256 of the query's fingerprint and all that
// precedes them.
func EncodeCursor(org string, q Query, p Position) string {
	payload := make([]byte, 0, binary.MaxVarintLen64+len(p.Key)+len(p.ID))
	payload = binary.AppendUvarint(payload, uint64(len(p.Key)))
	payload = append(payload, p.Key...)
	payload = append(payload, p.ID...)
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload)+cursorMACLen)
	buf = append(buf, 1) // version
	buf = binary.AppendUvarint(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	buf = append(buf, cursorMAC(org, q, buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// cursorMAC checks a cursor's bytes before the check itself.
func cursorMAC(org string, q Query, body []byte) []byte {
	h := sha256.New()
	h.Write(fingerprint(org, q))
	h.Write(body)
	return h.Sum(nil)[:cursorMACLen]
}

// DecodeCursor returns the Position in q.Cursor, or ok == false when q has no
// cursor. A cursor that is malformed, altered, or from another org or query
// is an *Error for field "cursor".
func DecodeCursor(org string, q Query) (p Position, ok bool, err error) {
	if q.Cursor == "" {
		return Position{}, false, nil
	}
	bad := func(msg string) (Position, bool, error) {
		return Position{}, false, &Error{Field: "cursor", Message: msg}
	}
	const foreign = "not a cursor issued by this server"
	if len(q.Cursor) > MaxCursorBytes {
		return bad("cursor is too long")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(q.Cursor)
	if err != nil {
		return bad(foreign)
	}
	if len(raw) < 2 || raw[0] != 1 {
		return bad(foreign)
	}
	n, w := binary.Uvarint(raw[1:])
	if w <= 0 || n > uint64(len(raw)) || 1+w+int(n)+cursorMACLen != len(raw) {
		return bad(foreign)
	}
	payload := raw[1+w : 1+w+int(n)]
	mac := raw[1+w+int(n):]
	if subtle.ConstantTimeCompare(mac, cursorMAC(org, q, raw[:1+w+int(n)])) != 1 {
		return bad("cursor belongs to another query or was altered")
	}
	k, kw := binary.Uvarint(payload)
	if kw <= 0 || k > uint64(len(payload)-kw) {
		return bad(foreign)
	}
	return Position{Key: string(payload[kw : kw+int(k)]), ID: string(payload[kw+int(k):])}, true, nil
}
