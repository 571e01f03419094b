package workos_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/internal/fakeworkos"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTransport(t *testing.T) {
	t.Parallel()

	t.Run("RetryLogsNeverShowTheAPIKey", func(t *testing.T) {
		t.Parallel()
		var logs syncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		f := setup(t, setupOpts{transport: workos.TransportConfig{Logger: logger}})
		f.fake.SeedDirectory(f.dirID, "org_A", 250, 0)
		f.fake.InjectNext(2, fakeworkos.Fault{Status: 429, RetryAfter: "1"})
		f.fake.InjectNext(2, fakeworkos.Fault{Status: 502})
		if _, err := listUserIDs(t, f.prov); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if !strings.Contains(out, "rate limited") || !strings.Contains(out, "server error") {
			t.Fatalf("retries were not logged: %s", out)
		}
		if strings.Contains(out, f.fake.APIKey()) || strings.Contains(out, "Bearer") {
			t.Errorf("logs show the key: %s", out)
		}
	})

	t.Run("PacesAllDirectoriesUnderTheKeyLimit", func(t *testing.T) {
		t.Parallel()
		clock := fakeworkos.NewVirtualClock(epoch)
		fake := fakeworkos.New(fakeworkos.Options{Clock: clock})
		t.Cleanup(fake.Close)
		tr, err := workos.NewTransport(workos.TransportConfig{Clock: clock, KeyRequests: 5, KeyWindow: time.Second, DirectoryRate: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"directory_A", "directory_B"} {
			fake.SeedDirectory(dir, "org", 120, 0)
			p, err := workos.NewProvider(workos.Config{APIKey: fake.APIKey(), DirectoryID: dir, BaseURL: fake.URL, Transport: tr, PageSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := listUserIDs(t, p); err != nil {
				t.Fatal(err)
			}
		}
		var times []time.Time
		for _, r := range fake.Requests() {
			times = append(times, r.At)
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		lo := 0
		for hi := range times {
			for times[hi].Sub(times[lo]) >= time.Second {
				lo++
			}
			if hi-lo+1 > 5 {
				t.Fatalf("%d requests in the second from %s", hi-lo+1, times[lo])
			}
		}
		if len(times) != 24 { // 12 pages of 10 per directory
			t.Errorf("%d requests, want 24", len(times))
		}
	})

	t.Run("DoesNotRetryAPostAfterA5xx", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{})
		f.fake.InjectNext(3, fakeworkos.Fault{Status: 503})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.fake.URL+"/directories", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+f.fake.APIKey())
		res, err := f.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 503 || len(f.fake.Requests()) != 1 {
			t.Errorf("status %d after %d requests; want the 503 after one", res.StatusCode, len(f.fake.Requests()))
		}
	})

	t.Run("HonoursAnHTTPDateRetryAfter", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{})
		f.fake.SeedDirectory(f.dirID, "org_A", 5, 0)
		f.fake.InjectNext(1, fakeworkos.Fault{Status: 429, RetryAfter: epoch.Add(42 * time.Second).Format(http.TimeFormat)})
		if _, err := listUserIDs(t, f.prov); err != nil {
			t.Fatal(err)
		}
		log := f.fake.Requests()
		if len(log) != 2 || log[1].At.Sub(log[0].At) < 42*time.Second || log[1].At.Sub(log[0].At) > 43*time.Second {
			t.Errorf("retry came %s after the 429, want 42 s", log[len(log)-1].At.Sub(log[0].At))
		}
	})

	t.Run("BacksOffExponentiallyWithinTheCap", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{transport: workos.TransportConfig{BackoffBase: time.Second, BackoffMax: 4 * time.Second, MaxRetries: 5}})
		f.fake.SeedDirectory(f.dirID, "org_A", 5, 0)
		f.fake.InjectNext(5, fakeworkos.Fault{Status: 500})
		if _, err := listUserIDs(t, f.prov); err != nil {
			t.Fatal(err)
		}
		log := f.fake.Requests()
		caps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
		for i, c := range caps {
			gap := log[i+1].At.Sub(log[i].At)
			if gap < c/2 || gap > c+300*time.Millisecond {
				t.Errorf("wait before retry %d = %s, want within [%s, %s]", i+1, gap, c/2, c)
			}
		}
	})
}
