package mapping

import (
	"testing"
	"time"
)

// TestDocExamplesRun evaluates every example in the package documentation
// against a record that has the attributes they read.
func TestDocExamplesRun(t *testing.T) {
	t.Parallel()
	rec := &Record{
		ExternalID: "directory_user_01J", IdpID: "00u1a2b3c4", State: StateActive, Email: "Ann.Lee@example.com",
		FirstName: "Ann", LastName: "Lee", Username: "ann.lee@example.com", JobTitle: "Engineer", UpdatedAt: time.Unix(0, 0),
		Raw: map[string]any{
			"preferredName": "", "firstName": "Ann", "name": map[string]any{"givenName": "Ann"},
			"emails":         []any{map[string]any{"value": "ann@example.com", "primary": true}},
			"costCenter":     "ENG-410",
			"active":         "True",
			"employeeNumber": 40193.0,
			"city":           "Oslo", "country": "NO",
			"team":          "core_platform",
			"teams":         []any{"b", "a", "a", "c"},
			"fte":           0.5,
			"level":         6.0,
			"orgUnitPath":   "/Product/Design",
			"customSchemas": map[string]any{"Employment": map[string]any{"Type": "Contractor"}},
			"groups":        []any{"Admins"},
			"addresses":     []any{map[string]any{"type": "work", "locality": "Oslo"}},
			"allocations":   []any{map[string]any{"fte": 0.5}, map[string]any{"fte": 0.25}},
			"custom_fields": []any{map[string]any{"name": "Team", "value": "Core"}},
			"roles":         []any{map[string]any{"type": "x"}},
			"jobs":          []any{map[string]any{"start_date": "2024-01-01", "title": "Old"}, map[string]any{"start_date": "2025-01-01", "title": "New"}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"Department": "Eng"},
			"dept": "Eng",
		},
		Custom: map[string]any{"department_name": "Eng", "addresses": []any{map[string]any{"locality": "Oslo", "primary": true}}, "cost_center_name": "C1"},
	}
	examples := []string{
		`user.id`, `user.idp_id`, `user.state`, `user.email`, `user.first_name`, `user.last_name`, `user.username`, `user.job_title`,
		`string(user.updated_at.Year())`, `raw.name?.givenName`, `custom.department_name`, `raw.a.b`,
		`raw["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].Department`,
		`get(raw, '["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department')`,
		`coalesce(custom.department_name, raw.dept)`, `primary(custom.addresses)?.locality`, `to_bool(raw.active)`,
		`coalesce(raw.preferredName, raw.firstName, user.first_name)`, `email_domain("ann@Example.COM")`,
		`get(raw, "name.givenName")`, `get(raw, "emails[0].value")`,
		`get(raw, '["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].Department')`,
		`primary(raw.emails)?.value`, `regex_match(user.email, "@contractors\\.")`, `regex_extract(raw.costCenter, "^([A-Z]+)-")`,
		`title_case("mARÍA o'neil-smith")`, `string(raw.employeeNumber)`, `join([raw.city, raw.country], ", ")`,
		`replace(raw.team, "_", " ")`, `len(user.email) > 0`, `string(round(raw.fte * 100))`, `int(raw.level) >= 5`,
		`trim(raw.dept)`, `trimPrefix(raw.orgUnitPath ?? "", "/")`, `lower(user.email)`, `split(raw.orgUnitPath, "/")[1]`,
		`splitAfter("a/b", "/")`, `repeat("*", 3)`, `indexOf(user.email, "@")`, `hasSuffix(user.email, "@example.com")`,
		`first(raw.emails)?.value`, `take(raw.teams, 3)`, `keys(raw.customSchemas)`, `uniq(raw.teams)`, `reverse(raw.teams)`,
		`sort(raw.teams)`, `any(raw.groups, # == "Admins")`, `filter(raw.addresses, .type == "work")`, `map(raw.teams, upper(#))`,
		`count(raw.groups, # startsWith "A")`, `sum(raw.allocations, .fte)`, `find(raw.custom_fields, .name == "Team")?.value`,
		`findIndex(raw.emails, .primary)`, `groupBy(raw.roles, .type)`, `first(sortBy(raw.jobs, .start_date, "desc"))?.title`,
		`user.state == "active" ? "yes" : "no"`, `if user.state == "active" { "yes" } else { "no" }`, `user.email matches "@example"`,
		`user.email contains "@"`, `user.email startsWith "Ann"`, `user.email endsWith ".com"`, `"Admins" in raw.groups`,
		`let d = email_domain(user.email); d ?? "none"`, `user.email | lower()`,
	}
	for _, src := range examples {
		got, err := evalOne(t, src, rec)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got == nil && src != "raw.a.b" {
			t.Errorf("%s: nil; the record was meant to give it a value", src)
		}
	}
}
