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

// checkpointCase opens a store whose checkpointer works from `from` bytes
// of WAL, waits for the migrations' checkpoint, commits 2,000 people (far
// below the writer's automatic checkpoint of 65536 pages) and returns the
// store and a function that reads the database file's size, with its size
// before the commit.
func checkpointCase(t *testing.T, from int64) (s *Store, size func() int64, before int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dirsync.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.ckpt.from.Store(from)
	size = func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	time.Sleep(2 * checkpointEvery)
	before = size()
	req := store.ApplyRequest{OrgID: "acme"}
	for _, u := range synth.Users(1, "acme", "src", 2000) {
		req.Users = append(req.Users, store.UserWrite{User: u})
	}
	if _, err := s.Apply(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	return s, size, before
}

// TestCommitsAreCheckpointedInTheBackground: rows committed stay in the
// WAL until a checkpoint copies them into the database file. A small write
// must reach the file anyway through the background checkpointer (here
// working from the first byte of WAL, not from 64 MiB); Close stops it.
func TestCommitsAreCheckpointedInTheBackground(t *testing.T) {
	t.Parallel()
	s, size, before := checkpointCase(t, 0)
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
	_, size, before := checkpointCase(t, checkpointFrom)
	time.Sleep(4 * checkpointEvery)
	if after := size(); after != before {
		t.Errorf("the database file grew from %d to %d bytes after a small commit: it was checkpointed", before, after)
	}
}
