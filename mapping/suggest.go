package mapping

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Bounds on Suggest's work.
const (
	// MaxSuggestSamples is the most sample records Suggest looks at; it
	// uses the first MaxSuggestSamples of a longer list.
	MaxSuggestSamples = 200
	suggestMaxDepth   = 5
	suggestMaxCands   = 2000
)

// Suggestion is a proposed mapping for a set of sample records.
type Suggestion struct {
	// Config is the proposed mapping (no preset; every field spelled out).
	Config Config `json:"config"`
	// Confidence per field that Config maps ("first_name", …, "active",
	// "tags.<name>"), from 0 to 1: how well the chosen attribute's name fits
	// the field times the share of samples that have a value for it.
	Confidence map[string]float64 `json:"confidence"`
}

// synonyms weighs attribute names (normalised: lower case, letters and
// digits only; an attribute is also tried with its parent's name in front,
// so name.givenName is "namegivenname") as evidence for each field. A
// negative weight (active only) means the attribute says the opposite
// ("suspended", "terminated").
var synonyms = map[string]map[string]float64{
	FieldFirstName: {"preferredfirstname": 1.1, "preferredname": 1.1, "firstname": 1, "givenname": 1, "namegivenname": 1,
		"first": 0.8, "fname": 0.8, "legalfirstname": 0.9, "forename": 0.9},
	FieldLastName: {"preferredlastname": 1.1, "lastname": 1, "familyname": 1, "namefamilyname": 1, "surname": 1,
		"last": 0.8, "lname": 0.8, "legallastname": 0.9},
	FieldEmail: {"workemail": 1.1, "primaryemail": 1.1, "emailsvalue": 1, "emailsaddress": 1, "email": 0.9,
		"emailaddress": 0.9, "workemailaddress": 1.1, "mail": 0.8, "username": 0.4, "upn": 0.5, "userprincipalname": 0.5},
	FieldDepartment: {"department": 1, "departmentname": 1, "dept": 1, "deptname": 1, "organizationsdepartment": 1,
		"supervisoryorganization": 0.8},
	FieldDivision: {"division": 1, "divisionname": 1, "businessunit": 0.9, "businessunitname": 0.9},
	FieldOffice: {"office": 1, "officename": 1, "officelocation": 1, "physicaldeliveryofficename": 1, "worklocationnickname": 1,
		"worklocationname": 1, "worklocation": 0.95, "location": 0.9, "locationname": 0.9, "locationsbuildingid": 0.9,
		"buildingid": 0.85, "addresseslocality": 0.8, "locality": 0.75, "worklocationcity": 0.8, "locationcity": 0.75,
		"workaddresscity": 0.75, "city": 0.7},
	FieldTitle: {"title": 1, "jobtitle": 1, "businesstitle": 1, "organizationstitle": 1, "jobstitle": 1, "position": 0.7,
		"positiontitle": 0.9, "jobprofile": 0.6, "designation": 0.7},
	FieldActive: {"active": 1, "isactive": 1, "activestatus": 1, "accountenabled": 1, "enabled": 0.9, "status": 0.9,
		"employeestatus": 0.9, "rolestate": 0.8, "suspended": -1, "terminated": -1, "disabled": -0.9, "isterminated": -1},
	"tags.cost_center": {"costcenter": 1, "costcentername": 1, "costcentre": 1, "costcentrename": 1, "organizationscostcenter": 1},
	"tags.employment": {"employeetype": 1, "employmenttype": 1, "workertype": 1, "employmenthistorystatus": 1,
		"currentemploymentstatus": 1, "usertype": 0.8, "workerstype": 1},
	"tags.team": {"team": 1, "teamname": 1, "employmentteam": 1},
}

// userFallback is the standard field each profile field falls back to.
var userFallback = map[string]string{
	FieldFirstName: "user.first_name",
	FieldLastName:  "user.last_name",
	FieldEmail:     "user.email",
	FieldTitle:     "user.job_title",
}

// candidate is one attribute of the samples that could feed a field.
type candidate struct {
	expr   string
	keys   []string // normalised leaf, and parent+leaf
	values []any    // per sample, evaluated
}

func normKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// collector walks sample records and gathers candidate attributes.
type collector struct {
	cands map[string]*candidate // by expression
	order []string
	// spellings of each case-folded path, to detect keys whose case varies
	// between records (then the expression uses get, which falls back to a
	// case-insensitive match).
	spellings map[string]map[string]bool
}

func (c *collector) add(expr string, leaf, parent string) {
	if _, ok := c.cands[expr]; ok || len(c.cands) >= suggestMaxCands {
		return
	}
	keys := []string{normKey(leaf)}
	if parent != "" {
		keys = append(keys, normKey(parent)+normKey(leaf))
	}
	c.cands[expr] = &candidate{expr: expr, keys: keys}
	c.order = append(c.order, expr)
}

// member renders a step into key from an expression.
func member(base, key string, caseVaries bool) (string, bool) {
	if strings.ContainsAny(key, `'"]\`) {
		return "", false
	}
	if identRE.MatchString(key) && !caseVaries {
		if base == "raw" || base == "custom" {
			return base + "." + key, true
		}
		return base + "?." + key, true
	}
	return `get(` + base + `, '["` + key + `"]')`, true
}

// walk visits a map, recording every scalar attribute (with its path) and
// descending into nested maps, lists of maps (through primary) and lists of
// {name, value} pairs.
func (c *collector) walk(base, foldedPath, parent string, m map[string]any, depth int) {
	if depth > suggestMaxDepth {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fp := foldedPath + "." + strings.ToLower(k)
		if c.spellings[fp] == nil {
			c.spellings[fp] = map[string]bool{}
		}
		c.spellings[fp][k] = true
	}
	for _, k := range keys {
		fp := foldedPath + "." + strings.ToLower(k)
		spelling, varies := k, len(c.spellings[fp]) > 1
		if varies {
			// One candidate for all spellings: get falls back to a
			// case-insensitive match.
			for sp := range c.spellings[fp] {
				if sp < spelling {
					spelling = sp
				}
			}
		}
		expr, ok := member(base, spelling, varies)
		if !ok {
			continue
		}
		switch v := m[k].(type) {
		case string, bool:
			c.add(expr, k, parent)
		case float64, int:
			c.add("string("+expr+")", k, parent)
		case map[string]any:
			c.walk(expr, fp, k, v, depth+1)
		case []any:
			if len(v) == 0 {
				continue
			}
			if pairs, ok := namedValues(v); ok {
				for _, name := range pairs {
					if strings.ContainsAny(name, `'"\`) {
						continue
					}
					c.add(`get(find(`+expr+` ?? [], lower(string(get(#, "name")) ?? "") == "`+strings.ToLower(name)+`"), "value")`, name, "")
				}
				continue
			}
			merged := map[string]any{}
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					for ek, ev := range em {
						if _, seen := merged[ek]; !seen || merged[ek] == nil {
							merged[ek] = ev
						}
					}
				}
			}
			if len(merged) > 0 {
				c.walk("primary("+expr+")", fp+"[]", k, merged, depth+1)
			}
		}
	}
}

// namedValues reports whether a list holds {name, value} pairs (Gusto's
// custom_fields), returning the names.
func namedValues(list []any) ([]string, bool) {
	var names []string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		name, ok1 := lookupKey(m, "name")
		_, ok2 := lookupKey(m, "value")
		s, isStr := name.(string)
		if !ok1 || !ok2 || !isStr {
			return nil, false
		}
		names = append(names, s)
	}
	return names, true
}

// Suggest proposes a mapping for sample records (from one source): for each
// field it looks for attributes whose names mean that field (first_name,
// firstName, FirstName, givenName, name.givenName, …; dept,
// department_name, …) anywhere in raw and custom, including inside lists
// (through primary) and {name, value} lists, and prefers provider attributes
// to the standard fields, which serve as fallback. Several fitting
// attributes are combined with coalesce, the better-named first.
func Suggest(samples []Record) (Suggestion, error) {
	if len(samples) == 0 {
		return Suggestion{}, errors.New("mapping: Suggest needs at least one sample record")
	}
	if len(samples) > MaxSuggestSamples {
		samples = samples[:MaxSuggestSamples]
	}
	c := &collector{cands: map[string]*candidate{}, spellings: map[string]map[string]bool{}}
	// Two passes: the first learns how each key is spelled across samples.
	for pass := 0; pass < 2; pass++ {
		c.cands, c.order = map[string]*candidate{}, nil
		for i := range samples {
			c.walk("raw", "raw", "", samples[i].Raw, 0)
			c.walk("custom", "custom", "", samples[i].Custom, 0)
		}
	}
	// Evaluate every candidate on every sample.
	for _, expr := range c.order {
		cand := c.cands[expr]
		prog, err := compileField("suggest", expr, kindTag)
		if err != nil {
			delete(c.cands, expr)
			continue
		}
		cand.values = make([]any, len(samples))
		st := newEvalState()
		for i := range samples {
			st.env.loopItems, st.env.loopBytes = 0, 0
			st.env.set(&samples[i])
			out, err := st.vm.Run(prog, &st.env)
			if err == nil {
				cand.values[i] = out
			}
		}
	}
	var out Suggestion
	out.Confidence = map[string]float64{}
	fields := append(profileFields[:len(profileFields):len(profileFields)], FieldActive, "tags.cost_center", "tags.employment", "tags.team")
	used := map[string]string{} // candidate expression → field that took it
	for _, field := range fields {
		expr, conf := c.choose(field, samples, used)
		if expr == "" {
			continue
		}
		out.Confidence[field] = math.Round(conf*100) / 100
		if name, ok := strings.CutPrefix(field, "tags."); ok {
			if out.Config.Tags == nil {
				out.Config.Tags = map[string]string{}
			}
			out.Config.Tags[name] = expr
			continue
		}
		*out.Config.field(field) = expr
	}
	return out, nil
}

type scored struct {
	expr     string
	weight   float64
	coverage float64
}

// choose picks the expression for one field.
func (c *collector) choose(field string, samples []Record, used map[string]string) (string, float64) {
	syn := synonyms[field]
	var list []scored
	for _, expr := range c.order {
		cand, ok := c.cands[expr]
		if !ok || cand.values == nil {
			continue
		}
		w := 0.0
		for _, k := range cand.keys {
			if v, ok := syn[k]; ok && math.Abs(v) > math.Abs(w) {
				w = v
			}
		}
		if w == 0 {
			continue
		}
		if other, taken := used[expr]; taken && other != field {
			continue
		}
		cov := coverage(field, cand.values)
		if cov == 0 {
			continue
		}
		list = append(list, scored{expr, w, cov})
	}
	sort.SliceStable(list, func(i, j int) bool {
		wi, wj := math.Abs(list[i].weight), math.Abs(list[j].weight)
		if wi != wj {
			return wi > wj
		}
		return list[i].coverage > list[j].coverage
	})
	if field == FieldActive {
		if len(list) == 0 || list[0].coverage < 0.5 {
			return "", 0
		}
		best := list[0]
		used[best.expr] = field
		conf := math.Min(1, math.Abs(best.weight)) * best.coverage
		if best.weight < 0 {
			return fmt.Sprintf("to_bool(%s) == nil ? nil : !to_bool(%s)", best.expr, best.expr), conf
		}
		return fmt.Sprintf("to_bool(%s)", best.expr), conf
	}
	var parts []string
	conf := 0.0
	for _, s := range list {
		if len(parts) == 3 || s.weight < 0.75*list[0].weight {
			break
		}
		parts = append(parts, s.expr)
		used[s.expr] = field
		conf = math.Max(conf, math.Min(1, s.weight)*s.coverage)
	}
	if fb, ok := userFallback[field]; ok && userCoverage(fb, samples) > 0 {
		parts = append(parts, fb)
		if conf == 0 {
			conf = 0.5 * userCoverage(fb, samples)
		}
	}
	if len(parts) == 0 {
		return "", 0
	}
	expr := parts[0]
	if len(parts) > 1 {
		expr = "coalesce(" + strings.Join(parts, ", ") + ")"
	}
	if field == FieldEmail {
		expr = "lower(" + expr + ")"
	}
	return expr, conf
}

// coverage is the share of samples where a candidate has a value fit for the
// field: a non-blank string (an address, for email), or for active a bool or
// a spelling of one.
func coverage(field string, values []any) float64 {
	n := 0
	for _, v := range values {
		switch field {
		case FieldActive:
			if _, ok := parseBool(v); ok {
				n++
			}
		case FieldEmail:
			if s, ok := v.(string); ok && strings.Contains(s, "@") {
				n++
			}
		default:
			if s, ok := v.(string); ok && Clean(s) != "" {
				n++
			}
		}
	}
	return float64(n) / float64(len(values))
}

func userCoverage(expr string, samples []Record) float64 {
	n := 0
	for i := range samples {
		r := &samples[i]
		var s string
		switch expr {
		case "user.first_name":
			s = r.FirstName
		case "user.last_name":
			s = r.LastName
		case "user.email":
			s = r.Email
		case "user.job_title":
			s = r.JobTitle
		}
		if Clean(s) != "" {
			n++
		}
	}
	return float64(n) / float64(len(samples))
}
