package coupon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// yenDef is a program whose coupons keep money to scale places (nil: the
// default, two), as a yen or won program sets 0.
func yenDef(scale *int32) membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{
			MoneyScale: scale,
			Templates: []coupon.Template{
				{Name: "ten-off", Type: coupon.Discount, Rate: dec("0.9"), Use: days(30), Group: "g"},
				{Name: "hundred", Type: coupon.Cash, Amount: dec("100"), Use: days(30), Group: "g"},
				{Name: "a-ten-off", Type: coupon.Discount, Rate: dec("0.9"), Use: days(30), Group: "g",
					Products: coupon.Products{Include: []string{"a"}}},
				{Name: "lucky", Type: coupon.Random, Min: dec("1"), Max: dec("5"), Use: days(30)},
			},
		},
	}
}

// whole is a money scale of 0: whole units.
func whole() *int32 { return new(int32(0)) }

// A discount rounds its amount off down to the money scale, in the
// customer's disfavour by less than one unit of it, as it did to the
// cent: 10% of 1,501 is 150.1, so a whole-unit program takes 150 off
// (Checkout, Lock and Redeem alike), and one that leaves the scale unset
// takes 150.10 as before.
func TestWholeUnitsDiscountRoundsDown(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		scale *int32
		want  string
	}{
		{"whole units", whole(), "150"},
		{"unset: cents", nil, "150.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.OpenMemory(t, yenDef(tc.scale))
			c := couponClaim(t, p, "c1", "m1", "ten-off", "2026-05-01 10:00")
			o := coupon.Order{ID: "o1", Member: "m1", Time: at(t, "2026-05-01 12:00"), Lines: []coupon.Line{line("a", "", "1501")}}
			prop, err := p.Coupons().Checkout(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(prop.Coupons) != 1 || !prop.AmountOff.Equal(dec(tc.want)) || !prop.Evaluated[0].AmountOff.Equal(dec(tc.want)) {
				t.Errorf("Checkout proposes %s (%+v), want %s", prop.AmountOff, prop.Coupons, tc.want)
			}
			lock, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{c.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if !lock.AmountOff.Equal(dec(tc.want)) || lock.Coupons[0].AmountOff.String() != tc.want {
				t.Errorf("Lock takes %s (coupon %s), want %s", lock.AmountOff, lock.Coupons[0].AmountOff, tc.want)
			}
			r := couponClaim(t, p, "c2", "m2", "ten-off", "2026-05-01 10:00")
			red, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: r.Code,
				Order: coupon.Order{ID: "o2", Time: at(t, "2026-05-01 12:00"), Lines: o.Lines}})
			if err != nil {
				t.Fatal(err)
			}
			if red.Coupon.AmountOff.String() != tc.want {
				t.Errorf("Redeem takes %s, want %s", red.Coupon.AmountOff, tc.want)
			}
		})
	}
}

// Coupons combined in whole units share and take whole amounts, and a
// redemption's recompute gives the order what a lock of the same coupons
// gives it, whichever is redeemed first. On lines a 1,000 and b 501, a
// cash coupon of 100 is shared 66 + 33 (100 × 1000/1501 = 66.62 and
// 100 × 501/1501 = 33.37, each rounded down), the unit left over going to
// a: 67 and 33, leaving a at 933; then 10% off a is 93.3, so 93: 193 in
// all. In cents the share is 66.63 and 33.37, a is left at 933.37, and
// 10% of it is 93.33: 193.33.
func TestWholeUnitsStacking(t *testing.T) {
	ctx := context.Background()
	lines := []coupon.Line{line("a", "", "1000"), line("b", "", "501")}
	order := func(t *testing.T, id, member string) coupon.Order {
		return coupon.Order{ID: id, Member: member, Time: at(t, "2026-05-01 12:00"), Lines: lines}
	}
	t.Run("lock", func(t *testing.T) {
		for _, tc := range []struct {
			name              string
			scale             *int32
			cash, disc, total string
		}{
			{"whole units", whole(), "100", "93", "193"},
			{"unset: cents", nil, "100", "93.33", "193.33"},
		} {
			p := testkit.OpenMemory(t, yenDef(tc.scale))
			h := couponClaim(t, p, "h", "m1", "hundred", "2026-05-01 10:00")
			a := couponClaim(t, p, "a", "m1", "a-ten-off", "2026-05-01 10:00")
			lock, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l", Order: order(t, "o1", "m1"), Coupons: []string{a.ID, h.ID}})
			if err != nil {
				t.Fatal(err)
			}
			offs := map[string]string{}
			for _, c := range lock.Coupons {
				offs[c.Template] = c.AmountOff.String()
			}
			if diff := cmp.Diff(map[string]string{"hundred": tc.cash, "a-ten-off": tc.disc}, offs); diff != "" || lock.AmountOff.String() != tc.total {
				t.Errorf("%s: Lock takes %s, per coupon (-want +got):\n%s", tc.name, lock.AmountOff, diff)
			}
		}
	})
	// Redeemed one after the other, the second takes what the pair takes
	// less what the first recorded: 193 − 100 = 93 either way round.
	t.Run("redeem", func(t *testing.T) {
		p := testkit.OpenMemory(t, yenDef(whole()))
		for _, tc := range []struct {
			member      string
			first, then string
		}{
			{"m2", "a-ten-off", "hundred"},
			{"m3", "hundred", "a-ten-off"},
		} {
			first := couponClaim(t, p, tc.member+"-1", tc.member, tc.first, "2026-05-01 10:00")
			then := couponClaim(t, p, tc.member+"-2", tc.member, tc.then, "2026-05-01 10:00")
			o := order(t, "o-"+tc.member, "")
			r1, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: tc.member + "-r1", Code: first.Code, Order: o})
			if err != nil {
				t.Fatal(err)
			}
			r2, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: tc.member + "-r2", Code: then.Code, Order: o})
			if err != nil {
				t.Fatal(err)
			}
			// Alone, 10% of line a (1,000) is 100, as is the cash coupon.
			got := []string{r1.Coupon.AmountOff.String(), r2.Coupon.AmountOff.String()}
			if diff := cmp.Diff([]string{"100", "93"}, got); diff != "" {
				t.Errorf("%s then %s: (-want +got):\n%s", tc.first, tc.then, diff)
			}
		}
	})
}

// In whole units an order line of 10.5 is refused by Checkout, Lock and
// Redeem, naming the line, and nothing changes; one of 10 (or 10.0) is
// taken. Order.Check, the package-level rule, keeps two places.
func TestWholeUnitsOrderLines(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, yenDef(whole()))
	c := couponClaim(t, p, "c", "m1", "hundred", "2026-05-01 10:00")
	bad := coupon.Order{ID: "o1", Member: "m1", Time: at(t, "2026-05-01 12:00"),
		Lines: []coupon.Line{line("a", "", "300"), line("b", "", "10.5")}}
	feed := couponFeedLen(t, p)
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, coupon.ErrInvalidOrder) || !errors.Is(err, event.ErrInvalidArgument) ||
			!strings.Contains(fmt.Sprint(err), "lines[1].amount: 10.5 is not a whole amount") {
			t.Errorf("%s: %v, want ErrInvalidOrder and event.ErrInvalidArgument naming lines[1].amount", what, err)
		}
	}
	_, err := p.Coupons().Checkout(ctx, bad)
	refused("Checkout", err)
	_, err = p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l", Order: bad, Coupons: []string{c.ID}})
	refused("Lock", err)
	rb := bad
	rb.Member = ""
	_, err = p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: c.Code, Order: rb})
	refused("Redeem", err)
	if n := couponFeedLen(t, p); n != feed {
		t.Errorf("the refusals wrote %d changes", n-feed)
	}
	if cs, err := p.Coupons().List(ctx, "m1"); err != nil || len(cs) != 1 || cs[0].State != coupon.Available {
		t.Errorf("after the refusals: %+v, %v; want the coupon available", cs, err)
	}
	if err := bad.Check(); err != nil {
		t.Errorf("Order.Check (two places): %v", err)
	}
	good := bad
	good.Lines = []coupon.Line{line("a", "", "300"), line("b", "", "10.0")}
	lock, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: good, Coupons: []string{c.ID}})
	if err != nil || !lock.AmountOff.Equal(dec("100")) {
		t.Errorf("Lock of whole lines: %+v, %v", lock.AmountOff, err)
	}
}

// Definition.Check holds a template's money to the money scale: in whole
// units a cash amount, a cap, a random bound or a minimum order of 10.5 is
// refused (a zero minimum is none, and a negative one is refused alone); unset,
// cents are taken as before; a scale outside 0 to 8 is refused (the
// amounts are then checked at two places). A random coupon's max is
// bounded by what a draw counts in 64 bits at the scale.
func TestWholeUnitsDefinitionCheck(t *testing.T) {
	tpl := func(typ coupon.Type, f func(*coupon.Template)) coupon.Template {
		t := coupon.Template{Name: "t", Type: typ, Use: days(7)}
		f(&t)
		return t
	}
	cash := func(amount string) coupon.Template {
		return tpl(coupon.Cash, func(t *coupon.Template) { t.Amount = dec(amount) })
	}
	minOrder := func(amount string) coupon.Template {
		return tpl(coupon.Cash, func(t *coupon.Template) { t.Amount, t.MinOrder = dec("10"), dec(amount) })
	}
	random := func(lo, hi string) coupon.Template {
		return tpl(coupon.Random, func(t *coupon.Template) { t.Min, t.Max = dec(lo), dec(hi) })
	}
	for _, tc := range []struct {
		name  string
		scale *int32
		tpl   coupon.Template
		want  []string
	}{
		{"whole cash", whole(), cash("10"), nil},
		{"cash of 10.5", whole(), cash("10.5"), []string{"templates[0].amount: not a whole amount (money_scale 0): 10.5"}},
		{"cap of 20.5", whole(), tpl(coupon.Discount, func(t *coupon.Template) { t.Rate, t.Cap = dec("0.9"), dec("20.5") }),
			[]string{"templates[0].cap: not a whole amount (money_scale 0): 20.5"}},
		{"random of 1.5 to 5.5", whole(), random("1.5", "5.5"), []string{
			"templates[0].min: not a whole amount (money_scale 0): 1.5",
			"templates[0].max: not a whole amount (money_scale 0): 5.5",
		}},
		{"unset: cents", nil, cash("10.5"), nil},
		{"unset: finer than a cent", nil, cash("10.505"), []string{"templates[0].amount: finer than a cent: 10.505"}},
		{"scale 3", new(int32(3)), cash("10.505"), nil},
		{"finer than scale 3", new(int32(3)), cash("10.5055"), []string{"templates[0].amount: more than 3 decimal places (money_scale): 10.5055"}},
		{"whole min order", whole(), minOrder("100"), nil},
		{"min order of 99.5", whole(), minOrder("99.5"), []string{"templates[0].min_order: not a whole amount (money_scale 0): 99.5"}},
		{"unset: min order in cents", nil, minOrder("99.99"), nil},
		{"unset: min order finer than a cent", nil, minOrder("99.999"), []string{"templates[0].min_order: finer than a cent: 99.999"}},
		{"finer than scale 3: min order", new(int32(3)), minOrder("99.9999"), []string{"templates[0].min_order: more than 3 decimal places (money_scale): 99.9999"}},
		{"negative min order", nil, minOrder("-0.001"), []string{"templates[0].min_order: must not be negative"}},
		{"scale 9", new(int32(9)), cash("10.5"), []string{"money_scale: must be 0 to 8"}},
		{"scale -1", new(int32(-1)), cash("10.505"), []string{"money_scale: must be 0 to 8", "templates[0].amount: finer than a cent: 10.505"}},
		// 2^63 − 1 units of the scale: 9223372036854775807 × 10^-8.
		{"max at scale 8", new(int32(8)), random("1", "92233720368.54775807"), nil},
		{"above max at scale 8", new(int32(8)), random("1", "92233720368.54775808"),
			[]string{"templates[0].max: 92233720368.54775808 is above 92233720368.54775807, the largest amount a random coupon draws"}},
		{"above max at scale 0", whole(), random("1", "9223372036854775808"),
			[]string{"templates[0].max: 9223372036854775808 is above 9223372036854775807, the largest amount a random coupon draws"}},
		{"above MaxDraw unset", nil, random("1", "92233720368547758.08"),
			[]string{"templates[0].max: 92233720368547758.08 is above " + coupon.MaxDraw + ", the largest amount a random coupon draws"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := coupon.Definition{MoneyScale: tc.scale, Templates: []coupon.Template{tc.tpl}}
			err := d.Check(nil)
			var got []string
			if err != nil {
				var ps *rule.Problems
				if !errors.As(err, &ps) {
					t.Fatalf("Check = %v, want *rule.Problems", err)
				}
				for _, p := range ps.List {
					got = append(got, p.Error())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if (err != nil) != errors.Is(err, rule.ErrInvalidDefinition) {
				t.Errorf("Check = %v, not rule.ErrInvalidDefinition", err)
			}
		})
	}
}

// A whole-unit program draws its random coupons in whole units: each of
// 20 in [1, 5] is one of 1 to 5, and they are not all the same.
func TestWholeUnitsRandomDraws(t *testing.T) {
	p := testkit.OpenMemory(t, yenDef(whole()), membership.WithRand(rand.NewChaCha8([32]byte{3})))
	seen := map[string]bool{}
	for i := range 20 {
		c := couponClaim(t, p, fmt.Sprint("c", i), fmt.Sprint("m", i), "lucky", "2026-05-01 10:00")
		a := c.Amount
		if !a.Equal(a.Truncate(0)) || a.LessThan(dec("1")) || a.GreaterThan(dec("5")) {
			t.Errorf("drew %s, want a whole amount from 1 to 5", a)
		}
		seen[a.String()] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 draws gave %v", seen)
	}
}

// A coupon definition that leaves MoneyScale out encodes as it did before
// the field (a program's recorded definition is compared byte for byte);
// an explicit scale, 0 included, is kept.
func TestDefinitionMoneyScaleJSON(t *testing.T) {
	const tpl = `{"templates":[{"name":"c","type":"cash","amount":"10","use":{"validity":{"kind":"days_after","n":7}}}]`
	for _, tc := range []struct {
		name  string
		scale *int32
		json  string
		dp    int32
	}{
		{"unset", nil, tpl + `}`, 2},
		{"whole units", whole(), tpl + `,"money_scale":0}`, 0},
		{"three places", new(int32(3)), tpl + `,"money_scale":3}`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := coupon.Definition{MoneyScale: tc.scale, Templates: []coupon.Template{{Name: "c", Type: coupon.Cash, Amount: dec("10"), Use: days(7)}}}
			if b, err := json.Marshal(d); err != nil || string(b) != tc.json {
				t.Errorf("Marshal = %s, %v; want %s", b, err, tc.json)
			}
			var back coupon.Definition
			if err := json.Unmarshal([]byte(tc.json), &back); err != nil {
				t.Fatal(err)
			}
			if back.MoneyPlaces() != tc.dp || d.MoneyPlaces() != tc.dp {
				t.Errorf("MoneyPlaces = %d (decoded), %d; want %d", back.MoneyPlaces(), d.MoneyPlaces(), tc.dp)
			}
			if again, _ := json.Marshal(back); string(again) != tc.json {
				t.Errorf("re-encoded %s, want %s", again, tc.json)
			}
		})
	}
}
