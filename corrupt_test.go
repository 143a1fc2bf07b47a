package membership_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// TestDamagedRecord damages the records of one kind on store/memory, which
// keeps no checksum (a value edited by hand, a bug, a partial migration),
// then makes the call that reads one. The call fails with an error
// wrapping ErrCorrupt, never a bare decoding error, and an operator call
// failing so leaves no refusal in the audit trail: the store's data is
// damaged, the request was not refused.
func TestDamagedRecord(t *testing.T) {
	ctx := context.Background()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	order := func(id string, h int) event.Event {
		return event.Event{ID: id, Member: "m1", Type: "order", Time: at(h),
			Attrs: event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str(id)}}
	}
	setup := setupDamageable
	type call func(p *membership.Program, coupon string) error
	cases := []struct {
		name   string
		bucket string
		// match selects the records damaged (nil: all the bucket's).
		match func(k, v []byte) bool
		// value is what a damaged record holds ("{" unless set).
		value string
		call  call
	}{
		{name: "coupon", bucket: "coupon.coupons", call: func(p *membership.Program, c string) error {
			_, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "x", Operator: "op.wu", At: at(9), Coupon: c})
			return err
		}},
		{name: "coupon statistics", bucket: "coupon.stats", call: func(p *membership.Program, _ string) error {
			_, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
			return err
		}},
		{name: "level member state", bucket: "level.member", call: func(p *membership.Program, _ string) error {
			_, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "x", Member: "m1", Operator: "op.wu", Note: "vip", At: at(9), Level: "Gold"})
			return err
		}},
		{name: "level member state, by an event", bucket: "level.member", call: func(p *membership.Program, _ string) error {
			_, err := p.Process(ctx, order("o9", 9))
			return err
		}},
		{name: "level history", bucket: "level.history", call: func(p *membership.Program, _ string) error {
			_, err := p.Levels().History(ctx, "m1", 0, 10)
			return err
		}},
		{name: "level plan's due item", bucket: "due", value: "\x01{",
			match: func(_, v []byte) bool { return bytes.Contains(v, []byte(`"Plus"`)) },
			call: func(p *membership.Program, _ string) error {
				_, err := p.Advance(ctx, at(24*800))
				return err
			}},
		{name: "points day", bucket: "points.day", call: func(p *membership.Program, _ string) error {
			_, err := p.Process(ctx, order("o9", 9))
			return err
		}},
		{name: "points order", bucket: "points.order", call: func(p *membership.Program, _ string) error {
			_, _, err := p.Points().Order(ctx, "o1")
			return err
		}},
		{name: "points redemption", bucket: "points.redeem", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "x", Operator: "op.wu", At: at(9), Program: "mall", Ref: "r1"})
			return err
		}},
		{name: "points adjustment", bucket: "points.adjust", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "x", Operator: "op.wu", At: at(9), Adjustment: "adj"})
			return err
		}},
		{name: "tag state", bucket: "tag.stats", call: func(p *membership.Program, _ string) error {
			_, err := p.Process(ctx, order("o9", 9))
			return err
		}},
		{name: "tag assigned", bucket: "tag.assigned", call: func(p *membership.Program, _ string) error {
			_, err := p.Tags().Of(ctx, "m1")
			return err
		}},
		{name: "task progress", bucket: "task.progress", call: func(p *membership.Program, _ string) error {
			_, err := p.Process(ctx, order("o9", 9))
			return err
		}},
		{name: "benefit achievements", bucket: "benefit.achievements", call: func(p *membership.Program, _ string) error {
			_, err := p.Benefits().Achievements(ctx, "m1")
			return err
		}},
		{name: "value totals", bucket: "value.totals", call: func(p *membership.Program, _ string) error {
			_, err := p.Value().Account(ctx, "m1")
			return err
		}},
		{name: "ledger entries", bucket: "ledger.entry", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m1"})
			return err
		}},
		{name: "ledger balance", bucket: "ledger.bal", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "x", Member: "m1", Operator: "op.wu", At: at(9), Program: "mall", Ref: "r9", Amount: dec("5")})
			return err
		}},
		{name: "ledger lots", bucket: "ledger.lot", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "x", Member: "m1", Operator: "op.wu", At: at(9), Program: "mall", Ref: "r9", Amount: dec("5")})
			return err
		}},
		{name: "event record", bucket: "events", call: func(p *membership.Program, _ string) error {
			_, err := p.Process(ctx, order("o1", 1)) // a retry
			return err
		}},
		{name: "request record", bucket: "ops", call: func(p *membership.Program, _ string) error {
			_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj", Member: "m1", Operator: "op.li", Note: "lost order", At: at(4), Program: "mall", Amount: dec("500")}) // a retry
			return err
		}},
		{name: "audit entry", bucket: "audit.time", call: func(p *membership.Program, _ string) error {
			_, err := p.Audit(ctx, membership.AuditQuery{})
			return err
		}},
		// Records that decode, holding a value of an enumeration that is
		// none of its values: damage too, not a record some rule reads
		// as it happens (a coupon in no state, a decision taken).
		{name: "coupon in an unknown state", bucket: "coupon.coupons",
			value: `{"id":"c1.m1","code":"ABCD2345","template":"t","member":"m1","type":"cash","amount":"10","state":"gone","method":"self","issued_at":"2026-01-01T00:00:00Z","changed":"2026-01-01T00:00:00Z"}`,
			call: func(p *membership.Program, c string) error {
				_, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "x", Operator: "op.wu", At: at(9), Coupon: c})
				return err
			}},
		{name: "coupon of an unknown type", bucket: "coupon.coupons",
			value: `{"id":"c1.m1","code":"ABCD2345","template":"t","member":"m1","type":"voucher","amount":"10","state":"available","method":"self","issued_at":"2026-01-01T00:00:00Z","changed":"2026-01-01T00:00:00Z"}`,
			call: func(p *membership.Program, c string) error {
				_, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "x", Operator: "op.wu", At: at(9), Coupon: c})
				return err
			}},
		{name: "points adjustment in an unknown state", bucket: "points.adjust",
			value: `{"id":"adj","program":"mall","member":"m1","amount":"500","reason":"r","state":"approved","requester":"op.li","requested":"2026-01-01T00:00:00Z"}`,
			call: func(p *membership.Program, _ string) error {
				_, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "x", Operator: "op.wu", At: at(9), Adjustment: "adj"})
				return err
			}},
		{name: "level history of an unknown cause", bucket: "level.history", value: `{"seq":1,"cause":"promoted","to":"Gold"}`,
			call: func(p *membership.Program, _ string) error {
				_, err := p.Levels().History(ctx, "m1", 0, 10)
				return err
			}},
		{name: "achievement of an unknown source", bucket: "benefit.achievements",
			value: `{"achievement":"helper","at":"2026-01-01T00:00:00Z","source":"gift","by":"op.li"}`,
			call: func(p *membership.Program, _ string) error {
				_, err := p.Benefits().Achievements(ctx, "m1")
				return err
			}},
		{name: "audit entry of an unknown result", bucket: "audit.time",
			value: `{"time":"2026-01-01T00:00:00Z","action":"points.adjust","request":"adj","result":"maybe"}`,
			call: func(p *membership.Program, _ string) error {
				_, err := p.Audit(ctx, membership.AuditQuery{})
				return err
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, st := openDamageable(t)
			cp := setup(t, p)
			if n := damage(t, st, c.bucket, c.match, c.value); n == 0 {
				t.Fatalf("no record in %s to damage", c.bucket)
			}
			err := c.call(p, cp)
			if !errors.Is(err, membership.ErrCorrupt) {
				t.Fatalf("call with %s damaged = %v; want an error wrapping ErrCorrupt", c.bucket, err)
			}
			if c.bucket == "audit.time" {
				return // the trail is what is damaged
			}
			page, err := p.Audit(ctx, membership.AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Entries {
				if e.Result == membership.AuditRefused {
					t.Errorf("audit entry %s %s refused: %s", e.Action, e.Request, e.Error)
				}
			}
		})
	}
}

// setupDamageable writes a record of each kind in a program of
// openDamageable's: the returned coupon is m1's.
func setupDamageable(t *testing.T, p *membership.Program) string {
	t.Helper()
	ctx := context.Background()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	order := func(id string, h int) event.Event {
		return event.Event{ID: id, Member: "m1", Type: "order", Time: at(h),
			Attrs: event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str(id)}}
	}
	testkit.MustProcess(t, p,
		event.Event{ID: "reg", Member: "m1", Type: "register", Time: at(0)},
		order("o1", 1),
		event.Event{ID: "fee", Member: "m1", Type: "fee", Time: at(2),
			Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.Dec(dec("99"))}},
		event.Event{ID: "rc", Member: "m1", Type: "recharge", Time: at(3), Attrs: event.Attrs{"amount": event.Dec(dec("50"))}})
	pts := p.Points()
	if _, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj", Member: "m1", Operator: "op.li", Note: "lost order", At: at(4), Program: "mall", Amount: dec("500")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red", Member: "m1", Operator: "op.li", At: at(5), Program: "mall", Ref: "r1", Amount: dec("10")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag", Member: "m1", Operator: "op.li", At: at(6), Tag: "staff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "ach", Member: "m1", Operator: "op.li", At: at(7), Achievement: "helper"}); err != nil {
		t.Fatal(err)
	}
	cs, err := p.Coupons().List(ctx, "m1")
	if err != nil || len(cs) == 0 {
		t.Fatalf("m1's coupons: %v, %v", cs, err)
	}
	return cs[0].ID
}

// damage replaces with value ("{": no JSON, nor any binary record) each
// record of bucket that match selects (nil: all), and returns how many.
func damage(t *testing.T, st *memory.Store, bucket string, match func(k, v []byte) bool, value string) int {
	t.Helper()
	if value == "" {
		value = "{"
	}
	var ks [][]byte
	err := st.Update(context.Background(), func(tx store.Tx) error {
		ks = ks[:0]
		err := tx.Scan(bucket, nil, nil, false, func(k, v []byte) error {
			if match == nil || match(k, v) {
				ks = append(ks, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range ks {
			if err := tx.Put(bucket, k, []byte(value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(ks)
}

// openDamageable opens the retail example's program, with manual points
// adjustments above 100 waiting for a second operator's approval, a daily
// risk threshold, its Silver earning rule remembering orders and an
// achievement, on a memory store.
func openDamageable(t *testing.T) (*membership.Program, *memory.Store) {
	t.Helper()
	st := memory.New()
	p, err := membership.Open(st, damageableDef(t))
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// damageableDef is the definition openDamageable opens.
func damageableDef(t *testing.T) membership.Definition {
	t.Helper()
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	pts := m["points"].(map[string]any)
	mall := pts["programs"].([]any)[0].(map[string]any)
	mall["approval_above"] = "100"
	mall["risk"] = map[string]any{"daily": "100000", "policy": "stop"} // points.day records
	pts["rules"].([]any)[0].(map[string]any)["order"] = "order_id"     // points.order records
	m["benefits"].(map[string]any)["achievements"] = []any{map[string]any{"name": "helper"}}
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	return def
}
