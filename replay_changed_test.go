package membership_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// changedDefs returns a program (a point a yuan; a "vip" coupon for
// registering) and a changed one (half a point a yuan; two "welcome"
// coupons for registering, no "vip").
func changedDefs(tb testing.TB) (actual, changed membership.Definition) {
	tb.Helper()
	const js = `{
	  "zone": "Asia/Shanghai",
	  "events": [{"name": "register"}, {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
	  "points": {"programs": [{"name": "mall"}],
	    "rules": [{"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]},
	  "coupons": {"templates": [
	    {"name": "ten", "type": "cash", "amount": "10", "use": {"validity": {"kind": "days_after", "n": 30}}},
	    {"name": "vip", "type": "cash", "amount": "5", "use": {"validity": {"kind": "days_after", "n": 30}}},
	    {"name": "welcome", "type": "cash", "amount": "3", "use": {"validity": {"kind": "days_after", "n": 30}}}],
	    "gifts": [{"event": "register", "template": "vip"}]}
	}`
	var err error
	if actual, err = membership.ParseDefinition([]byte(js)); err != nil {
		tb.Fatal(err)
	}
	if changed, err = membership.ParseDefinition([]byte(js)); err != nil {
		tb.Fatal(err)
	}
	changed.Points.Rules[0].Formula.Rate = decimal.RequireFromString("0.5")
	changed.Coupons.Gifts = []coupon.Gift{{Event: "register", Template: "welcome", Count: 2}}
	return actual, changed
}

// changedSource runs alice's history on the actual program with the
// journal: she registers (vip: c1), orders 200 (200 points), claims two
// "ten" coupons (c2, c3), uses c2 on an order, redeems c3 by its QR code,
// spends 150 points; an operator revokes her vip coupon; she orders 40.
func changedSource(t *testing.T, actual membership.Definition) (*membership.Program, *memory.Store) {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, actual, membership.WithJournal(), membership.WithRand(rand.NewChaCha8([32]byte{1})))
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
	must(p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim", Member: "alice", At: day(2), Template: "ten", Count: 2}))
	lines := []coupon.Line{{Product: "tea", Amount: decimal.NewFromInt(50)}}
	must(p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: coupon.Order{ID: "b1", Member: "alice", Time: day(3), Lines: lines}, Coupons: []string{"c2.alice"}}))
	must(p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use", At: day(3), Order: "b1"}))
	c3, err := p.Coupons().ByCode(ctx, mustCode(t, p, "c3.alice"))
	must(c3, err)
	must(p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "qr", Code: c3.QR(), Via: coupon.ByQR, Order: coupon.Order{ID: "b2", Time: day(4), Lines: lines}}))
	must(p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "mall", Member: "alice", At: day(5), Program: "mall", Ref: "gift-1", Amount: decimal.NewFromInt(150)}))
	must(p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Operator: "op.li", At: day(6), Coupon: "c1.alice"}))
	must(p.Process(ctx, event.Event{ID: "o2", Member: "alice", Type: "order", Time: day(7), Attrs: event.Attrs{"amount": event.DecString("40")}}))
	return p, st
}

func mustCode(t *testing.T, p *membership.Program, id string) string {
	t.Helper()
	cs, err := p.Coupons().List(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c.Code
		}
	}
	t.Fatalf("alice has no coupon %s", id)
	return ""
}

type held struct{ ID, Template, State string }

func couponsOf(t *testing.T, p *membership.Program) []held {
	t.Helper()
	cs, err := p.Coupons().List(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	var out []held
	for _, c := range cs {
		out = append(out, held{c.ID, c.Template, string(c.State)})
	}
	return out
}

func pointsOf(t *testing.T, p *membership.Program) string {
	t.Helper()
	// The points are permanent: any time after the history counts them all.
	b, err := p.Points().Balance(context.Background(), points.BalanceQuery{Program: "mall", Member: "alice", At: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return b.Available.String()
}

// TestReplayChanged replays alice's history under the changed program.
// Worked by hand: registering gives her two welcome coupons (c1, c2), so
// her two "ten" coupons are c3 and c4; the lock of the source's c2 (her
// first "ten") locks c3, the QR code of the source's c3 (her second)
// redeems c4; o1 earns 100 points, so spending 150 is refused and the
// replay goes on; the revocation of the vip coupon, which the changed
// program never issued, is refused with ErrNoCounterpart; o2 earns 20:
// 120 points. Nine inputs, seven applied.
func TestReplayChanged(t *testing.T) {
	ctx := context.Background()
	actual, changed := changedDefs(t)
	src, from := changedSource(t, actual)
	if d := cmp.Diff([]held{{"c1.alice", "vip", "revoked"}, {"c2.alice", "ten", "used"}, {"c3.alice", "ten", "used"}}, couponsOf(t, src)); d != "" {
		t.Fatalf("source's coupons (-want +got):\n%s", d)
	}
	if got := pointsOf(t, src); got != "90" {
		t.Fatalf("source's points: %s, want 90", got)
	}

	// The plain replay refuses the changed definition.
	p, err := membership.Open(memory.New(), changed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Replay(ctx, from, nil); !errors.Is(err, membership.ErrDefinitionConflict) {
		t.Fatalf("plain replay under the changed definition: %v, want ErrDefinitionConflict", err)
	}

	var seen []uint64
	res, err := p.ReplayWith(ctx, from, membership.ReplayOptions{Changed: true, Progress: func(done, total uint64) {
		if total != 9 {
			t.Errorf("progress total %d, want 9", total)
		}
		seen = append(seen, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, seen); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
	if res.Applied != 7 || res.Last != 9 || len(res.Refused) != 2 {
		t.Fatalf("applied %d, last %d, refused %+v; want 7, 9, 2 refusals", res.Applied, res.Last, res.Refused)
	}
	r0, r1 := res.Refused[0], res.Refused[1]
	if r0.Seq != 7 || r0.Action != "points.redeem" || r0.ID != "mall" || r0.Member != "alice" || !errors.Is(r0.Err, membership.ErrInsufficientBalance) {
		t.Errorf("first refusal %+v, want input 7, points.redeem mall of alice, ErrInsufficientBalance", r0)
	}
	if r1.Seq != 8 || r1.Action != "coupon.revoke" || r1.ID != "rv" || !errors.Is(r1.Err, membership.ErrNoCounterpart) {
		t.Errorf("second refusal %+v, want input 8, coupon.revoke rv, ErrNoCounterpart", r1)
	}
	want := []held{{"c1.alice", "welcome", "available"}, {"c2.alice", "welcome", "available"}, {"c3.alice", "ten", "used"}, {"c4.alice", "ten", "used"}}
	if d := cmp.Diff(want, couponsOf(t, p)); d != "" {
		t.Errorf("changed coupons (-want +got):\n%s", d)
	}
	if got := pointsOf(t, p); got != "120" {
		t.Errorf("changed points: %s, want 120", got)
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
	// The source is untouched.
	if n, err := func() (uint64, error) {
		q, err := membership.Open(memory.New(), actual)
		if err != nil {
			return 0, err
		}
		return q.Replay(ctx, from, nil)
	}(); err != nil || n != 9 {
		t.Errorf("replaying the source again: %d inputs, %v", n, err)
	}
}

// TestReplayInParts replays the journal up to a time and then the rest
// (Until, then After): the state is the whole replay's. A second part
// without After is refused (the store is not empty). Through stops at an
// input.
func TestReplayInParts(t *testing.T) {
	ctx := context.Background()
	actual, _ := changedDefs(t)
	src, from := changedSource(t, actual)
	p, err := membership.Open(memory.New(), actual)
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Date(2026, 3, 4, 0, 0, 0, 0, p.Location())
	first, err := p.ReplayWith(ctx, from, membership.ReplayOptions{Until: cut})
	if err != nil {
		t.Fatal(err)
	}
	// register, o1, claim, lock, use: five inputs before 4 March.
	if first.Applied != 5 || first.Last != 5 {
		t.Fatalf("first part: applied %d, last %d; want 5, 5", first.Applied, first.Last)
	}
	if got := pointsOf(t, p); got != "200" {
		t.Errorf("points after the first part: %s, want 200", got)
	}
	if _, err := p.ReplayWith(ctx, from, membership.ReplayOptions{}); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("second part without After: %v, want ErrInvalidArgument", err)
	}
	rest, err := p.ReplayWith(ctx, from, membership.ReplayOptions{After: first.Last})
	if err != nil {
		t.Fatal(err)
	}
	if rest.Applied != 4 || rest.Last != 9 {
		t.Errorf("second part: applied %d, last %d; want 4, 9", rest.Applied, rest.Last)
	}
	if d := cmp.Diff(couponsOf(t, src), couponsOf(t, p)); d != "" {
		t.Errorf("coupons (-source +replay):\n%s", d)
	}
	if got := pointsOf(t, p); got != "90" {
		t.Errorf("points: %s, want 90", got)
	}

	// Through ends a replay at an input: register and o1, 200 points.
	q, err := membership.Open(memory.New(), actual)
	if err != nil {
		t.Fatal(err)
	}
	two, err := q.ReplayWith(ctx, from, membership.ReplayOptions{Through: 2})
	if err != nil {
		t.Fatal(err)
	}
	if two.Applied != 2 || two.Last != 2 || pointsOf(t, q) != "200" {
		t.Errorf("through input 2: applied %d, last %d, %s points; want 2, 2, 200", two.Applied, two.Last, pointsOf(t, q))
	}
}
