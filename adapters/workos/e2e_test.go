package workos_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/fakeworkos"
	"github.com/directorysync/directorysync/store"
)

var _ workos.EventApplier = (*dirsync.Syncer)(nil)

func snapshot(t *testing.T, st store.Store, sourceID string) (active int, ids map[string]string) {
	t.Helper()
	ids = map[string]string{}
	err := st.Snapshot(context.Background(), "acme", sourceID, func(e store.SnapshotEntry) error {
		if e.Active {
			active++
		}
		ids[e.ExternalID] = e.UserID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return active, ids
}

// TestEndToEnd runs the real engine (dirsync.Syncer over memstore) against the
// fake WorkOS through this package.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, setupOpts{transport: workos.TransportConfig{MaxRetries: 2}})
	seed := f.fake.SeedDirectory(f.dirID, "org_A", 300, 3)
	st := memstore.New()
	syncer, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: f.prov})
	if err != nil {
		t.Fatal(err)
	}
	run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
	if err != nil || run.Status != store.RunSucceeded || run.Counts.Created != 300 {
		t.Fatalf("first sync: %+v, %v", run, err)
	}
	active, ids := snapshot(t, st, f.prov.SourceID())
	if active != 294 { // every 50th seeded user is suspended
		t.Fatalf("%d active after the first sync, want 294", active)
	}

	t.Run("ListingFailingOnPage3FailsTheRunAndDeactivatesNoOne", func(t *testing.T) {
		for _, id := range seed.UserIDs[:20] {
			f.fake.RemoveUser(id)
		}
		f.fake.SetFault(func(r fakeworkos.Request) (fakeworkos.Fault, bool) {
			// Descending order, 100 a page: page 3 starts after user 100.
			return fakeworkos.Fault{Status: 500}, r.Path == "/directory_users" && r.Query.Get("directory") != "" &&
				strings.HasSuffix(r.Query.Get("after"), "_0000100")
		})
		run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
		if err == nil || run.Status != store.RunFailed || run.Counts.Deactivated != 0 {
			t.Errorf("sync with a failing page 3: status %s, deactivated %d, err %v", run.Status, run.Counts.Deactivated, err)
		}
		if now, _ := snapshot(t, st, f.prov.SourceID()); now != active {
			t.Errorf("%d active after the failed run, want %d", now, active)
		}
		// Once the listing completes, the 20 people gone are deactivated:
		// the failure above is what kept them.
		f.fake.SetFault(nil)
		run, err = syncer.Sync(ctx, dirsync.SyncOptions{})
		if err != nil || run.Status != store.RunSucceeded || run.Counts.Deactivated != 20 {
			t.Errorf("sync after recovery: %+v, %v", run.Counts, err)
		}
	})

	t.Run("DuplicateAndOutOfOrderWebhooksAreHarmless", func(t *testing.T) {
		clock := fakeworkos.NewVirtualClock(time.Now())
		h, err := workos.NewWebhookHandler(workos.WebhookConfig{Secret: secret, Clock: clock,
			Route: workos.StaticRoutes(map[string]workos.EventApplier{f.dirID: syncer})})
		if err != nil {
			t.Fatal(err)
		}
		subject := seed.UserIDs[100]
		event := func(id, first, updated string) []byte {
			b, _ := json.Marshal(map[string]any{"object": "event", "id": id, "event": "dsync.user.updated",
				"created_at": updated, "data": map[string]any{"object": "directory_user", "id": subject,
					"directory_id": f.dirID, "state": "active", "first_name": first, "last_name": "Quintero",
					"email": "user100@example.com", "custom_attributes": map[string]any{}, "raw_attributes": map[string]any{},
					"updated_at": updated}})
			return b
		}
		seq, _ := st.LastSeq(ctx, "acme")
		newer := event("event_newer", "Newer", "2026-11-20T10:00:00.000Z")
		older := event("event_older", "Older", "2026-11-20T09:00:00.000Z")
		for i, b := range [][]byte{newer, newer, older, newer} {
			if w := deliver(h, b, workos.Sign(secret, clock.Now(), b)); w.Code != 200 {
				t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
			}
		}
		changes, err := st.Changes(ctx, "acme", seq, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Kind != store.ChangeUpdated || changes[0].Cause != "event_newer" {
			t.Errorf("journal after the deliveries = %+v, want one update caused by event_newer", changes)
		}
		u, err := st.GetUser(ctx, "acme", ids[subject])
		if err != nil || u.FirstName != "Newer" {
			t.Errorf("user = %+v, %v; want first name Newer", u, err)
		}
	})

	t.Run("PollerResumesAfterARestartWithoutReapplying", func(t *testing.T) {
		newPoller := func() *workos.Poller {
			p, err := workos.NewPoller(f.prov, workos.PollerConfig{OrgID: "acme", Store: st, Applier: syncer, Clock: f.clock,
				Reconcile: func(ctx context.Context) error { _, err := syncer.Sync(ctx, dirsync.SyncOptions{}); return err }})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if res, err := newPoller().Poll(ctx); err != nil || !res.Reconciled {
			t.Fatalf("first poll: %+v, %v", res, err)
		}
		for i, id := range seed.UserIDs[200:205] {
			f.fake.AddEvent("event_poll_"+string(rune('a'+i)), "dsync.user.updated", f.clock.Now().Add(time.Minute),
				map[string]any{"object": "directory_user", "id": id, "directory_id": f.dirID, "state": "active",
					"first_name": "Polled", "updated_at": "2026-11-21T00:00:00.000Z"})
		}
		res, err := newPoller().Poll(ctx)
		if err != nil || res.Outcomes[dirsync.EventApplied] != 5 {
			t.Fatalf("second poll: %+v, %v", res, err)
		}
		seq, _ := st.LastSeq(ctx, "acme")
		res, err = newPoller().Poll(ctx) // a restart
		if err != nil || res.Applied != 0 {
			t.Errorf("after restart: %+v, %v", res, err)
		}
		if now, _ := st.LastSeq(ctx, "acme"); now != seq {
			t.Errorf("journal moved from %d to %d after a restart", seq, now)
		}
	})
}
