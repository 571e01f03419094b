// Package app wires a configuration file (internal/config) into running
// parts: the store named by its DSN, and per org the provider, the compiled
// mapping and the dirsync.Syncer. The reference server and the operator CLI
// both start from it, so they always agree on what a configuration means.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/directorysync/directorysync/adapters/fileprovider"
	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/adapters/pgstore"
	"github.com/directorysync/directorysync/adapters/sqlitestore"
	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/config"
	"github.com/directorysync/directorysync/internal/demo"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// Options are what a configuration file does not say.
type Options struct {
	// Logger receives diagnostics. Defaults to a discarding logger.
	Logger *slog.Logger
	// Getenv reads WORKOS_API_KEY and WORKOS_BASE_URL. Defaults to
	// os.Getenv.
	Getenv func(string) string
	// Observer is given to every Syncer. Defaults to a slog observer on
	// Logger.
	Observer dirsync.Observer
	// WrapProvider, when set, wraps each org's provider before the Syncer
	// gets it (the CLI counts records for its progress line this way).
	WrapProvider func(orgID string, p dirsync.Provider) dirsync.Provider
}

// App is a configuration brought to life.
type App struct {
	// Config is the configuration the app was opened with.
	Config config.File
	// Store is the store named by Config.Store.
	Store store.Store
	// Orgs in configuration order.
	Orgs   []*Org
	byID   map[string]*Org
	closer func() error
	logger *slog.Logger
}

// Org is one configured org with its running parts.
type Org struct {
	// Config is the org's configuration.
	Config config.Org
	// Provider is the org's provider (wrapped by Options.WrapProvider).
	Provider dirsync.Provider
	// Mapping is the org's compiled mapping.
	Mapping *mapping.Mapping
	// Syncer syncs the org and applies its events.
	Syncer *dirsync.Syncer
	// WorkOS is the provider when the org's type is workos, for its events
	// poller; nil otherwise.
	WorkOS *workos.Provider
}

// Open opens the store named by cfg.Store and builds every org. On error
// nothing is left open.
func Open(ctx context.Context, cfg config.File, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Observer == nil {
		opts.Observer = dirsync.SlogObserver(opts.Logger)
	}
	st, closer, err := OpenStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Store: st, byID: map[string]*Org{}, closer: closer, logger: opts.Logger}
	var transport *workos.Transport
	for _, oc := range cfg.Orgs {
		o, err := a.buildOrg(oc, opts, &transport)
		if err != nil {
			_ = closer()
			return nil, fmt.Errorf("org %q: %w", oc.ID, err)
		}
		a.Orgs = append(a.Orgs, o)
		a.byID[oc.ID] = o
	}
	return a, nil
}

// Org returns the org with the given ID.
func (a *App) Org(id string) (*Org, bool) {
	o, ok := a.byID[id]
	return o, ok
}

// Close closes the store.
func (a *App) Close() error { return a.closer() }

// OpenStore opens a store from a DSN: "sqlite:PATH", "postgres://…" (or
// "postgresql://…"), or "memory:". SQL stores are migrated. A Postgres DSN
// may name the schema of the store's tables with a dirsync_schema query
// parameter (default "dirsync"), so that several deployments share one
// database. The returned func closes it.
func OpenStore(ctx context.Context, dsn string) (store.Store, func() error, error) {
	switch {
	case dsn == "memory:" || dsn == "memory":
		return memstore.New(), func() error { return nil }, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		s, err := sqlitestore.Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dsn, schema := splitSchema(dsn)
		s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema})
		if err != nil {
			return nil, nil, err
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, nil, err
		}
		return s, func() error { s.Close(); return nil }, nil
	}
	return nil, nil, fmt.Errorf("store %q is not sqlite:PATH, postgres://… or memory:", config.RedactDSN(dsn))
}

// splitSchema takes the dirsync_schema parameter out of a Postgres DSN
// (PostgreSQL would refuse it as an unknown setting). A DSN that does not
// parse is returned as it is, for pgx to report.
func splitSchema(dsn string) (string, string) {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn, ""
	}
	q := u.Query()
	if !q.Has("dirsync_schema") {
		return dsn, ""
	}
	schema := q.Get("dirsync_schema")
	q.Del("dirsync_schema")
	u.RawQuery = q.Encode()
	return u.String(), schema
}

func (a *App) buildOrg(oc config.Org, opts Options, transport **workos.Transport) (*Org, error) {
	o := &Org{Config: oc}
	mc := oc.Mapping
	empty := isZeroMapping(mc)
	p := oc.Provider
	switch p.Type {
	case config.ProviderDemo:
		fp, err := fileprovider.New(fileprovider.Config{
			Open: demo.Open, Format: fileprovider.JSONLines, IDField: demo.IDField,
			GroupsField: demo.GroupsField, SourceID: "demo",
		})
		if err != nil {
			return nil, err
		}
		o.Provider = fp
		if empty {
			mc = demo.Mapping()
		}
	case config.ProviderFile:
		fp, err := fileprovider.New(fileprovider.Config{
			Path: p.Path, Format: fileprovider.Format(p.Format), IDField: p.IDField,
			StateField: p.StateField, GroupsField: p.GroupsField, UpdatedAtField: p.UpdatedAtField,
		})
		if err != nil {
			return nil, err
		}
		o.Provider = fp
		if empty {
			return nil, errors.New("mapping: a file provider needs a mapping (try `dirsync mapping suggest`)")
		}
	case config.ProviderWorkOS:
		key := opts.Getenv("WORKOS_API_KEY")
		if key == "" {
			return nil, errors.New("provider workos: WORKOS_API_KEY is not set")
		}
		if *transport == nil {
			t, err := workos.NewTransport(workos.TransportConfig{Logger: opts.Logger})
			if err != nil {
				return nil, err
			}
			*transport = t
		}
		wp, err := workos.NewProvider(workos.Config{
			APIKey: key, DirectoryID: p.DirectoryID, BaseURL: opts.Getenv("WORKOS_BASE_URL"),
			Transport: *transport, Logger: opts.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("provider workos: %w", err)
		}
		o.Provider, o.WorkOS = wp, wp
		if empty {
			mc = mapping.Config{Preset: "workos"}
		}
	default:
		return nil, fmt.Errorf("provider type %q is not supported", p.Type)
	}
	m, err := mapping.Compile(mc)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	o.Mapping = m
	if opts.WrapProvider != nil {
		o.Provider = opts.WrapProvider(oc.ID, o.Provider)
	}
	s, err := dirsync.New(a.Store, dirsync.Config{
		OrgID:    oc.ID,
		Provider: o.Provider,
		Mapper:   m,
		Guard: dirsync.Guard{
			MaxDeactivateFraction: oc.Sync.Guard.MaxDeactivateFraction,
			MinUsers:              oc.Sync.Guard.MinUsers,
		},
		Observer: opts.Observer,
		Logger:   opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	o.Syncer = s
	return o, nil
}

func isZeroMapping(c mapping.Config) bool {
	return c.Preset == "" && c.FirstName == "" && c.LastName == "" && c.Email == "" && c.Department == "" &&
		c.Division == "" && c.Office == "" && c.Title == "" && c.Active == "" && len(c.Tags) == 0
}
