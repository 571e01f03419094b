package directorysync_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/directorysync/directorysync/adapters/fileprovider"
	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
)

// Sync an HRIS export through a mapping preset, then search it.
func Example() {
	ctx := context.Background()
	export := "employeeNumber,firstName,lastName,workEmail,department,location,status\n" +
		"1001,Ingrid,Halvorsen,ingrid.halvorsen@example.com,Finance,Oslo,Active\n" +
		"1002,Kwame,Mensah,kwame.mensah@example.com,Sales,London,Active\n" +
		"1003,Lucía,Ferrer,lucia.ferrer@example.com,Sales,Madrid,Terminated\n"
	provider, _ := fileprovider.New(fileprovider.Config{
		Format: fileprovider.CSV, IDField: "employeeNumber",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(export)), nil },
	})
	mapper, _ := mapping.Compile(mapping.Config{Preset: "bamboohr"})
	st := memstore.New()
	syncer, _ := dirsync.New(st, dirsync.Config{OrgID: "acme", Provider: provider, Mapper: mapper})
	run, err := syncer.Sync(ctx, dirsync.SyncOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Status, run.Counts.Created)

	q, _ := search.ParseBox(`department:sales`)
	page, _ := st.Search(ctx, "acme", q)
	for _, u := range page.Users {
		fmt.Println(u.FirstName, u.LastName, u.Office)
	}
	// Output:
	// succeeded 3
	// Kwame Mensah London
}
