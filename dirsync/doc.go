// Package dirsync is the sync engine: it keeps one org's people from one
// Provider in step with a store.Store, safely when feeds break, when events
// race a long listing, when a returning employee comes back under a new ID,
// and when a mistake would deactivate half a company.
//
// # Runs
//
// A Syncer (New) serves one org and one provider source. Sync is a full
// reconcile:
//
//  1. It takes the org's lease (store.AcquireLease), renews it every third
//     of Config.LeaseTTL while the run lasts, and passes it to every Apply,
//     so a process that paused past the lease's expiry cannot write (the
//     store fails the Apply with store.ErrLeaseLost and the run fails). The
//     run is recorded as running with the journal sequence at its start
//     (StartSeq) and the lease's expiry, which the heartbeat keeps current.
//  2. It reads the store's compact snapshot once (external ID → hashes,
//     state, version) and streams the provider's listing. A record whose
//     source hash, mapping version and state equal the snapshot's is
//     unchanged: it is hashed, not mapped, and no row is loaded. The others
//     are mapped and queued; every BatchSize of them are loaded (LoadUsers,
//     1000 IDs a call), diffed with store.Diff, and written in one Apply,
//     which runs while the next batches are mapped and read (up to
//     Config.Writers writes in flight, two by default, so that a store
//     that writes on several connections uses more than one core). A batch
//     that shares an identity (external ID, idp ID, email, or a candidate
//     user) with a write still in flight waits for it and reads those
//     records again, so every batch is diffed as if the writes before it
//     were synchronous.
//  3. A changed source record with an unchanged profile rewrites the row
//     without a journal entry; a changed profile is one updated entry with
//     only the changed fields. Every write is a compare-and-set on the row
//     version: a conflict reloads and re-diffs that record (at most three
//     times), and a record older than the stored provider updated_at is
//     skipped, so events applied during a long listing are not undone.
//  4. A record that fails to map still has its provider state applied to a
//     stored user (a terminated person is deactivated); its other fields,
//     source record and mapping version stay, so the next run reports it
//     again. A new record that fails to map is skipped. Each failure is a
//     store.RecordError naming record and field. More than 10 % failures
//     fail the run and deactivate no one.
//  5. Deactivations wait for the end: people inactive at the provider, and
//     people absent from a listing that completed — only when groups and
//     members were listed too and the provider's Status is Linked, and only
//     users not written since the run started (each deactivation is a
//     compare-and-set on the snapshot's version; a row an event wrote
//     meanwhile fails it and is skipped).
//  6. The guard: more deactivations than Guard.MaxDeactivateFraction of the
//     source's active users (or, below Guard.MinUsers active users, all of
//     them) halts the run: status halted, the exact set in SyncRun.Held,
//     nothing deactivated, and Sync returns ErrHalted. Approve applies
//     exactly that set later, with the run's ID as cause, once.
//
// Under DeletePolicy DeleteGone, people gone from the provider are deleted
// (one deleted entry) and a tombstone of at least MinTombstoneTTL stops a
// late event from recreating them.
//
// A dry run (SyncOptions.DryRun) writes only its run record: it streams
// every change to SyncOptions.Plan and keeps the first Config.PlanLimit in
// the run. A dry run the guard would halt ends halted too (its HaltReason
// starts with "dry run:"), but cannot be approved.
//
// Re-running an interrupted sync converges: what was applied compares equal
// and writes nothing, so no journal entry is repeated.
//
// # Identity
//
// A record matches a stored user by external ID in the source; failing
// that, by idp ID and then by folded email, among the org's inactive users
// of any source. Such a match keeps the user's ID, takes the new external
// ID and source, and is journaled as relinked (plus reactivated when the
// person comes back active).
//
// # Groups
//
// After the users, Sync lists groups (created, renamed, deleted by external
// ID) and each group's members, and adds and removes memberships; member
// entries have the user as subject and group_id and group_name in After
// (added) or Before (removed). A deleted group's memberships go with it in
// one group_deleted entry.
//
// # Events
//
// ApplyEvent applies a provider event through the same mapper, identity
// matching and compare-and-set writes, in one Apply with the event's
// processed mark (store.EventMark): a crash cannot separate them, and a
// duplicate is a no-op. An event older than the stored data writes only its
// mark. Deactivations and deletions by events draw on an hourly budget per
// org (Config.EventBudget, by default the guard's threshold for the
// source's active users, counted from store.EventDeactivations over the
// last hour); past it, events are parked (store.ParkEvent) for
// ApproveParked, which applies them in order, each with its unparking. A
// directory deletion is always parked; approving it deactivates the
// source's people.
//
// Membership events are ordered per (user, group) by their own time: the
// Syncer keeps the time of the last membership event it applied per pair in
// memory (bounded; for four days) and writes only the mark for an older
// one. That memory is per process; the next full sync corrects whatever a
// reordering across a restart left wrong.
//
// # Remapping
//
// Preview shows what a changed mapping would change (counts per field,
// examples, state changes, failures), writing nothing. Remap applies it
// from the stored source records, with no provider call, as a remap run
// through the journal and the guard. A Sync whose mapper version differs
// from the last successful run's is recorded as a remap and maps everyone.
//
// # Notifications and observation
//
// Watch delivers the journal to the host at least once, resumably from a
// sequence number, woken at once by writes of Syncers in the same process
// and polling for the others. An Observer (SlogObserver logs with log/slog)
// hears of runs, halts, parked events and record errors; it is given IDs
// and counts, never personal data.
package dirsync
