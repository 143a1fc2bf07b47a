package membership_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// The model-based test below drives one program through a seeded random
// mix of public calls and checks, after each step, that every balance
// change is kept in a ledger that reconciles: the hammer tests race a
// few calls at a time, this one runs many kinds of call in sequence and
// compares the program with a model simple enough to be right by
// construction.

// modelSeed and modelSteps fix the run: the same seed gives the same
// calls on every store.
const (
	modelSeed  = 20260302
	modelSteps = 260
)

// modelDef is the program the model drives: orders earning points (capped
// per day, valid ten days) and a pending bonus, refunds of orders,
// stored value, adjustments above 50 points needing approval, two coupon
// templates, a three-level ladder whose terms end within weeks, with
// points and coupon gifts, a check-in task and a first-order task.
func modelDef() membership.Definition {
	dec := testkit.Dec
	above := dec("50")
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	order := append(slices.Clone(amount), event.Attr{Name: "order_id", Kind: event.String, Required: true})
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: order},
			{Name: "return", Attributes: order},
			{Name: "recharge", Attributes: amount},
			{Name: "pay", Attributes: amount},
			{Name: "vrefund", Attributes: amount},
			{Name: "check_in"},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "basic", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "silver", Upgrade: dec("300"), Retention: dec("150"), Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}, Window: 1,
					Downgrade: level.NextLower, Gifts: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("20")}}},
				{Name: "gold", Upgrade: dec("1200"), Retention: dec("500"), Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1}, Window: 1,
					Downgrade: level.NextLower, Gifts: []rule.Reward{{Kind: rule.RewardCoupon, Template: "ten"}}},
			},
			Growth:  []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}, Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
			Refunds: []level.RefundRule{{ID: "return", Event: "return", Order: "order_id", Amount: "amount"}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", ApprovalAbove: &above, Validity: rule.Validity{Kind: rule.DaysAfter, N: 20}}},
			Rules: []points.Rule{
				{ID: "buy", Program: "mall", Event: "order", Order: "order_id", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
					Validity: rule.Validity{Kind: rule.DaysAfter, N: 10}, Caps: rule.Caps{{Period: rule.Day, Limit: dec("400")}}},
				{ID: "bonus", Program: "mall", Event: "order", Order: "order_id", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("5")},
					Validity: rule.Validity{Kind: rule.DaysAfter, N: 10}, PendingDays: 3},
			},
			Refunds: []points.Refund{{Event: "return", Order: "order_id", Amount: "amount"}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Refund: "vrefund", Amount: "amount"},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "five", Type: coupon.Cash, Amount: dec("5"), Stock: 40, Claim: coupon.ClaimRule{PerMember: 8},
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 5}}},
			{Name: "ten", Type: coupon.Cash, Amount: dec("10"), MinOrder: dec("50"), Stock: 20,
				Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Self, coupon.System}, PerMember: 4},
				Use:   coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 10}}},
		}},
		Tasks: &task.Definition{Tasks: []task.Task{
			{Name: "check3", Kind: task.Repeat, Times: 3, Steps: []task.Step{{Event: "check_in"}},
				Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("15")}},
				Limits:  rule.Caps{{Period: rule.Week, Limit: dec("1")}}},
			{Name: "first", Kind: task.One, Steps: []task.Step{{Event: "order"}},
				Rewards: []rule.Reward{{Kind: rule.RewardCoupon, Template: "five"}},
				Limits:  rule.Caps{{Period: rule.Total, Limit: dec("1")}}},
		}},
	}
}

// TestModelRandomOperations runs modelSteps seeded random calls on
// memory, bolt (closed and reopened midway) and PostgreSQL (when
// MEMBERSHIP_PG_DSN is set), checking the ledger, the feed, the daily
// totals and the report against the model after every step. A failure
// names the seed and the step; the calls before it are in the log.
func TestModelRandomOperations(t *testing.T) {
	def := modelDef()
	ctx := context.Background()
	t.Run("memory", func(t *testing.T) {
		st := memory.New()
		runModel(t, modelSeed, modelSteps, def, func() store.Store { return st }, nil)
	})
	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "membership.db")
		var st *bolt.DB
		open := func() store.Store {
			var err error
			if st, err = bolt.Open(path, nil); err != nil {
				t.Fatal(err)
			}
			return st
		}
		t.Cleanup(func() { st.Close() })
		runModel(t, modelSeed, modelSteps, def, open, func() {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		})
	})
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		schema := fmt.Sprintf("model_%d_%d", os.Getpid(), hammerSchemas.Add(1))
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
		var st *postgres.Store
		open := func() store.Store {
			var err error
			if st, err = postgres.Open(ctx, dsn, &postgres.Options{Schema: schema}); err != nil {
				t.Fatal(err)
			}
			return st
		}
		t.Cleanup(func() { st.Close() })
		runModel(t, modelSeed, modelSteps, def, open, func() { st.Close() })
	})
}

// model is the test's own account of the program, and the random run.
type model struct {
	t     *testing.T
	ctx   context.Context
	r     *rand.Rand
	p     *membership.Program
	seed  uint64
	steps int
	step  int
	now   time.Time
	first time.Time

	members []string
	erased  string // the member erased near the end, once erased

	// value is each member's stored value: recharges − pays + refunds;
	// spent and refunded bound the refunds.
	value, spent, refunded map[string]decimal.Decimal
	// points is each member's points (main, pending and frozen), the sum
	// of the signed amounts of the points changes in the feed.
	points map[string]decimal.Decimal

	orders      []*modelOrder
	earned      map[modelDay]decimal.Decimal // rule buy's grants net of refunds
	granted     map[string]modelDay          // the day of each order's grant
	redemptions []*modelRedemption
	pendingAdj  []string // adjustments waiting for approval
	locked      []string // orders holding locked coupons

	// expect holds, by the ID of their event or request, the changes of
	// accepted outcomes the feed has not shown yet (under "" the due work
	// a call performed first, dated before it); after is the feed's last seq
	// read, and ids every ID an outcome was accepted for.
	expect map[string][]change.Change
	ids    map[string]bool
	after  uint64
	feed   int

	retries []modelRetry
	ops     int // IDs handed out
}

type modelOrder struct {
	id, member   string
	amount, left decimal.Decimal // left: not yet refunded
}

type modelDay struct{ member, date string }

type modelRedemption struct {
	ref, member string
	at          time.Time
	left        decimal.Decimal // not yet reversed
}

// modelRetry is an accepted call, to send again.
type modelRetry struct {
	what   string
	member string
	at     time.Time
	first  *change.Outcome
	call   func() (*change.Outcome, error)
	// other sends other content under the same ID (nil: not tried).
	other func() (*change.Outcome, error)
}

func runModel(t *testing.T, seed uint64, steps int, def membership.Definition, open func() store.Store, closeStore func()) {
	ctx := context.Background()
	m := &model{t: t, ctx: ctx, r: rand.New(rand.NewPCG(seed, 1)), seed: seed, steps: steps,
		now:     time.Date(2026, 3, 2, 9, 0, 0, 0, testkit.Shanghai),
		members: []string{"m0", "m1", "m2", "m3"},
		value:   map[string]decimal.Decimal{}, spent: map[string]decimal.Decimal{}, refunded: map[string]decimal.Decimal{},
		points: map[string]decimal.Decimal{}, earned: map[modelDay]decimal.Decimal{}, granted: map[string]modelDay{}, expect: map[string][]change.Change{}, ids: map[string]bool{}}
	m.first = m.now
	m.p = m.open(def, open())
	defer func() {
		if t.Failed() {
			t.Logf("seed %d, failed at step %d of %d", seed, m.step, steps)
		}
	}()
	eraseAt := steps * 85 / 100
	for m.step = 1; m.step <= steps && !t.Failed(); m.step++ {
		switch {
		case m.step == steps/2 && closeStore != nil:
			m.logf("close the store and open it again")
			closeStore()
			m.p = m.open(def, open())
		case m.step == eraseAt:
			m.erase("m3")
		default:
			m.randomCall()
		}
		m.checkFeed()
		m.checkBalances()
		if m.step%40 == 0 {
			m.checkTotals()
		}
	}
	if !t.Failed() {
		m.checkTotals()
	}
}

func (m *model) open(def membership.Definition, st store.Store) *membership.Program {
	p, err := membership.Open(st, def)
	if err != nil {
		m.t.Fatal(err)
	}
	return p
}

func (m *model) logf(format string, args ...any) {
	m.t.Helper()
	m.t.Logf("step %d (%s): %s", m.step, m.now.Format("01-02 15:04"), fmt.Sprintf(format, args...))
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("seed %d step %d (%s): %s", m.seed, m.step, m.now.Format("2006-01-02 15:04"), fmt.Sprintf(format, args...))
}

func (m *model) id(prefix string) string {
	m.ops++
	return fmt.Sprintf("%s-%d", prefix, m.ops)
}

// member picks a member not erased.
func (m *model) member() string {
	for {
		if id := m.members[m.r.IntN(len(m.members))]; id != m.erased {
			return id
		}
	}
}

// eventTime is now, or one time in five up to two days before it: a late
// event, which may come before what Advance has performed.
func (m *model) eventTime() time.Time {
	if m.r.IntN(5) > 0 {
		return m.now
	}
	at := m.now.Add(-time.Duration(m.r.IntN(48*60)) * time.Minute)
	if at.Before(m.first) {
		return m.first
	}
	return at
}

// money is an amount in cents up to max yuan.
func (m *model) money(max int) decimal.Decimal {
	return decimal.New(int64(1+m.r.IntN(max*100)), -2)
}

func (m *model) randomCall() {
	// Time moves on by up to six hours a step, now and then by days.
	m.now = m.now.Add(time.Duration(m.r.IntN(6*60)) * time.Minute)
	if m.r.IntN(20) == 0 {
		m.now = m.now.Add(time.Duration(1+m.r.IntN(3)) * 24 * time.Hour)
	}
	switch n := m.r.IntN(100); {
	case n < 16:
		m.order()
	case n < 24:
		m.refundOrder()
	case n < 32:
		m.valueEvent("recharge")
	case n < 40:
		m.valueEvent("pay")
	case n < 44:
		m.valueEvent("vrefund")
	case n < 50:
		m.redeem()
	case n < 54:
		m.reverse()
	case n < 59:
		m.adjust()
	case n < 62:
		m.decide()
	case n < 66:
		m.claim()
	case n < 70:
		m.lock()
	case n < 74:
		m.useOrRelease()
	case n < 76:
		m.setLevel()
	case n < 80:
		m.checkIn()
	case n < 84:
		m.batch()
	case n < 90:
		m.advance()
	default:
		m.retry()
	}
}

// accepted records an accepted call's outcome: its changes are expected
// in the feed, once.
func (m *model) accepted(what, member string, out *change.Outcome, call func() (*change.Outcome, error)) {
	m.t.Helper()
	if out == nil {
		m.fatalf("%s: no outcome", what)
	}
	if out.Duplicate {
		m.fatalf("%s: a new call answered as a Duplicate", what)
	}
	if m.ids[out.Event] {
		m.fatalf("%s: outcome of %s accepted twice", what, out.Event)
	}
	m.ids[out.Event] = true
	m.checkEarning(out)
	for _, c := range out.Changes {
		m.expect[c.Event] = append(m.expect[c.Event], c)
	}
	m.retries = append(m.retries, modelRetry{what: what, member: member, at: m.now, first: out, call: call})
}

// checkEarning checks an outcome's grants of the rule "buy" against what
// the rule allows, computed apart: at most the order's amount in whole
// points, and at most 400 a member's day (the cap), net of what refunds
// reversed, which gives its cap room back on the grant's day (package
// points, Caps).
func (m *model) checkEarning(out *change.Outcome) {
	m.t.Helper()
	for _, c := range out.Changes {
		if c.Reason == nil || c.Reason.Rule != "buy" || (c.Kind != points.ChangeEarned && c.Kind != points.ChangeReversed) {
			continue
		}
		var pc points.Change
		if err := c.Decode(&pc); err != nil {
			m.fatalf("%s: %v", out.Event, err)
		}
		if c.Kind == points.ChangeReversed {
			day := m.granted[pc.Ref]
			m.earned[day] = m.earned[day].Add(pc.Amount).Sub(pc.Shortfall).Sub(pc.Lapsed)
			continue
		}
		if o := m.orderOf(out.Event); o != nil && pc.Amount.GreaterThan(o.amount.Floor()) {
			m.fatalf("order %s of %s earned %s points", o.id, o.amount, pc.Amount)
		}
		day := modelDay{c.Member, c.Time.In(m.p.Location()).Format(time.DateOnly)}
		m.granted[out.Event] = day
		m.earned[day] = m.earned[day].Add(pc.Amount)
		if m.earned[day].GreaterThan(decimal.NewFromInt(400)) {
			m.fatalf("%s earned %s points of rule buy on %s net of refunds, above the cap of 400", c.Member, m.earned[day], day.date)
		}
	}
}

// refused checks that a refusal is one of the errors allowed and wrote
// nothing: the feed shows nothing new (checkFeed, after the step).
func (m *model) refused(what string, err error, allowed ...error) {
	m.t.Helper()
	for _, a := range allowed {
		if errors.Is(err, a) {
			m.logf("%s refused: %v", what, err)
			return
		}
	}
	m.fatalf("%s: %v", what, err)
}

func (m *model) process(what string, ev event.Event, allowed ...error) bool {
	m.t.Helper()
	call := func() (*change.Outcome, error) { return m.p.Process(m.ctx, ev) }
	out, err := call()
	if err != nil {
		m.refused(what, err, allowed...)
		return false
	}
	m.logf("%s", what)
	m.accepted(what, ev.Member, out, call)
	m.withOther(ev)
	return true
}

// withOther lets the last accepted call, the event ev, be sent again a
// minute later under its ID: other content.
func (m *model) withOther(ev event.Event) {
	other := ev
	other.Time = ev.Time.Add(time.Minute)
	m.retries[len(m.retries)-1].other = func() (*change.Outcome, error) { return m.p.Process(m.ctx, other) }
}

func (m *model) order() {
	mem, amt := m.member(), m.money(600)
	o := &modelOrder{id: m.id("o"), member: mem, amount: amt, left: amt}
	ev := event.Event{ID: o.id, Member: mem, Type: "order", Time: m.eventTime(),
		Attrs: event.Attrs{"amount": event.Dec(amt), "order_id": event.Str(o.id)}}
	m.orders = append(m.orders, o) // before the outcome, which checkEarning checks against it
	m.process(fmt.Sprintf("order %s of %s by %s at %s", o.id, amt, mem, ev.Time.Format("01-02 15:04")), ev)
}

// orderOf returns the order of ID id, or nil.
func (m *model) orderOf(id string) *modelOrder {
	for _, o := range m.orders {
		if o.id == id {
			return o
		}
	}
	return nil
}

// refundOrder refunds an earlier order, in whole or in part.
func (m *model) refundOrder() {
	var open []*modelOrder
	for _, o := range m.orders {
		if o.member != m.erased && o.left.IsPositive() {
			open = append(open, o)
		}
	}
	if len(open) == 0 {
		return
	}
	o := open[m.r.IntN(len(open))]
	amt := o.left
	if m.r.IntN(2) == 0 {
		amt = decimal.New(1+m.r.Int64N(o.left.Shift(2).IntPart()), -2)
	}
	ev := event.Event{ID: m.id("ret"), Member: o.member, Type: "return", Time: m.now,
		Attrs: event.Attrs{"amount": event.Dec(amt), "order_id": event.Str(o.id)}}
	if m.process(fmt.Sprintf("return %s of order %s (%s left) by %s", amt, o.id, o.left, o.member), ev) {
		o.left = o.left.Sub(amt)
	}
}

// valueEvent sends a recharge, a pay or a value refund; the model says
// whether it must be refused.
func (m *model) valueEvent(kind string) {
	mem, amt := m.member(), m.money(300)
	ev := event.Event{ID: m.id(kind), Member: mem, Type: kind, Time: m.eventTime(), Attrs: event.Attrs{"amount": event.Dec(amt)}}
	what := fmt.Sprintf("%s %s by %s at %s (balance %s)", kind, amt, mem, ev.Time.Format("01-02 15:04"), m.value[mem])
	var bad error
	switch {
	case kind == "pay" && amt.GreaterThan(m.value[mem]):
		bad = ledger.ErrInsufficientBalance
	case kind == "vrefund" && m.refunded[mem].Add(amt).GreaterThan(m.spent[mem]):
		bad = value.ErrRefundExceedsSpend
	}
	out, err := m.p.Process(m.ctx, ev)
	if bad != nil {
		if err == nil {
			m.fatalf("%s: taken, want %v", what, bad)
		}
		m.refused(what, err, bad)
		return
	}
	if err != nil {
		m.fatalf("%s: %v", what, err)
	}
	m.logf("%s", what)
	m.accepted(what, mem, out, func() (*change.Outcome, error) { return m.p.Process(m.ctx, ev) })
	m.withOther(ev)
	m.valueApplied(ev)
}

// valueApplied adds an accepted stored-value event to the model.
func (m *model) valueApplied(ev event.Event) {
	amt, _ := ev.Decimal("amount")
	switch ev.Type {
	case "recharge":
		m.value[ev.Member] = m.value[ev.Member].Add(amt)
	case "pay":
		m.value[ev.Member] = m.value[ev.Member].Sub(amt)
		m.spent[ev.Member] = m.spent[ev.Member].Add(amt)
	case "vrefund":
		m.value[ev.Member] = m.value[ev.Member].Add(amt)
		m.refunded[ev.Member] = m.refunded[ev.Member].Add(amt)
	}
}

func (m *model) pointsBalance(mem string) points.Balance {
	m.t.Helper()
	b, err := m.p.Points().Balance(m.ctx, points.BalanceQuery{Program: "mall", Member: mem, At: m.now})
	if err != nil {
		m.fatalf("points balance of %s: %v", mem, err)
	}
	return b
}

// redeem spends up to 20 points more than the member can: beyond what is
// available it must be refused.
func (m *model) redeem() {
	mem := m.member()
	avail := m.pointsBalance(mem).Available
	amt := decimal.NewFromInt(1 + m.r.Int64N(avail.IntPart()+20))
	req := points.RedeemRequest{RequestID: m.id("rd"), Member: mem, At: m.now, Program: "mall", Ref: m.id("item"), Amount: amt}
	what := fmt.Sprintf("redeem %s of %s's %s available", amt, mem, avail)
	call := func() (*change.Outcome, error) {
		res, err := m.p.Points().Redeem(m.ctx, req)
		return res.Outcome, err
	}
	out, err := call()
	if amt.GreaterThan(avail) {
		if err == nil {
			m.fatalf("%s: taken", what)
		}
		m.refused(what, err, ledger.ErrInsufficientBalance)
		return
	}
	if err != nil {
		m.fatalf("%s: %v", what, err)
	}
	m.logf("%s", what)
	m.accepted(what, mem, out, call)
	m.redemptions = append(m.redemptions, &modelRedemption{ref: req.Ref, member: mem, at: m.now, left: amt})
}

// reverse reverses an earlier redemption, in whole or in part.
func (m *model) reverse() {
	var open []*modelRedemption
	for _, rd := range m.redemptions {
		if rd.member != m.erased && rd.left.IsPositive() {
			open = append(open, rd)
		}
	}
	if len(open) == 0 {
		return
	}
	rd := open[m.r.IntN(len(open))]
	req := points.ReverseRequest{RequestID: m.id("rev"), Operator: "op.a", At: m.now, Program: "mall", Ref: rd.ref}
	amt := rd.left
	if m.r.IntN(2) == 0 {
		amt = decimal.NewFromInt(1 + m.r.Int64N(rd.left.IntPart()))
		req.Amount = amt
	}
	what := fmt.Sprintf("reverse %s of redemption %s (%s left) by %s", amt, rd.ref, rd.left, rd.member)
	call := func() (*change.Outcome, error) { return m.p.Points().Reverse(m.ctx, req) }
	out, err := call()
	if err != nil {
		m.fatalf("%s: %v", what, err)
	}
	m.logf("%s", what)
	m.accepted(what, rd.member, out, call)
	rd.left = rd.left.Sub(amt)
}

// adjust credits or debits up to 80 points: above 50 it waits for
// approval; a debit beyond what is available is refused.
func (m *model) adjust() {
	mem := m.member()
	amt := decimal.NewFromInt(1 + m.r.Int64N(80))
	if m.r.IntN(3) == 0 {
		amt = amt.Neg()
	}
	avail := m.pointsBalance(mem).Available
	req := points.AdjustRequest{RequestID: m.id("adj"), Member: mem, Operator: "op.a", Note: "goodwill", At: m.now, Program: "mall", Amount: amt}
	what := fmt.Sprintf("adjust %s of %s (%s available)", amt, mem, avail)
	call := func() (*change.Outcome, error) {
		res, err := m.p.Points().Adjust(m.ctx, req)
		return res.Outcome, err
	}
	res, err := m.p.Points().Adjust(m.ctx, req)
	pending := amt.Abs().GreaterThan(decimal.NewFromInt(50))
	if !pending && amt.Neg().GreaterThan(avail) {
		if err == nil {
			m.fatalf("%s: taken", what)
		}
		m.refused(what, err, ledger.ErrInsufficientBalance)
		return
	}
	if err != nil {
		m.fatalf("%s: %v", what, err)
	}
	if got := res.Adjustment.State == points.AdjustmentPending; got != pending {
		m.fatalf("%s: pending %v, want %v", what, got, pending)
	}
	m.logf("%s", what)
	m.accepted(what, mem, res.Outcome, call)
	if pending {
		m.pendingAdj = append(m.pendingAdj, req.RequestID)
	}
}

// decide approves (or now and then rejects) a pending adjustment; an
// approved debit the balance no longer covers stays pending.
func (m *model) decide() {
	if len(m.pendingAdj) == 0 {
		return
	}
	i := m.r.IntN(len(m.pendingAdj))
	adj, err := m.p.Points().Adjustment(m.ctx, m.pendingAdj[i])
	if err != nil {
		m.fatalf("adjustment %s: %v", m.pendingAdj[i], err)
	}
	if adj.Member == m.erased {
		return
	}
	req := points.DecideRequest{RequestID: m.id("dec"), Operator: "op.b", At: m.now, Adjustment: adj.ID}
	verb := "approve"
	if m.r.IntN(4) == 0 {
		verb = "reject"
	}
	// The call reads m.p when made: a retry may come after a reopening.
	decide := func(ctx context.Context, req points.DecideRequest) (*change.Outcome, error) {
		if verb == "reject" {
			return m.p.Points().Reject(ctx, req)
		}
		return m.p.Points().Approve(ctx, req)
	}
	what := fmt.Sprintf("%s adjustment %s of %s by %s (%s available)", verb, adj.ID, adj.Amount, adj.Member, m.pointsBalance(adj.Member).Available)
	call := func() (*change.Outcome, error) { return decide(m.ctx, req) }
	out, err := call()
	if err != nil {
		m.refused(what, err, ledger.ErrInsufficientBalance)
		return
	}
	m.logf("%s", what)
	m.accepted(what, adj.Member, out, call)
	m.pendingAdj = slices.Delete(m.pendingAdj, i, i+1)
}

func (m *model) claim() {
	mem := m.member()
	tmpl := []string{"five", "ten"}[m.r.IntN(2)]
	req := coupon.ClaimRequest{RequestID: m.id("claim"), Member: mem, At: m.now, Template: tmpl}
	what := fmt.Sprintf("claim %s by %s", tmpl, mem)
	call := func() (*change.Outcome, error) {
		res, err := m.p.Coupons().Claim(m.ctx, req)
		return res.Outcome, err
	}
	out, err := call()
	if err != nil {
		m.refused(what, err, coupon.ErrOutOfStock, coupon.ErrLimitReached)
		return
	}
	m.logf("%s", what)
	m.accepted(what, mem, out, call)
}

// lock locks one of the member's coupons for a new order; a coupon past
// its validity (not yet expired by Advance) or one the order's amount
// does not reach may be refused.
func (m *model) lock() {
	mem := m.member()
	cs, err := m.p.Coupons().List(m.ctx, mem)
	if err != nil {
		m.fatalf("coupons of %s: %v", mem, err)
	}
	var free []coupon.Coupon
	for _, c := range cs {
		if c.State == coupon.Available {
			free = append(free, c)
		}
	}
	if len(free) == 0 {
		return
	}
	c := free[m.r.IntN(len(free))]
	req := coupon.LockRequest{RequestID: m.id("lock"), Coupons: []string{c.ID}, Hold: time.Duration(1+m.r.IntN(12)) * time.Hour,
		Order: coupon.Order{ID: m.id("co"), Member: mem, Time: m.now, Lines: []coupon.Line{{Product: "tea", Amount: m.money(120)}}}}
	what := fmt.Sprintf("lock %s (%s, expires %s) for %s of %s", c.ID, c.Template, c.Expires.Format("01-02 15:04"), req.Order.ID, req.Order.Lines[0].Amount)
	call := func() (*change.Outcome, error) {
		res, err := m.p.Coupons().Lock(m.ctx, req)
		return res.Outcome, err
	}
	out, err := call()
	if err != nil {
		m.refused(what, err, coupon.ErrNotApplicable, coupon.ErrState)
		return
	}
	m.logf("%s", what)
	m.accepted(what, mem, out, call)
	m.locked = append(m.locked, req.Order.ID)
}

// useOrRelease pays or cancels an order holding locked coupons; its hold
// may have released them already.
func (m *model) useOrRelease() {
	if len(m.locked) == 0 {
		return
	}
	i := m.r.IntN(len(m.locked))
	order := m.locked[i]
	m.locked = slices.Delete(m.locked, i, i+1)
	req := coupon.OrderRequest{RequestID: m.id("co"), At: m.now, Order: order}
	verb := "use"
	if m.r.IntN(3) == 0 {
		verb = "release"
	}
	f := func(ctx context.Context, req coupon.OrderRequest) (*change.Outcome, error) {
		if verb == "release" {
			return m.p.Coupons().Release(ctx, req)
		}
		return m.p.Coupons().Use(ctx, req)
	}
	what := fmt.Sprintf("%s the coupons of %s", verb, order)
	call := func() (*change.Outcome, error) { return f(m.ctx, req) }
	out, err := call()
	if err != nil {
		m.refused(what, err, coupon.ErrState, coupon.ErrNotFound, membership.ErrErased)
		return
	}
	m.logf("%s", what)
	m.accepted(what, out.Member, out, call)
}

func (m *model) setLevel() {
	mem := m.member()
	lv := []string{"basic", "silver", "gold"}[m.r.IntN(3)]
	req := level.SetRequest{RequestID: m.id("set"), Member: mem, Operator: "op.a", Note: "service", At: m.now, Level: lv}
	what := fmt.Sprintf("set %s to %s", mem, lv)
	call := func() (*change.Outcome, error) { return m.p.Levels().Set(m.ctx, req) }
	out, err := call()
	if err != nil {
		m.fatalf("%s: %v", what, err)
	}
	m.logf("%s", what)
	m.accepted(what, mem, out, call)
}

func (m *model) checkIn() {
	mem := m.member()
	m.process("check-in of "+mem, event.Event{ID: m.id("ci"), Member: mem, Type: "check_in", Time: m.eventTime()})
}

// batch processes two to four orders, recharges and check-ins in one
// call, now and then with an earlier accepted event among them.
func (m *model) batch() {
	var evs []event.Event
	for range 2 + m.r.IntN(3) {
		mem := m.member()
		switch m.r.IntN(3) {
		case 0:
			id := m.id("bo")
			evs = append(evs, event.Event{ID: id, Member: mem, Type: "order", Time: m.now,
				Attrs: event.Attrs{"amount": event.Dec(m.money(300)), "order_id": event.Str(id)}})
		case 1:
			evs = append(evs, event.Event{ID: m.id("br"), Member: mem, Type: "recharge", Time: m.now, Attrs: event.Attrs{"amount": event.Dec(m.money(200))}})
		default:
			evs = append(evs, event.Event{ID: m.id("bci"), Member: mem, Type: "check_in", Time: m.now})
		}
	}
	for _, ev := range evs {
		if amt, ok := ev.Decimal("amount"); ok && ev.Type == "order" {
			m.orders = append(m.orders, &modelOrder{id: ev.ID, member: ev.Member, amount: amt, left: amt})
		}
	}
	outs, err := m.p.ProcessBatch(m.ctx, evs)
	if err != nil {
		m.fatalf("batch of %d: %v", len(evs), err)
	}
	for i, ev := range evs {
		what := fmt.Sprintf("batch[%d]: %s %s of %s", i, ev.Type, ev.ID, ev.Member)
		m.logf("%s", what)
		m.accepted(what, ev.Member, outs[i], func() (*change.Outcome, error) { return m.p.Process(m.ctx, ev) })
		m.withOther(ev)
		if ev.Type == "recharge" {
			m.valueApplied(ev)
		}
	}
}

// advance moves time on, now and then by days, and performs what is due.
func (m *model) advance() {
	m.now = m.now.Add(time.Duration(m.r.IntN(4*24)) * time.Hour)
	n, err := m.p.Advance(m.ctx, m.now)
	if err != nil {
		m.fatalf("advance: %v", err)
	}
	m.logf("advance: %d items", n)
}

// retry sends an accepted call of the last 20 days again: the first
// outcome, Duplicate set, and nothing changes (checkFeed and
// checkBalances after the step); an erased member's is refused.
func (m *model) retry() {
	var recent []modelRetry
	for _, r := range m.retries {
		if m.now.Sub(r.at) < 20*24*time.Hour {
			recent = append(recent, r)
		}
	}
	if len(recent) == 0 {
		return
	}
	r := recent[m.r.IntN(len(recent))]
	if r.other != nil && m.r.IntN(3) == 0 {
		what := "other content under the ID of " + r.what
		_, err := r.other()
		if !errors.Is(err, membership.ErrEventConflict) && (r.member != m.erased || !errors.Is(err, membership.ErrErased)) {
			m.fatalf("%s: %v, want ErrEventConflict", what, err)
		}
		m.logf("%s refused: %v", what, err)
		return
	}
	what := "retry of " + r.what
	out, err := r.call()
	if r.member == m.erased && r.first.Event != "erase" {
		if !errors.Is(err, membership.ErrErased) {
			m.fatalf("%s: %v, want ErrErased", what, err)
		}
		m.logf("%s refused: %v", what, err)
		return
	}
	switch {
	case err != nil:
		m.fatalf("%s: %v", what, err)
	case !out.Duplicate:
		m.fatalf("%s: not a Duplicate", what)
	case out.Event != r.first.Event || len(out.Changes) != len(r.first.Changes):
		m.fatalf("%s: outcome of %s with %d changes, first %s with %d", what, out.Event, len(out.Changes), r.first.Event, len(r.first.Changes))
	}
	m.logf("%s", what)
}

// erase erases mem, then checks that its calls are refused.
func (m *model) erase(mem string) {
	req := membership.EraseRequest{RequestID: "erase", Member: mem, Operator: "op.a", At: m.now}
	call := func() (*change.Outcome, error) { return m.p.Erase(m.ctx, req) }
	out, err := call()
	if err != nil {
		m.fatalf("erase %s: %v", mem, err)
	}
	m.logf("erase %s", mem)
	m.accepted("erase "+mem, mem, out, call)
	m.erased = mem
	ev := event.Event{ID: m.id("o"), Member: mem, Type: "recharge", Time: m.now, Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(1))}}
	if _, err := m.p.Process(m.ctx, ev); !errors.Is(err, membership.ErrErased) {
		m.fatalf("recharge of erased %s: %v, want ErrErased", mem, err)
	}
}

// pointsSign is how a points change moves the member's points (main,
// pending and frozen together): moves between those accounts and records
// of requests move nothing.
func pointsSign(kind string) int {
	switch kind {
	case points.ChangeOpened, points.ChangeEarned, points.ChangePending, points.ChangeReversed, points.ChangeAdjusted:
		return 1
	case points.ChangeRedeemed, points.ChangeExpired, points.ChangeVoided, points.ChangeExchanged:
		return -1
	}
	return 0
}

// checkFeed reads the feed's new changes: each accepted outcome's changes
// appear once, in order, with no other change of a request or event, and
// due work's changes (no event) are added to the model.
func (m *model) checkFeed() {
	m.t.Helper()
	for {
		page, err := m.p.Feed(m.ctx, m.after, 500)
		if err != nil {
			m.fatalf("feed: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			m.feed++
			if c.Seq != uint64(m.feed) {
				m.fatalf("feed change %d has seq %d", m.feed, c.Seq)
			}
			if c.Event != "" || m.inOutcome(c) {
				want := m.expect[c.Event]
				if len(want) == 0 {
					m.fatalf("feed change %d (%s of %s) of %q: no accepted outcome left with it", c.Seq, c.Kind, c.Member, c.Event)
				}
				if w := want[0]; w.Kind != c.Kind || w.Member != c.Member || string(w.Data) != string(c.Data) {
					m.fatalf("feed change %d of %q is %s of %s %s, the outcome's %s of %s %s", c.Seq, c.Event, c.Kind, c.Member, c.Data, w.Kind, w.Member, w.Data)
				}
				m.expect[c.Event] = want[1:]
			}
			if s := pointsSign(c.Kind); s != 0 {
				var pc points.Change
				if err := c.Decode(&pc); err != nil {
					m.fatalf("feed change %d: %v", c.Seq, err)
				}
				m.points[c.Member] = m.points[c.Member].Add(pc.Amount.Mul(decimal.NewFromInt(int64(s))))
			}
		}
		m.after = page[len(page)-1].Seq
	}
	// The model is a consumer of the feed: Advance keeps what it has not
	// read past the feed's retention only for a consumer with a cursor.
	if err := m.p.SetCursor(m.ctx, "model", m.after); err != nil {
		m.fatalf("set cursor: %v", err)
	}
	for id, left := range m.expect {
		if len(left) > 0 {
			m.fatalf("outcome of %s: %d changes not in the feed (first %s of %s)", id, len(left), left[0].Kind, left[0].Member)
		}
		delete(m.expect, id)
	}
}

// inOutcome reports whether c, a change of no event, is the next one of
// due work an event or a request performed first (a term end before the
// event's time), which its outcome lists.
func (m *model) inOutcome(c change.Change) bool {
	want := m.expect[""]
	return len(want) > 0 && want[0].Kind == c.Kind && want[0].Member == c.Member && string(want[0].Data) == string(c.Data)
}

// statement reads every entry of an account, in posting order.
func (m *model) statement(a ledger.Account) []ledger.Entry {
	m.t.Helper()
	var all []ledger.Entry
	for cursor := ""; ; {
		page, err := m.p.Statement(m.ctx, ledger.Query{Account: a, Limit: 1000, Cursor: cursor})
		if err != nil {
			m.fatalf("statement of %s: %v", a, err)
		}
		all = append(all, page.Entries...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	slices.SortFunc(all, func(a, b ledger.Entry) int { return compareUint(a.Seq, b.Seq) })
	return all
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// account checks that an account's statement adds up, in posting order,
// to each entry's running balance and to its balance, which is never
// negative; it returns the balance.
func (m *model) account(a ledger.Account) (decimal.Decimal, []ledger.Entry) {
	m.t.Helper()
	es := m.statement(a)
	sum := decimal.Zero
	for _, e := range es {
		sum = sum.Add(e.Amount)
		if !e.Balance.Equal(sum) {
			m.fatalf("%s: entry %d (%s %s) has balance %s, the entries before it add up to %s", a, e.Seq, e.Kind, e.Amount, e.Balance, sum)
		}
		if sum.IsNegative() {
			m.fatalf("%s: negative balance %s after entry %d", a, sum, e.Seq)
		}
	}
	bal, err := m.p.Balance(m.ctx, a)
	if err != nil {
		m.fatalf("balance of %s: %v", a, err)
	}
	if !bal.Equal(sum) {
		m.fatalf("%s: balance %s, its statement adds up to %s", a, bal, sum)
	}
	return bal, es
}

// checkBalances checks Verify, and each member's accounts against their
// statements and the model.
func (m *model) checkBalances() {
	m.t.Helper()
	if err := m.p.Verify(m.ctx); err != nil {
		m.fatalf("Verify: %v", err)
	}
	for _, mem := range m.members {
		if v, _ := m.account(ledger.MemberAccount(mem, ledger.Value, "")); !v.Equal(m.value[mem]) {
			m.fatalf("%s's stored value is %s, the model's %s", mem, v, m.value[mem])
		}
		m.account(ledger.MemberAccount(mem, ledger.Growth, ""))
		total := decimal.Zero
		for _, sub := range []string{"", points.SubPending, points.SubFrozen} {
			bal, _ := m.account(ledger.MemberAccount(mem, ledger.Points("mall"), sub))
			total = total.Add(bal)
		}
		if b := m.pointsBalance(mem); !b.Total().Equal(total) || b.Available.IsNegative() {
			m.fatalf("%s's points balance %+v, the accounts hold %s", mem, b, total)
		}
		if !total.Equal(m.points[mem]) {
			m.fatalf("%s holds %s points, the feed's points changes add up to %s", mem, total, m.points[mem])
		}
	}
}

// checkTotals checks, for every day so far, the ledger's daily totals and
// the report's figures against the members' statements.
func (m *model) checkTotals() {
	m.t.Helper()
	loc := m.p.Location()
	type dayKind struct {
		day  string
		kind ledger.Kind
	}
	assets := []ledger.Asset{ledger.Value, ledger.Growth, ledger.Points("mall")}
	sums := map[ledger.Asset]map[dayKind]decimal.Decimal{}
	for _, a := range assets {
		sums[a] = map[dayKind]decimal.Decimal{}
		for _, mem := range m.members {
			for _, sub := range []string{"", points.SubPending, points.SubFrozen} {
				if sub != "" && a != ledger.Points("mall") {
					continue
				}
				_, es := m.account(ledger.MemberAccount(mem, a, sub))
				for _, e := range es {
					k := dayKind{e.Time.In(loc).Format(time.DateOnly), e.Kind}
					sums[a][k] = sums[a][k].Add(e.Amount)
				}
			}
		}
	}
	from, to := rule.DateOf(m.first, loc), rule.DateOf(m.now, loc)
	for _, a := range assets {
		for d := from; d.Compare(to) <= 0; d = d.AddDays(1) {
			got, err := m.p.Totals(m.ctx, a, d.String(), d.String())
			if err != nil {
				m.fatalf("totals of %s on %s: %v", a, d, err)
			}
			want := map[ledger.Kind]decimal.Decimal{}
			for k, v := range sums[a] {
				if k.day == d.String() && !v.IsZero() {
					want[k.kind] = v
				}
			}
			for k, v := range got {
				if v.IsZero() {
					delete(got, k)
				}
			}
			if !maps.EqualFunc(got, want, decimal.Decimal.Equal) {
				m.fatalf("totals of %s on %s are %v, the statements' entries that day add up to %v", a, d, got, want)
			}
		}
	}
	rep, err := report.Build(m.ctx, m.p, report.Query{From: from, To: to, Grain: report.Day})
	if err != nil {
		m.fatalf("report: %v", err)
	}
	pts, val := decimal.Zero, decimal.Zero
	for _, pd := range rep.Periods {
		day := sums[ledger.Value]
		recharged, spent, refunded := day[dayKind{pd.Name, value.KindRecharge}], day[dayKind{pd.Name, value.KindSpend}].Neg(), day[dayKind{pd.Name, value.KindRefund}]
		val = val.Add(recharged).Sub(spent).Add(refunded)
		if v := pd.Value; !v.Recharged.Equal(recharged) || !v.Spent.Equal(spent) || !v.Refunded.Equal(refunded) || !v.Float.Equal(val) {
			m.fatalf("report of %s: value %+v, the statements' %s recharged, %s spent, %s refunded, float %s", pd.Name, *v, recharged, spent, refunded, val)
		}
		day = sums[ledger.Points("mall")]
		var issued, redeemed, expired, other decimal.Decimal
		for k, v := range day {
			if k.day != pd.Name {
				continue
			}
			switch k.kind {
			case points.KindEarned:
				issued = issued.Add(v)
			case points.KindRedeemed:
				redeemed = redeemed.Sub(v)
			case points.KindExpired:
				expired = expired.Sub(v)
			default:
				other = other.Add(v)
			}
		}
		pts = pts.Add(issued).Sub(redeemed).Sub(expired).Add(other)
		p := pd.Points[0]
		if !p.Issued.Equal(issued) || !p.Redeemed.Equal(redeemed) || !p.Expired.Equal(expired) || !p.Other.Equal(other) || !p.Outstanding.Equal(pts) {
			m.fatalf("report of %s: points %+v, the statements' %s issued, %s redeemed, %s expired, %s other, %s outstanding", pd.Name, p, issued, redeemed, expired, other, pts)
		}
	}
}
