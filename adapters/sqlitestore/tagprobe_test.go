package sqlitestore

import (
	"slices"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/search"
)

// FuzzTagProbe checks the tag condition of a walk (where.tagProbe) against
// the f_tags column Apply writes: for any two tags and any searched value,
// SQLite finds the person exactly when one of the tags' folded values is
// the searched one, whether the condition finds the value's needle
// (tagNeedle) or parses the JSON.
func FuzzTagProbe(f *testing.F) {
	for _, seed := range [][5]string{
		{"team", "Core", "cost_center", "CC-1000", "core"},
		{"team", "Core", "cost_center", "CC-1000", "cc-1000"},
		{"team", "Core", "cost_center", "CC-1000", "team"},
		{"team", "Core", "cost_center", "CC-1000", "cor"},
		// Strings that end in a comma: the column holds `",",",x"]`,
		// which ends like the pair of a value ",x"; and `"],"`.
		{",", ",x", "team", "core", ",x"},
		{"a,", "x", "team", "core", "x"},
		{",", "]x", "team", "core", ","},
		{"team", ",", "x", "]", "]"},
		// Escapes: the row has a backslash, or the value needs one.
		{`a"b`, `c\d`, "team", "core", "core"},
		{"team", `say "hi"`, "x", "y", `say "hi"`},
		{"team", `c\d`, "x", "y", `c\d`},
		{"team", "R&D", "x", "y", "r&d"},
		{"team", "a<b", "x", "y", "a<b"},
		{"team", "a>b", "x", "y", "a>b"},
		{"team", "a\u2028b", "x", "y", "a\u2028b"},
		{"team", "\xff", "x", "y", "\xff"},
		{"team", "", "x", "core", ""},
		{"team", "Équipe Alpha", "κ", "日本", "équipe alpha"},
		{"team", "core", "team", "core", "core"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	s := setup(f)
	f.Fuzz(func(t *testing.T, field1, value1, field2, value2, want string) {
		rows := []tagRow{{field: field1, folded: search.Fold(value1)}, {field: field2, folded: search.Fold(value2)}}
		col := foldedTagsJSON(rows)
		tags := search.FoldedValues([]string{want})
		if len(tags) == 0 {
			return // no tag filter
		}
		expect := slices.ContainsFunc(rows, func(r tagRow) bool { return r.folded == tags[0] })
		w := &where{}
		w.tagProbe(tags)
		var n int
		err := s.r.QueryRowContext(t.Context(), "WITH u(f_tags) AS (SELECT ?) SELECT count(*) FROM u WHERE "+w.sql(),
			append([]any{col}, w.args...)...).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if got := n == 1; got != expect {
			needle, ok := tagNeedle(tags[0])
			t.Errorf("tag %q in column %s: found %v, want %v (needle %q, %v; backslash %v)",
				tags[0], col, got, expect, needle, ok, strings.Contains(col, `\`))
		}
	})
}

// The substring path is taken for plain values, and not where it could
// be wrong.
func TestTagNeedleIsUsedForPlainValuesOnly(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"core": true, "cc-1000": true, "équipe alpha": true, "日本": true, "a b": true,
		"]": true, "]]": true, "a]": true,
		"": false, ",": false, "a,b": false, `a"b`: false, `a\b`: false,
		"r&d": false, "<x>": false, "a>": false, "\xff": false,
	} {
		if _, ok := tagNeedle(v); ok != want {
			t.Errorf("tagNeedle(%q) usable = %v, want %v", v, ok, want)
		}
	}
}
