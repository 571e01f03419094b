package dirsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// Remap applies mapper to every stored person of the source from their
// stored source records — no provider call — as a run of mode remap: the
// same diff, journal and guard as a sync (people whose mapped state turns
// inactive are deactivated through the guard; no one is deactivated as
// absent). When the run succeeds or halts, the Syncer uses mapper from then
// on, so the next Sync does not map everyone back.
func (s *Syncer) Remap(ctx context.Context, mapper mapping.Mapper) (store.SyncRun, error) {
	if mapper == nil {
		return store.SyncRun{}, errors.New("dirsync: Remap needs a mapper")
	}
	run, err := s.execute(ctx, execSpec{
		mode: store.ModeRemap, mapper: mapper, record: true,
		list: func(ctx context.Context, fn func([]mapping.Record) error) error {
			return storedRecords(ctx, s.st, s.cfg.OrgID, s.source, s.logf, fn)
		},
	})
	if run.Status == store.RunSucceeded || run.Status == store.RunHalted {
		s.SetMapper(mapper)
	}
	return run, err
}

// storedRecords streams the source's stored users' source records in pages
// of up to 1000. Users without a decodable source record are skipped (they
// cannot be mapped again until the provider lists them).
func storedRecords(ctx context.Context, st store.Store, org, source string, logf func(string, error), fn func([]mapping.Record) error) error {
	var exts []string
	err := st.Snapshot(ctx, org, source, func(e store.SnapshotEntry) error {
		exts = append(exts, e.ExternalID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the store's snapshot: %w", err)
	}
	slices.Sort(exts)
	for start := 0; start < len(exts); start += loadChunk {
		us, err := st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: org, SourceID: source, ExternalIDs: exts[start:min(start+loadChunk, len(exts))]})
		if err != nil {
			return fmt.Errorf("loading stored users: %w", err)
		}
		page := make([]mapping.Record, 0, len(us))
		for i := range us {
			u := &us[i]
			if u.SourceID != source || len(u.Source) == 0 {
				continue
			}
			var rec mapping.Record
			if err := json.Unmarshal(u.Source, &rec); err != nil || rec.ExternalID != u.ExternalID {
				if logf != nil {
					logf(fmt.Sprintf("stored source record of user %s cannot be decoded; not remapped", u.ID), err)
				}
				continue
			}
			page = append(page, rec)
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// PreviewRequest asks Preview what a mapping would change.
type PreviewRequest struct {
	// OrgID is the org whose stored people are previewed. Required.
	OrgID string
	// SourceID is the source whose stored people are remapped, from the
	// source records kept with them (the provider is not called). Required.
	SourceID string
	// Mapper is the changed mapping. Required.
	Mapper mapping.Mapper
	// Guard is the org's guard, to tell whether applying the mapping
	// would halt. Defaults to {0.2, 10}.
	Guard Guard
	// Examples bounds the examples kept per field. Defaults to 5.
	Examples int
}

// PreviewExample is one person whose profile a mapping would change.
type PreviewExample struct {
	// UserID is the stored user's library ID.
	UserID string `json:"user_id"`
	// ExternalID is the user's provider ID.
	ExternalID string `json:"external_id"`
	// Before holds the changed fields' stored values, keyed as store.Diff
	// keys them.
	Before map[string]any `json:"before,omitempty"`
	// After holds the values the mapping would give those fields.
	After map[string]any `json:"after,omitempty"`
}

// PreviewReport is what a changed mapping would do to the stored people.
type PreviewReport struct {
	// MappingVersion is the Version of the previewed mapper.
	MappingVersion string `json:"mapping_version"`
	// Users is the number of stored people examined.
	Users int `json:"users"`
	// Changed is the number of people whose profile would change.
	Changed int `json:"changed"`
	// Fields counts, per field ("department", "tags.team", "active", …),
	// the people whose field would change.
	Fields map[string]int `json:"fields"`
	// Examples holds up to PreviewRequest.Examples people per field.
	Examples map[string][]PreviewExample `json:"examples"`
	// Deactivated counts active people the mapping's "active" expression
	// would deactivate; when the guard would halt, the deactivations it
	// would hold.
	Deactivated int `json:"deactivated"`
	// Reactivated counts inactive people the "active" expression would
	// make active again.
	Reactivated int `json:"reactivated"`
	// Failed is the number of records the mapping fails on; Errors the
	// first of them.
	Failed int `json:"failed"`
	// Errors are the first record failures, at most store.MaxRunErrors.
	Errors []store.RecordError `json:"errors,omitempty"`
	// WouldFail is set when more than 10 % of the records fail to map, so
	// Syncer.Remap would fail.
	WouldFail bool `json:"would_fail"`
	// WouldHalt is set when Syncer.Remap would halt at the guard.
	WouldHalt bool `json:"would_halt"`
	// HaltReason says why the guard would halt, prefixed "dry run: "; empty
	// unless WouldHalt.
	HaltReason string `json:"halt_reason,omitempty"`
}

// Preview shows, against st, what mapping the source's stored people with
// req.Mapper would change, writing nothing — not even a run record.
func Preview(ctx context.Context, st store.Store, req PreviewRequest) (PreviewReport, error) {
	if st == nil || req.Mapper == nil {
		return PreviewReport{}, errors.New("dirsync: Preview needs a store and a mapper")
	}
	if err := store.ValidateOrgID(req.OrgID); err != nil {
		return PreviewReport{}, fmt.Errorf("dirsync: Preview: %w", err)
	}
	if req.SourceID == "" {
		return PreviewReport{}, errors.New("dirsync: Preview needs a source ID")
	}
	if req.Examples <= 0 {
		req.Examples = 5
	}
	cfg := Config{OrgID: req.OrgID, Mapper: req.Mapper, Guard: req.Guard}
	cfg.setDefaults()
	cfg.PlanLimit = 0 // the callback below sees everything; keep nothing
	s := &Syncer{st: st, cfg: cfg, source: req.SourceID}
	s.mapper.Store(&mapperBox{req.Mapper})
	s.pairs.init()

	rep := PreviewReport{MappingVersion: req.Mapper.Version(), Fields: map[string]int{}, Examples: map[string][]PreviewExample{}}
	plan := func(p store.PlanItem) error {
		switch p.Kind {
		case store.ChangeDeactivated:
			rep.Deactivated++
		case store.ChangeReactivated:
			rep.Reactivated++
		}
		rep.Changed++
		ex := PreviewExample{UserID: p.UserID, ExternalID: p.ExternalID, Before: p.Before, After: p.After}
		for _, f := range sortedFieldNames(p.Before, p.After) {
			rep.Fields[f]++
			if len(rep.Examples[f]) < req.Examples {
				rep.Examples[f] = append(rep.Examples[f], ex)
			}
		}
		return nil
	}
	var stats runStats
	run, err := s.execute(ctx, execSpec{
		mode: store.ModeRemap, mapper: req.Mapper, dry: true, plan: plan, stats: &stats,
		list: func(ctx context.Context, fn func([]mapping.Record) error) error {
			return storedRecords(ctx, st, req.OrgID, req.SourceID, nil, fn)
		},
	})
	rep.Users, rep.Failed, rep.Errors = stats.total, stats.failed, run.Errors
	if run.HaltReason != "" {
		rep.WouldHalt, rep.HaltReason = true, run.HaltReason
		rep.Deactivated = len(run.Held)
	}
	if stats.failed*10 > stats.total {
		// Remap would fail the run; the report says why.
		rep.WouldFail = true
		return rep, nil
	}
	if err != nil && !errors.Is(err, ErrHalted) {
		return rep, err
	}
	return rep, nil
}

func sortedFieldNames(a, b map[string]any) []string {
	m := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		m[k] = struct{}{}
	}
	for k := range b {
		m[k] = struct{}{}
	}
	return sortedKeys(m)
}
