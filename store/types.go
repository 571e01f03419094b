package store

import (
	"encoding/json"
	"time"

	"github.com/directorysync/directorysync/mapping"
)

// User is a person as the store keeps them, in one org and one source.
type User struct {
	OrgID    string `json:"org_id"`
	SourceID string `json:"source_id"`
	// ID is the library's ID, stable for the person's life: a relink keeps it.
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	IdpID      string `json:"idp_id,omitempty"`
	Email      string `json:"email,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Department string `json:"department,omitempty"`
	Division   string `json:"division,omitempty"`
	Office     string `json:"office,omitempty"`
	Title      string `json:"title,omitempty"`
	// Tags are sorted by field then value (see NormalizeTags).
	Tags   []mapping.Tag `json:"tags,omitempty"`
	Active bool          `json:"active"`
	// Source is the provider record the profile was mapped from (JSON of a
	// mapping.Record).
	Source json.RawMessage `json:"source,omitempty"`
	// SourceHash and ProfileHash are HashSource and HashProfile of the record
	// and the mapped profile; each starts with its version.
	SourceHash     string `json:"source_hash,omitempty"`
	ProfileHash    string `json:"profile_hash,omitempty"`
	MappingVersion string `json:"mapping_version,omitempty"`
	// ProviderUpdatedAt is the provider's updated_at last applied.
	ProviderUpdatedAt time.Time `json:"provider_updated_at,omitzero"`
	// Version is the row version: 1 on insert, +1 on every write. Writes are
	// compare-and-set on it.
	Version       int64      `json:"version"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	// Groups is filled by GetUser and Search (ID and name, sorted by name then
	// ID); it is ignored on write.
	Groups []GroupRef `json:"groups,omitempty"`
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Group is a directory group of one org and source.
type Group struct {
	OrgID      string    `json:"org_id"`
	SourceID   string    `json:"source_id"`
	ID         string    `json:"id"`
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name"`
	Version    int64     `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// GroupSummary is a group with its number of members (active or not).
type GroupSummary struct {
	Group
	MemberCount int `json:"member_count"`
}

// Membership links a user to a group of the same org.
type Membership struct {
	UserID  string `json:"user_id"`
	GroupID string `json:"group_id"`
}

// ChangeKind names what a journal entry records.
type ChangeKind string

// The kinds of journal entries.
const (
	ChangeCreated       ChangeKind = "created"
	ChangeUpdated       ChangeKind = "updated"
	ChangeDeactivated   ChangeKind = "deactivated"
	ChangeReactivated   ChangeKind = "reactivated"
	ChangeRelinked      ChangeKind = "relinked"
	ChangeDeleted       ChangeKind = "deleted"
	ChangeGroupCreated  ChangeKind = "group_created"
	ChangeGroupUpdated  ChangeKind = "group_updated"
	ChangeGroupDeleted  ChangeKind = "group_deleted"
	ChangeMemberAdded   ChangeKind = "member_added"
	ChangeMemberRemoved ChangeKind = "member_removed"
)

// Change is one journal entry: the host's change feed and the audit log.
type Change struct {
	// Seq is assigned by the store: strictly increasing and gap-free per org.
	Seq   int64      `json:"seq"`
	OrgID string     `json:"org_id"`
	Kind  ChangeKind `json:"kind"`
	// SubjectID is the user's ID; the group's for group_* kinds; the user's
	// for member_* kinds, with the group in After (added) or Before (removed).
	SubjectID string `json:"subject_id"`
	// Before and After hold only the changed fields.
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
	// Cause is the run ID or event ID that made the change.
	Cause string `json:"cause"`
	// At is assigned by the store when zero.
	At time.Time `json:"at"`
}

// RunMode is how a sync run works.
type RunMode string

// The run modes.
const (
	ModeFull   RunMode = "full"
	ModeDryRun RunMode = "dry_run"
	ModeRemap  RunMode = "remap"
)

// RunStatus is where a sync run stands.
type RunStatus string

// The run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunHalted    RunStatus = "halted"
)

// Counts are a run's tallies.
type Counts struct {
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deactivated int `json:"deactivated"`
	Reactivated int `json:"reactivated"`
	Relinked    int `json:"relinked"`
	Unchanged   int `json:"unchanged"`
	Skipped     int `json:"skipped"`
	Deleted     int `json:"deleted"`
}

// RecordError is a per-record failure of a run.
type RecordError struct {
	ExternalID string `json:"external_id"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
}

// MaxRunErrors bounds SyncRun.Errors; stores may truncate beyond it.
const MaxRunErrors = 100

// HeldDeactivation is one deactivation a halted run holds for approval.
type HeldDeactivation struct {
	UserID     string `json:"user_id"`
	ExternalID string `json:"external_id"`
}

// PlanItem is one change a dry run would make.
type PlanItem struct {
	Kind       ChangeKind     `json:"kind"`
	ExternalID string         `json:"external_id"`
	UserID     string         `json:"user_id,omitempty"`
	Before     map[string]any `json:"before,omitempty"`
	After      map[string]any `json:"after,omitempty"`
}

// SyncRun records one sync of one org's source.
type SyncRun struct {
	ID       string    `json:"id"`
	OrgID    string    `json:"org_id"`
	SourceID string    `json:"source_id"`
	Mode     RunMode   `json:"mode"`
	Status   RunStatus `json:"status"`
	// StartSeq is the org's journal sequence when the run started.
	StartSeq   int64      `json:"start_seq"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// LeaseExpiresAt is when a running run counts as abandoned: a run still
	// running past it is reported as failed (see ListRuns).
	LeaseExpiresAt time.Time     `json:"lease_expires_at,omitzero"`
	Counts         Counts        `json:"counts"`
	Errors         []RecordError `json:"errors,omitempty"`
	HaltReason     string        `json:"halt_reason,omitempty"`
	// Held is the exact set of deactivations a halted run holds.
	Held       []HeldDeactivation `json:"held,omitempty"`
	ApprovedAt *time.Time         `json:"approved_at,omitempty"`
	// Plan is a dry run's plan, bounded (see dirsync).
	Plan []PlanItem `json:"plan,omitempty"`
	// MappingVersion is the mapping the run applied.
	MappingVersion string `json:"mapping_version,omitempty"`
	// Error is the run's failure, if it failed.
	Error string `json:"error,omitempty"`
}

// ParkedEvent is a provider event the guard held for approval.
type ParkedEvent struct {
	OrgID       string          `json:"org_id"`
	ID          string          `json:"id"` // the provider's event ID
	Kind        string          `json:"event"`
	DirectoryID string          `json:"directory_id,omitempty"`
	Payload     json.RawMessage `json:"payload"`
	ReceivedAt  time.Time       `json:"received_at"`
	Reason      string          `json:"reason"`
}

// Tombstone remembers a deleted person so that a late, out-of-order event
// cannot recreate them.
type Tombstone struct {
	OrgID      string    `json:"org_id"`
	SourceID   string    `json:"source_id"`
	ExternalID string    `json:"external_id"`
	DeletedAt  time.Time `json:"deleted_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Lease is an org's sync lease. Token is the fencing token: Apply with a
// lease fails unless the org's current lease has this token and has not
// expired.
type Lease struct {
	OrgID     string    `json:"org_id"`
	Holder    string    `json:"holder"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SourceState is what the store keeps per source between runs.
type SourceState struct {
	OrgID    string `json:"org_id"`
	SourceID string `json:"source_id"`
	// NextDueAt is when the scheduler next runs a full sync.
	NextDueAt time.Time `json:"next_due_at,omitzero"`
	// EventsCursor is the events poller's position; EventsCursorAt when it
	// was stored.
	EventsCursor   string    `json:"events_cursor,omitempty"`
	EventsCursorAt time.Time `json:"events_cursor_at,omitzero"`
	// MappingVersion is the mapping the last successful sync applied.
	MappingVersion string `json:"mapping_version,omitempty"`
}

// SnapshotEntry is the compact form of a stored user that a diff reads.
type SnapshotEntry struct {
	ExternalID        string
	UserID            string
	SourceHash        string
	ProfileHash       string
	MappingVersion    string
	Active            bool
	ProviderUpdatedAt time.Time
	Version           int64
}

// Facets are value counts under a query; see Store.Facets.
type Facets struct {
	Department map[string]int            `json:"department"`
	Division   map[string]int            `json:"division"`
	Office     map[string]int            `json:"office"`
	Tag        map[string]int            `json:"tag"`
	TagFields  map[string]map[string]int `json:"tag_fields"`
}

// Page is one page of search results.
type Page struct {
	Users []User `json:"data"`
	// NextCursor continues the query; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}
