package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/tag"
)

// What a member has in flight when a new version of the definition opens
// keeps what the version that made it gave it; the new rules apply to what
// comes after. Each test runs on every store (PostgreSQL with two
// instances when MEMBERSHIP_PG_DSN is set).

// midflightAt is a time in March 2026 in Shanghai.
func midflightAt(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, shanghai) }

func midflightOrder(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

// Points pending under version 1 (7 days) are released when version 1
// said, though version 2 holds its orders 3 days and earns twice the
// amount; the retry of a version 1 order answers its first outcome (100
// pending), not version 2's (200); a version 3 that drops the rule still
// releases them.
//
// o1 (100) on 1 March 10:00 under v1: pending until 8 March 10:00.
// o2 (50) on 2 March 10:00 under v2: 100 pending until 5 March 10:00.
// At 5 March 10:00: main 100 (o2), pending 100 (o1). At 8 March 10:00,
// under v3: main 200, pending 0.
func TestVersionPendingPointsKeepTheirRelease(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, rate string, pending int, rules bool) membership.Definition {
		d := membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Points:  &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		}
		if rules {
			d.Points.Rules = []points.Rule{{ID: "buy", Program: "mall", Event: "order", PendingDays: pending,
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec(rate)}}}
		}
		return d
	}
	onEveryStoreVersions(t, def(1, "1", 7, true), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		balance := func(p *membership.Program, at time.Time) points.Balance {
			t.Helper()
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "ann", At: at})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		o1 := midflightOrder("o1", "ann", "100", midflightAt(1, 10))
		mustProcess(t, ps[0], o1)
		ps = open(def(2, "2", 3, true))
		mustProcess(t, ps[1], midflightOrder("o2", "ann", "50", midflightAt(2, 10)))
		again, err := ps[1].Process(ctx, o1)
		if err != nil {
			t.Fatalf("o1 again under v2: %v", err)
		}
		if cs := again.ChangesOf(points.ChangePending); !again.Duplicate || len(cs) != 1 {
			t.Errorf("o1 again under v2: duplicate %v, pending changes %d; want its first outcome", again.Duplicate, len(cs))
		} else {
			var c points.Change
			if err := json.Unmarshal(cs[0].Data, &c); err != nil || !c.Amount.Equal(dec("100")) {
				t.Errorf("o1 again under v2 pends %v (%v), want 100", c.Amount, err)
			}
		}
		if _, err := ps[0].Advance(ctx, midflightAt(5, 10)); err != nil {
			t.Fatal(err)
		}
		if b := balance(ps[1], midflightAt(5, 10)); !b.Main.Equal(dec("100")) || !b.Pending.Equal(dec("100")) {
			t.Errorf("on 5 March: main %s, pending %s; want 100, 100", b.Main, b.Pending)
		}
		ps = open(def(3, "2", 3, false))
		if _, err := ps[1].Advance(ctx, midflightAt(8, 9)); err != nil {
			t.Fatal(err)
		}
		if b := balance(ps[0], midflightAt(8, 9)); !b.Main.Equal(dec("100")) || !b.Pending.Equal(dec("100")) {
			t.Errorf("on 8 March 09:00: main %s, pending %s; want 100, 100", b.Main, b.Pending)
		}
		if _, err := ps[1].Advance(ctx, midflightAt(8, 10)); err != nil {
			t.Fatal(err)
		}
		if b := balance(ps[0], midflightAt(8, 10)); !b.Main.Equal(dec("200")) || !b.Pending.IsZero() {
			t.Errorf("on 8 March 10:00: main %s, pending %s; want 200, 0", b.Main, b.Pending)
		}
		if err := ps[0].Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}

// Coupons issued under version 1 keep the validity they were issued with
// when version 2 lengthens it; a template's stock and per-member limit
// count the coupons issued before the version.
//
// Version 1: "ten" stock 3, per member 2, valid 7 days. ann claims 2 and
// bob 1 on 1 March 10:00: they expire on 8 March 00:00, the stock is
// used up. Version 2: stock 4, per member 3, valid 30 days: bob claims 1
// on 2 March (expires 1 April 00:00), the stock is used up again; ann's
// claim is refused for stock. Version 3: stock 2, below the 4 issued:
// refused for stock; ann's coupons still expire on 8 March.
func TestVersionCouponsKeepTheirValidity(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, stock int64, per, days int) membership.Definition {
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "ten", Type: coupon.Cash, Amount: dec("10"), Stock: stock,
				Claim: coupon.ClaimRule{PerMember: per}, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: days}}}}},
		}
	}
	onEveryStoreVersions(t, def(1, 3, 2, 7), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		claim := func(p *membership.Program, id, member string, n int, at time.Time) ([]coupon.Coupon, error) {
			r, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: member, At: at, Template: "ten", Count: n})
			return r.Coupons, err
		}
		if _, err := claim(ps[0], "a1", "ann", 2, midflightAt(1, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := claim(ps[1], "b1", "bob", 1, midflightAt(1, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := claim(ps[0], "c1", "cat", 1, midflightAt(1, 11)); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a fourth coupon of a stock of 3: %v", err)
		}
		ps = open(def(2, 4, 3, 30))
		if _, err := claim(ps[0], "a1", "ann", 2, midflightAt(1, 10)); err != nil {
			t.Errorf("ann's claim again under v2: %v", err)
		}
		cs, err := claim(ps[1], "b2", "bob", 1, midflightAt(2, 10))
		if err != nil {
			t.Fatal(err)
		}
		if want := midflightAt(32, 0); !cs[0].Expires.Equal(want) {
			t.Errorf("bob's coupon of v2 expires %v, want %v", cs[0].Expires, want)
		}
		if _, err := claim(ps[0], "a2", "ann", 1, midflightAt(2, 11)); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a fifth coupon of a stock of 4: %v", err)
		}
		ps = open(def(3, 2, 3, 30))
		if _, err := claim(ps[0], "a3", "ann", 1, midflightAt(3, 10)); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a coupon of a stock lowered below what was issued: %v", err)
		}
		list, err := ps[1].Coupons().List(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("ann holds %d coupons, want 2", len(list))
		}
		for _, c := range list {
			if want := midflightAt(8, 0); !c.Expires.Equal(want) {
				t.Errorf("ann's %s expires %v, want %v (v1's 7 days)", c.ID, c.Expires, want)
			}
		}
	})
}

// A member keeps a level version 2 raised above their growth until its
// term ends, when version 2's retention decides; a member below the new
// threshold does not reach it with the growth version 1 asked.
//
// Version 1: Gold at 500, retention 300 over 12 months, a term of 12
// months. ann earns 600 on 1 March 2026 (Gold until the end of 1 March
// 2027: 2 March 2027 00:00); dan earns 400. Version 2: Gold at 1,000,
// retention 800, a term of a month. On 2 March ann earns 350 (950, in
// the window from 2 March 2026: 350) and stays Gold with her term of
// version 1; dan earns 200 (600) and stays Member. At the term end ann's window holds 350: version 1's 300
// would keep Gold, version 2's 800 does not, and she goes down to Member.
func TestVersionRaisedThresholdWaitsForTheTermEnd(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, upgrade, retention string, months int) membership.Definition {
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Levels: &level.Definition{
				Ladder: []level.Level{{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
					{Name: "Gold", Upgrade: dec(upgrade), Retention: dec(retention), Window: 12,
						Validity: rule.Validity{Kind: rule.MonthsAfter, N: months}}},
				Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
			},
		}
	}
	onEveryStoreVersions(t, def(1, "500", "300", 12), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		status := func(p *membership.Program, m string) level.Status {
			t.Helper()
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		mustProcess(t, ps[0], midflightOrder("o1", "ann", "600", midflightAt(1, 10)), midflightOrder("d1", "dan", "400", midflightAt(1, 10)))
		termEnd := time.Date(2027, 3, 2, 0, 0, 0, 0, shanghai)
		if s := status(ps[1], "ann"); s.Level != "Gold" || !s.TermEnd.Equal(termEnd) {
			t.Fatalf("ann under v1: %s until %v, want Gold until %v", s.Level, s.TermEnd, termEnd)
		}
		ps = open(def(2, "1000", "800", 1))
		mustProcess(t, ps[0], midflightOrder("o2", "ann", "350", midflightAt(2, 10)), midflightOrder("d2", "dan", "200", midflightAt(2, 10)))
		if s := status(ps[1], "ann"); s.Level != "Gold" || !s.TermEnd.Equal(termEnd) || !s.Growth.Equal(dec("950")) {
			t.Errorf("ann under v2: %s until %v with %s, want Gold until %v with 950", s.Level, s.TermEnd, s.Growth, termEnd)
		}
		if s := status(ps[1], "dan"); s.Level != "Member" || !s.Growth.Equal(dec("600")) {
			t.Errorf("dan under v2: %s with %s, want Member with 600", s.Level, s.Growth)
		}
		if _, err := ps[1].Advance(ctx, termEnd.Add(-time.Nanosecond)); err != nil {
			t.Fatal(err)
		}
		if s := status(ps[0], "ann"); s.Level != "Gold" {
			t.Errorf("ann just before her term end: %s, want Gold", s.Level)
		}
		if _, err := ps[1].Advance(ctx, termEnd); err != nil {
			t.Fatal(err)
		}
		if s := status(ps[0], "ann"); s.Level != "Member" {
			t.Errorf("ann at her term end under v2: %s, want Member (350 in the window, v2 keeps Gold at 800)", s.Level)
		}
		if err := ps[0].Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}

// A pack changed by version 2 gives its new contents from then on; what
// version 1 gave stays (the retry of its claim answers the coupons it
// gave), and the pack's stock and per-member limit count the packs given
// before the version.
//
// Version 1: "welcome" of one "ten" and one "five", stock 2, one per
// member: ann gets it. Version 2: two "five"s, same stock and limit: ann's
// claim again answers ten and five; a new claim of ann's is refused for
// the limit; bob gets two fives; cat is refused for stock (2 given).
func TestVersionPackChanged(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, items ...coupon.PackItem) membership.Definition {
		tmpl := func(name, amount string) coupon.Template {
			return coupon.Template{Name: name, Type: coupon.Cash, Amount: dec(amount), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}
		}
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Coupons: &coupon.Definition{
				Templates: []coupon.Template{tmpl("ten", "10"), tmpl("five", "5")},
				Packs:     []coupon.Pack{{Name: "welcome", Items: items, Stock: 2, Mode: coupon.AnyInvalid, Claim: coupon.ClaimRule{PerMember: 1}}},
			},
		}
	}
	templates := func(cs []coupon.Coupon) []string {
		var ns []string
		for _, c := range cs {
			ns = append(ns, c.Template)
		}
		return ns
	}
	v1 := def(1, coupon.PackItem{Template: "ten", Count: 1}, coupon.PackItem{Template: "five", Count: 1})
	onEveryStoreVersions(t, v1, nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		claim := func(p *membership.Program, id, member string) ([]coupon.Coupon, error) {
			r, err := p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: id, Member: member, At: midflightAt(1, 10), Pack: "welcome"})
			return r.Coupons, err
		}
		if _, err := claim(ps[0], "a1", "ann"); err != nil {
			t.Fatal(err)
		}
		ps = open(def(2, coupon.PackItem{Template: "five", Count: 2}))
		cs, err := claim(ps[1], "a1", "ann")
		if got := templates(cs); err != nil || len(got) != 2 || got[0] != "ten" || got[1] != "five" {
			t.Errorf("ann's claim again under v2: %v, %v; want [ten five]", got, err)
		}
		if _, err := claim(ps[0], "a2", "ann"); !errors.Is(err, coupon.ErrLimitReached) {
			t.Errorf("a second pack of ann's, one per member: %v", err)
		}
		cs, err = claim(ps[1], "b1", "bob")
		if got := templates(cs); err != nil || len(got) != 2 || got[0] != "five" || got[1] != "five" {
			t.Errorf("bob's pack under v2: %v, %v; want [five five]", got, err)
		}
		if _, err := claim(ps[0], "c1", "cat"); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a third pack of a stock of 2: %v", err)
		}
		list, err := ps[1].Coupons().List(ctx, "ann")
		if got := templates(list); err != nil || len(got) != 2 {
			t.Errorf("ann holds %v, %v; want v1's ten and five", got, err)
		}
	})
}

// A tag rule a version changes is recomputed page by page from the
// members' statistics; a version that makes the rule's tag a manual one
// leaves it with the members who hold it, Recompute refusing it as a
// manual tag, and Remove takes it.
//
// Version 1: big at an order amount of 100 or more: ann (150) and cat
// (120) have it, bob (60) not. Version 2: 130 or more: pages of one
// member take it from cat alone; run again, they change nothing. Version
// 3: big is a manual tag: ann keeps it, Recompute is ErrUnknownTag.
func TestVersionTagRuleChanged(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, min string) membership.Definition {
		d := membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Tags:    &tag.Definition{Orders: &tag.Orders{Event: "order", Amount: "amount"}},
		}
		if min == "" {
			d.Tags.Manual = []tag.Manual{{Name: "big"}}
		} else {
			d.Tags.Rules = []tag.Rule{{Tag: "big", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString(min)}}}}
		}
		return d
	}
	onEveryStoreVersions(t, def(1, "100"), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		mustProcess(t, ps[0], midflightOrder("a", "ann", "150", midflightAt(1, 10)), midflightOrder("b", "bob", "60", midflightAt(1, 10)),
			midflightOrder("c", "cat", "120", midflightAt(1, 10)))
		counts := func(p *membership.Program) int64 {
			t.Helper()
			c, err := p.Tags().Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c["big"]
		}
		if n := counts(ps[1]); n != 2 {
			t.Fatalf("big under v1: %d members, want 2", n)
		}
		ps = open(def(2, "130"))
		recompute := func(p *membership.Program) (pages, removed, added int) {
			t.Helper()
			req := tag.RecomputeRequest{At: midflightAt(2, 10), Tag: "big", Limit: 1}
			for {
				res, err := p.Tags().Recompute(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				pages, removed, added = pages+1, removed+res.Removed, added+res.Added
				if res.Next == "" {
					return
				}
				req.After = res.Next
			}
		}
		if pages, removed, added := recompute(ps[0]); removed != 1 || added != 0 || pages < 3 {
			t.Errorf("recompute under v2: %d pages, %d removed, %d added; want 3 pages or more, 1 removed", pages, removed, added)
		}
		if _, removed, added := recompute(ps[1]); removed+added != 0 {
			t.Errorf("recompute again: %d removed, %d added; want nothing", removed, added)
		}
		if n := counts(ps[0]); n != 1 {
			t.Errorf("big under v2: %d members, want 1", n)
		}
		ps = open(def(3, ""))
		if as, err := ps[1].Tags().Of(ctx, "ann"); err != nil || len(as) != 1 || as[0].Tag != "big" {
			t.Errorf("ann's tags once big is manual: %+v, %v", as, err)
		}
		if _, err := ps[0].Tags().Recompute(ctx, tag.RecomputeRequest{At: midflightAt(3, 10), Tag: "big"}); !errors.Is(err, tag.ErrUnknownTag) {
			t.Errorf("recompute of big once manual: %v, want ErrUnknownTag", err)
		}
		if _, err := ps[0].Tags().Remove(ctx, tag.ManualRequest{RequestID: "r1", Member: "ann", Operator: "ops", At: midflightAt(3, 10), Tag: "big"}); err != nil {
			t.Errorf("remove of big once manual: %v", err)
		}
		if n := counts(ps[1]); n != 0 {
			t.Errorf("big under v3 after its removal: %d members, want 0", n)
		}
	})
}

// A level a version takes out of the ladder while a member has it frozen
// (nobody holds it, so the version opens) stays out of their reach: the
// member's growth does not return them to it, and the freeze's deadline
// ends it as version 1 set it, Advance going on.
//
// Version 1: Member, Silver at 100 (retention 60 over a month, a term of
// one month, frozen for three months after a downgrade, 50 to return).
// ann earns 100 on 1 March 10:00: Silver until the end of 1 April
// (2 April 00:00). Her term ends with nothing in the window: Member,
// Silver frozen for three months from 2 April (to the end of 2 July:
// 3 July 00:00). Version 2 has no Silver: her 80 of 10 April take her to
// nothing; on 3 July the freeze ends.
func TestVersionFrozenLevelLeftOut(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, silver bool) membership.Definition {
		d := membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Levels: &level.Definition{
				Ladder: []level.Level{{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}}},
				Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
			},
		}
		if silver {
			d.Levels.Ladder = append(d.Levels.Ladder, level.Level{Name: "Silver", Upgrade: dec("100"), Retention: dec("60"), Window: 1,
				Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1},
				Freeze:   &level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.MonthsAfter, N: 3}, Unfreeze: dec("50")}})
		}
		return d
	}
	onEveryStoreVersions(t, def(1, true), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		status := func(p *membership.Program) level.Status {
			t.Helper()
			s, err := p.Levels().Status(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		mustProcess(t, ps[0], midflightOrder("o1", "ann", "100", midflightAt(1, 10)))
		if _, err := ps[1].Advance(ctx, time.Date(2026, 4, 2, 0, 0, 0, 0, shanghai)); err != nil {
			t.Fatal(err)
		}
		s := status(ps[0])
		if s.Level != "Member" || len(s.Frozen) != 1 || s.Frozen[0].Level != "Silver" {
			t.Fatalf("ann after her term: %s, frozen %+v; want Member, Silver frozen", s.Level, s.Frozen)
		}
		deadline := time.Date(2026, 7, 3, 0, 0, 0, 0, shanghai)
		if !s.Frozen[0].Deadline.Equal(deadline) {
			t.Errorf("Silver frozen until %v, want %v", s.Frozen[0].Deadline, deadline)
		}
		ps = open(def(2, false))
		mustProcess(t, ps[0], midflightOrder("o2", "ann", "80", time.Date(2026, 4, 10, 10, 0, 0, 0, shanghai)))
		if s := status(ps[1]); s.Level != "Member" {
			t.Errorf("ann after 80 under v2: %s, want Member", s.Level)
		}
		if _, err := ps[1].Advance(ctx, deadline); err != nil {
			t.Fatalf("Advance to the freeze's deadline under v2: %v", err)
		}
		if s := status(ps[0]); s.Level != "Member" || len(s.Frozen) != 0 {
			t.Errorf("ann after the deadline: %s, frozen %+v; want Member, none", s.Level, s.Frozen)
		}
		if err := ps[0].Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}

// A damaged record of the definition in force (cut short, or gone) is
// damage, not a newer definition: a running program's writes fail with
// store.ErrCorrupt, and Open refuses the store, where the writes read it
// as ErrDefinitionSuperseded (drain and restart, which told the operator
// nothing) and Open of a store whose record was gone installed the
// definition as on a new store, without the checks of a new version.
func TestDamagedDefinitionRecord(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range testkit.Stores(t) {
		for damage, value := range map[string][]byte{"cut short": []byte("v1"), "gone": nil} {
			t.Run(name+"/"+damage, func(t *testing.T) {
				st := newStore()
				def := valueDef()
				def.Version = 1
				p, err := membership.Open(st, def)
				if err != nil {
					t.Fatal(err)
				}
				mustProcess(t, p, recharge("r1", "ann", "10", t0))
				if value == nil {
					if err := st.Update(ctx, func(tx store.Tx) error { return tx.Delete("meta", []byte("definition")) }); err != nil {
						t.Fatal(err)
					}
				} else if n := testkit.OverwritePrefix(t, st, "meta", []byte("definition"), value); n != 1 {
					t.Fatalf("%d definition records damaged, want 1", n)
				}
				_, err = p.Process(ctx, recharge("r2", "ann", "10", t0))
				if !errors.Is(err, store.ErrCorrupt) || errors.Is(err, membership.ErrDefinitionSuperseded) {
					t.Errorf("a write on a damaged definition record: %v, want store.ErrCorrupt", err)
				}
				if _, err := membership.Open(st, def); !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("Open of a store with a damaged definition record: %v, want store.ErrCorrupt", err)
				}
			})
		}
	}
}
