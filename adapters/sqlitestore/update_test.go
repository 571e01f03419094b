package sqlitestore

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// An update that keeps a user's indexed columns writes them with
// qUserUpdateRow, which names none of them; that is only right while every
// index of dirsync_users is over the columns writeUser compares (the IDs,
// the state and indexedCols). A migration that indexes another column must
// add it there first.
func TestEveryUsersIndexIsOverComparedColumns(t *testing.T) {
	t.Parallel()
	s := setup(t)
	compared := []string{"uid", "org", "id", "external_id", "active", "source_id", "idp_id", "f_email", "f_department",
		"f_division", "f_office", "f_tags", "sk_last", "sk_first", "sk_email"}
	rows, err := s.w.Query(`SELECT il.name, ii.name FROM pragma_index_list('dirsync_users') il, pragma_index_info(il.name) ii`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var index, col string
		if err := rows.Scan(&index, &col); err != nil {
			t.Fatal(err)
		}
		n++
		if !slices.Contains(compared, col) {
			t.Errorf("index %s is over column %q, which writeUser does not compare before an update that keeps indexes", index, col)
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("read %d index columns: %v", n, err)
	}
	// Partial indexes' conditions too.
	var sqls []string
	r2, err := s.w.Query(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'dirsync_users' AND sql LIKE '%WHERE%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for r2.Next() {
		var q string
		if err := r2.Scan(&q); err != nil {
			t.Fatal(err)
		}
		sqls = append(sqls, q)
	}
	word := regexp.MustCompile(`[a-z_]+`)
	for _, q := range sqls {
		cond := q[strings.Index(q, "WHERE")+len("WHERE"):]
		for _, w := range word.FindAllString(cond, -1) {
			if !slices.Contains(compared, w) {
				t.Errorf("partial index %q depends on column %q, which writeUser does not compare", q, w)
			}
		}
	}
}

// Updates that keep the indexed columns (a title) and updates that change
// them (a department, a name, the state) must both leave every search
// path answering as the rows say.
func TestUpdatesKeepIndexesRight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	u := store.User{OrgID: "o", ID: "u1", SourceID: "src", ExternalID: "e1", Email: "ana@example.com",
		FirstName: "Ana", LastName: "Lima", Department: "Sales", Office: "Paris", Title: "Rep", Active: true,
		Tags: []mapping.Tag{{Field: "team", Value: "Blue"}}, SourceHash: "s", ProfileHash: "p", MappingVersion: "m"}
	if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "o", Users: []store.UserWrite{{User: u}}}); err != nil {
		t.Fatal(err)
	}
	version := int64(1)
	update := func(change func(*store.User)) {
		t.Helper()
		change(&u)
		u.ProviderUpdatedAt = time.Time{}
		if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "o", Users: []store.UserWrite{{User: u, ExpectVersion: version}}}); err != nil {
			t.Fatal(err)
		}
		version++
	}
	found := func(q search.Query) bool {
		t.Helper()
		p, err := s.Search(ctx, "o", q)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Users) == 1 && p.Users[0].ID == "u1" && p.Users[0].Title == u.Title
	}
	update(func(u *store.User) { u.Title = "Lead" })
	if !found(search.Query{Departments: []string{"sales"}}) || !found(search.Query{Text: "lim"}) {
		t.Error("after a title change the user is not found by department and name")
	}
	update(func(u *store.User) { u.Department, u.LastName = "Legal", "Sousa" })
	if found(search.Query{Departments: []string{"sales"}}) || !found(search.Query{Departments: []string{"legal"}}) ||
		!found(search.Query{Text: "sou"}) || found(search.Query{Text: "lim"}) {
		t.Error("after a department and name change the indexes answer the old values")
	}
	update(func(u *store.User) { u.Title = "Head" })
	if !found(search.Query{Departments: []string{"legal"}, Sort: search.SortFirstName}) {
		t.Error("after a second title change the user is not found in first-name order")
	}
	update(func(u *store.User) { u.Active = false })
	if found(search.Query{Departments: []string{"legal"}}) || !found(search.Query{Departments: []string{"legal"}, Status: search.StatusInactive}) {
		t.Error("after deactivation the status filter answers the old state")
	}
	if n, err := s.Facets(ctx, "o", search.Query{Status: search.StatusInactive}); err != nil || n.Department["Legal"] != 1 {
		t.Errorf("facets of inactive users = %+v, %v", n.Department, err)
	}
}
