package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
)

// Hash versions. A change of canonical form bumps the version, so a stored
// hash of an older version reads as "changed" once and is rewritten without
// a journal entry (source) or compared field by field (profile) instead of
// producing a journal storm.
const (
	SourceHashVersion  = "s1"
	ProfileHashVersion = "p1"
)

// HashSource returns the versioned hash of a provider record's canonical
// JSON form (encoding/json sorts map keys, so equal records hash equally).
func HashSource(rec *mapping.Record) string {
	_, h, _ := EncodeSource(rec)
	return h
}

// EncodeSource returns a provider record's canonical JSON form (what
// User.Source keeps) with its HashSource hash, so that a sync encodes a
// record once. A record that cannot be encoded returns the error and a hash
// that never matches a stored one, so the record is re-diffed.
func EncodeSource(rec *mapping.Record) ([]byte, string, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, hashWith(SourceHashVersion, fmt.Appendf(nil, "unmarshalable:%v", err)), err
	}
	return b, hashWith(SourceHashVersion, b), nil
}

// HashProfile returns the versioned hash of everything a sync compares
// about a person: the mapped profile, the state the user will have, and the
// provider IDs.
func HashProfile(u *User) string {
	var b strings.Builder
	for _, s := range []string{u.ExternalID, u.IdpID, u.Email, u.FirstName, u.LastName, u.Department, u.Division, u.Office, u.Title} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, t := range u.Tags {
		b.WriteString(t.Field)
		b.WriteByte(1)
		b.WriteString(t.Value)
		b.WriteByte(0)
	}
	if u.Active {
		b.WriteByte('A')
	}
	return hashWith(ProfileHashVersion, []byte(b.String()))
}

func hashWith(version string, b []byte) string {
	sum := sha256.Sum256(b)
	return version + ":" + hex.EncodeToString(sum[:16])
}

// NormalizeTags sorts tags by field then value and drops empty values and
// values that fold alike within one field (keeping the first spelling).
func NormalizeTags(tags []mapping.Tag) []mapping.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]mapping.Tag, 0, len(tags))
	seen := make(map[[2]string]struct{}, len(tags))
	for _, t := range tags {
		if t.Value == "" || t.Field == "" {
			continue
		}
		k := [2]string{t.Field, search.Fold(t.Value)}
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b mapping.Tag) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Value, b.Value))
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// TagFields groups tags by field name.
func TagFields(tags []mapping.Tag) map[string][]string {
	if len(tags) == 0 {
		return map[string][]string{}
	}
	m := make(map[string][]string)
	for _, t := range tags {
		m[t.Field] = append(m[t.Field], t.Value)
	}
	return m
}

// Diff returns the fields that differ between two versions of a user, as
// the journal keeps them: strings for profile fields and IDs, a bool for
// "active", and []string for each changed tag field as "tags.<field>".
// Timestamps, versions, hashes and the source record are not fields. Every
// store and the engine use this one function.
func Diff(before, after *User) (b, a map[string]any) {
	b, a = map[string]any{}, map[string]any{}
	str := func(name, x, y string) {
		if x != y {
			if x != "" {
				b[name] = x
			}
			if y != "" {
				a[name] = y
			}
		}
	}
	str("external_id", before.ExternalID, after.ExternalID)
	str("idp_id", before.IdpID, after.IdpID)
	str("email", before.Email, after.Email)
	str("first_name", before.FirstName, after.FirstName)
	str("last_name", before.LastName, after.LastName)
	str("department", before.Department, after.Department)
	str("division", before.Division, after.Division)
	str("office", before.Office, after.Office)
	str("title", before.Title, after.Title)
	if before.Active != after.Active {
		b["active"], a["active"] = before.Active, after.Active
	}
	bt, at := TagFields(before.Tags), TagFields(after.Tags)
	for _, f := range unionKeys(bt, at) {
		if !slices.Equal(bt[f], at[f]) {
			if v := bt[f]; len(v) > 0 {
				b["tags."+f] = v
			}
			if v := at[f]; len(v) > 0 {
				a["tags."+f] = v
			}
		}
	}
	if len(b) == 0 {
		b = nil
	}
	if len(a) == 0 {
		a = nil
	}
	return b, a
}

func unionKeys(x, y map[string][]string) []string {
	keys := make([]string, 0, len(x)+len(y))
	for k := range x {
		keys = append(keys, k)
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// DecodeFields decodes a change's Before or After from JSON with the value
// types Diff produces ([]string rather than []any), so that every store
// returns journal entries that compare equal to what was written.
func DecodeFields(b []byte) (map[string]any, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		if arr, ok := v.([]any); ok {
			ss := make([]string, 0, len(arr))
			for _, x := range arr {
				s, ok := x.(string)
				if !ok {
					ss = nil
					break
				}
				ss = append(ss, s)
			}
			if ss != nil || len(arr) == 0 {
				m[k] = ss
			}
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

var orgIDPattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ValidateOrgID checks an org ID: 1 to 64 characters of [a-z0-9_-].
func ValidateOrgID(id string) error {
	if !orgIDPattern.MatchString(id) {
		return fmt.Errorf("%w: org ID %q must be 1 to 64 characters of a-z, 0-9, _ and -", ErrInvalid, id)
	}
	return nil
}
