package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/value"
)

// openPrograms opens n Programs of def on one new schema, each on a store
// of its own (an application instance each).
func openPrograms(t *testing.T, n int, def membership.Definition) ([]*membership.Program, []*postgres.Store) {
	t.Helper()
	ctx := context.Background()
	pool := testPool(t)
	schema := newSchema(t, pool)
	var programs []*membership.Program
	var stores []*postgres.Store
	for range n {
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
	return programs, stores
}

// Four Programs (four instances of an application) on one database: 64
// goroutines spend one member's stored value at once through all of them.
// The Program's store functions run again after conflicts; the balance
// never goes below zero, every accepted spend is in the ledger once, the
// feed has each change once, and the ledger verifies.
// spendAtOnce calls spend twice from each of 64 goroutines, on the
// programs in turn, with IDs of their own, and counts the calls that went
// through and those refused with refusal (for want of balance, say);
// another error fails t.
func spendAtOnce(t *testing.T, programs []*membership.Program, refusal error, spend func(p *membership.Program, id string) error) (ok, refused int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := programs[g%len(programs)]
			for i := range 2 {
				err := spend(p, fmt.Sprintf("p%d-%d", g, i))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, refusal):
					refused++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok, refused
}

func TestProgramsShareOneDatabase(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []mevent.Type{
			{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
			{Name: "pay", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Amount: "amount"},
	}
	programs, stores := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	ev := func(id, typ, amount string) mevent.Event {
		return mevent.Event{ID: id, Member: "alice", Type: typ, Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString(amount)}}
	}
	if _, err := programs[0].Process(ctx, ev("r", "recharge", "100")); err != nil {
		t.Fatal(err)
	}
	ok, refused := spendAtOnce(t, programs, membership.ErrInsufficientBalance, func(p *membership.Program, id string) error {
		_, err := p.Process(ctx, ev(id, "pay", "1.5"))
		return err
	})
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

// Four Programs refund one member's stored value from 64 goroutines at
// once: each refund reads the member's cumulative spend and refunds
// in its own serializable transaction, so those accepted never add up to
// more than the spend, and the ledger verifies.
func TestRefundsOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []mevent.Type{
			{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
			{Name: "pay", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
			{Name: "refund", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Refund: "refund", Amount: "amount"},
	}
	programs, _ := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	ev := func(id, typ, amount string) mevent.Event {
		return mevent.Event{ID: id, Member: "alice", Type: typ, Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString(amount)}}
	}
	for _, e := range []mevent.Event{ev("r", "recharge", "100"), ev("p", "pay", "40")} {
		if _, err := programs[0].Process(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ok, refused := spendAtOnce(t, programs, value.ErrRefundExceedsSpend, func(p *membership.Program, id string) error {
		_, err := p.Process(ctx, ev(id, "refund", "1.5"))
		return err
	})
	// A spend of 40 is refunded by 26 refunds of 1.5 (39; 27 would be
	// 40.5); the other 102 of the 128 are refused. Balance 60 + 39 = 99.
	if ok != 26 || refused != 102 {
		t.Errorf("accepted %d, refused %d; want 26 and 102", ok, refused)
	}
	for i, p := range programs {
		va, err := p.Value().Account(ctx, "alice")
		if err != nil || !va.Balance.Equal(testkit.Dec("99")) || !va.Refunded.Equal(testkit.Dec("39")) || !va.Spent.Equal(testkit.Dec("40")) {
			t.Errorf("program %d reads %+v, %v", i, va, err)
		}
	}
	if err := programs[3].Verify(ctx); err != nil {
		t.Error(err)
	}
}

// Four Programs call Advance at once: each due item is performed once,
// by whichever instance's transaction commits it first.
func TestAdvanceOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []mevent.Type{{Name: "order", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 1}}},
		},
	}
	programs, _ := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	const members = 40
	for i := range members {
		ev := mevent.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i), Type: "order", Time: at,
			Attrs: mevent.Attrs{"amount": mevent.DecString("10")}}
		if _, err := programs[i%4].Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	performed := make([]int, len(programs))
	for i, p := range programs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := p.Advance(ctx, at.AddDate(0, 0, 3))
			if err != nil {
				t.Error(err)
			}
			performed[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range performed {
		total += n
	}
	// One due item per member: its lot of 10 points expiring a day later.
	if total != members {
		t.Errorf("the instances performed %v due items, %d in all; want %d", performed, total, members)
	}
	feed, err := programs[0].Feed(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	expired := map[string]int{}
	for _, c := range feed {
		if c.Kind == points.ChangeExpired {
			expired[c.Member]++
		}
	}
	if len(expired) != members {
		t.Errorf("%d members' points expired, want %d", len(expired), members)
	}
	for m, n := range expired {
		if n != 1 {
			t.Errorf("%s's lot expired %d times", m, n)
		}
	}
	if err := programs[1].Verify(ctx); err != nil {
		t.Error(err)
	}
}

// A rolling deploy: an instance opened with a newer definition replaces
// the one in force, and the instance still running the old one refuses to
// write from its next transaction on.
func TestRollingDeployOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Version:     1,
		Zone:        "Asia/Shanghai",
		Events:      []mevent.Type{{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
	}
	programs, stores := openPrograms(t, 1, def)
	old := programs[0]
	def.Version = 2
	newer, err := membership.Open(stores[0], def) // the same database, another instance
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, old.Location())
	ev := mevent.Event{ID: "r1", Member: "alice", Type: "recharge", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("5")}}
	if _, err := old.Process(ctx, ev); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("the instance on version 1: %v", err)
	}
	if _, err := newer.Process(ctx, ev); err != nil {
		t.Errorf("the instance on version 2: %v", err)
	}
}

// A rolling deploy of a definition that leaves out a point program with
// balances: the new instance's Open is refused with ErrDefinitionInUse,
// the old instance goes on writing under the definition in force; a
// version that keeps the program replaces it, and the old instance then
// refuses to write.
func TestRollingDeployRefusedInUse(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Version: 1,
		Zone:    "Asia/Shanghai",
		Events:  []mevent.Type{{Name: "visit"}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}, {Name: "park"}},
			Rules: []points.Rule{{ID: "visit", Program: "park", Event: "visit",
				Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("10")}}},
		},
	}
	programs, stores := openPrograms(t, 1, def)
	old := programs[0]
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, old.Location())
	visit := func(p *membership.Program, id string) error {
		_, err := p.Process(ctx, mevent.Event{ID: id, Member: "alice", Type: "visit", Time: at})
		return err
	}
	if err := visit(old, "v1"); err != nil {
		t.Fatal(err)
	}
	v2 := def
	v2.Version = 2
	v2.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}}}
	if _, err := membership.Open(stores[0], v2); !errors.Is(err, membership.ErrDefinitionInUse) {
		t.Fatalf("Open of a version without park: %v, want ErrDefinitionInUse", err)
	}
	if err := visit(old, "v2"); err != nil {
		t.Errorf("the instance on version 1 after a refused version 2: %v", err)
	}
	v2.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}, {Name: "park"}}} // park kept, without rules
	newer, err := membership.Open(stores[0], v2)
	if err != nil {
		t.Fatal(err)
	}
	if err := visit(old, "v3"); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("the instance on version 1 after version 2: %v", err)
	}
	b, err := newer.Points().Balance(ctx, points.BalanceQuery{Program: "park", Member: "alice", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if want := testkit.Dec("20"); !b.Available.Equal(want) { // v1 and v2 under version 1
		t.Errorf("alice's park points: %s, want %s", b.Available, want)
	}
}

// 200 members claim a coupon of a stock of 50 at once, through four
// instances: exactly 50 get one, the other 150 are refused with
// coupon.ErrOutOfStock, and the stock's count says 50.
func TestStockOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "flash", Type: coupon.Cash, Amount: testkit.Dec("5"), Stock: 50,
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}},
	}
	programs, _ := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	var wg sync.WaitGroup
	var mu sync.Mutex
	got, refused := 0, 0
	ids := map[string]bool{}
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := fmt.Sprint("m", i)
			res, err := programs[i%4].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim-" + m, Member: m, At: at, Template: "flash"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				got++
				for _, c := range res.Coupons {
					if ids[c.ID] {
						t.Errorf("coupon ID %s issued twice", c.ID)
					}
					ids[c.ID] = true
				}
			case errors.Is(err, coupon.ErrOutOfStock):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got != 50 || refused != 150 || len(ids) != 50 {
		t.Errorf("%d claims got a coupon (%d IDs), %d were refused; want 50 and 150", got, len(ids), refused)
	}
	r, err := programs[2].Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.ByTemplate["flash"]; s.Issued != 50 {
		t.Errorf("stats: %d issued, want 50", s.Issued)
	}
}

// An event costs two round trips (its reads, then its writes with the
// commit), and an operator request for a member reads what its member's
// events read in one: a points redemption took 10 before, 5 now (the
// rest are its own reads: the lots it spends, its reference).
func TestProgramRoundTrips(t *testing.T) {
	ctx := context.Background()
	programs, stores := openPrograms(t, 1, testkit.OrderDef())
	p, st := programs[0], stores[0]
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	roundTrips := func(what string, max int64, call func() error) {
		t.Helper()
		before := st.Stats().RoundTrips
		if err := call(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := st.Stats().RoundTrips - before; n > max {
			t.Errorf("%s took %d round trips; want at most %d", what, n, max)
		}
	}
	for i := range 3 {
		ev := mevent.Event{ID: fmt.Sprint("o", i), Member: "bob", Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("100")}}
		roundTrips("an order", 2, func() error { _, err := p.Process(ctx, ev); return err })
	}
	for i := range 2 {
		roundTrips("a redemption", 5, func() error {
			_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: fmt.Sprint("r", i), Member: "bob", At: at.Add(time.Hour),
				Program: "mall", Ref: fmt.Sprint("ref", i), Amount: testkit.Dec("3")})
			return err
		})
	}
}

// openOrderProgram opens a Program of testkit.OrderDef on a store in a
// new schema, and returns it with the pool and the schema, for a test
// that reads the table itself.
func openOrderProgram(t *testing.T) (*membership.Program, *pgxpool.Pool, string) {
	t.Helper()
	pool := testPool(t)
	schema := newSchema(t, pool)
	st, err := postgres.New(t.Context(), pool, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, testkit.OrderDef())
	if err != nil {
		t.Fatal(err)
	}
	return p, pool, schema
}

// TestOrderKeepsItsDueItem: a member's second order whose points expire
// at the instant of the first's leaves the due item the first wrote as
// it is (store.Ensurer), rather than writing a new version of its row:
// the row's xmin, the transaction that wrote it, stays the first order's.
func TestOrderKeepsItsDueItem(t *testing.T) {
	ctx := context.Background()
	p, pool, schema := openOrderProgram(t)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	dueRows := func() map[string]string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT key, xmin::text FROM `+pgx.Identifier{schema, "kv"}.Sanitize()+` WHERE bucket = $1`, []byte("due"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var key []byte
			var xmin string
			if err := rows.Scan(&key, &xmin); err != nil {
				t.Fatal(err)
			}
			got[string(key)] = xmin
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	order := func(i int) {
		t.Helper()
		ev := mevent.Event{ID: fmt.Sprint("o", i), Member: "bob", Type: "order", Time: at.Add(time.Duration(i) * time.Hour),
			Attrs: mevent.Attrs{"amount": mevent.DecString("100")}}
		if _, err := p.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	order(0)
	order(1) // past any level change the first order brings
	first := dueRows()
	order(2)
	if len(first) == 0 {
		t.Fatal("no due item after an order whose points expire")
	}
	if got := dueRows(); !maps.Equal(got, first) {
		t.Errorf("due rows (key: xmin) after the next order %q; want them as they were, %q", got, first)
	}
}

// A batch of opening states with a member the program knows already runs
// each row on a dry-run transaction of its own over the store's
// (ApplyBatch's second run), whose additions to the shared totals were
// written as sums in internal/codec's binary form: a later addition on
// the server (decimal text) to that stripe then failed, for every call
// that added to it ("invalid byte sequence for encoding UTF8"). With one
// stripe, every later change adds to the row the batch wrote: the rows
// not refused are opened, the known one refused, and the openings,
// recharges and spends after it go through, the balances and the ledger
// agreeing.
func TestOpenMembersRefusedThenAddedTo(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, &postgres.Options{Stripes: 1})
	p, err := membership.Open(st, testkit.ValueDef())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	row := func(i int, req string) migrate.Member {
		return migrate.Member{RequestID: fmt.Sprintf("%s-%d", req, i), Member: fmt.Sprint("m", i), Operator: "import", At: at,
			Value: &migrate.Value{Balance: testkit.Dec(fmt.Sprint(10 * (i + 1)))}}
	}
	if _, err := p.OpenMember(ctx, row(1, "before")); err != nil {
		t.Fatal(err)
	}
	_, errs, err := p.OpenMembers(ctx, []migrate.Member{row(0, "batch"), row(1, "batch"), row(2, "batch")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], membership.ErrKnownMember) || errs[2] != nil {
		t.Fatalf("batch: %v; want m1 refused as known, m0 and m2 opened", errs)
	}
	if _, err := p.OpenMember(ctx, row(3, "after")); err != nil {
		t.Fatalf("an opening after the batch: %v", err)
	}
	for i, ev := range []mevent.Event{
		{ID: "r0", Member: "m0", Type: "recharge", Time: at.Add(time.Hour), Attrs: mevent.Attrs{"amount": mevent.Dec(testkit.Dec("5"))}},
		{ID: "p2", Member: "m2", Type: "pay", Time: at.Add(time.Hour), Attrs: mevent.Attrs{"amount": mevent.Dec(testkit.Dec("7.5"))}},
	} {
		if _, err := p.Process(ctx, ev); err != nil {
			t.Fatalf("event %d after the batch: %v", i, err)
		}
	}
	// m0 opened with 10 and recharged 5; m1 with 20 (before the batch);
	// m2 with 30, less 7.5 paid; m3 with 40.
	for m, want := range map[string]string{"m0": "15", "m1": "20", "m2": "22.5", "m3": "40"} {
		a, err := p.Value().Account(ctx, m)
		if err != nil || !a.Balance.Equal(testkit.Dec(want)) {
			t.Errorf("%s: %+v, %v; want a balance of %s", m, a, err, want)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}
