package workos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/workos/workos-go/v4/pkg/directorysync"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/fakeworkos"
	"github.com/directorysync/directorysync/mapping"
)

var _ dirsync.Provider = (*workos.Provider)(nil)

var epoch = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type fixture struct {
	fake   *fakeworkos.Server
	clock  *fakeworkos.VirtualClock
	tr     *workos.Transport
	prov   *workos.Provider
	dirID  string
	config workos.Config
}

type setupOpts struct {
	fake      fakeworkos.Options
	transport workos.TransportConfig
	config    workos.Config
}

// setup starts a fake WorkOS on a virtual clock and a provider of
// directory_A over it; the transport shares the clock, so pacing and
// back-off cost no real time.
func setup(t testing.TB, o setupOpts) *fixture {
	t.Helper()
	clock := fakeworkos.NewVirtualClock(epoch)
	o.fake.Clock = clock
	fake := fakeworkos.New(o.fake)
	t.Cleanup(fake.Close)
	o.transport.Clock = clock
	tr, err := workos.NewTransport(o.transport)
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.config
	cfg.APIKey, cfg.DirectoryID, cfg.BaseURL, cfg.Transport = fake.APIKey(), "directory_A", fake.URL, tr
	p, err := workos.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{fake: fake, clock: clock, tr: tr, prov: p, dirID: "directory_A", config: cfg}
}

func listUserIDs(t testing.TB, p *workos.Provider) ([]string, error) {
	t.Helper()
	var ids []string
	err := p.Users(context.Background(), func(page []mapping.Record) error {
		for _, r := range page {
			ids = append(ids, r.ExternalID)
		}
		return nil
	})
	return ids, err
}

func TestProviderUsers(t *testing.T) {
	t.Parallel()

	t.Run("ListsEveryUserInBothOrders", func(t *testing.T) {
		t.Parallel()
		for _, order := range []string{"asc", "desc"} {
			f := setup(t, setupOpts{config: workos.Config{Order: order, PageSize: 7}})
			seed := f.fake.SeedDirectory(f.dirID, "org_A", 50, 0)
			f.fake.SeedDirectory("directory_B", "org_B", 5, 0)
			got, err := listUserIDs(t, f.prov)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(seed.UserIDs)
			if order == "desc" {
				slices.Reverse(want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("order %s (-want +got):\n%s", order, diff)
			}
			for _, r := range f.fake.Requests() {
				if r.Query.Get("before") != "" || r.Query.Get("limit") != "7" || r.Query.Get("order") != order {
					t.Errorf("request %s %v: want limit 7, order %s, no before", r.Path, r.Query, order)
				}
			}
		}
	})

	t.Run("Survives429StormAndIntermittent5xx", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{transport: workos.TransportConfig{MaxRetries: 6}})
		seed := f.fake.SeedDirectory(f.dirID, "org_A", 1000, 0)
		f.fake.InjectNext(5, fakeworkos.Fault{Status: 429, RetryAfter: "3"})
		f.fake.SetFault(func(r fakeworkos.Request) (fakeworkos.Fault, bool) {
			switch r.Seq % 4 {
			case 1:
				return fakeworkos.Fault{Status: 503}, true
			case 2:
				return fakeworkos.Fault{Status: 429}, true // no Retry-After: back-off
			}
			return fakeworkos.Fault{}, false
		})
		got, err := listUserIDs(t, f.prov)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(seed.UserIDs)
		slices.Reverse(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listing (-want +got):\n%s", diff)
		}
		faults := map[int]int{}
		for _, r := range f.fake.Requests() {
			if r.Fault {
				faults[r.Status]++
			}
		}
		if faults[429] < 5+3 || faults[503] < 3 {
			t.Errorf("faults injected = %v; the test did not exercise retries", faults)
		}
	})

	t.Run("NeverExceedsTheDirectoryRate", func(t *testing.T) {
		t.Parallel()
		for _, rate := range []float64{4, 2} {
			f := setup(t, setupOpts{transport: workos.TransportConfig{DirectoryRate: rate}})
			seed := f.fake.SeedDirectory(f.dirID, "org_A", 2000, 10)
			if _, err := listUserIDs(t, f.prov); err != nil {
				t.Fatal(err)
			}
			for _, g := range seed.GroupIDs {
				if err := f.prov.GroupMembers(context.Background(), g, func([]string) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.fake.MaxInWindow(f.dirID, time.Second); got > int(rate) {
				t.Errorf("rate %v: %d requests to /directory_users in one second", rate, got)
			}
			if n := len(f.fake.Requests()); n < 30 {
				t.Errorf("only %d requests", n)
			}
		}
	})

	t.Run("ListingThatKeepsFailingOnPage3ReturnsAnError", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{transport: workos.TransportConfig{MaxRetries: 3}})
		f.fake.SeedDirectory(f.dirID, "org_A", 500, 0)
		f.fake.SetFault(func(r fakeworkos.Request) (fakeworkos.Fault, bool) {
			return fakeworkos.Fault{Status: 502}, r.Seq >= 3
		})
		pages := 0
		err := f.prov.Users(context.Background(), func([]mapping.Record) error { pages++; return nil })
		var he *workos.HTTPError
		if !errors.As(err, &he) || he.Status != 502 || !strings.Contains(err.Error(), "page 3") {
			t.Fatalf("err = %v, want HTTP 502 naming page 3", err)
		}
		if pages != 2 {
			t.Errorf("fn saw %d pages, want 2", pages)
		}
		if n := len(f.fake.Requests()); n != 2+4 {
			t.Errorf("%d requests, want 2 pages + 1 attempt + 3 retries", n)
		}
	})

	t.Run("MalformedJSONFailsTheListing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{})
		f.fake.SeedDirectory(f.dirID, "org_A", 150, 0)
		f.fake.SetFault(func(r fakeworkos.Request) (fakeworkos.Fault, bool) {
			return fakeworkos.Fault{Malformed: true}, r.Seq == 2
		})
		_, err := listUserIDs(t, f.prov)
		if err == nil || !strings.Contains(err.Error(), "page 2") {
			t.Errorf("err = %v, want a decoding error naming page 2", err)
		}
	})

	t.Run("ErrorFromFnStopsTheListing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{})
		f.fake.SeedDirectory(f.dirID, "org_A", 300, 0)
		stop := errors.New("stop")
		err := f.prov.Users(context.Background(), func([]mapping.Record) error { return stop })
		if !errors.Is(err, stop) || len(f.fake.Requests()) != 1 {
			t.Errorf("err = %v after %d requests", err, len(f.fake.Requests()))
		}
	})

	t.Run("CancelledContextStopsWaiting", func(t *testing.T) {
		t.Parallel()
		// Real clock: the transport really waits out Retry-After, and the
		// cancellation must cut the wait short.
		fake := fakeworkos.New(fakeworkos.Options{})
		t.Cleanup(fake.Close)
		fake.SeedDirectory("directory_A", "org_A", 300, 0)
		fake.InjectNext(1, fakeworkos.Fault{Status: 429, RetryAfter: "3600"})
		p, err := workos.NewProvider(workos.Config{APIKey: fake.APIKey(), DirectoryID: "directory_A", BaseURL: fake.URL})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for len(fake.Requests()) < 1 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		calls := 0
		err = p.Users(ctx, func([]mapping.Record) error { calls++; return nil })
		if !errors.Is(err, context.Canceled) || calls != 0 || len(fake.Requests()) != 1 {
			t.Errorf("err = %v, calls %d, requests %d; want context.Canceled, no page, one request", err, calls, len(fake.Requests()))
		}
	})
}

func TestProviderMapsRecords(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	for _, name := range []string{"workos-user-modern.json", "workos-user-legacy-entra.json", "workos-user-legacy-google.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		// Give every fixture our directory so one listing returns them all.
		for _, d := range []string{"directory_01JD8PZ3XG6S2V1R0A7M4K8E5N", "directory_01H2ZJ7B4X2C8E0F6H3K5M9Q1S", "directory_01GXK1L3N5Q7S9U1W3Y5A7C9E1"} {
			raw = []byte(strings.ReplaceAll(string(raw), d, f.dirID))
		}
		if err := f.fake.AddUserJSON(raw); err != nil {
			t.Fatal(err)
		}
	}
	f.fake.AddUser(fakeworkos.User{ID: "directory_user_z_suspended", DirectoryID: f.dirID, State: "suspended",
		Email: "", Emails: []fakeworkos.Email{{Value: "other@example.com"}, {Primary: true, Value: "primary@example.com"}},
		UpdatedAt: "2026-01-02T03:04:05.678Z"})
	got := map[string]mapping.Record{}
	err := f.prov.Users(context.Background(), func(page []mapping.Record) error {
		for _, r := range page {
			got[r.ExternalID] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]mapping.Record{
		"directory_user_01JD8Q4W6N2K7TQY1H3F5M9B0C": {
			ExternalID: "directory_user_01JD8Q4W6N2K7TQY1H3F5M9B0C", IdpID: "00u1a2b3c4d5e6f7g8h9", State: "active",
			Email: "marisol.quintero@example.com", FirstName: "Marisol", LastName: "Quintero",
			Custom: map[string]any{
				"department_name": "Customer Success", "division_name": "Americas", "cost_center_name": "CS-2104",
				"job_title": "Onboarding Lead", "employee_type": "Full-time", "manager_email": "dario.blanc@example.com",
				"addresses": []any{map[string]any{"street_address": "200 Main St", "locality": "Austin", "region": "TX",
					"postal_code": "78701", "country": "US", "primary": true}},
			},
			UpdatedAt: time.Date(2026, 10, 19, 8, 11, 42, 0, time.UTC),
		},
		"directory_user_z_suspended": {
			ExternalID: "directory_user_z_suspended", State: "suspended", Email: "primary@example.com",
			UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC),
		},
	}
	for id, w := range want {
		if diff := cmp.Diff(w, got[id]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
	entra := got["directory_user_01H2ZK8C5Y3D9F1G7J4L6N0P2R"]
	if entra.Username != "t.wisniewski@example.org" || entra.JobTitle != "Staff Engineer" || entra.Custom != nil ||
		entra.Raw["externalId"] != "tw0193" || entra.LastName != "Wiśniewski" {
		t.Errorf("entra record = %+v", entra)
	}
	google := got["directory_user_01GXK2M4P6R8T0V2X4Z6B8D0F2"]
	if google.JobTitle != "" || google.Raw["orgUnitPath"] != "/Product/Design" || google.Email != "aiko@example.net" {
		t.Errorf("google record = %+v", google)
	}
	if got["directory_user_z_suspended"].State.Active() {
		t.Error("a suspended user counts as active")
	}
}

func TestProviderGroupsAndMembers(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{config: workos.Config{PageSize: 3}})
	seed := f.fake.SeedDirectory(f.dirID, "org_A", 40, 7)
	f.fake.SeedDirectory("directory_B", "org_B", 3, 2)
	var groups []dirsync.ProviderGroup
	err := f.prov.Groups(context.Background(), func(page []dirsync.ProviderGroup) error {
		groups = append(groups, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, g := range groups {
		gotIDs = append(gotIDs, g.ExternalID)
		if !strings.HasPrefix(g.Name, "Group ") || g.UpdatedAt.IsZero() {
			t.Errorf("group %+v lacks name or updated_at", g)
		}
	}
	if diff := cmp.Diff(seed.GroupIDs, gotIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	for _, g := range seed.GroupIDs {
		var members []string
		err := f.prov.GroupMembers(context.Background(), g, func(ids []string) error {
			members = append(members, ids...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(seed.Members[g], members, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("members of %s (-want +got):\n%s", g, diff)
		}
	}
	if err := f.prov.GroupMembers(context.Background(), "", func([]string) error { return nil }); err == nil {
		t.Error("an empty group ID was accepted")
	}
}

func TestProviderStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state  directorysync.DirectoryState
		linked bool
	}{
		{directorysync.Linked, true},
		{directorysync.Unlinked, false},
		{directorysync.InvalidCredentials, false},
		{"validating", false},
		{"deleting", false},
	} {
		t.Run(fmt.Sprintf("StateIs%sLinked%v", tc.state, tc.linked), func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{})
			f.fake.AddDirectory(directorysync.Directory{ID: f.dirID, State: tc.state})
			st, err := f.prov.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dirsync.SourceStatus{Linked: tc.linked, State: string(tc.state)}, st); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("UnknownDirectoryIsAnError", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{})
		if _, err := f.prov.Status(context.Background()); err == nil {
			t.Error("no error for a directory WorkOS does not know")
		}
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	t.Run("StringAndLogValueRedactTheAPIKey", func(t *testing.T) {
		t.Parallel()
		cfg := workos.Config{APIKey: "sk_live_secret123", DirectoryID: "directory_A"}
		for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), cfg.LogValue().String()} {
			if strings.Contains(s, "secret123") {
				t.Errorf("%q shows the key", s)
			}
		}
	})
	t.Run("RejectsInvalidSettings", func(t *testing.T) {
		t.Parallel()
		for name, cfg := range map[string]workos.Config{
			"no key":       {DirectoryID: "directory_A"},
			"no directory": {APIKey: "k"},
			"bad dir":      {APIKey: "k", DirectoryID: "a/../b"},
			"page size":    {APIKey: "k", DirectoryID: "d", PageSize: 101},
			"order":        {APIKey: "k", DirectoryID: "d", Order: "sideways"},
			"base url":     {APIKey: "k", DirectoryID: "d", BaseURL: "ftp://x"},
			"plain http":   {APIKey: "k", DirectoryID: "d", BaseURL: "http://api.workos.com"},
		} {
			if _, err := workos.NewProvider(cfg); err == nil || !strings.HasPrefix(err.Error(), "invalid config: ") {
				t.Errorf("%s: err = %v", name, err)
			}
		}
		if _, err := workos.NewTransport(workos.TransportConfig{DirectoryRate: -1}); err == nil {
			t.Error("negative rate accepted")
		}
	})
}

// Groups and Status decode their replies in the WorkOS SDK: the body bound
// holds for them too.
func TestResponseBoundHoldsForTheSDKsCalls(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{config: workos.Config{MaxResponseBytes: 2000}})
	f.fake.SeedDirectory(f.dirID, "org_A", 40, 30)
	err := f.prov.Groups(context.Background(), func([]dirsync.ProviderGroup) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "response exceeds 2000 bytes") {
		t.Errorf("Groups with 30 groups a page and a 2,000-byte bound: %v", err)
	}
	small := setup(t, setupOpts{config: workos.Config{MaxResponseBytes: 2000, PageSize: 2}})
	small.fake.SeedDirectory(small.dirID, "org_A", 4, 3)
	if err := small.prov.Groups(context.Background(), func([]dirsync.ProviderGroup) error { return nil }); err != nil {
		t.Errorf("Groups with pages of two groups under a 2,000-byte bound: %v", err)
	}
}

// An error reply longer than MaxResponseBytes is still an HTTPError with
// its status (the poller tells a refused cursor by it); a 200 reply that
// long fails on its size.
func TestLongRepliesKeepTheirStatus(t *testing.T) {
	t.Parallel()
	long := `{"message": "` + strings.Repeat("x", 3000) + `"}`
	for status, want := range map[int]string{http.StatusNotFound: "HTTP 404", http.StatusOK: "response exceeds 2000 bytes"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, long)
		}))
		t.Cleanup(srv.Close)
		p, err := workos.NewProvider(workos.Config{APIKey: "sk_test", DirectoryID: "directory_A", BaseURL: srv.URL, MaxResponseBytes: 2000})
		if err != nil {
			t.Fatal(err)
		}
		_, err = listUserIDs(t, p)
		var he *workos.HTTPError
		if err == nil || !strings.Contains(err.Error(), want) || (status != http.StatusOK) != errors.As(err, &he) {
			t.Errorf("status %d with a 3 KB body: %v, want an error saying %q (an HTTPError: %v)", status, err, want, status != http.StatusOK)
		}
	}
}
