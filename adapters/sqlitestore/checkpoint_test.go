package sqlitestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/store"
)

// TestCommitsAreCheckpointedInTheBackground: rows committed stay in the
// WAL until a checkpoint copies them into the database file. A write far
// below the writer's automatic checkpoint (65536 pages) must reach the
// file anyway, through the background checkpointer (here working from the
// first byte of WAL, not from 64 MiB); Close stops it.
func TestCommitsAreCheckpointedInTheBackground(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dirsync.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ckpt.from.Store(0) // work from the first commit
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Let the migrations' checkpoint finish, then measure.
	time.Sleep(2 * checkpointEvery)
	before := size()
	req := store.ApplyRequest{OrgID: "acme"}
	for _, u := range synth.Users(1, "acme", "src", 2000) {
		req.Users = append(req.Users, store.UserWrite{User: u})
	}
	if _, err := s.Apply(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is still %d bytes 10 s after a commit of 2,000 people: nothing checkpointed it", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ckpt.done:
	default:
		t.Error("the checkpointer still runs after Close")
	}
}

// TestSmallWALsWaitForTheWritersCheckpoint: below checkpointFrom of WAL the
// checkpointer leaves the pages where they are (a small sync does not copy
// and sync them twice while it runs).
func TestSmallWALsWaitForTheWritersCheckpoint(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dirsync.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(2 * checkpointEvery)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	req := store.ApplyRequest{OrgID: "acme"}
	for _, u := range synth.Users(1, "acme", "src", 2000) {
		req.Users = append(req.Users, store.UserWrite{User: u})
	}
	if _, err := s.Apply(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * checkpointEvery)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != fi.Size() {
		t.Errorf("the database file grew from %d to %d bytes after a small commit: it was checkpointed", fi.Size(), after.Size())
	}
}
