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
