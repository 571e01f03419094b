package sqlitestore

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/mapping"
)

// parseTags must read every tags column Apply writes (json.Marshal of the
// tags) back as the tags written, on its fast path and off it, and read
// other JSON as encoding/json does.
func TestParseTagsReadsWhatApplyWrote(t *testing.T) {
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
			got, err := parseTags(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tags, got); diff != "" {
				t.Errorf("parseTags(%s) mismatch (-want +got):\n%s", b, diff)
			}
		})
	}
	for _, s := range []string{
		`[{"value":"v","field":"f"}]`,
		`[ {"field": "f", "value": "v"} ]`,
		`[{"field":"f","value":"v","extra":"x"}]`,
	} {
		var want []mapping.Tag
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		got, err := parseTags(s)
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("parseTags(%s) = %v, %v; want %v as encoding/json reads it", s, got, err, want)
		}
	}
	for _, s := range []string{`[{"field":"f","value":"v"`, `[{"field":"f","value`} {
		if _, err := parseTags(s); err == nil {
			t.Errorf("parseTags(%s) accepted a truncated column", s)
		}
	}
}

// PurgeOrg deletes from orgTables: every table with an org column must be
// there, or a purged org's rows stay behind (and a table added by a later
// migration is easily forgotten).
func TestOrgTablesListsEveryTableWithAnOrgColumn(t *testing.T) {
	t.Parallel()
	s := setup(t)
	rows, err := s.r.QueryContext(context.Background(), `SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'org' ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(orgTables))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("orgTables differs from the tables with an org column (-schema +orgTables):\n%s", diff)
	}
}
