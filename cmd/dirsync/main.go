// Command dirsync is the operator CLI of directorysync. It reads the same
// configuration file as the reference server (without one: the bundled demo
// on sqlite:dirsync.db).
//
//	dirsync [-config FILE] sync ORG          run a full sync (exit 3 when the guard halts it)
//	dirsync [-config FILE] plan ORG          dry run: the changes a sync would make, as a table
//	dirsync [-config FILE] search ORG QUERY  Power Search in the search-box syntax
//	dirsync [-config FILE] runs ORG          recent sync runs
//	dirsync [-config FILE] changes ORG       the change journal
//	dirsync [-config FILE] mapping check|preview|suggest ORG
//	dirsync bench                            whole-sync and search benchmarks
//
// Exit codes: 0 success, 1 error, 2 usage, 3 halted by the deactivation guard.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitHalted = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: isTerminal(os.Stderr)})
	stop()
	os.Exit(code)
}

// env is what a command may touch, so tests can run it in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	isTerminal     bool
}

// usageError is a wrong invocation: exit code 2 with the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// haltedError ends a command with exit code 3.
type haltedError struct{ msg string }

func (e haltedError) Error() string { return e.msg }

const usage = `Usage: dirsync [-config FILE] COMMAND [ARGS]

The directorysync operator CLI. Without -config it uses the bundled demo org
"demo" on sqlite:dirsync.db, like the reference server.

Commands:
  sync ORG             run a full sync; a progress line on a terminal
  plan ORG             dry run: the changes a sync would make, as a table
  search ORG QUERY...  search in the search-box syntax, e.g. department:"Customer Success" ali
  runs ORG             recent sync runs, newest first
  changes ORG          the change journal
  mapping check ORG    compile the org's mapping and report errors
  mapping preview ORG  map the first records of the org's provider and show the profiles
  mapping suggest ORG  propose a mapping from the org's provider records
  bench                whole-sync and search benchmarks, as a markdown table

Run 'dirsync COMMAND -help' for a command's flags.
Exit codes: 0 ok, 1 error, 2 usage, 3 halted by the deactivation guard.
`

func run(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("dirsync", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file (YAML or JSON)")
	fs.Usage = func() { fmt.Fprint(e.stderr, usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	cmd, cargs := rest[0], rest[1:]
	var err error
	switch cmd {
	case "sync":
		err = cmdSync(ctx, *configPath, cargs, e)
	case "plan":
		err = cmdPlan(ctx, *configPath, cargs, e)
	case "search":
		err = cmdSearch(ctx, *configPath, cargs, e)
	case "runs":
		err = cmdRuns(ctx, *configPath, cargs, e)
	case "changes":
		err = cmdChanges(ctx, *configPath, cargs, e)
	case "mapping":
		err = cmdMapping(ctx, *configPath, cargs, e)
	case "bench":
		err = cmdBench(ctx, cargs, e)
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	var he haltedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "dirsync: %v\n\n%s", err, usage)
		return exitUsage
	case errors.As(err, &he):
		fmt.Fprintf(e.stderr, "dirsync: %v\n", err)
		return exitHalted
	default:
		fmt.Fprintf(e.stderr, "dirsync: %v\n", err)
		return exitError
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
