// Package synth generates synthetic employee directories for tests and
// benchmarks: seeded, deterministic, realistic and fast.
//
// A directory of n people is a function of (seed, n) alone; Records(seed, m)
// is a prefix of Records(seed, n) for m ≤ n. People have names from many
// languages and scripts (accents, hyphens, apostrophes, particles, Greek,
// Cyrillic, CJK), unique ASCII e-mail addresses derived from their names
// (a few plus-addressed), one of 30 departments, 8 divisions and 40 offices,
// a title, a cost center, an employment type and a team. Departments, offices,
// names and titles follow Zipf-like frequencies, so "the most common
// department" and rare values both exist. About 3 % of people are inactive or
// suspended; a few have no department, title, team or office.
//
// Records carry the data the way WorkOS Directory Sync yields it today (see
// /work/shared/fixtures/workos-user-modern.json): everything but the names,
// e-mail and state in Custom. Users maps them with the mapping MappingYAML
// describes.
//
// Values inside a record's Custom map (the addresses list, for one) may be
// shared between records: treat every record as read-only.
package synth

import (
	"encoding/json"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// MappingYAML is the mapping (in the configuration file's syntax) that turns
// Records into the profiles Users holds.
const MappingYAML = `first_name: user.first_name
last_name: user.last_name
email: lower(user.email)
department: custom.department_name
division: custom.division_name
office: 'first(filter(custom.addresses ?? [], .primary))?.locality'
title: custom.job_title
active: 'user.state == "active"'
tags:
  cost_center: custom.cost_center_name
  employment: custom.employee_type
  team: custom.team
`

// MappingVersion is the mapping version Users records on every user.
const MappingVersion = "synth-v1"

// Domain is the domain of every generated e-mail address.
const Domain = "example.com"

// The tag fields Users fills.
const (
	TagCostCenter = "cost_center"
	TagEmployment = "employment"
	TagTeam       = "team"
)

// Group is a directory group: its provider ID, its name and the external IDs
// of its members, in the order of the records they were drawn from.
type Group struct {
	// ExternalID is a WorkOS-shaped ID ("directory_group_" and a ULID),
	// deterministic for the seed.
	ExternalID string
	// Name is a realistic group name: fixed team names first, then numbered
	// project names; unique within one call.
	Name string
	// Members are the members' Record.ExternalIDs, each person in one to
	// three groups (at most g), groups sized by a Zipf-like law.
	Members []string
}

// base is the latest provider updated_at of Records; people were last
// updated during the 400 days before it.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Salts separate the random streams drawn for one seed.
const (
	saltPerson uint64 = iota + 1
	saltAdded
	saltChurn
	saltChurnUpdate
	saltGroup
	saltMember
)

// Records returns n WorkOS-shaped provider records, deterministic for seed.
// n ≤ 0 yields none.
func Records(seed int64, n int) []mapping.Record {
	if n <= 0 {
		return nil
	}
	recs := make([]mapping.Record, n)
	used := newLocalParts(n)
	for i := range recs {
		p := newPerson(seed, saltPerson, uint64(i))
		manager := ""
		if i > 0 {
			manager = recs[managerOf(i)].Email
		}
		p.fill(&recs[i], used, manager)
	}
	return recs
}

// Users returns the people of Records(seed, n), mapped as MappingYAML maps
// them and ready for store.Apply: OrgID and SourceID set, a stable ID per
// person, profile fields, tags, Active, Source, both hashes, MappingVersion
// and ProviderUpdatedAt. Row versions and timestamps are left for the store.
func Users(seed int64, orgID, sourceID string, n int) []store.User {
	recs := Records(seed, n)
	if len(recs) == 0 {
		return nil
	}
	users := make([]store.User, len(recs))
	parallel(len(recs), func(i int) { users[i] = UserOf(orgID, sourceID, &recs[i]) })
	return users
}

// UserOf maps one record as Users does. Its ID is UserID(rec.ExternalID).
func UserOf(orgID, sourceID string, rec *mapping.Record) store.User {
	str := func(k string) string {
		s, _ := rec.Custom[k].(string)
		return mapping.Clean(s)
	}
	u := store.User{
		OrgID:             orgID,
		SourceID:          sourceID,
		ID:                UserID(rec.ExternalID),
		ExternalID:        rec.ExternalID,
		IdpID:             rec.IdpID,
		Email:             strings.ToLower(mapping.Clean(rec.Email)),
		FirstName:         mapping.Clean(rec.FirstName),
		LastName:          mapping.Clean(rec.LastName),
		Department:        str("department_name"),
		Division:          str("division_name"),
		Title:             str("job_title"),
		Active:            rec.State == mapping.StateActive,
		MappingVersion:    MappingVersion,
		ProviderUpdatedAt: rec.UpdatedAt,
	}
	if addrs, ok := rec.Custom["addresses"].([]any); ok {
		for _, a := range addrs {
			if m, ok := a.(map[string]any); ok && m["primary"] == true {
				s, _ := m["locality"].(string)
				u.Office = mapping.Clean(s)
				break
			}
		}
	}
	tags := make([]mapping.Tag, 0, 3)
	for _, f := range [...][2]string{{TagCostCenter, "cost_center_name"}, {TagEmployment, "employee_type"}, {TagTeam, "team"}} {
		if v := str(f[1]); v != "" {
			tags = append(tags, mapping.Tag{Field: f[0], Value: v})
		}
	}
	u.Tags = store.NormalizeTags(tags)
	src, err := json.Marshal(rec)
	if err == nil {
		u.Source = src
	}
	u.SourceHash = store.HashSource(rec)
	u.ProfileHash = store.HashProfile(&u)
	return u
}

// UserID is the library user ID Users gives the person with a generated
// external ID: "user_" and the external ID's unique part.
func UserID(externalID string) string {
	return "user_" + strings.TrimPrefix(externalID, "directory_user_")
}

// Groups returns g groups (none when g ≤ 0) with distinct names and members
// drawn from recs: each person belongs to one to three groups (fewer when g
// is smaller), chosen with Zipf-like weights so some groups are large.
func Groups(seed int64, recs []mapping.Record, g int) []Group {
	if g <= 0 {
		return nil
	}
	groups := make([]Group, g)
	for i := range groups {
		r := newRNG(seed, saltGroup, uint64(i))
		groups[i].ExternalID = "directory_group_" + ulid(&r)
		if i < len(groupNames) {
			groups[i].Name = groupNames[i]
		} else {
			k := i - len(groupNames)
			groups[i].Name = projectNames[k%len(projectNames)] + " " + strconv.Itoa(k/len(projectNames)+1)
		}
	}
	w := zipf(g, 0.8)
	var pick [3]int
	for i := range recs {
		r := newRNG(seed, saltMember, uint64(i))
		k := 1
		switch x := r.intn(100); {
		case x >= 85:
			k = 3
		case x >= 50:
			k = 2
		}
		k = min(k, g)
		for j := 0; j < k; j++ {
			for {
				c := w.pick(&r)
				if !slices.Contains(pick[:j], c) {
					pick[j] = c
					break
				}
			}
			groups[pick[j]].Members = append(groups[pick[j]].Members, recs[i].ExternalID)
		}
	}
	return groups
}

// Churn returns a new listing made from recs, deterministic for seed: of
// len(recs) people, round(gone·len) are removed, round(updated·len) of the
// rest changed (department, title or office, with a later UpdatedAt) and
// round(added·len) new people appended. Fractions are clamped to [0, 1];
// updates take only people not removed. Survivors keep their order; new
// people, with e-mail addresses no one in recs has (not even the removed),
// come last, updated after every record of Records. Churn never mutates
// recs; unchanged records are copied by value and share their Custom maps
// with recs.
func Churn(seed int64, recs []mapping.Record, updated, gone, added float64) []mapping.Record {
	n := len(recs)
	count := func(f float64) int {
		if math.IsNaN(f) || f <= 0 {
			return 0
		}
		return int(math.Round(min(f, 1) * float64(n)))
	}
	nGone := count(gone)
	nUpd := min(count(updated), n-nGone)
	nAdd := count(added)

	// A partial Fisher–Yates shuffle picks the removed people, then the
	// updated ones, without repeats.
	fate := make([]byte, n) // 0 keep, 1 gone, 2 updated
	if nGone+nUpd > 0 {
		perm := make([]int32, n)
		for i := range perm {
			perm[i] = int32(i)
		}
		r := newRNG(seed, saltChurn, 0)
		for i := 0; i < nGone+nUpd; i++ {
			j := i + r.intn(n-i)
			perm[i], perm[j] = perm[j], perm[i]
			if i < nGone {
				fate[perm[i]] = 1
			} else {
				fate[perm[i]] = 2
			}
		}
	}

	out := make([]mapping.Record, 0, n-nGone+nAdd)
	for i := range recs {
		switch fate[i] {
		case 0:
			out = append(out, recs[i])
		case 2:
			r := newRNG(seed, saltChurnUpdate, uint64(i))
			out = append(out, update(&r, &recs[i]))
		}
	}
	if nAdd > 0 {
		used := newLocalParts(len(recs) + nAdd)
		for i := range recs {
			used.add(localPart(recs[i].Email))
		}
		for j := 0; j < nAdd; j++ {
			p := newPerson(seed, saltAdded, uint64(j))
			manager := ""
			if len(out) > 0 {
				manager = out[p.r.intn(len(out))].Email
			}
			var rec mapping.Record
			p.fill(&rec, used, manager)
			// New hires appear after the listing they join.
			rec.UpdatedAt = base.Add(time.Duration(1+p.r.intn(30*24)) * time.Hour)
			out = append(out, rec)
		}
	}
	return out
}

// update returns a copy of rec with its department (and with it title, team
// and cost center), its title, or its office (and division) changed.
func update(r *rng, rec *mapping.Record) mapping.Record {
	c := *rec
	c.Custom = make(map[string]any, len(rec.Custom)+1)
	for k, v := range rec.Custom {
		c.Custom[k] = v
	}
	c.UpdatedAt = rec.UpdatedAt.Add(time.Hour + time.Duration(r.intn(30*24))*time.Hour)
	div, _ := c.Custom["division_name"].(string)
	d := slices.Index(divisions, div)
	if d < 0 {
		d = 0
	}
	switch x := r.intn(10); {
	case x < 3: // department
		old, _ := c.Custom["department_name"].(string)
		dep := deptWeights.pick(r)
		for departments[dep] == old {
			dep = deptWeights.pick(r)
		}
		c.Custom["department_name"] = boxedDepartments[dep]
		c.Custom["job_title"] = pickTitle(r, dep)
		c.Custom["team"] = pickTeam(r, dep)
		c.Custom["cost_center_name"] = costCenters[dep][d]
	case x < 7: // title
		old, _ := c.Custom["job_title"].(string)
		dep := slices.Index(departments, stringOf(c.Custom["department_name"]))
		if dep < 0 {
			dep = 0
		}
		t := pickTitle(r, dep)
		for t.(string) == old {
			t = pickTitle(r, (dep+r.intn(len(departments)))%len(departments))
		}
		c.Custom["job_title"] = t
	default: // office
		old := ""
		if a, ok := c.Custom["addresses"].([]any); ok && len(a) > 0 {
			if m, ok := a[0].(map[string]any); ok {
				old = stringOf(m["locality"])
			}
		}
		o := officeWeights.pick(r)
		for offices[o].locality == old {
			o = officeWeights.pick(r)
		}
		c.Custom["addresses"] = addresses[o]
		c.Custom["division_name"] = boxedDivisions[offices[o].division]
	}
	return c
}

func stringOf(v any) string { s, _ := v.(string); return s }

// person draws one person's attributes from a random stream.
type person struct {
	r rng
}

func newPerson(seed int64, salt, i uint64) person {
	return person{r: newRNG(seed, salt, i)}
}

// managerOf returns the index of person i's manager, an earlier person: the
// organisation is a tree eight people wide.
func managerOf(i int) int { return (i - 1) / 8 }

// fill writes a whole person into rec. used makes the e-mail local part
// unique.
func (p *person) fill(rec *mapping.Record, used *localParts, manager string) {
	r := &p.r
	fi, li := firstWeights.pick(r), lastWeights.pick(r)
	first, last := firstDisplay[fi], lastDisplay[li]
	local := firstSlugs[fi] + "." + lastSlugs[li]
	local = used.unique(local)
	if r.intn(200) == 0 {
		local += plusTags[r.intn(len(plusTags))]
	}
	// One allocation holds the IDs and the address; the fields are slices of it.
	var b strings.Builder
	b.Grow(len("directory_user_") + 26 + 20 + len(local) + 1 + len(Domain))
	b.WriteString("directory_user_")
	b.Write(appendULID(make([]byte, 0, 26), r))
	b.WriteString("00u")
	for range 17 {
		b.WriteByte(alnum[r.intn(len(alnum))])
	}
	b.WriteString(local)
	b.WriteByte('@')
	b.WriteString(Domain)
	all := b.String()
	rec.ExternalID = all[:41]
	rec.IdpID = all[41:61]
	rec.Email = all[61:]
	rec.FirstName, rec.LastName = first, last
	rec.State = mapping.StateActive
	switch x := r.intn(100); {
	case x < 2:
		rec.State = mapping.StateInactive
	case x < 3:
		rec.State = mapping.StateSuspended
	}
	rec.UpdatedAt = base.Add(-time.Duration(r.intn(400*24*3600*1000)) * time.Millisecond)

	c := make(map[string]any, 8)
	o := -1
	if r.intn(100) >= 3 { // 3 % are remote, with no address
		o = officeWeights.pick(r)
		c["addresses"] = addresses[o]
	}
	div := 0
	if o >= 0 {
		div = offices[o].division
	} else {
		div = divWeights.pick(r)
	}
	dep := deptWeights.pick(r)
	if r.intn(100) < 2 && departments[dep] != "Executive Office" {
		div = 6 // Corporate
	}
	if r.intn(100) >= 1 {
		if r.intn(200) == 0 {
			c["department_name"] = lowerDepartments[dep] // a messy feed's spelling
		} else {
			c["department_name"] = boxedDepartments[dep]
		}
	}
	c["division_name"] = boxedDivisions[div]
	c["cost_center_name"] = costCenters[dep][div]
	if r.intn(1000) >= 15 {
		c["job_title"] = pickTitle(r, dep)
	}
	x := r.intn(100)
	for _, e := range boxedEmployeeTypes {
		if x < e.weight {
			c["employee_type"] = e.name
			break
		}
		x -= e.weight
	}
	if r.intn(100) >= 2 {
		c["team"] = pickTeam(r, dep)
	}
	if manager != "" {
		c["manager_email"] = manager
	}
	rec.Custom = c
}

var plusTags = []string{"+hr", "+it", "+test", "+payroll"}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ulid returns 26 characters in the shape of a ULID: "01" and 24 random
// Crockford base-32 digits.
func ulid(r *rng) string { return string(appendULID(make([]byte, 0, 26), r)) }

func appendULID(b []byte, r *rng) []byte {
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b = append(b, '0', '1')
	for range 2 {
		x := r.next()
		for range 12 {
			b = append(b, digits[x&31])
			x >>= 5
		}
	}
	return b
}

// localParts makes e-mail local parts unique: the second Jane Doe is
// jane.doe2.
type localParts struct{ m map[string]int }

func newLocalParts(n int) *localParts { return &localParts{m: make(map[string]int, n)} }

func (u *localParts) add(local string) { u.m[local]++ }

func (u *localParts) unique(local string) string {
	k := u.m[local]
	u.m[local] = k + 1
	if k == 0 {
		return local
	}
	for {
		c := local + strconv.Itoa(k+1)
		if u.m[c] == 0 {
			u.m[c] = 1
			return c
		}
		k++
	}
}

// localPart is the part of an address before '@' and any '+'.
func localPart(email string) string {
	if i := strings.IndexByte(email, '@'); i >= 0 {
		email = email[:i]
	}
	if i := strings.IndexByte(email, '+'); i >= 0 {
		email = email[:i]
	}
	return email
}

// parallel runs f(0..n-1) on all cores in contiguous chunks.
func parallel(n int, f func(int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 4096 || workers < 2 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// rng is SplitMix64: tiny, fast, allocation-free and good enough for test
// data. Each person has a stream of its own, keyed by (seed, salt, index).
type rng struct{ s uint64 }

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func newRNG(seed int64, salt, i uint64) rng {
	return rng{s: mix(uint64(seed) ^ mix(salt<<48^mix(i)))}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// weights draws indexes 0..n-1 with Zipf-like probabilities 1/(k+1)^s.
type weights struct{ cum []float64 }

func zipf(n int, s float64) weights {
	cum := make([]float64, n)
	t := 0.0
	for k := range cum {
		t += 1 / math.Pow(float64(k+1), s)
		cum[k] = t
	}
	for k := range cum {
		cum[k] /= t
	}
	return weights{cum: cum}
}

func (w weights) pick(r *rng) int {
	x := r.float()
	i, _ := slices.BinarySearch(w.cum, x)
	// BinarySearch finds the first cum ≥ x; x == cum[i] belongs to i+1,
	// which only matters with probability 0.
	return min(i, len(w.cum)-1)
}

// pickTitle draws a level, then one of the department's roles at it.
func pickTitle(r *rng, dep int) any {
	t := titles[dep]
	perLevel := len(t) / len(levels)
	return t[levelWeights.pick(r)*perLevel+r.intn(perLevel)]
}

func pickTeam(r *rng, dep int) any {
	t := boxedTeams[dep]
	return t[r.intn(len(t))]
}

// Tables derived once from the vocabulary. Values that go into Custom maps
// are boxed into interfaces here, so filling a record does not allocate one
// per value.
var (
	firstDisplay, lastDisplay  []string
	firstSlugs, lastSlugs      []string
	firstWeights, lastWeights  weights
	deptWeights, officeWeights weights
	divWeights, levelWeights   weights
	boxedDepartments           []any
	lowerDepartments           []any
	boxedDivisions             []any
	costCenters                [][]any
	titles                     [][]any // per department: levels × roles, grouped by level
	boxedTeams                 [][]any
	addresses                  []any // per office: a []any with one primary address
	boxedEmployeeTypes         []struct {
		name   any
		weight int
	}
)

func init() {
	firstDisplay, firstSlugs = parseNames(firstNames)
	lastDisplay, lastSlugs = parseNames(lastNames)
	firstWeights = zipf(len(firstNames), 0.7)
	lastWeights = zipf(len(lastNames), 0.7)
	deptWeights = zipf(len(departments), 1.0)
	officeWeights = zipf(len(offices), 0.9)
	divWeights = zipf(len(divisions), 1.0)
	levelWeights = zipf(len(levels), 1.2)
	for i, d := range departments {
		boxedDepartments = append(boxedDepartments, d)
		lowerDepartments = append(lowerDepartments, strings.ToLower(d))
		cc := make([]any, len(divisions))
		for v := range divisions {
			cc[v] = "CC-" + strconv.Itoa(1000+i*10+v)
		}
		costCenters = append(costCenters, cc)
		rs := roles[d]
		if rs == nil {
			rs = genericRoles
		}
		var ts []any
		for _, l := range levels {
			for _, r := range rs {
				ts = append(ts, l+r)
			}
		}
		titles = append(titles, ts)
		tm := teams[d]
		if tm == nil {
			tm = genericTeams
		}
		var bt []any
		for _, t := range tm {
			bt = append(bt, t)
		}
		boxedTeams = append(boxedTeams, bt)
	}
	for _, d := range divisions {
		boxedDivisions = append(boxedDivisions, d)
	}
	for _, o := range offices {
		a := map[string]any{
			"street_address": o.street,
			"locality":       o.locality,
			"postal_code":    o.postal,
			"country":        o.country,
			"primary":        true,
		}
		if o.region != "" {
			a["region"] = o.region
		}
		addresses = append(addresses, []any{a})
	}
	for _, e := range employeeTypes {
		boxedEmployeeTypes = append(boxedEmployeeTypes, struct {
			name   any
			weight int
		}{e.name, e.weight})
	}
}

// parseNames splits "Display=slug" entries into display forms and e-mail
// slugs.
func parseNames(table []string) (disp, slugs []string) {
	disp = make([]string, len(table))
	slugs = make([]string, len(table))
	for i, e := range table {
		d, s, ok := strings.Cut(e, "=")
		if !ok {
			s = slug(d)
		}
		if s == "" {
			panic("synth: no e-mail spelling for name " + e)
		}
		disp[i], slugs[i] = d, s
	}
	return disp, slugs
}

// slug spells a name in lower-case ASCII for an e-mail address: folded,
// accents dropped, letters without a decomposition transliterated, spaces
// and apostrophes removed, hyphens kept.
func slug(name string) string {
	var b strings.Builder
	for _, r := range search.Fold(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteString(translit[r])
		}
	}
	return b.String()
}

var translit = map[rune]string{
	'ø': "o", 'æ': "ae", 'å': "a", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i", 'œ': "oe", 'ß': "ss",
}
