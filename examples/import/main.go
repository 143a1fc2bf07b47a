// Command import migrates members into a program on a bolt file from a
// CSV or JSON lines file (see package migrate for the formats), showing
// its progress as it goes:
//
//	go run ./examples/import -db members.db members.csv
//
// Each row is applied once: running the same file again (same name)
// changes nothing, and a run interrupted (Ctrl-C) resumes where it
// stopped. Bad rows are listed with their line and field; the exit status
// is 1 if any, and 2 when the import cannot run (a bad command line, a
// file it cannot read). -h or -help prints the usage on standard error
// and exits 0, as a bad flag prints its error and the usage there (they
// exited 2, -h with "flag: help requested").
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/examples/internal/cli"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store/bolt"
)

//go:embed program.json
var program []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bad, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now)
	code, show := status(bad, err)
	if show {
		fmt.Fprintln(os.Stderr, "import:", err)
	}
	os.Exit(code)
}

// status returns the exit status of a run that found bad rows and
// returned err (cli.Status: 0 for -h, 2 for a bad flag or any error), 1
// when it ran with bad rows, and whether err is still to be printed.
func status(bad int, err error) (code int, show bool) {
	code, show = cli.Status(err, 2)
	if err == nil && bad > 0 {
		code = 1
	}
	return code, show
}

// run imports the file the command line names and returns how many rows
// were bad. now is the clock the progress display reads.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) (bad int, err error) {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "members.db", "bolt file to import into (created if absent)")
	def := fs.String("def", "", "program definition (JSON; default: the retail example's, with a phone and a city attribute)")
	format := fs.String("format", "", "csv or jsonl (default: by the file's extension)")
	at := fs.String("at", "2025-06-01", "opening time of rows that give none (RFC 3339, or a date in the program's zone)")
	operator := fs.String("operator", "migrate", "operator the audit trail records")
	batch := fs.Int("batch", 256, "rows per store transaction")
	stopFirst := fs.Bool("stop", false, "stop at the first bad row")
	if err := cli.ParseFlags(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, errors.New("usage: import [flags] FILE")
	}
	path := fs.Arg(0)
	raw := program
	if *def != "" {
		if raw, err = os.ReadFile(*def); err != nil {
			return 0, err
		}
	}
	d, err := membership.ParseDefinition(raw)
	if err != nil {
		return 0, err
	}
	st, err := bolt.Open(*db, nil)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	p, err := membership.Open(st, d)
	if err != nil {
		return 0, err
	}
	start, err := parseTime(*at, p.Location())
	if err != nil {
		return 0, fmt.Errorf("-at: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var src migrate.Source
	switch kind := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."); {
	case *format == "csv" || (*format == "" && kind == "csv"):
		src = migrate.CSV(f, p.Location())
	case *format == "jsonl" || (*format == "" && (kind == "jsonl" || kind == "ndjson")):
		src = migrate.JSONL(f)
	default:
		return 0, fmt.Errorf("%s: unknown format: give -format csv or jsonl", path)
	}
	began, last := now(), time.Time{}
	open := false // a progress line is on stderr, not ended
	show := func(pr migrate.Progress, final bool) {
		t := now()
		if !final && t.Sub(last) < 200*time.Millisecond {
			return
		}
		last = t
		rate := 0.0
		if s := t.Sub(began).Seconds(); s > 0 {
			rate = float64(pr.Rows) / s
		}
		fmt.Fprintf(stderr, "\r%d rows: %d applied, %d already there, %d bad (%.0f rows/s)", pr.Rows, pr.Applied, pr.Duplicates, pr.Failed, rate)
		open = true
	}
	res, err := migrate.Run(ctx, p, src, migrate.Options{
		Name: filepath.Base(path), Operator: *operator, At: start, Batch: *batch, StopOnError: *stopFirst,
		Progress: func(pr migrate.Progress) { show(pr, false) },
		OnError: func(e migrate.RowError) { // on a line of its own
			if open {
				fmt.Fprintln(stderr)
			}
			fmt.Fprintf(stderr, "%s: %v\n", path, &e)
			open = false
		},
	})
	show(res.Progress, true)
	fmt.Fprintln(stderr)
	if err != nil {
		return res.Failed, err
	}
	fmt.Fprintf(stdout, "%s: %d rows, %d applied, %d already there, %d bad\n", path, res.Rows, res.Applied, res.Duplicates, res.Failed)
	if err := p.Verify(ctx); err != nil {
		return res.Failed, fmt.Errorf("verify: %w", err)
	}
	return res.Failed, nil
}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation(time.DateOnly, s, loc)
}
