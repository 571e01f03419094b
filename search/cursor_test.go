package search

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	base := normalized(Query{Departments: []string{"Sales"}, Tags: []string{"nyc"}, Text: "ali", Status: StatusAll, Sort: SortFirstName, Limit: 20})
	pos := Position{Key: SortKey(SortFirstName, "Ali", "Müller", ""), ID: "user_01ABC"}
	cursor := EncodeCursor("acme", base, pos)
	with := func(q Query) Query { q.Cursor = cursor; return q }

	t.Run("RoundTripsThePosition", func(t *testing.T) {
		t.Parallel()
		got, ok, err := DecodeCursor("acme", with(base))
		if err != nil || !ok {
			t.Fatalf("DecodeCursor: ok %v, err %v", ok, err)
		}
		if diff := cmp.Diff(pos, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	t.Run("NoCursorIsNotAnError", func(t *testing.T) {
		t.Parallel()
		if _, ok, err := DecodeCursor("acme", base); ok || err != nil {
			t.Fatalf("ok %v, err %v; want false, nil", ok, err)
		}
	})

	t.Run("AcceptsAChangedLimit", func(t *testing.T) {
		t.Parallel()
		q := with(base)
		q.Limit = 500
		if _, ok, err := DecodeCursor("acme", q); !ok || err != nil {
			t.Fatalf("ok %v, err %v", ok, err)
		}
	})

	t.Run("AcceptsFiltersThatFoldAlikeAndReorderedValues", func(t *testing.T) {
		t.Parallel()
		q := with(base)
		q.Departments = []string{" SALES ", "sales"}
		q.Tags = []string{"NYC"}
		q.Text = "  ALI "
		if _, ok, err := DecodeCursor("acme", q); !ok || err != nil {
			t.Fatalf("ok %v, err %v", ok, err)
		}
	})

	t.Run("TreatsDefaultsAsGiven", func(t *testing.T) {
		t.Parallel()
		q := normalized(Query{Text: "x"})
		c := EncodeCursor("acme", q, pos)
		raw := Query{Text: "x", Cursor: c} // status and sort not filled in
		if _, ok, err := DecodeCursor("acme", raw); !ok || err != nil {
			t.Fatalf("ok %v, err %v", ok, err)
		}
	})

	for _, tc := range []struct {
		name   string
		org    string
		change func(q *Query)
	}{
		{"RejectsAnotherOrg", "globex", func(*Query) {}},
		{"RejectsAnotherDepartment", "acme", func(q *Query) { q.Departments = []string{"Support"} }},
		{"RejectsAnAddedFilterValue", "acme", func(q *Query) { q.Departments = append(q.Departments, "Support") }},
		{"RejectsAMovedFilterValue", "acme", func(q *Query) { q.Divisions, q.Departments = q.Departments, nil }},
		{"RejectsAnotherTag", "acme", func(q *Query) { q.Tags = nil }},
		{"RejectsAnotherOffice", "acme", func(q *Query) { q.Offices = []string{"Berlin"} }},
		{"RejectsAnotherGroup", "acme", func(q *Query) { q.Groups = []string{"Admins"} }},
		{"RejectsOtherText", "acme", func(q *Query) { q.Text = "alice" }},
		{"RejectsAnotherStatus", "acme", func(q *Query) { q.Status = StatusActive }},
		{"RejectsAnotherSort", "acme", func(q *Query) { q.Sort = SortLastName }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := with(base)
			tc.change(&q)
			_, _, err := DecodeCursor(tc.org, q)
			checkError(t, err, "cursor", 0, "another query or was altered")
		})
	}

	t.Run("RejectsEveryAlteredByte", func(t *testing.T) {
		t.Parallel()
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, bit := range []byte{1, 0x80} {
				alt := append([]byte(nil), raw...)
				alt[i] ^= bit
				q := base
				q.Cursor = base64.RawURLEncoding.EncodeToString(alt)
				if _, _, err := DecodeCursor("acme", q); err == nil {
					t.Fatalf("flipping bit %#x of byte %d was accepted", bit, i)
				}
			}
		}
	})

	t.Run("RejectsTruncatedAndExtendedCursors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []string{cursor[:len(cursor)-1], cursor[:len(cursor)-4], cursor + "A", cursor + "AAAA", "", "!!!!", strings.Repeat("A", MaxCursorBytes+1)} {
			q := base
			q.Cursor = c
			_, ok, err := DecodeCursor("acme", q)
			if c == "" {
				if ok || err != nil {
					t.Fatalf("empty cursor: ok %v err %v", ok, err)
				}
				continue
			}
			if err == nil {
				t.Fatalf("cursor %q was accepted", c)
			}
		}
	})

	t.Run("FitsTheBoundForTheLongestNames", func(t *testing.T) {
		t.Parallel()
		// Mapped names may be 1 KiB each, and folding can expand them.
		long := strings.Repeat("<ﷺ&", 200)
		for _, s := range []Sort{SortLastName, SortFirstName, SortEmail} {
			p := Position{Key: SortKey(s, long, long, long), ID: "user_" + strings.Repeat("x", 800)}
			q := base
			q.Sort = s
			q.Cursor = EncodeCursor("acme", q, p)
			if len(q.Cursor) > MaxCursorBytes {
				t.Fatalf("sort %s: cursor is %d bytes", s, len(q.Cursor))
			}
			got, ok, err := DecodeCursor("acme", q)
			if err != nil || !ok || got != p {
				t.Fatalf("sort %s: ok %v, err %v, position changed: %v", s, ok, err, got != p)
			}
		}
	})
}

func TestSortKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sort Sort
		want string
	}{
		{"LastNameThenFirstName", SortLastName, "muller\x01ali"},
		{"FirstNameThenLastName", SortFirstName, "ali\x01muller"},
		{"Email", SortEmail, "ali@x.com"},
		{"IDSortsByIDAlone", SortID, ""},
		{"UnknownSortIsLastName", Sort("nonsense"), "muller\x01ali"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := SortKey(tc.sort, "Ali", "MÜLLER", "Ali@X.com"); got != tc.want {
				t.Fatalf("SortKey(%s) = %q, want %q", tc.sort, got, tc.want)
			}
		})
	}
	t.Run("CutsLongPartsAtACharacterBoundary", func(t *testing.T) {
		t.Parallel()
		name := "a" + strings.Repeat("é", 300) // é folds to e: 1 byte each
		if got := SortKey(SortEmail, "", "", name); len(got) != MaxSortKeyPart || got[0] != 'a' {
			t.Fatalf("key of %d bytes %q", len(got), got[:8])
		}
		name = "a" + strings.Repeat("ж", 300) // 2 bytes each: 255 bytes fit
		got := SortKey(SortEmail, "", "", name)
		if len(got) != MaxSortKeyPart-1 || !strings.HasSuffix(got, "ж") {
			t.Fatalf("key of %d bytes ends %q", len(got), got[len(got)-4:])
		}
	})
}

func TestPositionAfter(t *testing.T) {
	t.Parallel()
	p := Position{Key: "b", ID: "m"}
	for _, tc := range []struct {
		key, id string
		want    bool
	}{{"c", "a", true}, {"a", "z", false}, {"b", "n", true}, {"b", "m", false}, {"b", "l", false}} {
		if got := p.After(tc.key, tc.id); got != tc.want {
			t.Errorf("%+v.After(%q, %q) = %v, want %v", p, tc.key, tc.id, got, tc.want)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	q := normalized(Query{Tags: []string{"nyc"}})
	f.Add(EncodeCursor("acme", q, Position{Key: "doe\x01jane", ID: "user_1"}), "acme")
	f.Add(EncodeCursor("acme", q, Position{}), "globex")
	f.Add("", "acme")
	f.Add("AQ", "acme")
	f.Add("Af____________________8", "acme")
	f.Fuzz(func(t *testing.T, cursor, org string) {
		q := q
		q.Cursor = cursor
		p, ok, err := DecodeCursor(org, q)
		if err != nil {
			checkError(t, err, "cursor", 0, "")
			return
		}
		if ok != (cursor != "") {
			t.Fatalf("ok %v for cursor %q", ok, cursor)
		}
		if ok {
			// A cursor that decodes is exactly the one its position encodes.
			if again := EncodeCursor(org, q, p); again != cursor {
				t.Fatalf("cursor %q decodes to %+v, which encodes as %q", cursor, p, again)
			}
		}
	})
}
