package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/bench"
)

const benchAbout = `Measures whole syncs and searches of a synthetic directory on each store and
prints them as markdown tables: the raw database limit, a cold full sync, a
no-op resync, a 1 % churn resync and a remap (each also as a ratio to the raw
limit), the peak memory of the sync, and search latencies (p50 and p99 of the
query mix, median of the runs). Each store and size runs in two child
processes: one generates the listings and measures the raw limit, the other
syncs and searches, so that the sync's memory peak is its own.
The postgres store runs in a fresh schema of the database that -postgres (or
DIRSYNC_TEST_POSTGRES_DSN) names, dropped afterwards; only a database on
loopback is accepted. "dirsync bench" at 10k people takes about a minute.`

func cmdBench(ctx context.Context, args []string, e env) error {
	fs := newFlags(e, "bench", "[flags]", benchAbout)
	sizes := fs.String("size", "10k", "comma-separated directory sizes in people: 10k, 100k, 1m, …")
	stores := fs.String("stores", "", "comma-separated stores: memory, sqlite, postgres (default: all available; postgres when a DSN is given)")
	dsn := fs.String("postgres", "", "PostgreSQL DSN on loopback (default $DIRSYNC_TEST_POSTGRES_DSN)")
	queries := fs.Int("queries", 500, "queries of each kind per search run (at least 500 for a meaningful p99)")
	runs := fs.Int("runs", 3, "search runs; the median of their p50 and p99 is reported")
	multiOrg := fs.String("multi-org", "auto", "also measure search over size/10k orgs of 10k people on the SQL stores: auto (below 1m people), on, off, or only (with -search-only: the many orgs alone)")
	searchOnly := fs.Bool("search-only", false, "skip the raw load and the syncs: load each store through Apply and measure search only")
	writers := fs.Int("writers", 0, "batches a sync writes at once (dirsync.Config.Writers; 0: its default, 2)")
	remap := fs.Bool("remap", true, "measure the remap (-remap=false leaves it out: at 1m people on SQLite it takes longest)")
	out := fs.String("out", "", "also write the tables to this file")
	child := fs.Bool("child", false, "internal: run one measurement described on standard input")
	pos, err := parse(fs, args, 0)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("bench takes no arguments, got %q", pos)}
	}
	if *child {
		return bench.ServeChild(ctx, os.Stdin, e.stdout, e.stderr)
	}

	opts := bench.Options{Queries: *queries, Runs: *runs, SearchOnly: *searchOnly, SkipRemap: !*remap, Writers: *writers, Log: e.stderr}
	if *queries < 1 || *runs < 1 {
		return usageError{fmt.Sprintf("-queries (%d) and -runs (%d) must be at least 1", *queries, *runs)}
	}
	if *writers < 0 || *writers > dirsync.MaxWriters {
		return usageError{fmt.Sprintf("-writers %d must be 0 (the default) to %d", *writers, dirsync.MaxWriters)}
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := bench.ParseSize(s)
		if err != nil {
			return usageError{"-size: " + err.Error()}
		}
		opts.Sizes = append(opts.Sizes, n)
	}
	opts.PostgresDSN = *dsn
	if opts.PostgresDSN == "" {
		opts.PostgresDSN = e.getenv("DIRSYNC_TEST_POSTGRES_DSN")
	}
	if *stores == "" {
		opts.Stores = []string{bench.Memory, bench.SQLite}
		if opts.PostgresDSN != "" {
			opts.Stores = append(opts.Stores, bench.Postgres)
		}
	} else {
		for _, s := range strings.Split(*stores, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains([]string{bench.Memory, bench.SQLite, bench.Postgres}, s) {
				return usageError{fmt.Sprintf("-stores: unknown store %q (want memory, sqlite or postgres)", s)}
			}
			if s == bench.Postgres && opts.PostgresDSN == "" {
				return usageError{"-stores postgres needs -postgres DSN or DIRSYNC_TEST_POSTGRES_DSN"}
			}
			opts.Stores = append(opts.Stores, s)
		}
	}
	switch *multiOrg {
	case "auto":
		opts.MultiOrg = func(size int) bool { return size < 1_000_000 }
	case "on":
		opts.MultiOrg = func(int) bool { return true }
	case "off":
	case "only":
		if !*searchOnly {
			return usageError{"-multi-org only measures search alone: add -search-only"}
		}
		opts.MultiOrg = func(int) bool { return true }
		opts.OrgsOnly = true
	default:
		return usageError{fmt.Sprintf("-multi-org %q: want auto, on, off or only", *multiOrg)}
	}
	if opts.PostgresDSN != "" {
		if err := bench.CheckLoopback(opts.PostgresDSN); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run the measurements in child processes: %w", err)
	}
	opts.Child = bench.Exec{Path: exe, Args: []string{"bench", "-child"}, Stderr: e.stderr}.Run
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if err := rep.Markdown(e.stdout); err != nil {
		return err
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := rep.Markdown(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
