// Command quickstart is README's quick start: a two-level ladder fed by
// spend, and one point per yuan that expires at the end of the year, on a
// bbolt file; one order of 520 yuan makes the member Gold.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/bolt"
	"github.com/shopspring/decimal"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}
	zero := decimal.Zero // an order's amount must not be negative
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true, Min: &zero},
		}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: decimal.NewFromInt(500), Retention: decimal.NewFromInt(300),
					Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Window: 12, Downgrade: level.NextLower},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: spend}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Formula: spend,
				Validity: rule.Validity{Kind: rule.AnnualDate, Month: 12, Day: 31}}},
		},
	}

	// A throw-away file for the demo; a host keeps its own.
	dir, err := os.MkdirTemp("", "membership-quickstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := bolt.Open(filepath.Join(dir, "members.db"), nil)
	if err != nil {
		return err
	}
	defer st.Close()

	p, err := membership.Open(st, def)
	if err != nil {
		return err
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	order := event.Event{ID: "order-1", Member: "alice", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(520))}}
	out, err := p.Process(ctx, order)
	if err != nil {
		return err
	}
	effects, err := level.EffectsOf(out) // what the order did to levels
	if err != nil {
		return err
	}
	lvl, err := p.Levels().Status(ctx, "alice")
	if err != nil {
		return err
	}
	pts, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: at})
	if err != nil {
		return err
	}
	reached, _ := effects.Reached()
	fmt.Fprintln(w, "order-1 granted", effects.Granted(), "growth and reached", reached)
	fmt.Fprintln(w, lvl.Level, "until", lvl.TermEnd.Format(time.DateTime))
	fmt.Fprintln(w, pts.Available, "points")
	return nil
}
