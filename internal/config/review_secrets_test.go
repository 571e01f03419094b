package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestRedactDSNHidesEveryPassword covers each place a DSN can carry a
// password: the URL's userinfo (also with an unescaped '@' or ':' in it), a
// password query parameter, sslpassword, and the keyword/value form quoted or
// not.
func TestRedactDSNHidesEveryPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u:PWCORE@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:PW@CORE@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u:PW:CORE@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?password=PWCORE", "postgres://u@h/db?password=xxxxx"},
		{"postgres://u@h/db?sslmode=disable&password=PWCORE&application_name=x", "postgres://u@h/db?sslmode=disable&password=xxxxx&application_name=x"},
		{"postgresql://h/db?sslpassword=PWCORE", "postgresql://h/db?sslpassword=xxxxx"},
		{"postgres://h/db?PASSWORD=PWCORE", "postgres://h/db?PASSWORD=xxxxx"},
		{"host=h password=PWCORE dbname=x", "host=h password=xxxxx dbname=x"},
		{"host=h password = 'PW CORE \\' x' dbname=x", "host=h password = xxxxx dbname=x"},
		{"host=h password='PWCORE", "host=h password=xxxxx"},
		{"sqlite:dirsync.db", "sqlite:dirsync.db"},
		{"memory:", "memory:"},
		{"postgres://u@h/db", "postgres://u@h/db"},
	} {
		got := RedactDSN(tc.dsn)
		if got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		if strings.Contains(got, "CORE") {
			t.Errorf("RedactDSN(%q) = %q shows the password", tc.dsn, got)
		}
	}
}

// TestAnInvalidStoreErrorNeverShowsItsPassword: the validation error quotes
// the DSN it refuses; a keyword-form DSN with a password must be redacted.
func TestAnInvalidStoreErrorNeverShowsItsPassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"host=h password=PWCORE", "mysql://u:PWCORE@h/db", "mysql://h/db?password=PWCORE"} {
		_, err := Parse([]byte(fmt.Sprintf("store: %q\norgs: [{id: a, provider: {type: demo}}]", dsn)), false)
		if err == nil || !strings.Contains(err.Error(), "store:") {
			t.Fatalf("store %q: err = %v, want a store error", dsn, err)
		}
		if strings.Contains(err.Error(), "PWCORE") {
			t.Errorf("store %q: the error shows the password: %v", dsn, err)
		}
	}
}

// TestAFileNeverPrintsOrLogsItsStorePassword formats and logs a parsed
// configuration every way a caller might.
func TestAFileNeverPrintsOrLogsItsStorePassword(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("store: postgres://u:PWCORE@h/db?sslpassword=PWCORE2\norgs: [{id: a, provider: {type: demo}}]"), false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%q"} {
		out = append(out, fmt.Sprintf(verb, f), fmt.Sprintf(verb, &f))
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewMultiHandler(slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)))
	logger.Info("config", "cfg", f, "ptr", &f)
	out = append(out, buf.String())
	for _, s := range out {
		if strings.Contains(s, "PWCORE") {
			t.Errorf("shows the password: %s", s)
		}
		if !strings.Contains(s, "xxxxx") {
			t.Errorf("does not show the DSN redacted: %s", s)
		}
	}
}
