package fileprovider

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/directorysync/directorysync/mapping"
)

// BenchmarkJSONArray parses a JSON array of 20,000 rows of about 1 KB.
func BenchmarkJSONArray(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[\n")
	pad := strings.Repeat("x", 1000)
	for i := range 20_000 {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `{"id": %d, "pad": %q}`, i, pad)
	}
	sb.WriteString("\n]")
	content := sb.String()
	p, err := New(Config{Format: JSON, MaxBytes: 64 << 20, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(content)), nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := p.Users(context.Background(), func([]mapping.Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGroupMembers lists 2,000 groups of one person each and every
// group's members, as a sync does.
func BenchmarkGroupMembers(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("id,groups\n")
	for i := range 2_000 {
		fmt.Fprintf(&sb, "u%d,g%d\n", i, i)
	}
	content := sb.String()
	p, err := New(Config{Format: CSV, GroupsField: "groups", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(content)), nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		for _, g := range groupIDs(b, p) {
			if err := p.GroupMembers(ctx, g, func([]string) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
}
