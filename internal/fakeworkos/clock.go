package fakeworkos

import (
	"context"
	"sync"
	"time"
)

// Clock is the fake's time source. It has the shape of adapters/workos.Clock,
// so one VirtualClock can drive both the fake and the client's pacing.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits d, or until ctx is done (returning its error).
	Sleep(ctx context.Context, d time.Duration) error
}

// VirtualClock is a clock that never waits: Sleep moves it forward to the
// sleeper's wake-up time at once. It is exact for one sequential client (a
// listing pages one request after another); with concurrent sleepers it
// runs ahead of the latest wake-up only, never behind. Safe for concurrent
// use.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock returns a virtual clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the clock by d (at least to the time the sleeper would
// wake) unless ctx is done.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
