package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/directorysync/directorysync/search"
)

// Sentinel errors. Adapters wrap them (callers use errors.Is); each adapter
// maps its database's native errors to these in one place.
var (
	// ErrNotFound: the org has no such user, group, run or lease.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a compare-and-set failed (the row version or run status
	// was not the expected one), or an insert met an existing row.
	ErrConflict = errors.New("store: conflict")
	// ErrStale: a user write carried a provider updated_at older than the one
	// stored for the same external ID. Nothing was written.
	ErrStale = errors.New("store: older than stored")
	// ErrLeaseHeld: another holder has the org's unexpired lease.
	ErrLeaseHeld = errors.New("store: lease held by another holder")
	// ErrLeaseLost: the lease given for fencing is not the org's current,
	// unexpired lease. Nothing was written.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrDuplicateEvent: Apply carried a processed-event mark that is already
	// recorded. Nothing was written.
	ErrDuplicateEvent = errors.New("store: event already processed")
	// ErrInvalid: a request was malformed (missing org, empty ID, write of a
	// user of another org, …). The message names what was wrong.
	ErrInvalid = errors.New("store: invalid request")
)

// ApplyError says which write of an Apply failed. It wraps one of the
// sentinel errors.
type ApplyError struct {
	Op    string // "user", "group", "member", "change", "tombstone", "event", "lease", "unpark"
	Index int    // index within the request's slice for Op, or -1
	ID    string // the row's ID, when known
	// Err is the cause: one of the sentinel errors, wrapped with detail, or
	// a database error.
	Err error
}

// Error names the failing write and its cause.
func (e *ApplyError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("store: apply %s[%d] %q: %v", e.Op, e.Index, e.ID, e.Err)
	}
	return fmt.Sprintf("store: apply %s: %v", e.Op, e.Err)
}

// Unwrap returns Err, so errors.Is sees the sentinel.
func (e *ApplyError) Unwrap() error { return e.Err }

// UserWrite is one user row written by Apply.
type UserWrite struct {
	// User is the whole new row. OrgID must be the request's org. Version,
	// CreatedAt and UpdatedAt are assigned by the store (CreatedAt is kept on
	// update); Groups is ignored.
	User User
	// ExpectVersion is the compare-and-set: 0 inserts, and fails with
	// ErrConflict if the org has a user with this ID or this (source,
	// external ID); otherwise the stored row's version must equal it.
	ExpectVersion int64
	// Delete removes the row and its memberships instead of writing it.
	Delete bool
}

// GroupWrite is one group row written by Apply, with the same rules as
// UserWrite. Deleting a group removes its memberships.
type GroupWrite struct {
	// Group is the whole new row; OrgID must be the request's org, and
	// Version, CreatedAt and UpdatedAt are assigned by the store.
	Group Group
	// ExpectVersion is the compare-and-set, as in UserWrite: 0 inserts.
	ExpectVersion int64
	// Delete removes the group and its memberships instead of writing it.
	Delete bool
}

// MemberWrite adds (or with Remove, removes) one membership. Adding an
// existing membership or removing a missing one writes nothing. Both the
// user and the group must exist in the org after the request's user and
// group writes, or Apply fails with ErrInvalid.
type MemberWrite struct {
	Membership
	// Remove removes the membership instead of adding it.
	Remove bool
}

// EventMark records that a provider event was processed.
type EventMark struct {
	// ID is the provider's event ID, the deduplication key within the org.
	ID string
	// Deactivations is how many people the event deactivated or deleted;
	// it counts against the org's event budget (EventDeactivations).
	Deactivations int
}

// ApplyRequest is one atomic write: every row, every journal entry, the
// event mark and the unparking happen together or not at all.
type ApplyRequest struct {
	// OrgID is the org written; required (see ValidateOrgID). Every row
	// written must belong to it.
	OrgID string
	// Lease, when set, fences the write: Apply fails with ErrLeaseLost unless
	// it is the org's current lease and has not expired, checked inside the
	// same transaction.
	Lease *Lease
	// Users are applied first, in order; a failing one is reported by its
	// index in an *ApplyError with Op "user".
	Users []UserWrite
	// Groups are applied after Users and before Members.
	Groups []GroupWrite
	// Members are applied after Users and Groups.
	Members []MemberWrite
	// Changes are journal entries; the store assigns OrgID, Seq (the next
	// numbers of the org's counter, in slice order) and At when zero.
	Changes []Change
	// Tombstones are stored for deleted users, keyed by (source, external
	// ID); each one's OrgID must be the request's org.
	Tombstones []Tombstone
	// Event, when set, is recorded as processed; if it already is, Apply
	// fails with ErrDuplicateEvent.
	Event *EventMark
	// Unpark removes these parked events.
	Unpark []string
}

// ApplyResult reports what Apply assigned.
type ApplyResult struct {
	// FirstSeq and LastSeq bound the journal entries written; both are 0
	// when the request had no changes.
	FirstSeq, LastSeq int64
}

// LoadUsersRequest selects users for the diff and for identity matching.
// A user matches when any of the lists matches it; each matching user is
// returned once, ordered by ID.
type LoadUsersRequest struct {
	// OrgID is the org searched; required.
	OrgID string
	// SourceID scopes ExternalIDs (external IDs are unique per source).
	SourceID string
	// ExternalIDs match users of SourceID by provider ID.
	ExternalIDs []string
	// IdpIDs match in any source of the org.
	IdpIDs []string
	// Emails are matched after search.Fold, in any source of the org.
	Emails []string
	// OnlyInactive restricts IdpIDs and Emails matches to inactive users.
	OnlyInactive bool
}

// Store is what the engine needs from a database. Every method takes the
// org and never reads, counts, pages into, leases or deletes another org's
// data. Implementations are safe for concurrent use, and must pass
// store/storetest.
type Store interface {
	// Apply writes req atomically (see ApplyRequest). On failure nothing is
	// written and the error is an *ApplyError wrapping ErrConflict, ErrStale,
	// ErrLeaseLost, ErrDuplicateEvent or ErrInvalid, or a database error.
	// A user write whose ProviderUpdatedAt is older than the stored row's,
	// with the same ExternalID, fails with ErrStale.
	Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error)

	// Snapshot calls fn for every user of the org's source, in no particular
	// order, with the compact fields a diff needs. It must not hold full rows
	// in memory. An error from fn stops it and is returned.
	Snapshot(ctx context.Context, orgID, sourceID string, fn func(SnapshotEntry) error) error
	// LoadUsers returns full rows, see LoadUsersRequest. Each list holds at
	// most 1000 entries.
	LoadUsers(ctx context.Context, req LoadUsersRequest) ([]User, error)
	// GetUser returns one user with its groups, or ErrNotFound.
	GetUser(ctx context.Context, orgID, userID string) (User, error)

	// Search returns one page of q (see package search for the semantics),
	// each user with its groups and without its Source (the provider
	// record, about half of a stored user's bytes, which a result list does
	// not show; GetUser and LoadUsers return it). A query that does not validate, or a cursor
	// from another org or query, is a *search.Error.
	Search(ctx context.Context, orgID string, q search.Query) (Page, error)
	// Facets counts department, division, office and tag values, and tag
	// values per tag field, among the users q matches, each facet ignoring
	// its own field's filter (the tag field facets ignore the tag filter).
	// Values that fold alike count together under the bytewise least
	// original spelling stored for the org: the least among all of the org's
	// stored users' values of that field, whatever their status or source
	// and whether or not q matches them (for the tag facet, the values of
	// every tag field; for a tag field facet, that field's values). Counts
	// are numbers of users: a person holding one value in two tag fields
	// counts once in the tag facet. Cursor and limit are ignored.
	Facets(ctx context.Context, orgID string, q search.Query) (Facets, error)

	// Groups lists the org's groups (of one source, or all when sourceID is
	// empty) with member counts, ordered by name then ID.
	Groups(ctx context.Context, orgID, sourceID string) ([]GroupSummary, error)
	// Memberships calls fn for every membership of the source's groups.
	Memberships(ctx context.Context, orgID, sourceID string, fn func(Membership) error) error

	// Changes returns up to limit (1..1000; 0 means 100) journal entries with
	// Seq > after, in Seq order.
	Changes(ctx context.Context, orgID string, after int64, limit int) ([]Change, error)
	// LastSeq returns the org's highest journal sequence, 0 when none.
	LastSeq(ctx context.Context, orgID string) (int64, error)
	// PruneChanges deletes journal entries older than before and returns how
	// many. Sequence numbers are never reused.
	PruneChanges(ctx context.Context, orgID string, before time.Time) (int64, error)
	// RedactSubject removes the before and after values of every journal
	// entry about subjectID, keeping kind, sequence, cause and time.
	RedactSubject(ctx context.Context, orgID, subjectID string) (int64, error)

	// CreateRun records a new run; ErrConflict if its ID exists in the org.
	CreateRun(ctx context.Context, run SyncRun) error
	// UpdateRun replaces a run whose stored status is expect; ErrConflict
	// when it is not, ErrNotFound when there is no such run.
	UpdateRun(ctx context.Context, run SyncRun, expect RunStatus) error
	// GetRun returns one run or ErrNotFound.
	GetRun(ctx context.Context, orgID, runID string) (SyncRun, error)
	// ListRuns returns up to limit runs, newest first (by StartedAt, then ID).
	ListRuns(ctx context.Context, orgID string, limit int) ([]SyncRun, error)

	// ParkEvent stores an event for approval; parking an ID already parked
	// writes nothing.
	ParkEvent(ctx context.Context, ev ParkedEvent) error
	// ParkedEvents lists the org's parked events, oldest first.
	ParkedEvents(ctx context.Context, orgID string) ([]ParkedEvent, error)
	// EventProcessed reports whether an Apply recorded the event's mark.
	EventProcessed(ctx context.Context, orgID, eventID string) (bool, error)
	// EventDeactivations sums the Deactivations of event marks recorded at
	// or after since.
	EventDeactivations(ctx context.Context, orgID string, since time.Time) (int, error)

	// Tombstoned reports whether the source's external ID has an unexpired
	// tombstone.
	Tombstoned(ctx context.Context, orgID, sourceID, externalID string) (bool, error)

	// AcquireLease takes the org's lease for ttl, or fails with ErrLeaseHeld
	// while another holder's lease is unexpired. Each acquisition issues a
	// new token.
	AcquireLease(ctx context.Context, orgID, holder string, ttl time.Duration) (Lease, error)
	// RenewLease extends a lease still held; ErrLeaseLost when it is not the
	// current unexpired lease.
	RenewLease(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up; releasing a lost lease is a no-op.
	ReleaseLease(ctx context.Context, lease Lease) error

	// SourceState returns the source's state, or a zero state with the IDs
	// set when none was stored.
	SourceState(ctx context.Context, orgID, sourceID string) (SourceState, error)
	// PutSourceState stores the source's state.
	PutSourceState(ctx context.Context, st SourceState) error

	// PurgeOrg removes everything stored for the org.
	PurgeOrg(ctx context.Context, orgID string) error
}
