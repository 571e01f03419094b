// Package fakeworkos is a recorded-format fake of the WorkOS API for tests: an
// httptest server answering the Directory Sync and Events endpoints with the
// JSON shapes of github.com/workos/workos-go/v4 (pkg/directorysync,
// pkg/events, pkg/common), with cursor pagination in both directions and
// both orders, and knobs for what real APIs do to clients: 429 with
// Retry-After, 5xx, latency, malformed JSON, a per-directory rate limit, and a
// request log.
//
// Endpoints: GET /directories, /directories/{id}, /directory_users
// (directory or group filter), /directory_users/{id}, /directory_groups
// (directory or user filter), /directory_groups/{id}, /events. Every request
// needs "Authorization: Bearer <APIKey>".
//
// One deliberate difference from the SDK's types: the SDK's UserEmail has no
// JSON tags, so marshalling it would write "Primary"/"Value"; the fake writes
// the documented lowercase keys, which the SDK decodes too.
package fakeworkos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/workos/workos-go/v4/pkg/common"
	"github.com/workos/workos-go/v4/pkg/directorysync"
)

// Options configures a Server.
type Options struct {
	// APIKey is the bearer token the fake accepts. Defaults to
	// "sk_test_fake".
	APIKey string
	// Clock is the fake's time source (rate limit, latency, request log).
	// Defaults to the system clock.
	Clock Clock
	// DirectoryRateLimit is how many /directory_users requests per
	// directory the fake serves in any one second (a sliding window);
	// beyond it it answers 429 with Retry-After. 0 means no limit.
	DirectoryRateLimit int
	// Latency is how long each answer takes (on Clock).
	Latency time.Duration
}

// Email is a directory user's email as WorkOS sends it.
type Email struct {
	// Primary marks the address WorkOS calls primary; the adapter falls
	// back to it when User.Email is empty.
	Primary bool `json:"primary"`
	// Type is the IdP's label, e.g. "work"; omitted when empty.
	Type string `json:"type,omitempty"`
	// Value is the address.
	Value string `json:"value"`
}

// User is a directory user in WorkOS's wire shape (directorysync.User with
// the emails' keys in lowercase).
//
// The fake serves the fields as given; it checks none of them.
type User struct {
	// ID is the directory user ID ("directory_user_…"), the key AddUser
	// adds or replaces by.
	ID string `json:"id"`
	// IdpID is the identity provider's ID for the person.
	IdpID string `json:"idp_id"`
	// DirectoryID is the directory that lists the user; the directory
	// filter of /directory_users matches it.
	DirectoryID string `json:"directory_id"`
	// OrganizationID is the WorkOS organization of the directory.
	OrganizationID string `json:"organization_id"`
	// Email is the primary email address (WorkOS's newer top-level field).
	Email string `json:"email"`
	// Username is the IdP's username; omitted when empty.
	Username string `json:"username,omitempty"`
	// Emails is the deprecated list of addresses; AddUser sends nil as [].
	Emails []Email `json:"emails"`
	// Groups is the deprecated groups list, which WorkOS no longer fills;
	// AddUser sends nil as [].
	Groups []directorysync.UserGroup `json:"groups"`
	// FirstName is the person's first name.
	FirstName string `json:"first_name"`
	// LastName is the person's last name.
	LastName string `json:"last_name"`
	// JobTitle is the job title; omitted when empty.
	JobTitle string `json:"job_title,omitempty"`
	// State is WorkOS's word for the user's state: "active", "inactive"
	// or "suspended" (or anything else, to test odd input).
	State string `json:"state"`
	// RawAttributes is the IdP's raw attribute object; AddUser sends empty
	// as {}.
	RawAttributes json.RawMessage `json:"raw_attributes"`
	// CustomAttributes is the object of attributes the WorkOS dashboard
	// maps; AddUser sends empty as {}.
	CustomAttributes json.RawMessage `json:"custom_attributes"`
	// CreatedAt is an RFC 3339 time, sent as given.
	CreatedAt string `json:"created_at"`
	// UpdatedAt is an RFC 3339 time, sent as given; the adapter reads it
	// as the record's provider updated_at.
	UpdatedAt string `json:"updated_at"`
	// Role is the user's WorkOS role, e.g. {"slug": "member"}.
	Role common.RoleResponse `json:"role"`
}

// Fault is what the fake answers instead of the real answer.
type Fault struct {
	// Status is the HTTP status to answer (e.g. 429, 500, 503). 0 with
	// Malformed answers 200.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Malformed answers 200 with a truncated JSON body.
	Malformed bool
}

// Request is one entry of the request log.
type Request struct {
	// Seq numbers requests from 1 in the order the fake received them, so
	// a SetFault function can pick the Nth request.
	Seq int
	// At is when the request arrived, on the fake's Clock.
	At time.Time
	// Method is the HTTP method.
	Method string
	// Path is the URL path, e.g. "/directory_users".
	Path string
	// Query is the parsed URL query (filters and paging parameters).
	Query url.Values
	// Directory is the directory the request counts against (its
	// directory filter, or the directory of its group filter).
	Directory string
	// Status is the HTTP status the fake answered.
	Status int
	// Fault is set when the answer was injected.
	Fault bool
}

type object struct {
	id, dir, org string
	at           time.Time // events only
	name         string    // events only
	raw          json.RawMessage
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give a client (the SDK's Endpoint).
	URL string

	opts    Options
	srv     *httptest.Server
	mu      sync.Mutex
	dirs    map[string]*object
	users   map[string]*object
	groups  map[string]*object
	members map[string]map[string]bool // group → users
	events  []*object
	log     []Request
	served  map[string][]time.Time // directory → times of served /directory_users requests
	queue   []Fault
	faultFn func(Request) (Fault, bool)
}

// New starts a fake; Close it when done.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "sk_test_fake"
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	s := &Server{
		opts: opts, dirs: map[string]*object{}, users: map[string]*object{}, groups: map[string]*object{},
		members: map[string]map[string]bool{}, served: map[string][]time.Time{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// APIKey returns the key the fake accepts.
func (s *Server) APIKey() string { return s.opts.APIKey }

// AddDirectory adds or replaces a directory.
func (s *Server) AddDirectory(d directorysync.Directory) {
	raw := mustJSON(struct {
		Object string `json:"object"`
		directorysync.Directory
	}{"directory", d})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs[d.ID] = &object{id: d.ID, org: d.OrganizationID, raw: raw}
}

// AddUser adds or replaces a directory user. Empty attribute maps are sent
// as {}.
func (s *Server) AddUser(u User) {
	if len(u.RawAttributes) == 0 {
		u.RawAttributes = json.RawMessage("{}")
	}
	if len(u.CustomAttributes) == 0 {
		u.CustomAttributes = json.RawMessage("{}")
	}
	if u.Emails == nil {
		u.Emails = []Email{}
	}
	if u.Groups == nil {
		u.Groups = []directorysync.UserGroup{}
	}
	raw := mustJSON(struct {
		Object string `json:"object"`
		User
	}{"directory_user", u})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &object{id: u.ID, dir: u.DirectoryID, org: u.OrganizationID, raw: raw}
}

// AddUserJSON adds a directory user given as WorkOS JSON (a fixture); it
// needs "id" and "directory_id".
func (s *Server) AddUserJSON(raw []byte) error {
	var u struct {
		ID          string `json:"id"`
		DirectoryID string `json:"directory_id"`
		OrgID       string `json:"organization_id"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return fmt.Errorf("fakeworkos: user JSON: %w", err)
	}
	if u.ID == "" || u.DirectoryID == "" {
		return fmt.Errorf("fakeworkos: user JSON needs id and directory_id")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &object{id: u.ID, dir: u.DirectoryID, org: u.OrgID, raw: buf.Bytes()}
	return nil
}

// RemoveUser deletes a directory user (and its memberships).
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
	for _, m := range s.members {
		delete(m, id)
	}
}

// AddGroup adds or replaces a directory group.
func (s *Server) AddGroup(g directorysync.Group) {
	if len(g.RawAttributes) == 0 {
		g.RawAttributes = json.RawMessage("{}")
	}
	raw := mustJSON(struct {
		Object string `json:"object"`
		directorysync.Group
	}{"directory_group", g})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[g.ID] = &object{id: g.ID, dir: g.DirectoryID, org: g.OrganizationID, raw: raw}
}

// AddMember puts a user in a group.
func (s *Server) AddMember(groupID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[groupID] == nil {
		s.members[groupID] = map[string]bool{}
	}
	s.members[groupID][userID] = true
}

// AddEvent appends an event; data is marshalled as the event's data. IDs
// must increase (WorkOS's are time-ordered ULIDs).
func (s *Server) AddEvent(id, name string, at time.Time, data any) {
	raw := mustJSON(map[string]any{"object": "event", "id": id, "event": name, "data": data, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z")})
	var org struct {
		OrgID string `json:"organization_id"`
	}
	_ = json.Unmarshal(mustJSON(data), &org)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, &object{id: id, name: name, at: at, org: org.OrgID, raw: raw})
}

// AddEventJSON appends an event given as WorkOS JSON (a webhook fixture).
func (s *Server) AddEventJSON(raw []byte) error {
	var e struct {
		ID        string    `json:"id"`
		Event     string    `json:"event"`
		CreatedAt time.Time `json:"created_at"`
		Data      struct {
			OrgID string `json:"organization_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("fakeworkos: event JSON: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, &object{id: e.ID, name: e.Event, at: e.CreatedAt, org: e.Data.OrgID, raw: buf.Bytes()})
	return nil
}

// InjectNext makes the next n requests answer f.
func (s *Server) InjectNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queue = append(s.queue, f)
	}
}

// SetFault installs a function consulted for every request (after the
// InjectNext queue): when it returns true the request is answered with the
// fault. Request.Seq counts requests from 1. nil removes it.
func (s *Server) SetFault(fn func(Request) (Fault, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFn = fn
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// MaxInWindow returns the largest number of logged requests to
// /directory_users for directory that fall in any half-open window
// [t, t+window).
func (s *Server) MaxInWindow(directory string, window time.Duration) int {
	var times []time.Time
	for _, r := range s.Requests() {
		if r.Directory == directory && r.Path == "/directory_users" {
			times = append(times, r.At)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Clock.Now()
	s.mu.Lock()
	req := Request{Seq: len(s.log) + 1, At: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	req.Directory = s.directoryOf(r)
	status, body, hdr := s.answer(r, &req, now)
	req.Status = status
	s.log = append(s.log, req)
	s.mu.Unlock()

	if s.opts.Latency > 0 {
		_ = s.opts.Clock.Sleep(r.Context(), s.opts.Latency)
	}
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// directoryOf names the directory a request counts against. Needs s.mu.
func (s *Server) directoryOf(r *http.Request) string {
	q := r.URL.Query()
	if d := q.Get("directory"); d != "" {
		return d
	}
	if g := s.groups[q.Get("group")]; g != nil {
		return g.dir
	}
	return ""
}

// answer computes the response. Needs s.mu.
func (s *Server) answer(r *http.Request, req *Request, now time.Time) (int, []byte, map[string]string) {
	if r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		return http.StatusUnauthorized, errJSON("unauthorized", "Unauthorized"), nil
	}
	var f Fault
	injected := false
	if len(s.queue) > 0 {
		f, s.queue, injected = s.queue[0], s.queue[1:], true
	} else if s.faultFn != nil {
		f, injected = s.faultFn(*req)
	}
	if injected {
		req.Fault = true
		hdr := map[string]string{}
		if f.RetryAfter != "" {
			hdr["Retry-After"] = f.RetryAfter
		}
		if f.Malformed {
			return http.StatusOK, []byte(`{"object":"list","data":[{"id":"directory_user_`), hdr
		}
		return f.Status, errJSON(strings.ReplaceAll(strings.ToLower(http.StatusText(f.Status)), " ", "_"), http.StatusText(f.Status)), hdr
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, errJSON("method_not_allowed", "Method Not Allowed"), nil
	}
	if r.URL.Path == "/directory_users" && req.Directory != "" && s.opts.DirectoryRateLimit > 0 {
		times := s.served[req.Directory]
		i := 0
		for i < len(times) && now.Sub(times[i]) >= time.Second {
			i++
		}
		times = times[i:]
		if len(times) >= s.opts.DirectoryRateLimit {
			wait := time.Second - now.Sub(times[0])
			secs := max(1, int((wait+time.Second-1)/time.Second))
			s.served[req.Directory] = times
			return http.StatusTooManyRequests, errJSON("rate_limit_exceeded", "Too Many Requests"), map[string]string{"Retry-After": strconv.Itoa(secs)}
		}
		s.served[req.Directory] = append(times, now)
	}
	return s.route(r)
}

// route answers a request that passed the checks. Needs s.mu.
func (s *Server) route(r *http.Request) (int, []byte, map[string]string) {
	q := r.URL.Query()
	path := strings.TrimSuffix(r.URL.Path, "/")
	one := func(m map[string]*object, prefix, what string) (int, []byte, map[string]string) {
		id := strings.TrimPrefix(path, prefix)
		if o := m[id]; o != nil {
			return http.StatusOK, o.raw, nil
		}
		return http.StatusNotFound, errJSON("entity_not_found", what+" not found: '"+id+"'."), nil
	}
	switch {
	case path == "/directories":
		return s.list(q, filter(s.dirs, func(o *object) bool {
			return q.Get("organization_id") == "" || o.org == q.Get("organization_id")
		}))
	case strings.HasPrefix(path, "/directories/"):
		return one(s.dirs, "/directories/", "Directory")
	case path == "/directory_users":
		dir, group := q.Get("directory"), q.Get("group")
		if dir == "" && group == "" {
			return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "Please provide either directory or group."), nil
		}
		return s.list(q, filter(s.users, func(o *object) bool {
			return (dir == "" || o.dir == dir) && (group == "" || s.members[group][o.id])
		}))
	case strings.HasPrefix(path, "/directory_users/"):
		return one(s.users, "/directory_users/", "Directory User")
	case path == "/directory_groups":
		dir, user := q.Get("directory"), q.Get("user")
		if dir == "" && user == "" {
			return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "Please provide either directory or user."), nil
		}
		return s.list(q, filter(s.groups, func(o *object) bool {
			return (dir == "" || o.dir == dir) && (user == "" || s.members[o.id][user])
		}))
	case strings.HasPrefix(path, "/directory_groups/"):
		return one(s.groups, "/directory_groups/", "Directory Group")
	case path == "/events":
		return s.listEvents(q)
	}
	return http.StatusNotFound, errJSON("not_found", "Not Found"), nil
}

func filter(m map[string]*object, keep func(*object) bool) []*object {
	out := make([]*object, 0, len(m))
	for _, o := range m {
		if keep(o) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// list pages items (sorted by ascending ID) as WorkOS does: limit 1–100
// (default 10), order asc or desc (default desc), after/before an object ID.
func (s *Server) list(q url.Values, items []*object) (int, []byte, map[string]string) {
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "limit must be between 1 and 100."), nil
		}
		limit = n
	}
	order := q.Get("order")
	switch order {
	case "", "desc", "normal":
		slices.Reverse(items)
		order = "desc"
	case "asc":
	default:
		return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "order must be asc or desc."), nil
	}
	// inOrder reports whether id a comes before id b in the listing order.
	before := func(a, b string) bool {
		if order == "asc" {
			return a < b
		}
		return a > b
	}
	start, end := 0, len(items)
	if after := q.Get("after"); after != "" {
		start = sort.Search(len(items), func(i int) bool { return before(after, items[i].id) })
		end = min(len(items), start+limit)
	} else if bef := q.Get("before"); bef != "" {
		end = sort.Search(len(items), func(i int) bool { return !before(items[i].id, bef) })
		start = max(0, end-limit)
	} else {
		end = min(len(items), limit)
	}
	page := items[start:end]
	meta := map[string]any{"before": nil, "after": nil}
	if len(page) > 0 {
		if start > 0 {
			meta["before"] = page[0].id
		}
		if end < len(items) {
			meta["after"] = page[len(page)-1].id
		}
	}
	return http.StatusOK, listJSON(page, meta), nil
}

func (s *Server) listEvents(q url.Values) (int, []byte, map[string]string) {
	names := q["events"]
	if len(names) == 0 {
		names = q["events[]"]
	}
	if len(names) == 0 {
		return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "events is required."), nil
	}
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", "limit must be between 1 and 100."), nil
		}
		limit = n
	}
	var from, to time.Time
	for _, p := range []struct {
		key string
		t   *time.Time
	}{{"range_start", &from}, {"range_end", &to}} {
		if v := q.Get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return http.StatusUnprocessableEntity, errJSON("invalid_request_parameters", p.key+" must be an ISO 8601 time."), nil
			}
			*p.t = t
		}
	}
	after := q.Get("after")
	if after != "" && !slices.ContainsFunc(s.events, func(o *object) bool { return o.id == after }) {
		return http.StatusBadRequest, errJSON("invalid_request_parameters", "Event with ID '"+after+"' not found."), nil
	}
	org := q.Get("organization_id")
	var page []*object
	for _, e := range s.events {
		if after != "" && e.id <= after || !slices.Contains(names, e.name) ||
			!from.IsZero() && e.at.Before(from) || !to.IsZero() && e.at.After(to) || org != "" && e.org != org {
			continue
		}
		page = append(page, e)
		if len(page) == limit {
			break
		}
	}
	meta := map[string]any{"after": nil}
	if len(page) > 0 {
		meta["after"] = page[len(page)-1].id
	}
	return http.StatusOK, listJSON(page, meta), nil
}

func listJSON(page []*object, meta map[string]any) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	for i, o := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.raw)
	}
	b.WriteString(`],"list_metadata":`)
	b.Write(mustJSON(meta))
	b.WriteByte('}')
	return b.Bytes()
}

func errJSON(code, msg string) []byte {
	return mustJSON(map[string]string{"code": code, "message": msg})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakeworkos: marshalling %T: %v", v, err))
	}
	return b
}
