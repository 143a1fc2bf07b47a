package membership_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// A points balance past the limit on decimals (40 digits) that every
// amount keeps to, made by an exchange at a large rate, reads back
// exactly everywhere, on every store: a visit earns 1e39 shop points,
// exchanged into park at 1e30, 1e69 park points (70 digits). The
// balance, the member, the statement (one entry of 1e69, balance 1e69),
// the report (park's other and outstanding 1e69, the liability at 0.01
// 1e67, in the CSV as written in full) and Verify agree. Redeeming the
// whole balance is refused as an amount past the limit
// (event.ErrInvalidArgument, event.ErrTooLarge) and changes nothing; an
// exchange back of 1e39 park gives 1e9 shop, leaving 1e69 − 1e39 park.
func TestPointsPastTheLimitReadExactly(t *testing.T) {
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop"}, {Name: "park"}},
		Exchanges: []points.Exchange{{From: "shop", To: "park", Rate: testkit.Dec("1e30")},
			{From: "park", To: "shop", Rate: testkit.Dec("1e-30")}},
		Rules: []points.Rule{{ID: "visit", Program: "shop", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("1e39")}}},
	})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		at := time.Date(2026, 3, 1, 10, 0, 0, 0, testkit.Shanghai)
		e69, e39 := testkit.Dec("1e69"), testkit.Dec("1e39")
		testkit.MustProcess(t, p, event.Event{ID: "v", Member: "m", Type: "visit", Time: at.Add(-time.Hour)})
		res, err := p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x1", Member: "m", At: at, From: "shop", To: "park", Amount: e39})
		if err != nil || !res.Got.Equal(e69) {
			t.Fatalf("exchange: %+v, %v; want 1e69 park", res, err)
		}
		specBalance(t, p, "park", "m", at, "1e69", "0", "0")
		if m, err := p.Member(ctx, "m", at); err != nil || !m.Points["park"].Available.Equal(e69) {
			t.Errorf("member: %+v, %v; want 1e69 park", m.Points, err)
		}
		pg, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("m", ledger.Points("park"), "")})
		if err != nil || len(pg.Entries) != 1 || !pg.Entries[0].Amount.Equal(e69) || !pg.Entries[0].Balance.Equal(e69) {
			t.Errorf("statement: %+v, %v; want one entry of 1e69, balance 1e69", pg, err)
		}
		day := rule.Date{Year: 2026, Month: 3, Day: 1}
		r, err := report.Build(ctx, p, report.Query{From: day, To: day, Grain: report.Day, Rates: map[string]decimal.Decimal{"park": testkit.Dec("0.01")}})
		if err != nil {
			t.Fatal(err)
		}
		var park report.Points
		for _, x := range r.Periods[0].Points {
			if x.Program == "park" {
				park = x
			}
		}
		if !park.Other.Equal(e69) || !park.Outstanding.Equal(e69) || !park.Liability.Equal(testkit.Dec("1e67")) {
			t.Errorf("report's park: %+v; want other and outstanding 1e69, liability 1e67", park)
		}
		var csv bytes.Buffer
		if err := r.WriteCSV(&csv); err != nil || !strings.Contains(csv.String(), "points,park,liability,1"+strings.Repeat("0", 67)+"\n") {
			t.Errorf("report CSV: %v\n%s; want the liability 1e67 written in full", err, csv.String())
		}
		if err := p.Verify(ctx); err != nil {
			t.Error(err)
		}
		_, err = p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "all", Member: "m", At: at, Program: "park", Ref: "o1", Amount: e69})
		if !errors.Is(err, event.ErrInvalidArgument) || !errors.Is(err, event.ErrTooLarge) {
			t.Errorf("redeeming 1e69: %v; want event.ErrInvalidArgument and event.ErrTooLarge", err)
		}
		specBalance(t, p, "park", "m", at, "1e69", "0", "0")
		res, err = p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x2", Member: "m", At: at, From: "park", To: "shop", Amount: e39})
		if err != nil || !res.Got.Equal(testkit.Dec("1e9")) {
			t.Errorf("exchange back: %+v, %v; want 1e9 shop", res, err)
		}
		specBalance(t, p, "park", "m", at, e69.Sub(e39).String(), "0", "0")
		specBalance(t, p, "shop", "m", at, "1e9", "0", "0")
	})
}
