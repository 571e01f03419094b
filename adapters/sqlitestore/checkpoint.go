package sqlitestore

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is the shortest interval between two background
// checkpoints.
const checkpointEvery = 250 * time.Millisecond

// checkpointFrom is the size of the -wal file from which the checkpointer
// works: below it, checkpoints wait (as SQLite's automatic ones would), so
// a small sync does not pay for copying and syncing its pages twice while
// it runs. The file keeps its largest size until the database is closed.
const checkpointFrom = 64 << 20

// checkpointer copies committed WAL frames into the database file on a
// connection of its own, off the writer's path: the writer would otherwise
// run each checkpoint itself, inside the commit that crosses
// wal_autocheckpoint (about 8 % of a bulk sync's writer time at 300k
// people). The writer's own automatic checkpoint stays as a backstop, set
// high enough (65536 pages) that in a bulk sync this one runs first.
//
// A commit kicks it; once the -wal file has reached checkpointFrom, it runs
// a PASSIVE checkpoint (which waits for no one and never blocks the writer
// or the readers) at most every checkpointEvery. A checkpoint with nothing
// to copy costs no sync.
type checkpointer struct {
	db  *sql.DB
	log *slog.Logger
	// wal is the path of the -wal file; from is checkpointFrom (tests
	// lower it).
	wal  string
	from atomic.Int64
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// ctx is cancelled by close, so Close does not wait for a long
	// checkpoint to finish.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

func startCheckpointer(db *sql.DB, path string, log *slog.Logger) *checkpointer {
	c := &checkpointer{db: db, log: log, wal: path + "-wal", kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.from.Store(checkpointFrom)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.loop()
	return c
}

// committed tells the checkpointer that the writer committed; it never
// blocks.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		c.checkpoint()
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

func (c *checkpointer) checkpoint() {
	if fi, err := os.Stat(c.wal); err == nil && fi.Size() < c.from.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	var busy, frames, copied int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil && c.ctx.Err() == nil {
		// The writer's automatic checkpoint still bounds the WAL.
		c.log.Warn("sqlitestore: background checkpoint failed", slog.Any("error", err))
	}
}

// close stops the checkpointer and closes its connection; only the first
// call does anything.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.closeOnce.Do(func() {
		c.cancel()
		close(c.stop)
		<-c.done
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}
