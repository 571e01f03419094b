package dirsync_test

import (
	"context"
	"fmt"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/dirsync/dirsynctest"
	"github.com/directorysync/directorysync/search"
)

// Sync one org's directory into an in-memory store, then search it.
func Example() {
	ctx := context.Background()
	st := memstore.New()
	provider := dirsynctest.New("file:people.csv",
		dirsynctest.Person("1", "Ada", "Lovelace"),
		dirsynctest.Person("2", "Grace", "Hopper"),
		dirsynctest.Person("3", "Alan", "Turing"),
	)
	syncer, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: provider})
	if err != nil {
		panic(err)
	}
	run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Status, "created", run.Counts.Created)

	page, err := st.Search(ctx, "acme", search.Query{Text: "grace"})
	if err != nil {
		panic(err)
	}
	for _, u := range page.Users {
		fmt.Println(u.FirstName, u.LastName, u.Email)
	}
	// Output:
	// succeeded created 3
	// Grace Hopper grace.hopper@example.com
}
