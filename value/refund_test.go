package value_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/value"
)

// A refund of a member who never spent anything creates no money: it is
// refused with ErrRefundExceedsSpend and writes nothing — no ledger
// entry, no total, no change in the feed — and the ledger verifies.
func TestRefundWithoutSpendRefused(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	_, err := p.Process(ctx, refund("f1", "bob", "50", t0))
	if !errors.Is(err, value.ErrRefundExceedsSpend) {
		t.Fatalf("refund of 50 with no spend: %v, want ErrRefundExceedsSpend", err)
	}
	// The message gives the amount and what is still refundable (0).
	for _, s := range []string{"refund 50 ", "0 refundable"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	va, err := p.Value().Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Account{}, va, equateDecimals); diff != "" {
		t.Errorf("account after the refusal (-want +got):\n%s", diff)
	}
	if f, err := p.Feed(ctx, 0, 10); err != nil || len(f) != 0 {
		t.Errorf("feed = %d changes, %v; want none", len(f), err)
	}
	page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("bob", ledger.Value, "")})
	if err != nil || len(page.Entries) != 0 {
		t.Errorf("statement = %d entries, %v; want none", len(page.Entries), err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// Refunds are accepted while the member's cumulative refunds stay within
// the cumulative spend, and refused one cent past it.
func TestRefundUpToSpend(t *testing.T) {
	type step struct {
		ev   event.Event
		want error // nil: accepted
	}
	// Every case starts from a recharge of 100 and a spend of 30.50:
	// balance 69.50, refundable 30.50.
	tests := []struct {
		name  string
		steps []step
		want  value.Account
		left  string // what the last refusal says is refundable
	}{{
		// 30.50 refunded: balance 69.50 + 30.50 = 100, refundable 0.
		name:  "the whole spend",
		steps: []step{{refund("f1", "alice", "30.50", t0.Add(2*time.Hour)), nil}},
		want:  value.Account{Balance: dec("100"), Recharged: dec("100"), Spent: dec("30.5"), Refunded: dec("30.5")},
	}, {
		// 30.51 > 30.50: refused, nothing moves.
		name:  "one cent past the spend",
		steps: []step{{refund("f1", "alice", "30.51", t0.Add(2*time.Hour)), value.ErrRefundExceedsSpend}},
		want:  value.Account{Balance: dec("69.5"), Recharged: dec("100"), Spent: dec("30.5")},
		left:  "30.5 refundable",
	}, {
		// 10 refunded leaves 30.50 − 10 = 20.50 refundable; 20.50 is
		// accepted (balance 69.50 + 10 + 20.50 = 100, refunded 30.50),
		// and then 0.01 is one cent past (0 refundable).
		name: "the remainder after a partial refund, then one cent more",
		steps: []step{
			{refund("f1", "alice", "10", t0.Add(2*time.Hour)), nil},
			{refund("f2", "alice", "20.50", t0.Add(3*time.Hour)), nil},
			{refund("f3", "alice", "0.01", t0.Add(4*time.Hour)), value.ErrRefundExceedsSpend},
		},
		want: value.Account{Balance: dec("100"), Recharged: dec("100"), Spent: dec("30.5"), Refunded: dec("30.5")},
		left: "0 refundable",
	}, {
		// After a refund of 10, 20.51 > 20.50 is refused; a later spend
		// of 5 makes 25.50 refundable, and the refused ID is sent again
		// and accepted: balance 69.50 + 10 − 5 + 20.51 = 95.01.
		name: "a refused ID sent again after more spend",
		steps: []step{
			{refund("f1", "alice", "10", t0.Add(2*time.Hour)), nil},
			{refund("f2", "alice", "20.51", t0.Add(3*time.Hour)), value.ErrRefundExceedsSpend},
			{pay("p2", "alice", "5", t0.Add(4*time.Hour)), nil},
			{refund("f2", "alice", "20.51", t0.Add(3*time.Hour)), nil},
		},
		want: value.Account{Balance: dec("95.01"), Recharged: dec("100"), Spent: dec("35.5"), Refunded: dec("30.51")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p := testkit.OpenMemory(t, valueDef())
			mustProcess(t, p, recharge("r1", "alice", "100", t0), pay("p1", "alice", "30.50", t0.Add(time.Hour)))
			accepted := 2
			var last error
			for _, s := range tt.steps {
				out, err := p.Process(ctx, s.ev)
				switch {
				case s.want == nil && err != nil:
					t.Fatalf("%s: %v", s.ev.ID, err)
				case s.want == nil:
					if out.Duplicate {
						t.Errorf("%s: a duplicate, want a new outcome", s.ev.ID)
					}
					accepted++
				case !errors.Is(err, s.want):
					t.Fatalf("%s: %v, want %v", s.ev.ID, err, s.want)
				default:
					last = err
				}
			}
			if tt.left != "" && (last == nil || !strings.Contains(last.Error(), tt.left)) {
				t.Errorf("last refusal %v does not say %q", last, tt.left)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, va, equateDecimals); diff != "" {
				t.Errorf("account (-want +got):\n%s", diff)
			}
			// One change and one ledger entry of the member per accepted
			// event, none for a refused one.
			if f, _ := p.Feed(ctx, 0, 100); len(f) != accepted {
				t.Errorf("feed has %d changes, want %d", len(f), accepted)
			}
			page, _ := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, "")})
			if len(page.Entries) != accepted {
				t.Errorf("%d ledger entries, want %d", len(page.Entries), accepted)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// A retried refund is found before the check: it returns its first
// outcome, Duplicate set, even when nothing is refundable any more.
func TestRefundRetryReturnsFirstOutcome(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	// Spend 30, refund all 30: refundable 0, balance 100.
	outs := mustProcess(t, p,
		recharge("r1", "alice", "100", t0),
		pay("p1", "alice", "30", t0.Add(time.Hour)),
		refund("f1", "alice", "30", t0.Add(2*time.Hour)),
		refund("f1", "alice", "30", t0.Add(2*time.Hour)), // the retry
	)
	if !outs[3].Duplicate {
		t.Error("the retried refund is not a duplicate")
	}
	first, err := value.EffectsOf(outs[2])
	if err != nil {
		t.Fatal(err)
	}
	again, err := value.EffectsOf(outs[3])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, equateDecimals); diff != "" {
		t.Errorf("retry's effects (-first +retry):\n%s", diff)
	}
	if diff := cmp.Diff(value.Effects{Refunded: dec("30"), Changed: true, Balance: dec("100")}, first, equateDecimals); diff != "" {
		t.Errorf("refund's effects (-want +got):\n%s", diff)
	}
	// The same ID with another amount is a conflict, not a new refund.
	if _, err := p.Process(ctx, refund("f1", "alice", "1", t0.Add(2*time.Hour))); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("f1 with another amount: %v, want ErrEventConflict", err)
	}
	va, _ := p.Value().Account(ctx, "alice")
	if !va.Refunded.Equal(dec("30")) || !va.Balance.Equal(dec("100")) {
		t.Errorf("after the retry: %+v, want refunded 30, balance 100", va)
	}
}

// 16 goroutines refund the same member at once: the refunds accepted
// never add up to more than the member spent, and the ledger verifies.
func TestConcurrentRefundsNeverExceedSpend(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB, membership.Definition, ...membership.Option) *membership.Program
	}{{"memory", testkit.OpenMemory}, {"bolt", testkit.OpenBolt}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := tc.open(t, valueDef())
			// Recharge 100, spend 40: balance 60, refundable 40.
			mustProcess(t, p, recharge("r", "alice", "100", t0), pay("p", "alice", "40", t0.Add(time.Minute)))
			ok, refused := race(ctx, t, p, value.ErrRefundExceedsSpend, func(g, i int) event.Event {
				return refund(fmt.Sprintf("f%d-%d", g, i), "alice", "1.5", t0.Add(time.Hour))
			})
			// 160 refunds of 1.5: 26 fit in 40 (26 × 1.5 = 39; 27 × 1.5 =
			// 40.5 > 40), the other 134 are refused. Balance 60 + 39 = 99.
			if ok != 26 || refused != 134 {
				t.Errorf("accepted %d, refused %d; want 26 and 134", ok, refused)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			want := value.Account{Balance: dec("99"), Recharged: dec("100"), Spent: dec("40"), Refunded: dec("39")}
			if diff := cmp.Diff(want, va, equateDecimals); diff != "" {
				t.Errorf("after the race (-want +got):\n%s", diff)
			}
			// The recharge, the spend and 26 refunds.
			page, _ := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, ""), Limit: 1000})
			if len(page.Entries) != 28 {
				t.Errorf("%d entries, want 28", len(page.Entries))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
