package demo

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite people.jsonl from the generator")

// TestPeopleIsGenerated keeps people.jsonl equal to what generate makes, so
// the demo data is reviewable as code: run `go test ./internal/demo -update`
// after changing the generator.
func TestPeopleIsGenerated(t *testing.T) {
	got := generate()
	if *update {
		if err := os.WriteFile("people.jsonl", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, People()) {
		t.Fatal("people.jsonl differs from the generator; run go test ./internal/demo -update")
	}
}

func TestPeopleShape(t *testing.T) {
	lines := bytes.Split(bytes.TrimSpace(People()), []byte("\n"))
	if len(lines) < 450 || len(lines) > 550 {
		t.Fatalf("%d people, want about 500", len(lines))
	}
	inactive, nonASCII := 0, 0
	for _, l := range lines {
		var p person
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != "ACTIVE" {
			inactive++
		}
		if strings.ContainsFunc(p.Profile.FirstName+p.Profile.LastName, func(r rune) bool { return r > 127 }) {
			nonASCII++
		}
	}
	if inactive < 5 || inactive > 40 || nonASCII < 50 {
		t.Fatalf("inactive %d, non-ASCII names %d", inactive, nonASCII)
	}
}

type profile struct {
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	Email        string `json:"email"`
	Department   string `json:"department"`
	Division     string `json:"division"`
	City         string `json:"city"`
	Title        string `json:"title"`
	CostCenter   string `json:"costCenter"`
	EmployeeType string `json:"employeeType"`
	Team         string `json:"team,omitempty"`
}

type person struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Profile profile  `json:"profile"`
	Groups  []string `json:"groups"`
}

var (
	firstNames = []string{"Ana", "José", "Zoë", "Søren", "Łukasz", "Chloé", "Björn", "Aoife", "Siobhán", "Mei", "Hiroshi", "Priya", "Arjun", "Fatima", "Omar", "Noa", "Yusuf", "İlkay", "Ngozi", "Kwame", "Élodie", "François", "Ingrid", "Mateo", "Lucía", "Dmitri", "Olga", "Anne-Marie", "Jean-Luc", "Thandiwe", "Camila", "Rafael", "Leilani", "Kai", "Sven", "Astrid", "Marisol", "Tomás", "Nguyễn", "Minh", "Ji-woo", "Seo-yeon", "Emma", "Liam", "Olivia", "Noah", "Sophia", "Lucas", "Mia", "Ethan", "Ava", "Mason", "Isabella", "Logan", "Amelia", "James", "Harper", "Elijah", "Evelyn", "Benjamin"}
	lastNames  = []string{"Álvarez", "O'Connor", "D'Angelo", "Müller", "Østergaard", "Kowalski", "Dubois", "Nakamura", "Patel", "Okafor", "Mensah", "Haddad", "Ferrer", "Quintero", "Halvorsen", "Smith-Jones", "van der Berg", "de la Cruz", "McAllister", "Nguyen", "Kim", "Park", "Chen", "Wang", "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Şahin", "Yılmaz"}
	// Departments are drawn with falling frequency, so one is clearly the
	// most common.
	departments = []string{"Engineering", "Sales", "Customer Success", "Marketing", "Operations", "Finance", "People", "Product", "Legal", "Research & Development"}
	divisions   = []string{"Americas", "EMEA", "APAC", "Corporate"}
	cities      = map[string][]string{
		"Americas":  {"New York", "Austin", "São Paulo", "Toronto", "Ciudad de México"},
		"EMEA":      {"London", "Zürich", "Paris", "Berlin", "Oslo", "Madrid", "Kraków"},
		"APAC":      {"Tokyo", "Singapore", "Sydney", "Bengaluru", "Seoul"},
		"Corporate": {"New York", "London"},
	}
	titles = map[string][]string{
		"Engineering":            {"Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager", "SRE"},
		"Sales":                  {"Account Executive", "Sales Development Rep", "Sales Manager", "Solutions Engineer"},
		"Customer Success":       {"Customer Success Manager", "Onboarding Lead", "Support Engineer"},
		"Marketing":              {"Content Lead", "Product Marketing Manager", "Designer"},
		"Operations":             {"Workplace Coordinator", "Operations Analyst", "Office Manager"},
		"Finance":                {"Controller", "Financial Analyst", "Accountant"},
		"People":                 {"Recruiter", "People Partner", "HR Generalist"},
		"Product":                {"Product Manager", "Senior Product Manager", "UX Researcher"},
		"Legal":                  {"Counsel", "Paralegal"},
		"Research & Development": {"Research Scientist", "Lab Technician"},
	}
	teams = map[string][]string{
		"Engineering": {"Platform", "Mobile", "Web", "Data", "Infrastructure"},
		"Sales":       {"Enterprise", "Mid-Market", "SMB"},
		"Product":     {"Growth", "Core"},
	}
	employment = []string{"Full-time", "Full-time", "Full-time", "Full-time", "Part-time", "Contractor", "Intern"}
)

func generate() []byte {
	r := rand.New(rand.NewPCG(2026, 11))
	var buf bytes.Buffer
	used := map[string]int{}
	for i := 0; i < 500; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		dept := departments[min(r.IntN(len(departments)), r.IntN(len(departments)))]
		div := divisions[r.IntN(len(divisions))]
		city := cities[div][r.IntN(len(cities[div]))]
		local := emailLocal(first) + "." + emailLocal(last)
		used[local]++
		if n := used[local]; n > 1 {
			local = fmt.Sprintf("%s%d", local, n)
		}
		p := person{
			ID:     fmt.Sprintf("00u%05d", 10000+i*7),
			Status: "ACTIVE",
			Profile: profile{
				FirstName:    first,
				LastName:     last,
				Email:        local + "@example.com",
				Department:   dept,
				Division:     div,
				City:         city,
				Title:        titles[dept][r.IntN(len(titles[dept]))],
				CostCenter:   fmt.Sprintf("CC-%d%02d", 1+indexOf(departments, dept), r.IntN(4)),
				EmployeeType: employment[r.IntN(len(employment))],
			},
			Groups: []string{"All Staff", dept},
		}
		if ts := teams[dept]; len(ts) > 0 {
			p.Profile.Team = ts[r.IntN(len(ts))]
		}
		if r.IntN(25) == 0 {
			p.Status = "DEPROVISIONED"
		}
		if r.IntN(6) == 0 {
			p.Groups = append(p.Groups, city+" Office")
		}
		if r.IntN(10) == 0 {
			p.Groups = append(p.Groups, "Managers")
		}
		b, err := json.Marshal(p)
		if err != nil {
			panic(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// emailLocal makes an ASCII email part of a name, as most IdPs do.
func emailLocal(s string) string {
	repl := strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ü", "u", "ö", "o", "ø", "o", "Ø", "o", "ë", "e",
		"ł", "l", "Ł", "l", "ç", "c", "ñ", "n", "ş", "s", "Ş", "s", "ı", "i", "İ", "i", "ễ", "e", "Á", "a", "ã", "a", "'", "", " ", "", "-", "")
	return strings.ToLower(repl.Replace(s))
}
