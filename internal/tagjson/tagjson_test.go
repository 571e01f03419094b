package tagjson

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/mapping"
)

// Decode must read every tags column the stores write (json.Marshal of the
// tags) back as the tags written, on its fast path and off it, and read
// other JSON as encoding/json does.
func TestDecodeReadsWhatTheStoresWrote(t *testing.T) {
	t.Parallel()
	for name, tags := range map[string][]mapping.Tag{
		"Plain":         {{Field: "team", Value: "Core"}, {Field: "cost_center", Value: "CC-1000"}},
		"One":           {{Field: "employment", Value: "Full-time"}},
		"Escaped":       {{Field: "team", Value: `a"b\c`}, {Field: "x", Value: "tab\there"}},
		"HTMLEscaped":   {{Field: "team", Value: "R&D <core>"}},
		"NonASCII":      {{Field: "équipe", Value: "Équipe Alpha"}, {Field: "k", Value: "日本 ø"}},
		"EmptyValue":    {{Field: "team", Value: ""}},
		"KeyLikeValues": {{Field: "value", Value: "field"}, {Field: "field", Value: "value"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tags)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tags, got); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", b, diff)
			}
		})
	}
	for _, s := range []string{
		`[{"value":"v","field":"f"}]`,
		`[ {"field": "f", "value": "v"} ]`,
		`[{"field":"f","value":"v","extra":"x"}]`,
		`[{"field":"f","value":"v"},{"field":"g","value":"w"}] `,
		`[]`,
		`null`,
	} {
		var want []mapping.Tag
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(s)
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("Decode(%s) = %v, %v; want %v as encoding/json reads it", s, got, err, want)
		}
	}
	for _, s := range []string{`[{"field":"f","value":"v"`, `[{"field":"f","value`, `{"field":"f","value":"v"}`, `[{"field":"f","value":"v"}]x`} {
		if _, err := Decode(s); err == nil {
			t.Errorf("Decode(%s) accepted what encoding/json refuses", s)
		}
	}
}

// Decode agrees with json.Unmarshal on any input: the same tags where it
// succeeds, an error where it fails.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`[{"field":"team","value":"Core"}]`, `[{"field":"a","value":"b"},{"field":"c","value":"d"}]`,
		`[{"field":"f","value":"v"`, `[{"value":"v","field":"f"}]`, `[{"field":"f","value":"a\"b"}]`, `[]`, `null`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<16 {
			t.Skip()
		}
		var want []mapping.Tag
		wantErr := json.Unmarshal([]byte(s), &want)
		got, err := Decode(s)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Decode(%q) error %v, json.Unmarshal error %v", s, err, wantErr)
		}
		if err == nil && !cmp.Equal(want, got) {
			t.Fatalf("Decode(%q) = %v, json.Unmarshal reads %v", s, got, want)
		}
	})
}
