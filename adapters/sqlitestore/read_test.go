package sqlitestore

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// PurgeOrg deletes from orgTables: every table with an org column must be
// there, or a purged org's rows stay behind (and a table added by a later
// migration is easily forgotten).
func TestOrgTablesListsEveryTableWithAnOrgColumn(t *testing.T) {
	t.Parallel()
	s := setup(t)
	want := queryStrings(t, s, `SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'org' ORDER BY m.name`)
	got := slices.Sorted(slices.Values(orgTables))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("orgTables differs from the tables with an org column (-schema +orgTables):\n%s", diff)
	}
}
