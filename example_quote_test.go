package membership_test

import (
	"context"
	"fmt"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
)

// quoteDef earns a point and a growth point per yuan; 1,000 growth makes
// a member Gold.
const quoteDef = `{
  "zone": "Asia/Shanghai",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "levels": {
    "ladder": [
      {"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
      {"name": "Gold", "upgrade": "1000", "validity": {"kind": "permanent"}}
    ],
    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
               "validity": {"kind": "annual_date", "month": 12, "day": 31}}]
  }
}`

// A cart page shows what an order would earn before it is placed: Quote
// evaluates the order as Process would and writes nothing, so the order
// is processed as new once it is placed.
func ExampleProgram_Quote() {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(quoteDef))
	if err != nil {
		panic(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	if _, err := p.Process(ctx, order(p, "o1", "alice", "900", 1)); err != nil {
		panic(err)
	}
	cart := order(p, "o2", "alice", "120", 2)
	q, err := p.Quote(ctx, cart)
	if err != nil {
		panic(err)
	}
	earned, err := points.EffectsOf(q)
	if err != nil {
		panic(err)
	}
	for _, e := range earned.Earned {
		fmt.Println("this order earns", e.Amount, "points")
	}
	for _, c := range q.ChangesOf(level.ChangeLevel) {
		var lc level.LevelChange
		if err := c.Decode(&lc); err != nil {
			panic(err)
		}
		fmt.Println("and takes you to", lc.To)
	}
	bal, err := p.Balance(ctx, ledger.MemberAccount("alice", ledger.Points("mall"), ""))
	if err != nil {
		panic(err)
	}
	fmt.Println("balance still", bal)
	out, err := p.Process(ctx, cart)
	if err != nil {
		panic(err)
	}
	fmt.Println("processed as new:", !out.Duplicate, "earning", len(out.Entries) == len(q.Entries))
	// Output:
	// this order earns 120 points
	// and takes you to Gold
	// balance still 900
	// processed as new: true earning true
}
