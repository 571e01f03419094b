// Command quickstart is the smallest embedding of directorysync: an HRIS
// export synced into memory through a mapping preset, then a search.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/directorysync/directorysync/adapters/fileprovider"
	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
)

const export = `employeeNumber,firstName,lastName,workEmail,department,location,status
1001,Ingrid,Halvorsen,ingrid.halvorsen@example.com,Finance,Oslo,Active
1002,Kwame,Mensah,kwame.mensah@example.com,Sales,London,Active
1003,Lucía,Ferrer,lucia.ferrer@example.com,Sales,Madrid,Terminated
`

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	ctx := context.Background()
	provider, err := fileprovider.New(fileprovider.Config{
		Format: fileprovider.CSV, IDField: "employeeNumber",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(export)), nil },
	})
	check(err)
	mapper, err := mapping.Compile(mapping.Config{Preset: "bamboohr"})
	check(err)
	st := memstore.New()
	syncer, err := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: provider, Mapper: mapper})
	check(err)
	run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
	check(err)
	fmt.Printf("sync %s: %d created\n", run.Status, run.Counts.Created)

	q, err := search.ParseBox(`department:sales status:all`)
	check(err)
	page, err := st.Search(ctx, "acme", q)
	check(err)
	for _, u := range page.Users {
		fmt.Printf("%s %s <%s> %s, %s active=%v\n", u.FirstName, u.LastName, u.Email, u.Department, u.Office, u.Active)
	}
}
