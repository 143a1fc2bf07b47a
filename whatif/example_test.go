package whatif_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// An operator asks what Gold from 50 of growth instead of 100 would have
// done to the members and the points of the first two months: the
// program ran with the journal on, and the what-if replays it under both
// definitions, in memory, beside each other.
func ExampleRun() {
	ctx := context.Background()
	actual, err := membership.ParseDefinition([]byte(`{
	  "zone": "Asia/Shanghai",
	  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
	  "levels": {
	    "ladder": [{"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
	               {"name": "Gold", "upgrade": "100", "validity": {"kind": "permanent"}}],
	    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
	  },
	  "points": {
	    "programs": [{"name": "mall", "payment": {"rate": "0.01", "max_share": "0.5"}}],
	    "rules": [{"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}},
	              {"id": "gold", "program": "mall", "event": "order", "levels": ["Gold"], "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
	  }
	}`))
	if err != nil {
		panic(err)
	}
	// The change: Gold from 50 (on copies of the level definition and the
	// ladder, so that actual keeps its own).
	changed, lv := actual, *actual.Levels
	lv.Ladder = append(lv.Ladder[:0:0], actual.Levels.Ladder...)
	lv.Ladder[1].Upgrade = decimal.NewFromInt(50)
	changed.Levels = &lv

	// The program runs with the journal on.
	live := memory.New()
	p, err := membership.Open(live, actual, membership.WithJournal())
	if err != nil {
		panic(err)
	}
	for i, o := range []struct {
		member, amount string
		month          time.Month
	}{{"alice", "60", 1}, {"bob", "120", 1}, {"alice", "30", 2}, {"carol", "80", 2}} {
		_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("o", i), Member: o.member, Type: "order",
			Time: time.Date(2026, o.month, 10, 12, 0, 0, 0, p.Location()), Attrs: event.Attrs{"amount": event.DecString(o.amount)}})
		if err != nil {
			panic(err)
		}
	}

	rep, err := whatif.Run(ctx, live, actual, changed, whatif.Options{})
	if err != nil {
		panic(err)
	}
	for _, m := range rep.Months {
		fmt.Printf("%s Gold %d → %d, points issued %s → %s, liability %s → %s\n", m.Start.Format("2006-01"),
			m.Actual.Levels["Gold"], m.Changed.Levels["Gold"],
			m.Actual.Points["mall"].Issued, m.Changed.Points["mall"].Issued,
			m.Actual.Points["mall"].Liability.StringFixed(2), m.Changed.Points["mall"].Liability.StringFixed(2))
	}
	diffs, _ := rep.Members("", 10)
	for _, d := range diffs {
		fmt.Printf("%s: %s → %s\n", d.Member, d.Actual, d.Changed)
	}
	// Output:
	// 2026-01 Gold 1 → 2, points issued 300 → 360, liability 3.00 → 3.60
	// 2026-02 Gold 1 → 3, points issued 110 → 220, liability 4.10 → 5.80
	// alice: Silver → Gold
	// carol: Silver → Gold
}
