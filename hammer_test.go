package membership_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// The hammer tests below call the operations other than Process's
// plain earning from many goroutines at once, through two Programs:
// on store/memory and store/bolt the same Program twice (those stores
// belong to one process), and on PostgreSQL, when MEMBERSHIP_PG_DSN is
// set (CI sets it), two stores opened on the same DSN with the default
// options, each with a Program, as two instances of an application
// would. What each test expects is worked out from the calls that were
// accepted.

const hammerCallers = 48

var hammerSchemas atomic.Int64

// onEveryStore runs f in a subtest per store with two Programs of def.
func onEveryStore(t *testing.T, def membership.Definition, f func(t *testing.T, ps [2]*membership.Program)) {
	t.Helper()
	onEveryStoreWith(t, def, nil, f)
}

// onEveryStoreWith is onEveryStore with options for the Programs.
func onEveryStoreWith(t *testing.T, def membership.Definition, opts []membership.Option, f func(t *testing.T, ps [2]*membership.Program)) {
	t.Helper()
	onEveryStoreVersions(t, def, opts, func(t *testing.T, ps [2]*membership.Program, _ func(membership.Definition) [2]*membership.Program) {
		f(t, ps)
	})
}

// onEveryStoreVersions is onEveryStoreWith, with open: it opens two
// Programs of another version of the definition over the same stores, as
// the instances of an application deploying that version would.
func onEveryStoreVersions(t *testing.T, def membership.Definition, opts []membership.Option, f func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program)) {
	t.Helper()
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			open := func(def membership.Definition) [2]*membership.Program {
				t.Helper()
				p, err := membership.Open(st, def, opts...)
				if err != nil {
					t.Fatal(err)
				}
				return [2]*membership.Program{p, p}
			}
			f(t, open(def), open)
		})
	}
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		schema := fmt.Sprintf("hammer_%d_%d", os.Getpid(), hammerSchemas.Add(1))
		t.Cleanup(func() {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
			}
		})
		var sts [2]*postgres.Store
		for i := range sts {
			st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			sts[i] = st
		}
		open := func(def membership.Definition) [2]*membership.Program {
			t.Helper()
			var ps [2]*membership.Program
			for i, st := range sts {
				var err error
				if ps[i], err = membership.Open(st, def, opts...); err != nil {
					t.Fatal(err)
				}
			}
			return ps
		}
		f(t, open(def), open)
	})
}

// atOnce runs f(g) on n goroutines released together, and waits for them.
func atOnce(n int, f func(g int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for g := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			f(g)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// checkLedgerAndFeed runs Verify on both programs and checks that the
// feed, read from each, holds no change twice (one Seq each, in order)
// and returns it.
func checkLedgerAndFeed(t *testing.T, ps [2]*membership.Program) []change.Change {
	t.Helper()
	ctx := context.Background()
	var feed []change.Change
	for i, p := range ps {
		if err := p.Verify(ctx); err != nil {
			t.Errorf("program %d: Verify: %v", i, err)
		}
		var got []change.Change
		for after := uint64(0); ; {
			page, err := p.Feed(ctx, after, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Seq
		}
		for j, c := range got {
			if c.Seq != uint64(j+1) {
				t.Fatalf("program %d: feed[%d] has seq %d", i, j, c.Seq)
			}
		}
		if i == 0 {
			feed = got
		} else if len(got) != len(feed) {
			t.Errorf("the programs read feeds of %d and %d changes", len(feed), len(got))
		}
	}
	return feed
}

// countKinds counts the feed's changes of kind by member.
func countKinds(feed []change.Change, kind string) map[string]int {
	n := map[string]int{}
	for _, c := range feed {
		if c.Kind == kind {
			n[c.Member]++
		}
	}
	return n
}

// expiredOnce checks that the feed has one expiry for each of members
// members, m0 to m<members-1>.
func expiredOnce(t *testing.T, feed []change.Change, members int) {
	t.Helper()
	expired := countKinds(feed, points.ChangeExpired)
	for i := range members {
		if m := fmt.Sprint("m", i); expired[m] != 1 {
			t.Errorf("%s's lot expired %d times in the feed", m, expired[m])
		}
	}
}

// refundDef is a program of orders earning a point a unit of amount, in
// lots valid as v says (zero: for good), and returns refunding them.
func refundDef(v rule.Validity) membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}},
			{Name: "return", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}, Validity: v}},
			Refunds: []points.Refund{{Event: "return", Order: "order_id", Amount: "amount"}},
		},
	}
}

var hammerAt = time.Date(2026, 11, 24, 10, 0, 0, 0, testkit.Shanghai)

// Claims of one template with a stock of 40 and a limit of 3 a member:
// 20 members ask 5 times each, and every request is sent twice at once,
// once to each program. Each request ID is applied once (the two calls
// agree: one coupon and its duplicate, or the same refusal), no member
// gets more than 3, and exactly the stock is issued.
func TestHammerCouponClaims(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "flash", Type: coupon.Cash, Amount: testkit.Dec("5"), Stock: 40,
			Claim: coupon.ClaimRule{PerMember: 3},
			Use:   coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, asks = 20, 5
		type result struct {
			res coupon.ClaimResult
			err error
		}
		results := make([][2]result, members*asks)
		atOnce(2*members*asks, func(g int) {
			r, side := g/2, g%2
			m := fmt.Sprint("m", r%members)
			res, err := ps[side].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprintf("claim-%d", r), Member: m, At: hammerAt, Template: "flash"})
			results[r][side] = result{res, err}
		})
		perMember := map[string]int{}
		ids := map[string]bool{}
		issued := 0
		for r, pair := range results {
			m := fmt.Sprint("m", r%members)
			a, b := pair[0], pair[1]
			switch {
			case a.err == nil && b.err == nil:
				if a.res.Outcome.Duplicate == b.res.Outcome.Duplicate {
					t.Errorf("request %d: both calls succeeded with Duplicate %v", r, a.res.Outcome.Duplicate)
				}
				if len(a.res.Coupons) != 1 || len(b.res.Coupons) != 1 || a.res.Coupons[0].ID != b.res.Coupons[0].ID {
					t.Errorf("request %d: the two calls got %v and %v", r, a.res.Coupons, b.res.Coupons)
					continue
				}
				c := a.res.Coupons[0]
				if ids[c.ID] || c.Member != m {
					t.Errorf("request %d: coupon %s (member %s) given twice or to another member", r, c.ID, c.Member)
				}
				ids[c.ID] = true
				perMember[m]++
				issued++
			case a.err != nil && b.err != nil:
				for _, err := range []error{a.err, b.err} {
					if !errors.Is(err, coupon.ErrOutOfStock) && !errors.Is(err, coupon.ErrLimitReached) {
						t.Errorf("request %d: %v", r, err)
					}
				}
			default:
				t.Errorf("request %d: one call got %v, the other %v", r, a.err, b.err)
			}
		}
		if issued != 40 {
			t.Errorf("%d claims issued a coupon, want the stock of 40", issued)
		}
		for m, n := range perMember {
			if n > 3 {
				t.Errorf("%s got %d coupons, over the limit of 3", m, n)
			}
		}
		for i := range members {
			m := fmt.Sprint("m", i)
			list, err := ps[i%2].Coupons().List(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != perMember[m] {
				t.Errorf("%s holds %d coupons, its claims got %d", m, len(list), perMember[m])
			}
		}
		for i, p := range ps {
			rep, err := p.Coupons().Stats(ctx, coupon.StatsQuery{Template: "flash"})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.ByTemplate["flash"].Issued; got != int64(issued) {
				t.Errorf("program %d: stats say %d issued, the claims %d", i, got, issued)
			}
		}
		feed := checkLedgerAndFeed(t, ps)
		fed := 0
		for m, n := range countKinds(feed, coupon.ChangeIssued) {
			fed += n
			if n != perMember[m] {
				t.Errorf("the feed issued %s %d coupons, its claims got %d", m, n, perMember[m])
			}
		}
		if fed != issued {
			t.Errorf("the feed has %d coupon.issued changes, want %d", fed, issued)
		}
	})
}

// One member's points, 1,000 to start with, redeemed (7 at a time),
// debited (5), credited (3), and redemptions reversed, from many
// goroutines through both programs, each request sent twice. Every
// request is applied once, the balance never goes negative, and it ends
// at what the accepted requests add up to.
func TestHammerPointsOneMember(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "o1", Member: "alice", Type: "order", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1000"))}})
		// Round one: redemptions, debits and credits; round two reverses
		// half of the redemptions, racing more redemptions.
		const n = 96
		var mu sync.Mutex
		balance := testkit.Dec("1000")
		redeemed := map[string]bool{}
		add := func(d decimal.Decimal) { mu.Lock(); balance = balance.Add(d); mu.Unlock() }
		op := func(round, r, side int) (dup bool, amount decimal.Decimal, ref string, err error) {
			at := hammerAt.Add(time.Duration(round) * time.Hour)
			p := ps[side].Points()
			id := fmt.Sprintf("r%d-%d", round, r)
			switch r % 4 {
			case 0, 1:
				res, err := p.Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "alice", At: at, Program: "mall", Ref: "ref-" + id, Amount: testkit.Dec("7")})
				if err != nil {
					return false, decimal.Zero, "", err
				}
				return res.Outcome.Duplicate, res.Points.Neg(), "ref-" + id, nil
			case 2:
				res, err := p.Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "alice", Operator: "ops", Note: "debit", At: at, Program: "mall", Amount: testkit.Dec("-5")})
				if err != nil {
					return false, decimal.Zero, "", err
				}
				return res.Outcome.Duplicate, testkit.Dec("-5"), "", nil
			default:
				if round == 0 {
					res, err := p.Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "alice", Operator: "ops", Note: "credit", At: at, Program: "mall", Amount: testkit.Dec("3")})
					if err != nil {
						return false, decimal.Zero, "", err
					}
					return res.Outcome.Duplicate, testkit.Dec("3"), "", nil
				}
				// Reverse round one's redemption r-3 (refused when it
				// was refused).
				ref := fmt.Sprintf("ref-r0-%d", r-3)
				out, err := p.Reverse(ctx, points.ReverseRequest{RequestID: id, At: at, Program: "mall", Ref: ref})
				if err != nil {
					return false, decimal.Zero, "", err
				}
				return out.Duplicate, testkit.Dec("7"), "", nil
			}
		}
		for round := range 2 {
			type result struct {
				dup bool
				amt decimal.Decimal
				ref string
				err error
			}
			results := make([][2]result, n)
			atOnce(2*n, func(g int) {
				r, side := g/2, g%2
				dup, amt, ref, err := op(round, r, side)
				results[r][side] = result{dup, amt, ref, err}
			})
			for r, pair := range results {
				a, b := pair[0], pair[1]
				switch {
				case a.err == nil && b.err == nil:
					if a.dup == b.dup || !a.amt.Equal(b.amt) {
						t.Errorf("round %d request %d: both calls succeeded (%v, %s; %v, %s)", round, r, a.dup, a.amt, b.dup, b.amt)
					}
					add(a.amt)
					if a.ref != "" {
						redeemed[a.ref] = true
					}
				case a.err != nil && b.err != nil:
					for _, err := range []error{a.err, b.err} {
						if !errors.Is(err, membership.ErrInsufficientBalance) && !(r%4 == 3 && round == 1 && !redeemed[fmt.Sprintf("ref-r0-%d", r-3)]) {
							t.Errorf("round %d request %d: %v", round, r, err)
						}
					}
				default:
					// A refused request writes nothing: the same ID may be
					// accepted later, once a credit or a reversal came in
					// between, and then it is not a duplicate.
					ok, refused := a, b
					if a.err != nil {
						ok, refused = b, a
					}
					if ok.dup || !errors.Is(refused.err, membership.ErrInsufficientBalance) {
						t.Errorf("round %d request %d: one call got %v (duplicate %v), the other %v", round, r, ok.err, ok.dup, refused.err)
						continue
					}
					add(ok.amt)
					if ok.ref != "" {
						redeemed[ok.ref] = true
					}
				}
			}
			if balance.IsNegative() {
				t.Fatalf("round %d: the accepted requests add up to %s", round, balance)
			}
			for i, p := range ps {
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt.Add(time.Duration(round) * time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				if !b.Available.Equal(balance) || !b.Main.Equal(balance) {
					t.Errorf("round %d program %d: balance %+v, the accepted requests add up to %s", round, i, b, balance)
				}
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// 32 members each earn 100 points valid a day, redeem 30, and then, at
// once, a refund of half the order arrives on one program while Advance
// past the lot's expiry runs on the other (twice, from two goroutines).
// Whichever comes first, the lot expires once, the refund is applied once,
// and each member ends at zero with the ledger verifying.
func TestHammerRefundRacesExpiry(t *testing.T) {
	def := refundDef(rule.Validity{Kind: rule.DaysAfter, N: 1})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 32
		for i := range members {
			m := fmt.Sprint("m", i)
			testkit.MustProcess(t, ps[i%2], event.Event{ID: "o-" + m, Member: m, Type: "order", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("100")), "order_id": event.Str("order-" + m)}})
			if _, err := ps[i%2].Points().Redeem(ctx, points.RedeemRequest{RequestID: "redeem-" + m, Member: m, At: hammerAt, Program: "mall", Ref: "x-" + m, Amount: testkit.Dec("30")}); err != nil {
				t.Fatal(err)
			}
		}
		later := hammerAt.AddDate(0, 0, 3)
		var performed atomic.Int64
		atOnce(members+2, func(g int) {
			if g >= members {
				n, err := ps[1].Advance(ctx, later)
				if err != nil {
					t.Error(err)
				}
				performed.Add(int64(n))
				return
			}
			m := fmt.Sprint("m", g)
			ev := event.Event{ID: "ret-" + m, Member: m, Type: "return", Time: later,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("50")), "order_id": event.Str("order-" + m)}}
			if _, err := ps[0].Process(ctx, ev); err != nil {
				t.Errorf("%s: %v", m, err)
			}
		})
		// One due item a member, its lot's expiry; a refund schedules none.
		if n := performed.Load(); n != members {
			t.Errorf("Advance performed %d due items, want %d", n, members)
		}
		for i := range members {
			m := fmt.Sprint("m", i)
			b, err := ps[i%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: later})
			if err != nil {
				t.Fatal(err)
			}
			if !b.Total().IsZero() {
				t.Errorf("%s: balance %+v after its lot expired, want zero", m, b)
			}
		}
		expiredOnce(t, checkLedgerAndFeed(t, ps), members)
	})
}

// Recharges of 10, spends of 7 and refunds of 4 on one member's stored
// value from many goroutines through both programs, each event sent to
// both at once: each event ID applies once (the other call gets the
// duplicate), the balance never goes negative, refunds never pass the
// spend, and the account ends at what the accepted events add up to.
func TestHammerStoredValue(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "r0", Member: "alice", Type: "recharge", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("20"))}})
		const n = 96
		type result struct {
			out *change.Outcome
			err error
		}
		results := make([][2]result, n)
		kinds := []string{"pay", "pay", "refund", "recharge"}
		amounts := map[string]string{"pay": "7", "refund": "4", "recharge": "10"}
		atOnce(2*n, func(g int) {
			r, side := g/2, g%2
			typ := kinds[r%4]
			out, err := ps[side].Process(ctx, event.Event{ID: fmt.Sprint("e", r), Member: "alice", Type: typ, Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amounts[typ]))}})
			results[r][side] = result{out, err}
		})
		want := value.Account{Balance: testkit.Dec("20"), Recharged: testkit.Dec("20")}
		for r, pair := range results {
			a, b := pair[0], pair[1]
			typ := kinds[r%4]
			switch {
			case a.err == nil && b.err == nil:
				if a.out.Duplicate == b.out.Duplicate {
					t.Errorf("event %d: both calls succeeded with Duplicate %v", r, a.out.Duplicate)
				}
				amt := testkit.Dec(amounts[typ])
				switch typ {
				case "pay":
					want.Balance, want.Spent = want.Balance.Sub(amt), want.Spent.Add(amt)
				case "refund":
					want.Balance, want.Refunded = want.Balance.Add(amt), want.Refunded.Add(amt)
				case "recharge":
					want.Balance, want.Recharged = want.Balance.Add(amt), want.Recharged.Add(amt)
				}
			case a.err != nil && b.err != nil:
				for _, err := range []error{a.err, b.err} {
					if !errors.Is(err, membership.ErrInsufficientBalance) && !errors.Is(err, value.ErrRefundExceedsSpend) {
						t.Errorf("event %d (%s): %v", r, typ, err)
					}
				}
			default:
				// A refused event writes nothing, so the same ID sent again
				// may be accepted once a recharge or a refund has come in
				// between: the refusal came first, the other call applied
				// the event, and was not answered as a duplicate.
				ok, refused := a, b
				if a.err != nil {
					ok, refused = b, a
				}
				if ok.out.Duplicate || typ == "recharge" ||
					!errors.Is(refused.err, membership.ErrInsufficientBalance) && !errors.Is(refused.err, value.ErrRefundExceedsSpend) {
					t.Errorf("event %d (%s): one call got %v (duplicate %v), the other %v", r, typ, ok.err, ok.out != nil && ok.out.Duplicate, refused.err)
					continue
				}
				amt := testkit.Dec(amounts[typ])
				switch typ {
				case "pay":
					want.Balance, want.Spent = want.Balance.Sub(amt), want.Spent.Add(amt)
				case "refund":
					want.Balance, want.Refunded = want.Balance.Add(amt), want.Refunded.Add(amt)
				}
			}
		}
		if want.Refunded.GreaterThan(want.Spent) || want.Balance.IsNegative() {
			t.Errorf("the accepted events add up to %+v", want)
		}
		for i, p := range ps {
			got, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Balance.Equal(want.Balance) || !got.Spent.Equal(want.Spent) || !got.Refunded.Equal(want.Refunded) || !got.Recharged.Equal(want.Recharged) {
				t.Errorf("program %d reads %+v, the accepted events add up to %+v", i, got, want)
			}
		}
		feed := checkLedgerAndFeed(t, ps)
		seen := map[string]bool{}
		for _, c := range feed {
			key := c.Event + "/" + c.Kind
			if seen[key] {
				t.Errorf("the feed has %s twice", key)
			}
			seen[key] = true
		}
	})
}

// A task completed at most 5 times (rewarded with 10 points and a coupon
// of a stock of 3) and a coupon pack with a stock of 10 (2 coupons of a
// template with a stock of 15, any-invalid, one a member), hammered at
// once: 48 check-ins of one member through both programs, and 24 members
// claiming the pack twice each, once through each program, under two
// request IDs.
func TestHammerTaskCapAndPack(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "check_in"}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "gift", Type: coupon.Cash, Amount: testkit.Dec("1"), Stock: 3, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}},
				{Name: "inpack", Type: coupon.Cash, Amount: testkit.Dec("2"), Stock: 15, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}},
			},
			Packs: []coupon.Pack{{Name: "bundle", Items: []coupon.PackItem{{Template: "inpack", Count: 2}}, Stock: 10, Mode: coupon.AnyInvalid,
				Claim: coupon.ClaimRule{PerMember: 1}}},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "check", Kind: task.One, Steps: []task.Step{{Event: "check_in"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("10")}, {Kind: rule.RewardCoupon, Template: "gift"}},
			Limits:  rule.Caps{{Period: rule.Total, Limit: testkit.Dec("5")}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const checkIns, claimers = 48, 24
		var mu sync.Mutex
		packs := map[string]int{}
		var packCoupons []string
		atOnce(checkIns+2*claimers, func(g int) {
			if g < checkIns {
				if _, err := ps[g%2].Process(ctx, event.Event{ID: fmt.Sprint("ci", g), Member: "alice", Type: "check_in", Time: hammerAt}); err != nil {
					t.Errorf("check-in %d: %v", g, err)
				}
				return
			}
			g -= checkIns
			m := fmt.Sprint("m", g/2)
			res, err := ps[g%2].Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: fmt.Sprintf("pack-%d", g), Member: m, At: hammerAt, Pack: "bundle"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				packs[m]++
				for _, c := range res.Coupons {
					packCoupons = append(packCoupons, c.ID)
				}
				if len(res.Coupons) != 2 {
					t.Errorf("%s's pack holds %d coupons", m, len(res.Coupons))
				}
			case errors.Is(err, coupon.ErrOutOfStock), errors.Is(err, coupon.ErrLimitReached):
			default:
				t.Errorf("%s's pack: %v", m, err)
			}
		})
		done, err := ps[1].Tasks().Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "check", Period: rule.Total, At: hammerAt})
		if err != nil || done != 5 {
			t.Errorf("alice completed the task %d times (%v), want the limit of 5", done, err)
		}
		b, err := ps[0].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt})
		if err != nil || !b.Available.Equal(testkit.Dec("50")) {
			t.Errorf("alice has %+v points (%v), want 5 rewards of 10", b, err)
		}
		if list, err := ps[0].Coupons().List(ctx, "alice"); err != nil || len(list) != 3 {
			t.Errorf("alice holds %d coupons (%v), want the gift's stock of 3", len(list), err)
		}
		// 15 coupons make 7 packs of 2; any-invalid stops the pack there.
		given := 0
		for m, n := range packs {
			given += n
			if n > 1 {
				t.Errorf("%s got %d packs, over the limit of 1", m, n)
			}
		}
		if given != 7 {
			t.Errorf("%d packs given, want 7 (15 coupons of the template, 2 a pack)", given)
		}
		slices.Sort(packCoupons)
		if len(slices.Compact(packCoupons)) != 2*given {
			t.Errorf("the packs hold %d distinct coupons, want %d", len(packCoupons), 2*given)
		}
		rep, err := ps[1].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.ByTemplate["gift"].Issued != 3 || rep.ByTemplate["inpack"].Issued != int64(2*given) {
			t.Errorf("stats: %+v", rep.ByTemplate)
		}
		feed := checkLedgerAndFeed(t, ps)
		if n := countKinds(feed, coupon.ChangePackIssued); len(n) != given {
			t.Errorf("the feed gives packs to %d members, want %d", len(n), given)
		}
	})
}

// Advance called at once from both programs and several goroutines, at
// increasing times, over 64 members' lots expiring on different days:
// each lot expires once, and the number of items performed adds up to
// the lots.
func TestHammerAdvance(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 1}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, days = 64, 4
		for i := range members {
			testkit.MustProcess(t, ps[i%2], event.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i), Type: "order",
				Time: hammerAt.AddDate(0, 0, i%days), Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}})
		}
		var performed atomic.Int64
		atOnce(hammerCallers, func(g int) {
			// Each goroutine advances to a day of its own, past one more
			// day's lots each.
			n, err := ps[g%2].Advance(ctx, hammerAt.AddDate(0, 0, 2+g%(days+1)))
			if err != nil {
				t.Error(err)
			}
			performed.Add(int64(n))
		})
		if n := performed.Load(); n != members {
			t.Errorf("the Advances performed %d items, want one a member (%d)", n, members)
		}
		expiredOnce(t, checkLedgerAndFeed(t, ps), members)
	})
}

// Each of 24 members' one coupon is, at once: locked for an order (held
// an hour) and then used, redeemed by its code at two stores under two
// orders, revoked, released, and its hold run out by Advance, the calls
// spread over both programs. A coupon is used at most once, a revoked
// coupon is never used, and its state, the feed and the statistics agree
// with the calls that were accepted.
func TestHammerCouponLifecycle(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "five", Type: coupon.Cash, Amount: testkit.Dec("5"),
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 24
		cs := make([]coupon.Coupon, members)
		for i := range members {
			m := fmt.Sprint("m", i)
			res, err := ps[i%2].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim-" + m, Member: m, At: hammerAt, Template: "five"})
			if err != nil {
				t.Fatal(err)
			}
			cs[i] = res.Coupons[0]
		}
		order := func(id, m string) coupon.Order {
			return coupon.Order{ID: id, Member: m, Store: "s1", Time: hammerAt.Add(time.Minute),
				Lines: []coupon.Line{{Product: "tea", Amount: testkit.Dec("20")}}}
		}
		var mu sync.Mutex
		used, revoked := map[string]int{}, map[string]int{}
		count := func(into map[string]int, id string) { mu.Lock(); into[id]++; mu.Unlock() }
		// A request dated before a change another made first (Advance
		// releasing the hold at 11:01, then a redeem or revocation
		// dated 10:01) is refused naming "at".
		allowed := func(err error) bool {
			return errors.Is(err, coupon.ErrState) || errors.Is(err, coupon.ErrNotFound) ||
				errors.Is(err, event.ErrInvalidArgument) && strings.Contains(err.Error(), "at: ")
		}
		const ops = 6
		atOnce(members*ops, func(g int) {
			i, op := g/ops, g%ops
			c, m := cs[i], fmt.Sprint("m", i)
			p := ps[g%2]
			var err error
			switch op {
			case 0:
				_, err = p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock-" + m, Order: order("A-"+m, m), Coupons: []string{c.ID}, Hold: time.Hour})
				if err == nil {
					_, err = ps[(g+1)%2].Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use-" + m, At: hammerAt.Add(2 * time.Minute), Order: "A-" + m})
					if err == nil {
						count(used, c.ID)
					}
				}
			case 1, 2:
				_, err = p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: fmt.Sprintf("redeem%d-%s", op, m), Code: c.Code, Order: order(fmt.Sprintf("R%d-%s", op, m), "")})
				if err == nil {
					count(used, c.ID)
				}
			case 3:
				_, err = p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "revoke-" + m, Operator: "ops", At: hammerAt.Add(time.Minute), Coupon: c.ID})
				if err == nil {
					count(revoked, c.ID)
				}
			case 4:
				_, err = p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: "release-" + m, At: hammerAt.Add(3 * time.Minute), Order: "A-" + m})
			case 5:
				_, err = p.Advance(ctx, hammerAt.Add(2*time.Hour))
			}
			if err != nil && !allowed(err) {
				t.Errorf("%s op %d: %v", m, op, err)
			}
		})
		if _, err := ps[0].Advance(ctx, hammerAt.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		var wantUsed, wantRevoked int64
		for i, c := range cs {
			m := fmt.Sprint("m", i)
			if used[c.ID]+revoked[c.ID] > 1 {
				t.Errorf("%s: used %d times and revoked %d times", c.ID, used[c.ID], revoked[c.ID])
			}
			wantUsed += int64(used[c.ID])
			wantRevoked += int64(revoked[c.ID])
			list, err := ps[(i+1)%2].Coupons().List(ctx, m)
			if err != nil || len(list) != 1 {
				t.Fatalf("%s: %v, %v", m, list, err)
			}
			var want coupon.State
			switch {
			case used[c.ID] == 1:
				want = coupon.Used
			case revoked[c.ID] == 1:
				want = coupon.Revoked
			default:
				want = coupon.Available
			}
			if list[0].State != want {
				t.Errorf("%s is %s, its calls make it %s", c.ID, list[0].State, want)
			}
		}
		for i, p := range ps {
			rep, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
			if err != nil {
				t.Fatal(err)
			}
			s := rep.ByTemplate["five"]
			if s.Issued != members || s.Used != wantUsed || s.Revoked != wantRevoked || !s.AmountOff.Equal(decimal.NewFromInt(5*wantUsed)) {
				t.Errorf("program %d: stats %+v; the calls used %d and revoked %d", i, s, wantUsed, wantRevoked)
			}
		}
		feed := checkLedgerAndFeed(t, ps)
		for kind, want := range map[string]int64{coupon.ChangeUsed: wantUsed, coupon.ChangeRevoked: wantRevoked} {
			n := int64(0)
			for _, k := range countKinds(feed, kind) {
				n += int64(k)
			}
			if n != want {
				t.Errorf("the feed has %d %s changes, want %d", n, kind, want)
			}
		}
	})
}

// A pending debit of 300 (above the approval limit) is approved by two
// operators and rejected by a third at once, on both programs, while the
// member redeems: it is decided once, applied at most once, and the
// balance is what the accepted calls add up to.
func TestHammerApprovals(t *testing.T) {
	limit := testkit.Dec("100")
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", ApprovalAbove: &limit}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 16
		for i := range members {
			m := fmt.Sprint("m", i)
			testkit.MustProcess(t, ps[0], event.Event{ID: "o-" + m, Member: m, Type: "order", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("500"))}})
			res, err := ps[1].Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-" + m, Member: m, Operator: "maker", Note: "debit", At: hammerAt, Program: "mall", Amount: testkit.Dec("-300")})
			if err != nil || res.Adjustment.State != points.AdjustmentPending {
				t.Fatalf("%s: %+v, %v", m, res.Adjustment, err)
			}
		}
		const ops = 5
		var mu sync.Mutex
		approved, rejected := map[string]int{}, map[string]int{}
		spent := map[string]decimal.Decimal{}
		at := hammerAt.Add(time.Hour)
		atOnce(members*ops, func(g int) {
			i, op := g/ops, g%ops
			m := fmt.Sprint("m", i)
			p := ps[g%2].Points()
			req := points.DecideRequest{RequestID: fmt.Sprintf("decide%d-%s", op, m), Operator: fmt.Sprint("checker", op), At: at, Adjustment: "adj-" + m}
			var err error
			switch op {
			case 0, 1:
				if _, err = p.Approve(ctx, req); err == nil {
					mu.Lock()
					approved[m]++
					mu.Unlock()
				}
			case 2:
				if _, err = p.Reject(ctx, req); err == nil {
					mu.Lock()
					rejected[m]++
					mu.Unlock()
				}
			default:
				var res points.RedeemResult
				res, err = p.Redeem(ctx, points.RedeemRequest{RequestID: fmt.Sprintf("redeem%d-%s", op, m), Member: m, At: at, Program: "mall", Ref: fmt.Sprintf("x%d-%s", op, m), Amount: testkit.Dec("150")})
				if err == nil {
					mu.Lock()
					spent[m] = spent[m].Add(res.Points)
					mu.Unlock()
				}
			}
			if err != nil && !errors.Is(err, points.ErrNotPending) && !errors.Is(err, membership.ErrInsufficientBalance) {
				t.Errorf("%s op %d: %v", m, op, err)
			}
		})
		for i := range members {
			m := fmt.Sprint("m", i)
			if approved[m]+rejected[m] > 1 {
				t.Errorf("%s's adjustment approved %d times and rejected %d times", m, approved[m], rejected[m])
			}
			want := testkit.Dec("500").Sub(spent[m]).Sub(testkit.Dec("300").Mul(decimal.NewFromInt(int64(approved[m]))))
			if want.IsNegative() {
				t.Errorf("%s: the accepted calls take the balance to %s", m, want)
			}
			b, err := ps[i%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: at})
			if err != nil || !b.Available.Equal(want) {
				t.Errorf("%s: balance %+v (%v), the accepted calls add up to %s", m, b, err, want)
			}
			adj, err := ps[(i+1)%2].Points().Adjustment(ctx, "adj-"+m)
			if err != nil {
				t.Fatal(err)
			}
			wantState := points.AdjustmentPending
			if approved[m] == 1 {
				wantState = points.AdjustmentApplied
			} else if rejected[m] == 1 {
				wantState = points.AdjustmentRejected
			}
			if adj.State != wantState {
				t.Errorf("%s's adjustment is %s, its calls make it %s", m, adj.State, wantState)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Writers on both programs while readers page through the feed on both
// at once (Feed gives pending changes their positions, so it writes):
// every change gets one position, the same whoever read it, and the
// feed ends with each change once.
func TestHammerFeedReadWhileWriting(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const writers, perWriter, readers = 16, 8, 8
		var wg sync.WaitGroup
		var writing atomic.Int64
		writing.Store(writers)
		var mu sync.Mutex
		seen := map[uint64]string{}
		for r := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				after := uint64(0)
				for {
					last := writing.Load() == 0
					page, err := ps[r%2].Feed(ctx, after, 7)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, c := range page {
						key := c.Event + "/" + c.Kind + "/" + c.Member
						if prev, ok := seen[c.Seq]; ok && prev != key {
							t.Errorf("seq %d is %s and %s", c.Seq, prev, key)
						}
						seen[c.Seq] = key
					}
					mu.Unlock()
					if len(page) > 0 {
						after = page[len(page)-1].Seq
					} else if last {
						return
					}
				}
			}()
		}
		atOnce(writers, func(g int) {
			defer writing.Add(-1)
			for i := range perWriter {
				m := fmt.Sprint("m", (g*perWriter+i)%24)
				if _, err := ps[g%2].Process(ctx, event.Event{ID: fmt.Sprintf("r%d-%d", g, i), Member: m, Type: "recharge", Time: hammerAt,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Wait()
		feed := checkLedgerAndFeed(t, ps)
		byKey := map[string]int{}
		for _, c := range feed {
			key := c.Event + "/" + c.Kind + "/" + c.Member
			byKey[key]++
			if seen[c.Seq] != key {
				t.Errorf("seq %d is %s; a reader saw %q", c.Seq, key, seen[c.Seq])
			}
		}
		for k, n := range byKey {
			if n != 1 {
				t.Errorf("%s is in the feed %d times", k, n)
			}
		}
		if len(byKey) == 0 || len(seen) != len(feed) {
			t.Errorf("the readers saw %d positions, the feed has %d changes", len(seen), len(feed))
		}
	})
}

// The same event IDs sent at once to both programs, four times each, some
// with other content: each ID is applied once, the calls with its
// content get the first outcome as a duplicate, those with other
// content ErrEventConflict, and the balance counts each ID once.
func TestHammerSameEventBothInstances(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const ids, sends = 24, 4
		type result struct {
			amount string
			out    *change.Outcome
			err    error
		}
		results := make([][sends]result, ids)
		atOnce(ids*sends, func(g int) {
			id, s := g/sends, g%sends
			amount := "3"
			if id%3 == 0 && s == 3 {
				amount = "4" // the same ID with other content
			}
			out, err := ps[s%2].Process(ctx, event.Event{ID: fmt.Sprint("e", id), Member: "alice", Type: "recharge", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}})
			results[id][s] = result{amount, out, err}
		})
		want := decimal.Zero
		for id, rs := range results {
			var applied *result
			for i := range rs {
				if rs[i].err == nil && !rs[i].out.Duplicate {
					if applied != nil {
						t.Errorf("e%d applied twice", id)
					}
					applied = &rs[i]
				}
			}
			if applied == nil {
				t.Errorf("e%d never applied: %+v", id, rs)
				continue
			}
			want = want.Add(testkit.Dec(applied.amount))
			for _, r := range rs {
				switch {
				case r.amount == applied.amount:
					if r.err != nil || len(r.out.Entries) != len(applied.out.Entries) || r.out.Event != applied.out.Event {
						t.Errorf("e%d: a call with the applied content got %+v, %v", id, r.out, r.err)
					}
				case !errors.Is(r.err, membership.ErrEventConflict):
					t.Errorf("e%d: a call with other content got %v", id, r.err)
				}
			}
		}
		for i, p := range ps {
			va, err := p.Value().Account(ctx, "alice")
			if err != nil || !va.Balance.Equal(want) {
				t.Errorf("program %d: %+v, %v; want a balance of %s", i, va, err, want)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Risk control under load: 32 orders of 7 points at once on one member in
// two programs, one that stops earning at 100 a day and one that freezes
// the day; then the frozen day is restored twice and voided once at
// once, on both programs. The stopping program grants exactly 100 and
// blocks the rest; the frozen day is decided once.
func TestHammerRiskControl(t *testing.T) {
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{
				{Name: "stop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Stop}},
				{Name: "freeze", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}},
			},
			Rules: []points.Rule{
				{ID: "a", Program: "stop", Event: "order", Formula: spend},
				{ID: "b", Program: "freeze", Event: "order", Formula: spend},
			},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const orders = 32
		atOnce(orders, func(g int) {
			if _, err := ps[g%2].Process(ctx, event.Event{ID: fmt.Sprint("o", g), Member: "alice", Type: "order", Time: hammerAt.Add(time.Duration(g) * time.Second),
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("7"))}}); err != nil {
				t.Error(err)
			}
		})
		date := hammerAt.Format(time.DateOnly)
		day, err := ps[0].Points().Day(ctx, points.DayQuery{Program: "stop", Member: "alice", Date: date})
		if err != nil {
			t.Fatal(err)
		}
		if !day.Earned.Equal(testkit.Dec("100")) || !day.Blocked.Equal(testkit.Dec("124")) {
			t.Errorf("stop: earned %s, blocked %s; want 100 and 124 of 224", day.Earned, day.Blocked)
		}
		at := hammerAt.Add(time.Hour)
		b, err := ps[1].Points().Balance(ctx, points.BalanceQuery{Program: "freeze", Member: "alice", At: at})
		if err != nil || !b.Frozen.Equal(testkit.Dec("224")) || !b.Available.IsZero() {
			t.Errorf("freeze: %+v, %v; want all 224 frozen", b, err)
		}
		var restored, voided atomic.Int64
		atOnce(6, func(g int) {
			req := points.ReviewRequest{RequestID: fmt.Sprint("review", g), Member: "alice", Operator: fmt.Sprint("op", g), At: at, Program: "freeze", Date: date}
			var err error
			if g%3 == 2 {
				if _, err = ps[g%2].Points().Void(ctx, req); err == nil {
					voided.Add(1)
				}
			} else if _, err = ps[g%2].Points().Restore(ctx, req); err == nil {
				restored.Add(1)
			}
			if err != nil && !errors.Is(err, points.ErrNotPending) {
				t.Errorf("review %d: %v", g, err)
			}
		})
		if restored.Load()+voided.Load() != 1 {
			t.Fatalf("the frozen day was restored %d times and voided %d times", restored.Load(), voided.Load())
		}
		want := testkit.Dec("224")
		if voided.Load() == 1 {
			want = decimal.Zero
		}
		for i, p := range ps {
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "freeze", Member: "alice", At: at})
			if err != nil || !b.Available.Equal(want) || !b.Frozen.IsZero() {
				t.Errorf("program %d: freeze: %+v, %v; want %s available", i, b, err, want)
			}
			b, err = p.Points().Balance(ctx, points.BalanceQuery{Program: "stop", Member: "alice", At: at})
			if err != nil || !b.Available.Equal(testkit.Dec("100")) {
				t.Errorf("program %d: stop: %+v, %v; want 100", i, b, err)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Exchanges from one program into another (at 2 to 1) race redemptions
// of the source program and credits to it, on both programs: the source
// never goes negative and both balances are what the accepted calls add
// up to.
func TestHammerExchange(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs:  []points.Program{{Name: "shop"}, {Name: "park"}},
			Exchanges: []points.Exchange{{From: "shop", To: "park", Rate: testkit.Dec("2")}},
			Rules: []points.Rule{{ID: "buy", Program: "shop", Event: "order",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "o", Member: "alice", Type: "order", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("300"))}})
		var mu sync.Mutex
		shop, park := testkit.Dec("300"), decimal.Zero
		at := hammerAt.Add(time.Hour)
		atOnce(hammerCallers, func(g int) {
			p := ps[g%2].Points()
			id := fmt.Sprint("x", g)
			var err error
			switch g % 3 {
			case 0:
				var res points.ExchangeResult
				if res, err = p.Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: "alice", At: at, From: "shop", To: "park", Amount: testkit.Dec("11")}); err == nil {
					mu.Lock()
					shop, park = shop.Sub(testkit.Dec("11")), park.Add(res.Got)
					mu.Unlock()
					if !res.Got.Equal(testkit.Dec("22")) {
						t.Errorf("%s: 11 shop points gave %s park points", id, res.Got)
					}
				}
			case 1:
				if _, err = p.Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "alice", At: at, Program: "shop", Ref: id, Amount: testkit.Dec("13")}); err == nil {
					mu.Lock()
					shop = shop.Sub(testkit.Dec("13"))
					mu.Unlock()
				}
			default:
				if _, err = p.Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "alice", Operator: "ops", Note: "goodwill", At: at, Program: "shop", Amount: testkit.Dec("2")}); err == nil {
					mu.Lock()
					shop = shop.Add(testkit.Dec("2"))
					mu.Unlock()
				}
			}
			if err != nil && !errors.Is(err, membership.ErrInsufficientBalance) {
				t.Errorf("%s: %v", id, err)
			}
		})
		for i, p := range ps {
			for prog, want := range map[string]decimal.Decimal{"shop": shop, "park": park} {
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: prog, Member: "alice", At: at})
				if err != nil || !b.Available.Equal(want) {
					t.Errorf("program %d: %s: %+v, %v; the accepted calls add up to %s", i, prog, b, err, want)
				}
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// A batch of 16 recharges processed on one program while each of its
// events is also sent on its own to the other, and again in a second
// batch: every event applies once, wherever it came from.
func TestHammerBatchAndSingles(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const n = 16
		evs := make([]event.Event, n)
		for i := range evs {
			evs[i] = event.Event{ID: fmt.Sprint("e", i), Member: fmt.Sprint("m", i%4), Type: "recharge", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(int64(i + 1)))}}
		}
		var applied [n]atomic.Int64
		count := func(outs ...*change.Outcome) {
			for _, out := range outs {
				if !out.Duplicate {
					var i int
					fmt.Sscanf(out.Event, "e%d", &i)
					applied[i].Add(1)
				}
			}
		}
		atOnce(n+2, func(g int) {
			if g >= n {
				outs, err := ps[g%2].ProcessBatch(ctx, evs)
				if err != nil {
					t.Error(err)
					return
				}
				count(outs...)
				return
			}
			out, err := ps[(g+1)%2].Process(ctx, evs[g])
			if err != nil {
				t.Error(err)
				return
			}
			count(out)
		})
		want := map[string]decimal.Decimal{}
		for i := range n {
			if k := applied[i].Load(); k != 1 {
				t.Errorf("e%d applied %d times", i, k)
			}
			m := fmt.Sprint("m", i%4)
			want[m] = want[m].Add(decimal.NewFromInt(int64(i + 1)))
		}
		for m, w := range want {
			va, err := ps[1].Value().Account(ctx, m)
			if err != nil || !va.Balance.Equal(w) {
				t.Errorf("%s: %+v, %v; want %s", m, va, err, w)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// An erasure races recharges and points adjustments of its member on
// both programs: what was accepted before it stays, everything after it
// is refused with ErrErased, and the balances and the ledger agree with
// the calls accepted.
func TestHammerEraseRacesWrites(t *testing.T) {
	def := testkit.ValueDef()
	def.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}}}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		var recharged, credited atomic.Int64
		atOnce(hammerCallers, func(g int) {
			p := ps[g%2]
			var err error
			switch {
			case g == hammerCallers/2:
				_, err = p.Erase(ctx, membership.EraseRequest{RequestID: "erase", Member: "alice", Operator: "dpo", At: hammerAt.Add(time.Hour)})
			case g%2 == 0:
				if _, err = p.Process(ctx, event.Event{ID: fmt.Sprint("r", g), Member: "alice", Type: "recharge", Time: hammerAt,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("5"))}}); err == nil {
					recharged.Add(5)
				}
			default:
				if _, err = p.Points().Adjust(ctx, points.AdjustRequest{RequestID: fmt.Sprint("a", g), Member: "alice", Operator: "ops", Note: "credit", At: hammerAt,
					Program: "mall", Amount: testkit.Dec("3")}); err == nil {
					credited.Add(3)
				}
			}
			if err != nil && !errors.Is(err, membership.ErrErased) {
				t.Errorf("call %d: %v", g, err)
			}
		})
		for i, p := range ps {
			va, err := p.Value().Account(ctx, "alice")
			if err != nil || !va.Balance.Equal(decimal.NewFromInt(recharged.Load())) {
				t.Errorf("program %d: %+v, %v; accepted recharges add up to %d", i, va, err, recharged.Load())
			}
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt})
			if err != nil || !b.Available.Equal(decimal.NewFromInt(credited.Load())) {
				t.Errorf("program %d: %+v, %v; accepted credits add up to %d", i, b, err, credited.Load())
			}
		}
		// Every adjustment accepted came before the erasure, which blanked
		// its reason and its ledger entry's note.
		for g := 1; g < hammerCallers; g += 2 {
			if a, err := ps[0].Points().Adjustment(ctx, fmt.Sprint("a", g)); err == nil && a.Reason != "" {
				t.Errorf("adjustment a%d keeps its reason %q after the erasure", g, a.Reason)
			}
		}
		pg, err := ps[1].Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", ledger.Points("mall"), ""), Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pg.Entries {
			if e.Ref.Note != "" {
				t.Errorf("a ledger entry of alice keeps its note after the erasure: %+v", e.Ref)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Readers verify the ledger and read a stored-value account, on both
// programs, while writers recharge, spend and refund it and exchange
// points back and forth: every read sees a consistent state (Verify
// passes, the balance is recharged − spent + refunded, and the two point
// programs, exchanged at 1 to 1 in one transaction, add up to the same).
func TestHammerReadsWhileWriting(t *testing.T) {
	def := testkit.ValueDef()
	def.Points = &points.Definition{
		Programs:  []points.Program{{Name: "shop"}, {Name: "park"}},
		Exchanges: []points.Exchange{{From: "shop", To: "park", Rate: testkit.Dec("1")}, {From: "park", To: "shop", Rate: testkit.Dec("1")}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "r0", Member: "alice", Type: "recharge", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("50"))}})
		if _, err := ps[0].Points().Adjust(ctx, points.AdjustRequest{RequestID: "seed", Member: "alice", Operator: "ops", Note: "seed", At: hammerAt, Program: "shop", Amount: testkit.Dec("100")}); err != nil {
			t.Fatal(err)
		}
		const writers, readers, perWriter = 16, 8, 12
		var writing atomic.Int64
		writing.Store(writers)
		var reads atomic.Int64
		atOnce(writers+readers, func(g int) {
			p := ps[g%2]
			if g >= writers {
				for {
					last := writing.Load() == 0
					if err := p.Verify(ctx); err != nil {
						t.Errorf("Verify while writing: %v", err)
						return
					}
					va, err := p.Value().Account(ctx, "alice")
					if err != nil {
						t.Error(err)
						return
					}
					if !va.Balance.Equal(va.Recharged.Sub(va.Spent).Add(va.Refunded)) {
						t.Errorf("an account read while writing: %+v", va)
					}
					reads.Add(1)
					if last {
						return
					}
				}
			}
			defer writing.Add(-1)
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", g, i)
				var err error
				switch i % 4 {
				case 0:
					_, err = p.Process(ctx, event.Event{ID: id, Member: "alice", Type: "pay", Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("3"))}})
				case 1:
					_, err = p.Process(ctx, event.Event{ID: id, Member: "alice", Type: "refund", Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}})
				case 2:
					_, err = p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: "alice", At: hammerAt, From: "shop", To: "park", Amount: testkit.Dec("9")})
				default:
					_, err = p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: "alice", At: hammerAt, From: "park", To: "shop", Amount: testkit.Dec("4")})
				}
				if err != nil && !errors.Is(err, membership.ErrInsufficientBalance) && !errors.Is(err, value.ErrRefundExceedsSpend) {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
		if reads.Load() == 0 {
			t.Error("no read ran")
		}
		total := decimal.Zero
		for _, prog := range []string{"shop", "park"} {
			b, err := ps[1].Points().Balance(ctx, points.BalanceQuery{Program: prog, Member: "alice", At: hammerAt})
			if err != nil {
				t.Fatal(err)
			}
			total = total.Add(b.Available)
		}
		if !total.Equal(testkit.Dec("100")) {
			t.Errorf("shop and park add up to %s after exchanges at 1 to 1 of 100", total)
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Advance on both programs while 32 goroutines keep processing orders for
// the members whose lots it expires: the long transactions of Advance
// (a page of due items) and the members' events conflict, and every one
// of them must get through, each lot expiring once.
func TestHammerAdvanceRacesEvents(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 1}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, writers, perWriter = 300, 32, 20
		evs := make([]event.Event, members)
		for i := range evs {
			evs[i] = event.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i), Type: "order", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}}
		}
		if _, err := ps[0].ProcessBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		later := hammerAt.AddDate(0, 0, 2)
		var performed atomic.Int64
		atOnce(writers+2, func(g int) {
			if g >= writers {
				n, err := ps[g%2].Advance(ctx, later)
				if err != nil {
					t.Errorf("Advance: %v", err)
				}
				performed.Add(int64(n))
				return
			}
			for i := range perWriter {
				m := (g*perWriter + i) % members
				if _, err := ps[g%2].Process(ctx, event.Event{ID: fmt.Sprintf("w%d-%d", g, i), Member: fmt.Sprint("m", m), Type: "order", Time: later,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}); err != nil {
					t.Errorf("order: %v", err)
				}
			}
		})
		if n := performed.Load(); n != members {
			t.Errorf("the Advances performed %d items, want %d", n, members)
		}
		expiredOnce(t, checkLedgerAndFeed(t, ps), members)
	})
}

// Stock shared by all-invalid packs (2 coupons of a template with a stock
// of 5 and 1 of a template with a stock of 100, 20 packs), claims of 3
// coupons at a time from a stock of 10, and one bulk issue of a stock of
// 30 to 40 members sent to both programs at once under one request ID:
// no stock is passed, a claim of 3 is all or nothing, every pack gives
// what its short list does not, and no member gets a second coupon of the
// bulk issue.
func TestHammerPacksCountsAndBulk(t *testing.T) {
	days := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "rare", Type: coupon.Cash, Amount: testkit.Dec("9"), Stock: 5, Use: days},
				{Name: "common", Type: coupon.Cash, Amount: testkit.Dec("1"), Stock: 100, Use: days},
				{Name: "triple", Type: coupon.Cash, Amount: testkit.Dec("2"), Stock: 10, Use: days},
				{Name: "bulk", Type: coupon.Cash, Amount: testkit.Dec("3"), Stock: 30, Use: days},
			},
			Packs: []coupon.Pack{{Name: "mixed", Items: []coupon.PackItem{{Template: "rare", Count: 2}, {Template: "common", Count: 1}},
				Stock: 20, Mode: coupon.AllInvalid, Claim: coupon.ClaimRule{PerMember: 1}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const packers, triplers = 30, 12
		var mu sync.Mutex
		got := map[string]int{}
		packs, triples := 0, 0
		var bulk [2]coupon.IssueResult
		bulkMembers := make([]string, 40)
		for i := range bulkMembers {
			bulkMembers[i] = fmt.Sprint("b", i)
		}
		atOnce(packers+triplers+2, func(g int) {
			p := ps[g%2].Coupons()
			switch {
			case g < packers:
				m := fmt.Sprint("p", g)
				res, err := p.ClaimPack(ctx, coupon.PackRequest{RequestID: "pack-" + m, Member: m, At: hammerAt, Pack: "mixed"})
				if err != nil {
					if !errors.Is(err, coupon.ErrOutOfStock) {
						t.Errorf("%s: %v", m, err)
					}
					return
				}
				n := map[string]int{}
				for _, c := range res.Coupons {
					n[c.Template]++
				}
				for _, s := range res.Short {
					n[s.Template] += s.Count
				}
				if n["rare"] != 2 || n["common"] != 1 {
					t.Errorf("%s: a pack of %v short of %v", m, res.Coupons, res.Short)
				}
				mu.Lock()
				packs++
				for _, c := range res.Coupons {
					got[c.Template]++
				}
				mu.Unlock()
			case g < packers+triplers:
				m := fmt.Sprint("t", g)
				res, err := p.Claim(ctx, coupon.ClaimRequest{RequestID: "triple-" + m, Member: m, At: hammerAt, Template: "triple", Count: 3})
				if err != nil {
					if !errors.Is(err, coupon.ErrOutOfStock) {
						t.Errorf("%s: %v", m, err)
					}
					return
				}
				if len(res.Coupons) != 3 {
					t.Errorf("%s: a claim of 3 got %d", m, len(res.Coupons))
				}
				mu.Lock()
				triples++
				got["triple"] += len(res.Coupons)
				mu.Unlock()
			default:
				res, err := p.Issue(ctx, coupon.IssueRequest{RequestID: "bulk", Operator: "ops", At: hammerAt, Members: bulkMembers, Template: "bulk"})
				if err != nil {
					t.Errorf("Issue: %v", err)
				}
				bulk[g%2] = res
			}
		})
		// 20 packs of the stock; the rare template's 5 coupons among them.
		if packs != 20 || got["rare"] != 5 || got["common"] != 20 {
			t.Errorf("%d packs gave %v; want 20 packs, 5 rare and 20 common", packs, got)
		}
		// 10 coupons make 3 claims of 3; a fourth is refused whole.
		if triples != 3 || got["triple"] != 9 {
			t.Errorf("%d claims of 3 got %d coupons; want 3 and 9", triples, got["triple"])
		}
		issued := 0
		for i, m := range bulkMembers {
			a, b := bulk[0].Issued[m], bulk[1].Issued[m]
			switch {
			case len(a) == 1 && len(b) == 1 && a[0].ID == b[0].ID:
				issued++
			case len(a) == 0 && len(b) == 0 && bulk[0].Refused[m] != nil && bulk[1].Refused[m] != nil:
			default:
				t.Errorf("%s: the two issues gave %v and %v (refused %v, %v)", m, a, b, bulk[0].Refused[m], bulk[1].Refused[m])
			}
			list, err := ps[i%2].Coupons().List(ctx, m)
			if err != nil || len(list) > 1 {
				t.Errorf("%s holds %v, %v", m, list, err)
			}
		}
		if issued != 30 {
			t.Errorf("the bulk issue gave %d members a coupon, want the stock of 30", issued)
		}
		rep, err := ps[1].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"rare": 5, "common": 20, "triple": 9, "bulk": 30}
		for tmpl, n := range want {
			if rep.ByTemplate[tmpl].Issued != n {
				t.Errorf("stats: %s issued %d, want %d", tmpl, rep.ByTemplate[tmpl].Issued, n)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Progress that many events of one member add to at once: a task done
// every third visit (30 visits: 10 completions), and a ladder climbed by
// 8 orders of 60 growth at once (Bronze at 20, Silver at 100 with a gift
// of 30 growth once, Gold at 500 with a gift of 50): no progress is lost,
// each gift is granted once, and the member ends at Gold with 560 growth.
func TestHammerProgressAndGifts(t *testing.T) {
	def := testkit.LadderDef(level.NextLower)
	def.Events = append(def.Events, event.Type{Name: "visit"})
	def.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}}}
	def.Tasks = &task.Definition{Tasks: []task.Task{{Name: "thrice", Kind: task.Repeat, Times: 3, Steps: []task.Step{{Event: "visit"}},
		Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("1")}}}}}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const visits, orders = 30, 8
		atOnce(visits+orders, func(g int) {
			ev := event.Event{ID: fmt.Sprint("v", g), Member: "alice", Type: "visit", Time: hammerAt}
			if g >= visits {
				ev = event.Event{ID: fmt.Sprint("o", g), Member: "bob", Type: "order", Time: hammerAt,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("60")), "order_id": event.Str(fmt.Sprint("order", g))}}
			}
			if _, err := ps[g%2].Process(ctx, ev); err != nil {
				t.Errorf("%s: %v", ev.ID, err)
			}
		})
		sts, err := ps[0].Tasks().Progress(ctx, "alice")
		if err != nil || len(sts) != 1 || sts[0].Completions != visits/3 || sts[0].Done != 0 {
			t.Errorf("alice's progress: %+v (%v); want %d completions and none since", sts, err, visits/3)
		}
		b, err := ps[1].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt})
		if err != nil || !b.Available.Equal(decimal.NewFromInt(visits/3)) {
			t.Errorf("alice has %+v points (%v), want %d", b, err, visits/3)
		}
		st, err := ps[1].Levels().Status(ctx, "bob")
		if err != nil || st.Level != "Gold" || !st.Growth.Equal(testkit.Dec("560")) {
			t.Errorf("bob: %s with %s growth (%v); want Gold with 8 × 60 + 30 + 50", st.Level, st.Growth, err)
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Several calls on one redemption and one order at once, on both
// programs: 20 partial reversals of 10 of a redemption of 150, 12 refunds
// of 10 of an order of 100 that earned 100 points, and 8 redemptions of
// one reference under different request IDs. Reversals stop at the
// redemption (15 accepted), refunds at the order (10 accepted, 100 points
// in all, the other 2 refused with ErrRefundExceedsOrder), the reference
// is redeemed once, and the balance is what they add up to.
func TestHammerReversalsAndRefunds(t *testing.T) {
	def := refundDef(rule.Validity{})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		testkit.MustProcess(t, ps[0], event.Event{ID: "o1", Member: "alice", Type: "order", Time: hammerAt,
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("100")), "order_id": event.Str("order-1")}})
		if _, err := ps[0].Points().Adjust(ctx, points.AdjustRequest{RequestID: "credit", Member: "alice", Operator: "ops", Note: "seed", At: hammerAt, Program: "mall", Amount: testkit.Dec("200")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[1].Points().Redeem(ctx, points.RedeemRequest{RequestID: "x", Member: "alice", At: hammerAt, Program: "mall", Ref: "X", Amount: testkit.Dec("150")}); err != nil {
			t.Fatal(err)
		}
		const reversals, refunds, redeems = 20, 12, 8
		at := hammerAt.Add(time.Hour)
		var reversed, refunded, redeemed, refusedRefunds atomic.Int64
		atOnce(reversals+refunds+redeems, func(g int) {
			p := ps[g%2]
			var err error
			switch {
			case g < reversals:
				if _, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: fmt.Sprint("rev", g), At: at, Program: "mall", Ref: "X", Amount: testkit.Dec("10")}); err == nil {
					reversed.Add(10)
				} else if errors.Is(err, points.ErrOverReversal) {
					err = nil
				}
			case g < reversals+refunds:
				var out *change.Outcome
				if out, err = p.Process(ctx, event.Event{ID: fmt.Sprint("ret", g), Member: "alice", Type: "return", Time: at,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10")), "order_id": event.Str("order-1")}}); err == nil {
					for _, e := range out.Entries {
						if e.Account == ledger.MemberAccount("alice", ledger.Points("mall"), "") {
							refunded.Add(-e.Amount.IntPart())
						}
					}
				} else if errors.Is(err, membership.ErrRefundExceedsOrder) {
					refusedRefunds.Add(1)
					err = nil
				}
			default:
				if _, err = p.Points().Redeem(ctx, points.RedeemRequest{RequestID: fmt.Sprint("y", g), Member: "alice", At: at, Program: "mall", Ref: "Y", Amount: testkit.Dec("5")}); err == nil {
					redeemed.Add(5)
				} else if errors.Is(err, points.ErrRedemptionExists) {
					err = nil
				}
			}
			if err != nil {
				t.Errorf("call %d: %v", g, err)
			}
		})
		if reversed.Load() != 150 || refunded.Load() != 100 || redeemed.Load() != 5 || refusedRefunds.Load() != 2 {
			t.Errorf("reversed %d, refunds took %d (%d refused), redeemed %d; want 150, 100 (2) and 5", reversed.Load(), refunded.Load(), refusedRefunds.Load(), redeemed.Load())
		}
		want := decimal.NewFromInt(300 - 150 + reversed.Load() - refunded.Load() - redeemed.Load())
		for i, p := range ps {
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: at})
			if err != nil || !b.Available.Equal(want) {
				t.Errorf("program %d: %+v, %v; the accepted calls add up to %s", i, b, err, want)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Days of events and requests with Advance's retention pass run each day
// on both programs at once, while the day's recharges and requests are
// sent again, and so are those of three days before, past the window of
// two days: a retry within the window is a duplicate, one past it is
// refused with ErrTooOld, none is applied twice.
func TestHammerRetentionRacesRetries(t *testing.T) {
	const day = 24 * time.Hour
	def := testkit.ValueDef()
	def.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}}}
	opts := []membership.Option{membership.WithRetention(membership.Retention{Window: 2 * day, Feed: 2 * day})}
	onEveryStoreWith(t, def, opts, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const days, perDay = 6, 8
		recharge := func(d, i int) event.Event {
			return event.Event{ID: fmt.Sprintf("r%d-%d", d, i), Member: fmt.Sprint("m", i%4), Type: "recharge", Time: hammerAt.Add(time.Duration(d) * day),
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}
		}
		credit := func(d, i int) points.AdjustRequest {
			return points.AdjustRequest{RequestID: fmt.Sprintf("a%d-%d", d, i), Member: fmt.Sprint("m", i%4), Operator: "ops", Note: "credit",
				At: hammerAt.Add(time.Duration(d) * day), Program: "mall", Amount: testkit.Dec("1")}
		}
		applied := map[string]int{}
		var mu sync.Mutex
		count := func(id string, dup bool) {
			if !dup {
				mu.Lock()
				applied[id]++
				mu.Unlock()
			}
		}
		for d := range days {
			atOnce(2+4*perDay, func(g int) {
				p := ps[g%2]
				if g < 2 {
					if _, err := p.Advance(ctx, hammerAt.Add(time.Duration(d)*day)); err != nil {
						t.Errorf("day %d: Advance: %v", d, err)
					}
					return
				}
				g -= 2
				i, old := g%perDay, g/perDay >= 2
				when := d
				if old {
					when = d - 3
				}
				if when < 0 {
					return
				}
				var id string
				var dup bool
				var err error
				if g/perDay%2 == 0 {
					ev := recharge(when, i)
					id = ev.ID
					var out *change.Outcome
					if out, err = p.Process(ctx, ev); err == nil {
						dup = out.Duplicate
					}
				} else {
					req := credit(when, i)
					id = req.RequestID
					var res points.AdjustResult
					if res, err = p.Points().Adjust(ctx, req); err == nil {
						dup = res.Outcome.Duplicate
					}
				}
				switch {
				case err == nil:
					count(id, dup)
				case old && errors.Is(err, membership.ErrTooOld):
				default:
					t.Errorf("day %d: %s: %v", d, id, err)
				}
			})
		}
		for id, n := range applied {
			if n != 1 {
				t.Errorf("%s applied %d times", id, n)
			}
		}
		// Each day's 8 recharges and 8 credits, 2 of each a member.
		for i := range 4 {
			m := fmt.Sprint("m", i)
			va, err := ps[i%2].Value().Account(ctx, m)
			if err != nil || !va.Balance.Equal(decimal.NewFromInt(2*days)) {
				t.Errorf("%s: %+v, %v; want %d", m, va, err, 2*days)
			}
			b, err := ps[(i+1)%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: hammerAt.Add(days * day)})
			if err != nil || !b.Available.Equal(decimal.NewFromInt(2*days)) {
				t.Errorf("%s: %+v, %v; want %d points", m, b, err, 2*days)
			}
		}
		for i, p := range ps {
			if err := p.Verify(ctx); err != nil {
				t.Errorf("program %d: %v", i, err)
			}
		}
	})
}

// Opening states of one member imported twice at once under different
// request IDs (an import run again under another name), on both programs,
// racing the member's first recharges: one opening at most is applied,
// and only when it came before every recharge; the balance counts it once.
func TestHammerOpenMemberRaces(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, opens, recharges = 8, 4, 4
		var mu sync.Mutex
		opened, recharged := map[string]int{}, map[string]int{}
		atOnce(members*(opens+recharges), func(g int) {
			m := fmt.Sprint("m", g%members)
			k := g / members
			p := ps[g%2]
			if k < opens {
				_, err := p.OpenMember(ctx, migrate.Member{RequestID: fmt.Sprintf("open%d-%s", k, m), Member: m, Operator: "import", At: hammerAt,
					Value: &migrate.Value{Balance: testkit.Dec("100")}})
				switch {
				case err == nil:
					mu.Lock()
					opened[m]++
					mu.Unlock()
				case !errors.Is(err, membership.ErrKnownMember):
					t.Errorf("%s: open %d: %v", m, k, err)
				}
				return
			}
			if _, err := p.Process(ctx, event.Event{ID: fmt.Sprintf("r%d-%s", k, m), Member: m, Type: "recharge", Time: hammerAt,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}); err != nil {
				t.Errorf("%s: recharge: %v", m, err)
				return
			}
			mu.Lock()
			recharged[m]++
			mu.Unlock()
		})
		for i := range members {
			m := fmt.Sprint("m", i)
			if opened[m] > 1 {
				t.Errorf("%s opened %d times", m, opened[m])
			}
			want := decimal.NewFromInt(int64(100*opened[m] + recharged[m]))
			va, err := ps[i%2].Value().Account(ctx, m)
			if err != nil || !va.Balance.Equal(want) {
				t.Errorf("%s: %+v, %v; want %s", m, va, err, want)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Checkouts of one order at once on both programs, each locking another
// of the member's exclusive coupons: one lock holds the order, the others
// are refused with ErrState, and the order's Use takes off one coupon.
func TestHammerOneOrderManyLocks(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "five", Type: coupon.Cash, Amount: testkit.Dec("5"),
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const n = 16
		res, err := ps[0].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim", Member: "alice", At: hammerAt, Template: "five", Count: n})
		if err != nil {
			t.Fatal(err)
		}
		order := coupon.Order{ID: "A", Member: "alice", Time: hammerAt.Add(time.Minute), Lines: []coupon.Line{{Product: "tea", Amount: testkit.Dec("50")}}}
		var locked atomic.Int64
		atOnce(n, func(g int) {
			_, err := ps[g%2].Coupons().Lock(ctx, coupon.LockRequest{RequestID: fmt.Sprint("lock", g), Order: order, Coupons: []string{res.Coupons[g].ID}})
			switch {
			case err == nil:
				locked.Add(1)
			case !errors.Is(err, coupon.ErrState):
				t.Errorf("lock %d: %v", g, err)
			}
		})
		if locked.Load() != 1 {
			t.Errorf("%d locks of the order went through, want 1", locked.Load())
		}
		out, err := ps[1].Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use", At: hammerAt.Add(2 * time.Minute), Order: "A"})
		if err != nil {
			t.Fatal(err)
		}
		if used := out.ChangesOf(coupon.ChangeUsed); len(used) != 1 {
			t.Errorf("the order used %d exclusive coupons, want 1", len(used))
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Tags changed at once on both programs: each of 12 members is given a
// manual tag four times and has it taken twice, orders five times (a
// rule tags three orders or more), and the rule is recomputed from both
// programs meanwhile. Whatever the order, the counters Counts reads
// agree with the members' tags and the segments, and the statistics
// count every order once.
func TestHammerTags(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Manual: []tag.Manual{{Name: "vip"}},
			Rules:  []tag.Rule{{Tag: "buyer", All: []tag.Cond{{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(3)}}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, adds, removes, orders, recomputes = 12, 4, 2, 5, 4
		const per = adds + removes + orders
		atOnce(members*per+recomputes, func(g int) {
			p := ps[g%2]
			if g >= members*per {
				if _, err := p.Tags().Recompute(ctx, tag.RecomputeRequest{At: hammerAt.Add(time.Hour), Tag: "buyer"}); err != nil {
					t.Errorf("Recompute: %v", err)
				}
				return
			}
			m, k := fmt.Sprint("m", g%members), g/members
			var err error
			switch {
			case k < adds:
				_, err = p.Tags().Add(ctx, tag.ManualRequest{RequestID: fmt.Sprintf("add%d-%s", k, m), Member: m, Operator: "ops", At: hammerAt, Tag: "vip"})
			case k < adds+removes:
				_, err = p.Tags().Remove(ctx, tag.ManualRequest{RequestID: fmt.Sprintf("rm%d-%s", k, m), Member: m, Operator: "ops", At: hammerAt, Tag: "vip"})
			default:
				_, err = p.Process(ctx, event.Event{ID: fmt.Sprintf("o%d-%s", k, m), Member: m, Type: "order", Time: hammerAt,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}})
			}
			if err != nil {
				t.Errorf("%s call %d: %v", m, k, err)
			}
		})
		holders := map[string][]string{}
		for i := range members {
			m := fmt.Sprint("m", i)
			prof, err := ps[i%2].Tags().Profile(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if prof.Stats.Orders != orders {
				t.Errorf("%s: %d orders counted, want %d", m, prof.Stats.Orders, orders)
			}
			for _, a := range prof.Tags {
				holders[a.Tag] = append(holders[a.Tag], m)
			}
		}
		if len(holders["buyer"]) != members {
			t.Errorf("buyer: %v, want every member", holders["buyer"])
		}
		for i, p := range ps {
			counts, err := p.Tags().Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range []string{"vip", "buyer"} {
				if counts[tg] != int64(len(holders[tg])) {
					t.Errorf("program %d: Counts says %d hold %s, the members' tags %d", i, counts[tg], tg, len(holders[tg]))
				}
				page, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse(tg), Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				got := slices.Clone(page.Members)
				want := slices.Clone(holders[tg])
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("program %d: segment %s is %v, the members' tags %v", i, tg, got, want)
				}
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// A points rule capped at 50 a day and 120 in all, and a growth rule at
// 12 a day, earned by 20 orders of 7 at once on each of three days,
// on both programs: the grants are cut to the caps exactly (50, 50, 20
// points; 12 growth a day), however the orders interleave.
func TestHammerCaps(t *testing.T) {
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Formula: spend,
				Caps: rule.Caps{{Period: rule.Day, Limit: testkit.Dec("50")}, {Period: rule.Total, Limit: testkit.Dec("120")}}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: rule.Validity{Kind: rule.Permanent}}},
			Growth: []level.GrowthRule{{ID: "g", Event: "order", Formula: spend, Caps: rule.Caps{{Period: rule.Day, Limit: testkit.Dec("12")}}}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const days, orders = 3, 20
		for d := range days {
			atOnce(orders, func(g int) {
				if _, err := ps[g%2].Process(ctx, event.Event{ID: fmt.Sprintf("o%d-%d", d, g), Member: "alice", Type: "order", Time: hammerAt.AddDate(0, 0, d),
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("7"))}}); err != nil {
					t.Error(err)
				}
			})
			b, err := ps[d%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt.AddDate(0, 0, d)})
			want := []string{"50", "100", "120"}[d]
			if err != nil || !b.Available.Equal(testkit.Dec(want)) {
				t.Errorf("day %d: %+v, %v; want %s points", d, b, err, want)
			}
			st, err := ps[(d+1)%2].Levels().Status(ctx, "alice")
			if err != nil || !st.Growth.Equal(decimal.NewFromInt(int64(12*(d+1)))) {
				t.Errorf("day %d: growth %s, %v; want %d", d, st.Growth, err, 12*(d+1))
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// store/bolt with checkpoints every few kilobytes, so that they run all
// through a hammer of spends, refunds, claims and redemptions from many
// goroutines, and the store reopened after it: what was accepted is what
// the reopened store holds, and the ledger verifies before and after.
func TestHammerBoltCheckpointsAndReopen(t *testing.T) {
	def := testkit.ValueDef()
	def.Points = &points.Definition{Programs: []points.Program{{Name: "mall"}}}
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{{Name: "flash", Type: coupon.Cash, Amount: testkit.Dec("5"), Stock: 100,
		Claim: coupon.ClaimRule{PerMember: 3}, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}}
	path := filepath.Join(t.TempDir(), "hammer.db")
	opts := &bolt.Options{CheckpointSize: 8 << 10, MaxMemory: 1 << 20, MaxBatch: 8}
	st, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const members = 16
	for i := range members {
		m := fmt.Sprint("m", i)
		testkit.MustProcess(t, p, event.Event{ID: "r-" + m, Member: m, Type: "recharge", Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("50"))}})
		if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a-" + m, Member: m, Operator: "ops", Note: "seed", At: hammerAt, Program: "mall", Amount: testkit.Dec("50")}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	money := map[string]decimal.Decimal{}
	pts := map[string]decimal.Decimal{}
	coupons := map[string]int{}
	const callers, calls = 48, 24
	atOnce(callers, func(g int) {
		for i := range calls {
			m := fmt.Sprint("m", (g+i)%members)
			id := fmt.Sprintf("g%d-%d", g, i)
			var err error
			switch i % 4 {
			case 0:
				if _, err = p.Process(ctx, event.Event{ID: id, Member: m, Type: "pay", Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("3"))}}); err == nil {
					mu.Lock()
					money[m] = money[m].Sub(testkit.Dec("3"))
					mu.Unlock()
				}
			case 1:
				if _, err = p.Process(ctx, event.Event{ID: id, Member: m, Type: "refund", Time: hammerAt, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}); err == nil {
					mu.Lock()
					money[m] = money[m].Add(testkit.Dec("1"))
					mu.Unlock()
				}
			case 2:
				if _, err = p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: m, At: hammerAt, Template: "flash"}); err == nil {
					mu.Lock()
					coupons[m]++
					mu.Unlock()
				}
			default:
				if _, err = p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Member: m, At: hammerAt, Program: "mall", Ref: id, Amount: testkit.Dec("4")}); err == nil {
					mu.Lock()
					pts[m] = pts[m].Sub(testkit.Dec("4"))
					mu.Unlock()
				}
			}
			if err != nil && !errors.Is(err, membership.ErrInsufficientBalance) && !errors.Is(err, value.ErrRefundExceedsSpend) &&
				!errors.Is(err, coupon.ErrLimitReached) && !errors.Is(err, coupon.ErrOutOfStock) {
				t.Errorf("%s: %v", id, err)
			}
		}
	})
	check := func(p *membership.Program, when string) {
		t.Helper()
		for i := range members {
			m := fmt.Sprint("m", i)
			va, err := p.Value().Account(ctx, m)
			if err != nil || !va.Balance.Equal(testkit.Dec("50").Add(money[m])) {
				t.Errorf("%s: %s: %+v, %v; want %s", when, m, va, err, testkit.Dec("50").Add(money[m]))
			}
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: hammerAt})
			if err != nil || !b.Available.Equal(testkit.Dec("50").Add(pts[m])) {
				t.Errorf("%s: %s: %+v, %v; want %s points", when, m, b, err, testkit.Dec("50").Add(pts[m]))
			}
			list, err := p.Coupons().List(ctx, m)
			if err != nil || len(list) != coupons[m] {
				t.Errorf("%s: %s holds %d coupons, %v; want %d", when, m, len(list), err, coupons[m])
			}
		}
		if err := p.Verify(ctx); err != nil {
			t.Errorf("%s: Verify: %v", when, err)
		}
	}
	check(p, "before closing")
	if s := st.Stats(); s.Checkpoints == 0 {
		t.Errorf("no checkpoint ran during the hammer: %+v", s)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err = membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	check(p, "reopened")
}

// Operators set one member's level by hand on both programs while the
// member's orders add growth and Advance ends terms: the history is one
// chain (each record starts from the level the one before ended at, with
// no Seq twice), its last record is the member's level, the level counts
// agree, and growth counts every order once.
func TestHammerLevelSets(t *testing.T) {
	def := testkit.LadderDef(level.NextLower)
	def.Levels.Ladder[2].Gifts = nil // no gifts: growth is the orders' alone
	def.Levels.Ladder[3].Gifts = nil
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const sets, orders, advances = 12, 24, 4
		levels := []string{"Entry", "Bronze", "Silver", "Gold", "Platinum"}
		atOnce(sets+orders+advances, func(g int) {
			p := ps[g%2]
			var err error
			switch {
			case g < sets:
				_, err = p.Levels().Set(ctx, level.SetRequest{RequestID: fmt.Sprint("set", g), Member: "alice", Operator: fmt.Sprint("op", g), Note: "by hand",
					At: hammerAt.Add(time.Duration(g) * time.Minute), Level: levels[g%len(levels)]})
			case g < sets+orders:
				_, err = p.Process(ctx, event.Event{ID: fmt.Sprint("o", g), Member: "alice", Type: "order", Time: hammerAt.Add(time.Hour),
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("30")), "order_id": event.Str(fmt.Sprint("order", g))}})
			default:
				_, err = p.Advance(ctx, hammerAt.AddDate(0, 0, 33)) // within the idempotency window: nothing refused as too old
			}
			if err != nil {
				t.Errorf("call %d: %v", g, err)
			}
		})
		st, err := ps[0].Levels().Status(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Lifetime.Equal(decimal.NewFromInt(30 * orders)) {
			t.Errorf("lifetime growth %s, want %d", st.Lifetime, 30*orders)
		}
		hist, err := ps[1].Levels().History(ctx, "alice", 0, 1000)
		if err != nil || len(hist) == 0 {
			t.Fatalf("history %v, %v", hist, err)
		}
		seqs := map[uint64]bool{}
		for i, r := range hist {
			if seqs[r.Seq] {
				t.Errorf("seq %d twice in the history", r.Seq)
			}
			seqs[r.Seq] = true
			if i > 0 && r.From != hist[i-1].To {
				t.Errorf("history[%d] goes from %s, the one before ended at %s", i, r.From, hist[i-1].To)
			}
		}
		if last := hist[len(hist)-1]; last.To != st.Level {
			t.Errorf("the history ends at %s, the member is %s", last.To, st.Level)
		}
		for i, p := range ps {
			counts, err := p.Levels().Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range counts {
				want := int64(0)
				if !c.Plan && c.Name == st.Level {
					want = 1
				}
				if !c.Plan && c.Members != want {
					t.Errorf("program %d: counts say %d at %s, want %d", i, c.Members, c.Name, want)
				}
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Tills redeem a member's coupons by code for one order at once, on both
// programs: of 16 exclusive coupons one is used; of two coupons of one
// group worth 30 each, redeemed at once for an order of 50, both are
// used and they take off 50, not 60.
func TestHammerOneOrderManyRedemptions(t *testing.T) {
	days := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "five", Type: coupon.Cash, Amount: testkit.Dec("5"), Use: days},
			{Name: "a", Type: coupon.Cash, Amount: testkit.Dec("30"), Group: "g", Use: days},
			{Name: "b", Type: coupon.Cash, Amount: testkit.Dec("30"), Group: "g", Use: days},
		}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const n = 16
		var cs []coupon.Coupon
		for _, tm := range []string{"five", "a", "b"} {
			count := 1
			if tm == "five" {
				count = n
			}
			res, err := ps[0].Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim-" + tm, Member: "alice", At: hammerAt, Template: tm, Count: count})
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, res.Coupons...)
		}
		order := func(id string) coupon.Order {
			return coupon.Order{ID: id, Time: hammerAt.Add(time.Minute), Lines: []coupon.Line{{Product: "tea", Amount: testkit.Dec("50")}}}
		}
		var mu sync.Mutex
		off := map[string]decimal.Decimal{}
		used := map[string]int{}
		atOnce(n+2, func(g int) {
			o := order("A")
			if g >= n {
				o = order("B")
			}
			res, err := ps[g%2].Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: fmt.Sprint("redeem", g), Code: cs[g].Code, Order: o})
			switch {
			case err == nil:
				mu.Lock()
				off[o.ID] = off[o.ID].Add(res.Coupon.AmountOff)
				used[o.ID]++
				mu.Unlock()
			case g < n && errors.Is(err, coupon.ErrNotCombinable):
			default:
				t.Errorf("redeem %d: %v", g, err)
			}
		})
		if used["A"] != 1 || !off["A"].Equal(testkit.Dec("5")) {
			t.Errorf("order A used %d exclusive coupons, %s off; want 1 and 5", used["A"], off["A"])
		}
		if used["B"] != 2 || !off["B"].Equal(testkit.Dec("50")) {
			t.Errorf("order B used %d coupons of one group, %s off; want 2 and the order's 50", used["B"], off["B"])
		}
		rep, err := ps[1].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Used != 3 || !rep.Total.AmountOff.Equal(testkit.Dec("55")) {
			t.Errorf("stats: %+v; want 3 used, 55 off", rep.Total)
		}
		checkLedgerAndFeed(t, ps)
	})
}

// One import file run twice at once under the same Name, on both
// programs (two instances of an application, each told to import it):
// every good row is applied by one run and a duplicate in the other, the
// second row of a member is refused by both (the first of them is applied
// first in each run), the row that does not parse is reported by both,
// and each member holds the balance of their first row.
func TestHammerImportTwiceAtOnce(t *testing.T) {
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 120
		var file strings.Builder
		file.WriteString("member,value_balance\n")
		for i := range members {
			fmt.Fprintf(&file, "m%d,%d\n", i, i+1)
			if i == 50 {
				file.WriteString("m7,1000\n")  // line 53: m7 again
				file.WriteString("m200,abc\n") // line 54: does not parse
			}
		}
		var res [2]migrate.Result
		atOnce(2, func(g int) {
			var err error
			res[g], err = migrate.Run(ctx, ps[g], migrate.CSV(strings.NewReader(file.String()), nil),
				migrate.Options{Name: "members.csv", At: hammerAt, Batch: 8, Workers: 3})
			if err != nil {
				t.Errorf("run %d: %v", g, err)
			}
		})
		for g, r := range res {
			if r.Rows != members+2 || r.Failed != 2 || r.Applied+r.Duplicates != members {
				t.Errorf("run %d: %+v, want %d rows, %d applied or duplicates, 2 failed", g, r.Progress, members+2, members)
			}
			if len(r.Errors) != 2 || r.Errors[0].Line != 53 || r.Errors[0].Field != "member" || !errors.Is(r.Errors[0].Err, membership.ErrKnownMember) ||
				r.Errors[1].Line != 54 || r.Errors[1].Field != "value_balance" {
				t.Errorf("run %d: errors %v, want line 53 (member, known) and 54 (value_balance)", g, r.Errors)
			}
		}
		if got := res[0].Applied + res[1].Applied; got != members {
			t.Errorf("applied %d + %d, want %d in all", res[0].Applied, res[1].Applied, members)
		}
		for i := range members {
			m := fmt.Sprint("m", i)
			va, err := ps[i%2].Value().Account(ctx, m)
			if want := decimal.NewFromInt(int64(i + 1)); err != nil || !va.Balance.Equal(want) {
				t.Errorf("%s: %+v, %v; want %s", m, va, err, want)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// Sixteen members reach Gold at once, each event sent to both programs,
// where Gold's upgrade gift is 10 points and a coupon of a template with a
// stock of 5: the points go to every member once, exactly 5 coupons are
// issued, and each of the 11 members refused is owed the coupon once
// (one coupon.claim_refused, Status.Owed). Version 2 restocks the template
// (21, room to give twice); then each member, on both programs at once,
// retries their first event, is set down to Entry and reaches Gold again,
// twice over: every owed member gets one coupon at the first reach, no
// member gets a second, the points are not given again, and the ledger,
// the feed, the coupon statistics and the status agree.
func TestHammerOwedGiftRestocked(t *testing.T) {
	gift := rule.Reward{Kind: rule.RewardCoupon, Template: "gold-gift"}
	def := membership.Definition{
		Version: 1,
		Zone:    "Asia/Shanghai",
		Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: testkit.Dec("100"), Validity: rule.Validity{Kind: rule.Permanent},
					Gifts: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("10")}, gift}},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
		},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "gold-gift", Type: coupon.Cash, Amount: testkit.Dec("20"), Stock: 5,
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}},
	}
	onEveryStoreVersions(t, def, nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		ctx := context.Background()
		const members, stock = 16, 5
		member := func(i int) string { return fmt.Sprint("m", i) }
		order := func(id string, i int, amount string, at time.Time) event.Event {
			return event.Event{ID: fmt.Sprintf("%s-%s", id, member(i)), Member: member(i), Type: "order", Time: at,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}}
		}
		coupons := func(ps [2]*membership.Program, i int) int {
			t.Helper()
			list, err := ps[i%2].Coupons().List(ctx, member(i))
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		// gifts counts, by member, the feed's level.gift changes of
		// reward kind k.
		gifts := func(feed []change.Change, k rule.RewardKind) map[string]int {
			t.Helper()
			n := map[string]int{}
			for _, c := range feed {
				if c.Kind != level.ChangeGift {
					continue
				}
				var g level.Gift
				if err := c.Decode(&g); err != nil {
					t.Fatal(err)
				}
				if g.Reward.Kind == k {
					n[c.Member]++
				}
			}
			return n
		}

		// Round one: each member's order of 100 on both programs at once.
		var dups [members]atomic.Int32
		atOnce(2*members, func(g int) {
			out, err := ps[g%2].Process(ctx, order("o1", g/2, "100", hammerAt))
			if err != nil {
				t.Errorf("o1 of %s: %v", member(g/2), err)
				return
			}
			if out.Duplicate {
				dups[g/2].Add(1)
			}
		})
		owed := map[string]bool{}
		for i := range members {
			if n := dups[i].Load(); n != 1 {
				t.Errorf("%s: %d of the two calls of o1 were duplicates, want 1", member(i), n)
			}
			st, err := ps[i%2].Levels().Status(ctx, member(i))
			if err != nil {
				t.Fatal(err)
			}
			switch n := coupons(ps, i); {
			case n == 0 && st.Level == "Gold" && len(st.Owed) == 1 && st.Owed[0].Level == "Gold" && st.Owed[0].Reward.Target() == gift.Target():
				owed[member(i)] = true
			case n == 1 && st.Level == "Gold" && len(st.Owed) == 0:
			default:
				t.Errorf("%s: %d coupons, %s, owed %v; want Gold with the coupon or owed it", member(i), n, st.Level, st.Owed)
			}
		}
		if len(owed) != members-stock {
			t.Fatalf("%d members owed the coupon, want %d of %d (a stock of %d)", len(owed), members-stock, members, stock)
		}
		feed := checkLedgerAndFeed(t, ps)
		refused := countKinds(feed, coupon.ChangeClaimRefused)
		for i := range members {
			if m := member(i); refused[m] != map[bool]int{true: 1}[owed[m]] {
				t.Errorf("%s (owed %v): %d claims refused in the feed", m, owed[m], refused[m])
			}
		}

		// Version 2 restocks. Round two, on both programs at once: o1
		// again, then down to Entry and up to Gold twice.
		v2 := def
		v2.Version = 2
		v2.Coupons = &coupon.Definition{Templates: slices.Clone(def.Coupons.Templates)}
		v2.Coupons.Templates[0].Stock = stock + members
		ps = open(v2)
		atOnce(2*members, func(g int) {
			i, p := g/2, ps[g%2]
			if out, err := p.Process(ctx, order("o1", i, "100", hammerAt)); err != nil || !out.Duplicate {
				t.Errorf("o1 of %s again: %v, %+v; want a duplicate", member(i), err, out)
			}
			for round := 1; round <= 2; round++ {
				at := hammerAt.Add(time.Duration(2*round) * time.Hour)
				if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: fmt.Sprintf("down%d-%s", round, member(i)), Member: member(i),
					Operator: "ops", Note: "test", At: at.Add(-time.Hour), Level: "Entry"}); err != nil {
					t.Errorf("set %s down: %v", member(i), err)
				}
				if _, err := p.Process(ctx, order(fmt.Sprint("up", round), i, "1", at)); err != nil {
					t.Errorf("%s up: %v", member(i), err)
				}
			}
		})
		for i := range members {
			m := member(i)
			if n := coupons(ps, i); n != 1 {
				t.Errorf("%s (owed %v) holds %d coupons, want 1", m, owed[m], n)
			}
			st, err := ps[i%2].Levels().Status(ctx, m)
			if err != nil || st.Level != "Gold" || len(st.Owed) != 0 || !st.Growth.Equal(testkit.Dec("102")) {
				t.Errorf("%s: %+v, %v; want Gold, 102 growth, nothing owed", m, st, err)
			}
			b, err := ps[i%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: hammerAt.Add(5 * time.Hour)})
			if err != nil || !b.Available.Equal(testkit.Dec("10")) {
				t.Errorf("%s: %+v points, %v; want the gift's 10 once", m, b, err)
			}
		}
		for i, p := range ps {
			rep, err := p.Coupons().Stats(ctx, coupon.StatsQuery{Template: "gold-gift"})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.ByTemplate["gold-gift"].Issued; got != members {
				t.Errorf("program %d: stats say %d issued, want %d", i, got, members)
			}
		}
		feed = checkLedgerAndFeed(t, ps)
		issued, refused := countKinds(feed, coupon.ChangeIssued), countKinds(feed, coupon.ChangeClaimRefused)
		couponGifts, pointGifts := gifts(feed, rule.RewardCoupon), gifts(feed, rule.RewardPoints)
		for i := range members {
			m := member(i)
			if issued[m] != 1 || couponGifts[m] != 1 || pointGifts[m] != 1 || refused[m] != map[bool]int{true: 1}[owed[m]] {
				t.Errorf("%s (owed %v): the feed has %d coupons issued, %d coupon gifts, %d points gifts, %d claims refused; want 1, 1, 1 and 1 if owed",
					m, owed[m], issued[m], couponGifts[m], pointGifts[m], refused[m])
			}
		}
	})
}

// One member's voided day, hammered. Risk control freezes a day at 100
// earned. On 24 November a-1 earns 60 (lot L1), four redemptions of 10
// spend 40 of it, and a-2 earns 60 (L2): the day reaches 120 and L1's 20
// and L2's 60 are frozen. The next day, all at once on both programs:
// four reviews void the day (one is applied), the four redemptions are
// reversed in halves of 5, each reversal sent twice, a-1 is refunded in
// full (sent twice), and eight orders earn 7 each and eight redemptions
// of 5 spend them, each sent twice. Whether a reversal comes before the
// void (into the review, voided with the day) or after it (voided again
// at once), before the refund or after it (settling the shortfall it
// left, or giving back what it took from the next day's points), none of
// the day's 120 points comes back to the balance, and none of the next
// day's is lost: it ends at the next day's 56 less what was redeemed of
// them; every request is applied once, and the books, the statements and
// the reconciliation agree.
func TestHammerReversalsAroundVoidedDay(t *testing.T) {
	def := refundDef(rule.Validity{})
	def.Points.Programs[0].Risk = &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		day := hammerAt.Add(-time.Hour) // 24 November, 09:00
		buy := func(id string, amount string, at time.Time) event.Event {
			return event.Event{ID: id, Member: "alice", Type: "order", Time: at,
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount)), "order_id": event.Str("order-" + id)}}
		}
		redeem := func(p *membership.Program, id, amount string, at time.Time) (points.RedeemResult, error) {
			return p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "alice", At: at, Program: "mall", Ref: "ref-" + id, Amount: testkit.Dec(amount)})
		}
		var lots []string // L1, L2
		for _, ev := range []event.Event{buy("a-1", "60", day), buy("a-2", "60", day.Add(30*time.Minute))} {
			out := testkit.MustProcess(t, ps[0], ev)[0]
			if ev.ID == "a-1" {
				for i := range 4 {
					if _, err := redeem(ps[i%2], fmt.Sprint("x", i), "10", day.Add(10*time.Minute)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, c := range out.ChangesOf(points.ChangeEarned) {
				var pc points.Change
				if err := c.Decode(&pc); err != nil {
					t.Fatal(err)
				}
				lots = append(lots, pc.Lot)
			}
		}
		b, err := ps[1].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: hammerAt})
		if err != nil || len(lots) != 2 || !b.Frozen.Equal(testkit.Dec("80")) || !b.Available.IsZero() {
			t.Fatalf("before: %+v, %v, lots %v; want 80 frozen, none available", b, err, lots)
		}

		next := hammerAt.Add(24 * time.Hour)
		const voids, reversals, orders, redeems, refunds = 4, 8, 8, 8, 1
		type result struct {
			dup bool
			err error
		}
		var voided atomic.Int32
		results := make([][2]result, reversals+orders+redeems+refunds)
		atOnce(voids+2*len(results), func(g int) {
			if g < voids {
				_, err := ps[g%2].Points().Void(ctx, points.ReviewRequest{RequestID: fmt.Sprint("void", g), Member: "alice", Operator: fmt.Sprint("op", g),
					At: next, Program: "mall", Date: day.Format(time.DateOnly)})
				if err == nil {
					voided.Add(1)
				} else if !errors.Is(err, points.ErrNotPending) {
					t.Errorf("void %d: %v", g, err)
				}
				return
			}
			r, side := (g-voids)/2, (g-voids)%2
			p := ps[side]
			var res result
			switch {
			case r < reversals:
				var out *change.Outcome
				out, res.err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: fmt.Sprint("rev", r), At: next, Program: "mall",
					Ref: fmt.Sprint("ref-x", r/2), Amount: testkit.Dec("5")})
				res.dup = res.err == nil && out.Duplicate
			case r < reversals+orders:
				var out *change.Outcome
				out, res.err = p.Process(ctx, buy(fmt.Sprint("b-", r), "7", next))
				res.dup = res.err == nil && out.Duplicate
			case r < reversals+orders+redeems:
				var rr points.RedeemResult
				rr, res.err = redeem(p, fmt.Sprint("y", r), "5", next)
				res.dup = res.err == nil && rr.Outcome.Duplicate
			default:
				var out *change.Outcome
				out, res.err = p.Process(ctx, event.Event{ID: "ret-a-1", Member: "alice", Type: "return", Time: next,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("60")), "order_id": event.Str("order-a-1")}})
				res.dup = res.err == nil && out.Duplicate
			}
			results[r][side] = res
		})
		if voided.Load() != 1 {
			t.Fatalf("the day was voided %d times, want once", voided.Load())
		}
		isRedeem := func(r int) bool { return r >= reversals+orders && r < reversals+orders+redeems }
		redeemed := int64(0)
		for r, pair := range results {
			a, b := pair[0], pair[1]
			switch {
			case a.err == nil && b.err == nil:
				if a.dup == b.dup {
					t.Errorf("request %d: both calls succeeded with Duplicate %v", r, a.dup)
				}
				if isRedeem(r) {
					redeemed += 5
				}
			case isRedeem(r) && a.err != nil && b.err != nil:
				for _, err := range []error{a.err, b.err} {
					if !errors.Is(err, membership.ErrInsufficientBalance) {
						t.Errorf("request %d: %v", r, err)
					}
				}
			case isRedeem(r):
				// Refused, then applied once points came in: no duplicate.
				ok, refused := a, b
				if a.err != nil {
					ok, refused = b, a
				}
				if ok.dup || !errors.Is(refused.err, membership.ErrInsufficientBalance) {
					t.Errorf("request %d: one call got %v (duplicate %v), the other %v", r, ok.err, ok.dup, refused.err)
				}
				redeemed += 5
			default:
				t.Errorf("request %d: %v, %v", r, a.err, b.err)
			}
		}
		// The calls' order decides how many redemptions found points (none,
		// when every one ran before the orders): one more after them always
		// does, 56 having come in and at most 40 gone out.
		if rr, err := redeem(ps[0], "y-after", "5", next); err != nil || rr.Outcome.Duplicate {
			t.Fatalf("a redemption after the calls: %+v, %v", rr, err)
		}
		redeemed += 5
		want := decimal.NewFromInt(7*orders - redeemed)
		for i, p := range ps {
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: next})
			if err != nil || !b.Available.Equal(want) || !b.Main.Equal(want) || !b.Frozen.IsZero() || !b.Pending.IsZero() {
				t.Errorf("program %d: %+v, %v; want %s, the next day's 56 less %d redeemed", i, b, err, want, redeemed)
			}
			r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
			if err != nil {
				t.Fatal(err)
			}
			// What the refund took before the void, the void does not
			// take: reversed and voided vary with the order of the calls,
			// the change does not.
			got := []string{r.Earned.String(), r.Redeemed.String(), r.Expired.String(), r.Change.String()}
			wantR := []string{"176", fmt.Sprint(40 + redeemed), "0", want.String()}
			if !r.Holds() || !slices.Equal(got, wantR) {
				t.Errorf("program %d: earned, redeemed, expired, change %v, want %v (holds %v)", i, got, wantR, r.Holds())
			}
			o, found, err := p.Points().Order(ctx, "order-a-1")
			if err != nil || !found || len(o.Grants) != 1 || !o.Shortfall.IsZero() || len(o.Grants[0].Charged) != 0 || !o.Grants[0].Reversed.Equal(testkit.Dec("60")) {
				t.Errorf("program %d: order-a-1 %+v (%v, %v); want all 60 reversed, nothing short or charged left", i, o, found, err)
			}
		}
		// Each account's statement, in posting order, adds up to its
		// balance, and no entry gives back to the main account the day's
		// lots after they froze.
		for _, sub := range []string{"", points.SubFrozen} {
			page, err := ps[0].Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "alice", Sub: sub, Limit: 1000})
			if err != nil || page.Next != "" {
				t.Fatalf("statement %q: %v (next %q)", sub, err, page.Next)
			}
			es := page.Entries
			slices.SortFunc(es, func(a, b ledger.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
			bal := decimal.Zero
			for _, e := range es {
				if bal = bal.Add(e.Amount); !bal.Equal(e.Balance) {
					t.Errorf("statement %q: entry %d (%s %s) has balance %s, the entries add up to %s", sub, e.Seq, e.Kind, e.Amount, e.Balance, bal)
				}
				if sub == "" && e.Amount.IsPositive() && slices.Contains(lots, e.Lot) && e.Kind != points.KindEarned {
					t.Errorf("the main account got %s of the voided day's lot %s back (%s at %s)", e.Amount, e.Lot, e.Kind, e.Time)
				}
			}
			if wantSub := map[string]decimal.Decimal{"": want, points.SubFrozen: decimal.Zero}[sub]; !bal.Equal(wantSub) {
				t.Errorf("statement %q adds up to %s, want %s", sub, bal, wantSub)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}
