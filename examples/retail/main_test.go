package main

import (
	"bytes"
	"errors"
	"io"
	"os"
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
	args = append(args, "-db", filepath.Join(t.TempDir(), "retail.db"), "-html", "", "-progress=false")
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

// TestRetailShort runs the short mode as CI does: the run must reconcile
// (run returns an error otherwise) and the report show every section.
func TestRetailShort(t *testing.T) {
	report := runReport(t, "-short")
	for _, want := range []string{
		"Members per level", "Points (mall)", "Stored value", "Coupons per template", "Coupons used per store",
		"Task \"three-orders-a-month\" completed", "Top tags", "Reconciled:",
		// The run ends at midnight after 31 March, which the report takes in.
		"(as of 2025-04-01 00:00)",
		"At a glance", "Coupon use rate", "Points breakage", "What members' points are worth (liability)", "What-if",
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

// TestRetailReproducible checks that a seed gives the same report, and
// another seed another one, although the tills and the campaign run
// concurrently.
func TestRetailReproducible(t *testing.T) {
	a := runReport(t, "-members", "80", "-months", "3", "-seed", "7")
	b := runReport(t, "-members", "80", "-months", "3", "-seed", "7")
	if a != b {
		t.Errorf("same seed, different reports:\n%s\n---\n%s", a, b)
	}
	if c := runReport(t, "-members", "80", "-months", "3", "-seed", "8"); c == a {
		t.Errorf("seeds 7 and 8 gave the same report:\n%s", a)
	}
}

// TestRetailBadDefinition checks that a definition the library refuses
// stops the program before anything runs, with the path of the problem.
func TestRetailBadDefinition(t *testing.T) {
	bad := strings.Replace(string(programJSON), `"upgrade": "6000"`, `"upgrade": "1000"`, 1)
	path := filepath.Join(t.TempDir(), "program.json")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"-short", "-def", path, "-db", filepath.Join(t.TempDir(), "db")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "levels.ladder[2].upgrade") {
		t.Fatalf("run with a bad definition: got %v, want an error naming levels.ladder[2].upgrade", err)
	}
}

// TestRetailRefusesToResume checks -db on a file an earlier run wrote:
// the command stops before simulating anything, saying why it cannot
// resume.
func TestRetailRefusesToResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "retail.db")
	_, _, closeAll, err := cli.Open("retail", cli.Config{DB: path, Seed: 1}, programJSON)
	if err != nil {
		t.Fatal(err)
	}
	closeAll()
	var out bytes.Buffer
	err = run([]string{"-short", "-progress=false", "-html", "", "-db", path}, &out, io.Discard)
	if !errors.Is(err, cli.ErrCannotResume) || !strings.Contains(err.Error(), "remove the file or name a new one") {
		t.Fatalf("run on a used -db file: %v; want ErrCannotResume and what to do", err)
	}
	if out.Len() != 0 {
		t.Errorf("run printed a report before refusing:\n%s", out.String())
	}
}

// -h prints the usage on stderr, nothing on stdout, and exits 0: the
// usage went to stdout and -h exited 1 with "flag: help requested".
func TestHelp(t *testing.T) {
	var out, errs bytes.Buffer
	err := run([]string{"-h"}, &out, &errs)
	if out.Len() != 0 || !strings.HasPrefix(errs.String(), "Usage of retail:\n") {
		t.Errorf("-h: stdout %q, stderr %q; want the usage on stderr alone", out.String(), errs.String())
	}
	if code, show := cli.Status(err, 1); code != 0 || show {
		t.Errorf("-h: %v: status %d, show %v; want 0, false", err, code, show)
	}
}
