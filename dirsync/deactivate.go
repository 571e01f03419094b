package dirsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/directorysync/directorysync/store"
)

// deactivate is the end of a run whose listing completed: it gathers the
// users inactive at the provider and (for a full listing) the active users
// the listing lacked, checks the source status and the guard, and applies
// them — or halts the run holding them.
func (r *runState) deactivate() error {
	s := r.s
	cands := r.pending
	if r.spec.absence {
		for i := range r.entries {
			e := &r.entries[i]
			if !e.seen && e.Active {
				cands = append(cands, pendingDeactivation{userID: e.UserID, externalID: e.ExternalID, version: e.Version})
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if r.spec.status {
		st, err := s.cfg.Provider.Status(r.ctx)
		if err != nil {
			return fmt.Errorf("reading the source's status, so no one was deactivated: %w", err)
		}
		if !st.Linked {
			r.counts.Skipped += len(cands)
			r.addErr(store.RecordError{Field: "source_status",
				Message: fmt.Sprintf("the source is not linked (state %q): %d deactivations skipped", st.State, len(cands))})
			return nil
		}
	}
	if limit := s.cfg.Guard.limit(r.active); len(cands) > limit {
		held := make([]store.HeldDeactivation, len(cands))
		for i, c := range cands {
			held[i] = store.HeldDeactivation{UserID: c.userID, ExternalID: c.externalID}
		}
		r.mu.Lock()
		r.run.Held = held
		r.mu.Unlock()
		if r.active < s.cfg.Guard.MinUsers {
			r.haltedBy = fmt.Sprintf("the run would deactivate all %d active users of a source with fewer than %d", r.active, s.cfg.Guard.MinUsers)
		} else {
			r.haltedBy = fmt.Sprintf("the run would deactivate %d of %d active users, more than %g %%", len(cands), r.active, s.cfg.Guard.MaxDeactivateFraction*100)
		}
		if r.spec.dry {
			r.haltedBy = "dry run: " + r.haltedBy
			// The plan shows who would be held, so an operator can judge
			// the halt before it happens.
			for _, c := range cands {
				d := decision{write: store.UserWrite{User: store.User{ExternalID: c.externalID}},
					changes: []store.Change{{Kind: store.ChangeDeactivated, SubjectID: c.userID,
						Before: map[string]any{"active": true}, After: map[string]any{"active": false}}}}
				if err := r.emitPlan(&d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return r.applyDeactivations(cands)
}

// applyDeactivations applies cands in batches. Each write is a CAS on the
// version the snapshot read, so a user written since the run started (by an
// event) fails it and is skipped.
func (r *runState) applyDeactivations(cands []pendingDeactivation) error {
	s := r.s
	bs := s.cfg.BatchSize
	for start := 0; start < len(cands); start += bs {
		batch := cands[start:min(start+bs, len(cands))]
		// Rows of the people absent from the listing.
		var exts []string
		for _, c := range batch {
			if c.d == nil {
				exts = append(exts, c.externalID)
			}
		}
		rows := map[string]*store.User{}
		if len(exts) > 0 {
			us, err := loadByExternalID(r.ctx, s.st, s.cfg.OrgID, s.source, exts)
			if err != nil {
				return fmt.Errorf("loading users to deactivate: %w", err)
			}
			for i := range us {
				if us[i].SourceID == s.source {
					rows[us[i].ExternalID] = &us[i]
				}
			}
		}
		ds := make([]decision, 0, len(batch))
		for _, c := range batch {
			if c.d != nil {
				ds = append(ds, *c.d)
				continue
			}
			u := rows[c.externalID]
			if u == nil || u.ID != c.userID || u.Version != c.version || !u.Active {
				r.counts.Skipped++ // written since the run started
				continue
			}
			ds = append(ds, s.goneDecision(u, c.version, r.now, r.run.ID))
		}
		if err := r.applyDecisions(ds); err != nil {
			return err
		}
	}
	return nil
}

// applyDecisions writes deactivations (or deletions); a CAS failure skips
// that user and the rest is retried.
func (r *runState) applyDecisions(ds []decision) error {
	s := r.s
	if r.spec.dry {
		for i := range ds {
			r.count(&ds[i])
			if err := r.emitPlan(&ds[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for len(ds) > 0 {
		req := store.ApplyRequest{OrgID: s.cfg.OrgID, Lease: r.lease()}
		for i := range ds {
			req.Users = append(req.Users, ds[i].write)
			req.Changes = append(req.Changes, ds[i].changes...)
			if ds[i].write.Delete {
				req.Tombstones = append(req.Tombstones, s.tombstone(&ds[i].write.User, r.now))
			}
		}
		res, err := s.st.Apply(r.ctx, req)
		if err == nil {
			for i := range ds {
				r.count(&ds[i])
			}
			r.wrote, r.lastSeq = true, res.LastSeq
			notify(r.s.cfg.OrgID) // wake in-process watchers now
			return nil
		}
		var ae *store.ApplyError
		if errors.As(err, &ae) && ae.Op == "user" && ae.Index >= 0 && ae.Index < len(ds) &&
			(errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrStale)) {
			r.counts.Skipped++
			ds = append(ds[:ae.Index:ae.Index], ds[ae.Index+1:]...)
			continue
		}
		if errors.Is(err, store.ErrLeaseLost) {
			return errLeaseLost
		}
		return fmt.Errorf("applying %d deactivations: %w", len(ds), err)
	}
	return nil
}

// Approve applies exactly the deactivations a halted run holds — never what
// a new run would compute — with the run's ID as the journal cause, and
// marks the run succeeded with its approval time. A held user who is no
// longer active, or whose row now belongs to another external ID, is
// skipped. Approving a run that is not halted (a second time, or a dry run)
// fails with ErrNotHalted.
func (s *Syncer) Approve(ctx context.Context, runID string) (store.SyncRun, error) {
	org := s.cfg.OrgID
	run, err := s.st.GetRun(ctx, org, runID)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("dirsync: approving run %q: %w", runID, err)
	}
	if run.Status != store.RunHalted || run.Mode == store.ModeDryRun || run.SourceID != s.source {
		return run, fmt.Errorf("%w: run %q is %s (mode %s)", ErrNotHalted, runID, run.Status, run.Mode)
	}
	lease, err := s.st.AcquireLease(ctx, org, s.cfg.Holder, s.cfg.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		return run, ErrBusy
	}
	if err != nil {
		return run, fmt.Errorf("dirsync: taking the org lease: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keeper := startLeaseKeeper(s.st, lease, s.cfg.LeaseTTL, cancel, nil, s.logf)
	defer keeper.release(context.WithoutCancel(ctx))

	// Read again under the lease: another replica may have approved it.
	if run, err = s.st.GetRun(ctx, org, runID); err != nil {
		return store.SyncRun{}, fmt.Errorf("dirsync: approving run %q: %w", runID, err)
	}
	if run.Status != store.RunHalted {
		return run, fmt.Errorf("%w: run %q is %s", ErrNotHalted, runID, run.Status)
	}
	r := &runState{s: s, ctx: ctx, keeper: keeper, now: s.cfg.Now(), run: run,
		spec: execSpec{mode: run.Mode, record: true}}
	for start := 0; start < len(run.Held); start += s.cfg.BatchSize {
		batch := run.Held[start:min(start+s.cfg.BatchSize, len(run.Held))]
		exts := make([]string, len(batch))
		for i, h := range batch {
			exts[i] = h.ExternalID
		}
		us, err := loadByExternalID(ctx, s.st, org, run.SourceID, exts)
		if err != nil {
			return run, fmt.Errorf("dirsync: loading held users: %w", err)
		}
		byID := make(map[string]*store.User, len(us))
		for i := range us {
			byID[us[i].ID] = &us[i]
		}
		var ds []decision
		for _, h := range batch {
			u := byID[h.UserID]
			if u == nil || u.ExternalID != h.ExternalID || u.SourceID != run.SourceID || !u.Active {
				r.counts.Skipped++
				continue
			}
			ds = append(ds, s.goneDecision(u, u.Version, r.now, run.ID))
		}
		if err := r.applyDecisions(ds); err != nil {
			if errors.Is(err, errLeaseLost) || context.Cause(ctx) != nil {
				err = errors.Join(err, context.Cause(ctx))
			}
			return run, fmt.Errorf("dirsync: approving run %q: %w", runID, err)
		}
	}
	if r.wrote {
		notify(org)
	}
	now := s.cfg.Now()
	run.Status = store.RunSucceeded
	run.ApprovedAt = &now
	run.Counts.Deactivated += r.counts.Deactivated
	run.Counts.Deleted += r.counts.Deleted
	run.Counts.Skipped += r.counts.Skipped
	if err := s.st.UpdateRun(ctx, run, store.RunHalted); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return run, fmt.Errorf("%w: run %q was approved meanwhile", ErrNotHalted, runID)
		}
		return run, fmt.Errorf("dirsync: recording the approval of run %q: %w", runID, err)
	}
	s.cfg.Observer.RunFinished(ctx, run)
	return run, nil
}
