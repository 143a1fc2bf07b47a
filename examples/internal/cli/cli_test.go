package cli_test

import (
	"bytes"
	"context"
	"errors"
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
