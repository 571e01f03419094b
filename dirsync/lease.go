package dirsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/directorysync/directorysync/store"
)

// leaseKeeper holds an org lease for a run: it renews it every third of its
// TTL and, when the store says it is lost, cancels the run. Every write of
// the run passes current() for fencing, so a run that paused past the
// lease's expiry cannot write even before the keeper notices.
type leaseKeeper struct {
	st      store.Store
	ttl     time.Duration
	cancel  context.CancelCauseFunc
	onRenew func(store.Lease)
	logf    func(msg string, err error)

	mu    sync.Mutex
	lease store.Lease

	stop     chan struct{}
	done     chan struct{}
	haltOnce sync.Once
}

// errLeaseLost is the cause a run is cancelled with when its lease is gone.
var errLeaseLost = fmt.Errorf("dirsync: the org lease was lost (another holder took it after it expired): %w", store.ErrLeaseLost)

func startLeaseKeeper(st store.Store, l store.Lease, ttl time.Duration, cancel context.CancelCauseFunc, onRenew func(store.Lease), logf func(string, error)) *leaseKeeper {
	k := &leaseKeeper{st: st, ttl: ttl, cancel: cancel, onRenew: onRenew, logf: logf, lease: l,
		stop: make(chan struct{}), done: make(chan struct{})}
	go k.loop()
	return k
}

func (k *leaseKeeper) current() *store.Lease {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.lease
	return &l
}

func (k *leaseKeeper) loop() {
	defer close(k.done)
	t := time.NewTicker(k.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), k.ttl/3)
		l, err := k.st.RenewLease(ctx, *k.current(), k.ttl)
		cancel()
		switch {
		case err == nil:
			k.mu.Lock()
			k.lease = l
			k.mu.Unlock()
			if k.onRenew != nil {
				k.onRenew(l)
			}
		case errors.Is(err, store.ErrLeaseLost):
			k.cancel(errLeaseLost)
			return
		default:
			// Transient: try again at the next tick. If the lease lapses
			// meanwhile, fencing stops every write.
			k.logf("renewing the org lease failed", err)
		}
	}
}

// halt stops renewing; the lease stays held until it expires or is
// released.
func (k *leaseKeeper) halt() {
	k.haltOnce.Do(func() { close(k.stop) })
	<-k.done
}

// release stops renewing and gives the lease up.
func (k *leaseKeeper) release(ctx context.Context) {
	k.halt()
	if err := k.st.ReleaseLease(ctx, *k.current()); err != nil {
		k.logf("releasing the org lease failed", err)
	}
}
