package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// benchOrg is the org of the single-org measurements.
const benchOrg = "bench"

// benchSource is the provider source of the synthetic directory.
const benchSource = "synth:bench"

// seed makes every run generate the same directory.
const seed = 1

// Spec is one child measurement: one store at one size.
type Spec struct {
	Store  string `json:"store"`
	People int    `json:"people"`
	// Queries is the number of queries of each kind per search run; Runs
	// the number of search runs (the median of their p50 and p99 is
	// reported).
	Queries int `json:"queries"`
	Runs    int `json:"runs"`
	// Orgs, when above 1, also measures search over Orgs orgs of
	// OrgPeople people each, loaded into a fresh store.
	Orgs      int `json:"orgs,omitempty"`
	OrgPeople int `json:"org_people,omitempty"`
	// PostgresDSN is the database the postgres store runs in (in a fresh
	// schema, dropped afterwards). Loopback only.
	PostgresDSN string `json:"postgres_dsn,omitempty"`
	// Dir holds the listing files and SQLite databases.
	Dir string `json:"dir"`
	// SearchOnly skips the raw load and the syncs: the store is loaded
	// through Apply (as the many-orgs measurement is) and only searched.
	SearchOnly bool `json:"search_only,omitempty"`
	// OrgsOnly, with SearchOnly and Orgs, leaves out the org of People
	// people: only the many orgs are loaded and searched (at 100 × 10k,
	// in a fraction of the time the million-person org takes).
	OrgsOnly bool `json:"orgs_only,omitempty"`
	// SkipRemap leaves the remap out (at a million people on SQLite it
	// takes longer than everything else together).
	SkipRemap bool `json:"skip_remap,omitempty"`
	// Writers is the syncs' dirsync.Config.Writers (0: its default).
	Writers int `json:"writers,omitempty"`
	// Phase, when set, runs one half of the measurement: PhasePrepare
	// generates the listings into Dir and measures the raw limit;
	// PhaseSync runs the syncs and searches over those listings (and
	// removes them). Run uses a child process for each, so that the sync's
	// resident set owes nothing to the generator's (which holds the whole
	// directory several times over). The empty phase runs both.
	Phase string `json:"phase,omitempty"`
}

// The phases of a measurement (Spec.Phase).
const (
	PhasePrepare = "prepare"
	PhaseSync    = "sync"
)

// Result is what one child measured. Durations are in seconds, sizes in
// bytes, latencies in milliseconds.
type Result struct {
	Store  string `json:"store"`
	People int    `json:"people"`
	// SearchOnly: only the search figures were measured (Spec.SearchOnly).
	SearchOnly bool `json:"search_only,omitempty"`
	// SkipRemap: the remap was not measured (Spec.SkipRemap).
	SkipRemap bool `json:"skip_remap,omitempty"`

	// Raw is the raw database limit for the cold sync's rows (0 for
	// memstore, which has no database).
	Raw float64 `json:"raw_s"`
	// Cold, Noop, Churn and Remap are wall times of whole runs; the
	// *Decode figures are the part of them spent reading and decoding the
	// provider's listing (JSON lines from a file), which a real provider
	// spends too but the store and engine do not.
	Cold        float64 `json:"cold_s"`
	ColdDecode  float64 `json:"cold_decode_s"`
	Noop        float64 `json:"noop_s"`
	NoopDecode  float64 `json:"noop_decode_s"`
	Churn       float64 `json:"churn_s"`
	ChurnDecode float64 `json:"churn_decode_s"`
	Remap       float64 `json:"remap_s"`
	// NoopWrites is the number of rows (memstore: journal entries) the
	// no-op resync wrote; it must be 0.
	NoopWrites int64 `json:"noop_writes"`

	ColdCounts  store.Counts `json:"cold_counts"`
	NoopCounts  store.Counts `json:"noop_counts"`
	ChurnCounts store.Counts `json:"churn_counts"`
	RemapCounts store.Counts `json:"remap_counts"`

	// BaseRSS is the resident set before the cold sync (the process with
	// its store open and empty); PeakRSS the peak resident set during the
	// cold sync. MaxRSS is the child's whole-life peak, as the parent saw it.
	BaseRSS int64 `json:"base_rss"`
	PeakRSS int64 `json:"peak_rss"`
	MaxRSS  int64 `json:"max_rss,omitempty"`

	Search    []Latency `json:"search"`
	MultiOrg  []Latency `json:"multi_org,omitempty"`
	Orgs      int       `json:"orgs,omitempty"`
	OrgPeople int       `json:"org_people,omitempty"`
}

// Mapping is the mapping the syncs use: the workos preset with a third tag
// field, as synth.MappingYAML describes the records.
func Mapping() mapping.Config {
	return mapping.Config{Preset: "workos", Tags: map[string]string{"team": "custom.team"}}
}

// RemapMapping is the changed mapping of the remap measurement: titles in
// upper case, which changes almost everyone's profile.
func RemapMapping() mapping.Config {
	c := Mapping()
	c.Title = `upper(coalesce(custom.job_title, user.job_title))`
	return c
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}

// RunChild measures one store at one size (see the package doc) and
// returns the figures. Progress goes to logw, if not nil. It is meant to
// run in a process of its own, so that its peak memory is its own.
func RunChild(ctx context.Context, spec Spec, logw io.Writer) (res Result, err error) {
	if spec.People < 1 {
		return res, fmt.Errorf("people is %d; it must be at least 1", spec.People)
	}
	if spec.Queries < 1 || spec.Runs < 1 {
		return res, fmt.Errorf("queries (%d) and runs (%d) must be at least 1", spec.Queries, spec.Runs)
	}
	if spec.Dir == "" {
		return res, errors.New("no directory for the listing files")
	}
	res.Store, res.People = spec.Store, spec.People
	m, err := mapping.Compile(Mapping())
	if err != nil {
		return res, fmt.Errorf("compile the mapping: %w", err)
	}
	if spec.SearchOnly {
		return searchOnly(ctx, spec, m, logw)
	}
	remap, err := mapping.Compile(RemapMapping())
	if err != nil {
		return res, fmt.Errorf("compile the remap mapping: %w", err)
	}

	if spec.Phase != "" && spec.Phase != PhasePrepare && spec.Phase != PhaseSync {
		return res, fmt.Errorf("phase %q: want %q, %q or none", spec.Phase, PhasePrepare, PhaseSync)
	}
	// The listings, written to files so that the sync streams them as it
	// would a provider's pages.
	listing, churned := listingPaths(spec)
	if spec.Phase != PhaseSync {
		if res.Raw, err = prepare(ctx, spec, listing, churned, logw); err != nil {
			os.Remove(listing)
			os.Remove(churned)
			return res, err
		}
		if spec.Phase == PhasePrepare {
			return res, nil
		}
	}
	defer os.Remove(listing)
	defer os.Remove(churned)

	st, err := openStore(ctx, spec, spec.Store)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := st.close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
	}()
	p := &fileProvider{source: benchSource, path: listing}
	syncer, err := dirsync.New(st, dirsync.Config{OrgID: benchOrg, Provider: p, Mapper: m, Writers: spec.Writers})
	if err != nil {
		return res, err
	}
	sync := func(what string) (store.SyncRun, float64, float64, error) {
		p.takeDecode()
		start := time.Now()
		run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
		d := time.Since(start).Seconds()
		if err != nil {
			return run, 0, 0, fmt.Errorf("%s: %w", what, err)
		}
		if run.Status != store.RunSucceeded {
			return run, 0, 0, fmt.Errorf("%s ended %s: %s", what, run.Status, run.Error)
		}
		return run, d, p.takeDecode().Seconds(), nil
	}

	settle()
	res.BaseRSS = procStatus("VmRSS")
	peakOK := resetPeak() == nil
	logf(logw, "%s %d: cold sync", spec.Store, spec.People)
	run, d, dec, err := sync("cold sync")
	if err != nil {
		return res, err
	}
	if peakOK {
		res.PeakRSS = procStatus("VmHWM")
	}
	res.Cold, res.ColdDecode, res.ColdCounts = d, dec, run.Counts

	logf(logw, "%s %d: no-op resync", spec.Store, spec.People)
	written, err := st.writes(ctx)
	if err != nil {
		return res, err
	}
	run, d, dec, err = sync("no-op resync")
	if err != nil {
		return res, err
	}
	res.Noop, res.NoopDecode, res.NoopCounts = d, dec, run.Counts
	if res.NoopWrites, err = written(ctx); err != nil {
		return res, err
	}

	logf(logw, "%s %d: 1 %% churn resync", spec.Store, spec.People)
	p.setListing(churned)
	run, d, dec, err = sync("churn resync")
	if err != nil {
		return res, err
	}
	res.Churn, res.ChurnDecode, res.ChurnCounts = d, dec, run.Counts

	if spec.SkipRemap {
		res.SkipRemap = true
	} else {
		logf(logw, "%s %d: remap", spec.Store, spec.People)
		start := time.Now()
		run, err = syncer.Remap(ctx, remap)
		res.Remap = time.Since(start).Seconds()
		if err != nil {
			return res, fmt.Errorf("remap: %w", err)
		}
		if run.Status != store.RunSucceeded {
			return res, fmt.Errorf("remap ended %s: %s", run.Status, run.Error)
		}
		res.RemapCounts = run.Counts
	}

	logf(logw, "%s %d: search", spec.Store, spec.People)
	if st.settle != nil {
		if err := st.settle(ctx); err != nil {
			return res, err
		}
	}
	sample, err := sampleListing(churned, remap, 20_000)
	if err != nil {
		return res, err
	}
	err = measureSearches(ctx, spec, st, m, searchOrg{id: benchOrg, sample: sample}, &res, logw)
	return res, err
}

// measureSearches measures the search mix over o, stored in st, and over
// many orgs if spec asks for them, into res.
func measureSearches(ctx context.Context, spec Spec, st store.Store, m mapping.Mapper, o searchOrg, res *Result, logw io.Writer) error {
	if err := o.prepare(ctx, st, spec.People, true); err != nil {
		return err
	}
	var err error
	if res.Search, err = measureSearch(ctx, st, []searchOrg{o}, spec.Queries, spec.Runs); err != nil {
		return err
	}
	if spec.Orgs > 1 && spec.Store != Memory {
		res.Orgs, res.OrgPeople = spec.Orgs, spec.OrgPeople
		logf(logw, "%s: loading %d orgs × %d people", spec.Store, spec.Orgs, spec.OrgPeople)
		if res.MultiOrg, err = multiOrgSearch(ctx, spec, m); err != nil {
			return err
		}
	}
	return nil
}

// searchOnly is RunChild for Spec.SearchOnly: load the org through Apply,
// then measure the search mix (and the many orgs, if asked).
func searchOnly(ctx context.Context, spec Spec, m mapping.Mapper, logw io.Writer) (res Result, err error) {
	res = Result{Store: spec.Store, People: spec.People, SearchOnly: true}
	if spec.OrgsOnly {
		if spec.Orgs < 2 || spec.Store == Memory {
			return res, fmt.Errorf("orgs only: the %s store at %d people has no many orgs to measure", spec.Store, spec.People)
		}
		res.Orgs, res.OrgPeople = spec.Orgs, spec.OrgPeople
		logf(logw, "%s: loading %d orgs × %d people", spec.Store, spec.Orgs, spec.OrgPeople)
		res.MultiOrg, err = multiOrgSearch(ctx, spec, m)
		return res, err
	}
	st, err := openStore(ctx, spec, spec.Store)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := st.close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
	}()
	logf(logw, "%s %d: loading through Apply", spec.Store, spec.People)
	o := searchOrg{id: benchOrg}
	if o.sample, err = loadOrg(ctx, st, benchOrg, seed, spec.People, m, 20_000); err != nil {
		return res, err
	}
	if st.settle != nil {
		if err := st.settle(ctx); err != nil {
			return res, err
		}
	}
	logf(logw, "%s %d: search", spec.Store, spec.People)
	err = measureSearches(ctx, spec, st, m, o, &res, logw)
	return res, err
}

// listingPaths are the files of spec's listings: the full one and the one
// after churn.
func listingPaths(spec Spec) (listing, churned string) {
	name := fmt.Sprintf("%s-%d", spec.Store, spec.People)
	return filepath.Join(spec.Dir, "listing-"+name+".jsonl"), filepath.Join(spec.Dir, "churned-"+name+".jsonl")
}

// prepare writes spec's listings (the synth directory and its 1 % churn)
// to listing and churned and, for a SQL store, measures the raw database
// limit of the same people in a store of its own; it returns that limit in
// seconds (0 for memstore).
func prepare(ctx context.Context, spec Spec, listing, churned string, logw io.Writer) (raw float64, err error) {
	logf(logw, "%s %d: generating the directory", spec.Store, spec.People)
	var people []rawPerson
	{
		recs := synth.Records(seed, spec.People)
		if err := writeListing(listing, recs); err != nil {
			return 0, err
		}
		// 1 % churn: 0.6 % updated, 0.2 % gone, 0.2 % new.
		if err := writeListing(churned, synth.Churn(seed+1, recs, 0.006, 0.002, 0.002)); err != nil {
			return 0, err
		}
		if spec.Store == Memory {
			return 0, nil
		}
		users := make([]store.User, len(recs))
		for i := range recs {
			users[i] = synth.UserOf(benchOrg, benchSource, &recs[i])
		}
		if people, err = rawPeople(users); err != nil {
			return 0, err
		}
	}

	// The raw database limit, in a store of its own.
	st, err := openStore(ctx, spec, spec.Store)
	if err != nil {
		return 0, err
	}
	logf(logw, "%s %d: raw load", spec.Store, spec.People)
	load, err := st.raw(ctx, benchOrg, people)
	if err == nil {
		start := time.Now()
		err = load(ctx)
		raw = time.Since(start).Seconds()
		logf(logw, "%s %d: raw load took %.1f s", spec.Store, spec.People, raw)
	}
	if cerr := st.close(); err == nil {
		err = cerr
	}
	return raw, err
}
