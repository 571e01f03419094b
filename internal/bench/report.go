package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/directorysync/directorysync/store"
)

// Markdown writes the report as markdown tables: a header naming the
// machine, date and Go version; the syncs, each figure also as a ratio to
// the raw limit of the same run; and the search latencies.
func (r Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### dirsync bench, %s\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. Go: %s.\n\n", r.Machine, r.GoVersion)
	var syncs []Result
	for _, x := range r.Results {
		if !x.SearchOnly {
			syncs = append(syncs, x)
		}
	}
	if len(syncs) > 0 {
		syncTables(&b, syncs)
	}
	r.searchTable(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// syncTables writes the syncs' tables.
func syncTables(b *strings.Builder, results []Result) {
	b.WriteString("Syncs: wall time in seconds. Ratios use the engine's time: the run's time minus the time the\n" +
		"provider spent reading and decoding its JSON listing (shown as \"decode\"). \"raw\" is the raw database\n" +
		"limit for the cold sync's rows in the same run; memstore has none. RSS: the resident set before the cold\n" +
		"sync, its peak during it, and the child process's lifetime peak.\n\n")
	b.WriteString("| store | people | raw | cold sync | no-op resync | 1 % churn | remap | no-op rows written | RSS before / cold peak / max |\n")
	b.WriteString("| --- | ---: | ---: | --- | --- | --- | --- | ---: | --- |\n")
	for _, x := range results {
		cold := x.Cold - x.ColdDecode
		noop := x.Noop - x.NoopDecode
		churn := x.Churn - x.ChurnDecode
		raw := "—"
		if x.Raw > 0 {
			raw = secs(x.Raw)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %d | %s / %s / %s |\n",
			x.Store, FormatSize(x.People), raw,
			fmt.Sprintf("%s (decode %s)%s", secs(x.Cold), secs(x.ColdDecode), ratio(cold, x.Raw, "raw")),
			fmt.Sprintf("%s (decode %s)%s%s", secs(x.Noop), secs(x.NoopDecode), ratio(noop, cold, "cold"), ratio(noop, x.Raw, "raw")),
			fmt.Sprintf("%s (decode %s)%s%s", secs(x.Churn), secs(x.ChurnDecode), ratio(churn, cold, "cold"), ratio(churn, x.Raw, "raw")),
			remapCell(x, cold),
			x.NoopWrites, mib(x.BaseRSS), mib(x.PeakRSS), mib(x.MaxRSS))
	}
	b.WriteString("\nRun counts (created/updated/deactivated/unchanged):\n\n")
	b.WriteString("| store | people | cold | no-op | churn | remap |\n| --- | ---: | --- | --- | --- | --- |\n")
	for _, x := range results {
		c := func(k store.Counts) string {
			return fmt.Sprintf("%d/%d/%d/%d", k.Created, k.Updated, k.Deactivated, k.Unchanged)
		}
		remap := "—"
		if !x.SkipRemap {
			remap = c(x.RemapCounts)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", x.Store, FormatSize(x.People),
			c(x.ColdCounts), c(x.NoopCounts), c(x.ChurnCounts), remap)
	}
	b.WriteString("\n")
}

// remapCell is the remap's figure, or a dash when it was not measured.
func remapCell(x Result, cold float64) string {
	if x.SkipRemap {
		return "— (not measured)"
	}
	return fmt.Sprintf("%s%s%s", secs(x.Remap), ratio(x.Remap, cold, "cold"), ratio(x.Remap, x.Raw, "raw"))
}

// searchTable writes the search latencies.
func (r Report) searchTable(b *strings.Builder) {

	fmt.Fprintf(b, "Search: p50 / p99 in milliseconds, each the median of the runs' figures")
	for _, x := range r.Results {
		if lat := slices.Concat(x.Search, x.MultiOrg); len(lat) > 0 {
			fmt.Fprintf(b, " (%d queries of each kind per run)", lat[0].Queries)
			break
		}
	}
	b.WriteString(".\n\n| store | orgs × people |")
	for _, k := range Kinds {
		fmt.Fprintf(b, " %s |", k)
	}
	b.WriteString("\n| --- | ---: |")
	for range Kinds {
		b.WriteString(" ---: |")
	}
	b.WriteString("\n")
	row := func(st, scope string, lat []Latency) {
		fmt.Fprintf(b, "| %s | %s |", st, scope)
		for _, k := range Kinds {
			cell := "—"
			for _, l := range lat {
				if l.Kind == k {
					cell = fmt.Sprintf("%s / %s", ms(l.P50), ms(l.P99))
				}
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	for _, x := range r.Results {
		scope := "1 × " + FormatSize(x.People)
		if x.SearchOnly {
			scope += " (loaded by Apply)"
		}
		if len(x.Search) > 0 {
			row(x.Store, scope, x.Search)
		}
		if len(x.MultiOrg) > 0 {
			row(x.Store, fmt.Sprintf("%d × %s", x.Orgs, FormatSize(x.OrgPeople)), x.MultiOrg)
		}
	}
	b.WriteString("\nPostgreSQL tables are vacuumed and analyzed (as autovacuum would) before searching; SQLite runs as the store leaves it.\n")
}

func secs(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func mib(n int64) string {
	if n <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// ratio formats " · 0.42x name" for v/base, or nothing without a base.
func ratio(v, base float64, name string) string {
	if base <= 0 {
		return ""
	}
	return fmt.Sprintf(" · %.2fx %s", v/base, name)
}
