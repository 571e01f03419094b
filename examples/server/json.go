package main

import (
	"time"

	"github.com/directorysync/directorysync/store"
)

// userJSON is DESIGN.md's User.
type userJSON struct {
	ID         string              `json:"id"`
	OrgID      string              `json:"org_id"`
	ExternalID string              `json:"external_id"`
	IdpID      string              `json:"idp_id"`
	Email      string              `json:"email"`
	FirstName  string              `json:"first_name"`
	LastName   string              `json:"last_name"`
	Department string              `json:"department"`
	Division   string              `json:"division"`
	Office     string              `json:"office"`
	Title      string              `json:"title"`
	Tags       []string            `json:"tags"`
	TagFields  map[string][]string `json:"tag_fields"`
	Groups     []store.GroupRef    `json:"groups"`
	Active     bool                `json:"active"`
	CreatedAt  time.Time           `json:"created_at"`
	UpdatedAt  time.Time           `json:"updated_at"`
}

func toUserJSON(u *store.User) userJSON {
	tags := make([]string, 0, len(u.Tags))
	seen := map[string]bool{}
	for _, t := range u.Tags {
		if !seen[t.Value] {
			seen[t.Value] = true
			tags = append(tags, t.Value)
		}
	}
	groups := u.Groups
	if groups == nil {
		groups = []store.GroupRef{}
	}
	return userJSON{
		ID: u.ID, OrgID: u.OrgID, ExternalID: u.ExternalID, IdpID: u.IdpID, Email: u.Email,
		FirstName: u.FirstName, LastName: u.LastName, Department: u.Department, Division: u.Division,
		Office: u.Office, Title: u.Title, Tags: tags, TagFields: store.TagFields(u.Tags), Groups: groups,
		Active: u.Active, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// runJSON is DESIGN.md's SyncRun.
type runJSON struct {
	ID          string              `json:"id"`
	OrgID       string              `json:"org_id"`
	Mode        store.RunMode       `json:"mode"`
	Status      store.RunStatus     `json:"status"`
	StartedAt   time.Time           `json:"started_at"`
	FinishedAt  *time.Time          `json:"finished_at"`
	Created     int                 `json:"created"`
	Updated     int                 `json:"updated"`
	Deactivated int                 `json:"deactivated"`
	Reactivated int                 `json:"reactivated"`
	Relinked    int                 `json:"relinked"`
	Unchanged   int                 `json:"unchanged"`
	Skipped     int                 `json:"skipped"`
	Errors      []store.RecordError `json:"errors"`
	HaltReason  string              `json:"halt_reason,omitempty"`
	Held        int                 `json:"held"`
	ApprovedAt  *time.Time          `json:"approved_at,omitempty"`
	Error       string              `json:"error,omitempty"`
	Plan        []store.PlanItem    `json:"plan,omitempty"`
}

func toRunJSON(r store.SyncRun, withPlan bool) runJSON {
	errs := r.Errors
	if errs == nil {
		errs = []store.RecordError{}
	}
	out := runJSON{
		ID: r.ID, OrgID: r.OrgID, Mode: r.Mode, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Created: r.Counts.Created, Updated: r.Counts.Updated, Deactivated: r.Counts.Deactivated,
		Reactivated: r.Counts.Reactivated, Relinked: r.Counts.Relinked, Unchanged: r.Counts.Unchanged,
		Skipped: r.Counts.Skipped, Errors: errs, HaltReason: r.HaltReason, Held: len(r.Held),
		ApprovedAt: r.ApprovedAt, Error: r.Error,
	}
	if withPlan && r.Mode == store.ModeDryRun {
		out.Plan = r.Plan
		if out.Plan == nil {
			out.Plan = []store.PlanItem{}
		}
	}
	return out
}

func nonNilFacets(f store.Facets) store.Facets {
	for _, m := range []*map[string]int{&f.Department, &f.Division, &f.Office, &f.Tag} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
	if f.TagFields == nil {
		f.TagFields = map[string]map[string]int{}
	}
	return f
}
