package mapping

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// Bounds on what helpers and operators produce during one evaluation.
const (
	// MaxStringBytes is the longest string an expression may build with +,
	// join, replace or string.
	MaxStringBytes = 16 << 10
	// MaxRegexBytes is the longest pattern regex_match and regex_extract
	// accept.
	MaxRegexBytes = 512
	// MaxPathBytes is the longest path get accepts.
	MaxPathBytes = 256
	// MaxLoopItems is the evaluation budget for iteration: the items all
	// loops of one field's evaluation (map, filter, all, any, …, including
	// nested ones) may visit, plus the items of the lists split, sort,
	// reverse, uniq, keys, values and take build.
	MaxLoopItems = 10_000
	// MaxLoopBytes is the budget for the bytes of the strings loop bodies
	// yield and those lists hold, in one field's evaluation.
	MaxLoopBytes = 1 << 20
	// MaxMemory is expr's memory budget for one evaluation (ranges, arrays,
	// maps and repeat count against it).
	MaxMemory = 64 << 10
)

// errStringTooLong is returned when an expression builds a string longer
// than MaxStringBytes.
var errStringTooLong = fmt.Errorf("evaluation budget exceeded: string longer than %d bytes", MaxStringBytes)

// helper is one function added to the expression environment.
type helper struct {
	name string
	fn   func(args ...any) (any, error)
}

// helpers are the functions mappings may call beyond expr's built-ins. Every
// name is documented, with an example, in doc.go.
var helpers = []helper{
	{"coalesce", coalesce},
	{"email_domain", emailDomain},
	{"get", getPath},
	{"primary", primary},
	{"regex_match", regexMatch},
	{"regex_extract", regexExtract},
	{"title_case", titleCase},
	{"to_bool", toBool},
	{"join", join},
	{"replace", replace},
	{"repeat", repeat},
	{"string", toString},
	{"lower", stringFunc("lower", strings.ToLower)},
	{"upper", stringFunc("upper", strings.ToUpper)},
	{"trim", trimFunc("trim", strings.Trim, strings.TrimSpace)},
	{"trimPrefix", trimFunc("trimPrefix", strings.TrimPrefix, nil)},
	{"trimSuffix", trimFunc("trimSuffix", strings.TrimSuffix, nil)},
	{addFunc, add},
	{fetchFunc, fetch},
}

// stringFunc makes a one-string helper that maps nil to nil (a missing
// attribute stays missing instead of failing the record).
func stringFunc(name string, f func(string) string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if err := argCount(name, args, 1, 1); err != nil {
			return nil, err
		}
		s, ok, err := optString(name, args[0])
		if !ok || err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

// trimFunc makes trim, trimPrefix and trimSuffix: (s, cut) with nil s
// giving nil; def, when set, is the one-argument form.
func trimFunc(name string, f func(string, string) string, def func(string) string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		min := 2
		if def != nil {
			min = 1
		}
		if err := argCount(name, args, min, 2); err != nil {
			return nil, err
		}
		s, ok, err := optString(name, args[0])
		if !ok || err != nil {
			return nil, err
		}
		if len(args) == 1 {
			return def(s), nil
		}
		cut, isStr := args[1].(string)
		if !isStr {
			return nil, fmt.Errorf("%s: want a string to cut, got %s", name, typeName(args[1]))
		}
		return f(s, cut), nil
	}
}

// fetchFunc is the internal function member access on maps and unknown
// values is rewritten to.
const fetchFunc = "__fetch"

// fetch is x.key: a map lookup, nil for a nil x, expr's own lookup
// otherwise.
func fetch(args ...any) (any, error) {
	key, _ := args[1].(string)
	switch x := args[0].(type) {
	case map[string]any:
		return x[key], nil
	case nil:
		return nil, nil
	}
	switch reflect.Indirect(reflect.ValueOf(args[0])).Kind() {
	case reflect.Struct, reflect.Map:
		return runtime.Fetch(args[0], args[1]), nil
	}
	return nil, fmt.Errorf("cannot fetch %s from a %s", key, typeName(args[0]))
}

// addFunc is the internal function string + is rewritten to, so that
// concatenation is bounded by MaxStringBytes.
const addFunc = "__add"

func argCount(name string, args []any, min, max int) error {
	if len(args) < min || len(args) > max {
		if min == max && min == 1 {
			return fmt.Errorf("%s takes 1 argument, got %d", name, len(args))
		}
		if min == max {
			return fmt.Errorf("%s takes %d arguments, got %d", name, min, len(args))
		}
		return fmt.Errorf("%s takes %d to %d arguments, got %d", name, min, max, len(args))
	}
	return nil
}

// blank reports whether v counts as missing for coalesce: nil, a string of
// only white space, or an empty list or map.
func blank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if !blank(a) {
			return a, nil
		}
	}
	return nil, nil
}

func optString(name string, v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	}
	return "", false, fmt.Errorf("%s: want a string, got %s", name, typeName(v))
}

func emailDomain(args ...any) (any, error) {
	if err := argCount("email_domain", args, 1, 1); err != nil {
		return nil, err
	}
	s, ok, err := optString("email_domain", args[0])
	if !ok || err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return nil, nil
	}
	d := strings.ToLower(strings.TrimSpace(s[i+1:]))
	if d == "" {
		return nil, nil
	}
	return d, nil
}

// pathStep is one step of a get path: a key, or an index when isIndex.
type pathStep struct {
	key     string
	index   int
	isIndex bool
}

var pathCache sync.Map // string → []pathStep; bounded by pathCacheSize
var pathCacheN int32
var pathCacheMu sync.Mutex

const pathCacheSize = 1024

// parsePath parses "a.b[0].c" and ["key with.dots"] steps.
func parsePath(p string) ([]pathStep, error) {
	if v, ok := pathCache.Load(p); ok {
		return v.([]pathStep), nil
	}
	if len(p) > MaxPathBytes {
		return nil, fmt.Errorf("get: path is %d bytes, more than the %d allowed", len(p), MaxPathBytes)
	}
	var steps []pathStep
	i := 0
	for i < len(p) {
		switch p[i] {
		case '.':
			if i == 0 || i == len(p)-1 {
				return nil, fmt.Errorf("get: path %q: misplaced '.' at byte %d", p, i+1)
			}
			i++
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("get: path %q: '[' at byte %d is not closed", p, i+1)
			}
			inner := p[i+1 : i+end]
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				steps = append(steps, pathStep{key: inner[1 : len(inner)-1]})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil {
					return nil, fmt.Errorf("get: path %q: want an index or a quoted key in [%s]", p, inner)
				}
				steps = append(steps, pathStep{index: n, isIndex: true})
			}
			i += end + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			steps = append(steps, pathStep{key: p[i:j]})
			i = j
		}
	}
	pathCacheMu.Lock()
	if pathCacheN < pathCacheSize {
		pathCacheN++
		pathCache.Store(p, steps)
	}
	pathCacheMu.Unlock()
	return steps, nil
}

// lookupKey finds key in m: exactly, else case-insensitively (Entra sends
// "Department" where Okta sends "department").
func lookupKey(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func getPath(args ...any) (any, error) {
	if err := argCount("get", args, 2, 2); err != nil {
		return nil, err
	}
	obj := args[0]
	switch p := args[1].(type) {
	case int:
		return index(obj, p), nil
	case float64:
		return index(obj, int(p)), nil
	case string:
		if m, ok := obj.(map[string]any); ok {
			if v, ok := m[p]; ok {
				return v, nil
			}
		}
		steps, err := parsePath(p)
		if err != nil {
			return nil, err
		}
		for _, s := range steps {
			if obj == nil {
				return nil, nil
			}
			if s.isIndex {
				obj = index(obj, s.index)
				continue
			}
			m, ok := obj.(map[string]any)
			if !ok {
				return nil, nil
			}
			obj, _ = lookupKey(m, s.key)
		}
		return obj, nil
	case nil:
		return nil, errors.New("get: path is nil")
	default:
		return nil, fmt.Errorf("get: want a path string or an index, got %s", typeName(p))
	}
}

// index returns list[i] (negative i counts from the end), or nil.
func index(list any, i int) any {
	switch l := list.(type) {
	case []any:
		if i < 0 {
			i += len(l)
		}
		if i >= 0 && i < len(l) {
			return l[i]
		}
	case []string:
		if i < 0 {
			i += len(l)
		}
		if i >= 0 && i < len(l) {
			return l[i]
		}
	}
	return nil
}

// isTrue reports whether v is true or a string spelling of true.
func isTrue(v any) bool {
	b, ok := parseBool(v)
	return ok && b
}

func primary(args ...any) (any, error) {
	if err := argCount("primary", args, 1, 1); err != nil {
		return nil, err
	}
	var list []any
	switch l := args[0].(type) {
	case nil:
		return nil, nil
	case []any:
		list = l
	case []string:
		if len(l) == 0 {
			return nil, nil
		}
		return l[0], nil
	case map[string]any:
		return l, nil
	default:
		return nil, fmt.Errorf("primary: want a list, got %s", typeName(args[0]))
	}
	if len(list) == 0 {
		return nil, nil
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if v, ok := lookupKey(m, "primary"); ok && isTrue(v) {
				return e, nil
			}
		}
	}
	return list[0], nil
}

type cachedRegex struct {
	re  *regexp.Regexp
	err error
}

var regexCache sync.Map // pattern → cachedRegex
var regexCacheN int32
var regexCacheMu sync.Mutex

const regexCacheSize = 256

func compileRegex(name, pattern string) (*regexp.Regexp, error) {
	if v, ok := regexCache.Load(pattern); ok {
		c := v.(cachedRegex)
		return c.re, c.err
	}
	if len(pattern) > MaxRegexBytes {
		return nil, fmt.Errorf("%s: pattern is %d bytes, more than the %d allowed", name, len(pattern), MaxRegexBytes)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		err = fmt.Errorf("%s: bad pattern: %w", name, err)
	}
	regexCacheMu.Lock()
	if regexCacheN < regexCacheSize {
		regexCacheN++
		regexCache.Store(pattern, cachedRegex{re, err})
	}
	regexCacheMu.Unlock()
	return re, err
}

func regexArgs(name string, args []any) (s string, re *regexp.Regexp, ok bool, err error) {
	if err := argCount(name, args, 2, 2); err != nil {
		return "", nil, false, err
	}
	pattern, isStr := args[1].(string)
	if !isStr {
		return "", nil, false, fmt.Errorf("%s: want a pattern string, got %s", name, typeName(args[1]))
	}
	if re, err = compileRegex(name, pattern); err != nil {
		return "", nil, false, err
	}
	s, ok, err = optString(name, args[0])
	return s, re, ok, err
}

func regexMatch(args ...any) (any, error) {
	s, re, ok, err := regexArgs("regex_match", args)
	if err != nil || !ok {
		return false, err
	}
	return re.MatchString(s), nil
}

func regexExtract(args ...any) (any, error) {
	s, re, ok, err := regexArgs("regex_extract", args)
	if err != nil || !ok {
		return nil, err
	}
	m := re.FindStringSubmatch(s)
	switch {
	case m == nil:
		return nil, nil
	case len(m) > 1:
		return m[1], nil
	}
	return m[0], nil
}

func titleCase(args ...any) (any, error) {
	if err := argCount("title_case", args, 1, 1); err != nil {
		return nil, err
	}
	s, ok, err := optString("title_case", args[0])
	if !ok || err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(len(s))
	start := true
	for _, r := range s {
		if start {
			b.WriteRune(unicode.ToTitle(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = unicode.IsSpace(r) || r == '-' || r == '\'' || r == '’' || r == '.' || r == '(' || r == '/'
	}
	return b.String(), nil
}

// parseBool reads a bool or a string or number spelling of one.
func parseBool(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "y", "1", "active", "enabled", "on":
			return true, true
		case "false", "no", "n", "0", "inactive", "disabled", "off", "terminated", "suspended":
			return false, true
		}
	case int:
		return x != 0, x == 0 || x == 1
	case float64:
		return x != 0, x == 0 || x == 1
	}
	return false, false
}

func toBool(args ...any) (any, error) {
	if err := argCount("to_bool", args, 1, 1); err != nil {
		return nil, err
	}
	if b, ok := parseBool(args[0]); ok {
		return b, nil
	}
	return nil, nil
}

// join is expr's join, bounded by MaxStringBytes and skipping nils.
func join(args ...any) (any, error) {
	if err := argCount("join", args, 1, 2); err != nil {
		return nil, err
	}
	sep := ""
	if len(args) == 2 {
		s, ok := args[1].(string)
		if !ok {
			return nil, fmt.Errorf("join: want a separator string, got %s", typeName(args[1]))
		}
		sep = s
	}
	var parts []string
	switch l := args[0].(type) {
	case nil:
		return nil, nil
	case []string:
		parts = l
	case []any:
		parts = make([]string, 0, len(l))
		for _, e := range l {
			switch x := e.(type) {
			case nil:
			case string:
				parts = append(parts, x)
			default:
				return nil, fmt.Errorf("join: want a list of strings, got an element of type %s", typeName(e))
			}
		}
	default:
		return nil, fmt.Errorf("join: want a list of strings, got %s", typeName(args[0]))
	}
	n := len(sep) * len(parts)
	for _, p := range parts {
		n += len(p)
		if n > MaxStringBytes {
			return nil, errStringTooLong
		}
	}
	return strings.Join(parts, sep), nil
}

// replace is expr's replace (all occurrences), bounded by MaxStringBytes.
func replace(args ...any) (any, error) {
	if err := argCount("replace", args, 3, 3); err != nil {
		return nil, err
	}
	s, ok, err := optString("replace", args[0])
	if !ok || err != nil {
		return nil, err
	}
	old, ok1 := args[1].(string)
	repl, ok2 := args[2].(string)
	if !ok1 || !ok2 {
		return nil, errors.New("replace: want (string, old string, new string)")
	}
	n := strings.Count(s, old)
	if len(s)+n*(len(repl)-len(old)) > MaxStringBytes {
		return nil, errStringTooLong
	}
	return strings.ReplaceAll(s, old, repl), nil
}

// repeat is expr's repeat, bounded by MaxStringBytes before it builds
// anything: expr's own checks the count against its memory budget but not
// the length it builds, so repeat(repeat("x", 16000), 100000) asked for
// 1.6 GB, and an allocation that large fails with a fatal error no recover
// catches.
func repeat(args ...any) (any, error) {
	if err := argCount("repeat", args, 2, 2); err != nil {
		return nil, err
	}
	s, ok, err := optString("repeat", args[0])
	if !ok || err != nil {
		return nil, err
	}
	var count float64
	switch x := args[1].(type) {
	case int:
		count = float64(x)
	case int64:
		count = float64(x)
	case float64:
		count = x
	default:
		return nil, fmt.Errorf("repeat: want a count, got %s", typeName(args[1]))
	}
	switch {
	case count != math.Trunc(count):
		return nil, fmt.Errorf("repeat: want a whole count, got %v", args[1])
	case count < 0:
		return nil, fmt.Errorf("repeat: negative count %v", args[1])
	case s == "" || count == 0:
		return "", nil // before a count too large for an int meets strings.Repeat
	case float64(len(s)) > MaxStringBytes/count:
		return nil, errStringTooLong
	}
	return strings.Repeat(s, int(count)), nil
}

// toString formats a scalar; lists and maps are refused (their text form is
// unbounded and never a clean profile value).
func toString(args ...any) (any, error) {
	if err := argCount("string", args, 1, 1); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case fmt.Stringer:
		s := x.String()
		if len(s) > MaxStringBytes {
			return nil, errStringTooLong
		}
		return s, nil
	}
	return nil, fmt.Errorf("string: cannot convert %s to a string", typeName(args[0]))
}

// add is + with string concatenation bounded by MaxStringBytes; other
// operands keep expr's semantics.
func add(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("+ takes 2 operands, got %d", len(args))
	}
	if a, ok := args[0].(string); ok {
		if b, ok := args[1].(string); ok {
			if len(a)+len(b) > MaxStringBytes {
				return nil, errStringTooLong
			}
			return a + b, nil
		}
	}
	return runtime.Add(args[0], args[1]), nil
}

// typeName names a value's type the way a mapping author thinks of it.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case bool:
		return "bool"
	case int, int64, int32, uint, uint64, float64, float32:
		return "number"
	case []any, []string:
		return "list"
	case map[string]any:
		return "map"
	default:
		t := reflect.TypeOf(x)
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			return "list"
		case reflect.Map:
			return "map"
		}
		return t.String()
	}
}

// shorten quotes a value for an error message, cut to a readable length.
func shorten(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 60 {
		cut := 57
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strconv.Quote(s)
}
