package mapping

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sampleYAML))
	f.Add([]byte(sampleJSON))
	f.Add([]byte("preset: entra-scim\ntags: {team: nil}\n"))
	f.Add([]byte(`{"tags": {"a": "x", "b": "y", "c": "z", "d": "w"}}`))
	f.Add([]byte("first_name: &a x\nlast_name: *a\n"))
	f.Add([]byte("{"))
	f.Add([]byte("- [a, {b: c}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (Config, error){ParseConfig, ParseJSON, ParseYAML} {
			c, err := parse(data)
			if err != nil {
				continue
			}
			// A config that parses compiles or fails with an error, never a panic.
			if m, err := Compile(c); err == nil {
				_, _ = m.Map(&Record{ExternalID: "x", Raw: map[string]any{"a": "b"}})
			}
		}
	})
}

func FuzzCompile(f *testing.F) {
	for _, p := range presets {
		for _, src := range []string{p.FirstName, p.Email, p.Department, p.Office, p.Active} {
			if src != "" {
				f.Add(src)
			}
		}
	}
	for _, src := range []string{
		`1..1000000000`, `repeat("x", 1000000000)`, `reduce(1..9, #acc)`, `let a = "x"; a + a`,
		`map(1..100, map(1..100, #))`, `raw.a?.b[0].c ?? "d"`, `get(raw, "a[0]")`, `user.first_name | upper()`,
		`regex_extract(user.email, "(.*)@")`, `"` + strings.Repeat("a", 100) + `"`, `(((((((((()))))))))`,
		`filter(raw.list, # matches "^a")`, `string(len(toJSON(raw)))`, `$env.user.id`, `sortBy(raw.l, .x)`,
	} {
		f.Add(src)
	}
	rec := &Record{
		ExternalID: "u1", Email: "a@b.c", FirstName: "A", State: StateActive,
		Raw: map[string]any{
			"a": map[string]any{"b": []any{map[string]any{"c": "x"}}}, "list": []any{"ab", "b", 1.0, nil},
			"l": []any{map[string]any{"x": 2.0}, map[string]any{"x": 1.0}}, "active": "True",
		},
		Custom: map[string]any{"department_name": "Eng", "addresses": []any{map[string]any{"primary": true, "locality": "X"}}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg := Config{Department: src, Tags: map[string]string{"t": src}}
		m, err := Compile(cfg)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) && !strings.Contains(err.Error(), "mapping config") {
				t.Fatalf("compile error %v is neither a *CompileError nor a config error", err)
			}
			return
		}
		if _, err := m.Map(rec); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.ExternalID != "u1" {
				t.Fatalf("map error %v is not a *FieldError for the record", err)
			}
		}
		if _, err := Compile(Config{Active: src}); err == nil {
			_, _ = MustCompile(Config{Active: src}).Map(rec)
		}
	})
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"Ann", " a  b ", "Cafe\u0301", "Café", "x\u0000y", "\u00a0a", "\xff", "a\u2003b", "日本 語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := Clean(s), cleanSlow(s)
		if got != want {
			t.Fatalf("Clean(%q) = %q, the general path gives %q", s, got, want)
		}
		if Clean(got) != got {
			t.Fatalf("Clean is not idempotent on %q: %q then %q", s, got, Clean(got))
		}
	})
}
