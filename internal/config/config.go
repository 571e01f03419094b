// Package config reads the configuration file shared by the reference server
// (examples/server) and the operator CLI (cmd/dirsync): the store, the orgs
// with their providers, mappings, sync intervals and guards, and API tokens.
//
// The file is YAML or JSON with the same keys; unknown keys are errors that
// name the key. See DESIGN.md "The reference server" for an annotated
// example. Without a file, Default returns the bundled demo configuration.
package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 1 << 20

// File is a whole configuration.
type File struct {
	// Store is the store DSN: "sqlite:PATH", "postgres://…" or "memory:"
	// ("memory" is accepted too, as YAML needs quotes around "memory:").
	// Defaults to "sqlite:dirsync.db".
	Store string `json:"store,omitempty" yaml:"store,omitempty"`
	// Listen is the server's address. Defaults to "127.0.0.1:8080".
	Listen string `json:"listen,omitempty" yaml:"listen,omitempty"`
	// Orgs are the customer organisations; at least one.
	Orgs []Org `json:"orgs" yaml:"orgs"`
	// Auth declares the API tokens; without it the server listens on
	// loopback only.
	Auth *Auth `json:"auth,omitempty" yaml:"auth,omitempty"`
}

// Org is one customer organisation.
type Org struct {
	// ID is the host's org ID: 1 to 64 characters of [a-z0-9_-].
	ID string `json:"id" yaml:"id"`
	// Name is the display name. Defaults to ID.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Provider says where the org's people come from.
	Provider Provider `json:"provider" yaml:"provider"`
	// Mapping maps provider records to profiles. Defaults to the
	// provider's preset (workos, demo); a file provider needs one.
	Mapping mapping.Config `json:"mapping,omitzero" yaml:"mapping,omitempty"`
	// Sync configures the scheduled reconcile and its guard.
	Sync Sync `json:"sync,omitzero" yaml:"sync,omitempty"`
}

// Provider types.
const (
	ProviderWorkOS = "workos"
	ProviderFile   = "file"
	// ProviderDemo is the bundled demo directory (internal/demo).
	ProviderDemo = "demo"
)

// Provider says where an org's people come from.
type Provider struct {
	// Type is "workos", "file" or "demo".
	Type string `json:"type" yaml:"type"`
	// DirectoryID is the WorkOS directory (type workos).
	DirectoryID string `json:"directory_id,omitempty" yaml:"directory_id,omitempty"`
	// Path is the export to read (type file); relative paths are resolved
	// against the configuration file's folder.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Format is csv, json or jsonl (type file); defaults to the extension.
	Format string `json:"format,omitempty" yaml:"format,omitempty"`
	// IDField is the ID column (type file); defaults to "id".
	IDField string `json:"id_field,omitempty" yaml:"id_field,omitempty"`
	// StateField, GroupsField and UpdatedAtField are optional columns (type
	// file), see adapters/fileprovider.
	StateField string `json:"state_field,omitempty" yaml:"state_field,omitempty"`
	// GroupsField: see StateField.
	GroupsField string `json:"groups_field,omitempty" yaml:"groups_field,omitempty"`
	// UpdatedAtField: see StateField.
	UpdatedAtField string `json:"updated_at_field,omitempty" yaml:"updated_at_field,omitempty"`
}

// Sync configures an org's scheduled reconcile and guard.
type Sync struct {
	// Interval is the full reconcile period, jittered. Defaults to 24h; at
	// least 1m, at most 8784h (dirsync.MaxInterval).
	Interval Duration `json:"interval,omitzero" yaml:"interval,omitempty"`
	// Guard bounds the deactivations one sync may apply.
	Guard Guard `json:"guard,omitzero" yaml:"guard,omitempty"`
}

// Guard bounds the deactivations one sync may apply without approval.
type Guard struct {
	// MaxDeactivateFraction of active users; defaults to 0.2.
	MaxDeactivateFraction float64 `json:"max_deactivate_fraction,omitempty" yaml:"max_deactivate_fraction,omitempty"`
	// MinUsers: below it only a listing that would deactivate everyone
	// halts; defaults to 10.
	MinUsers int `json:"min_users,omitempty" yaml:"min_users,omitempty"`
}

// Auth declares the API tokens. Without it the server listens on loopback
// only.
type Auth struct {
	// Tokens are the accepted bearer tokens; at least one.
	Tokens []Token `json:"tokens" yaml:"tokens"`
}

// Token is one API token, given by its SHA-256 (hex) or read from an
// environment variable, scoped to orgs (or ["*"] for all).
type Token struct {
	// SHA256 is the token's SHA-256, 64 hexadecimal digits.
	SHA256 string `json:"sha256,omitempty" yaml:"sha256,omitempty"`
	// Env names the environment variable holding the token itself.
	Env string `json:"env,omitempty" yaml:"env,omitempty"`
	// Orgs are the org IDs the token may see, or ["*"] for all.
	Orgs []string `json:"orgs" yaml:"orgs"`
}

// Duration is a time.Duration written as "24h" or "90m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a form like 24h or 90m", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// IsZero reports an unset duration.
func (d Duration) IsZero() bool { return d.Duration == 0 }

// Default is the configuration used without a file: the SQLite store
// dirsync.db, loopback on port 8080, and one org "demo" fed by the bundled
// demo directory.
func Default() File {
	f := File{Orgs: []Org{{
		ID: "demo", Name: "Demo Company",
		Provider: Provider{Type: ProviderDemo},
	}}}
	f.setDefaults()
	return f
}

// Load reads and validates a configuration file. Its format is JSON when the
// name ends in .json, YAML otherwise.
func Load(path string) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("config: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return File{}, fmt.Errorf("config: reading %s: %w", path, err)
	}
	f, err := Parse(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return File{}, fmt.Errorf("config %s: %w", path, err)
	}
	f.resolvePaths(filepath.Dir(path))
	return f, nil
}

// Parse decodes and validates a configuration document, JSON when isJSON and
// YAML otherwise, and fills defaults.
func Parse(data []byte, isJSON bool) (File, error) {
	var f File
	if len(data) > MaxFileBytes {
		return f, fmt.Errorf("the file is larger than %d bytes", MaxFileBytes)
	}
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return File{}, fmt.Errorf("invalid JSON: %w", err)
		}
		if dec.More() {
			return File{}, errors.New("invalid JSON: content after the document")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return File{}, errors.New("the file is empty")
			}
			return File{}, fmt.Errorf("invalid YAML: %w", err)
		}
	}
	f.setDefaults()
	if err := f.validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

func (f *File) setDefaults() {
	if f.Store == "" {
		f.Store = "sqlite:dirsync.db"
	}
	if f.Listen == "" {
		f.Listen = "127.0.0.1:8080"
	}
	for i := range f.Orgs {
		o := &f.Orgs[i]
		if o.Name == "" {
			o.Name = o.ID
		}
		if o.Sync.Interval.Duration == 0 {
			o.Sync.Interval.Duration = 24 * time.Hour
		}
		if o.Sync.Guard.MaxDeactivateFraction == 0 {
			o.Sync.Guard.MaxDeactivateFraction = 0.2
		}
		if o.Sync.Guard.MinUsers == 0 {
			o.Sync.Guard.MinUsers = 10
		}
		if o.Provider.Type == ProviderFile && o.Provider.IDField == "" {
			o.Provider.IDField = "id"
		}
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (f *File) validate() error {
	switch {
	case strings.HasPrefix(f.Store, "sqlite:"), strings.HasPrefix(f.Store, "postgres://"),
		strings.HasPrefix(f.Store, "postgresql://"), f.Store == "memory:", f.Store == "memory":
	default:
		return fmt.Errorf("store: %q is not sqlite:PATH, postgres://… or memory:", redactDSN(f.Store))
	}
	if len(f.Orgs) == 0 {
		return errors.New("orgs: at least one org is required")
	}
	seen := map[string]bool{}
	dirs := map[string]string{}
	for i, o := range f.Orgs {
		at := fmt.Sprintf("orgs[%d]", i)
		if err := store.ValidateOrgID(o.ID); err != nil {
			return fmt.Errorf("%s.id: %q must be 1 to 64 characters of a-z, 0-9, _ and -", at, o.ID)
		}
		if seen[o.ID] {
			return fmt.Errorf("%s.id: %q appears twice", at, o.ID)
		}
		seen[o.ID] = true
		p := o.Provider
		switch p.Type {
		case ProviderWorkOS:
			if p.DirectoryID == "" {
				return fmt.Errorf("%s.provider.directory_id is required for type workos", at)
			}
			if other, dup := dirs[p.DirectoryID]; dup {
				return fmt.Errorf("%s.provider.directory_id %q is also org %q's", at, p.DirectoryID, other)
			}
			dirs[p.DirectoryID] = o.ID
		case ProviderFile:
			if p.Path == "" {
				return fmt.Errorf("%s.provider.path is required for type file", at)
			}
			switch p.Format {
			case "", "csv", "json", "jsonl":
			default:
				return fmt.Errorf("%s.provider.format %q is not one of csv, json, jsonl", at, p.Format)
			}
		case ProviderDemo:
		default:
			return fmt.Errorf("%s.provider.type %q is not one of workos, file, demo", at, p.Type)
		}
		if iv := o.Sync.Interval.Duration; iv < time.Minute {
			return fmt.Errorf("%s.sync.interval %s is shorter than 1m", at, iv)
		} else if iv > dirsync.MaxInterval {
			return fmt.Errorf("%s.sync.interval %s is longer than %s (a year and a day)", at, iv, dirsync.MaxInterval)
		}
		if g := o.Sync.Guard; g.MaxDeactivateFraction <= 0 || g.MaxDeactivateFraction > 1 {
			return fmt.Errorf("%s.sync.guard.max_deactivate_fraction %v is outside (0, 1]", at, g.MaxDeactivateFraction)
		} else if g.MinUsers < 0 {
			return fmt.Errorf("%s.sync.guard.min_users %d is negative", at, g.MinUsers)
		}
	}
	if f.Auth != nil {
		if len(f.Auth.Tokens) == 0 {
			return errors.New("auth.tokens: at least one token is required when auth is given")
		}
		for i, t := range f.Auth.Tokens {
			at := fmt.Sprintf("auth.tokens[%d]", i)
			switch {
			case (t.SHA256 == "") == (t.Env == ""):
				return fmt.Errorf("%s: exactly one of sha256 and env is required", at)
			case t.SHA256 != "":
				if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
					return fmt.Errorf("%s.sha256: not 64 hexadecimal digits", at)
				}
			case !envName.MatchString(t.Env):
				return fmt.Errorf("%s.env: %q is not an environment variable name", at, t.Env)
			}
			if len(t.Orgs) == 0 {
				return fmt.Errorf("%s.orgs: list the orgs the token may see, or [\"*\"]", at)
			}
			for _, o := range t.Orgs {
				if o != "*" && !seen[o] {
					return fmt.Errorf("%s.orgs: %q is not a configured org", at, o)
				}
			}
		}
	}
	return nil
}

func (f *File) resolvePaths(dir string) {
	for i := range f.Orgs {
		p := &f.Orgs[i].Provider
		if p.Type == ProviderFile && p.Path != "" && !filepath.IsAbs(p.Path) {
			p.Path = filepath.Join(dir, p.Path)
		}
	}
}

// String describes the configuration with the store DSN's passwords
// redacted.
func (f File) String() string {
	return fmt.Sprintf("config.File{Store:%q Listen:%q Orgs:%d Auth:%t}", redactDSN(f.Store), f.Listen, len(f.Orgs), f.Auth != nil)
}

// Format writes String for every verb, so that no verb prints the store DSN
// (which may hold a password) as it is.
func (f File) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, f.String()) }

// LogValue logs the configuration with the store DSN's passwords redacted.
func (f File) LogValue() slog.Value {
	return slog.GroupValue(slog.String("store", redactDSN(f.Store)), slog.String("listen", f.Listen), slog.Int("orgs", len(f.Orgs)))
}

// Org returns the org with the given ID.
func (f *File) Org(id string) (Org, bool) {
	for _, o := range f.Orgs {
		if o.ID == id {
			return o, true
		}
	}
	return Org{}, false
}

// dsnPassword matches a password given as a parameter: in a URL's query
// (postgres://h/db?password=…, sslpassword=…) or in keyword/value form
// (host=h password='…'), quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;]*)`)

// redactDSN hides every password in a DSN, for messages: the userinfo
// password of a URL (everything between the first ':' after "://" and the
// last '@', so a password holding an unescaped '@' is hidden whole) and any
// password parameter.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				dsn = dsn[:i+3] + rest[:c] + ":xxxxx" + rest[at:]
			}
		}
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// RedactDSN returns dsn with any password replaced, for logs and messages.
func RedactDSN(dsn string) string { return redactDSN(dsn) }
