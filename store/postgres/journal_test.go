package postgres_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// seeded returns a random source seeded with seed.
func seeded(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}

// journalState is what a replay of the journal must reproduce, read
// through the public API: each member's state, coupons and tags, and the
// ledger's totals and pools.
type journalState struct {
	Members map[string]membership.Member
	Coupons map[string][]coupon.Coupon
	Tags    map[string][]tag.Assigned
	Totals  map[ledger.Asset]map[ledger.Kind]decimal.Decimal
	Pools   map[string]decimal.Decimal
}

func readJournalState(t *testing.T, p *membership.Program, members []string, end time.Time) journalState {
	t.Helper()
	ctx := context.Background()
	st := journalState{Members: map[string]membership.Member{}, Coupons: map[string][]coupon.Coupon{}, Tags: map[string][]tag.Assigned{},
		Totals: map[ledger.Asset]map[ledger.Kind]decimal.Decimal{}, Pools: map[string]decimal.Decimal{}}
	for _, m := range members {
		mm, err := p.Member(ctx, m, end)
		if err != nil {
			t.Fatal(err)
		}
		st.Members[m] = mm
		if st.Coupons[m], err = p.Coupons().List(ctx, m); err != nil {
			t.Fatal(err)
		}
		if st.Tags[m], err = p.Tags().Of(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []ledger.Asset{ledger.Points("mall"), ledger.Growth, ledger.Value} {
		tot, err := p.Totals(ctx, a, "", "")
		if err != nil {
			t.Fatal(err)
		}
		st.Totals[a] = tot
		for _, pool := range []string{"earned", "redeemed", "expired", "reversed", "adjusted", "recharged", "spent"} {
			b, err := p.Balance(ctx, ledger.Pool(a, pool))
			if err != nil {
				t.Fatal(err)
			}
			st.Pools[fmt.Sprintf("%s/%s", a, pool)] = b
		}
	}
	return st
}

// Four instances of the retail program with the input journal on, on one
// database: each processes the events of its own members concurrently
// with the others, and makes operator calls for them on another instance
// (a points adjustment, a manual tag); then a coupon issue to several
// members, a tag recompute, and an Advance on every instance at once,
// which names no member. The journal, replayed into a memory store
// (another random source: the coupon codes come from the journal), gives
// the same members, coupons, tags and ledger totals, and both ledgers
// verify; the pages that performed items record what they did, and the
// replay's pages do the same. Each member's inputs are in the journal in the order they were
// made, a repeated event is not kept twice, and the journal makes no
// conflict between members: a journal every input numbered from one
// counter would have made most of the concurrent transactions run again.
func TestJournalOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := testkit.RetailDef(t, "../../examples/retail/program.json")
	pool := testPool(t)
	schema := newSchema(t, pool)
	var programs []*membership.Program
	var stores []*postgres.Store
	for i := range 4 {
		st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p, err := membership.Open(st, def, membership.WithJournal(), membership.WithRand(seeded(uint64(i+1))))
		if err != nil {
			t.Fatal(err)
		}
		programs, stores = append(programs, p), append(stores, st)
	}
	loc := programs[0].Location()
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, loc)
	const members = 24
	var ids []string
	for m := range members {
		ids = append(ids, fmt.Sprintf("m%02d", m))
	}
	// Each member's events, in time order: a registration, a recharge and
	// a card payment for every other member, and six orders of growing
	// size (the bigger members reach Gold and Platinum, with their gifts).
	eventsOf := func(m int) []mevent.Event {
		id := ids[m]
		at := func(day int) time.Time { return base.AddDate(0, 0, day).Add(time.Duration(m) * time.Minute) }
		evs := []mevent.Event{{ID: id + "-reg", Member: id, Type: "register", Time: at(0), Attrs: mevent.Attrs{"channel": mevent.Str("app")}}}
		if m%2 == 0 {
			evs = append(evs,
				mevent.Event{ID: id + "-top", Member: id, Type: "recharge", Time: at(0).Add(time.Hour), Attrs: mevent.Attrs{"amount": mevent.DecString("500")}},
				mevent.Event{ID: id + "-pay", Member: id, Type: "value_pay", Time: at(0).Add(2 * time.Hour), Attrs: mevent.Attrs{"amount": mevent.DecString("50")}})
		}
		for j := range 6 {
			amount := decimal.NewFromInt(int64(100 + 60*m + 10*j))
			evs = append(evs, mevent.Event{ID: fmt.Sprintf("%s-o%d", id, j), Member: id, Type: "order", Time: at(j + 1),
				Attrs: mevent.Attrs{"amount": mevent.Dec(amount), "order_id": mevent.Str(fmt.Sprintf("%s-o%d", id, j)),
					"store": mevent.Str("s01"), "category": mevent.List("fresh")}})
		}
		return evs
	}
	calls := base.AddDate(0, 0, 8)    // after every event
	sent := make([][]string, members) // each member's events and calls, in the order made
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, other := programs[g], programs[(g+1)%4]
			for m := g; m < members; m += 4 {
				id := ids[m]
				for _, ev := range eventsOf(m) {
					if _, err := p.Process(ctx, ev); err != nil {
						t.Errorf("%s: %v", ev.ID, err)
						return
					}
					sent[m] = append(sent[m], ev.ID)
				}
				at := calls.Add(time.Duration(m) * time.Minute)
				if _, err := other.Points().Adjust(ctx, points.AdjustRequest{RequestID: id + "-adj", Member: id, Operator: "op",
					Note: "goodwill", At: at, Program: "mall", Amount: testkit.Dec("25")}); err != nil {
					t.Error(err)
					return
				}
				sent[m] = append(sent[m], "points.adjust")
				if m%3 == 0 {
					if _, err := other.Tags().Add(ctx, tag.ManualRequest{RequestID: id + "-staff", Member: id, Operator: "op", At: at.Add(time.Second), Tag: "staff"}); err != nil {
						t.Error(err)
						return
					}
					sent[m] = append(sent[m], "tag.add")
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var retries int64
	for _, st := range stores {
		retries += st.Stats().Retries
	}
	events := 0
	for m := range members {
		events += len(eventsOf(m))
	}
	// A bulk issue of a coupon with a stock (claims of one stock queue on
	// it, so it is not made concurrently above): one input per member.
	bulk := ids[:6]
	res, err := programs[2].Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "winback", Operator: "op", At: calls.Add(time.Hour),
		Members: bulk, Template: "winback-30"})
	if err != nil || len(res.Issued) != len(bulk) {
		t.Fatalf("issue: %+v, %v", res, err)
	}
	for m := range bulk {
		sent[m] = append(sent[m], "coupon.issue")
	}
	// A repeated event, on another instance, is answered and not kept
	// again.
	before, err := engine.JournalLength(ctx, stores[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, err := programs[3].Process(ctx, eventsOf(0)[0]); err != nil || !out.Duplicate {
		t.Fatalf("the repeated event: %v, %v", out, err)
	}
	if after, err := engine.JournalLength(ctx, stores[0]); after != before || err != nil {
		t.Errorf("the journal had %d inputs before the repeated event, %d after (%v)", before, after, err)
	}
	if _, err := programs[0].Tags().Recompute(ctx, tag.RecomputeRequest{Operator: "op", At: base.AddDate(0, 0, 10), Tag: "recent"}); err != nil {
		t.Fatal(err)
	}
	// Every instance advances to the same time at once: one performs each
	// due item, the others find none.
	end := base.AddDate(0, 0, 45)
	performed := make([]int, len(programs))
	for i, p := range programs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := p.Advance(ctx, end)
			if err != nil {
				t.Error(err)
			}
			performed[i] = n
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Each member's inputs in the order made; the inputs naming no
	// member: the recompute, then the Advance's pages.
	got := make([][]string, members)
	var unnamed []string
	var prev time.Time
	items, digested := 0, 0
	err = engine.Journal(ctx, stores[2], 0, 0, func(in engine.Input) error {
		var member, name string
		switch in.Kind {
		case engine.InputEvent:
			member, name = in.Event.Member, in.Event.ID
		case engine.InputRequest:
			var body struct {
				Member string `json:"member"`
			}
			if err := json.Unmarshal(in.Body, &body); err != nil {
				return err
			}
			member, name = body.Member, in.Action
		case engine.InputAdvance:
			if in.Items > 0 {
				unnamed = append(unnamed, "page")
			} else {
				unnamed = append(unnamed, "last page")
			}
			items += in.Items
			// What a page did is recorded, and the replay below compares
			// it, summed over the instances' pages of one time (items that
			// post and publish nothing add nothing to it).
			if !in.Digested {
				t.Errorf("input %d: a page of %d items records no digest", in.Seq, in.Items)
			}
			if in.Digest != 0 {
				digested++
			}
		default:
			unnamed = append(unnamed, fmt.Sprintf("%c", in.Kind))
		}
		if member != "" {
			var m int
			if _, err := fmt.Sscanf(member, "m%02d", &m); err != nil {
				return err
			}
			got[m] = append(got[m], name)
		}
		// The members' events were made in time order, so the merged
		// journal is in time order.
		if in.At.Before(prev) {
			t.Errorf("input %d at %s after one at %s", in.Seq, in.At, prev)
		}
		prev = in.At
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sent, got); d != "" {
		t.Errorf("each member's inputs in the journal (-made +journal):\n%s", d)
	}
	// The recompute; the pages that performed items (performing one may
	// make another due, so there may be several); the last, empty page of
	// each instance's Advance call.
	pages := len(unnamed) - 1 - len(programs)
	wantUnnamed := []string{"u"}
	for range max(pages, 1) {
		wantUnnamed = append(wantUnnamed, "page")
	}
	for range programs {
		wantUnnamed = append(wantUnnamed, "last page")
	}
	if d := cmp.Diff(wantUnnamed, unnamed); d != "" {
		t.Errorf("the inputs naming no member (-want +journal):\n%s", d)
	}
	if digested == 0 {
		t.Error("no page of the journal records what it did (a digest)")
	}
	if total := performed[0] + performed[1] + performed[2] + performed[3]; items != total {
		t.Errorf("the journal's pages performed %d due items, the Advance calls %v", items, performed)
	}

	dst, err := membership.Open(memory.New(), def, membership.WithRand(seeded(99)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := dst.Replay(ctx, stores[3], nil)
	if err != nil {
		t.Fatal(err)
	}
	if length, _ := engine.JournalLength(ctx, stores[3]); n != length {
		t.Errorf("replayed %d inputs of %d", n, length)
	}
	for name, p := range map[string]*membership.Program{"source": programs[0], "replay": dst} {
		if err := p.Verify(ctx); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
	want, have := readJournalState(t, programs[0], ids, end), readJournalState(t, dst, ids, end)
	if d := cmp.Diff(want, have); d != "" {
		t.Errorf("replayed state differs (-source +replay):\n%s", d)
	}
	// The stream exercised what the comparison covers.
	levels, coupons, tags := map[string]bool{}, 0, 0
	for _, m := range ids {
		levels[want.Members[m].Level.Level] = true
		coupons += len(want.Coupons[m])
		tags += len(want.Tags[m])
	}
	if len(levels) < 2 || coupons < 2*members+len(bulk) || tags < members/3 {
		t.Errorf("levels %v, %d coupons, %d tags: too thin a test", levels, coupons, tags)
	}
	// The runs again are logged, not checked: on a shared 2-core machine
	// they vary from run to run as much with the journal as without it
	// (the keys the journal writes are checked to be each member's own by
	// TestJournalWritesNoSharedKey, at the root).
	t.Logf("%d events and %d calls on 4 instances: %d retries", events, members+(members+2)/3, retries)
}
