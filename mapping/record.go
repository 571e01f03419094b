package mapping

import (
	"fmt"
	"time"
)

// State is a directory user's state at the provider.
type State string

// The states a provider reports. Suspended counts as inactive.
const (
	StateActive    State = "active"
	StateInactive  State = "inactive"
	StateSuspended State = "suspended"
)

// Active reports whether s counts as active. Only StateActive does; an
// unknown state counts as inactive, so a feed that garbles states can never
// grant access (the guard protects against the opposite).
func (s State) Active() bool { return s == StateActive }

// Record is one person as a provider yields it, before mapping. It is what the
// store keeps as a user's source record, so a changed mapping can be applied
// again without calling the provider.
type Record struct {
	// ExternalID is the provider's stable user ID (a WorkOS directory user ID,
	// a CSV row's ID column). Required.
	ExternalID string `json:"id"`
	// IdpID is the identity provider's own ID for the person, which survives a
	// WorkOS user being deleted and recreated.
	IdpID string `json:"idp_id,omitempty"`
	// State is the provider's state for the person, kept in the provider's
	// word; only StateActive counts as active (see State.Active).
	State State `json:"state"`
	// Email is the provider's email address, unmapped and unfolded.
	// Expressions see it, like the other standard fields, as user.email.
	Email string `json:"email,omitempty"`
	// FirstName is the provider's first name (user.first_name).
	FirstName string `json:"first_name,omitempty"`
	// LastName is the provider's last name (user.last_name).
	LastName string `json:"last_name,omitempty"`
	// Username is the provider's username (user.username); empty when the
	// provider has none.
	Username string `json:"username,omitempty"`
	// JobTitle is the provider's job title (user.job_title).
	JobTitle string `json:"job_title,omitempty"`
	// Raw holds the provider's raw attributes (WorkOS raw_attributes, or
	// every column of a file row), seen by expressions as raw; nil when
	// there are none.
	Raw map[string]any `json:"raw,omitempty"`
	// Custom holds the provider's custom attributes (WorkOS
	// custom_attributes), seen by expressions as custom; nil when there are
	// none.
	Custom map[string]any `json:"custom,omitempty"`
	// UpdatedAt is the provider's last-modified time. A record older than the
	// one a store holds never overwrites it.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Tag is one value of a named tag field.
type Tag struct {
	// Field is the tag field's name, as the mapping's config names it
	// ([a-z][a-z0-9_]*).
	Field string `json:"field"`
	// Value is one value the field's expression yielded, cleaned like a
	// profile field; never empty in a Profile.
	Value string `json:"value"`
}

// Profile is the clean, mapped form of a person. Empty strings are unset.
//
// The library's mappers pass every string through Clean.
type Profile struct {
	// FirstName is the person's first name.
	FirstName string `json:"first_name,omitempty"`
	// LastName is the person's last name; the default search sort.
	LastName string `json:"last_name,omitempty"`
	// Email is the person's email address, as the mapping yields it (the
	// standard mapper lower-cases it).
	Email string `json:"email,omitempty"`
	// Department is the person's department, a search filter and facet.
	Department string `json:"department,omitempty"`
	// Division is the person's division, a search filter and facet.
	Division string `json:"division,omitempty"`
	// Office is the person's office, a search filter and facet.
	Office string `json:"office,omitempty"`
	// Title is the person's job title.
	Title string `json:"title,omitempty"`
	// Tags are sorted by field, then value, and unique by (field, folded value).
	Tags []Tag `json:"tags,omitempty"`
	// Active, when set, overrides the provider's state (a mapping's "active"
	// expression, for HRIS feeds that say "Terminated").
	Active *bool `json:"active,omitempty"`
}

// Mapper turns provider records into profiles. Implementations must be safe
// for concurrent use.
type Mapper interface {
	// Map maps one record. A failure is a *FieldError naming the record and
	// the field.
	Map(rec *Record) (Profile, error)
	// Version identifies the mapping (a hash of its canonical form); it is
	// recorded on the users it produced, and a change of version makes the
	// next sync re-map everyone.
	Version() string
}

// FieldError is a mapping failure of one field of one record.
type FieldError struct {
	ExternalID string // the record
	Field      string // the profile field, e.g. "department" or "tags.team"
	// Err is what went wrong, e.g. the expression's run-time error or a
	// value of the wrong type.
	Err error
}

// Error names the record, the field and the cause.
func (e *FieldError) Error() string {
	return fmt.Sprintf("mapping record %q field %s: %v", e.ExternalID, e.Field, e.Err)
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }
