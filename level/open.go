package level

import (
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// CheckOpen checks a member's opening level state without the store: the
// growth is not negative and the lifetime growth (when given) not below
// it; both keep to the growth scale (Definition.Rounding) and to the
// limit on decimals (event.CheckDecimal); each growth day is a valid
// date within the supported range, not after the row's day (in the
// program's zone), not given twice, and its amount keeps to the same
// scale and limit; the level, if any, is one of the ladder's, and a
// level, a term end, a level gifted or a gift owed needs a ladder; a term
// end is after the row's time and within the supported range; each level
// gifted is one of the ladder's, given once; each gift owed names a level
// of the ladder, among those gifted when they are given, and one of that
// level's gifts: the one at its place among the level's gifts of its
// target (migrate.OwedGift.Place, from 1) or, without one, the k-th
// listed of a level and target its k-th gift of that target; none is
// listed twice. Each plan held is one of the definition's (ErrUnknownPlan),
// given once, with an expiry after the row's time and a start (when
// given) not after it, both within the supported range; plans need no
// ladder.
func (p *part) CheckOpen(mm *migrate.Member) error {
	if err := p.checkPlans(mm); err != nil {
		return err
	}
	g, life := mm.Growth, mm.Lifetime
	if err := p.checkGrowth("growth", g); err != nil {
		return err
	}
	if err := p.checkGrowth("lifetime", life); err != nil {
		return err
	}
	if err := p.checkDays(mm); err != nil {
		return err
	}
	switch {
	case g.IsNegative():
		return migrate.Field("growth", fmt.Errorf("%w: %s is negative", event.ErrInvalidArgument, g))
	case !life.IsZero() && life.LessThan(g):
		return migrate.Field("lifetime", fmt.Errorf("%w: %s is below the growth %s", event.ErrInvalidArgument, life, g))
	}
	if len(p.def.Ladder) == 0 {
		if mm.Level != "" || !mm.TermEnd.IsZero() {
			return migrate.Field("level", fmt.Errorf("%w: %w", event.ErrInvalidArgument, ErrNoLadder))
		}
		if len(mm.GiftedLevels) > 0 {
			return migrate.Field("gifted_levels", fmt.Errorf("%w: %w", event.ErrInvalidArgument, ErrNoLadder))
		}
		if len(mm.OwedGifts) > 0 {
			return migrate.Field("owed_gifts", fmt.Errorf("%w: %w", event.ErrInvalidArgument, ErrNoLadder))
		}
		return nil
	}
	for i, l := range mm.GiftedLevels {
		f := fmt.Sprintf("gifted_levels[%d]", i)
		if p.def.Index(l) < 0 {
			return migrate.Field(f, fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownLevel, l))
		}
		if j := slices.Index(mm.GiftedLevels[:i], l); j >= 0 {
			return migrate.Fieldf(f, "%w: %q is given twice (gifted_levels[%d])", event.ErrInvalidArgument, l, j)
		}
	}
	os := openingOwed(mm.OwedGifts)
	for i, g := range mm.OwedGifts {
		f := fmt.Sprintf("owed_gifts[%d]", i)
		if p.def.Index(g.Level) < 0 {
			return migrate.Field(f+".level", fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownLevel, g.Level))
		}
		// A reward owed is one of a gift the member had: its level's
		// other rewards were given.
		if mm.GiftedLevels != nil && !slices.Contains(mm.GiftedLevels, g.Level) {
			return migrate.Fieldf(f+".level", "%w: %q is not among gifted_levels", event.ErrInvalidArgument, g.Level)
		}
		if g.Place < 0 {
			return migrate.Fieldf(f+".place", "%w: %d: want a place from 1 (or none, for its order)", event.ErrInvalidArgument, g.Place)
		}
		// The gift at its place or, without one, the k-th of a level and
		// target listed is the level's k-th gift of it (openingOwed): one
		// listed twice would be paid twice.
		o, last := os[i], -1 // last: the last listed before of its level and target
		for j, h := range os[:i] {
			if h.Level == o.Level && h.Reward == o.Reward {
				last = j
			}
		}
		switch _, ok := p.def.owedGift(o); {
		case !ok && last < 0 && g.Place == 0:
			return migrate.Fieldf(f+".reward", "%w: level %q gives no %q", event.ErrInvalidArgument, g.Level, g.Reward)
		case !ok && g.Place == 0:
			return migrate.Fieldf(f+".reward", "%w: level %q gives %q %d time(s), each owed before (the last at owed_gifts[%d])", event.ErrInvalidArgument, g.Level, g.Reward, o.N, last)
		case !ok:
			return migrate.Fieldf(f+".place", "%w: level %q has no gift %q at place %d", event.ErrInvalidArgument, g.Level, g.Reward, g.Place)
		}
		if j := slices.IndexFunc(os[:i], func(h owed) bool { return h.Level == o.Level && h.Reward == o.Reward && h.N == o.N }); j >= 0 {
			field := f + ".reward"
			if g.Place > 0 {
				field = f + ".place"
			}
			return migrate.Fieldf(field, "%w: level %q's gift %q at place %d is owed at owed_gifts[%d] too", event.ErrInvalidArgument, g.Level, g.Reward, o.N+1, j)
		}
	}
	if mm.Level != "" && p.def.Index(mm.Level) < 0 {
		return migrate.Field("level", fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownLevel, mm.Level))
	}
	if end := mm.TermEnd; !end.IsZero() {
		if !end.After(mm.At) {
			return migrate.Field("term_end", fmt.Errorf("%w: %s is not after the row's time", event.ErrInvalidArgument, end))
		}
		if err := event.CheckTime(end); err != nil {
			return migrate.Field("term_end", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
	}
	return nil
}

// checkPlans checks the plans of an opening state (CheckOpen).
func (p *part) checkPlans(mm *migrate.Member) error {
	for i, pl := range mm.Plans {
		f := fmt.Sprintf("plans[%d]", i)
		if _, ok := p.def.Plan(pl.Plan); !ok {
			return migrate.Field(f+".plan", fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownPlan, pl.Plan))
		}
		if j := slices.IndexFunc(mm.Plans[:i], func(q migrate.Plan) bool { return q.Plan == pl.Plan }); j >= 0 {
			return migrate.Fieldf(f+".plan", "%w: %q is given twice (plans[%d])", event.ErrInvalidArgument, pl.Plan, j)
		}
		if pl.Expires.IsZero() {
			return migrate.Fieldf(f+".expires", "%w: an expiry is required", event.ErrInvalidArgument)
		}
		for _, t := range []struct {
			name string
			at   time.Time
		}{{"expires", pl.Expires}, {"since", pl.Since}} {
			if t.at.IsZero() {
				continue
			}
			if err := event.CheckTime(t.at); err != nil {
				return migrate.Field(f+"."+t.name, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
			}
		}
		switch {
		case !pl.Expires.After(mm.At):
			return migrate.Fieldf(f+".expires", "%w: %s is not after the row's time", event.ErrInvalidArgument, pl.Expires.Format(time.RFC3339Nano))
		case pl.Since.After(mm.At):
			return migrate.Fieldf(f+".since", "%w: %s is after the row's time", event.ErrInvalidArgument, pl.Since.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// checkGrowth checks an amount of growth of the field named against the
// limit on decimals and the growth scale.
func (p *part) checkGrowth(field string, amt decimal.Decimal) error {
	if err := event.CheckDecimal(amt); err != nil {
		return migrate.Field(field, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
	}
	if !amt.Equal(p.def.Rounding.Round(amt)) {
		return migrate.Field(field, fmt.Errorf("%w: %s has more decimal places than the growth scale", event.ErrInvalidArgument, amt))
	}
	return nil
}

// checkDays checks the growth days of an opening state (CheckOpen).
func (p *part) checkDays(mm *migrate.Member) error {
	last := rule.DateOf(mm.At, p.loc)
	seen := make(map[rule.Date]int, len(mm.GrowthDays))
	for i, gd := range mm.GrowthDays {
		f := fmt.Sprintf("growth_days[%d]", i)
		if !gd.Day.Valid() {
			return migrate.Fieldf(f+".day", "%w: %q is not a date", event.ErrInvalidArgument, gd.Day)
		}
		if err := event.CheckTime(gd.Day.Start(p.loc)); err != nil {
			return migrate.Field(f+".day", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		if gd.Day.Compare(last) > 0 {
			return migrate.Fieldf(f+".day", "%w: %s is after the row's day %s", event.ErrInvalidArgument, gd.Day, last)
		}
		if j, ok := seen[gd.Day]; ok {
			return migrate.Fieldf(f+".day", "%w: %s is given twice (growth_days[%d])", event.ErrInvalidArgument, gd.Day, j)
		}
		seen[gd.Day] = i
		if err := p.checkGrowth(f+".growth", gd.Growth); err != nil {
			return err
		}
	}
	return nil
}

// openDays sets the member's daily growth to days (checked by CheckOpen),
// oldest first, as addDay keeps it: the latest in m, the others in day
// records. Days of zero growth have no record, as addDay leaves none.
func openDays(u *engine.Unit, member string, m *memberState, days []migrate.GrowthDay) error {
	days = slices.Clone(days)
	slices.SortFunc(days, func(a, b migrate.GrowthDay) int { return a.Day.Compare(b.Day) })
	for _, gd := range days {
		if gd.Growth.IsZero() {
			continue
		}
		if err := addDay(u.Tx(), member, m, gd.Day.Start(u.Location()), u.Location(), gd.Growth); err != nil {
			return err
		}
	}
	return nil
}

// CauseOpening is a level a member brought from another system
// (migrate.Member).
const CauseOpening Cause = "opening"

var (
	_ engine.Opener   = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// Open sets a member's opening level state: the growth, credited from the
// growth pool "opening" (ledger kind engine.KindOpening); the days it was
// earned on; the lifetime growth (the growth when zero; never below it);
// and, with a ladder, the level given, or else the highest
// level the growth reaches, with a new term from the row's time that ends
// at TermEnd or as the level's validity says. No upgrade gift is granted:
// they were the old system's to give. The levels whose gifts the member
// had are exactly GiftedLevels when given; without them (a file from
// before the field), the levels up to the member's count as gifted, and
// so does the level of each gift owed (OwedGifts). At its next reach a
// level gifted grants only the rewards owed of it (or, granting its gifts
// every time, all of them); one not gifted grants its gifts. The plans
// held (Plans, with or without a ladder) are the member's as if bought
// (see openPlans): their benefits count until their expiry, Advance
// performs it, and a purchase before it renews the plan from it. The
// engine refuses a member the part has records of
// (MemberRecords) before Open runs.
//
// The retention window of a term end counts the growth of the days it
// holds. With GrowthDays given, the member's daily growth is exactly
// those days, as if earned by events then (an exported member's days,
// export.Openings, give back the retention of the source). Without them,
// all of the growth counts as earned on the row's day, so a window
// counts all of it when it holds that day: a term end given (TermEnd)
// less than the level's window after it. A term of the level's own
// validity from the row's time (TermEnd zero) with a window no longer
// than the term, such as 12 months of both, starts its window the day
// after: as for a member who reached the level by an event that day, the
// level is kept at that term end only by growth earned after the opening.
func (p *part) Open(u *engine.Unit, mm *migrate.Member) error {
	member := mm.Member
	g, life := mm.Growth, mm.Lifetime
	if life.IsZero() {
		life = g
	}
	to := -1
	if len(p.def.Ladder) > 0 {
		to = p.def.Reach(g)
		if mm.Level != "" {
			to = p.def.Index(mm.Level) // CheckOpen found it
		}
	}
	m := memberState{Lifetime: life}
	if err := openDays(u, member, &m, mm.GrowthDays); err != nil {
		return err
	}
	if g.IsPositive() {
		posted, err := u.Transfer(engine.KindOpening,
			ledger.Leg{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: g},
			ledger.Leg{Account: ledger.Pool(ledger.Growth, string(engine.KindOpening)), Amount: g.Neg()})
		if err != nil {
			return err
		}
		if len(mm.GrowthDays) == 0 {
			if err := addDay(u.Tx(), member, &m, u.At(), u.Location(), g); err != nil {
				return err
			}
		}
		gc := GrowthChange{Amount: g, Balance: posted.Entries[0].Balance, Lifetime: life, Kind: engine.KindOpening, Rule: migrate.Rule}
		if err := u.EmitWith(ChangeGrowth, member, &rule.Reason{Rule: migrate.Rule}, gc.encode); err != nil {
			return err
		}
	}
	if to < 0 {
		if err := p.openPlans(u, member, &m, mm.Plans); err != nil {
			return err
		}
		if err := p.save(u, member, &m); err != nil {
			return err
		}
		return emitPlans(u, member, m.Plans)
	}
	l := p.def.Ladder[to]
	end := mm.TermEnd
	if end.IsZero() {
		end = l.TermEnd(u.At(), u.Location())
		if !end.IsZero() {
			if err := event.CheckTime(end); err != nil {
				return migrate.Field("term_end", err)
			}
		}
	}
	m.Level, m.Since, m.TermEnd = l.Name, u.At(), end
	if mm.GiftedLevels != nil {
		m.Gifted = slices.Clone(mm.GiftedLevels) // each of the ladder, once (CheckOpen)
	} else {
		for _, below := range p.def.Ladder[1 : to+1] {
			if len(below.Gifts) > 0 {
				m.Gifted = append(m.Gifted, below.Name)
			}
		}
	}
	// A gift owed is one of a level whose other rewards were given (gifts
	// marks them), above the member's level too (reached, then left);
	// given GiftedLevels hold its level already (CheckOpen).
	for _, g := range mm.OwedGifts {
		if !m.hasGift(g.Level) {
			m.Gifted = append(m.Gifted, g.Level)
		}
	}
	m.Owed = openingOwed(mm.OwedGifts)
	if err := p.scheduleTerm(u, member, time.Time{}, end); err != nil {
		return err
	}
	if err := addCount(u, member, l.Name, 1); err != nil {
		return err
	}
	// A member migrated in is first seen here: a join, at the level
	// placed, so that Days's counts at the end of the days before it
	// (today's counts less the moves since) leave the member out.
	if err := countMove(u, member, MoveJoin, "", l.Name); err != nil {
		return err
	}
	if err := appendHistory(u.Tx(), member, &m, &Record{Time: u.At(), Cause: CauseOpening, To: l.Name, TermEnd: end, Event: u.Ref().Event}); err != nil {
		return err
	}
	if err := p.openPlans(u, member, &m, mm.Plans); err != nil {
		return err
	}
	if err := p.save(u, member, &m); err != nil {
		return err
	}
	lc := LevelChange{To: l.Name, Cause: CauseOpening, TermEnd: end, Growth: g}
	if err := u.EmitWith(ChangeLevel, member, &rule.Reason{Rule: migrate.Rule, Inputs: map[string]string{"growth": g.String()}}, lc.encode); err != nil {
		return err
	}
	return emitPlans(u, member, m.Plans)
}

// openPlans gives the member the plans of an opening state (checked by
// CheckOpen) as a purchase would: each held until its expiry, which is
// scheduled, and counted among the plan's members. Its history record is
// a purchase dated at the start of its run (the row's time when none is
// given), naming the row's request as its event, so that the member's
// plans at a time before the import read as they do from the record
// (plansAt), and the expiry Advance performs closes the run it opens.
func (p *part) openPlans(u *engine.Unit, member string, m *memberState, plans []migrate.Plan) error {
	for _, pl := range plans {
		h := Held{Plan: pl.Plan, Since: pl.Since, Expires: pl.Expires}
		if h.Since.IsZero() {
			h.Since = u.At()
		}
		m.Plans = append(m.Plans, h)
		if err := addCount(u, member, h.Plan, 1); err != nil {
			return err
		}
		if err := u.Schedule(h.Expires, duePlan, h.Plan+"|"+member, planDue{Member: member, Plan: h.Plan}); err != nil {
			return err
		}
		if err := appendHistory(u.Tx(), member, m, &Record{Time: h.Since, Cause: CausePurchase, Event: u.Ref().Event, Plan: h.Plan, Expires: h.Expires}); err != nil {
			return err
		}
	}
	return nil
}

// emitPlans publishes the plans an opening gave the member
// (ChangePlanPurchased, with the opening's reason).
func emitPlans(u *engine.Unit, member string, held []Held) error {
	for _, h := range held {
		if err := u.Emit(ChangePlanPurchased, member, PlanChange{Plan: h.Plan, Since: h.Since, Expires: h.Expires}, &rule.Reason{Rule: migrate.Rule}); err != nil {
			return err
		}
	}
	return nil
}

// openingOwed returns the gifts owed of an opening state (checked by
// CheckOpen): each at its place (migrate.OwedGift.Place, from 1) or,
// without one (as a file from before the field lists them all), at that
// of its order among those listed of its level and target (orderPlace),
// as numberOwed reads a record of a member version before 6.
func openingOwed(gs []migrate.OwedGift) []owed {
	if len(gs) == 0 {
		return nil
	}
	os := make([]owed, len(gs))
	for i, g := range gs {
		os[i] = owed{Level: g.Level, Reward: g.Reward}
	}
	for i, g := range gs {
		if g.Place > 0 {
			os[i].N = g.Place - 1
		} else {
			os[i].N = orderPlace(os, i)
		}
	}
	return os
}
