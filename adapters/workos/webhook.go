package workos

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/directorysync/directorysync/dirsync"
)

// EventApplier applies one provider event; *dirsync.Syncer implements it. It
// must have stored the event (applied, marked or parked) before it returns
// nil, so that the event may be acknowledged.
type EventApplier interface {
	// ApplyEvent applies ev, or parks or ignores it, and stores that it did.
	ApplyEvent(ctx context.Context, ev dirsync.Event) (dirsync.EventResult, error)
}

// SignatureHeader is the header WorkOS signs webhooks in.
const SignatureHeader = "WorkOS-Signature"

// Signature verification failures. Each is answered 401.
var (
	ErrMissingSignature   = errors.New("workos webhook: no WorkOS-Signature header")
	ErrMalformedSignature = errors.New("workos webhook: malformed WorkOS-Signature header")
	ErrBadSignature       = errors.New("workos webhook: no signature matches")
	ErrStaleSignature     = errors.New("workos webhook: timestamp older than the tolerance")
	ErrFutureSignature    = errors.New("workos webhook: timestamp further in the future than the tolerance")
)

// maxSignatureHeader bounds the header ParseSignature accepts.
const maxSignatureHeader = 4096

// maxSignatures bounds the v1 values of one header.
const maxSignatures = 8

// Signature is a parsed WorkOS-Signature header.
type Signature struct {
	// Timestamp is the t value exactly as sent (Unix milliseconds); it is
	// part of what is signed.
	Timestamp string
	// Time is Timestamp as a time.
	Time time.Time
	// V1 are the decoded v1 signatures (32 bytes each); a header may carry
	// several while a secret is being rotated.
	V1 [][]byte
}

// ParseSignature parses "t=<unix ms>, v1=<hex>[, v1=<hex>…]": parts in any
// order, spaces around them ignored, unknown keys ignored. It needs exactly
// one t and at least one well-formed v1, and fails with an error wrapping
// ErrMissingSignature or ErrMalformedSignature.
func ParseSignature(header string) (Signature, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return Signature{}, ErrMissingSignature
	}
	if len(header) > maxSignatureHeader {
		return Signature{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedSignature, maxSignatureHeader)
	}
	var sig Signature
	parts := strings.Split(header, ",")
	if len(parts) > 2*maxSignatures {
		return Signature{}, fmt.Errorf("%w: more than %d parts", ErrMalformedSignature, 2*maxSignatures)
	}
	// Errors name a part by its position, never by its content: a header
	// holds signatures, which are not to be echoed into answers or logs.
	for i, part := range parts {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: part %d of %d is not key=value", ErrMalformedSignature, i+1, len(parts))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "t":
			if sig.Timestamp != "" {
				return Signature{}, fmt.Errorf("%w: more than one t", ErrMalformedSignature)
			}
			if len(v) == 0 || len(v) > 15 || strings.Trim(v, "0123456789") != "" {
				return Signature{}, fmt.Errorf("%w: t (part %d) is not Unix milliseconds", ErrMalformedSignature, i+1)
			}
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Signature{}, fmt.Errorf("%w: t (part %d) is not Unix milliseconds", ErrMalformedSignature, i+1)
			}
			sig.Timestamp, sig.Time = v, time.UnixMilli(ms)
		case "v1":
			if len(sig.V1) == maxSignatures {
				return Signature{}, fmt.Errorf("%w: more than %d v1 signatures", ErrMalformedSignature, maxSignatures)
			}
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 (part %d) is not %d hex digits", ErrMalformedSignature, i+1, 2*sha256.Size)
			}
			sig.V1 = append(sig.V1, b)
		}
	}
	if sig.Timestamp == "" {
		return Signature{}, fmt.Errorf("%w: no t", ErrMalformedSignature)
	}
	if len(sig.V1) == 0 {
		return Signature{}, fmt.Errorf("%w: no v1", ErrMalformedSignature)
	}
	return sig, nil
}

// Sign returns the WorkOS-Signature header value for body signed with secret
// at time t (for tests and for replaying events).
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	return "t=" + ts + ", v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a WorkOS-Signature header against body: the
// timestamp within tolerance of now in both directions, and one v1 equal (in
// constant time) to HMAC-SHA256(secret, t + "." + body).
func VerifySignature(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if d := now.Sub(sig.Time); d > tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrStaleSignature, d.Round(time.Second), tolerance)
	} else if -d > tolerance {
		return fmt.Errorf("%w: signed %s ahead, tolerance %s", ErrFutureSignature, (-d).Round(time.Second), tolerance)
	}
	want := mac(secret, sig.Timestamp, body)
	ok := false
	for _, v := range sig.V1 {
		// Compare every value, so the time taken does not tell which matched.
		if hmac.Equal(want, v) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// WebhookConfig configures a WebhookHandler.
type WebhookConfig struct {
	// Secret is the webhook endpoint's signing secret from the WorkOS
	// dashboard. Required; never logged or serialised.
	Secret string
	// Route returns the applier of the org a directory belongs to; false
	// for a directory this host does not sync, whose events are
	// acknowledged and ignored. Required. See StaticRoutes.
	Route func(directoryID string) (EventApplier, bool)
	// Tolerance is how far a signature's timestamp may be from now, in
	// either direction. Defaults to 180 s.
	Tolerance time.Duration
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	// Defaults to 1 MiB.
	MaxBodyBytes int64
	// RememberEvents is how many acknowledged event IDs the handler keeps
	// in memory to answer redeliveries without calling the applier. The
	// store's processed-event mark remains the authority. Defaults to 4096.
	RememberEvents int
	// Clock is the time source for the tolerance. Defaults to the system
	// clock.
	Clock Clock
	// Logger receives rejections and failures (never the secret or a
	// signature). Defaults to a discarding logger.
	Logger *slog.Logger
}

// String describes the config with the secret redacted.
func (c WebhookConfig) String() string {
	return fmt.Sprintf("workos.WebhookConfig{Secret:%s Tolerance:%s MaxBodyBytes:%d}", redact(c.Secret), c.Tolerance, c.MaxBodyBytes)
}

// LogValue logs the config with the secret redacted.
func (c WebhookConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("secret", redact(c.Secret)), slog.Duration("tolerance", c.Tolerance))
}

// StaticRoutes routes directory IDs to appliers by a fixed map.
func StaticRoutes(m map[string]EventApplier) func(string) (EventApplier, bool) {
	return func(dir string) (EventApplier, bool) {
		a, ok := m[dir]
		return a, ok
	}
}

// WebhookHandler is the http.Handler for WorkOS webhooks. It verifies the
// signature, decodes the event, routes it by directory to its org's applier
// and answers 200 only once the applier has returned nil; an applier error is
// answered 500 so that WorkOS delivers the event again.
//
// Answers: 200 {"outcome": …} (also for a duplicate, an event kind the library
// does not apply, and a directory not routed); 400 for a body that is
// not a WorkOS event; 401 for a missing, malformed, wrong, stale or future
// signature; 405 for a method other than POST; 413 for a body over the
// limit; 500 when the applier fails. Errors are {"error":{"code","message"}}.
type WebhookHandler struct {
	// cfg has its Secret cleared: the secret lives only in the secret
	// closure, so no way of printing a handler can show it.
	cfg    WebhookConfig
	secret func() string
	mu     sync.Mutex
	seen   map[string]struct{}
	ring   []string
	next   int
}

// NewWebhookHandler returns a handler, or an error naming the invalid
// setting.
func NewWebhookHandler(cfg WebhookConfig) (*WebhookHandler, error) {
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 180 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.RememberEvents == 0 {
		cfg.RememberEvents = 4096
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Secret == "":
		return nil, errors.New("invalid config: Secret is required")
	case cfg.Route == nil:
		return nil, errors.New("invalid config: Route is required")
	case cfg.Tolerance < 0:
		return nil, fmt.Errorf("invalid config: Tolerance %s is negative", cfg.Tolerance)
	case cfg.MaxBodyBytes < 0 || cfg.MaxBodyBytes > MaxEventBytes:
		return nil, fmt.Errorf("invalid config: MaxBodyBytes %d is outside 1–%d", cfg.MaxBodyBytes, MaxEventBytes)
	case cfg.RememberEvents < 0:
		return nil, fmt.Errorf("invalid config: RememberEvents %d is negative", cfg.RememberEvents)
	}
	secret := cfg.Secret
	cfg.Secret = ""
	return &WebhookHandler{cfg: cfg, secret: func() string { return secret },
		seen: make(map[string]struct{}, cfg.RememberEvents), ring: make([]string, cfg.RememberEvents)}, nil
}

// ServeHTTP handles one webhook delivery.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "webhooks are delivered with POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.reject(r, "body_too_large", err)
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "unreadable_body", "the body could not be read")
		return
	}
	if err := VerifySignature(r.Header.Get(SignatureHeader), body, h.secret(), h.cfg.Clock.Now(), h.cfg.Tolerance); err != nil {
		code := signatureCode(err)
		h.reject(r, code, err)
		writeError(w, http.StatusUnauthorized, code, err.Error())
		return
	}
	ev, err := DecodeEvent(body)
	if errors.Is(err, ErrUnsupportedEvent) {
		writeJSON(w, http.StatusOK, map[string]string{"outcome": string(dirsync.EventIgnored), "reason": "event kind not applied"})
		return
	}
	if err != nil {
		h.reject(r, "malformed_event", err)
		writeError(w, http.StatusBadRequest, "malformed_event", err.Error())
		return
	}
	if h.remembered(ev.ID) {
		writeJSON(w, http.StatusOK, map[string]string{"outcome": string(dirsync.EventDuplicate)})
		return
	}
	applier, ok := h.cfg.Route(ev.DirectoryID)
	if !ok || applier == nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "workos webhook: no org for directory; event ignored",
			slog.String("event_id", ev.ID), slog.String("directory_id", ev.DirectoryID))
		writeJSON(w, http.StatusOK, map[string]string{"outcome": string(dirsync.EventIgnored), "reason": "directory not synced here"})
		return
	}
	res, err := applier.ApplyEvent(r.Context(), ev)
	if err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "workos webhook: applying event failed",
			slog.String("event_id", ev.ID), slog.String("event", ev.ProviderKind),
			slog.String("directory_id", ev.DirectoryID), slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, "apply_failed", "the event could not be stored; deliver it again")
		return
	}
	h.remember(ev.ID)
	out := map[string]string{"outcome": string(res.Outcome)}
	if res.Reason != "" {
		out["reason"] = res.Reason
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *WebhookHandler) reject(r *http.Request, code string, err error) {
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "workos webhook: rejected",
		slog.String("code", code), slog.String("error", err.Error()))
}

func signatureCode(err error) string {
	switch {
	case errors.Is(err, ErrMissingSignature):
		return "missing_signature"
	case errors.Is(err, ErrStaleSignature):
		return "stale_signature"
	case errors.Is(err, ErrFutureSignature):
		return "future_signature"
	case errors.Is(err, ErrBadSignature):
		return "invalid_signature"
	default:
		return "malformed_signature"
	}
}

func (h *WebhookHandler) remembered(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.seen[id]
	return ok
}

func (h *WebhookHandler) remember(id string) {
	if len(h.ring) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.seen[id]; ok {
		return
	}
	if old := h.ring[h.next]; old != "" {
		delete(h.seen, old)
	}
	h.ring[h.next] = id
	h.seen[id] = struct{}{}
	h.next = (h.next + 1) % len(h.ring)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// GoString is String, so that %#v does not show the secret either.
func (c WebhookConfig) GoString() string { return c.String() }

// Format writes String for every verb, so that no verb prints the fields,
// the secret among them, one by one.
func (c WebhookConfig) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON marshals the config with the secret redacted (and without
// Route, Clock and Logger, which are not data).
func (c WebhookConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Secret         string
		Tolerance      string
		MaxBodyBytes   int64
		RememberEvents int
	}{redact(c.Secret), c.Tolerance.String(), c.MaxBodyBytes, c.RememberEvents})
}
