package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bounds on mapping configuration. They apply to every config, whether parsed
// from a file or built in Go.
const (
	// MaxConfigBytes is the largest configuration document ParseConfig,
	// ParseJSON and ParseYAML accept.
	MaxConfigBytes = 64 << 10
	// MaxExpressionBytes is the largest single expression.
	MaxExpressionBytes = 4 << 10
	// MaxExpressionNodes is the largest number of syntax-tree nodes in one
	// expression.
	MaxExpressionNodes = 500
	// MaxTagFields is the number of named tag fields a mapping may have.
	MaxTagFields = 3
)

// The profile field names, as used in configs, in FieldError.Field and in
// Suggestion.Confidence. A tag field is "tags.<name>".
const (
	FieldFirstName  = "first_name"
	FieldLastName   = "last_name"
	FieldEmail      = "email"
	FieldDepartment = "department"
	FieldDivision   = "division"
	FieldOffice     = "office"
	FieldTitle      = "title"
	FieldActive     = "active"
)

// profileFields lists the string profile fields in their canonical order.
var profileFields = []string{FieldFirstName, FieldLastName, FieldEmail, FieldDepartment, FieldDivision, FieldOffice, FieldTitle}

// configKeys are the keys a mapping config may have, in canonical order.
var configKeys = []string{"preset", FieldFirstName, FieldLastName, FieldEmail, FieldDepartment, FieldDivision, FieldOffice, FieldTitle, FieldActive, "tags"}

var tagNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Config is a mapping as data: one expr-lang expression per profile field,
// an optional "active" expression and up to three named tag fields. It is
// what an org's configuration file holds under "mapping:", in YAML or JSON
// with the same keys; unknown keys are errors naming the key, however the
// surrounding document is decoded.
//
// An empty expression means "not configured": the preset's expression if a
// preset is named, otherwise the field stays unset (and for Active, the
// provider's state decides). To unset a field a preset maps, write the
// expression nil; a tag whose expression is nil removes the preset's tag of
// that name.
type Config struct {
	// Preset names a built-in mapping (see Presets) whose expressions this
	// config's non-empty expressions override.
	Preset string `json:"preset,omitempty" yaml:"preset,omitempty"`
	// FirstName is the expression for Profile.FirstName. Like every profile
	// field's expression it sees user, raw and custom and must yield a
	// string or nil.
	FirstName string `json:"first_name,omitempty" yaml:"first_name,omitempty"`
	// LastName is the expression for Profile.LastName.
	LastName string `json:"last_name,omitempty" yaml:"last_name,omitempty"`
	// Email is the expression for Profile.Email.
	Email string `json:"email,omitempty" yaml:"email,omitempty"`
	// Department is the expression for Profile.Department.
	Department string `json:"department,omitempty" yaml:"department,omitempty"`
	// Division is the expression for Profile.Division.
	Division string `json:"division,omitempty" yaml:"division,omitempty"`
	// Office is the expression for Profile.Office.
	Office string `json:"office,omitempty" yaml:"office,omitempty"`
	// Title is the expression for Profile.Title.
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	// Active, when set, must yield a bool (or nil, leaving the provider's
	// state in force); it becomes Profile.Active.
	Active string `json:"active,omitempty" yaml:"active,omitempty"`
	// Tags maps a tag field's name ([a-z][a-z0-9_]*, at most 32 bytes) to an
	// expression yielding a string, a list of strings, or nil.
	Tags map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// field returns a pointer to the expression of a string profile field or
// "active".
func (c *Config) field(name string) *string {
	switch name {
	case FieldFirstName:
		return &c.FirstName
	case FieldLastName:
		return &c.LastName
	case FieldEmail:
		return &c.Email
	case FieldDepartment:
		return &c.Department
	case FieldDivision:
		return &c.Division
	case FieldOffice:
		return &c.Office
	case FieldTitle:
		return &c.Title
	case FieldActive:
		return &c.Active
	}
	return nil
}

// configAlias has Config's fields without its methods, so decoding it does
// not recurse into UnmarshalJSON / UnmarshalYAML.
type configAlias Config

// UnmarshalJSON decodes a config, refusing unknown keys.
func (c *Config) UnmarshalJSON(data []byte) error {
	if len(data) > MaxConfigBytes {
		return fmt.Errorf("mapping config is %d bytes, more than the %d allowed", len(data), MaxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a configAlias
	if err := dec.Decode(&a); err != nil {
		return jsonError(err)
	}
	*c = Config(a)
	return nil
}

// jsonError rewords encoding/json's unknown-field error so it names the key
// as the config spells it.
func jsonError(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("mapping config: unknown key %s (known keys: %s)", rest, strings.Join(configKeys, ", "))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("mapping config: key %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("mapping config: %w", err)
}

// UnmarshalYAML decodes a config from a YAML node, refusing unknown keys
// (naming the key and its line) whether or not the surrounding decoder uses
// KnownFields.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("mapping config (line %d): want a mapping of keys to expressions", node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if !knownKey(k.Value) {
			return fmt.Errorf("mapping config: unknown key %q at line %d (known keys: %s)", k.Value, k.Line, strings.Join(configKeys, ", "))
		}
		v := node.Content[i+1]
		if k.Value == "tags" {
			if v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				return fmt.Errorf("mapping config: key \"tags\" at line %d: want a mapping of tag names to expressions", v.Line)
			}
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("mapping config: key %q at line %d: want an expression (a string)", k.Value, v.Line)
		}
	}
	var a configAlias
	if err := node.Decode(&a); err != nil {
		return fmt.Errorf("mapping config: %w", err)
	}
	*c = Config(a)
	return nil
}

func knownKey(k string) bool {
	for _, known := range configKeys {
		if k == known {
			return true
		}
	}
	return false
}

// ParseJSON parses a JSON mapping config (at most MaxConfigBytes) and checks
// its shape; it does not compile the expressions (Compile does).
func ParseJSON(data []byte) (Config, error) {
	if len(data) > MaxConfigBytes {
		return Config{}, fmt.Errorf("mapping config is %d bytes, more than the %d allowed", len(data), MaxConfigBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	dec := json.NewDecoder(bytes.NewReader(data))
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("mapping config: empty document")
		}
		return Config{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("mapping config: trailing data after the JSON object")
	}
	return c, c.Validate()
}

// ParseYAML parses a YAML mapping config (at most MaxConfigBytes) and checks
// its shape; it does not compile the expressions (Compile does).
func ParseYAML(data []byte) (Config, error) {
	if len(data) > MaxConfigBytes {
		return Config{}, fmt.Errorf("mapping config is %d bytes, more than the %d allowed", len(data), MaxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("mapping config: empty document")
		}
		return Config{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("mapping config: more than one YAML document")
	}
	return c, c.Validate()
}

// ParseConfig parses a mapping config in JSON (a document starting with
// "{") or YAML (anything else).
func ParseConfig(data []byte) (Config, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return ParseJSON(data)
	}
	return ParseYAML(data)
}

// Validate checks a config's shape without compiling it: the preset exists,
// expressions are within MaxExpressionBytes, tag names are well formed and
// there are at most MaxTagFields of them (after the preset merge).
func (c Config) Validate() error {
	if c.Preset != "" {
		if _, ok := presets[c.Preset]; !ok {
			return fmt.Errorf("mapping config: unknown preset %q (known: %s)", c.Preset, strings.Join(Presets(), ", "))
		}
	}
	for _, name := range append(profileFields[:len(profileFields):len(profileFields)], FieldActive) {
		if n := len(*c.field(name)); n > MaxExpressionBytes {
			return fmt.Errorf("mapping config: field %s: expression is %d bytes, more than the %d allowed", name, n, MaxExpressionBytes)
		}
	}
	for name, src := range c.Tags {
		if !tagNameRE.MatchString(name) {
			return fmt.Errorf("mapping config: tag name %q: want [a-z][a-z0-9_]*, at most 32 bytes", name)
		}
		if len(src) > MaxExpressionBytes {
			return fmt.Errorf("mapping config: field tags.%s: expression is %d bytes, more than the %d allowed", name, len(src), MaxExpressionBytes)
		}
	}
	r := c.Resolve()
	if len(r.Tags) > MaxTagFields {
		return fmt.Errorf("mapping config: %d tag fields (%s), at most %d allowed", len(r.Tags), strings.Join(sortedKeys(r.Tags), ", "), MaxTagFields)
	}
	return nil
}

// Resolve merges the config over its preset: the result has no preset, the
// preset's expressions wherever the config's are empty, and the tags of both
// (the config's winning by name; a tag whose expression is "nil" removed).
// Expressions are trimmed. An unknown preset is ignored here (Validate
// reports it).
func (c Config) Resolve() Config {
	var out Config
	if p, ok := presets[c.Preset]; ok {
		out = p.clone()
	}
	out.Preset = ""
	for _, name := range append(profileFields[:len(profileFields):len(profileFields)], FieldActive) {
		if src := strings.TrimSpace(*c.field(name)); src != "" {
			*out.field(name) = src
		} else {
			*out.field(name) = strings.TrimSpace(*out.field(name))
		}
	}
	for name, src := range c.Tags {
		src = strings.TrimSpace(src)
		if src == "" {
			continue
		}
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		out.Tags[name] = src
	}
	for name, src := range out.Tags {
		if src == "nil" || src == "" {
			delete(out.Tags, name)
		}
	}
	if len(out.Tags) == 0 {
		out.Tags = nil
	}
	return out
}

// clone copies a config, tags included.
func (c Config) clone() Config {
	out := c
	if c.Tags != nil {
		out.Tags = make(map[string]string, len(c.Tags))
		for k, v := range c.Tags {
			out.Tags[k] = v
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
