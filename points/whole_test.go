package points_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// yen is a points + cash payment in whole units of money (MoneyScale 0):
// a point is worth 0.07, and points pay at most 33% of an order.
func yen() *points.Payment {
	return &points.Payment{Rate: d("0.07"), MaxShare: d("0.33"), MoneyScale: new(int32(0))}
}

// With a money scale of 0 the money paid in points is rounded down to a
// whole unit, so the member pays the fraction in cash (rounded up), and
// the points charged are the fewest worth that whole amount.
func TestSplitOrderWholeUnits(t *testing.T) {
	prog := points.Program{Name: "mall", Payment: yen()}
	for _, tc := range []struct {
		name                string
		order, avail, limit string
		points, money, cash string
	}{
		// 1001 × 0.33 = 330.33, down to 330 paid in points; 330 / 0.07 =
		// 4714.28…, up to 4715 points (worth 330.05); cash 1001 − 330 =
		// 671. At the default scale it would be 330.33 and 670.67.
		{"the share's fraction is paid in cash", "1001", "10000", "0", "4715", "330", "671"},
		// 105 points are worth 7.35, down to 7, which 100 points pay:
		// the member keeps 5 points and pays 1000 − 7 = 993.
		{"a short balance pays whole units", "1000", "105", "0", "100", "7", "993"},
		// A limit of 50 points: 3.50, down to 3, paid by 3 / 0.07 =
		// 42.85…, up to 43 points.
		{"a limit pays whole units", "1000", "10000", "50", "43", "3", "997"},
		// 2 × 0.33 = 0.66, down to 0: no points, all in cash.
		{"less than a unit pays nothing", "2", "10000", "0", "0", "0", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := points.SplitOrder(prog, d(tc.order), d(tc.avail), d(tc.limit))
			if err != nil {
				t.Fatal(err)
			}
			if !s.Points.Equal(d(tc.points)) || !s.PointsMoney.Equal(d(tc.money)) || !s.Cash.Equal(d(tc.cash)) {
				t.Errorf("split = %s points, %s money, %s cash; want %s, %s, %s", s.Points, s.PointsMoney, s.Cash, tc.points, tc.money, tc.cash)
			}
		})
	}
	for _, order := range []string{"10.5", "1000.01"} {
		if _, err := points.SplitOrder(prog, d(order), d("10000"), decimal.Zero); !errors.Is(err, points.ErrInvalidAmount) {
			t.Errorf("order %s in whole units: %v, want ErrInvalidAmount", order, err)
		}
	}
	nine := points.Program{Name: "x", Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("1"), MoneyScale: new(int32(9))}}
	if _, err := points.SplitOrder(nine, d("1"), d("100"), decimal.Zero); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("money scale 9: %v, want ErrInvalidDefinition", err)
	}
}

// A redemption with an order in whole units spends the points of the
// split; an order with a fraction is refused and spends nothing.
func TestRedeemWholeUnits(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Programs[0].Payment = yen()
		d.Rules = []points.Rule{ptsBuy}
	}))
	at := ptsAt("2026-03-01 10:00")
	mustProcess(t, p, ptsOrder("1", "m", "10000", at))
	_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r0", Program: "mall", Member: "m", Ref: "o-frac", Order: dec("10.5"), At: at})
	if !errors.Is(err, points.ErrInvalidAmount) {
		t.Errorf("order 10.5 in whole units: %v, want ErrInvalidAmount", err)
	}
	ptsWantAvailable(t, p, "mall", "m", at, "10000")
	res, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Program: "mall", Member: "m", Ref: "o-9", Order: dec("1001"), At: at})
	if err != nil {
		t.Fatal(err)
	}
	// As in TestSplitOrderWholeUnits: 330 in points (4715 of them), 671
	// in cash.
	if !res.Points.Equal(dec("4715")) || res.Split == nil || !res.Split.PointsMoney.Equal(dec("330")) || !res.Split.Cash.Equal(dec("671")) {
		t.Errorf("result %s points, split %+v", res.Points, res.Split)
	}
	ptsWantAvailable(t, p, "mall", "m", at, "5285")
	ptsCheckBooks(t, p)
}

// Definition.Check takes a money scale of nil (the default), 0 to 8, and
// refuses one outside them.
func TestPaymentMoneyScaleCheck(t *testing.T) {
	for _, tc := range []struct {
		scale *int32
		ok    bool
	}{{nil, true}, {new(int32(0)), true}, {new(int32(8)), true}, {new(int32(9)), false}, {new(int32(-1)), false}} {
		def := validDef()
		def.Programs[0].Payment.MoneyScale = tc.scale
		err := def.Check(env{levels: []string{"gold"}})
		if tc.ok && err != nil {
			t.Errorf("money scale %v: %v", tc.scale, err)
		}
		if !tc.ok && (!errors.Is(err, rule.ErrInvalidDefinition) || !strings.Contains(err.Error(), "programs[0].payment.money_scale: must be 0 to 8")) {
			t.Errorf("money scale %d: %v, want programs[0].payment.money_scale refused", *tc.scale, err)
		}
	}
}

// A payment that leaves MoneyScale out encodes as it did when the field
// was an int32 whose 0 meant the default (a program's recorded definition
// is compared byte for byte), and means the default, 2; an explicit 0
// is kept and means whole units.
func TestPaymentJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		pay  points.Payment
		json string
		dp   int32
	}{
		{"unset", points.Payment{Rate: d("0.01"), MaxShare: d("0.5")}, `{"rate":"0.01","max_share":"0.5"}`, 2},
		{"one place", points.Payment{Rate: d("0.01"), MaxShare: d("0.5"), MoneyScale: new(int32(1))}, `{"rate":"0.01","max_share":"0.5","money_scale":1}`, 1},
		{"whole units", points.Payment{Rate: d("0.01"), MaxShare: d("0.5"), MoneyScale: new(int32(0))}, `{"rate":"0.01","max_share":"0.5","money_scale":0}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.pay)
			if err != nil || string(b) != tc.json {
				t.Errorf("Marshal = %s, %v; want %s", b, err, tc.json)
			}
			var back points.Payment
			if err := json.Unmarshal([]byte(tc.json), &back); err != nil {
				t.Fatal(err)
			}
			if back.MoneyPlaces() != tc.dp || tc.pay.MoneyPlaces() != tc.dp {
				t.Errorf("MoneyPlaces = %d (decoded), %d; want %d", back.MoneyPlaces(), tc.pay.MoneyPlaces(), tc.dp)
			}
			if again, _ := json.Marshal(back); string(again) != tc.json {
				t.Errorf("re-encoded %s, want %s", again, tc.json)
			}
		})
	}
}
