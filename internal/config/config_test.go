package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const example = `
store: sqlite:dirsync.db
listen: 127.0.0.1:8080
orgs:
  - id: acme
    name: Acme Corp
    provider:
      type: workos
      directory_id: directory_01HXYZ
    mapping:
      preset: workos
      email: lower(user.email)
      office: 'first(filter(custom.addresses ?? [], .primary))?.locality'
      tags:
        cost_center: custom.cost_center_name
    sync:
      interval: 12h
      guard: {max_deactivate_fraction: 0.1, min_users: 5}
  - id: globex
    provider: {type: file, path: people.csv, format: csv, id_field: employeeNumber}
auth:
  tokens:
    - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      orgs: [acme]
    - env: ADMIN_TOKEN
      orgs: ["*"]
`

func TestParse(t *testing.T) {
	t.Parallel()

	t.Run("ReadsTheDesignExampleAndFillsDefaults", func(t *testing.T) {
		t.Parallel()
		f, err := Parse([]byte(example), false)
		if err != nil {
			t.Fatal(err)
		}
		acme, _ := f.Org("acme")
		if acme.Sync.Interval.Duration != 12*time.Hour || acme.Sync.Guard.MinUsers != 5 || acme.Mapping.Preset != "workos" {
			t.Errorf("acme = %+v", acme)
		}
		globex, _ := f.Org("globex")
		if globex.Name != "globex" || globex.Sync.Interval.Duration != 24*time.Hour || globex.Sync.Guard.MaxDeactivateFraction != 0.2 {
			t.Errorf("globex defaults = %+v", globex)
		}
	})

	t.Run("AcceptsTheSameKeysInJSON", func(t *testing.T) {
		t.Parallel()
		js := `{"store":"memory:","orgs":[{"id":"a","provider":{"type":"demo"},"mapping":{"first_name":"user.first_name"},"sync":{"interval":"1h"}}]}`
		f, err := Parse([]byte(js), true)
		if err != nil {
			t.Fatal(err)
		}
		if f.Orgs[0].Sync.Interval.Duration != time.Hour || f.Listen != "127.0.0.1:8080" {
			t.Errorf("f = %+v", f)
		}
	})

	errorCases := []struct {
		name, doc string
		json      bool
		want      string
	}{
		{"UnknownTopLevelKeyIsNamed", "stor: x\norgs: [{id: a, provider: {type: demo}}]", false, "stor"},
		{"UnknownOrgKeyIsNamed", "orgs: [{id: a, provider: {type: demo}, colour: red}]", false, "colour"},
		{"UnknownMappingKeyIsNamed", "orgs: [{id: a, provider: {type: demo}, mapping: {frist_name: x}}]", false, "frist_name"},
		{"UnknownJSONKeyIsNamed", `{"orgs":[{"id":"a","provider":{"type":"demo","dir":"x"}}]}`, true, "dir"},
		{"BadOrgID", "orgs: [{id: Acme!, provider: {type: demo}}]", false, "orgs[0].id"},
		{"RepeatedOrgID", "orgs: [{id: a, provider: {type: demo}}, {id: a, provider: {type: demo}}]", false, "appears twice"},
		{"WorkOSWithoutDirectory", "orgs: [{id: a, provider: {type: workos}}]", false, "directory_id is required"},
		{"OneDirectoryTwoOrgs", "orgs: [{id: a, provider: {type: workos, directory_id: d}}, {id: b, provider: {type: workos, directory_id: d}}]", false, "also org \"a\"'s"},
		{"FileWithoutPath", "orgs: [{id: a, provider: {type: file}}]", false, "path is required"},
		{"UnknownProviderType", "orgs: [{id: a, provider: {type: okta}}]", false, "not one of workos, file, demo"},
		{"ShortInterval", "orgs: [{id: a, provider: {type: demo}, sync: {interval: 10s}}]", false, "shorter than 1m"},
		{"LongInterval", "orgs: [{id: a, provider: {type: demo}, sync: {interval: 2500000h}}]", false, "sync.interval 2500000h0m0s is longer than 8784h0m0s"},
		{"BadDuration", "orgs: [{id: a, provider: {type: demo}, sync: {interval: daily}}]", false, "invalid duration"},
		{"GuardFractionOverOne", "orgs: [{id: a, provider: {type: demo}, sync: {guard: {max_deactivate_fraction: 2}}}]", false, "outside (0, 1]"},
		{"NoOrgs", "store: memory", false, "at least one org"},
		{"BadStore", "store: mysql://x\norgs: [{id: a, provider: {type: demo}}]", false, "is not sqlite:PATH"},
		{"TokenWithBothSources", "orgs: [{id: a, provider: {type: demo}}]\nauth: {tokens: [{sha256: aa, env: X, orgs: [a]}]}", false, "exactly one of sha256 and env"},
		{"TokenWithBadHash", "orgs: [{id: a, provider: {type: demo}}]\nauth: {tokens: [{sha256: abc, orgs: [a]}]}", false, "64 hexadecimal"},
		{"TokenForUnknownOrg", "orgs: [{id: a, provider: {type: demo}}]\nauth: {tokens: [{env: X, orgs: [b]}]}", false, "\"b\" is not a configured org"},
		{"TokenWithoutOrgs", "orgs: [{id: a, provider: {type: demo}}]\nauth: {tokens: [{env: X}]}", false, "list the orgs"},
		{"EmptyDocument", "", false, "empty"},
		{"TrailingJSON", `{"orgs":[{"id":"a","provider":{"type":"demo"}}]} {}`, true, "content after"},
	}
	for _, tc := range errorCases {
		t.Run("Rejects"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.doc), tc.json)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	t.Run("NeverPrintsAPasswordFromTheDSN", func(t *testing.T) {
		t.Parallel()
		_, err := Parse([]byte("store: mysql://u:s3cret@h/db\norgs: [{id: a, provider: {type: demo}}]"), false)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v", err)
		}
		if got := RedactDSN("postgres://u:s3cret@h/db"); got != "postgres://u:xxxxx@h/db" {
			t.Errorf("RedactDSN = %q", got)
		}
	})
}

func TestLoadResolvesFilePathsAgainstTheConfigFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("orgs: [{id: a, provider: {type: file, path: people.csv}}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Orgs[0].Provider.Path; got != filepath.Join(dir, "people.csv") {
		t.Errorf("path = %q", got)
	}
}

func TestDefaultIsTheDemo(t *testing.T) {
	t.Parallel()
	f := Default()
	if f.Store != "sqlite:dirsync.db" || f.Listen != "127.0.0.1:8080" || len(f.Orgs) != 1 || f.Orgs[0].Provider.Type != ProviderDemo {
		t.Fatalf("Default() = %+v", f)
	}
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example), false)
	f.Add([]byte(`{"orgs":[{"id":"a","provider":{"type":"demo"}}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		cfg, err := Parse(data, isJSON)
		if err != nil {
			return
		}
		if len(cfg.Orgs) == 0 || cfg.Store == "" {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
	})
}
