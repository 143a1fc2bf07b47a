package level

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ErrNotDefined is returned by every call of a Handle whose program
// defines no levels but History, which lists no record.
var ErrNotDefined = errors.New("the program defines no levels")

// Handle is the level domain of a program: the operator's manual level
// set and grant of the gifts owed, and the queries of members' levels,
// growth, history and term ends.
// A program hands out one (membership.Program.Levels); it is safe for
// concurrent use.
type Handle struct {
	e *engine.Engine
	p *part // nil when the program defines no levels
}

// New registers the level part of def with e (as its part and as the
// engine's reader of members' levels and plans) and returns its handle.
// With a nil def it registers nothing: History returns an empty list and
// the other calls an error wrapping ErrNotDefined.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Levels] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	e.CheckInUse(func(tx store.Tx) error { return inUse(tx, def) })
	if def == nil {
		return h
	}
	h.p = newPart(*def, e.Log(), e.Location())
	e.Add(h.p)
	e.SetLevels(h.p)
	return h
}

// SetRequest is an operator's manual level set.
type SetRequest struct {
	// RequestID is the idempotency key: the same ID with the same request
	// returns the first outcome; with another request, an error wrapping
	// event.ErrConflict.
	RequestID string `json:"request_id"`
	// Member is whose level is set.
	Member string `json:"member"`
	// Operator and Note say who set it and why; both are required.
	Operator string `json:"operator"`
	Note     string `json:"note"`
	// At is when the level takes effect and the new term starts; one
	// before the level the member holds started (Status.Since) takes
	// effect at that start.
	At time.Time `json:"at"`
	// Level is the ladder level to set.
	Level string `json:"level"`
}

// Set sets a member's level by hand, starting a new term at req.At; growth
// is left as it is and no upgrade gift is granted (a member set below the
// level their growth reaches moves back up at their next growth
// increase). A term end due before req.At is performed first. A req.At
// before the level the member holds started (their later event or a term
// end went first) takes effect at that start, so that the move never
// precedes the one it follows. It returns
// errors wrapping event.ErrInvalidArgument (no request ID, member,
// operator, note or time), ErrNoLadder, ErrUnknownLevel, event.ErrConflict
// (the request ID reused with another request) or ErrNotDefined. The
// retry of a set applied before returns its first outcome, Duplicate set,
// even where the definition now in force would refuse it (a newer version
// dropped its level).
func (h *Handle) Set(ctx context.Context, req SetRequest) (*change.Outcome, error) {
	var to int // the level's index, once checked
	check := func() error {
		switch {
		case h.p == nil:
			return ErrNotDefined
		case len(h.p.def.Ladder) == 0:
			return ErrNoLadder
		case req.RequestID == "" || req.Operator == "" || req.Note == "" || req.At.IsZero():
			return fmt.Errorf("%w: request ID, operator, note and time are required", event.ErrInvalidArgument)
		}
		if err := event.CheckMember(req.Member); err != nil {
			return err
		}
		if to = h.p.def.Index(req.Level); to < 0 {
			return fmt.Errorf("%w %q", ErrUnknownLevel, req.Level)
		}
		return nil
	}
	body := req
	body.At = body.At.UTC() // the same instant in any zone is the same request
	out, err := h.e.Apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Member: req.Member, Action: "level.set", Operator: req.Operator,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}, Check: check}, func(u *engine.Unit) error {
		return h.p.setLevel(u, req.Member, to, req.Operator, req.Note)
	})
	if err != nil {
		return nil, fmt.Errorf("level: set level of %q: %w", req.Member, err)
	}
	return out, nil
}

// GrantOwedRequest asks to grant a member the rewards of upgrade gifts
// they are owed (Status.Owed) now, each tried whatever the day and
// definition of its last refusal.
type GrantOwedRequest struct {
	// RequestID is the idempotency key: the same ID with the same request
	// returns the first result; with another request, an error wrapping
	// event.ErrConflict.
	RequestID string `json:"request_id"`
	// Member is whose gifts are granted.
	Member string `json:"member"`
	// Operator says who asked (required); Note why (optional). Both are
	// kept in the ledger entries and the gifts' reasons.
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
	// At is when the gifts are granted (a coupon's validity counts from
	// it).
	At time.Time `json:"at"`
}

// GrantOwedResult is what GrantOwed did, read from its outcome.
type GrantOwedResult struct {
	// Granted lists the rewards given (each published as ChangeGift);
	// Owed those refused again, still owed (ChangeOwed); Dropped those
	// the definition no longer gives, owed no more (ChangeGiftDropped).
	Granted, Owed, Dropped []Gift
	Outcome                *change.Outcome
}

// GrantOwed grants a member the rewards of upgrade gifts owed to them
// (refused when they reached the level: a coupon out of stock), each at
// most once, as a later event of the member would: after a restock, or
// once the claim period is open, an operator settles what is owed without
// waiting for the member. It tries every reward owed, where an event
// tries only those refused under another definition or on an earlier day
// (see the package doc, Gifts owed). A reward refused again stays owed;
// one the definition no longer gives is dropped (ChangeGiftDropped). A
// member owed nothing
// gets nothing, and the call is accepted. A term end due before req.At is
// performed first. It returns errors wrapping event.ErrInvalidArgument
// (no request ID, operator or time; a member that is not an ID),
// ErrNoLadder, event.ErrConflict (the request ID reused with another
// request) or ErrNotDefined; nothing is written then. The retry of a
// grant applied before returns its first result, as Set's does, under a
// version without a ladder too.
func (h *Handle) GrantOwed(ctx context.Context, req GrantOwedRequest) (GrantOwedResult, error) {
	check := func() error {
		switch {
		case h.p == nil:
			return ErrNotDefined
		case len(h.p.def.Ladder) == 0:
			return ErrNoLadder
		case req.RequestID == "" || req.Operator == "" || req.At.IsZero():
			return fmt.Errorf("%w: request ID, operator and time are required", event.ErrInvalidArgument)
		}
		return event.CheckMember(req.Member)
	}
	inputs := map[string]string{"operator": req.Operator}
	if req.Note != "" {
		inputs["note"] = req.Note
	}
	body := req
	body.At = body.At.UTC() // the same instant in any zone is the same request
	out, err := h.e.Apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Member: req.Member, Action: "level.grant_owed", Operator: req.Operator,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}, Check: check}, func(u *engine.Unit) error {
		if err := h.p.catchUp(u, req.Member); err != nil {
			return err
		}
		refused, err := h.p.payOwed(u, req.Member, inputs, true)
		if err != nil {
			return err
		}
		return h.p.owe(u, req.Member, refused)
	})
	if err != nil {
		return GrantOwedResult{}, fmt.Errorf("level: grant owed gifts of %q: %w", req.Member, err)
	}
	e, err := EffectsOf(out)
	if err != nil {
		return GrantOwedResult{Outcome: out}, fmt.Errorf("level: grant owed gifts of %q: %w", req.Member, err)
	}
	return GrantOwedResult{Granted: e.Gifts, Owed: e.Owed, Dropped: e.Dropped, Outcome: out}, nil
}

// Status is a member's level, term, growth, freezes and plans, with times
// in the program's zone.
type Status struct {
	Member string `json:"member"`
	// Level is the ladder level (the entry level for a member never seen,
	// or known only for plans bought before the definition had a ladder;
	// "" without a ladder).
	Level string `json:"level,omitempty"`
	// Since and TermEnd bound the current term (TermEnd zero: permanent,
	// or a level a version made timed whose term starts at the member's
	// next event; see the package doc, A new version of the definition).
	Since   time.Time `json:"since,omitzero"`
	TermEnd time.Time `json:"term_end,omitzero"`
	// Growth is the current growth; Lifetime the net growth ever earned.
	Growth   decimal.Decimal `json:"growth"`
	Lifetime decimal.Decimal `json:"lifetime"`
	// Frozen lists the frozen levels with their deadlines (zero: long-term),
	// the growth earned since each downgrade, and the growth still needed
	// to return to each (Frozen.Needed).
	Frozen []Frozen `json:"frozen,omitempty"`
	// Gifted lists the ladder's levels whose upgrade gifts the member has
	// had, in ladder order: an upgrade (or a return from a freeze) marks
	// each level with gifts that it crosses the first time, a manual set
	// marks none, and an opening (package migrate) marks those it is
	// given. At its next reach a level listed grants only the rewards
	// owed of it (all its gifts if it grants them every time). A level
	// the ladder no longer has is left out.
	Gifted []string `json:"gifted,omitempty"`
	// Owed lists the rewards of upgrade gifts refused when the member
	// reached their level (a coupon out of stock), each as the level's
	// gift it is (two of one template with other counts each with its
	// own): a later event of the member tries each again once another
	// definition is in force or on a later day than its last refusal;
	// GrantOwed tries them all.
	Owed []Gift `json:"owed,omitempty"`
	// OwedPlaces holds, for each of Owed (OwedPlaces[i] is Owed[i]'s), its
	// place among its level's gifts of its target (rule.Reward.Target),
	// counting from 1, so never 0: 1 for a level's only coupon of a
	// template, 2 for the second of two (counts 1 and 2, or a pack listed
	// twice). A reward owed in a record written before places, or
	// imported without one, has the place of its order: the k-th owed of
	// its level and target, place k. It tells apart two gifts owed that
	// Owed names alike (a pack owed once of the two); export.Openings
	// writes it, and migrate.OwedGift.Place reads it back.
	OwedPlaces []int `json:"owed_places,omitempty"`
	// Plans lists the paid plans held: until Advance performs a plan's
	// expiry for Status, until the expiry instant for StatusAt.
	Plans []Held `json:"plans,omitempty"`
}

// Status returns a member's level status as stored. It performs no due
// work: a term end or a fixed-duration freeze's deadline that neither
// Advance nor the member's later events or requests have performed shows
// as if it were still to come (StatusAt counts them). It returns errors
// wrapping ErrNotDefined, or the store's.
func (h *Handle) Status(ctx context.Context, member string) (Status, error) {
	s := Status{Member: member, Growth: decimal.Zero, Lifetime: decimal.Zero}
	if h.p == nil {
		return s, fmt.Errorf("level: status of %q: %w", member, ErrNotDefined)
	}
	if err := event.CheckMember(member); err != nil {
		return s, fmt.Errorf("level: status: %w", err)
	}
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error { return h.status(u, member, &s) })
	if err != nil {
		return s, fmt.Errorf("level: status of %q: %w", member, err)
	}
	return s, nil
}

// StatusAt returns a member's level status at time at: as Status, with
// the term ends and fixed-duration freeze deadlines due by at that Advance
// has not performed counted, as an event of the member at that time
// performs them first, without writing them; and the paid plans held at
// at (those expiring after it). It carries the member's current state
// forward, so at is meant to be now or later; for a time before the
// member's latest level change it answers with the current state, not the
// one held then (History says what the member held when). Without levels
// the error wraps ErrNotDefined, whatever the arguments, as the handle's
// other calls; a member that is not an ID, or an at that is zero or
// outside the years 1900 to 2099, wraps event.ErrInvalidArgument and
// names the field; else the error wraps ErrCatchUpLimit (more term ends
// due than an event performs), or is the store's.
func (h *Handle) StatusAt(ctx context.Context, member string, at time.Time) (Status, error) {
	s := Status{Member: member, Growth: decimal.Zero, Lifetime: decimal.Zero}
	if h.p == nil {
		return s, fmt.Errorf("level: status of %q: %w", member, ErrNotDefined)
	}
	if err := event.CheckQuery(member, at); err != nil {
		return s, fmt.Errorf("level: status: %w", err)
	}
	if at.IsZero() {
		return s, fmt.Errorf("level: status: %w: at: zero time", event.ErrInvalidArgument)
	}
	// A dry view: what the catch-up performs, the reads below see, and
	// nothing of it is kept.
	err := h.e.DryView(ctx, at, func(u *engine.Unit) error {
		if err := h.p.catchUp(u, member); err != nil {
			return err
		}
		return h.status(u, member, &s)
	})
	if err != nil {
		return s, fmt.Errorf("level: status of %q: %w", member, err)
	}
	held := s.Plans[:0]
	for _, pl := range s.Plans {
		if pl.Expires.IsZero() || at.Before(pl.Expires) {
			held = append(held, pl)
		}
	}
	if s.Plans = held; len(held) == 0 {
		s.Plans = nil
	}
	return s, nil
}

// status reads member's status in u into *s, with times in the program's
// zone.
func (h *Handle) status(u *engine.Unit, member string, s *Status) error {
	m, ok, err := loadMember(u.Tx(), member)
	if err != nil {
		return err
	}
	if !ok {
		if len(h.p.def.Ladder) > 0 {
			s.Level = h.p.def.Ladder[0].Name
		}
		return nil
	}
	s.Level, s.Since, s.TermEnd, s.Lifetime, s.Frozen, s.Plans = m.Level, m.Since, m.TermEnd, m.Lifetime, m.Frozen, m.Plans
	if s.Level == "" && len(h.p.def.Ladder) > 0 {
		// Known only for plans bought before the definition had a
		// ladder: the member joins its entry level with their next
		// event or request.
		s.Level = h.p.def.Ladder[0].Name
	}
	for _, l := range h.p.def.Ladder {
		if m.hasGift(l.Name) {
			s.Gifted = append(s.Gifted, l.Name)
		}
	}
	for _, o := range m.Owed {
		if g, ok := h.p.def.owedGift(o); ok {
			s.Owed, s.OwedPlaces = append(s.Owed, g), append(s.OwedPlaces, o.N+1)
		}
	}
	if s.Growth, err = balance(u, member); err != nil {
		return err
	}
	loc := h.e.Location()
	s.Since, s.TermEnd = inZone(s.Since, loc), inZone(s.TermEnd, loc)
	for i := range s.Frozen {
		f := &s.Frozen[i]
		f.Since, f.Deadline = inZone(f.Since, loc), inZone(f.Deadline, loc)
		f.Unfreeze, f.Needed, _ = h.p.def.Needed(*f)
	}
	for i := range s.Plans {
		p := &s.Plans[i]
		p.Since, p.Expires = inZone(p.Since, loc), inZone(p.Expires, loc)
	}
	return nil
}

// History returns up to limit (0: 100; above 1,000: 1,000) of a
// member's level history records with Seq after after, oldest first:
// every level change with its cause, and plan purchases and expiries,
// with times in the program's zone (numbers are never reused, and a late
// plan purchase may remove an expiry: see Paid plans in the package doc,
// so a number may be missing); an empty list on a program without
// levels. A negative limit, or a member that is not an ID, wraps
// event.ErrInvalidArgument and names the field; else the error is the
// store's.
func (h *Handle) History(ctx context.Context, member string, after uint64, limit int) ([]Record, error) {
	limit, err := event.PageSize(limit, 100, 1000)
	if err != nil {
		return nil, fmt.Errorf("level: history: %w", err)
	}
	if h.p == nil {
		return nil, nil
	}
	if err := event.CheckMember(member); err != nil {
		return nil, fmt.Errorf("level: history: %w", err)
	}
	var out []Record
	err = h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		var err error
		out, err = history(u.Tx(), member, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("level: history of %q: %w", member, err)
	}
	loc := h.e.Location()
	for i := range out {
		r := &out[i]
		r.Time, r.TermEnd, r.Expires = inZone(r.Time, loc), inZone(r.TermEnd, loc), inZone(r.Expires, loc)
	}
	return out, nil
}

// GrowthDay is the net growth a member earned on one day (a date in the
// program's zone): what the retention window of a term end counts.
type GrowthDay struct {
	Day    rule.Date       `json:"day"`
	Growth decimal.Decimal `json:"growth"`
}

// GrowthDays returns the net growth member earned on each day from from
// on, oldest first, the days of no net growth left out: the daily
// buckets the retention windows read (a re-base is not earned, and is not
// among them). Its cost is one range scan of the member's days from
// from. It returns errors wrapping ErrNotDefined, event.ErrInvalidArgument
// (a member that is not an ID, a from that is not a valid date), or the
// store's (store.ErrCorrupt for a damaged day record).
func (h *Handle) GrowthDays(ctx context.Context, member string, from rule.Date) ([]GrowthDay, error) {
	switch {
	case h.p == nil:
		return nil, fmt.Errorf("level: growth days of %q: %w", member, ErrNotDefined)
	case !from.Valid():
		return nil, fmt.Errorf("level: growth days of %q: %w: from: %q is not a date", member, event.ErrInvalidArgument, from)
	}
	if err := event.CheckMember(member); err != nil {
		return nil, fmt.Errorf("level: growth days: %w", err)
	}
	var out []GrowthDay
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		m, ok, err := loadMember(u.Tx(), member)
		if err != nil || !ok {
			return err
		}
		out, err = growthDays(u.Tx(), member, &m, from)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("level: growth days of %q: %w", member, err)
	}
	return out, nil
}

// Count is the number of members holding a level or a plan.
type Count struct {
	Name    string `json:"name"`
	Plan    bool   `json:"plan,omitempty"`
	Members int64  `json:"members"`
}

// Counts returns the number of members at each ladder level (lowest
// first), then holding each plan. The counts are kept on every change, so
// this reads one counter per level and plan. It returns errors wrapping
// ErrNotDefined, or the store's.
func (h *Handle) Counts(ctx context.Context) ([]Count, error) {
	if h.p == nil {
		return nil, fmt.Errorf("level: counts: %w", ErrNotDefined)
	}
	var out []Count
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		out = out[:0]
		for _, l := range h.p.def.Ladder {
			n, err := count(u.Tx(), l.Name)
			if err != nil {
				return err
			}
			out = append(out, Count{Name: l.Name, Members: n})
		}
		for _, pl := range h.p.def.Plans {
			n, err := count(u.Tx(), pl.Name)
			if err != nil {
				return err
			}
			out = append(out, Count{Name: pl.Name, Plan: true, Members: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("level: counts: %w", err)
	}
	return out, nil
}

// ForecastItem is a member whose term ends soon.
type ForecastItem struct {
	Member  string    `json:"member"`
	Level   string    `json:"level"`
	TermEnd time.Time `json:"term_end"`
	// Window is the net growth so far in the retention window ending at
	// TermEnd, negative when refunds in it took more than it earned;
	// Retention the level's retention threshold.
	Window    decimal.Decimal `json:"window"`
	Retention decimal.Decimal `json:"retention"`
	// Needed is the growth still needed before TermEnd to keep the level
	// (zero when it is kept already, and always for the entry level, which
	// a term end never takes away, even with a window that refunds left
	// negative).
	Needed decimal.Decimal `json:"needed"`
	// Next is the level the member would hold after TermEnd with no more
	// growth.
	Next string `json:"next"`
}

// Forecast returns up to limit (0: 1,000; above 10,000: 10,000) members
// whose term ends in [from, from + days days), earliest first, with the
// growth each still needs to keep their level (a term of a level that a
// version has since made permanent does not end, and is not listed);
// times are in the program's
// zone. from + days days is the same wall-clock time days days later in
// that zone, and from the start of a day, where term ends fall, the start
// of the day days later, also where daylight saving moves a start off
// 00:00 (before, a day from such a start, or from the day before two
// midnights, took in the next day's start: a host forecasting day by day
// listed its term ends twice). It reads the due index over that range, so its cost is
// proportional to what falls due there. It returns errors wrapping
// event.ErrInvalidArgument and naming the argument (a zero from, or one
// outside the years 1900 to 2099 as every query time; days not 1 to
// MaxDays; a negative limit), ErrNotDefined, or the store's.
func (h *Handle) Forecast(ctx context.Context, from time.Time, days, limit int) ([]ForecastItem, error) {
	switch {
	case h.p == nil:
		return nil, fmt.Errorf("level: forecast: %w", ErrNotDefined)
	case from.IsZero():
		return nil, fmt.Errorf("level: forecast: %w: from: zero time", event.ErrInvalidArgument)
	case days < 1 || days > MaxDays:
		return nil, fmt.Errorf("level: forecast: %w: days %d, want 1 to %d", event.ErrInvalidArgument, days, MaxDays)
	}
	if err := event.CheckTime(from); err != nil {
		return nil, fmt.Errorf("level: forecast: %w: from: %w", event.ErrInvalidArgument, err)
	}
	limit, err := event.PageSize(limit, 1000, 10000)
	if err != nil {
		return nil, fmt.Errorf("level: forecast: %w", err)
	}
	d, loc := &h.p.def, h.e.Location()
	to := addDays(from, days, loc)
	var out []ForecastItem
	err = h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		out = out[:0]
		// The engine schedules the part's due items; the forecast reads
		// them back, for its own kind only.
		return due.Range(u.Tx(), from, to, func(it engine.Item) error {
			if it.Kind != dueTerm {
				return nil
			}
			if len(out) == limit {
				return store.StopScan
			}
			m, ok, err := loadMember(u.Tx(), it.ID)
			if err != nil || !ok || !m.TermEnd.Equal(it.At) {
				return err
			}
			cur := d.Index(m.Level)
			if cur < 0 || d.Ladder[cur].Validity.Kind == rule.Permanent {
				// A level left out, or made permanent by a version: no
				// retention at this end (see termEnd).
				return nil
			}
			l := d.Ladder[cur]
			g, err := earned(u.Tx(), it.ID, &m, WindowStart(it.At, max(l.Window, 1), loc), it.At, loc)
			if err != nil {
				return err
			}
			// The entry level is kept whatever its window holds: nothing
			// is needed, even when refunds left the window negative.
			next, kept := d.Retain(cur, g)
			needed := decimal.Zero
			if !kept {
				needed = l.Retention.Sub(g)
			}
			out = append(out, ForecastItem{Member: it.ID, Level: l.Name, TermEnd: it.At.In(loc), Window: g, Retention: l.Retention,
				Needed: needed, Next: d.Ladder[next].Name})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("level: forecast: %w", err)
	}
	return out, nil
}

// addDays returns from plus days days in loc: the same wall-clock time
// days days later (rule.Date.At), and from the start of a day the start
// of the day days later, where term ends fall. time.AddDate kept the
// wall clock of a start that daylight saving moved off 00:00 (01:00 on a
// day the clocks skip midnight, a day whose next one starts at 00:00) and
// took the second of two midnights: a day then took in the next day's
// start.
func addDays(from time.Time, days int, loc *time.Location) time.Time {
	day := rule.DateOf(from, loc)
	end := day.AddDays(days)
	if from.Equal(day.Start(loc)) {
		return end.Start(loc)
	}
	w := from.In(loc)
	return end.At(w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}
