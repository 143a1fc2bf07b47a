package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/examples/internal/cli"
	"github.com/memberkit/membership/examples/internal/tally"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// persona is a kind of shopper: orders per month and a typical basket.
type persona struct {
	name   string
	share  float64 // of the members
	rate   float64 // orders per month
	basket float64 // yuan
	churns bool    // stops shopping some months after joining
}

var personas = []persona{
	{"family", 0.10, 4, 320, false},
	{"regular", 0.35, 1.6, 180, false},
	{"light", 0.40, 0.5, 100, false},
	{"churner", 0.15, 2.5, 200, true},
}

var (
	stores     = []string{"s01-downtown", "s02-riverside", "s03-airport", "s04-campus", "s05-suburb"}
	categories = []string{"fresh", "dairy", "snacks", "drinks", "household", "baby"}
	plusFee    = decimal.NewFromInt(199)
)

// member is what the host (the simulation) knows of a member.
type member struct {
	id      string
	kind    persona
	join    int // day index of registration
	churn   int // day index after which they stop shopping (-1: never)
	store   string
	online  float64 // share of orders placed online
	card    bool    // pays with stored value
	balance decimal.Decimal
	plus    bool // buys the Plus plan at join and renews it
	plusEnd int  // day index the plan the host sold ends
	favour  int  // index of the favourite category
	// lateUntil is the day the member's late events reach the program:
	// the member's later events wait for them (a till offline sends its
	// queue in order), so a card payment never reaches the program
	// before the top-up it was counted on.
	lateUntil int
}

// sim drives the program day by day.
type sim struct {
	cfg     config
	p       *membership.Program
	rng     *rand.Rand
	loc     *time.Location
	start   time.Time
	days    int
	members []*member
	feed    *tally.Tally

	// What the host did, for the report and its checks.
	events        int
	batches       int
	orders        int
	sales         decimal.Decimal
	recharged     decimal.Decimal
	valueSpent    decimal.Decimal
	feesPaid      int
	tillOff       map[string]decimal.Decimal // amount off at the tills, per store
	tillUsed      map[string]int64
	pointsCash    int
	pointsMoney   decimal.Decimal
	mallOrders    int
	campaignSent  int
	campaignRefus int
	campaignShort int // members of the segment the stock no longer covered
	advanced      int
	bar           *cli.Bar // the days done; nil: no progress bar
	after                  // refunds, late events, retries, operators, erasures

	mu sync.Mutex // guards the counters the workers add to
}

func newSim(cfg config, p *membership.Program) *sim {
	s := &sim{
		cfg: cfg, p: p, loc: p.Location(),
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		feed:     tally.New(),
		tillOff:  map[string]decimal.Decimal{},
		tillUsed: map[string]int64{},
		after:    newAfter(),
	}
	s.start = time.Date(2025, 1, 1, 0, 0, 0, 0, s.loc)
	s.days = int(s.start.AddDate(0, cfg.Months, 0).Sub(s.start).Hours()/24 + 0.5)
	// A third of the members are already there in the first month; the
	// rest join over the first year (or the whole run, if shorter).
	joinSpan := min(s.days, 365)
	for i := range cfg.Members {
		m := &member{id: fmt.Sprintf("m%05d", i+1), churn: -1, balance: decimal.Zero}
		x := s.rng.Float64()
		for _, pr := range personas {
			if x < pr.share {
				m.kind = pr
				break
			}
			x -= pr.share
		}
		if m.kind.name == "" {
			m.kind = personas[len(personas)-1]
		}
		if s.rng.Float64() < 0.33 {
			m.join = s.rng.IntN(min(30, s.days))
		} else {
			m.join = s.rng.IntN(joinSpan)
		}
		if m.kind.churns {
			m.churn = m.join + 90 + s.rng.IntN(180)
		}
		m.store = stores[s.rng.IntN(len(stores))]
		m.online = 0.1 + 0.4*s.rng.Float64()
		m.card = s.rng.Float64() < 0.25
		m.plus = s.rng.Float64() < 0.12
		m.favour = s.rng.IntN(len(categories))
		s.members = append(s.members, m)
	}
	return s
}

func (s *sim) day(d int) time.Time { return s.start.AddDate(0, 0, d) }

// cents returns an amount in yuan with two decimals.
func cents(yuan float64) decimal.Decimal { return decimal.New(int64(yuan*100+0.5), -2) }

// visit is one member's activity on one day. It is drawn first; the tills
// ask the program about its orders; then finish turns it into events.
type visit struct {
	m      *member
	evs    []event.Event // registration and fee, in time order
	orders []*order
	mall   bool // visits the points mall after closing time

	// After the sale (after.go), drawn in plan.
	late        int             // the visit's events reach the program this many days late
	retry       bool            // its first order is sent again the day after
	mallBack    int             // the mall voucher is returned this many days later (0: kept)
	mallPart    bool            // only 1,000 points of it
	adjust      decimal.Decimal // an operator adjusts the member's points after closing (0: none)
	retryAdjust bool            // the adjustment is sent twice
	decideIn    int             // days until the lead decides an adjustment that waits
	approve     bool
}

// order is one basket and how it is paid.
type order struct {
	id      string
	at      time.Time
	store   string
	channel string
	lines   []coupon.Line
	cats    []string
	total   decimal.Decimal // shelf price
	byValue bool            // paid with the stored-value card

	// The till's questions (asked only for the day's first order, so
	// that each member's operations stay in time order: the member has
	// no earlier event that day still to be sent).
	useCoupons bool
	usePoints  bool
	// The till's answers.
	price   decimal.Decimal // member price (Plus), or total
	off     decimal.Decimal // coupons
	ptsCash *decimal.Decimal

	// Its refunds (after.go): refundIn days later, of refundShare of what
	// was paid (1: all), at 07:00 plus refundMinute; the rest refundRestIn
	// days after that (0: never). retryRefund sends the first twice.
	refundIn     int
	refundShare  float64
	refundRestIn int
	refundMinute time.Duration
	retryRefund  bool
}

func (s *sim) run(ctx context.Context) error {
	for _, m := range s.members[:min(3, len(s.members))] {
		// Staff accounts are tagged by hand, as an operator would.
		req := tag.ManualRequest{RequestID: "staff-" + m.id, Member: m.id, Operator: "hr.wang", Note: "employee", At: s.start, Tag: "staff"}
		if _, err := s.p.Tags().Add(ctx, req); err != nil {
			return err
		}
	}
	for d := range s.days {
		at := s.day(d)
		n, err := s.p.Advance(ctx, at)
		if err != nil {
			return err
		}
		s.advanced += n
		// Read the feed as a host's consumer would: it keeps the report's
		// sums and each member's live coupons.
		if err := s.feed.Consume(ctx, s.p); err != nil {
			return err
		}
		if at.Day() == 1 && d >= 60 {
			if err := s.campaign(ctx, at.Add(7*time.Hour)); err != nil {
				return err
			}
			if err := s.feed.Consume(ctx, s.p); err != nil {
				return err
			}
		}
		visits := s.plan(d)
		if err := tally.Parallel(visits, func(v *visit) error { return s.till(ctx, v) }); err != nil {
			return err
		}
		evs := s.due(d)
		for _, v := range visits {
			evs = append(evs, s.finish(d, v)...)
		}
		// One transaction for the day's events, a member's events at the
		// same minute in their order (recharge, pay, order). Every event is
		// valid (card payments never exceed the balance the host keeps), so
		// no rule refuses the batch.
		outs, err := tally.ProcessDay(ctx, s.p, at, evs)
		if err != nil {
			return err
		}
		s.sent.Answered(d, evs, outs)
		if len(outs) > 0 {
			s.batches++
			s.events += len(outs)
		}
		if err := tally.Parallel(visits, func(v *visit) error { return s.mall(ctx, d, v) }); err != nil {
			return err
		}
		if err := s.operate(ctx, d); err != nil {
			return err
		}
		if s.days >= 30 && d == s.days-10 {
			if err := s.erase(ctx, d); err != nil {
				return err
			}
		}
		s.bar.Set(int64(d + 1))
	}
	// Perform what falls due at the end of the last day.
	n, err := s.p.Advance(ctx, s.day(s.days))
	if err != nil {
		return err
	}
	s.advanced += n
	return s.feed.Consume(ctx, s.p)
}

// plan draws the day's visits. Randomness is drawn here only, in member
// order, so a seed gives the same stream.
func (s *sim) plan(d int) []*visit {
	day := s.day(d)
	var out []*visit
	for _, m := range s.members {
		if d < m.join || (m.churn >= 0 && d > m.churn) || s.isErased(m.id) {
			continue
		}
		v := &visit{m: m}
		// Store hours 08:00–21:00: a member's events of the day start at
		// a random minute and follow each other.
		at := day.Add(8*time.Hour + time.Duration(s.rng.IntN(12*60))*time.Minute)
		next := func() time.Time { at = at.Add(time.Duration(1+s.rng.IntN(20)) * time.Minute); return at }
		if d == m.join {
			v.evs = append(v.evs, event.Event{ID: "reg-" + m.id, Member: m.id, Type: "register", Time: next(),
				Attrs: event.Attrs{"channel": event.Str([]string{"app", "store", "mini-program"}[s.rng.IntN(3)])}})
			if m.plus {
				s.fee(v, d, next())
			}
		} else if m.plus && d == m.plusEnd {
			if s.rng.Float64() < 0.75 {
				s.fee(v, d, next())
			} else {
				m.plus = false
			}
		}
		if s.rng.Float64() < m.kind.rate/30 {
			v.orders = append(v.orders, s.order(m, d, 0, next()))
			if m.kind.rate > 5 && s.rng.Float64() < 0.15 {
				v.orders = append(v.orders, s.order(m, d, 1, next()))
			}
		}
		if len(v.orders) > 0 && len(v.evs) == 0 {
			o := v.orders[0]
			o.useCoupons = len(s.feed.Live[m.id]) > 0 && s.rng.Float64() < 0.7
			o.usePoints = !o.byValue && s.rng.Float64() < 0.06
		}
		v.mall = len(v.orders) > 0 && s.rng.Float64() < 0.06
		if len(v.orders) > 0 {
			s.drawAfter(d, v)
		}
		if len(v.evs) > 0 || len(v.orders) > 0 {
			out = append(out, v)
		}
	}
	return out
}

func (s *sim) fee(v *visit, d int, at time.Time) {
	m := v.m
	v.evs = append(v.evs, event.Event{ID: fmt.Sprintf("fee-%s-%d", m.id, d), Member: m.id, Type: "fee", Time: at,
		Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.Dec(plusFee)}})
	m.plusEnd = d + 365
	s.feesPaid++
}

// order draws a basket: one to three lines, the favourite category first
// more often than not.
func (s *sim) order(m *member, d, i int, at time.Time) *order {
	o := &order{id: fmt.Sprintf("o-%s-%d-%d", m.id, d, i), at: at, store: m.store, channel: "offline"}
	if s.rng.Float64() < m.online {
		o.store, o.channel = "online", "online"
	}
	left := m.kind.basket * (0.4 + 1.2*s.rng.Float64())
	n := 1 + s.rng.IntN(3)
	for l := range n {
		cat := categories[m.favour]
		if l > 0 || s.rng.Float64() < 0.4 {
			cat = categories[s.rng.IntN(len(categories))]
		}
		if slices.Contains(o.cats, cat) {
			continue
		}
		amt := left
		if l < n-1 {
			amt = left * (0.3 + 0.5*s.rng.Float64())
		}
		left -= amt
		line := coupon.Line{Product: cat + "-basket", Category: cat, Amount: cents(amt)}
		o.lines = append(o.lines, line)
		o.cats = append(o.cats, cat)
		o.total = o.total.Add(line.Amount)
	}
	o.byValue = m.card && s.rng.Float64() < 0.9
	// One order in sixteen is refunded 3 to 20 days later, half of them
	// in full; of a partial refund, the rest a third of the time.
	if s.rng.Float64() < 1.0/16 {
		o.refundIn, o.refundShare = 3+s.rng.IntN(18), 1
		if s.rng.Float64() < 0.5 {
			o.refundShare = 0.2 + 0.6*s.rng.Float64()
			if s.rng.Float64() < 0.33 {
				o.refundRestIn = 1 + s.rng.IntN(10)
			}
		}
		o.refundMinute = time.Duration(s.rng.IntN(60)) * time.Minute
		o.retryRefund = s.rng.Float64() < 0.1
	}
	return o
}

// drawAfter draws what follows a visit with orders: its events late (a
// day or two, not for a visit that registers or pays the fee, whose
// events the tills relied on that day), its first order sent twice, the
// mall voucher returned, an operator's adjustment.
func (s *sim) drawAfter(d int, v *visit) {
	if len(v.evs) == 0 && s.rng.Float64() < 0.03 {
		v.late = 1 + s.rng.IntN(2)
		if d+v.late >= s.days || d < v.m.lateUntil {
			v.late = 0 // the run ends before it would arrive, or its events wait already
		}
	}
	v.retry = s.rng.Float64() < 0.03
	if v.mall && s.rng.Float64() < 0.1 {
		v.mallBack, v.mallPart = 1+s.rng.IntN(10), s.rng.Float64() < 0.5
	}
	if s.rng.Float64() < 0.015 {
		x := s.rng.Float64()
		switch {
		case x < 0.6:
			v.adjust = decimal.NewFromInt(int64(20 + s.rng.IntN(281)))
		case x < 0.75:
			v.adjust = decimal.NewFromInt(-int64(20 + s.rng.IntN(281)))
		case x < 0.925:
			v.adjust = decimal.NewFromInt(int64(600 + s.rng.IntN(2401)))
		default:
			v.adjust = decimal.NewFromInt(-int64(600 + s.rng.IntN(1401)))
		}
		v.retryAdjust = s.rng.Float64() < 0.15
		v.decideIn = 1 + s.rng.IntN(3)
		v.approve = s.rng.Float64() < 0.7
	}
}

// till asks the program what the member pays for each order of the visit:
// the member price of a Plus member, the best coupons (used at once: by
// QR code at a store's till when one coupon applies, locked and used for
// the order otherwise), and points + cash.
func (s *sim) till(ctx context.Context, v *visit) error {
	m := v.m
	for _, o := range v.orders {
		o.price, o.off = o.total, decimal.Zero
		if m.plus {
			price, err := s.p.Benefits().MemberPrice(ctx, m.id, o.total, o.at)
			if err != nil {
				return err
			}
			o.price = price.Amount
		}
		if o.useCoupons {
			if err := s.coupons(ctx, m, o); err != nil {
				return err
			}
		}
		if o.usePoints {
			if err := s.payWithPoints(ctx, m, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *sim) coupons(ctx context.Context, m *member, o *order) error {
	co := coupon.Order{ID: o.id, Member: m.id, Store: o.store, Scenario: o.channel, Time: o.at, Lines: o.lines}
	prop, err := s.p.Coupons().Checkout(ctx, co)
	if err != nil || len(prop.Coupons) == 0 {
		return err
	}
	off, n, err := tally.PayCoupons(ctx, s.p, co, prop, func(id string) (string, bool, error) {
		if o.channel != "offline" {
			return "", false, nil // online orders lock and use
		}
		held, ok := s.feed.Live[m.id][id]
		if !ok {
			return "", false, fmt.Errorf("coupon %s of %s: no code in the feed", id, m.id)
		}
		return held.QR(), true, nil
	})
	if err != nil {
		return err
	}
	s.tilled(o, off, n)
	return nil
}

func (s *sim) tilled(o *order, off decimal.Decimal, n int) {
	o.off = decimal.Min(off, o.price)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tillOff[o.store] = s.tillOff[o.store].Add(off)
	s.tillUsed[o.store] += int64(n)
}

// payWithPoints pays up to half of what is left with points (100 points a
// yuan), when the member has at least 500.
func (s *sim) payWithPoints(ctx context.Context, m *member, o *order) error {
	due := o.price.Sub(o.off)
	b, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m.id, At: o.at})
	if err != nil || b.Available.LessThan(decimal.NewFromInt(500)) || !due.IsPositive() {
		return err
	}
	r, err := s.p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "pc-" + o.id, Program: "mall", Member: m.id,
		Ref: o.id, Order: due, At: o.at})
	if err != nil {
		return err
	}
	cash := r.Split.Cash
	o.ptsCash = &cash
	s.mu.Lock()
	s.pointsCash++
	s.pointsMoney = s.pointsMoney.Add(r.Split.PointsMoney)
	s.mu.Unlock()
	return nil
}

// finish turns a visit into its events, in time order: registration and
// fee, then for each order a top-up if the card is short, the card payment
// and the order itself, whose amount (what the member paid in money)
// earns growth and points.
func (s *sim) finish(d int, v *visit) []event.Event {
	m := v.m
	evs := v.evs
	for _, o := range v.orders {
		pay := o.price.Sub(o.off)
		if o.ptsCash != nil {
			pay = *o.ptsCash
		}
		pay = pay.Round(2)
		if o.byValue && pay.IsPositive() {
			if m.balance.LessThan(pay) {
				top := decimal.NewFromInt(500)
				for m.balance.Add(top).LessThan(pay) {
					top = top.Add(decimal.NewFromInt(500))
				}
				m.balance = m.balance.Add(top)
				s.recharged = s.recharged.Add(top)
				evs = append(evs, event.Event{ID: "top-" + o.id, Member: m.id, Type: "recharge", Time: o.at,
					Attrs: event.Attrs{"amount": event.Dec(top)}})
			}
			m.balance = m.balance.Sub(pay)
			s.valueSpent = s.valueSpent.Add(pay)
			evs = append(evs, event.Event{ID: "card-" + o.id, Member: m.id, Type: "value_pay", Time: o.at,
				Attrs: event.Attrs{"amount": event.Dec(pay), "order_id": event.Str(o.id)}})
		}
		s.orders++
		s.sales = s.sales.Add(pay)
		ev := event.Event{ID: o.id, Member: m.id, Type: "order", Time: o.at, Attrs: event.Attrs{
			"amount": event.Dec(pay), "total": event.Dec(o.total), "order_id": event.Str(o.id),
			"store": event.Str(o.store), "channel": event.Str(o.channel), "category": event.List(o.cats...),
		}}
		evs = append(evs, ev)
		s.lastEvent[m.id] = ev
		if v.retry && o == v.orders[0] {
			s.sent.Again(max(d+v.late, m.lateUntil)+1, ev)
		}
		s.refund(d, m, o, pay)
	}
	if !v.adjust.IsZero() {
		s.adjust(d, v)
	}
	if v.late > 0 {
		m.lateUntil = d + v.late
	}
	if d < m.lateUntil {
		for _, ev := range evs {
			s.sent.SendLate(m.lateUntil, ev)
		}
		return nil
	}
	return evs
}

// mall: after closing time, some members who shopped today spend points
// in the points mall (a 1,000-point voucher or more).
func (s *sim) mall(ctx context.Context, d int, v *visit) error {
	if !v.mall {
		return nil
	}
	at := s.day(d).Add(21*time.Hour + 30*time.Minute)
	b, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: v.m.id, At: at})
	if err != nil {
		return err
	}
	k := b.Available.Div(decimal.NewFromInt(1000)).Floor().IntPart()
	if k < 2 {
		return nil
	}
	spend := decimal.NewFromInt(min(k, 5) * 1000)
	ref := fmt.Sprintf("mall-%s-%d", v.m.id, d)
	if _, err := s.p.Points().Redeem(ctx, points.RedeemRequest{RequestID: ref, Program: "mall", Member: v.m.id, Ref: ref, Amount: spend, At: at}); err != nil {
		return err
	}
	if v.mallBack > 0 {
		back := decimal.Zero // all of it
		if v.mallPart && spend.GreaterThan(decimal.NewFromInt(1000)) {
			back = decimal.NewFromInt(1000)
		}
		s.reverse(d+v.mallBack, v.m.id, ref, back, "voucher returned")
	}
	s.mu.Lock()
	s.mallOrders++
	s.mu.Unlock()
	return nil
}

// campaign issues the win-back coupon, on the 1st of each month, to the
// segment of loyal members who have not ordered for 30 days. The coupon's
// stock is limited: the host sends it, in rounds, to as many members of
// the segment (in segment order) as the stock still covers, so who gets
// one never depends on timing. A round is split in chunks issued
// concurrently: Issue commits one member at a time, and
// concurrent calls share the store's commits. Members refused (the
// per-member limit of 2) and those the stock no longer covers are counted.
func (s *sim) campaign(ctx context.Context, at time.Time) error {
	const template = "winback-30"
	ms, err := tally.Segment(ctx, s.p, "loyal and not recent and not staff")
	if err != nil {
		return err
	}
	// The members erased keep their tags, but the host sends them nothing.
	ms = slices.DeleteFunc(ms, s.isErased)
	if len(ms) == 0 {
		return nil
	}
	tpl, _ := s.p.Definition().Coupons.Template(template)
	st, err := s.p.Coupons().Stats(ctx, coupon.StatsQuery{Template: template})
	if err != nil {
		return err
	}
	req := "winback-" + at.Format("2006-01")
	left := int(tpl.Stock - st.ByTemplate[template].Issued)
	for len(ms) > 0 && left > 0 {
		// Members refused by the per-member limit leave stock behind: the
		// next round offers it to the next members of the segment.
		round := ms[:min(left, len(ms))]
		ms = ms[len(round):]
		var chunks [][]string
		for i := 0; i < len(round); i += 50 {
			chunks = append(chunks, round[i:min(i+50, len(round))])
		}
		err := tally.Parallel(chunks, func(chunk []string) error {
			// Each member's issue is idempotent under the request ID and
			// the member, so the chunks share one request ID.
			res, err := s.p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: req, Operator: "crm", Members: chunk, Template: template, At: at})
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.campaignSent += len(res.Issued)
			s.campaignRefus += len(res.Refused)
			left -= len(res.Issued)
			s.mu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.campaignShort += len(ms)
	return nil
}
