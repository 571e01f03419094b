package workos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/workos/workos-go/v4/pkg/directorysync"

	"github.com/directorysync/directorysync/internal/fakeworkos"
	"github.com/directorysync/directorysync/mapping"
)

// modernPage returns a /directory_users page of 100 users in today's shape,
// as the fake (and WorkOS) sends it.
func modernPage(tb testing.TB) []byte {
	tb.Helper()
	fake := fakeworkos.New(fakeworkos.Options{})
	defer fake.Close()
	fake.SeedDirectory("directory_A", "org_A", 100, 0)
	req, _ := http.NewRequest(http.MethodGet, fake.URL+"/directory_users?directory=directory_A&limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+fake.APIKey())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// legacyPage returns a page of 100 copies of the Entra fixture (raw SCIM
// attributes), each with its own ID.
func legacyPage(tb testing.TB) []byte {
	tb.Helper()
	user, err := os.ReadFile("testdata/workos-user-legacy-entra.json")
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(bytes.Replace(user, []byte("directory_user_01H2ZK8C5Y3D9F1G7J4L6N0P2R"), fmt.Appendf(nil, "directory_user_%03d", i), 1))
	}
	b.WriteString(`],"list_metadata":{"before":null,"after":"directory_user_099"}}`)
	return b.Bytes()
}

// decodeViaSDK is the alternative to decodeUsersPage: the SDK's types, then
// the attribute maps decoded a second time.
func decodeViaSDK(body []byte, recs []mapping.Record) ([]mapping.Record, error) {
	var page directorysync.ListUsersResponse
	if err := json.Unmarshal(body, &page); err != nil {
		return recs, err
	}
	for _, u := range page.Data {
		rec := mapping.Record{ExternalID: u.ID, IdpID: u.IdpID, State: mapping.State(u.State), Email: u.Email,
			FirstName: u.FirstName, LastName: u.LastName, Username: u.Username, JobTitle: u.JobTitle}
		if rec.Email == "" {
			for _, e := range u.Emails {
				if e.Primary {
					rec.Email = e.Value
					break
				}
			}
		}
		if err := json.Unmarshal(u.CustomAttributes, &rec.Custom); err != nil {
			return recs, err
		}
		if len(rec.Custom) == 0 {
			rec.Custom = nil
		}
		if len(u.RawAttributes) > 0 {
			if err := json.Unmarshal(u.RawAttributes, &rec.Raw); err != nil {
				return recs, err
			}
			if len(rec.Raw) == 0 {
				rec.Raw = nil
			}
		}
		t, err := time.Parse(time.RFC3339Nano, u.UpdatedAt)
		if err != nil {
			return recs, err
		}
		rec.UpdatedAt = t
		recs = append(recs, rec)
	}
	return recs, nil
}

// TestDecodeUsersPageMatchesTheSDKPath proves the lean decoder yields what
// the SDK's types would, so the benchmark compares like with like.
func TestDecodeUsersPageMatchesTheSDKPath(t *testing.T) {
	t.Parallel()
	for name, page := range map[string][]byte{"modern": modernPage(t), "legacy": legacyPage(t)} {
		lean, _, err := decodeUsersPage(page, nil)
		if err != nil {
			t.Fatal(err)
		}
		sdk, err := decodeViaSDK(page, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(lean) != 100 {
			t.Fatalf("%s: %d records", name, len(lean))
		}
		if diff := cmp.Diff(sdk, lean); diff != "" {
			t.Errorf("%s (-sdk +lean):\n%s", name, diff)
		}
	}
}

// BenchmarkDecodeUsersPage decodes and maps pages of 100 WorkOS users into
// mapping.Records; users/s is per core (run with -cpu 1 or divide).
func BenchmarkDecodeUsersPage(b *testing.B) {
	for _, shape := range []struct {
		name string
		page []byte
	}{{"modern", modernPage(b)}, {"legacy-entra", legacyPage(b)}} {
		for _, dec := range []struct {
			name string
			fn   func([]byte, []mapping.Record) ([]mapping.Record, error)
		}{
			{"lean", func(body []byte, recs []mapping.Record) ([]mapping.Record, error) {
				recs, _, err := decodeUsersPage(body, recs)
				return recs, err
			}},
			{"sdk", decodeViaSDK},
		} {
			b.Run(shape.name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(int64(len(shape.page)))
				b.ReportAllocs()
				var recs []mapping.Record
				for b.Loop() {
					var err error
					recs, err = dec.fn(shape.page, recs[:0])
					if err != nil || len(recs) != 100 {
						b.Fatal(err, len(recs))
					}
				}
				b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "users/s")
			})
		}
	}
}
