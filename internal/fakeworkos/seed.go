package fakeworkos

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/workos/workos-go/v4/pkg/common"
	"github.com/workos/workos-go/v4/pkg/directorysync"
)

// Seed is a generated directory: what SeedDirectory added.
type Seed struct {
	// DirectoryID is the directory's ID, as passed to SeedDirectory.
	DirectoryID string
	// UserIDs are the directory user IDs in creation order (which is also
	// their sort order).
	UserIDs []string
	// GroupIDs are the directory group IDs in creation order.
	GroupIDs []string
	// Members maps each group ID to its members' IDs.
	Members map[string][]string
}

var seedFirst = []string{"Marisol", "Tomasz", "Aiko", "Ingrid", "Kwame", "Lucía", "Søren", "Zoë", "Chidi", "Ngọc"}
var seedLast = []string{"Quintero", "Wiśniewski", "Tanaka", "Halvorsen", "Mensah", "Ferrer", "Ødegård", "O'Connor", "Okafor", "Nguyễn"}
var seedDept = []string{"Engineering", "Customer Success", "Sales", "Finance", "Design"}

// SeedDirectory adds a linked directory with users people in today's shape
// (data in custom_attributes, raw_attributes empty, groups empty) and groups
// groups; user i belongs to group i mod groups. IDs sort in creation order.
func (s *Server) SeedDirectory(dirID, orgID string, users, groups int) Seed {
	seed := Seed{DirectoryID: dirID, Members: map[string][]string{}}
	at := time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC).Format("2006-01-02T15:04:05.000Z")
	s.AddDirectory(directorysync.Directory{ID: dirID, Name: dirID, State: directorysync.Linked, OrganizationID: orgID,
		Type: directorysync.OktaSCIMV2_0, CreatedAt: at, UpdatedAt: at})
	for g := range groups {
		id := fmt.Sprintf("directory_group_%s_%06d", dirID, g)
		s.AddGroup(directorysync.Group{ID: id, Name: fmt.Sprintf("Group %d", g), IdpID: fmt.Sprintf("g%d", g),
			DirectoryID: dirID, OrganizationID: orgID, CreatedAt: at, UpdatedAt: at})
		seed.GroupIDs = append(seed.GroupIDs, id)
	}
	for i := range users {
		id := fmt.Sprintf("directory_user_%s_%07d", dirID, i)
		first, last := seedFirst[i%len(seedFirst)], seedLast[(i/len(seedFirst))%len(seedLast)]
		email := fmt.Sprintf("user%d@example.com", i)
		custom, _ := json.Marshal(map[string]any{
			"department_name":  seedDept[i%len(seedDept)],
			"division_name":    "EMEA",
			"cost_center_name": fmt.Sprintf("CC-%04d", i%97),
			"job_title":        "Engineer",
			"employee_type":    "Full-time",
			"manager_email":    "boss@example.com",
			"addresses": []map[string]any{{"street_address": "200 Main St", "locality": "Lisbon",
				"country": "PT", "postal_code": "1000-001", "primary": true}},
		})
		state := "active"
		if i%50 == 49 {
			state = "suspended"
		}
		s.AddUser(User{ID: id, IdpID: fmt.Sprintf("00u%07d", i), DirectoryID: dirID, OrganizationID: orgID,
			Email: email, FirstName: first, LastName: last, State: state, CustomAttributes: custom,
			CreatedAt: at, UpdatedAt: at, Role: common.RoleResponse{Slug: "member"}})
		seed.UserIDs = append(seed.UserIDs, id)
		if groups > 0 {
			g := seed.GroupIDs[i%groups]
			s.AddMember(g, id)
			seed.Members[g] = append(seed.Members[g], id)
		}
	}
	return seed
}
