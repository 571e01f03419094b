package mapping

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadFixture reads testdata/<name>.json (a list of records) or
// testdata/<name>.csv (a header row; each column into Raw by its header, the
// first column the record's ID), as the file provider yields them.
func loadFixture(t testing.TB, name string) []Record {
	t.Helper()
	if data, err := os.ReadFile(filepath.Join("testdata", name+".json")); err == nil {
		var recs []Record
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		return recs
	}
	data, err := os.ReadFile(filepath.Join("testdata", name+".csv"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var recs []Record
	for _, row := range rows[1:] {
		raw := map[string]any{}
		for i, h := range rows[0] {
			raw[h] = row[i]
		}
		recs = append(recs, Record{ExternalID: row[0], State: StateActive, Raw: raw})
	}
	return recs
}

func loadWant(t testing.TB, name string) []Profile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".want.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s.want.json: %v", name, err)
	}
	return want
}

func TestPresetsMapTheirFixturesExactly(t *testing.T) {
	t.Parallel()
	for _, name := range Presets() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, ok := Preset(name)
			if !ok {
				t.Fatalf("Preset(%q) not found", name)
			}
			m, err := Compile(Config{Preset: name})
			if err != nil {
				t.Fatalf("Compile preset: %v", err)
			}
			if direct := MustCompile(cfg); direct.Version() != m.Version() {
				t.Errorf("preset by name has version %s, its expressions %s", m.Version(), direct.Version())
			}
			recs := loadFixture(t, name)
			want := loadWant(t, name)
			if len(recs) != len(want) {
				t.Fatalf("%d records, %d expected profiles", len(recs), len(want))
			}
			for i := range recs {
				got, err := m.Map(&recs[i])
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					continue
				}
				if d := cmp.Diff(want[i], got); d != "" {
					t.Errorf("record %d (%s) (-want +got):\n%s", i, recs[i].ExternalID, d)
				}
			}
		})
	}
}

func TestPresetReturnsACopy(t *testing.T) {
	t.Parallel()
	p, _ := Preset("workos")
	p.Tags["team"] = "custom.team"
	p.Department = "nil"
	q, _ := Preset("workos")
	if _, ok := q.Tags["team"]; ok || q.Department == "nil" {
		t.Fatal("changing a returned preset changed the built-in one")
	}
	if _, ok := Preset("nope"); ok {
		t.Fatal("Preset(nope) reported found")
	}
}
