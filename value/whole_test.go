package value_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/value"
)

// wholeDef is valueDef in whole units of money (Scale 0), as for yen.
func wholeDef() membership.Definition {
	def := valueDef()
	def.StoredValue.Scale = new(int32(0))
	return def
}

// In whole units a recharge, spend or refund of 10.5 is refused and
// writes nothing; one of 10 is taken, and what it publishes is in whole
// units.
func TestWholeUnits(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T) *membership.Program {
		p := testkit.OpenMemory(t, wholeDef())
		// A balance of 80 and 20 spent: each operation of 10.5 would be
		// taken but for its fraction.
		mustProcess(t, p, recharge("r0", "alice", "100", t0), pay("p0", "alice", "20", t0))
		return p
	}
	before := value.Account{Balance: dec("80"), Recharged: dec("100"), Spent: dec("20")}
	for _, ev := range []event.Event{
		recharge("x", "alice", "10.5", t0.Add(time.Hour)),
		pay("x", "alice", "10.5", t0.Add(time.Hour)),
		refund("x", "alice", "10.5", t0.Add(time.Hour)),
	} {
		t.Run("refused "+ev.Type, func(t *testing.T) {
			p := open(t)
			_, err := p.Process(ctx, ev)
			if !errors.Is(err, event.ErrInvalidEvent) || !strings.Contains(err.Error(), "attrs.amount: 10.5 is not a whole amount") {
				t.Fatalf("Process: %v, want event.ErrInvalidEvent naming attrs.amount", err)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, va, equateDecimals); diff != "" {
				t.Errorf("account after the refusal (-want +got):\n%s", diff)
			}
			if f, _ := p.Feed(ctx, 0, 10); len(f) != 2 {
				t.Errorf("feed has %d changes, want the first two", len(f))
			}
			page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, "")})
			if err != nil || len(page.Entries) != 2 {
				t.Errorf("statement has %d entries, %v; want 2", len(page.Entries), err)
			}
		})
	}
	t.Run("taken", func(t *testing.T) {
		p := open(t)
		// 80 + 10 = 90, − 10 = 80, + 10 refunded = 90.
		outs := mustProcess(t, p,
			recharge("r1", "alice", "10", t0.Add(time.Hour)),
			pay("p1", "alice", "10", t0.Add(time.Hour)),
			refund("f1", "alice", "10", t0.Add(time.Hour)))
		wants := []value.Effects{
			{Recharged: dec("10"), Changed: true, Balance: dec("90")},
			{Spent: dec("10"), Changed: true, Balance: dec("80")},
			{Refunded: dec("10"), Changed: true, Balance: dec("90")},
		}
		for i, out := range outs {
			got, err := value.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wants[i], got, equateDecimals); diff != "" {
				t.Errorf("effects of %s (-want +got):\n%s", out.Event, diff)
			}
		}
		// The change is written as every amount is (decimal.String): a
		// whole amount without ".00".
		if data := string(outs[1].Changes[0].Data); data != `{"amount":"10","balance":"80"}` {
			t.Errorf("spent change data %s", data)
		}
		va, err := p.Value().Account(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		want := value.Account{Balance: dec("90"), Recharged: dec("110"), Spent: dec("30"), Refunded: dec("10")}
		if diff := cmp.Diff(want, va, equateDecimals); diff != "" {
			t.Errorf("account (-want +got):\n%s", diff)
		}
		if err := p.Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}

// A member migrated into whole units brings whole amounts; an amount
// with a fraction is refused, naming its field, and opens nothing.
func TestWholeUnitsOpening(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, wholeDef())
	for _, tc := range []struct {
		field string
		v     migrate.Value
	}{
		{"value.balance", migrate.Value{Balance: dec("10.5")}},
		{"value.recharged", migrate.Value{Balance: dec("10"), Recharged: dec("20.5")}},
		{"value.spent", migrate.Value{Balance: dec("10"), Spent: dec("0.5")}},
		{"value.refunded", migrate.Value{Balance: dec("10"), Refunded: dec("0.5")}},
		{"value.withdrawn", migrate.Value{Balance: dec("10"), Withdrawn: dec("0.5")}},
	} {
		_, err := p.OpenMember(ctx, migrate.Member{RequestID: "o-" + tc.field, Member: "bob", Operator: "ops", At: t0, Value: &tc.v})
		var fe *migrate.FieldError
		if !errors.Is(err, event.ErrInvalidArgument) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("opening %+v: %v, want event.ErrInvalidArgument naming %s", tc.v, err, tc.field)
		}
	}
	if va, err := p.Value().Account(ctx, "bob"); err != nil || !va.Balance.IsZero() || !va.Recharged.IsZero() {
		t.Errorf("bob after the refusals: %+v, %v", va, err)
	}
	out, err := p.OpenMember(ctx, migrate.Member{RequestID: "o", Member: "bob", Operator: "ops", At: t0,
		Value: &migrate.Value{Balance: dec("1000"), Recharged: dec("1500"), Spent: dec("500")}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := value.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Effects{Opened: dec("1000"), Changed: true, Balance: dec("1000")}, got, equateDecimals); diff != "" {
		t.Errorf("effects of the opening (-want +got):\n%s", diff)
	}
}

// A definition that leaves Scale out keeps the default of two places and
// encodes as it did when Scale was an int32 whose 0 meant the default (a
// program's recorded definition is compared byte for byte); an explicit
// scale, 0 included, is kept.
func TestDefinitionScaleJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale *int32
		json  string
		dp    int32
	}{
		{"unset", nil, `{"recharge":"recharge","spend":"pay","refund":"refund","amount":"amount"}`, 2},
		{"three places", new(int32(3)), `{"recharge":"recharge","spend":"pay","refund":"refund","amount":"amount","scale":3}`, 3},
		{"whole units", new(int32(0)), `{"recharge":"recharge","spend":"pay","refund":"refund","amount":"amount","scale":0}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := value.Definition{Recharge: "recharge", Spend: "pay", Refund: "refund", Amount: "amount", Scale: tc.scale}
			if b, err := json.Marshal(def); err != nil || string(b) != tc.json {
				t.Errorf("Marshal = %s, %v; want %s", b, err, tc.json)
			}
			var back value.Definition
			if err := json.Unmarshal([]byte(tc.json), &back); err != nil {
				t.Fatal(err)
			}
			if back.Places() != tc.dp || def.Places() != tc.dp {
				t.Errorf("Places = %d (decoded), %d; want %d", back.Places(), def.Places(), tc.dp)
			}
			if again, _ := json.Marshal(back); string(again) != tc.json {
				t.Errorf("re-encoded %s, want %s", again, tc.json)
			}
		})
	}
	// Unset, the amounts keep two places, as before.
	p := testkit.OpenMemory(t, valueDef())
	mustProcess(t, p, recharge("r1", "alice", "10.55", t0))
	if _, err := p.Process(context.Background(), recharge("r2", "alice", "10.555", t0)); !errors.Is(err, event.ErrInvalidEvent) {
		t.Errorf("10.555 at the default scale: %v, want event.ErrInvalidEvent", err)
	}
}
