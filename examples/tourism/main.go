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
//
// Usage:
//
//	go run ./examples/tourism [-members 3000] [-months 12] [-seed 1] [-db file] [-def program.json] [-short]
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
		fmt.Fprintln(os.Stderr, "tourism:", err)
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
	fs := flag.NewFlagSet("tourism", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.members, "members", 3000, "number of members")
	fs.IntVar(&c.months, "months", 12, "months simulated, from January 2025")
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
		dir, err := os.MkdirTemp("", "tourism-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "tourism.db")
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
