package dirsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// Bounds on events.
const (
	maxEventIDBytes    = 256
	maxParkedEventSize = 1 << 20
)

// DirectoryIDer is implemented by providers whose events name a directory
// (the WorkOS adapter). ApplyEvent ignores events about other directories.
type DirectoryIDer interface {
	// DirectoryID returns the provider's ID of the directory the provider
	// lists; empty turns the check off. ApproveParked(ctx, nil) likewise
	// approves only that directory's parked events (and those naming none).
	DirectoryID() string
}

// ApplyEvent applies one provider event: a user, group or membership change
// goes through the same mapper, identity matching and compare-and-set
// writes as a sync, in one Apply with the event's processed mark, so a
// crash can neither lose nor double it. A duplicate event ID is a no-op;
// an event older than the stored data writes only its mark. Deactivations
// and deletions draw on the org's hourly event budget and are parked past
// it; a directory deletion is always parked. Events of one Syncer are
// applied one at a time.
//
// Membership events are ordered per (user, group) by OccurredAt: the
// Syncer remembers, in memory, the time of the last membership event it
// applied for each pair (for 4 days, beyond WorkOS's 3-day retry window;
// at most 100,000 pairs) and writes only the mark for an older one. Across
// restarts and replicas that memory is not shared; the next full sync
// corrects any membership a reordered pair of events left wrong.
func (s *Syncer) ApplyEvent(ctx context.Context, ev Event) (EventResult, error) {
	if err := s.validateEvent(&ev); err != nil {
		return EventResult{}, err
	}
	if dp, ok := s.cfg.Provider.(DirectoryIDer); ok && ev.DirectoryID != "" && dp.DirectoryID() != "" && ev.DirectoryID != dp.DirectoryID() {
		return EventResult{Outcome: EventIgnored, Reason: "the event is about another directory"}, nil
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	done, err := s.st.EventProcessed(ctx, s.cfg.OrgID, ev.ID)
	if err != nil {
		return EventResult{}, fmt.Errorf("dirsync: event %q: %w", ev.ID, err)
	}
	if done {
		return EventResult{Outcome: EventDuplicate}, nil
	}
	res, err := s.applyEvent(ctx, &ev, false, nil)
	if err != nil {
		return res, fmt.Errorf("dirsync: event %q (%s): %w", ev.ID, ev.Kind, err)
	}
	s.cfg.Observer.EventApplied(ctx, s.cfg.OrgID, ev, res)
	return res, nil
}

func (s *Syncer) validateEvent(ev *Event) error {
	if ev.ID == "" || len(ev.ID) > maxEventIDBytes {
		return fmt.Errorf("dirsync: event ID must be 1 to %d bytes: %w", maxEventIDBytes, store.ErrInvalid)
	}
	switch ev.Kind {
	case EventUserCreated, EventUserUpdated, EventUserDeleted:
		if ev.User == nil {
			return fmt.Errorf("dirsync: event %q (%s) has no user: %w", ev.ID, ev.Kind, store.ErrInvalid)
		}
	case EventGroupCreated, EventGroupUpdated, EventGroupDeleted:
		if ev.Group == nil {
			return fmt.Errorf("dirsync: event %q (%s) has no group: %w", ev.ID, ev.Kind, store.ErrInvalid)
		}
	case EventGroupUserAdded, EventGroupUserRemoved:
		if ev.User == nil || ev.Group == nil {
			return fmt.Errorf("dirsync: event %q (%s) needs a user and a group: %w", ev.ID, ev.Kind, store.ErrInvalid)
		}
	case EventDirectoryDeleted, EventDirectoryActivate:
	default:
		return fmt.Errorf("dirsync: event %q has unknown kind %q: %w", ev.ID, ev.Kind, store.ErrInvalid)
	}
	if ev.User != nil {
		if re := validateRecord(ev.User); re != nil {
			return fmt.Errorf("dirsync: event %q: %s: %w", ev.ID, re.Message, store.ErrInvalid)
		}
	}
	if ev.Group != nil && (ev.Group.ExternalID == "" || len(ev.Group.ExternalID) > maxExternalIDBytes || len(ev.Group.Name) > maxGroupNameBytes) {
		return fmt.Errorf("dirsync: event %q: group has no ID, or its ID or name is too long: %w", ev.ID, store.ErrInvalid)
	}
	if len(ev.Payload) > maxParkedEventSize {
		return fmt.Errorf("dirsync: event %q payload is larger than %d bytes: %w", ev.ID, maxParkedEventSize, store.ErrInvalid)
	}
	return nil
}

// eventCtx is one event being applied.
type eventCtx struct {
	s        *Syncer
	ev       *Event
	approved bool     // approved from the parking queue: no budget
	unpark   []string // parked IDs to remove in the same Apply
	now      time.Time
}

func (s *Syncer) applyEvent(ctx context.Context, ev *Event, approved bool, unpark []string) (EventResult, error) {
	e := &eventCtx{s: s, ev: ev, approved: approved, unpark: unpark, now: s.cfg.Now()}
	switch ev.Kind {
	case EventDirectoryDeleted:
		if !approved {
			return s.park(ctx, ev, "a directory deletion is always held for approval")
		}
		return e.directoryDeleted(ctx)
	case EventDirectoryActivate:
		return e.markOnly(ctx, EventIgnored, "nothing to change")
	case EventUserCreated, EventUserUpdated:
		return e.user(ctx)
	case EventUserDeleted:
		return e.userDeleted(ctx)
	case EventGroupCreated, EventGroupUpdated, EventGroupDeleted:
		return e.group(ctx)
	default:
		return e.member(ctx)
	}
}

// apply writes req with the event's mark and the unparking. The caller
// retries on a user CAS conflict.
func (e *eventCtx) apply(ctx context.Context, req store.ApplyRequest, deactivations int) (EventResult, error) {
	req.OrgID = e.s.cfg.OrgID
	if e.approved {
		deactivations = 0 // approved by a person: not drawn on the budget
	}
	req.Event = &store.EventMark{ID: e.ev.ID, Deactivations: deactivations}
	req.Unpark = e.unpark
	for i := range req.Changes {
		req.Changes[i].Cause = e.ev.ID
	}
	_, err := e.s.st.Apply(ctx, req)
	if errors.Is(err, store.ErrDuplicateEvent) {
		if len(e.unpark) > 0 {
			// Processed meanwhile: only take it off the queue.
			if _, err := e.s.st.Apply(ctx, store.ApplyRequest{OrgID: req.OrgID, Unpark: e.unpark}); err != nil {
				return EventResult{}, err
			}
		}
		return EventResult{Outcome: EventDuplicate}, nil
	}
	if err != nil {
		return EventResult{}, err
	}
	if len(req.Changes) > 0 {
		notify(e.s.cfg.OrgID)
	}
	return EventResult{Outcome: EventApplied, Changes: len(req.Changes)}, nil
}

func (e *eventCtx) markOnly(ctx context.Context, outcome EventOutcome, reason string) (EventResult, error) {
	res, err := e.apply(ctx, store.ApplyRequest{}, 0)
	if err != nil || res.Outcome == EventDuplicate {
		return res, err
	}
	return EventResult{Outcome: outcome, Reason: reason}, nil
}

// isUserConflict reports a CAS failure of the request's user writes.
func isUserConflict(err error) bool {
	var ae *store.ApplyError
	return errors.As(err, &ae) && (ae.Op == "user" || ae.Op == "group") && errors.Is(err, store.ErrConflict)
}

func (e *eventCtx) user(ctx context.Context) (EventResult, error) {
	s := e.s
	rec := e.ev.User
	if s.cfg.DeletePolicy == DeleteGone {
		gone, err := s.st.Tombstoned(ctx, s.cfg.OrgID, s.source, rec.ExternalID)
		if err != nil {
			return EventResult{}, err
		}
		if gone {
			return e.markOnly(ctx, EventIgnored, "the person was deleted (tombstone)")
		}
	}
	m := s.Mapper()
	in := mapRecord(m, rec)
	for tries := 0; ; tries++ {
		cands, err := loadCandidates(ctx, s.st, s.cfg.OrgID, s.source, []matchInput{in}, func(int) bool { return true })
		if err != nil {
			return EventResult{}, err
		}
		stored, relink := cands.match(&in, s.source, func(*store.User) bool { return false })
		d := s.decide(&in, stored, relink, m.Version(), e.now, e.ev.ID)
		if d.recErr != nil && tries == 0 {
			s.cfg.Observer.RecordError(ctx, s.cfg.OrgID, "", *d.recErr)
		}
		switch d.act {
		case actSkip:
			if d.reason == "older than stored" {
				return e.markOnly(ctx, EventStale, d.reason)
			}
			return e.markOnly(ctx, EventIgnored, d.reason)
		case actNone:
			return e.markOnly(ctx, EventApplied, "")
		case actDeactivate:
			if s.cfg.DeletePolicy == DeleteGone {
				d = s.goneDecision(stored, stored.Version, e.now, e.ev.ID)
			}
			if res, parked, err := e.checkBudget(ctx, 1); parked || err != nil {
				return res, err
			}
		}
		req := store.ApplyRequest{Users: []store.UserWrite{d.write}, Changes: d.changes}
		n := 0
		if d.deactivates {
			n = 1
		}
		if d.write.Delete {
			req.Tombstones = []store.Tombstone{s.tombstone(&d.write.User, e.now)}
		}
		res, err := e.apply(ctx, req, n)
		switch {
		case errors.Is(err, store.ErrStale):
			return e.markOnly(ctx, EventStale, "older than stored")
		case isUserConflict(err) && tries < maxConflictRetries:
			continue
		}
		return res, err
	}
}

func (e *eventCtx) userDeleted(ctx context.Context) (EventResult, error) {
	s := e.s
	rec := e.ev.User
	for tries := 0; ; tries++ {
		us, err := s.st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: s.cfg.OrgID, SourceID: s.source, ExternalIDs: []string{rec.ExternalID}})
		if err != nil {
			return EventResult{}, err
		}
		var stored *store.User
		for i := range us {
			if us[i].SourceID == s.source && us[i].ExternalID == rec.ExternalID {
				stored = &us[i]
			}
		}
		if stored == nil {
			if s.cfg.DeletePolicy == DeleteGone {
				// Not (yet) here: a tombstone stops a late create.
				ts := store.Tombstone{OrgID: s.cfg.OrgID, SourceID: s.source, ExternalID: rec.ExternalID, DeletedAt: e.now, ExpiresAt: e.now.Add(s.cfg.TombstoneTTL)}
				res, err := e.apply(ctx, store.ApplyRequest{Tombstones: []store.Tombstone{ts}}, 0)
				if err != nil || res.Outcome == EventDuplicate {
					return res, err
				}
				return EventResult{Outcome: EventIgnored, Reason: "unknown user; tombstone written"}, nil
			}
			return e.markOnly(ctx, EventIgnored, "unknown user")
		}
		if !rec.UpdatedAt.IsZero() && rec.UpdatedAt.Before(stored.ProviderUpdatedAt) {
			return e.markOnly(ctx, EventStale, "older than stored")
		}
		d := s.goneDecision(stored, stored.Version, e.now, e.ev.ID)
		if d.act == actNone {
			return e.markOnly(ctx, EventApplied, "")
		}
		if res, parked, err := e.checkBudget(ctx, 1); parked || err != nil {
			return res, err
		}
		req := store.ApplyRequest{Users: []store.UserWrite{d.write}, Changes: d.changes}
		if d.write.Delete {
			req.Tombstones = []store.Tombstone{s.tombstone(stored, e.now)}
		}
		res, err := e.apply(ctx, req, 1)
		if isUserConflict(err) && tries < maxConflictRetries {
			continue
		}
		return res, err
	}
}

// checkBudget parks the event when n more deactivations would exceed the
// org's hourly event budget.
func (e *eventCtx) checkBudget(ctx context.Context, n int) (EventResult, bool, error) {
	if e.approved {
		return EventResult{}, false, nil
	}
	s := e.s
	budget, err := s.eventBudget(ctx)
	if err != nil {
		return EventResult{}, false, err
	}
	used, err := s.st.EventDeactivations(ctx, s.cfg.OrgID, e.now.Add(-time.Hour))
	if err != nil {
		return EventResult{}, false, err
	}
	if used+n <= budget {
		return EventResult{}, false, nil
	}
	res, err := s.park(ctx, e.ev, fmt.Sprintf("event budget exceeded: %d deactivations by events in the last hour, budget %d", used, budget))
	return res, true, err
}

// eventBudget is Config.EventBudget, or the guard's threshold for the
// source's active users (counted from the snapshot, cached for a minute).
func (s *Syncer) eventBudget(ctx context.Context) (int, error) {
	if s.cfg.EventBudget > 0 {
		return s.cfg.EventBudget, nil
	}
	now := s.cfg.Now()
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	if s.activeAt.IsZero() || now.Sub(s.activeAt) > time.Minute || now.Before(s.activeAt) {
		n := 0
		err := s.st.Snapshot(ctx, s.cfg.OrgID, s.source, func(e store.SnapshotEntry) error {
			if e.Active {
				n++
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		s.activeN, s.activeAt = n, now
	}
	return max(s.cfg.Guard.limit(s.activeN), 0), nil
}

// park stores ev for approval.
func (s *Syncer) park(ctx context.Context, ev *Event, reason string) (EventResult, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return EventResult{}, fmt.Errorf("encoding the event to park it: %w", err)
	}
	if len(payload) > 2*maxParkedEventSize {
		return EventResult{}, fmt.Errorf("event is too large to park (%d bytes): %w", len(payload), store.ErrInvalid)
	}
	pe := store.ParkedEvent{OrgID: s.cfg.OrgID, ID: ev.ID, Kind: string(ev.Kind), DirectoryID: ev.DirectoryID,
		Payload: payload, ReceivedAt: s.cfg.Now(), Reason: reason}
	if err := s.st.ParkEvent(ctx, pe); err != nil {
		return EventResult{}, fmt.Errorf("parking the event: %w", err)
	}
	s.cfg.Observer.EventsParked(ctx, []store.ParkedEvent{pe})
	return EventResult{Outcome: EventParked, Reason: reason}, nil
}

// group applies a group event.
func (e *eventCtx) group(ctx context.Context) (EventResult, error) {
	s := e.s
	pg := e.ev.Group
	for tries := 0; ; tries++ {
		g, err := s.findGroup(ctx, pg.ExternalID)
		if err != nil {
			return EventResult{}, err
		}
		var req store.ApplyRequest
		name := mapping.Clean(pg.Name)
		switch {
		case e.ev.Kind == EventGroupDeleted && g == nil:
			return e.markOnly(ctx, EventIgnored, "unknown group")
		case e.ev.Kind == EventGroupDeleted:
			req.Groups = []store.GroupWrite{{Group: *g, ExpectVersion: g.Version, Delete: true}}
			req.Changes = []store.Change{{Kind: store.ChangeGroupDeleted, SubjectID: g.ID, Before: map[string]any{"external_id": g.ExternalID, "name": g.Name}}}
		case g == nil:
			ng := store.Group{OrgID: s.cfg.OrgID, SourceID: s.source, ID: newID("grp"), ExternalID: pg.ExternalID, Name: name}
			req.Groups = []store.GroupWrite{{Group: ng}}
			req.Changes = []store.Change{{Kind: store.ChangeGroupCreated, SubjectID: ng.ID, After: map[string]any{"external_id": ng.ExternalID, "name": name}}}
		case g.Name != name:
			ng := *g
			ng.Name = name
			req.Groups = []store.GroupWrite{{Group: ng, ExpectVersion: g.Version}}
			req.Changes = []store.Change{{Kind: store.ChangeGroupUpdated, SubjectID: g.ID, Before: map[string]any{"name": g.Name}, After: map[string]any{"name": name}}}
		default:
			return e.markOnly(ctx, EventApplied, "")
		}
		res, err := e.apply(ctx, req, 0)
		if isUserConflict(err) && tries < maxConflictRetries {
			continue
		}
		return res, err
	}
}

func (s *Syncer) findGroup(ctx context.Context, ext string) (*store.Group, error) {
	gs, err := s.st.Groups(ctx, s.cfg.OrgID, s.source)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].ExternalID == ext {
			g := gs[i].Group
			return &g, nil
		}
	}
	return nil, nil
}

// member applies a membership event, creating the member and the group
// first when the event is the first the store hears of them.
func (e *eventCtx) member(ctx context.Context) (EventResult, error) {
	s := e.s
	ev := e.ev
	key := pairKey{source: s.source, group: ev.Group.ExternalID, user: ev.User.ExternalID}
	if last, ok := s.pairs.get(key); ok && !ev.OccurredAt.IsZero() && ev.OccurredAt.Before(last) {
		return e.markOnly(ctx, EventStale, "an older membership event than the last one applied for this user and group")
	}
	add := ev.Kind == EventGroupUserAdded
	for tries := 0; ; tries++ {
		var req store.ApplyRequest
		us, err := s.st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: s.cfg.OrgID, SourceID: s.source, ExternalIDs: []string{ev.User.ExternalID}})
		if err != nil {
			return EventResult{}, err
		}
		var userID string
		var groups []store.GroupRef
		for i := range us {
			if us[i].SourceID == s.source && us[i].ExternalID == ev.User.ExternalID {
				userID = us[i].ID
			}
		}
		if userID == "" && !add {
			return e.markOnly(ctx, EventIgnored, "unknown user")
		}
		if userID == "" {
			// The member's own created event has not arrived (yet).
			m := s.Mapper()
			in := mapRecord(m, ev.User)
			d := s.decide(&in, nil, false, m.Version(), e.now, ev.ID)
			if d.act != actCreate {
				return e.markOnly(ctx, EventIgnored, "unknown user whose record does not map")
			}
			userID = d.write.User.ID
			req.Users = []store.UserWrite{d.write}
			req.Changes = append(req.Changes, d.changes...)
		} else {
			u, err := s.st.GetUser(ctx, s.cfg.OrgID, userID)
			if err != nil {
				return EventResult{}, err
			}
			groups = u.Groups
		}
		g, err := s.findGroup(ctx, ev.Group.ExternalID)
		if err != nil {
			return EventResult{}, err
		}
		if g == nil && !add {
			return e.markOnly(ctx, EventIgnored, "unknown group")
		}
		if g == nil {
			g = &store.Group{OrgID: s.cfg.OrgID, SourceID: s.source, ID: newID("grp"), ExternalID: ev.Group.ExternalID, Name: mapping.Clean(ev.Group.Name)}
			req.Groups = []store.GroupWrite{{Group: *g}}
			req.Changes = append(req.Changes, store.Change{Kind: store.ChangeGroupCreated, SubjectID: g.ID, After: map[string]any{"external_id": g.ExternalID, "name": g.Name}})
		}
		member := false
		for _, gr := range groups {
			if gr.ID == g.ID {
				member = true
			}
		}
		switch {
		case add && !member:
			req.Members = []store.MemberWrite{{Membership: store.Membership{UserID: userID, GroupID: g.ID}}}
			req.Changes = append(req.Changes, memberChange(store.ChangeMemberAdded, userID, g, ev.ID))
		case !add && member:
			req.Members = []store.MemberWrite{{Membership: store.Membership{UserID: userID, GroupID: g.ID}, Remove: true}}
			req.Changes = append(req.Changes, memberChange(store.ChangeMemberRemoved, userID, g, ev.ID))
		}
		res, err := e.apply(ctx, req, 0)
		if isUserConflict(err) && tries < maxConflictRetries {
			continue
		}
		if err == nil && res.Outcome == EventApplied && !ev.OccurredAt.IsZero() {
			s.pairs.set(key, ev.OccurredAt, e.now)
		}
		return res, err
	}
}

// directoryDeleted applies an approved directory deletion: every active
// user of the source is deactivated (or deleted under DeleteGone), in
// batches; the last batch carries the event's mark and unparking, so an
// interrupted approval can be approved again and continues.
func (e *eventCtx) directoryDeleted(ctx context.Context) (EventResult, error) {
	s := e.s
	var exts []string
	err := s.st.Snapshot(ctx, s.cfg.OrgID, s.source, func(se store.SnapshotEntry) error {
		if se.Active || s.cfg.DeletePolicy == DeleteGone {
			exts = append(exts, se.ExternalID)
		}
		return nil
	})
	if err != nil {
		return EventResult{}, err
	}
	total := 0
	for start := 0; start < len(exts); start += s.cfg.BatchSize {
		us, err := loadByExternalID(ctx, s.st, s.cfg.OrgID, s.source, exts[start:min(start+s.cfg.BatchSize, len(exts))])
		if err != nil {
			return EventResult{}, err
		}
		var req store.ApplyRequest
		for i := range us {
			if us[i].SourceID != s.source {
				continue
			}
			d := s.goneDecision(&us[i], us[i].Version, e.now, e.ev.ID)
			if d.act == actNone {
				continue
			}
			req.Users = append(req.Users, d.write)
			req.Changes = append(req.Changes, d.changes...)
			if d.write.Delete {
				req.Tombstones = append(req.Tombstones, s.tombstone(&us[i], e.now))
			}
		}
		if len(req.Users) == 0 {
			continue
		}
		req.OrgID = s.cfg.OrgID
		for i := range req.Changes {
			req.Changes[i].Cause = e.ev.ID
		}
		if _, err := s.st.Apply(ctx, req); err != nil && !isUserConflict(err) {
			return EventResult{}, err
		}
		total += len(req.Changes)
		notify(s.cfg.OrgID)
	}
	res, err := e.apply(ctx, store.ApplyRequest{}, 0)
	if err == nil && res.Outcome == EventApplied {
		res.Changes = total
	}
	return res, err
}

// ApproveParked applies parked events in the order they were parked, each
// in one Apply with its unparking, without drawing on the event budget.
// ids selects events (nil: all of this Syncer's source). It returns how
// many events were taken off the queue. An ID that is not parked is an
// error wrapping store.ErrNotFound, and nothing is applied.
func (s *Syncer) ApproveParked(ctx context.Context, ids []string) (int, error) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	parked, err := s.st.ParkedEvents(ctx, s.cfg.OrgID)
	if err != nil {
		return 0, fmt.Errorf("dirsync: reading parked events: %w", err)
	}
	dirID := ""
	if dp, ok := s.cfg.Provider.(DirectoryIDer); ok {
		dirID = dp.DirectoryID()
	}
	var todo []store.ParkedEvent
	if ids == nil {
		for _, pe := range parked {
			if dirID == "" || pe.DirectoryID == "" || pe.DirectoryID == dirID {
				todo = append(todo, pe)
			}
		}
	} else {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for _, pe := range parked {
			if want[pe.ID] {
				todo = append(todo, pe)
				delete(want, pe.ID)
			}
		}
		if len(want) > 0 {
			missing := make([]string, 0, len(want))
			for id := range want {
				missing = append(missing, id)
			}
			return 0, fmt.Errorf("dirsync: events %s are not parked: %w", strings.Join(sortedStrings(missing), ", "), store.ErrNotFound)
		}
	}
	applied := 0
	for _, pe := range todo {
		var ev Event
		if err := json.Unmarshal(pe.Payload, &ev); err != nil {
			return applied, fmt.Errorf("dirsync: decoding parked event %q: %w", pe.ID, err)
		}
		if ev.ID != pe.ID {
			return applied, fmt.Errorf("dirsync: parked event %q holds event %q: %w", pe.ID, ev.ID, store.ErrInvalid)
		}
		if err := s.validateEvent(&ev); err != nil {
			return applied, err
		}
		res, err := s.applyEvent(ctx, &ev, true, []string{pe.ID})
		if err != nil {
			return applied, fmt.Errorf("dirsync: applying parked event %q: %w", pe.ID, err)
		}
		s.cfg.Observer.EventApplied(ctx, s.cfg.OrgID, ev, res)
		applied++
	}
	return applied, nil
}

func sortedStrings(ss []string) []string {
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[s] = struct{}{}
	}
	return sortedKeys(m)
}

// pairKey names one (user, group) membership by external IDs.
type pairKey struct{ source, group, user string }

// pairClock remembers the time of the last membership event applied per
// pair, for ordering; bounded in size and age.
type pairClock struct {
	mu sync.Mutex
	m  map[pairKey]pairTime
}

type pairTime struct{ at, seen time.Time }

const (
	pairClockMax = 100_000
	pairClockAge = 4 * 24 * time.Hour
)

func (c *pairClock) init() { c.m = map[pairKey]pairTime{} }

func (c *pairClock) get(k pairKey) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v.at, ok
}

func (c *pairClock) set(k pairKey, at, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok && v.at.After(at) {
		return
	}
	if len(c.m) >= pairClockMax {
		for kk, v := range c.m {
			if now.Sub(v.seen) > pairClockAge {
				delete(c.m, kk)
			}
		}
		for kk := range c.m { // still full: forget arbitrary pairs
			if len(c.m) < pairClockMax*9/10 {
				break
			}
			delete(c.m, kk)
		}
	}
	c.m[k] = pairTime{at: at, seen: now}
}
