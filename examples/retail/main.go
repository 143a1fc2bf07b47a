// Command retail runs a supermarket chain's membership program for a few
// thousand simulated members over a year and a half, and prints a report
// that it reconciles with the program's ledger.
//
// The program (program.json, embedded; -def loads another file) has:
//
//   - registered members on a 4-level ladder (Silver, Gold, Platinum,
//     Diamond) fed by spend, with 12-month terms and 12-month retention
//     windows, and upgrade gifts of points and a coupon;
//   - a paid "Plus" plan (a yearly fee, Sam's-club style) whose benefit is a
//     member price of 95%;
//   - "mall" points on spend, multiplied by level (one rule per level),
//     expiring at the end of the year, spent in the points mall and as
//     points + cash, with a refund rule reversing an order's points (and
//     growth) in proportion to what is refunded, and manual adjustments
//     above 500 points waiting for a second operator's approval;
//   - stored value (recharge, then pay with the card, refunds to it);
//   - a newcomer coupon pack given on registration, checkout picking the
//     best coupons, coupons redeemed by QR code at the tills;
//   - a "3 orders this month" task;
//   - RFM tags (recent, frequent, big-spender) and a monthly win-back
//     campaign issuing a coupon to the segment "loyal and not recent".
//
// Events are generated from a seeded random source, so a seed gives the
// same stream (and the same report) every time. Each simulated day starts
// with Advance at 00:00 (expiries, term ends, tag windows), then the tills
// (coupons, points + cash) for each member's first order of the day, then
// the day's events in one ProcessBatch, then the points mall, then the
// operators (after.go): reversals of returned vouchers and of refunded
// orders' points, adjustments and their approvals. The day's batch also
// carries what follows earlier sales: refunds (to the card for card
// payments), events delivered late, events sent again (which must come
// back Duplicate); ten days before the end one or two members are erased.
//
// Usage:
//
//	go run ./examples/retail [-members 3000] [-months 18] [-seed 1] [-db file] [-def program.json]
//	    [-html retail-report.html] [-progress=false] [-short]
//
// It shows a progress bar on standard error while it runs (-progress=false
// turns it off), prints the report with the headline figures first, and
// writes the HTML report with charts to -html (empty: none). -h or -help
// prints the usage on standard error and exits 0, a bad flag its error
// and the usage, exiting 2 (the usage went to standard output, and -h
// exited 1 with "flag: help requested"); a run that fails or does not
// reconcile exits 1.
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/memberkit/membership/examples/internal/cli"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

//go:embed program.json
var programJSON []byte

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	code, show := cli.Status(err, 1)
	if show {
		fmt.Fprintln(os.Stderr, "retail:", err)
	}
	os.Exit(code)
}

// config is the command line.
type config = cli.Config

// run is the whole program: parse args (the usage and the flags' errors
// go to stderr), run the simulation, print the report to stdout, and
// return an error if anything failed or the report does not reconcile
// with the ledger.
func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := cli.Parse("retail", 18, args, stderr)
	if err != nil {
		return err
	}
	p, db, closeAll, err := cli.Open("retail", cfg, programJSON)
	if err != nil {
		return err
	}
	defer closeAll()
	ctx := context.Background()
	began := time.Now()
	s := newSim(cfg, p)
	s.bar = cli.NewBar(cfg, int64(s.days), "simulating days")
	err = s.run(ctx)
	s.bar.Done()
	if err != nil {
		return err
	}
	pg, err := s.page(ctx)
	if err != nil {
		return err
	}
	bar := cli.NewBar(cfg, 1, "what-if replay")
	_, err = s.whatIf(ctx, db, pg, bar.Progress)
	bar.Done()
	if err != nil {
		return err
	}
	if err := s.report(ctx, stdout, pg, time.Since(began)); err != nil {
		return err
	}
	if cfg.HTML != "" {
		if err := pg.WriteFile(cfg.HTML); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "HTML report with charts: %s\n", cfg.HTML)
	}
	return nil
}

// whatIfLevel and whatIfThreshold are the page's what-if: the Gold
// threshold lowered to 1200 of growth.
const whatIfLevel, whatIfThreshold = "Gold", "1200"

// whatIf replays the run's journal under the definition with the Gold
// threshold lowered, beside the run as it was, and adds the comparison
// to pg.
func (s *sim) whatIf(ctx context.Context, db store.Store, pg *insight.Page, progress func(done, total uint64)) (*whatif.Report, error) {
	changed, change, err := insight.WithThreshold(s.p.Definition(), whatIfLevel, decimal.RequireFromString(whatIfThreshold))
	if err != nil {
		return nil, err
	}
	return pg.CompareLevels(ctx, db, s.p.Definition(), changed, change, progress)
}

// page builds the operator's page from the program's monthly report,
// over the simulated days and the day after them: the run ends with the
// Advance at that day's midnight, which performs what fell due at the end
// of the last day. The report's last month is that one day, so the page
// says its figures are as of the run's end ("as of 2025-04-01 00:00"),
// not "at the end of 2025-04".
func (s *sim) page(ctx context.Context) (*insight.Page, error) {
	from := rule.DateOf(s.start, s.loc)
	to := rule.DateOf(s.day(s.days), s.loc)
	span := fmt.Sprintf("%d members over %d months from %s (seed %d)", len(s.members), s.cfg.Months, from, s.cfg.Seed)
	pg, err := insight.Monthly(ctx, s.p, "Retail chain", span, "yuan", from, to, nil)
	if err != nil {
		return nil, err
	}
	pg.AsOf = s.day(s.days).Format("2006-01-02 15:04")
	return pg, nil
}
