package dirsynctest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/mapping"
)

func ids(p *dirsynctest.Provider) (pages [][]string, err error) {
	err = p.Users(context.Background(), func(page []mapping.Record) error {
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ExternalID)
		}
		pages = append(pages, ids)
		return nil
	})
	return pages, err
}

func TestProvider(t *testing.T) {
	t.Parallel()
	newP := func() *dirsynctest.Provider {
		p := dirsynctest.New("test:x", dirsynctest.Person("a", "A", "A"), dirsynctest.Person("b", "B", "B"), dirsynctest.Person("c", "C", "C"))
		p.SetPageSize(2)
		return p
	}
	t.Run("ListsInPagesOfTheSetSize", func(t *testing.T) {
		t.Parallel()
		pages, err := ids(newP())
		if diff := cmp.Diff([][]string{{"a", "b"}, {"c"}}, pages); diff != "" || err != nil {
			t.Errorf("pages (-want +got):\n%s err %v", diff, err)
		}
	})
	t.Run("FailsOnTheChosenPageAfterDeliveringTheOnesBefore", func(t *testing.T) {
		t.Parallel()
		p := newP()
		boom := errors.New("boom")
		p.FailOnPage(2, boom)
		pages, err := ids(p)
		if !errors.Is(err, boom) || len(pages) != 1 {
			t.Errorf("pages %v, err %v", pages, err)
		}
	})
	t.Run("BeforePageChangesTheListingMidStream", func(t *testing.T) {
		t.Parallel()
		p := newP()
		p.BeforePage(2, func(p *dirsynctest.Provider) { p.RemoveUsers("a") })
		pages, _ := ids(p)
		// Offset pagination: removing a listed person shifts c onto page 1.
		if diff := cmp.Diff([][]string{{"a", "b"}}, pages); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
	t.Run("PausesUntilReleased", func(t *testing.T) {
		t.Parallel()
		p := newP()
		pause := p.PauseOnPage(2)
		done := make(chan [][]string)
		go func() { pages, _ := ids(p); done <- pages }()
		<-pause.Reached()
		select {
		case <-done:
			t.Fatal("the listing did not wait")
		default:
		}
		pause.Release()
		if pages := <-done; len(pages) != 2 {
			t.Errorf("pages %v", pages)
		}
	})
	t.Run("ReportsItsStatus", func(t *testing.T) {
		t.Parallel()
		p := newP()
		p.SetStatus(false, "unlinked")
		st, err := p.Status(context.Background())
		if err != nil || st.Linked || st.State != "unlinked" {
			t.Errorf("status %+v, %v", st, err)
		}
	})
}
