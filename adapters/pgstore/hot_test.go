package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/store"
)

// TestTitleUpdatesStayOnTheirPage: migration 006 leaves room on each users
// page, so an update that changes no indexed column (a remap of titles)
// writes the row's new version on its own page — a HOT update, which adds
// no index entry. With full pages (fillfactor 100) nearly every new
// version lands elsewhere.
func TestTitleUpdatesStayOnTheirPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	var opts []string
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = $1::regclass`,
		s.schema+".users").Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(opts, ","), "fillfactor=90") {
		t.Fatalf("users options %v, want fillfactor=90", opts)
	}

	users := synth.Users(5, "acme", "src", 3000)
	if _, err := s.Apply(ctx, createReq("acme", users)); err != nil {
		t.Fatal(err)
	}
	page := func(id string) (blk string) {
		t.Helper()
		var ctid string
		if err := s.pool.QueryRow(ctx, s.sql(`SELECT ctid::text FROM {S}.users WHERE org_id = 'acme' AND id = $1`), id).Scan(&ctid); err != nil {
			t.Fatal(err)
		}
		blk, _, _ = strings.Cut(strings.Trim(ctid, "()"), ",")
		return blk
	}
	// Every tenth person gets a new title, in batches of 30 as a remap
	// writes them (each batch its own transaction).
	var moved, updated int
	for start := 0; start < len(users); start += 300 {
		req := store.ApplyRequest{OrgID: "acme"}
		before := map[string]string{}
		for i := start; i < min(start+300, len(users)); i += 10 {
			u := users[i]
			before[u.ID] = page(u.ID)
			u.Title = "Chief " + u.Title
			req.Users = append(req.Users, store.UserWrite{User: u, ExpectVersion: 1})
		}
		if _, err := s.Apply(ctx, req); err != nil {
			t.Fatal(err)
		}
		for id, blk := range before {
			updated++
			if page(id) != blk {
				moved++
			}
		}
	}
	if moved*4 > updated {
		t.Errorf("%d of %d title updates moved their row to another page; want most to stay (HOT)", moved, updated)
	}
}
