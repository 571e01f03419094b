package mapping

import "sort"

// The enterprise extension of SCIM 2.0 (RFC 7643 §4.3), where SCIM feeds
// carry department, division, cost center and employee number.
const scimEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// presets are the built-in mappings, by name. Expressions use get(...) for
// provider keys whose case differs between tenants (Entra capitalises,
// Okta does not), and coalesce(...) where a provider has moved a value
// between versions.
var presets = map[string]Config{
	// WorkOS Directory Sync as it sends users today: the standard fields,
	// plus WorkOS's auto-mapped custom attributes in custom
	// (raw_attributes is empty).
	"workos": {
		FirstName:  `user.first_name`,
		LastName:   `user.last_name`,
		Email:      `lower(user.email)`,
		Department: `custom.department_name`,
		Division:   `custom.division_name`,
		Office:     `primary(custom.addresses)?.locality`,
		Title:      `coalesce(custom.job_title, user.job_title)`,
		Tags: map[string]string{
			"cost_center": `custom.cost_center_name`,
			"employment":  `custom.employee_type`,
		},
	},
	// Okta's SCIM 2.0 user (in WorkOS raw_attributes, or a SCIM feed):
	// lower-camel keys, the enterprise extension, work address.
	"okta-scim": {
		FirstName:  `coalesce(get(raw, "name.givenName"), user.first_name)`,
		LastName:   `coalesce(get(raw, "name.familyName"), user.last_name)`,
		Email:      `lower(coalesce(primary(raw.emails)?.value, user.email, raw.userName))`,
		Department: `get(raw, '["` + scimEnterprise + `"].department')`,
		Division:   `get(raw, '["` + scimEnterprise + `"].division')`,
		Office:     `coalesce(primary(filter(raw.addresses ?? [], .type == "work"))?.locality, primary(raw.addresses)?.locality)`,
		Title:      `coalesce(raw.title, user.job_title)`,
		Active:     `to_bool(raw.active)`,
		Tags: map[string]string{
			"cost_center": `get(raw, '["` + scimEnterprise + `"].costCenter')`,
			"employment":  `raw.userType`,
		},
	},
	// Microsoft Entra ID's SCIM user: like Okta's, but keys may be
	// capitalised ("Department", "Primary"), booleans are strings ("True")
	// and the office name travels as the work address's "formatted".
	"entra-scim": {
		FirstName:  `coalesce(get(raw, "name.givenName"), user.first_name)`,
		LastName:   `coalesce(get(raw, "name.familyName"), user.last_name)`,
		Email:      `lower(coalesce(get(primary(raw.emails), "value"), user.email, raw.userName))`,
		Department: `get(raw, '["` + scimEnterprise + `"].department')`,
		Division:   `get(raw, '["` + scimEnterprise + `"].division')`,
		Office:     `coalesce(get(primary(filter(raw.addresses ?? [], lower(get(#, "type") ?? "") == "work")), "formatted"), get(primary(raw.addresses), "locality"))`,
		Title:      `coalesce(raw.title, user.job_title)`,
		Active:     `to_bool(raw.active)`,
		Tags: map[string]string{
			"cost_center": `get(raw, '["` + scimEnterprise + `"].costCenter')`,
			"employment":  `coalesce(raw.userType, get(raw, '["` + scimEnterprise + `"].employeeType'))`,
		},
	},
	// Google Workspace's Admin SDK user: the primary organization holds
	// department, title and cost center; the desk location's building is the
	// office; the top-level org unit serves as division.
	"google-workspace": {
		FirstName:  `coalesce(raw.name?.givenName, user.first_name)`,
		LastName:   `coalesce(raw.name?.familyName, user.last_name)`,
		Email:      `lower(coalesce(raw.primaryEmail, user.email))`,
		Department: `primary(raw.organizations)?.department`,
		Division:   `coalesce(primary(raw.organizations)?.description, split(trimPrefix(raw.orgUnitPath ?? "", "/"), "/")[0])`,
		Office:     `coalesce(primary(raw.locations)?.buildingId, primary(raw.addresses)?.locality)`,
		Title:      `coalesce(primary(raw.organizations)?.title, user.job_title)`,
		Active:     `raw.suspended == nil ? nil : !to_bool(raw.suspended)`,
		Tags: map[string]string{
			"cost_center": `primary(raw.organizations)?.costCenter`,
			"employment":  `get(raw, "customSchemas.Employment.Type")`,
			"team":        `get(raw, "customSchemas.Employment.Team")`,
		},
	},
	// BambooHR's employee report exported as CSV: each column in raw by its
	// header (the API's field names).
	"bamboohr": {
		FirstName:  `coalesce(raw.preferredName, raw.firstName)`,
		LastName:   `raw.lastName`,
		Email:      `lower(coalesce(raw.workEmail, user.email))`,
		Department: `raw.department`,
		Division:   `raw.division`,
		Office:     `raw.location`,
		Title:      `raw.jobTitle`,
		Active:     `raw.status == nil ? nil : lower(trim(raw.status)) == "active"`,
		Tags: map[string]string{
			"employment": `raw.employmentHistoryStatus`,
			"team":       `raw.team`,
		},
	},
	// A Workday custom report (RaaS or CSV) with Workday's usual column
	// names: each column in raw by its header.
	"workday": {
		FirstName:  `coalesce(raw.Preferred_First_Name, raw.Legal_First_Name, raw.First_Name)`,
		LastName:   `coalesce(raw.Preferred_Last_Name, raw.Legal_Last_Name, raw.Last_Name)`,
		Email:      `lower(coalesce(raw.Work_Email, raw.Email_Address, user.email))`,
		Department: `coalesce(raw.Department, raw.Supervisory_Organization)`,
		Division:   `coalesce(raw.Division, raw.Business_Unit)`,
		Office:     `coalesce(raw.Work_Location, raw.Location)`,
		Title:      `coalesce(raw.Business_Title, raw.Job_Profile)`,
		Active:     `raw.Active_Status == nil ? nil : to_bool(raw.Active_Status)`,
		Tags: map[string]string{
			"cost_center": `raw.Cost_Center`,
			"employment":  `raw.Worker_Type`,
		},
	},
	// Rippling's employee object (REST API or JSON export): camel-case
	// keys, roleState, and an employment type code.
	"rippling": {
		FirstName:  `coalesce(raw.preferredFirstName, raw.firstName, user.first_name)`,
		LastName:   `coalesce(raw.preferredLastName, raw.lastName, user.last_name)`,
		Email:      `lower(coalesce(raw.workEmail, user.email))`,
		Department: `raw.department`,
		Office:     `coalesce(raw.worklocationNickname, raw.workLocation?.city)`,
		Title:      `raw.title`,
		Active:     `raw.roleState == nil ? nil : raw.roleState == "ACTIVE"`,
		Tags: map[string]string{
			"employment": `raw.employmentType`,
		},
	},
	// Gusto's employee object (API or JSON export): snake-case keys, jobs
	// with a primary one, custom fields as a list of {name, value}.
	"gusto": {
		FirstName:  `coalesce(raw.preferred_first_name, raw.first_name, user.first_name)`,
		LastName:   `coalesce(raw.last_name, user.last_name)`,
		Email:      `lower(coalesce(raw.work_email, raw.email, user.email))`,
		Department: `raw.department`,
		Division:   `find(raw.custom_fields ?? [], lower(.name) == "division")?.value`,
		Office:     `coalesce(primary(raw.jobs)?.location?.city, raw.work_address?.city)`,
		Title:      `primary(raw.jobs)?.title`,
		Active:     `raw.terminated == nil ? nil : !to_bool(raw.terminated)`,
		Tags: map[string]string{
			"employment": `raw.current_employment_status`,
			"team":       `find(raw.custom_fields ?? [], lower(.name) == "team")?.value`,
		},
	},
}

// Presets returns the names of the built-in mappings, sorted.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a built-in mapping by name (a copy the caller may change).
func Preset(name string) (Config, bool) {
	p, ok := presets[name]
	if !ok {
		return Config{}, false
	}
	return p.clone(), true
}
