package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

var knownKinds = map[store.ChangeKind]bool{
	store.ChangeCreated: true, store.ChangeUpdated: true, store.ChangeDeactivated: true,
	store.ChangeReactivated: true, store.ChangeRelinked: true, store.ChangeDeleted: true,
	store.ChangeGroupCreated: true, store.ChangeGroupUpdated: true, store.ChangeGroupDeleted: true,
	store.ChangeMemberAdded: true, store.ChangeMemberRemoved: true,
}

// fold folds a filterable value (department, division, office, tag, group
// name) for the indexes and for queries.
func (s *Store) fold(v string) string {
	if s.faults.caseSensitive {
		return v
	}
	return search.Fold(v)
}

func applyErr(op string, i int, id string, err error) error {
	return &store.ApplyError{Op: op, Index: i, ID: id, Err: err}
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrConflict}, args...)...)
}

// prepared is a request checked for everything that does not depend on the
// stored state, with the callers' values copied.
type prepared struct {
	users   []*userRec // nil for a delete
	groups  []*store.Group
	changes []store.Change
	tombs   []store.Tombstone
}

func (s *Store) prepare(req *store.ApplyRequest) (*prepared, error) {
	p := &prepared{
		users:   make([]*userRec, len(req.Users)),
		groups:  make([]*store.Group, len(req.Groups)),
		changes: make([]store.Change, len(req.Changes)),
		tombs:   make([]store.Tombstone, len(req.Tombstones)),
	}
	f := &folder{c: &s.folds, raw: s.faults.caseSensitive}
	s.folds.mu.Lock()
	defer s.folds.mu.Unlock()
	for i, w := range req.Users {
		u := &w.User
		switch {
		case u.ID == "":
			return nil, applyErr("user", i, "", invalid("user ID is empty"))
		case u.OrgID != req.OrgID && !(w.Delete && u.OrgID == ""):
			return nil, applyErr("user", i, u.ID, invalid("user belongs to org %q, not %q", u.OrgID, req.OrgID))
		case w.ExpectVersion < 0:
			return nil, applyErr("user", i, u.ID, invalid("expected version %d is negative", w.ExpectVersion))
		case w.Delete:
			continue
		case u.SourceID == "":
			return nil, applyErr("user", i, u.ID, invalid("user source ID is empty"))
		case u.ExternalID == "":
			return nil, applyErr("user", i, u.ID, invalid("user external ID is empty"))
		}
		c := copyUser(u)
		c.Groups = nil
		p.users[i] = newRec(c, f)
	}
	for i, w := range req.Groups {
		g := w.Group
		switch {
		case g.ID == "":
			return nil, applyErr("group", i, "", invalid("group ID is empty"))
		case g.OrgID != req.OrgID && !(w.Delete && g.OrgID == ""):
			return nil, applyErr("group", i, g.ID, invalid("group belongs to org %q, not %q", g.OrgID, req.OrgID))
		case w.ExpectVersion < 0:
			return nil, applyErr("group", i, g.ID, invalid("expected version %d is negative", w.ExpectVersion))
		case w.Delete:
			continue
		case g.SourceID == "":
			return nil, applyErr("group", i, g.ID, invalid("group source ID is empty"))
		case g.ExternalID == "":
			return nil, applyErr("group", i, g.ID, invalid("group external ID is empty"))
		}
		p.groups[i] = &g
	}
	for i, m := range req.Members {
		if m.UserID == "" || m.GroupID == "" {
			return nil, applyErr("member", i, m.UserID, invalid("membership needs a user ID and a group ID"))
		}
	}
	for i, ch := range req.Changes {
		switch {
		case !knownKinds[ch.Kind]:
			return nil, applyErr("change", i, ch.SubjectID, invalid("unknown change kind %q", ch.Kind))
		case ch.SubjectID == "":
			return nil, applyErr("change", i, "", invalid("change subject ID is empty"))
		case ch.OrgID != "" && ch.OrgID != req.OrgID:
			return nil, applyErr("change", i, ch.SubjectID, invalid("change belongs to org %q, not %q", ch.OrgID, req.OrgID))
		}
		c := copyChange(&ch)
		c.OrgID = req.OrgID
		p.changes[i] = c
	}
	for i, t := range req.Tombstones {
		switch {
		case t.OrgID != "" && t.OrgID != req.OrgID:
			return nil, applyErr("tombstone", i, t.ExternalID, invalid("tombstone belongs to org %q, not %q", t.OrgID, req.OrgID))
		case t.SourceID == "" || t.ExternalID == "":
			return nil, applyErr("tombstone", i, t.ExternalID, invalid("tombstone needs a source ID and an external ID"))
		}
		t.OrgID = req.OrgID
		p.tombs[i] = t
	}
	if ev := req.Event; ev != nil {
		switch {
		case ev.ID == "":
			return nil, applyErr("event", -1, "", invalid("event ID is empty"))
		case ev.Deactivations < 0:
			return nil, applyErr("event", -1, ev.ID, invalid("event deactivations %d is negative", ev.Deactivations))
		}
	}
	for i, id := range req.Unpark {
		if id == "" {
			return nil, applyErr("unpark", i, "", invalid("parked event ID is empty"))
		}
	}
	return p, nil
}

// tx is the pending state of one Apply over the stored org (which may be
// nil): nothing in it is visible until commit.
type tx struct {
	o       *org
	users   map[string]*userRec // ID → new row, nil when deleted
	ext     map[srcKey]string   // (source, external ID) → user ID, "" when freed
	groups  map[string]*store.Group
	gext    map[srcKey]string
	members []store.MemberWrite
}

func (t *tx) user(id string) *userRec {
	if r, ok := t.users[id]; ok {
		return r
	}
	if t.o != nil {
		return t.o.users[id]
	}
	return nil
}

func (t *tx) extOwner(k srcKey) string {
	if id, ok := t.ext[k]; ok {
		return id
	}
	if t.o != nil {
		if r := t.o.byExt[k]; r != nil {
			return r.u.ID
		}
	}
	return ""
}

func (t *tx) group(id string) *store.Group {
	if g, ok := t.groups[id]; ok {
		return g
	}
	if t.o != nil {
		return t.o.groups[id]
	}
	return nil
}

func (t *tx) groupExtOwner(k srcKey) string {
	if id, ok := t.gext[k]; ok {
		return id
	}
	if t.o != nil {
		if g := t.o.groupByExt[k]; g != nil {
			return g.ID
		}
	}
	return ""
}

// Apply writes req atomically; see store.Store. Everything is checked
// against the stored state and the request's own earlier writes before
// anything is changed, under one lock.
func (s *Store) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	if err := ctxErr(ctx); err != nil {
		return store.ApplyResult{}, err
	}
	if err := checkOrg(req.OrgID); err != nil {
		return store.ApplyResult{}, applyErr("org", -1, req.OrgID, err)
	}
	p, err := s.prepare(&req)
	if err != nil {
		return store.ApplyResult{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var res store.ApplyResult
	if s.faults.journalOutsideTx && len(p.changes) > 0 {
		// Deliberately wrong: the journal is written before the request
		// is checked, so it survives a failed Apply.
		res = s.commitChanges(s.writeOrg(req.OrgID), p.changes, now)
	}
	o := s.readOrg(req.OrgID)

	if l := req.Lease; l != nil {
		if o == nil || o.lease == nil || o.lease.Token != l.Token || !s.leaseLive(o.lease, now) {
			return store.ApplyResult{}, applyErr("lease", -1, "", fmt.Errorf("%w: token %q is not the org's current unexpired lease", store.ErrLeaseLost, l.Token))
		}
	}
	if ev := req.Event; ev != nil && o != nil {
		if _, ok := o.events[ev.ID]; ok {
			return store.ApplyResult{}, applyErr("event", -1, ev.ID, fmt.Errorf("%w: event %q", store.ErrDuplicateEvent, ev.ID))
		}
	}

	t := &tx{o: o, users: map[string]*userRec{}, ext: map[srcKey]string{}, groups: map[string]*store.Group{}, gext: map[srcKey]string{}}
	for i, w := range req.Users {
		if err := t.writeUser(w, p.users[i], now); err != nil {
			return store.ApplyResult{}, applyErr("user", i, w.User.ID, err)
		}
	}
	for i, w := range req.Groups {
		if err := t.writeGroup(w, p.groups[i], now); err != nil {
			return store.ApplyResult{}, applyErr("group", i, w.Group.ID, err)
		}
	}
	for i, m := range req.Members {
		if t.user(m.UserID) == nil {
			return store.ApplyResult{}, applyErr("member", i, m.UserID, invalid("org %q has no user %q", req.OrgID, m.UserID))
		}
		if t.group(m.GroupID) == nil {
			return store.ApplyResult{}, applyErr("member", i, m.UserID, invalid("org %q has no group %q", req.OrgID, m.GroupID))
		}
	}
	t.members = req.Members

	// Everything is checked: commit. Nothing below can fail.
	o = s.writeOrg(req.OrgID)
	t.commit(o, s.fold)
	if !s.faults.journalOutsideTx && len(p.changes) > 0 {
		res = s.commitChanges(o, p.changes, now)
	}
	for _, tb := range p.tombs {
		if tb.DeletedAt.IsZero() {
			tb.DeletedAt = now
		}
		o.tombstones[srcKey{tb.SourceID, tb.ExternalID}] = tb
	}
	if ev := req.Event; ev != nil {
		o.events[ev.ID] = eventMark{at: now, deactivations: ev.Deactivations}
	}
	for _, id := range req.Unpark {
		delete(o.parked, id)
	}
	return res, nil
}

func (s *Store) commitChanges(o *org, changes []store.Change, now time.Time) store.ApplyResult {
	if s.faults.seqGap && o.seq > 0 {
		o.seq++ // deliberately wrong: a gap between Applies
	}
	res := store.ApplyResult{FirstSeq: o.seq + 1}
	for _, ch := range changes {
		o.seq++
		ch.Seq = o.seq
		if ch.At.IsZero() {
			ch.At = now
		}
		o.changes = append(o.changes, ch)
	}
	res.LastSeq = o.seq
	return res
}

func (t *tx) writeUser(w store.UserWrite, r *userRec, now time.Time) error {
	id := w.User.ID
	cur := t.user(id)
	if w.Delete {
		switch {
		case cur == nil:
			return conflict("there is no user %q to delete", id)
		case cur.u.Version != w.ExpectVersion:
			return conflict("user %q is at version %d, not %d", id, cur.u.Version, w.ExpectVersion)
		}
		t.users[id] = nil
		t.ext[srcKey{cur.u.SourceID, cur.u.ExternalID}] = ""
		return nil
	}
	u := r.u
	k := srcKey{u.SourceID, u.ExternalID}
	if w.ExpectVersion == 0 {
		if cur != nil {
			return conflict("user %q exists", id)
		}
		if owner := t.extOwner(k); owner != "" {
			return conflict("external ID %q of source %q belongs to user %q", u.ExternalID, u.SourceID, owner)
		}
		u.Version, u.CreatedAt, u.UpdatedAt = 1, now, now
	} else {
		if cur == nil {
			return conflict("there is no user %q at version %d", id, w.ExpectVersion)
		}
		if cur.u.Version != w.ExpectVersion {
			return conflict("user %q is at version %d, not %d", id, cur.u.Version, w.ExpectVersion)
		}
		ck := srcKey{cur.u.SourceID, cur.u.ExternalID}
		if ck == k && u.ProviderUpdatedAt.Before(cur.u.ProviderUpdatedAt) {
			return fmt.Errorf("%w: user %q provider updated_at %s is older than the stored %s", store.ErrStale, id,
				u.ProviderUpdatedAt.Format(time.RFC3339Nano), cur.u.ProviderUpdatedAt.Format(time.RFC3339Nano))
		}
		if ck != k {
			if owner := t.extOwner(k); owner != "" && owner != id {
				return conflict("external ID %q of source %q belongs to user %q", u.ExternalID, u.SourceID, owner)
			}
			t.ext[ck] = ""
		}
		u.Version, u.CreatedAt, u.UpdatedAt = cur.u.Version+1, cur.u.CreatedAt, now
	}
	t.users[id] = r
	t.ext[k] = id
	return nil
}

func (t *tx) writeGroup(w store.GroupWrite, g *store.Group, now time.Time) error {
	id := w.Group.ID
	cur := t.group(id)
	if w.Delete {
		switch {
		case cur == nil:
			return conflict("there is no group %q to delete", id)
		case cur.Version != w.ExpectVersion:
			return conflict("group %q is at version %d, not %d", id, cur.Version, w.ExpectVersion)
		}
		t.groups[id] = nil
		t.gext[srcKey{cur.SourceID, cur.ExternalID}] = ""
		return nil
	}
	k := srcKey{g.SourceID, g.ExternalID}
	if w.ExpectVersion == 0 {
		if cur != nil {
			return conflict("group %q exists", id)
		}
		if owner := t.groupExtOwner(k); owner != "" {
			return conflict("external ID %q of source %q belongs to group %q", g.ExternalID, g.SourceID, owner)
		}
		g.Version, g.CreatedAt, g.UpdatedAt = 1, now, now
	} else {
		if cur == nil {
			return conflict("there is no group %q at version %d", id, w.ExpectVersion)
		}
		if cur.Version != w.ExpectVersion {
			return conflict("group %q is at version %d, not %d", id, cur.Version, w.ExpectVersion)
		}
		ck := srcKey{cur.SourceID, cur.ExternalID}
		if ck != k {
			if owner := t.groupExtOwner(k); owner != "" && owner != id {
				return conflict("external ID %q of source %q belongs to group %q", g.ExternalID, g.SourceID, owner)
			}
			t.gext[ck] = ""
		}
		g.Version, g.CreatedAt, g.UpdatedAt = cur.Version+1, cur.CreatedAt, now
	}
	t.groups[id] = g
	t.gext[k] = id
	return nil
}

// commit makes the pending rows visible.
func (t *tx) commit(o *org, fold func(string) string) {
	for id := range t.users {
		if old := o.users[id]; old != nil {
			o.unindex(old)
		}
	}
	for id, r := range t.users {
		if r != nil {
			o.index(r)
			continue
		}
		for gid := range o.userGroups[id] {
			o.removeMember(id, gid)
		}
	}
	for id := range t.groups {
		if old := o.groups[id]; old != nil {
			o.removeGroup(old, fold)
		}
	}
	for id, g := range t.groups {
		if g != nil {
			o.addGroup(g, fold)
			continue
		}
		for uid := range o.members[id] {
			o.removeMember(uid, id)
		}
	}
	for _, m := range t.members {
		if m.Remove {
			o.removeMember(m.UserID, m.GroupID)
		} else {
			o.addMember(m.UserID, m.GroupID)
		}
	}
	o.flush()
}
