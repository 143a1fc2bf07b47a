package membership_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// packAuditDef has the templates A (stock a), B (stock b) and C (no
// stock), and two packs without stock of their own: any (any-invalid:
// 2 A and 1 B) and all (all-invalid: 1 A, 2 B and 1 C).
func packAuditDef(a, b int64) membership.Definition {
	days := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "A", Type: coupon.Cash, Amount: testkit.Dec("5"), Stock: a, Use: days},
				{Name: "B", Type: coupon.Cash, Amount: testkit.Dec("3"), Stock: b, Use: days},
				{Name: "C", Type: coupon.Cash, Amount: testkit.Dec("1"), Use: days},
			},
			Packs: []coupon.Pack{
				{Name: "any", Mode: coupon.AnyInvalid, Items: []coupon.PackItem{{Template: "A", Count: 2}, {Template: "B", Count: 1}}},
				{Name: "all", Mode: coupon.AllInvalid, Items: []coupon.PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 2}, {Template: "C", Count: 1}}},
			},
		},
	}
}

// countTemplates counts coupons by template.
func countTemplates(cs []coupon.Coupon) map[string]int {
	n := map[string]int{}
	for _, c := range cs {
		n[c.Template]++
	}
	return n
}

// Each pack mode when a template runs out between two members' claims,
// one member after the other (A stock 7, B stock 4):
//
//	m1 any: 2 A 1 B        (A 5 left, B 3)
//	m2 all: 1 A 2 B 1 C    (A 4, B 1)
//	m3 any: 2 A 1 B        (A 2, B 0)
//	m4 any: refused, B is out; nothing is issued (A stays 2)
//	m5 all: 1 A 1 C, short 2 B   (A 1)
//	m6 any: refused, A has 1 of 2 and B none
//	m7 all: 1 A 1 C, short 2 B   (A 0)
//	m8 all: 1 C, short 1 A and 2 B
//
// So 7 A, 4 B and 4 C are issued, and a claim of A is out of stock.
func TestCouponPackAuditRunsOutBetweenMembers(t *testing.T) {
	onEveryStore(t, packAuditDef(7, 4), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		for i, tt := range []struct {
			pack  string
			give  map[string]int // nil: refused
			short []coupon.PackItem
		}{
			{"any", map[string]int{"A": 2, "B": 1}, nil},
			{"all", map[string]int{"A": 1, "B": 2, "C": 1}, nil},
			{"any", map[string]int{"A": 2, "B": 1}, nil},
			{"any", nil, nil},
			{"all", map[string]int{"A": 1, "C": 1}, []coupon.PackItem{{Template: "B", Count: 2}}},
			{"any", nil, nil},
			{"all", map[string]int{"A": 1, "C": 1}, []coupon.PackItem{{Template: "B", Count: 2}}},
			{"all", map[string]int{"C": 1}, []coupon.PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 2}}},
		} {
			m := fmt.Sprint("m", i+1)
			res, err := ps[i%2].Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "p-" + m, Member: m, At: hammerAt, Pack: tt.pack})
			if tt.give == nil {
				if !errors.Is(err, coupon.ErrOutOfStock) {
					t.Errorf("%s's %s pack: %v, want ErrOutOfStock", m, tt.pack, err)
				}
				if list, err := ps[0].Coupons().List(ctx, m); err != nil || len(list) != 0 {
					t.Errorf("%s holds %d coupons after a refusal (%v)", m, len(list), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s's %s pack: %v", m, tt.pack, err)
			}
			if got := countTemplates(res.Coupons); !cmp.Equal(got, tt.give) || !cmp.Equal(res.Short, tt.short) {
				t.Errorf("%s's %s pack: %v short %v, want %v short %v", m, tt.pack, got, res.Short, tt.give, tt.short)
			}
		}
		if _, err := ps[0].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "a", Member: "m9", At: hammerAt, Template: "A"}); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a claim of A: %v, want ErrOutOfStock", err)
		}
		rep, err := ps[1].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for tpl, s := range rep.ByTemplate {
			got[tpl] = s.Issued
		}
		if diff := cmp.Diff(map[string]int64{"A": 7, "B": 4, "C": 4}, got); diff != "" {
			t.Errorf("issued (-want +got):\n%s", diff)
		}
	})
}

// Both pack modes and single claims of A, from many goroutines through
// both programs at once (A stock 15, B stock 9): 24 members each send an
// any pack, an all pack and a claim of A, every request twice under one
// request ID. Whatever order they ran in:
//   - the two copies of a request give the same coupons, and one of them
//     is the duplicate;
//   - an any pack holds 2 A and 1 B; an all pack holds, of each item,
//     what it holds plus what it is short of, its count, and always 1 C;
//   - refusals are out of stock, and stock only goes down, so each still
//     holds at the end: a refused any pack leaves fewer than 2 A or no B,
//     a refused claim of A no A, and an all pack short of k B at most
//     2 − k B (short of A, no A);
//   - the coupons issued, the coupons the members hold and the statistics
//     agree, per template, within the stock; every code differs.
func TestCouponPackAuditConcurrent(t *testing.T) {
	const stockA, stockB = 15, 9
	onEveryStore(t, packAuditDef(stockA, stockB), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, kinds, copies = 24, 3, 2
		type answer struct {
			coupons []coupon.Coupon
			short   []coupon.PackItem
			dup     bool
			err     error
		}
		var mu sync.Mutex
		answers := map[string][]answer{} // request ID → its copies' answers
		atOnce(members*kinds*copies, func(g int) {
			m := fmt.Sprint("m", g/(kinds*copies))
			kind := g / copies % kinds
			var a answer
			var id string
			switch kind {
			case 0, 1:
				pack := []string{"any", "all"}[kind]
				id = pack + "-" + m
				res, err := ps[g%2].Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: id, Member: m, At: hammerAt, Pack: pack})
				a = answer{res.Coupons, res.Short, err == nil && res.Outcome.Duplicate, err}
			default:
				id = "A-" + m
				res, err := ps[g%2].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: m, At: hammerAt, Template: "A"})
				a = answer{res.Coupons, nil, err == nil && res.Outcome.Duplicate, err}
			}
			mu.Lock()
			defer mu.Unlock()
			answers[id] = append(answers[id], a)
		})
		issued := map[string]int{}
		var refusedAny, refusedA bool
		maxB, maxA := stockB, stockA // what may be left at the end, by the shorts seen
		for id, as := range answers {
			if len(as) != copies {
				t.Fatalf("%s: %d answers", id, len(as))
			}
			first := as[0]
			if first.err != nil {
				for _, a := range as {
					if !errors.Is(a.err, coupon.ErrOutOfStock) {
						t.Errorf("%s: %v, want ErrOutOfStock or coupons", id, a.err)
					}
				}
				switch id[:2] {
				case "an":
					refusedAny = true
				case "A-":
					refusedA = true
				default:
					t.Errorf("%s refused: an all pack with C has something to give", id)
				}
				continue
			}
			dups := 0
			for _, a := range as {
				if a.err != nil {
					t.Fatalf("%s: one copy refused (%v), the other not", id, a.err)
				}
				if a.dup {
					dups++
				}
				if diff := cmp.Diff(first.coupons, a.coupons); diff != "" || !cmp.Equal(first.short, a.short) {
					t.Errorf("%s: the copies differ (-first +other):\n%s", id, diff)
				}
			}
			if dups != copies-1 {
				t.Errorf("%s: %d duplicates among %d copies", id, dups, copies)
			}
			got := countTemplates(first.coupons)
			for tpl, n := range got {
				issued[tpl] += n
			}
			switch id[:2] {
			case "an":
				if !cmp.Equal(got, map[string]int{"A": 2, "B": 1}) || len(first.short) != 0 {
					t.Errorf("%s: %v short %v, want 2 A and 1 B", id, got, first.short)
				}
			case "al":
				short := map[string]int{}
				for _, s := range first.short {
					short[s.Template] = s.Count
				}
				if got["A"]+short["A"] != 1 || got["B"]+short["B"] != 2 || got["C"] != 1 || short["C"] != 0 {
					t.Errorf("%s: %v short %v, want 1 A, 2 B and 1 C in all", id, got, first.short)
				}
				if short["A"] > 0 {
					maxA = 0
				}
				if short["B"] > 0 {
					maxB = min(maxB, 2-short["B"])
				}
			default:
				if !cmp.Equal(got, map[string]int{"A": 1}) {
					t.Errorf("%s: %v, want 1 A", id, got)
				}
			}
		}
		leftA, leftB := stockA-issued["A"], stockB-issued["B"]
		if leftA < 0 || leftB < 0 {
			t.Fatalf("issued %v, past the stock of %d A and %d B", issued, stockA, stockB)
		}
		if refusedAny && leftA >= 2 && leftB >= 1 {
			t.Errorf("an any pack was refused, yet %d A and %d B are left", leftA, leftB)
		}
		if refusedA && leftA != 0 {
			t.Errorf("a claim of A was refused, yet %d A are left", leftA)
		}
		if leftA > maxA || leftB > maxB {
			t.Errorf("%d A and %d B left; the shorts of all packs allow at most %d and %d", leftA, leftB, maxA, maxB)
		}
		if issued["C"] != members {
			t.Errorf("%d C issued, want one an all pack, %d", issued["C"], members)
		}
		held := map[string]int{}
		codes := map[string]bool{}
		for i := range members {
			list, err := ps[i%2].Coupons().List(ctx, fmt.Sprint("m", i))
			if err != nil {
				t.Fatal(err)
			}
			for tpl, n := range countTemplates(list) {
				held[tpl] += n
			}
			for _, c := range list {
				codes[c.Code] = true
			}
		}
		if diff := cmp.Diff(issued, held); diff != "" {
			t.Errorf("coupons held (-answers +lists):\n%s", diff)
		}
		rep, err := ps[0].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		stats := map[string]int{}
		for tpl, s := range rep.ByTemplate {
			stats[tpl] = int(s.Issued)
		}
		if diff := cmp.Diff(issued, stats); diff != "" {
			t.Errorf("statistics (-answers +stats):\n%s", diff)
		}
		if total := issued["A"] + issued["B"] + issued["C"]; len(codes) != total {
			t.Errorf("%d codes for %d coupons", len(codes), total)
		}
	})
}
