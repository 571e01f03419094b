package dirsync

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// SyncOptions are the options of one Sync.
type SyncOptions struct {
	// DryRun computes the run without writing anything but its run record.
	DryRun bool
	// Plan, when set, receives every change a dry run would make, in order
	// (the run record keeps only the first Config.PlanLimit). An error from
	// it stops the dry run.
	Plan func(store.PlanItem) error
	// Started, when set, receives the run record as soon as the run is
	// recorded as running (after the lease is taken), before the listing
	// starts — for callers that answer "started" and let the run go on.
	Started func(store.SyncRun)
}

// maxConflictRetries bounds how often one record is reloaded and re-diffed
// after a compare-and-set conflict within a run.
const maxConflictRetries = 3

// Sync runs one full reconcile of the org's source; see DESIGN.md "Sync
// semantics". It returns the finished run record. A halted run comes back
// with ErrHalted, a failed one with an error wrapping ErrRunFailed (and the
// cause), and a sync that could not start (the lease is held: ErrBusy) with
// a zero run.
//
// When the mapper's version differs from the one the source's last
// successful sync applied, the run is recorded as a remap: every stored
// person is mapped again.
func (s *Syncer) Sync(ctx context.Context, opts SyncOptions) (store.SyncRun, error) {
	m := s.Mapper()
	mode := store.ModeFull
	if opts.DryRun {
		mode = store.ModeDryRun
	} else if ss, err := s.st.SourceState(ctx, s.cfg.OrgID, s.source); err == nil &&
		ss.MappingVersion != "" && ss.MappingVersion != m.Version() {
		mode = store.ModeRemap
	}
	return s.execute(ctx, execSpec{
		mode: mode, mapper: m, dry: opts.DryRun, plan: opts.Plan, started: opts.Started,
		list: s.cfg.Provider.Users, absence: true, groups: true, status: true, record: true,
	})
}

// execSpec says how one run works.
type execSpec struct {
	mode   store.RunMode
	mapper mapping.Mapper
	dry    bool
	plan   func(store.PlanItem) error
	// started is told the running run record (SyncOptions.Started).
	started func(store.SyncRun)
	// list streams the records: the provider's, or the stored ones.
	list func(ctx context.Context, fn func([]mapping.Record) error) error
	// absence: a complete listing deactivates the people it lacks.
	absence bool
	// groups: sync groups and memberships too.
	groups bool
	// status: ask the provider whether it is linked before deactivating.
	status bool
	// record: write a run record (false only for Preview).
	record bool
	// stats, when set, receives the record totals at the end.
	stats *runStats
}

// runStats are a run's record totals.
type runStats struct{ total, failed int }

// snapEntry is what a run keeps of a snapshot entry, and whether the
// listing has shown it. It is compact — a run holds one per stored person
// (a million of them for the largest orgs) — so it keeps the source hash
// as its 16 bytes rather than as a string, and of the mapping version only
// whether it is the run's.
type snapEntry struct {
	UserID, ExternalID string
	Version            int64
	sourceHash         [16]byte
	// hashOK: sourceHash holds the entry's source hash (one of the current
	// hash version); otherwise the entry never counts as unchanged.
	hashOK bool
	// mvCurrent: the entry was mapped with the run's mapping version.
	mvCurrent bool
	Active    bool
	seen      bool
}

// compactEntry keeps of e what a run needs.
func compactEntry(e *store.SnapshotEntry, mv string) snapEntry {
	c := snapEntry{UserID: e.UserID, ExternalID: e.ExternalID, Version: e.Version, Active: e.Active,
		mvCurrent: e.MappingVersion == mv}
	c.sourceHash, c.hashOK = hashBytes(e.SourceHash)
	return c
}

// hashBytes decodes a source hash of the current version (store.HashSource)
// to its 16 bytes.
func hashBytes(h string) (b [16]byte, ok bool) {
	const prefix = store.SourceHashVersion + ":"
	if len(h) != len(prefix)+2*len(b) || h[:len(prefix)] != prefix {
		return b, false
	}
	if _, err := hex.Decode(b[:], []byte(h[len(prefix):])); err != nil {
		return b, false
	}
	return b, true
}

// pendingDeactivation is a deactivation that waits for the end of a run.
type pendingDeactivation struct {
	userID, externalID string
	version            int64     // the snapshot's row version: CAS on it
	d                  *decision // nil for a person absent from the listing
}

// runState is one run in progress. Only the run's goroutine touches it,
// except run (guarded by mu) which the lease keeper also updates.
type runState struct {
	s      *Syncer
	ctx    context.Context
	spec   execSpec
	mv     string
	now    time.Time
	keeper *leaseKeeper

	mu  sync.Mutex
	run store.SyncRun

	counts   store.Counts
	errs     []store.RecordError
	total    int
	failed   int
	plan     []store.PlanItem
	entries  []snapEntry
	idx      map[string]int32
	active   int
	listed   map[string]string // external ID → user ID, for records not in the snapshot
	claimed  map[string]struct{}
	pending  []pendingDeactivation
	slow     []matchInput // changed records waiting for flush
	inflight []*write     // the batches being written, oldest first (see applyItems)
	failedW  bool         // a write failed: write nothing more in this run
	wrote    bool         // whether anything was journaled
	lastSeq  int64
	haltedBy string
}

func (s *Syncer) execute(ctx context.Context, spec execSpec) (store.SyncRun, error) {
	org := s.cfg.OrgID
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &runState{s: s, ctx: ctx, spec: spec, mv: spec.mapper.Version(), now: s.cfg.Now(),
		idx: map[string]int32{}, listed: map[string]string{}, claimed: map[string]struct{}{}}
	r.run = store.SyncRun{ID: newID("run"), OrgID: org, SourceID: s.source, Mode: spec.mode,
		Status: store.RunRunning, StartedAt: r.now, MappingVersion: r.mv}

	if !spec.dry {
		lease, err := s.st.AcquireLease(ctx, org, s.cfg.Holder, s.cfg.LeaseTTL)
		if errors.Is(err, store.ErrLeaseHeld) {
			return store.SyncRun{}, ErrBusy
		}
		if err != nil {
			return store.SyncRun{}, fmt.Errorf("dirsync: taking the org lease: %w", err)
		}
		r.run.LeaseExpiresAt = lease.ExpiresAt
		r.keeper = startLeaseKeeper(s.st, lease, s.cfg.LeaseTTL, cancel, r.leaseRenewed, s.logf)
		defer r.keeper.release(context.WithoutCancel(ctx))
	}
	seq, err := s.st.LastSeq(ctx, org)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("dirsync: reading the journal position: %w", err)
	}
	r.run.StartSeq = seq
	if spec.record {
		if err := s.st.CreateRun(ctx, r.run); err != nil {
			return store.SyncRun{}, fmt.Errorf("dirsync: recording the run: %w", err)
		}
		s.cfg.Observer.RunStarted(ctx, r.run)
		if spec.started != nil {
			spec.started(r.run)
		}
	}

	runErr := r.body()
	// No write may outlive the run: wait for the last batch's.
	if err := r.settle(); err != nil && runErr == nil {
		runErr = err
	}
	if spec.stats != nil {
		*spec.stats = runStats{total: r.total, failed: r.failed}
	}
	return r.finish(runErr)
}

// leaseRenewed records the renewed lease's expiry on the running run, so
// that a run whose process died reads as failed once its lease lapses.
func (r *runState) leaseRenewed(l store.Lease) {
	if !r.spec.record {
		return
	}
	r.mu.Lock()
	r.run.LeaseExpiresAt = l.ExpiresAt
	run := r.run
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.s.cfg.LeaseTTL/3)
	defer cancel()
	if err := r.s.st.UpdateRun(ctx, run, store.RunRunning); err != nil {
		r.s.logf("recording the run's lease expiry failed", err)
	}
}

// publish copies the counts and errors into the run record.
func (r *runState) publish() {
	r.mu.Lock()
	r.run.Counts = r.counts
	r.run.Errors = append([]store.RecordError(nil), r.errs...)
	r.run.Plan = r.plan
	r.mu.Unlock()
}

func (r *runState) finish(runErr error) (store.SyncRun, error) {
	s := r.s
	if r.keeper != nil {
		// Stop renewing (and touching the run record) before the final
		// update; the deferred release gives the lease up.
		r.keeper.halt()
	}
	r.publish()
	bg, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
	defer cancel()
	r.mu.Lock()
	fin := s.cfg.Now()
	r.run.FinishedAt = &fin
	var retErr error
	switch {
	case runErr == nil && r.haltedBy != "":
		r.run.Status = store.RunHalted
		r.run.HaltReason = r.haltedBy
		retErr = ErrHalted
	case runErr == nil:
		r.run.Status = store.RunSucceeded
	default:
		if cause := context.Cause(r.ctx); cause != nil && r.ctx.Err() != nil && !errors.Is(runErr, cause) {
			runErr = fmt.Errorf("%w (%w)", runErr, cause)
		}
		r.run.Status = store.RunFailed
		r.run.Error = runErr.Error()
		retErr = fmt.Errorf("%w: %w", ErrRunFailed, runErr)
	}
	run := r.run
	r.mu.Unlock()

	if r.spec.record {
		if err := s.st.UpdateRun(bg, run, store.RunRunning); err != nil {
			return run, errors.Join(retErr, fmt.Errorf("dirsync: recording the run's end: %w", err))
		}
		if run.Status == store.RunHalted {
			s.cfg.Observer.RunHalted(bg, run)
		} else {
			s.cfg.Observer.RunFinished(bg, run)
		}
	}
	if run.Status == store.RunSucceeded && !r.spec.dry && r.spec.record {
		if err := s.putMappingVersion(bg, r.mv); err != nil {
			s.logf("recording the source's mapping version failed", err)
		}
	}
	if r.wrote {
		notify(s.cfg.OrgID)
	}
	return run, retErr
}

func (s *Syncer) putMappingVersion(ctx context.Context, mv string) error {
	ss, err := s.st.SourceState(ctx, s.cfg.OrgID, s.source)
	if err != nil {
		return err
	}
	if ss.MappingVersion == mv {
		return nil
	}
	ss.OrgID, ss.SourceID, ss.MappingVersion = s.cfg.OrgID, s.source, mv
	return s.st.PutSourceState(ctx, ss)
}

func (s *Syncer) logf(msg string, err error) {
	s.cfg.Logger.Warn("dirsync: "+msg, slog.String("org_id", s.cfg.OrgID), slog.String("source_id", s.source), slog.Any("error", err))
}

// addErr records a per-record error (bounded) and tells the observer.
func (r *runState) addErr(e store.RecordError) {
	if len(r.errs) < r.s.cfg.MaxRecordErrors {
		r.errs = append(r.errs, e)
	}
	if r.spec.record {
		r.s.cfg.Observer.RecordError(r.ctx, r.s.cfg.OrgID, r.run.ID, e)
	}
}

func (r *runState) lease() *store.Lease {
	if r.keeper == nil {
		return nil
	}
	return r.keeper.current()
}

// body is the run: snapshot, stream, groups, deactivations.
func (r *runState) body() error {
	s := r.s
	err := s.st.Snapshot(r.ctx, s.cfg.OrgID, s.source, func(e store.SnapshotEntry) error {
		r.idx[e.ExternalID] = int32(len(r.entries))
		r.entries = append(r.entries, compactEntry(&e, r.mv))
		if e.Active {
			r.active++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the store's snapshot: %w", err)
	}
	if err := r.spec.list(r.ctx, r.page); err != nil {
		err = fmt.Errorf("listing users did not complete, so no one was deactivated: %w", err)
		if r.ctx.Err() == nil && !r.failedW {
			// What streamed before the failure is safe to apply (unless
			// the failure was a write's).
			if ferr := r.flush(); ferr != nil {
				err = errors.Join(err, ferr)
			}
		}
		return err
	}
	if err := r.flush(); err != nil {
		return err
	}
	if err := r.settle(); err != nil {
		return err
	}
	if r.failed*10 > r.total {
		return fmt.Errorf("%d of %d records failed to map (more than 10 %%), so no one was deactivated", r.failed, r.total)
	}
	if r.spec.groups {
		if err := r.syncGroups(); err != nil {
			return fmt.Errorf("syncing groups did not complete, so no one was deactivated: %w", err)
		}
	}
	return r.deactivate()
}

// page handles one page of the listing. Records whose snapshot entry shows
// the same source hash, mapping version and state are unchanged and cost
// no allocation beyond hashing; the others are mapped and queued, and every
// BatchSize queued records are diffed and written together (flush), so a
// listing with few changes makes few store calls.
func (r *runState) page(recs []mapping.Record) error {
	if err := r.ctx.Err(); err != nil {
		return context.Cause(r.ctx)
	}
	for i := range recs {
		r.scan(&recs[i])
		if len(r.slow) >= r.s.cfg.BatchSize {
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
	r.publish()
	return nil
}

// scan counts an unchanged record or queues a changed one.
func (r *runState) scan(rec *mapping.Record) {
	r.total++
	if re := validateRecord(rec); re != nil {
		r.failed++
		r.counts.Skipped++
		r.addErr(*re)
		return
	}
	var (
		src    []byte
		sh     string
		srcErr error
	)
	if ix, ok := r.idx[rec.ExternalID]; ok {
		e := &r.entries[ix]
		if e.seen {
			return // listed twice: the first listing wins
		}
		e.seen = true
		if e.mvCurrent && e.hashOK && e.Active == rec.State.Active() {
			src, sh, srcErr = store.EncodeSource(rec)
			if b, ok := hashBytes(sh); ok && b == e.sourceHash {
				r.counts.Unchanged++
				return
			}
		}
	} else {
		if _, dup := r.listed[rec.ExternalID]; dup {
			return
		}
		r.listed[rec.ExternalID] = ""
	}
	if sh == "" {
		src, sh, srcErr = store.EncodeSource(rec)
	}
	// Copy the record: the provider may reuse its page.
	cp := *rec
	in := matchInput{rec: &cp, sh: sh, src: src, srcErr: srcErr}
	in.prof, in.perr = safeMap(r.spec.mapper, &cp)
	if in.perr != nil {
		r.failed++
	}
	r.slow = append(r.slow, in)
}

// flush diffs the queued records against their stored rows (one
// LoadUsers) and starts writing them (one Apply, see applyItems). The
// stored rows are read while the previous batch is still being written
// (reads and the write overlap, as mapping and the write do); once that
// write is settled, the records it may have changed the answer for are
// read again (see touched), so each batch is diffed against the rows every
// earlier batch wrote, exactly as if the writes were synchronous.
func (r *runState) flush() error {
	slow := r.slow
	r.slow = nil
	if len(slow) == 0 {
		return r.settle()
	}
	needIdentity := func(ins []matchInput) func(int) bool {
		return func(i int) bool {
			_, inSnap := r.idx[ins[i].rec.ExternalID]
			return !inSnap
		}
	}
	cands, loadErr := loadCandidates(r.ctx, r.s.st, r.s.cfg.OrgID, r.s.source, slow, needIdentity(slow))
	if loadErr != nil {
		return loadErr
	}
	var (
		again []int // indexes in slow of the records read again
		fresh *candidates
		redo  []bool
	)
	// The read overlapped the writes in flight (read is their list): the
	// records they may have changed the answer for are read again once
	// they are settled. With one writer, every write is settled first, so
	// that its keys are what it wrote, conflict retries included; with
	// more, the newer writes' keys are those they set out to write, and
	// the batch waits for them only when it shares an identity with them.
	// (A retry of theirs that writes another user than it set out to,
	// after a conflict with an event, meets this batch's writes in the
	// store's version checks.)
	read := slices.Clone(r.inflight)
	for len(r.inflight) >= r.s.cfg.Writers {
		if err := r.settleOne(); err != nil {
			return err
		}
	}
	touched := func() (again []int) {
		for _, w := range read {
			again = append(again, w.keys.touched(slow, cands)...)
		}
		slices.Sort(again)
		return slices.Compact(again)
	}
	if again = touched(); len(again) > 0 && len(r.inflight) > 0 {
		if err := r.settle(); err != nil {
			return err
		}
		again = touched()
	}
	if len(again) > 0 {
		sub := make([]matchInput, len(again))
		for k, i := range again {
			sub[k] = slow[i]
		}
		var err error
		if fresh, err = loadCandidates(r.ctx, r.s.st, r.s.cfg.OrgID, r.s.source, sub, needIdentity(sub)); err != nil {
			return err
		}
		// A user whose own external ID the batch lists is no returning
		// person, whichever read found it.
		fresh.requested = cands.requested
		redo = make([]bool, len(slow))
		for _, i := range again {
			redo[i] = true
		}
	}
	items := make([]item, 0, len(slow))
	for i := range slow {
		c := cands
		if redo != nil && redo[i] {
			c = fresh
		}
		if it, ok := r.resolve(&slow[i], c, 0); ok {
			items = append(items, it)
		}
	}
	return r.applyItems(items)
}

// writtenKeys are the identities of the users a batch wrote: their IDs and,
// as written, their external IDs in the source, idp IDs and folded emails.
type writtenKeys struct {
	ids, exts, idps, mails map[string]struct{}
}

func (k *writtenKeys) reset() {
	clear(k.ids)
	clear(k.exts)
	clear(k.idps)
	clear(k.mails)
}

func (k *writtenKeys) add(u *store.User, source string) {
	if k.ids == nil {
		k.ids, k.exts, k.idps, k.mails = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	}
	k.ids[u.ID] = struct{}{}
	if u.SourceID == source {
		k.exts[u.ExternalID] = struct{}{}
	}
	if u.IdpID != "" {
		k.idps[u.IdpID] = struct{}{}
	}
	if f := search.Fold(u.Email); f != "" {
		k.mails[f] = struct{}{}
	}
}

// touched returns the indexes of the records among ins whose candidates,
// as cands holds them, a write of these users may have changed: a record
// with the external ID, idp ID or email of a written user (which may now
// match it), or with a candidate that was written (which may no longer).
func (k *writtenKeys) touched(ins []matchInput, cands *candidates) []int {
	if len(k.ids) == 0 {
		return nil
	}
	written := func(us ...*store.User) bool {
		for _, u := range us {
			if _, ok := k.ids[u.ID]; ok {
				return true
			}
		}
		return false
	}
	var out []int
	for i := range ins {
		rec := ins[i].rec
		_, ext := k.exts[rec.ExternalID]
		hit := ext
		if u := cands.byExt[rec.ExternalID]; !hit && u != nil {
			hit = written(u)
		}
		if idp := rec.IdpID; !hit && idp != "" {
			_, hit = k.idps[idp]
			hit = hit || written(cands.byIdp[idp]...)
		}
		if !hit {
			if e := search.Fold(matchEmail(&ins[i])); e != "" {
				_, hit = k.mails[e]
				hit = hit || written(cands.byMail[e]...)
			}
		}
		if hit {
			out = append(out, i)
		}
	}
	return out
}

// item is one decided record waiting to be written.
type item struct {
	in    *matchInput
	d     decision
	tries int
}

func (r *runState) claimedFn(u *store.User) bool {
	if _, ok := r.claimed[u.ID]; ok {
		return true
	}
	if u.SourceID == r.s.source {
		if ix, ok := r.idx[u.ExternalID]; ok && r.entries[ix].seen {
			return true // listed in this run under its own external ID
		}
		if _, ok := r.listed[u.ExternalID]; ok {
			return true // the same, for a person not in the snapshot
		}
	}
	return false
}

// resolve matches and decides one record. It returns an item to write, or
// false when the record was counted (unchanged, skipped, or deferred to the
// end of the run).
func (r *runState) resolve(in *matchInput, cands *candidates, tries int) (item, bool) {
	stored, relink := cands.match(in, r.s.source, r.claimedFn)
	d := r.s.decide(in, stored, relink, r.mv, r.now, r.run.ID)
	if d.recErr != nil && tries == 0 {
		r.addErr(*d.recErr)
	}
	if relink {
		r.claimed[stored.ID] = struct{}{}
	}
	ext := in.rec.ExternalID
	if _, ok := r.listed[ext]; ok && stored != nil {
		r.listed[ext] = stored.ID
	}
	switch d.act {
	case actNone:
		r.counts.Unchanged++
		return item{}, false
	case actSkip:
		r.counts.Skipped++
		return item{}, false
	case actDeactivate:
		// Deactivations wait for the end of the run, and only touch rows
		// not written since the run started: CAS on the snapshot version.
		ix, inSnap := r.idx[ext]
		if !inSnap || r.entries[ix].UserID != stored.ID {
			r.counts.Skipped++ // written since the run started
			return item{}, false
		}
		e := r.entries[ix]
		if r.s.cfg.DeletePolicy == DeleteGone {
			d = r.s.goneDecision(stored, e.Version, r.now, r.run.ID)
		}
		d.write.ExpectVersion = e.Version
		r.pending = append(r.pending, pendingDeactivation{userID: stored.ID, externalID: ext, version: e.Version, d: &d})
		return item{}, false
	}
	if _, ok := r.listed[ext]; ok {
		r.listed[ext] = d.write.User.ID
	}
	return item{in: in, d: d, tries: tries}, true
}

// count adds an applied (or, in a dry run, planned) decision to the run.
func (r *runState) count(d *decision) {
	switch d.act {
	case actCreate:
		r.counts.Created++
	case actUpdate:
		r.counts.Updated++
	case actReactivate:
		r.counts.Reactivated++
	case actRelink:
		r.counts.Relinked++
		if d.reactivates {
			r.counts.Reactivated++
		}
	case actSourceOnly:
		r.counts.Unchanged++
	case actDeactivate:
		if d.write.Delete {
			r.counts.Deleted++
		} else {
			r.counts.Deactivated++
		}
	}
}

// emitPlan streams a dry run's changes.
func (r *runState) emitPlan(d *decision) error {
	for _, c := range d.changes {
		p := store.PlanItem{Kind: c.Kind, ExternalID: d.write.User.ExternalID, UserID: c.SubjectID, Before: c.Before, After: c.After}
		if len(r.plan) < r.s.cfg.PlanLimit {
			r.plan = append(r.plan, p)
		}
		if r.spec.plan != nil {
			if err := r.spec.plan(p); err != nil {
				return fmt.Errorf("plan callback: %w", err)
			}
		}
	}
	return nil
}

// write is a batch's Apply running in the background.
type write struct {
	items []item
	req   store.ApplyRequest
	keys  writtenKeys // the identities the items write
	done  chan struct{}
	res   store.ApplyResult
	err   error
}

// applyItems starts writing items in one Apply, fenced by the lease, and
// returns without waiting: the run maps the next batch while the store
// writes this one (on two cores, the database's work and the engine's
// overlap), and with a store that writes in parallel, the next batch's
// Apply may start before this one's ends. At most Config.Writers writes
// are in flight; settleOne waits for the oldest and handles its outcome. A
// dry run only counts and plans.
func (r *runState) applyItems(items []item) error {
	if r.spec.dry {
		for i := range items {
			r.count(&items[i].d)
			if err := r.emitPlan(&items[i].d); err != nil {
				return err
			}
		}
		return nil
	}
	for len(r.inflight) >= r.s.cfg.Writers || (r.failedW && len(r.inflight) > 0) {
		if err := r.settleOne(); err != nil {
			return err
		}
	}
	if len(items) == 0 {
		return nil
	}
	w := &write{items: items, req: r.request(items), done: make(chan struct{})}
	for i := range items {
		w.keys.add(&items[i].d.write.User, r.s.source)
	}
	go func() {
		defer close(w.done)
		w.res, w.err = r.s.st.Apply(r.ctx, w.req)
	}()
	r.inflight = append(r.inflight, w)
	return nil
}

// request is the Apply request that writes items.
func (r *runState) request(items []item) store.ApplyRequest {
	req := store.ApplyRequest{OrgID: r.s.cfg.OrgID, Lease: r.lease(), Users: make([]store.UserWrite, len(items))}
	for i := range items {
		req.Users[i] = items[i].d.write
		req.Changes = append(req.Changes, items[i].d.changes...)
	}
	return req
}

// settle waits for every write in flight and handles their outcomes (see
// settleOne); it returns the first error.
func (r *runState) settle() error {
	var first error
	for len(r.inflight) > 0 {
		if err := r.settleOne(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// settleOne waits for the oldest write in flight, if any, and handles its
// outcome (see finishWrite).
func (r *runState) settleOne() error {
	if len(r.inflight) == 0 {
		return nil
	}
	w := r.inflight[0]
	r.inflight = r.inflight[1:]
	<-w.done
	err := r.finishWrite(w.items, w.req, w.res, w.err, &w.keys)
	r.failedW = r.failedW || err != nil
	return err
}

// finishWrite handles the outcome of an Apply of items. A write that fails
// its compare-and-set is reloaded and re-diffed (at most maxConflictRetries
// times) and the rest written again, synchronously; one older than the
// stored row is skipped.
func (r *runState) finishWrite(items []item, req store.ApplyRequest, res store.ApplyResult, err error, keys *writtenKeys) error {
	for {
		if err == nil {
			for i := range items {
				r.count(&items[i].d)
			}
			if len(req.Changes) > 0 {
				r.wrote, r.lastSeq = true, max(r.lastSeq, res.LastSeq)
				notify(r.s.cfg.OrgID) // wake in-process watchers now
			}
			return nil
		}
		var ae *store.ApplyError
		if !errors.As(err, &ae) || ae.Op != "user" || ae.Index < 0 || ae.Index >= len(items) ||
			!(errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrInvalid)) {
			if errors.Is(err, store.ErrLeaseLost) {
				return errLeaseLost
			}
			return fmt.Errorf("applying a batch of %d users: %w", len(items), err)
		}
		bad := items[ae.Index]
		items = append(items[:ae.Index:ae.Index], items[ae.Index+1:]...)
		delete(r.claimed, bad.d.write.User.ID)
		switch {
		case errors.Is(err, store.ErrStale):
			r.counts.Skipped++
		case errors.Is(err, store.ErrInvalid):
			r.counts.Skipped++
			r.addErr(store.RecordError{ExternalID: bad.in.rec.ExternalID, Message: err.Error()})
		case bad.tries >= maxConflictRetries:
			r.counts.Skipped++
			r.addErr(store.RecordError{ExternalID: bad.in.rec.ExternalID, Message: "row kept changing while it was written; skipped until the next run"})
		default:
			// Someone (an event) wrote the row since it was read: reload
			// it and diff again.
			cands, err := loadCandidates(r.ctx, r.s.st, r.s.cfg.OrgID, r.s.source, []matchInput{*bad.in}, func(int) bool { return true })
			if err != nil {
				return err
			}
			if it, ok := r.resolve(bad.in, cands, bad.tries+1); ok {
				items = append(items, it)
				keys.add(&it.d.write.User, r.s.source)
			}
		}
		if len(items) == 0 {
			return nil
		}
		req = r.request(items)
		res, err = r.s.st.Apply(r.ctx, req)
	}
}
