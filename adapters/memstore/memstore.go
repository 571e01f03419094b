// Package memstore is an in-memory store.Store: for tests, demos and small
// deployments that can afford to re-sync after a restart.
//
// Everything is kept in process memory and is lost when the process exits.
// A Store is safe for concurrent use: one read-write lock guards all orgs,
// and Apply validates a whole request before it changes anything, so a failed
// Apply leaves no trace and readers never see half of one.
//
// # Indexes
//
// Search and Facets do not scan an org. Per org the store numbers its users
// by slot (in the order written; a replaced or deleted user's slot dies, and
// the slots are renumbered when most are dead) and keeps:
//
//   - per slot, the user's department, division and office as interned
//     value IDs and whether the user is active, in one array, so that
//     matching and facet counting mostly read consecutive memory;
//   - for department, division, office, tag (a value of any tag field) and
//     each tag field, per folded value (search.Fold) an ascending list of
//     the slots holding it, the active count and the original spellings,
//     for facet labels;
//   - for groups, the folded group name to group IDs, and each group's members;
//   - for text, the slots of each folded word of search.Words, and a sorted
//     list of the distinct words, so that a term's prefix is one binary
//     search;
//   - one sorted order of all users per sort (last name, first name, email,
//     ID), kept as a large sorted slice plus a small sorted run of recent
//     writes that is merged in when it grows.
//
// A query starts from its smallest index set (the union of a field's values,
// the users of a term's prefix, or the inactive users) and checks each
// candidate against the rest of the query, keeping the page's first entries
// with a bounded heap. When the smallest set is large compared with the page
// (no filter, or a filter most people pass), it instead walks the sorted
// order from the cursor and stops when the page is full. Facets count value
// IDs in slices over the same candidate sets, and use the per-value counts
// when a facet's own filter is the only one.
//
// Apply folds each distinct department, office, tag value and first and
// last name once per store (a bounded cache), and puts a request's new
// users into the sorted orders with one merge per order.
//
// Values are folded and text is split exactly as package search defines, so
// the results equal those of every other store.
package memstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/directorysync/directorysync/store"
)

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// Now returns the current time; the store stamps rows, journal entries,
	// event marks and leases with it, and judges lease and tombstone expiry
	// by it. Defaults to time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is an in-memory store.Store. Create it with New or NewWithConfig;
// the zero value is not usable.
type Store struct {
	cfg Config

	mu   sync.RWMutex
	orgs map[string]*org

	folds foldCache

	// faults deliberately break the store; set only by this package's tests
	// to prove that the conformance suite notices.
	faults faults
}

// faults are deliberate defects, each one a way a store can be wrong.
type faults struct {
	caseSensitive     bool // filter values are compared without folding
	crossOrgCounts    bool // facets and group counts include other orgs' rows
	cursorOffByOne    bool // the next cursor points one row too far
	seqGap            bool // each Apply skips a journal sequence number
	journalOutsideTx  bool // journal entries are written before the request is validated
	leaseNeverExpires bool // leases are treated as unexpired forever
}

// New returns an empty Store with the default Config.
func New() *Store { return NewWithConfig(Config{}) }

// NewWithConfig returns an empty Store configured by cfg.
func NewWithConfig(cfg Config) *Store {
	cfg.setDefaults()
	return &Store{cfg: cfg, orgs: make(map[string]*org)}
}

func (s *Store) now() time.Time { return s.cfg.Now().Round(0) }

// readOrg returns the org's data, or nil when nothing is stored for it.
// The caller holds s.mu.
func (s *Store) readOrg(orgID string) *org { return s.orgs[orgID] }

// writeOrg returns the org's data, creating it. The caller holds s.mu for
// writing.
func (s *Store) writeOrg(orgID string) *org {
	o := s.orgs[orgID]
	if o == nil {
		o = newOrg()
		s.orgs[orgID] = o
	}
	return o
}

func checkOrg(orgID string) error { return store.ValidateOrgID(orgID) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// checkLimit applies the Changes and ListRuns rule: 0 means 100, otherwise
// 1..1000.
func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 100, nil
	case limit < 0 || limit > 1000:
		return 0, invalid("limit %d is outside 1..1000", limit)
	}
	return limit, nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ctxErr reports a cancelled context before work starts.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// Deep copies: stored values are never shared with callers.

func copyUser(u *store.User) store.User {
	c := *u
	c.Tags = slices.Clone(u.Tags)
	c.Source = slices.Clone(u.Source)
	if u.DeactivatedAt != nil {
		t := *u.DeactivatedAt
		c.DeactivatedAt = &t
	}
	c.Groups = slices.Clone(u.Groups)
	return c
}

func copyChange(ch *store.Change) store.Change {
	c := *ch
	c.Before = copyFields(ch.Before)
	c.After = copyFields(ch.After)
	return c
}

func copyFields(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case []string:
		return slices.Clone(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	case map[string]any:
		return copyFields(x)
	default:
		return v
	}
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func copyRun(r *store.SyncRun) store.SyncRun {
	c := *r
	c.FinishedAt = copyTime(r.FinishedAt)
	c.ApprovedAt = copyTime(r.ApprovedAt)
	c.Errors = slices.Clone(r.Errors)
	c.Held = slices.Clone(r.Held)
	if r.Plan != nil {
		c.Plan = make([]store.PlanItem, len(r.Plan))
		for i, p := range r.Plan {
			p.Before = copyFields(p.Before)
			p.After = copyFields(p.After)
			c.Plan[i] = p
		}
	}
	return c
}

func copyParked(p *store.ParkedEvent) store.ParkedEvent {
	c := *p
	c.Payload = slices.Clone(p.Payload)
	return c
}
