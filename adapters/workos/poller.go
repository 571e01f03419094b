package workos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/store"
)

// StateStore keeps the poller's cursor; store.Store implements it.
type StateStore interface {
	// SourceState returns the source's state (the zero state, with the
	// IDs set, when none was stored).
	SourceState(ctx context.Context, orgID, sourceID string) (store.SourceState, error)
	// PutSourceState stores the source's state.
	PutSourceState(ctx context.Context, st store.SourceState) error
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	// OrgID is the org the provider's directory belongs to. Required.
	OrgID string
	// Store keeps the cursor (SourceState.EventsCursor and EventsCursorAt
	// of the provider's source). Required.
	Store StateStore
	// Applier applies each event. Required.
	Applier EventApplier
	// Reconcile runs a full sync of the source. It is called instead of
	// reading events when the cursor is missing or older than Retention
	// (events may have been lost), or when WorkOS refuses the cursor.
	// Required.
	Reconcile func(ctx context.Context) error
	// OrganizationID, when set, narrows the Events API to one WorkOS
	// organization (the Events API is otherwise environment-wide; events of
	// other directories are skipped).
	OrganizationID string
	// Retention is how long WorkOS keeps events. Defaults to 30 days less
	// one hour of margin.
	Retention time.Duration
	// Interval is the pause between polls in Run. Defaults to 30 s.
	Interval time.Duration
	// Clock is the time source. Defaults to the system clock.
	Clock Clock
	// Logger receives poll failures. Defaults to a discarding logger.
	Logger *slog.Logger
}

// Poller reads a directory's dsync.* events from the WorkOS Events API and
// applies them in order, keeping its cursor in the store: the cursor advances
// only past events whose apply returned nil, so after a restart polling
// resumes where it stopped, and an event is re-applied (and deduplicated by
// the engine's processed-event mark) only if the process died between an
// apply and the cursor write.
type Poller struct {
	p   *Provider
	cfg PollerConfig
}

// PollResult says what one Poll did.
type PollResult struct {
	// Reconciled is true when a full sync ran instead of reading events.
	Reconciled bool
	// Applied counts events given to the applier; Skipped events of other
	// directories or of kinds the library does not apply.
	Applied, Skipped int
	// Outcomes counts the applier's outcomes.
	Outcomes map[dirsync.EventOutcome]int
}

// NewPoller returns a poller of p's directory, or an error naming the
// invalid setting.
func NewPoller(p *Provider, cfg PollerConfig) (*Poller, error) {
	if cfg.Retention == 0 {
		cfg.Retention = 30*24*time.Hour - time.Hour
	}
	if cfg.Interval == 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case p == nil:
		return nil, errors.New("invalid config: nil Provider")
	case cfg.OrgID == "":
		return nil, errors.New("invalid config: OrgID is required")
	case cfg.Store == nil:
		return nil, errors.New("invalid config: Store is required")
	case cfg.Applier == nil:
		return nil, errors.New("invalid config: Applier is required")
	case cfg.Reconcile == nil:
		return nil, errors.New("invalid config: Reconcile is required")
	case cfg.Retention < 0 || cfg.Interval < 0:
		return nil, errors.New("invalid config: Retention and Interval must not be negative")
	}
	return &Poller{p: p, cfg: cfg}, nil
}

// Run polls every Interval until ctx is done, logging failures, and returns
// ctx's error.
func (pl *Poller) Run(ctx context.Context) error {
	for {
		if _, err := pl.Poll(ctx); err != nil && ctx.Err() == nil {
			pl.cfg.Logger.LogAttrs(ctx, slog.LevelError, "workos: polling events failed",
				slog.String("org_id", pl.cfg.OrgID), slog.String("directory_id", pl.p.cfg.DirectoryID),
				slog.String("error", err.Error()))
		}
		if err := pl.cfg.Clock.Sleep(ctx, pl.cfg.Interval); err != nil {
			return err
		}
	}
}

// errCursorRefused marks a 4xx answer to a cursor.
var errCursorRefused = errors.New("cursor refused")

// Poll reads and applies every event after the stored cursor, until caught
// up. With no cursor, or one older than Retention, or one the Events API
// refuses, it runs Reconcile instead and starts reading events from the time
// the reconcile began.
func (pl *Poller) Poll(ctx context.Context) (PollResult, error) {
	res := PollResult{Outcomes: map[dirsync.EventOutcome]int{}}
	st, err := pl.cfg.Store.SourceState(ctx, pl.cfg.OrgID, pl.p.SourceID())
	if err != nil {
		return res, fmt.Errorf("workos: reading events cursor: %w", err)
	}
	now := pl.cfg.Clock.Now()
	if st.EventsCursorAt.IsZero() || now.Sub(st.EventsCursorAt) > pl.cfg.Retention {
		return pl.reconcile(ctx, res)
	}
	cursor, since := st.EventsCursor, st.EventsCursorAt
	for {
		pollStart := pl.cfg.Clock.Now()
		page, err := pl.listEvents(ctx, cursor, since)
		if errors.Is(err, errCursorRefused) {
			pl.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "workos: events cursor refused; reconciling",
				slog.String("org_id", pl.cfg.OrgID), slog.String("error", err.Error()))
			return pl.reconcile(ctx, res)
		}
		if err != nil {
			return res, err
		}
		applied := cursor
		var applyErr error
		for _, raw := range page {
			ev, err := DecodeEvent(raw)
			if err != nil {
				var id struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(raw, &id) != nil || id.ID == "" {
					applyErr = fmt.Errorf("workos: events page: %w", err)
					break
				}
				if !errors.Is(err, ErrUnsupportedEvent) {
					pl.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "workos: skipping undecodable event",
						slog.String("event_id", id.ID), slog.String("error", err.Error()))
				}
				res.Skipped++
				applied = id.ID
				continue
			}
			if ev.DirectoryID != pl.p.cfg.DirectoryID {
				res.Skipped++
				applied = ev.ID
				continue
			}
			out, err := pl.cfg.Applier.ApplyEvent(ctx, ev)
			if err != nil {
				applyErr = fmt.Errorf("workos: applying event %s: %w", ev.ID, err)
				break
			}
			res.Applied++
			res.Outcomes[out.Outcome]++
			applied = ev.ID
		}
		// EventsCursorAt is when the cursor was last known to be current: it
		// moves when the cursor advanced or the listing was caught up. With no
		// cursor yet it stays the reconcile's start, the next range_start.
		if applied != "" && (applied != cursor || (applyErr == nil && len(page) < eventsPageSize)) {
			if err := pl.putCursor(ctx, applied, pollStart); err != nil {
				return res, err
			}
			cursor = applied
		}
		if applyErr != nil {
			return res, applyErr
		}
		if len(page) < eventsPageSize {
			return res, nil
		}
	}
}

func (pl *Poller) reconcile(ctx context.Context, res PollResult) (PollResult, error) {
	start := pl.cfg.Clock.Now()
	if err := pl.cfg.Reconcile(ctx); err != nil {
		return res, fmt.Errorf("workos: reconciling instead of reading events: %w", err)
	}
	res.Reconciled = true
	// Events from the reconcile's start on are read next; earlier ones are
	// covered by the listing.
	if err := pl.putCursor(ctx, "", start); err != nil {
		return res, err
	}
	return res, nil
}

// putCursor stores the cursor, keeping the rest of the source's state.
func (pl *Poller) putCursor(ctx context.Context, cursor string, at time.Time) error {
	st, err := pl.cfg.Store.SourceState(ctx, pl.cfg.OrgID, pl.p.SourceID())
	if err != nil {
		return fmt.Errorf("workos: reading events cursor: %w", err)
	}
	st.OrgID, st.SourceID = pl.cfg.OrgID, pl.p.SourceID()
	st.EventsCursor, st.EventsCursorAt = cursor, at
	if err := pl.cfg.Store.PutSourceState(ctx, st); err != nil {
		return fmt.Errorf("workos: storing events cursor: %w", err)
	}
	return nil
}

const eventsPageSize = 100

// listEvents reads one page of dsync.* events after cursor, or, with no
// cursor, from since on. It decodes only the envelope; each entry stays raw.
func (pl *Poller) listEvents(ctx context.Context, cursor string, since time.Time) ([]json.RawMessage, error) {
	q := url.Values{"events": dsyncEventNames, "limit": {strconv.Itoa(eventsPageSize)}}
	if cursor != "" {
		q.Set("after", cursor)
	} else {
		q.Set("range_start", since.UTC().Format(time.RFC3339Nano))
	}
	if pl.cfg.OrganizationID != "" {
		q.Set("organization_id", pl.cfg.OrganizationID)
	}
	body, err := pl.p.get(ctx, "/events", q)
	if err != nil {
		var he *HTTPError
		if cursor != "" && errors.As(err, &he) && he.Status >= 400 && he.Status < 500 &&
			he.Status != http.StatusUnauthorized && he.Status != http.StatusForbidden && he.Status != http.StatusTooManyRequests {
			return nil, fmt.Errorf("workos: listing events after %s: %w: %w", cursor, errCursorRefused, err)
		}
		return nil, fmt.Errorf("workos: listing events: %w", err)
	}
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("workos: decoding events page: %w", err)
	}
	return page.Data, nil
}
