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
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store/bolt"
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
type config struct {
	members int
	months  int
	seed    uint64
	db      string
	def     string
	short   bool
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("retail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.members, "members", 3000, "number of members")
	fs.IntVar(&c.months, "months", 18, "months simulated, from January 2025")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the event stream")
	fs.StringVar(&c.db, "db", "", "bolt file to use (default: a file in a temporary directory, removed at the end)")
	fs.StringVar(&c.def, "def", "", "program definition to load instead of the embedded program.json")
	fs.BoolVar(&c.short, "short", false, "a small run: 200 members over 3 months (unless -members or -months are given)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["members"] {
			c.members = 200
		}
		if !set["months"] {
			c.months = 3
		}
	}
	if c.members < 1 || c.months < 1 {
		return c, errors.New("-members and -months must be at least 1")
	}
	return c, nil
}

// run is the whole program: parse args, run the simulation, print the
// report to stdout, and return an error if anything failed or the report
// does not reconcile with the ledger.
func run(args []string, stdout io.Writer) error {
	cfg, err := parse(args, stdout)
	if err != nil {
		return err
	}
	raw := programJSON
	if cfg.def != "" {
		if raw, err = os.ReadFile(cfg.def); err != nil {
			return err
		}
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		return err
	}
	path := cfg.db
	if path == "" {
		dir, err := os.MkdirTemp("", "retail-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "retail.db")
	}
	db, err := bolt.Open(path, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	// Coupon codes and random amounts come from the program's random
	// source: seed it too, so a seed gives the same codes.
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], cfg.seed)
	p, err := membership.Open(db, def, membership.WithRand(rand.NewChaCha8(key)))
	if err != nil {
		return err
	}
	ctx := context.Background()
	began := time.Now()
	s := newSim(cfg, p)
	if err := s.run(ctx); err != nil {
		return err
	}
	return s.report(ctx, stdout, time.Since(began))
}
