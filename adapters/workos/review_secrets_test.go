package workos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/fakeworkos"
	"github.com/directorysync/directorysync/mapping"
)

// The secrets below are distinctive so that a partial echo (a prefix, a
// masked middle) is caught too: tests look for their cores.
const (
	reviewAPIKey     = "sk_live_KEYCORE7f3a9c_0123456789abcdef"
	reviewKeyCore    = "KEYCORE7f3a9c"
	reviewSecret     = "whsec_SECRETCORE5e1d_0123456789"
	reviewSecretCore = "SECRETCORE5e1d"
)

// captureLogs is a Debug-level logger that renders every record with both
// standard handlers (text and JSON), so LogValuer, Stringer and
// json.Marshaler paths are all exercised.
func captureLogs() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}
	return slog.New(slog.NewMultiHandler(slog.NewTextHandler(&buf, opts), slog.NewJSONHandler(&buf, opts))), &buf
}

func assertNoSecret(t *testing.T, what, s string, cores ...string) {
	t.Helper()
	for _, c := range cores {
		if strings.Contains(s, c) {
			t.Errorf("%s shows a secret (%q):\n%.4000s", what, c, s)
		}
	}
}

// TestAPIKeyNeverReachesLogsOrErrors runs every kind of provider request
// through the paced transport against the fake WorkOS with rate limits,
// server errors, malformed bodies, a refused key and dropped connections
// injected, at Debug level, and checks that neither the records nor any
// returned error shows the API key.
func TestAPIKeyNeverReachesLogsOrErrors(t *testing.T) {
	t.Parallel()

	t.Run("ListingsThroughRetriesAndFailures", func(t *testing.T) {
		t.Parallel()
		logger, logs := captureLogs()
		clock := fakeworkos.NewVirtualClock(epoch)
		fake := fakeworkos.New(fakeworkos.Options{APIKey: reviewAPIKey, Clock: clock})
		t.Cleanup(fake.Close)
		seed := fake.SeedDirectory("directory_A", "org_A", 120, 3)
		tr, err := workos.NewTransport(workos.TransportConfig{Clock: clock, Logger: logger, MaxRetries: 2})
		if err != nil {
			t.Fatal(err)
		}
		p, err := workos.NewProvider(workos.Config{APIKey: reviewAPIKey, DirectoryID: "directory_A", BaseURL: fake.URL,
			Transport: tr, PageSize: 10, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var errs []error
		collect := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		users := func(context.Context) error {
			return p.Users(ctx, func([]mapping.Record) error { return nil })
		}
		groups := func(context.Context) error {
			return p.Groups(ctx, func([]dirsync.ProviderGroup) error { return nil })
		}
		members := func(context.Context) error {
			return p.GroupMembers(ctx, seed.GroupIDs[0], func([]string) error { return nil })
		}
		status := func(ctx context.Context) error { _, err := p.Status(ctx); return err }

		// Retried faults that end in success, then faults that outlast the
		// retries, for every kind of request.
		for _, call := range []func(context.Context) error{users, groups, members, status} {
			fake.InjectNext(2, fakeworkos.Fault{Status: 429, RetryAfter: "1"})
			collect(call(ctx))
			fake.InjectNext(2, fakeworkos.Fault{Status: 503})
			collect(call(ctx))
			fake.InjectNext(3, fakeworkos.Fault{Status: 500})
			collect(call(ctx))
			fake.InjectNext(3, fakeworkos.Fault{Status: 429})
			collect(call(ctx))
			fake.InjectNext(1, fakeworkos.Fault{Malformed: true})
			collect(call(ctx))
		}
		// A failure on a middle page of a listing.
		fake.SetFault(func(r fakeworkos.Request) (fakeworkos.Fault, bool) {
			return fakeworkos.Fault{Status: 502}, r.Query.Get("after") != ""
		})
		collect(users(ctx))
		fake.SetFault(nil)
		// A cancelled listing.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		collect(p.Users(cctx, func([]mapping.Record) error { return nil }))
		// The wrong key, and a server that is not there.
		wrong, err := workos.NewProvider(workos.Config{APIKey: "sk_live_WRONGCORE_00", DirectoryID: "directory_A", BaseURL: fake.URL,
			Transport: tr, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		collect(wrong.Users(ctx, func([]mapping.Record) error { return nil }))
		_, err = wrong.Status(ctx)
		collect(err)
		gone, err := workos.NewProvider(workos.Config{APIKey: reviewAPIKey, DirectoryID: "directory_A", BaseURL: "http://127.0.0.1:1",
			Transport: tr, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		collect(gone.Users(ctx, func([]mapping.Record) error { return nil }))
		_, err = gone.Status(ctx)
		collect(err)

		// The test can fail only if it saw what it checks: retries logged,
		// and errors of each kind returned.
		out := logs.String()
		for _, want := range []string{"rate limited", "server error", "retrying after error"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q record: the faults did not reach the transport:\n%.3000s", want, out)
			}
		}
		if len(errs) < 12 {
			t.Fatalf("only %d errors returned; the injected faults did not surface", len(errs))
		}
		var httpErr *workos.HTTPError
		sawHTTP := false
		for _, err := range errs {
			if errors.As(err, &httpErr) {
				sawHTTP = true
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assertNoSecret(t, "error", s, reviewKeyCore, "WRONGCORE", "Bearer")
			}
		}
		if !sawHTTP {
			t.Error("no HTTPError among the errors")
		}
		assertNoSecret(t, "the logs", out, reviewKeyCore, "WRONGCORE", "Bearer")
	})

	t.Run("PollerFailuresAreLoggedWithoutTheKey", func(t *testing.T) {
		t.Parallel()
		logger, logs := captureLogs()
		clock := fakeworkos.NewVirtualClock(epoch)
		fake := fakeworkos.New(fakeworkos.Options{APIKey: reviewAPIKey, Clock: clock})
		t.Cleanup(fake.Close)
		fake.SeedDirectory("directory_A", "org_A", 3, 0)
		tr, err := workos.NewTransport(workos.TransportConfig{Clock: clock, Logger: logger, MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		p, err := workos.NewProvider(workos.Config{APIKey: reviewAPIKey, DirectoryID: "directory_A", BaseURL: fake.URL, Transport: tr, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		st := &stateStore{}
		pl, err := workos.NewPoller(p, workos.PollerConfig{OrgID: "acme", Store: st, Applier: &recorder{}, Clock: clock, Logger: logger,
			Reconcile: func(context.Context) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pl.Poll(context.Background()); err != nil { // reconciles and sets the cursor
			t.Fatal(err)
		}
		fake.SetFault(func(fakeworkos.Request) (fakeworkos.Fault, bool) { return fakeworkos.Fault{Status: 500}, true })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- pl.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), "polling events failed") {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("no poll failure logged:\n%.3000s", logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		assertNoSecret(t, "the logs", logs.String(), reviewKeyCore, "Bearer")
	})
}

// TestWebhookSecretAndSignatureNeverReachLogsOrAnswers delivers badly signed
// webhooks to a handler logging at Debug level and checks that neither the
// secret nor the delivered signature (nor any part of the header) appears in
// a record or an answer.
func TestWebhookSecretAndSignatureNeverReachLogsOrAnswers(t *testing.T) {
	t.Parallel()
	body := fixtureBytes(t, "workos-event-user-updated.json")
	ts := strconv.FormatInt(epoch.UnixMilli(), 10)
	// A signature made with the real secret: what an attacker replaying or
	// tampering would hold. Its hex must not be echoed either.
	real := workos.Sign(reviewSecret, epoch, body)
	realHex := real[strings.Index(real, "v1=")+3:]
	hexCore := realHex[4:20]
	for _, tc := range []struct {
		name, header string
		body         []byte
	}{
		{"WrongSecret", workos.Sign("whsec_other", epoch, body), body},
		{"TamperedBody", real, append([]byte(nil), append(body[:len(body)-1:len(body)-1], ' ', '}')...)},
		{"Stale", workos.Sign(reviewSecret, epoch.Add(-time.Hour), body), body},
		{"Future", workos.Sign(reviewSecret, epoch.Add(time.Hour), body), body},
		{"NoEquals", "t=" + ts + ", v1" + realHex, body},
		{"SignatureOnly", realHex, body},
		{"TimestampIsTheSignature", "t=" + realHex + ", v1=" + realHex, body},
		{"ShortV1", "t=" + ts + ", v1=" + realHex[:40], body},
		{"ManyParts", strings.Repeat("v1="+realHex+",", 20), body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := captureLogs()
			rec := &recorder{}
			h, err := workos.NewWebhookHandler(workos.WebhookConfig{Secret: reviewSecret, Clock: fakeworkos.NewVirtualClock(epoch),
				Logger: logger, Route: workos.StaticRoutes(map[string]workos.EventApplier{fixtureDir: rec})})
			if err != nil {
				t.Fatal(err)
			}
			logger.Debug("handler built", "handler", h, "config", workos.WebhookConfig{Secret: reviewSecret})
			w := deliver(h, tc.body, tc.header)
			if w.Code != 401 {
				t.Fatalf("status %d, want 401: %s", w.Code, w.Body)
			}
			if !strings.Contains(logs.String(), "rejected") {
				t.Fatalf("the rejection was not logged:\n%s", logs.String())
			}
			cores := []string{reviewSecretCore, hexCore}
			assertNoSecret(t, "the answer", w.Body.String(), cores...)
			assertNoSecret(t, "the answer's headers", fmt.Sprint(w.Header()), cores...)
			assertNoSecret(t, "the logs", logs.String(), cores...)
			if len(rec.ids()) != 0 {
				t.Error("a rejected delivery reached the applier")
			}
		})
	}
}

// TestConfigsNeverShowTheirSecrets formats and marshals every value that
// holds a secret every way a caller might.
func TestConfigsNeverShowTheirSecrets(t *testing.T) {
	t.Parallel()
	fake := fakeworkos.New(fakeworkos.Options{APIKey: reviewAPIKey})
	t.Cleanup(fake.Close)
	cfg := workos.Config{APIKey: reviewAPIKey, DirectoryID: "directory_A", BaseURL: fake.URL}
	prov, err := workos.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wcfg := workos.WebhookConfig{Secret: reviewSecret, Route: workos.StaticRoutes(nil)}
	hnd, err := workos.NewWebhookHandler(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	poller, err := workos.NewPoller(prov, workos.PollerConfig{OrgID: "acme", Store: &stateStore{}, Applier: &recorder{},
		Reconcile: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"Config": cfg, "*Config": &cfg, "WebhookConfig": wcfg, "*WebhookConfig": &wcfg,
		"*Provider": prov, "Provider": *prov, "*WebhookHandler": hnd, "*Poller": poller,
		"[]Config": []workos.Config{cfg}, "map": map[string]any{"cfg": cfg, "wh": wcfg},
		"struct": struct {
			C workos.Config
			W *workos.WebhookConfig
			P *workos.Provider
		}{cfg, &wcfg, prov},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			assertNoSecret(t, name+" formatted with "+verb, fmt.Sprintf(verb, v), reviewKeyCore, reviewSecretCore)
		}
		b, err := json.Marshal(v)
		if err == nil {
			assertNoSecret(t, name+" as JSON", string(b), reviewKeyCore, reviewSecretCore)
		}
		logger, logs := captureLogs()
		logger.Info("value", "v", v)
		assertNoSecret(t, name+" logged", logs.String(), reviewKeyCore, reviewSecretCore)
	}
	// Marshalling the configs works (a config in a larger document must not
	// make it unmarshallable) and says the secret is set.
	for name, v := range map[string]any{"Config": cfg, "WebhookConfig": workos.WebhookConfig{Secret: reviewSecret}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !strings.Contains(string(b), "REDACTED") {
			t.Errorf("%s as JSON = %s, want the secret shown as redacted", name, b)
		}
	}
}
