package value_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

var (
	dec      = testkit.Dec
	valueDef = testkit.ValueDef
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, testkit.Shanghai)

func recharge(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "recharge", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

func pay(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "pay", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

func refund(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "refund", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

var mustProcess = testkit.MustProcess

var equateDecimals = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })

func TestStoredValue(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	outs := mustProcess(t, p,
		recharge("r1", "alice", "100.00", t0),
		pay("p1", "alice", "30.50", t0.Add(time.Hour)),
		refund("f1", "alice", "10", t0.Add(2*time.Hour)),
	)
	va, err := p.Value().Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := value.Account{Balance: dec("79.5"), Recharged: dec("100"), Spent: dec("30.5"), Refunded: dec("10")}
	if diff := cmp.Diff(want, va, equateDecimals); diff != "" {
		t.Errorf("stored value (-want +got):\n%s", diff)
	}
	var ch value.Change
	if err := outs[1].ChangesOf(value.ChangeSpent)[0].Decode(&ch); err != nil || !ch.Balance.Equal(dec("69.5")) {
		t.Errorf("spent change = %+v, %v", ch, err)
	}
	if r := outs[1].Changes[0].Reason; r == nil || r.Inputs["amount"] != "30.5" {
		t.Errorf("reason = %+v", r)
	}
	page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, "")})
	if err != nil || len(page.Entries) != 3 || page.Entries[2].Balance.String() != "79.5" {
		t.Errorf("statement = %+v, %v", page, err)
	}
	for _, e := range page.Entries {
		if e.Time.Location() != p.Location() {
			t.Errorf("statement entry at %v, not in the program's zone %v", e.Time, p.Location())
		}
	}
	totals, err := p.Totals(ctx, ledger.Value, "2026-11-24", "2026-11-24")
	if err != nil || !totals[value.KindSpend].Equal(dec("-30.5")) || !totals[value.KindRecharge].Equal(dec("100")) {
		t.Errorf("totals = %v, %v", totals, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// 16 goroutines spend the same balance at once: it never goes below zero,
// every accepted spend is in the ledger, and the ledger verifies.
func TestConcurrentSpendNeverOverdraws(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB, membership.Definition, ...membership.Option) *membership.Program
	}{{"memory", testkit.OpenMemory}, {"bolt", testkit.OpenBolt}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := tc.open(t, valueDef())
			mustProcess(t, p, recharge("r", "alice", "100", t0))
			ok, refused := race(ctx, t, p, membership.ErrInsufficientBalance, func(g, i int) event.Event {
				return pay(fmt.Sprintf("p%d-%d", g, i), "alice", "1.5", t0.Add(time.Minute))
			})
			if ok != 66 || refused != 94 {
				t.Errorf("accepted %d, refused %d; want 66 and 94", ok, refused)
			}
			va, _ := p.Value().Account(ctx, "alice")
			if !va.Balance.Equal(dec("1")) || !va.Spent.Equal(dec("99")) {
				t.Errorf("after the race: %+v", va)
			}
			page, _ := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, ""), Limit: 1000})
			if len(page.Entries) != 67 {
				t.Errorf("%d entries, want 67", len(page.Entries))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// Recharges, spends and refunds are read back as typed effects, a retried
// event's too, and the totals count each event once.
func TestEffectsOf(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	outs := mustProcess(t, p,
		recharge("r1", "alice", "80.25", t0),
		pay("p1", "alice", "30.25", t0.Add(time.Hour)),
		refund("f1", "alice", "5", t0.Add(2*time.Hour)),
		recharge("r1", "alice", "80.25", t0), // a retry
		event.Event{ID: "o1", Member: "alice", Type: "order", Time: t0, Attrs: event.Attrs{"amount": event.Dec(dec("99"))}},
	)
	want := []value.Effects{
		{Recharged: dec("80.25"), Changed: true, Balance: dec("80.25")},
		{Spent: dec("30.25"), Changed: true, Balance: dec("50")},
		{Refunded: dec("5"), Changed: true, Balance: dec("55")},
		{Recharged: dec("80.25"), Changed: true, Balance: dec("80.25")},
		{},
	}
	for i, out := range outs {
		got, err := value.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[i], got, equateDecimals); diff != "" {
			t.Errorf("effects of %s (-want +got):\n%s", out.Event, diff)
		}
	}
	if !outs[3].Duplicate {
		t.Error("the retried recharge is not a duplicate")
	}
	va, err := p.Value().Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Account{Balance: dec("55"), Recharged: dec("80.25"), Spent: dec("30.25"), Refunded: dec("5")}, va, equateDecimals); diff != "" {
		t.Errorf("account (-want +got):\n%s", diff)
	}
	// An opening (Program.OpenMember) sets the balance: it is a change of
	// stored value, though not a recharge. EffectsOf used to read it as
	// no change at all.
	out, err := p.OpenMember(ctx, migrate.Member{RequestID: "o", Member: "bob", Operator: "ops", At: t0,
		Value: &migrate.Value{Balance: dec("12.5"), Recharged: dec("40"), Spent: dec("27.5")}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := value.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Effects{Opened: dec("12.5"), Changed: true, Balance: dec("12.5")}, got, equateDecimals); diff != "" {
		t.Errorf("effects of an opening (-want +got):\n%s", diff)
	}
	if ef, err := value.EffectsOf(nil); err != nil || ef.Changed {
		t.Errorf("EffectsOf(nil) = %+v, %v", ef, err)
	}
	bad := &change.Outcome{Event: "x", Changes: []change.Change{{Kind: value.ChangeSpent, Data: []byte(`{"amount":`)}}}
	if _, err := value.EffectsOf(bad); err == nil {
		t.Error("EffectsOf read a change whose data does not decode")
	}
}

// An event the part refuses (an amount that is not positive or finer than
// the scale, a spend beyond the balance, a refund beyond the spend) writes
// nothing: no ledger entry, no total, no change.
func TestRefusedEventsWriteNothing(t *testing.T) {
	def := valueDef()
	def.StoredValue.Scale = new(int32(1))
	tests := []struct {
		name string
		ev   event.Event
		want error
	}{
		{"zero", recharge("x", "alice", "0", t0), membership.ErrInvalidEvent},
		{"negative refund", refund("x", "alice", "-3", t0), membership.ErrInvalidEvent},
		{"finer than the scale", recharge("x", "alice", "1.05", t0), membership.ErrInvalidEvent},
		{"overspend", pay("x", "alice", "10.1", t0), membership.ErrInsufficientBalance},
		{"refund without spend", refund("x", "alice", "5", t0), value.ErrRefundExceedsSpend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p := testkit.OpenMemory(t, def)
			mustProcess(t, p, recharge("r0", "alice", "10.0", t0.Add(-time.Hour)))
			_, err := p.Process(ctx, tt.ev)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Process: %v, want %v", err, tt.want)
			}
			if tt.want == membership.ErrInvalidEvent && !errors.Is(err, event.ErrInvalidEvent) {
				t.Errorf("%v does not wrap event.ErrInvalidEvent", err)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(value.Account{Balance: dec("10"), Recharged: dec("10")}, va, equateDecimals); diff != "" {
				t.Errorf("account after the refusal (-want +got):\n%s", diff)
			}
			if f, _ := p.Feed(ctx, 0, 10); len(f) != 1 {
				t.Errorf("feed has %d changes, want the first recharge's only", len(f))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAccount(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	// Members never seen, and members whose IDs share a prefix, have their
	// own totals.
	mustProcess(t, p, recharge("r1", "al", "7", t0), recharge("r2", "al\x01", "9", t0))
	for member, want := range map[string]value.Account{
		"al":     {Balance: dec("7"), Recharged: dec("7")},
		"al\x01": {Balance: dec("9"), Recharged: dec("9")},
		"bob":    {},
	} {
		got, err := p.Value().Account(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, equateDecimals); diff != "" {
			t.Errorf("account of %q (-want +got):\n%s", member, diff)
		}
	}
	none := testkit.OpenMemory(t, membership.Definition{Zone: "UTC"})
	if _, err := none.Value().Account(ctx, "al"); !errors.Is(err, value.ErrNotDefined) {
		t.Errorf("Account without stored value: %v, want ErrNotDefined", err)
	}
}

type env map[string]event.Type

func (e env) EventType(name string) (event.Type, bool) { t, ok := e[name]; return t, ok }

func TestDefinitionCheck(t *testing.T) {
	amount := func(k event.Kind, required bool) event.Type {
		return event.Type{Attributes: []event.Attr{{Name: "amount", Kind: k, Required: required}}}
	}
	e := env{"top-up": amount(event.Decimal, true), "buy": amount(event.Integer, true), "back": amount(event.Decimal, false), "ping": {}}
	tests := []struct {
		name string
		def  value.Definition
		want []string
	}{
		{"valid", value.Definition{Recharge: "top-up", Amount: "amount", Scale: new(int32(8))}, nil},
		{"whole units", value.Definition{Recharge: "top-up", Amount: "amount", Scale: new(int32(0))}, nil},
		{"every problem", value.Definition{Recharge: "nope", Spend: "buy", Refund: "back", Scale: new(int32(9)), Amount: "amount"}, []string{
			`scale: must be 0 to 8`,
			`recharge: unknown event type "nope"`,
			`spend: attribute has the wrong type: "amount" of "buy" is integer, want decimal`,
			`refund: attribute "amount" of "back" must be required`,
		}},
		// One event type cannot both recharge and spend: the first
		// operation named would take every such event.
		{"one type for two operations", value.Definition{Recharge: "top-up", Spend: "top-up", Refund: "top-up", Amount: "amount"}, []string{
			`spend: event type "top-up" is already the recharge`,
			`refund: event type "top-up" is already the recharge`,
		}},
		{"no amount", value.Definition{Recharge: "ping", Scale: new(int32(-1))}, []string{
			`amount: empty`,
			`scale: must be 0 to 8`,
			`recharge: unknown attribute "" in type "ping"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := tt.def.Check(e); err != nil {
				var ps *rule.Problems
				if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
					t.Fatalf("Check error %T is not a *rule.Problems", err)
				}
				for _, p := range ps.List {
					got = append(got, p.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// A balance or a cumulative total keeps to the limit on decimals each
// amount keeps to (40 digits): an event that would take one past it is
// refused with ErrInvalidAmount (and event.ErrTooLarge), writes nothing
// and leaves its ID free. 9e39 has 40 digits, 1.8e40 41; 1e39 + 0.01 has
// 42 significant digits. Two recharges of 4.5e39 make 9e39, accepted.
func TestAmountsKeepToTheLimit(t *testing.T) {
	big := "9" + strings.Repeat("0", 39) // 9e39
	for _, tc := range []struct {
		name    string
		opening *migrate.Value
		before  []event.Event
		refused event.Event
		want    value.Account // after the refusal
	}{
		{name: "balance", before: []event.Event{recharge("r1", "m", big, t0)}, refused: recharge("x", "m", big, t0),
			want: value.Account{Balance: dec(big), Recharged: dec(big)}},
		{name: "balance's significant digits", before: []event.Event{recharge("r1", "m", "1e39", t0)}, refused: recharge("x", "m", "0.01", t0),
			want: value.Account{Balance: dec("1e39"), Recharged: dec("1e39")}},
		{name: "cumulative recharge", before: []event.Event{recharge("r1", "m", big, t0), pay("p1", "m", big, t0)}, refused: recharge("x", "m", big, t0),
			want: value.Account{Recharged: dec(big), Spent: dec(big)}},
		{name: "cumulative spend", opening: &migrate.Value{Balance: dec(big), Spent: dec(big)}, refused: pay("x", "m", big, t0),
			want: value.Account{Balance: dec(big), Spent: dec(big)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := testkit.OpenMemory(t, valueDef())
			if tc.opening != nil {
				if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "open", Member: "m", Operator: "ops", At: t0.Add(-time.Hour), Value: tc.opening}); err != nil {
					t.Fatal(err)
				}
			}
			mustProcess(t, p, tc.before...)
			feed, err := p.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Process(ctx, tc.refused)
			if !errors.Is(err, value.ErrInvalidAmount) || !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("Process: %v; want value.ErrInvalidAmount and event.ErrTooLarge", err)
			}
			va, err := p.Value().Account(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, va, equateDecimals); diff != "" {
				t.Errorf("account after the refusal (-want +got):\n%s", diff)
			}
			if f, _ := p.Feed(ctx, 0, 100); len(f) != len(feed) {
				t.Errorf("feed has %d changes after the refusal, want %d", len(f), len(feed))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
			// The ID is free: the same ID with an amount that fits.
			ev := recharge("x", "m", "1", t0)
			if _, err := p.Process(ctx, ev); err != nil {
				t.Errorf("a recharge of 1 under the refused event's ID: %v", err)
			}
		})
	}
	p := testkit.OpenMemory(t, valueDef())
	half := "45" + strings.Repeat("0", 38) // 4.5e39
	mustProcess(t, p, recharge("r1", "m", half, t0), recharge("r2", "m", half, t0))
	if va, err := p.Value().Account(context.Background(), "m"); err != nil || !va.Balance.Equal(dec(big)) {
		t.Errorf("two recharges of 4.5e39: %+v, %v; want a balance of 9e39", va, err)
	}
	// An amount written with trailing zeros counts as it reads: 9e39 and
	// a recharge of 1.00 make 9000…001, 40 digits (9e39 + 1 written with
	// two places, 42, was refused), and a spend of 1.00 then a recharge of
	// 0.10 take the balance back to 9e39 and on to 9e39 + 0.1, 41 digits,
	// refused.
	p = testkit.OpenMemory(t, valueDef())
	mustProcess(t, p, recharge("r1", "m", big, t0), recharge("r2", "m", "1.00", t0), pay("p1", "m", "1.00", t0))
	want := value.Account{Balance: dec(big), Recharged: dec("9" + strings.Repeat("0", 38) + "1"), Spent: dec("1")}
	if va, err := p.Value().Account(context.Background(), "m"); err != nil || !cmp.Equal(want, va, equateDecimals) {
		t.Errorf("9e39, then 1.00 recharged and 1.00 spent: %+v, %v; want %+v", va, err, want)
	}
	if _, err := p.Process(context.Background(), recharge("r3", "m", "0.10", t0)); !errors.Is(err, value.ErrInvalidAmount) {
		t.Errorf("a recharge of 0.10 over 9e39: %v; want value.ErrInvalidAmount", err)
	}
}

// race sends 160 events to p from 16 goroutines at once, next(g, i) the
// i-th of goroutine g, and counts those taken and those refused with an
// error wrapping refusal; any other error fails the test.
func race(ctx context.Context, t *testing.T, p *membership.Program, refusal error, next func(g, i int) event.Event) (ok, refused int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 16 {
		wg.Go(func() {
			for i := range 10 {
				_, err := p.Process(ctx, next(g, i))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, refusal):
					refused++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, refused
}
