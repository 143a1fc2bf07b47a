package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// striped is a memory store that asks for n stripes of the shared totals
// (store.Striper), as a store whose Updates run concurrently does.
type striped struct {
	*memory.Store
	n int
}

func (s striped) Stripes() int { return s.n }

var _ store.Striper = striped{}

// statsDef has an unlimited cash coupon, a discount with a stock no claim
// reaches and one with a stock of three.
func statsDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "cash5", Type: coupon.Cash, Amount: dec("5"), Use: days(30), CostCentre: "crm"},
			{Name: "disc", Type: coupon.Discount, Rate: dec("0.9"), Cap: dec("20"), Stock: 100, Use: days(30), CostCentre: "promo"},
			{Name: "few", Type: coupon.Cash, Amount: dec("2"), Stock: 3, Use: days(30), CostCentre: "promo"},
		}},
	}
}

// statsDay1 and statsDay2 are the hand-worked statistics of runStats on
// its two days. On 1 May the thirty members m00…m29 claim cash5 (30
// issued), the fifteen even ones disc (15 issued), and m00…m05 claim few,
// of which the first three get one (3 issued). On 2 May the ten members
// whose number is a multiple of 3 redeem cash5 at s1 against an order of
// 60 (10 used, 5 off each: 50); the eight whose number is a multiple of 4
// lock disc for an order of 100 at s2 and use it (8 used, 10% of 100
// each: 80); an operator revokes m01's cash5.
var (
	statsDay1 = map[[2]string]coupon.Stat{
		{"cash5", ""}: {Issued: 30},
		{"disc", ""}:  {Issued: 15},
		{"few", ""}:   {Issued: 3},
	}
	statsDay2 = map[[2]string]coupon.Stat{
		{"cash5", ""}:   {Revoked: 1},
		{"cash5", "s1"}: {Used: 10, AmountOff: dec("50")},
		{"disc", "s2"}:  {Used: 8, AmountOff: dec("80")},
	}
	statsWhole = coupon.Report{
		Rows: []coupon.StatRow{
			{Template: "cash5", CostCentre: "crm", Stat: coupon.Stat{Issued: 30, Revoked: 1}},
			{Template: "cash5", Store: "s1", CostCentre: "crm", Stat: coupon.Stat{Used: 10, AmountOff: dec("50")}},
			{Template: "disc", CostCentre: "promo", Stat: coupon.Stat{Issued: 15}},
			{Template: "disc", Store: "s2", CostCentre: "promo", Stat: coupon.Stat{Used: 8, AmountOff: dec("80")}},
			{Template: "few", CostCentre: "promo", Stat: coupon.Stat{Issued: 3}},
		},
		ByTemplate: map[string]coupon.Stat{
			"cash5": {Issued: 30, Used: 10, Revoked: 1, AmountOff: dec("50")},
			"disc":  {Issued: 15, Used: 8, AmountOff: dec("80")},
			"few":   {Issued: 3},
		},
		ByStore: map[string]coupon.Stat{
			"":   {Issued: 48, Revoked: 1},
			"s1": {Used: 10, AmountOff: dec("50")},
			"s2": {Used: 8, AmountOff: dec("80")},
		},
		ByCostCentre: map[string]coupon.Stat{
			"crm":   {Issued: 30, Used: 10, Revoked: 1, AmountOff: dec("50")},
			"promo": {Issued: 18, Used: 8, AmountOff: dec("80")},
		},
		Total: coupon.Stat{Issued: 48, Used: 18, Revoked: 1, AmountOff: dec("130")},
	}
)

// runStats runs the claims, redemptions, uses and the revocation that
// statsDay1 and statsDay2 count, on a program over st.
func runStats(t *testing.T, st store.Store) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, statsDef())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	h := p.Coupons()
	cash := map[string]coupon.Coupon{}
	disc := map[string]coupon.Coupon{}
	for i := range 30 {
		m := fmt.Sprintf("m%02d", i)
		cash[m] = couponClaim(t, p, "cash-"+m, m, "cash5", "2026-05-01 10:00")
		if i%2 == 0 {
			disc[m] = couponClaim(t, p, "disc-"+m, m, "disc", "2026-05-01 10:00")
		}
		if i < 6 {
			_, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: "few-" + m, Member: m, Template: "few", At: at(t, "2026-05-01 11:00")})
			if want := i >= 3; errors.Is(err, coupon.ErrOutOfStock) != want || (err != nil) != want {
				t.Fatalf("%s claims few: %v, want out of stock %v", m, err, want)
			}
		}
	}
	for i := range 30 {
		m := fmt.Sprintf("m%02d", i)
		if i%3 == 0 {
			o := coupon.Order{ID: "pos-" + m, Store: "s1", Time: at(t, "2026-05-02 12:00"), Lines: []coupon.Line{line("a", "", "60")}}
			if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem-" + m, Code: cash[m].Code, Order: o}); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 == 0 {
			o := coupon.Order{ID: "web-" + m, Member: m, Store: "s2", Time: at(t, "2026-05-02 12:00"), Lines: []coupon.Line{line("a", "", "100")}}
			if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock-" + m, Order: o, Coupons: []string{disc[m].ID}}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Use(ctx, coupon.OrderRequest{RequestID: "use-" + m, Order: o.ID, At: at(t, "2026-05-02 12:01")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Operator: "ops", At: at(t, "2026-05-02 13:00"), Coupon: cash["m01"].ID}); err != nil {
		t.Fatal(err)
	}
	return p
}

// rowsOf returns a report's rows by template and store.
func rowsOf(r coupon.Report) map[[2]string]coupon.Stat {
	m := map[[2]string]coupon.Stat{}
	for _, row := range r.Rows {
		m[[2]string{row.Template, row.Store}] = row.Stat
	}
	return m
}

// Coupon statistics are kept in stripes by member when the store asks for
// several (each issue, use, expiry and revocation writes its member's
// stripe); Stats merges them, and reports what one stripe reports.
func TestCouponStatsMergeStripes(t *testing.T) {
	ctx := context.Background()
	may := func(d int) rule.Date { return rule.Date{Year: 2026, Month: 5, Day: d} }
	reports := map[string]coupon.Report{}
	for name, st := range map[string]store.Store{"7 stripes": striped{memory.New(), 7}, "1 stripe": memory.New()} {
		t.Run(name, func(t *testing.T) {
			p := runStats(t, st)
			whole, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(statsWhole, whole); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			reports[name] = whole
			for _, tt := range []struct {
				q    coupon.StatsQuery
				want map[[2]string]coupon.Stat
			}{
				{coupon.StatsQuery{From: may(1), To: may(1)}, statsDay1},
				{coupon.StatsQuery{From: may(2), To: may(2)}, statsDay2},
				{coupon.StatsQuery{From: may(2)}, statsDay2},
				{coupon.StatsQuery{To: may(1)}, statsDay1},
				{coupon.StatsQuery{From: may(3)}, map[[2]string]coupon.Stat{}},
			} {
				r, err := p.Coupons().Stats(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, rowsOf(r)); diff != "" {
					t.Errorf("%+v: rows (-want +got):\n%s", tt.q, diff)
				}
			}
			r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{Store: "s1"})
			if err != nil {
				t.Fatal(err)
			}
			if want := (coupon.Stat{Used: 10, AmountOff: dec("50")}); !cmp.Equal(want, r.Total) {
				t.Errorf("store s1: total %+v, want %+v", r.Total, want)
			}
		})
	}
	if diff := cmp.Diff(reports["1 stripe"], reports["7 stripes"]); diff != "" {
		t.Errorf("7 stripes report what 1 does not (-1 +7):\n%s", diff)
	}
}

// A period whose From or To is not a date, or whose To is before its
// From, is refused naming the field; a one-day period and open bounds are
// periods.
func TestCouponStatsRefusesBadPeriod(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
	d := func(y int, m time.Month, day int) rule.Date { return rule.Date{Year: y, Month: m, Day: day} }
	for _, tt := range []struct {
		name  string
		q     coupon.StatsQuery
		field string // "" for a period
	}{
		{"from 2025-13-40", coupon.StatsQuery{From: d(2025, 13, 40)}, "from"},
		{"to 2026-02-30", coupon.StatsQuery{To: d(2026, 2, 30)}, "to"},
		{"to before from", coupon.StatsQuery{From: d(2026, 5, 10), To: d(2026, 5, 1)}, "to"},
		{"one day", coupon.StatsQuery{From: d(2026, 5, 1), To: d(2026, 5, 1)}, ""},
		{"from only", coupon.StatsQuery{From: d(2026, 5, 1)}, ""},
		{"to only", coupon.StatsQuery{To: d(2026, 5, 1)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := p.Coupons().Stats(ctx, tt.q)
			if tt.field == "" {
				if err != nil || r.Total.Issued != 1 {
					t.Errorf("Stats: %+v, %v; want the one coupon issued", r.Total, err)
				}
				return
			}
			if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), tt.field+":") {
				t.Errorf("Stats: %v, want event.ErrInvalidArgument naming %s", err, tt.field)
			}
		})
	}
}
