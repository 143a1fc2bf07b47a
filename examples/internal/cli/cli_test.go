package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/examples/internal/cli"
)

const def = `{"zone": "UTC", "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "points": {"programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]}}`

// TestOpenRefusesAFileWithARun checks -db on an existing file: a file an
// earlier run wrote is refused with ErrCannotResume and the reason, and
// left byte for byte as it was; an empty file (one made by mktemp, say)
// is a new store.
func TestOpenRefusesAFileWithARun(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "run.db")
	c := cli.Config{Members: 1, Months: 1, Seed: 1, DB: path}
	p, _, closeFirst, err := cli.Open("test", c, []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Process(ctx, event.Event{ID: "o1", Member: "m1", Type: "order", Time: time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC),
		Attrs: event.Attrs{"amount": event.DecString("10")}})
	closeFirst()
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	_, _, _, err = cli.Open("test", c, []byte(def))
	if !errors.Is(err, cli.ErrCannotResume) {
		t.Fatalf("Open on a file holding a run: %v; want ErrCannotResume", err)
	}
	for _, want := range []string{path, "earlier run", "in memory only", "remove the file or name a new one"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("Open changed the file it refused")
	}

	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.DB = empty
	_, _, closeEmpty, err := cli.Open("test", c, []byte(def))
	if err != nil {
		t.Fatalf("Open on an empty file: %v", err)
	}
	closeEmpty()
}

// TestParseFlags checks the flags the examples add for the operator's
// view: the HTML report's file (on by default, empty turns it off) and
// the progress bar (on by default).
func TestParseFlags(t *testing.T) {
	c, err := cli.Parse("retail", 18, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTML != "retail-report.html" || !c.Progress {
		t.Errorf("defaults: html %q, progress %v; want retail-report.html, true", c.HTML, c.Progress)
	}
	c, err = cli.Parse("retail", 18, []string{"-html", "", "-progress=false"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTML != "" || c.Progress {
		t.Errorf("-html '' -progress=false: html %q, progress %v", c.HTML, c.Progress)
	}
	if cli.NewBar(c, 10, "x") != nil {
		t.Error("NewBar returned a bar with -progress=false")
	}
	var b *cli.Bar // nil: the methods do nothing
	b.Set(3)
	b.Done()
}

// TestHelpAndBadFlags: the command line behaves as the flag package's
// ExitOnError has a program behave: -h and -help print the usage on
// stderr and exit 0, a bad flag prints its error and the usage there and
// exits 2, neither printed again by main; any other error is printed and
// exits with the program's own status. The usage went to stdout (the
// examples passed it as the flags' output) and -h exited 1 with "flag:
// help requested".
func TestHelpAndBadFlags(t *testing.T) {
	for _, h := range []string{"-h", "-help"} {
		var stderr bytes.Buffer
		_, err := cli.Parse("retail", 18, []string{h}, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: %v; want flag.ErrHelp", h, err)
		}
		if !strings.HasPrefix(stderr.String(), "Usage of retail:\n") || !strings.Contains(stderr.String(), "-members int") {
			t.Errorf("%s: stderr %q; want the usage", h, stderr.String())
		}
		if code, show := cli.Status(err, 1); code != 0 || show {
			t.Errorf("%s: status %d, show %v; want 0, false", h, code, show)
		}
	}
	var stderr bytes.Buffer
	_, err := cli.Parse("retail", 18, []string{"-nope"}, &stderr)
	if !errors.Is(err, cli.ErrUsage) {
		t.Errorf("-nope: %v; want cli.ErrUsage", err)
	}
	if !strings.HasPrefix(stderr.String(), "flag provided but not defined: -nope\nUsage of retail:\n") {
		t.Errorf("-nope: stderr %q; want the error, then the usage", stderr.String())
	}
	if code, show := cli.Status(err, 1); code != 2 || show {
		t.Errorf("-nope: status %d, show %v; want 2, false", code, show)
	}
	if code, show := cli.Status(errors.New("the ledger does not reconcile"), 1); code != 1 || !show {
		t.Errorf("another error: status %d, show %v; want 1, true", code, show)
	}
	if code, show := cli.Status(nil, 1); code != 0 || show {
		t.Errorf("no error: status %d, show %v; want 0, false", code, show)
	}
}
