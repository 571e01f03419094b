package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// The people fixture: 35 hand-made people whose names, emails and values
// exercise the search rules, and 165 plain "filler" people whose words and
// values no table case selects, 200 in all. People holds them in the org
// given; shadow makes the overlapping copy that a second org holds during
// the search cases, so that any leak between orgs changes a result.

type person struct {
	id, first, last, email, dept, div, office string
	tags                                      []mapping.Tag
	inactive                                  bool
	source                                    string
}

func tags(kv ...string) []mapping.Tag {
	var out []mapping.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, mapping.Tag{Field: kv[i], Value: kv[i+1]})
	}
	return out
}

var corePeople = []person{
	{"p001", "Sofía", "Álvarez", "sofia.alvarez@acme.com", "Engineering", "Product", "Zürich", tags("team", "Mobile", "cost_center", "CC-100"), false, srcA},
	{"p002", "Diego", "Alvarez", "diego.alvarez@acme.com", "Sales", "Go-To-Market", "São Paulo", nil, false, srcA},
	{"p003", "Søren", "Kierkegaard", "soren.kierkegaard@acme.com", "R&D", "Research", "London", tags("team", "Platform"), false, srcA},
	{"p004", "Zoë", "Saldana", "zoe.saldana@acme.com", "Marketing", "Go-To-Market", "New York", tags("location", "NYC"), false, srcA},
	{"p005", "Łukasz", "Nowak", "l.nowak@acme.com", "engineering", "Product", "Warsaw", tags("team", "mobile"), false, srcA},
	{"p006", "İlkay", "Gündoğan", "ilkay.gundogan@acme.com", "Sales", "Go-To-Market", "London", nil, false, srcA},
	{"p007", "Thi", "Nguyễn", "thi.nguyen@acme.com", "Customer Success", "Go-To-Market", "Tokyo", tags("location", "nyc"), false, srcA},
	{"p008", "Wei", "張", "zhang.wei@acme.com", "R&D", "Research", "Tokyo", tags("team", "Platform"), false, srcA},
	{"p009", "Anne-Marie", "Dubois", "anne-marie.dubois@acme.com", "Marketing", "Go-To-Market", "London", nil, false, srcA},
	{"p010", "Liam", "O'Connor", "liam.oconnor@acme.com", "Engineering", "Product", "New York", tags("team", "NYC"), false, srcA},
	{"p011", "Gianni", "D’Angelo", "gianni.dangelo@acme.com", "Customer Success", "Go-To-Market", "Sao Paulo", nil, false, srcA},
	{"p012", "Jane", "Doe", "jane.doe+hr@acme.com", "People", "G&A", "New York", tags("cost_center", "CC-200"), false, srcA},
	{"p013", "Jane", "Doe", "jane.doe@acme.com", "Engineering", "Product", "Zurich", nil, false, srcA},
	{"p014", "John", "Smith", "john.smith@acme.com", "Sales", "Go-To-Market", "New York", nil, false, srcA},
	{"p015", "John", "Smith", "jsmith@acme.com", "Engineering", "Product", "London", nil, true, srcA},
	{"p016", "John", "Smith", "john.smith2@acme.com", "Customer Success", "Go-To-Market", "Zürich", nil, false, srcA},
	{"p017", "Maria", "Garcia", "maria.garcia@acme.com", "r&d", "Research", "Zurich", tags("team", "Platform", "cost_center", "cc-100"), false, srcA},
	{"p018", "María", "García", "maria.garcia2@acme.com", "R&D", "Research", "Zürich", nil, true, srcA},
	{"p019", "Björn", "Ångström", "bjorn.angstrom@acme.com", "Engineering", "Product", "Zürich", tags("team", "Mobile"), false, srcA},
	{"p020", "Chloé", "Lefèvre", "chloe.lefevre@acme.com", "Marketing", "Go-To-Market", "Montréal", nil, false, srcA},
	{"p021", "François", "Müller", "francois.muller@acme.com", "Engineering", "Product", "Zürich", tags("team", "Platform"), true, srcA},
	{"p022", "Ana", "Alves", "ana.alves@acme.com", "Customer Success", "Go-To-Market", "São Paulo", nil, false, srcA},
	{"p023", "Mary-Kate", "O'Neil", "mary-kate.oneil@acme.com", "Sales", "Go-To-Market", "New York", tags("location", "NYC"), false, srcA},
	{"p024", "Ren", "Tanaka", "ren.tanaka@acme.co.jp", "Engineering", "Product", "Tokyo", tags("team", "Mobile"), false, srcA},
	{"p025", "Olga", "Petrova", "olga.petrova@acme.com", "Legal", "G&A", "London", nil, true, srcA},
	{"p026", "Hans", "Zimmermann", "hans.zimmermann@acme.com", "Engineering", "Product", "Zurich", nil, true, srcA},
	{"p027", "Emma", "Johansson", "emma.johansson@acme.com", "Engineering", "Product", "New York", tags("team", "Platform", "cost_center", "CC-200"), false, srcA},
	{"p028", "Noah", "Kim", "noah.kim+eng@acme.com", "Engineering", "Product", "Seoul", nil, false, srcA},
	{"p029", "Jan", "Janssen", "jan.janssen@acme.com", "R&D", "Research", "Amsterdam", nil, false, srcB},
	{"p030", "Jean", "Dupont", "jean.dupont@acme.com", "Sales", "Go-To-Market", "Paris", nil, false, srcB},
	{"p031", "Inés", "Alvarado", "ines.alvarado@acme.com", "Marketing", "Go-To-Market", "Madrid", nil, true, srcA},
	{"p032", "Priya", "Patel", "priya.patel@acme.com", "Customer Success", "Go-To-Market", "New York", tags("location", "NYC"), false, srcA},
	{"p033", "Mohammed", "Al-Farsi", "mohammed.al-farsi@acme.com", "Engineering", "Product", "Dubai", nil, false, srcA},
	{"p034", "Kate", "O'Neil", "kate.oneil@acme.com", "Sales", "Go-To-Market", "Montreal", nil, true, srcA},
	{"p035", "Zoe", "Adams", "zoe.adams@acme.com", "Engineering", "Product", "London", tags("team", "mobile"), false, srcA},
}

// The fixture's groups and who belongs to them.
var (
	peopleGroups = []struct{ id, name, source string }{
		{"g-eng", "Engineering All", srcA},
		{"g-mgr", "Managers", srcA},
		{"g-mgr2", "managers", srcB},
		{"g-zrh", "Zürich Office", srcA},
		{"g-nyc", "NYC Crew", srcA},
		{"g-empty", "Empty Group", srcA},
		{"g-ops", "Ops Guild", srcA},
	}
	peopleMembers = map[string][]string{
		"g-eng":  {"p001", "p005", "p010", "p013", "p019", "p021", "p024", "p027", "p028", "p033", "p035"},
		"g-mgr":  {"p009", "p014", "p027"},
		"g-mgr2": {"p030"},
		"g-zrh":  {"p001", "p017", "p018", "p021", "p026"},
		"g-nyc":  {"p004", "p010", "p023", "p032"},
	}
)

var (
	fillerFirst = []string{"Quinn", "Robin", "Sasha", "Taylor", "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zane"}
	fillerLast  = []string{"Quist", "Ross", "Stone", "Thorne", "Underwood", "Vance", "Webb", "Xiong", "Yates", "Zeller"}
)

// fillerPeople are plain people in departments, offices and tags that no
// table case filters on; their words share no prefix with any table term.
func fillerPeople() []person {
	var out []person
	for i := range 165 {
		first, last := fillerFirst[i%10], fillerLast[(i/10)%10]
		out = append(out, person{
			id:       fmt.Sprintf("p%03d", 101+i),
			first:    first,
			last:     last,
			email:    fmt.Sprintf("%s.%s.%d@filler.example", strings.ToLower(first), strings.ToLower(last), i),
			dept:     []string{"Operations", "Finance", "operations"}[i%3],
			div:      "Corporate",
			office:   []string{"Remote", "Berlin", "berlin"}[(i/3)%3],
			tags:     tags("team", []string{"Ops", "ops"}[i%2]),
			inactive: i%7 == 0,
			source:   srcA,
		})
	}
	return out
}

// peopleDirectory returns the fixture for org: users, groups, memberships.
func peopleDirectory(org string) Reference {
	ref := Reference{OrgID: org}
	all := append(append([]person(nil), corePeople...), fillerPeople()...)
	for _, p := range all {
		u := store.User{
			OrgID: org, SourceID: p.source, ID: p.id, ExternalID: "ext-" + p.id, IdpID: "idp-" + p.id,
			Email: p.email, FirstName: p.first, LastName: p.last, Department: p.dept, Division: p.div, Office: p.office,
			Title: "Staff", Tags: store.NormalizeTags(p.tags), Active: !p.inactive, ProviderUpdatedAt: at(0), MappingVersion: "m1",
			Source: json.RawMessage(fmt.Sprintf(`{"id":%q,"emails":[{"value":%q}]}`, "ext-"+p.id, p.email)),
		}
		u.ProfileHash = store.HashProfile(&u)
		ref.Users = append(ref.Users, u)
	}
	for _, g := range peopleGroups {
		ref.Groups = append(ref.Groups, group(org, g.source, g.id, g.name))
	}
	for _, g := range peopleGroups {
		for _, uid := range peopleMembers[g.id] {
			ref.Memberships = append(ref.Memberships, store.Membership{UserID: uid, GroupID: g.id})
		}
	}
	// Filler members of the ops guild: every third filler person.
	for i := 0; i < 165; i += 3 {
		ref.Memberships = append(ref.Memberships, store.Membership{UserID: fmt.Sprintf("p%03d", 101+i), GroupID: "g-ops"})
	}
	return ref
}

// shadowDirectory is the same people with the same IDs, external IDs and
// emails in another org, but everyone active, in Engineering at Zürich with
// the NYC tag, and a member of every group: a store that leaks across orgs
// returns different results for the first org.
func shadowDirectory(org string) Reference {
	ref := peopleDirectory(org)
	for i := range ref.Users {
		u := &ref.Users[i]
		u.Active, u.Department, u.Division, u.Office = true, "Engineering", "Product", "Zürich"
		u.Tags = store.NormalizeTags(tags("team", "NYC", "location", "nyc", "cost_center", "CC-100"))
		u.ProfileHash = store.HashProfile(u)
	}
	ref.Memberships = nil
	for _, g := range ref.Groups {
		for _, u := range ref.Users {
			ref.Memberships = append(ref.Memberships, store.Membership{UserID: u.ID, GroupID: g.ID})
		}
	}
	return ref
}

// loadDirectory writes a directory into st in a few Apply calls.
func loadDirectory(t testing.TB, st store.Store, ref Reference) {
	t.Helper()
	// Users go in reverse order, so that insertion order never looks like
	// the ID tie-break.
	users := slices.Clone(ref.Users)
	slices.Reverse(users)
	const batch = 500
	for i := 0; i < len(users); i += batch {
		mustApply(t, st, store.ApplyRequest{OrgID: ref.OrgID, Users: insertUsers(users[i:min(i+batch, len(users))]...)})
	}
	var gw []store.GroupWrite
	for _, g := range ref.Groups {
		gw = append(gw, store.GroupWrite{Group: g})
	}
	var mw []store.MemberWrite
	for _, m := range ref.Memberships {
		mw = append(mw, store.MemberWrite{Membership: m})
	}
	mustApply(t, st, store.ApplyRequest{OrgID: ref.OrgID, Groups: gw, Members: mw})
}
