package workos

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

// wireUser is the part of a WorkOS directory user the library reads; the SDK's
// directorysync.User has the same field names but keeps the attribute maps as
// raw JSON, which would then be decoded a second time.
type wireUser struct {
	ID          string         `json:"id"`
	IdpID       string         `json:"idp_id"`
	DirectoryID string         `json:"directory_id"`
	Email       string         `json:"email"`
	Emails      []wireEmail    `json:"emails"`
	FirstName   string         `json:"first_name"`
	LastName    string         `json:"last_name"`
	Username    string         `json:"username"`
	JobTitle    string         `json:"job_title"`
	State       string         `json:"state"`
	Raw         map[string]any `json:"raw_attributes"`
	Custom      map[string]any `json:"custom_attributes"`
	UpdatedAt   string         `json:"updated_at"`
}

type wireEmail struct {
	Primary bool   `json:"primary"`
	Value   string `json:"value"`
}

type wireListMetadata struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

type wireUsersPage struct {
	Data         []wireUser       `json:"data"`
	ListMetadata wireListMetadata `json:"list_metadata"`
}

type wireIDsPage struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
	ListMetadata wireListMetadata `json:"list_metadata"`
}

type wireGroup struct {
	ID          string `json:"id"`
	DirectoryID string `json:"directory_id"`
	Name        string `json:"name"`
	UpdatedAt   string `json:"updated_at"`
}

// record turns a WorkOS directory user into a mapping.Record.
func (u *wireUser) record() (mapping.Record, error) {
	if u.ID == "" {
		return mapping.Record{}, errors.New("directory user has no id")
	}
	rec := mapping.Record{
		ExternalID: u.ID,
		IdpID:      u.IdpID,
		State:      mapping.State(u.State),
		Email:      u.Email,
		FirstName:  u.FirstName,
		LastName:   u.LastName,
		Username:   u.Username,
		JobTitle:   u.JobTitle,
		Custom:     u.Custom,
	}
	if rec.Email == "" {
		for _, e := range u.Emails {
			if e.Primary && e.Value != "" {
				rec.Email = e.Value
				break
			}
		}
	}
	if len(u.Raw) > 0 {
		rec.Raw = u.Raw
	}
	if len(rec.Custom) == 0 {
		rec.Custom = nil
	}
	if u.UpdatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, u.UpdatedAt)
		if err != nil {
			return mapping.Record{}, fmt.Errorf("directory user %q: updated_at %q is not an RFC 3339 time", truncate(u.ID, 64), truncate(u.UpdatedAt, 64))
		}
		rec.UpdatedAt = t
	}
	return rec, nil
}

func (g *wireGroup) group() (dirsync.ProviderGroup, error) {
	if g.ID == "" {
		return dirsync.ProviderGroup{}, errors.New("directory group has no id")
	}
	pg := dirsync.ProviderGroup{ExternalID: g.ID, Name: g.Name}
	if g.UpdatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, g.UpdatedAt)
		if err != nil {
			return dirsync.ProviderGroup{}, fmt.Errorf("directory group %q: updated_at %q is not an RFC 3339 time", truncate(g.ID, 64), truncate(g.UpdatedAt, 64))
		}
		pg.UpdatedAt = t
	}
	return pg, nil
}

// decodeUsersPage decodes one page of /directory_users into records,
// appending to recs.
func decodeUsersPage(body []byte, recs []mapping.Record) ([]mapping.Record, wireListMetadata, error) {
	var page wireUsersPage
	if err := json.Unmarshal(body, &page); err != nil {
		return recs, wireListMetadata{}, fmt.Errorf("decoding directory users page: %w", err)
	}
	for i := range page.Data {
		rec, err := page.Data[i].record()
		if err != nil {
			return recs, wireListMetadata{}, fmt.Errorf("decoding directory users page: user %d: %w", i, err)
		}
		recs = append(recs, rec)
	}
	return recs, page.ListMetadata, nil
}

// MaxEventBytes bounds an event payload DecodeEvent accepts.
const MaxEventBytes = 1 << 20

// ErrUnsupportedEvent is returned by DecodeEvent for an event that is not
// one of the dsync.* kinds the library applies (connection.*, user.*, …).
var ErrUnsupportedEvent = errors.New("workos: unsupported event kind")

var eventKinds = map[string]dirsync.EventKind{
	"dsync.user.created":       dirsync.EventUserCreated,
	"dsync.user.updated":       dirsync.EventUserUpdated,
	"dsync.user.deleted":       dirsync.EventUserDeleted,
	"dsync.group.created":      dirsync.EventGroupCreated,
	"dsync.group.updated":      dirsync.EventGroupUpdated,
	"dsync.group.deleted":      dirsync.EventGroupDeleted,
	"dsync.group.user_added":   dirsync.EventGroupUserAdded,
	"dsync.group.user_removed": dirsync.EventGroupUserRemoved,
	"dsync.deleted":            dirsync.EventDirectoryDeleted,
	"dsync.activated":          dirsync.EventDirectoryActivate,
}

// dsyncEventNames are the event names the poller asks the Events API for.
var dsyncEventNames = []string{
	"dsync.activated", "dsync.deleted",
	"dsync.user.created", "dsync.user.updated", "dsync.user.deleted",
	"dsync.group.created", "dsync.group.updated", "dsync.group.deleted",
	"dsync.group.user_added", "dsync.group.user_removed",
}

type wireEvent struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
}

// wireMembership is the data of dsync.group.user_added / user_removed.
type wireMembership struct {
	DirectoryID string     `json:"directory_id"`
	User        *wireUser  `json:"user"`
	Group       *wireGroup `json:"group"`
}

// wireDirectory is the data of dsync.activated / dsync.deleted.
type wireDirectory struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// DecodeEvent decodes a WorkOS event — a webhook body or one entry of the
// Events API — into a dirsync.Event whose Payload is a copy of payload. An
// event kind the library does not apply yields an error wrapping
// ErrUnsupportedEvent (with the event's ID and name set on the returned
// Event); any other error names what was malformed.
func DecodeEvent(payload []byte) (dirsync.Event, error) {
	if len(payload) > MaxEventBytes {
		return dirsync.Event{}, fmt.Errorf("workos event: %d bytes exceed the %d-byte limit", len(payload), MaxEventBytes)
	}
	var w wireEvent
	if err := json.Unmarshal(payload, &w); err != nil {
		return dirsync.Event{}, fmt.Errorf("workos event: %w", err)
	}
	return decodeWireEvent(&w, payload)
}

func decodeWireEvent(w *wireEvent, payload []byte) (dirsync.Event, error) {
	if w.ID == "" {
		return dirsync.Event{}, errors.New("workos event: missing id")
	}
	if w.Event == "" {
		return dirsync.Event{}, fmt.Errorf("workos event %q: missing event name", truncate(w.ID, 64))
	}
	ev := dirsync.Event{ID: w.ID, ProviderKind: w.Event}
	kind, ok := eventKinds[w.Event]
	if !ok {
		return ev, fmt.Errorf("workos event %q: %w: %q", truncate(w.ID, 64), ErrUnsupportedEvent, truncate(w.Event, 64))
	}
	ev.Kind = kind
	if w.CreatedAt == "" {
		return dirsync.Event{}, fmt.Errorf("workos event %q: missing created_at", truncate(w.ID, 64))
	}
	t, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
	if err != nil {
		return dirsync.Event{}, fmt.Errorf("workos event %q: created_at %q is not an RFC 3339 time", truncate(w.ID, 64), truncate(w.CreatedAt, 64))
	}
	ev.OccurredAt = t
	if len(w.Data) == 0 || string(w.Data) == "null" {
		return dirsync.Event{}, fmt.Errorf("workos event %q: missing data", truncate(w.ID, 64))
	}
	switch kind {
	case dirsync.EventUserCreated, dirsync.EventUserUpdated, dirsync.EventUserDeleted:
		var u wireUser
		if err := json.Unmarshal(w.Data, &u); err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: data: %w", truncate(w.ID, 64), err)
		}
		rec, err := u.record()
		if err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: %w", truncate(w.ID, 64), err)
		}
		ev.DirectoryID, ev.User = u.DirectoryID, &rec
	case dirsync.EventGroupCreated, dirsync.EventGroupUpdated, dirsync.EventGroupDeleted:
		var g wireGroup
		if err := json.Unmarshal(w.Data, &g); err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: data: %w", truncate(w.ID, 64), err)
		}
		pg, err := g.group()
		if err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: %w", truncate(w.ID, 64), err)
		}
		ev.DirectoryID, ev.Group = g.DirectoryID, &pg
	case dirsync.EventGroupUserAdded, dirsync.EventGroupUserRemoved:
		var m wireMembership
		if err := json.Unmarshal(w.Data, &m); err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: data: %w", truncate(w.ID, 64), err)
		}
		if m.User == nil || m.Group == nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: membership event needs data.user and data.group", truncate(w.ID, 64))
		}
		rec, err := m.User.record()
		if err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: %w", truncate(w.ID, 64), err)
		}
		pg, err := m.Group.group()
		if err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: %w", truncate(w.ID, 64), err)
		}
		ev.DirectoryID = m.DirectoryID
		if ev.DirectoryID == "" {
			ev.DirectoryID = m.User.DirectoryID
		}
		ev.User, ev.Group = &rec, &pg
	case dirsync.EventDirectoryDeleted, dirsync.EventDirectoryActivate:
		var d wireDirectory
		if err := json.Unmarshal(w.Data, &d); err != nil {
			return dirsync.Event{}, fmt.Errorf("workos event %q: data: %w", truncate(w.ID, 64), err)
		}
		ev.DirectoryID = d.ID
	}
	if ev.DirectoryID == "" {
		return dirsync.Event{}, fmt.Errorf("workos event %q: data names no directory", truncate(w.ID, 64))
	}
	ev.Payload = append(json.RawMessage(nil), payload...)
	return ev, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
