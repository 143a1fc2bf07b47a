package level_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// owedDef is lvlDef with a coupon of template silver-cash (cash 20) among
// Silver's gifts, beside its growth of 30, of stock 1.
func owedDef() membership.Definition {
	def := lvlDef("")
	def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"})
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{{Name: "silver-cash", Type: coupon.Cash, Amount: d("20"), Stock: 1,
		Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}}
	return def
}

var silverCash = level.Gift{Level: "Silver", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"}}

// owedEffects returns what out granted and kept owed of upgrade gifts.
func owedEffects(t *testing.T, out *change.Outcome) (gifts, owed []level.Gift) {
	t.Helper()
	e, err := level.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	return e.Gifts, e.Owed
}

func couponsOf(t *testing.T, p *membership.Program, member string) int {
	t.Helper()
	cs, err := p.Coupons().List(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// owedBob opens owedDef on st and has ann take the one coupon at her reach
// of Silver, and bob reach Silver an hour later, owed the coupon (his 30
// of growth given: 130).
func owedBob(t *testing.T, st store.Store, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, owedDef(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlOrder("o1", "ann", "100", "", lvlAt("2026-01-15 10:00")))
	out := mustProcess(t, p, lvlOrder("o2", "bob", "100", "", lvlAt("2026-01-15 11:00")))[0]
	if _, owed := owedEffects(t, out); !cmp.Equal([]level.Gift{silverCash}, owed) {
		t.Fatalf("owed at the reach: %+v", owed)
	}
	s := lvlWant(t, p, "bob", "Silver", "130", "2026-02-16")
	if !cmp.Equal([]level.Gift{silverCash}, s.Owed) {
		t.Fatalf("Status.Owed = %+v", s.Owed)
	}
	return p
}

// restock opens version 2 of owedDef on st: the template's stock is 2,
// one of which ann holds.
func restock(t *testing.T, st store.Store, opts ...membership.Option) *membership.Program {
	t.Helper()
	def := owedDef()
	def.Version = 2
	def.Coupons.Templates[0].Stock = 2
	p, err := membership.Open(st, def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A reward owed to a member is tried again at each of their later events,
// not only at the level's next reach, which a member staying at the level
// never makes. bob stays at Silver throughout: his order while the coupon
// is out of stock is refused it again (still owed); after the restock his
// next order grants it, once, with a reason saying it is late; the order
// after that grants nothing more. Before, his orders at Silver granted
// nothing and the coupon stayed owed for ever.
func TestLevelOwedGiftGrantedAtNextEvent(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p := owedBob(t, st)

			out := mustProcess(t, p, lvlOrder("o3", "bob", "10", "", lvlAt("2026-01-20 10:00")))[0]
			if n := len(out.ChangesOf(coupon.ChangeClaimRefused)); n != 1 {
				t.Errorf("out of stock: %d claims refused, want 1", n)
			}
			gifts, owed := owedEffects(t, out)
			if len(gifts) != 0 || !cmp.Equal([]level.Gift{silverCash}, owed) {
				t.Errorf("out of stock: gifts %+v, owed %+v; want none and the coupon", gifts, owed)
			}
			if s := lvlWant(t, p, "bob", "Silver", "140", "2026-02-16"); !cmp.Equal([]level.Gift{silverCash}, s.Owed) {
				t.Errorf("owed after a refusal again: %+v", s.Owed)
			}

			p = restock(t, st)
			out = mustProcess(t, p, lvlOrder("o4", "bob", "10", "", lvlAt("2026-01-25 10:00")))[0]
			gifts, owed = owedEffects(t, out)
			if !cmp.Equal([]level.Gift{silverCash}, gifts) || len(owed) != 0 {
				t.Errorf("after the restock: gifts %+v, owed %+v; want the coupon, nothing owed", gifts, owed)
			}
			if n := len(out.ChangesOf(coupon.ChangeIssued)); n != 1 {
				t.Errorf("%d coupons issued, want 1", n)
			}
			if gc := out.ChangesOf(level.ChangeGift); len(gc) == 1 && (gc[0].Reason == nil || !strings.HasPrefix(gc[0].Reason.Note, "late upgrade gift of Silver")) {
				t.Errorf("the gift's reason %+v does not say it is late", gc[0].Reason)
			}
			// 150: the 30 of growth given at the reach is not given again.
			if s := lvlWant(t, p, "bob", "Silver", "150", "2026-02-16"); len(s.Owed) != 0 {
				t.Errorf("owed after the grant: %+v", s.Owed)
			}

			out = mustProcess(t, p, lvlOrder("o5", "bob", "10", "", lvlAt("2026-01-26 10:00")))[0]
			if gifts, owed := owedEffects(t, out); len(gifts)+len(owed) != 0 || len(out.ChangesOf(coupon.ChangeClaimRefused))+len(out.ChangesOf(coupon.ChangeIssued)) != 0 {
				t.Errorf("the next order: gifts %+v, owed %+v, changes %+v; want nothing of gifts", gifts, owed, out.Changes)
			}
			if n := couponsOf(t, p, "bob"); n != 1 {
				t.Errorf("bob holds %d coupons, want 1", n)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Events of the owed member processed at once grant the reward exactly
// once: the first to run takes it out of the member's record in its unit
// of work.
func TestLevelOwedGiftConcurrentEvents(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			owedBob(t, st)
			p := restock(t, st)
			var mu sync.Mutex
			var granted []level.Gift
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					at := lvlAt("2026-01-25 10:00").Add(time.Duration(i) * time.Minute)
					var out *change.Outcome
					var err error
					if i%4 == 3 { // an operator's request among the events
						var res level.GrantOwedResult
						res, err = p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: fmt.Sprint("g", i), Member: "bob", Operator: "op.li", At: at})
						out = res.Outcome
					} else {
						out, err = p.Process(ctx, lvlOrder(fmt.Sprint("c", i), "bob", "1", "", at))
					}
					if err != nil {
						t.Error(err)
						return
					}
					e, err := level.EffectsOf(out)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					granted = append(granted, e.Gifts...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			if !cmp.Equal([]level.Gift{silverCash}, granted) {
				t.Errorf("granted %+v, want the coupon once", granted)
			}
			if n := couponsOf(t, p, "bob"); n != 1 {
				t.Errorf("bob holds %d coupons, want 1", n)
			}
			if s := lvlWant(t, p, "bob", "Silver", "136", "2026-02-16"); len(s.Owed) != 0 { // 130 + 6 orders of 1
				t.Errorf("still owed: %+v", s.Owed)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// GrantOwed settles what a member is owed without waiting for their next
// event: refused again while out of stock (still owed), granted after the
// restock, once per request ID (a retry returns the first result), and a
// later request has nothing left to grant. Malformed requests are refused
// and change nothing; each request that reaches the unit of work is in
// the audit trail.
func TestLevelGrantOwed(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := owedBob(t, st)
	req := func(id string, at string) level.GrantOwedRequest {
		return level.GrantOwedRequest{RequestID: id, Member: "bob", Operator: "op.li", Note: "restocked", At: lvlAt(at)}
	}
	for name, r := range map[string]level.GrantOwedRequest{
		"no request ID": {Member: "bob", Operator: "op.li", At: lvlAt("2026-01-20")},
		"no operator":   {RequestID: "g1", Member: "bob", At: lvlAt("2026-01-20")},
		"no time":       {RequestID: "g1", Member: "bob", Operator: "op.li"},
		"no member":     {RequestID: "g1", Operator: "op.li", At: lvlAt("2026-01-20")},
		"member NUL":    {RequestID: "g1", Member: "b\x00b", Operator: "op.li", At: lvlAt("2026-01-20")},
		"year 2100":     {RequestID: "g1", Member: "bob", Operator: "op.li", At: time.Date(2100, 6, 1, 0, 0, 0, 0, zone)},
	} {
		if _, err := p.Levels().GrantOwed(ctx, r); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if s := lvlStatus(t, p, "bob"); !cmp.Equal([]level.Gift{silverCash}, s.Owed) {
		t.Errorf("owed after the refused requests: %+v", s.Owed)
	}

	res, err := p.Levels().GrantOwed(ctx, req("g0", "2026-01-20 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Granted) != 0 || !cmp.Equal([]level.Gift{silverCash}, res.Owed) {
		t.Errorf("out of stock: granted %+v, owed %+v; want none and the coupon", res.Granted, res.Owed)
	}

	p = restock(t, st)
	res, err = p.Levels().GrantOwed(ctx, req("g1", "2026-01-25 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal([]level.Gift{silverCash}, res.Granted) || len(res.Owed) != 0 {
		t.Errorf("after the restock: granted %+v, owed %+v; want the coupon, nothing owed", res.Granted, res.Owed)
	}
	if gc := res.Outcome.ChangesOf(level.ChangeGift); len(gc) != 1 || gc[0].Reason == nil || gc[0].Reason.Inputs["operator"] != "op.li" ||
		!strings.HasPrefix(gc[0].Reason.Note, "late upgrade gift of Silver") {
		t.Errorf("gift changes %+v: want one, late, naming the operator", gc)
	}
	again, err := p.Levels().GrantOwed(ctx, req("g1", "2026-01-25 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Outcome.Duplicate || !cmp.Equal(res.Granted, again.Granted) || len(again.Owed) != 0 {
		t.Errorf("the retry: duplicate %v, granted %+v, owed %+v; want the first result", again.Outcome.Duplicate, again.Granted, again.Owed)
	}
	if _, err := p.Levels().GrantOwed(ctx, req("g1", "2026-01-26 10:00")); !errors.Is(err, event.ErrConflict) {
		t.Errorf("the ID reused for another request: %v, want ErrConflict", err)
	}
	res, err = p.Levels().GrantOwed(ctx, req("g2", "2026-01-26 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Granted)+len(res.Owed) != 0 {
		t.Errorf("nothing left owed: granted %+v, owed %+v", res.Granted, res.Owed)
	}
	if n := couponsOf(t, p, "bob"); n != 1 {
		t.Errorf("bob holds %d coupons, want 1", n)
	}
	if s := lvlWant(t, p, "bob", "Silver", "130", "2026-02-16"); len(s.Owed) != 0 {
		t.Errorf("owed after GrantOwed: %+v", s.Owed)
	}

	page, err := p.Audit(ctx, membership.AuditQuery{Member: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.Request+" "+e.Action+" "+e.Operator+" "+e.Result)
	}
	// In time order: the reuse of g1 on 26 January is a refusal of its
	// own, before g2 of the same time.
	want := []string{"g0 level.grant_owed op.li accepted", "g1 level.grant_owed op.li accepted",
		"g1 level.grant_owed op.li refused", "g2 level.grant_owed op.li accepted"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// refusals counts what out published of a refused gift: claims refused
// and gifts owed.
func refusals(t *testing.T, out *change.Outcome) (claims, owed int) {
	t.Helper()
	_, o := owedEffects(t, out)
	return len(out.ChangesOf(coupon.ChangeClaimRefused)), len(o)
}

// kinds lists the kinds of out's changes.
func kinds(out *change.Outcome) []string {
	var ks []string
	for _, c := range out.Changes {
		ks = append(ks, c.Kind)
	}
	return ks
}

// An owed reward is asked for again at an event only when something may
// have changed since its last refusal: another definition in force, or a
// later day in the program's zone. bob is refused the coupon (out of
// stock) at his reach at 11:00 on 15 January: his three orders later that
// day ask for nothing (no refusal published, nothing granted, still
// owed); his first order on the 16th asks again, refused once (one
// claim_refused, one gift_owed), and his next that day asks for nothing.
// GrantOwed asks regardless, the same day and definition: refused again.
// Version 2 restocks: his next order, still on the 16th, grants the
// coupon once, and the one after it grants nothing. Before, each of his
// orders asked for it and published its refusal again.
func TestLevelOwedGiftRetriedWhenSomethingChanged(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p := owedBob(t, st)
			quiet := func(id, at string) {
				t.Helper()
				out := mustProcess(t, p, lvlOrder(id, "bob", "1", "", lvlAt(at)))[0]
				if c, o := refusals(t, out); c+o+len(out.ChangesOf(level.ChangeGift))+len(out.ChangesOf(coupon.ChangeIssued)) != 0 {
					t.Errorf("%s at %s: %d claims refused, %d owed, changes %v; want nothing of the gift", id, at, c, o, kinds(out))
				}
			}
			for i, at := range []string{"2026-01-15 12:00", "2026-01-15 18:00", "2026-01-15 23:59"} {
				quiet(fmt.Sprint("same", i), at)
			}
			if s := lvlWant(t, p, "bob", "Silver", "133", "2026-02-16"); !cmp.Equal([]level.Gift{silverCash}, s.Owed) || couponsOf(t, p, "bob") != 0 {
				t.Errorf("after the same day's orders: owed %+v, %d coupons; want the coupon owed, none held", s.Owed, couponsOf(t, p, "bob"))
			}

			out := mustProcess(t, p, lvlOrder("next", "bob", "1", "", lvlAt("2026-01-16 00:00")))[0]
			if c, o := refusals(t, out); c != 1 || o != 1 {
				t.Errorf("the next day: %d claims refused, %d owed; want 1 and 1", c, o)
			}
			quiet("next2", "2026-01-16 09:00")

			res, err := p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "g1", Member: "bob", Operator: "op.li", At: lvlAt("2026-01-16 09:30")})
			if err != nil {
				t.Fatal(err)
			}
			if c, o := refusals(t, res.Outcome); c != 1 || o != 1 || len(res.Granted) != 0 {
				t.Errorf("GrantOwed: %d claims refused, %d owed, granted %+v; want 1, 1 and none", c, o, res.Granted)
			}

			p = restock(t, st)
			out = mustProcess(t, p, lvlOrder("restocked", "bob", "1", "", lvlAt("2026-01-16 10:00")))[0]
			if gifts, owed := owedEffects(t, out); !cmp.Equal([]level.Gift{silverCash}, gifts) || len(owed) != 0 || len(out.ChangesOf(coupon.ChangeIssued)) != 1 {
				t.Errorf("after the restock: gifts %+v, owed %+v, changes %v; want the coupon issued once", gifts, owed, kinds(out))
			}
			quiet("after", "2026-01-16 11:00")
			// 130 at the reach, and 7 orders of 1.
			if s := lvlWant(t, p, "bob", "Silver", "137", "2026-02-16"); len(s.Owed) != 0 || couponsOf(t, p, "bob") != 1 {
				t.Errorf("at the end: owed %+v, %d coupons; want none owed, 1 held", s.Owed, couponsOf(t, p, "bob"))
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An owed reward refused because its claim period had not opened is
// asked for at the first event of a later day: bob reaches Silver on 15
// January, the coupon claimable from 1 February; his order at 23:00 on
// 31 January is refused it, his order at 00:30 on 1 February (the same
// definition) is granted it.
func TestLevelOwedGiftClaimPeriodOpens(t *testing.T) {
	def := owedDef()
	def.Coupons.Templates[0].Claim.Period = rule.Window{From: lvlAt("2026-02-01")}
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p, lvlOrder("o1", "bob", "100", "", lvlAt("2026-01-15 11:00")))
	out := mustProcess(t, p, lvlOrder("o2", "bob", "1", "", lvlAt("2026-01-31 23:00")))[0]
	if c, o := refusals(t, out); c != 1 || o != 1 {
		t.Errorf("31 January: %d claims refused, %d owed; want 1 and 1", c, o)
	}
	out = mustProcess(t, p, lvlOrder("o3", "bob", "1", "", lvlAt("2026-02-01 00:30")))[0]
	if gifts, _ := owedEffects(t, out); !cmp.Equal([]level.Gift{silverCash}, gifts) || couponsOf(t, p, "bob") != 1 {
		t.Errorf("1 February: gifts %+v, %d coupons; want the coupon", gifts, couponsOf(t, p, "bob"))
	}
}

// An unversioned definition (version 0) that restocks is another
// definition all the same: bob, refused the coupon at his reach at 11:00
// on 15 January, is granted it at his next order that day once a
// definition of stock 2, still unversioned, is opened.
func TestLevelOwedGiftUnversionedRestock(t *testing.T) {
	st := memory.New()
	owedBob(t, st)
	def := owedDef()
	def.Coupons.Templates[0].Stock = 2
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	out := mustProcess(t, p, lvlOrder("o3", "bob", "1", "", lvlAt("2026-01-15 12:00")))[0]
	if gifts, _ := owedEffects(t, out); !cmp.Equal([]level.Gift{silverCash}, gifts) || couponsOf(t, p, "bob") != 1 {
		t.Errorf("gifts %+v, %d coupons; want the coupon", gifts, couponsOf(t, p, "bob"))
	}
}

// GrantOwed on a program without levels, or without a ladder.
func TestLevelGrantOwedNotDefined(t *testing.T) {
	ctx := context.Background()
	r := level.GrantOwedRequest{RequestID: "g", Member: "bob", Operator: "op", At: t0}
	if _, err := testkit.OpenMemory(t, valueDef()).Levels().GrantOwed(ctx, r); !errors.Is(err, level.ErrNotDefined) {
		t.Errorf("no levels: %v, want ErrNotDefined", err)
	}
	def := lvlDef("")
	def.Levels = &level.Definition{Plans: def.Levels.Plans}
	if _, err := testkit.OpenMemory(t, def).Levels().GrantOwed(ctx, r); !errors.Is(err, level.ErrNoLadder) {
		t.Errorf("no ladder: %v, want ErrNoLadder", err)
	}
}

// A GrantOwed is journaled: a replay of the journal makes the call again
// and ends with the coupon granted. Here the coupon is refused at the
// reach because its claim period opens on 1 February.
func TestLevelGrantOwedReplayed(t *testing.T) {
	ctx := context.Background()
	def := owedDef()
	def.Coupons.Templates[0].Claim.Period = rule.Window{From: lvlAt("2026-02-01")}
	from := memory.New()
	p, err := membership.Open(from, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlOrder("o1", "bob", "100", "", lvlAt("2026-01-15 11:00")))
	if s := lvlStatus(t, p, "bob"); !cmp.Equal([]level.Gift{silverCash}, s.Owed) {
		t.Fatalf("owed before the claim period: %+v", s.Owed)
	}
	res, err := p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "g1", Member: "bob", Operator: "op.li", At: lvlAt("2026-02-01 09:00")})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal([]level.Gift{silverCash}, res.Granted) {
		t.Fatalf("granted %+v", res.Granted)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := dst.Replay(ctx, from, nil); err != nil || n != 2 {
		t.Fatalf("Replay = %d, %v; want 2 inputs", n, err)
	}
	if s := lvlStatus(t, dst, "bob"); len(s.Owed) != 0 || couponsOf(t, dst, "bob") != 1 {
		t.Errorf("replayed: owed %+v, %d coupons; want none owed, 1 coupon", s.Owed, couponsOf(t, dst, "bob"))
	}
}

// A definition version that drops a gift's reward drops it from what is
// owed, for good: bob's next event removes it from his record, so a later
// version giving it again (with stock) does not owe it to him.
func TestLevelOwedGiftDroppedWithItsGift(t *testing.T) {
	st := memory.New()
	owedBob(t, st)
	def := owedDef()
	def.Version = 2
	def.Levels.Ladder[2].Gifts = def.Levels.Ladder[2].Gifts[:1] // the growth only
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	if s := lvlStatus(t, p, "bob"); len(s.Owed) != 0 {
		t.Errorf("Status.Owed of a reward no longer given: %+v", s.Owed)
	}
	out := mustProcess(t, p, lvlOrder("o3", "bob", "10", "", lvlAt("2026-01-20 10:00")))[0]
	if gifts, owed := owedEffects(t, out); len(gifts)+len(owed)+len(out.ChangesOf(coupon.ChangeClaimRefused)) != 0 {
		t.Errorf("gifts %+v, owed %+v, changes %+v: want nothing of gifts", gifts, owed, out.Changes)
	}
	def = owedDef()
	def.Version = 3
	def.Coupons.Templates[0].Stock = 5
	if p, err = membership.Open(st, def); err != nil {
		t.Fatal(err)
	}
	if s := lvlStatus(t, p, "bob"); len(s.Owed) != 0 {
		t.Errorf("owed again once the gift is back: %+v", s.Owed)
	}
	out = mustProcess(t, p, lvlOrder("o4", "bob", "10", "", lvlAt("2026-01-21 10:00")))[0]
	if gifts, _ := owedEffects(t, out); len(gifts) != 0 || couponsOf(t, p, "bob") != 0 {
		t.Errorf("gifts %+v: the dropped reward was granted", gifts)
	}
}

// An event that reaches the level again while its reward is still refused
// asks for it once: the retry at the event's start keeps it out of the
// member's record until the event's rules are done, so the reach does not
// ask again. bob's Silver term ends at 24:00 on 15 February with nothing
// in its window (down to Bronze, growth 0); his order of 100 on 1 March
// reaches Silver again, the coupon still out of stock.
func TestLevelOwedGiftTriedOncePerEvent(t *testing.T) {
	p := owedBob(t, memory.New())
	out := mustProcess(t, p, lvlOrder("o3", "bob", "100", "", lvlAt("2026-03-01 10:00")))[0]
	if n := len(out.ChangesOf(coupon.ChangeClaimRefused)); n != 1 {
		t.Errorf("%d claims refused, want 1", n)
	}
	gifts, owed := owedEffects(t, out)
	if len(gifts) != 0 || !cmp.Equal([]level.Gift{silverCash}, owed) {
		t.Errorf("gifts %+v, owed %+v; want none and the coupon once", gifts, owed)
	}
	if s := lvlWant(t, p, "bob", "Silver", "100", "2026-04-02"); !cmp.Equal([]level.Gift{silverCash}, s.Owed) {
		t.Errorf("owed: %+v", s.Owed)
	}
}
