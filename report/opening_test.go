package report_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// TestMigratedMemberLevels checks the level figures around a member
// migrated in (Program.OpenMember), worked by hand under smallDef: erin
// opens on 5 March with 1,200 of growth, placed at Gold (1,000); a joins
// Silver with an order on the 6th. Before 5 March nobody holds a level;
// erin is first seen on the 5th, a join, as a is on the 6th. At the end of
// March one member holds each level.
func TestMigratedMemberLevels(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "m1", Member: "erin", Operator: "ops", At: at(3, 5, 10),
		Growth: decimal.NewFromInt(1200)}); err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, event.Event{ID: "o1", Member: "a", Type: "order", Time: at(3, 6, 10),
		Attrs: event.Attrs{"amount": event.DecString("100")}})
	members := func(silver, gold int64) []level.Count {
		return []level.Count{{Name: "Silver", Members: silver}, {Name: "Gold", Members: gold}}
	}

	r, err := report.Build(ctx, p, report.Query{From: date(2, 1), To: date(3, 31), Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Levels{{Members: members(0, 0)}, {Members: members(1, 1), Joins: 2}}
	var got []report.Levels
	for _, pd := range r.Periods {
		got = append(got, *pd.Levels)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("monthly levels (-want +got):\n%s", d)
	}

	r, err = report.Build(ctx, p, report.Query{From: date(3, 4), To: date(3, 6), Grain: report.Day})
	if err != nil {
		t.Fatal(err)
	}
	want = []report.Levels{{Members: members(0, 0)}, {Members: members(0, 1), Joins: 1}, {Members: members(1, 1), Joins: 1}}
	got = nil
	for _, pd := range r.Periods {
		got = append(got, *pd.Levels)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("daily levels (-want +got):\n%s", d)
	}
}

// TestMigratedValueAndPoints checks the points and stored-value figures
// of a month in which a member was migrated in, worked by hand under
// smallDef: erin opens on 5 March with 500 points (never expiring) and a
// stored-value balance of 70; on the 6th she recharges 30 and pays 20,
// and a orders 100 (100 points, expiring at the end of March). Points:
// issued 100 (a's; the opening lot was not earned), other 500, outstanding
// 600. Value: recharged 30, spent 20, other 70 (the opening balance),
// float 80 — so that opening + recharged − spent + refunded + other is
// the float, as it is for points.
func TestMigratedValueAndPoints(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "m1", Member: "erin", Operator: "ops", At: at(3, 5, 10),
		Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: decimal.NewFromInt(500)}}}},
		Value:  &migrate.Value{Balance: decimal.NewFromInt(70)}}); err != nil {
		t.Fatal(err)
	}
	ev := func(id, member, typ, amount string) event.Event {
		return event.Event{ID: id, Member: member, Type: typ, Time: at(3, 6, 10), Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	testkit.MustProcess(t, p, ev("top", "erin", "recharge", "30"), ev("pay", "erin", "pay", "20"), ev("o1", "a", "order", "100"))
	r, err := report.Build(ctx, p, report.Query{From: date(3, 1), To: date(3, 31), Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	pd := r.Periods[0]
	wantPoints := []report.Points{{Program: "mall", Opening: d("0"), Issued: d("100"), Redeemed: d("0"), Expired: d("0"), Other: d("500"), Outstanding: d("600")}}
	if diff := cmp.Diff(wantPoints, pd.Points, cmpDec); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	wantValue := &report.Value{Opening: d("0"), Recharged: d("30"), Spent: d("20"), Refunded: d("0"), Other: d("70"), Float: d("80")}
	if diff := cmp.Diff(wantValue, pd.Value, cmpDec); diff != "" {
		t.Errorf("value (-want +got):\n%s", diff)
	}
}
