package mapping

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// evalOne compiles src (yielding any type) and evaluates it against rec,
// returning the raw result.
func evalOne(t *testing.T, src string, rec *Record) (any, error) {
	t.Helper()
	prog, err := compileField("test", src, kindAny)
	if err != nil {
		return nil, err
	}
	st := newEvalState()
	st.env.set(rec)
	return st.vm.Run(prog, &st.env)
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	rec := &Record{
		ExternalID: "u1",
		Email:      "Ann.Lee@Sub.Example.COM",
		FirstName:  "",
		Raw: map[string]any{
			"name":   map[string]any{"givenName": "Ann"},
			"emails": []any{map[string]any{"value": "home@x.test"}, map[string]any{"Primary": "True", "value": "work@x.test"}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"Department": "Eng"},
			"list":   []any{"a", "b", "c"},
			"empty":  []any{},
			"blank":  "   ",
			"n":      3.0,
			"fields": []any{map[string]any{"name": "Team", "value": "Core"}},
		},
	}
	cases := []struct {
		name, src string
		want      any
	}{
		{"CoalesceSkipsNilBlankAndEmpty", `coalesce(raw.missing, raw.blank, raw.empty, user.first_name, "x", "y")`, "x"},
		{"CoalesceOfNothingIsNil", `coalesce(raw.missing, "")`, nil},
		{"EmailDomainLowerCases", `email_domain(user.email)`, "sub.example.com"},
		{"EmailDomainWithoutAtIsNil", `email_domain("nobody")`, nil},
		{"EmailDomainOfNilIsNil", `email_domain(raw.missing)`, nil},
		{"GetFollowsAPath", `get(raw, "name.givenName")`, "Ann"},
		{"GetIndexesLists", `get(raw, "emails[1].value")`, "work@x.test"},
		{"GetCountsNegativeIndexesFromTheEnd", `get(raw, "list[-1]")`, "c"},
		{"GetTakesAWholeKeyWithDots", `get(raw, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")["Department"]`, "Eng"},
		{"GetQuotesKeysInBrackets", `get(raw, '["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department')`, "Eng"},
		{"GetMatchesKeysCaseInsensitivelyAsFallback", `get(raw, "NAME.givenname")`, "Ann"},
		{"GetOfAMissingPathIsNil", `get(raw, "name.middle.x")`, nil},
		{"GetWithAnIndex", `get(raw.list, 1)`, "b"},
		{"PrimaryPicksThePrimaryElement", `primary(raw.emails)?.value`, "work@x.test"},
		{"PrimaryFallsBackToTheFirst", `primary(raw.list)`, "a"},
		{"PrimaryOfEmptyIsNil", `primary(raw.empty)`, nil},
		{"RegexMatch", `regex_match(user.email, "(?i)@sub\\.example\\.com$")`, true},
		{"RegexMatchOfNilIsFalse", `regex_match(raw.missing, "x")`, false},
		{"RegexExtractTakesTheFirstGroup", `regex_extract("ENG-410 Platform", "^([A-Z]+)-\\d+")`, "ENG"},
		{"RegexExtractWithoutGroupTakesTheMatch", `regex_extract("ENG-410", "\\d+")`, "410"},
		{"RegexExtractWithoutMatchIsNil", `regex_extract("abc", "\\d+")`, nil},
		{"TitleCase", `title_case("mARÍA josé o'neil-smith")`, "María José O'Neil-Smith"},
		{"ToBoolReadsStrings", `to_bool("True")`, true},
		{"ToBoolReadsTerminated", `to_bool("Terminated")`, false},
		{"ToBoolReadsNumbers", `to_bool(0)`, false},
		{"ToBoolOfUnknownIsNil", `to_bool("maybe")`, nil},
		{"StringFormatsNumbers", `string(raw.n)`, "3"},
		{"StringOfNilIsNil", `string(raw.missing)`, nil},
		{"JoinSkipsNils", `join([raw.missing, "a", "b"], "/")`, "a/b"},
		{"ReplaceAll", `replace("a-b-c", "-", " ")`, "a b c"},
		{"FindInNameValueLists", `find(raw.fields, .name == "Team")?.value`, "Core"},
		{"MemberOfNilIsNil", `raw.missing.deeper`, nil},
		{"PlusStillAddsNumbers", `string(raw.n + 1)`, "4"},
		{"PlusConcatenates", `"a" + "b"`, "ab"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := evalOne(t, tc.src, rec)
			if err != nil {
				t.Fatalf("%s: %v", tc.src, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("%s (-want +got):\n%s", tc.src, d)
			}
		})
	}
}

func TestHelperErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, src, want string }{
		{"RegexBadPattern", `regex_match("x", "(")`, "regex_match: bad pattern"},
		{"RegexTooLong", `regex_match("x", "` + strings.Repeat("a", MaxRegexBytes+1) + `")`, "more than the 512 allowed"},
		{"RegexPatternNotAString", `regex_extract("x", 1)`, "want a pattern string"},
		{"GetBadPath", `get(raw, "a[")`, "is not closed"},
		{"GetBadIndex", `get(raw, "a[x]")`, "want an index or a quoted key"},
		{"GetLongPath", `get(raw, "` + strings.Repeat("a.", MaxPathBytes) + `a")`, "more than the 256 allowed"},
		{"TitleCaseOfANumber", `title_case(1)`, "title_case: want a string, got number"},
		{"EmailDomainArgs", `email_domain("a", "b")`, "email_domain takes 1 argument, got 2"},
		{"PrimaryOfAString", `primary("x")`, "primary: want a list, got string"},
		{"StringOfAList", `string([1])`, "string: cannot convert list"},
		{"JoinOfNumbers", `join([1, 2])`, "join: want a list of strings"},
		{"ReplaceArgs", `replace("a", 1, "b")`, "replace: want (string, old string, new string)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := evalOne(t, tc.src, &Record{Raw: map[string]any{}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: got %v, want an error containing %q", tc.src, err, tc.want)
			}
		})
	}
}

func TestCleanFastPathAgreesWithTheSlowPath(t *testing.T) {
	t.Parallel()
	inputs := []string{"Ann", "a b", "a  b", " a", "a ", "a\tb", "Café", "Cafe\u0301", "x\u0000y", "\u00a0a\u2003b",
		"ok-done", "~", "a\x7fb", "\uFFFDx", "  ", "A.B@c.d"}
	for _, s := range inputs {
		if got, want := Clean(s), cleanSlow(s); got != want {
			t.Errorf("Clean(%q) = %q, the general path gives %q", s, got, want)
		}
	}
	cases := map[string]string{" a  b ": "a b", "Cafe\u0301": "Café", "x\u0000y": "xy", "\u00a0a\u2003b": "a b", "plain": "plain"}
	for in, want := range cases {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringHelpersPassNilThrough(t *testing.T) {
	t.Parallel()
	rec := &Record{Raw: map[string]any{"s": "  Mixed Case  "}}
	cases := []struct {
		src  string
		want any
	}{
		{`lower(raw.missing)`, nil},
		{`upper(raw.missing)`, nil},
		{`trim(raw.missing)`, nil},
		{`trimPrefix(raw.missing, "/")`, nil},
		{`trimSuffix(raw.missing, "/")`, nil},
		{`lower(raw.s)`, "  mixed case  "},
		{`upper(raw.s)`, "  MIXED CASE  "},
		{`trim(raw.s)`, "Mixed Case"},
		{`trim(raw.s, " e")`, "Mixed Cas"},
		{`trimPrefix("/a/b", "/")`, "a/b"},
		{`trimSuffix("a/b/", "/")`, "a/b"},
		{`user.email | lower()`, ""},
	}
	for _, tc := range cases {
		got, err := evalOne(t, tc.src, rec)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.src, d)
		}
	}
	if _, err := evalOne(t, `lower(1)`, rec); err == nil || !strings.Contains(err.Error(), "lower: want a string, got number") {
		t.Errorf("lower(1): %v", err)
	}
}
