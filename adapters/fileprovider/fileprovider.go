// Package fileprovider is a dirsync.Provider over a directory export: a JSON
// array of objects, JSON lines, or CSV with a header row — an HRIS export a
// customer uploads, a demo directory, test data.
//
// Every column (CSV) or key (JSON) of a row goes into the record's Raw map
// under its own name; a per-org mapping turns it into a profile. The record's
// external ID comes from Config.IDField. Its state comes from Config.StateField
// when set ("active", "inactive" or "suspended"; anything else is an error),
// and is active otherwise — an HRIS feed that says "Terminated" is handled by
// the mapping's active expression. Config.GroupsField, when set, names a column
// whose values (separated by ';' in CSV, a list or a ';'-separated string in
// JSON) are the person's group names; groups are identified by name.
//
// # Safety
//
// A file with any bad row (wrong number of CSV fields, malformed JSON, a
// missing or duplicate ID, a field or file over its size bound) fails the
// whole listing with an error that names every bad line (up to 20), and a
// failed listing deactivates no one. Skipping bad rows instead would make the
// people in them look absent and deactivate them.
//
// CSV input may start with a UTF-8 byte order mark and use CRLF line ends;
// fields may be quoted (RFC 4180).
package fileprovider

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

// Format is the layout of a file.
type Format string

// The formats a Provider reads.
const (
	CSV       Format = "csv"
	JSON      Format = "json"  // one JSON array of objects
	JSONLines Format = "jsonl" // one JSON object per line
)

// Config configures a Provider.
type Config struct {
	// Path is the file to read on every listing. Either Path or Open is
	// required.
	Path string
	// Open, when set, returns the content instead of reading Path (an upload,
	// an embedded file).
	Open func() (io.ReadCloser, error)
	// Format of the content. Defaults to the extension of Path (.csv, .json,
	// .jsonl or .ndjson).
	Format Format
	// IDField is the column or key holding each row's stable ID. Defaults to
	// "id".
	IDField string
	// StateField, when set, is the column or key holding the state. Defaults
	// to none: every row is active unless the mapping says otherwise.
	StateField string
	// GroupsField, when set, is the column or key holding group names.
	GroupsField string
	// UpdatedAtField, when set, is the column or key holding an RFC 3339
	// last-modified time.
	UpdatedAtField string
	// SourceID names the source. Defaults to "file:" + the base name of Path
	// (or "file" with Open).
	SourceID string
	// PageSize is the number of records per page. Defaults to 500.
	PageSize int
	// MaxBytes bounds the file. Defaults to 256 MiB.
	MaxBytes int64
	// MaxRows bounds the number of rows. Defaults to 2,000,000.
	MaxRows int
	// MaxFieldBytes bounds one field's value. Defaults to 64 KiB.
	MaxFieldBytes int
}

func (c *Config) setDefaults() {
	if c.Format == "" && c.Path != "" {
		switch strings.ToLower(filepath.Ext(c.Path)) {
		case ".csv":
			c.Format = CSV
		case ".json":
			c.Format = JSON
		case ".jsonl", ".ndjson":
			c.Format = JSONLines
		}
	}
	if c.IDField == "" {
		c.IDField = "id"
	}
	if c.SourceID == "" {
		if c.Path != "" {
			c.SourceID = "file:" + filepath.Base(c.Path)
		} else {
			c.SourceID = "file"
		}
	}
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 20
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 2_000_000
	}
	if c.MaxFieldBytes <= 0 {
		c.MaxFieldBytes = 64 << 10
	}
}

func (c *Config) validate() error {
	if c.Path == "" && c.Open == nil {
		return errors.New("one of Path and Open is required")
	}
	switch c.Format {
	case CSV, JSON, JSONLines:
	case "":
		return fmt.Errorf("format is required: the extension of %q is not .csv, .json or .jsonl", c.Path)
	default:
		return fmt.Errorf("format %q is not one of csv, json, jsonl", c.Format)
	}
	return nil
}

// Provider reads one file. It is safe for concurrent use; each listing
// reads the file anew.
type Provider struct {
	cfg Config

	// members holds the group members of the listing the last Groups call
	// read, which GroupMembers answers from until membersTTL after its
	// last use (reading and parsing the whole file once per group made a
	// sync's membership phase quadratic: 2,000 groups of one person each
	// took 7.4 s for a 30 KB file). gen tells expire's function whether
	// members was replaced since it was set.
	mu      sync.Mutex
	members map[string][]string
	gen     int
	expire  *time.Timer
}

// membersTTL is how long the members of a Groups call's listing answer
// GroupMembers after their last use: a sync lists a source's groups and
// then each group's members.
const membersTTL = 10 * time.Minute

var _ dirsync.Provider = (*Provider)(nil)

// New returns a Provider for cfg.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("fileprovider: invalid config: %w", err)
	}
	return &Provider{cfg: cfg}, nil
}

// SourceID returns Config.SourceID.
func (p *Provider) SourceID() string { return p.cfg.SourceID }

// Status reports the source as linked: a file that can be read in full is
// a complete listing.
func (p *Provider) Status(ctx context.Context) (dirsync.SourceStatus, error) {
	return dirsync.SourceStatus{Linked: true, State: "file"}, nil
}

// Users reads the file and calls fn with pages of records. The whole file is
// parsed and checked before the first page, so a bad row fails the listing
// before anything is applied.
func (p *Provider) Users(ctx context.Context, fn func([]mapping.Record) error) error {
	rows, err := p.read(ctx)
	if err != nil {
		return err
	}
	for page := range slices.Chunk(rows.records, p.cfg.PageSize) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// Groups lists the distinct group names of Config.GroupsField, sorted; a
// group's external ID is its name.
func (p *Provider) Groups(ctx context.Context, fn func([]dirsync.ProviderGroup) error) error {
	if p.cfg.GroupsField == "" {
		return nil
	}
	rows, err := p.read(ctx)
	if err != nil {
		return err
	}
	p.keepMembers(rows.members)
	names := make([]string, 0, len(rows.members))
	for name := range rows.members {
		names = append(names, name)
	}
	slices.Sort(names)
	groups := make([]dirsync.ProviderGroup, len(names))
	for i, n := range names {
		groups[i] = dirsync.ProviderGroup{ExternalID: n, Name: n}
	}
	for page := range slices.Chunk(groups, p.cfg.PageSize) {
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// GroupMembers lists the IDs of the rows naming the group, in the listing
// the last Groups call read (until membersTTL after the last GroupMembers
// call; then in the file as it is now): a group and its members come from
// one version of the file.
func (p *Provider) GroupMembers(ctx context.Context, groupExternalID string, fn func([]string) error) error {
	if p.cfg.GroupsField == "" {
		return nil
	}
	members := p.keptMembers()
	if members == nil {
		rows, err := p.read(ctx)
		if err != nil {
			return err
		}
		members = rows.members
	}
	for page := range slices.Chunk(members[groupExternalID], p.cfg.PageSize) {
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// keepMembers makes members (of a listing's groups) what GroupMembers
// answers from, until membersTTL after their last use. Only the members are
// kept, not the listing's records.
func (p *Provider) keepMembers(members map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.members = members
	p.gen++
	gen := p.gen
	if p.expire != nil {
		p.expire.Stop()
	}
	p.expire = time.AfterFunc(membersTTL, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.gen == gen {
			p.members = nil
		}
	})
}

// keptMembers returns the members keepMembers kept, or nil, and restarts
// their time.
func (p *Provider) keptMembers() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.members != nil {
		p.expire.Reset(membersTTL)
	}
	return p.members
}

type parsed struct {
	records []mapping.Record
	members map[string][]string // group name → member IDs
}

func (p *Provider) read(ctx context.Context) (*parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rc io.ReadCloser
	var err error
	if p.cfg.Open != nil {
		rc, err = p.cfg.Open()
	} else {
		rc, err = os.Open(p.cfg.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("fileprovider: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, p.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fileprovider: reading %s: %w", p.name(), err)
	}
	if int64(len(data)) > p.cfg.MaxBytes {
		return nil, fmt.Errorf("fileprovider: %s is larger than %d bytes", p.name(), p.cfg.MaxBytes)
	}
	return parse(data, p.cfg)
}

func (p *Provider) name() string {
	if p.cfg.Path != "" {
		return p.cfg.Path
	}
	return p.cfg.SourceID
}

// LineError is a bad row, by its 1-based line number.
type LineError struct {
	// Line is the 1-based line number of the row.
	Line int
	// Msg says what is wrong with it.
	Msg string
}

// Error is "line N: message".
func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseError is a listing that failed on bad rows.
type ParseError struct {
	// Lines holds the first bad rows (up to 20).
	Lines []LineError
	// More counts further bad rows not listed.
	More int
}

// Error lists the bad rows.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("fileprovider: bad rows: ")
	for i, l := range e.Lines {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(l.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "; and %d more", e.More)
	}
	return b.String()
}

const maxLineErrors = 20

// rowSink collects rows and bad-row errors while parsing.
type rowSink struct {
	cfg  *Config
	out  parsed
	seen map[string]int // ID → line
	errs ParseError
}

func (s *rowSink) bad(line int, format string, args ...any) {
	if len(s.errs.Lines) < maxLineErrors {
		s.errs.Lines = append(s.errs.Lines, LineError{Line: line, Msg: fmt.Sprintf(format, args...)})
	} else {
		s.errs.More++
	}
}

func (s *rowSink) add(line int, row map[string]any) {
	if len(s.out.records) >= s.cfg.MaxRows {
		s.bad(line, "more than %d rows", s.cfg.MaxRows)
		return
	}
	for k, v := range row {
		if str, ok := v.(string); ok && len(str) > s.cfg.MaxFieldBytes {
			s.bad(line, "field %q is %d bytes; the limit is %d", k, len(str), s.cfg.MaxFieldBytes)
			return
		}
	}
	id := scalarString(row[s.cfg.IDField])
	if id == "" {
		s.bad(line, "the ID field %q is empty or missing", s.cfg.IDField)
		return
	}
	if prev, dup := s.seen[id]; dup {
		s.bad(line, "ID %q repeats the ID of line %d", id, prev)
		return
	}
	rec := mapping.Record{ExternalID: id, State: mapping.StateActive, Raw: row}
	if f := s.cfg.StateField; f != "" {
		st := mapping.State(strings.ToLower(strings.TrimSpace(scalarString(row[f]))))
		switch st {
		case mapping.StateActive, mapping.StateInactive, mapping.StateSuspended:
			rec.State = st
		default:
			s.bad(line, "state field %q is %q, not one of active, inactive, suspended", f, st)
			return
		}
	}
	if f := s.cfg.UpdatedAtField; f != "" {
		if v := scalarString(row[f]); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				s.bad(line, "updated-at field %q: %v", f, err)
				return
			}
			rec.UpdatedAt = t.UTC()
		}
	}
	if f := s.cfg.GroupsField; f != "" {
		for _, g := range groupNames(row[f]) {
			if s.out.members == nil {
				s.out.members = map[string][]string{}
			}
			if m := s.out.members[g]; len(m) == 0 || m[len(m)-1] != id {
				s.out.members[g] = append(m, id)
			}
		}
	}
	s.seen[id] = line
	s.out.records = append(s.out.records, rec)
}

func groupNames(v any) []string {
	var names []string
	switch v := v.(type) {
	case string:
		for _, n := range strings.Split(v, ";") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	case []any:
		for _, x := range v {
			if n := strings.TrimSpace(scalarString(x)); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// scalarString renders an ID-like value: strings as they are, whole numbers
// without a fraction, other scalars by fmt, and composites as "".
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	default:
		return ""
	}
}

// parse parses a whole file's content by cfg (its defaults applied), without
// reading anything. It is what every listing runs.
func parse(data []byte, cfg Config) (*parsed, error) {
	cfg.setDefaults()
	if cfg.Format == "" {
		return nil, errors.New("fileprovider: format is required")
	}
	if int64(len(data)) > cfg.MaxBytes {
		return nil, fmt.Errorf("fileprovider: input is larger than %d bytes", cfg.MaxBytes)
	}
	s := &rowSink{cfg: &cfg, seen: map[string]int{}}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, errors.New("fileprovider: input is not valid UTF-8")
	}
	var err error
	switch cfg.Format {
	case CSV:
		err = parseCSV(data, s)
	case JSON:
		err = parseJSON(data, s)
	case JSONLines:
		err = parseJSONLines(data, s)
	default:
		err = fmt.Errorf("format %q is not one of csv, json, jsonl", cfg.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("fileprovider: %w", err)
	}
	if len(s.errs.Lines) > 0 {
		return nil, &s.errs
	}
	return &s.out, nil
}

func parseCSV(data []byte, s *rowSink) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return errors.New("CSV has no header row")
	}
	if err != nil {
		return fmt.Errorf("CSV header: %w", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("CSV header: column %d has no name", i+1)
		}
		if seen[h] {
			return fmt.Errorf("CSV header: column %q appears twice", h)
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen[s.cfg.IDField] {
		return fmt.Errorf("CSV header has no ID column %q", s.cfg.IDField)
	}
	for {
		fields, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				s.bad(pe.StartLine, "%v", pe.Err)
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					continue
				}
				return nil // the reader cannot resynchronise after a quoting error
			}
			return err
		}
		line, _ := r.FieldPos(0)
		row := make(map[string]any, len(cols))
		for i, v := range fields {
			row[cols[i]] = v
		}
		s.add(line, row)
	}
}

func parseJSON(data []byte, s *rowSink) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("JSON: line 1: expected an array of objects")
	}
	ls := &lines{data: data, line: 1}
	for dec.More() {
		line := ls.at(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			s.bad(line, "malformed JSON: %v", err)
			return nil
		}
		row, err := decodeObject(raw)
		if err != nil {
			s.bad(line, "%v", err)
			continue
		}
		s.add(line, row)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("JSON: line %d: %w", ls.at(dec.InputOffset()), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("JSON: line %d: content after the array", ls.at(dec.InputOffset()))
	}
	return nil
}

func parseJSONLines(data []byte, s *rowSink) error {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		row, err := decodeObject(l)
		if err != nil {
			s.bad(line, "%v", err)
			continue
		}
		s.add(line, row)
	}
	return nil
}

// decodeObject decodes one JSON object, turning numbers into int64 when
// whole and float64 otherwise.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: more than one value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return convertNumbers(obj, 0).(map[string]any), nil
}

func convertNumbers(v any, depth int) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return float64(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = convertNumbers(x, depth+1)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = convertNumbers(x, depth+1)
		}
		return v
	default:
		return v
	}
}

// lines finds the line of a byte offset in data; offsets asked for in
// increasing order are counted from the last one, so a parse counts each
// newline once (counting from the start for every row of a JSON array
// made its parse quadratic: 20k rows of 1 KB took 4.4 s).
type lines struct {
	data []byte
	off  int64 // counted up to here
	line int   // the line at off
}

// at returns the 1-based line of the value at or after off.
func (l *lines) at(off int64) int {
	if off > int64(len(l.data)) {
		off = int64(len(l.data))
	}
	// The decoder's offset sits before the separator and white space that
	// precede the next value; skip them so the line is the value's own.
	for off < int64(len(l.data)) && strings.ContainsRune(" \t\r\n,", rune(l.data[off])) {
		off++
	}
	if off < l.off {
		l.off, l.line = 0, 1
	}
	l.line += bytes.Count(l.data[l.off:off], []byte{'\n'})
	l.off = off
	return l.line
}
