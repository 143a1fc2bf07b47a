package membership_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A new version of the definition may change any rule, but not leave out
// a level members hold: Open refuses it, naming the level, and the store
// goes on under the version in force. Once the member is moved, the new
// version opens.
func ExampleOpen_newVersion() {
	ctx := context.Background()
	ladder := func(names ...string) *level.Definition {
		d := &level.Definition{Growth: []level.GrowthRule{{ID: "spend", Event: "order",
			Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}}}
		for i, n := range names {
			d.Ladder = append(d.Ladder, level.Level{Name: n, Upgrade: decimal.NewFromInt(int64(500 * i)),
				Validity: rule.Validity{Kind: rule.Permanent}})
		}
		return d
	}
	v1 := membership.Definition{
		Version: 1,
		Zone:    "Asia/Shanghai",
		Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels:  ladder("Member", "Gold"),
	}
	st := memory.New()
	p, err := membership.Open(st, v1)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, p.Location())
	if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("600")}}); err != nil {
		fmt.Println(err)
		return
	}

	// Version 2 renames Gold: ann would hold a level the ladder lacks.
	v2 := v1
	v2.Version = 2
	v2.Levels = ladder("Member", "Golden")
	_, err = membership.Open(st, v2)
	fmt.Println(errors.Is(err, membership.ErrDefinitionInUse), errors.Is(err, rule.ErrInvalidDefinition))
	var ps *rule.Problems
	if errors.As(err, &ps) {
		for _, pr := range ps.List {
			fmt.Println(pr)
		}
	}

	// Move ann first, under version 1, which is still in force.
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "move-ann", Member: "ann", Operator: "ops",
		Note: "Gold becomes Golden", At: at.Add(time.Hour), Level: "Member"}); err != nil {
		fmt.Println(err)
		return
	}
	p2, err := membership.Open(st, v2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version", p2.Definition().Version, "opened")
	// Output:
	// true true
	// levels: "Gold" is held by 1 member(s): move them to a level the definition keeps first (Handle.Set), or keep it
	// version 2 opened
}
