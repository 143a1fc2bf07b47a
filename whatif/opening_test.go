package whatif_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// TestRunCountsOpeningPoints checks the points of a member migrated in
// (Program.OpenMember, journaled as "member.open"): they are held, so
// they are outstanding and in the liability, but no rule or reward
// earned them, so they are not issued.
//
// Worked by hand, under programJSON (a point a yuan expiring at the end
// of the month, at 0.01 a point): erin opens on 5 January with 500
// spendable points that never expire and 40 pending ones released on the
// 8th; alice orders 60 on the 10th (60 points, expiring at 24:00 on 31
// January). January: issued 60 (alice's), outstanding 500 + 40 + 60 =
// 600, liability 6.00. February (Advance to 1 February): alice's 60
// expire; outstanding 540, liability 5.40 — erin's balance.
func TestRunCountsOpeningPoints(t *testing.T) {
	ctx := context.Background()
	def, _ := definitions(t)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, loc) }
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "m1", Member: "erin", Operator: "ops", At: at(1, 5, 10),
		Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: decimal.NewFromInt(500)}},
			Pending: []migrate.Lot{{Amount: decimal.NewFromInt(40), Release: at(1, 8, 10)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(ctx, event.Event{ID: "a1", Member: "alice", Type: "order", Time: at(1, 10, 10),
		Attrs: event.Attrs{"amount": event.DecString("60")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(2, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// The source agrees with the figures below.
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "erin", At: at(2, 1, 0)})
	if err != nil || !b.Available.Equal(dec("540")) {
		t.Fatalf("erin's balance %+v, %v; want 540", b, err)
	}

	rep, err := whatif.Run(ctx, st, def, def, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mall := func(issued, expired, outstanding, liability string) map[string]whatif.Points {
		return map[string]whatif.Points{"mall": {Issued: dec(issued), Redeemed: dec("0"), Expired: dec(expired),
			Outstanding: dec(outstanding), Liability: dec(liability)}}
	}
	want := []whatif.Figures{
		{Levels: map[string]int64{"Silver": 2}, Joins: 2, Points: mall("60", "0", "600", "6.00"),
			Coupons: map[string]whatif.Coupons{}, Tasks: map[string]int64{}},
		{Levels: map[string]int64{"Silver": 2}, Points: mall("0", "60", "540", "5.40"),
			Coupons: map[string]whatif.Coupons{}, Tasks: map[string]int64{}},
	}
	var got []whatif.Figures
	for _, m := range rep.Months {
		got = append(got, m.Actual)
		if d := cmp.Diff(m.Actual, m.Changed, opts); d != "" {
			t.Errorf("%s: the same program on both sides differs (-actual +changed):\n%s", m.Start.Format("2006-01"), d)
		}
	}
	if d := cmp.Diff(want, got, opts); d != "" {
		t.Errorf("actual side, month by month (-want +got):\n%s", d)
	}
}
