package dirsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Bounds on what a provider may hand the engine.
const (
	maxExternalIDBytes = 512
	maxSourceBytes     = 256 << 10
)

// action is what one record does to the store.
type action int

const (
	actNone       action = iota // unchanged, or nothing to do
	actSkip                     // stale or unusable; nothing written
	actSourceOnly               // rewrite the source record, no journal entry
	actCreate
	actUpdate
	actReactivate
	actRelink
	actDeactivate
)

// decision is what the engine will do with one record: the row to write,
// the journal entries and how it counts.
type decision struct {
	act     action
	write   store.UserWrite
	changes []store.Change
	// deactivates is set when the write turns an active user inactive.
	deactivates bool
	// reactivates is set for a relink that also reactivates.
	reactivates bool
	// recErr is the mapping failure, if any (the provider state is still
	// applied to a stored user).
	recErr *store.RecordError
	reason string // for actSkip
}

// matchInput is one record ready for matching: the record, its source hash
// and its mapped profile (or mapping error).
type matchInput struct {
	rec *mapping.Record
	// sh is the record's source hash; src and srcErr its canonical JSON
	// (store.EncodeSource), kept so that the record is encoded once.
	sh     string
	src    []byte
	srcErr error
	prof   mapping.Profile
	perr   error
}

// recordError turns a mapping failure into a run's record error.
func recordError(ext string, err error) store.RecordError {
	re := store.RecordError{ExternalID: ext, Message: err.Error()}
	var fe *mapping.FieldError
	if errors.As(err, &fe) {
		re.Field = fe.Field
		re.Message = fe.Err.Error()
	}
	if len(re.Message) > 1024 {
		re.Message = re.Message[:1024]
	}
	return re
}

// validateRecord checks what the engine relies on in a provider record.
func validateRecord(rec *mapping.Record) *store.RecordError {
	switch {
	case rec.ExternalID == "":
		return &store.RecordError{Field: "id", Message: "record has no external ID"}
	case len(rec.ExternalID) > maxExternalIDBytes:
		return &store.RecordError{ExternalID: rec.ExternalID[:64] + "…", Field: "id", Message: fmt.Sprintf("external ID is longer than %d bytes", maxExternalIDBytes)}
	}
	return nil
}

// mapRecord maps rec and returns its source hash too.
func mapRecord(m mapping.Mapper, rec *mapping.Record) (in matchInput) {
	in.rec = rec
	in.src, in.sh, in.srcErr = store.EncodeSource(rec)
	in.prof, in.perr = safeMap(m, rec)
	return in
}

// safeMap maps one record and turns a panicking mapper into an error, so a
// bad expression engine or mapping can never crash a sync.
func safeMap(m mapping.Mapper, rec *mapping.Record) (p mapping.Profile, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &mapping.FieldError{ExternalID: rec.ExternalID, Field: "*", Err: fmt.Errorf("mapper panicked: %v", r)}
		}
	}()
	return m.Map(rec)
}

// candidates holds the stored users that may match a set of records: those
// with the records' external IDs in the source, and inactive users of any
// source with their idp IDs or emails.
type candidates struct {
	// requested holds the external IDs asked for.
	requested map[string]struct{}
	byExt     map[string]*store.User
	byIdp     map[string][]*store.User
	byMail    map[string][]*store.User
}

// loadCandidates loads, in chunks the store accepts, the stored rows ins
// may match. withIdentity adds the inactive users that idp ID or email
// match (only records not in the snapshot need them).
func loadCandidates(ctx context.Context, st store.Store, org, source string, ins []matchInput, needIdentity func(i int) bool) (*candidates, error) {
	c := &candidates{byExt: make(map[string]*store.User, len(ins)), requested: make(map[string]struct{}, len(ins))}
	for i := range ins {
		c.requested[ins[i].rec.ExternalID] = struct{}{}
	}
	for start := 0; start < len(ins); start += loadChunk {
		end := min(start+loadChunk, len(ins))
		req := store.LoadUsersRequest{OrgID: org, SourceID: source, OnlyInactive: true}
		for i := start; i < end; i++ {
			in := &ins[i]
			req.ExternalIDs = append(req.ExternalIDs, in.rec.ExternalID)
			if needIdentity == nil || !needIdentity(i) {
				continue
			}
			if in.rec.IdpID != "" {
				req.IdpIDs = append(req.IdpIDs, in.rec.IdpID)
			}
			if e := matchEmail(in); e != "" {
				req.Emails = append(req.Emails, e)
			}
		}
		users, err := st.LoadUsers(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("loading stored users: %w", err)
		}
		for i := range users {
			u := &users[i]
			if _, asked := c.requested[u.ExternalID]; asked && u.SourceID == source {
				c.byExt[u.ExternalID] = u
			}
			if u.Active {
				continue
			}
			if u.IdpID != "" {
				if c.byIdp == nil {
					c.byIdp = map[string][]*store.User{}
				}
				c.byIdp[u.IdpID] = append(c.byIdp[u.IdpID], u)
			}
			if u.Email != "" {
				if c.byMail == nil {
					c.byMail = map[string][]*store.User{}
				}
				k := search.Fold(u.Email)
				c.byMail[k] = append(c.byMail[k], u)
			}
		}
	}
	return c, nil
}

// loadByExternalID loads the source's users with these external IDs (and
// any other rows the store returns for them), in look-ups of at most
// loadChunk IDs, whatever the batch size.
func loadByExternalID(ctx context.Context, st store.Store, org, source string, exts []string) ([]store.User, error) {
	var out []store.User
	for start := 0; start < len(exts); start += loadChunk {
		us, err := st.LoadUsers(ctx, store.LoadUsersRequest{OrgID: org, SourceID: source, ExternalIDs: exts[start:min(start+loadChunk, len(exts))]})
		if err != nil {
			return nil, err
		}
		out = append(out, us...)
	}
	return out, nil
}

// matchEmail is the email a record is matched by: the mapped one, else the
// provider's.
func matchEmail(in *matchInput) string {
	if in.perr == nil && in.prof.Email != "" {
		return in.prof.Email
	}
	return in.rec.Email
}

// match finds the stored user for in: by external ID in the source; else by
// idp ID, then by folded email, among inactive users of any source that are
// not claimed (claimed reports users already matched by another record, or
// listed in this run under their own external ID). relink is true for an
// idp ID or email match.
func (c *candidates) match(in *matchInput, source string, claimed func(u *store.User) bool) (u *store.User, relink bool) {
	if u := c.byExt[in.rec.ExternalID]; u != nil {
		return u, false
	}
	pick := func(us []*store.User) *store.User {
		for _, u := range us {
			if u.Active || claimed(u) {
				continue
			}
			if u.SourceID == source {
				// Its own external ID is listed too? Then it is not a
				// returning person.
				if _, own := c.requested[u.ExternalID]; own {
					continue
				}
			}
			return u
		}
		return nil
	}
	if in.rec.IdpID != "" {
		if u := pick(c.byIdp[in.rec.IdpID]); u != nil {
			return u, true
		}
	}
	if e := matchEmail(in); e != "" {
		if u := pick(c.byMail[search.Fold(e)]); u != nil {
			return u, true
		}
	}
	return nil, false
}

// decide computes what writing in over stored (nil: a new person) does.
// relink says stored was matched by idp ID or email. cause is the run or
// event ID for the journal.
func (s *Syncer) decide(in *matchInput, stored *store.User, relink bool, mv string, now time.Time, cause string) decision {
	rec := in.rec
	var d decision
	if in.perr != nil {
		re := recordError(rec.ExternalID, in.perr)
		d.recErr = &re
		if stored == nil {
			// Nothing to keep and nothing safe to create: skip; the next
			// run tries again.
			d.act, d.reason = actSkip, "mapping failed"
			return d
		}
	}
	if stored != nil && !rec.UpdatedAt.IsZero() && rec.UpdatedAt.Before(stored.ProviderUpdatedAt) && !relink {
		d.act, d.reason = actSkip, "older than stored"
		return d
	}

	var t store.User
	if stored != nil {
		t = *stored
		t.Groups = nil
	} else {
		t = store.User{OrgID: s.cfg.OrgID, ID: newID("usr")}
	}
	t.SourceID = s.source
	t.ExternalID = rec.ExternalID
	t.IdpID = rec.IdpID
	active := rec.State.Active()
	if in.perr == nil {
		if in.prof.Active != nil {
			active = *in.prof.Active
		}
		p := &in.prof
		t.FirstName, t.LastName, t.Email = p.FirstName, p.LastName, p.Email
		t.Department, t.Division, t.Office, t.Title = p.Department, p.Division, p.Office, p.Title
		t.Tags = store.NormalizeTags(p.Tags)
		src, err := in.src, in.srcErr
		if src == nil && err == nil {
			src, err = json.Marshal(rec)
		}
		if err != nil || len(src) > maxSourceBytes {
			re := store.RecordError{ExternalID: rec.ExternalID, Field: "source", Message: fmt.Sprintf("source record cannot be stored (%d bytes, at most %d)", len(src), maxSourceBytes)}
			if err != nil {
				re.Message = "source record cannot be encoded: " + err.Error()
			}
			d.act, d.reason, d.recErr = actSkip, "source record unusable", &re
			return d
		}
		t.Source, t.SourceHash, t.MappingVersion = src, in.sh, mv
	}
	// A mapping failure keeps the stored source, hash and mapping version,
	// so the next run maps the record again and reports it again.
	t.Active = active
	if !rec.UpdatedAt.IsZero() {
		t.ProviderUpdatedAt = rec.UpdatedAt
	}
	switch {
	case !active && (stored == nil || stored.Active):
		n := now
		t.DeactivatedAt = &n
	case active:
		t.DeactivatedAt = nil
	}
	t.ProfileHash = store.HashProfile(&t)

	var expect int64
	if stored != nil {
		expect = stored.Version
	}
	d.write = store.UserWrite{User: t, ExpectVersion: expect}

	if stored == nil {
		_, after := store.Diff(&store.User{}, &t)
		if after == nil {
			after = map[string]any{}
		}
		after["active"] = t.Active
		d.act = actCreate
		d.changes = []store.Change{{Kind: store.ChangeCreated, SubjectID: t.ID, After: after, Cause: cause}}
		return d
	}
	if !relink && t.ProfileHash == stored.ProfileHash {
		if t.SourceHash != stored.SourceHash || t.MappingVersion != stored.MappingVersion ||
			!t.ProviderUpdatedAt.Equal(stored.ProviderUpdatedAt) || t.SourceID != stored.SourceID {
			d.act = actSourceOnly
			return d
		}
		d.act = actNone
		return d
	}
	before, after := store.Diff(stored, &t)
	switch {
	case relink:
		d.act = actRelink
		b, a := without(before, "active"), without(after, "active")
		d.changes = []store.Change{{Kind: store.ChangeRelinked, SubjectID: t.ID, Before: b, After: a, Cause: cause}}
		if !stored.Active && t.Active {
			d.reactivates = true
			d.changes = append(d.changes, store.Change{Kind: store.ChangeReactivated, SubjectID: t.ID,
				Before: map[string]any{"active": false}, After: map[string]any{"active": true}, Cause: cause})
		}
	case stored.Active && !t.Active:
		d.act, d.deactivates = actDeactivate, true
		d.changes = []store.Change{{Kind: store.ChangeDeactivated, SubjectID: t.ID, Before: before, After: after, Cause: cause}}
	case !stored.Active && t.Active:
		d.act = actReactivate
		d.changes = []store.Change{{Kind: store.ChangeReactivated, SubjectID: t.ID, Before: before, After: after, Cause: cause}}
	default:
		if before == nil && after == nil {
			// The profile hash differed only by a hash version change.
			d.act = actSourceOnly
			return d
		}
		d.act = actUpdate
		d.changes = []store.Change{{Kind: store.ChangeUpdated, SubjectID: t.ID, Before: before, After: after, Cause: cause}}
	}
	return d
}

// without returns m without key k (nil when nothing is left).
func without(m map[string]any, k string) map[string]any {
	if _, ok := m[k]; !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// goneDecision deactivates (or under DeleteGone deletes) stored, a person
// gone from the provider, inactive there, or deleted by an event.
func (s *Syncer) goneDecision(stored *store.User, expect int64, now time.Time, cause string) decision {
	var d decision
	if s.cfg.DeletePolicy == DeleteGone {
		before, _ := store.Diff(stored, &store.User{})
		d.act, d.deactivates = actDeactivate, true
		d.write = store.UserWrite{User: store.User{OrgID: stored.OrgID, SourceID: stored.SourceID, ID: stored.ID, ExternalID: stored.ExternalID}, ExpectVersion: expect, Delete: true}
		d.changes = []store.Change{{Kind: store.ChangeDeleted, SubjectID: stored.ID, Before: before, Cause: cause}}
		return d
	}
	if !stored.Active {
		d.act = actNone
		return d
	}
	t := *stored
	t.Groups = nil
	t.Active = false
	n := now
	t.DeactivatedAt = &n
	t.ProfileHash = store.HashProfile(&t)
	before, after := store.Diff(stored, &t)
	d.act, d.deactivates = actDeactivate, true
	d.write = store.UserWrite{User: t, ExpectVersion: expect}
	d.changes = []store.Change{{Kind: store.ChangeDeactivated, SubjectID: t.ID, Before: before, After: after, Cause: cause}}
	return d
}

// tombstone for a deleted user.
func (s *Syncer) tombstone(u *store.User, now time.Time) store.Tombstone {
	return store.Tombstone{OrgID: s.cfg.OrgID, SourceID: u.SourceID, ExternalID: u.ExternalID, DeletedAt: now, ExpiresAt: now.Add(s.cfg.TombstoneTTL)}
}
