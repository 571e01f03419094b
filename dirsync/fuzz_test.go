package dirsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// FuzzProviderRecord feeds arbitrary provider records through a sync and
// an event: the engine must never panic, must store at most one user per
// record, and must reject bad input with an error rather than write it.
func FuzzProviderRecord(f *testing.F) {
	f.Add("e001", "idp001", "Ada@Example.com", "Ada", "active", "ev1", int64(0))
	f.Add("", "", "", "", "", "", int64(-1))
	f.Add("e002", "idp001", "ada@example.com", "Ádá\x00\u200b", "suspended", "ev\xff", int64(1<<40))
	f.Add("e\u0301", "e001", "e001", "  ", "inactive", "e001", int64(1))
	f.Fuzz(func(t *testing.T, ext, idp, email, first, state, evID string, updated int64) {
		e := setup(t, 3)
		rec := mapping.Record{ExternalID: ext, IdpID: idp, Email: email, FirstName: first, State: mapping.State(state),
			Custom: map[string]any{"department": first}, UpdatedAt: time.Unix(updated%(1<<33), 0).UTC()}
		e.p.AddUsers(rec)
		run, err := e.s.Sync(context.Background(), dirsync.SyncOptions{})
		if err != nil && !errors.Is(err, dirsync.ErrRunFailed) && !errors.Is(err, dirsync.ErrHalted) {
			t.Fatalf("sync: %v", err)
		}
		if _, n := e.activeCount(); n > 4 {
			t.Fatalf("%d users from 4 records (run %+v)", n, run.Counts)
		}
		rec.FirstName += "x"
		for _, kind := range []dirsync.EventKind{dirsync.EventUserUpdated, dirsync.EventUserDeleted, dirsync.EventGroupUserAdded} {
			ev := dirsync.Event{ID: evID + string(kind), Kind: kind, User: &rec, Group: &dirsync.ProviderGroup{ExternalID: idp, Name: first}, OccurredAt: rec.UpdatedAt}
			if _, err := e.s.ApplyEvent(context.Background(), ev); err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("event %s: %v", kind, err)
			}
		}
		if _, n := e.activeCount(); n > 4 {
			t.Fatalf("%d users after events", n)
		}
	})
}
