// Command server is the reference HTTP server of directorysync: the JSON API
// of DESIGN.md "The reference server", the WorkOS webhook endpoint, and the
// Power Search page at "/".
//
//	go run ./examples/server                 # the bundled demo org on sqlite:dirsync.db
//	go run ./examples/server -config dirsync.yaml -addr 127.0.0.1:9090
//
// Without API tokens in the configuration it listens on loopback only.
// WorkOS settings come from WORKOS_API_KEY, WORKOS_BASE_URL (optional) and
// WORKOS_WEBHOOK_SECRET.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/app"
	"github.com/directorysync/directorysync/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx ends. When ready is set it
// receives the listening address once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML or JSON); without it, the bundled demo on sqlite:dirsync.db")
	addr := fs.String("addr", "", "listen address; overrides the configuration's listen (default 127.0.0.1:8080)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: server [-config FILE] [-addr HOST:PORT]\n\nThe directorysync reference server.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))

	cfg := config.Default()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
	}
	if *addr != "" {
		cfg.Listen = *addr
	}
	auth, err := newAuthenticator(cfg.Auth, getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !auth.enabled() && !isLoopback(cfg.Listen) {
		return fmt.Errorf("refusing to listen on %s: the API and the page hold personal data, and no auth.tokens are configured; "+
			"configure tokens or listen on loopback (127.0.0.1)", cfg.Listen)
	}
	if !auth.enabled() {
		logger.Warn("no API tokens configured: listening on loopback only", "addr", cfg.Listen)
	}

	a, err := app.Open(ctx, cfg, app.Options{Logger: logger, Getenv: getenv})
	if err != nil {
		return err
	}
	defer a.Close()

	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	var wg sync.WaitGroup

	stopping := make(chan struct{})
	mux, err := newMux(a, auth, logger, getenv, runCtx, &wg, stopping)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := newHTTPServer(logRequests(logger, mux), logger, stopping)

	sched, err := dirsync.NewScheduler(a.Store, schedulerJobs(a), dirsync.SchedulerConfig{Logger: logger})
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sched.Run(runCtx)
	}()
	startPollers(runCtx, &wg, a, logger)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "store", config.RedactDSN(cfg.Store), "orgs", len(a.Orgs))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		cancelRuns()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	cancelRuns() // runs see their context end, record themselves failed and release their leases
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newHTTPServer is the server of handler with its bounds: header, body-read
// and write timeouts, a header size limit, and errors to logger. Shutdown
// closes stopping, so that requests waiting for a sync answer at once
// instead of holding the shutdown for up to maxSyncWait.
func newHTTPServer(handler http.Handler, logger *slog.Logger, stopping chan struct{}) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      maxSyncWait + 30*time.Second, // a sync with wait answers late
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	var once sync.Once
	srv.RegisterOnShutdown(func() { once.Do(func() { close(stopping) }) })
	return srv
}

// newMux routes the API, the webhook endpoint and the page. Syncs started
// by requests run under runCtx and are counted in wg; requests waiting for
// one stop waiting when stopping is closed.
func newMux(a *app.App, auth *authenticator, logger *slog.Logger, getenv func(string) string, runCtx context.Context, wg *sync.WaitGroup, stopping <-chan struct{}) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	(&api{app: a, auth: auth, log: logger, runCtx: runCtx, wg: wg, stopping: stopping}).routes(mux)
	if err := routeWebhooks(mux, a, getenv, logger); err != nil {
		return nil, err
	}
	mux.Handle("GET /{$}", pageHandler())
	mux.Handle("GET /static/", staticHandler())
	return mux, nil
}

// schedulerJobs gives the scheduler each org's full reconcile.
func schedulerJobs(a *app.App) []dirsync.ScheduledSync {
	jobs := make([]dirsync.ScheduledSync, 0, len(a.Orgs))
	for _, o := range a.Orgs {
		jobs = append(jobs, dirsync.ScheduledSync{Syncer: o.Syncer, Interval: o.Config.Sync.Interval.Duration})
	}
	return jobs
}

// routeWebhooks mounts the WorkOS webhook endpoint when an org uses WorkOS.
func routeWebhooks(mux *http.ServeMux, a *app.App, getenv func(string) string, logger *slog.Logger) error {
	routes := map[string]workos.EventApplier{}
	for _, o := range a.Orgs {
		if o.WorkOS != nil {
			routes[o.Config.Provider.DirectoryID] = o.Syncer
		}
	}
	if len(routes) == 0 {
		return nil
	}
	secret := getenv("WORKOS_WEBHOOK_SECRET")
	if secret == "" {
		logger.Warn("WORKOS_WEBHOOK_SECRET is not set: the webhook endpoint is off; events arrive by polling only")
		return nil
	}
	h, err := workos.NewWebhookHandler(workos.WebhookConfig{Secret: secret, Route: workos.StaticRoutes(routes), Logger: logger})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	mux.Handle("POST /v1/webhooks/workos", h)
	return nil
}

// startPollers runs the WorkOS Events API poller of each WorkOS org.
func startPollers(ctx context.Context, wg *sync.WaitGroup, a *app.App, logger *slog.Logger) {
	for _, o := range a.Orgs {
		if o.WorkOS == nil {
			continue
		}
		syncer := o.Syncer
		p, err := workos.NewPoller(o.WorkOS, workos.PollerConfig{
			OrgID: o.Config.ID, Store: a.Store, Applier: syncer, Logger: logger,
			Reconcile: func(ctx context.Context) error {
				_, err := syncer.Sync(ctx, dirsync.SyncOptions{})
				return err
			},
		})
		if err != nil {
			logger.Error("events poller not started", "org", o.Config.ID, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Run(ctx)
		}()
	}
}

// logRequests logs each request's method, path, status and duration — never
// its query string or headers, which may hold personal data or tokens.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap gives http.ResponseController the underlying writer (flushing,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
