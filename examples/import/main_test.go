package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
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

// -h prints the usage on stderr and exits 0, a bad flag prints its error
// and the usage there and exits 2, bad rows exit 1: -h exited 2 with
// "import: flag: help requested".
func TestHelpAndStatus(t *testing.T) {
	var out, errs bytes.Buffer
	bad, err := run(context.Background(), []string{"-h"}, &out, &errs, time.Now)
	if !errors.Is(err, flag.ErrHelp) || out.Len() != 0 || !strings.HasPrefix(errs.String(), "Usage of import:\n") {
		t.Errorf("-h: %v, stdout %q, stderr %q; want flag.ErrHelp, nothing on stdout, the usage on stderr", err, out.String(), errs.String())
	}
	if code, show := status(bad, err); code != 0 || show {
		t.Errorf("-h: status %d, show %v; want 0, false", code, show)
	}
	errs.Reset()
	bad, err = run(context.Background(), []string{"-nope", "members.csv"}, &out, &errs, time.Now)
	if !strings.HasPrefix(errs.String(), "flag provided but not defined: -nope\nUsage of import:\n") {
		t.Errorf("-nope: stderr %q; want the error, then the usage", errs.String())
	}
	if code, show := status(bad, err); code != 2 || show {
		t.Errorf("-nope: status %d, show %v; want 2, false", code, show)
	}
	if code, show := status(0, errors.New("members.csv: no such file")); code != 2 || !show {
		t.Errorf("another error: status %d, show %v; want 2, true", code, show)
	}
	if code, show := status(2, nil); code != 1 || show {
		t.Errorf("2 bad rows: status %d, show %v; want 1, false", code, show)
	}
	if code, show := status(0, nil); code != 0 || show {
		t.Errorf("no bad row: status %d, show %v; want 0, false", code, show)
	}
}
