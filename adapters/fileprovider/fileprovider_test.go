package fileprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

func listAll(t *testing.T, p *Provider) []mapping.Record {
	t.Helper()
	var out []mapping.Record
	err := p.Users(context.Background(), func(page []mapping.Record) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	return out
}

// groupIDs lists p's groups, as a sync does before asking for each one's
// members.
func groupIDs(tb testing.TB, p *Provider) []string {
	tb.Helper()
	var ids []string
	if err := p.Groups(context.Background(), func(page []dirsync.ProviderGroup) error {
		for _, g := range page {
			ids = append(ids, g.ExternalID)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return ids
}

func fromString(t *testing.T, format Format, content string, cfg Config) *Provider {
	t.Helper()
	cfg.Format = format
	cfg.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestCSV(t *testing.T) {
	t.Parallel()

	t.Run("ReadsTheBambooHRExportWithBOMCRLFAndQuotedComma", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("testdata/bamboohr-export.csv")
		if err != nil {
			t.Fatal(err)
		}
		crlf := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n", "\r\n")
		p := fromString(t, CSV, crlf, Config{IDField: "employeeNumber"})
		recs := listAll(t, p)
		if len(recs) != 3 {
			t.Fatalf("got %d records, want 3", len(recs))
		}
		want := mapping.Record{ExternalID: "1002", State: mapping.StateActive, Raw: map[string]any{
			"employeeNumber": "1002", "firstName": "Kwame", "lastName": "Mensah",
			"workEmail": "kwame.mensah@example.com", "department": "Sales", "division": "EMEA",
			"location": "London", "jobTitle": "Account Executive, Enterprise", "status": "Active", "team": "Enterprise",
		}}
		if diff := cmp.Diff(want, recs[1]); diff != "" {
			t.Errorf("record 2 (-want +got):\n%s", diff)
		}
		if got := recs[2].Raw["firstName"]; got != "Lucía" {
			t.Errorf("non-ASCII name = %q", got)
		}
	})

	t.Run("ReportsEveryBadRowWithItsLineNumber", func(t *testing.T) {
		t.Parallel()
		content := "id,name\n1,Ann\n2,Bob,extra\n,Cy\n1,Dup\n"
		p := fromString(t, CSV, content, Config{})
		err := p.Users(context.Background(), func([]mapping.Record) error { t.Fatal("a page was delivered"); return nil })
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *ParseError", err)
		}
		var lines []int
		for _, l := range pe.Lines {
			lines = append(lines, l.Line)
		}
		if diff := cmp.Diff([]int{3, 4, 5}, lines); diff != "" {
			t.Errorf("bad lines (-want +got):\n%s\nerror: %v", diff, err)
		}
		for _, want := range []string{"line 3", "line 4: the ID field \"id\" is empty", "line 5: ID \"1\" repeats the ID of line 2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})

	t.Run("RejectsAHeaderWithoutTheIDColumn", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "name\nAnn\n", Config{})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), `no ID column "id"`) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ReportsAnUnterminatedQuote", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "id,name\n1,\"Ann\n", Config{})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()

	t.Run("ReadsAnArrayWithNumbersStatesAndGroups", func(t *testing.T) {
		t.Parallel()
		content := `[
  {"id": 7, "name": "Ann", "state": "active", "groups": ["Eng", "NYC"], "addr": {"city": "Oslo"}},
  {"id": "b", "name": "Bob", "state": "suspended", "groups": "Eng; Sales"}
]`
		p := fromString(t, JSON, content, Config{StateField: "state", GroupsField: "groups"})
		recs := listAll(t, p)
		if len(recs) != 2 || recs[0].ExternalID != "7" || recs[1].State != mapping.StateSuspended {
			t.Fatalf("records = %+v", recs)
		}
		if got := recs[0].Raw["addr"].(map[string]any)["city"]; got != "Oslo" {
			t.Errorf("nested value = %v", got)
		}
		var groups []string
		if err := p.Groups(context.Background(), func(page []dirsync.ProviderGroup) error {
			for _, g := range page {
				groups = append(groups, g.Name)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"Eng", "NYC", "Sales"}, groups); diff != "" {
			t.Errorf("groups (-want +got):\n%s", diff)
		}
		var members []string
		if err := p.GroupMembers(context.Background(), "Eng", func(ids []string) error {
			members = append(members, ids...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"7", "b"}, members); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
	})

	t.Run("NamesTheLineOfANonObjectElement", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, JSON, "[\n{\"id\":1},\n\"x\",\n{\"id\":2}\n]", Config{})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "line 3: not a JSON object") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("RejectsAnUnknownState", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, JSON, `[{"id":1,"state":"Terminated"}]`, Config{StateField: "state"})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), `"terminated", not one of active`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestJSONLines(t *testing.T) {
	t.Parallel()

	t.Run("SkipsBlankLinesAndNamesBadOnes", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, JSONLines, "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n{oops}\n", Config{})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "line 4: malformed JSON") {
			t.Fatalf("err = %v", err)
		}
		p = fromString(t, JSONLines, "{\"id\":\"a\"}\r\n\r\n{\"id\":\"b\",\"updated_at\":\"2026-01-02T03:04:05Z\"}\r\n", Config{UpdatedAtField: "updated_at"})
		recs := listAll(t, p)
		if len(recs) != 2 || recs[1].UpdatedAt.Year() != 2026 {
			t.Fatalf("records = %+v", recs)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()

	t.Run("RejectsAFileOverMaxBytes", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "id\n1\n2\n3\n", Config{MaxBytes: 5})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "larger than 5 bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RejectsAFieldOverMaxFieldBytes", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "id,name\n1,"+strings.Repeat("x", 20)+"\n", Config{MaxFieldBytes: 10})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), `line 2: field "name" is 20 bytes`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RejectsRowsPastMaxRows", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "id\n1\n2\n3\n", Config{MaxRows: 2})
		err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "line 4: more than 2 rows") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RejectsInvalidUTF8", func(t *testing.T) {
		t.Parallel()
		p := fromString(t, CSV, "id\n\xff\n", Config{})
		if err := p.Users(context.Background(), func([]mapping.Record) error { return nil }); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()

	t.Run("TakesTheFormatFromTheExtension", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "people.jsonl")
		if err := os.WriteFile(path, []byte(`{"id":"x"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if p.SourceID() != "file:people.jsonl" || len(listAll(t, p)) != 1 {
			t.Fatalf("source %q", p.SourceID())
		}
	})
	t.Run("RejectsAnUnknownExtensionWithoutFormat", func(t *testing.T) {
		t.Parallel()
		if _, err := New(Config{Path: "people.xlsx"}); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ReportsAMissingFile", func(t *testing.T) {
		t.Parallel()
		p, err := New(Config{Path: filepath.Join(t.TempDir(), "none.csv")})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Users(context.Background(), func([]mapping.Record) error { return nil }); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
}

// FuzzParse checks that no input makes a parser panic, and that a successful
// parse yields unique, non-empty IDs.
func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/bamboohr-export.csv")
	f.Add(0, string(seed))
	f.Add(0, "id,name\n1,\"a,b\"\r\n2,x\n")
	f.Add(1, `[{"id":1,"groups":["a"]},{"id":"2","x":{"y":[1,2.5]}}]`)
	f.Add(2, "{\"id\":\"a\"}\n{\"id\":\"b\",\"state\":\"inactive\"}\n")
	f.Fuzz(func(t *testing.T, format int, content string) {
		formats := []Format{CSV, JSON, JSONLines}
		cfg := Config{Format: formats[(format%3+3)%3], GroupsField: "groups", MaxBytes: 1 << 20}
		out, err := parse([]byte(content), cfg)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range out.records {
			if r.ExternalID == "" || seen[r.ExternalID] {
				t.Fatalf("bad or repeated ID %q", r.ExternalID)
			}
			seen[r.ExternalID] = true
		}
	})
}

// A sync lists the groups and then each group's members: the members come
// from the listing Groups read, not from a read and parse of the file per
// group, and so from the same version of it.
func TestGroupMembersAnswerFromTheGroupsListing(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id,groups\n")
	for i := range 500 {
		fmt.Fprintf(&b, "u%d,g%d\n", i, i)
	}
	var mu sync.Mutex
	content, opens := b.String(), 0
	p, err := New(Config{Format: CSV, GroupsField: "groups", Open: func() (io.ReadCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		opens++
		return io.NopCloser(strings.NewReader(content)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	groups := groupIDs(t, p)
	mu.Lock()
	content = "id,groups\nu0,g1\n" // the file changes during the sync
	mu.Unlock()
	for _, g := range groups {
		var members []string
		if err := p.GroupMembers(ctx, g, func(ids []string) error {
			members = append(members, ids...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"u" + strings.TrimPrefix(g, "g")}; !slices.Equal(members, want) {
			t.Fatalf("members of %s = %v, want %v", g, members, want)
		}
	}
	if len(groups) != 500 || opens != 1 {
		t.Fatalf("%d groups listed with %d reads of the file, want 500 with 1", len(groups), opens)
	}
}

// Line numbers of a JSON array's rows are counted once, in order, and stay
// right far into the file.
func TestJSONLineNumbersOfManyRows(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("[\n")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(",\n")
		}
		switch i {
		case 10, 1500, 2999:
			b.WriteString(`"not an object"`)
		default:
			fmt.Fprintf(&b, "{\"id\": %d,\n \"name\": \"n%d\"}", i, i)
		}
	}
	b.WriteString("\n]")
	p := fromString(t, JSON, b.String(), Config{})
	err := p.Users(context.Background(), func([]mapping.Record) error { return nil })
	// Row i starts on line 2 + 2i less one per earlier one-line row.
	for _, want := range []string{"line 22: not a JSON object", "line 3001: not a JSON object", "line 5998: not a JSON object"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
}
