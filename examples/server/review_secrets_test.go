package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/internal/fakeworkos"
)

// lockedBuffer is the server's stderr, written by several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Distinctive secrets: the test looks for their cores, so a partial echo is
// caught too.
const (
	tokAcme     = "tok_ACMECORE_3b9d0f"
	tokAdmin    = "tok_ADMINCORE_71ac2e"
	tokWrong    = "tok_WRONGCORE_55e1aa"
	apiKey      = "sk_live_APIKEYCORE_8c2f"
	hookSecret  = "whsec_HOOKCORE_9a7d"
	dsnPassword = "PWCORE_d41d8c"
)

var secretCores = []string{"ACMECORE", "ADMINCORE", "WRONGCORE", "APIKEYCORE", "HOOKCORE", "PWCORE"}

// startRun runs the server as main does, with its stderr captured, and
// returns its address and a stop function that returns run's error.
func startRun(t *testing.T, cfgDoc string, env map[string]string) (addr string, stderr *lockedBuffer, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(cfgDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", path, "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stderr, ready)
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stderr, stop
}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range secretCores {
		if strings.Contains(s, c) {
			t.Errorf("%s shows a secret (%s):\n%.6000s", what, c, s)
		}
	}
}

// TestServerLogsNeverShowSecrets runs the server with API tokens, a WorkOS
// org whose API refuses the key (so its errors are logged), a webhook secret
// and a store DSN with passwords, sends it requests with valid, wrong and
// malformed tokens and badly signed webhooks, and checks that its whole log
// output and its answers show none of those secrets.
func TestServerLogsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	fake := fakeworkos.New(fakeworkos.Options{APIKey: "sk_test_the_fake_wants_another_key"})
	t.Cleanup(fake.Close)
	fake.SeedDirectory("directory_01REVIEW", "org_R", 3, 0)
	sum := sha256.Sum256([]byte(tokAcme))

	dbDir := t.TempDir()
	store := "sqlite:" + filepath.Join(dbDir, "d.db")
	if pg := os.Getenv("DIRSYNC_TEST_POSTGRES_DSN"); pg != "" {
		store = postgresWithPassword(t, pg)
	}
	doc := fmt.Sprintf(`
store: %q
orgs:
  - id: acme
    provider: {type: demo}
  - id: initech
    provider: {type: workos, directory_id: directory_01REVIEW}
auth:
  tokens:
    - sha256: %s
      orgs: [acme]
    - env: ADMIN_TOKEN
      orgs: ["*"]
`, store, hex.EncodeToString(sum[:]))
	env := map[string]string{"WORKOS_API_KEY": apiKey, "WORKOS_BASE_URL": fake.URL, "WORKOS_WEBHOOK_SECRET": hookSecret, "ADMIN_TOKEN": tokAdmin}
	addr, stderr, stop := startRun(t, doc, env)
	base := "http://" + addr

	var answers strings.Builder
	do := func(method, path string, header http.Header, body []byte) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Fprintf(&answers, "%d %v %s\n", res.StatusCode, res.Header, b)
		return res.StatusCode
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	for _, tc := range []struct {
		method, path string
		header       http.Header
		want         int
	}{
		{"GET", "/v1/orgs", bearer(tokAdmin), 200},
		{"GET", "/v1/orgs/acme/users?q=a", bearer(tokAcme), 200},
		{"GET", "/v1/orgs/initech/users", bearer(tokAcme), 404},
		// Fails (the fake refuses the key), or 409 while the scheduler's or
		// the poller's sync of initech runs: either way WorkOS errors are
		// logged.
		{"POST", "/v1/orgs/initech/sync?wait=30s", bearer(tokAdmin), -1},
		{"GET", "/v1/orgs", bearer(tokWrong), 401},
		{"GET", "/v1/orgs", http.Header{"Authorization": {tokAcme}}, 401},            // no scheme
		{"GET", "/v1/orgs", http.Header{"Authorization": {"Basic " + tokAcme}}, 401}, // wrong scheme
		{"GET", "/v1/orgs", http.Header{"Authorization": {"Bearer  " + tokWrong + "\t"}}, 401},
		{"GET", "/v1/orgs/acme/nothing", bearer(tokWrong), 401},
		{"GET", "/v1/orgs/acme/users?cursor=" + url.QueryEscape(tokWrong), bearer(tokAcme), 400},
	} {
		got := do(tc.method, tc.path, tc.header, nil)
		if tc.want == -1 && (got == 200 || got == 409) {
			continue
		}
		if got != tc.want {
			t.Errorf("%s %s: status %d, want %d; the server logged:\n%.3000s", tc.method, tc.path, got, tc.want, stderr)
		}
	}
	event := []byte(`{"id":"event_01","event":"dsync.user.created","data":{"directory_id":"directory_01REVIEW"},"created_at":"2026-01-01T00:00:00Z"}`)
	realSig := workos.Sign(hookSecret, time.Now(), event)
	for _, sig := range []string{
		workos.Sign("whsec_other", time.Now(), event),
		realSig[:len(realSig)-4] + "0000",
		strings.ReplaceAll(realSig, "=", ":"),
		workos.Sign(hookSecret, time.Now().Add(-time.Hour), event),
	} {
		if got := do("POST", "/v1/webhooks/workos", http.Header{"Workos-Signature": {sig}}, event); got != 401 {
			t.Errorf("webhook with a bad signature: status %d, want 401", got)
		}
	}

	// Let the poller's first poll fail and be logged, then stop.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "HTTP 401") {
		if time.Now().After(deadline) {
			t.Fatalf("no WorkOS failure was logged: the test would prove nothing about it\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"request"`, `"status":401`, "workos webhook: rejected", `"msg":"serving"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs have no %s: the test would prove nothing about it\n%.4000s", want, logs)
		}
	}
	if store != "sqlite:"+filepath.Join(dbDir, "d.db") && !strings.Contains(logs, "xxxxx") {
		t.Errorf("the serving record does not show the DSN redacted:\n%.4000s", logs)
	}
	assertNoSecrets(t, "the server's log output", logs)
	assertNoSecrets(t, "the answers", answers.String())
}

// postgresWithPassword returns the test database's DSN with a password in
// its userinfo and another in its query (trust auth ignores both), and a
// fresh dirsync_schema so the server's migrations touch nothing shared.
func postgresWithPassword(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("review_secrets_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u.User = url.UserPassword(u.User.Username(), dsnPassword)
	q := u.Query()
	q.Set("sslpassword", dsnPassword+"_2")
	q.Set("dirsync_schema", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestRunErrorsNeverShowTheStorePassword: a store that cannot be reached or
// parsed fails run with an error that names the problem but not the
// password, and nothing logged before it shows the password either.
func TestRunErrorsNeverShowTheStorePassword(t *testing.T) {
	t.Parallel()
	for _, store := range []string{
		"postgres://u:" + dsnPassword + "@127.0.0.1:1/db?sslmode=disable",
		"postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + dsnPassword,
		"postgres://u:" + dsnPassword + "@127.0.0.1:1/db?connect_timeout=soon",
		"host=127.0.0.1 password=" + dsnPassword,
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, fmt.Appendf(nil, "store: %q\norgs: [{id: demo, provider: {type: demo}}]\n", store), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr lockedBuffer
		err := run(context.Background(), []string{"-config", path, "-addr", "127.0.0.1:0"}, func(string) string { return "" }, &stderr, nil)
		if err == nil {
			t.Fatalf("store %q: run succeeded", store)
		}
		assertNoSecrets(t, "the error", err.Error())
		assertNoSecrets(t, "the log output", stderr.String())
	}
}
