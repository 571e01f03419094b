package workos_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/internal/fakeworkos"
)

// FuzzWebhookHandler delivers any body, signed correctly or not, to the
// handler: it answers one of its documented statuses with a JSON body,
// never reaches the applier without a valid signature, and hands it only
// events with an ID and a directory.
func FuzzWebhookHandler(f *testing.F) {
	for _, name := range []string{"workos-event-user-updated.json", "workos-event-group-user-added.json"} {
		b, err := readTestdata(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true, "")
		f.Add(b, false, "t=1, v1=00")
	}
	f.Add([]byte(`{"id":"event_1","event":"dsync.deleted","data":{"id":"`+fixtureDir+`"},"created_at":"2026-01-01T00:00:00Z"}`), true, "")
	f.Add([]byte(`{"id":"event_1","event":"user.created","data":{}}`), true, "")
	f.Add([]byte(`{`), true, "")
	f.Add([]byte(``), false, "")
	f.Fuzz(func(t *testing.T, body []byte, sign bool, header string) {
		clock := fakeworkos.NewVirtualClock(epoch)
		rec := &recorder{}
		h := newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec})
		if sign {
			header = workos.Sign(secret, epoch, body)
		}
		w := deliver(h, body, header)
		switch w.Code {
		case 200, 400, 401, 413:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %q", w.Code, w.Body)
		}
		if w.Code != 200 {
			if _, ok := out["error"]; !ok {
				t.Fatalf("status %d without an error: %s", w.Code, w.Body)
			}
		}
		valid := workos.VerifySignature(header, body, secret, epoch, time.Minute) == nil
		if !valid && len(rec.ids()) != 0 {
			t.Fatalf("an unverified delivery reached the applier (header %q)", header)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, ev := range rec.events {
			if ev.ID == "" || ev.DirectoryID == "" {
				t.Fatalf("applier got %+v", ev)
			}
		}
	})
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }
