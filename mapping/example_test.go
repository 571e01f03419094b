package mapping_test

import (
	"fmt"

	"github.com/directorysync/directorysync/mapping"
)

func ExampleCompile() {
	cfg, err := mapping.ParseYAML([]byte(`
preset: workos
office: 'coalesce(primary(custom.addresses)?.locality, "Remote")'
tags:
  team: custom.team
`))
	if err != nil {
		panic(err)
	}
	m, err := mapping.Compile(cfg)
	if err != nil {
		panic(err)
	}
	p, err := m.Map(&mapping.Record{
		ExternalID: "directory_user_01",
		State:      mapping.StateActive,
		Email:      "Marisol.Quintero@Example.com",
		FirstName:  "Marisol",
		LastName:   " Quintero ",
		Custom: map[string]any{
			"department_name": "Customer  Success",
			"job_title":       "Onboarding Lead",
			"team":            "Onboarding",
		},
	})
	fmt.Printf("%s %s <%s>, %s, %s, %s\n", p.FirstName, p.LastName, p.Email, p.Department, p.Title, p.Office)
	fmt.Println(p.Tags)
	// Output:
	// Marisol Quintero <marisol.quintero@example.com>, Customer Success, Onboarding Lead, Remote
	// [{team Onboarding}]
}

func ExampleCompile_errors() {
	_, err := mapping.Compile(mapping.Config{
		Department: "custom.department_name +",
		Title:      "len(user.job_title)",
	})
	fmt.Println(err)
	// Output:
	// mapping field department: 1:24: unexpected token EOF
	// mapping field title: 1:1: expression yields int; want a string or nil (convert with string(...))
}

func ExampleSuggest() {
	samples := []mapping.Record{
		{ExternalID: "1", Raw: map[string]any{"FirstName": "Ingrid", "Surname": "Halvorsen", "Work_Email": "Ingrid@example.com", "Dept": "Finance", "Status": "Active"}},
		{ExternalID: "2", Raw: map[string]any{"FirstName": "Kwame", "Surname": "Mensah", "Work_Email": "kwame@example.com", "Dept": "Sales", "Status": "Terminated"}},
	}
	s, err := mapping.Suggest(samples)
	if err != nil {
		panic(err)
	}
	fmt.Println("first_name:", s.Config.FirstName, s.Confidence["first_name"])
	fmt.Println("last_name:", s.Config.LastName, s.Confidence["last_name"])
	fmt.Println("email:", s.Config.Email, s.Confidence["email"])
	fmt.Println("department:", s.Config.Department, s.Confidence["department"])
	fmt.Println("active:", s.Config.Active, s.Confidence["active"])
	// Output:
	// first_name: raw.FirstName 1
	// last_name: raw.Surname 1
	// email: lower(raw.Work_Email) 1
	// department: raw.Dept 1
	// active: to_bool(raw.Status) 0.9
}

func ExamplePreview() {
	m := mapping.MustCompile(mapping.Config{Department: "custom.department_name"})
	for _, row := range mapping.Preview(m, []mapping.Record{
		{ExternalID: "a", Custom: map[string]any{"department_name": " Sales "}},
		{ExternalID: "b", Custom: map[string]any{"department_name": 42.0}},
	}) {
		if row.Error != "" {
			fmt.Printf("%s: error: %s\n", row.ExternalID, row.Error)
			continue
		}
		fmt.Printf("%s: %q\n", row.ExternalID, row.Profile.Department)
	}
	// Output:
	// a: "Sales"
	// b: error: mapping record "b" field department: yielded number "42"; want a string or nil (convert with string(...))
}
