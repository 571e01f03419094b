package store

import (
	"encoding/json"
	"time"

	"github.com/directorysync/directorysync/mapping"
)

// User is a person as the store keeps them, in one org and one source.
type User struct {
	// OrgID is the org the user belongs to; every Store method is scoped by
	// it (see ValidateOrgID).
	OrgID string `json:"org_id"`
	// SourceID is the provider source the user was last listed by (see
	// dirsync.Provider.SourceID). A relink from another source moves the
	// user to the new source.
	SourceID string `json:"source_id"`
	// ID is the library's ID, stable for the person's life: a relink keeps it.
	ID string `json:"id"`
	// ExternalID is the provider's user ID, unique per (org, source); a
	// relink replaces it with the provider's new ID.
	ExternalID string `json:"external_id"`
	// IdpID is the identity provider's ID for the person, as the provider
	// reports it; empty when it reports none. Identity matching uses it
	// among the org's inactive users of any source.
	IdpID string `json:"idp_id,omitempty"`
	// Email is the mapped email address, as mapped (not folded); empty when
	// the mapping yields none.
	Email string `json:"email,omitempty"`
	// FirstName is the mapped first name; empty when unset. Mapped profile
	// fields are trimmed and whitespace-collapsed by the mapper.
	FirstName string `json:"first_name,omitempty"`
	// LastName is the mapped last name; empty when unset.
	LastName string `json:"last_name,omitempty"`
	// Department is the mapped department, a search filter and facet; empty
	// when unset.
	Department string `json:"department,omitempty"`
	// Division is the mapped division, a search filter and facet; empty
	// when unset.
	Division string `json:"division,omitempty"`
	// Office is the mapped office, a search filter and facet; empty when
	// unset.
	Office string `json:"office,omitempty"`
	// Title is the mapped job title; empty when unset.
	Title string `json:"title,omitempty"`
	// Tags are sorted by field then value (see NormalizeTags).
	Tags []mapping.Tag `json:"tags,omitempty"`
	// Active is false once the person is inactive or suspended at the
	// provider, gone from a completed listing, or switched off by the
	// mapping's active expression. Inactive users are kept, not deleted
	// (unless the org's delete policy says otherwise).
	Active bool `json:"active"`
	// Source is the provider record the profile was mapped from (JSON of a
	// mapping.Record).
	Source json.RawMessage `json:"source,omitempty"`
	// SourceHash and ProfileHash are HashSource and HashProfile of the record
	// and the mapped profile; each starts with its version.
	SourceHash string `json:"source_hash,omitempty"`
	// ProfileHash is HashProfile of the user; see SourceHash.
	ProfileHash string `json:"profile_hash,omitempty"`
	// MappingVersion is the version of the mapping that produced the
	// profile; a sync under another version remaps the user. A record that
	// failed to map keeps the previous value.
	MappingVersion string `json:"mapping_version,omitempty"`
	// ProviderUpdatedAt is the provider's updated_at last applied.
	ProviderUpdatedAt time.Time `json:"provider_updated_at,omitzero"`
	// Version is the row version: 1 on insert, +1 on every write. Writes are
	// compare-and-set on it.
	Version int64 `json:"version"`
	// CreatedAt is assigned by the store on insert and kept on update.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is assigned by the store on every write.
	UpdatedAt time.Time `json:"updated_at"`
	// DeactivatedAt is when the engine last saw the user turn inactive (or
	// first stored them inactive); nil while the user is active.
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	// Groups is filled by GetUser and Search (ID and name, sorted by name then
	// ID); it is ignored on write.
	Groups []GroupRef `json:"groups,omitempty"`
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	// ID is the group's library ID (Group.ID).
	ID string `json:"id"`
	// Name is the group's current name.
	Name string `json:"name"`
}

// Group is a directory group of one org and source.
type Group struct {
	// OrgID is the org the group belongs to.
	OrgID string `json:"org_id"`
	// SourceID is the provider source that lists the group.
	SourceID string `json:"source_id"`
	// ID is the library's ID for the group, assigned by the engine on
	// creation and stable across renames.
	ID string `json:"id"`
	// ExternalID is the provider's group ID, unique per (org, source).
	ExternalID string `json:"external_id"`
	// Name is the group's display name as the provider gives it; a rename
	// rewrites this one row, not the members.
	Name string `json:"name"`
	// Version is the row version, with the same compare-and-set rules as
	// User.Version.
	Version int64 `json:"version"`
	// CreatedAt is assigned by the store on insert and kept on update.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is assigned by the store on every write.
	UpdatedAt time.Time `json:"updated_at"`
}

// GroupSummary is a group with its number of members (active or not).
type GroupSummary struct {
	Group
	// MemberCount is the number of users in the group, active or not.
	MemberCount int `json:"member_count"`
}

// Membership links a user to a group of the same org.
type Membership struct {
	// UserID is the member's User.ID.
	UserID string `json:"user_id"`
	// GroupID is the group's Group.ID.
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
	Seq int64 `json:"seq"`
	// OrgID is assigned by the store from the ApplyRequest.
	OrgID string `json:"org_id"`
	// Kind is what happened to the subject.
	Kind ChangeKind `json:"kind"`
	// SubjectID is the user's ID; the group's for group_* kinds; the user's
	// for member_* kinds, with the group in After (added) or Before (removed).
	SubjectID string `json:"subject_id"`
	// Before holds only the changed fields' old values, keyed as Diff keys
	// them; empty for a creation and after RedactSubject.
	Before map[string]any `json:"before,omitempty"`
	// After holds the changed fields' new values; empty for a deletion and
	// after RedactSubject.
	After map[string]any `json:"after,omitempty"`
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
// In a dry run they count what the run would do. A relink that also
// reactivates counts in both Relinked and Reactivated.
type Counts struct {
	// Created counts users the run inserted, including people first seen
	// inactive.
	Created int `json:"created"`
	// Updated counts users whose mapped profile changed.
	Updated int `json:"updated"`
	// Deactivated counts users the run turned inactive; 0 while a halted
	// run holds its deactivations.
	Deactivated int `json:"deactivated"`
	// Reactivated counts inactive users the run made active again.
	Reactivated int `json:"reactivated"`
	// Relinked counts stored users matched by idp ID or email and given the
	// record's new external ID.
	Relinked int `json:"relinked"`
	// Unchanged counts records whose profile did not change, including
	// those whose source record alone was rewritten.
	Unchanged int `json:"unchanged"`
	// Skipped counts records and deactivations left for the next run:
	// records that failed validation or could not be created, writes older
	// than stored or kept conflicting, users written since the run started,
	// and deactivations of a source that is not linked.
	Skipped int `json:"skipped"`
	// Deleted counts users removed (with a tombstone) under the delete
	// policy instead of deactivated.
	Deleted int `json:"deleted"`
}

// RecordError is a per-record failure of a run.
type RecordError struct {
	// ExternalID is the provider's ID of the failing record or group
	// (truncated when overlong); empty for a run-wide problem or a record
	// without an ID.
	ExternalID string `json:"external_id"`
	// Field names the profile field, or a pseudo-field such as "id",
	// "source", "group" or "source_status", that failed; empty when the
	// failure is not about one field.
	Field string `json:"field,omitempty"`
	// Message says what was wrong, for people.
	Message string `json:"message"`
}

// MaxRunErrors bounds SyncRun.Errors; stores may truncate beyond it.
const MaxRunErrors = 100

// HeldDeactivation is one deactivation a halted run holds for approval.
// Approval applies it only if the user still has this external ID and
// source and is still active.
type HeldDeactivation struct {
	// UserID is the user's library ID.
	UserID string `json:"user_id"`
	// ExternalID is the user's provider ID when the run held it.
	ExternalID string `json:"external_id"`
}

// PlanItem is one change a dry run would make.
type PlanItem struct {
	// Kind is the journal entry the change would write.
	Kind ChangeKind `json:"kind"`
	// ExternalID is the provider ID of the record behind the change.
	ExternalID string `json:"external_id"`
	// UserID is the journal entry's subject: the stored user's ID, or for a
	// creation the ID the dry run made up (a real run assigns another).
	UserID string `json:"user_id,omitempty"`
	// Before holds the changed fields' old values, as in Change.Before.
	Before map[string]any `json:"before,omitempty"`
	// After holds the changed fields' new values, as in Change.After.
	After map[string]any `json:"after,omitempty"`
}

// SyncRun records one sync of one org's source.
type SyncRun struct {
	// ID is assigned by the engine, unique within the org; it is the Cause
	// of the run's journal entries.
	ID string `json:"id"`
	// OrgID is the org synced.
	OrgID string `json:"org_id"`
	// SourceID is the provider source synced.
	SourceID string `json:"source_id"`
	// Mode is full, dry run or remap.
	Mode RunMode `json:"mode"`
	// Status is where the run stands; UpdateRun compares and sets it.
	Status RunStatus `json:"status"`
	// StartSeq is the org's journal sequence when the run started.
	StartSeq int64 `json:"start_seq"`
	// StartedAt is when the engine created the run.
	StartedAt time.Time `json:"started_at"`
	// FinishedAt is when the run stopped (succeeded, failed or halted); nil
	// while it runs.
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// LeaseExpiresAt is when a running run counts as abandoned: a run still
	// running past it is reported as failed (see ListRuns).
	LeaseExpiresAt time.Time `json:"lease_expires_at,omitzero"`
	// Counts are the run's tallies so far.
	Counts Counts `json:"counts"`
	// Errors are per-record failures, the first ones only: the engine keeps
	// at most its configured bound, and stores may truncate beyond
	// MaxRunErrors.
	Errors []RecordError `json:"errors,omitempty"`
	// HaltReason says, for people, why the guard halted the run (how many
	// of how many active users it would deactivate); empty unless the run
	// halted. A dry run that would halt halts too, its reason prefixed
	// "dry run: ".
	HaltReason string `json:"halt_reason,omitempty"`
	// Held is the exact set of deactivations a halted run holds.
	Held []HeldDeactivation `json:"held,omitempty"`
	// ApprovedAt is when a halted run's held deactivations were approved;
	// nil until then. A run is approved at most once.
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	// Plan is a dry run's plan, bounded (see dirsync).
	Plan []PlanItem `json:"plan,omitempty"`
	// MappingVersion is the mapping the run applied.
	MappingVersion string `json:"mapping_version,omitempty"`
	// Error is the run's failure, if it failed.
	Error string `json:"error,omitempty"`
}

// ParkedEvent is a provider event the guard held for approval.
type ParkedEvent struct {
	// OrgID is the org the event was delivered for.
	OrgID string `json:"org_id"`
	// ID is the provider's event ID, unique per org; parking it twice
	// writes nothing.
	ID string `json:"id"`
	// Kind is the provider's event name, e.g. "dsync.user.deleted".
	Kind string `json:"event"`
	// DirectoryID is the provider directory the event is about, when known.
	DirectoryID string `json:"directory_id,omitempty"`
	// Payload is the event as received, replayed on approval.
	Payload json.RawMessage `json:"payload"`
	// ReceivedAt is when the engine parked the event (its clock).
	ReceivedAt time.Time `json:"received_at"`
	// Reason says, for people, why the event was held: the event budget
	// was exceeded, or a directory deletion (always held).
	Reason string `json:"reason"`
}

// Tombstone remembers a deleted person so that a late, out-of-order event
// cannot recreate them.
type Tombstone struct {
	// OrgID is the org of the deleted person.
	OrgID string `json:"org_id"`
	// SourceID is the source the person was deleted from.
	SourceID string `json:"source_id"`
	// ExternalID is the deleted person's provider ID; events for it are
	// ignored until ExpiresAt.
	ExternalID string `json:"external_id"`
	// DeletedAt is when the engine deleted the person.
	DeletedAt time.Time `json:"deleted_at"`
	// ExpiresAt ends the tombstone: DeletedAt plus the engine's tombstone
	// TTL, longer than the provider's webhook retry window.
	ExpiresAt time.Time `json:"expires_at"`
}

// Lease is an org's sync lease. Token is the fencing token: Apply with a
// lease fails unless the org's current lease has this token and has not
// expired.
type Lease struct {
	// OrgID is the leased org.
	OrgID string `json:"org_id"`
	// Holder names the process that took the lease (dirsync.Config.Holder).
	Holder string `json:"holder"`
	// Token is issued by the store, new on every acquisition.
	Token string `json:"token"`
	// ExpiresAt is when the lease lapses unless renewed; set by the store
	// from the requested TTL.
	ExpiresAt time.Time `json:"expires_at"`
}

// SourceState is what the store keeps per source between runs.
type SourceState struct {
	// OrgID is the org of the source.
	OrgID string `json:"org_id"`
	// SourceID is the source the state belongs to.
	SourceID string `json:"source_id"`
	// NextDueAt is when the scheduler next runs a full sync.
	NextDueAt time.Time `json:"next_due_at,omitzero"`
	// EventsCursor is the events poller's position; EventsCursorAt when it
	// was stored.
	EventsCursor string `json:"events_cursor,omitempty"`
	// EventsCursorAt is when EventsCursor was stored; zero when it never was.
	EventsCursorAt time.Time `json:"events_cursor_at,omitzero"`
	// MappingVersion is the mapping the last successful sync applied.
	MappingVersion string `json:"mapping_version,omitempty"`
}

// SnapshotEntry is the compact form of a stored user that a diff reads.
// Its fields are copies of the User fields of the same names (UserID is
// User.ID).
type SnapshotEntry struct {
	// ExternalID is the user's provider ID within the source.
	ExternalID string
	// UserID is the user's library ID.
	UserID string
	// SourceHash is User.SourceHash.
	SourceHash string
	// ProfileHash is User.ProfileHash.
	ProfileHash string
	// MappingVersion is User.MappingVersion.
	MappingVersion string
	// Active is User.Active.
	Active bool
	// ProviderUpdatedAt is User.ProviderUpdatedAt; zero when the provider
	// never gave one.
	ProviderUpdatedAt time.Time
	// Version is the row version, the compare-and-set a deactivation uses
	// so that a row written since the snapshot is not touched.
	Version int64
}

// Facets are value counts under a query; see Store.Facets.
// Each map goes from a value's label (the bytewise least original spelling
// among values that fold alike) to a number of users.
type Facets struct {
	// Department counts department values, ignoring the department filter.
	Department map[string]int `json:"department"`
	// Division counts division values, ignoring the division filter.
	Division map[string]int `json:"division"`
	// Office counts office values, ignoring the office filter.
	Office map[string]int `json:"office"`
	// Tag counts values of any tag field, ignoring the tag filter; a user
	// holding one value in two fields counts once.
	Tag map[string]int `json:"tag"`
	// TagFields counts each tag field's values, keyed by field name, also
	// ignoring the tag filter.
	TagFields map[string]map[string]int `json:"tag_fields"`
}

// Page is one page of search results.
type Page struct {
	// Users are the page's users in the query's sort order, each with its
	// groups; at most the query's limit.
	Users []User `json:"data"`
	// NextCursor continues the query; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}
