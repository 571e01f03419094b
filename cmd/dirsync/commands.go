package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/app"
	"github.com/directorysync/directorysync/internal/config"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// newFlags makes a command's flag set; -help prints its usage.
func newFlags(e env, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: dirsync [-config FILE] %s %s\n\n%s\n", name, args, about)
		if hasFlags(fs) {
			fmt.Fprintln(e.stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags and returns the positional arguments, which must
// number at least min.
func parse(fs *flag.FlagSet, args []string, min int) ([]string, error) {
	// Allow flags after the positional arguments too: dirsync search acme ali -json.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min {
		return nil, usageError{fmt.Sprintf("%s needs %d argument(s)", fs.Name(), min)}
	}
	return pos, nil
}

func loadConfig(path string) (config.File, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// progress counts the records a provider streams, for the progress line.
type progress struct {
	dirsync.Provider
	n *atomic.Int64
}

func (p progress) Users(ctx context.Context, fn func([]mapping.Record) error) error {
	return p.Provider.Users(ctx, func(page []mapping.Record) error {
		p.n.Add(int64(len(page)))
		return fn(page)
	})
}

// openOrg opens the app and returns the org.
func openOrg(ctx context.Context, configPath, orgID string, e env, counter *atomic.Int64) (*app.App, *app.Org, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := cfg.Org(orgID); !ok {
		ids := make([]string, len(cfg.Orgs))
		for i, o := range cfg.Orgs {
			ids[i] = o.ID
		}
		return nil, nil, fmt.Errorf("no org %q in the configuration (orgs: %s)", orgID, strings.Join(ids, ", "))
	}
	opts := app.Options{Getenv: e.getenv, Logger: slog.New(slog.DiscardHandler)}
	if counter != nil {
		opts.WrapProvider = func(_ string, p dirsync.Provider) dirsync.Provider { return progress{p, counter} }
	}
	a, err := app.Open(ctx, cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	o, _ := a.Org(orgID)
	return a, o, nil
}

func cmdSync(ctx context.Context, configPath string, args []string, e env) error {
	fs := newFlags(e, "sync", "ORG", "Runs a full sync of the org's source now. Exit code 3 when the guard halts it.")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	var n atomic.Int64
	a, o, err := openOrg(ctx, configPath, pos[0], e, &n)
	if err != nil {
		return err
	}
	defer a.Close()
	stop := showProgress(e, &n)
	run, err := o.Syncer.Sync(ctx, dirsync.SyncOptions{})
	stop()
	if run.ID != "" {
		printRun(e.stdout, run)
	}
	switch {
	case errors.Is(err, dirsync.ErrHalted):
		return haltedError{fmt.Sprintf("run %s halted: %s; approve it with the server's POST /v1/orgs/%s/sync/runs/%s/approve", run.ID, run.HaltReason, o.Config.ID, run.ID)}
	case errors.Is(err, dirsync.ErrBusy):
		return errors.New("a sync of this org is already running")
	}
	return err
}

// showProgress prints the records streamed so far: one line rewritten in
// place on a terminal, a plain line every 5 seconds otherwise. The returned
// func stops it.
func showProgress(e env, n *atomic.Int64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	every := 5 * time.Second
	if e.isTerminal {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		spin := []string{"|", "/", "-", `\`}
		for i := 0; ; i++ {
			select {
			case <-done:
				if e.isTerminal {
					fmt.Fprint(e.stderr, "\r\033[K")
				}
				return
			case <-t.C:
			}
			c := n.Load()
			rate := float64(c) / time.Since(start).Seconds()
			if e.isTerminal {
				bar := strings.Repeat("█", i%20) + strings.Repeat("░", 19-i%20)
				fmt.Fprintf(e.stderr, "\r\033[K%s %s %d records (%.0f/s)", spin[i%4], bar, c, rate)
			} else {
				fmt.Fprintf(e.stderr, "sync: %d records read (%.0f/s)\n", c, rate)
			}
		}
	}()
	return func() { close(done); <-finished }
}

func printRun(w io.Writer, r store.SyncRun) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%s\n", r.ID)
	fmt.Fprintf(tw, "mode\t%s\nstatus\t%s\n", r.Mode, r.Status)
	c := r.Counts
	fmt.Fprintf(tw, "created\t%d\nupdated\t%d\ndeactivated\t%d\nreactivated\t%d\nrelinked\t%d\nunchanged\t%d\nskipped\t%d\n",
		c.Created, c.Updated, c.Deactivated, c.Reactivated, c.Relinked, c.Unchanged, c.Skipped)
	if len(r.Held) > 0 {
		fmt.Fprintf(tw, "held\t%d\n", len(r.Held))
	}
	if r.HaltReason != "" {
		fmt.Fprintf(tw, "halt reason\t%s\n", r.HaltReason)
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.Error)
	}
	for _, re := range r.Errors {
		fmt.Fprintf(tw, "record error\t%s %s: %s\n", re.ExternalID, re.Field, re.Message)
	}
	tw.Flush()
}

func cmdPlan(ctx context.Context, configPath string, args []string, e env) error {
	fs := newFlags(e, "plan", "ORG", "Computes a dry run and prints every change a sync would make. Writes nothing but the run record.")
	asJSON := fs.Bool("json", false, "print the plan as JSON lines")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	a, o, err := openOrg(ctx, configPath, pos[0], e, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	enc := json.NewEncoder(e.stdout)
	if !*asJSON {
		fmt.Fprintln(tw, "CHANGE\tEXTERNAL ID\tSUBJECT\tBEFORE\tAFTER")
	}
	run, err := o.Syncer.Sync(ctx, dirsync.SyncOptions{DryRun: true, Plan: func(it store.PlanItem) error {
		if *asJSON {
			return enc.Encode(it)
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Kind, it.ExternalID, it.UserID, fields(it.Before), fields(it.After))
		return err
	}})
	tw.Flush()
	if run.ID != "" && !*asJSON {
		fmt.Fprintln(e.stdout)
		printRun(e.stdout, run)
	}
	if errors.Is(err, dirsync.ErrHalted) {
		return haltedError{"a sync now would be halted by the guard: " + run.HaltReason}
	}
	return err
}

// fields renders a change's fields as k=v, sorted.
func fields(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if ss, ok := v.([]string); ok {
			v = strings.Join(ss, ",")
		}
		parts[i] = fmt.Sprintf("%s=%v", k, v)
	}
	return strings.Join(parts, " ")
}

func cmdSearch(ctx context.Context, configPath string, args []string, e env) error {
	fs := newFlags(e, "search", "ORG [QUERY...]", `Searches the org's people. The query is in the search-box syntax:
field:value or field:"two words" for department, division, office, tag, group,
status and sort; other words match names and emails by prefix.`)
	asJSON := fs.Bool("json", false, "print JSON (one page, with next_cursor)")
	limit := fs.Int("limit", 50, "results per page, 1..1000")
	cursor := fs.String("cursor", "", "continue from a previous page's next_cursor")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	q, err := search.ParseBox(strings.Join(pos[1:], " "))
	if err != nil {
		return usageError{err.Error()}
	}
	q.Limit, q.Cursor = *limit, *cursor
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	if _, ok := cfg.Org(pos[0]); !ok {
		return fmt.Errorf("no org %q in the configuration", pos[0])
	}
	st, closeStore, err := app.OpenStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	page, err := st.Search(ctx, pos[0], q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(page)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEMAIL\tDEPARTMENT\tDIVISION\tOFFICE\tTITLE\tACTIVE")
	for _, u := range page.Users {
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%v\n", u.FirstName, u.LastName, u.Email, u.Department, u.Division, u.Office, u.Title, u.Active)
	}
	tw.Flush()
	if page.NextCursor != "" {
		fmt.Fprintf(e.stderr, "more: -cursor %s\n", page.NextCursor)
	}
	return nil
}

func cmdRuns(ctx context.Context, configPath string, args []string, e env) error {
	fs := newFlags(e, "runs", "ORG", "Lists the org's sync runs, newest first.")
	limit := fs.Int("limit", 20, "how many runs")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	st, closeStore, err := storeFor(ctx, configPath, pos[0])
	if err != nil {
		return err
	}
	defer closeStore()
	runs, err := st.ListRuns(ctx, pos[0], *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tMODE\tSTATUS\tSTARTED\tCREATED\tUPDATED\tDEACTIVATED\tHELD\tUNCHANGED")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.Mode, r.Status, r.StartedAt.Format(time.RFC3339),
			r.Counts.Created, r.Counts.Updated, r.Counts.Deactivated, len(r.Held), r.Counts.Unchanged)
	}
	return tw.Flush()
}

func cmdChanges(ctx context.Context, configPath string, args []string, e env) error {
	fs := newFlags(e, "changes", "ORG", "Prints the org's change journal from a sequence number on.")
	after := fs.Int64("after", 0, "print changes after this sequence number")
	limit := fs.Int("limit", 100, "how many changes, 1..1000")
	asJSON := fs.Bool("json", false, "print JSON lines")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	st, closeStore, err := storeFor(ctx, configPath, pos[0])
	if err != nil {
		return err
	}
	defer closeStore()
	cs, err := st.Changes(ctx, pos[0], *after, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, c := range cs {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tKIND\tSUBJECT\tCAUSE\tBEFORE\tAFTER")
	for _, c := range cs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.Seq, c.Kind, c.SubjectID, c.Cause, fields(c.Before), fields(c.After))
	}
	return tw.Flush()
}

func storeFor(ctx context.Context, configPath, org string) (store.Store, func() error, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := cfg.Org(org); !ok {
		return nil, nil, fmt.Errorf("no org %q in the configuration", org)
	}
	return app.OpenStore(ctx, cfg.Store)
}

func cmdMapping(ctx context.Context, configPath string, args []string, e env) error {
	if len(args) == 0 {
		return usageError{"mapping needs a subcommand: check, preview or suggest"}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "check":
		fs := newFlags(e, "mapping check", "ORG", "Compiles the org's mapping (preset merged) and prints it with its version.")
		pos, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		a, o, err := openOrg(ctx, configPath, pos[0], e, nil)
		if err != nil {
			return err // a mapping error names the field and position
		}
		defer a.Close()
		fmt.Fprintf(e.stdout, "mapping of %s compiles; version %s\n", o.Config.ID, o.Mapping.Version())
		b, _ := yaml.Marshal(o.Mapping.Config())
		_, err = e.stdout.Write(b)
		return err
	case "preview", "suggest":
		about := "Maps the first records of the org's provider and prints the profiles."
		if sub == "suggest" {
			about = "Reads records from the org's provider and proposes a mapping, with a confidence per field."
		}
		fs := newFlags(e, "mapping "+sub, "ORG", about)
		n := fs.Int("n", 10, "how many records to read (suggest reads up to 1000)")
		pos, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		a, o, err := openOrg(ctx, configPath, pos[0], e, nil)
		if err != nil {
			return err
		}
		defer a.Close()
		want := *n
		if sub == "suggest" && want < 200 {
			want = 200
		}
		recs, err := sample(ctx, o.Provider, want)
		if err != nil {
			return err
		}
		if sub == "preview" {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(mapping.Preview(o.Mapping, recs[:min(len(recs), *n)]))
		}
		s, err := mapping.Suggest(recs)
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(s.Confidence))
		for k := range s.Confidence {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintln(e.stdout, "# confidence per field:")
		for _, k := range keys {
			fmt.Fprintf(e.stdout, "#   %-20s %.2f\n", k, s.Confidence[k])
		}
		b, err := yaml.Marshal(map[string]any{"mapping": s.Config})
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(b)
		return err
	default:
		return usageError{fmt.Sprintf("unknown mapping subcommand %q (check, preview, suggest)", sub)}
	}
}

var errEnough = errors.New("enough records")

// sample reads up to n records from the provider.
func sample(ctx context.Context, p dirsync.Provider, n int) ([]mapping.Record, error) {
	var out []mapping.Record
	err := p.Users(ctx, func(page []mapping.Record) error {
		out = append(out, page...)
		if len(out) >= n {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	if len(out) > n {
		out = out[:n]
	}
	if len(out) == 0 {
		return nil, errors.New("the provider listed no records")
	}
	return out, nil
}
