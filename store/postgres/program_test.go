package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/value"
)

// Four Programs (four instances of an application) on one database: 64
// goroutines spend one member's stored value at once through all of them.
// The Program's store functions run again after conflicts; the balance
// never goes below zero, every accepted spend is in the ledger once, the
// feed has each change once, and the ledger verifies.
func TestProgramsShareOneDatabase(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	schema := newSchema(t, pool)
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []mevent.Type{
			{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
			{Name: "pay", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Amount: "amount"},
	}
	var programs []*membership.Program
	var stores []*postgres.Store
	for range 4 {
		// Every event of one member conflicts with every other: enough
		// attempts for 64 of them queued on one balance.
		st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema, MaxAttempts: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p, err := membership.Open(st, def)
		if err != nil {
			t.Fatal(err)
		}
		programs = append(programs, p)
		stores = append(stores, st)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	ev := func(id, typ, amount string) mevent.Event {
		return mevent.Event{ID: id, Member: "alice", Type: typ, Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString(amount)}}
	}
	if _, err := programs[0].Process(ctx, ev("r", "recharge", "100")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := programs[g%len(programs)]
			for i := range 2 {
				_, err := p.Process(ctx, ev(fmt.Sprintf("p%d-%d", g, i), "pay", "1.5"))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, membership.ErrInsufficientBalance):
					refused++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// 100 pays for 66 spends of 1.5 (99); the other 62 of the 128 are
	// refused, and 1 is left.
	if ok != 66 || refused != 62 {
		t.Errorf("accepted %d, refused %d; want 66 and 62", ok, refused)
	}
	for i, p := range programs {
		va, err := p.Value().Account(ctx, "alice")
		if err != nil || !va.Balance.Equal(testkit.Dec("1")) || !va.Spent.Equal(testkit.Dec("99")) {
			t.Errorf("program %d reads %+v, %v", i, va, err)
		}
	}
	p := programs[3]
	page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, ""), Limit: 1000})
	if err != nil || len(page.Entries) != 67 {
		t.Errorf("%d entries, %v; want 67", len(page.Entries), err)
	}
	feed, err := p.Feed(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range feed {
		if c.Seq != uint64(i+1) || seen[c.Event] {
			t.Fatalf("feed[%d] = seq %d, event %s (seen before: %v)", i, c.Seq, c.Event, seen[c.Event])
		}
		seen[c.Event] = true
	}
	if len(feed) != 67 {
		t.Errorf("feed has %d changes, want 67", len(feed))
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
	var retries int64
	for _, st := range stores {
		retries += st.Stats().Retries
	}
	t.Logf("128 spends and a recharge on 4 programs: %d retries", retries)
}
