package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The command imports the sample file, reports its two bad rows by line
// and field, and a second run finds every good row already there.
func TestImport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "members.db")
	clock := func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }
	for i, want := range []string{
		"members.csv: 5 rows, 3 applied, 0 already there, 2 bad\n",
		"members.csv: 5 rows, 0 applied, 3 already there, 2 bad\n",
	} {
		var out, errs bytes.Buffer
		bad, err := run(context.Background(), []string{"-db", db, "members.csv"}, &out, &errs, clock)
		if err != nil || bad != 2 {
			t.Fatalf("run %d: %v, %d bad\n%s", i, err, bad, errs.String())
		}
		if out.String() != want {
			t.Errorf("run %d printed %q, want %q", i, out.String(), want)
		}
		for _, w := range []string{`line 4 (member "m3"), field points[0].amount`, `line 5 (member "m4"), field level`, "5 rows: "} {
			if !strings.Contains(errs.String(), w) {
				t.Errorf("run %d: stderr lacks %q:\n%s", i, w, errs.String())
			}
		}
		// Each bad row is a line of its own: the progress line used to
		// follow the last one on its line ("…level \"Bronze\"5 rows: …").
		for _, l := range strings.Split(errs.String(), "\n") {
			if strings.Contains(l, "members.csv: line") && strings.Contains(l, " rows: ") {
				t.Errorf("run %d: a bad row and the progress share a line: %q", i, l)
			}
		}
	}
}
