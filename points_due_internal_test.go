package membership

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// openPointsDue opens a program whose orders earn points that expire at
// the end of the month after the order's.
func openPointsDue(t *testing.T) (*Program, store.Store) {
	t.Helper()
	st := memory.New()
	p, err := Open(st, Definition{Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}, Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
			Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// advanceChanges runs Advance to now and returns the changes it made.
func advanceChanges(t *testing.T, p *Program, now time.Time) []Change {
	t.Helper()
	ctx := context.Background()
	before, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, now); err != nil {
		t.Fatal(err)
	}
	var after uint64
	if len(before) > 0 {
		after = before[len(before)-1].Seq
	}
	changes, err := p.Feed(ctx, after, 10000)
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
func TestPointsExpiriesGroupedByInstant(t *testing.T) {
	ctx := context.Background()
	p, st := openPointsDue(t)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	order := func(id, member, amount string, at time.Time) {
		t.Helper()
		if _, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}); err != nil {
			t.Fatal(err)
		}
	}
	nov := time.Date(2026, 11, 3, 10, 0, 0, 0, sh)
	order("a", "m1", "10", nov)
	order("b", "m1", "20", nov.AddDate(0, 0, 10))
	order("c", "m1", "30", nov.AddDate(0, 0, 20))
	order("d", "m1", "5", nov.AddDate(0, 1, 0)) // December's: expires a month later
	order("e", "m2", "7", nov)
	got := dueItems(t, st, duePtsExpire)
	want := []string{"2026-12-31 4.mall.2.m1.", "2026-12-31 4.mall.2.m2.", "2027-01-31 4.mall.2.m1."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("due items %q, want %q", got, want)
	}
	changes := advanceChanges(t, p, time.Date(2027, 1, 1, 0, 0, 0, 0, sh))
	var expired []string
	for _, c := range changes {
		if c.Kind == ChangePointsExpired {
			var pc PointsChange
			if err := c.Decode(&pc); err != nil {
				t.Fatal(err)
			}
			expired = append(expired, c.Member+":"+pc.Amount.String())
		}
	}
	if strings.Join(expired, " ") != "m1:10 m1:20 m1:30 m2:7" {
		t.Errorf("expired %v, want m1's three November lots in grant order, then m2's", expired)
	}
	if err := p.view(ctx, func(tx store.Tx, led *ledger.Ledger) error {
		bal, err := led.Balance(ledger.MemberAccount("m1", ledger.Points("mall"), ""))
		if err == nil && !bal.Equal(decimal.NewFromInt(5)) {
			t.Errorf("m1 keeps %s, want December's 5", bal)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := dueItems(t, st, duePtsExpire); len(got) != 1 || !strings.HasPrefix(got[0], "2027-01-31") {
		t.Errorf("due items left %q", got)
	}
}

// A due item naming one lot, as stores written before expiries were grouped
// hold, still expires that lot (and only it).
func TestPointsExpiryOfOneLotItem(t *testing.T) {
	ctx := context.Background()
	p, st := openPointsDue(t)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, sh)
	var lots []string
	for _, id := range []string{"a", "b"} {
		out, err := p.Process(ctx, event.Event{ID: id, Member: "m1", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString("10")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Entries {
			if e.Account.IsMember() {
				lots = append(lots, e.Lot)
			}
		}
	}
	// Replace the grouped item by one for the first lot only.
	err := st.Update(ctx, func(tx store.Tx) error {
		exp := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) // 24:00 on 31 Dec in Shanghai
		if err := due.Cancel(tx, exp, duePtsExpire, ptsDueID("mall", "m1", "")); err != nil {
			return err
		}
		raw, err := marshalData(ptsDue{Program: "mall", Member: "m1", Lot: lots[0]})
		if err != nil {
			return err
		}
		return due.Schedule(tx, due.Item{At: exp, Kind: duePtsExpire, ID: ptsDueID("mall", "m1", lots[0]), Payload: raw})
	})
	if err != nil {
		t.Fatal(err)
	}
	changes := advanceChanges(t, p, time.Date(2027, 1, 1, 0, 0, 0, 0, sh))
	if n := len(changes); n != 1 || changes[0].Kind != ChangePointsExpired {
		t.Fatalf("changes %+v, want one expiry", changes)
	}
	var pc PointsChange
	if err := changes[0].Decode(&pc); err != nil || pc.Lot != lots[0] {
		t.Errorf("expired %+v, %v; want lot %s", pc, err, lots[0])
	}
}

func TestPtsDueIDRoundTrip(t *testing.T) {
	for _, d := range []ptsDue{
		{Program: "mall", Member: "m1"},
		{Program: "a.b", Member: "1.2.3", Lot: "17.0"},
		{Program: "", Member: "m", Lot: "x.y."},
		{Program: "p", Member: "", Lot: ""},
	} {
		got, ok := parsePtsDueID(ptsDueID(d.Program, d.Member, d.Lot))
		if !ok || got != d {
			t.Errorf("parse(ptsDueID(%+v)) = %+v, %v", d, got, ok)
		}
	}
	for _, id := range []string{"", "4.mall", "4.mall.2", "x.mall.2.m1.", "9.mall.2.m1.", "4.mall.9.m1.", "-1.a"} {
		if d, ok := parsePtsDueID(id); ok {
			t.Errorf("parse(%q) = %+v, want malformed", id, d)
		}
	}
}
