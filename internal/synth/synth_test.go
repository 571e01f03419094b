package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

func TestRecords(t *testing.T) {
	t.Parallel()

	t.Run("SameSeedGivesTheSameRecords", func(t *testing.T) {
		t.Parallel()
		if diff := diffSlices(Records(7, 2000), Records(7, 2000)); diff != "" {
			t.Fatalf("Records(7, 2000) differs between calls (-first +second):\n%s", diff)
		}
	})

	t.Run("ASmallerDirectoryIsAPrefixOfALargerOne", func(t *testing.T) {
		t.Parallel()
		small, large := Records(3, 500), Records(3, 5000)
		if diff := diffSlices(small, large[:500]); diff != "" {
			t.Fatalf("Records(3, 500) is not a prefix of Records(3, 5000) (-small +large):\n%s", diff)
		}
	})

	t.Run("DifferentSeedsGiveDifferentPeople", func(t *testing.T) {
		t.Parallel()
		a, b := Records(1, 1000), Records(2, 1000)
		same := 0
		for i := range a {
			if a[i].ExternalID == b[i].ExternalID || a[i].Email == b[i].Email && a[i].UpdatedAt.Equal(b[i].UpdatedAt) {
				same++
			}
		}
		if same > 0 {
			t.Fatalf("%d of 1000 people are identical for seeds 1 and 2", same)
		}
	})

	t.Run("NoneForZeroOrNegativeN", func(t *testing.T) {
		t.Parallel()
		if got := len(Records(1, 0)) + len(Records(1, -5)); got != 0 {
			t.Fatalf("got %d records, want 0", got)
		}
	})

	t.Run("RecordsHaveTheWorkOSShape", func(t *testing.T) {
		t.Parallel()
		recs := Records(42, 20000)
		ids := map[string]bool{}
		idps := map[string]bool{}
		emails := map[string]bool{}
		states := map[mapping.State]int{}
		depts := map[string]int{}
		divs := map[string]bool{}
		offs := map[string]bool{}
		var nonASCII, hyphen, apostrophe, plus, noOffice int
		for i := range recs {
			r := &recs[i]
			if !strings.HasPrefix(r.ExternalID, "directory_user_01") || len(r.ExternalID) != 41 {
				t.Fatalf("record %d: external ID %q is not directory_user_ and a ULID", i, r.ExternalID)
			}
			if !strings.HasPrefix(r.IdpID, "00u") || len(r.IdpID) != 20 {
				t.Fatalf("record %d: idp ID %q is not Okta-shaped", i, r.IdpID)
			}
			if ids[r.ExternalID] || idps[r.IdpID] || emails[r.Email] {
				t.Fatalf("record %d: duplicate external ID, idp ID or email (%q, %q, %q)", i, r.ExternalID, r.IdpID, r.Email)
			}
			ids[r.ExternalID], idps[r.IdpID], emails[r.Email] = true, true, true
			if r.Email != strings.ToLower(r.Email) || !strings.HasSuffix(r.Email, "@"+Domain) || !isASCII(r.Email) {
				t.Fatalf("record %d: email %q is not a lower-case ASCII address at %s", i, r.Email, Domain)
			}
			if r.FirstName == "" || r.LastName == "" || !utf8.ValidString(r.FirstName+r.LastName) {
				t.Fatalf("record %d: bad name %q %q", i, r.FirstName, r.LastName)
			}
			if r.UpdatedAt.IsZero() || r.UpdatedAt.After(base) {
				t.Fatalf("record %d: updated_at %v is not before %v", i, r.UpdatedAt, base)
			}
			if r.Custom["manager_email"] == nil && i > 0 {
				t.Fatalf("record %d has no manager", i)
			}
			if m, _ := r.Custom["manager_email"].(string); m != "" && !emails[m] {
				t.Fatalf("record %d: manager %q is not an earlier person", i, m)
			}
			states[r.State]++
			if d, ok := r.Custom["department_name"].(string); ok {
				depts[d]++
			}
			divs[r.Custom["division_name"].(string)] = true
			if a, ok := r.Custom["addresses"].([]any); ok {
				offs[a[0].(map[string]any)["locality"].(string)] = true
			} else {
				noOffice++
			}
			name := r.FirstName + " " + r.LastName
			if !isASCII(name) {
				nonASCII++
			}
			if strings.Contains(name, "-") {
				hyphen++
			}
			if strings.Contains(name, "'") {
				apostrophe++
			}
			if strings.Contains(r.Email, "+") {
				plus++
			}
		}
		inactive := float64(states[mapping.StateInactive]+states[mapping.StateSuspended]) / float64(len(recs))
		if inactive < 0.02 || inactive > 0.04 || states[mapping.StateSuspended] == 0 {
			t.Errorf("inactive or suspended: %.3f (%v); want about 3 %% with some suspended", inactive, states)
		}
		if len(divs) != len(divisions) {
			t.Errorf("%d divisions used, want %d", len(divs), len(divisions))
		}
		if len(offs) != len(offices) || len(offices) < 40 {
			t.Errorf("%d offices used of %d, want all of at least 40", len(offs), len(offices))
		}
		if noOffice == 0 {
			t.Errorf("nobody is remote (without an address)")
		}
		if depts["Engineering"] <= 2*depts["Customer Success"] || depts["Customer Success"] <= 2*depts["Design"] {
			t.Errorf("departments are not Zipf-like: Engineering %d, Customer Success %d, Design %d",
				depts["Engineering"], depts["Customer Success"], depts["Design"])
		}
		if depts["customer success"] == 0 {
			t.Errorf("no department spelled in a second case; facets should see values that fold alike")
		}
		for what, n := range map[string]int{"non-ASCII names": nonASCII, "hyphenated names": hyphen, "names with an apostrophe": apostrophe, "plus-addressed emails": plus} {
			if n == 0 {
				t.Errorf("no %s among %d people", what, len(recs))
			}
		}
		if float64(nonASCII)/float64(len(recs)) < 0.2 {
			t.Errorf("only %d of %d names are non-ASCII", nonASCII, len(recs))
		}
	})

	t.Run("RecordsSurviveAJSONRoundTrip", func(t *testing.T) {
		t.Parallel()
		for _, r := range Records(9, 50) {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back mapping.Record
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if store.HashSource(&back) != store.HashSource(&r) {
				t.Fatalf("record %s hashes differently after a JSON round trip", r.ExternalID)
			}
		}
	})
}

func TestEmailSlugs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"O'Connor", "oconnor"},
		{"Anne-Marie", "anne-marie"},
		{"Ó Súilleabháin", "osuilleabhain"},
		{"Weiß", "weiss"},
		{"Øvergaard", "overgaard"},
		{"Łukasz", "lukasz"},
		{"van der Berg", "vanderberg"},
		{"Işıl", "isil"},
		{"Þórdís", "thordis"},
	} {
		if got := slug(tc.name); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	for i, s := range append(append([]string{}, firstSlugs...), lastSlugs...) {
		if s == "" || !isASCII(s) {
			t.Errorf("slug %d %q is not ASCII", i, s)
		}
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	const n = 5000
	recs := Records(11, n)
	users := Users(11, "acme", "src_1", n)
	if len(users) != n {
		t.Fatalf("got %d users, want %d", len(users), n)
	}
	if diff := diffSlices(users, Users(11, "acme", "src_1", n)); diff != "" {
		t.Fatalf("Users is not deterministic (-first +second):\n%s", diff)
	}
	seen := map[string]bool{}
	for i := range users {
		u, r := &users[i], &recs[i]
		if u.OrgID != "acme" || u.SourceID != "src_1" || u.ExternalID != r.ExternalID || u.IdpID != r.IdpID {
			t.Fatalf("user %d: org, source or IDs wrong: %+v", i, u)
		}
		if !strings.HasPrefix(u.ID, "user_01") || seen[u.ID] || u.ID != UserID(r.ExternalID) {
			t.Fatalf("user %d: ID %q is not a unique user_ ID derived from %q", i, u.ID, r.ExternalID)
		}
		seen[u.ID] = true
		if u.Active != r.State.Active() || u.Email != r.Email || u.FirstName != r.FirstName || u.LastName != r.LastName {
			t.Fatalf("user %d does not carry the record's state, email or names", i)
		}
		if d, _ := r.Custom["department_name"].(string); u.Department != d {
			t.Fatalf("user %d: department %q, record has %q", i, u.Department, d)
		}
		if a, ok := r.Custom["addresses"].([]any); ok {
			if want := a[0].(map[string]any)["locality"]; u.Office != want {
				t.Fatalf("user %d: office %q, want %q", i, u.Office, want)
			}
		} else if u.Office != "" {
			t.Fatalf("user %d: office %q for a remote person", i, u.Office)
		}
		if u.Division == "" {
			t.Fatalf("user %d has no division", i)
		}
		for _, tg := range u.Tags {
			if tg.Field != TagCostCenter && tg.Field != TagEmployment && tg.Field != TagTeam {
				t.Fatalf("user %d: unexpected tag field %q", i, tg.Field)
			}
		}
		if diff := cmp.Diff(store.NormalizeTags(u.Tags), u.Tags); diff != "" {
			t.Fatalf("user %d: tags not normalised:\n%s", i, diff)
		}
		if u.SourceHash != store.HashSource(r) || u.ProfileHash != store.HashProfile(u) {
			t.Fatalf("user %d: hashes are not store.HashSource / store.HashProfile", i)
		}
		var back mapping.Record
		if err := json.Unmarshal(u.Source, &back); err != nil || back.ExternalID != r.ExternalID {
			t.Fatalf("user %d: source is not the record's JSON: %v", i, err)
		}
		if !u.ProviderUpdatedAt.Equal(r.UpdatedAt) || u.MappingVersion != MappingVersion {
			t.Fatalf("user %d: provider updated_at or mapping version wrong", i)
		}
	}
	tagFields := map[string]bool{}
	for _, u := range users {
		for _, tg := range u.Tags {
			tagFields[tg.Field] = true
		}
	}
	if len(tagFields) != 3 {
		t.Fatalf("tag fields used: %v, want 3", tagFields)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	recs := Records(5, 3000)

	t.Run("EachPersonIsInOneToThreeGroups", func(t *testing.T) {
		t.Parallel()
		groups := Groups(5, recs, 40)
		if len(groups) != 40 {
			t.Fatalf("got %d groups, want 40", len(groups))
		}
		per := map[string]int{}
		names, ids := map[string]bool{}, map[string]bool{}
		for _, g := range groups {
			if names[g.Name] || ids[g.ExternalID] || !strings.HasPrefix(g.ExternalID, "directory_group_01") {
				t.Fatalf("group %q / %q is a duplicate or has a bad ID", g.Name, g.ExternalID)
			}
			names[g.Name], ids[g.ExternalID] = true, true
			inGroup := map[string]bool{}
			for _, m := range g.Members {
				if inGroup[m] {
					t.Fatalf("%s is twice in group %q", m, g.Name)
				}
				inGroup[m] = true
				per[m]++
			}
		}
		hist := map[int]int{}
		for _, r := range recs {
			hist[per[r.ExternalID]]++
		}
		if hist[0] != 0 || hist[1] == 0 || hist[2] == 0 || hist[3] == 0 || len(hist) != 3 {
			t.Fatalf("people per number of groups: %v, want only 1, 2 and 3", hist)
		}
		if len(groups[0].Members) <= 3*len(groups[39].Members) {
			t.Errorf("group sizes are not skewed: first %d, last %d", len(groups[0].Members), len(groups[39].Members))
		}
	})

	t.Run("IsDeterministic", func(t *testing.T) {
		t.Parallel()
		if diff := diffSlices(Groups(5, recs, 100), Groups(5, recs, 100)); diff != "" {
			t.Fatalf("(-first +second):\n%s", diff)
		}
	})

	t.Run("FewerGroupsThanThreeCapMemberships", func(t *testing.T) {
		t.Parallel()
		groups := Groups(5, recs[:100], 2)
		if got := len(groups[0].Members) + len(groups[1].Members); got < 100 || got > 200 {
			t.Fatalf("%d memberships for 100 people in 2 groups", got)
		}
	})

	t.Run("NoneForZeroGroups", func(t *testing.T) {
		t.Parallel()
		if g := Groups(5, recs, 0); g != nil {
			t.Fatalf("got %d groups", len(g))
		}
	})
}

func TestChurn(t *testing.T) {
	t.Parallel()
	const n = 10000
	recs := Records(21, n)
	before, _ := json.Marshal(recs)
	out := Churn(99, recs, 0.05, 0.02, 0.03)
	after, _ := json.Marshal(recs)
	if string(before) != string(after) {
		t.Fatalf("Churn mutated its input")
	}
	if diff := diffSlices(out, Churn(99, recs, 0.05, 0.02, 0.03)); diff != "" {
		t.Fatalf("Churn is not deterministic:\n%s", diff)
	}
	if diff := diffSlices(out, Churn(100, recs, 0.05, 0.02, 0.03)); diff == "" {
		t.Fatalf("Churn gives the same listing for seeds 99 and 100")
	}

	old := map[string]*mapping.Record{}
	for i := range recs {
		old[recs[i].ExternalID] = &recs[i]
	}
	emails := map[string]bool{}
	var kept, changed, added int
	for i := range out {
		r := &out[i]
		if emails[r.Email] {
			t.Fatalf("email %q is used twice after churn", r.Email)
		}
		emails[r.Email] = true
		o, ok := old[r.ExternalID]
		if !ok {
			added++
			if i < len(out)-int(0.03*n) {
				t.Fatalf("new person %s is not appended at the end", r.ExternalID)
			}
			continue
		}
		if store.HashSource(o) == store.HashSource(r) {
			kept++
			continue
		}
		changed++
		if !r.UpdatedAt.After(o.UpdatedAt) {
			t.Fatalf("%s changed without a later updated_at", r.ExternalID)
		}
		u, v := UserOf("o", "s", o), UserOf("o", "s", r)
		if u.Department == v.Department && u.Title == v.Title && u.Office == v.Office {
			t.Fatalf("%s changed but not its department, title or office", r.ExternalID)
		}
		if u.Email != v.Email || u.FirstName != v.FirstName || u.IdpID != v.IdpID {
			t.Fatalf("%s changed identity fields", r.ExternalID)
		}
	}
	gone := n - kept - changed
	for what, got := range map[string][2]int{"updated": {changed, 500}, "gone": {gone, 200}, "added": {added, 300}} {
		if got[0] != got[1] {
			t.Errorf("%s: %d, want %d", what, got[0], got[1])
		}
	}

	t.Run("ClampsFractions", func(t *testing.T) {
		t.Parallel()
		if got := len(Churn(1, recs[:100], 2, math.NaN(), -1)); got != 100 {
			t.Fatalf("got %d records, want 100", got)
		}
		if got := len(Churn(1, recs[:100], 0.5, 1, 0)); got != 0 {
			t.Fatalf("everyone gone: got %d records, want 0", got)
		}
		if got := len(Churn(1, nil, 0.1, 0.1, 0.1)); got != 0 {
			t.Fatalf("churn of nothing: got %d records", got)
		}
	})
}

func TestMappingYAMLNamesTheTagFields(t *testing.T) {
	t.Parallel()
	for _, f := range []string{TagCostCenter, TagEmployment, TagTeam} {
		if !strings.Contains(MappingYAML, "  "+f+": ") {
			t.Errorf("MappingYAML has no tag field %q", f)
		}
	}
}

// diffSlices reports the first difference between two slices: cmp.Diff of
// whole directories is too slow to run on every test.
func diffSlices[T any](a, b []T) string {
	if len(a) != len(b) {
		return fmt.Sprintf("lengths differ: %d and %d", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("element %d:\n%s", i, cmp.Diff(a[i], b[i]))
		}
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func BenchmarkRecords100k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Records(1, 100_000)
	}
}

func BenchmarkUsers10k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Users(1, "acme", "src", 10_000)
	}
}

func TestUsersMatchTheCompiledMapping(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseYAML([]byte(MappingYAML))
	if err != nil {
		t.Fatalf("MappingYAML does not parse: %v", err)
	}
	m, err := mapping.Compile(cfg)
	if err != nil {
		t.Fatalf("MappingYAML does not compile: %v", err)
	}
	recs := Records(13, 3000)
	for i := range recs {
		p, err := m.Map(&recs[i])
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		u := UserOf("o", "s", &recs[i])
		active := recs[i].State.Active()
		if p.Active != nil {
			active = *p.Active
		}
		got := store.User{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Department: p.Department,
			Division: p.Division, Office: p.Office, Title: p.Title, Tags: store.NormalizeTags(p.Tags), Active: active}
		want := store.User{FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, Department: u.Department,
			Division: u.Division, Office: u.Office, Title: u.Title, Tags: u.Tags, Active: u.Active}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("record %d: the compiled mapping and UserOf disagree (-UserOf +mapping):\n%s", i, diff)
		}
	}
}
