package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// TestReplayRefusalNames checks that a refusal under a changed definition
// names the request's ID (and its member, when it names one) for every
// shape of request, including those whose "order" is not an order object:
// a points + cash redemption (an order amount) and the use of an order's
// locked coupons (an order ID).
//
// The source: alice registers (a "vip" coupon, c1), orders 200 (200
// points), pays an order of 1.50 with points + cash at 0.01 a point (up to
// all of it: 150 points), locks c1 on order b1 and uses it. The changed
// program has no gift and no earning rule: the redemption finds no points,
// the lock no counterpart of c1, and the use no locked coupon.
func TestReplayRefusalNames(t *testing.T) {
	ctx := context.Background()
	const js = `{
	  "zone": "Asia/Shanghai",
	  "events": [{"name": "register"}, {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
	  "points": {"programs": [{"name": "mall", "payment": {"rate": "0.01", "max_share": "1"}}],
	    "rules": [{"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]},
	  "coupons": {"templates": [{"name": "vip", "type": "cash", "amount": "5", "use": {"validity": {"kind": "days_after", "n": 30}}}],
	    "gifts": [{"event": "register", "template": "vip"}]}
	}`
	actual, err := membership.ParseDefinition([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := membership.ParseDefinition([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	changed.Points.Rules, changed.Coupons.Gifts = nil, nil

	src := memory.New()
	t.Cleanup(func() { src.Close() })
	p, err := membership.Open(src, actual, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, p.Location()) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Process(ctx, event.Event{ID: "reg", Member: "alice", Type: "register", Time: day(1)}))
	must(p.Process(ctx, event.Event{ID: "o1", Member: "alice", Type: "order", Time: day(1).Add(time.Hour), Attrs: event.Attrs{"amount": event.DecString("200")}}))
	must(p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "pay", Member: "alice", At: day(2), Program: "mall", Ref: "b0",
		Order: decimal.RequireFromString("1.50")}))
	lines := []coupon.Line{{Product: "tea", Amount: decimal.NewFromInt(50)}}
	must(p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: coupon.Order{ID: "b1", Member: "alice", Time: day(3), Lines: lines}, Coupons: []string{"c1.alice"}}))
	must(p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use", At: day(3), Order: "b1"}))

	q, err := membership.Open(memory.New(), changed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.ReplayWith(ctx, src, membership.ReplayOptions{Changed: true})
	if err != nil {
		t.Fatal(err)
	}
	type named struct{ Action, ID, Member string }
	var got []named
	for _, rf := range res.Refused {
		got = append(got, named{rf.Action, rf.ID, rf.Member})
	}
	want := []named{{"points.redeem", "pay", "alice"}, {"coupon.lock", "lock", "alice"}, {"coupon.use", "use", ""}}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
		for _, rf := range res.Refused {
			t.Logf("%s %s: %v", rf.Action, rf.ID, rf.Err)
		}
	}
}
