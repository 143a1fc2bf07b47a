package points_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/shopspring/decimal"
)

// reconDef has two programs with every feature: mall (whole points;
// adjustments above 40 need approval; points + cash at 0.03; credits valid
// 20 days; orders earn a point a yuan valid 5 days, and half a point a
// yuan valid 10 days held pending 2 days for orders of 30 or more) and
// park (one
// decimal; risk control freezing a day from 25 points; points + cash at
// 0.07 for a third of an order, money in tenths; credits valid to the
// month's end; orders earn 0.73 a yuan valid 3 days, visits 12.5 valid
// to the next month's end held pending a day), exchanging at 0.37 and
// 2.6. Every lot expires, so Expiring lists them all.
func reconDef() membership.Definition {
	return ptsDef(func(d *points.Definition) {
		d.Programs[0].Validity = rule.Validity{Kind: rule.DaysAfter, N: 20}
		d.Programs[0].ApprovalAbove = ptsDecp("40")
		d.Programs[0].Payment = &points.Payment{Rate: dec("0.03"), MaxShare: dec("0.7")}
		d.Programs[1].Validity = rule.Validity{Kind: rule.MonthEnds, N: 0}
		d.Programs[1].Risk = &points.Risk{Daily: dec("25"), Policy: points.Freeze}
		d.Programs[1].Payment = &points.Payment{Rate: dec("0.07"), MaxShare: dec("0.33"), MoneyScale: new(int32(1))}
		d.Exchanges = []points.Exchange{{From: "mall", To: "park", Rate: dec("0.37")}, {From: "park", To: "mall", Rate: dec("2.6")}}
		buy := ptsBuy
		buy.Validity = rule.Validity{Kind: rule.DaysAfter, N: 5}
		pend := ptsBuy
		pend.ID, pend.PendingDays, pend.Formula.Rate = "pend", 2, dec("0.5")
		pend.Conditions = []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("30")}}
		pend.Validity = rule.Validity{Kind: rule.DaysAfter, N: 10}
		park := ptsBuy
		park.ID, park.Program, park.Formula.Rate = "park", "park", dec("0.73")
		park.Validity = rule.Validity{Kind: rule.DaysAfter, N: 3}
		visit := points.Rule{ID: "visit", Program: "park", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("12.5")}, PendingDays: 1,
			Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}}
		d.Rules = []points.Rule{buy, pend, park, visit}
	})
}

// TestReconciliationProperty runs seeded random sequences of every points
// operation (orders earning spendable and pending points, partial
// refunds, redemptions and points + cash payments, partial and whole
// reversals, Advance expiring and releasing, adjustments waiting for
// approval then approved or rejected, frozen days restored or voided,
// exchanges both ways, erasures) and after each step checks, per program,
// to the last decimal: Verify; the identity balance = opening + earned −
// redeemed + reversed − expired − voided + adjusted + exchanged against
// the pools (Reconciliation.Holds); the members' balances summing to it;
// the members' statements summing, kind by kind, to the reconciliation's
// totals, every amount at the program's scale; the open spendable lots
// (Expiring) summing to Available. At the end the days' totals add up to
// the whole. On store/memory and store/bolt, and on PostgreSQL when
// MEMBERSHIP_PG_DSN is set.
func TestReconciliationProperty(t *testing.T) {
	stores := map[string]func(t *testing.T) store.Store{
		"memory": func(t *testing.T) store.Store { return memoryStore() },
		"bolt":   func(t *testing.T) store.Store { return testkit.BoltStore(t) },
	}
	if dsn := os.Getenv("MEMBERSHIP_PG_DSN"); dsn != "" {
		stores["postgres"] = func(t *testing.T) store.Store {
			ctx := context.Background()
			schema := fmt.Sprintf("points_recon_%d_%s", os.Getpid(), strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_"))
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			drop := func() { conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") }
			drop()
			t.Cleanup(func() { drop(); conn.Close(ctx) })
			st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}
	seeds, steps := []uint64{1, 2}, 150
	if testing.Short() {
		seeds, steps = seeds[:1], 60
	}
	for name, open := range stores {
		for _, seed := range seeds {
			t.Run(fmt.Sprint(name, "/", seed), func(t *testing.T) {
				p, err := membership.Open(open(t), reconDef())
				if err != nil {
					t.Fatal(err)
				}
				reconRun(t, p, seed, steps)
			})
		}
	}
}

// reconRun runs steps random operations of seed on p, checking the books
// after each (reconCheck).
func reconRun(t *testing.T, p *membership.Program, seed uint64, steps int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 11))
	members := []string{"m1", "m2", "m3"}
	erased := map[string]bool{}
	now := ptsAt("2026-01-30 09:00")
	var orders []event.Event
	type red struct{ prog, ref string }
	var reds []red
	var adjs []string
	pick := func() string {
		for {
			m := members[rng.IntN(len(members))]
			if !erased[m] {
				return m
			}
		}
	}
	progs := []string{"mall", "park"}
	ok := func(err error, allowed ...error) error {
		if err == nil {
			return nil
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return nil
			}
		}
		return err
	}
	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(20*60)) * time.Minute)
		id := fmt.Sprintf("s%d", step)
		var err error
		op := ""
		switch rng.IntN(14) {
		case 0, 1:
			op = "order"
			ev := ptsOrder(id, pick(), fmt.Sprintf("%d.%02d", 1+rng.IntN(60), rng.IntN(100)), now)
			_, err = p.Process(ctx, ev)
			orders = append(orders, ev)
		case 2:
			op = "visit"
			_, err = p.Process(ctx, ptsVisit(id, pick(), now))
		case 3:
			op = "refund"
			if len(orders) == 0 {
				continue
			}
			o := orders[rng.IntN(len(orders))]
			if erased[o.Member] {
				continue
			}
			amt, _ := o.Decimal("amount")
			part := amt.Mul(decimal.NewFromInt(int64(1 + rng.IntN(100)))).Div(decimal.NewFromInt(100)).Round(2)
			oid, _ := o.String("order_id")
			// Random parts add up past the order now and then: refused.
			_, err = p.Process(ctx, ptsRefund(id, o.Member, oid, part.String(), now))
			err = ok(err, event.ErrRefundExceedsOrder)
		case 4, 5:
			op = "redeem"
			prog := progs[rng.IntN(2)]
			req := points.RedeemRequest{RequestID: id, Program: prog, Member: pick(), Ref: id, At: now}
			if rng.IntN(2) == 0 {
				req.Order = decimal.NewFromInt(int64(1 + rng.IntN(5000))).Shift(-2)
				if prog == "park" {
					req.Order = req.Order.Round(1)
				}
				if rng.IntN(3) == 0 {
					req.Amount = decimal.NewFromInt(int64(1 + rng.IntN(30)))
				}
			} else {
				req.Amount = decimal.NewFromInt(int64(1 + rng.IntN(40)))
				if prog == "park" {
					req.Amount = req.Amount.Shift(-1).Mul(decimal.NewFromInt(3))
				}
			}
			_, err = p.Points().Redeem(ctx, req)
			if err == nil {
				reds = append(reds, red{prog, id})
			}
			err = ok(err, ledger.ErrInsufficientBalance, points.ErrInvalidAmount)
		case 6:
			op = "reverse"
			if len(reds) == 0 {
				continue
			}
			r := reds[rng.IntN(len(reds))]
			rd, e := p.Points().Redemption(ctx, points.RedemptionQuery{Program: r.prog, Ref: r.ref})
			if e != nil {
				t.Fatal(e)
			}
			if erased[rd.Member] || !rd.Remaining().IsPositive() {
				continue
			}
			req := points.ReverseRequest{RequestID: id, Program: r.prog, Ref: r.ref, At: now}
			if rng.IntN(2) == 0 {
				sc := int32(0)
				if r.prog == "park" {
					sc = 1
				}
				req.Amount = rd.Remaining().Mul(decimal.NewFromInt(int64(1 + rng.IntN(100)))).Div(decimal.NewFromInt(100)).RoundDown(sc)
				if req.Amount.IsZero() {
					continue
				}
			}
			_, err = p.Points().Reverse(ctx, req)
		case 7:
			op = "advance"
			now = now.Add(time.Duration(rng.IntN(3*24)) * time.Hour)
			_, err = p.Advance(ctx, now)
		case 8:
			op = "adjust"
			prog := progs[rng.IntN(2)]
			amt := decimal.NewFromInt(int64(rng.IntN(120) - 60))
			if prog == "park" {
				amt = amt.Shift(-1)
			}
			if amt.IsZero() {
				continue
			}
			_, err = p.Points().Adjust(ctx, points.AdjustRequest{RequestID: id, Program: prog, Member: pick(), Amount: amt, Note: "why", Operator: "alice", At: now})
			if err == nil {
				adjs = append(adjs, id)
			}
			err = ok(err, ledger.ErrInsufficientBalance)
		case 9:
			op = "decide"
			if len(adjs) == 0 {
				continue
			}
			a := adjs[rng.IntN(len(adjs))]
			adj, e := p.Points().Adjustment(ctx, a)
			if e != nil {
				t.Fatal(e)
			}
			if adj.State != points.AdjustmentPending || erased[adj.Member] {
				continue
			}
			req := points.DecideRequest{RequestID: id, Adjustment: a, Operator: "bob", At: now}
			if rng.IntN(3) > 0 {
				_, err = p.Points().Approve(ctx, req)
				err = ok(err, ledger.ErrInsufficientBalance)
			} else {
				_, err = p.Points().Reject(ctx, req)
			}
		case 10:
			op = "review"
			rvs, e := p.Points().Reviews(ctx, "park", 0)
			if e != nil {
				t.Fatal(e)
			}
			if len(rvs) == 0 {
				continue
			}
			rv := rvs[rng.IntN(len(rvs))]
			if erased[rv.Member] {
				continue
			}
			req := points.ReviewRequest{RequestID: id, Program: "park", Member: rv.Member, Date: rv.Date, Operator: "carol", At: now}
			if rng.IntN(2) == 0 {
				_, err = p.Points().Restore(ctx, req)
			} else {
				_, err = p.Points().Void(ctx, req)
			}
		case 11, 12:
			op = "exchange"
			from, to := "mall", "park"
			amt := decimal.NewFromInt(int64(1 + rng.IntN(30)))
			if rng.IntN(2) == 0 {
				from, to = to, from
				amt = amt.Shift(-1)
			}
			_, err = p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: pick(), From: from, To: to, Amount: amt, At: now})
			err = ok(err, ledger.ErrInsufficientBalance, points.ErrExchangeTooSmall)
		case 13:
			op = "erase"
			if rng.IntN(8) != 0 || len(erased) == len(members)-1 {
				continue
			}
			m := pick()
			_, err = p.Erase(ctx, membership.EraseRequest{RequestID: id, Member: m, Operator: "dpo", At: now})
			erased[m] = true
		}
		if err != nil {
			t.Fatalf("step %d %s: %v", step, op, err)
		}
		reconCheck(t, p, members, now, fmt.Sprintf("step %d %s", step, op))
	}
	// Day by day totals add up to the whole.
	for _, prog := range progs {
		whole, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: prog})
		if err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		for d := ptsAt("2026-01-29"); d.Before(now.AddDate(0, 0, 2)); d = d.AddDate(0, 0, 1) {
			day := d.Format(time.DateOnly)
			r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: prog, From: day, To: day})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Holds() {
				t.Fatalf("%s %s: %+v", prog, day, r)
			}
			sum = sum.Add(r.Change)
		}
		if !sum.Equal(whole.Change) {
			t.Fatalf("%s: days sum to %s, whole %s", prog, sum, whole.Change)
		}
	}
}

// reconCheck checks the books of p's programs at now (see
// TestReconciliationProperty); at names the step in failures.
func reconCheck(t *testing.T, p *membership.Program, members []string, now time.Time, at string) {
	t.Helper()
	ctx := context.Background()
	if err := p.Verify(ctx); err != nil {
		t.Fatalf("%s: Verify: %v", at, err)
	}
	for _, prog := range []string{"mall", "park"} {
		r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: prog})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Holds() {
			t.Fatalf("%s: %s: identity fails %+v %s", at, prog, r, r.Outstanding)
		}
		byKind := map[ledger.Kind]decimal.Decimal{}
		total := decimal.Zero
		var sum points.Totals // the members' Totals, field by field
		for _, m := range members {
			b := ptsBalance(t, p, prog, m, now)
			total = total.Add(b.Total())
			tt, err := p.Points().Totals(ctx, points.TotalsQuery{Program: prog, Member: m})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.Change.Equal(b.Total()) {
				t.Fatalf("%s: %s %s: totals change %s, balance %s (%+v)", at, prog, m, tt.Change, b.Total(), tt)
			}
			for _, f := range []struct{ to, v *decimal.Decimal }{{&sum.Opening, &tt.Opening}, {&sum.Earned, &tt.Earned},
				{&sum.Redeemed, &tt.Redeemed}, {&sum.Reversed, &tt.Reversed}, {&sum.Expired, &tt.Expired}, {&sum.Voided, &tt.Voided},
				{&sum.Adjusted, &tt.Adjusted}, {&sum.Exchanged, &tt.Exchanged}, {&sum.Change, &tt.Change}} {
				*f.to = f.to.Add(*f.v)
			}
			if b.Available.GreaterThan(b.Main) || b.Main.IsNegative() || b.Pending.IsNegative() || b.Frozen.IsNegative() {
				t.Fatalf("%s: %s %s: %+v", at, prog, m, b)
			}
			lots, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: prog, Member: m, From: now, Days: 400})
			if err != nil {
				t.Fatal(err)
			}
			open := decimal.Zero
			for _, l := range lots {
				if l.Sub == "" {
					open = open.Add(l.Amount)
				}
			}
			if !open.Equal(b.Available) {
				t.Fatalf("%s: %s %s: lots expiring after now hold %s, available %s", at, prog, m, open, b.Available)
			}
			for _, sub := range points.Subs {
				q := points.StatementQuery{Program: prog, Member: m, Sub: sub, Limit: 1000}
				for {
					page, err := p.Points().Statement(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range page.Entries {
						byKind[e.Kind] = byKind[e.Kind].Add(e.Amount)
						if e.Amount.Exponent() < -1 || (prog == "mall" && !e.Amount.Equal(e.Amount.Truncate(0))) {
							t.Fatalf("%s: %s %s entry %+v beyond the program's scale", at, prog, m, e)
						}
					}
					if page.Next == "" {
						break
					}
					q.Cursor = page.Next
				}
			}
		}
		if !total.Equal(*r.Outstanding) {
			t.Fatalf("%s: %s: members hold %s, outstanding %s", at, prog, total, r.Outstanding)
		}
		rt := points.Totals{Opening: r.Opening, Earned: r.Earned, Redeemed: r.Redeemed, Reversed: r.Reversed, Expired: r.Expired,
			Voided: r.Voided, Adjusted: r.Adjusted, Exchanged: r.Exchanged, Change: r.Change}
		if !cmp.Equal(rt, sum) {
			t.Fatalf("%s: %s: the members' totals add up to %+v, the reconciliation's are %+v", at, prog, sum, rt)
		}
		want := map[ledger.Kind]decimal.Decimal{points.KindEarned: r.Earned, points.KindRedeemed: r.Redeemed.Neg(), points.KindReversed: r.Reversed,
			points.KindExpired: r.Expired.Neg(), points.KindVoided: r.Voided.Neg(), points.KindAdjusted: r.Adjusted, points.KindExchanged: r.Exchanged}
		for k, v := range byKind {
			if w, ok := want[k]; ok {
				if !w.Equal(v) {
					t.Fatalf("%s: %s: statements sum %s to %s, reconciliation %s", at, prog, k, v, w)
				}
			} else if !v.IsZero() && !slices.Contains([]ledger.Kind{points.KindReleased, points.KindFrozen, points.KindRestored}, k) {
				t.Fatalf("%s: %s: kind %s sums to %s", at, prog, k, v)
			}
		}
	}
}
