package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/directorysync/directorysync/internal/app"
	"github.com/directorysync/directorysync/internal/config"
)

// TestBrowser drives the Power Search page in headless Chromium: a preview
// of the first sync, the sync itself, a search in the search-box syntax, a
// facet click, paging, and a person's detail. It runs when
// DIRSYNC_TEST_BROWSER=1 (CI sets it after installing Debian's chromium) and
// writes its screenshots under the test's temporary directory, or under
// DIRSYNC_TEST_SCREENSHOTS when that is set.
func TestBrowser(t *testing.T) {
	if os.Getenv("DIRSYNC_TEST_BROWSER") == "" {
		t.Skip("set DIRSYNC_TEST_BROWSER=1 to drive the page in Chromium")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("DIRSYNC_TEST_BROWSER is set but chromium is not installed: %v", err)
	}
	shots := os.Getenv("DIRSYNC_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	cfg, err := config.Parse([]byte("store: memory\norgs: [{id: demo, name: Demo Company, provider: {type: demo}}]\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	a, err := app.Open(context.Background(), cfg, app.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	runCtx, cancelRuns := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancelRuns(); wg.Wait() }()
	auth, _ := newAuthenticator(nil, os.Getenv)
	mux, err := newMux(a, auth, logger, os.Getenv, runCtx, &wg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	waitFor := func(name, js string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
			t.Fatalf("%s: waiting for %s: %v\npage text:\n%s", name, js, err, text)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	step("open the page", chromedp.Navigate(srv.URL+"/"))
	waitFor("the org list", `document.querySelector("#org option") !== null`)
	waitFor("the never-synced notice", `document.querySelector("#last-run").textContent.includes("Never synced")`)

	// Preview: the dry run's plan, as a table of changes.
	step("click Preview", chromedp.Click(chromedp.ID("preview"), chromedp.NodeVisible))
	waitFor("the plan table", `document.querySelectorAll("#plan-table tr").length > 10`)
	if got := eval(`document.querySelector("#plan-table tr:nth-child(3) td").textContent`); got != "created" {
		t.Fatalf("first planned change is %q, want created", got)
	}
	shot("01-preview.png")

	// Run the sync, then the first page of results appears.
	step("click Run sync", chromedp.Click(chromedp.ID("run-sync"), chromedp.NodeVisible))
	waitFor("the synced run", `document.querySelector("#last-run").textContent.includes("succeeded")`)
	waitFor("the first page", `document.querySelectorAll("#people tbody tr").length === 50`)
	shot("02-results.png")

	// Search in the box syntax: every row is then in Engineering.
	step("type a search", chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = ""`), chromedp.SendKeys(chromedp.ID("q"), "department:Engineering\n"))
	waitFor("engineering only", `[...document.querySelectorAll("#people tbody tr td:nth-child(3)")].every(td => td.textContent === "Engineering") && document.querySelectorAll("#people tbody tr").length > 0`)
	engineers, _ := strconv.Atoi(eval(`String(document.querySelectorAll("#people tbody tr").length)`))

	// A facet click refines the query and marks the facet pressed.
	step("click an office facet", chromedp.Click(chromedp.CSS(`#facets .facet[data-field="office"]`), chromedp.NodeVisible))
	waitFor("the pressed facet", `document.querySelector('#facets .facet[data-field="office"][aria-pressed="true"]') !== null`)
	office := eval(`document.querySelector('#facets .facet[data-field="office"][aria-pressed="true"]').dataset.value`)
	if q := eval(`document.querySelector("#q").value`); !strings.Contains(q, "office:") {
		t.Fatalf("the facet did not reach the search box: %q", q)
	}
	waitFor("rows in that office", `[...document.querySelectorAll("#people tbody tr td:nth-child(4)")].every(td => td.textContent === `+jsString(office)+`)`)
	if refined, _ := strconv.Atoi(eval(`String(document.querySelectorAll("#people tbody tr").length)`)); refined >= engineers {
		t.Fatalf("the facet did not narrow the results: %d of %d", refined, engineers)
	}
	shot("03-facet.png")

	// Paging: clear the query; page 2 holds other people.
	step("clear the search", chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = ""`), chromedp.SendKeys(chromedp.ID("q"), "\n"))
	waitFor("a full first page", `document.querySelectorAll("#people tbody tr").length === 50 && !document.querySelector("#next").disabled`)
	first := eval(`document.querySelector("#people tbody tr td").textContent`)
	step("next page", chromedp.Click(chromedp.ID("next"), chromedp.NodeVisible))
	waitFor("page 2", `document.querySelector("#page-no").textContent === "Page 2"`)
	waitFor("other people on page 2", `document.querySelector("#people tbody tr td").textContent !== `+jsString(first))
	shot("04-page2.png")

	// A person's detail.
	step("open a person", chromedp.Click(chromedp.CSS("#people tbody .person"), chromedp.NodeVisible))
	waitFor("the detail", `!document.querySelector("#detail").hidden && document.querySelector("#detail-list").textContent.includes("Email")`)
	shot("05-detail.png")
	t.Logf("screenshots in %s", shots)
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
