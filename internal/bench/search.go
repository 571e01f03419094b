package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Latency is the search latency of one query kind: the median over the runs
// of each run's p50 and p99, in milliseconds.
type Latency struct {
	Kind string  `json:"kind"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	// Queries is the number of queries per run.
	Queries int `json:"queries"`
}

// Kinds are the query kinds of the search mix, in table order.
var Kinds = []string{
	"top_department", "department", "two_fields", "tag", "tag_text",
	"prefix1", "prefix2", "page200", "facets_org", "facets_department",
}

// person is what the query mix draws filter values from: a person drawn
// at random, so values come by their frequency.
type person struct {
	dept, office, last string
	tags               []string
}

func personOf(p mapping.Profile) person {
	x := person{dept: p.Department, office: p.Office}
	if w := search.Words(p.LastName, "", ""); len(w) > 0 {
		x.last = w[0]
	}
	for _, t := range p.Tags {
		x.tags = append(x.tags, t.Value)
	}
	return x
}

// searchOrg is an org to query, with a sample of its people.
type searchOrg struct {
	id      string
	sample  []person
	top     string       // the most common department
	page200 search.Query // the query with the cursor of the 200th page
}

// sampleListing maps up to max records of a listing file.
func sampleListing(path string, m mapping.Mapper, max int) ([]person, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	var out []person
	for len(out) < max {
		var rec mapping.Record
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("sample %s: %w", path, err)
		}
		p, err := m.Map(&rec)
		if err != nil || !rec.State.Active() {
			continue
		}
		out = append(out, personOf(p))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sample %s: no active person maps", path)
	}
	return out, nil
}

// prepare finds the org's most common department and, if walk, walks to
// its 200th page.
func (o *searchOrg) prepare(ctx context.Context, st store.Store, people int, walk bool) error {
	counts := map[string]int{}
	for _, p := range o.sample {
		if p.dept != "" {
			counts[p.dept]++
		}
	}
	for v, c := range counts {
		if c > counts[o.top] || (c == counts[o.top] && v < o.top) {
			o.top = v
		}
	}
	if !walk {
		return nil
	}
	// Pages small enough that there are 200 of them (50 from 10k people on).
	q := search.Query{Limit: min(50, max(1, people*9/10/200))}
	for page := 1; page < 200; page++ {
		p, err := st.Search(ctx, o.id, q)
		if err != nil {
			return fmt.Errorf("keyset walk of org %s, page %d: %w", o.id, page, err)
		}
		if p.NextCursor == "" {
			return fmt.Errorf("org %s has only %d pages of %d people", o.id, page, q.Limit)
		}
		q.Cursor = p.NextCursor
	}
	o.page200 = q
	return nil
}

func prefix(w string, n int) string {
	r := []rune(w)
	return string(r[:min(n, len(r))])
}

// query returns a query of kind for a random person of o, and whether it
// asks for facets.
func (o *searchOrg) query(r *rand.Rand, kind string) (search.Query, bool) {
	p := o.sample[r.IntN(len(o.sample))]
	for i := 0; i < 100 && (p.dept == "" || p.office == "" || len(p.tags) == 0 || p.last == ""); i++ {
		p = o.sample[r.IntN(len(o.sample))]
	}
	tag := ""
	if len(p.tags) > 0 {
		tag = p.tags[r.IntN(len(p.tags))]
	}
	switch kind {
	case "top_department":
		return search.Query{Departments: []string{o.top}}, false
	case "department":
		return search.Query{Departments: []string{p.dept}}, false
	case "two_fields":
		return search.Query{Departments: []string{p.dept}, Offices: []string{p.office}}, false
	case "tag":
		return search.Query{Tags: []string{tag}}, false
	case "tag_text":
		return search.Query{Tags: []string{tag}, Text: prefix(p.last, 2)}, false
	case "prefix1":
		return search.Query{Text: prefix(p.last, 1)}, false
	case "prefix2":
		return search.Query{Text: prefix(p.last, 2)}, false
	case "page200":
		return o.page200, false
	case "facets_org":
		return search.Query{}, true
	case "facets_department":
		return search.Query{Departments: []string{p.dept}}, true
	}
	panic("bench: unknown query kind " + kind)
}

// walkOrgs is the number of orgs whose 200th page is queried (walking to
// it takes 199 queries).
const walkOrgs = 10

// measureSearch runs queries of each kind runs times over orgs (each
// query against a random one) and returns the medians of each run's p50
// and p99.
func measureSearch(ctx context.Context, st store.Store, orgs []searchOrg, queries, runs int) ([]Latency, error) {
	out := make([]Latency, 0, len(Kinds))
	r := rand.New(rand.NewPCG(seed, 2))
	for _, kind := range Kinds {
		p50s, p99s := make([]float64, runs), make([]float64, runs)
		lat := make([]time.Duration, queries)
		for run := range runs {
			for i := range queries {
				o := &orgs[r.IntN(len(orgs))]
				if kind == "page200" {
					o = &orgs[r.IntN(min(len(orgs), walkOrgs))]
				}
				q, facets := o.query(r, kind)
				start := time.Now()
				var err error
				if facets {
					_, err = st.Facets(ctx, o.id, q)
				} else {
					_, err = st.Search(ctx, o.id, q)
				}
				lat[i] = time.Since(start)
				if err != nil {
					return nil, fmt.Errorf("search %s in org %s (%s): %w", kind, o.id, q, err)
				}
			}
			p50s[run], p99s[run] = quantile(lat, 0.50), quantile(lat, 0.99)
		}
		out = append(out, Latency{Kind: kind, P50: median(p50s), P99: median(p99s), Queries: queries})
	}
	return out, nil
}

// quantile returns the q-quantile of d (nearest rank) in milliseconds; it
// sorts d.
func quantile(d []time.Duration, q float64) float64 {
	slices.SortFunc(d, cmp.Compare)
	i := min(len(d)-1, max(0, int(q*float64(len(d))+0.999999)-1))
	return float64(d[i]) / float64(time.Millisecond)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// multiOrgSearch loads spec.Orgs orgs of spec.OrgPeople people each into a
// fresh store, as the engine's creates would (batches with journal
// entries), and measures the query mix with each query in a random org.
func multiOrgSearch(ctx context.Context, spec Spec, m mapping.Mapper) (lat []Latency, err error) {
	st, err := openStore(ctx, spec, spec.Store)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	orgs := make([]searchOrg, spec.Orgs)
	for i := range orgs {
		o := &orgs[i]
		o.id = fmt.Sprintf("org-%03d", i)
		if o.sample, err = loadOrg(ctx, st, o.id, int64(seed+1+i), spec.OrgPeople, m, 2000); err != nil {
			return nil, err
		}
	}
	if st.settle != nil {
		if err := st.settle(ctx); err != nil {
			return nil, err
		}
	}
	for i := range orgs {
		if err := orgs[i].prepare(ctx, st, spec.OrgPeople, i < walkOrgs); err != nil {
			return nil, err
		}
	}
	return measureSearch(ctx, st, orgs, spec.Queries, spec.Runs)
}

// loadOrg writes people synthetic people (synth seed) into org through
// Apply, in batches of 500 with their journal entries — what a cold sync
// writes, without the engine — and returns a sample of up to sample of
// them, mapped with m, to draw query values from.
func loadOrg(ctx context.Context, st store.Store, org string, seed int64, people int, m mapping.Mapper, sample int) ([]person, error) {
	recs := synth.Records(seed, people)
	for start := 0; start < len(recs); start += 500 {
		req := store.ApplyRequest{OrgID: org}
		for k := start; k < min(start+500, len(recs)); k++ {
			u := synth.UserOf(org, benchSource, &recs[k])
			_, after := store.Diff(&store.User{}, &u)
			req.Users = append(req.Users, store.UserWrite{User: u})
			req.Changes = append(req.Changes, store.Change{Kind: store.ChangeCreated, SubjectID: u.ID, After: after, Cause: "run_bench"})
		}
		if _, err := st.Apply(ctx, req); err != nil {
			return nil, fmt.Errorf("load org %s: %w", org, err)
		}
	}
	var out []person
	for k := range recs[:min(len(recs), sample)] {
		if p, err := m.Map(&recs[k]); err == nil && recs[k].State.Active() {
			out = append(out, personOf(p))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load org %s: no active person maps", org)
	}
	return out, nil
}
