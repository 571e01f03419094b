package workos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TransportConfig configures a Transport. The zero value is usable.
type TransportConfig struct {
	// Base performs the requests. Defaults to http.DefaultTransport.
	Base http.RoundTripper
	// DirectoryRate is the pace, in requests per second, of requests to
	// /directory_users for one directory. WorkOS answers 429 beyond 4 per
	// second per directory; the default stays 5 % below that so that network
	// jitter does not bunch requests over the limit. Requests are spaced
	// evenly (no bursts). Defaults to 3.8.
	DirectoryRate float64
	// KeyRequests and KeyWindow are the per-API-key limit: at most
	// KeyRequests requests per KeyWindow, spaced evenly. Default to 6,000
	// per 60 s (WorkOS's limit).
	KeyRequests int
	// KeyWindow: see KeyRequests. Defaults to 60 s.
	KeyWindow time.Duration
	// MaxRetries is how many times one request is retried after a 429, a
	// 5xx or a timeout before its last answer or error is returned.
	// Defaults to 8.
	MaxRetries int
	// BackoffBase and BackoffMax bound the exponential back-off between
	// retries of 5xx answers and timeouts (with jitter: each wait is between
	// half and all of min(BackoffMax, BackoffBase·2^attempt)). Default to
	// 500 ms and 30 s.
	BackoffBase time.Duration
	// BackoffMax: see BackoffBase. Defaults to 30 s.
	BackoffMax time.Duration
	// MaxRetryAfter caps the wait a 429's Retry-After may ask for.
	// Defaults to 5 minutes.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt (until its response headers and
	// body have been read or closed); a timed-out attempt is retried.
	// Defaults to 30 s.
	AttemptTimeout time.Duration
	// Clock is the time source for pacing and back-off. Defaults to the
	// system clock.
	Clock Clock
	// Logger receives retries (method, path, status, wait — never headers,
	// so never the API key). Defaults to a discarding logger.
	Logger *slog.Logger
}

func (c *TransportConfig) setDefaults() {
	if c.Base == nil {
		c.Base = http.DefaultTransport
	}
	if c.DirectoryRate == 0 {
		c.DirectoryRate = 3.8
	}
	if c.KeyRequests == 0 {
		c.KeyRequests = 6000
	}
	if c.KeyWindow == 0 {
		c.KeyWindow = 60 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 5 * time.Minute
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *TransportConfig) validate() error {
	switch {
	case c.DirectoryRate < 0:
		return fmt.Errorf("DirectoryRate %v is negative", c.DirectoryRate)
	case c.KeyRequests < 0:
		return fmt.Errorf("KeyRequests %d is negative", c.KeyRequests)
	case c.KeyWindow < 0:
		return fmt.Errorf("KeyWindow %v is negative", c.KeyWindow)
	case c.MaxRetries < 0:
		return fmt.Errorf("MaxRetries %d is negative", c.MaxRetries)
	case c.BackoffBase < 0 || c.BackoffMax < c.BackoffBase:
		return fmt.Errorf("BackoffBase %v and BackoffMax %v must satisfy 0 <= base <= max", c.BackoffBase, c.BackoffMax)
	case c.MaxRetryAfter < 0:
		return fmt.Errorf("MaxRetryAfter %v is negative", c.MaxRetryAfter)
	case c.AttemptTimeout < 0:
		return fmt.Errorf("AttemptTimeout %v is negative", c.AttemptTimeout)
	}
	return nil
}

// Transport is an http.RoundTripper for the WorkOS API: it paces requests
// below the per-directory and per-API-key rate limits, retries 429 answers
// after their Retry-After, retries 5xx answers and timeouts with capped
// exponential back-off and jitter, and gives up when the request's context
// is done. Give one Transport to every client of one API key so that the
// key's limit holds across directories. It is safe for concurrent use.
//
// The directory of a request is the one named by WithDirectory on its
// context, else its "directory" query parameter.
type Transport struct {
	cfg     TransportConfig
	key     *pacer
	mu      sync.Mutex
	dirs    map[string]*pacer
	dirStep time.Duration
}

// NewTransport returns a Transport, or an error naming the invalid setting.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	t := &Transport{cfg: cfg, dirs: make(map[string]*pacer)}
	t.key = &pacer{step: cfg.KeyWindow / time.Duration(cfg.KeyRequests)}
	t.dirStep = time.Duration(float64(time.Second) / cfg.DirectoryRate)
	return t, nil
}

type directoryKey struct{}

// WithDirectory tags ctx with the WorkOS directory its requests are about, so
// that a Transport paces them under that directory's limit (a listing of a
// group's members names only the group in its query).
func WithDirectory(ctx context.Context, directoryID string) context.Context {
	return context.WithValue(ctx, directoryKey{}, directoryID)
}

func (t *Transport) dirPacer(req *http.Request) *pacer {
	if !strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/directory_users") {
		return nil
	}
	dir, _ := req.Context().Value(directoryKey{}).(string)
	if dir == "" {
		dir = req.URL.Query().Get("directory")
	}
	if dir == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.dirs[dir]
	if p == nil {
		p = &pacer{step: t.dirStep}
		t.dirs[dir] = p
	}
	return p
}

// RoundTrip sends req, pacing and retrying as the Transport's doc says.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	dir := t.dirPacer(req)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 0; ; attempt++ {
		if dir != nil {
			if err := dir.wait(ctx, t.cfg.Clock); err != nil {
				return nil, err
			}
		}
		if err := t.key.wait(ctx, t.cfg.Clock); err != nil {
			return nil, err
		}
		areq, cancel, err := t.attemptRequest(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.cfg.Base.RoundTrip(areq)
		last := attempt >= t.cfg.MaxRetries || !replayable
		var wait time.Duration
		switch {
		case err != nil:
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if last || !idempotent || !retryableError(err) {
				return nil, err
			}
			wait = t.backoff(attempt)
			t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "workos: retrying after error",
				slog.String("method", req.Method), slog.String("path", req.URL.Path),
				slog.Int("attempt", attempt+1), slog.Duration("wait", wait), slog.String("error", err.Error()))
		case resp.StatusCode == http.StatusTooManyRequests:
			if last {
				resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
				return resp, nil
			}
			var ok bool
			wait, ok = parseRetryAfter(resp.Header.Get("Retry-After"), t.cfg.Clock.Now())
			if !ok {
				wait = t.backoff(attempt)
			}
			wait = min(wait, t.cfg.MaxRetryAfter)
			drain(resp.Body)
			cancel()
			if dir != nil {
				// Everyone listing this directory holds off, not just us.
				dir.pause(t.cfg.Clock.Now().Add(wait))
			}
			t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "workos: rate limited, retrying",
				slog.String("method", req.Method), slog.String("path", req.URL.Path),
				slog.Int("attempt", attempt+1), slog.Duration("wait", wait))
		case resp.StatusCode >= 500 && idempotent && !last:
			wait = t.backoff(attempt)
			drain(resp.Body)
			cancel()
			t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "workos: server error, retrying",
				slog.String("method", req.Method), slog.String("path", req.URL.Path),
				slog.Int("status", resp.StatusCode), slog.Int("attempt", attempt+1), slog.Duration("wait", wait))
		default:
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if err := t.cfg.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attemptRequest clones req for one attempt, with its own timeout and a
// fresh body.
func (t *Transport) attemptRequest(req *http.Request, attempt int) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.cfg.AttemptTimeout)
	areq := req.Clone(ctx)
	if attempt > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("workos: replaying request body: %w", err)
		}
		areq.Body = body
	}
	return areq, cancel, nil
}

// backoff is the wait before retry attempt+1: between half and all of
// min(max, base·2^attempt).
func (t *Transport) backoff(attempt int) time.Duration {
	d := t.cfg.BackoffMax
	if attempt < 30 {
		if b := t.cfg.BackoffBase << attempt; b > 0 && b < d {
			d = b
		}
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// retryableError reports whether err is a timeout or a dropped connection.
func retryableError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF)
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs >= 0 && secs <= 1e6) { // also refuses NaN, which compares false
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if when, err := http.ParseTime(v); err == nil {
		return max(when.Sub(now), 0), true
	}
	return 0, false
}

func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// cancelBody releases an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// pacer spaces requests step apart: each caller reserves the next free slot
// and waits for it. It never bursts, so no window of any length sees more
// than its share.
type pacer struct {
	mu   sync.Mutex
	step time.Duration
	next time.Time
}

func (p *pacer) wait(ctx context.Context, clock Clock) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	now := clock.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.step)
	p.mu.Unlock()
	return clock.Sleep(ctx, slot.Sub(now))
}

// pause holds every later slot until at least until.
func (p *pacer) pause(until time.Time) {
	p.mu.Lock()
	if p.next.Before(until) {
		p.next = until
	}
	p.mu.Unlock()
}
