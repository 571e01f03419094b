package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs dirsync in-process against a config with one file org of n
// people on a SQLite store in a temporary folder.
type cli struct {
	t      *testing.T
	dir    string
	config string
}

func newCLI(t *testing.T, n int) *cli {
	t.Helper()
	dir := t.TempDir()
	c := &cli{t: t, dir: dir, config: filepath.Join(dir, "dirsync.yaml")}
	c.people(n)
	doc := fmt.Sprintf(`store: sqlite:%s
orgs:
  - id: acme
    provider: {type: file, path: people.csv}
    mapping: {first_name: raw.first, last_name: raw.last, email: raw.email, department: raw.dept}
`, filepath.Join(dir, "d.db"))
	if err := os.WriteFile(c.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cli) people(n int) {
	var b strings.Builder
	b.WriteString("id,first,last,email,dept\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,Ann%d,Lee%d,ann%d@acme.test,%s\n", i, i, i, i, []string{"Sales", "Engineering"}[i%2])
	}
	if err := os.WriteFile(filepath.Join(c.dir, "people.csv"), []byte(b.String()), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"-config", c.config}, args...),
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	t.Parallel()

	t.Run("SyncSearchRunsChangesAndAHaltWithExitCode3", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, 20)
		code, out, errOut := c.run("sync", "acme")
		if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "created      20") {
			t.Fatalf("sync: %d\n%s\n%s", code, out, errOut)
		}
		code, out, _ = c.run("search", "acme", "dept:engineering", "ann1")
		if code != 0 || strings.Count(out, "\n") != 7 || !strings.Contains(out, "Ann1 Lee1") || strings.Contains(out, "Sales") {
			t.Fatalf("search: %d\n%s", code, out)
		}
		code, out, _ = c.run("search", "-json", "-limit", "2", "acme")
		if code != 0 || !strings.Contains(out, `"next_cursor"`) {
			t.Fatalf("search -json: %d\n%s", code, out)
		}
		code, out, _ = c.run("changes", "-limit", "2", "acme")
		if code != 0 || strings.Count(out, "created") != 2 {
			t.Fatalf("changes: %d\n%s", code, out)
		}
		c.people(10) // half gone: over the guard
		code, out, errOut = c.run("plan", "acme")
		if code != exitHalted || strings.Count(out, "deactivated") < 10 {
			t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut = c.run("sync", "acme")
		if code != exitHalted || !strings.Contains(out, "halted") || !strings.Contains(errOut, "approve") {
			t.Fatalf("sync over the guard: %d\n%s\n%s", code, out, errOut)
		}
		code, out, _ = c.run("runs", "acme")
		if code != 0 || !strings.Contains(out, "halted") || strings.Count(out, "\n") != 4 {
			t.Fatalf("runs: %d\n%s", code, out)
		}
	})

	t.Run("MappingCommands", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, 5)
		if code, out, _ := c.run("mapping", "check", "acme"); code != 0 || !strings.Contains(out, "compiles") {
			t.Fatalf("check: %d\n%s", code, out)
		}
		if code, out, _ := c.run("mapping", "preview", "-n", "2", "acme"); code != 0 || !strings.Contains(out, `"first_name": "Ann0"`) {
			t.Fatalf("preview: %d\n%s", code, out)
		}
		if code, out, _ := c.run("mapping", "suggest", "acme"); code != 0 || !strings.Contains(out, "mapping:") {
			t.Fatalf("suggest: %d\n%s", code, out)
		}
	})

	t.Run("UsageErrorsExitWith2AndHelpWith0", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, 1)
		for _, args := range [][]string{{}, {"frobnicate"}, {"sync"}, {"search", "acme", "colour:red"}, {"mapping"}, {"mapping", "explain", "acme"},
			{"bench", "-multi-org", "only"}, {"bench", "-multi-org", "sometimes"}} {
			if code, _, _ := c.run(args...); code != exitUsage {
				t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
			}
		}
		for _, args := range [][]string{{"help"}, {"sync", "-help"}, {"search", "-help"}, {"mapping", "check", "-help"}} {
			if code, _, _ := c.run(args...); code != 0 {
				t.Errorf("%v: exit %d, want 0", args, code)
			}
		}
		if code, _, errOut := c.run("sync", "globex"); code != exitError || !strings.Contains(errOut, `no org "globex"`) {
			t.Errorf("unknown org: %d %s", code, errOut)
		}
	})
}
