package coupon_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
)

// ids returns the coupons' IDs.
func ids(cs []coupon.Coupon) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// inZone fails t unless every time of every coupon is in loc.
func inZone(t *testing.T, what string, loc *time.Location, cs ...coupon.Coupon) {
	t.Helper()
	for _, c := range cs {
		for _, tm := range []time.Time{c.IssuedAt, c.Expires, c.Changed} {
			if tm.Location().String() != loc.String() {
				t.Errorf("%s: coupon %s has a time in %s, want %s", what, c.ID, tm.Location(), loc)
			}
		}
	}
}

// EffectsOf reads every coupon change of an outcome into typed values:
// what claims, packs, gifts, rewards, checkout, redemption, revocation and
// expiry did, each coupon as it was after the change, in the program's
// zone; other domains' changes are skipped.
func TestEffectsOf(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	utc := func(s string) time.Time { return at(t, s).UTC() } // requests in another zone
	effects := func(out *change.Outcome) coupon.Effects {
		t.Helper()
		ef, err := coupon.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		return ef
	}

	// A registration gift, then a second one refused (welcome's stock is 1).
	reg := mustProcess(t, p, event.Event{ID: "e1", Member: "m1", Type: "register", Time: utc("2026-05-01 09:00")})
	ef := effects(reg)
	if diff := cmp.Diff([]string{"c1.m1"}, ids(ef.Issued)); diff != "" || ef.Issued[0].Template != "welcome" || ef.Issued[0].Method != coupon.System {
		t.Errorf("gift: issued %+v (-want +got IDs):\n%s", ef.Issued, diff)
	}
	inZone(t, "gift", p.Location(), ef.Issued...)
	ef = effects(mustProcess(t, p, event.Event{ID: "e2", Member: "m2", Type: "register", Time: utc("2026-05-01 09:00")}))
	want := []coupon.Refusal{{Template: "welcome", Method: coupon.System, Cause: "out_of_stock"}}
	if len(ef.Refused) != 1 || len(ef.Issued) != 0 || ef.Refused[0].Error == "" {
		t.Fatalf("refused gift: %+v", ef)
	}
	ef.Refused[0].Error = ""
	if diff := cmp.Diff(want, ef.Refused); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}

	// An upgrade gift comes with the level's changes, which are skipped.
	up := mustProcess(t, p, event.Event{ID: "o1", Member: "m1", Type: "order", Time: utc("2026-05-01 09:30"),
		Attrs: event.Attrs{"amount": event.Dec(dec("150"))}})
	if ef := effects(up); len(up.Changes) <= 1 || len(ef.Issued) != 1 || ef.Issued[0].ID != "c2.m1" || ef.Issued[0].Template != "gift" {
		t.Errorf("upgrade gift: %d changes, effects %+v", len(up.Changes), ef)
	}

	// A pack: its coupons are issued, and the pack lists them.
	pack, err := h.ClaimPack(ctx, coupon.PackRequest{RequestID: "p", Member: "m1", At: utc("2026-05-01 10:00"), Pack: "starter"})
	if err != nil {
		t.Fatal(err)
	}
	ef = effects(pack.Outcome)
	if len(ef.Packs) != 1 || !cmp.Equal(ids(ef.Issued), ids(ef.Packs[0].Coupons)) || !cmp.Equal([]string{"c3.m1", "c4.m1"}, ids(pack.Coupons)) {
		t.Errorf("pack: issued %v, pack %+v, result %v", ids(ef.Issued), ef.Packs, ids(pack.Coupons))
	}
	if diff := cmp.Diff([]coupon.PackItem{{Template: "welcome", Count: 1}}, pack.Short); diff != "" {
		t.Errorf("pack short (-want +got):\n%s", diff)
	}
	inZone(t, "pack", p.Location(), pack.Coupons...)
	inZone(t, "pack in effects", p.Location(), ef.Packs[0].Coupons...)

	// Checkout: lock c2.m1 (15 off) for an order of 100, release it, lock it
	// again for another order and use it.
	o := coupon.Order{ID: "o1", Member: "m1", Time: utc("2026-05-01 11:00"), Lines: []coupon.Line{{Product: "p", Amount: dec("100")}}}
	lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{"c2.m1"}})
	if err != nil {
		t.Fatal(err)
	}
	ef = effects(lock.Outcome)
	if len(ef.Locked) != 1 || !ef.Locked[0].AmountOff.Equal(dec("15")) || ef.Locked[0].State != coupon.Locked || !lock.AmountOff.Equal(dec("15")) {
		t.Errorf("lock: %+v, result amount off %s", ef.Locked, lock.AmountOff)
	}
	inZone(t, "lock", p.Location(), lock.Coupons...)
	rel, err := h.Release(ctx, coupon.OrderRequest{RequestID: "r1", At: utc("2026-05-01 11:05"), Order: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if ef := effects(rel); len(ef.Released) != 1 || ef.Released[0].State != coupon.Available || !ef.Released[0].AmountOff.IsZero() {
		t.Errorf("release: %+v", ef.Released)
	}
	o.ID, o.Time = "o2", utc("2026-05-01 11:05") // not before the release
	if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: o, Coupons: []string{"c2.m1"}}); err != nil {
		t.Fatal(err)
	}
	use, err := h.Use(ctx, coupon.OrderRequest{RequestID: "u2", At: utc("2026-05-01 11:10"), Order: "o2"})
	if err != nil {
		t.Fatal(err)
	}
	if ef := effects(use); len(ef.Used) != 1 || ef.Used[0].State != coupon.Used || !ef.Used[0].AmountOff.Equal(dec("15")) || ef.Used[0].Order != "o2" {
		t.Errorf("use: %+v", ef.Used)
	}

	// Redemption and revocation.
	live, err := h.Live(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	inZone(t, "live", p.Location(), live...)
	if diff := cmp.Diff([]string{"c1.m1", "c3.m1", "c4.m1"}, ids(live)); diff != "" {
		t.Errorf("live coupons (-want +got):\n%s", diff)
	}
	byCode, err := h.ByCode(ctx, live[0].Code)
	if err != nil || byCode.ID != "c1.m1" {
		t.Fatalf("ByCode = %+v, %v", byCode, err)
	}
	inZone(t, "by code", p.Location(), byCode)
	red, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "x", Code: byCode.Code, Order: coupon.Order{ID: "pos", Store: "s1", Time: utc("2026-05-01 12:00"),
		Lines: []coupon.Line{{Product: "p", Amount: dec("60")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if ef := effects(red.Outcome); len(ef.Used) != 1 || ef.Used[0].ID != "c1.m1" || !red.Coupon.AmountOff.Equal(dec("10")) || red.Coupon.Store != "s1" {
		t.Errorf("redeem: %+v, result %+v", ef.Used, red.Coupon)
	}
	inZone(t, "redeem", p.Location(), red.Coupon)
	rv, err := h.Revoke(ctx, coupon.RevokeRequest{RequestID: "v", Operator: "ops", Note: "test", At: utc("2026-05-01 12:30"), Coupon: "c3.m1"})
	if err != nil {
		t.Fatal(err)
	}
	if ef := effects(rv); len(ef.Revoked) != 1 || ef.Revoked[0].ID != "c3.m1" || ef.Revoked[0].Note != "test" || rv.Member != "m1" {
		t.Errorf("revoke: %+v, outcome member %q", ef.Revoked, rv.Member)
	}

	// Expiry is due work: its changes are read from the feed.
	n := couponFeedLen(t, p)
	if _, err := p.Advance(ctx, at(t, "2026-06-01 00:00")); err != nil {
		t.Fatal(err)
	}
	feed, err := p.Feed(ctx, uint64(n), 100)
	if err != nil {
		t.Fatal(err)
	}
	ef = effects(&change.Outcome{Changes: feed})
	if diff := cmp.Diff([]string{"c4.m1"}, ids(ef.Expired)); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	inZone(t, "expiry", p.Location(), ef.Expired...)

	if ef, err := coupon.EffectsOf(nil); err != nil || len(ef.Issued) != 0 {
		t.Errorf("EffectsOf(nil) = %+v, %v", ef, err)
	}
	bad := &change.Outcome{Event: "x", Changes: []change.Change{{Kind: coupon.ChangeLocked, Data: []byte(`{"id":`)}}}
	if _, err := coupon.EffectsOf(bad); err == nil {
		t.Error("EffectsOf read a change whose data does not decode")
	}
}

func mustProcess(t testing.TB, p *membership.Program, ev event.Event) *change.Outcome {
	t.Helper()
	out, err := p.Process(context.Background(), ev)
	if err != nil {
		t.Fatalf("Process(%s): %v", ev.ID, err)
	}
	return out
}
