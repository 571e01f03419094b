package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/directorysync/directorysync/adapters/memstore"
	"github.com/directorysync/directorysync/internal/synth"
	"github.com/directorysync/directorysync/internal/wordrows"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

func TestMigrate(t *testing.T) {
	t.Parallel()

	t.Run("IsIdempotent", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		for range 2 {
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		}
		var n int
		if err := s.pool.QueryRow(context.Background(), s.sql(`SELECT count(*) FROM {S}.schema_migrations`)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != SchemaVersion() {
			t.Errorf("schema_migrations holds %d rows, want %d", n, SchemaVersion())
		}
	})

	t.Run("IsSafeWhenSeveralProcessesMigrateAtOnce", func(t *testing.T) {
		t.Parallel()
		p := testPool(t)
		schema := randomSchema()
		stores := make([]*Store, 4)
		for i := range stores {
			s, err := New(p, Config{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		t.Cleanup(func() { _, _ = p.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+stores[0].schema+` CASCADE`) })
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		if _, err := stores[0].LastSeq(context.Background(), "acme"); err != nil {
			t.Errorf("the migrated schema does not answer: %v", err)
		}
	})

	t.Run("UpgradeFrom003KeepsWhatApplyWrites", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := setup(t)
		users := synth.Users(31, "acme", "src", 300)
		users[0].LastName, users[0].Email = "Smith", "smith10.o@example.com" // lcp 5, and a lead word
		users[1].FirstName, users[1].LastName = "Ōta", "Ōtake"               // non-ASCII, lcp in bytes
		if _, err := s.Apply(ctx, createReq("acme", users)); err != nil {
			t.Fatal(err)
		}
		dump := func() []string {
			return queryStrings(t, s, `SELECT user_id || '|' || word || '|' || k_last || '|' || lcp FROM {S}.user_words
				UNION ALL SELECT concat_ws('|', by_facet, by_value, facet, f_value, active, n) FROM {S}.facet_pairs ORDER BY 1`)
		}
		want := dump()
		// The table as migration 003 left it: every word, no lcp.
		if _, err := s.pool.Exec(ctx, s.sql(`DROP TABLE {S}.user_words;
			CREATE TABLE {S}.user_words (org_id text COLLATE "C" NOT NULL, word text COLLATE "C" NOT NULL,
				k_last text COLLATE "C" NOT NULL, user_id text COLLATE "C" NOT NULL, PRIMARY KEY (org_id, word, k_last, user_id));
			INSERT INTO {S}.user_words SELECT org_id, w, k_last, id FROM {S}.users, unnest(words) w;
			DROP TABLE {S}.facet_pairs;
			DELETE FROM {S}.schema_migrations WHERE version >= 4`)); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, dump()); diff != "" {
			t.Errorf("user_words and facet_pairs after migrations 004 and 005 differ from what Apply writes (-apply +migrated):\n%s", diff)
		}
		if page, err := s.Search(ctx, "acme", search.Query{Text: "ōt"}); err != nil || len(page.Users) == 0 {
			t.Errorf("Search for a lead word's prefix after the upgrade = %v, %v", page.Users, err)
		}
	})

	t.Run("RefusesASchemaNewerThanTheCodeKnows", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if _, err := s.pool.Exec(context.Background(), s.sql(`INSERT INTO {S}.schema_migrations (version, name) VALUES ($1, 'from_the_future')`), SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		err := s.Migrate(context.Background())
		if err == nil || !strings.Contains(err.Error(), "newer than this code knows") {
			t.Fatalf("Migrate against a newer schema = %v, want an error saying it is newer", err)
		}
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	t.Run("RejectsASchemaThatIsNotAPlainIdentifier", func(t *testing.T) {
		t.Parallel()
		for _, schema := range []string{"Dirsync", "a-b", `x"; DROP TABLE users; --`, strings.Repeat("a", 64), "1abc"} {
			if _, err := Open(context.Background(), "postgres://127.0.0.1:1/none", Config{Schema: schema}); err == nil || !strings.Contains(err.Error(), "invalid config") {
				t.Errorf("Open with schema %q = %v, want an invalid config error", schema, err)
			}
		}
	})
	t.Run("RejectsANilPool", func(t *testing.T) {
		t.Parallel()
		if _, err := New(nil, Config{}); err == nil {
			t.Error("New(nil) returned no error")
		}
	})
	t.Run("NamesABadDSN", func(t *testing.T) {
		t.Parallel()
		if _, err := Open(context.Background(), "postgres://%zz"); err == nil || !strings.Contains(err.Error(), "DSN") {
			t.Errorf("Open with a malformed DSN = %v, want an error naming the DSN", err)
		}
	})
	t.Run("OpenTurnsOffJITGenericPlansAndParallelWorkersUnlessTheDSNSays", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dsn := os.Getenv(dsnEnv)
		if dsn == "" {
			t.Skip(dsnEnv + " is not set")
		}
		show := func(dsn string) (jit, planMode, parallel string) {
			s, err := Open(ctx, dsn, Config{Schema: randomSchema()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.pool.QueryRow(ctx, `SELECT current_setting('jit'), current_setting('plan_cache_mode'),
				current_setting('max_parallel_workers_per_gather')`).Scan(&jit, &planMode, &parallel); err != nil {
				t.Fatal(err)
			}
			return jit, planMode, parallel
		}
		if jit, mode, parallel := show(dsn); jit != "off" || mode != "force_custom_plan" || parallel != "0" {
			t.Errorf("Open: jit = %s, plan_cache_mode = %s, max_parallel_workers_per_gather = %s; want off, force_custom_plan and 0", jit, mode, parallel)
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		if _, mode, parallel := show(dsn + sep + "plan_cache_mode=auto&max_parallel_workers_per_gather=1"); mode != "auto" || parallel != "1" {
			t.Errorf("Open with plan_cache_mode=auto and max_parallel_workers_per_gather=1 in the DSN: got %s and %s, want the DSN's", mode, parallel)
		}
	})
	t.Run("DefaultsTheSchemaToDirsync", func(t *testing.T) {
		t.Parallel()
		p := testPool(t)
		s, err := New(p, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Schema() != "dirsync" {
			t.Errorf("Schema() = %q, want dirsync", s.Schema())
		}
	})
}

func TestApplyFocused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ConflictInABulkInsertNamesTheWriteAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		users := synth.Users(3, "acme", "src", 50)
		if _, err := s.Apply(ctx, createReq("acme", users[:1])); err != nil {
			t.Fatal(err)
		}
		dup := users[0]
		dup.ID = "user_other"
		batch := append(append([]store.User{}, users[1:30]...), dup)
		_, err := s.Apply(ctx, createReq("acme", batch))
		var ae *store.ApplyError
		if !errors.As(err, &ae) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Apply = %v, want an *ApplyError wrapping ErrConflict", err)
		}
		if ae.Op != "user" || ae.Index != 29 || ae.ID != "user_other" {
			t.Errorf("ApplyError names %s[%d] %q, want user[29] %q", ae.Op, ae.Index, ae.ID, "user_other")
		}
		if got := len(storedIDs(t, s, "acme")); got != 1 {
			t.Errorf("%d users stored after the failed Apply, want 1", got)
		}
		checkConsistent(t, s, "acme")
	})

	t.Run("RejectsNULInTextNamingTheField", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		u := synth.Users(3, "acme", "src", 1)[0]
		u.Title = "Chief\x00Officer"
		_, err := s.Apply(ctx, createReq("acme", []store.User{u}))
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "title") {
			t.Fatalf("Apply with a NUL in the title = %v, want ErrInvalid naming title", err)
		}
	})

	t.Run("LookupsByUnstorableValuesFindNothing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if _, err := s.GetUser(ctx, "acme", "a\x00b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser with a NUL = %v, want ErrNotFound", err)
		}
		users, err := s.LoadUsers(ctx, store.LoadUsersRequest{OrgID: "acme", SourceID: "src", ExternalIDs: []string{"\xff"}, IdpIDs: []string{"\x00"}})
		if err != nil || len(users) != 0 {
			t.Errorf("LoadUsers with unstorable values = %v, %v; want nothing", users, err)
		}
		page, err := s.Search(ctx, "acme", search.Query{Groups: []string{"g\x00"}, Text: "a\x00b"})
		if err != nil || len(page.Users) != 0 {
			t.Errorf("Search with NULs = %v, %v; want an empty page", page, err)
		}
	})

	t.Run("PurgeOrgLeavesNoRowInAnyTable", func(t *testing.T) {
		// Every table with an org_id column, whichever migration added
		// it: none keeps a row of the purged org, and the other org's
		// rows stay.
		t.Parallel()
		s := setup(t)
		for _, org := range []string{"acme", "other"} {
			if _, err := s.Apply(ctx, createReq(org, synth.Users(7, org, "src", 20))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PurgeOrg(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		tables := queryStrings(t, s, `SELECT table_name::text FROM information_schema.columns
			WHERE table_schema = '`+s.cfg.Schema+`' AND column_name = 'org_id' ORDER BY 1`)
		if len(tables) < 10 {
			t.Fatalf("found only %d tables with an org_id column: %v", len(tables), tables)
		}
		for _, table := range tables {
			var acme, other int
			if err := s.pool.QueryRow(ctx, s.sql(`SELECT count(*) FILTER (WHERE org_id = 'acme'), count(*) FILTER (WHERE org_id = 'other') FROM {S}.`+table)).Scan(&acme, &other); err != nil {
				t.Fatal(err)
			}
			if acme != 0 {
				t.Errorf("%s keeps %d rows of the purged org", table, acme)
			}
			if table == "facet_pairs" && other == 0 {
				t.Errorf("facet_pairs has no row of the other org: the test does not exercise it")
			}
		}
	})

	t.Run("WordRowsFollowAnEmailChange", func(t *testing.T) {
		// "annabel" is covered by the smaller "ann" from the e-mail
		// address for terms of up to three bytes (wordrows.Rows); when the
		// address changes, the name must be found by its own row again.
		t.Parallel()
		s := setup(t)
		u := synth.Users(6, "acme", "src", 1)[0]
		u.FirstName, u.LastName, u.Email = "Annabel", "Lee", "ann.lee@example.com"
		if _, err := s.Apply(ctx, createReq("acme", []store.User{u})); err != nil {
			t.Fatal(err)
		}
		find := func(text string) int {
			t.Helper()
			page, err := s.Search(ctx, "acme", search.Query{Text: text, Status: search.StatusAll})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Users)
		}
		if find("an") != 1 || find("annab") != 1 || find("ann.l") != 1 {
			t.Fatal("the user is not found by the prefixes of her words before the change")
		}
		u.Email = "bob@example.com"
		if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: []store.UserWrite{{User: u, ExpectVersion: 1}}}); err != nil {
			t.Fatal(err)
		}
		for text, want := range map[string]int{"an": 1, "ann": 1, "annabel": 1, "annx": 0, "bo": 1, "le": 1} {
			if got := find(text); got != want {
				t.Errorf("Search %q after the address changed found %d users, want %d", text, got, want)
			}
		}
		kLast := search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email)
		ws, lcps := wordrows.Rows(kLast, search.Words(u.FirstName, u.LastName, u.Email))
		var want []string
		for i, w := range ws {
			want = append(want, fmt.Sprintf("%s|%d", w, lcps[i]))
		}
		sortStrings(want)
		got := queryStrings(t, s, `SELECT word || '|' || lcp FROM {S}.user_words ORDER BY 1`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("user_words after the address changed (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateRewritesOnlyTheSideRowsThatChanged", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		u := synth.Users(5, "acme", "src", 1)[0]
		if _, err := s.Apply(ctx, createReq("acme", []store.User{u})); err != nil {
			t.Fatal(err)
		}
		u.LastName = "Zzyzx"
		if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: []store.UserWrite{{User: u, ExpectVersion: 1}}}); err != nil {
			t.Fatal(err)
		}
		var words []string
		rows, err := s.pool.Query(ctx, s.sql(`SELECT word FROM {S}.user_words WHERE org_id = 'acme' AND user_id = $1 ORDER BY word`), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var w string
			if err := rows.Scan(&w); err != nil {
				t.Fatal(err)
			}
			words = append(words, w)
		}
		// Every word but the lead words (a prefix of the sort key), which
		// search reads from the sort key's range.
		kLast := search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email)
		var want []string
		for _, w := range search.Words(u.FirstName, u.LastName, u.Email) {
			if !strings.HasPrefix(kLast, w) {
				want = append(want, w)
			}
		}
		if len(want) == len(search.Words(u.FirstName, u.LastName, u.Email)) {
			t.Fatalf("%q has no lead word: the test does not exercise them", kLast)
		}
		sortStrings(want)
		if diff := cmp.Diff(want, words); diff != "" {
			t.Errorf("word rows after a rename (-want +got):\n%s", diff)
		}
		page, err := s.Search(ctx, "acme", search.Query{Text: "zzy", Status: search.StatusAll})
		if err != nil || len(page.Users) != 1 {
			t.Errorf("Search for the new name = %v, %v; want the renamed user", page.Users, err)
		}
		if n := staleSideKeys(t, s, "acme"); n != 0 {
			t.Errorf("after a rename, %d side rows carry the old sort key", n)
		}
		// A first name is part of the last-name sort key too.
		u.FirstName = "Aaron"
		if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: []store.UserWrite{{User: u, ExpectVersion: 2}}}); err != nil {
			t.Fatal(err)
		}
		if n := staleSideKeys(t, s, "acme"); n != 0 {
			t.Errorf("after a first-name change, %d side rows carry the old sort key", n)
		}
		page, err = s.Search(ctx, "acme", search.Query{Tags: []string{u.Tags[0].Value}, Status: search.StatusAll})
		if err != nil || len(page.Users) != 1 || page.Users[0].FirstName != "Aaron" {
			t.Errorf("Search by tag after the renames = %v, %v; want the renamed user", page.Users, err)
		}
	})
}

func sortStrings(ss []string) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j] < ss[j-1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

func TestSuccessor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"a", "b", true},
		{"ab", "ac", true},
		{"é", "ê", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"a\uD7FF", "a\uE000", true},
	} {
		got, ok := successor(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
		if ok && !(got > c.in) {
			t.Errorf("successor(%q) = %q is not greater", c.in, got)
		}
	}
}

func FuzzSuccessor(f *testing.F) {
	for _, s := range []string{"a", "jane.doe@acme", "é", "\U0010FFFF", "o'connor"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, p, suffix string) {
		hi, ok := successor(p)
		w := p + suffix
		if ok && !(w < hi) {
			t.Fatalf("%q has prefix %q but is not below its successor %q", w, p, hi)
		}
		if ok && strings.HasPrefix(hi, p) && hi != p {
			t.Fatalf("successor %q of %q has it as a prefix", hi, p)
		}
	})
}

// recountFacets recounts from the users and user_tags rows what
// facet_counts should hold for org, in its row format.
func recountFacets(t testing.TB, s *Store, org string) map[countKey]int64 {
	t.Helper()
	ctx := context.Background()
	got := map[countKey]int64{}
	rows, err := s.pool.Query(ctx, s.sql(`SELECT department, division, office, active, tags FROM {S}.users WHERE org_id = $1`), org)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dept, div, office string
		var active bool
		var tags *string
		if err := rows.Scan(&dept, &div, &office, &active, &tags); err != nil {
			t.Fatal(err)
		}
		got[countKey{facetAll, "", "", active}]++
		for _, f := range [...]struct{ facet, v string }{{facetDepartment, dept}, {facetDivision, div}, {facetOffice, office}} {
			if fv := search.Fold(f.v); fv != "" {
				got[countKey{f.facet, fv, f.v, active}]++
			}
		}
		tt, err := decodeTags(tags)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range tagRows(tt) {
			got[countKey{facetFieldPrefix + r.field, r.fvalue, r.value, active}]++
			if !seen[r.fvalue] {
				seen[r.fvalue] = true
				got[countKey{facetTag, r.fvalue, "", active}]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func storedFacetCounts(t testing.TB, s *Store, org string) map[countKey]int64 {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), s.sql(`SELECT facet, f_value, value, active, n FROM {S}.facet_counts WHERE org_id = $1`), org)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[countKey]int64{}
	for rows.Next() {
		var k countKey
		var n int64
		if err := rows.Scan(&k.facet, &k.fvalue, &k.value, &k.active, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFacetCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("StayEqualToARecountThroughInsertsUpdatesAndDeletes", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		users := synth.Users(11, "acme", "src", 300)
		if _, err := s.Apply(ctx, createReq("acme", users)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(recountFacets(t, s, "acme"), storedFacetCounts(t, s, "acme"), cmp.AllowUnexported(countKey{})); diff != "" {
			t.Fatalf("facet_counts after inserts (-recount +stored):\n%s", diff)
		}
		// Move people between values, deactivate some, respell and drop
		// tags, delete others, and touch one user twice in one request.
		var writes []store.UserWrite
		for i := range 120 {
			u := users[i]
			switch i % 4 {
			case 0:
				u.Department, u.Office = users[i+1].Department, "Nowhere Ville"
			case 1:
				u.Active = !u.Active
			case 2:
				for k := range u.Tags {
					u.Tags[k].Value = strings.ToUpper(u.Tags[k].Value)
				}
				u.Tags = u.Tags[:len(u.Tags)/2]
			case 3:
				writes = append(writes, store.UserWrite{User: u, ExpectVersion: 1, Delete: true})
				continue
			}
			writes = append(writes, store.UserWrite{User: u, ExpectVersion: 1})
		}
		again := users[0]
		again.Division = "Renamed Division"
		writes = append(writes, store.UserWrite{User: again, ExpectVersion: 2})
		if _, err := s.Apply(ctx, store.ApplyRequest{OrgID: "acme", Users: writes}); err != nil {
			t.Fatal(err)
		}
		// Facets filtered by one field alone read facet_pairs: the same
		// as the reference store's after the same writes.
		ref := memstore.New()
		for _, req := range []store.ApplyRequest{createReq("acme", users), {OrgID: "acme", Users: writes}} {
			if _, err := ref.Apply(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		for i, u := range users[:12] {
			q := search.Query{Status: []search.Status{search.StatusAll, search.StatusActive, search.StatusInactive}[i%3]}
			switch i % 4 {
			case 0:
				q.Departments = []string{u.Department, users[i+1].Department}
			case 1:
				q.Divisions = []string{strings.ToUpper(u.Division)}
			case 2:
				q.Offices = []string{u.Office}
			case 3:
				q.Offices = []string{"Nowhere Ville"}
			}
			if by, _ := pairField(q); by == "" {
				t.Fatalf("%+v is not answered from facet_pairs", q)
			}
			want, err := ref.Facets(ctx, "acme", q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Facets(ctx, "acme", q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Facets(%+v) from facet_pairs (-memstore +pgstore):\n%s", q, diff)
			}
		}
		stored := storedFacetCounts(t, s, "acme")
		if diff := cmp.Diff(recountFacets(t, s, "acme"), stored, cmp.AllowUnexported(countKey{})); diff != "" {
			t.Errorf("facet_counts after updates and deletes (-recount +stored):\n%s", diff)
		}
		for k, n := range stored {
			if n <= 0 {
				t.Errorf("facet_counts keeps %+v with n = %d; rows that reach 0 are deleted", k, n)
			}
		}
		// facet_pairs, kept by deltas, against a recount of the users by
		// the query of migration 005.
		mig, err := migrationFS.ReadFile("migrations/005_facet_pairs.up.sql")
		if err != nil {
			t.Fatal(err)
		}
		_, recount, ok := strings.Cut(string(mig), "INSERT INTO facet_pairs (org_id, by_facet, by_value, facet, f_value, active, n)")
		recount, _, ok2 := strings.Cut(recount, ";")
		if !ok || !ok2 {
			t.Fatal("migration 005 no longer holds the recount this test reads")
		}
		pairs := func(sql string) []string {
			return queryStrings(t, s, `SELECT concat_ws('|', org_id, by_facet, by_value, facet, f_value, active, n) FROM (`+
				strings.ReplaceAll(sql, "FROM users", "FROM {S}.users")+`) p(org_id, by_facet, by_value, facet, f_value, active, n) ORDER BY 1`)
		}
		want := pairs(recount)
		if len(want) == 0 {
			t.Fatal("the recount of facet_pairs is empty")
		}
		if diff := cmp.Diff(want, pairs(`SELECT org_id, by_facet, by_value, facet, f_value, active, n FROM {S}.facet_pairs`)); diff != "" {
			t.Errorf("facet_pairs after updates and deletes (-recount +stored):\n%s", diff)
		}
	})
}

// walkIDs reads every page of q (normalized) with the driver d and returns
// the IDs in order.
func walkIDs(t *testing.T, s *Store, org string, q search.Query, d *driver) []string {
	t.Helper()
	var ids []string
	var pos search.Position
	for page := 0; ; page++ {
		users, err := s.readPage(context.Background(), org, q, d, pos, page > 0)
		if err != nil {
			t.Fatalf("%+v with driver %+v: %v", q, d, err)
		}
		if len(users) <= q.Limit {
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			return ids
		}
		users = users[:q.Limit]
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		last := users[len(users)-1]
		pos = search.Position{Key: search.SortKey(q.Sort, last.FirstName, last.LastName, last.Email), ID: last.ID}
	}
}

func TestSearchDrivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	users := synth.Users(21, "acme", "src", 400)
	if _, err := s.Apply(ctx, createReq("acme", users)); err != nil {
		t.Fatal(err)
	}
	tag := func(i int) string { return users[i].Tags[0].Value }
	first := func(i, n int) string { return string([]rune(search.Words(users[i].FirstName, "", "")[0])[:n]) }
	// A prefix of a last name's first word: a lead word (migration 004).
	last := func(i, n int) string { return string([]rune(search.Words("", users[i].LastName, "")[0])[:n]) }
	ref := memstore.New()
	if _, err := ref.Apply(ctx, createReq("acme", users)); err != nil {
		t.Fatal(err)
	}
	queries := []search.Query{
		{Tags: []string{tag(0)}, Limit: 7},
		{Tags: []string{tag(1), tag(2)}, Status: search.StatusAll, Sort: search.SortFirstName, Limit: 5},
		{Text: first(3, 1), Limit: 9},
		{Text: first(4, 2) + " " + users[4].Email[:1], Sort: search.SortEmail, Limit: 4},
		{Tags: []string{tag(6)}, Text: first(6, 2), Status: search.StatusInactive, Limit: 3},
		{Tags: []string{tag(7)}, Text: first(7, 1) + " " + users[7].Email[:3], Departments: []string{users[7].Department}, Sort: search.SortID, Limit: 2},
		{Text: "o'c " + first(8, 1), Limit: 6},
		{Tags: []string{tag(9), tag(10), tag(11)}, Limit: 8},
		{Tags: []string{tag(13), tag(14)}, Text: first(13, 1) + " " + users[13].Email[:1], Limit: 3},
		{Tags: []string{tag(12)}, Text: first(12, 1), Departments: []string{users[12].Department}, Status: search.StatusAll, Limit: 4},
		{Text: last(15, 2), Limit: 5},
		{Tags: []string{tag(16)}, Text: last(16, 1), Limit: 4},
		{Text: last(17, 2) + " " + first(17, 1), Limit: 3},
		{Text: first(18, 1) + " " + last(18, 3), Sort: search.SortFirstName, Limit: 4},
		{Tags: []string{tag(19)}, Text: last(19, 2), Departments: []string{users[19].Department}, Limit: 2},
		{Tags: []string{tag(20), tag(21)}, Text: last(20, 1) + " " + first(21, 1), Status: search.StatusAll, Limit: 3},
		// Two-character terms, which stream from migration 006's index.
		{Tags: []string{tag(22)}, Text: first(22, 2), Limit: 3},
		{Text: first(23, 2), Limit: 4},
		{Tags: []string{tag(24)}, Text: first(24, 2) + " " + users[24].Email[:1], Status: search.StatusAll, Limit: 2},
		{Tags: []string{tag(25), tag(26)}, Text: first(25, 2), Limit: 3},
		// One tag value and a one-letter term, many pages of them.
		{Tags: []string{tag(27)}, Text: first(27, 1), Limit: 2},
		{Tags: []string{tag(28)}, Text: first(28, 1), Limit: 1},
		{Tags: []string{tag(29)}, Text: first(29, 1), Status: search.StatusAll, Limit: 2},
	}
	// The last holder of a tag in sort order matches: a bound read ends at
	// that holder's sort key, inclusive.
	lastHolder := -1
	for i, u := range users {
		holds := slices.ContainsFunc(u.Tags, func(x mapping.Tag) bool { return search.Fold(x.Value) == search.Fold(tag(30)) })
		if holds && (lastHolder < 0 || search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email) >
			search.SortKey(search.SortLastName, users[lastHolder].FirstName, users[lastHolder].LastName, users[lastHolder].Email)) {
			lastHolder = i
		}
	}
	if lastHolder >= 0 {
		queries = append(queries, search.Query{Tags: []string{tag(30)}, Text: first(lastHolder, 1), Status: search.StatusAll, Limit: 2})
		queries = append(queries, search.Query{Tags: []string{tag(30)}, Text: first(lastHolder, 1), Limit: 1},
			search.Query{Tags: []string{tag(30)}, Text: first(lastHolder, 1), Limit: 3})
	}
	// A two-character term with a character outside ASCII.
	nonASCII := false
	for i := range users {
		if w := first(i, 2); utf8.RuneCountInString(w) == 2 && len(w) > 2 {
			queries = append(queries, search.Query{Text: w, Limit: 2}, search.Query{Tags: []string{tag(i)}, Text: w, Limit: 2})
			nonASCII = true
			break
		}
	}
	if !nonASCII {
		t.Fatal("no first name starts with two characters one of which is not ASCII: the test data does not exercise it")
	}
	streams, bounded, small := 0, 0, 0
	for _, q := range queries {
		q, err := q.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		want := walkIDs(t, s, "acme", q, nil)
		var refIDs []string
		for rq := q; ; {
			p, err := ref.Search(ctx, "acme", rq)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range p.Users {
				refIDs = append(refIDs, u.ID)
			}
			if rq.Cursor = p.NextCursor; rq.Cursor == "" {
				break
			}
		}
		if diff := cmp.Diff(refIDs, want); diff != "" {
			t.Errorf("%+v: the semi-join plan differs from the reference store (-ref +got):\n%s", q, diff)
		}
		if len(want) == 0 && q.Status != search.StatusInactive {
			t.Fatalf("%+v matches nobody: the test data does not exercise it", q)
		}
		drivers := []*driver{{term: -1, split: -1}}
		if len(q.Tags) > 0 {
			drivers = append(drivers, &driver{tags: true, term: -1, split: -1})
		}
		// Any simple term may be the split term (the one that drives).
		for i, term := range search.Terms(q.Text) {
			if simpleTerm(term) {
				drivers = append(drivers, &driver{term: i, split: i})
				if len(q.Tags) > 0 {
					drivers = append(drivers, &driver{term: -1, all: true, split: i}, &driver{term: -1, all: true, split: i, take: 1})
				}
				if len(search.FoldedValues(q.Tags)) == 1 {
					// Pairs bounded by the tag's second or fifth holder
					// after the cursor, then by more; or by its last.
					if q.Sort == search.SortLastName {
						bounded++
					}
					drivers = append(drivers, &driver{term: -1, all: true, split: i, take: 1, bounded: true},
						&driver{term: -1, all: true, split: i, take: 4, bounded: true},
						&driver{term: -1, all: true, split: i, take: 1000, bounded: true})
				}
			}
			if streamTerm(term) && q.Sort == search.SortLastName {
				streams++
				drivers = append(drivers, &driver{term: i, split: i, stream: true})
				if len(q.Tags) > 0 {
					drivers = append(drivers, &driver{term: -1, all: true, split: i, stream: true})
				}
			}
		}
		// How a small org's search reads q once its size is known.
		if d, ok := smallDriver(q, search.FoldedValues(q.Tags), search.Terms(q.Text)); ok {
			small++
			drivers = append(drivers, d)
		}
		// Reads that sort only a few pairs at first, then more.
		for _, d := range drivers[1:] {
			if d.take == 0 && (d.term >= 0 || d.tags) {
				drivers = append(drivers, &driver{tags: d.tags, term: d.term, split: d.split, take: 2})
			}
		}
		for _, d := range drivers {
			if diff := cmp.Diff(want, walkIDs(t, s, "acme", q, d)); diff != "" {
				t.Errorf("%+v read with driver %+v differs from the semi-join plan (-want +got):\n%s", q, d, diff)
			}
		}
	}
	// The org is small: once a search has sized it, the next skips the
	// sizing round trip and reads as smallDriver says.
	q := search.Query{Tags: []string{tag(3)}, Text: first(3, 2)}
	if _, err := s.Search(ctx, "acme", q); err != nil {
		t.Fatal(err)
	}
	nq, err := q.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.chooseDriver(ctx, "acme", nq)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := smallDriver(nq, search.FoldedValues(nq.Tags), search.Terms(nq.Text)); want == nil || *got != *want {
		t.Errorf("chooseDriver in an org of 400 people after a search: %+v, want smallDriver's %+v", got, want)
	}
	if small < 6 {
		t.Errorf("%d queries have a driver without sizing in a small org; want at least 6", small)
	}
	if bounded < 6 {
		t.Errorf("%d queries read a tag and a term bounded by the tag's holders; want at least 6", bounded)
	}
	if streams < 8 {
		t.Errorf("%d queries read a two-character term as a stream; want at least 8", streams)
	}
}

// TestStreamReadsFirstTwoIndex checks that a two-character term's stream
// is planned on migration 007's partial index, in order, with no sort: the
// query must repeat the index's condition for PostgreSQL to prove it
// applies, and nothing else (TestSearchDrivers compares results, not plans)
// would notice if it stopped doing so.
func TestStreamReadsFirstTwoIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	users := synth.Users(22, "acme", "src", 200)
	if _, err := s.Apply(ctx, createReq("acme", users)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, s.sql(`ANALYZE {S}.user_words`)); err != nil {
		t.Fatal(err)
	}
	term := string([]rune(search.Words(users[0].FirstName, "", "")[0])[:2])
	for _, tc := range []struct {
		name string
		q    search.Query
		d    *driver
	}{
		{"term", search.Query{Text: term, Limit: 5}, &driver{term: 0, split: 0, stream: true}},
		{"tag and term", search.Query{Tags: []string{users[0].Tags[0].Value}, Text: term, Limit: 5}, &driver{term: -1, all: true, split: 0, stream: true}},
	} {
		q, err := tc.q.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		sql, args := s.searchSQL("acme", q, tc.d, search.Position{}, false)
		var plan string
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Sorting is what the index spares: with it priced out of
			// reach, the plan names another index only if this one cannot
			// be used.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN "+s.sql(sql), args...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			plan = strings.Join(lines, "\n")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "user_words_first_two") || strings.Contains(plan, "Sort") {
			t.Errorf("%s: the stream of %q is not an ordered read of user_words_first_two:\n%s", tc.name, term, plan)
		}
	}
}

// queryStrings runs a query of one text column ({S} is the store's schema)
// and returns its rows.
func queryStrings(t testing.TB, s *Store, sql string) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), s.sql(sql))
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
