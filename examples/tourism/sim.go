package main

import (
	"context"
	"errors"
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
	"github.com/shopspring/decimal"
)

// persona is a kind of visitor.
type persona struct {
	name     string
	share    float64
	trips    float64 // park trips per month
	shopping float64 // shop orders per month outside trips
	app      float64 // chance of an app check-in on a given day
	// bulk is the ticket count of a bulk purchase, made on a trip with
	// chance bulkOdds (group leaders and scalpers).
	bulk     int
	bulkOdds float64
}

var personas = []persona{
	{name: "local", share: 0.30, trips: 1.2, shopping: 0.4, app: 0.05},
	{name: "tourist", share: 0.52, trips: 0.12, shopping: 0.05, app: 0.005},
	{name: "shopper", share: 0.15, trips: 0.3, shopping: 1.6, app: 0.02},
	{name: "group-leader", share: 0.02, trips: 0.6, shopping: 0.3, app: 0.02, bulk: 22, bulkOdds: 0.5},
	{name: "scalper", share: 0.01, trips: 2, app: 0.0, bulk: 40, bulkOdds: 0.9},
}

// The five scenic spots of the trail, in the trail's order.
var spots = []string{"south-gate", "lotus-pond", "stone-bridge", "old-pagoda", "summit"}

var (
	ticketPrice = decimal.NewFromInt(120)
	ridePrice   = decimal.NewFromInt(80)
	shops       = []string{"tea-house", "silk-shop", "book-store"}
)

// member is what the host knows of a member.
type member struct {
	id       string
	kind     persona
	join     int
	seasonal bool // stays away from day 100 to 250 (a local who winters elsewhere)
	verified bool
	// lateUntil is the day the member's late events reach the program:
	// the member's later events wait for them, in order.
	lateUntil int
}

type sim struct {
	cfg     config
	p       *membership.Program
	rng     *rand.Rand
	loc     *time.Location
	start   time.Time
	days    int
	members []*member
	byID    map[string]*member
	feed    *tally.Tally

	mu         sync.Mutex // guards the counters below the workers add to
	events     int
	batches    int
	advanced   int
	bar        *cli.Bar // the days done; nil: no progress bar
	trips      int
	tickets    int64
	packs      map[string]int64     // packs given on claims, by pack
	packRefuse map[string]int64     // claims refused, by pack and cause
	packLast   map[string]time.Time // last pack given, by pack
	gateOff    map[string]decimal.Decimal
	gateUsed   map[string]int64
	restored   int
	voided     int
	exchanges  int
	redeemed   int
	after      // refunds, late events, retries, erasures (after.go)
}

func newSim(cfg config, p *membership.Program) *sim {
	s := &sim{
		cfg: cfg, p: p, loc: p.Location(),
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x7012)),
		feed:       tally.New(),
		byID:       map[string]*member{},
		packs:      map[string]int64{},
		packRefuse: map[string]int64{},
		packLast:   map[string]time.Time{},
		gateOff:    map[string]decimal.Decimal{},
		gateUsed:   map[string]int64{},
		after:      newAfter(),
	}
	s.start = time.Date(2025, 1, 1, 0, 0, 0, 0, s.loc)
	s.days = int(s.start.AddDate(0, cfg.Months, 0).Sub(s.start).Hours()/24 + 0.5)
	for i := range cfg.Members {
		m := &member{id: fmt.Sprintf("v%05d", i+1)}
		x := s.rng.Float64()
		m.kind = personas[len(personas)-1]
		for _, pr := range personas {
			if x < pr.share {
				m.kind = pr
				break
			}
			x -= pr.share
		}
		m.join = s.rng.IntN(min(s.days, 300))
		if m.kind.name == "local" || m.kind.name == "tourist" {
			m.join = s.rng.IntN(min(s.days, 60))
		}
		m.seasonal = m.kind.name == "local" && s.rng.Float64() < 0.4
		s.members = append(s.members, m)
		s.byID[m.id] = m
	}
	return s
}

func (s *sim) day(d int) time.Time { return s.start.AddDate(0, 0, d) }

// visit is one member's day.
type visit struct {
	m    *member
	evs  []event.Event
	pack string // a pack claimed at 07:30
	// till is the member's first purchase of the day, if it may use
	// coupons: the gate (tickets, cable car) or a shop.
	till     *purchase
	exchange bool // exchanges points after closing

	// After the sale (after.go), drawn in plan.
	late    int                   // the visit's events reach the program this many days late
	retry   bool                  // its first purchase is sent again the day after
	refunds map[string]refundPlan // by purchase
}

// purchase is a ticket or shop order before the till.
type purchase struct {
	id     string
	at     time.Time
	store  string
	lines  []coupon.Line
	total  decimal.Decimal
	off    decimal.Decimal
	ticket bool
	count  int64
}

func (s *sim) run(ctx context.Context) error {
	for d := range s.days {
		at := s.day(d)
		n, err := s.p.Advance(ctx, at)
		if err != nil {
			return err
		}
		s.advanced += n
		if err := s.feed.Consume(ctx, s.p); err != nil {
			return err
		}
		if at.Weekday() == time.Monday {
			if err := s.review(ctx, at.Add(7*time.Hour+30*time.Minute)); err != nil {
				return err
			}
		}
		visits := s.plan(d)
		morning := at.Add(7*time.Hour + 30*time.Minute)
		// Packs one at a time, in member order: their stock is scarce,
		// and who gets the last ones must not depend on timing.
		for _, v := range visits {
			if err := s.claim(ctx, v, morning); err != nil {
				return err
			}
		}
		if err := tally.Parallel(visits, func(v *visit) error { return s.till(ctx, v) }); err != nil {
			return err
		}
		evs := s.due(d)
		for _, v := range visits {
			s.finish(v)
			evs = append(evs, s.send(d, v)...)
		}
		// No rule refuses these events (risk control blocks or freezes
		// points, it does not refuse the event), so one batch a day.
		outs, err := tally.ProcessDay(ctx, s.p, at, evs)
		if err != nil {
			return err
		}
		s.sent.Answered(d, evs, outs)
		if len(outs) > 0 {
			s.batches++
			s.events += len(outs)
		}
		if err := tally.Parallel(visits, func(v *visit) error { return s.evening(ctx, v, at.Add(21*time.Hour)) }); err != nil {
			return err
		}
		if s.days >= 30 && d == s.days-10 {
			if err := s.erase(ctx, d); err != nil {
				return err
			}
		}
		s.bar.Set(int64(d + 1))
	}
	n, err := s.p.Advance(ctx, s.day(s.days))
	if err != nil {
		return err
	}
	s.advanced += n
	return s.feed.Consume(ctx, s.p)
}

// plan draws the day's visits, in member order, from the one random source.
func (s *sim) plan(d int) []*visit {
	day := s.day(d)
	summer := d >= 120 && d < 250
	var out []*visit
	for _, m := range s.members {
		if d < m.join || s.isErased(m.id) {
			continue
		}
		away := m.seasonal && d >= 100 && d < 250
		v := &visit{m: m}
		at := day.Add(8*time.Hour + time.Duration(s.rng.IntN(10*60))*time.Minute)
		next := func() time.Time { at = at.Add(time.Duration(1+s.rng.IntN(25)) * time.Minute); return at }
		if !m.verified && (d == m.join || s.rng.Float64() < 0.01) && s.rng.Float64() < 0.6 {
			m.verified = true
			v.evs = append(v.evs, event.Event{ID: "rn-" + m.id, Member: m.id, Type: "real_name", Time: next()})
		}
		if !away && s.rng.Float64() < m.kind.app {
			v.evs = append(v.evs, event.Event{ID: fmt.Sprintf("ci-%s-%d", m.id, d), Member: m.id, Type: "check_in", Time: next()})
		}
		// Ticket bundles are promoted in the app over the summer.
		if summer && !away && s.rng.Float64() < 0.004 {
			v.pack = "summer-bundle"
			if s.rng.Float64() < 0.35 {
				v.pack = "family-bundle"
			}
		}
		first := len(v.evs) == 0
		switch {
		case !away && s.rng.Float64() < m.kind.trips/30:
			s.trip(v, d, next, first)
		case !away && s.rng.Float64() < m.kind.shopping/30:
			s.shop(v, fmt.Sprintf("so-%s-%d", m.id, d), next(), first, s.rng.Float64() < 0.02)
		}
		v.exchange = len(v.evs) > 0 && s.rng.Float64() < 0.08
		if len(v.evs) > 0 {
			s.drawAfter(d, v)
		}
		if len(v.evs) > 0 || v.pack != "" || v.till != nil {
			out = append(out, v)
		}
	}
	return out
}

// trip is a day in the park: tickets at the gate (a cable-car ride too,
// sometimes), some scenic spots — all five in the trail's order for a
// third of the trips — and often a shop.
func (s *sim) trip(v *visit, d int, next func() time.Time, first bool) {
	m := v.m
	n := int64(1 + s.rng.IntN(3))
	if m.kind.bulk > 0 && s.rng.Float64() < m.kind.bulkOdds {
		n = int64(m.kind.bulk + s.rng.IntN(m.kind.bulk/2))
	}
	pu := &purchase{id: fmt.Sprintf("tk-%s-%d", m.id, d), at: next(), store: "gate", ticket: true, count: n}
	pu.lines = []coupon.Line{{Product: "adult-ticket", Category: "ticket", Quantity: int(n), Amount: ticketPrice.Mul(decimal.NewFromInt(n))}}
	if s.rng.Float64() < 0.3 {
		pu.lines = append(pu.lines, coupon.Line{Product: "cable-car", Category: "ride", Amount: ridePrice})
	}
	for _, l := range pu.lines {
		pu.total = pu.total.Add(l.Amount)
	}
	if first {
		// The till asks the program first; finish fills the event in.
		v.till = pu
		v.evs = append(v.evs, event.Event{})
	} else {
		v.evs = append(v.evs, s.ticketEvent(v.m, pu))
	}
	route := slices.Clone(spots)
	if s.rng.Float64() < 0.65 {
		s.rng.Shuffle(len(route), func(i, j int) { route[i], route[j] = route[j], route[i] })
		route = route[:2+s.rng.IntN(3)]
	}
	for i, spot := range route {
		v.evs = append(v.evs, event.Event{ID: fmt.Sprintf("vs-%s-%d-%d", m.id, d, i), Member: m.id, Type: "visit", Time: next(),
			Attrs: event.Attrs{"spot": event.Str(spot)}})
	}
	if s.rng.Float64() < 0.5 {
		s.shop(v, fmt.Sprintf("so-%s-%d", m.id, d), next(), false, m.kind.bulk > 0 && s.rng.Float64() < 0.3)
	}
	s.trips++
	s.tickets += n
}

// shop is a shop order: a big one (a group's souvenirs) passes the shop
// points' daily threshold and is cut by risk control.
func (s *sim) shop(v *visit, id string, at time.Time, first, big bool) {
	amt := 30 + s.rng.Float64()*250
	if big {
		amt = 1600 + s.rng.Float64()*1500
	}
	pu := &purchase{id: id, at: at, store: shops[s.rng.IntN(len(shops))]}
	pu.total = decimal.New(int64(amt*100), -2)
	pu.lines = []coupon.Line{{Product: "souvenirs", Category: "shop", Amount: pu.total}}
	if first {
		v.till = pu
		v.evs = append(v.evs, event.Event{})
		return
	}
	v.evs = append(v.evs, s.shopEvent(v.m, pu))
}

func (s *sim) ticketEvent(m *member, pu *purchase) event.Event {
	return event.Event{ID: pu.id, Member: m.id, Type: "ticket", Time: pu.at, Attrs: event.Attrs{
		"amount": event.Dec(pu.total.Sub(pu.off)), "order_id": event.Str(pu.id), "tickets": event.Int(pu.count)}}
}

func (s *sim) shopEvent(m *member, pu *purchase) event.Event {
	return event.Event{ID: pu.id, Member: m.id, Type: "shop_order", Time: pu.at, Attrs: event.Attrs{
		"amount": event.Dec(pu.total.Sub(pu.off)), "order_id": event.Str(pu.id), "shop": event.Str(pu.store)}}
}

// claim claims the visit's pack in the app, if any; a refusal (out of
// stock, the member's limit) is counted, not an error.
func (s *sim) claim(ctx context.Context, v *visit, at time.Time) error {
	if v.pack == "" {
		return nil
	}
	_, err := s.p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: fmt.Sprintf("pk-%s-%s", v.m.id, at.Format(time.DateOnly)),
		Member: v.m.id, Pack: v.pack, At: at})
	switch {
	case err == nil:
		s.packs[v.pack]++
		s.packLast[v.pack] = at
	case errors.Is(err, coupon.ErrOutOfStock):
		s.packRefuse[v.pack+"/out of stock"]++
	case errors.Is(err, coupon.ErrLimitReached):
		s.packRefuse[v.pack+"/limit reached"]++
	default:
		return err
	}
	return nil
}

// till is the member's first purchase of the day, which uses the member's
// coupons that apply: by QR code for one, locked and used for several.
func (s *sim) till(ctx context.Context, v *visit) error {
	pu := v.till
	if pu == nil || len(s.feed.Live[v.m.id]) == 0 {
		return nil
	}
	o := coupon.Order{ID: pu.id, Member: v.m.id, Store: pu.store, Time: pu.at, Lines: pu.lines}
	prop, err := s.p.Coupons().Checkout(ctx, o)
	if err != nil || len(prop.Coupons) == 0 {
		return err
	}
	off, n, err := tally.PayCoupons(ctx, s.p, o, prop, func(id string) (string, bool, error) {
		held, ok := s.feed.Live[v.m.id][id]
		if !ok {
			// Claimed this morning: not read from the feed yet.
			var err error
			if held, err = s.coupon(ctx, v.m.id, id); err != nil {
				return "", false, err
			}
		}
		return held.QR(), true, nil
	})
	if err != nil {
		return err
	}
	s.used(pu, off, n)
	return nil
}

// coupon returns one of the member's live coupons.
func (s *sim) coupon(ctx context.Context, member, id string) (coupon.Coupon, error) {
	cs, err := s.p.Coupons().Live(ctx, member)
	if err != nil {
		return coupon.Coupon{}, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	return coupon.Coupon{}, fmt.Errorf("coupon %s of %s: not live", id, member)
}

func (s *sim) used(pu *purchase, off decimal.Decimal, n int) {
	pu.off = off
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gateOff[pu.store] = s.gateOff[pu.store].Add(off)
	s.gateUsed[pu.store] += int64(n)
}

// finish fills the till's event (at its place in the member's day) with
// the amount paid after coupons.
func (s *sim) finish(v *visit) []event.Event {
	for i, ev := range v.evs {
		if ev.ID != "" {
			continue
		}
		if v.till.ticket {
			v.evs[i] = s.ticketEvent(v.m, v.till)
		} else {
			v.evs[i] = s.shopEvent(v.m, v.till)
		}
	}
	return v.evs
}

// evening: some members exchange points after closing time — shop points
// into park points when they have 400 or more, park points into shop
// points when they hold 1,000 or more park points and no shop points to
// speak of — or spend 1,000 park points on an annual-pass discount.
func (s *sim) evening(ctx context.Context, v *visit, at time.Time) error {
	if !v.exchange {
		return nil
	}
	sh, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "shops", Member: v.m.id, At: at})
	if err != nil {
		return err
	}
	pk, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "park", Member: v.m.id, At: at})
	if err != nil {
		return err
	}
	id := fmt.Sprintf("ex-%s-%s", v.m.id, at.Format(time.DateOnly))
	hundred := decimal.NewFromInt(100)
	switch {
	case sh.Available.GreaterThanOrEqual(decimal.NewFromInt(400)):
		amt := sh.Available.Div(hundred).Floor().Mul(hundred)
		_, err = s.p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: v.m.id, From: "shops", To: "park", Amount: amt, At: at})
	case pk.Available.GreaterThanOrEqual(decimal.NewFromInt(2000)):
		_, err = s.p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Program: "park", Member: v.m.id, Ref: id,
			Amount: decimal.NewFromInt(1000), At: at})
		if err == nil {
			s.mu.Lock()
			s.redeemed++
			s.mu.Unlock()
		}
		return err
	case pk.Available.GreaterThanOrEqual(decimal.NewFromInt(1000)):
		_, err = s.p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: v.m.id, From: "park", To: "shops", Amount: decimal.NewFromInt(300), At: at})
	default:
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.exchanges++
	s.mu.Unlock()
	return nil
}

// review is the operators' weekly risk-control review of frozen park
// days: a scalper's day is voided, anyone else's restored. The days of
// erased members stay frozen: every call about them is refused.
func (s *sim) review(ctx context.Context, at time.Time) error {
	for {
		rs, err := s.p.Points().Reviews(ctx, "park", 100)
		rs = slices.DeleteFunc(rs, func(r points.Review) bool { return s.isErased(r.Member) })
		if err != nil || len(rs) == 0 {
			return err
		}
		for _, r := range rs {
			req := points.ReviewRequest{RequestID: fmt.Sprintf("rv-%s-%s-%d", r.Member, r.Date, r.Round), Program: "park",
				Member: r.Member, Date: r.Date, Operator: "risk.zhao", At: at}
			if s.byID[r.Member].kind.name == "scalper" {
				_, err = s.p.Points().Void(ctx, req)
				s.voided++
			} else {
				_, err = s.p.Points().Restore(ctx, req)
				s.restored++
			}
			if err != nil {
				return err
			}
		}
	}
}
