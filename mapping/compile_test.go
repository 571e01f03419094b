package mapping

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileErrorsNameFieldAndPosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want CompileError // Message is matched as a substring
	}{
		{"SyntaxError", Config{Department: "custom.department_name +"}, CompileError{Field: "department", Line: 1, Column: 24, Message: "unexpected token EOF"}},
		{"SyntaxErrorOnALaterLine", Config{Office: "coalesce(\n  custom.office,\n  ]"}, CompileError{Field: "office", Line: 3, Column: 3, Message: "unexpected token"}},
		{"UnknownName", Config{Title: `coalesce(custom.job_title, usr.job_title)`}, CompileError{Field: "title", Line: 1, Column: 28, Message: "unknown name usr"}},
		{"UnknownUserField", Config{FirstName: `user.given_name`}, CompileError{Field: "first_name", Line: 1, Column: 6, Message: "given_name"}},
		{"NumberForAStringField", Config{Division: `len(user.email)`}, CompileError{Field: "division", Line: 1, Column: 1, Message: "yields int; want a string or nil"}},
		{"StringForActive", Config{Active: `user.state`}, CompileError{Field: "active", Line: 1, Column: 6, Message: "want a bool or nil"}},
		{"BoolForATag", Config{Tags: map[string]string{"team": `user.state == "x"`}}, CompileError{Field: "tags.team", Line: 1, Column: 12, Message: "want a string, a list of strings, or nil"}},
		{"Reduce", Config{Email: `reduce(["a"], #acc + #, "")`}, CompileError{Field: "email", Line: 1, Column: 1, Message: "reduce is not available"}},
		{"TimeDependentBuiltin", Config{Office: `string(now())`}, CompileError{Field: "office", Line: 1, Column: 8, Message: "unknown name now"}},
		{"InternalName", Config{Office: `__fetch(raw, "x")`}, CompileError{Field: "office", Line: 1, Column: 1, Message: "unknown name __fetch"}},
		{"TooManyNodes", Config{Title: strings.Repeat("raw.a + ", 200) + "''"}, CompileError{Field: "title", Message: "more than 500 nodes"}},
		{"TooLong", Config{Title: `"` + strings.Repeat("x", MaxExpressionBytes) + `"`}, CompileError{Field: "title", Message: "more than the 4096 allowed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.cfg)
			var ce *CompileError
			if !errors.As(err, &ce) {
				if tc.name == "TooLong" && err != nil && strings.Contains(err.Error(), tc.want.Message) {
					return // refused by Validate before compiling
				}
				t.Fatalf("got %v, want a *CompileError", err)
			}
			if !strings.Contains(ce.Message, tc.want.Message) {
				t.Errorf("message %q does not contain %q", ce.Message, tc.want.Message)
			}
			got := *ce
			got.Message = tc.want.Message
			if tc.want.Line == 0 {
				got.Line, got.Column = 0, 0
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s\nfull error: %v", d, err)
			}
		})
	}
}

func TestCompileReportsEveryFailingField(t *testing.T) {
	t.Parallel()
	_, err := Compile(Config{FirstName: "(", Title: "nope", Tags: map[string]string{"team": ")"}})
	if err == nil {
		t.Fatal("compiled")
	}
	for _, f := range []string{"mapping field first_name: 1:", "mapping field title: 1:1: unknown name nope", "mapping field tags.team: 1:"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q lacks %q", err, f)
		}
	}
}

func TestEvaluationBudgetStopsRunawayExpressions(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"HugeRange":              `string(len(1..1000000000))`,
		"HugeRepeat":             `repeat("x", 1000000000)`,
		"ModestRepeatOverBudget": `repeat("abcdefgh", 100000)`,
		"RepeatOfARepeat":        `repeat(repeat("x", 16000), 100000)`,
		"RepeatOfALongValue":     `repeat(raw.x, 1000)`,
		"NestedLoops":            `string(count(1..1000, any(1..1000, # == 0)))`,
		"StringDoubling":         `let a = repeat("x", 1000); let b = a+a; let c = b+b; let d = c+c; let e = d+d; let f = e+e; f+f`,
		"ReplaceSquaring":        `let a = repeat("x", 1000); replace(a, "x", a)`,
		"JoinOfManyCopies":       `join(map(1..4000, repeat("y", 100)), "")`,
		"ManyBigSplits":          `let big = repeat("x", 16000); string(len(map(1..4000, split(big, ""))))`,
		"ManyBigStringsInALoop":  `let big = repeat("x", 16000); string(len(map(1..9000, upper(big))))`,
		"SortsInALoop":           `let l = split(repeat("x,", 3000), ","); string(len(map(1..4000, sort(l))))`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Compile(Config{Department: src})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			_, err = m.Map(&Record{ExternalID: "u1", Raw: map[string]any{"x": strings.Repeat("y", 10000)}})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.ExternalID != "u1" || fe.Field != "department" {
				t.Fatalf("got %v, want a *FieldError for u1 department", err)
			}
			if !strings.Contains(err.Error(), "evaluation budget exceeded") {
				t.Fatalf("error %q does not say the budget was exceeded", err)
			}
		})
	}
}

func TestMapEvaluatesFieldsCleansAndDeduplicates(t *testing.T) {
	t.Parallel()
	m := MustCompile(Config{
		FirstName:  `title_case(user.first_name)`,
		LastName:   `user.last_name`,
		Email:      `lower(user.email)`,
		Department: `custom.dept`,
		Division:   `nil`,
		Office:     `custom.office`,
		Title:      `"  "`,
		Active:     `to_bool(raw.active)`,
		Tags: map[string]string{
			"team":  `custom.teams`,
			"site":  `custom.site`,
			"skill": `split(custom.skills, ",")`,
		},
	})
	rec := &Record{
		ExternalID: "u1",
		FirstName:  "  ANNE-marie ",
		LastName:   "Cafe\u0301  de\tla Paix",
		Email:      "Anne@Example.COM",
		Raw:        map[string]any{"active": "False"},
		Custom: map[string]any{
			"dept":   "Customer\n Success",
			"office": nil,
			"teams":  []any{"NYC", "nyc ", "Ny\u0301c", nil, "", "Berlin", "BERLIN"},
			"site":   "  ",
			"skills": "go, Go,sql",
		},
	}
	got, err := m.Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	f := false
	want := Profile{
		FirstName:  "Anne-Marie",
		LastName:   "Café de la Paix",
		Email:      "anne@example.com",
		Department: "Customer Success",
		Tags: []Tag{
			{Field: "skill", Value: "go"},
			{Field: "skill", Value: "sql"},
			{Field: "team", Value: "Berlin"},
			{Field: "team", Value: "NYC"}, // "nyc " and "Nýc" fold alike
		},
		Active: &f,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestMapRefusesWrongTypesNamingRecordAndField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   Config
		field string
		want  string
	}{
		{"NumberForAString", Config{Department: `custom.n`}, "department", `yielded number "42"; want a string or nil`},
		{"MapForAString", Config{Office: `custom.m`}, "office", "yielded map; want a string or nil"},
		{"ListForAString", Config{Title: `custom.l`}, "title", "yielded list; want a string or nil"},
		{"StringForActive", Config{Active: `custom.s`}, "active", `yielded string "yes"; want a bool or nil`},
		{"NumberInATagList", Config{Tags: map[string]string{"team": `custom.l`}}, "tags.team", "yielded a list whose element 1 is number \"1\"; want a string, a list of strings, or nil"},
		{"TooLongAValue", Config{Title: `repeat("x", 2000)`}, "title", "more than the 1024 allowed"},
		{"TooManyTagValues", Config{Tags: map[string]string{"team": `map(1..40, string(#))`}}, "tags.team", "more than 32 values"},
		{"HelperMisuse", Config{Email: `email_domain(custom.n)`}, "email", "email_domain: want a string, got number"},
		{"MemberOfAString", Config{Email: `custom.s.x`}, "email", "cannot fetch x from a string"},
	}
	rec := &Record{ExternalID: "dir_user_7", Custom: map[string]any{
		"n": 42.0, "m": map[string]any{"a": "b"}, "l": []any{"a", 1.0}, "s": "yes",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := MustCompile(tc.cfg)
			_, err := m.Map(rec)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.ExternalID != "dir_user_7" || fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q (record %q field %q), want record dir_user_7 field %s containing %q", err, fe.ExternalID, fe.Field, tc.field, tc.want)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("mapping record %q field %s: ", "dir_user_7", tc.field)) {
				t.Fatalf("error %q does not start by naming record and field", err)
			}
		})
	}
}

func TestMapWithoutActiveExpressionLeavesProviderState(t *testing.T) {
	t.Parallel()
	m := MustCompile(Config{Active: `to_bool(raw.active)`})
	for _, raw := range []map[string]any{nil, {"active": nil}, {"active": "maybe"}} {
		p, err := m.Map(&Record{ExternalID: "u", Raw: raw})
		if err != nil || p.Active != nil {
			t.Fatalf("raw %v: got active %v, err %v; want nil", raw, p.Active, err)
		}
	}
	if _, err := m.Map(nil); err == nil {
		t.Fatal("a nil record mapped")
	}
}

func TestMapIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	m := MustCompile(Config{Preset: "workos"})
	recs := loadFixture(t, "workos")
	want := make([]Profile, len(recs))
	for i := range recs {
		want[i], _ = m.Map(&recs[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := n % len(recs)
				got, err := m.Map(&recs[i])
				if d := cmp.Diff(want[i], got); err != nil || d != "" {
					errs <- fmt.Sprintf("record %d: %v %s", i, err, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestPreviewShowsProfilesAndErrors(t *testing.T) {
	t.Parallel()
	m := MustCompile(Config{Department: `custom.dept`})
	rows := Preview(m, []Record{
		{ExternalID: "a", Custom: map[string]any{"dept": " Sales "}},
		{ExternalID: "b", Custom: map[string]any{"dept": 7.0}},
	})
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if d := cmp.Diff(PreviewRow{ExternalID: "a", Profile: Profile{Department: "Sales"}}, rows[0]); d != "" {
		t.Errorf("row a (-want +got):\n%s", d)
	}
	if rows[1].FieldError == nil || rows[1].Field != "department" || !strings.Contains(rows[1].Error, `record "b" field department`) {
		t.Errorf("row b: %+v", rows[1])
	}
	if rows := Preview(Standard(), []Record{{ExternalID: "s", FirstName: " Ann "}}); rows[0].Profile.FirstName != "Ann" {
		t.Errorf("Preview with the standard mapper: %+v", rows)
	}
}

func TestRepeatIsBoundedAndRefusesBadCounts(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		`repeat("ab", 3)`:           "ababab",
		`repeat("ab", 0) ?? "none"`: "",
		`repeat(raw.n, 2)`:          "",
		`repeat("x", raw.k)`:        "xxx",
		`repeat("", 1e300) + "."`:   ".",
	} {
		m, err := Compile(Config{Department: src})
		if err != nil {
			t.Fatalf("%s: compile: %v", src, err)
		}
		p, err := m.Map(&Record{ExternalID: "u1", Raw: map[string]any{"k": 3.0}})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if p.Department != want {
			t.Errorf("%s = %q, want %q", src, p.Department, want)
		}
	}
	for src, want := range map[string]string{
		`repeat("x", -1)`:    "repeat: negative count -1",
		`repeat("x", -1e10)`: "repeat: negative count -1e+10",
		`repeat("x", 1e300)`: "evaluation budget exceeded",
		`repeat("x", 0/0)`:   "repeat: want a whole count, got NaN",
		`repeat("x", 1.5)`:   "repeat: want a whole count, got 1.5",
		`repeat("x", "3")`:   "repeat: want a count, got string",
		`repeat(3, 3)`:       "repeat: want a string, got number",
	} {
		m, err := Compile(Config{Department: src})
		if err != nil {
			t.Fatalf("%s: compile: %v", src, err)
		}
		if _, err := m.Map(&Record{ExternalID: "u1"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", src, err, want)
		}
	}
}
