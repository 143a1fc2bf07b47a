package membership_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// lifeDef is the retail program, version 1, with a second point program
// ("park", permanent) whose points are pending for 7 days after an
// order; edit changes its JSON further.
func lifeDef(t testing.TB, edit func(m map[string]any)) membership.Definition {
	t.Helper()
	return retailWith(t, func(m map[string]any) {
		m["version"] = 1
		pts := m["points"].(map[string]any)
		pts["programs"] = append(pts["programs"].([]any), map[string]any{"name": "park", "validity": map[string]any{"kind": "permanent"}})
		pts["rules"] = append(pts["rules"].([]any), map[string]any{"id": "park-order", "program": "park", "event": "order",
			"formula": map[string]any{"kind": "multiplier", "base": "amount", "rate": "0.1"}, "pending_days": 7})
		if edit != nil {
			edit(m)
		}
	})
}

// lifeV2 is lifeDef as version 2, changed by edit.
func lifeV2(t testing.TB, edit func(m map[string]any)) membership.Definition {
	t.Helper()
	return lifeDef(t, func(m map[string]any) { m["version"] = 2; edit(m) })
}

// liveStore runs lifeDef on a new store for a while: m1 (order of 2,000:
// Gold, with its gift coupon; stored value of 600; the manual tag staff;
// a welcome-10 locked for an order), m2 (order of 7,000: Platinum; a
// winback-30 issued), m3 (two orders of 100: task progress). Each
// registered first (the newcomer pack). Every order earns mall points and
// pending park points. at(h) is h hours after the first event.
func liveStore(t *testing.T) (*memory.Store, *membership.Program, func(h int) time.Time) {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, lifeDef(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(h int) time.Time {
		return time.Date(2025, 3, 1, 10, 0, 0, 0, loc).Add(time.Duration(h) * time.Hour)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	ev := func(member, typ string, h int, attrs map[string]event.Value) {
		t.Helper()
		n++
		must(p.Process(ctx, event.Event{ID: fmt.Sprint("e", n), Member: member, Type: typ, Time: at(h), Attrs: attrs}))
	}
	order := func(member, amount string, h int) {
		t.Helper()
		ev(member, "order", h, map[string]event.Value{"amount": event.DecString(amount), "order_id": event.Str(fmt.Sprint("o", n)), "category": event.List("fresh")})
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		ev(m, "register", 0, nil)
	}
	order("m1", "2000", 1)
	order("m2", "7000", 2)
	order("m3", "100", 3)
	order("m3", "100", 4)
	ev("m1", "recharge", 5, map[string]event.Value{"amount": event.DecString("600")})
	must(p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "m1", Operator: "op", At: at(6), Tag: "staff"}))
	must(p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "i1", Operator: "op", At: at(6), Members: []string{"m2"}, Template: "winback-30"}))
	cs, err := p.Coupons().List(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	var w10 string
	for _, c := range cs {
		if c.Template == "welcome-10" {
			w10 = c.ID
		}
	}
	must(p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: coupon.Order{ID: "ord1", Member: "m1", Time: at(7),
		Lines: []coupon.Line{{Product: "x", Amount: decimal.NewFromInt(100)}}}, Coupons: []string{w10}, Hold: 48 * time.Hour}))
	return st, p, at
}

// wantInUse checks that err refuses a definition for what the store
// holds, naming each of want (path and name), and that the store still
// v2Case is a version 2 of the live store's definition: its edit of
// version 1's JSON, and the paths Open refuses it at (nil: accepted).
type v2Case struct {
	name string
	edit func(m map[string]any)
	want []string
}

// runV2 opens each case's version 2 over a live store of version 1.
func runV2(t *testing.T, cases []v2Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, v1, at := liveStore(t)
			_, err := membership.Open(st, lifeV2(t, c.edit))
			if c.want != nil {
				wantInUse(t, err, v1, at, c.want...)
				return
			}
			if err != nil {
				t.Fatalf("Open v2: %v", err)
			}
		})
	}
}

// runs v1: v1's program still writes.
func wantInUse(t *testing.T, err error, v1 *membership.Program, at func(int) time.Time, want ...string) {
	t.Helper()
	if !errors.Is(err, membership.ErrDefinitionInUse) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Open v2: %v, want ErrDefinitionInUse and rule.ErrInvalidDefinition", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open v2: %v, want it to name %s", err, w)
		}
	}
	_, err = v1.Process(context.Background(), event.Event{ID: "after", Member: "m3", Type: "order", Time: at(30),
		Attrs: map[string]event.Value{"amount": event.DecString("10"), "order_id": event.Str("after")}})
	if err != nil {
		t.Errorf("v1 after a refused v2: %v", err)
	}
}

// TestDefinitionLeavesOutHeldLevel: a definition that drops or renames a
// level members hold is refused at Open. Before, it was installed: m1
// stayed at Gold, a level no longer defined, with no term end performed,
// and from the end of m1's term every event of m1 failed
// (level.ErrCatchUpLimit) for ever. A level nobody holds may go.
func TestDefinitionLeavesOutHeldLevel(t *testing.T) {
	ladder := func(m map[string]any) []any { return m["levels"].(map[string]any)["ladder"].([]any) }
	rules := func(m map[string]any) []any { return m["points"].(map[string]any)["rules"].([]any) }
	runV2(t, []v2Case{
		{"remove Gold", func(m map[string]any) {
			m["levels"].(map[string]any)["ladder"] = append([]any{ladder(m)[0]}, ladder(m)[2:]...)
			m["points"].(map[string]any)["rules"] = append(rules(m)[:1:1], rules(m)[2:]...)
		}, []string{`levels: "Gold" is held by 1 member`}},
		{"rename Gold and Platinum", func(m map[string]any) {
			ladder(m)[1].(map[string]any)["name"] = "Golden"
			ladder(m)[2].(map[string]any)["name"] = "Platinum+"
			rules(m)[1].(map[string]any)["levels"] = []any{"Golden"}
			rules(m)[2].(map[string]any)["levels"] = []any{"Platinum+"}
			m["benefits"].(map[string]any)["benefits"].([]any)[1].(map[string]any)["levels"] = []any{"Platinum+", "Diamond"}
		}, []string{`levels: "Gold" is held by 1 member`, `levels: "Platinum" is held by 1 member`}},
		{"no levels at all", func(m map[string]any) {
			delete(m, "levels")
			m["points"].(map[string]any)["rules"] = []any{rules(m)[len(rules(m))-1]}
			delete(m["points"].(map[string]any), "refunds") // no rule left records orders
			delete(m, "benefits")
		}, []string{`"Silver" is held by 1 member`, `"Gold" is held by 1 member`, `"Platinum" is held by 1 member`}},
		{"remove Diamond, held by nobody", func(m map[string]any) {
			m["levels"].(map[string]any)["ladder"] = ladder(m)[:3]
			m["points"].(map[string]any)["rules"] = append(rules(m)[:3:3], rules(m)[4:]...)
			bs := m["benefits"].(map[string]any)["benefits"].([]any)
			bs[1].(map[string]any)["levels"] = []any{"Platinum"}
			m["benefits"].(map[string]any)["benefits"] = bs[:2]
		}, nil},
	})
}

// TestDefinitionLeavesOutPointProgram: a definition that drops or renames
// a point program the ledger has postings of is refused at Open. Before,
// it was installed: the members' park points (pending for 7 days) left
// Member's balances, and their statement, lots and balance were refused
// as of an unknown program. A program without postings may go.
func TestDefinitionLeavesOutPointProgram(t *testing.T) {
	programs := func(m map[string]any) []any { return m["points"].(map[string]any)["programs"].([]any) }
	dropParkRule := func(m map[string]any) {
		rules := m["points"].(map[string]any)["rules"].([]any)
		m["points"].(map[string]any)["rules"] = rules[:len(rules)-1]
	}
	runV2(t, []v2Case{
		{"remove park", func(m map[string]any) {
			m["points"].(map[string]any)["programs"] = programs(m)[:1]
			dropParkRule(m)
		}, []string{`points.programs: point program "park" has ledger entries`}},
		{"rename park", func(m map[string]any) {
			programs(m)[1].(map[string]any)["name"] = "theme-park"
			rules := m["points"].(map[string]any)["rules"].([]any)
			rules[len(rules)-1].(map[string]any)["program"] = "theme-park"
		}, []string{`point program "park" has ledger entries`}},
		{"park kept without rules", dropParkRule, nil},
		{"a new program beside", func(m map[string]any) {
			m["points"].(map[string]any)["programs"] = append(programs(m), map[string]any{"name": "cafe"})
		}, nil},
	})
	t.Run("remove a program without postings", func(t *testing.T) {
		st := memory.New()
		v1 := lifeDef(t, func(m map[string]any) {
			pts := m["points"].(map[string]any)
			pts["programs"] = append(pts["programs"].([]any), map[string]any{"name": "cafe"})
		})
		p, err := membership.Open(st, v1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Process(context.Background(), event.Event{ID: "e1", Member: "m1", Type: "order", Time: time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location()),
			Attrs: map[string]event.Value{"amount": event.DecString("10"), "order_id": event.Str("o1")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := membership.Open(st, lifeV2(t, func(map[string]any) {})); err != nil {
			t.Fatalf("Open v2 without cafe, which has no postings: %v", err)
		}
	})
}

// TestDefinitionLeavesOutIssuedCoupons: a definition that drops or
// renames a coupon template or pack of which coupons were issued is
// refused at Open. Before, it was installed: the members' welcome-10
// coupons still counted as available but could not be redeemed
// (coupon.ErrUnknownTemplate), checkout left them out without a word, and
// their statistics lost their cost centre. Lowering a template's stock
// below what was issued is accepted: it only stops issuing.
func TestDefinitionLeavesOutIssuedCoupons(t *testing.T) {
	ctx := context.Background()
	templates := func(m map[string]any) []any { return m["coupons"].(map[string]any)["templates"].([]any) }
	pack := func(m map[string]any) map[string]any {
		return m["coupons"].(map[string]any)["packs"].([]any)[0].(map[string]any)
	}
	runV2(t, []v2Case{
		{"remove welcome-10", func(m map[string]any) {
			m["coupons"].(map[string]any)["templates"] = templates(m)[1:]
			pack(m)["items"] = pack(m)["items"].([]any)[1:]
		}, []string{`coupons.templates: template "welcome-10" has coupons issued`}},
		{"rename the newcomer pack", func(m map[string]any) {
			pack(m)["name"] = "welcome"
			m["coupons"].(map[string]any)["gifts"].([]any)[0].(map[string]any)["pack"] = "welcome"
		}, []string{`coupons.packs: pack "newcomer" has coupons issued`}},
		{"no coupons at all", func(m map[string]any) {
			delete(m, "coupons")
			for _, l := range m["levels"].(map[string]any)["ladder"].([]any) {
				delete(l.(map[string]any), "gifts")
			}
			tk := m["tasks"].(map[string]any)["tasks"].([]any)[0].(map[string]any)
			tk["rewards"] = tk["rewards"].([]any)[:1]
		}, []string{`template "welcome-10"`, `template "welcome-fresh"`, `template "gold-gift"`,
			`template "platinum-gift"`, `template "winback-30"`, `pack "newcomer"`}},
		{"remove monthly-5, never issued", func(m map[string]any) {
			m["coupons"].(map[string]any)["templates"] = append(templates(m)[:5:5], templates(m)[6:]...)
			tk := m["tasks"].(map[string]any)["tasks"].([]any)[0].(map[string]any)
			tk["rewards"] = tk["rewards"].([]any)[:1]
		}, nil},
	})
	t.Run("stock below issued", func(t *testing.T) {
		st, _, at := liveStore(t)
		p, err := membership.Open(st, lifeV2(t, func(m map[string]any) {
			templates(m)[6].(map[string]any)["stock"] = 1 // one winback-30 was issued
		}))
		if err != nil {
			t.Fatalf("Open v2: %v", err)
		}
		res, err := p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "i2", Operator: "op", At: at(8), Members: []string{"m1"}, Template: "winback-30"})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(res.Refused["m1"], coupon.ErrOutOfStock) {
			t.Errorf("Issue beyond the lowered stock: %v, want coupon.ErrOutOfStock", res.Refused["m1"])
		}
		cs, err := p.Coupons().List(ctx, "m2")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Template == "winback-30" && c.State != coupon.Available {
				t.Errorf("m2's winback-30 is %s, want it still available", c.State)
			}
		}
	})
}

// TestDefinitionLeavesOutStoredValue: a definition without stored value
// is refused at Open while the store holds stored value (ledger postings
// or cumulative totals). Before, it was installed: m1's balance of 600
// was still the program's liability in the ledger, but Value().Account
// answered value.ErrNotDefined, and the recharge events, still declared,
// were taken without crediting anything. Its rules may change; a program
// that never held stored value may drop it.
func TestDefinitionLeavesOutStoredValue(t *testing.T) {
	runV2(t, []v2Case{
		{"no stored value", func(m map[string]any) { delete(m, "stored_value") },
			[]string{`stored_value: the store holds stored value`}},
		{"a new spend event and scale", func(m map[string]any) {
			m["stored_value"] = map[string]any{"recharge": "recharge", "spend": "order", "amount": "amount", "scale": 4}
		}, nil},
	})
	// A member migrated in with no balance but a cumulative recharge:
	// no posting, the totals alone are stored value.
	t.Run("totals alone", func(t *testing.T) {
		st := memory.New()
		p, err := membership.Open(st, lifeDef(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.OpenMember(context.Background(), migrate.Member{RequestID: "o1", Member: "m1", Operator: "op",
			At: time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location()), Value: &migrate.Value{Recharged: decimal.NewFromInt(50), Spent: decimal.NewFromInt(50)}}); err != nil {
			t.Fatal(err)
		}
		_, err = membership.Open(st, lifeV2(t, func(m map[string]any) { delete(m, "stored_value") }))
		if !errors.Is(err, membership.ErrDefinitionInUse) {
			t.Fatalf("Open v2 without stored value: %v, want ErrDefinitionInUse", err)
		}
	})
	t.Run("never used", func(t *testing.T) {
		st := memory.New()
		p, err := membership.Open(st, lifeDef(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Process(context.Background(), event.Event{ID: "e1", Member: "m1", Type: "order", Time: time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location()),
			Attrs: map[string]event.Value{"amount": event.DecString("10"), "order_id": event.Str("o1")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := membership.Open(st, lifeV2(t, func(m map[string]any) { delete(m, "stored_value") })); err != nil {
			t.Fatalf("Open v2 without stored value, never used: %v", err)
		}
	})
}
