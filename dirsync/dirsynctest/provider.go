// Package dirsynctest provides a scriptable fake dirsync.Provider for tests:
// pages of a chosen size, a failure on page N, a pause on page N until the
// test releases it, a hook that changes the listing between pages, groups
// with members, and a linked or unlinked status.
//
//	p := dirsynctest.New("file:test", dirsynctest.Person("e1", "Ada", "Lovelace"))
//	p.SetPageSize(100)
//	p.FailOnPage(3, errors.New("boom"))
//	pause := p.PauseOnPage(2)
//	go syncer.Sync(ctx, dirsync.SyncOptions{})
//	<-pause.Reached()
//	// … apply an event while the listing waits …
//	pause.Release()
package dirsynctest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

var (
	_ dirsync.Provider      = (*Provider)(nil)
	_ dirsync.DirectoryIDer = (*Provider)(nil)
)

// Provider is a fake, scriptable provider. Its methods are safe for
// concurrent use; a script set while a listing runs applies to the pages
// not yet delivered.
type Provider struct {
	source string

	mu          sync.Mutex
	users       []mapping.Record
	groups      []dirsync.ProviderGroup
	members     map[string][]string
	status      dirsync.SourceStatus
	statusErr   error
	pageSize    int
	failOn      map[int]error
	groupsErr   error
	pauses      map[int]*Pause
	before      map[int]func(*Provider)
	dirID       string
	listings    int
	pagesServed int
}

// New returns a linked provider for sourceID listing users, in pages of
// 100.
func New(sourceID string, users ...mapping.Record) *Provider {
	return &Provider{
		source:   sourceID,
		users:    slices.Clone(users),
		members:  map[string][]string{},
		status:   dirsync.SourceStatus{Linked: true, State: "linked"},
		pageSize: 100,
		failOn:   map[int]error{},
		pauses:   map[int]*Pause{},
		before:   map[int]func(*Provider){},
	}
}

// Person returns an active record with a name and an email made from them,
// the shortest way to script a directory.
func Person(externalID, first, last string) mapping.Record {
	return mapping.Record{
		ExternalID: externalID,
		State:      mapping.StateActive,
		FirstName:  first,
		LastName:   last,
		Email:      fmt.Sprintf("%s.%s@example.com", first, last),
	}
}

// SourceID implements dirsync.Provider.
func (p *Provider) SourceID() string { return p.source }

// DirectoryID implements dirsync.DirectoryIDer; empty unless set.
func (p *Provider) DirectoryID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dirID
}

// SetDirectoryID sets the directory ID events are compared with.
func (p *Provider) SetDirectoryID(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirID = id
}

// Status implements dirsync.Provider.
func (p *Provider) Status(ctx context.Context) (dirsync.SourceStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.statusErr
}

// SetStatus sets whether the source is linked, and its state's name.
func (p *Provider) SetStatus(linked bool, state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = dirsync.SourceStatus{Linked: linked, State: state}
}

// SetStatusError makes Status fail with err (nil: succeed again).
func (p *Provider) SetStatusError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.statusErr = err
}

// SetPageSize sets the users listing's page size (at least 1).
func (p *Provider) SetPageSize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pageSize = max(n, 1)
}

// SetUsers replaces the listing.
func (p *Provider) SetUsers(users ...mapping.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = slices.Clone(users)
}

// Records returns a copy of the listing.
func (p *Provider) Records() []mapping.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.users)
}

// AddUsers appends records to the listing.
func (p *Provider) AddUsers(users ...mapping.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = append(p.users, users...)
}

// RemoveUsers removes the records with these external IDs.
func (p *Provider) RemoveUsers(externalIDs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = slices.DeleteFunc(p.users, func(r mapping.Record) bool { return slices.Contains(externalIDs, r.ExternalID) })
}

// UpdateUser changes the record with this external ID in place; it reports
// whether there was one.
func (p *Provider) UpdateUser(externalID string, fn func(*mapping.Record)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.users {
		if p.users[i].ExternalID == externalID {
			fn(&p.users[i])
			return true
		}
	}
	return false
}

// SetGroups replaces the groups listing.
func (p *Provider) SetGroups(groups ...dirsync.ProviderGroup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groups = slices.Clone(groups)
}

// SetMembers sets a group's members by user external ID.
func (p *Provider) SetMembers(groupExternalID string, userExternalIDs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.members[groupExternalID] = slices.Clone(userExternalIDs)
}

// FailOnPage makes every users listing fail with err when it reaches page
// n (1-based), after delivering the pages before it. A nil err clears it.
func (p *Provider) FailOnPage(n int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		delete(p.failOn, n)
		return
	}
	p.failOn[n] = err
}

// FailGroups makes the groups listing fail with err (nil: succeed again).
func (p *Provider) FailGroups(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groupsErr = err
}

// BeforePage calls fn (with the provider, so it may change the listing)
// before the next users listing delivers page n; it runs once.
func (p *Provider) BeforePage(n int, fn func(*Provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.before[n] = fn
}

// Pause holds a users listing before one page until released.
type Pause struct {
	reached, release chan struct{}
	reachOnce        sync.Once
	releaseOnce      sync.Once
}

// Reached is closed when a listing waits at the page.
func (x *Pause) Reached() <-chan struct{} { return x.reached }

// Release lets the listing go on.
func (x *Pause) Release() { x.releaseOnce.Do(func() { close(x.release) }) }

// PauseOnPage makes the next users listing wait before delivering page n
// (1-based) until the returned Pause is released or its context ends.
func (p *Provider) PauseOnPage(n int) *Pause {
	x := &Pause{reached: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pauses[n] = x
	return x
}

// Listings returns how many users listings have started.
func (p *Provider) Listings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listings
}

// Users implements dirsync.Provider: pages of the current listing, by
// offset, so a change between pages shifts what later pages hold, as with
// a real paginated API.
func (p *Provider) Users(ctx context.Context, fn func(page []mapping.Record) error) error {
	p.mu.Lock()
	p.listings++
	p.mu.Unlock()
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		hook := p.before[n]
		delete(p.before, n)
		pause := p.pauses[n]
		delete(p.pauses, n)
		p.mu.Unlock()
		if hook != nil {
			hook(p)
		}
		if pause != nil {
			pause.reachOnce.Do(func() { close(pause.reached) })
			select {
			case <-pause.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.mu.Lock()
		if err := p.failOn[n]; err != nil {
			p.mu.Unlock()
			return fmt.Errorf("dirsynctest: page %d: %w", n, err)
		}
		start := (n - 1) * p.pageSize
		if start >= len(p.users) && !(n == 1 && len(p.users) == 0) {
			p.mu.Unlock()
			return nil
		}
		end := min(start+p.pageSize, len(p.users))
		page := slices.Clone(p.users[start:end])
		p.pagesServed++
		p.mu.Unlock()
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
	}
}

// Groups implements dirsync.Provider, in one page.
func (p *Provider) Groups(ctx context.Context, fn func(page []dirsync.ProviderGroup) error) error {
	p.mu.Lock()
	groups, err := slices.Clone(p.groups), p.groupsErr
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return nil
	}
	return fn(groups)
}

// GroupMembers implements dirsync.Provider, in one page.
func (p *Provider) GroupMembers(ctx context.Context, groupExternalID string, fn func(userExternalIDs []string) error) error {
	p.mu.Lock()
	ms := slices.Clone(p.members[groupExternalID])
	p.mu.Unlock()
	if len(ms) == 0 {
		return ctx.Err()
	}
	return fn(ms)
}

// Event returns a user event about rec at time at, with the given ID.
func Event(id string, kind dirsync.EventKind, rec mapping.Record, at time.Time) dirsync.Event {
	return dirsync.Event{ID: id, Kind: kind, OccurredAt: at, User: &rec}
}

// MemberEvent returns a membership event.
func MemberEvent(id string, kind dirsync.EventKind, rec mapping.Record, g dirsync.ProviderGroup, at time.Time) dirsync.Event {
	return dirsync.Event{ID: id, Kind: kind, OccurredAt: at, User: &rec, Group: &g}
}
