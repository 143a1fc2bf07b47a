package value_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
)

// A cumulative recharge, spend, refund or withdrawal only ever grows from
// zero: one that reads negative is damage, and every call that reads it
// fails with ErrCorrupt and changes nothing. Before, Account showed it (a recharge
// total of -50), a recharge added to it, and a refund was refused as
// exceeding a spend of -50.
func TestNegativeTotalIsCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		kind  string
		calls []event.Event // each reads the damaged total
	}{
		{"recharge", []event.Event{recharge("x", "m", "10", t0)}},
		{"spend", []event.Event{pay("x", "m", "10", t0), refund("y", "m", "10", t0)}},
		{"refund", []event.Event{refund("x", "m", "10", t0)}},
		{"withdraw", []event.Event{withdraw("x", "m", "10", t0)}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, withdrawDef())
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, recharge("r1", "m", "100", t0), pay("p1", "m", "30", t0), refund("f1", "m", "10", t0), withdraw("w1", "m", "5", t0))
			prefix := append([]byte("m\x00"+tc.kind), 0)
			if n := testkit.OverwritePrefix(t, st, "value.totals", prefix, codec.Amount(dec("-50"))); n == 0 {
				t.Fatalf("no %s total of m", tc.kind)
			}
			if a, err := p.Value().Account(ctx, "m"); !errors.Is(err, membership.ErrCorrupt) {
				t.Errorf("Account = %+v, %v; want ErrCorrupt", a, err)
			}
			feed, err := p.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range tc.calls {
				if _, err := p.Process(ctx, ev); !errors.Is(err, membership.ErrCorrupt) {
					t.Errorf("%s = %v; want ErrCorrupt", ev.Type, err)
				}
			}
			if f, _ := p.Feed(ctx, 0, 100); len(f) != len(feed) {
				t.Errorf("feed has %d changes, want %d", len(f), len(feed))
			}
			// The balance is as it was: 100 recharged, 30 spent, 10
			// refunded, 5 withdrawn, in four entries.
			page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("m", ledger.Value, "")})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(page.Entries); n != 4 || !page.Entries[n-1].Balance.Equal(dec("75")) {
				t.Errorf("statement after the refusals: %+v; want 4 entries, the last at 75", page.Entries)
			}
		})
	}
}

// A member's money balance is never negative: a balance record that reads
// so is damage, and Account and every event that posts to it fail with
// ErrCorrupt, changing nothing. Before, Account showed a balance of -50,
// and a recharge of 10 was refused as an insufficient balance ("would be
// -40").
func TestNegativeBalanceIsCorrupt(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, withdrawDef())
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, recharge("r1", "m", "100", t0), pay("p1", "m", "30", t0))
	if n := testkit.OverwritePrefix(t, st, "ledger.bal", []byte("m\x00value\x00"), codec.Amount(dec("-50"))); n != 1 {
		t.Fatalf("%d balance records of m, want 1", n)
	}
	if a, err := p.Value().Account(ctx, "m"); !errors.Is(err, membership.ErrCorrupt) {
		t.Errorf("Account = %+v, %v; want ErrCorrupt", a, err)
	}
	for _, ev := range []event.Event{recharge("x", "m", "10", t0), pay("y", "m", "10", t0), refund("z", "m", "10", t0), withdraw("w", "m", "10", t0)} {
		if _, err := p.Process(ctx, ev); !errors.Is(err, membership.ErrCorrupt) || errors.Is(err, membership.ErrInsufficientBalance) {
			t.Errorf("%s = %v; want ErrCorrupt, not ErrInsufficientBalance", ev.Type, err)
		}
	}
	if f, _ := p.Feed(ctx, 0, 100); len(f) != 2 {
		t.Errorf("feed has %d changes, want the first two", len(f))
	}
}
