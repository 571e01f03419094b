package workos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

// pagedAPI serves /directory_users and /directory_groups from scripted
// pages, keyed by the "after" cursor of the request ("" for the first).
func pagedAPI(t *testing.T, users, groups map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages := users
		if strings.HasSuffix(r.URL.Path, "/directory_groups") {
			pages = groups
		}
		body, ok := pages[r.URL.Query().Get("after")]
		if !ok {
			http.Error(w, `{"message":"unknown cursor"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// pagedProvider is a provider of directory_A over srv, paced fast.
func pagedProvider(t *testing.T, srv *httptest.Server) *workos.Provider {
	t.Helper()
	tr, err := workos.NewTransport(workos.TransportConfig{DirectoryRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := workos.NewProvider(workos.Config{APIKey: "sk_test", DirectoryID: "directory_A", BaseURL: srv.URL, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func userJSON(id string) string {
	return fmt.Sprintf(`{"object":"directory_user","id":%q,"directory_id":"directory_A","state":"active","emails":[],"groups":[],"raw_attributes":{},"custom_attributes":{},"created_at":"2026-03-02T15:04:05.000Z","updated_at":"2026-03-02T15:04:05.000Z"}`, id)
}

func groupJSON(id string) string {
	return fmt.Sprintf(`{"object":"directory_group","id":%q,"idp_id":"g","directory_id":"directory_A","name":%q,"created_at":"2026-03-02T15:04:05.000Z","updated_at":"2026-03-02T15:04:05.000Z"}`, id, id)
}

func page(after string, items ...string) string {
	a := "null"
	if after != "" {
		a = strconv.Quote(after)
	}
	return fmt.Sprintf(`{"object":"list","data":[%s],"list_metadata":{"before":null,"after":%s}}`, strings.Join(items, ","), a)
}

// TestAnEmptyPageWithACursorDoesNotEndTheListing: a page with no data but
// a next cursor is not the end of the listing. Ending there would make the
// listing look complete while people after it were never listed — and a
// complete listing deactivates whom it lacks.
func TestAnEmptyPageWithACursorDoesNotEndTheListing(t *testing.T) {
	t.Parallel()
	srv := pagedAPI(t,
		map[string]string{
			"":   page("c1", userJSON("directory_user_1"), userJSON("directory_user_2")),
			"c1": page("c2"),
			"c2": page("", userJSON("directory_user_3")),
		},
		map[string]string{
			"":   page("c1", groupJSON("directory_group_1")),
			"c1": page("c2"),
			"c2": page("", groupJSON("directory_group_2")),
		})
	p := pagedProvider(t, srv)
	var users []string
	err := p.Users(context.Background(), func(page []mapping.Record) error {
		for _, r := range page {
			users = append(users, r.ExternalID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if diff := cmp.Diff([]string{"directory_user_1", "directory_user_2", "directory_user_3"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	var members []string
	err = p.GroupMembers(context.Background(), "directory_group_1", func(ids []string) error {
		members = append(members, ids...)
		return nil
	})
	if err != nil {
		t.Fatalf("GroupMembers: %v", err)
	}
	if len(members) != 3 {
		t.Errorf("members = %v, want all 3", members)
	}
	var groups []string
	err = p.Groups(context.Background(), func(page []dirsync.ProviderGroup) error {
		for _, g := range page {
			groups = append(groups, g.ExternalID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if diff := cmp.Diff([]string{"directory_group_1", "directory_group_2"}, groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestEndlessEmptyPagesFailTheListing: following cursors of empty pages
// must still end, with an error (not a complete listing): a cursor that
// repeats, or too many empty pages in a row.
func TestEndlessEmptyPagesFailTheListing(t *testing.T) {
	t.Parallel()
	srv := pagedAPI(t,
		map[string]string{"": page("c1", userJSON("directory_user_1")), "c1": page("c1")},
		map[string]string{"": page("c1", groupJSON("directory_group_1")), "c1": page("c1")})
	p := pagedProvider(t, srv)
	if err := p.Users(context.Background(), func([]mapping.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Errorf("Users: err = %v, want a repeated-cursor error", err)
	}
	if err := p.Groups(context.Background(), func([]dirsync.ProviderGroup) error { return nil }); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Errorf("Groups: err = %v, want a repeated-cursor error", err)
	}
}

func TestTooManyEmptyPagesInARowFailTheListing(t *testing.T) {
	t.Parallel()
	users := map[string]string{"": page("c0", userJSON("directory_user_1"))}
	groups := map[string]string{"": page("c0", groupJSON("directory_group_1"))}
	for i := range 40 {
		users[fmt.Sprintf("c%d", i)] = page(fmt.Sprintf("c%d", i+1))
		groups[fmt.Sprintf("c%d", i)] = page(fmt.Sprintf("c%d", i+1))
	}
	srv := pagedAPI(t, users, groups)
	p := pagedProvider(t, srv)
	if err := p.Users(context.Background(), func([]mapping.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "empty pages in a row") {
		t.Errorf("Users: err = %v, want an empty-pages error", err)
	}
	if err := p.Groups(context.Background(), func([]dirsync.ProviderGroup) error { return nil }); err == nil || !strings.Contains(err.Error(), "empty pages in a row") {
		t.Errorf("Groups: err = %v, want an empty-pages error", err)
	}
}
