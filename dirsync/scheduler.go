package dirsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/directorysync/directorysync/store"
)

// ScheduledSync is one source's periodic full reconcile.
type ScheduledSync struct {
	// Syncer runs the source's syncs; its org and source name the job, and
	// its lease keeps replicas from running the same sync twice. Required.
	Syncer *Syncer
	// Interval is the period between full syncs. Defaults to 24h; from 1s to
	// MaxInterval.
	Interval time.Duration
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Tick is how often the scheduler looks for due syncs. Defaults to 15s.
	Tick time.Duration
	// Jitter spreads each next due time by up to this fraction of the
	// interval, either way, so that many orgs do not all sync at once.
	// Defaults to 0.1; must be in [0, 0.5].
	Jitter float64
	// ClaimTTL is how long the lease that serialises claims among replicas
	// is held. Defaults to 10s.
	ClaimTTL time.Duration
	// Holder names this replica in claim leases. Defaults to a random name.
	Holder string
	// Logger receives the outcome of each scheduled run. Defaults to a
	// discarding logger.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (c *SchedulerConfig) setDefaults() {
	if c.Tick == 0 {
		c.Tick = 15 * time.Second
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.ClaimTTL == 0 {
		c.ClaimTTL = 10 * time.Second
	}
	if c.Holder == "" {
		c.Holder = newID("sched")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Scheduler runs each source's full reconcile when it is due. The next due
// time is kept in the store (store.SourceState.NextDueAt), so several
// replicas of a host share one schedule: a replica claims a due sync under
// the org's lease — re-reading the due time, then moving it on — before it
// runs it, and the sync itself takes the lease again, so exactly one replica
// runs each due sync. A source never synced is due at once.
type Scheduler struct {
	st   store.Store
	jobs []ScheduledSync
	cfg  SchedulerConfig
}

// MaxInterval is the longest ScheduledSync.Interval: a year and a day. (The
// jittered interval is a float64 of nanoseconds converted back to a
// Duration; past about 290 years that overflows, and an org given such an
// interval came due on every tick.)
const MaxInterval = 366 * 24 * time.Hour

// NewScheduler returns a Scheduler for jobs.
func NewScheduler(st store.Store, jobs []ScheduledSync, cfg SchedulerConfig) (*Scheduler, error) {
	cfg.setDefaults()
	if cfg.Jitter < 0 || cfg.Jitter > 0.5 {
		return nil, fmt.Errorf("dirsync: invalid scheduler config: Jitter %v is outside [0, 0.5]", cfg.Jitter)
	}
	if cfg.Tick <= 0 || cfg.ClaimTTL <= 0 {
		return nil, errors.New("dirsync: invalid scheduler config: Tick and ClaimTTL must be positive")
	}
	js := make([]ScheduledSync, len(jobs))
	for i, j := range jobs {
		if j.Syncer == nil {
			return nil, fmt.Errorf("dirsync: invalid scheduler config: job %d has no Syncer", i)
		}
		if j.Interval == 0 {
			j.Interval = 24 * time.Hour
		}
		if j.Interval < time.Second {
			return nil, fmt.Errorf("dirsync: invalid scheduler config: job %d interval %v is shorter than 1s", i, j.Interval)
		}
		if j.Interval > MaxInterval {
			return nil, fmt.Errorf("dirsync: invalid scheduler config: job %d interval %v is longer than %v", i, j.Interval, MaxInterval)
		}
		js[i] = j
	}
	return &Scheduler{st: st, jobs: js, cfg: cfg}, nil
}

// Run checks for due syncs at once and then every Tick, running them one at
// a time, until ctx ends. A run in progress when ctx ends is cancelled
// (it records itself failed and deactivates no one).
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.RunDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue runs every sync that is due now and returns how many it ran.
func (s *Scheduler) RunDue(ctx context.Context) int {
	ran := 0
	for _, j := range s.jobs {
		if ctx.Err() != nil {
			return ran
		}
		claimed, err := s.claim(ctx, j)
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "scheduler: checking a due sync failed", "org", j.Syncer.OrgID(), "source", j.Syncer.SourceID(), "err", err)
			continue
		}
		if !claimed {
			continue
		}
		ran++
		run, err := j.Syncer.Sync(ctx, SyncOptions{})
		switch {
		case errors.Is(err, ErrBusy):
			s.cfg.Logger.InfoContext(ctx, "scheduler: sync already running elsewhere", "org", j.Syncer.OrgID())
		case err != nil && !errors.Is(err, ErrHalted):
			s.cfg.Logger.WarnContext(ctx, "scheduler: sync failed", "org", j.Syncer.OrgID(), "run", run.ID, "err", err)
		default:
			s.cfg.Logger.InfoContext(ctx, "scheduler: sync finished", "org", j.Syncer.OrgID(), "run", run.ID, "status", run.Status)
		}
	}
	return ran
}

// claim moves a due source's next due time on, under the org lease, and
// reports whether this replica claimed it.
func (s *Scheduler) claim(ctx context.Context, j ScheduledSync) (bool, error) {
	org, source := j.Syncer.OrgID(), j.Syncer.SourceID()
	now := s.cfg.Now()
	st, err := s.st.SourceState(ctx, org, source)
	if err != nil {
		return false, err
	}
	if !st.NextDueAt.IsZero() && st.NextDueAt.After(now) {
		return false, nil
	}
	lease, err := s.st.AcquireLease(ctx, org, s.cfg.Holder, s.cfg.ClaimTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		return false, nil // a sync or another replica's claim is under way
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = s.st.ReleaseLease(context.WithoutCancel(ctx), lease) }()
	st, err = s.st.SourceState(ctx, org, source)
	if err != nil {
		return false, err
	}
	if !st.NextDueAt.IsZero() && st.NextDueAt.After(now) {
		return false, nil // another replica claimed it first
	}
	st.OrgID, st.SourceID = org, source
	st.NextDueAt = now.Add(s.jitter(j.Interval))
	if err := s.st.PutSourceState(ctx, st); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Scheduler) jitter(d time.Duration) time.Duration {
	if s.cfg.Jitter == 0 {
		return d
	}
	f := 1 + s.cfg.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
