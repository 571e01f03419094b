package dirsync

import (
	"testing"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// The compact snapshot entry must tell "unchanged" exactly as comparing the
// stored hash string with a fresh one would.
func TestCompactEntryMatchesTheHashItWasMadeFrom(t *testing.T) {
	rec := mapping.Record{ExternalID: "e1", Email: "a@example.com", FirstName: "Ana"}
	other := rec
	other.FirstName = "Anna"
	h := store.HashSource(&rec)
	e := compactEntry(&store.SnapshotEntry{ExternalID: "e1", UserID: "u1", SourceHash: h, MappingVersion: "m1:x", Version: 3, Active: true}, "m1:x")
	if !e.hashOK || !e.mvCurrent || e.UserID != "u1" || e.ExternalID != "e1" || e.Version != 3 || !e.Active {
		t.Fatalf("compactEntry = %+v", e)
	}
	if b, ok := hashBytes(h); !ok || b != e.sourceHash {
		t.Error("the same hash does not match its entry")
	}
	if b, ok := hashBytes(store.HashSource(&other)); !ok || b == e.sourceHash {
		t.Error("a changed record's hash matches the entry")
	}
	for _, bad := range []string{"", "s0:" + h[3:], h[:len(h)-1], h + "0", "s1:" + "zz" + h[5:], "p1:" + h[3:]} {
		if _, ok := hashBytes(bad); ok {
			t.Errorf("hashBytes(%q) accepted a hash of another form", bad)
		}
	}
	if e := compactEntry(&store.SnapshotEntry{SourceHash: "legacy", MappingVersion: "m0"}, "m1:x"); e.hashOK || e.mvCurrent {
		t.Errorf("entry with a legacy hash and an old mapping = %+v; want neither current", e)
	}
}
