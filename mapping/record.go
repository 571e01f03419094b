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
	IdpID     string         `json:"idp_id,omitempty"`
	State     State          `json:"state"`
	Email     string         `json:"email,omitempty"`
	FirstName string         `json:"first_name,omitempty"`
	LastName  string         `json:"last_name,omitempty"`
	Username  string         `json:"username,omitempty"`
	JobTitle  string         `json:"job_title,omitempty"`
	Raw       map[string]any `json:"raw,omitempty"`
	Custom    map[string]any `json:"custom,omitempty"`
	// UpdatedAt is the provider's last-modified time. A record older than the
	// one a store holds never overwrites it.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Tag is one value of a named tag field.
type Tag struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Profile is the clean, mapped form of a person. Empty strings are unset.
type Profile struct {
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Email      string `json:"email,omitempty"`
	Department string `json:"department,omitempty"`
	Division   string `json:"division,omitempty"`
	Office     string `json:"office,omitempty"`
	Title      string `json:"title,omitempty"`
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
	Err        error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("mapping record %q field %s: %v", e.ExternalID, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }
