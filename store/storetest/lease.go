package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/directorysync/directorysync/store"
)

// leaseTTL is short and real: expiry cases sleep past it.
const leaseTTL = 150 * time.Millisecond

func (s *suite) leaseCases(t testing.TB) {
	cases := []struct {
		name string
		fn   func(t testing.TB, st store.Store)
	}{
		{"SecondHolderGetsErrLeaseHeld", leaseExclusive},
		{"ExpiredLeaseCanBeTakenByAnotherHolder", leaseExpiry},
		{"RenewExtendsTheLeaseAndKeepsOthersOut", leaseRenew},
		{"RenewOfALostLeaseIsErrLeaseLost", leaseRenewLost},
		{"ReleaseLetsAnotherHolderInAndIsANoOpWhenLost", leaseRelease},
		{"ApplyWithTheCurrentLeaseWrites", leaseApplyOK},
		{"ApplyWithALapsedLeaseIsErrLeaseLostAndWritesNothing", leaseApplyLapsed},
		{"ApplyWithAReplacedLeaseIsErrLeaseLostAndWritesNothing", leaseApplyReplaced},
		{"ApplyWithAnotherOrgsLeaseIsErrLeaseLost", leaseApplyForeign},
	}
	for _, c := range cases {
		run(t, c.name, func(t testing.TB) {
			parallel(t)
			c.fn(t, s.open(t))
		})
	}
}

func acquire(t testing.TB, st store.Store, org, holder string, ttl time.Duration) store.Lease {
	t.Helper()
	l, err := st.AcquireLease(t.Context(), org, holder, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", org, holder, err)
	}
	if l.Token == "" || l.OrgID != org || l.Holder != holder {
		t.Fatalf("AcquireLease(%s, %s) = %+v: want org, holder and a token", org, holder, l)
	}
	return l
}

func leaseExclusive(t testing.TB, st store.Store) {
	start := time.Now()
	l := acquire(t, st, orgA, "h1", time.Minute)
	if l.ExpiresAt.Before(start.Add(50*time.Second)) || l.ExpiresAt.After(time.Now().Add(70*time.Second)) {
		t.Errorf("lease of ttl 1m expires at %v, want about a minute from now", l.ExpiresAt)
	}
	_, err := st.AcquireLease(t.Context(), orgA, "h2", time.Minute)
	wantErr(t, "AcquireLease by a second holder", err, store.ErrLeaseHeld)
}

func leaseExpiry(t testing.TB, st store.Store) {
	l1 := acquire(t, st, orgA, "h1", leaseTTL)
	time.Sleep(2 * leaseTTL)
	l2 := acquire(t, st, orgA, "h2", time.Minute)
	if l2.Token == l1.Token {
		t.Errorf("a new acquisition reused token %q", l1.Token)
	}
	_, err := st.AcquireLease(t.Context(), orgA, "h1", time.Minute)
	wantErr(t, "AcquireLease by the lapsed holder", err, store.ErrLeaseHeld)
}

func leaseRenew(t testing.TB, st store.Store) {
	// A second, not leaseTTL: the renewal must come before the first ttl
	// ends, which a loaded machine (a CI run of every package at once)
	// did not always manage in 150 ms.
	l := acquire(t, st, orgA, "h1", time.Second)
	r, err := st.RenewLease(t.Context(), l, time.Minute)
	if err != nil {
		t.Fatalf("RenewLease: %v", err)
	}
	if !r.ExpiresAt.After(l.ExpiresAt) {
		t.Errorf("RenewLease expiry %v is not after %v", r.ExpiresAt, l.ExpiresAt)
	}
	time.Sleep(time.Until(l.ExpiresAt) + leaseTTL)
	_, err = st.AcquireLease(t.Context(), orgA, "h2", time.Minute)
	wantErr(t, "AcquireLease past the first ttl of a renewed lease", err, store.ErrLeaseHeld)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Lease: &r, Users: insertUsers(user(orgA, srcA, "u1"))})
}

func leaseRenewLost(t testing.TB, st store.Store) {
	l := acquire(t, st, orgA, "h1", leaseTTL)
	time.Sleep(2 * leaseTTL)
	_, err := st.RenewLease(t.Context(), l, time.Minute)
	wantErr(t, "RenewLease of a lapsed lease", err, store.ErrLeaseLost)
	l2 := acquire(t, st, orgA, "h2", time.Minute)
	_, err = st.RenewLease(t.Context(), l, time.Minute)
	wantErr(t, "RenewLease of a replaced lease", err, store.ErrLeaseLost)
	if _, err := st.RenewLease(t.Context(), l2, time.Minute); err != nil {
		t.Errorf("RenewLease by the current holder: %v", err)
	}
}

func leaseRelease(t testing.TB, st store.Store) {
	l1 := acquire(t, st, orgA, "h1", time.Minute)
	if err := st.ReleaseLease(t.Context(), l1); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	l2 := acquire(t, st, orgA, "h2", time.Minute)
	if err := st.ReleaseLease(t.Context(), l1); err != nil {
		t.Errorf("ReleaseLease of a lost lease: %v, want a no-op", err)
	}
	_, err := st.AcquireLease(t.Context(), orgA, "h3", time.Minute)
	wantErr(t, "AcquireLease after a lost lease was released", err, store.ErrLeaseHeld)
	mustApply(t, st, store.ApplyRequest{OrgID: orgA, Lease: &l2, Users: insertUsers(user(orgA, srcA, "u1"))})
}

func leaseApplyOK(t testing.TB, st store.Store) {
	l := acquire(t, st, orgA, "h1", time.Minute)
	res := mustApply(t, st, store.ApplyRequest{OrgID: orgA, Lease: &l, Users: insertUsers(user(orgA, srcA, "u1")), Changes: changesN(orgA, "u1", 1, at(0))})
	if res.LastSeq != 1 {
		t.Errorf("Apply under a lease assigned seq %d, want 1", res.LastSeq)
	}
}

func wantFencedNothingWritten(t testing.TB, st store.Store, l store.Lease) {
	t.Helper()
	_, err := st.Apply(t.Context(), store.ApplyRequest{OrgID: orgA, Lease: &l, Users: insertUsers(user(orgA, srcA, "u1")),
		Changes: changesN(orgA, "u1", 1, at(0)), Event: &store.EventMark{ID: "ev-1"}})
	wantErr(t, "Apply with a lost lease", err, store.ErrLeaseLost)
	var ae *store.ApplyError
	if errors.As(err, &ae) && ae.Op != "lease" {
		t.Errorf("ApplyError names %q, want \"lease\"", ae.Op)
	}
	if _, err := st.GetUser(t.Context(), orgA, "u1"); err == nil {
		t.Error("a fenced Apply wrote its user")
	}
	if n := lastSeq(t, st, orgA); n != 0 {
		t.Errorf("a fenced Apply journaled: LastSeq %d", n)
	}
	if ok, _ := st.EventProcessed(t.Context(), orgA, "ev-1"); ok {
		t.Error("a fenced Apply recorded its event mark")
	}
}

func leaseApplyLapsed(t testing.TB, st store.Store) {
	l := acquire(t, st, orgA, "h1", leaseTTL)
	time.Sleep(2 * leaseTTL)
	wantFencedNothingWritten(t, st, l)
}

func leaseApplyReplaced(t testing.TB, st store.Store) {
	l := acquire(t, st, orgA, "h1", leaseTTL)
	time.Sleep(2 * leaseTTL)
	acquire(t, st, orgA, "h2", time.Minute)
	wantFencedNothingWritten(t, st, l)
	// The same holder name with the old token is still fenced.
	l.ExpiresAt = time.Now().Add(time.Hour)
	wantFencedNothingWritten(t, st, l)
}

func leaseApplyForeign(t testing.TB, st store.Store) {
	lb := acquire(t, st, orgB, "h1", time.Minute)
	acquire(t, st, orgA, "h1", time.Minute)
	foreign := lb
	foreign.OrgID = orgA
	wantFencedNothingWritten(t, st, foreign)
	wantFencedNothingWritten(t, st, lb)
}
