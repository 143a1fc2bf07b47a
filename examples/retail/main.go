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
//     points + cash;
//   - stored value (recharge, then pay with the card);
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
// the day's events in one ProcessBatch, then the points mall.
//
// Usage:
//
//	go run ./examples/retail [-members 3000] [-months 18] [-seed 1] [-db file] [-def program.json] [-short]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/memberkit/membership/examples/internal/cli"
)

//go:embed program.json
var programJSON []byte

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "retail:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config = cli.Config

// run is the whole program: parse args, run the simulation, print the
// report to stdout, and return an error if anything failed or the report
// does not reconcile with the ledger.
func run(args []string, stdout io.Writer) error {
	cfg, err := cli.Parse("retail", 18, args, stdout)
	if err != nil {
		return err
	}
	p, closeAll, err := cli.Open("retail", cfg, programJSON)
	if err != nil {
		return err
	}
	defer closeAll()
	ctx := context.Background()
	began := time.Now()
	s := newSim(cfg, p)
	if err := s.run(ctx); err != nil {
		return err
	}
	return s.report(ctx, stdout, time.Since(began))
}
