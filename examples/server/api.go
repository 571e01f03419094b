package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/app"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Bounds on requests.
const (
	maxBodyBytes   = 1 << 20 // JSON request bodies
	maxSyncWait    = 5 * time.Minute
	requestTimeout = 30 * time.Second // every request but a sync with wait
)

// api serves the /v1 endpoints of DESIGN.md "The reference server".
type api struct {
	app    *app.App
	auth   *authenticator
	log    *slog.Logger
	runCtx context.Context // syncs started by requests outlive them, not the server
	wg     *sync.WaitGroup
	// stopping is closed when the server shuts down: a request waiting for
	// a sync then answers 202 at once. Nil never closes.
	stopping <-chan struct{}
}

// routes registers the API on mux.
func (a *api) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/orgs", a.authed(a.listOrgs))
	org := func(h func(http.ResponseWriter, *http.Request, *app.Org)) http.HandlerFunc {
		return a.authed(a.withOrg(h))
	}
	mux.HandleFunc("GET /v1/orgs/{org}/users", org(a.searchUsers))
	mux.HandleFunc("GET /v1/orgs/{org}/users/{id}", org(a.getUser))
	mux.HandleFunc("GET /v1/orgs/{org}/facets", org(a.facets))
	mux.HandleFunc("GET /v1/orgs/{org}/groups", org(a.groups))
	mux.HandleFunc("POST /v1/orgs/{org}/sync", org(a.startSync))
	mux.HandleFunc("GET /v1/orgs/{org}/sync/runs", org(a.listRuns))
	mux.HandleFunc("GET /v1/orgs/{org}/sync/runs/{id}", org(a.getRun))
	mux.HandleFunc("POST /v1/orgs/{org}/sync/runs/{id}/approve", org(a.approveRun))
	mux.HandleFunc("GET /v1/orgs/{org}/events/parked", org(a.listParked))
	mux.HandleFunc("POST /v1/orgs/{org}/events/parked/approve", org(a.approveParked))
	mux.HandleFunc("GET /v1/orgs/{org}/changes", org(a.changes))
	mux.HandleFunc("/v1/", a.authed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
}

// authed checks the bearer token when tokens are configured and bounds the
// request's time.
func (a *api) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope, ok := a.auth.check(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dirsync"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return
		}
		r = r.WithContext(withScope(r.Context(), scope))
		h(w, r)
	}
}

// withOrg resolves {org}; an org the token may not see is 404, exactly as an
// org that does not exist.
func (a *api) withOrg(h func(http.ResponseWriter, *http.Request, *app.Org)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("org")
		o, ok := a.app.Org(id)
		if !ok || !scopeFrom(r.Context()).allows(id) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no org %q", truncate(id, 64)))
			return
		}
		h(w, r, o)
	}
}

func (a *api) listOrgs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	type orgJSON struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		LastRun *runJSON `json:"last_run"`
	}
	out := []orgJSON{}
	scope := scopeFrom(ctx)
	for _, o := range a.app.Orgs {
		if !scope.allows(o.Config.ID) {
			continue
		}
		oj := orgJSON{ID: o.Config.ID, Name: o.Config.Name}
		runs, err := a.app.Store.ListRuns(ctx, o.Config.ID, 1)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if len(runs) > 0 {
			rj := toRunJSON(runs[0], false)
			oj.LastRun = &rj
		}
		out = append(out, oj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *api) searchUsers(w http.ResponseWriter, r *http.Request, o *app.Org) {
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	page, err := a.app.Store.Search(ctx, o.Config.ID, q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	users := make([]userJSON, len(page.Users))
	for i := range page.Users {
		users[i] = toUserJSON(&page.Users[i])
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": users, "next_cursor": next})
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request, o *app.Org) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	u, err := a.app.Store.GetUser(ctx, o.Config.ID, r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(&u))
}

func (a *api) facets(w http.ResponseWriter, r *http.Request, o *app.Org) {
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	f, err := a.app.Store.Facets(ctx, o.Config.ID, q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNilFacets(f))
}

func (a *api) groups(w http.ResponseWriter, r *http.Request, o *app.Org) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	gs, err := a.app.Store.Groups(ctx, o.Config.ID, "")
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	type groupJSON struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		MemberCount int    `json:"member_count"`
	}
	out := make([]groupJSON, len(gs))
	for i, g := range gs {
		out[i] = groupJSON{ID: g.ID, Name: g.Name, MemberCount: g.MemberCount}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// startSync starts a full (or dry) sync. Without wait it answers 202 with the
// running run as soon as the run is recorded; with wait it answers 200 with
// the finished run if it ends in time, and 202 otherwise.
func (a *api) startSync(w http.ResponseWriter, r *http.Request, o *app.Org) {
	qv := r.URL.Query()
	for k, vs := range qv {
		if k != "dry_run" && k != "wait" {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown parameter %q", truncate(k, 64)))
			return
		}
		if len(vs) > 1 {
			writeError(w, http.StatusBadRequest, "bad_request", k+": given more than once")
			return
		}
	}
	dry := false
	if v := qv.Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("dry_run: %q is not a boolean", truncate(v, 32)))
			return
		}
		dry = b
	}
	var wait time.Duration
	if v := qv.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("wait: %q is not a duration like 30s", truncate(v, 32)))
			return
		}
		if d > maxSyncWait {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("wait: %s is more than the %s allowed", d, maxSyncWait))
			return
		}
		wait = d
	}
	started := make(chan store.SyncRun, 1)
	type result struct {
		run store.SyncRun
		err error
	}
	done := make(chan result, 1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		run, err := o.Syncer.Sync(a.runCtx, dirsync.SyncOptions{
			DryRun:  dry,
			Started: func(run store.SyncRun) { started <- run },
		})
		done <- result{run, err}
	}()
	var running store.SyncRun
	select {
	case running = <-started:
	case res := <-done:
		a.syncResult(w, r, res.run, res.err)
		return
	case <-r.Context().Done():
		return
	}
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case res := <-done:
			a.syncResult(w, r, res.run, res.err)
			return
		case <-timer.C:
		case <-a.stopping:
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusAccepted, toRunJSON(running, false))
}

// syncResult answers with a finished run: halted and failed runs are
// results too (200 with their status), a busy org is 409.
func (a *api) syncResult(w http.ResponseWriter, r *http.Request, run store.SyncRun, err error) {
	switch {
	case errors.Is(err, dirsync.ErrBusy):
		writeError(w, http.StatusConflict, "sync_running", "a sync of this org is already running")
	case run.ID != "":
		writeJSON(w, http.StatusOK, toRunJSON(run, true))
	case err != nil:
		a.internal(w, r, err)
	}
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request, o *app.Org) {
	limit, ok := intParam(w, r, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	runs, err := a.app.Store.ListRuns(ctx, o.Config.ID, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]runJSON, len(runs))
	for i, run := range runs {
		out[i] = toRunJSON(run, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *api) getRun(w http.ResponseWriter, r *http.Request, o *app.Org) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	run, err := a.app.Store.GetRun(ctx, o.Config.ID, r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRunJSON(run, true))
}

func (a *api) approveRun(w http.ResponseWriter, r *http.Request, o *app.Org) {
	ctx, cancel := context.WithTimeout(r.Context(), maxSyncWait)
	defer cancel()
	run, err := o.Syncer.Approve(ctx, r.PathValue("id"))
	switch {
	case errors.Is(err, dirsync.ErrNotHalted):
		writeError(w, http.StatusConflict, "not_halted", "the run is not halted: only a halted run's held deactivations can be approved, once")
	case errors.Is(err, dirsync.ErrBusy):
		writeError(w, http.StatusConflict, "sync_running", "a sync of this org is running; approve when it ends")
	case err != nil:
		a.storeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, toRunJSON(run, false))
	}
}

func (a *api) listParked(w http.ResponseWriter, r *http.Request, o *app.Org) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	evs, err := a.app.Store.ParkedEvents(ctx, o.Config.ID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	type parkedJSON struct {
		ID          string    `json:"id"`
		Event       string    `json:"event"`
		DirectoryID string    `json:"directory_id"`
		ReceivedAt  time.Time `json:"received_at"`
		Reason      string    `json:"reason"`
	}
	out := make([]parkedJSON, len(evs))
	for i, e := range evs {
		out[i] = parkedJSON{ID: e.ID, Event: e.Kind, DirectoryID: e.DirectoryID, ReceivedAt: e.ReceivedAt, Reason: e.Reason}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *api) approveParked(w http.ResponseWriter, r *http.Request, o *app.Org) {
	var body struct {
		IDs json.RawMessage `json:"ids"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	var ids []string
	if body.IDs != nil {
		// An explicit null is refused rather than read as "omitted": a
		// client marshalling an empty (nil) list would otherwise approve
		// every parked event, dsync.deleted among them.
		if string(body.IDs) == "null" {
			writeError(w, http.StatusBadRequest, "bad_request", "ids: null is not a list; omit ids to approve every parked event")
			return
		}
		if err := json.Unmarshal(body.IDs, &ids); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "ids: not a list of strings")
			return
		}
		if len(ids) == 0 {
			writeJSON(w, http.StatusOK, map[string]int{"applied": 0})
			return
		}
		if len(ids) > 1000 {
			writeError(w, http.StatusBadRequest, "bad_request", "ids: at most 1000 per request")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxSyncWait)
	defer cancel()
	n, err := o.Syncer.ApproveParked(ctx, ids)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"applied": n})
}

func (a *api) changes(w http.ResponseWriter, r *http.Request, o *app.Org) {
	for k := range r.URL.Query() {
		if k != "after" && k != "limit" {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown parameter %q", truncate(k, 64)))
			return
		}
	}
	after, ok := intParam(w, r, "after", 0, 0, 1<<62)
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	cs, err := a.app.Store.Changes(ctx, o.Config.ID, int64(after), limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	next := int64(after)
	if len(cs) > 0 {
		next = cs[len(cs)-1].Seq
	}
	if cs == nil {
		cs = []store.Change{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": cs, "next_after": next})
}

// storeError answers a store or engine error: validation → 400, missing →
// 404, anything else → 500 (logged, not shown).
func (a *api) storeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *search.Error
	switch {
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "bad_request", se.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "timeout", "the request took too long")
	default:
		a.internal(w, r, err)
	}
}

func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

// parseQuery reads a search query from the URL, answering 400 naming the
// bad parameter when it does not parse.
func parseQuery(w http.ResponseWriter, r *http.Request) (search.Query, bool) {
	q, err := search.ParseValues(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return search.Query{}, false
	}
	return q, true
}

func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	vs := r.URL.Query()[name]
	if len(vs) == 0 {
		return def, true
	}
	if len(vs) > 1 {
		writeError(w, http.StatusBadRequest, "bad_request", name+": given more than once")
		return 0, false
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: %q is not a whole number in %d..%d", name, truncate(vs[0], 32), lo, hi))
		return 0, false
	}
	return n, true
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return true // an empty body means defaults
	}
	if err == nil {
		// One document only: what follows it would otherwise be ignored.
		var extra json.RawMessage
		if err = dec.Decode(&extra); errors.Is(err, io.EOF) {
			return true
		} else if err == nil {
			err = errors.New("content after the JSON document")
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
	} else {
		writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
