package membership_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// planPriceDef is a program in America/Santiago, where 6 September 2026
// starts at 01:00: Gold at 1,000 growth (1 per yuan of an order), a
// monthly plan "plus" bought by a fee, and two discount benefits, the
// plan's first in the catalog: plus-price 85% to the cent (half up) and
// gold-price 90% rounded down to the yuan.
func planPriceDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	return membership.Definition{
		Zone: "America/Santiago",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "fee", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: permanent}, {Name: "gold", Upgrade: testkit.Dec("1000"), Validity: permanent}},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
			Plans:  []level.Plan{{Name: "plus", Period: level.Monthly, Event: "fee", Attr: "plan"}},
		},
		Benefits: &benefit.Definition{Benefits: []benefit.Benefit{
			{Name: "plus-price", Type: benefit.TypeDiscount, Plans: []string{"plus"}, Discount: &benefit.Discount{Rate: testkit.Dec("0.85")}},
			{Name: "gold-price", Type: benefit.TypeDiscount, Levels: []string{"gold"},
				Discount: &benefit.Discount{Rate: testkit.Dec("0.9"), Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundDown}}},
		}},
	}
}

// A Gold member who holds a plan pays the lower of the two prices, each
// rounded its own way, the plan's on a tie (earlier in the catalog), until
// the plan's expiry instant: bought at 00:00 on 6 August, it ends at
// 00:00 on 6 September, a wall time the clocks skip, so at the end of the
// gap, 01:00 (04:00 UTC), which is 24:00 of 5 September; from then on the
// level's price alone, before and after Advance performs the expiry, on
// every store. Worked by hand:
//
//	amount  plus 85%, cent half up   gold 90%, yuan down   price
//	19.99   16.9915 → 16.99          17.991 → 17           16.99 plus
//	9.99    8.4915 → 8.49            8.991 → 8             8 gold
//	1.18    1.003 → 1.00             1.062 → 1             1 plus (tie)
//	0       0                        0                     0 plus (tie)
func TestMemberPriceLevelAndPlanAtThePlanEnd(t *testing.T) {
	santiago := testkit.Zone("America/Santiago")
	end := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)
	if got := end.In(santiago); got.Day() != 6 || got.Hour() != 1 || end.Add(-time.Nanosecond).In(santiago).Day() != 5 {
		t.Fatalf("the end of the gap reads %v in Santiago, want 6 September 01:00 right after the 5th", got)
	}
	onEveryStore(t, planPriceDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			event.Event{ID: "o1", Member: "m", Type: "order", Time: time.Date(2026, 8, 1, 10, 0, 0, 0, santiago), Attrs: event.Attrs{"amount": event.DecString("1000")}},
			event.Event{ID: "f1", Member: "m", Type: "fee", Time: time.Date(2026, 8, 6, 0, 0, 0, 0, santiago), Attrs: event.Attrs{"plan": event.Str("plus")}})
		check := func(at time.Time, wantBenefits []string, amount, want, by string) {
			t.Helper()
			bs, err := p.Benefits().Of(ctx, "m", at)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, b := range bs {
				names = append(names, b.Name)
			}
			if len(names) != len(wantBenefits) || (len(names) > 0 && names[0] != wantBenefits[0]) || (len(names) > 1 && names[1] != wantBenefits[1]) {
				t.Errorf("benefits at %v = %v, want %v", at.UTC(), names, wantBenefits)
			}
			price, err := p.Benefits().MemberPrice(ctx, "m", testkit.Dec(amount), at)
			if err != nil {
				t.Fatal(err)
			}
			if !price.Amount.Equal(testkit.Dec(want)) || price.By == nil || price.By.Name != by {
				t.Errorf("member price of %s at %v = %s by %v, want %s by %s", amount, at.UTC(), price.Amount, price.By, want, by)
			}
		}
		before := end.Add(-time.Nanosecond)
		both := []string{"plus-price", "gold-price"}
		for _, advanced := range []bool{false, true} {
			if !advanced {
				check(before, both, "19.99", "16.99", "plus-price")
				check(before, both, "9.99", "8", "gold-price")
				check(before, both, "1.18", "1", "plus-price")
				check(before, both, "0", "0", "plus-price")
			}
			check(end, []string{"gold-price"}, "19.99", "17", "gold-price")
			check(end, []string{"gold-price"}, "1.18", "1", "gold-price")
			check(end, []string{"gold-price"}, "0", "0", "gold-price")
			if !advanced {
				if n, err := p.Advance(ctx, before); err != nil || n != 0 {
					t.Fatalf("Advance to a nanosecond before the plan's end = %d, %v; want 0", n, err)
				}
				check(before, both, "19.99", "16.99", "plus-price")
				if n, err := p.Advance(ctx, end); err != nil || n != 1 {
					t.Fatalf("Advance to the plan's end = %d, %v; want 1", n, err)
				}
			}
		}
	})
}

// The same renewal sent four times at once, to both programs, renews the
// plan once while members' prices are asked meanwhile: the fee of 20
// August extends the plan from its end, 6 September 01:00 (the end of the
// gap at midnight), by a month to 6 October 01:00 (04:00 UTC; Santiago is
// on summer time then), so the plan's price holds until a nanosecond
// before and the level's from then, on every store, under -race.
func TestMemberPriceWhileAPlanIsRenewedTwice(t *testing.T) {
	santiago := testkit.Zone("America/Santiago")
	end := time.Date(2026, 10, 6, 4, 0, 0, 0, time.UTC)
	onEveryStore(t, planPriceDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0],
			event.Event{ID: "o1", Member: "m", Type: "order", Time: time.Date(2026, 8, 1, 10, 0, 0, 0, santiago), Attrs: event.Attrs{"amount": event.DecString("1000")}},
			event.Event{ID: "f1", Member: "m", Type: "fee", Time: time.Date(2026, 8, 6, 0, 0, 0, 0, santiago), Attrs: event.Attrs{"plan": event.Str("plus")}})
		renewal := event.Event{ID: "f2", Member: "m", Type: "fee", Time: time.Date(2026, 8, 20, 10, 0, 0, 0, santiago), Attrs: event.Attrs{"plan": event.Str("plus")}}
		var renewed atomic.Int32
		atOnce(8, func(g int) {
			p := ps[g%2]
			if g < 4 {
				out, err := p.Process(ctx, renewal)
				if err != nil {
					t.Error(err)
					return
				}
				if !out.Duplicate {
					renewed.Add(int32(len(out.ChangesOf(level.ChangePlanPurchased))))
				}
				return
			}
			price, err := p.Benefits().MemberPrice(ctx, "m", testkit.Dec("19.99"), renewal.Time.Add(time.Hour))
			if err != nil || !price.Amount.Equal(testkit.Dec("16.99")) {
				t.Errorf("member price while the plan runs = %+v, %v; want 16.99", price, err)
			}
		})
		if n := renewed.Load(); n != 1 {
			t.Errorf("%d renewals published, want 1", n)
		}
		for at, want := range map[time.Time]string{end.Add(-time.Nanosecond): "16.99", end: "17"} {
			price, err := ps[1].Benefits().MemberPrice(ctx, "m", testkit.Dec("19.99"), at)
			if err != nil || !price.Amount.Equal(testkit.Dec(want)) {
				t.Errorf("member price of 19.99 at %v = %+v, %v; want %s", at.UTC(), price, err, want)
			}
		}
	})
}

// A member price can be past the limit on decimals (40 digits) that the
// amount keeps to: 85% of 40 nines, to the cent, is 84 then 38 nines
// .15, 42 digits. It is the price exactly, not cut; used as an order's
// amount it is refused with event.ErrTooLarge and changes nothing (no
// growth), never taken cut or rounded.
func TestMemberPricePastTheLimitRefusedAsAnAmount(t *testing.T) {
	ctx := context.Background()
	santiago := testkit.Zone("America/Santiago")
	p := testkit.OpenMemory(t, planPriceDef())
	at := time.Date(2026, 8, 10, 10, 0, 0, 0, santiago)
	testkit.MustProcess(t, p, event.Event{ID: "f1", Member: "m", Type: "fee", Time: time.Date(2026, 8, 6, 10, 0, 0, 0, santiago), Attrs: event.Attrs{"plan": event.Str("plus")}})
	nines := strings.Repeat("9", 40)
	price, err := p.Benefits().MemberPrice(ctx, "m", testkit.Dec(nines), at)
	want := "84" + strings.Repeat("9", 38) + ".15"
	if err != nil || price.Amount.String() != want || price.By == nil || price.By.Name != "plus-price" {
		t.Fatalf("member price of 40 nines = %s by %v, %v; want %s by plus-price", price.Amount, price.By, err, want)
	}
	_, err = p.Process(ctx, event.Event{ID: "o1", Member: "m", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(price.Amount)}})
	if !errors.Is(err, event.ErrTooLarge) {
		t.Errorf("an order of the member price: %v; want event.ErrTooLarge", err)
	}
	if st, err := p.Levels().Status(ctx, "m"); err != nil || !st.Growth.IsZero() {
		t.Errorf("growth after the refused order = %s, %v; want 0", st.Growth, err)
	}
}
