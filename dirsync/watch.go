package dirsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/directorysync/directorysync/store"
)

// nudges wakes in-process watchers of an org after a Syncer applied
// something, so they see changes without waiting for the next poll. It is
// keyed by org ID only: a nudge for another store's org of the same ID is
// a harmless extra read.
var nudges = struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}{subs: map[string]map[chan struct{}]struct{}{}}

func notify(org string) {
	nudges.mu.Lock()
	defer nudges.mu.Unlock()
	for ch := range nudges.subs[org] {
		select {
		case ch <- struct{}{}:
		default: // already nudged
		}
	}
}

func subscribe(org string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	nudges.mu.Lock()
	if nudges.subs[org] == nil {
		nudges.subs[org] = map[chan struct{}]struct{}{}
	}
	nudges.subs[org][ch] = struct{}{}
	nudges.mu.Unlock()
	return ch, func() {
		nudges.mu.Lock()
		delete(nudges.subs[org], ch)
		if len(nudges.subs[org]) == 0 {
			delete(nudges.subs, org)
		}
		nudges.mu.Unlock()
	}
}

// WatchOptions tune Watch.
type WatchOptions struct {
	// PollInterval is how often the journal is read when nothing nudged
	// the watcher (changes written by another process arrive this way).
	// Defaults to 1 second.
	PollInterval time.Duration
	// BatchSize is the largest slice passed to fn, 1..1000. Defaults to
	// 500.
	BatchSize int
}

// Watch delivers the org's journal entries with Seq > after to fn, in
// order, until ctx ends or fn fails. It is at-least-once and resumable: fn
// gets entries again after an error, so the caller persists the last Seq
// fn handled and passes it as after when it starts again. Changes applied
// by a Syncer in this process wake the watcher at once; others are seen
// within opts.PollInterval. Watch returns ctx's error, or fn's.
func Watch(ctx context.Context, st store.Store, orgID string, after int64, fn func([]store.Change) error, opts ...WatchOptions) error {
	if err := store.ValidateOrgID(orgID); err != nil {
		return err
	}
	var o WatchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.BatchSize <= 0 || o.BatchSize > 1000 {
		o.BatchSize = 500
	}
	ch, unsubscribe := subscribe(orgID)
	defer unsubscribe()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-t.C:
		}
		for {
			cs, err := st.Changes(ctx, orgID, after, o.BatchSize)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, store.ErrInvalid) {
					return fmt.Errorf("dirsync: watching org %q: %w", orgID, err)
				}
				break // transient: try again at the next poll
			}
			if len(cs) == 0 {
				break
			}
			if err := fn(cs); err != nil {
				return err
			}
			after = cs[len(cs)-1].Seq
			if len(cs) < o.BatchSize {
				break
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(o.PollInterval)
	}
}
