package level_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// sameTargetDef is lvlDef with Silver (growth 100) giving, beside its
// growth of 30, gifts: coupons of template silver-cash, stock silverCash
// of them (version, when not 0, its Definition.Version), and a pack
// silver-pack of one silver-tea coupon, tea of which are in stock.
func sameTargetDef(version uint64, gifts []rule.Reward, cash, tea int64) membership.Definition {
	def := lvlDef("")
	def.Version = version
	def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, gifts...)
	month := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	def.Coupons = &coupon.Definition{
		Templates: []coupon.Template{
			{Name: "silver-cash", Type: coupon.Cash, Amount: d("20"), Stock: cash, Use: month},
			{Name: "silver-tea", Type: coupon.Cash, Amount: d("5"), Stock: tea, Use: month},
		},
		Packs: []coupon.Pack{{Name: "silver-pack", Items: []coupon.PackItem{{Template: "silver-tea", Count: 1}}, Mode: coupon.AnyInvalid}},
	}
	return def
}

var (
	cashOne = rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"}
	cashTwo = rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash", Count: 2}
	teaPack = rule.Reward{Kind: rule.RewardPack, Pack: "silver-pack"}
)

// silverGifts names rewards as Silver's gifts.
func silverGifts(rs ...rule.Reward) []level.Gift {
	var gs []level.Gift
	for _, r := range rs {
		gs = append(gs, level.Gift{Level: "Silver", Reward: r})
	}
	return gs
}

// templatesOf counts the coupons member holds per template.
func templatesOf(t *testing.T, p *membership.Program, member string) map[string]int {
	t.Helper()
	cs, err := p.Coupons().List(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, c := range cs {
		n[c.Template]++
	}
	return n
}

// Two gifts of one level with the same target (a coupon of one template
// with counts 1 and 2, a pack listed twice) are owed and paid each as
// itself. Silver gives growth 30 and the two gifts; ann reaches Silver
// at 10:00 on 15 January and takes the stock, then bob at 11:00 (his
// 100 and 30 given: 130) is refused the gifts the stock left. Version 2
// restocks, and bob's order of 10 on 20 January (or GrantOwed then) pays
// what he is owed. By hand:
//
//   - both coupons refused: stock 3 is ann's 1 and 2; bob owes [×1, ×2],
//     and is paid 1 + 2 = 3 coupons (stock 6: ann's 3 and bob's 3);
//   - only ×2 refused: stock 4 leaves 1 after ann, which bob's ×1 takes;
//     ×2 (two wanted, none left) is owed, and paid as 2 coupons: bob
//     holds 3;
//   - ×2 listed first, only it refused: stock 4 leaves 1, ×2 is refused
//     and ×1 takes the last; ×2 is owed and paid as 2: bob holds 3;
//   - the pack twice, both refused: silver-tea stock 2 is ann's 2 packs;
//     bob owes the pack twice and is paid 2 packs (2 silver-tea);
//   - the pack twice, one refused: stock 3 leaves 1, the first pack
//     takes it, the second is owed and paid once: bob holds 2.
//
// Before, an owed coupon was known by its template alone, and paid as
// the first of the level's gifts of that template: bob was owed [×1, ×1]
// (Status.Owed) and paid 2 coupons in the first case, owed and paid ×1 in
// the second (2 coupons, not 3).
func TestLevelOwedGiftsOfOneTarget(t *testing.T) {
	tests := []struct {
		name      string
		gifts     []rule.Reward
		cash, tea int64 // stock at the reach; version 2 adds 3 of each
		owed      []rule.Reward
		places    []int          // Status.OwedPlaces: each owed's place among Silver's gifts of its target
		held      map[string]int // bob's coupons in the end
	}{
		{"coupon ×1 and ×2, both refused", []rule.Reward{cashOne, cashTwo}, 3, 0, []rule.Reward{cashOne, cashTwo}, []int{1, 2}, map[string]int{"silver-cash": 3}},
		{"coupon ×1 and ×2, ×2 refused", []rule.Reward{cashOne, cashTwo}, 4, 0, []rule.Reward{cashTwo}, []int{2}, map[string]int{"silver-cash": 3}},
		{"coupon ×2 and ×1, ×2 refused", []rule.Reward{cashTwo, cashOne}, 4, 0, []rule.Reward{cashTwo}, []int{1}, map[string]int{"silver-cash": 3}},
		{"pack twice, both refused", []rule.Reward{teaPack, teaPack}, 0, 2, []rule.Reward{teaPack, teaPack}, []int{1, 2}, map[string]int{"silver-tea": 2}},
		{"pack twice, one refused", []rule.Reward{teaPack, teaPack}, 0, 3, []rule.Reward{teaPack}, []int{2}, map[string]int{"silver-tea": 2}},
	}
	for _, tc := range tests {
		for _, how := range []string{"event", "GrantOwed"} {
			t.Run(tc.name+" by "+how, func(t *testing.T) {
				ctx := context.Background()
				st := memory.New()
				open := func(version uint64, cash, tea int64) *membership.Program {
					t.Helper()
					p, err := membership.Open(st, sameTargetDef(version, tc.gifts, cash, tea))
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
				p := open(0, tc.cash, tc.tea)
				out := mustProcess(t, p, lvlOrder("o1", "ann", "100", "", lvlAt("2026-01-15 10:00")))[0]
				if gifts, owed := owedEffects(t, out); !cmp.Equal(silverGifts(append([]rule.Reward{{Kind: rule.RewardGrowth, Amount: d("30")}}, tc.gifts...)...), gifts) || len(owed) != 0 {
					t.Fatalf("ann's reach: gifts %+v, owed %+v; want all of Silver's", gifts, owed)
				}
				out = mustProcess(t, p, lvlOrder("o2", "bob", "100", "", lvlAt("2026-01-15 11:00")))[0]
				if _, owed := owedEffects(t, out); !cmp.Equal(silverGifts(tc.owed...), owed) {
					t.Errorf("bob's reach: owed %+v, want %+v", owed, silverGifts(tc.owed...))
				}
				if s := lvlWant(t, p, "bob", "Silver", "130", "2026-02-16"); !cmp.Equal(silverGifts(tc.owed...), s.Owed) || !cmp.Equal(tc.places, s.OwedPlaces) {
					t.Errorf("Status.Owed = %+v at %v, want %+v at %v", s.Owed, s.OwedPlaces, silverGifts(tc.owed...), tc.places)
				}

				p = open(2, tc.cash+3, tc.tea+3)
				var paid *change.Outcome
				if how == "event" {
					paid = mustProcess(t, p, lvlOrder("o3", "bob", "10", "", lvlAt("2026-01-20 10:00")))[0]
				} else {
					res, err := p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "g1", Member: "bob", Operator: "op.li", At: lvlAt("2026-01-20 10:00")})
					if err != nil {
						t.Fatal(err)
					}
					if !cmp.Equal(silverGifts(tc.owed...), res.Granted) {
						t.Errorf("GrantOwed granted %+v, want %+v", res.Granted, silverGifts(tc.owed...))
					}
					paid = res.Outcome
				}
				if gifts, owed := owedEffects(t, paid); !cmp.Equal(silverGifts(tc.owed...), gifts) || len(owed) != 0 {
					t.Errorf("paid: gifts %+v, owed %+v; want %+v, nothing owed", gifts, owed, silverGifts(tc.owed...))
				}
				if s := lvlStatus(t, p, "bob"); len(s.Owed)+len(s.OwedPlaces) != 0 {
					t.Errorf("owed once paid: %+v at %v", s.Owed, s.OwedPlaces)
				}
				if diff := cmp.Diff(tc.held, templatesOf(t, p, "bob")); diff != "" {
					t.Errorf("bob's coupons (-want +got):\n%s", diff)
				}
				// A later order pays nothing more.
				out = mustProcess(t, p, lvlOrder("o4", "bob", "10", "", lvlAt("2026-01-21 10:00")))[0]
				if gifts, owed := owedEffects(t, out); len(gifts)+len(owed) != 0 {
					t.Errorf("the next order: gifts %+v, owed %+v; want none", gifts, owed)
				}
				if err := p.Verify(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// bothOwed opens sameTargetDef with Silver's coupons ×1 and ×2 on a new
// store, stock 3, which ann's reach takes; bob's reach is refused both,
// owed [×1, ×2].
func bothOwed(t *testing.T) (store.Store, *membership.Program) {
	t.Helper()
	st := memory.New()
	p, err := membership.Open(st, sameTargetDef(0, []rule.Reward{cashOne, cashTwo}, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlOrder("o1", "ann", "100", "", lvlAt("2026-01-15 10:00")))
	mustProcess(t, p, lvlOrder("o2", "bob", "100", "", lvlAt("2026-01-15 11:00")))
	if s := lvlStatus(t, p, "bob"); !cmp.Equal(silverGifts(cashOne, cashTwo), s.Owed) {
		t.Fatalf("bob owed %+v, want ×1 and ×2", s.Owed)
	}
	return st, p
}

// Dropping what is owed names each gift as itself: bob's erasure
// publishes level.gift_dropped for ×1 and for ×2 (before: ×1 twice).
func TestLevelOwedGiftsOfOneTargetErased(t *testing.T) {
	ctx := context.Background()
	_, p := bothOwed(t)
	out, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-bob", Member: "bob", Operator: "dpo", At: lvlAt("2026-01-16 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	e, err := level.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(silverGifts(cashOne, cashTwo), e.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
}

// A version that takes one of two gifts of a target from the level: the
// gifts owed are matched with the level's gifts of the target by place,
// so the first owed is paid as the one left (its count the definition's,
// as for any gift owed) and the second, at a place the level no longer
// has, is dropped, named by its target. Version 2 gives ×2 alone, with 6
// in stock: bob's order of 20 January is paid ×2 (2 coupons) and drops
// the second, published as a coupon of silver-cash without a count.
func TestLevelOwedGiftsOfOneTargetOneTaken(t *testing.T) {
	st, _ := bothOwed(t)
	p, err := membership.Open(st, sameTargetDef(2, []rule.Reward{cashTwo}, 6, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s := lvlStatus(t, p, "bob"); !cmp.Equal(silverGifts(cashTwo), s.Owed) {
		t.Errorf("Status.Owed under version 2: %+v, want ×2", s.Owed)
	}
	out := mustProcess(t, p, lvlOrder("o3", "bob", "10", "", lvlAt("2026-01-20 10:00")))[0]
	e, err := level.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(silverGifts(cashTwo), e.Gifts) || !cmp.Equal(silverGifts(rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"}), e.Dropped) {
		t.Errorf("gifts %+v, dropped %+v; want ×2 paid and silver-cash dropped", e.Gifts, e.Dropped)
	}
	if diff := cmp.Diff(map[string]int{"silver-cash": 2}, templatesOf(t, p, "bob")); diff != "" {
		t.Errorf("bob's coupons (-want +got):\n%s", diff)
	}
}

// An opening owes the gifts listed, each at its place (from 1) or,
// without one (as in a file from before places), the k-th of a level and
// target the level's k-th gift of it. Silver gives silver-cash ×1 and ×2,
// stock 5: cy, opened owed silver-cash twice without places, is owed ×1
// and ×2 (places 1, 2), and her first order is paid both, 3 coupons; dee,
// opened owed silver-cash at place 2, is owed ×2 alone (as migrate read
// it before places, she would be owed ×1), and her order is paid 2, the
// stock's last two. A gift listed twice, whether by place or by order,
// a place the level has not (Silver gives silver-cash twice: no place 3)
// and a place below 1 are refused, naming the field, and open nothing.
func TestLevelOwedGiftsOfOneTargetOpened(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, sameTargetDef(0, []rule.Reward{cashOne, cashTwo}, 5, 0))
	owed := func(place int) migrate.OwedGift {
		return migrate.OwedGift{Level: "Silver", Reward: "coupon:silver-cash", Place: place}
	}
	opening := func(member string, gs ...migrate.OwedGift) migrate.Member {
		return migrate.Member{RequestID: "open-" + member, Member: member, Operator: "op", At: lvlAt("2026-01-15 10:00"),
			Growth: d("130"), Level: "Silver", OwedGifts: gs}
	}
	for i, c := range []struct {
		member string
		owed   []migrate.OwedGift
		want   []rule.Reward
		places []int
		held   int
	}{
		{"cy", []migrate.OwedGift{owed(0), owed(0)}, []rule.Reward{cashOne, cashTwo}, []int{1, 2}, 3},
		{"dee", []migrate.OwedGift{owed(2)}, []rule.Reward{cashTwo}, []int{2}, 2},
	} {
		if _, err := p.OpenMember(ctx, opening(c.member, c.owed...)); err != nil {
			t.Fatal(err)
		}
		if s := lvlStatus(t, p, c.member); !cmp.Equal(silverGifts(c.want...), s.Owed) || !cmp.Equal(c.places, s.OwedPlaces) {
			t.Errorf("%s owed %+v at %v, want %+v at %v", c.member, s.Owed, s.OwedPlaces, silverGifts(c.want...), c.places)
		}
		out := mustProcess(t, p, lvlOrder("o-"+c.member, c.member, "1", "", lvlAt("2026-01-15 11:00").Add(time.Duration(i)*time.Minute)))[0]
		if gifts, owed := owedEffects(t, out); !cmp.Equal(silverGifts(c.want...), gifts) || len(owed) != 0 {
			t.Errorf("%s: gifts %+v, owed %+v; want %+v, none owed", c.member, gifts, owed, silverGifts(c.want...))
		}
		if diff := cmp.Diff(map[string]int{"silver-cash": c.held}, templatesOf(t, p, c.member)); diff != "" {
			t.Errorf("%s's coupons (-want +got):\n%s", c.member, diff)
		}
	}
	for _, c := range []struct {
		name  string
		owed  []migrate.OwedGift
		field string
	}{
		{"place 2, then the second by order", []migrate.OwedGift{owed(2), owed(0)}, "owed_gifts[1].reward"},
		{"the first by order, then place 1", []migrate.OwedGift{owed(0), owed(1)}, "owed_gifts[1].place"},
		{"place 2 twice", []migrate.OwedGift{owed(2), owed(2)}, "owed_gifts[1].place"},
		{"three, the third by order", []migrate.OwedGift{owed(1), owed(2), owed(0)}, "owed_gifts[2].reward"},
		{"place 3", []migrate.OwedGift{owed(3)}, "owed_gifts[0].place"},
		{"place -1", []migrate.OwedGift{owed(-1)}, "owed_gifts[0].place"},
	} {
		_, err := p.OpenMember(ctx, opening("eve", c.owed...))
		var fe *migrate.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s: %v, want an invalid argument at %s", c.name, err, c.field)
		}
		if s := lvlStatus(t, p, "eve"); s.Level != "Entry" || !s.Growth.IsZero() || len(s.Owed) != 0 {
			t.Errorf("%s: eve at %s with %s growth, owed %+v; want nothing opened", c.name, s.Level, s.Growth, s.Owed)
		}
	}
}

// An opening is journaled with the places of its gifts owed
// (migrate.OwedGift.Place), and a replay opens the member owed the same
// gifts: dee, opened owed Silver's silver-cash at place 2 (×2, not ×1),
// is owed ×2 at place 2 on the replayed program too, whose next order
// of hers pays it: 2 coupons (×1 would be 1).
func TestLevelOwedGiftOpenedReplayed(t *testing.T) {
	ctx := context.Background()
	def := sameTargetDef(0, []rule.Reward{cashOne, cashTwo}, 3, 0)
	from := memory.New()
	p, err := membership.Open(from, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "open-dee", Member: "dee", Operator: "op", At: lvlAt("2026-01-15 10:00"),
		Growth: d("130"), Level: "Silver", OwedGifts: []migrate.OwedGift{{Level: "Silver", Reward: "coupon:silver-cash", Place: 2}}}); err != nil {
		t.Fatal(err)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := dst.Replay(ctx, from, nil); err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want 1 input", n, err)
	}
	for name, q := range map[string]*membership.Program{"source": p, "replayed": dst} {
		if s := lvlStatus(t, q, "dee"); !cmp.Equal(silverGifts(cashTwo), s.Owed) || !cmp.Equal([]int{2}, s.OwedPlaces) {
			t.Errorf("%s: dee owed %+v at %v, want ×2 at 2", name, s.Owed, s.OwedPlaces)
		}
	}
	mustProcess(t, dst, lvlOrder("o1", "dee", "1", "", lvlAt("2026-01-15 11:00")))
	if diff := cmp.Diff(map[string]int{"silver-cash": 2}, templatesOf(t, dst, "dee")); diff != "" {
		t.Errorf("dee's coupons on the replayed program (-want +got):\n%s", diff)
	}
}
