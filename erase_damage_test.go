package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
)

// TestDamagedErasureRecord damages m1's erasure record (3 bytes where an
// erasure's time takes 8) and, apart, an audit entry of m1's: every call
// that reads the record (Erased, m1's event, a request naming m1, a second
// erasure) or that must redact the entry (the erasure) wraps ErrCorrupt
// rather than read m1 as erased or not, or panic, and the failure leaves
// no refusal in the audit trail; m1 is not erased by the failed erasure.
func TestDamagedErasureRecord(t *testing.T) {
	ctx := context.Background()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	order := event.Event{ID: "o9", Member: "m1", Type: "order", Time: at(9),
		Attrs: event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str("o9")}}
	erase := func(p *membership.Program, id string) error {
		_, err := p.Erase(ctx, membership.EraseRequest{RequestID: id, Member: "m1", Operator: "op.dpo", At: at(8)})
		return err
	}
	corrupt := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, membership.ErrCorrupt) {
			t.Errorf("%s: %v, want an error wrapping ErrCorrupt", name, err)
		}
	}
	noRefusal := func(p *membership.Program) {
		t.Helper()
		page, err := p.Audit(ctx, membership.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.Result == membership.AuditRefused {
				t.Errorf("audit entry %s %s refused: %s", e.Action, e.Request, e.Error)
			}
		}
	}

	t.Run("erasure record", func(t *testing.T) {
		p, st := openDamageable(t)
		setupDamageable(t, p)
		if err := erase(p, "e1"); err != nil {
			t.Fatal(err)
		}
		if n := damage(t, st, "erased", nil, "\x01\x02\x03"); n != 1 {
			t.Fatalf("%d erasure records damaged, want 1", n)
		}
		_, _, err := p.Erased(ctx, "m1")
		corrupt("Erased", err)
		_, err = p.Process(ctx, order)
		corrupt("m1's event", err)
		_, err = p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-9", Member: "m1", Operator: "op.li", Note: "x",
			At: at(9), Program: "mall", Amount: dec("5")})
		corrupt("an adjustment of m1", err)
		corrupt("a second erasure", erase(p, "e2"))
		noRefusal(p)
	})
	t.Run("audit entry the erasure redacts", func(t *testing.T) {
		p, st := openDamageable(t)
		setupDamageable(t, p)
		if n := damage(t, st, "audit.time", nil, ""); n == 0 {
			t.Fatal("no audit entry to damage")
		}
		corrupt("the erasure", erase(p, "e1"))
		if _, erased, err := p.Erased(ctx, "m1"); err != nil || erased {
			t.Errorf("after the failed erasure: Erased(m1) = %v, %v; want not erased", erased, err)
		}
	})
}
