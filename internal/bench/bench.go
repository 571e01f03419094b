// Package bench is the reproducible benchmark of whole syncs and searches
// behind `dirsync bench`: for each store (memstore; sqlitestore on a
// temporary file; pgstore in a fresh schema of a loopback PostgreSQL,
// dropped afterwards) and each directory size, it measures
//
//   - the raw database limit: the rows a cold sync writes (users with their
//     folded copies and sort keys, the word and tag side tables, the journal
//     and its counter) written into the same tables and indexes by the
//     database's plain bulk path — for PostgreSQL COPY into temporary tables
//     and one INSERT … ON CONFLICT merge per table and batch of 1,000, for
//     SQLite a prepared-statement upsert loop in one transaction;
//   - a cold full sync: a dirsync.Syncer over a provider streaming the
//     synth directory (seeded, so every run syncs the same people) through
//     the workos preset mapping, in pages of 100 decoded from JSON lines;
//   - a no-op resync (and the rows it wrote, which must be none), a resync
//     after 1 % churn (synth.Churn: 0.6 % updated, 0.2 % gone, 0.2 % new)
//     and a remap to a changed mapping;
//   - the peak resident set of the cold sync (VmHWM, reset just before it),
//     with the resident set before it;
//   - search latency, p50 and p99 over Queries queries of each kind of the
//     mix (see Kinds), the median of Runs runs; optionally also over many
//     orgs of 10,000 people each.
//
// Each store and size runs in two child processes (Exec): one generates
// the listings and measures the raw limit, the other syncs and searches, so
// that the sync's memory peak is its own and not the generator's (which
// holds the whole directory several times over, and whose heap's metadata
// the Go runtime keeps after it is freed: about 130 MiB at a million
// people). Report.Markdown renders the figures, each sync figure also as
// a ratio to the raw limit measured in the same run.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// OrgPeople is the size of each org of the many-orgs search measurement.
const OrgPeople = 10_000

// ChildFunc runs one measurement.
type ChildFunc func(ctx context.Context, spec Spec) (Result, error)

// Options configure Run.
type Options struct {
	// Sizes are the directory sizes, in people.
	Sizes []int
	// Stores are the stores to measure: Memory, SQLite, Postgres.
	Stores []string
	// PostgresDSN is the (loopback) database of the postgres store.
	PostgresDSN string
	// Queries is the number of queries of each kind per search run
	// (default 500); Runs the number of search runs (default 3).
	Queries, Runs int
	// MultiOrg also measures search over size/OrgPeople orgs of OrgPeople
	// people each, for the SQL stores at sizes of at least 2·OrgPeople.
	MultiOrg func(size int) bool
	// Dir holds temporary files (default: a new temporary directory).
	Dir string
	// SearchOnly skips the raw load and the syncs (see Spec.SearchOnly).
	SearchOnly bool
	// OrgsOnly, with SearchOnly, measures the many orgs alone (see
	// Spec.OrgsOnly).
	OrgsOnly bool
	// SkipRemap leaves the remap out (see Spec.SkipRemap).
	SkipRemap bool
	// Writers is the syncs' dirsync.Config.Writers; 0 for its default.
	Writers int
	// Child runs each measurement; default in this process (RunChild).
	Child ChildFunc
	// Log receives progress lines; may be nil.
	Log io.Writer
}

// Report is the outcome of Run.
type Report struct {
	Date      time.Time
	Machine   string
	GoVersion string
	Results   []Result
}

// Run measures every store at every size, in order, and returns the
// report. It stops at the first failed measurement.
func Run(ctx context.Context, opts Options) (Report, error) {
	rep := Report{Date: time.Now(), Machine: Machine(), GoVersion: runtime.Version()}
	if len(opts.Sizes) == 0 || len(opts.Stores) == 0 {
		return rep, errors.New("bench: no size or no store to measure")
	}
	if opts.Queries == 0 {
		opts.Queries = 500
	}
	if opts.Runs == 0 {
		opts.Runs = 3
	}
	if opts.Child == nil {
		opts.Child = func(ctx context.Context, spec Spec) (Result, error) { return RunChild(ctx, spec, opts.Log) }
	}
	if opts.PostgresDSN != "" {
		if err := CheckLoopback(opts.PostgresDSN); err != nil {
			return rep, err
		}
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "dirsync-bench-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for _, size := range opts.Sizes {
		for _, st := range opts.Stores {
			spec := Spec{Store: st, People: size, Queries: opts.Queries, Runs: opts.Runs, Dir: dir, SearchOnly: opts.SearchOnly,
				SkipRemap: opts.SkipRemap, OrgsOnly: opts.OrgsOnly, Writers: opts.Writers}
			if st == Postgres {
				spec.PostgresDSN = opts.PostgresDSN
			}
			if st != Memory && size >= 2*OrgPeople && opts.MultiOrg != nil && opts.MultiOrg(size) {
				spec.Orgs, spec.OrgPeople = size/OrgPeople, OrgPeople
			}
			start := time.Now()
			res, err := measure(ctx, opts.Child, spec)
			if err != nil {
				return rep, fmt.Errorf("bench %s at %s people: %w", st, FormatSize(size), err)
			}
			logf(opts.Log, "%s %s done in %s", st, FormatSize(size), time.Since(start).Round(time.Second))
			rep.Results = append(rep.Results, res)
		}
	}
	return rep, nil
}

// measure runs spec: a search-only one in one child, the others in two —
// PhasePrepare (the listings and the raw limit), then PhaseSync — so that
// the sync child's resident set is the sync's own.
func measure(ctx context.Context, child ChildFunc, spec Spec) (Result, error) {
	if spec.SearchOnly {
		return child(ctx, spec)
	}
	prep := spec
	prep.Phase = PhasePrepare
	p, err := child(ctx, prep)
	if err != nil {
		return Result{}, fmt.Errorf("preparing: %w", err)
	}
	spec.Phase = PhaseSync
	res, err := child(ctx, spec)
	if err != nil {
		return Result{}, err
	}
	res.Raw = p.Raw
	return res, nil
}

// Exec runs each measurement in a child process: Path with Args (and Env
// added to this process's environment), which must serve it with
// ServeChild. The child's standard error goes to Stderr.
type Exec struct {
	Path   string
	Args   []string
	Env    []string
	Stderr io.Writer
}

// Run runs spec in a child process and returns its result, with MaxRSS
// set from the child's resource usage.
func (e Exec) Run(ctx context.Context, spec Spec) (Result, error) {
	in, err := json.Marshal(spec)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, e.Path, e.Args...)
	cmd.Env = append(os.Environ(), e.Env...)
	cmd.Stdin = bytes.NewReader(in)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = e.Stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("child process: %w", err)
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return Result{}, fmt.Errorf("child process result: %w", err)
	}
	res.MaxRSS = maxRSS(cmd.ProcessState)
	return res, nil
}

// maxSpec bounds the child's input.
const maxSpec = 1 << 16

// ServeChild is the child's side of Exec: it reads a Spec (JSON) from r,
// runs it and writes the Result (JSON) to w, with progress to logw.
func ServeChild(ctx context.Context, r io.Reader, w io.Writer, logw io.Writer) error {
	in, err := io.ReadAll(io.LimitReader(r, maxSpec+1))
	if err != nil {
		return err
	}
	if len(in) > maxSpec {
		return fmt.Errorf("bench child: spec longer than %d bytes", maxSpec)
	}
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("bench child: spec: %w", err)
	}
	res, err := RunChild(ctx, spec, logw)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(res)
}

// Machine describes this machine: CPU model, cores, memory, OS and
// architecture.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

// ParseSize parses a size such as 10k, 100k, 1m or 2500.
func ParseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1_000, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1_000_000, t[:len(t)-1]
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 10_000_000/mult {
		return 0, fmt.Errorf("size %q: want a number of people from 1 to 10m, such as 500, 10k, 100k or 1m", s)
	}
	return n * mult, nil
}

// FormatSize formats a number of people as ParseSize reads it.
func FormatSize(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dm", n/1_000_000)
	case n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return strconv.Itoa(n)
}
