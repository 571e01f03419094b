// Package workos connects directorysync to WorkOS Directory Sync: a
// dirsync.Provider over one WorkOS directory, an events poller over the
// WorkOS Events API, and the http.Handler for WorkOS's signed webhooks. It is
// built on github.com/workos/workos-go/v4.
//
// # Setup
//
//  1. API key: create a secret key (sk_…) in the WorkOS dashboard with read
//     access to Directory Sync and Events. Pass it as Config.APIKey (the
//     reference server reads WORKOS_API_KEY; WORKOS_BASE_URL overrides the
//     endpoint). It is sent only in the Authorization header; Config's
//     String, GoString and LogValue redact it and nothing here logs headers.
//
//  2. Directory IDs: each org's directory (directory_…) is on the
//     organization's page in the dashboard, or from the API's
//     /directories?organization_id=…. One Provider lists one directory:
//
//     tr, _ := workos.NewTransport(workos.TransportConfig{}) // one per API key
//     p, err := workos.NewProvider(workos.Config{APIKey: key, DirectoryID: dir, Transport: tr})
//
//  3. Webhooks: add an endpoint in the dashboard (Developers → Webhooks) with
//     the URL your host serves the handler on (the reference server:
//     POST /v1/webhooks/workos) and the dsync.* events; copy its signing
//     secret into WebhookConfig.Secret (WORKOS_WEBHOOK_SECRET). Route maps
//     each directory ID to its org's applier (*dirsync.Syncer).
//
//  4. Events API (optional, instead of or beside webhooks, e.g. when the
//     host cannot receive inbound HTTP): run NewPoller(p, …).Run(ctx) per
//     directory; its cursor lives in the store.
//
// # What it does
//
// Users pages /directory_users 100 at a time (cursor paging with after)
// and turns each user into a mapping.Record: custom_attributes become
// Record.Custom, raw_attributes Record.Raw when not empty, state is kept as
// WorkOS's word ("suspended" counts as inactive), and email falls back to the
// primary entry of the deprecated emails list. Pages are decoded by a lean
// decoder that reads each user once (the SDK's types keep the attribute maps
// as raw JSON to be decoded a second time). Group memberships are read by
// listing each group's users with only their IDs decoded, because WorkOS no
// longer fills a user's groups list. Status reports the directory's state;
// only "linked" lets a sync deactivate anyone.
//
// The Transport paces requests to /directory_users per directory (default
// 3.8 per second, below WorkOS's 4) and all requests per API key (6,000 per
// 60 s), evenly spaced; retries 429 answers after Retry-After, and 5xx
// answers, timeouts and dropped connections of GET requests with capped
// exponential back-off and jitter; and stops waiting when the request's
// context is done. A listing whose retries run out fails, and a failed
// listing deactivates no one.
//
// The WebhookHandler verifies WorkOS-Signature itself (the SDK's check
// compares with ==, accepts any future timestamp and depends on the header's
// exact spacing): HMAC-SHA256 compared in constant time, a timestamp within
// 180 s in either direction, spacing and part order tolerated, several v1
// values accepted (secret rotation), a 1 MiB body limit. It acknowledges a
// delivery only after the applier returned nil — the engine stores the event
// with its processed-event mark first — and answers 500 otherwise so that
// WorkOS delivers it again.
//
// # Caveats
//
//   - Share one Transport among all providers and pollers of an API key;
//     separate Transports pace separately and together can exceed the key's
//     limit. Several processes with one key pace independently too: lower
//     KeyRequests accordingly.
//   - Events may arrive out of order and more than once (WorkOS retries for 3
//     days). The engine orders them by the provider's updated_at and event
//     time and deduplicates them by event ID; this package passes both
//     through untouched. The handler also remembers recently acknowledged
//     event IDs in memory, which is only a shortcut.
//   - Webhooks for directories no Route knows are acknowledged and ignored,
//     as are event kinds other than dsync.* (WorkOS sends every event of the
//     environment to one endpoint). dsync.deleted is passed on as
//     dirsync.EventDirectoryDeleted, which the engine parks for approval.
//   - The Events API keeps 30 days. A poller whose cursor is older (it was
//     stopped too long), has none yet, or whose cursor WorkOS refuses, runs a
//     full reconcile instead and reads events from the reconcile's start. The
//     Events API is environment-wide: each poller reads all dsync.* events
//     and skips other directories' (PollerConfig.OrganizationID narrows it).
//   - The poller rewrites the source's whole SourceState to move its cursor;
//     it reads the state just before writing, so other fields survive unless
//     another writer changes them in that instant.
//   - New WorkOS environments delete inactive users (dsync.user.deleted) and
//     give a returning employee a new directory user ID; the engine's
//     identity matching by idp_id and email handles that, not this package.
//   - Tests and benchmarks run against internal/fakeworkos, a fake that
//     writes the SDK's JSON shapes; the rate-ceiling test and benchmark run
//     the fake and the Transport on a shared virtual clock.
package workos
