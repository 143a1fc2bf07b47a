package points

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// These tests read the part's due items, which only the package sees. They
// run the part on an engine of their own (the root package, which imports
// this one, cannot be imported here); events reach the engine as
// membership.Program.Process hands them over, already validated.

// openDue returns an engine whose orders earn points that expire at the
// end of the month after the order's, and its store.
func openDue(t *testing.T) (*engine.Engine, *Handle, store.Store) {
	t.Helper()
	st := memory.New()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(st, loc, engine.Options{})
	h := New(e, &Definition{Programs: []Program{{Name: "mall"}}, Rules: []Rule{{ID: "buy", Program: "mall", Event: "order",
		Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}}})
	return e, h, st
}

func processOrder(t *testing.T, e *engine.Engine, id, member, amount string, at time.Time) *change.Outcome {
	t.Helper()
	out, err := e.Process(context.Background(), event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// advanceChanges runs Advance to now and returns the changes it made.
func advanceChanges(t *testing.T, e *engine.Engine, now time.Time) []change.Change {
	t.Helper()
	ctx := context.Background()
	before, err := e.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Advance(ctx, now); err != nil {
		t.Fatal(err)
	}
	var after uint64
	if len(before) > 0 {
		after = before[len(before)-1].Seq
	}
	changes, err := e.Feed(ctx, after, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

func dueItems(t *testing.T, st store.Store, kind string) []string {
	t.Helper()
	var ids []string
	err := st.View(context.Background(), func(tx store.Tx) error {
		items, err := due.Next(tx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
		for _, it := range items {
			if it.Kind == kind {
				ids = append(ids, it.At.Format(time.DateOnly)+" "+it.ID)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A member's lots that expire at the same instant share one due item, and
// all of them expire when it falls due.
func TestExpiriesGroupedByInstant(t *testing.T) {
	ctx := context.Background()
	e, h, st := openDue(t)
	sh := e.Location()
	nov := time.Date(2026, 11, 3, 10, 0, 0, 0, sh)
	processOrder(t, e, "a", "m1", "10", nov)
	processOrder(t, e, "b", "m1", "20", nov.AddDate(0, 0, 10))
	processOrder(t, e, "c", "m1", "30", nov.AddDate(0, 0, 20))
	processOrder(t, e, "d", "m1", "5", nov.AddDate(0, 1, 0)) // December's: expires a month later
	processOrder(t, e, "e", "m2", "7", nov)
	got := dueItems(t, st, dueExpire)
	want := []string{"2026-12-31 4.mall.2.m1.", "2026-12-31 4.mall.2.m2.", "2027-01-31 4.mall.2.m1."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("due items %q, want %q", got, want)
	}
	changes := advanceChanges(t, e, time.Date(2027, 1, 1, 0, 0, 0, 0, sh))
	var expired []string
	for _, c := range changes {
		if c.Kind == ChangeExpired {
			var pc Change
			if err := c.Decode(&pc); err != nil {
				t.Fatal(err)
			}
			expired = append(expired, c.Member+":"+pc.Amount.String())
		}
	}
	if strings.Join(expired, " ") != "m1:10 m1:20 m1:30 m2:7" {
		t.Errorf("expired %v, want m1's three November lots in grant order, then m2's", expired)
	}
	b, err := h.Balance(ctx, BalanceQuery{Program: "mall", Member: "m1", At: time.Date(2027, 1, 1, 0, 0, 0, 0, sh)})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Main.Equal(decimal.NewFromInt(5)) {
		t.Errorf("m1 keeps %s, want December's 5", b.Main)
	}
	if got := dueItems(t, st, dueExpire); len(got) != 1 || !strings.HasPrefix(got[0], "2027-01-31") {
		t.Errorf("due items left %q", got)
	}
}

// A due item naming one lot, as stores written before expiries were grouped
// hold, still expires that lot (and only it).
func TestExpiryOfOneLotItem(t *testing.T) {
	ctx := context.Background()
	e, _, st := openDue(t)
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, e.Location())
	var lots []string
	for _, id := range []string{"a", "b"} {
		out := processOrder(t, e, id, "m1", "10", at)
		for _, en := range out.Entries {
			if en.Account.IsMember() {
				lots = append(lots, en.Lot)
			}
		}
	}
	// Replace the grouped item by one for the first lot only.
	err := st.Update(ctx, func(tx store.Tx) error {
		exp := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) // 24:00 on 31 Dec in Shanghai
		if err := due.Cancel(tx, exp, dueExpire, dueID("mall", "m1", "")); err != nil {
			return err
		}
		raw, err := engine.MarshalData(duePayload{Program: "mall", Member: "m1", Lot: lots[0]})
		if err != nil {
			return err
		}
		return due.Schedule(tx, due.Item{At: exp, Kind: dueExpire, ID: dueID("mall", "m1", lots[0]), Payload: raw})
	})
	if err != nil {
		t.Fatal(err)
	}
	changes := advanceChanges(t, e, time.Date(2027, 1, 1, 0, 0, 0, 0, e.Location()))
	if n := len(changes); n != 1 || changes[0].Kind != ChangeExpired {
		t.Fatalf("changes %+v, want one expiry", changes)
	}
	var pc Change
	if err := changes[0].Decode(&pc); err != nil || pc.Lot != lots[0] {
		t.Errorf("expired %+v, %v; want lot %s", pc, err, lots[0])
	}
}

func TestDueIDRoundTrip(t *testing.T) {
	for _, d := range []duePayload{
		{Program: "mall", Member: "m1"},
		{Program: "a.b", Member: "1.2.3", Lot: "17.0"},
		{Program: "", Member: "m", Lot: "x.y."},
		{Program: "p", Member: "", Lot: ""},
	} {
		got, ok := parseDueID(dueID(d.Program, d.Member, d.Lot))
		if !ok || got != d {
			t.Errorf("parse(dueID(%+v)) = %+v, %v", d, got, ok)
		}
	}
	for _, id := range []string{"", "4.mall", "4.mall.2", "x.mall.2.m1.", "9.mall.2.m1.", "4.mall.9.m1.", "-1.a"} {
		if d, ok := parseDueID(id); ok {
			t.Errorf("parse(%q) = %+v, want malformed", id, d)
		}
	}
}

// The monthly expiry totals (ExpiryForecast's) follow the lots: a grant
// adds to the month of its last valid day, a spend and an expiry take from
// it.
func TestExpiryTotals(t *testing.T) {
	ctx := context.Background()
	e, h, st := openDue(t)
	sh := e.Location()
	processOrder(t, e, "a", "m1", "10", time.Date(2026, 11, 3, 10, 0, 0, 0, sh))
	processOrder(t, e, "b", "m2", "25", time.Date(2026, 11, 30, 23, 59, 0, 0, sh))
	processOrder(t, e, "c", "m1", "4", time.Date(2026, 12, 1, 0, 0, 0, 0, sh))
	total := func(month string) string {
		t.Helper()
		var amt decimal.Decimal
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			amt, err = engine.Total(tx, bExpiry, keys.New().Str("mall").Str(month))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return amt.String()
	}
	// November's 35 expire at 24:00 on 31 December, December's 4 at 24:00
	// on 31 January.
	if dec, jan := total("2026-12"), total("2027-01"); dec != "35" || jan != "4" {
		t.Fatalf("totals Dec %s Jan %s, want 35 and 4", dec, jan)
	}
	if _, err := h.Redeem(ctx, RedeemRequest{RequestID: "r", Member: "m1", At: time.Date(2026, 12, 2, 0, 0, 0, 0, sh), Program: "mall", Ref: "x", Amount: decimal.NewFromInt(12)}); err != nil {
		t.Fatal(err)
	}
	// The spend takes November's 10, then 2 of December's 4.
	if dec, jan := total("2026-12"), total("2027-01"); dec != "25" || jan != "2" {
		t.Errorf("totals after spending 12: Dec %s Jan %s, want 25 and 2", dec, jan)
	}
	advanceChanges(t, e, time.Date(2027, 1, 1, 0, 0, 0, 0, sh))
	if dec, jan := total("2026-12"), total("2027-01"); dec != "0" || jan != "2" {
		t.Errorf("totals after December's expiry: Dec %s Jan %s, want 0 and 2", dec, jan)
	}
	fc, err := h.ExpiryForecast(ctx, "mall", time.Date(2026, 12, 15, 0, 0, 0, 0, sh), 2)
	if err != nil || len(fc) != 2 || !fc[0].Amount.IsZero() || !fc[1].Amount.Equal(decimal.NewFromInt(2)) {
		t.Errorf("forecast %+v, %v", fc, err)
	}
}
