// Command tourism runs a cultural-tourism group's membership program — a
// park and its shops — for a few thousand simulated members over a year,
// and prints a report that it reconciles with the program's ledger.
//
// The program (program.json, embedded; -def loads another file) has:
//
//   - two point programs, "park" (tickets) and "shops", with exchange
//     rates both ways, and members exchanging after their shopping;
//   - growth from tickets and shopping, and from tasks as in the article:
//     a daily app check-in gives 12 growth, real-name verification 20;
//   - an achievement trail: visiting the five scenic spots in order (an
//     ordered-actions task) grants "trail-master";
//   - a 3-level ladder with 4-month terms whose upper levels have freeze
//     strategies: a long-term freeze on Explorer, a 3-month one on
//     Connoisseur, so seasonal visitors downgraded in the quiet months
//     return when they come back;
//   - risk control: park points freeze a day past 2,500 (group and scalper
//     ticket purchases) until an operator's weekly review restores or
//     voids it; shop points stop past 1,500 a day;
//   - ticket bundles as coupon packs in both modes sharing the scarce
//     cable-car coupons: "summer-bundle" (any_invalid) stops once they run
//     out, "family-bundle" (all_invalid) goes on with the shop vouchers;
//     exchange coupons redeemed by QR at the gate.
//
// Events are generated from a seeded random source, so a seed gives the
// same stream every time. Each simulated day starts with Advance at 00:00,
// then the operators' work (07:30: pack claims, the weekly review), the
// gate and shop tills for each member's first purchase of the day, the
// day's events in one ProcessBatch, and points exchanges after closing.
// The batch also carries what follows earlier sales (after.go): groups'
// refunds of tickets for members who did not come, returned shop orders,
// events delivered late and events sent again (which must come back
// Duplicate); ten days before the end one or two members are erased.
//
// Usage:
//
//	go run ./examples/tourism [-members 3000] [-months 12] [-seed 1] [-db file] [-def program.json]
//	    [-html tourism-report.html] [-progress=false] [-short]
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
		fmt.Fprintln(os.Stderr, "tourism:", err)
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
	cfg, err := cli.Parse("tourism", 12, args, stderr)
	if err != nil {
		return err
	}
	p, db, closeAll, err := cli.Open("tourism", cfg, programJSON)
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

// pointValues is what the example takes a point of each program to be
// worth in yuan, for the liability: the programs set no points + cash
// rate. A shops point exchanges for half a park point, so it is valued
// at half.
var pointValues = map[string]decimal.Decimal{
	"park":  decimal.RequireFromString("0.02"),
	"shops": decimal.RequireFromString("0.01"),
}

// whatIfLevel and whatIfThreshold are the page's what-if: the Explorer
// threshold lowered to 200 of growth.
const whatIfLevel, whatIfThreshold = "Explorer", "200"

// whatIf replays the run's journal under the definition with the Explorer
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
	pg, err := insight.Monthly(ctx, s.p, "Park and shops", span, "yuan", from, to, pointValues)
	if err != nil {
		return nil, err
	}
	pg.AsOf = s.day(s.days).Format("2006-01-02 15:04")
	return pg, nil
}
