// Package directorysync keeps a B2B application's copy of its customers'
// employee directories in sync with their identity providers, and makes those
// people searchable.
//
// Each customer organisation ("org") keeps its people in an IdP or HRIS,
// usually reached through WorkOS Directory Sync. directorysync streams an
// org's directory, maps each customer's attribute layout into one clean
// profile with a per-org mapping that is configuration, not code, creates,
// updates and deactivates people safely, journals every change for the host,
// and answers "Power Search" queries by department, division, office, tag,
// group, status and text, with facet counts.
//
// # Packages
//
//   - [github.com/directorysync/directorysync/dirsync]: the engine — Syncer
//     (full reconcile, guarded deactivation, approval, events, remap, preview),
//     the Scheduler, change notifications, the Provider interface.
//   - [github.com/directorysync/directorysync/mapping]: mappings as data
//     (expr-lang expressions), presets for common IdPs, Suggest and Preview.
//   - [github.com/directorysync/directorysync/search]: the Query, its two
//     syntaxes (URL parameters and the search box), folding, cursors.
//   - [github.com/directorysync/directorysync/store]: the records and the
//     Store interface; store/storetest is the conformance suite every store
//     passes.
//   - adapters: memstore, sqlitestore (pure Go), pgstore (pgx), workos
//     (provider, paced transport, events poller, signed webhooks) and
//     fileprovider (CSV, JSON, JSON lines).
//
// # Quick start
//
//	st := memstore.New()
//	provider, _ := fileprovider.New(fileprovider.Config{Path: "people.csv", IDField: "employeeNumber"})
//	mapper, _ := mapping.Compile(mapping.Config{Preset: "bamboohr"})
//	syncer, _ := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: provider, Mapper: mapper})
//	run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
//	if errors.Is(err, dirsync.ErrHalted) {
//		// The guard held a mass deactivation: inspect run.Held, then
//		// syncer.Approve(ctx, run.ID).
//	}
//	q, _ := search.ParseBox(`department:sales office:"New York" ali`)
//	page, _ := st.Search(ctx, "acme", q)
//	for _, u := range page.Users {
//		fmt.Println(u.FirstName, u.LastName, u.Email)
//	}
//
// examples/quickstart is this program, runnable; examples/server is the
// reference HTTP server with the Power Search page; cmd/dirsync the operator
// CLI.
//
// # Safety
//
// No store method reads across orgs. A listing that did not complete, or a
// source that is not linked, deactivates no one; a run that would deactivate
// more than an org's threshold halts and holds those deactivations for
// approval; deleting events past an hourly budget are parked. API keys and
// webhook secrets are never logged.
package directorysync
