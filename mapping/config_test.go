package mapping

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const sampleYAML = `
preset: workos
first_name: user.first_name
email: lower(user.email)
office: 'primary(custom.addresses)?.locality'
active: 'user.state == "active"'
tags:
  team: custom.team
`

const sampleJSON = `{
  "preset": "workos",
  "first_name": "user.first_name",
  "email": "lower(user.email)",
  "office": "primary(custom.addresses)?.locality",
  "active": "user.state == \"active\"",
  "tags": {"team": "custom.team"}
}`

func TestParseYAMLAndJSONAgree(t *testing.T) {
	t.Parallel()
	y, err := ParseYAML([]byte(sampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJSON([]byte(sampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(y, j); d != "" {
		t.Fatalf("YAML and JSON differ (-yaml +json):\n%s", d)
	}
	want := Config{Preset: "workos", FirstName: "user.first_name", Email: "lower(user.email)",
		Office: "primary(custom.addresses)?.locality", Active: `user.state == "active"`,
		Tags: map[string]string{"team": "custom.team"}}
	if d := cmp.Diff(want, y); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	for _, doc := range []string{sampleYAML, sampleJSON, "\ufeff" + sampleJSON} {
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("ParseConfig: %v", err)
		}
		if d := cmp.Diff(want, c); d != "" {
			t.Fatalf("ParseConfig (-want +got):\n%s", d)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc, want string
	}{
		{"UnknownYAMLKeyWithItsLine", "first_name: user.first_name\ndepartmnet: custom.department_name\n", `unknown key "departmnet" at line 2`},
		{"UnknownJSONKey", `{"first_name": "user.first_name", "departmnet": "x"}`, `unknown key "departmnet"`},
		{"UnknownPreset", "preset: okta\n", `unknown preset "okta"`},
		{"BadTagName", "tags: {Cost Center: custom.x}\n", `tag name "Cost Center"`},
		{"MoreThanThreeTags", "tags: {a: x, b: x, c: x, d: x}\n", "4 tag fields"},
		{"MoreThanThreeTagsAfterThePresetMerge", "preset: google-workspace\ntags: {site: raw.site}\n", "4 tag fields"},
		{"AListForAnExpression", "first_name: [a, b]\n", `key "first_name" at line 1: want an expression`},
		{"AMapForTags", "tags: custom.team\n", `key "tags" at line 1`},
		{"JSONWrongType", `{"first_name": 3}`, `key "first_name"`},
		{"TrailingJSON", `{"first_name": "x"} {"last_name": "y"}`, "trailing data"},
		{"TwoYAMLDocuments", "first_name: x\n---\nlast_name: y\n", "more than one YAML document"},
		{"EmptyJSON", "", "empty document"},
		{"HugeExpression", "first_name: '" + strings.Repeat("x", MaxExpressionBytes+1) + "'\n", "more than the 4096 allowed"},
		{"HugeDocument", "first_name: x\n#" + strings.Repeat("x", MaxConfigBytes) + "\n", "more than the 65536 allowed"},
		{"NotAMapping", "- a\n- b\n", "want a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parse := ParseConfig
			if tc.name == "EmptyJSON" {
				parse = ParseJSON
			}
			_, err := parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// orgConfig is how a server's config file embeds a mapping.
type orgConfig struct {
	ID      string `yaml:"id" json:"id"`
	Mapping Config `yaml:"mapping" json:"mapping"`
}

func TestEmbeddedConfigRefusesUnknownKeysWhateverTheOuterDecoder(t *testing.T) {
	t.Parallel()
	var o orgConfig
	err := yaml.Unmarshal([]byte("id: acme\nmapping:\n  first_name: user.first_name\n  titel: custom.job_title\n"), &o)
	if err == nil || !strings.Contains(err.Error(), `unknown key "titel" at line 4`) {
		t.Fatalf("yaml: got %v", err)
	}
	err = json.Unmarshal([]byte(`{"id": "acme", "mapping": {"titel": "x"}}`), &o)
	if err == nil || !strings.Contains(err.Error(), `unknown key "titel"`) {
		t.Fatalf("json: got %v", err)
	}
	if err := yaml.Unmarshal([]byte("id: acme\nmapping:\n  preset: workos\n  tags: {team: custom.team}\n"), &o); err != nil {
		t.Fatal(err)
	}
	want := Config{Preset: "workos", Tags: map[string]string{"team": "custom.team"}}
	if d := cmp.Diff(want, o.Mapping); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestResolveMergesOverThePreset(t *testing.T) {
	t.Parallel()
	got := Config{
		Preset:     "workos",
		Department: "  raw.dept ",
		Division:   "nil",
		Tags:       map[string]string{"cost_center": "nil", "team": "custom.team"},
	}.Resolve()
	want := Config{
		FirstName:  "user.first_name",
		LastName:   "user.last_name",
		Email:      "lower(user.email)",
		Department: "raw.dept",
		Division:   "nil",
		Office:     "primary(custom.addresses)?.locality",
		Title:      "coalesce(custom.job_title, user.job_title)",
		Tags:       map[string]string{"employment": "custom.employee_type", "team": "custom.team"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestVersionIsTheHashOfTheCanonicalForm(t *testing.T) {
	t.Parallel()
	byPreset := MustCompile(Config{Preset: "workos"})
	p, _ := Preset("workos")
	spelled := MustCompile(p)
	p.Department = "  " + p.Department + "\n"
	spaced := MustCompile(p)
	if byPreset.Version() != spelled.Version() || spelled.Version() != spaced.Version() {
		t.Fatalf("equivalent configs have versions %s, %s, %s", byPreset.Version(), spelled.Version(), spaced.Version())
	}
	p.Department = "custom.department"
	changed := MustCompile(p)
	if changed.Version() == spelled.Version() {
		t.Fatal("a changed expression kept the version")
	}
	if !strings.HasPrefix(changed.Version(), VersionPrefix) {
		t.Fatalf("version %q lacks prefix %q", changed.Version(), VersionPrefix)
	}
	y, _ := ParseYAML([]byte(sampleYAML))
	j, _ := ParseJSON([]byte(sampleJSON))
	if MustCompile(y).Version() != MustCompile(j).Version() {
		t.Fatal("the same mapping in YAML and JSON has two versions")
	}
}
