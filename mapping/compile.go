package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/directorysync/directorysync/search"
)

// Bounds on mapped values.
const (
	// MaxValueBytes is the longest value (after Clean) a field or tag may
	// yield.
	MaxValueBytes = 1024
	// MaxTagValues is the most values one tag field may yield per record.
	MaxTagValues = 32
)

// VersionPrefix starts every Mapping's Version; it changes only if the
// canonical form does.
const VersionPrefix = "m1:"

// userEnv is what expressions see as "user": the provider's standard fields.
type userEnv struct {
	ID        string    `expr:"id"`
	IdpID     string    `expr:"idp_id"`
	State     string    `expr:"state"`
	Email     string    `expr:"email"`
	FirstName string    `expr:"first_name"`
	LastName  string    `expr:"last_name"`
	Username  string    `expr:"username"`
	JobTitle  string    `expr:"job_title"`
	UpdatedAt time.Time `expr:"updated_at"`
}

// env is the typed expression environment. A typed struct (rather than a
// map) lets expr resolve names at compile time and is several times faster.
type env struct {
	User   userEnv        `expr:"user"`
	Raw    map[string]any `expr:"raw"`
	Custom map[string]any `expr:"custom"`
	// CollectionBudget and StepBudget are countCollection and countStep
	// bound to this env (a func-typed field is called without reflection,
	// unlike a method).
	CollectionBudget func(any) any `expr:"__collection_budget"`
	StepBudget       func(any) any `expr:"__step_budget"`

	loopItems int // items loops visited and built-ins built in this evaluation
	loopBytes int // bytes of the strings among them
}

// newEvalState returns a VM with the evaluation budget and an env whose
// loop budget counts into itself.
func newEvalState() *evalState {
	st := &evalState{vm: vm.VM{MemoryBudget: MaxMemory}}
	st.env.CollectionBudget = st.env.countCollection
	st.env.StepBudget = st.env.countStep
	return st
}

// The env entries the guardPatcher routes loops and built collections
// through; mappings cannot name them.
const (
	collectionBudgetFunc = "__collection_budget"
	stepBudgetFunc       = "__step_budget"
)

// errLoopBudget is the error (raised as a panic, which the VM turns into an
// error with the expression's position) when an evaluation exceeds its
// iteration budget.
var errLoopBudget = fmt.Errorf("evaluation budget exceeded: loops and built lists would handle more than %d items or %d bytes", MaxLoopItems, MaxLoopBytes)

// charge adds items and the bytes of a string to the evaluation's budget.
func (e *env) charge(items int, v any) {
	e.loopItems += items
	if s, ok := v.(string); ok {
		e.loopBytes += len(s)
	}
	if e.loopItems > MaxLoopItems || e.loopBytes > MaxLoopBytes {
		panic(errLoopBudget)
	}
}

// countCollection charges a collection a loop will visit, or a built-in
// has built, item by item.
func (e *env) countCollection(collection any) any {
	switch c := collection.(type) {
	case nil:
	case []any:
		e.charge(len(c), nil)
		for _, v := range c {
			e.charge(0, v)
		}
	case []string:
		e.charge(len(c), nil)
		for _, v := range c {
			e.charge(0, v)
		}
	case map[string]any:
		e.charge(len(c), nil)
	default:
		v := reflect.ValueOf(collection)
		switch v.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			e.charge(v.Len(), nil)
		}
	}
	return collection
}

// countStep charges one iteration of a loop body and what it yielded.
func (e *env) countStep(v any) any {
	e.charge(1, v)
	return v
}

func (e *env) set(rec *Record) {
	e.User = userEnv{
		ID:        rec.ExternalID,
		IdpID:     rec.IdpID,
		State:     string(rec.State),
		Email:     rec.Email,
		FirstName: rec.FirstName,
		LastName:  rec.LastName,
		Username:  rec.Username,
		JobTitle:  rec.JobTitle,
		UpdatedAt: rec.UpdatedAt,
	}
	e.Raw = rec.Raw
	e.Custom = rec.Custom
}

// allowedBuiltins are expr's built-ins a mapping may use; the rest are off
// (time-dependent ones would make a mapping's output change by itself, and
// the structural ones have no bound on what they build). join, replace,
// repeat and string are replaced by bounded helpers of the same name, and lower, upper,
// trim, trimPrefix and trimSuffix by ones that map nil to nil.
var allowedBuiltins = map[string]bool{
	"len": true, "abs": true, "ceil": true, "floor": true, "round": true, "int": true, "float": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"split": true, "splitAfter": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true, "first": true, "last": true, "take": true,
	"keys": true, "values": true, "reverse": true, "uniq": true, "sort": true,
}

// loopBuiltins are the predicate built-ins: each iteration of their
// predicate is charged to the budget. reduce is refused (its accumulator can
// double a value per step).
var loopBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true,
	"sum": true, "find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"groupBy": true, "sortBy": true,
}

// builtCollections are the built-ins that build a list (or a map) whose
// items are charged to the budget.
var builtCollections = map[string]bool{
	"split": true, "splitAfter": true, "sort": true, "reverse": true, "uniq": true, "keys": true, "values": true, "take": true,
}

var exprOptions = func() []expr.Option {
	opts := []expr.Option{
		expr.Env(env{}),
		expr.MaxNodes(MaxExpressionNodes),
	}
	for _, b := range builtin.Builtins {
		if !allowedBuiltins[b.Name] {
			opts = append(opts, expr.DisableBuiltin(b.Name))
		}
	}
	for _, h := range helpers {
		opts = append(opts, expr.Function(h.name, h.fn))
	}
	return opts
}()

// guardPatcher rewrites an expression so its evaluation is bounded: string
// + goes through the bounded __add, and every loop's collection through
// the env's loop budget. It also refuses reduce and direct use of the
// internal names.
type guardPatcher struct {
	inserted map[ast.Node]bool
	err      *file.Error
}

func (p *guardPatcher) fail(n ast.Node, format string, args ...any) {
	if p.err == nil {
		p.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

// wrap returns a call of the internal function fn on arg.
func (p *guardPatcher) wrap(fn string, arg ast.Node) ast.Node {
	callee := &ast.IdentifierNode{Value: fn}
	call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{arg}}
	call.SetLocation(arg.Location())
	callee.SetLocation(arg.Location())
	p.inserted[call], p.inserted[callee] = true, true
	return call
}

func isNumeric(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// Visit rewrites one node (ast.Walk calls it children first).
func (p *guardPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case collectionBudgetFunc, stepBudgetFunc, addFunc, fetchFunc:
			if !p.inserted[n] {
				p.fail(n, "unknown name %s", n.Value)
			}
		}
	case *ast.BuiltinNode:
		switch {
		case n.Name == "reduce":
			p.fail(n, "reduce is not available in mappings")
		case loopBuiltins[n.Name] && len(n.Arguments) > 1:
			if pred, ok := n.Arguments[1].(*ast.PredicateNode); ok {
				pred.Node = p.wrap(stepBudgetFunc, pred.Node)
			}
		case loopBuiltins[n.Name] && len(n.Arguments) == 1:
			n.Arguments[0] = p.wrap(collectionBudgetFunc, n.Arguments[0])
		case builtCollections[n.Name]:
			ast.Patch(node, p.wrap(collectionBudgetFunc, n))
		}
	case *ast.MemberNode:
		// x.key on a map or an unknown value: a direct lookup instead of
		// expr's reflection (several times faster; nil.key is nil).
		key, ok := n.Property.(*ast.StringNode)
		if !ok || n.Method {
			return
		}
		if t := n.Node.Type(); t != nil && t != mapType && t.Kind() != reflect.Interface {
			return
		}
		callee := &ast.IdentifierNode{Value: fetchFunc}
		call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{n.Node, key}}
		call.SetLocation(n.Location())
		callee.SetLocation(n.Location())
		p.inserted[call], p.inserted[callee] = true, true
		ast.Patch(node, call)
	case *ast.BinaryNode:
		if n.Operator != "+" {
			return
		}
		if isNumeric(n.Left.Type()) && isNumeric(n.Right.Type()) {
			return
		}
		callee := &ast.IdentifierNode{Value: addFunc}
		call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{n.Left, n.Right}}
		call.SetLocation(n.Location())
		callee.SetLocation(n.Location())
		p.inserted[call], p.inserted[callee] = true, true
		ast.Patch(node, call)
	}
}

var mapType = reflect.TypeOf(map[string]any(nil))

// CompileError is an expression that does not compile. Line and Column
// (1-based, in runes) locate the problem inside the field's expression.
type CompileError struct {
	Field string // e.g. "department" or "tags.team"
	// Line is the 1-based line of the problem in the expression; 0 when the
	// error is about the whole expression (e.g. it is too long), and then
	// Column is 0 too.
	Line int
	// Column is the 1-based column, in runes, within Line.
	Column int
	// Message says what is wrong, in expr-lang's words or ours, without the
	// field or position.
	Message string
}

// Error formats the error as "mapping field F: LINE:COLUMN: MESSAGE".
func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("mapping field %s: %d:%d: %s", e.Field, e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("mapping field %s: %s", e.Field, e.Message)
}

// fieldKind is what a compiled expression must yield.
type fieldKind int

const (
	kindString fieldKind = iota // a string or nil
	kindTag                     // a string, a list of strings, or nil
	kindBool                    // a bool or nil
	kindAny                     // anything (candidate and test expressions)
)

// program is one compiled field.
type program struct {
	field string // profile field name, or "tags.<name>"
	tag   string // the tag field's name, for kindTag
	kind  fieldKind
	prog  *vm.Program
}

// compileField compiles one expression for field.
func compileField(field, src string, kind fieldKind) (*vm.Program, error) {
	if len(src) > MaxExpressionBytes {
		return nil, &CompileError{Field: field, Message: fmt.Sprintf("expression is %d bytes, more than the %d allowed", len(src), MaxExpressionBytes)}
	}
	guard := &guardPatcher{inserted: map[ast.Node]bool{}}
	opts := append(exprOptions[:len(exprOptions):len(exprOptions)], expr.Patch(guard))
	prog, err := compileSafely(src, opts)
	if guard.err != nil {
		err = guard.err.Bind(file.NewSource(src))
	}
	if err != nil {
		return nil, compileError(field, err)
	}
	if msg := checkType(prog.Node().Type(), kind); msg != "" {
		loc := prog.Node().Location()
		fe := (&file.Error{Location: loc, Message: msg}).Bind(file.NewSource(src))
		return nil, compileError(field, fe)
	}
	return prog, nil
}

// compileSafely turns a panic inside expr's compiler (which random input has
// provoked in the past) into an error.
func compileSafely(src string, opts []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("expression cannot be compiled: %v", r)
		}
	}()
	return expr.Compile(src, opts...)
}

func compileError(field string, err error) *CompileError {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if strings.Contains(msg, "exceeds maximum allowed nodes") || strings.Contains(msg, "compilation exceeded maximum") {
			msg = fmt.Sprintf("expression has more than %d nodes", MaxExpressionNodes)
		}
		line := fe.Line
		if line == 0 {
			line = 1
		}
		return &CompileError{Field: field, Line: line, Column: fe.Column + 1, Message: msg}
	}
	msg := err.Error()
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		msg = fmt.Sprintf("expression has more than %d nodes", MaxExpressionNodes)
	}
	return &CompileError{Field: field, Message: msg}
}

// checkType refuses, at compile time, an expression whose static type can
// never be what the field needs. Unknown (interface) types are checked at
// evaluation.
func checkType(t reflect.Type, kind fieldKind) string {
	if t == nil || t.Kind() == reflect.Interface {
		return ""
	}
	switch kind {
	case kindString:
		if t.Kind() != reflect.String {
			return fmt.Sprintf("expression yields %s; want a string or nil (convert with string(...))", t)
		}
	case kindTag:
		if t.Kind() != reflect.String && t.Kind() != reflect.Slice {
			return fmt.Sprintf("expression yields %s; want a string, a list of strings, or nil", t)
		}
	case kindBool:
		if t.Kind() != reflect.Bool {
			return fmt.Sprintf("expression yields %s; want a bool or nil (convert with to_bool(...))", t)
		}
	}
	return ""
}

// Mapping is a compiled mapping config. It implements Mapper and is safe for
// concurrent use.
type Mapping struct {
	config   Config // resolved
	version  string
	programs []program
	tagProgs int // how many programs are tag fields
	pool     sync.Pool
}

var _ Mapper = (*Mapping)(nil)

type evalState struct {
	vm  vm.VM
	env env
}

// Compile validates and compiles a mapping config (merged over its preset).
// Every expression that fails is reported, each as a *CompileError naming the
// field and the line:column; the errors are joined.
func Compile(cfg Config) (*Mapping, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := cfg.Resolve()
	m := &Mapping{config: r}
	var errs []error
	add := func(field, tag, src string, kind fieldKind) {
		if src == "" {
			return
		}
		prog, err := compileField(field, src, kind)
		if err != nil {
			errs = append(errs, err)
			return
		}
		m.programs = append(m.programs, program{field: field, tag: tag, kind: kind, prog: prog})
		if kind == kindTag {
			m.tagProgs++
		}
	}
	for _, f := range profileFields {
		add(f, "", *r.field(f), kindString)
	}
	add(FieldActive, "", r.Active, kindBool)
	for _, name := range sortedKeys(r.Tags) {
		add("tags."+name, name, r.Tags[name], kindTag)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	canon, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("mapping: canonical form: %w", err)
	}
	sum := sha256.Sum256(canon)
	m.version = VersionPrefix + hex.EncodeToString(sum[:12])
	m.pool.New = func() any { return newEvalState() }
	return m, nil
}

// MustCompile is Compile for configs known to be valid (presets, tests); it
// panics on error.
func MustCompile(cfg Config) *Mapping {
	m, err := Compile(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// Version is a hash of the mapping's canonical form (after the preset
// merge): equal configs have equal versions whatever their key order,
// spacing around expressions or preset indirection.
func (m *Mapping) Version() string { return m.version }

// Config returns the resolved config the mapping was compiled from (no
// preset; the preset's expressions merged in).
func (m *Mapping) Config() Config { return m.config.clone() }

// Map evaluates every field for one record. It never panics; a failure is a
// *FieldError naming the record and the (first failing) field.
func (m *Mapping) Map(rec *Record) (Profile, error) {
	if rec == nil {
		return Profile{}, &FieldError{Err: errors.New("nil record")}
	}
	st := m.pool.Get().(*evalState)
	defer func() {
		st.env.Raw, st.env.Custom = nil, nil
		m.pool.Put(st)
	}()
	st.env.set(rec)
	var p Profile
	for i := range m.programs {
		pr := &m.programs[i]
		st.env.loopItems, st.env.loopBytes = 0, 0
		out, err := st.vm.Run(pr.prog, &st.env)
		if err != nil {
			return Profile{}, &FieldError{ExternalID: rec.ExternalID, Field: pr.field, Err: runtimeError(err)}
		}
		switch pr.kind {
		case kindString:
			s, err := asValue(out)
			if err != nil {
				return Profile{}, &FieldError{ExternalID: rec.ExternalID, Field: pr.field, Err: err}
			}
			setField(&p, pr.field, s)
		case kindBool:
			switch b := out.(type) {
			case nil:
			case bool:
				p.Active = &b
			default:
				return Profile{}, &FieldError{ExternalID: rec.ExternalID, Field: pr.field,
					Err: fmt.Errorf("yielded %s; want a bool or nil (convert with to_bool(...))", describe(out))}
			}
		case kindTag:
			if p.Tags == nil {
				p.Tags = make([]Tag, 0, m.tagProgs)
			}
			var err error
			if p.Tags, err = appendTags(p.Tags, pr.tag, out); err != nil {
				return Profile{}, &FieldError{ExternalID: rec.ExternalID, Field: pr.field, Err: err}
			}
		}
	}
	if len(p.Tags) == 0 {
		p.Tags = nil // no tags is nil, as in a Profile built by hand
	}
	return p, nil
}

// runtimeError unwraps expr's run-time error into its message and position.
func runtimeError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if strings.Contains(msg, "memory budget exceeded") {
			msg = fmt.Sprintf("evaluation budget exceeded: the expression would use more than %d units of memory", MaxMemory)
		}
		return fmt.Errorf("%d:%d: %s", max(fe.Line, 1), fe.Column+1, msg)
	}
	return err
}

// describe names a value's type and, for a scalar, quotes it.
func describe(v any) string {
	switch v.(type) {
	case string, bool, int, int64, float64:
		return typeName(v) + " " + shorten(v)
	}
	return typeName(v)
}

// asValue converts a string-field result: a string (cleaned; empty means
// unset) or nil.
func asValue(out any) (string, error) {
	switch s := out.(type) {
	case nil:
		return "", nil
	case string:
		c := Clean(s)
		if len(c) > MaxValueBytes {
			return "", fmt.Errorf("yielded a value of %d bytes, more than the %d allowed", len(c), MaxValueBytes)
		}
		return c, nil
	}
	return "", fmt.Errorf("yielded %s; want a string or nil (convert with string(...))", describe(out))
}

func setField(p *Profile, field, v string) {
	switch field {
	case FieldFirstName:
		p.FirstName = v
	case FieldLastName:
		p.LastName = v
	case FieldEmail:
		p.Email = v
	case FieldDepartment:
		p.Department = v
	case FieldDivision:
		p.Division = v
	case FieldOffice:
		p.Office = v
	case FieldTitle:
		p.Title = v
	}
}

// appendTags adds a tag expression's values, cleaned, without empties and
// without values that fold alike (search.Fold) within the field, keeping
// tags sorted by field then value.
func appendTags(tags []Tag, field string, out any) ([]Tag, error) {
	start := len(tags)
	addOne := func(v any, elem int) error {
		var s string
		switch x := v.(type) {
		case nil:
			return nil
		case string:
			s = Clean(x)
		default:
			what := "yielded " + describe(v)
			if elem >= 0 {
				what = fmt.Sprintf("yielded a list whose element %d is %s", elem, describe(v))
			}
			return fmt.Errorf("%s; want a string, a list of strings, or nil", what)
		}
		if s == "" {
			return nil
		}
		if len(s) > MaxValueBytes {
			return fmt.Errorf("yielded a value of %d bytes, more than the %d allowed", len(s), MaxValueBytes)
		}
		if len(tags) > start {
			f := search.Fold(s)
			for _, t := range tags[start:] {
				if t.Value == s || search.Fold(t.Value) == f {
					return nil
				}
			}
		}
		if len(tags)-start >= MaxTagValues {
			return fmt.Errorf("yielded more than %d values", MaxTagValues)
		}
		tags = append(tags, Tag{Field: field, Value: s})
		return nil
	}
	switch l := out.(type) {
	case []any:
		for i, v := range l {
			if err := addOne(v, i); err != nil {
				return nil, err
			}
		}
	case []string:
		for i, v := range l {
			if err := addOne(v, i); err != nil {
				return nil, err
			}
		}
	default:
		if err := addOne(out, -1); err != nil {
			return nil, err
		}
	}
	sortTags(tags[start:])
	return tags, nil
}

// sortTags sorts one field's values (few: insertion sort, no allocation).
func sortTags(t []Tag) {
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j].Value < t[j-1].Value; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
}
