package dirsync

import (
	"context"
	"log/slog"

	"github.com/directorysync/directorysync/store"
)

// Observer is told what a Syncer does, for logs and metrics. Methods are
// called synchronously from the run or event that caused them, so they must
// be quick and must not call back into the Syncer. Implementations must be
// safe for concurrent use. Embed NopObserver to implement only some methods
// and to stay compatible when methods are added.
type Observer interface {
	// RunStarted is called once a run is recorded as running.
	RunStarted(ctx context.Context, run store.SyncRun)
	// RunFinished is called when a run ends succeeded or failed.
	RunFinished(ctx context.Context, run store.SyncRun)
	// RunHalted is called when the guard halts a run.
	RunHalted(ctx context.Context, run store.SyncRun)
	// EventsParked is called when events are parked for approval.
	EventsParked(ctx context.Context, events []store.ParkedEvent)
	// RecordError is called for each per-record failure of a run or event;
	// runID is empty for events.
	RecordError(ctx context.Context, orgID, runID string, err store.RecordError)
	// EventApplied is called after an event was handled without error.
	EventApplied(ctx context.Context, orgID string, ev Event, res EventResult)
}

// NopObserver does nothing. Embed it in an Observer that implements only
// some methods.
type NopObserver struct{}

// RunStarted does nothing.
func (NopObserver) RunStarted(context.Context, store.SyncRun) {}

// RunFinished does nothing.
func (NopObserver) RunFinished(context.Context, store.SyncRun) {}

// RunHalted does nothing.
func (NopObserver) RunHalted(context.Context, store.SyncRun) {}

// EventsParked does nothing.
func (NopObserver) EventsParked(context.Context, []store.ParkedEvent) {}

// RecordError does nothing.
func (NopObserver) RecordError(context.Context, string, string, store.RecordError) {}

// EventApplied does nothing.
func (NopObserver) EventApplied(context.Context, string, Event, EventResult) {}

// SlogObserver returns an Observer that logs to logger (nil: slog.Default()).
// It logs IDs, kinds, counts and field names only — never names, emails,
// attribute values or error messages that may quote them.
func SlogObserver(logger *slog.Logger) Observer {
	if logger == nil {
		logger = slog.Default()
	}
	return slogObserver{logger}
}

type slogObserver struct{ l *slog.Logger }

func runAttrs(run store.SyncRun) []any {
	return []any{
		slog.String("org_id", run.OrgID),
		slog.String("source_id", run.SourceID),
		slog.String("run_id", run.ID),
		slog.String("mode", string(run.Mode)),
		slog.String("status", string(run.Status)),
	}
}

func countAttrs(c store.Counts) slog.Attr {
	return slog.Group("counts",
		slog.Int("created", c.Created), slog.Int("updated", c.Updated),
		slog.Int("deactivated", c.Deactivated), slog.Int("reactivated", c.Reactivated),
		slog.Int("relinked", c.Relinked), slog.Int("unchanged", c.Unchanged),
		slog.Int("skipped", c.Skipped), slog.Int("deleted", c.Deleted))
}

func (o slogObserver) RunStarted(ctx context.Context, run store.SyncRun) {
	o.l.InfoContext(ctx, "dirsync: run started", runAttrs(run)...)
}

func (o slogObserver) RunFinished(ctx context.Context, run store.SyncRun) {
	attrs := append(runAttrs(run), countAttrs(run.Counts), slog.Int("errors", len(run.Errors)))
	if run.Status == store.RunFailed {
		o.l.ErrorContext(ctx, "dirsync: run failed", attrs...)
		return
	}
	o.l.InfoContext(ctx, "dirsync: run finished", attrs...)
}

func (o slogObserver) RunHalted(ctx context.Context, run store.SyncRun) {
	attrs := append(runAttrs(run), countAttrs(run.Counts), slog.Int("held", len(run.Held)))
	o.l.WarnContext(ctx, "dirsync: run halted by the deactivation guard; approve it to apply the held deactivations", attrs...)
}

func (o slogObserver) EventsParked(ctx context.Context, events []store.ParkedEvent) {
	for _, ev := range events {
		o.l.WarnContext(ctx, "dirsync: event parked for approval",
			slog.String("org_id", ev.OrgID), slog.String("event_id", ev.ID),
			slog.String("event", ev.Kind), slog.String("directory_id", ev.DirectoryID))
	}
}

func (o slogObserver) RecordError(ctx context.Context, orgID, runID string, e store.RecordError) {
	o.l.WarnContext(ctx, "dirsync: record error",
		slog.String("org_id", orgID), slog.String("run_id", runID),
		slog.String("external_id", e.ExternalID), slog.String("field", e.Field))
}

func (o slogObserver) EventApplied(ctx context.Context, orgID string, ev Event, res EventResult) {
	o.l.DebugContext(ctx, "dirsync: event handled",
		slog.String("org_id", orgID), slog.String("event_id", ev.ID),
		slog.String("event", string(ev.Kind)), slog.String("outcome", string(res.Outcome)),
		slog.Int("changes", res.Changes))
}
