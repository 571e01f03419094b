package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestQuickstartSyncsAndSearches(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	want := "sync succeeded: 3 created\n" +
		"Lucía Ferrer <lucia.ferrer@example.com> Sales, Madrid active=false\n" +
		"Kwame Mensah <kwame.mensah@example.com> Sales, London active=true\n"
	if got := string(out); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, strings.TrimSpace(want))
	}
}
