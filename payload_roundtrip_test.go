package membership_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// payloadTypes is each change kind's payload type, as the publishing
// package documents it (nil: no payload).
var payloadTypes = map[string]any{
	change.RuleSkipped:  change.Skip{},
	change.MemberErased: nil,

	level.ChangeLevel: level.LevelChange{}, level.ChangeGrowth: level.GrowthChange{},
	level.ChangeGift: level.Gift{}, level.ChangeOwed: level.Gift{}, level.ChangeGiftDropped: level.Gift{},
	level.ChangeFrozen: level.FreezeChange{}, level.ChangeUnfrozen: level.FreezeChange{},
	level.ChangePlanPurchased: level.PlanChange{}, level.ChangePlanExpired: level.PlanChange{},

	points.ChangeOpened: points.Change{}, points.ChangeEarned: points.Change{}, points.ChangePending: points.Change{},
	points.ChangeReleased: points.Change{}, points.ChangeBlocked: points.Change{}, points.ChangeFrozen: points.Change{},
	points.ChangeRestored: points.Change{}, points.ChangeVoided: points.Change{}, points.ChangeRedeemed: points.Change{},
	points.ChangeReversed: points.Change{}, points.ChangeExpired: points.Change{}, points.ChangeAdjusted: points.Change{},
	points.ChangeAdjustmentRequested: points.Change{}, points.ChangeAdjustmentRejected: points.Change{},
	points.ChangeExchanged: points.Change{},

	coupon.ChangeIssued: coupon.Coupon{}, coupon.ChangeLocked: coupon.Coupon{}, coupon.ChangeReleased: coupon.Coupon{},
	coupon.ChangeUsed: coupon.Coupon{}, coupon.ChangeExpired: coupon.Coupon{}, coupon.ChangeRevoked: coupon.Coupon{},
	coupon.ChangePackIssued: coupon.PackIssued{}, coupon.ChangeClaimRefused: coupon.Refusal{},

	tag.ChangeAdded: tag.Change{}, tag.ChangeRemoved: tag.Change{},

	task.ChangeProgressed: task.Progressed{}, task.ChangeCompleted: task.Completed{}, task.ChangeLimitReached: task.LimitReached{},

	value.ChangeRecharged: value.Change{}, value.ChangeSpent: value.Change{}, value.ChangeRefunded: value.Change{},
	value.ChangeWithdrawn: value.Change{}, value.ChangeOpened: value.Change{},

	benefit.ChangeAchievement: benefit.Grant{},
}

// TestFeedPayloadsRoundTrip runs the retail example's program through a
// year and a half (a registration, orders up to Gold, a plan, a
// recharge, a spend and a refund, adjustments, a redemption, a manual
// tag, an achievement, the expiries of Advance) and decodes every change
// of the feed into its kind's documented payload type, refusing fields
// the type lacks; the value encodes and decodes again to the same value.
func TestFeedPayloadsRoundTrip(t *testing.T) {
	ctx := context.Background()
	p, _ := openDamageable(t)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ev := func(id, typ string, h int, attrs event.Attrs) event.Event {
		return event.Event{ID: id, Member: "m1", Type: typ, Time: at(h), Attrs: attrs}
	}
	order := func(id string, h int, amount string) event.Event {
		return ev(id, "order", h, event.Attrs{"amount": event.Dec(dec(amount)), "order_id": event.Str(id), "category": event.List("fresh")})
	}
	mustProcess(t, p,
		ev("reg", "register", 0, nil),
		order("o1", 1, "100.50"), order("o2", 2, "900"), order("o3", 3, "600"),
		ev("fee", "fee", 4, event.Attrs{"plan": event.Str("Plus"), "amount": event.Dec(dec("99"))}),
		ev("rc", "recharge", 5, event.Attrs{"amount": event.Dec(dec("600"))}),
		ev("vp", "value_pay", 6, event.Attrs{"amount": event.Dec(dec("20.10")), "order_id": event.Str("o3")}),
		ev("vr", "value_refund", 7, event.Attrs{"amount": event.Dec(dec("5")), "order_id": event.Str("o3")}),
		ev("rf", "refund", 8, event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str("o2")}),
	)
	pts := p.Points()
	if _, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj", Member: "m1", Operator: "op.li", Note: "lost order", At: at(9), Program: "mall", Amount: dec("50")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-big", Member: "m1", Operator: "op.li", Note: "big", At: at(9), Program: "mall", Amount: dec("900")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Reject(ctx, points.DecideRequest{RequestID: "rej", Operator: "op.wu", At: at(10), Adjustment: "adj-big"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red", Member: "m1", Operator: "op.li", At: at(11), Program: "mall", Ref: "r1", Amount: dec("10")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag", Member: "m1", Operator: "op.li", At: at(12), Tag: "staff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "ach", Member: "m1", Operator: "op.li", At: at(13), Achievement: "helper"}); err != nil {
		t.Fatal(err)
	}
	// A consumer that has read nothing holds the whole feed.
	if err := p.SetCursor(ctx, "audit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(24*550)); err != nil {
		t.Fatal(err)
	}
	feed, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range feed {
		seen[c.Kind]++
		// The change itself, as export.Feed writes it and a host reads it
		// back.
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back change.Change
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("change %d (%s): %s does not decode: %v", c.Seq, c.Kind, raw, err)
		}
		if diff := cmp.Diff(c, back, cmp.Comparer(decimal.Decimal.Equal)); diff != "" {
			t.Errorf("change %d (%s) through JSON (-feed +decoded):\n%s", c.Seq, c.Kind, diff)
		}
		typ, ok := payloadTypes[c.Kind]
		if !ok {
			t.Errorf("change %d: kind %q has no documented payload type in this test", c.Seq, c.Kind)
			continue
		}
		if typ == nil {
			if len(c.Data) != 0 {
				t.Errorf("change %d (%s): data %s, want none", c.Seq, c.Kind, c.Data)
			}
			continue
		}
		v := reflect.New(reflect.TypeOf(typ))
		dec := json.NewDecoder(bytes.NewReader(c.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v.Interface()); err != nil {
			t.Errorf("change %d (%s): %s does not decode into %T: %v", c.Seq, c.Kind, c.Data, typ, err)
			continue
		}
		raw, err = json.Marshal(v.Interface())
		if err != nil {
			t.Fatal(err)
		}
		again := reflect.New(reflect.TypeOf(typ))
		if err := json.Unmarshal(raw, again.Interface()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v.Interface(), again.Interface(), cmp.Comparer(decimal.Decimal.Equal)); diff != "" {
			t.Errorf("change %d (%s) encoded again (-first +again):\n%s", c.Seq, c.Kind, diff)
		}
	}
	// What the scenario must publish: each call's kind, the gifts of
	// Gold (reached at 1,600.50 of orders), the third order's task, the
	// plan's and the coupons' and points' expiries.
	for _, k := range []string{value.ChangeRecharged, value.ChangeSpent, value.ChangeRefunded,
		points.ChangeEarned, points.ChangeRedeemed, points.ChangeReversed, points.ChangeAdjusted,
		points.ChangeAdjustmentRequested, points.ChangeAdjustmentRejected, points.ChangeExpired,
		level.ChangeLevel, level.ChangeGrowth, level.ChangeGift, level.ChangePlanPurchased, level.ChangePlanExpired,
		coupon.ChangePackIssued, coupon.ChangeIssued, coupon.ChangeExpired,
		tag.ChangeAdded, task.ChangeCompleted, benefit.ChangeAchievement} {
		if seen[k] == 0 {
			t.Errorf("no %s change in the feed", k)
		}
	}
}
