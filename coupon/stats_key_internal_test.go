package coupon

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/total"
)

// A statistics counter written before the cost centre went into its key
// (day \0 template \0 store) reads under the template's cost centre in
// force, beside the counters written since: 3 used at s1 on 1 May before,
// 1 used there after, all the marketing team's.
func TestCouponStatsCounterWithoutCostCentre(t *testing.T) {
	def := Definition{Templates: []Template{{Name: "a", Type: Cash, Amount: dec("5"), CostCentre: "marketing"}}}
	b := newBooks(t, def)
	if err := b.update(func(bk *Book) error {
		old, err := json.Marshal(Stat{Used: 3, AmountOff: dec("15")})
		if err != nil {
			return err
		}
		if err := bk.tx.Put(bStats, total.Key([]byte("2026-05-01\x00a\x00s1"), nil, 0), old); err != nil {
			return err
		}
		return bk.count(at(t, "2026-05-01 12:00"), "a", "s1", "m1", func(s *Stat) { s.Used++; s.AmountOff = s.AmountOff.Add(dec("5")) })
	}); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := b.update(func(bk *Book) error {
		var err error
		r, err = bk.Stats(StatsQuery{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []StatRow{{Template: "a", Store: "s1", CostCentre: "marketing", Stat: Stat{Used: 4, AmountOff: dec("20")}}}
	if diff := cmp.Diff(want, r.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}
