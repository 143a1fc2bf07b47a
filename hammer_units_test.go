package membership_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/value"
)

// These hammers drive the units of work other than a plain Process —
// quotes, openings with refusals — from both Programs at once, with the
// same request IDs, and check that each event or request took effect
// exactly once: balances, level counts, the ledger and the feed.

// Each of four members' six orders of 200 is processed by both programs
// and quoted on both at once. A quote writes nothing and answers the 200
// points the order earns, whether it runs before the order is processed
// (a fresh outcome) or after (the recorded one, Duplicate): the feed holds
// exactly the changes of the outcomes processed, each member earned 6 ×
// 200 = 1,200 points once, and reached gold (1,000) once.
func TestHammerQuoteRacesProcess(t *testing.T) {
	onEveryStore(t, testkit.OrderDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, orders = 4, 6
		ev := func(i int) event.Event {
			m, k := i/orders, i%orders
			return event.Event{ID: fmt.Sprintf("o%d-%d", m, k), Member: fmt.Sprint("m", m), Type: "order",
				Time: hammerAt.Add(time.Duration(k) * time.Minute), Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("200"))}}
		}
		var mu sync.Mutex
		applied := map[string]int{}
		changes := 0
		atOnce(members*orders*4, func(g int) {
			e, p := ev(g/4), ps[g%2]
			if g%4 < 2 {
				out, err := p.Process(ctx, e)
				if err != nil {
					t.Errorf("process %s: %v", e.ID, err)
					return
				}
				if !out.Duplicate {
					mu.Lock()
					applied[e.ID]++
					changes += len(out.Changes)
					mu.Unlock()
				}
				return
			}
			out, err := p.Quote(ctx, e)
			if err != nil {
				t.Errorf("quote %s: %v", e.ID, err)
				return
			}
			fx, err := points.EffectsOf(out)
			if err != nil || len(fx.Earned) != 1 || !fx.Earned[0].Amount.Equal(testkit.Dec("200")) {
				t.Errorf("quote %s (duplicate %v): earned %+v, %v; want 200 in mall", e.ID, out.Duplicate, fx.Earned, err)
			}
		})
		for i := range members * orders {
			if id := ev(i).ID; applied[id] != 1 {
				t.Errorf("%s applied %d times", id, applied[id])
			}
		}
		for m := range members {
			b, err := ps[m%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: fmt.Sprint("m", m), At: hammerAt.Add(time.Hour)})
			if err != nil || !b.Available.Equal(testkit.Dec("1200")) {
				t.Errorf("m%d: %+v, %v; want 1200 available", m, b, err)
			}
		}
		counts, err := ps[1].Levels().Counts(ctx)
		if want := []level.Count{{Name: "member"}, {Name: "gold", Members: members}}; err != nil || fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("level counts %v, %v; want %v", counts, err, want)
		}
		feed := checkLedgerAndFeed(t, ps)
		if len(feed) != changes {
			t.Errorf("the feed holds %d changes, the outcomes processed %d", len(feed), changes)
		}
		earned := countKinds(feed, points.ChangeEarned)
		for m := range members {
			if n := earned[fmt.Sprint("m", m)]; n != orders {
				t.Errorf("m%d earned %d times in the feed, want %d", m, n, orders)
			}
		}
	})
}

// Both programs, two callers each, open the same 24 members at once (one
// list: stored value i+1, a lot of 10 points, gold), where the list also
// opens m5 again under another request ID (refused: ErrKnownMember, in
// every call, since m5's own row comes first) and repeats m3's row (a
// duplicate). A refusal makes ApplyBatch run each row on a dry-run
// transaction of its own, whose writes and additions it then puts into
// the store's: every row is opened once over the four calls, the level
// counts and balances are those of one opening each, and the members'
// orders and recharges that follow, on both programs at once, add to the
// totals the openings wrote (on PostgreSQL, on the server).
func TestHammerOpenMembersRefusedOnBothPrograms(t *testing.T) {
	def := testkit.OrderDef()
	vd := testkit.ValueDef()
	def.Events = append(def.Events, vd.Events[:3]...) // recharge, pay, refund
	def.StoredValue = vd.StoredValue
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 24
		expires := hammerAt.AddDate(0, 1, 0)
		row := func(i int) migrate.Member {
			return migrate.Member{RequestID: fmt.Sprint("open-m", i), Member: fmt.Sprint("m", i), Operator: "ops", At: hammerAt,
				Level: "gold", Value: &migrate.Value{Balance: decimal.NewFromInt(int64(i + 1))},
				Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: testkit.Dec("10"), Expires: expires}}}}}
		}
		var list []migrate.Member
		for i := range members {
			list = append(list, row(i))
		}
		again := row(5)
		again.RequestID = "open-m5-again"
		list = append(list, again, row(3))
		var mu sync.Mutex
		opened := map[string]int{}
		atOnce(4, func(g int) {
			outs, errs, err := ps[g%2].OpenMembers(ctx, list, false)
			if err != nil {
				t.Errorf("call %d: %v", g, err)
				return
			}
			for i, e := range errs {
				switch {
				case i == members && !errors.Is(e, membership.ErrKnownMember):
					t.Errorf("call %d: row %d (m5 again): %v, want ErrKnownMember", g, i, e)
				case i == members:
				case e != nil:
					t.Errorf("call %d: row %d: %v", g, i, e)
				case i == members+1 && !outs[i].Duplicate:
					t.Errorf("call %d: m3's row again was applied again", g)
				case !outs[i].Duplicate:
					mu.Lock()
					opened[list[i].RequestID]++
					mu.Unlock()
				}
			}
		})
		for i := range members {
			if id := row(i).RequestID; opened[id] != 1 {
				t.Errorf("%s applied %d times", id, opened[id])
			}
		}
		atOnce(members*4, func(g int) {
			i, p := g/4, ps[g%2]
			ev := event.Event{ID: fmt.Sprint("o-m", i), Member: fmt.Sprint("m", i), Type: "order", Time: hammerAt.Add(time.Minute),
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("100"))}}
			if g%4 >= 2 {
				ev = event.Event{ID: fmt.Sprint("r-m", i), Member: ev.Member, Type: "recharge", Time: ev.Time,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("5"))}}
			}
			if _, err := p.Process(ctx, ev); err != nil {
				t.Errorf("process %s: %v", ev.ID, err)
			}
		})
		for i := range members {
			m := fmt.Sprint("m", i)
			va, err := ps[i%2].Value().Account(ctx, m)
			if want := decimal.NewFromInt(int64(i + 1 + 5)); err != nil || !va.Balance.Equal(want) {
				t.Errorf("%s: %+v, %v; want a balance of %s", m, va, err, want)
			}
			b, err := ps[(i+1)%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: hammerAt.Add(time.Hour)})
			if err != nil || !b.Available.Equal(testkit.Dec("110")) {
				t.Errorf("%s: %+v, %v; want 110 available", m, b, err)
			}
		}
		counts, err := ps[0].Levels().Counts(ctx)
		if want := []level.Count{{Name: "member"}, {Name: "gold", Members: members}}; err != nil || fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("level counts %v, %v; want %v", counts, err, want)
		}
		feed := checkLedgerAndFeed(t, ps)
		for kind, want := range map[string]int{points.ChangeOpened: 1, points.ChangeEarned: 1} {
			n := countKinds(feed, kind)
			for i := range members {
				if m := fmt.Sprint("m", i); n[m] != want {
					t.Errorf("%s: %d %s in the feed, want %d", m, n[m], kind, want)
				}
			}
		}
	})
}

// Both programs, two callers each, process at once a batch that holds one
// event twice, a batch refused by its last event (a payment beyond the
// balance), and single events that both batches hold too. The first
// batch is accepted in every call (its event's second copy a Duplicate
// even in the call that applies it); the refused batch writes nothing,
// not even the events it shares with the others; every event is applied
// once: m0 holds 10 + 5 and m1 10 + 7, each with two recharges in the
// feed.
func TestHammerBatchesWithRepeatsAndRefusals(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		ev := func(id, member, typ, amount string) event.Event {
			return event.Event{ID: id, Member: member, Type: typ, Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}}
		}
		r0, r1, r2, r3 := ev("r0", "m0", "recharge", "10"), ev("r1", "m1", "recharge", "10"), ev("r2", "m0", "recharge", "5"), ev("r3", "m1", "recharge", "7")
		accepted := []event.Event{r0, r1, r0, r2}
		refused := []event.Event{r1, r3, ev("s0", "m0", "pay", "1000")}
		var mu sync.Mutex
		applied := map[string]int{}
		count := func(outs ...*change.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			for _, out := range outs {
				if !out.Duplicate {
					applied[out.Event]++
				}
			}
		}
		atOnce(16, func(g int) {
			p := ps[g%2]
			switch g / 4 {
			case 0:
				outs, err := p.ProcessBatch(ctx, accepted)
				if err != nil {
					t.Errorf("batch: %v", err)
					return
				}
				if !outs[2].Duplicate {
					t.Errorf("r0's second copy in the batch was applied again")
				}
				count(outs...)
			case 1:
				if _, err := p.ProcessBatch(ctx, refused); !errors.Is(err, ledger.ErrInsufficientBalance) {
					t.Errorf("refused batch: %v, want ErrInsufficientBalance", err)
				}
			default:
				e := []event.Event{r0, r3}[g%4/2]
				out, err := p.Process(ctx, e)
				if err != nil {
					t.Errorf("process %s: %v", e.ID, err)
					return
				}
				count(out)
			}
		})
		for _, id := range []string{"r0", "r1", "r2", "r3"} {
			if applied[id] != 1 {
				t.Errorf("%s applied %d times", id, applied[id])
			}
		}
		for m, want := range map[string]string{"m0": "15", "m1": "17"} {
			va, err := ps[1].Value().Account(ctx, m)
			if err != nil || !va.Balance.Equal(testkit.Dec(want)) || !va.Spent.IsZero() {
				t.Errorf("%s: %+v, %v; want a balance of %s, nothing spent", m, va, err, want)
			}
		}
		feed := checkLedgerAndFeed(t, ps)
		if n := countKinds(feed, value.ChangeRecharged); n["m0"] != 2 || n["m1"] != 2 || len(feed) != 4 {
			t.Errorf("recharges in the feed %v, %d changes; want 2 each, 4 in all", n, len(feed))
		}
	})
}

// Six erasures of one member at once on both programs, four under one
// request ID and two under another, racing recharges of the member:
// exactly one erasure is applied; the others of its ID answer its
// outcome (Duplicate), those of the other ID are refused with ErrErased;
// the feed holds one erasure, and the balance is what the recharges
// accepted add up to.
func TestHammerEraseOnBothPrograms(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "r", Member: "alice", Type: "recharge", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("5"))}})
		var mu sync.Mutex
		applied, duplicates, refused := map[string]int{}, map[string]int{}, map[string]int{}
		recharged := int64(5)
		atOnce(12, func(g int) {
			p := ps[g%2]
			if g >= 6 {
				_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("r", g), Member: "alice", Type: "recharge", Time: hammerAt,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("5"))}})
				switch {
				case err == nil:
					mu.Lock()
					recharged += 5
					mu.Unlock()
				case !errors.Is(err, membership.ErrErased):
					t.Errorf("recharge %d: %v", g, err)
				}
				return
			}
			id := []string{"erase", "erase-again"}[g/4]
			out, err := p.Erase(ctx, membership.EraseRequest{RequestID: id, Member: "alice", Operator: "dpo", At: hammerAt.Add(time.Hour)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, membership.ErrErased):
				refused[id]++
			case err != nil:
				t.Errorf("erase %s: %v", id, err)
			case out.Duplicate:
				duplicates[id]++
			default:
				applied[id]++
			}
		})
		won := "erase"
		if applied["erase-again"] == 1 {
			won = "erase-again"
		}
		lost := map[string]string{"erase": "erase-again", "erase-again": "erase"}[won]
		calls := map[string]int{"erase": 4, "erase-again": 2}
		if applied[won] != 1 || duplicates[won] != calls[won]-1 || refused[won] != 0 ||
			applied[lost] != 0 || duplicates[lost] != 0 || refused[lost] != calls[lost] {
			t.Errorf("applied %v, duplicates %v, refused %v: want %s applied once, its repeats duplicates, %s refused",
				applied, duplicates, refused, won, lost)
		}
		va, err := ps[1].Value().Account(ctx, "alice")
		if err != nil || !va.Balance.Equal(decimal.NewFromInt(recharged)) {
			t.Errorf("%+v, %v; the recharges accepted add up to %d", va, err, recharged)
		}
		feed := checkLedgerAndFeed(t, ps)
		if n := countKinds(feed, membership.ChangeErased)["alice"]; n != 1 {
			t.Errorf("%d erasures in the feed, want 1", n)
		}
	})
}
