package dirsync

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// Errors a Syncer returns. Callers use errors.Is.
var (
	// ErrHalted: the guard halted the run; the returned run is halted and
	// holds the deactivations it would have made (see Syncer.Approve).
	// The CLI maps it to exit code 3.
	ErrHalted = errors.New("dirsync: run halted by the deactivation guard")
	// ErrBusy: another holder has the org's lease (a sync of the org is
	// running here or elsewhere). It wraps store.ErrLeaseHeld.
	ErrBusy = fmt.Errorf("dirsync: a sync of the org is already running: %w", store.ErrLeaseHeld)
	// ErrNotHalted: Approve was asked to approve a run that is not halted,
	// for example one already approved.
	ErrNotHalted = errors.New("dirsync: run is not halted")
	// ErrRunFailed: the run failed; the returned run says why.
	ErrRunFailed = errors.New("dirsync: run failed")
)

// DeletePolicy says what happens to a person who is gone from the provider.
type DeletePolicy string

// The delete policies.
const (
	// DeactivateGone keeps the person and deactivates them (the default).
	DeactivateGone DeletePolicy = "deactivate"
	// DeleteGone deletes the person and leaves a tombstone so that a late,
	// out-of-order event cannot recreate them.
	DeleteGone DeletePolicy = "delete"
)

// Guard bounds how many people one run or one hour of events may deactivate.
type Guard struct {
	// MaxDeactivateFraction: a run that would deactivate more than this
	// fraction of the source's active users halts. Defaults to 0.2.
	MaxDeactivateFraction float64
	// MinUsers: a source with fewer active users than this halts only when
	// a run would deactivate every one of them. Defaults to 10.
	MinUsers int
}

// limit returns the largest number of deactivations allowed among active
// users.
func (g Guard) limit(active int) int {
	if active < g.MinUsers {
		return active - 1 // everyone would be too many
	}
	// The epsilon keeps 0.2*50 at 10 despite binary fractions.
	return int(math.Floor(g.MaxDeactivateFraction*float64(active) + 1e-9))
}

// MinTombstoneTTL is the shortest TombstoneTTL accepted: longer than WorkOS's
// three-day webhook retry window.
const MinTombstoneTTL = 3*24*time.Hour + time.Hour

// Config configures a Syncer. The zero value of every field but OrgID and
// Provider is usable.
type Config struct {
	// OrgID is the host's org. Required.
	OrgID string
	// Provider is the source of the org's people. Required.
	Provider Provider
	// Mapper maps records to profiles. Defaults to mapping.Standard().
	Mapper mapping.Mapper
	// Guard bounds deactivations. Defaults to {0.2, 10}.
	Guard Guard
	// DeletePolicy says what happens to people gone from the provider.
	// Defaults to DeactivateGone.
	DeletePolicy DeletePolicy
	// TombstoneTTL is how long a deleted person's tombstone stops events
	// from recreating them; at least MinTombstoneTTL. Defaults to 7 days.
	TombstoneTTL time.Duration
	// BatchSize is the number of user writes per Apply, 1 to 10,000.
	// Defaults to 5000: per-commit costs dominate small batches (SQLite
	// writes every page a commit dirtied to its WAL, and a batch's random
	// inserts into each index dirty about one page a row), so that a cold
	// sync of 100k people into SQLite took 2.2x the raw limit in batches of
	// 500 and 1.2x in batches of 5000 (PostgreSQL: 1.21x and 1.05x). Look-ups
	// are chunked to the store's limit of 1000 whatever the batch size.
	BatchSize int
	// Writers is the number of batches whose Apply may run at once, 1 to
	// MaxWriters. Defaults to 2: PostgreSQL writes each Apply on one
	// backend, so a second one in flight puts another core to work (a cold
	// sync of 100k people took 17 s instead of 21–27 on 2 cores). A store
	// with one writer (SQLite) runs them one after the other; 1 saves the
	// memory of the batch that waits.
	Writers int
	// LeaseTTL is the org lease's time to live; the lease is renewed every
	// third of it while a run lasts. Defaults to 1 minute.
	LeaseTTL time.Duration
	// Holder names this process in leases. Defaults to a random name.
	Holder string
	// Observer is told about runs, halts, parked events and record errors.
	// Defaults to one that does nothing.
	Observer Observer
	// Logger receives the engine's own diagnostics. Defaults to a
	// discarding logger.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// PlanLimit bounds the plan a dry run keeps in its run record (the
	// Plan callback receives all of it). Defaults to 1000.
	PlanLimit int
	// EventBudget is the number of deactivations events may make per org
	// in any one hour before further deactivating events are parked.
	// Defaults to the guard's threshold for the source's active users.
	EventBudget int
	// MaxRecordErrors bounds the per-record errors kept in a run record.
	// Defaults to store.MaxRunErrors.
	MaxRecordErrors int
}

func (c *Config) setDefaults() {
	if c.Mapper == nil {
		c.Mapper = mapping.Standard()
	}
	if c.Guard.MaxDeactivateFraction == 0 {
		c.Guard.MaxDeactivateFraction = 0.2
	}
	if c.Guard.MinUsers == 0 {
		c.Guard.MinUsers = 10
	}
	if c.DeletePolicy == "" {
		c.DeletePolicy = DeactivateGone
	}
	if c.TombstoneTTL == 0 {
		c.TombstoneTTL = 7 * 24 * time.Hour
	}
	if c.Writers == 0 {
		c.Writers = DefaultWriters
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = time.Minute
	}
	if c.Holder == "" {
		c.Holder = newID("holder")
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PlanLimit == 0 {
		c.PlanLimit = 1000
	}
	if c.MaxRecordErrors == 0 {
		c.MaxRecordErrors = store.MaxRunErrors
	}
}

func (c *Config) validate() error {
	if err := store.ValidateOrgID(c.OrgID); err != nil {
		return err
	}
	if c.Provider == nil {
		return errors.New("Provider is required")
	}
	if id := c.Provider.SourceID(); id == "" || len(id) > 256 {
		return fmt.Errorf("provider source ID %q must be 1 to 256 bytes", id)
	}
	if f := c.Guard.MaxDeactivateFraction; !(f > 0 && f <= 1) {
		return fmt.Errorf("Guard.MaxDeactivateFraction %v must be in (0, 1]", f)
	}
	if c.Guard.MinUsers < 0 {
		return fmt.Errorf("Guard.MinUsers %d must not be negative", c.Guard.MinUsers)
	}
	if c.DeletePolicy != DeactivateGone && c.DeletePolicy != DeleteGone {
		return fmt.Errorf("DeletePolicy %q must be %q or %q", c.DeletePolicy, DeactivateGone, DeleteGone)
	}
	if c.TombstoneTTL < MinTombstoneTTL {
		return fmt.Errorf("TombstoneTTL %v must be at least %v (longer than the webhook retry window)", c.TombstoneTTL, MinTombstoneTTL)
	}
	if c.Writers < 1 || c.Writers > MaxWriters {
		return fmt.Errorf("Writers %d must be 1 to %d", c.Writers, MaxWriters)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("BatchSize %d must be 1 to %d", c.BatchSize, MaxBatchSize)
	}
	if c.LeaseTTL < 10*time.Millisecond {
		return fmt.Errorf("LeaseTTL %v must be at least 10ms", c.LeaseTTL)
	}
	if c.PlanLimit < 0 || c.EventBudget < 0 || c.MaxRecordErrors < 0 {
		return errors.New("PlanLimit, EventBudget and MaxRecordErrors must not be negative")
	}
	return nil
}

// Syncer keeps one org's people from one provider in step with a store. It
// is safe for concurrent use; runs of one org are serialised by the store's
// org lease, so several replicas may each hold a Syncer for the same org.
type Syncer struct {
	st     store.Store
	cfg    Config
	source string
	mapper atomic.Pointer[mapperBox]

	// evMu serialises events of this Syncer so that the event budget is
	// checked and drawn on atomically within a process.
	evMu  sync.Mutex
	pairs pairClock

	// The source's active users, counted for the default event budget.
	activeMu sync.Mutex
	activeN  int
	activeAt time.Time
}

type mapperBox struct{ m mapping.Mapper }

// The bounds of Config.BatchSize and Config.Writers.
const (
	DefaultBatchSize = 5000
	MaxBatchSize     = 10_000
	DefaultWriters   = 2
	MaxWriters       = 8
)

// loadChunk is the most IDs one store.LoadUsers list may hold.
const loadChunk = 1000

// New returns a Syncer for cfg.OrgID and cfg.Provider over st.
func New(st store.Store, cfg Config) (*Syncer, error) {
	if st == nil {
		return nil, errors.New("invalid config: store is nil")
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	s := &Syncer{st: st, cfg: cfg, source: cfg.Provider.SourceID()}
	s.mapper.Store(&mapperBox{cfg.Mapper})
	s.pairs.init()
	return s, nil
}

// Mapper returns the mapper the Syncer applies now.
func (s *Syncer) Mapper() mapping.Mapper { return s.mapper.Load().m }

// SetMapper replaces the mapper used from the next run or event on. A new
// version makes the next Sync re-map everyone.
func (s *Syncer) SetMapper(m mapping.Mapper) {
	if m == nil {
		m = mapping.Standard()
	}
	s.mapper.Store(&mapperBox{m})
}

// SourceID is the provider's source ID the Syncer writes under.
func (s *Syncer) SourceID() string { return s.source }

// OrgID is the org the Syncer writes to.
func (s *Syncer) OrgID() string { return s.cfg.OrgID }
