package coupon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
)

// may returns 00:00 of day d of May 2026 in Asia/Shanghai (day 32 is 1
// June).
func may(d int) time.Time {
	return time.Date(2026, time.May, d, 0, 0, 0, 0, testkit.Shanghai)
}

// couponDef is a program with coupon templates, a pack and gifts.
func couponDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "register"},
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "welcome", Type: coupon.Cash, Amount: dec("10"), MinOrder: dec("50"), Stock: 1, Use: days(7), Group: "g", CostCentre: "crm"},
				{Name: "ten-off", Type: coupon.Discount, Rate: dec("0.9"), Cap: dec("20"), Use: days(30), Group: "g", CostCentre: "crm"},
				{Name: "flash", Type: coupon.Cash, Amount: dec("5"), Stock: 50, Use: days(1), CostCentre: "promo"},
				{Name: "lucky", Type: coupon.Random, Min: dec("1"), Max: dec("5"), Use: days(3),
					Claim: coupon.ClaimRule{PerMember: 2, PerDay: 1}},
				{Name: "staff", Type: coupon.Cash, Amount: dec("30"), Use: days(3),
					Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Operator}}},
				{Name: "may", Type: coupon.Cash, Amount: dec("8"), Use: days(3),
					Claim: coupon.ClaimRule{Period: rule.Window{From: may(1), To: may(32)}}},
				{Name: "gold-only", Type: coupon.Cash, Amount: dec("8"), Use: days(3), Claim: coupon.ClaimRule{Levels: []string{"gold"}}},
				{Name: "gift", Type: coupon.Cash, Amount: dec("15"), Stock: 1, Use: days(30)},
			},
			Packs: []coupon.Pack{{Name: "starter", Mode: coupon.AllInvalid,
				Items: []coupon.PackItem{{Template: "welcome", Count: 1}, {Template: "ten-off", Count: 2}}}},
			Gifts: []coupon.Gift{{Event: "register", Template: "welcome"}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "basic", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "gold", Upgrade: dec("100"), Validity: rule.Validity{Kind: rule.Permanent},
					Gifts: []rule.Reward{{Kind: rule.RewardCoupon, Template: "gift"}}},
			},
			Growth: []level.GrowthRule{{ID: "order", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
		},
	}
}

func openCoupons(t testing.TB, st store.Store, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, couponDef(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return p
}

func couponClaim(t testing.TB, p *membership.Program, id, member, template, when string) coupon.Coupon {
	t.Helper()
	res, err := p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: id, Member: member, Template: template, At: at(t, when)})
	if err != nil {
		t.Fatal(err)
	}
	cs := res.Coupons
	if len(cs) != 1 {
		t.Fatalf("claim gave %d coupons", len(cs))
	}
	return cs[0]
}

func couponFeedLen(t testing.TB, p *membership.Program) int {
	t.Helper()
	f, err := p.Feed(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(f)
}

func TestCouponClaimIsIdempotent(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	req := coupon.ClaimRequest{RequestID: "r1", Member: "m1", Template: "lucky", At: at(t, "2026-05-01 10:00")}
	res1, err := p.Coupons().Claim(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := p.Coupons().Claim(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	first, out1, again, out2 := res1.Coupons, res1.Outcome, res2.Coupons, res2.Outcome
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retry gave another coupon (-first +retry):\n%s", diff)
	}
	if out1.Duplicate || !out2.Duplicate {
		t.Errorf("Duplicate = %v, %v; want false, true", out1.Duplicate, out2.Duplicate)
	}
	cs, err := p.Coupons().List(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Errorf("member holds %d coupons after a retried claim, want 1", len(cs))
	}
	c := first[0]
	if c.Amount.LessThan(dec("1")) || c.Amount.GreaterThan(dec("5")) || !c.Amount.Equal(c.Amount.Truncate(2)) {
		t.Errorf("random amount %s outside [1, 5] or finer than a cent", c.Amount)
	}
	if _, err := coupon.ParseCode(c.Code); err != nil {
		t.Errorf("issued code %q does not parse: %v", c.Code, err)
	}
	if ch := out1.ChangesOf(coupon.ChangeIssued); len(ch) != 1 || ch[0].Reason == nil || ch[0].Reason.Inputs["drawn"] != c.Amount.String() {
		t.Errorf("coupon.issued changes %+v, want one with the drawn amount", ch)
	}
	req.Template = "flash"
	if _, err := p.Coupons().Claim(ctx, req); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("same request ID, other template: %v, want ErrEventConflict", err)
	}
}

func TestCouponClaimRefusalsChangeNothing(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	couponClaim(t, p, "w1", "m1", "welcome", "2026-05-01 10:00")
	couponClaim(t, p, "l1", "m1", "lucky", "2026-05-01 10:00")
	couponClaim(t, p, "l2", "m1", "lucky", "2026-05-02 10:00")
	tests := []struct {
		name, member, template, when string
		method                       coupon.Method
		err                          error
	}{
		{"out of stock", "m2", "welcome", "2026-05-01 10:00", "", coupon.ErrOutOfStock},
		{"per day limit", "m2", "lucky", "2026-05-02 10:00", "", nil},
		{"per member limit", "m1", "lucky", "2026-05-03 10:00", "", coupon.ErrLimitReached},
		{"method not allowed", "m1", "staff", "2026-05-01 10:00", coupon.Self, coupon.ErrNotEligible},
		{"operator may", "m1", "staff", "2026-05-01 10:00", coupon.Operator, nil},
		{"level not held", "m1", "gold-only", "2026-05-01 10:00", "", coupon.ErrNotEligible},
		{"before the claim period", "m1", "may", "2026-04-30 23:59", "", coupon.ErrOutsidePeriod},
		{"unknown template", "m1", "nope", "2026-05-01 10:00", "", coupon.ErrUnknownTemplate},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := couponFeedLen(t, p)
			before, _ := p.Coupons().List(ctx, tt.member)
			req := coupon.ClaimRequest{RequestID: fmt.Sprint("t", i), Member: tt.member, Template: tt.template,
				Method: tt.method, At: at(t, tt.when)}
			if tt.method == coupon.Operator {
				req.Operator = "ops"
			}
			res, err := p.Coupons().Claim(ctx, req)
			out := res.Outcome
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Claim: %v, want %v", err, tt.err)
			}
			after, _ := p.Coupons().List(ctx, tt.member)
			if err != nil {
				if out != nil || couponFeedLen(t, p) != n || len(after) != len(before) {
					t.Errorf("a refused claim changed something: outcome %v, feed %d → %d, coupons %d → %d", out, n, couponFeedLen(t, p), len(before), len(after))
				}
			} else if len(after) != len(before)+1 {
				t.Errorf("coupons %d → %d", len(before), len(after))
			}
		})
	}
	// The refused claim's request ID is free to retry once the cause is
	// gone: m1 claims lucky again on a later day after a refusal.
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "t2", Member: "m1", Template: "lucky", At: at(t, "2026-05-03 10:00")}); !errors.Is(err, coupon.ErrLimitReached) {
		t.Errorf("retry of a refused claim: %v", err)
	}
}

func TestCouponClaimConcurrentNeverPastStock(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCoupons(t, open())
			ctx := context.Background()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var ok, out int
			var other []error
			for i := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprint("c", i), Member: fmt.Sprint("m", i),
						Template: "flash", At: at(t, "2026-05-01 10:00")})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, coupon.ErrOutOfStock):
						out++
					default:
						other = append(other, err)
					}
				}()
			}
			wg.Wait()
			if ok != 50 || out != 150 || len(other) > 0 {
				t.Fatalf("issued %d, out of stock %d, other errors %v; want 50, 150, none", ok, out, other)
			}
			total := 0
			codes := map[string]bool{}
			for i := range 200 {
				cs, err := p.Coupons().List(ctx, fmt.Sprint("m", i))
				if err != nil {
					t.Fatal(err)
				}
				total += len(cs)
				for _, c := range cs {
					codes[c.Code] = true
				}
			}
			if total != 50 || len(codes) != 50 {
				t.Errorf("members hold %d coupons with %d codes, want 50", total, len(codes))
			}
			r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{Template: "flash"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Total.Issued != 50 {
				t.Errorf("statistics say %d issued, want 50", r.Total.Issued)
			}
		})
	}
}

func TestCouponUsedOnceUnderConcurrency(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCoupons(t, open())
			ctx := context.Background()
			for round := range 10 {
				c := couponClaim(t, p, fmt.Sprint("c", round), "m1", "ten-off", "2026-05-01 10:00")
				o := coupon.Order{Member: "m1", Store: "s1", Time: at(t, "2026-05-01 11:00"), Lines: []coupon.Line{{Product: "p", Amount: dec("80")}}}
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for g := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						o := o
						o.ID = fmt.Sprint("o", round, g)
						if g == 0 {
							_, errs[g] = p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: fmt.Sprint("r", round, g), Code: c.Code, Order: o})
							return
						}
						_, errs[g] = p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: fmt.Sprint("r", round, g), Order: o, Coupons: []string{c.ID}})
						if errs[g] == nil {
							_, errs[g] = p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: fmt.Sprint("u", round, g), Order: o.ID, At: o.Time})
						}
					}()
				}
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, coupon.ErrState):
						t.Fatalf("round %d: unexpected error %v", round, err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d uses succeeded (%v), want exactly 1", round, won, errs)
				}
			}
			r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Total.Used != 10 || !r.Total.AmountOff.Equal(dec("80")) {
				t.Errorf("statistics: used %d, amount off %s; want 10, 80", r.Total.Used, r.Total.AmountOff)
			}
		})
	}
}

func TestCouponExpiresThroughTheDueIndex(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	c := couponClaim(t, p, "c1", "m1", "flash", "2026-05-01 23:59")
	used := couponClaim(t, p, "c2", "m1", "flash", "2026-05-01 23:00")
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: used.Code,
		Order: coupon.Order{ID: "o", Time: at(t, "2026-05-01 23:30"), Lines: []coupon.Line{{Product: "p", Amount: dec("9")}}}}); err != nil {
		t.Fatal(err)
	}
	if !c.Expires.Equal(at(t, "2026-05-02 00:00")) {
		t.Fatalf("a 1-day coupon claimed at 23:59 expires %s, want 24:00 that day", c.Expires)
	}
	if _, err := p.Advance(ctx, at(t, "2026-05-01 23:59").Add(59*time.Second)); err != nil {
		t.Fatal(err)
	}
	live, _ := p.Coupons().Live(ctx, "m1")
	if len(live) != 1 || live[0].State != coupon.Available {
		t.Fatalf("before 24:00: live %+v", live)
	}
	n := couponFeedLen(t, p)
	if _, err := p.Advance(ctx, at(t, "2026-05-02 00:00")); err != nil {
		t.Fatal(err)
	}
	all, _ := p.Coupons().List(ctx, "m1")
	states := map[string]coupon.State{}
	for _, x := range all {
		states[x.ID] = x.State
	}
	if diff := cmp.Diff(map[string]coupon.State{c.ID: coupon.Expired, used.ID: coupon.Used}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	f, _ := p.Feed(ctx, uint64(n), 100)
	if len(f) != 1 || f[0].Kind != coupon.ChangeExpired || !f[0].Time.Equal(at(t, "2026-05-02 00:00")) {
		t.Errorf("feed after expiry: %+v", f)
	}
	r, _ := p.Coupons().Stats(ctx, coupon.StatsQuery{From: rule.Date{Year: 2026, Month: 5, Day: 2}, To: rule.Date{Year: 2026, Month: 5, Day: 2}})
	if r.Total.Expired != 1 || r.ByCostCentre["promo"].Expired != 1 {
		t.Errorf("2 May statistics %+v", r.Total)
	}
}

func TestCouponGiftRefusedDoesNotFailTheEvent(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	reg := func(id, member string) *change.Outcome {
		out, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "register", Time: at(t, "2026-05-01 10:00")})
		if err != nil {
			t.Fatalf("register %s: %v", member, err)
		}
		return out
	}
	if out := reg("e1", "m1"); len(out.ChangesOf(coupon.ChangeIssued)) != 1 {
		t.Errorf("first registration: %d coupons issued", len(out.ChangesOf(coupon.ChangeIssued)))
	}
	out := reg("e2", "m2")
	refused := out.ChangesOf(coupon.ChangeClaimRefused)
	if len(refused) != 1 || len(out.ChangesOf(coupon.ChangeIssued)) != 0 {
		t.Fatalf("second registration: changes %+v", out.Changes)
	}
	var r coupon.Refusal
	if err := refused[0].Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Template != "welcome" || r.Cause != "out_of_stock" || r.Method != coupon.System || refused[0].Reason == nil || refused[0].Reason.Note == "" {
		t.Errorf("refusal %+v, reason %+v", r, refused[0].Reason)
	}
}

func TestCouponLevelGiftIssuesAndRefusals(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	order := func(id, member string) *change.Outcome {
		out, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "order", Time: at(t, "2026-05-01 10:00"),
			Attrs: event.Attrs{"amount": event.Dec(dec("150"))}})
		if err != nil {
			t.Fatalf("order %s: %v", id, err)
		}
		return out
	}
	out := order("o1", "m1")
	if got := out.ChangesOf(coupon.ChangeIssued); len(got) != 1 {
		t.Fatalf("upgrade gift: %d coupons issued; changes %v", len(got), couponKinds(out))
	}
	out = order("o2", "m2")
	got := out.ChangesOf(coupon.ChangeClaimRefused)
	if len(got) != 1 {
		t.Fatalf("second upgrade with the gift out of stock: changes %v", couponKinds(out))
	}
	var r coupon.Refusal
	if err := got[0].Decode(&r); err != nil || r.Cause != "out_of_stock" || r.Template != "gift" {
		t.Errorf("refusal %+v (%v)", r, err)
	}
	// The member reached gold: the gold-only template is now claimable.
	couponClaim(t, p, "g", "m2", "gold-only", "2026-05-01 11:00")
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "g3", Member: "m3", Template: "gold-only", At: at(t, "2026-05-01 11:00")}); !errors.Is(err, coupon.ErrNotEligible) {
		t.Errorf("non-gold member: %v, want ErrNotEligible", err)
	}
}

func couponKinds(out *change.Outcome) []string {
	var ks []string
	for _, c := range out.Changes {
		ks = append(ks, c.Kind)
	}
	return ks
}

func TestCouponCheckoutLockUseRelease(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	w := couponClaim(t, p, "w", "m1", "welcome", "2026-05-01 10:00")
	d := couponClaim(t, p, "d", "m1", "ten-off", "2026-05-01 10:00")
	f := couponClaim(t, p, "f", "m1", "flash", "2026-05-01 10:00")
	o := coupon.Order{ID: "o1", Member: "m1", Store: "s1", Time: at(t, "2026-05-01 12:00"),
		Lines: []coupon.Line{{Product: "a", Amount: dec("60")}, {Product: "b", Amount: dec("40")}}}
	prop, err := p.Coupons().Checkout(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range prop.Coupons {
		ids = append(ids, a.Coupon)
	}
	// welcome 10 then ten-off 10% of 90 = 9: 19, beating flash alone (5).
	if diff := cmp.Diff([]string{w.ID, d.ID}, ids); diff != "" || !prop.AmountOff.Equal(dec("19")) || len(prop.Evaluated) != 3 {
		t.Fatalf("proposal %v for %s (-want +got):\n%s", ids, prop.AmountOff, diff)
	}
	if prop.Coupons[0].Code != w.Code || w.Code == "" {
		t.Errorf("proposal carries code %q, want the coupon's %q", prop.Coupons[0].Code, w.Code)
	}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "bad", Order: o, Coupons: []string{w.ID, f.ID}}); !errors.Is(err, coupon.ErrNotCombinable) {
		t.Errorf("locking an exclusive coupon with another: %v", err)
	}
	lock, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: o, Coupons: ids})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lock.Outcome.ChangesOf(coupon.ChangeLocked)); n != 2 {
		t.Errorf("%d coupon.locked changes", n)
	}
	// The lock says what each coupon takes off: welcome 10, then ten-off
	// 10% of the 90 left.
	offs := map[string]string{}
	for _, c := range lock.Coupons {
		offs[c.ID] = c.AmountOff.String()
		if c.State != coupon.Locked || c.Order != "o1" {
			t.Errorf("locked coupon %s is %s for %q", c.ID, c.State, c.Order)
		}
	}
	if diff := cmp.Diff(map[string]string{w.ID: "10", d.ID: "9"}, offs); diff != "" || !lock.AmountOff.Equal(dec("19")) {
		t.Errorf("lock result: amount off %s, per coupon (-want +got):\n%s", lock.AmountOff, diff)
	}
	// Locked coupons are not offered to another order.
	o2 := o
	o2.ID = "o2"
	if prop, _ := p.Coupons().Checkout(ctx, o2); len(prop.Coupons) != 1 || prop.Coupons[0].Coupon != f.ID {
		t.Errorf("checkout of another order while locked: %+v", prop.Coupons)
	}
	out, err := p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: "rel", Order: "o1", At: at(t, "2026-05-01 12:05")})
	if err != nil || len(out.ChangesOf(coupon.ChangeReleased)) != 2 {
		t.Fatalf("release: %v", err)
	}
	o2.Time = at(t, "2026-05-01 12:05") // a lock cannot be dated before the release
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock2", Order: o2, Coupons: ids}); err != nil {
		t.Fatal(err)
	}
	out, err = p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use", Order: "o2", At: at(t, "2026-05-01 12:10")})
	if err != nil || len(out.ChangesOf(coupon.ChangeUsed)) != 2 {
		t.Fatalf("use: %v", err)
	}
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use-again", Order: "o2", At: at(t, "2026-05-01 12:10")}); !errors.Is(err, coupon.ErrNotFound) {
		t.Errorf("using an order's coupons twice: %v", err)
	}
	if _, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Coupon: f.ID, Operator: "ops1", Note: "duplicate", At: at(t, "2026-05-01 13:00")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rv2", Coupon: w.ID, Operator: "ops1", At: at(t, "2026-05-01 13:00")}); !errors.Is(err, coupon.ErrState) {
		t.Errorf("revoking a used coupon: %v", err)
	}
	r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 31}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]coupon.Stat{
		"crm":   {Issued: 2, Used: 2, AmountOff: dec("19")},
		"promo": {Issued: 1, Revoked: 1},
	}
	if diff := cmp.Diff(want, r.ByCostCentre); diff != "" {
		t.Errorf("statistics per cost centre (-want +got):\n%s", diff)
	}
	if got := r.ByStore["s1"]; got.Used != 2 || !got.AmountOff.Equal(dec("19")) {
		t.Errorf("store s1: %+v", got)
	}
}

func TestCouponRedeemByCode(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	c := couponClaim(t, p, "c", "m1", "welcome", "2026-05-01 10:00")
	o := coupon.Order{ID: "pos-1", Store: "s1", Time: at(t, "2026-05-02 10:00"), Lines: []coupon.Line{{Product: "a", Amount: dec("45")}}}
	typo := []byte(c.Code)
	typo[0] = map[bool]byte{true: '1', false: '2'}[typo[0] != '1']
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r0", Code: string(typo), Order: o}); !errors.Is(err, coupon.ErrBadCode) {
		t.Errorf("typo: %v, want ErrBadCode", err)
	}
	if _, err := p.Coupons().ByCode(ctx, string(typo)); !errors.Is(err, coupon.ErrBadCode) {
		t.Errorf("CouponByCode(typo): %v", err)
	}
	other, _ := coupon.NewCode(rand.NewChaCha8([32]byte{1}))
	if _, err := p.Coupons().ByCode(ctx, other); !errors.Is(err, coupon.ErrUnknownCode) {
		t.Errorf("CouponByCode(unknown): %v, want ErrUnknownCode", err)
	}
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: c.Code, Order: o}); !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("below the minimum: %v, want ErrNotApplicable", err)
	}
	o.Lines[0].Amount = dec("55")
	red, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r2", Code: coupon.FormatCode(c.Code), Via: coupon.ByQR, Order: o})
	if err != nil {
		t.Fatal(err)
	}
	got, out := red.Coupon, red.Outcome
	if got.State != coupon.Used || !got.AmountOff.Equal(dec("10")) || got.Store != "s1" || out.Member != "m1" {
		t.Errorf("redeemed %+v, outcome member %q", got, out.Member)
	}
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r3", Code: coupon.QR(c.Code), Order: o}); !errors.Is(err, coupon.ErrState) {
		t.Errorf("second redemption: %v, want ErrState", err)
	}
	byCode, err := p.Coupons().ByCode(ctx, c.QR())
	if err != nil || byCode.ID != c.ID {
		t.Errorf("CouponByCode(QR) = %+v, %v", byCode, err)
	}
}

func TestCouponPackThroughProgram(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	res, err := p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "p1", Member: "m1", Pack: "starter", At: at(t, "2026-05-01 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	out := res.Outcome
	if len(res.Coupons) != 3 || len(out.ChangesOf(coupon.ChangeIssued)) != 3 || len(out.ChangesOf(coupon.ChangePackIssued)) != 1 {
		t.Fatalf("first pack: %d coupons, changes %v", len(res.Coupons), couponKinds(out))
	}
	// welcome (stock 1) is gone: the all_invalid pack goes on without it.
	res, err = p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "p2", Member: "m2", Pack: "starter", At: at(t, "2026-05-01 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Coupons {
		names = append(names, c.Template)
	}
	if diff := cmp.Diff([]string{"ten-off", "ten-off"}, names); diff != "" {
		t.Errorf("second pack (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]coupon.PackItem{{Template: "welcome", Count: 1}}, res.Short); diff != "" {
		t.Errorf("short (-want +got):\n%s", diff)
	}
}

func TestCouponIssueToMembers(t *testing.T) {
	def := couponDef()
	def.Coupons.Templates[2].Stock = 2 // flash
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := coupon.IssueRequest{RequestID: "b1", Operator: "ops", Members: []string{"m1", "m2", "m3"}, Template: "flash", At: at(t, "2026-05-01 10:00")}
	res, err := p.Coupons().Issue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 2 || len(res.Refused) != 1 || !errors.Is(res.Refused["m3"], coupon.ErrOutOfStock) {
		t.Fatalf("issued %v, refused %v", res.Issued, res.Refused)
	}
	again, err := p.Coupons().Issue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.Issued, again.Issued); diff != "" {
		t.Errorf("retried bulk issue gave other coupons (-first +retry):\n%s", diff)
	}
	for _, m := range req.Members {
		cs, _ := p.Coupons().List(ctx, m)
		if len(cs) > 1 {
			t.Errorf("%s holds %d coupons after a retried bulk issue", m, len(cs))
		}
	}
}

func TestCouponRandomSourceIsInjected(t *testing.T) {
	draw := func() []coupon.Coupon {
		p := openCoupons(t, memory.New(), membership.WithRand(rand.NewChaCha8([32]byte{7})))
		var cs []coupon.Coupon
		for i := range 3 {
			cs = append(cs, couponClaim(t, p, fmt.Sprint("c", i), fmt.Sprint("m", i), "lucky", "2026-05-01 10:00"))
		}
		return cs
	}
	a, b := draw(), draw()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the same seeded source gave different coupons (-a +b):\n%s", diff)
	}
	if a[0].Code == a[1].Code || a[0].Amount.Equal(a[1].Amount) && a[1].Amount.Equal(a[2].Amount) {
		t.Errorf("codes or amounts repeat: %+v", a)
	}
}

// A code another coupon has is drawn again: the second claim's source
// gives the first coupon's code, then another. A source that gives codes
// in use over and over fails the claim, which changes nothing.
func TestCouponCodeInUseDrawnAgain(t *testing.T) {
	a, b := bytes.Repeat([]byte{0}, 10), bytes.Repeat([]byte{0xa5}, 10)
	codeOf := func(raw []byte) string {
		c, err := coupon.NewCode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	src := bytes.NewReader(slices.Concat(a, a, b, bytes.Repeat(a, 9)))
	p := openCoupons(t, memory.New(), membership.WithRand(src))
	ctx := context.Background()
	first := couponClaim(t, p, "c1", "m1", "flash", "2026-05-01 10:00")
	second := couponClaim(t, p, "c2", "m2", "flash", "2026-05-01 10:00")
	if first.Code != codeOf(a) || second.Code != codeOf(b) {
		t.Errorf("codes %s, %s; want %s, then %s drawn again", first.Code, second.Code, codeOf(a), codeOf(b))
	}
	n := couponFeedLen(t, p)
	_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c3", Member: "m3", Template: "flash", At: at(t, "2026-05-01 10:00")})
	if !errors.Is(err, coupon.ErrRandomSource) || refusedClaim(err) {
		t.Fatalf("nine codes in use: %v, want a failure wrapping ErrRandomSource that is not a refusal", err)
	}
	if cs, _ := p.Coupons().List(ctx, "m3"); len(cs) != 0 || couponFeedLen(t, p) != n {
		t.Errorf("a failed claim left %+v and %d changes", cs, couponFeedLen(t, p)-n)
	}
}

// refusedClaim reports whether err is one of a claim's refusals.
func refusedClaim(err error) bool {
	for _, r := range []error{coupon.ErrOutOfStock, coupon.ErrLimitReached, coupon.ErrNotEligible, coupon.ErrOutsidePeriod} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

func TestCouponDefinitionProblems(t *testing.T) {
	def := couponDef()
	def.Coupons.Templates[3].Min = dec("9") // lucky: min > max
	def.Coupons.Templates[2].Stock = -5     // flash
	def.Coupons.Packs[0].Items[0].Template = "missing"
	def.Coupons.Gifts[0].Event = "login"
	def.Levels.Ladder[1].Gifts = []rule.Reward{{Kind: rule.RewardCoupon, Template: "nope"}, {Kind: rule.RewardPack, Pack: "nopack"}}
	err := def.Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate = %v", err)
	}
	var paths []string
	for _, p := range ps.List {
		paths = append(paths, p.Path)
	}
	for _, want := range []string{
		"coupons.templates[3].max", "coupons.templates[2].stock", "coupons.packs[0].items[0].template", "coupons.gifts[0].event",
	} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem at %s in:\n%v", want, err)
		}
	}
	// Level gifts naming a missing template or pack are reported through
	// hasTemplate and hasPack.
	if n := len(slices.DeleteFunc(paths, func(p string) bool {
		return !slices.Contains([]string{"levels.ladder[1].gifts[0]", "levels.ladder[1].gifts[1]"}, p)
	})); n != 2 {
		t.Errorf("level gifts naming a missing template and pack: %d problems, want 2:\n%v", n, err)
	}
}

// A task's coupon reward is issued by the task method; a task rewarding a
// template the task method may not issue (staff: operators only) would be
// refused on every completion, so the definition is refused.
func TestCouponTaskRewardUsesTheTaskMethod(t *testing.T) {
	def := couponDef()
	def.Coupons.Templates = append(def.Coupons.Templates, coupon.Template{Name: "task-only", Type: coupon.Cash, Amount: dec("3"),
		Use: days(3), Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Task}}})
	def.Tasks = &task.Definition{Tasks: []task.Task{{
		Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
		Rewards: []rule.Reward{{Kind: rule.RewardCoupon, Template: "task-only"}, {Kind: rule.RewardCoupon, Template: "staff"}},
	}}}
	if _, err := membership.Open(memory.New(), def); !errors.Is(err, rule.ErrInvalidDefinition) || !errors.Is(err, coupon.ErrNotEligible) ||
		!strings.Contains(err.Error(), "tasks.tasks[0].rewards[1]") {
		t.Fatalf("a task rewarding an operators-only template: %v, want a problem at tasks.tasks[0].rewards[1]", err)
	}
	def.Tasks.Tasks[0].Rewards = def.Tasks.Tasks[0].Rewards[:1]
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Process(context.Background(), event.Event{ID: "o1", Member: "m1", Type: "order", Time: at(t, "2026-05-01 10:00"),
		Attrs: event.Attrs{"amount": event.Dec(dec("10"))}})
	if err != nil {
		t.Fatal(err)
	}
	issued := out.ChangesOf(coupon.ChangeIssued)
	if len(issued) != 1 {
		t.Fatalf("changes %v, want one coupon issued", couponKinds(out))
	}
	var c coupon.Coupon
	if err := issued[0].Decode(&c); err != nil || c.Method != coupon.Task || c.Template != "task-only" {
		t.Errorf("issued %+v (%v), want task-only by the task method", c, err)
	}
	if refused := out.ChangesOf(coupon.ChangeClaimRefused); len(refused) != 0 {
		t.Errorf("refusals %+v", refused)
	}
}

// Coupons given by a definition — a gift, a pack's item, a level gift, a
// task reward — are issued in the transaction of the event that earns
// them, as a claim's are: a count above MaxCount is refused as a claim's
// is, rather than issuing, say, a million coupons on every registration.
// MaxCount itself is taken.
func TestCouponDefinitionCountsUpToMaxCount(t *testing.T) {
	def := func(n int) membership.Definition {
		d := couponDef()
		// ten-off has no stock and no limits: MaxCount of it may be given.
		d.Coupons.Gifts[0].Template, d.Coupons.Gifts[0].Count = "ten-off", n
		d.Coupons.Packs[0].Items[1].Count = n
		d.Levels.Ladder[1].Gifts[0].Template, d.Levels.Ladder[1].Gifts[0].Count = "ten-off", n
		d.Tasks = &task.Definition{Tasks: []task.Task{{
			Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardCoupon, Template: "ten-off", Count: n}},
		}}}
		return d
	}
	if err := def(coupon.MaxCount).Validate(); err != nil {
		t.Fatalf("counts of MaxCount: %v", err)
	}
	err := def(coupon.MaxCount + 1).Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("counts of MaxCount+1: %v, want problems", err)
	}
	var paths []string
	for _, p := range ps.List {
		paths = append(paths, p.Path)
	}
	slices.Sort(paths)
	want := []string{"coupons.gifts[0].count", "coupons.packs[0].items[1].count", "levels.ladder[1].gifts[0]", "tasks.tasks[0].rewards[0]"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
}

// A gift, level gift or task reward of a pack gives one pack: a count
// above 1 on it was taken and ignored (a registration gift of "count": 3
// of a pack gave one), so it is refused where it is, as counts above
// MaxCount are. A count of 0 or 1 is one pack.
func TestCouponPackGiftCount(t *testing.T) {
	def := func(n int) membership.Definition {
		d := couponDef()
		d.Coupons.Gifts = append(d.Coupons.Gifts, coupon.Gift{Event: "register", Pack: "starter", Count: n})
		d.Levels.Ladder[1].Gifts = append(d.Levels.Ladder[1].Gifts, rule.Reward{Kind: rule.RewardPack, Pack: "starter", Count: n})
		d.Tasks = &task.Definition{Tasks: []task.Task{{
			Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPack, Pack: "starter", Count: n}},
		}}}
		return d
	}
	for _, n := range []int{0, 1} {
		if err := def(n).Validate(); err != nil {
			t.Errorf("pack gifts of count %d: %v", n, err)
		}
	}
	err := def(3).Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("pack gifts of count 3: %v, want problems", err)
	}
	var paths []string
	for _, p := range ps.List {
		paths = append(paths, p.Path)
	}
	slices.Sort(paths)
	want := []string{"coupons.gifts[1].count", "levels.ladder[1].gifts[1]", "tasks.tasks[0].rewards[0]"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
}

// A gift, level gift or task reward of more coupons than its template's
// stock or per-member limits allow would be refused on every grant (a
// refusal published, the coupons never issued), as one naming a template
// its method may not issue would: the definition is refused instead,
// naming the count. So is an any_invalid pack item of more coupons than
// its template's stock: the pack could never be given. lucky allows 2 a
// member and 1 a day; flash has a stock of 50.
func TestCouponDefinitionCountsNeverIssuable(t *testing.T) {
	def := func(perDay, perMember, stock int) membership.Definition {
		d := couponDef()
		d.Coupons.Gifts = append(d.Coupons.Gifts, coupon.Gift{Event: "register", Template: "lucky", Count: perDay})
		d.Levels.Ladder[1].Gifts = append(d.Levels.Ladder[1].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "lucky", Count: perMember})
		d.Coupons.Packs = append(d.Coupons.Packs, coupon.Pack{Name: "flash-pack", Mode: coupon.AnyInvalid,
			Items: []coupon.PackItem{{Template: "flash", Count: stock}}})
		d.Tasks = &task.Definition{Tasks: []task.Task{{
			Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardCoupon, Template: "welcome", Count: 1}},
		}}}
		return d
	}
	if err := def(1, 1, 50).Validate(); err != nil {
		t.Fatalf("counts within the limits and stock: %v", err)
	}
	d := def(2, 3, 51)
	d.Tasks.Tasks[0].Rewards[0].Count = 2 // welcome has a stock of 1
	err := d.Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("counts beyond: %v, want problems", err)
	}
	var paths []string
	for _, p := range ps.List {
		paths = append(paths, p.Path)
	}
	slices.Sort(paths)
	want := []string{"coupons.gifts[1].count", "coupons.packs[1].items[0].count", "levels.ladder[1].gifts[1]", "tasks.tasks[0].rewards[0]"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
	// An all_invalid pack gives what is left: its count may pass the stock.
	d = def(1, 1, 51)
	d.Coupons.Packs[1].Mode = coupon.AllInvalid
	if err := d.Validate(); err != nil {
		t.Errorf("an all_invalid pack item beyond its template's stock: %v", err)
	}
}

func TestCouponLockHoldRunsOut(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	a := couponClaim(t, p, "a", "m1", "flash", "2026-05-01 10:00") // valid until 24:00 on 1 May
	b := couponClaim(t, p, "b", "m1", "ten-off", "2026-05-01 10:00")
	lock := func(id, order, when string, c coupon.Coupon) {
		t.Helper()
		o := coupon.Order{ID: order, Member: "m1", Time: at(t, when), Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
		if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{c.ID}, Hold: 15 * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	states := func() map[string]coupon.State {
		cs, _ := p.Coupons().List(ctx, "m1")
		m := map[string]coupon.State{}
		for _, c := range cs {
			m[c.ID] = c.State
		}
		return m
	}
	lock("l1", "o1", "2026-05-01 12:00", b)
	lock("l2", "o2", "2026-05-01 23:50", a)
	if _, err := p.Advance(ctx, at(t, "2026-05-01 12:14")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]coupon.State{a.ID: coupon.Locked, b.ID: coupon.Locked}, states()); diff != "" {
		t.Errorf("before the hold ran out (-want +got):\n%s", diff)
	}
	if _, err := p.Advance(ctx, at(t, "2026-05-01 12:15")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]coupon.State{a.ID: coupon.Locked, b.ID: coupon.Available}, states()); diff != "" {
		t.Errorf("after o1's hold ran out (-want +got):\n%s", diff)
	}
	// a's validity ends at 24:00 while it is locked; its hold runs out at
	// 00:05, and it expires then rather than coming back.
	n := couponFeedLen(t, p)
	if _, err := p.Advance(ctx, at(t, "2026-05-02 01:00")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]coupon.State{a.ID: coupon.Expired, b.ID: coupon.Available}, states()); diff != "" {
		t.Errorf("after o2's hold ran out past the validity (-want +got):\n%s", diff)
	}
	f, _ := p.Feed(ctx, uint64(n), 10)
	if len(f) != 1 || f[0].Kind != coupon.ChangeExpired {
		t.Errorf("feed %+v, want one coupon.expired", f)
	}
	// A hold on an order that was paid does nothing.
	lock("l3", "o3", "2026-05-02 09:00", b)
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "u3", Order: "o3", At: at(t, "2026-05-02 09:01")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(t, "2026-05-02 10:00")); err != nil {
		t.Fatal(err)
	}
	if states()[b.ID] != coupon.Used {
		t.Errorf("a paid order's coupon is %s after its hold", states()[b.ID])
	}
}

// A coupon locked when its expiry falls due is left alone by it. A
// release dated before the expiry that arrives after Advance performed it
// gives the coupon back available: its expiry is due again, and the next
// Advance expires it. It used to stay available for good, never counted
// as expired.
func TestCouponReleasedLateExpiresStill(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00") // valid until 24:00 on 1 May
	o := coupon.Order{ID: "o1", Member: "m1", Time: at(t, "2026-05-01 23:00"), Lines: []coupon.Line{line("p", "", "20")}}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l", Order: o, Coupons: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(t, "2026-05-02 00:05")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: "r", At: at(t, "2026-05-01 23:59"), Order: "o1"}); err != nil {
		t.Fatal(err)
	}
	state := func() coupon.State {
		t.Helper()
		cs, err := p.Coupons().List(ctx, "m1")
		if err != nil || len(cs) != 1 {
			t.Fatalf("List = %+v, %v", cs, err)
		}
		return cs[0].State
	}
	if s := state(); s != coupon.Available {
		t.Fatalf("released at 23:59: %s, want available", s)
	}
	n := couponFeedLen(t, p)
	if _, err := p.Advance(ctx, at(t, "2026-05-02 00:10")); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != coupon.Expired {
		t.Errorf("after the next Advance: %s, want expired", s)
	}
	f, _ := p.Feed(ctx, uint64(n), 10)
	if len(f) != 1 || f[0].Kind != coupon.ChangeExpired || !f[0].Time.Equal(at(t, "2026-05-02 00:00")) {
		t.Errorf("feed %+v, want one coupon.expired at 24:00 on 1 May", f)
	}
	day := rule.Date{Year: 2026, Month: 5, Day: 2}
	r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{From: day, To: day})
	if err != nil || r.Total.Expired != 1 || r.Total.Issued+r.Total.Used+r.Total.Revoked != 0 {
		t.Errorf("2 May statistics %+v, %v; want one expired", r.Total, err)
	}
}

// A hold belongs to the lock that set it: an order locked again (after a
// release, or to lock its coupons anew) keeps its coupons until the new
// lock's hold runs out, and a lock without a hold keeps them for good. The
// earlier lock's hold used to release them when it ran out: the due item
// named the order only, so a checkout still within its hold lost its
// coupons, and its Use failed.
func TestCouponHoldOfAnEarlierLock(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
	lock := func(id, order, when string, hold time.Duration) {
		t.Helper()
		o := coupon.Order{ID: order, Member: "m1", Time: at(t, when), Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
		if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{c.ID}, Hold: hold}); err != nil {
			t.Fatal(err)
		}
	}
	release := func(id, order, when string) {
		t.Helper()
		if _, err := p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: id, Order: order, At: at(t, when)}); err != nil {
			t.Fatal(err)
		}
	}
	state := func(when string) coupon.State {
		t.Helper()
		if _, err := p.Advance(ctx, at(t, when)); err != nil {
			t.Fatal(err)
		}
		cs, err := p.Coupons().List(ctx, "m1")
		if err != nil || len(cs) != 1 {
			t.Fatalf("%v, %v", cs, err)
		}
		return cs[0].State
	}
	// Locked, released, locked again: the first hold runs out at 12:15,
	// the second at 12:25.
	lock("l1", "o1", "2026-05-01 12:00", 15*time.Minute)
	release("r1", "o1", "2026-05-01 12:05")
	lock("l2", "o1", "2026-05-01 12:10", 15*time.Minute)
	if s := state("2026-05-01 12:20"); s != coupon.Locked {
		t.Errorf("after the first lock's hold ran out, the second's not: %s, want locked", s)
	}
	if s := state("2026-05-01 12:25"); s != coupon.Available {
		t.Errorf("after the second lock's hold ran out: %s, want available", s)
	}
	// Locked again while locked for the same order, with a later hold.
	lock("l3", "o2", "2026-05-01 13:00", 15*time.Minute)
	lock("l4", "o2", "2026-05-01 13:10", 15*time.Minute)
	if s := state("2026-05-01 13:20"); s != coupon.Locked {
		t.Errorf("after the first hold of a lock made again ran out: %s, want locked", s)
	}
	if s := state("2026-05-01 13:25"); s != coupon.Available {
		t.Errorf("after the hold of the lock made again ran out: %s, want available", s)
	}
	// Locked with a hold, released, locked again without one: it stays.
	lock("l5", "o3", "2026-05-01 14:00", 15*time.Minute)
	release("r5", "o3", "2026-05-01 14:01")
	lock("l6", "o3", "2026-05-01 14:02", 0)
	if s := state("2026-05-01 15:00"); s != coupon.Locked {
		t.Errorf("a lock without a hold, after an earlier lock's hold ran out: %s, want locked", s)
	}
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "u6", Order: "o3", At: at(t, "2026-05-01 15:01")}); err != nil {
		t.Errorf("Use: %v", err)
	}
}

// An order's coupons are locked together: a Lock of an order that holds
// coupons locked by an earlier Lock must name them too, so that the
// stacking rules hold for the order as a whole. Two Locks (two checkouts
// of one order at once, say) used to lock two exclusive coupons, or two
// of one template, for one order, and Use took both off; and a Lock of
// another member's order joined it, so that its Use used that member's
// coupons too.
func TestCouponOrderLockedTogether(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	f1 := couponClaim(t, p, "f1", "m1", "flash", "2026-05-01 10:00")
	f2 := couponClaim(t, p, "f2", "m1", "flash", "2026-05-01 10:01")
	w := couponClaim(t, p, "w", "m1", "welcome", "2026-05-01 10:02")
	t1 := couponClaim(t, p, "t1", "m1", "ten-off", "2026-05-01 10:03")
	other := couponClaim(t, p, "o", "m2", "flash", "2026-05-01 10:04")
	lock := func(id string, o coupon.Order, cs ...coupon.Coupon) error {
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		_, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: ids})
		return err
	}
	o := orderOf(t, "o1", "80")
	if err := lock("l1", o, f1); err != nil {
		t.Fatal(err)
	}
	// A second exclusive coupon, in a Lock of its own: refused.
	if err := lock("l2", o, f2); !errors.Is(err, coupon.ErrState) {
		t.Errorf("a second Lock of an exclusive coupon for the order: %v, want ErrState", err)
	} else if n := strings.Count(err.Error(), "lock for o1"); n != 1 {
		t.Errorf("the refusal %q names the lock %d times, want once", err, n)
	}
	// Another member's order of the same ID: refused.
	o2 := o
	o2.Member = "m2"
	if err := lock("l3", o2, other); !errors.Is(err, coupon.ErrState) {
		t.Errorf("another member's Lock of the order: %v, want ErrState", err)
	}
	// The same coupon locked again (a checkout retried under a new
	// request ID) is the same lock.
	if err := lock("l4", o, f1); err != nil {
		t.Errorf("the order's coupon locked again: %v", err)
	}
	out, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "u1", Order: "o1", At: at(t, "2026-05-01 12:01")})
	if err != nil {
		t.Fatal(err)
	}
	ef, err := coupon.EffectsOf(out)
	if err != nil || len(ef.Used) != 1 || ef.Used[0].ID != f1.ID {
		t.Errorf("o1 used %+v (%v), want %s alone", ef.Used, err, f1.ID)
	}
	for _, c := range []coupon.Coupon{f2, other} {
		cs, _ := p.Coupons().List(ctx, c.Member)
		for _, got := range cs {
			if got.ID == c.ID && got.State != coupon.Available {
				t.Errorf("%s is %s, want available", c.ID, got.State)
			}
		}
	}
	// Coupons of one group locked in two Locks: the second must name both,
	// and then they combine as one lock.
	o3 := orderOf(t, "o3", "80")
	if err := lock("l5", o3, w); err != nil {
		t.Fatal(err)
	}
	if err := lock("l6", o3, t1); !errors.Is(err, coupon.ErrState) {
		t.Errorf("a Lock leaving out the order's locked coupon: %v, want ErrState", err)
	}
	if err := lock("l7", o3, w, t1); err != nil {
		t.Errorf("a Lock naming the order's locked coupon and another: %v", err)
	}
}

// Redemptions by code against one order keep its stacking rules with the
// coupons used for it before: a second exclusive coupon, or a second of
// one template, is refused; coupons of one group combine; an order whose
// coupons are locked, or that another member's coupon was used for, takes
// no redemption; and a Lock of an order that used coupons is refused.
// Each redemption used to be checked alone, so a till scanning two
// exclusive coupons for one order took both off.
func TestCouponRedeemKeepsTheOrdersStacking(t *testing.T) {
	p := openCoupons(t, memory.New())
	ctx := context.Background()
	h := p.Coupons()
	f1 := couponClaim(t, p, "f1", "m1", "flash", "2026-05-01 10:00")
	f2 := couponClaim(t, p, "f2", "m1", "flash", "2026-05-01 10:01")
	w := couponClaim(t, p, "w", "m1", "welcome", "2026-05-01 10:02")
	t1 := couponClaim(t, p, "t1", "m1", "ten-off", "2026-05-01 10:03")
	t2 := couponClaim(t, p, "t2", "m1", "ten-off", "2026-05-01 10:04")
	g := couponClaim(t, p, "g", "m1", "gift", "2026-05-01 10:05")
	other := couponClaim(t, p, "o", "m2", "lucky", "2026-05-01 10:06")
	redeem := func(id string, c coupon.Coupon, order string) (coupon.RedeemResult, error) {
		o := orderOf(t, order, "80")
		o.Member = ""
		return h.Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o})
	}
	if _, err := redeem("r1", f1, "o1"); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem("r2", f2, "o1"); !errors.Is(err, coupon.ErrNotCombinable) {
		t.Errorf("a second exclusive coupon for o1: %v, want ErrNotCombinable", err)
	}
	if _, err := redeem("r3", other, "o1"); !errors.Is(err, coupon.ErrState) {
		t.Errorf("another member's coupon for o1: %v, want ErrState", err)
	}
	if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: orderOf(t, "o1", "80"), Coupons: []string{f2.ID}}); !errors.Is(err, coupon.ErrState) {
		t.Errorf("a Lock of o1 once it used a coupon: %v, want ErrState", err)
	}
	// One group: welcome (10 off) and ten-off combine, one of each.
	if _, err := redeem("r4", w, "o2"); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem("r5", t1, "o2"); err != nil {
		t.Errorf("a coupon of the same group for o2: %v", err)
	}
	if _, err := redeem("r6", t2, "o2"); !errors.Is(err, coupon.ErrNotCombinable) {
		t.Errorf("a second ten-off for o2: %v, want ErrNotCombinable", err)
	}
	// An order in checkout takes no redemption.
	if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: orderOf(t, "o3", "80"), Coupons: []string{f2.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem("r7", g, "o3"); !errors.Is(err, coupon.ErrState) {
		t.Errorf("a redemption for o3 while it holds a lock: %v, want ErrState", err)
	}
	for _, c := range []coupon.Coupon{t2, g, other} {
		cs, _ := h.List(ctx, c.Member)
		for _, got := range cs {
			if got.ID == c.ID && got.State != coupon.Available {
				t.Errorf("%s is %s, want available", c.ID, got.State)
			}
		}
	}
}

// A member's coupons are listed, locked and used in issue order, which is
// not the order of their IDs' bytes once the member holds ten: "c10.m"
// comes after "c9.m", not after "c1.m".
func TestCouponIssueOrderPastNine(t *testing.T) {
	var ts []coupon.Template
	for i := range 12 {
		ts = append(ts, coupon.Template{Name: fmt.Sprintf("g%02d", i), Type: coupon.Cash, Amount: dec("1"), Use: days(30), Group: "g"})
	}
	st := memory.New()
	p, err := membership.Open(st, membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{Templates: ts}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	h := p.Coupons()
	// Another member's coupon first: each member counts its own.
	if c := couponClaim(t, p, "other", "n", "g00", "2026-05-01 09:00"); c.ID != "c1.n" {
		t.Errorf("n's first coupon is %s, want c1.n", c.ID)
	}
	// Issued in reverse template order, so that neither the templates'
	// names nor the codes give issue order.
	for i := 11; i >= 0; i-- {
		couponClaim(t, p, fmt.Sprint("claim-", i), "m", fmt.Sprintf("g%02d", i), "2026-05-01 10:00")
	}
	want := []string{"c1.m", "c2.m", "c3.m", "c4.m", "c5.m", "c6.m", "c7.m", "c8.m", "c9.m", "c10.m", "c11.m", "c12.m"}
	list, err := h.List(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(list)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if list[9].Template != "g02" {
		t.Errorf("c10.m is of %s, want g02 (the tenth issued)", list[9].Template)
	}
	live, err := h.Live(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(live)); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
	// Byte order, given as the lock's order: the lock applies them in
	// issue order, and using the order publishes them in issue order.
	byBytes := slices.Clone(want)
	slices.Sort(byBytes)
	o := coupon.Order{ID: "o1", Member: "m", Time: at(t, "2026-05-02 10:00"), Lines: []coupon.Line{line("a", "", "100")}}
	lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: o, Coupons: byBytes})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(lock.Coupons)); diff != "" || !lock.AmountOff.Equal(dec("12")) {
		t.Errorf("Lock: %s off (-want +got IDs):\n%s", lock.AmountOff, diff)
	}
	out, err := h.Use(ctx, coupon.OrderRequest{RequestID: "use", Order: "o1", At: at(t, "2026-05-02 10:01")})
	if err != nil {
		t.Fatal(err)
	}
	ef, err := coupon.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(ef.Used)); diff != "" {
		t.Errorf("Use (-want +got):\n%s", diff)
	}
}
