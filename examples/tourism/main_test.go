package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memberkit/membership/examples/internal/cli"
)

// runReport runs the program with args and a database in a temporary
// directory, and returns its report without the run-time line.
func runReport(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	args = append(args, "-db", filepath.Join(t.TempDir(), "tourism.db"), "-html", "", "-progress=false")
	if err := run(args, &out, io.Discard); err != nil {
		t.Fatalf("run %v: %v\nreport:\n%s", args, err, out.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(l, "Run time:") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestTourismShort runs the short mode as CI does: the run must reconcile
// (run returns an error otherwise) and the report show every section.
func TestTourismShort(t *testing.T) {
	report := runReport(t, "-short")
	for _, want := range []string{
		"Members per level", "Points", "park", "shops", "frozen days reviewed", "Growth", "Coupon packs",
		"Coupons per template", "Tasks completed", "scenic-trail", "Reconciled:",
		// The run ends at midnight after 31 March, which the report takes in.
		"(as of 2025-04-01 00:00)",
		"At a glance", "Coupon use rate", "Points (park) breakage", "What members' points (park) are worth (liability)", "What-if",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "at the end of 2025-04") {
		t.Errorf("report says \"at the end of 2025-04\" of a run that ended on 1 April 00:00:\n%s", report)
	}
	// The operator reads words, not the library's codes.
	for _, code := range []string{"term_end", "any_invalid", "all_invalid"} {
		if strings.Contains(report, code) {
			t.Errorf("report shows the code %q:\n%s", code, report)
		}
	}
}

// TestTourismReproducible checks that a seed gives the same report
// although the tills and exchanges run concurrently.
func TestTourismReproducible(t *testing.T) {
	a := runReport(t, "-members", "120", "-months", "2", "-seed", "3")
	if b := runReport(t, "-members", "120", "-months", "2", "-seed", "3"); a != b {
		t.Errorf("same seed, different reports:\n%s\n---\n%s", a, b)
	}
}

// -h prints the usage on stderr, nothing on stdout, and exits 0: the
// usage went to stdout and -h exited 1 with "flag: help requested".
func TestHelp(t *testing.T) {
	var out, errs bytes.Buffer
	err := run([]string{"-h"}, &out, &errs)
	if out.Len() != 0 || !strings.HasPrefix(errs.String(), "Usage of tourism:\n") {
		t.Errorf("-h: stdout %q, stderr %q; want the usage on stderr alone", out.String(), errs.String())
	}
	if code, show := cli.Status(err, 1); code != 0 || show {
		t.Errorf("-h: %v: status %d, show %v; want 0, false", err, code, show)
	}
}
