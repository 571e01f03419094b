package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// maxLoadList bounds each list of a LoadUsersRequest.
const maxLoadList = 1000

// Snapshot calls fn for every user of the org's source; see store.Store.
// The compact entries are gathered under the read lock and fn is called
// after it is released, so fn may call the store.
func (s *Store) Snapshot(ctx context.Context, orgID, sourceID string, fn func(store.SnapshotEntry) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(orgID); err != nil {
		return err
	}
	s.mu.RLock()
	var entries []store.SnapshotEntry
	if o := s.readOrg(orgID); o != nil {
		if set := o.bySource[sourceID]; set != nil {
			entries = make([]store.SnapshotEntry, 0, set.live())
		}
		for _, s := range o.bySource[sourceID].slotsOrNil() {
			r := o.slots[s].rec
			if r == nil {
				continue
			}
			u := r.u
			entries = append(entries, store.SnapshotEntry{
				ExternalID:        u.ExternalID,
				UserID:            u.ID,
				SourceHash:        u.SourceHash,
				ProfileHash:       u.ProfileHash,
				MappingVersion:    u.MappingVersion,
				Active:            u.Active,
				ProviderUpdatedAt: u.ProviderUpdatedAt,
				Version:           u.Version,
			})
		}
	}
	s.mu.RUnlock()
	for i, e := range entries {
		if i%1024 == 0 {
			if err := ctxErr(ctx); err != nil {
				return err
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// LoadUsers returns full rows (without groups); see store.LoadUsersRequest.
func (s *Store) LoadUsers(ctx context.Context, req store.LoadUsersRequest) ([]store.User, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkOrg(req.OrgID); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"external IDs", len(req.ExternalIDs)}, {"idp IDs", len(req.IdpIDs)}, {"emails", len(req.Emails)}} {
		if l.n > maxLoadList {
			return nil, invalid("%d %s; the limit is %d", l.n, l.name, maxLoadList)
		}
	}
	if len(req.ExternalIDs) > 0 && req.SourceID == "" {
		return nil, invalid("external IDs need a source ID")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(req.OrgID)
	if o == nil {
		return nil, nil
	}
	found := map[*userRec]struct{}{}
	for _, id := range req.ExternalIDs {
		if r := o.byExt[srcKey{req.SourceID, id}]; r != nil {
			found[r] = struct{}{}
		}
	}
	addSet := func(set []*userRec) {
		for _, r := range set {
			if !req.OnlyInactive || !r.u.Active {
				found[r] = struct{}{}
			}
		}
	}
	for _, id := range req.IdpIDs {
		if id != "" {
			addSet(o.byIdp[id])
		}
	}
	for _, e := range req.Emails {
		if f := search.Fold(e); f != "" {
			addSet(o.byEmail[f])
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	out := make([]store.User, 0, len(found))
	for r := range found {
		out = append(out, o.userOut(r, false))
	}
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// GetUser returns one user with its groups, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, orgID, userID string) (store.User, error) {
	if err := ctxErr(ctx); err != nil {
		return store.User{}, err
	}
	if err := checkOrg(orgID); err != nil {
		return store.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		if r := o.users[userID]; r != nil {
			return o.userOut(r, true), nil
		}
	}
	return store.User{}, fmt.Errorf("%w: org %q has no user %q", store.ErrNotFound, orgID, userID)
}

// Groups lists the org's groups with member counts, by name then ID.
func (s *Store) Groups(ctx context.Context, orgID, sourceID string) ([]store.GroupSummary, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkOrg(orgID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil {
		return nil, nil
	}
	out := make([]store.GroupSummary, 0, len(o.groups))
	for _, g := range o.groups {
		if sourceID != "" && g.SourceID != sourceID {
			continue
		}
		n := len(o.members[g.ID])
		if s.faults.crossOrgCounts {
			// Deliberately wrong: counts members of other orgs' groups of
			// the same name.
			for id, other := range s.orgs {
				if id == orgID {
					continue
				}
				for gid := range other.groupByName[s.fold(g.Name)] {
					n += len(other.members[gid])
				}
			}
		}
		out = append(out, store.GroupSummary{Group: *g, MemberCount: n})
	}
	slices.SortFunc(out, func(a, b store.GroupSummary) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Memberships calls fn for every membership of the source's groups, ordered
// by group ID then user ID, after releasing the lock.
func (s *Store) Memberships(ctx context.Context, orgID, sourceID string, fn func(store.Membership) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(orgID); err != nil {
		return err
	}
	s.mu.RLock()
	var ms []store.Membership
	if o := s.readOrg(orgID); o != nil {
		for gid, users := range o.members {
			if g := o.groups[gid]; g == nil || g.SourceID != sourceID {
				continue
			}
			for uid := range users {
				ms = append(ms, store.Membership{UserID: uid, GroupID: gid})
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(ms, func(a, b store.Membership) int {
		return cmp.Or(strings.Compare(a.GroupID, b.GroupID), strings.Compare(a.UserID, b.UserID))
	})
	for _, m := range ms {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// Changes returns up to limit journal entries with Seq > after.
func (s *Store) Changes(ctx context.Context, orgID string, after int64, limit int) ([]store.Change, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkOrg(orgID); err != nil {
		return nil, err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil {
		return nil, nil
	}
	i, _ := slices.BinarySearchFunc(o.changes, after+1, func(c store.Change, seq int64) int { return cmp.Compare(c.Seq, seq) })
	end := min(len(o.changes), i+limit)
	if i >= end {
		return nil, nil
	}
	out := make([]store.Change, 0, end-i)
	for _, ch := range o.changes[i:end] {
		out = append(out, copyChange(&ch))
	}
	return out, nil
}

// LastSeq returns the org's highest journal sequence.
func (s *Store) LastSeq(ctx context.Context, orgID string) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := checkOrg(orgID); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		return o.seq, nil
	}
	return 0, nil
}

// PruneChanges deletes journal entries older than before.
func (s *Store) PruneChanges(ctx context.Context, orgID string, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := checkOrg(orgID); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.readOrg(orgID)
	if o == nil {
		return 0, nil
	}
	n := len(o.changes)
	o.changes = slices.DeleteFunc(o.changes, func(c store.Change) bool { return c.At.Before(before) })
	return int64(n - len(o.changes)), nil
}

// RedactSubject removes the before and after values of every journal entry
// about subjectID, and returns how many entries are about it.
func (s *Store) RedactSubject(ctx context.Context, orgID, subjectID string) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := checkOrg(orgID); err != nil {
		return 0, err
	}
	if subjectID == "" {
		return 0, invalid("subject ID is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.readOrg(orgID)
	if o == nil {
		return 0, nil
	}
	var n int64
	for i := range o.changes {
		if c := &o.changes[i]; c.SubjectID == subjectID {
			c.Before, c.After = nil, nil
			n++
		}
	}
	return n, nil
}

// CreateRun records a new run.
func (s *Store) CreateRun(ctx context.Context, run store.SyncRun) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(run.OrgID); err != nil {
		return err
	}
	if run.ID == "" {
		return invalid("run ID is empty")
	}
	c := copyRun(&run)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.writeOrg(run.OrgID)
	if _, ok := o.runs[run.ID]; ok {
		return fmt.Errorf("%w: org %q already has run %q", store.ErrConflict, run.OrgID, run.ID)
	}
	o.runs[run.ID] = &c
	return nil
}

// UpdateRun replaces a run whose stored status is expect.
func (s *Store) UpdateRun(ctx context.Context, run store.SyncRun, expect store.RunStatus) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(run.OrgID); err != nil {
		return err
	}
	c := copyRun(&run)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.readOrg(run.OrgID)
	var cur *store.SyncRun
	if o != nil {
		cur = o.runs[run.ID]
	}
	switch {
	case cur == nil:
		return fmt.Errorf("%w: org %q has no run %q", store.ErrNotFound, run.OrgID, run.ID)
	case cur.Status != expect:
		return fmt.Errorf("%w: run %q is %s, not %s", store.ErrConflict, run.ID, cur.Status, expect)
	}
	o.runs[run.ID] = &c
	return nil
}

// reported returns a caller's copy of a run, reporting a running run whose
// lease expired as failed.
func reported(r *store.SyncRun, now time.Time) store.SyncRun {
	c := copyRun(r)
	if c.Status == store.RunRunning && !c.LeaseExpiresAt.IsZero() && !now.Before(c.LeaseExpiresAt) {
		c.Status = store.RunFailed
		if c.Error == "" {
			c.Error = "abandoned: the run's lease expired while it was running"
		}
	}
	return c
}

// GetRun returns one run, or store.ErrNotFound. A running run past its
// LeaseExpiresAt is reported as failed.
func (s *Store) GetRun(ctx context.Context, orgID, runID string) (store.SyncRun, error) {
	if err := ctxErr(ctx); err != nil {
		return store.SyncRun{}, err
	}
	if err := checkOrg(orgID); err != nil {
		return store.SyncRun{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		if r := o.runs[runID]; r != nil {
			return reported(r, s.now()), nil
		}
	}
	return store.SyncRun{}, fmt.Errorf("%w: org %q has no run %q", store.ErrNotFound, orgID, runID)
}

// ListRuns returns up to limit runs (0 means 100; at most 1000), newest
// first by StartedAt, then by ID descending. A running run past its
// LeaseExpiresAt is reported as failed.
func (s *Store) ListRuns(ctx context.Context, orgID string, limit int) ([]store.SyncRun, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkOrg(orgID); err != nil {
		return nil, err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil {
		return nil, nil
	}
	runs := make([]*store.SyncRun, 0, len(o.runs))
	for _, r := range o.runs {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b *store.SyncRun) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(b.ID, a.ID))
	})
	now := s.now()
	out := make([]store.SyncRun, 0, min(limit, len(runs)))
	for _, r := range runs[:min(limit, len(runs))] {
		out = append(out, reported(r, now))
	}
	return out, nil
}

// ParkEvent stores an event for approval; an ID already parked is kept as
// it was. A zero ReceivedAt is stamped with the current time.
func (s *Store) ParkEvent(ctx context.Context, ev store.ParkedEvent) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(ev.OrgID); err != nil {
		return err
	}
	if ev.ID == "" {
		return invalid("parked event ID is empty")
	}
	c := copyParked(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.writeOrg(ev.OrgID)
	if _, ok := o.parked[ev.ID]; ok {
		return nil
	}
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = s.now()
	}
	o.parked[ev.ID] = &c
	return nil
}

// ParkedEvents lists the org's parked events, oldest first (by ReceivedAt,
// then ID).
func (s *Store) ParkedEvents(ctx context.Context, orgID string) ([]store.ParkedEvent, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkOrg(orgID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.readOrg(orgID)
	if o == nil || len(o.parked) == 0 {
		return nil, nil
	}
	out := make([]store.ParkedEvent, 0, len(o.parked))
	for _, p := range o.parked {
		out = append(out, copyParked(p))
	}
	slices.SortFunc(out, func(a, b store.ParkedEvent) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// EventProcessed reports whether an Apply recorded the event's mark.
func (s *Store) EventProcessed(ctx context.Context, orgID, eventID string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := checkOrg(orgID); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		_, ok := o.events[eventID]
		return ok, nil
	}
	return false, nil
}

// EventDeactivations sums the Deactivations of event marks recorded at or
// after since.
func (s *Store) EventDeactivations(ctx context.Context, orgID string, since time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := checkOrg(orgID); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	if o := s.readOrg(orgID); o != nil {
		for _, m := range o.events {
			if !m.at.Before(since) {
				n += m.deactivations
			}
		}
	}
	return n, nil
}

// Tombstoned reports whether the source's external ID has an unexpired
// tombstone.
func (s *Store) Tombstoned(ctx context.Context, orgID, sourceID, externalID string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := checkOrg(orgID); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		if t, ok := o.tombstones[srcKey{sourceID, externalID}]; ok {
			return s.now().Before(t.ExpiresAt), nil
		}
	}
	return false, nil
}

// leaseLive reports whether a stored lease is unexpired at now.
func (s *Store) leaseLive(l *store.Lease, now time.Time) bool {
	return s.faults.leaseNeverExpires || now.Before(l.ExpiresAt)
}

// AcquireLease takes the org's lease for ttl with a new token.
func (s *Store) AcquireLease(ctx context.Context, orgID, holder string, ttl time.Duration) (store.Lease, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Lease{}, err
	}
	if err := checkOrg(orgID); err != nil {
		return store.Lease{}, err
	}
	if holder == "" {
		return store.Lease{}, invalid("lease holder is empty")
	}
	if ttl <= 0 {
		return store.Lease{}, invalid("lease ttl %s is not positive", ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	o := s.writeOrg(orgID)
	if cur := o.lease; cur != nil && cur.Holder != holder && s.leaseLive(cur, now) {
		return store.Lease{}, fmt.Errorf("%w: org %q is leased by %q until %s", store.ErrLeaseHeld, orgID, cur.Holder, cur.ExpiresAt.Format(time.RFC3339))
	}
	l := store.Lease{OrgID: orgID, Holder: holder, Token: newToken(), ExpiresAt: now.Add(ttl)}
	o.lease = &l
	return l, nil
}

// RenewLease extends a lease still held.
func (s *Store) RenewLease(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Lease{}, err
	}
	if err := checkOrg(lease.OrgID); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, invalid("lease ttl %s is not positive", ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	o := s.readOrg(lease.OrgID)
	if o == nil || o.lease == nil || o.lease.Token != lease.Token || !s.leaseLive(o.lease, now) {
		return store.Lease{}, fmt.Errorf("%w: token %q is not the org's current unexpired lease", store.ErrLeaseLost, lease.Token)
	}
	o.lease.ExpiresAt = now.Add(ttl)
	return *o.lease, nil
}

// ReleaseLease gives the lease up; releasing a lost lease is a no-op.
func (s *Store) ReleaseLease(ctx context.Context, lease store.Lease) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(lease.OrgID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.readOrg(lease.OrgID); o != nil && o.lease != nil && o.lease.Token == lease.Token {
		o.lease = nil
	}
	return nil
}

// SourceState returns the source's state, or a zero state with the IDs set.
func (s *Store) SourceState(ctx context.Context, orgID, sourceID string) (store.SourceState, error) {
	if err := ctxErr(ctx); err != nil {
		return store.SourceState{}, err
	}
	if err := checkOrg(orgID); err != nil {
		return store.SourceState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.readOrg(orgID); o != nil {
		if st, ok := o.states[sourceID]; ok {
			return st, nil
		}
	}
	return store.SourceState{OrgID: orgID, SourceID: sourceID}, nil
}

// PutSourceState stores the source's state.
func (s *Store) PutSourceState(ctx context.Context, st store.SourceState) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(st.OrgID); err != nil {
		return err
	}
	if st.SourceID == "" {
		return invalid("source ID is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeOrg(st.OrgID).states[st.SourceID] = st
	return nil
}

// PurgeOrg removes everything stored for the org.
func (s *Store) PurgeOrg(ctx context.Context, orgID string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkOrg(orgID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orgs, orgID)
	return nil
}
