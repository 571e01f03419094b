package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// userSelect selects the columns a userScanner reads, from users aliased u.
const userSelect = `u.org_id, u.id, u.source_id, u.external_id, u.idp_id, u.email, u.first_name, u.last_name,
	u.department, u.division, u.office, u.title, u.tags, u.active,
	(SELECT s.source FROM {S}.user_sources s WHERE s.org_id = u.org_id AND s.id = u.id), u.source_hash, u.profile_hash,
	u.mapping_version, u.provider_updated_at, u.version, u.created_at, u.updated_at, u.deactivated_at`

// resultSelect is userSelect with NULL for the source record, which search
// results leave out (store.Store.Search): reading it is a probe of
// user_sources, a random page, per user of the page. It ends with the
// user's last-name sort key, which readPage merges two pages by (folding
// each user's names again in Go was two fifths of what a prefix search
// allocated).
var resultSelect = strings.Replace(userSelect, "(SELECT s.source FROM {S}.user_sources s WHERE s.org_id = u.org_id AND s.id = u.id)", "NULL::bytea", 1) +
	", u.k_last"

// userScanner reads rows of userSelect's columns (and any extra columns
// after them) into store.Users. One scanner serves every row of a query:
// its destinations are made once, where building them per row (a slice of
// two dozen pointers) and each user apart (copied into the result) were
// half of the bytes a search allocated, and garbage collection ran about
// twice as often as without.
type userScanner struct {
	u                store.User
	tags             *string
	source           []byte
	pua, deact       *int64
	created, updated int64
	dest             []any
}

// newUserScanner returns a scanner whose rows end with extra's columns.
func newUserScanner(extra ...any) *userScanner {
	sc := &userScanner{}
	u := &sc.u
	sc.dest = append([]any{&u.OrgID, &u.ID, &u.SourceID, &u.ExternalID, &u.IdpID, &u.Email, &u.FirstName, &u.LastName,
		&u.Department, &u.Division, &u.Office, &u.Title, &sc.tags, &u.Active, &sc.source, &u.SourceHash, &u.ProfileHash,
		&u.MappingVersion, &sc.pua, &u.Version, &sc.created, &sc.updated, &sc.deact}, extra...)
	return sc
}

// scan reads the current row of rows into u.
func (sc *userScanner) scan(rows pgx.Rows, u *store.User) error {
	sc.source = nil
	if err := rows.Scan(sc.dest...); err != nil {
		return err
	}
	*u = sc.u
	var err error
	if u.Tags, err = decodeTags(sc.tags); err != nil {
		return err
	}
	if len(sc.source) > 0 {
		u.Source = sc.source
	}
	u.ProviderUpdatedAt = fromNanos(sc.pua)
	u.CreatedAt = fromNanos(&sc.created)
	u.UpdatedAt = fromNanos(&sc.updated)
	u.DeactivatedAt = fromNanosPtr(sc.deact)
	return nil
}

// queryUsers runs sql and returns its users (userSelect's columns); want is
// how many rows to make room for at first (0 when not known).
func (s *Store) queryUsers(ctx context.Context, want int, sql string, args ...any) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	out := make([]store.User, 0, want)
	sc := newUserScanner()
	for rows.Next() {
		out = append(out, store.User{})
		if err := sc.scan(rows, &out[len(out)-1]); err != nil {
			return nil, interpretError(err)
		}
	}
	return out, interpretError(rows.Err())
}

// Snapshot streams the compact rows of the org's source.
func (s *Store) Snapshot(ctx context.Context, orgID, sourceID string, fn func(store.SnapshotEntry) error) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	if !storable(sourceID) {
		return nil
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT external_id, id, source_hash, profile_hash, mapping_version, active, provider_updated_at, version
		FROM {S}.users WHERE org_id = $1 AND source_id = $2`), orgID, sourceID)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.SnapshotEntry
		var pua *int64
		if err := rows.Scan(&e.ExternalID, &e.UserID, &e.SourceHash, &e.ProfileHash, &e.MappingVersion, &e.Active, &pua, &e.Version); err != nil {
			return interpretError(err)
		}
		e.ProviderUpdatedAt = fromNanos(pua)
		if err := fn(e); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

// LoadUsers returns the users matching req, ordered by ID.
func (s *Store) LoadUsers(ctx context.Context, req store.LoadUsersRequest) ([]store.User, error) {
	if err := store.ValidateOrgID(req.OrgID); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"external IDs", len(req.ExternalIDs)}, {"idp IDs", len(req.IdpIDs)}, {"emails", len(req.Emails)}} {
		if l.n > 1000 {
			return nil, fmt.Errorf("%w: %d %s; the limit is 1000", store.ErrInvalid, l.n, l.name)
		}
	}
	ext := storableAll(req.ExternalIDs)
	idp := storableAll(req.IdpIDs)
	var emails []string
	for _, e := range req.Emails {
		if f := search.Fold(e); f != "" {
			emails = append(emails, f)
		}
	}
	var idpClean []string
	for _, x := range idp {
		if x != "" {
			idpClean = append(idpClean, x)
		}
	}
	if len(ext) == 0 && len(idpClean) == 0 && len(emails) == 0 {
		return nil, nil
	}
	if !storable(req.SourceID) {
		ext = nil
	}
	// Three index look-ups joined from the arrays, never one scan of the
	// org with an OR of three ANY filters: the planner's estimate of a
	// table growing under a cold sync is stale, and a scan of the org per
	// batch made a cold sync quadratic. With OnlyInactive the identity
	// look-ups use the partial indexes of inactive users.
	inactive := ""
	if req.OnlyInactive {
		inactive = " AND NOT m.active"
	}
	// LATERAL … OFFSET 0 (which the planner does not flatten into a join)
	// makes each look-up an index probe per array element, whatever the
	// estimates say.
	q := s.sql(`WITH hit AS (
		SELECT m.id FROM unnest($3::text[]) x(v), LATERAL (SELECT m.id FROM {S}.users m
			WHERE m.org_id = $1 AND m.source_id = $2 AND m.external_id = x.v OFFSET 0) m
		UNION
		SELECT m.id FROM unnest($4::text[]) x(v), LATERAL (SELECT m.id FROM {S}.users m
			WHERE m.org_id = $1 AND m.idp_id = x.v AND m.idp_id <> ''` + inactive + ` OFFSET 0) m
		UNION
		SELECT m.id FROM unnest($5::text[]) x(v), LATERAL (SELECT m.id FROM {S}.users m
			WHERE m.org_id = $1 AND m.f_email = x.v AND m.f_email <> ''` + inactive + ` OFFSET 0) m)
		SELECT ` + userSelect + ` FROM hit, LATERAL (SELECT * FROM {S}.users u WHERE u.org_id = $1 AND u.id = hit.id OFFSET 0) u
		ORDER BY u.id`)
	return s.queryUsers(ctx, len(ext), q, req.OrgID, req.SourceID, ext, idpClean, emails)
}

// GetUser returns one user with its groups.
func (s *Store) GetUser(ctx context.Context, orgID, userID string) (store.User, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.User{}, err
	}
	if !storable(userID) {
		return store.User{}, fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
	}
	users, err := s.queryUsers(ctx, 1, s.sql(`SELECT `+userSelect+` FROM {S}.users u WHERE u.org_id = $1 AND u.id = $2`), orgID, userID)
	if err != nil {
		return store.User{}, err
	}
	if len(users) == 0 {
		return store.User{}, fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
	}
	if err := s.fillGroups(ctx, orgID, users); err != nil {
		return store.User{}, err
	}
	return users[0], nil
}

// fillGroups sets Groups of each user, sorted by name then ID.
func (s *Store) fillGroups(ctx context.Context, orgID string, users []store.User) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]string, len(users))
	pos := make(map[string]int, len(users))
	for i, u := range users {
		ids[i] = u.ID
		pos[u.ID] = i
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT m.user_id, g.id, g.name FROM {S}.memberships m
		JOIN {S}.groups g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = $1 AND m.user_id = ANY($2) ORDER BY g.name, g.id`), orgID, ids)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid string
		var g store.GroupRef
		if err := rows.Scan(&uid, &g.ID, &g.Name); err != nil {
			return interpretError(err)
		}
		if i, ok := pos[uid]; ok {
			users[i].Groups = append(users[i].Groups, g)
		}
	}
	return interpretError(rows.Err())
}

// Groups lists the org's groups with member counts.
func (s *Store) Groups(ctx context.Context, orgID, sourceID string) ([]store.GroupSummary, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	if !storable(sourceID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT g.org_id, g.source_id, g.id, g.external_id, g.name, g.version, g.created_at, g.updated_at,
		(SELECT count(*) FROM {S}.memberships m WHERE m.org_id = g.org_id AND m.group_id = g.id)
		FROM {S}.groups g WHERE g.org_id = $1 AND ($2 = '' OR g.source_id = $2) ORDER BY g.name, g.id`), orgID, sourceID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.GroupSummary
	for rows.Next() {
		var g store.GroupSummary
		var created, updated int64
		if err := rows.Scan(&g.OrgID, &g.SourceID, &g.ID, &g.ExternalID, &g.Name, &g.Version, &created, &updated, &g.MemberCount); err != nil {
			return nil, interpretError(err)
		}
		g.CreatedAt, g.UpdatedAt = fromNanos(&created), fromNanos(&updated)
		out = append(out, g)
	}
	return out, interpretError(rows.Err())
}

// Memberships streams the memberships of the source's groups.
func (s *Store) Memberships(ctx context.Context, orgID, sourceID string, fn func(store.Membership) error) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	if !storable(sourceID) {
		return nil
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT m.user_id, m.group_id FROM {S}.memberships m
		JOIN {S}.groups g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = $1 AND g.source_id = $2 ORDER BY m.group_id, m.user_id`), orgID, sourceID)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m store.Membership
		if err := rows.Scan(&m.UserID, &m.GroupID); err != nil {
			return interpretError(err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

// Changes returns journal entries after a sequence number.
func (s *Store) Changes(ctx context.Context, orgID string, after int64, limit int) ([]store.Change, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d is outside 1..1000", store.ErrInvalid, limit)
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT seq, kind, subject_id, before, after, cause, at FROM {S}.changes
		WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`), orgID, after, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c := store.Change{OrgID: orgID}
		var before, after *string
		var at int64
		var kind string
		if err := rows.Scan(&c.Seq, &kind, &c.SubjectID, &before, &after, &c.Cause, &at); err != nil {
			return nil, interpretError(err)
		}
		c.Kind = store.ChangeKind(kind)
		c.At = fromNanos(&at)
		if before != nil {
			if c.Before, err = store.DecodeFields([]byte(*before)); err != nil {
				return nil, fmt.Errorf("pgstore: change %d: %w", c.Seq, err)
			}
		}
		if after != nil {
			if c.After, err = store.DecodeFields([]byte(*after)); err != nil {
				return nil, fmt.Errorf("pgstore: change %d: %w", c.Seq, err)
			}
		}
		out = append(out, c)
	}
	return out, interpretError(rows.Err())
}

// LastSeq returns the org's highest journal sequence.
func (s *Store) LastSeq(ctx context.Context, orgID string) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var seq int64
	err := s.pool.QueryRow(ctx, s.sql(`SELECT coalesce((SELECT seq FROM {S}.counters WHERE org_id = $1), 0)`), orgID).Scan(&seq)
	return seq, interpretError(err)
}

// PruneChanges deletes journal entries older than before.
func (s *Store) PruneChanges(ctx context.Context, orgID string, before time.Time) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	if err := checkTime("before", before); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {S}.changes WHERE org_id = $1 AND at < $2`), orgID, before.UnixNano())
	if err != nil {
		return 0, interpretError(err)
	}
	return tag.RowsAffected(), nil
}

// RedactSubject removes before and after values of a subject's entries.
func (s *Store) RedactSubject(ctx context.Context, orgID, subjectID string) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	if !storable(subjectID) {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, s.sql(`UPDATE {S}.changes SET before = NULL, after = NULL
		WHERE org_id = $1 AND subject_id = $2 AND (before IS NOT NULL OR after IS NOT NULL)`), orgID, subjectID)
	if err != nil {
		return 0, interpretError(err)
	}
	return tag.RowsAffected(), nil
}

// runBody is what the runs table keeps of a run besides its keys.
func encodeRun(run *store.SyncRun) ([]byte, error) {
	b, err := json.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("%w: run %q: %v", store.ErrInvalid, run.ID, err)
	}
	return b, nil
}

func decodeRun(b []byte) (store.SyncRun, error) {
	var run store.SyncRun
	if err := json.Unmarshal(b, &run); err != nil {
		return run, fmt.Errorf("pgstore: stored run: %w", err)
	}
	// Plans hold changed fields; decode them as Diff produced them.
	for i := range run.Plan {
		p := &run.Plan[i]
		for _, m := range []*map[string]any{&p.Before, &p.After} {
			if *m == nil {
				continue
			}
			b, err := json.Marshal(*m)
			if err != nil {
				return run, fmt.Errorf("pgstore: stored run plan: %w", err)
			}
			if *m, err = store.DecodeFields(b); err != nil {
				return run, fmt.Errorf("pgstore: stored run plan: %w", err)
			}
		}
	}
	return run, nil
}

func (s *Store) checkRun(run *store.SyncRun) error {
	if err := store.ValidateOrgID(run.OrgID); err != nil {
		return err
	}
	if run.ID == "" {
		return fmt.Errorf("%w: run without an ID", store.ErrInvalid)
	}
	if err := errors.Join(checkText("run ID", run.ID), checkText("run status", string(run.Status)), checkTime("started_at", run.StartedAt)); err != nil {
		return err
	}
	return nil
}

// CreateRun records a new run.
func (s *Store) CreateRun(ctx context.Context, run store.SyncRun) error {
	if err := s.checkRun(&run); err != nil {
		return err
	}
	body, err := encodeRun(&run)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {S}.runs (org_id, id, status, started_at, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`), run.OrgID, run.ID, string(run.Status), tsArg(run.StartedAt), body)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: run %q exists", store.ErrConflict, run.ID)
	}
	return nil
}

// UpdateRun replaces a run whose stored status is expect.
func (s *Store) UpdateRun(ctx context.Context, run store.SyncRun, expect store.RunStatus) error {
	if err := s.checkRun(&run); err != nil {
		return err
	}
	body, err := encodeRun(&run)
	if err != nil {
		return err
	}
	var updated bool
	err = s.pool.QueryRow(ctx, s.sql(`WITH cur AS (SELECT status FROM {S}.runs WHERE org_id = $1 AND id = $2 FOR UPDATE),
		upd AS (UPDATE {S}.runs r SET status = $3, started_at = $4, body = $5 FROM cur
			WHERE r.org_id = $1 AND r.id = $2 AND cur.status = $6 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM upd) FROM cur`), run.OrgID, run.ID, string(run.Status), tsArg(run.StartedAt), body, string(expect)).Scan(&updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: run %q", store.ErrNotFound, run.ID)
	}
	if err != nil {
		return interpretError(err)
	}
	if !updated {
		return fmt.Errorf("%w: run %q is not %s", store.ErrConflict, run.ID, expect)
	}
	return nil
}

// abandoned reports a running run whose lease lapsed as failed.
func (s *Store) abandoned(run *store.SyncRun) {
	if run.Status == store.RunRunning && !run.LeaseExpiresAt.IsZero() && s.cfg.Now().After(run.LeaseExpiresAt) {
		run.Status = store.RunFailed
		if run.Error == "" {
			run.Error = "abandoned: the run's lease expired while it was running"
		}
	}
}

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, orgID, runID string) (store.SyncRun, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.SyncRun{}, err
	}
	if !storable(runID) {
		return store.SyncRun{}, fmt.Errorf("%w: run %q", store.ErrNotFound, runID)
	}
	var body []byte
	err := s.pool.QueryRow(ctx, s.sql(`SELECT body FROM {S}.runs WHERE org_id = $1 AND id = $2`), orgID, runID).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.SyncRun{}, fmt.Errorf("%w: run %q", store.ErrNotFound, runID)
	}
	if err != nil {
		return store.SyncRun{}, interpretError(err)
	}
	run, err := decodeRun(body)
	if err != nil {
		return run, err
	}
	s.abandoned(&run)
	return run, nil
}

// ListRuns returns up to limit runs, newest first.
func (s *Store) ListRuns(ctx context.Context, orgID string, limit int) ([]store.SyncRun, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := s.pool.Query(ctx, s.sql(`SELECT body FROM {S}.runs WHERE org_id = $1
		ORDER BY started_at DESC NULLS LAST, id DESC LIMIT $2`), orgID, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.SyncRun
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, interpretError(err)
		}
		run, err := decodeRun(body)
		if err != nil {
			return nil, err
		}
		s.abandoned(&run)
		out = append(out, run)
	}
	return out, interpretError(rows.Err())
}

// ParkEvent stores an event for approval.
func (s *Store) ParkEvent(ctx context.Context, ev store.ParkedEvent) error {
	if err := store.ValidateOrgID(ev.OrgID); err != nil {
		return err
	}
	if ev.ID == "" {
		return fmt.Errorf("%w: parked event without an ID", store.ErrInvalid)
	}
	if err := errors.Join(checkText("event ID", ev.ID), checkText("event kind", ev.Kind), checkText("directory ID", ev.DirectoryID),
		checkText("reason", ev.Reason), checkTime("received_at", ev.ReceivedAt)); err != nil {
		return err
	}
	var payload []byte
	if len(ev.Payload) > 0 {
		payload = ev.Payload
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {S}.parked_events (org_id, id, kind, directory_id, payload, received_at, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`),
		ev.OrgID, ev.ID, ev.Kind, ev.DirectoryID, payload, tsArg(ev.ReceivedAt), ev.Reason)
	return interpretError(err)
}

// ParkedEvents lists the org's parked events, oldest first.
func (s *Store) ParkedEvents(ctx context.Context, orgID string) ([]store.ParkedEvent, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT id, kind, directory_id, payload, received_at, reason FROM {S}.parked_events
		WHERE org_id = $1 ORDER BY received_at NULLS FIRST, pos`), orgID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.ParkedEvent
	for rows.Next() {
		ev := store.ParkedEvent{OrgID: orgID}
		var payload []byte
		var received *int64
		if err := rows.Scan(&ev.ID, &ev.Kind, &ev.DirectoryID, &payload, &received, &ev.Reason); err != nil {
			return nil, interpretError(err)
		}
		if len(payload) > 0 {
			ev.Payload = payload
		}
		ev.ReceivedAt = fromNanos(received)
		out = append(out, ev)
	}
	return out, interpretError(rows.Err())
}

// EventProcessed reports whether an Apply recorded the event's mark.
func (s *Store) EventProcessed(ctx context.Context, orgID, eventID string) (bool, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return false, err
	}
	if !storable(eventID) {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, s.sql(`SELECT EXISTS (SELECT 1 FROM {S}.events WHERE org_id = $1 AND id = $2)`), orgID, eventID).Scan(&ok)
	return ok, interpretError(err)
}

// EventDeactivations sums the deactivations of event marks since a time.
func (s *Store) EventDeactivations(ctx context.Context, orgID string, since time.Time) (int, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, s.sql(`SELECT coalesce(sum(deactivations), 0) FROM {S}.events WHERE org_id = $1 AND at >= $2`),
		orgID, clampNanos(since)).Scan(&n)
	return int(n), interpretError(err)
}

// clampNanos converts a time used only for comparison, clamping it to the
// storable range.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// Tombstoned reports whether the source's external ID has an unexpired
// tombstone.
func (s *Store) Tombstoned(ctx context.Context, orgID, sourceID, externalID string) (bool, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return false, err
	}
	if !storable(sourceID) || !storable(externalID) {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, s.sql(`SELECT EXISTS (SELECT 1 FROM {S}.tombstones WHERE org_id = $1 AND source_id = $2
		AND external_id = $3 AND (expires_at IS NULL OR expires_at > $4))`), orgID, sourceID, externalID, s.cfg.Now().UnixNano()).Scan(&ok)
	return ok, interpretError(err)
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AcquireLease takes the org's lease for ttl.
func (s *Store) AcquireLease(ctx context.Context, orgID, holder string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("%w: lease TTL %s must be positive", store.ErrInvalid, ttl)
	}
	if err := checkText("holder", holder); err != nil {
		return store.Lease{}, err
	}
	now := s.cfg.Now()
	l := store.Lease{OrgID: orgID, Holder: holder, Token: newToken(), ExpiresAt: now.Add(ttl)}
	if err := checkTime("lease expiry", l.ExpiresAt); err != nil {
		return store.Lease{}, err
	}
	tag, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {S}.leases AS l (org_id, holder, token, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
		WHERE l.expires_at <= $5`), orgID, holder, l.Token, l.ExpiresAt.UnixNano(), now.UnixNano())
	if err != nil {
		return store.Lease{}, interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.Lease{}, fmt.Errorf("%w: org %q", store.ErrLeaseHeld, orgID)
	}
	return l, nil
}

// RenewLease extends a lease still held.
func (s *Store) RenewLease(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateOrgID(lease.OrgID); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("%w: lease TTL %s must be positive", store.ErrInvalid, ttl)
	}
	if !storable(lease.Token) {
		return store.Lease{}, fmt.Errorf("%w: org %q", store.ErrLeaseLost, lease.OrgID)
	}
	now := s.cfg.Now()
	exp := now.Add(ttl)
	if err := checkTime("lease expiry", exp); err != nil {
		return store.Lease{}, err
	}
	var holder string
	err := s.pool.QueryRow(ctx, s.sql(`UPDATE {S}.leases SET expires_at = $3 WHERE org_id = $1 AND token = $2 AND expires_at > $4 RETURNING holder`),
		lease.OrgID, lease.Token, exp.UnixNano(), now.UnixNano()).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Lease{}, fmt.Errorf("%w: org %q", store.ErrLeaseLost, lease.OrgID)
	}
	if err != nil {
		return store.Lease{}, interpretError(err)
	}
	lease.Holder = holder
	lease.ExpiresAt = exp
	return lease, nil
}

// ReleaseLease gives the lease up; releasing a lost lease is a no-op.
func (s *Store) ReleaseLease(ctx context.Context, lease store.Lease) error {
	if err := store.ValidateOrgID(lease.OrgID); err != nil {
		return err
	}
	if !storable(lease.Token) {
		return nil
	}
	_, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {S}.leases WHERE org_id = $1 AND token = $2`), lease.OrgID, lease.Token)
	return interpretError(err)
}

// SourceState returns the source's state.
func (s *Store) SourceState(ctx context.Context, orgID, sourceID string) (store.SourceState, error) {
	st := store.SourceState{OrgID: orgID, SourceID: sourceID}
	if err := store.ValidateOrgID(orgID); err != nil {
		return st, err
	}
	if !storable(sourceID) {
		return st, nil
	}
	var next, cursorAt *int64
	err := s.pool.QueryRow(ctx, s.sql(`SELECT next_due_at, events_cursor, events_cursor_at, mapping_version FROM {S}.source_states
		WHERE org_id = $1 AND source_id = $2`), orgID, sourceID).Scan(&next, &st.EventsCursor, &cursorAt, &st.MappingVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, interpretError(err)
	}
	st.NextDueAt, st.EventsCursorAt = fromNanos(next), fromNanos(cursorAt)
	return st, nil
}

// PutSourceState stores the source's state.
func (s *Store) PutSourceState(ctx context.Context, st store.SourceState) error {
	if err := store.ValidateOrgID(st.OrgID); err != nil {
		return err
	}
	if err := errors.Join(checkText("source ID", st.SourceID), checkText("events cursor", st.EventsCursor),
		checkText("mapping version", st.MappingVersion), checkTime("next_due_at", st.NextDueAt), checkTime("events_cursor_at", st.EventsCursorAt)); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {S}.source_states (org_id, source_id, next_due_at, events_cursor, events_cursor_at, mapping_version)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, source_id) DO UPDATE SET next_due_at = excluded.next_due_at,
		events_cursor = excluded.events_cursor, events_cursor_at = excluded.events_cursor_at, mapping_version = excluded.mapping_version`),
		st.OrgID, st.SourceID, tsArg(st.NextDueAt), st.EventsCursor, tsArg(st.EventsCursorAt), st.MappingVersion)
	return interpretError(err)
}

// PurgeOrg removes everything stored for the org, in one transaction.
func (s *Store) PurgeOrg(ctx context.Context, orgID string) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	return interpretError(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, t := range []string{"user_words", "user_tags", "facet_counts", "facet_pairs", "memberships", "user_sources", "users", "groups", "changes", "counters",
			"runs", "parked_events", "events", "tombstones", "leases", "source_states"} {
			if _, err := tx.Exec(ctx, s.sql(`DELETE FROM {S}.`+t+` WHERE org_id = $1`), orgID); err != nil {
				return fmt.Errorf("pgstore: purge %s: %w", t, err)
			}
		}
		return nil
	}))
}
