// Package demo holds the bundled demo directory the reference server and the
// CLI use when no configuration is given: about 500 people of a fictional
// company in a raw, Okta-like layout that needs a mapping, with non-ASCII
// names, several departments, divisions, offices and tags, groups, and a few
// people deprovisioned.
package demo

import (
	"bytes"
	_ "embed"
	"io"

	"github.com/directorysync/directorysync/mapping"
)

//go:embed people.jsonl
var people []byte

// People returns the demo directory as JSON lines: one object per person,
// {"id", "status", "profile": {…}, "groups": [...]}.
func People() []byte { return people }

// Open returns a reader of People, for fileprovider.Config.Open.
func Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(people)), nil }

// Mapping is the mapping that turns the demo layout into profiles.
func Mapping() mapping.Config {
	return mapping.Config{
		FirstName:  "raw.profile.firstName",
		LastName:   "raw.profile.lastName",
		Email:      "lower(raw.profile.email)",
		Department: "raw.profile.department",
		Division:   "raw.profile.division",
		Office:     "raw.profile.city",
		Title:      "raw.profile.title",
		Active:     `raw.status == "ACTIVE"`,
		Tags: map[string]string{
			"cost_center": "raw.profile.costCenter",
			"employment":  "raw.profile.employeeType",
			"team":        "raw.profile.team",
		},
	}
}

// GroupsField and IDField are the keys of the demo layout a file provider
// needs.
const (
	IDField     = "id"
	GroupsField = "groups"
)
