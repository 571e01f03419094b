package workos_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/fakeworkos"
)

const secret = "whsec_test_0123456789"

// recorder is an EventApplier that records events and, like the engine,
// reports an event ID it has seen as a duplicate.
type recorder struct {
	mu     sync.Mutex
	events []dirsync.Event
	seen   map[string]bool
	err    error
}

func (r *recorder) ApplyEvent(_ context.Context, ev dirsync.Event) (dirsync.EventResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return dirsync.EventResult{}, r.err
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if r.seen[ev.ID] {
		return dirsync.EventResult{Outcome: dirsync.EventDuplicate}, nil
	}
	r.seen[ev.ID] = true
	r.events = append(r.events, ev)
	return dirsync.EventResult{Outcome: dirsync.EventApplied, Changes: 1}, nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, e := range r.events {
		ids = append(ids, e.ID)
	}
	return ids
}

func fixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const fixtureDir = "directory_01JD8PZ3XG6S2V1R0A7M4K8E5N"

func newHandler(t testing.TB, clock workos.Clock, apps map[string]workos.EventApplier) *workos.WebhookHandler {
	t.Helper()
	h, err := workos.NewWebhookHandler(workos.WebhookConfig{Secret: secret, Route: workos.StaticRoutes(apps), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func deliver(h http.Handler, body []byte, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/workos", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(workos.SignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("body %q is not a JSON error (%v)", w.Body.String(), err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return b.Error.Code
}

func TestWebhookRejections(t *testing.T) {
	t.Parallel()
	clock := fakeworkos.NewVirtualClock(epoch)
	body := fixtureBytes(t, "workos-event-user-updated.json")
	ts := strconv.FormatInt(epoch.UnixMilli(), 10)
	good := workos.Sign(secret, epoch, body)
	goodHex := good[strings.Index(good, "v1=")+3:]
	for _, tc := range []struct {
		name   string
		sig    string
		body   []byte
		status int
		code   string
	}{
		{"MissingHeader", "", body, 401, "missing_signature"},
		{"WrongSecret", workos.Sign("other", epoch, body), body, 401, "invalid_signature"},
		{"TamperedBody", good, append(bytes.Clone(body[:len(body)-2]), ' ', '}'), 401, "invalid_signature"},
		{"Stale", workos.Sign(secret, epoch.Add(-181*time.Second), body), body, 401, "stale_signature"},
		{"Future", workos.Sign(secret, epoch.Add(181*time.Second), body), body, 401, "future_signature"},
		{"NoTimestamp", "v1=" + goodHex, body, 401, "malformed_signature"},
		{"NoV1", "t=" + ts, body, 401, "malformed_signature"},
		{"SecondsNotMillisecondsIsStale", "t=" + strconv.FormatInt(epoch.Unix(), 10) + ",v1=" + goodHex, body, 401, "stale_signature"},
		{"NonNumericTimestamp", "t=abc, v1=" + goodHex, body, 401, "malformed_signature"},
		{"ShortSignature", "t=" + ts + ", v1=abcd", body, 401, "malformed_signature"},
		{"Garbage", "garbage", body, 401, "malformed_signature"},
		{"TwoTimestamps", "t=" + ts + ", t=" + ts + ", v1=" + goodHex, body, 401, "malformed_signature"},
		{"Oversized", good, bytes.Repeat([]byte("x"), 1<<20+1), 413, "body_too_large"},
		{"SignedButNotAnEvent", workos.Sign(secret, epoch, []byte(`{"id":"event_1"}`)), []byte(`{"id":"event_1"}`), 400, "malformed_event"},
	} {
		t.Run(tc.name+"Answers"+strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			w := deliver(newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec}), tc.body, tc.sig)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if code := errorCode(t, w); code != tc.code {
				t.Errorf("code = %q, want %q", code, tc.code)
			}
			if len(rec.ids()) != 0 {
				t.Error("a rejected delivery reached the applier")
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Error("the answer shows the secret")
			}
		})
	}
	t.Run("GetAnswers405", func(t *testing.T) {
		t.Parallel()
		h := newHandler(t, clock, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		if w.Code != 405 || errorCode(t, w) != "method_not_allowed" {
			t.Errorf("status %d body %s", w.Code, w.Body)
		}
	})
}

func TestWebhookAccepts(t *testing.T) {
	t.Parallel()
	clock := fakeworkos.NewVirtualClock(epoch)
	body := fixtureBytes(t, "workos-event-user-updated.json")

	t.Run("SpacingOrderingAndSeveralSignatures", func(t *testing.T) {
		t.Parallel()
		ts := strconv.FormatInt(epoch.Add(-179*time.Second).UnixMilli(), 10)
		good := workos.Sign(secret, epoch.Add(-179*time.Second), body)
		hexSig := good[strings.Index(good, "v1=")+3:]
		other := hex.EncodeToString(bytes.Repeat([]byte{7}, 32))
		for _, sig := range []string{
			good,
			"t=" + ts + ",v1=" + hexSig,
			"  v1=" + hexSig + " ,  t=" + ts + "  ",
			"t = " + ts + ", v1=" + other + ", v1=" + hexSig,
			"t=" + ts + ", v0=ignored, v1=" + hexSig,
		} {
			rec := &recorder{}
			w := deliver(newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec}), body, sig)
			if w.Code != 200 || len(rec.ids()) != 1 {
				t.Errorf("header %q: status %d (%s), applied %v", sig, w.Code, w.Body, rec.ids())
			}
		}
	})

	t.Run("DuplicateDeliveryIsAcknowledgedAndAppliedOnce", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		h := newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec})
		for i := range 3 {
			w := deliver(h, body, workos.Sign(secret, epoch, body))
			if w.Code != 200 {
				t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
			}
		}
		// A fresh handler (a restart, another replica) relies on the engine.
		w := deliver(newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec}), body, workos.Sign(secret, epoch, body))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"duplicate"`) {
			t.Errorf("after restart: %d %s", w.Code, w.Body)
		}
		if diff := cmp.Diff([]string{"event_01JD9A1B2C3D4E5F6G7H8J9K0M"}, rec.ids()); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
	})

	t.Run("OutOfOrderDeliveriesCarryTheirOwnTimes", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		h := newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec})
		older := bytes.Replace(bytes.Replace(body, []byte("event_01JD9A1B2C3D4E5F6G7H8J9K0M"), []byte("event_01JD9A0000000000000000000"), 1),
			[]byte(`"2026-11-20T10:14:58.000Z"`), []byte(`"2026-11-20T09:00:00.000Z"`), 1)
		older = bytes.Replace(older, []byte(`"created_at": "2026-11-20T10:15:00.000Z"`), []byte(`"created_at": "2026-11-20T09:00:01.000Z"`), 1)
		for _, b := range [][]byte{body, older} {
			if w := deliver(h, b, workos.Sign(secret, epoch, b)); w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.events) != 2 || !rec.events[1].OccurredAt.Before(rec.events[0].OccurredAt) ||
			!rec.events[1].User.UpdatedAt.Before(rec.events[0].User.UpdatedAt) {
			t.Errorf("events = %+v", rec.events)
		}
	})

	t.Run("ApplyErrorAnswers500AndARetrySucceeds", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{err: errors.New("database is down")}
		h := newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec})
		w := deliver(h, body, workos.Sign(secret, epoch, body))
		if w.Code != 500 || errorCode(t, w) != "apply_failed" || strings.Contains(w.Body.String(), "database") {
			t.Errorf("status %d body %s", w.Code, w.Body)
		}
		rec.mu.Lock()
		rec.err = nil
		rec.mu.Unlock()
		if w := deliver(h, body, workos.Sign(secret, epoch, body)); w.Code != 200 || len(rec.ids()) != 1 {
			t.Errorf("retry: %d %s, applied %v", w.Code, w.Body, rec.ids())
		}
	})

	t.Run("UnroutedDirectoryAndOtherKindsAreAcknowledgedAndIgnored", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		h := newHandler(t, clock, map[string]workos.EventApplier{"directory_other": rec})
		conn := []byte(`{"id":"event_9","event":"connection.activated","data":{"id":"conn_1"},"created_at":"2026-11-20T10:00:00Z"}`)
		for _, b := range [][]byte{body, conn} {
			if w := deliver(h, b, workos.Sign(secret, epoch, b)); w.Code != 200 || !strings.Contains(w.Body.String(), `"ignored"`) {
				t.Errorf("%d %s", w.Code, w.Body)
			}
		}
		if len(rec.ids()) != 0 {
			t.Error("applied an event of another directory")
		}
	})

	t.Run("EveryDsyncKindIsRouted", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		h := newHandler(t, clock, map[string]workos.EventApplier{fixtureDir: rec})
		user := `{"id":"directory_user_1","directory_id":"` + fixtureDir + `","state":"inactive","updated_at":"2026-11-20T10:00:00Z"}`
		group := `{"id":"directory_group_1","directory_id":"` + fixtureDir + `","name":"G"}`
		want := map[string]dirsync.EventKind{}
		for i, k := range []struct{ name, data string }{
			{"dsync.user.created", user}, {"dsync.user.updated", user}, {"dsync.user.deleted", user},
			{"dsync.group.created", group}, {"dsync.group.updated", group}, {"dsync.group.deleted", group},
			{"dsync.group.user_added", `{"directory_id":"` + fixtureDir + `","user":` + user + `,"group":` + group + `}`},
			{"dsync.group.user_removed", `{"directory_id":"` + fixtureDir + `","user":` + user + `,"group":` + group + `}`},
			{"dsync.activated", `{"id":"` + fixtureDir + `","object":"directory","state":"linked"}`},
			{"dsync.deleted", `{"id":"` + fixtureDir + `","object":"directory","state":"deleting"}`},
		} {
			id := "event_" + strconv.Itoa(10+i)
			b := []byte(`{"id":"` + id + `","event":"` + k.name + `","data":` + k.data + `,"created_at":"2026-11-20T10:00:00Z"}`)
			if w := deliver(h, b, workos.Sign(secret, epoch, b)); w.Code != 200 {
				t.Errorf("%s: %d %s", k.name, w.Code, w.Body)
			}
			want[id] = map[string]dirsync.EventKind{
				"dsync.user.created": dirsync.EventUserCreated, "dsync.user.updated": dirsync.EventUserUpdated,
				"dsync.user.deleted": dirsync.EventUserDeleted, "dsync.group.created": dirsync.EventGroupCreated,
				"dsync.group.updated": dirsync.EventGroupUpdated, "dsync.group.deleted": dirsync.EventGroupDeleted,
				"dsync.group.user_added": dirsync.EventGroupUserAdded, "dsync.group.user_removed": dirsync.EventGroupUserRemoved,
				"dsync.activated": dirsync.EventDirectoryActivate, "dsync.deleted": dirsync.EventDirectoryDeleted,
			}[k.name]
		}
		got := map[string]dirsync.EventKind{}
		rec.mu.Lock()
		for _, e := range rec.events {
			got[e.ID] = e.Kind
			if e.DirectoryID != fixtureDir || len(e.Payload) == 0 {
				t.Errorf("%s: directory %q, payload %d bytes", e.ID, e.DirectoryID, len(e.Payload))
			}
		}
		rec.mu.Unlock()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kinds (-want +got):\n%s", diff)
		}
	})
}

func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	cfg := workos.WebhookConfig{Secret: "whsec_very_secret", Route: workos.StaticRoutes(nil)}
	for _, s := range []string{cfg.String(), cfg.LogValue().String()} {
		if strings.Contains(s, "very_secret") {
			t.Errorf("%q shows the secret", s)
		}
	}
	if _, err := workos.NewWebhookHandler(workos.WebhookConfig{Route: cfg.Route}); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := workos.NewWebhookHandler(workos.WebhookConfig{Secret: "s"}); err == nil {
		t.Error("no route accepted")
	}
}
