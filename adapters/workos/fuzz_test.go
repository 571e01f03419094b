package workos_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
)

// FuzzParseSignature checks that any header parses or fails cleanly, that a
// parsed header holds what the parser promises, and that verification never
// accepts a header that was not produced with the secret.
func FuzzParseSignature(f *testing.F) {
	body := []byte(`{"id":"event_1"}`)
	for _, seed := range []string{
		workos.Sign(secret, epoch, body),
		"t=1763633700000,v1=" + string(bytes.Repeat([]byte("ab"), 32)),
		" v1=00 , t=1 ",
		"t=1, v1=zz, v1=" + string(bytes.Repeat([]byte("0"), 64)),
		"t=,v1=", "=,=", ",,,,", "t=99999999999999999999", "t=1,t=2", "garbage", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := workos.ParseSignature(header)
		if err != nil {
			if !errors.Is(err, workos.ErrMalformedSignature) && !errors.Is(err, workos.ErrMissingSignature) {
				t.Fatalf("ParseSignature(%q) error %v wraps no sentinel", header, err)
			}
			return
		}
		if sig.Timestamp == "" || len(sig.V1) == 0 || sig.Time.UnixMilli() < 0 {
			t.Fatalf("ParseSignature(%q) = %+v", header, sig)
		}
		for _, v := range sig.V1 {
			if len(v) != 32 {
				t.Fatalf("v1 of %d bytes", len(v))
			}
		}
		// Within the tolerance, only a real HMAC under the secret passes:
		// no input the fuzzer can make verifies under an unused secret.
		if err := workos.VerifySignature(header, body, "an unused secret", sig.Time, time.Hour); !errors.Is(err, workos.ErrBadSignature) {
			t.Fatalf("VerifySignature(%q) under an unused secret = %v, want ErrBadSignature", header, err)
		}
	})
}

// FuzzDecodeEvent checks that any payload decodes or fails cleanly, and that
// a decoded event has what the engine relies on.
func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{"workos-event-user-updated.json", "workos-event-group-user-added.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"e","event":"dsync.deleted","data":{"id":"directory_1"},"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"e","event":"dsync.group.created","data":{"id":"g","directory_id":"d","updated_at":"x"},"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"e","event":"dsync.user.created","data":null,"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"e","event":"user.created","data":{},"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := workos.DecodeEvent(payload)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Kind == "" || ev.DirectoryID == "" || ev.OccurredAt.IsZero() || !bytes.Equal(ev.Payload, payload) {
			t.Fatalf("DecodeEvent(%q) = %+v", payload, ev)
		}
		if ev.User != nil && ev.User.ExternalID == "" {
			t.Fatalf("user without ID from %q", payload)
		}
		if ev.Group != nil && ev.Group.ExternalID == "" {
			t.Fatalf("group without ID from %q", payload)
		}
	})
}

func TestDecodeEventFixtures(t *testing.T) {
	t.Parallel()
	ev, err := workos.DecodeEvent(fixtureBytes(t, "workos-event-group-user-added.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != "group.user_added" || ev.User.ExternalID != "directory_user_01JD8Q4W6N2K7TQY1H3F5M9B0C" ||
		ev.Group.ExternalID != "directory_group_01JD9B5A6B7C8D9E0F1G2H3J4K" || ev.Group.Name != "Lisbon Office" ||
		ev.DirectoryID != fixtureDir || !ev.OccurredAt.Equal(time.Date(2026, 11, 20, 11, 2, 0, 0, time.UTC)) {
		t.Errorf("event = %+v", ev)
	}
	ev, err = workos.DecodeEvent(fixtureBytes(t, "workos-event-user-updated.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != "user.updated" || ev.User.Custom["division_name"] != "EMEA" || ev.User.Raw != nil {
		t.Errorf("event = %+v, user %+v", ev, ev.User)
	}
	if _, err := workos.DecodeEvent(bytes.Repeat([]byte(" "), workos.MaxEventBytes+1)); err == nil {
		t.Error("an oversized payload decoded")
	}
	if _, err := workos.DecodeEvent([]byte(`{"id":"e","event":"connection.activated","data":{},"created_at":"2026-01-01T00:00:00Z"}`)); !errors.Is(err, workos.ErrUnsupportedEvent) {
		t.Errorf("err = %v, want ErrUnsupportedEvent", err)
	}
}
