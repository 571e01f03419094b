package workos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/workos/workos-go/v4/pkg/directorysync"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

// DefaultBaseURL is the WorkOS API endpoint.
const DefaultBaseURL = "https://api.workos.com"

// Config configures a Provider for one WorkOS directory.
type Config struct {
	// APIKey is the WorkOS secret key (sk_…). Required. It is sent only in
	// the Authorization header and never logged or serialised.
	APIKey string
	// DirectoryID is the WorkOS directory (directory_…). Required.
	DirectoryID string
	// BaseURL is the API endpoint: https, or plain http to a loopback
	// address only (test servers). Defaults to DefaultBaseURL.
	BaseURL string
	// Transport paces and retries requests. Share one Transport among the
	// providers of one API key so that the per-key limit holds. Defaults to
	// a new Transport with default settings.
	Transport *Transport
	// PageSize is the limit of each listing request, 1–100. Defaults to 100.
	PageSize int
	// Order is the listing order, "asc" or "desc". Defaults to "desc"
	// (WorkOS's default).
	Order string
	// MaxResponseBytes bounds one response body, those the WorkOS SDK
	// reads included. Defaults to 64 MiB.
	MaxResponseBytes int64
	// Logger receives warnings. Defaults to a discarding logger.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.Transport == nil {
		t, err := NewTransport(TransportConfig{Logger: c.Logger})
		if err != nil {
			return err
		}
		c.Transport = t
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.Order == "" {
		c.Order = "desc"
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.APIKey == "":
		return errors.New("APIKey is required")
	case c.DirectoryID == "":
		return errors.New("DirectoryID is required")
	case len(c.DirectoryID) > 256 || strings.ContainsAny(c.DirectoryID, "/?#% \t\r\n"):
		return fmt.Errorf("DirectoryID %q is not a WorkOS directory ID", truncate(c.DirectoryID, 64))
	case c.PageSize < 1 || c.PageSize > 100:
		return fmt.Errorf("PageSize %d is outside 1–100", c.PageSize)
	case c.Order != "asc" && c.Order != "desc":
		return fmt.Errorf("Order %q is neither asc nor desc", c.Order)
	case c.MaxResponseBytes < 1:
		return fmt.Errorf("MaxResponseBytes %d is not positive", c.MaxResponseBytes)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("BaseURL %q is plain http to another machine: the API key would travel in clear; use https (http is for loopback test servers only)", c.BaseURL)
	}
	return nil
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the config with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("workos.Config{DirectoryID:%q BaseURL:%q APIKey:%s PageSize:%d Order:%q}",
		c.DirectoryID, c.BaseURL, redact(c.APIKey), c.PageSize, c.Order)
}

// LogValue logs the config with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("directory_id", c.DirectoryID),
		slog.String("base_url", c.BaseURL),
		slog.String("api_key", redact(c.APIKey)),
	)
}

func redact(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "[REDACTED]"
}

// Provider is a dirsync.Provider over one WorkOS directory. It is safe for
// concurrent use.
type Provider struct {
	// cfg has its APIKey cleared: the key lives only in the apiKey closure,
	// so no way of printing or marshalling a Provider (fmt prints unexported
	// fields without calling their String methods) can show it.
	cfg    Config
	apiKey func() string
	http   *http.Client
}

var _ dirsync.Provider = (*Provider)(nil)

// NewProvider returns a Provider for cfg.DirectoryID, or an error naming the
// invalid setting. It makes no request.
func NewProvider(cfg Config) (*Provider, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	key := cfg.APIKey
	cfg.APIKey = ""
	return &Provider{
		cfg:    cfg,
		apiKey: func() string { return key },
		http:   &http.Client{Transport: limitedTransport{base: cfg.Transport, max: cfg.MaxResponseBytes}},
	}, nil
}

// limitedTransport bounds every response body the provider reads to max
// bytes, those the WorkOS SDK decodes (Groups, Status) as well as get's.
type limitedTransport struct {
	base http.RoundTripper // nil: http.DefaultTransport
	max  int64
}

// RoundTrip sends req through the base transport and bounds the body of
// its response.
func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	res.Body = &limitedBody{rc: res.Body, left: t.max, max: t.max}
	return res, nil
}

// limitedBody reads up to max bytes of rc and fails on a longer body.
type limitedBody struct {
	rc        io.ReadCloser
	left, max int64
}

// Read reads from the body until max bytes, then fails if it has more.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// A body of exactly max bytes ends here; a longer one fails.
		var one [1]byte
		for {
			n, err := b.rc.Read(one[:])
			if n > 0 {
				return 0, &tooLongError{max: b.max}
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close closes the body.
func (b *limitedBody) Close() error { return b.rc.Close() }

// tooLongError is a response body longer than MaxResponseBytes.
type tooLongError struct{ max int64 }

// Error says how many bytes the bound allowed.
func (e *tooLongError) Error() string { return fmt.Sprintf("response exceeds %d bytes", e.max) }

// sdk returns a WorkOS SDK client for one call; it is not kept, so the key it
// holds is not reachable from the Provider.
func (p *Provider) sdk() *directorysync.Client {
	return &directorysync.Client{APIKey: p.apiKey(), Endpoint: p.cfg.BaseURL, HTTPClient: p.http}
}

// DirectoryID returns the WorkOS directory the provider lists.
func (p *Provider) DirectoryID() string { return p.cfg.DirectoryID }

// SourceID is "workos:" followed by the directory ID.
func (p *Provider) SourceID() string { return "workos:" + p.cfg.DirectoryID }

func (p *Provider) ctx(ctx context.Context) context.Context {
	return WithDirectory(ctx, p.cfg.DirectoryID)
}

// Status reads the directory's state: only "linked" is Linked.
func (p *Provider) Status(ctx context.Context) (dirsync.SourceStatus, error) {
	d, err := p.sdk().GetDirectory(p.ctx(ctx), directorysync.GetDirectoryOpts{Directory: p.cfg.DirectoryID})
	if err != nil {
		return dirsync.SourceStatus{}, fmt.Errorf("workos: reading directory %s: %w", p.cfg.DirectoryID, err)
	}
	return dirsync.SourceStatus{Linked: d.State == directorysync.Linked, State: string(d.State)}, nil
}

// Users lists the directory's users, PageSize at a time, calling fn with
// each page of records. A page fn returns from may be reused.
func (p *Provider) Users(ctx context.Context, fn func(page []mapping.Record) error) error {
	var recs []mapping.Record
	return p.list(ctx, url.Values{"directory": {p.cfg.DirectoryID}}, "directory users", func(body []byte) (wireListMetadata, int, error) {
		var meta wireListMetadata
		var err error
		recs, meta, err = decodeUsersPage(body, recs[:0])
		if err != nil {
			return meta, 0, err
		}
		if len(recs) == 0 {
			return meta, 0, nil
		}
		return meta, len(recs), fn(recs)
	})
}

// Groups lists the directory's groups.
func (p *Provider) Groups(ctx context.Context, fn func(page []dirsync.ProviderGroup) error) error {
	ctx = p.ctx(ctx)
	after := ""
	seen := map[string]bool{}
	empty := 0
	for {
		res, err := p.sdk().ListGroups(ctx, directorysync.ListGroupsOpts{
			Directory: p.cfg.DirectoryID, Limit: p.cfg.PageSize,
			Order: directorysync.Order(p.cfg.Order), After: after,
		})
		if err != nil {
			return fmt.Errorf("workos: listing groups of %s: %w", p.cfg.DirectoryID, err)
		}
		page := make([]dirsync.ProviderGroup, 0, len(res.Data))
		for _, g := range res.Data {
			wg := wireGroup{ID: g.ID, Name: g.Name, UpdatedAt: g.UpdatedAt}
			pg, err := wg.group()
			if err != nil {
				return fmt.Errorf("workos: listing groups of %s: %w", p.cfg.DirectoryID, err)
			}
			page = append(page, pg)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		// Only a missing cursor ends the listing: an empty page that names
		// a next one is not the end, and ending there would make a listing
		// that skipped people look complete.
		next := res.ListMetadata.After
		if next == "" {
			return nil
		}
		if empty = nextEmpty(empty, len(res.Data)); empty > maxEmptyPages {
			return fmt.Errorf("workos: listing groups of %s: %d empty pages in a row, each naming a next one", p.cfg.DirectoryID, empty)
		}
		if seen[next] {
			return fmt.Errorf("workos: listing groups of %s: cursor %q repeated", p.cfg.DirectoryID, next)
		}
		seen[next] = true
		after = next
	}
}

// GroupMembers lists the IDs of one group's members (the users listing
// filtered by group; only the IDs are decoded).
func (p *Provider) GroupMembers(ctx context.Context, groupExternalID string, fn func(userExternalIDs []string) error) error {
	if groupExternalID == "" || len(groupExternalID) > 256 {
		return fmt.Errorf("workos: group ID %q is empty or too long", truncate(groupExternalID, 64))
	}
	var ids []string
	return p.list(ctx, url.Values{"group": {groupExternalID}}, "members of group "+groupExternalID, func(body []byte) (wireListMetadata, int, error) {
		var page wireIDsPage
		if err := json.Unmarshal(body, &page); err != nil {
			return wireListMetadata{}, 0, fmt.Errorf("decoding members page: %w", err)
		}
		ids = ids[:0]
		for i, u := range page.Data {
			if u.ID == "" {
				return wireListMetadata{}, 0, fmt.Errorf("decoding members page: user %d has no id", i)
			}
			ids = append(ids, u.ID)
		}
		if len(ids) == 0 {
			return page.ListMetadata, 0, nil
		}
		return page.ListMetadata, len(ids), fn(ids)
	})
}

// list pages through /directory_users with the filter q, calling page with
// each response body.
func (p *Provider) list(ctx context.Context, q url.Values, what string, page func(body []byte) (wireListMetadata, int, error)) error {
	ctx = p.ctx(ctx)
	q.Set("limit", strconv.Itoa(p.cfg.PageSize))
	q.Set("order", p.cfg.Order)
	seen := map[string]bool{}
	empty := 0
	for n := 1; ; n++ {
		body, err := p.get(ctx, "/directory_users", q)
		if err != nil {
			return fmt.Errorf("workos: listing %s of %s, page %d: %w", what, p.cfg.DirectoryID, n, err)
		}
		meta, count, err := page(body)
		if err != nil {
			return fmt.Errorf("workos: listing %s of %s, page %d: %w", what, p.cfg.DirectoryID, n, err)
		}
		// Only a missing cursor ends the listing (see Groups).
		if meta.After == "" {
			return nil
		}
		if empty = nextEmpty(empty, count); empty > maxEmptyPages {
			return fmt.Errorf("workos: listing %s of %s, page %d: %d empty pages in a row, each naming a next one", what, p.cfg.DirectoryID, n, empty)
		}
		if seen[meta.After] {
			return fmt.Errorf("workos: listing %s of %s, page %d: cursor %q repeated", what, p.cfg.DirectoryID, n, meta.After)
		}
		seen[meta.After] = true
		q.Set("after", meta.After)
	}
}

// maxEmptyPages bounds the empty pages in a row a listing follows before it
// fails: each names a next page, but a listing cannot be trusted to end.
const maxEmptyPages = 16

// nextEmpty counts empty pages in a row.
func nextEmpty(empty, count int) int {
	if count == 0 {
		return empty + 1
	}
	return 0
}

// get performs one GET and returns its body, bounded by MaxResponseBytes.
func (p *Provider) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.BaseURL+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.apiKey())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "directorysync")
	res, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	// The transport bounds the body (limitedTransport); an error reply
	// past the bound is still an HTTPError, with the message its first
	// MaxResponseBytes hold.
	body, err := io.ReadAll(res.Body)
	var tooLong *tooLongError
	if err != nil && !errors.As(err, &tooLong) {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, &HTTPError{Status: res.StatusCode, Message: errorMessage(body)}
	}
	if tooLong != nil {
		return nil, tooLong
	}
	return body, nil
}

// HTTPError is a non-200 answer of the WorkOS API.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// Message is WorkOS's error code and message, at most 200 bytes; empty
	// when the body held none.
	Message string
}

// Error is "HTTP <status> <text>[: <message>]".
func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// errorMessage extracts WorkOS's error message from a body, bounded.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		if e.Code != "" {
			return truncate(e.Code+": "+e.Message, 200)
		}
		return truncate(e.Message, 200)
	}
	return ""
}

// GoString is String, so that %#v does not show the API key either.
func (c Config) GoString() string { return c.String() }

// Format writes String for every verb (%v, %+v, %#v, %s, %d, %x, …), so that
// no verb prints the fields, the API key among them, one by one.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON marshals the config with the API key redacted (and without
// Transport and Logger, which are not data).
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		APIKey           string
		DirectoryID      string
		BaseURL          string
		PageSize         int
		Order            string
		MaxResponseBytes int64
	}{redact(c.APIKey), c.DirectoryID, c.BaseURL, c.PageSize, c.Order, c.MaxResponseBytes})
}
