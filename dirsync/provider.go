package dirsync

import (
	"context"
	"encoding/json"
	"time"

	"github.com/directorysync/directorysync/mapping"
)

// Provider is one source of an org's people: a WorkOS directory, a file, a
// SCIM endpoint. Listings are streamed page by page; a listing either
// completes (the method returns nil after the last page) or fails (it
// returns an error) — a Syncer deactivates no one after a failed listing.
// Implementations must be safe for concurrent use and must respect ctx.
type Provider interface {
	// SourceID names the source within its org, e.g. "workos:directory_01H…"
	// or "file:people.csv". It must be stable: users are scoped by it.
	SourceID() string
	// Status reports whether the source may deactivate people now.
	Status(ctx context.Context) (SourceStatus, error)
	// Users calls fn with each page of user records, in provider order.
	// An error from fn stops the listing and is returned.
	Users(ctx context.Context, fn func(page []mapping.Record) error) error
	// Groups calls fn with each page of groups.
	Groups(ctx context.Context, fn func(page []ProviderGroup) error) error
	// GroupMembers calls fn with each page of the external user IDs of one
	// group's members.
	GroupMembers(ctx context.Context, groupExternalID string, fn func(userExternalIDs []string) error) error
}

// SourceStatus is a source's state at the provider.
type SourceStatus struct {
	// Linked is false when the source is not in a state whose listings can
	// be trusted to deactivate anyone (a WorkOS directory that is not
	// "linked", being set up, or invalid credentials).
	Linked bool
	// State is the provider's own word for it, for messages.
	State string
}

// ProviderGroup is a group as a provider lists it.
type ProviderGroup struct {
	// ExternalID is the provider's group ID, stable for the group's life;
	// required, at most 512 bytes (a group without one is reported as a
	// record error and skipped).
	ExternalID string `json:"id"`
	// Name is the group's display name, at most 1024 bytes; the engine
	// cleans it (mapping.Clean) before storing it.
	Name string `json:"name"`
	// UpdatedAt is the provider's last-modified time for the group; zero
	// when the provider gives none. The engine does not use it yet.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// EventKind is a provider-neutral event type.
type EventKind string

// The event kinds a Syncer applies. The WorkOS adapter maps dsync.* event
// names to these.
const (
	EventUserCreated       EventKind = "user.created"
	EventUserUpdated       EventKind = "user.updated"
	EventUserDeleted       EventKind = "user.deleted"
	EventGroupCreated      EventKind = "group.created"
	EventGroupUpdated      EventKind = "group.updated"
	EventGroupDeleted      EventKind = "group.deleted"
	EventGroupUserAdded    EventKind = "group.user_added"
	EventGroupUserRemoved  EventKind = "group.user_removed"
	EventDirectoryDeleted  EventKind = "directory.deleted"
	EventDirectoryActivate EventKind = "directory.activated"
)

// Event is one provider event, decoded.
type Event struct {
	// ID is the provider's event ID; events are deduplicated by it.
	ID string
	// Kind is the provider-neutral event type that decides how the event is
	// applied; the adapter that decoded the event sets it.
	Kind EventKind
	// ProviderKind is the provider's own name, e.g. "dsync.user.updated".
	ProviderKind string
	// DirectoryID is the provider's directory the event is about.
	DirectoryID string
	// OccurredAt is the event's own time; membership events for one
	// (user, group) are ordered by it.
	OccurredAt time.Time
	// User is set for user.* events, and for membership events (the member).
	User *mapping.Record
	// Group is set for group.* events and membership events.
	Group *ProviderGroup
	// Payload is the event as received, kept when the event is parked.
	Payload json.RawMessage
}

// EventOutcome says what ApplyEvent did with an event.
type EventOutcome string

// The outcomes of ApplyEvent.
const (
	EventApplied   EventOutcome = "applied"   // written, with its processed-event mark
	EventDuplicate EventOutcome = "duplicate" // already processed (or parked); nothing written
	EventStale     EventOutcome = "stale"     // older than what is stored; only the mark was written
	EventParked    EventOutcome = "parked"    // held by the guard for approval
	EventIgnored   EventOutcome = "ignored"   // not about this source, or a kind that changes nothing
)

// EventResult is what Syncer.ApplyEvent reports. An event is stored (applied,
// marked or parked) before ApplyEvent returns without error, so a webhook
// may be acknowledged then.
type EventResult struct {
	// Outcome is what ApplyEvent did with the event.
	Outcome EventOutcome
	// Changes is the number of journal entries written.
	Changes int
	// Reason explains a parked or ignored event.
	Reason string
}
