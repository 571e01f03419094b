package dirsync

import (
	"errors"
	"fmt"
	"slices"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

const maxGroupNameBytes = 1024

// memberChange is the journal entry of a membership: the user is the
// subject, the group is in After (added) or Before (removed) as group_id
// and group_name.
func memberChange(kind store.ChangeKind, userID string, g *store.Group, cause string) store.Change {
	f := map[string]any{"group_id": g.ID, "group_name": g.Name}
	c := store.Change{Kind: kind, SubjectID: userID, Cause: cause}
	if kind == store.ChangeMemberAdded {
		c.After = f
	} else {
		c.Before = f
	}
	return c
}

// syncGroups lists the provider's groups, creates, renames and deletes
// groups of the source, then lists each group's members and adds and
// removes memberships. Groups are diffed by external ID; memberships by
// (user, group). A group deleted with its memberships is journaled as one
// group_deleted entry.
func (r *runState) syncGroups() error {
	s := r.s
	org := s.cfg.OrgID
	stored, err := s.st.Groups(r.ctx, org, s.source)
	if err != nil {
		return fmt.Errorf("reading stored groups: %w", err)
	}
	byExt := make(map[string]*store.Group, len(stored))
	for i := range stored {
		byExt[stored[i].ExternalID] = &stored[i].Group
	}
	var listed []*store.Group
	seen := map[string]bool{}
	var writes []store.GroupWrite
	var changes []store.Change
	err = s.cfg.Provider.Groups(r.ctx, func(page []ProviderGroup) error {
		for _, pg := range page {
			if pg.ExternalID == "" || len(pg.ExternalID) > maxExternalIDBytes || len(pg.Name) > maxGroupNameBytes {
				r.addErr(store.RecordError{ExternalID: pg.ExternalID, Field: "group", Message: "group has no external ID, or its ID or name is too long"})
				continue
			}
			if seen[pg.ExternalID] {
				continue
			}
			seen[pg.ExternalID] = true
			name := mapping.Clean(pg.Name)
			if g := byExt[pg.ExternalID]; g != nil {
				if g.Name != name {
					ng := *g
					ng.Name = name
					writes = append(writes, store.GroupWrite{Group: ng, ExpectVersion: g.Version})
					changes = append(changes, store.Change{Kind: store.ChangeGroupUpdated, SubjectID: g.ID,
						Before: map[string]any{"name": g.Name}, After: map[string]any{"name": name}, Cause: r.run.ID})
					g.Name = name
				}
				listed = append(listed, g)
				continue
			}
			g := &store.Group{OrgID: org, SourceID: s.source, ID: newID("grp"), ExternalID: pg.ExternalID, Name: name}
			writes = append(writes, store.GroupWrite{Group: *g})
			changes = append(changes, store.Change{Kind: store.ChangeGroupCreated, SubjectID: g.ID,
				After: map[string]any{"external_id": g.ExternalID, "name": name}, Cause: r.run.ID})
			listed = append(listed, g)
		}
		return r.ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("listing groups: %w", err)
	}
	for i := range stored {
		g := &stored[i].Group
		if !seen[g.ExternalID] {
			writes = append(writes, store.GroupWrite{Group: *g, ExpectVersion: g.Version, Delete: true})
			changes = append(changes, store.Change{Kind: store.ChangeGroupDeleted, SubjectID: g.ID,
				Before: map[string]any{"external_id": g.ExternalID, "name": g.Name}, Cause: r.run.ID})
		}
	}
	if err := r.applyGroups(store.ApplyRequest{Groups: writes, Changes: changes}); err != nil {
		return err
	}

	// Memberships.
	current := map[string]map[string]struct{}{}
	err = s.st.Memberships(r.ctx, org, s.source, func(m store.Membership) error {
		set := current[m.GroupID]
		if set == nil {
			set = map[string]struct{}{}
			current[m.GroupID] = set
		}
		set[m.UserID] = struct{}{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading stored memberships: %w", err)
	}
	for _, g := range listed {
		want := map[string]struct{}{}
		err := s.cfg.Provider.GroupMembers(r.ctx, g.ExternalID, func(exts []string) error {
			for _, ext := range exts {
				if id := r.userIDOf(ext); id != "" {
					want[id] = struct{}{}
				}
			}
			return r.ctx.Err()
		})
		if err != nil {
			return fmt.Errorf("listing the members of group %q: %w", g.ExternalID, err)
		}
		have := current[g.ID]
		var req store.ApplyRequest
		for _, uid := range sortedKeys(want) {
			if _, ok := have[uid]; !ok {
				req.Members = append(req.Members, store.MemberWrite{Membership: store.Membership{UserID: uid, GroupID: g.ID}})
				req.Changes = append(req.Changes, memberChange(store.ChangeMemberAdded, uid, g, r.run.ID))
			}
		}
		for _, uid := range sortedKeys(have) {
			if _, ok := want[uid]; !ok {
				req.Members = append(req.Members, store.MemberWrite{Membership: store.Membership{UserID: uid, GroupID: g.ID}, Remove: true})
				req.Changes = append(req.Changes, memberChange(store.ChangeMemberRemoved, uid, g, r.run.ID))
			}
		}
		if err := r.applyGroups(req); err != nil {
			return err
		}
	}
	return nil
}

// userIDOf returns the user ID of an external ID this run listed or the
// snapshot holds, or "" for one that is not stored (it failed to map).
func (r *runState) userIDOf(ext string) string {
	if id := r.listed[ext]; id != "" {
		return id
	}
	if ix, ok := r.idx[ext]; ok {
		return r.entries[ix].UserID
	}
	return ""
}

func sortedKeys(m map[string]struct{}) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// applyGroups writes group and membership changes in batches of
// BatchSize, or plans them in a dry run.
func (r *runState) applyGroups(req store.ApplyRequest) error {
	if len(req.Groups) == 0 && len(req.Members) == 0 {
		return nil
	}
	if r.spec.dry {
		for _, c := range req.Changes {
			p := store.PlanItem{Kind: c.Kind, UserID: c.SubjectID, Before: c.Before, After: c.After}
			if len(r.plan) < r.s.cfg.PlanLimit {
				r.plan = append(r.plan, p)
			}
			if r.spec.plan != nil {
				if err := r.spec.plan(p); err != nil {
					return fmt.Errorf("plan callback: %w", err)
				}
			}
		}
		return nil
	}
	// Group writes have one change each; member writes too, so both slices
	// split alike.
	bs := r.s.cfg.BatchSize
	gs, ms, cs := req.Groups, req.Members, req.Changes
	for len(gs) > 0 || len(ms) > 0 {
		part := store.ApplyRequest{OrgID: r.s.cfg.OrgID, Lease: r.lease()}
		if len(gs) > 0 {
			n := min(bs, len(gs))
			part.Groups, part.Changes = gs[:n], cs[:n]
			gs, cs = gs[n:], cs[n:]
		} else {
			n := min(bs, len(ms))
			part.Members, part.Changes = ms[:n], cs[:n]
			ms, cs = ms[n:], cs[n:]
		}
		res, err := r.s.st.Apply(r.ctx, part)
		if err != nil {
			if errors.Is(err, store.ErrLeaseLost) {
				return errLeaseLost
			}
			return fmt.Errorf("applying groups and memberships: %w", err)
		}
		r.wrote, r.lastSeq = true, res.LastSeq
		notify(r.s.cfg.OrgID) // wake in-process watchers now
	}
	return nil
}
