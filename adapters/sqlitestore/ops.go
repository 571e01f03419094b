package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/directorysync/directorysync/store"
)

// Changes returns journal entries after a sequence number; see store.Store.
func (s *Store) Changes(ctx context.Context, orgID string, after int64, limit int) ([]store.Change, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("sqlitestore: changes: %w: limit %d is outside 1..1000", store.ErrInvalid, limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, kind, subject_id, before, after, cause, at FROM dirsync_changes
		WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?`, orgID, after, limit)
	if err != nil {
		return nil, readErr("changes", err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c := store.Change{OrgID: orgID}
		var before, after sql.NullString
		var at int64
		if err := rows.Scan(&c.Seq, &c.Kind, &c.SubjectID, &before, &after, &c.Cause, &at); err != nil {
			return nil, readErr("changes", err)
		}
		if c.Before, err = store.DecodeFields([]byte(before.String)); err != nil {
			return nil, readErr("changes", fmt.Errorf("entry %d: before: %w", c.Seq, err))
		}
		if c.After, err = store.DecodeFields([]byte(after.String)); err != nil {
			return nil, readErr("changes", fmt.Errorf("entry %d: after: %w", c.Seq, err))
		}
		c.At = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("changes", err)
	}
	return out, nil
}

// LastSeq returns the org's highest journal sequence; see store.Store.
func (s *Store) LastSeq(ctx context.Context, orgID string) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM dirsync_counters WHERE org = ?), 0)`, orgID).Scan(&seq)
	if err != nil {
		return 0, readErr("last seq", err)
	}
	return seq, nil
}

// PruneChanges deletes journal entries older than before; see store.Store.
// The counter row keeps the sequence, so numbers are never reused.
func (s *Store) PruneChanges(ctx context.Context, orgID string, before time.Time) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, "prune changes", func(t *txn) (err error) {
		n, err = t.execN(`DELETE FROM dirsync_changes WHERE org = ? AND at < ?`, orgID, orderNanos(before))
		return interpretError(err)
	})
	return n, err
}

// RedactSubject removes the before and after values of the journal entries
// about subjectID; see store.Store.
func (s *Store) RedactSubject(ctx context.Context, orgID, subjectID string) (int64, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, "redact subject", func(t *txn) (err error) {
		n, err = t.execN(`UPDATE dirsync_changes SET before = NULL, after = NULL
			WHERE org = ? AND subject_id = ? AND (before IS NOT NULL OR after IS NOT NULL)`, orgID, subjectID)
		return interpretError(err)
	})
	return n, err
}

// CreateRun records a new run; see store.Store.
func (s *Store) CreateRun(ctx context.Context, run store.SyncRun) error {
	if err := store.ValidateOrgID(run.OrgID); err != nil {
		return err
	}
	if run.ID == "" {
		return fmt.Errorf("sqlitestore: create run: %w: run has no ID", store.ErrInvalid)
	}
	data, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("sqlitestore: create run: %w: %v", store.ErrInvalid, err)
	}
	return s.write(ctx, "create run", func(t *txn) error {
		_, err := t.exec(`INSERT INTO dirsync_runs (org, id, status, started_at, data) VALUES (?, ?, ?, ?, ?)`,
			run.OrgID, run.ID, string(run.Status), orZero(run.StartedAt), string(data))
		if err != nil {
			return fmt.Errorf("sqlitestore: create run %q: %w", run.ID, interpretError(err))
		}
		return nil
	})
}

// UpdateRun replaces a run whose stored status is expect; see store.Store.
func (s *Store) UpdateRun(ctx context.Context, run store.SyncRun, expect store.RunStatus) error {
	if err := store.ValidateOrgID(run.OrgID); err != nil {
		return err
	}
	data, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("sqlitestore: update run: %w: %v", store.ErrInvalid, err)
	}
	return s.write(ctx, "update run", func(t *txn) error {
		var status string
		err := t.queryRow(`SELECT status FROM dirsync_runs WHERE org = ? AND id = ?`, []any{run.OrgID, run.ID}, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlitestore: update run: %w: org %q has no run %q", store.ErrNotFound, run.OrgID, run.ID)
		}
		if err != nil {
			return fmt.Errorf("sqlitestore: update run %q: %w", run.ID, interpretError(err))
		}
		if status != string(expect) {
			return fmt.Errorf("sqlitestore: update run: %w: run %q is %s, not %s", store.ErrConflict, run.ID, status, expect)
		}
		_, err = t.exec(`UPDATE dirsync_runs SET status = ?, started_at = ?, data = ? WHERE org = ? AND id = ?`,
			string(run.Status), orZero(run.StartedAt), string(data), run.OrgID, run.ID)
		if err != nil {
			return fmt.Errorf("sqlitestore: update run %q: %w", run.ID, interpretError(err))
		}
		return nil
	})
}

// abandoned reports a running run whose lease lapsed as failed.
func (s *Store) abandoned(run *store.SyncRun) {
	if run.Status == store.RunRunning && !run.LeaseExpiresAt.IsZero() && !s.now().Before(run.LeaseExpiresAt) {
		run.Status = store.RunFailed
		if run.Error == "" {
			run.Error = "abandoned: the run's lease expired before it finished"
		}
	}
}

func decodeRun(data string) (store.SyncRun, error) {
	var run store.SyncRun
	if err := json.Unmarshal([]byte(data), &run); err != nil {
		return run, fmt.Errorf("stored run: %w", err)
	}
	return run, nil
}

// GetRun returns one run; see store.Store.
func (s *Store) GetRun(ctx context.Context, orgID, runID string) (store.SyncRun, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.SyncRun{}, err
	}
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM dirsync_runs WHERE org = ? AND id = ?`, orgID, runID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SyncRun{}, fmt.Errorf("sqlitestore: get run: %w: org %q has no run %q", store.ErrNotFound, orgID, runID)
	}
	if err != nil {
		return store.SyncRun{}, readErr("get run", err)
	}
	run, err := decodeRun(data)
	if err != nil {
		return store.SyncRun{}, readErr("get run", err)
	}
	s.abandoned(&run)
	return run, nil
}

// ListRuns returns runs newest first; see store.Store.
func (s *Store) ListRuns(ctx context.Context, orgID string, limit int) ([]store.SyncRun, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("sqlitestore: list runs: %w: limit %d must be positive", store.ErrInvalid, limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM dirsync_runs WHERE org = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`, orgID, limit)
	if err != nil {
		return nil, readErr("list runs", err)
	}
	defer rows.Close()
	var out []store.SyncRun
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, readErr("list runs", err)
		}
		run, err := decodeRun(data)
		if err != nil {
			return nil, readErr("list runs", err)
		}
		s.abandoned(&run)
		out = append(out, run)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("list runs", err)
	}
	return out, nil
}

// ParkEvent stores an event for approval; see store.Store.
func (s *Store) ParkEvent(ctx context.Context, ev store.ParkedEvent) error {
	if err := store.ValidateOrgID(ev.OrgID); err != nil {
		return err
	}
	if ev.ID == "" {
		return fmt.Errorf("sqlitestore: park event: %w: event has no ID", store.ErrInvalid)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("sqlitestore: park event: %w: %v", store.ErrInvalid, err)
	}
	return s.write(ctx, "park event", func(t *txn) error {
		_, err := t.exec(`INSERT INTO dirsync_parked_events (org, id, received_at, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (org, id) DO NOTHING`, ev.OrgID, ev.ID, orderNanos(ev.ReceivedAt), string(data))
		if err != nil {
			return fmt.Errorf("sqlitestore: park event %q: %w", ev.ID, interpretError(err))
		}
		return nil
	})
}

// ParkedEvents lists parked events, oldest first; see store.Store.
func (s *Store) ParkedEvents(ctx context.Context, orgID string) ([]store.ParkedEvent, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM dirsync_parked_events WHERE org = ?
		ORDER BY received_at, rowid`, orgID)
	if err != nil {
		return nil, readErr("parked events", err)
	}
	defer rows.Close()
	var out []store.ParkedEvent
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, readErr("parked events", err)
		}
		var ev store.ParkedEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return nil, readErr("parked events", fmt.Errorf("stored event: %w", err))
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("parked events", err)
	}
	return out, nil
}

// EventProcessed reports whether an event's mark is recorded; see
// store.Store.
func (s *Store) EventProcessed(ctx context.Context, orgID, eventID string) (bool, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return false, err
	}
	var ok bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM dirsync_event_marks WHERE org = ? AND id = ?)`, orgID, eventID).Scan(&ok)
	if err != nil {
		return false, readErr("event processed", err)
	}
	return ok, nil
}

// EventDeactivations sums the deactivations of event marks recorded at or
// after since; see store.Store.
func (s *Store) EventDeactivations(ctx context.Context, orgID string, since time.Time) (int, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return 0, err
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(sum(deactivations), 0) FROM dirsync_event_marks
		WHERE org = ? AND at >= ?`, orgID, orderNanos(since)).Scan(&n)
	if err != nil {
		return 0, readErr("event deactivations", err)
	}
	return n, nil
}

// Tombstoned reports whether an unexpired tombstone exists; see store.Store.
func (s *Store) Tombstoned(ctx context.Context, orgID, sourceID, externalID string) (bool, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return false, err
	}
	var ok bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM dirsync_tombstones
		WHERE org = ? AND source_id = ? AND external_id = ? AND expires_at > ?)`,
		orgID, sourceID, externalID, s.now().UnixNano()).Scan(&ok)
	if err != nil {
		return false, readErr("tombstoned", err)
	}
	return ok, nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// AcquireLease takes the org's lease; see store.Store.
func (s *Store) AcquireLease(ctx context.Context, orgID, holder string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("sqlitestore: acquire lease: %w: ttl %v must be positive", store.ErrInvalid, ttl)
	}
	token, err := newToken()
	if err != nil {
		return store.Lease{}, fmt.Errorf("sqlitestore: acquire lease: token: %w", err)
	}
	var lease store.Lease
	err = s.write(ctx, "acquire lease", func(t *txn) error {
		now := s.now()
		var curHolder string
		var exp int64
		err := t.queryRow(`SELECT holder, expires_at FROM dirsync_leases WHERE org = ?`, []any{orgID}, &curHolder, &exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlitestore: acquire lease: %w", interpretError(err))
		case exp > now.UnixNano() && curHolder != holder:
			return fmt.Errorf("sqlitestore: acquire lease: %w: org %q is leased to %q until %s", store.ErrLeaseHeld,
				orgID, curHolder, time.Unix(0, exp).UTC().Format(time.RFC3339))
		}
		lease = store.Lease{OrgID: orgID, Holder: holder, Token: token, ExpiresAt: now.Add(ttl)}
		_, err = t.exec(`INSERT INTO dirsync_leases (org, holder, token, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at`,
			orgID, holder, token, lease.ExpiresAt.UnixNano())
		if err != nil {
			return fmt.Errorf("sqlitestore: acquire lease: %w", interpretError(err))
		}
		return nil
	})
	if err != nil {
		return store.Lease{}, err
	}
	return lease, nil
}

// RenewLease extends a lease still held; see store.Store.
func (s *Store) RenewLease(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateOrgID(lease.OrgID); err != nil {
		return store.Lease{}, err
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("sqlitestore: renew lease: %w: ttl %v must be positive", store.ErrInvalid, ttl)
	}
	err := s.write(ctx, "renew lease", func(t *txn) error {
		now := s.now()
		exp := now.Add(ttl)
		n, err := t.execN(`UPDATE dirsync_leases SET expires_at = ? WHERE org = ? AND token = ? AND expires_at > ?`,
			exp.UnixNano(), lease.OrgID, lease.Token, now.UnixNano())
		if err != nil {
			return fmt.Errorf("sqlitestore: renew lease: %w", interpretError(err))
		}
		if n == 0 {
			return fmt.Errorf("sqlitestore: renew lease: %w: token %q is not org %q's current unexpired lease", store.ErrLeaseLost, lease.Token, lease.OrgID)
		}
		lease.ExpiresAt = exp
		return nil
	})
	if err != nil {
		return store.Lease{}, err
	}
	return lease, nil
}

// ReleaseLease gives the lease up; see store.Store.
func (s *Store) ReleaseLease(ctx context.Context, lease store.Lease) error {
	if err := store.ValidateOrgID(lease.OrgID); err != nil {
		return err
	}
	return s.write(ctx, "release lease", func(t *txn) error {
		_, err := t.exec(`DELETE FROM dirsync_leases WHERE org = ? AND token = ?`, lease.OrgID, lease.Token)
		if err != nil {
			return fmt.Errorf("sqlitestore: release lease: %w", interpretError(err))
		}
		return nil
	})
}

// SourceState returns the source's state; see store.Store.
func (s *Store) SourceState(ctx context.Context, orgID, sourceID string) (store.SourceState, error) {
	if err := store.ValidateOrgID(orgID); err != nil {
		return store.SourceState{}, err
	}
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM dirsync_source_states WHERE org = ? AND source_id = ?`, orgID, sourceID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SourceState{OrgID: orgID, SourceID: sourceID}, nil
	}
	if err != nil {
		return store.SourceState{}, readErr("source state", err)
	}
	var st store.SourceState
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		return store.SourceState{}, readErr("source state", fmt.Errorf("stored state: %w", err))
	}
	st.OrgID, st.SourceID = orgID, sourceID
	return st, nil
}

// PutSourceState stores the source's state; see store.Store.
func (s *Store) PutSourceState(ctx context.Context, st store.SourceState) error {
	if err := store.ValidateOrgID(st.OrgID); err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("sqlitestore: put source state: %w: %v", store.ErrInvalid, err)
	}
	return s.write(ctx, "put source state", func(t *txn) error {
		_, err := t.exec(`INSERT INTO dirsync_source_states (org, source_id, data) VALUES (?, ?, ?)
			ON CONFLICT (org, source_id) DO UPDATE SET data = excluded.data`, st.OrgID, st.SourceID, string(data))
		if err != nil {
			return fmt.Errorf("sqlitestore: put source state: %w", interpretError(err))
		}
		return nil
	})
}

// orgTables are every table with an org column, purged by PurgeOrg.
var orgTables = []string{
	"dirsync_user_words", "dirsync_user_tags", "dirsync_facet_counts", "dirsync_facet_pairs", "dirsync_members", "dirsync_users", "dirsync_groups",
	"dirsync_changes", "dirsync_counters", "dirsync_runs", "dirsync_parked_events", "dirsync_event_marks",
	"dirsync_tombstones", "dirsync_leases", "dirsync_source_states",
}

// PurgeOrg removes everything stored for the org; see store.Store.
func (s *Store) PurgeOrg(ctx context.Context, orgID string) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	return s.write(ctx, "purge org", func(t *txn) error {
		for _, table := range orgTables {
			if _, err := t.exec(`DELETE FROM `+table+` WHERE org = ?`, orgID); err != nil {
				return fmt.Errorf("sqlitestore: purge org: %s: %w", table, interpretError(err))
			}
		}
		return nil
	})
}
