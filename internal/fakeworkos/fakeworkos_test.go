package fakeworkos_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/workos/workos-go/v4/pkg/directorysync"
	"github.com/workos/workos-go/v4/pkg/events"
	"github.com/workos/workos-go/v4/pkg/workos_errors"

	"github.com/directorysync/directorysync/internal/fakeworkos"
)

func setup(t *testing.T, opts fakeworkos.Options) (*fakeworkos.Server, *directorysync.Client) {
	t.Helper()
	s := fakeworkos.New(opts)
	t.Cleanup(s.Close)
	return s, &directorysync.Client{APIKey: s.APIKey(), Endpoint: s.URL}
}

// TestSDKReadsTheFake drives the fake with the real SDK client: if the fake's
// JSON shapes or pagination drifted from what the SDK expects, these fail.
func TestSDKReadsTheFake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DirectoryDecodesWithItsState", func(t *testing.T) {
		t.Parallel()
		s, c := setup(t, fakeworkos.Options{})
		s.SeedDirectory("directory_A", "org_A", 3, 1)
		d, err := c.GetDirectory(ctx, directorysync.GetDirectoryOpts{Directory: "directory_A"})
		if err != nil {
			t.Fatal(err)
		}
		if d.ID != "directory_A" || d.State != directorysync.Linked || d.OrganizationID != "org_A" {
			t.Errorf("directory = %+v", d)
		}
	})

	t.Run("FixtureUsersRoundTripThroughTheSDKTypes", func(t *testing.T) {
		t.Parallel()
		s, c := setup(t, fakeworkos.Options{})
		for _, f := range []string{"workos-user-modern.json", "workos-user-legacy-entra.json", "workos-user-legacy-google.json"} {
			raw, err := os.ReadFile("testdata/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AddUserJSON(raw); err != nil {
				t.Fatal(err)
			}
			var want directorysync.User
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetUser(ctx, directorysync.GetUserOpts{User: want.ID})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(normalize(want), normalize(got)); diff != "" {
				t.Errorf("%s (-fixture +via fake):\n%s", f, diff)
			}
		}
	})

	t.Run("UsersPageInBothOrdersAndDirections", func(t *testing.T) {
		t.Parallel()
		s, c := setup(t, fakeworkos.Options{})
		seed := s.SeedDirectory("directory_A", "org_A", 25, 2)
		for _, order := range []directorysync.Order{directorysync.Asc, directorysync.Desc} {
			want := slices.Clone(seed.UserIDs)
			if order == directorysync.Desc {
				slices.Reverse(want)
			}
			// Forward with after.
			var got []string
			var pages []directorysync.ListUsersResponse
			opts := directorysync.ListUsersOpts{Directory: "directory_A", Limit: 10, Order: order}
			for {
				res, err := c.ListUsers(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, res)
				for _, u := range res.Data {
					got = append(got, u.ID)
				}
				if res.ListMetadata.After == "" {
					break
				}
				opts.After = res.ListMetadata.After
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("order %s forward (-want +got):\n%s", order, diff)
			}
			if len(pages) != 3 || pages[0].ListMetadata.Before != "" || pages[1].ListMetadata.Before == "" {
				t.Errorf("order %s: %d pages, first before %q, second before %q", order, len(pages),
					pages[0].ListMetadata.Before, pages[1].ListMetadata.Before)
			}
			// Backward with before, from the last page.
			got = nil
			opts = directorysync.ListUsersOpts{Directory: "directory_A", Limit: 10, Order: order, Before: pages[2].Data[0].ID}
			for {
				res, err := c.ListUsers(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, u := range res.Data {
					ids = append(ids, u.ID)
				}
				got = append(ids, got...)
				if res.ListMetadata.Before == "" {
					break
				}
				opts.Before = res.ListMetadata.Before
			}
			if diff := cmp.Diff(want[:20], got); diff != "" {
				t.Errorf("order %s backward (-want +got):\n%s", order, diff)
			}
		}
	})

	t.Run("GroupFilterListsOnlyMembers", func(t *testing.T) {
		t.Parallel()
		s, c := setup(t, fakeworkos.Options{})
		seed := s.SeedDirectory("directory_A", "org_A", 9, 3)
		g := seed.GroupIDs[1]
		res, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Group: g, Limit: 100, Order: directorysync.Asc})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range res.Data {
			got = append(got, u.ID)
		}
		if diff := cmp.Diff(seed.Members[g], got); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		groups, err := c.ListGroups(ctx, directorysync.ListGroupsOpts{Directory: "directory_A", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups.Data) != 3 || groups.Data[0].DirectoryID != "directory_A" {
			t.Errorf("groups = %+v", groups.Data)
		}
	})

	t.Run("EventsListAfterACursorAndByType", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t, fakeworkos.Options{})
		at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		for i, name := range []string{"dsync.user.created", "connection.activated", "dsync.user.updated", "dsync.user.deleted"} {
			s.AddEvent("event_0"+string(rune('1'+i)), name, at.Add(time.Duration(i)*time.Minute),
				map[string]any{"id": "directory_user_1", "directory_id": "directory_A"})
		}
		ec := &events.Client{APIKey: s.APIKey(), Endpoint: s.URL}
		res, err := ec.ListEvents(ctx, events.ListEventsOpts{Events: []string{"dsync.user.created", "dsync.user.updated", "dsync.user.deleted"}, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || res.Data[0].ID != "event_01" || res.Data[1].ID != "event_03" || !res.Data[1].CreatedAt.Equal(at.Add(2*time.Minute)) {
			t.Fatalf("first page = %+v", res.Data)
		}
		res, err = ec.ListEvents(ctx, events.ListEventsOpts{Events: []string{"dsync.user.deleted"}, After: res.ListMetadata.After, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 1 || res.Data[0].ID != "event_04" {
			t.Errorf("second page = %+v", res.Data)
		}
	})

	t.Run("FaultsReachTheSDKAsHTTPErrors", func(t *testing.T) {
		t.Parallel()
		s, c := setup(t, fakeworkos.Options{})
		s.SeedDirectory("directory_A", "org_A", 1, 0)
		s.InjectNext(1, fakeworkos.Fault{Status: 429, RetryAfter: "2"})
		s.InjectNext(1, fakeworkos.Fault{Status: 503})
		s.InjectNext(1, fakeworkos.Fault{Malformed: true})
		for _, want := range []int{429, 503} {
			_, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Directory: "directory_A"})
			var he workos_errors.HTTPError
			if !errors.As(err, &he) || he.Code != want {
				t.Errorf("err = %v, want HTTP %d", err, want)
			}
		}
		if _, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Directory: "directory_A"}); err == nil {
			t.Error("malformed JSON decoded without error")
		}
		log := s.Requests()
		if len(log) != 3 || !log[0].Fault || log[0].Status != 429 || log[0].Directory != "directory_A" {
			t.Errorf("log = %+v", log)
		}
	})

	t.Run("WrongKeyIsUnauthorized", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t, fakeworkos.Options{})
		c := &directorysync.Client{APIKey: "sk_wrong", Endpoint: s.URL}
		_, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Directory: "directory_A"})
		var he workos_errors.HTTPError
		if !errors.As(err, &he) || he.Code != 401 {
			t.Errorf("err = %v, want HTTP 401", err)
		}
	})

	t.Run("RateLimitAnswers429WithRetryAfterPastTheLimit", func(t *testing.T) {
		t.Parallel()
		clock := fakeworkos.NewVirtualClock(time.Unix(1_800_000_000, 0))
		s, c := setup(t, fakeworkos.Options{Clock: clock, DirectoryRateLimit: 4})
		s.SeedDirectory("directory_A", "org_A", 1, 0)
		codes := []int{}
		for range 6 {
			_, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Directory: "directory_A"})
			var he workos_errors.HTTPError
			switch {
			case err == nil:
				codes = append(codes, 200)
			case errors.As(err, &he):
				codes = append(codes, he.Code)
			default:
				t.Fatal(err)
			}
			clock.Advance(100 * time.Millisecond)
		}
		if diff := cmp.Diff([]int{200, 200, 200, 200, 429, 429}, codes); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
		clock.Advance(time.Second)
		if _, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Directory: "directory_A"}); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
}

// normalize drops what JSON round trips may legitimately reformat.
func normalize(u directorysync.User) directorysync.User {
	compact := func(m json.RawMessage) json.RawMessage {
		var v any
		if json.Unmarshal(m, &v) != nil {
			return m
		}
		b, _ := json.Marshal(v)
		return b
	}
	u.RawAttributes, u.CustomAttributes = compact(u.RawAttributes), compact(u.CustomAttributes)
	return u
}
