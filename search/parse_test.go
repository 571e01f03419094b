package search

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// normalized fills q's defaults the way the parsers do.
func normalized(q Query) Query {
	n, err := q.Normalize()
	if err != nil {
		panic(err)
	}
	return n
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  string
		want Query
	}{
		{"EmptyQueryFindsEveryActivePerson", "", normalized(Query{})},
		{"ReadsEveryParameter",
			"q=ali&department=Sales&department=Customer+Success&division=EMEA&office=Z%C3%BCrich&tag=nyc&group=Admins&status=all&sort=email&limit=10&cursor=abc",
			normalized(Query{Departments: []string{"Sales", "Customer Success"}, Divisions: []string{"EMEA"}, Offices: []string{"Zürich"},
				Tags: []string{"nyc"}, Groups: []string{"Admins"}, Text: "ali", Status: StatusAll, Sort: SortEmail, Limit: 10, Cursor: "abc"})},
		{"TreatsEmptyValuesAsNotGiven", "q=&department=&department=Sales&status=&sort=&limit=&cursor=",
			normalized(Query{Departments: []string{"Sales"}})},
		{"CollapsesTextWhiteSpace", "q=+ali++%09m%C3%BCller+", normalized(Query{Text: "ali müller"})},
		{"AcceptsStatusAndSortInAnyCase", "status=Inactive&sort=FIRST_NAME", normalized(Query{Status: StatusInactive, Sort: SortFirstName})},
		{"AcceptsTheBoundaryLimits", "limit=1000", normalized(Query{Limit: 1000})},
		{"KeepsValuesAsGiven", "tag=+New+York+", normalized(Query{Tags: []string{" New York "}})},
		{"AcceptsOneHundredValues", strings.Repeat("tag=x&", 100), normalized(Query{Tags: slicesRepeat("x", 100)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseValues(v)
			if err != nil {
				t.Fatalf("ParseValues(%q): %v", tc.raw, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ParseValues(%q) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestParseValuesErrorsNameTheParameter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		raw   string
		field string
		msg   string
	}{
		{"UnknownParameter", "dept=Sales", "dept", "unknown parameter"},
		{"ParameterWithAnEmptyName", "=x", `""`, "empty name"},
		{"UnknownParameterIsCaseSensitive", "Department=Sales", "Department", "unknown parameter"},
		{"RepeatedText", "q=a&q=b", "q", "given 2 times"},
		{"RepeatedStatus", "status=all&status=active", "status", "given 2 times"},
		{"RepeatedSort", "sort=id&sort=id", "sort", "given 2 times"},
		{"RepeatedLimit", "limit=1&limit=2", "limit", "given 2 times"},
		{"RepeatedCursor", "cursor=a&cursor=b", "cursor", "given 2 times"},
		{"NonNumericLimit", "limit=ten", "limit", "not a whole number"},
		{"ZeroLimit", "limit=0", "limit", "not a whole number from 1 to 1000"},
		{"NegativeLimit", "limit=-5", "limit", "not a whole number"},
		{"LimitOverTheMaximum", "limit=1001", "limit", "not a whole number"},
		{"LimitThatOverflows", "limit=99999999999999999999999", "limit", "not a whole number"},
		{"FractionalLimit", "limit=1.5", "limit", "not a whole number"},
		{"BadStatus", "status=gone", "status", `"gone" is not one of active, inactive, all`},
		{"BadSort", "sort=age", "sort", `"age" is not one of`},
		{"TooManyValues", strings.Repeat("office=x&", 101), "office", "more than 100 values"},
		{"ValueOverTheBound", "group=" + strings.Repeat("g", MaxValueBytes+1), "group", "1025 bytes"},
		{"TextOverTheBound", "q=" + strings.Repeat("a", MaxValueBytes+1), "q", "1025 bytes"},
		{"CursorOverTheBound", "cursor=" + strings.Repeat("c", MaxCursorBytes+1), "cursor", "too long"},
		{"QueryOverTheBound", strings.Repeat("department="+strings.Repeat("d", 1000)+"&", 9), "query", "the limit is 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseValues(v)
			checkError(t, err, tc.field, 0, tc.msg)
		})
	}
}

func TestParseBox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want Query
	}{
		{"TheIssueExample", `department:"Customer Success" tag:nyc ali`,
			normalized(Query{Departments: []string{"Customer Success"}, Tags: []string{"nyc"}, Text: "ali"})},
		{"EmptyBoxFindsEveryActivePerson", "  \t ", normalized(Query{})},
		{"EveryField", "department:Sales division:EMEA office:Berlin tag:x group:Admins status:all sort:first_name limit:20 jo",
			normalized(Query{Departments: []string{"Sales"}, Divisions: []string{"EMEA"}, Offices: []string{"Berlin"}, Tags: []string{"x"},
				Groups: []string{"Admins"}, Status: StatusAll, Sort: SortFirstName, Limit: 20, Text: "jo"})},
		{"RepeatedFiltersAreOred", "office:Berlin office:München", normalized(Query{Offices: []string{"Berlin", "München"}})},
		{"DeptIsAnAliasOfDepartment", "dept:Legal", normalized(Query{Departments: []string{"Legal"}})},
		{"FieldNamesAreCaseInsensitive", "Department:Legal STATUS:Inactive", normalized(Query{Departments: []string{"Legal"}, Status: StatusInactive})},
		{"TextTermsAreJoinedBySingleSpaces", "  ali \t müller\u3000o'neil ", normalized(Query{Text: "ali müller o'neil"})},
		{"TextCanBeInterleavedWithFilters", "ali tag:nyc doe", normalized(Query{Tags: []string{"nyc"}, Text: "ali doe"})},
		{"QuotesKeepSpacesAndEscapes", `tag:"a \"b\" \\ c"`, normalized(Query{Tags: []string{`a "b" \ c`}})},
		{"QuotesMayReopenInsideAToken", `office:New" York"`, normalized(Query{Offices: []string{"New York"}})},
		{"AQuotedFieldIsText", `"tag:nyc"`, normalized(Query{Text: "tag:nyc"})},
		{"QuotedTextIsSplitIntoTerms", `"anne  marie"`, normalized(Query{Text: "anne marie"})},
		{"EmptyQuotedTextIsNothing", `"" ali`, normalized(Query{Text: "ali"})},
		{"ATokenNotStartingWithALetterIsText", "10:30 :x _a:b", normalized(Query{Text: "10:30 :x _a:b"})},
		{"ColonsInsideAValueAreKept", "tag:a:b", normalized(Query{Tags: []string{"a:b"}})},
		{"BackslashOutsideQuotesIsOrdinary", `a\b tag:c\`, normalized(Query{Tags: []string{`c\`}, Text: `a\b`})},
		{"AnEmailIsText", "jane.doe@acme.com", normalized(Query{Text: "jane.doe@acme.com"})},
		{"NonASCIIValues", "office:Zürich 山田", normalized(Query{Offices: []string{"Zürich"}, Text: "山田"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBox(tc.in)
			if err != nil {
				t.Fatalf("ParseBox(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ParseBox(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseBoxErrorsNameTheFieldAndPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		field string
		pos   int
		msg   string
	}{
		{"UnknownField", "ali foo:bar", "foo", 5, "unknown field"},
		{"UnknownFieldKeepsItsSpelling", "Title:CEO", "Title", 1, "unknown field"},
		{"UnknownFieldAfterMultibyteText", "müller x:y", "x", 9, "unknown field"},
		{"FieldWithoutValue", "tag:", "tag", 5, "no value"},
		{"FieldFollowedBySpace", "department: Sales", "department", 12, "no value"},
		{"EmptyQuotedValue", `tag:""`, "tag", 5, "empty value"},
		{"BlankQuotedValue", `office:"  "`, "office", 8, "empty value"},
		{"UnterminatedQuoteInAValue", `tag:nyc department:"Customer Success`, "department", 20, "unterminated quote"},
		{"UnterminatedQuoteInText", `ali "o'neil`, "q", 5, "unterminated quote"},
		{"QuoteEndingInABackslash", `tag:"abc\`, "tag", 5, "unterminated quote"},
		{"RepeatedStatus", "status:all status:inactive", "status", 12, "given twice"},
		{"RepeatedSort", "sort:id x sort:email", "sort", 11, "given twice"},
		{"RepeatedLimit", "limit:1 limit:1", "limit", 9, "given twice"},
		{"BadStatus", "status:gone", "status", 8, `"gone" is not one of`},
		{"BadSort", "x sort:age", "sort", 8, `"age" is not one of`},
		{"BadLimit", "limit:0", "limit", 7, "not a whole number from 1 to 1000"},
		{"NonNumericLimit", "limit:many", "limit", 7, "not a whole number"},
		{"CursorIsNotABoxField", "cursor:abc", "cursor", 1, "unknown field"},
		{"TooManyValues", strings.Repeat("tag:x ", 101), "tag", 601, "more than 100 values"},
		{"ValueOverTheBound", "group:" + strings.Repeat("g", MaxValueBytes+1), "group", 7, "1025 bytes"},
		{"TextOverTheBound", strings.Repeat("ab ", 400), "q", 0, "1199 bytes"},
		{"StringOverTheBound", strings.Repeat("a", MaxQueryBytes+1), "query", 0, "the limit is 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBox(tc.in)
			checkError(t, err, tc.field, tc.pos, tc.msg)
		})
	}
}

func checkError(t *testing.T, err error, field string, pos int, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want a *search.Error", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) is false", err)
	}
	if e.Field != field || e.Pos != pos || !strings.Contains(e.Message, msg) {
		t.Fatalf("got field %q position %d message %q; want field %q position %d and a message containing %q",
			e.Field, e.Pos, e.Message, field, pos, msg)
	}
	if !strings.Contains(err.Error(), field) {
		t.Fatalf("error text %q does not name %q", err.Error(), field)
	}
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	queries := []Query{
		{},
		{Departments: []string{"Customer Success", "Sales"}, Tags: []string{"nyc"}, Text: "ali"},
		{Offices: []string{"Zürich", " spaced "}, Groups: []string{`quote " and \ backslash`, "a:b", "tag:x"}, Status: StatusAll, Sort: SortID, Limit: 7},
		{Text: `tag:nyc "quoted" back\slash o'neil 10:30`, Status: StatusInactive, Sort: SortEmail},
		{Divisions: []string{"EMEA"}, Limit: 1000, Sort: SortFirstName},
		{Text: "bad\xffutf8", Tags: []string{"\xfe\xff"}},
	}
	for i, q := range queries {
		q := normalized(q)
		t.Run("FormatBox"+strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			box := FormatBox(q)
			got, err := ParseBox(box)
			if err != nil {
				t.Fatalf("ParseBox(FormatBox(q)) = ParseBox(%q): %v", box, err)
			}
			if diff := cmp.Diff(q, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ParseBox(%q) (-want +got):\n%s", box, diff)
			}
			if q.String() != box {
				t.Fatalf("String() = %q, FormatBox = %q", q.String(), box)
			}
		})
		t.Run("Values"+strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			q := q
			q.Cursor = "some-cursor"
			enc := q.Values().Encode()
			v, err := url.ParseQuery(enc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseValues(v)
			if err != nil {
				t.Fatalf("ParseValues(%q): %v", enc, err)
			}
			if diff := cmp.Diff(q, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ParseValues(%q) (-want +got):\n%s", enc, diff)
			}
		})
	}

	t.Run("FormatBoxLeavesOutDefaultsAndTheCursor", func(t *testing.T) {
		t.Parallel()
		q := normalized(Query{Departments: []string{"Customer Success"}, Tags: []string{"nyc"}, Text: "ali", Cursor: "x"})
		if got, want := FormatBox(q), `department:"Customer Success" tag:nyc ali`; got != want {
			t.Fatalf("FormatBox = %q, want %q", got, want)
		}
	})
}

func FuzzParseBox(f *testing.F) {
	for _, s := range []string{
		`department:"Customer Success" tag:nyc ali`, `tag:"a \"b\" \\ c"`, `"unterminated`, "foo:bar", "status:all sort:email limit:5",
		"office:New\" York\"", "10:30 :x", `tag:"abc\`, "dept:x DEPT:y", "\xff:\xfe", "a\u3000b", "limit:99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseBox(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Field == "" || e.Pos < 0 || e.Pos > len(s)+1 {
				t.Fatalf("ParseBox(%q): error %#v does not name a field and a position within the input", s, err)
			}
			return
		}
		if _, err := q.Normalize(); err != nil {
			t.Fatalf("ParseBox(%q) returned a query that does not validate: %v", s, err)
		}
		box := FormatBox(q)
		back, err := ParseBox(box)
		if err != nil {
			if len(box) > MaxQueryBytes {
				return // quoting may push a query at the bound over it
			}
			t.Fatalf("ParseBox(FormatBox(ParseBox(%q))) = ParseBox(%q): %v", s, box, err)
		}
		if diff := cmp.Diff(q, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("box round trip of %q through %q (-first +second):\n%s", s, box, diff)
		}
		v, err := ParseValues(q.Values())
		if err != nil {
			if errors.As(err, new(*Error)) && strings.Contains(err.Error(), "query:") {
				return
			}
			t.Fatalf("ParseValues(Values(ParseBox(%q))): %v", s, err)
		}
		if diff := cmp.Diff(q, v, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("values round trip of %q (-first +second):\n%s", s, diff)
		}
	})
}

func FuzzParseValues(f *testing.F) {
	for _, s := range []string{
		"q=ali&department=Sales&department=Customer+Success&status=all&sort=email&limit=10&cursor=abc",
		"dept=x", "q=a&q=b", "limit=0", "limit=abc", "tag=&tag=x", "q=tag%3Anyc+%22x%22", "status=ALL", "%ff=1", "office=%22%5C",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseValues(v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Field == "" || e.Pos != 0 {
				t.Fatalf("ParseValues(%q): error %#v does not name a parameter", raw, err)
			}
			return
		}
		if _, err := q.Normalize(); err != nil {
			t.Fatalf("ParseValues(%q) returned a query that does not validate: %v", raw, err)
		}
		back, err := ParseValues(q.Values())
		if err != nil {
			t.Fatalf("ParseValues(Values(ParseValues(%q))): %v", raw, err)
		}
		if diff := cmp.Diff(q, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("values round trip of %q (-first +second):\n%s", raw, diff)
		}
		q.Cursor = ""
		box := FormatBox(q)
		boxed, err := ParseBox(box)
		if err != nil {
			if len(box) > MaxQueryBytes {
				return // quoting may push a query at the bound over it
			}
			t.Fatalf("ParseBox(FormatBox(ParseValues(%q))) = ParseBox(%q): %v", raw, box, err)
		}
		if diff := cmp.Diff(q, boxed, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("box round trip of %q through %q (-first +second):\n%s", raw, box, diff)
		}
	})
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
