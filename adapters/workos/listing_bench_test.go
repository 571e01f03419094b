package workos_test

import (
	"context"
	"testing"
	"time"

	"github.com/directorysync/directorysync/adapters/workos"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/internal/fakeworkos"
	"github.com/directorysync/directorysync/mapping"
)

// fullListing lists what a sync reads — status, users, groups and every
// group's members — as the engine does, one request after another.
func fullListing(tb testing.TB, p *workos.Provider) (users, members int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := p.Status(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := p.Users(ctx, func(page []mapping.Record) error { users += len(page); return nil }); err != nil {
		tb.Fatal(err)
	}
	var groups []string
	if err := p.Groups(ctx, func(page []dirsync.ProviderGroup) error {
		for _, g := range page {
			groups = append(groups, g.ExternalID)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	for _, g := range groups {
		if err := p.GroupMembers(ctx, g, func(ids []string) error { members += len(ids); return nil }); err != nil {
			tb.Fatal(err)
		}
	}
	return users, members
}

// listingCeiling runs a full listing of a 5,000-person, 40-group directory
// against the fake with WorkOS's 4 requests/second/directory limit on and
// 80 ms of latency per request, and returns the (virtual) time it took, the
// /directory_users requests it made, and the 429s it met. The fake and the
// transport share a virtual clock: pacing waits and latency advance it
// without real waiting, so the figures are exact and the run takes well under
// a second of real time.
func listingCeiling(tb testing.TB) (elapsed time.Duration, requests, throttled int) {
	f := setup(tb, setupOpts{fake: fakeworkos.Options{DirectoryRateLimit: 4, Latency: 80 * time.Millisecond}})
	f.fake.SeedDirectory(f.dirID, "org_A", 5000, 40)
	start := f.clock.Now()
	users, members := fullListing(tb, f.prov)
	if users != 5000 || members != 5000 {
		tb.Fatalf("listed %d users and %d memberships, want 5000 each", users, members)
	}
	elapsed = f.clock.Now().Sub(start)
	for _, r := range f.fake.Requests() {
		if r.Path == "/directory_users" {
			requests++
		}
		if r.Status == 429 {
			throttled++
		}
	}
	return elapsed, requests, throttled
}

// TestFullListingStaysWithinTheRateCeiling is the acceptance check of issue
// 6: the listing finishes within 1.1x of (requests needed ÷ 4 per second),
// with no 429. It runs on a virtual clock (see listingCeiling), so it measures
// pacing, not the machine.
func TestFullListingStaysWithinTheRateCeiling(t *testing.T) {
	t.Parallel()
	elapsed, requests, throttled := listingCeiling(t)
	ceiling := time.Duration(requests) * time.Second / 4
	if throttled != 0 {
		t.Errorf("%d requests answered 429", throttled)
	}
	if ratio := float64(elapsed) / float64(ceiling); ratio > 1.1 {
		t.Errorf("listing took %s for %d requests; the API's ceiling is %s: %.3fx > 1.1x", elapsed, requests, ceiling, ratio)
	}
	if requests != 50+80 { // 50 pages of users, 2 pages of members for each of 40 groups
		t.Errorf("%d requests to /directory_users, want 130", requests)
	}
}

// BenchmarkFullListing reports the virtual time of a full listing of a
// 5,000-person, 40-group directory against the rate-limited fake (virtual
// clock, see listingCeiling) as a ratio to the API's own ceiling.
func BenchmarkFullListing(b *testing.B) {
	var elapsed time.Duration
	var requests, throttled int
	for b.Loop() {
		elapsed, requests, throttled = listingCeiling(b)
	}
	ceiling := time.Duration(requests) * time.Second / 4
	b.ReportMetric(elapsed.Seconds(), "virtual-s")
	b.ReportMetric(float64(requests), "dir-requests")
	b.ReportMetric(float64(elapsed)/float64(ceiling), "x-ceiling")
	b.ReportMetric(float64(throttled), "429s")
}
