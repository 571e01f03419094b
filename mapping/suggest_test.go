package mapping

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// pairs lists a profile's (field, value) pairs the Suggest figure counts:
// the seven fields, active, and each tag field named in tagFields.
func pairs(p Profile, tagFields []string) map[string]string {
	out := map[string]string{
		FieldFirstName: p.FirstName, FieldLastName: p.LastName, FieldEmail: p.Email,
		FieldDepartment: p.Department, FieldDivision: p.Division, FieldOffice: p.Office, FieldTitle: p.Title,
		FieldActive: "",
	}
	if p.Active != nil {
		out[FieldActive] = fmt.Sprint(*p.Active)
	}
	for _, f := range tagFields {
		var vals []string
		for _, t := range p.Tags {
			if t.Field == f {
				vals = append(vals, t.Value)
			}
		}
		out["tags."+f] = strings.Join(vals, "|")
	}
	return out
}

// agreement maps truth records with the preset and variant records with
// the suggestion, and returns the share of (record, field) pairs that agree
// and the pairs that do not.
func agreement(t *testing.T, preset string, truth, variant []Record) (float64, []string) {
	t.Helper()
	pm := MustCompile(Config{Preset: preset})
	s, err := Suggest(variant)
	if err != nil {
		t.Fatalf("Suggest: %v", err)
	}
	sm, err := Compile(s.Config)
	if err != nil {
		t.Fatalf("suggested config does not compile: %v\n%+v", err, s.Config)
	}
	tagFields := sortedKeys(pm.Config().Tags)
	for name := range s.Config.Tags {
		if !slices.Contains(tagFields, name) {
			tagFields = append(tagFields, name)
		}
	}
	total, agree := 0, 0
	var diffs []string
	for i := range truth {
		want, err := pm.Map(&truth[i])
		if err != nil {
			t.Fatalf("preset on record %d: %v", i, err)
		}
		got, err := sm.Map(&variant[i])
		if err != nil {
			t.Fatalf("suggestion on record %d: %v\nconfig %+v", i, err, s.Config)
		}
		wp, gp := pairs(want, tagFields), pairs(got, tagFields)
		for f, w := range wp {
			total++
			if gp[f] == w {
				agree++
			} else {
				diffs = append(diffs, fmt.Sprintf("record %d %s: want %q, got %q (suggested %s)", i, f, w, gp[f], suggestedExpr(s.Config, f)))
			}
		}
	}
	slices.Sort(diffs)
	return float64(agree) / float64(total), diffs
}

func suggestedExpr(c Config, field string) string {
	if name, ok := strings.CutPrefix(field, "tags."); ok {
		return c.Tags[name]
	}
	return *c.field(field)
}

// renameKeys copies records with every key in raw and custom (at any depth)
// renamed by f.
func renameKeys(recs []Record, f func(string) string) []Record {
	var conv func(v any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				m[f(k)] = conv(e)
			}
			return m
		case []any:
			l := make([]any, len(x))
			for i, e := range x {
				l[i] = conv(e)
			}
			return l
		}
		return v
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Raw, _ = conv(r.Raw).(map[string]any)
		r.Custom, _ = conv(r.Custom).(map[string]any)
		out[i] = r
	}
	return out
}

func camelCase(k string) string {
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func pascalCase(k string) string {
	k = camelCase(k)
	if k == "" || !unicode.IsLower(rune(k[0])) {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// otherNames renames keys to the other spellings real directories use.
var otherNames = map[string]string{
	"first_name": "givenName", "firstName": "first_name", "givenName": "FirstName",
	"last_name": "surname", "lastName": "last_name", "familyName": "LastName",
	"department_name": "dept", "department": "Department_Name", "Department": "dept",
	"division_name": "Division", "division": "business_unit",
	"job_title": "title", "jobTitle": "Job_Title", "title": "jobTitle",
	"cost_center_name": "costCentre", "costCenter": "cost_center",
	"employee_type": "employmentType", "Worker_Type": "employee_type",
	"workEmail": "work_email", "work_email": "workEmail",
}

func synonymName(k string) string {
	if n, ok := otherNames[k]; ok {
		return n
	}
	return k
}

// moveNesting moves department, division and cost-center attributes from
// the top of raw and custom into an "org" object, and lifts a "name"
// object's members to the top.
func moveNesting(recs []Record) []Record {
	move := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		out := map[string]any{}
		org := map[string]any{}
		for k, v := range m {
			n := normKey(k)
			switch {
			case strings.HasPrefix(n, "department") || strings.HasPrefix(n, "division") || strings.HasPrefix(n, "costcent"):
				org[k] = v
			case n == "name":
				if nm, ok := v.(map[string]any); ok {
					for nk, nv := range nm {
						out[nk] = nv
					}
					continue
				}
				out[k] = v
			default:
				out[k] = v
			}
		}
		if len(org) > 0 {
			out["org"] = org
		}
		return out
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Raw, r.Custom = move(r.Raw), move(r.Custom)
		out[i] = r
	}
	return out
}

func TestSuggestReproducesPresetsOnTheirFixtures(t *testing.T) {
	t.Parallel()
	variants := []struct {
		name string
		make func([]Record) []Record
	}{
		{"AsExported", func(r []Record) []Record { return r }},
		{"KeysInCamelCase", func(r []Record) []Record { return renameKeys(r, camelCase) }},
		{"KeysInPascalCase", func(r []Record) []Record { return renameKeys(r, pascalCase) }},
		{"KeysRenamedToSynonyms", func(r []Record) []Record { return renameKeys(r, synonymName) }},
		{"NestingMoved", moveNesting},
	}
	for _, preset := range Presets() {
		for _, v := range variants {
			t.Run(preset+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				truth := loadFixture(t, preset)
				variant := v.make(truth)
				if v.name != "AsExported" && cmp.Equal(truth, variant) {
					t.Fatalf("variant %s left the %s fixture unchanged", v.name, preset)
				}
				score, diffs := agreement(t, preset, truth, variant)
				t.Logf("Suggest figure %-16s %-22s %5.1f%% of (record, field) pairs agree with the preset", preset, v.name, 100*score)
				if score < 0.9 {
					t.Errorf("agreement %.1f%% < 90%%; disagreements:\n%s", 100*score, strings.Join(diffs, "\n"))
				}
			})
		}
	}
}

func TestSuggestRefusesNoSamples(t *testing.T) {
	t.Parallel()
	if _, err := Suggest(nil); err == nil {
		t.Fatal("Suggest(nil) succeeded")
	}
}

func TestSuggestGivesAConfidenceForEveryFieldItMaps(t *testing.T) {
	t.Parallel()
	for _, preset := range Presets() {
		s, err := Suggest(loadFixture(t, preset))
		if err != nil {
			t.Fatal(err)
		}
		mapped := map[string]bool{}
		for _, f := range append(profileFields[:len(profileFields):len(profileFields)], FieldActive) {
			if *s.Config.field(f) != "" {
				mapped[f] = true
			}
		}
		for name := range s.Config.Tags {
			mapped["tags."+name] = true
		}
		for f := range mapped {
			if c, ok := s.Confidence[f]; !ok || c <= 0 || c > 1 {
				t.Errorf("%s: field %s has confidence %v (present %v), want in (0, 1]", preset, f, c, ok)
			}
		}
		for f := range s.Confidence {
			if !mapped[f] {
				t.Errorf("%s: confidence for unmapped field %s", preset, f)
			}
		}
		if len(mapped) < 5 {
			t.Errorf("%s: only %d fields suggested: %+v", preset, len(mapped), s.Config)
		}
	}
}
