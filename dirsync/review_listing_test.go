package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// reviewOrg is the org of the review tests (self-contained: they share no
// helper with the package's other tests).
const reviewOrg = "review"

var errReviewProvider = errors.New("provider failed")

// reviewPeople returns n active records r001….
func reviewPeople(n int) []mapping.Record {
	recs := make([]mapping.Record, n)
	for i := range recs {
		recs[i] = dirsynctest.Person(fmt.Sprintf("r%03d", i+1), fmt.Sprintf("First%d", i+1), fmt.Sprintf("Last%d", i+1))
		recs[i].UpdatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return recs
}

// truncatingProvider delivers the first pages pages of its provider's
// listing and then ends: with err, or — a provider that swallows a
// cancellation — with nil after cancelling cancel.
type truncatingProvider struct {
	*dirsynctest.Provider
	pages  int
	err    error
	cancel context.CancelFunc
}

func (p *truncatingProvider) Users(ctx context.Context, fn func([]mapping.Record) error) error {
	n := 0
	errStop := errors.New("stop")
	err := p.Provider.Users(ctx, func(page []mapping.Record) error {
		if n == p.pages {
			return errStop
		}
		n++
		return fn(page)
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if p.cancel != nil {
		p.cancel()
		return nil
	}
	return p.err
}

// TestNoIncompleteListingDeactivatesAnyone: 50 people are synced, 3 leave
// (a complete listing deactivates exactly them: the control case), and then
// each way a listing can be incomplete or untrustworthy must deactivate no
// one and journal no deactivation.
func TestNoIncompleteListingDeactivatesAnyone(t *testing.T) {
	t.Parallel()
	type env struct {
		p      *dirsynctest.Provider
		cancel context.CancelFunc
	}
	for _, tc := range []struct {
		name string
		// script prepares the provider (and may wrap it) for the second
		// sync.
		script func(e *env) dirsync.Provider
		// wantErr: the run must fail (else it must succeed, skipping).
		wantErr bool
		// wantDeactivated is 3 only for the control case.
		wantDeactivated int
	}{
		{name: "ACompleteListingDeactivatesTheLeaversControl", wantDeactivated: 3,
			script: func(e *env) dirsync.Provider { return e.p }},
		{name: "AnErrorOnTheFirstPage", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.FailOnPage(1, errReviewProvider); return e.p }},
		{name: "AnErrorOnAMiddlePage", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.FailOnPage(3, errReviewProvider); return e.p }},
		{name: "AnErrorOnTheLastPage", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.FailOnPage(5, errReviewProvider); return e.p }},
		{name: "AnErrorAfterEveryRecordWasDelivered", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.FailOnPage(6, errReviewProvider); return e.p }},
		{name: "FewerPagesThenAnError", wantErr: true,
			script: func(e *env) dirsync.Provider {
				return &truncatingProvider{Provider: e.p, pages: 2, err: errReviewProvider}
			}},
		{name: "AContextCancelledMidListing", wantErr: true,
			script: func(e *env) dirsync.Provider {
				e.p.BeforePage(3, func(*dirsynctest.Provider) { e.cancel() })
				return e.p
			}},
		{name: "AProviderThatSwallowsACancellationAndReturnsNil", wantErr: true,
			script: func(e *env) dirsync.Provider {
				return &truncatingProvider{Provider: e.p, pages: 2, cancel: e.cancel}
			}},
		{name: "AnUnlinkedDirectory",
			script: func(e *env) dirsync.Provider { e.p.SetStatus(false, "inactive"); return e.p }},
		{name: "AStatusCallThatErrors", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.SetStatusError(errReviewProvider); return e.p }},
		{name: "AGroupsListingThatErrors", wantErr: true,
			script: func(e *env) dirsync.Provider { e.p.FailGroups(errReviewProvider); return e.p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mem := memstore.New()
			p := dirsynctest.New("test:review", reviewPeople(50)...)
			p.SetPageSize(10)
			p.SetGroups(dirsync.ProviderGroup{ExternalID: "g1", Name: "Everyone"})
			ids := make([]string, 50)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%03d", i+1)
			}
			p.SetMembers("g1", ids...)
			s, err := dirsync.New(mem, dirsync.Config{OrgID: reviewOrg, Provider: p, BatchSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			if run, err := s.Sync(ctx, dirsync.SyncOptions{}); err != nil || run.Counts.Created != 50 {
				t.Fatalf("first sync: %+v %v", run, err)
			}
			seq := lastReviewSeq(t, mem)

			p.RemoveUsers("r010", "r025", "r047") // 3 of 50: within the guard
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			prov := tc.script(&env{p: p, cancel: cancel})
			if prov != dirsync.Provider(p) {
				if s, err = dirsync.New(mem, dirsync.Config{OrgID: reviewOrg, Provider: prov, BatchSize: 10}); err != nil {
					t.Fatal(err)
				}
			}
			run, err := s.Sync(runCtx, dirsync.SyncOptions{})
			if tc.wantErr && err == nil {
				t.Errorf("the run succeeded: %+v", run)
			}
			if !tc.wantErr && err != nil {
				t.Errorf("the run failed: %v", err)
			}
			if run.Counts.Deactivated != tc.wantDeactivated {
				t.Errorf("counts.deactivated = %d, want %d (run %+v)", run.Counts.Deactivated, tc.wantDeactivated, run)
			}
			if got := activeReviewUsers(t, mem); got != 50-tc.wantDeactivated {
				t.Errorf("%d active users, want %d", got, 50-tc.wantDeactivated)
			}
			deact, removed := 0, 0
			for _, c := range reviewChangesAfter(t, mem, seq) {
				switch c.Kind {
				case store.ChangeDeactivated:
					deact++
				case store.ChangeMemberRemoved, store.ChangeGroupDeleted:
					removed++
				}
			}
			if deact != tc.wantDeactivated {
				t.Errorf("%d deactivated changes journaled, want %d", deact, tc.wantDeactivated)
			}
			if tc.wantDeactivated == 0 && removed != 0 {
				t.Errorf("%d memberships or groups removed by an incomplete run", removed)
			}
			// Once the provider is healthy again the next run converges to
			// exactly the leavers.
			if tc.wantDeactivated == 0 {
				p.FailOnPage(1, nil)
				p.FailOnPage(3, nil)
				p.FailOnPage(5, nil)
				p.FailOnPage(6, nil)
				p.SetStatus(true, "linked")
				p.SetStatusError(nil)
				p.FailGroups(nil)
				healthy, err := dirsync.New(mem, dirsync.Config{OrgID: reviewOrg, Provider: p, BatchSize: 10})
				if err != nil {
					t.Fatal(err)
				}
				if run, err := healthy.Sync(ctx, dirsync.SyncOptions{}); err != nil || run.Counts.Deactivated != 3 {
					t.Errorf("the healthy run after: %+v %v", run, err)
				}
			}
		})
	}
}

func lastReviewSeq(t *testing.T, st store.Store) int64 {
	t.Helper()
	cs := reviewChangesAfter(t, st, 0)
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}

func reviewChangesAfter(t *testing.T, st store.Store, after int64) []store.Change {
	t.Helper()
	var all []store.Change
	for {
		cs, err := st.Changes(context.Background(), reviewOrg, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			return all
		}
		all = append(all, cs...)
		after = cs[len(cs)-1].Seq
	}
}

func activeReviewUsers(t *testing.T, st store.Store) int {
	t.Helper()
	q, err := search.ParseValues(map[string][]string{"limit": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.Search(context.Background(), reviewOrg, q)
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Users)
}
