package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// ErrNotPortable is returned by Openings for a member state the import
// format cannot carry, so that an import would not give it back: frozen
// points, pending points of a day awaiting review (released, they would
// go into the review; the import would release them spendable), a text
// holding one of the format's separators, or a carriage return before a
// line feed (the CSV reader reads the two as a line feed alone: another
// member ID, another phone), a term end or a pending release already due
// at the export's time (Advance the program to that time first), growth
// earned on a day after the export's, a plan bought or an achievement
// granted after the export's time, a profile attribute set to an
// empty text or list (its empty cell reads back as not set), an erased
// member (the format has no erasure mark: the import would make them a
// member again, whose events are taken), a points lot past the limit on
// decimals every amount keeps to (an exchange at a large rate can make
// one: the import refuses it; the error wraps event.ErrTooLarge too).
var ErrNotPortable = errors.New("state the import format cannot carry")

// OpeningReader reads what Openings writes; *membership.Program
// satisfies it.
type OpeningReader interface {
	Definition() membership.Definition
	// Location is the program's zone, the growth days' dates are in.
	Location() *time.Location
	Erased(ctx context.Context, member string) (at time.Time, erased bool, err error)
	Levels() *level.Handle
	Benefits() *benefit.Handle
	Points() *points.Handle
	Value() *value.Handle
	Coupons() *coupon.Handle
	Tags() *tag.Handle
}

// OpeningsHeader returns the header row of Openings' CSV for a
// definition: member and at; level, term_end, growth, lifetime,
// growth_days, gifted_levels, owed_gifts and plans with levels; points
// and pending with points; value_balance, value_recharged, value_spent,
// value_refunded and value_withdrawn with stored value; coupons with coupons;
// achievements with benefits; tags and one profile.NAME column per
// declared attribute with tags. These are
// migrate.CSV's columns, each only when the definition has its domain (an
// import refuses a domain the program leaves out).
func OpeningsHeader(def membership.Definition) []string {
	h := []string{"member", "at"}
	if def.Levels != nil {
		h = append(h, "level", "term_end", "growth", "lifetime", "growth_days", "gifted_levels", "owed_gifts", "plans")
	}
	if def.Points != nil {
		h = append(h, "points", "pending")
	}
	if def.StoredValue != nil {
		h = append(h, "value_balance", "value_recharged", "value_spent", "value_refunded", "value_withdrawn")
	}
	if def.Coupons != nil {
		h = append(h, "coupons")
	}
	if def.Benefits != nil {
		h = append(h, "achievements")
	}
	if def.Tags != nil {
		h = append(h, "tags")
		for _, a := range def.Tags.Attributes {
			h = append(h, "profile."+a.Name)
		}
	}
	return h
}

// Openings writes the state at time at of each member ids yields to w as
// the CSV that migrate.CSV reads (OpeningsHeader), one row per member, so
// that migrate.Run of the file into an empty program with the same
// definition gives each member the same state: the level with its term
// end, the growth and lifetime growth, and the days the growth was earned
// on that a retention window can still read (below); the levels whose
// upgrade gifts the member had (level.Status.Gifted, "Silver;Gold"), so
// that each level's next reach grants its gifts again or not after the
// import as before it (a level above the member's, gifted before a
// downgrade, grants nothing; one a manual set passed over grants them);
// the rewards of upgrade gifts owed (level.Status.Owed, as level|reward
// with the reward's target: "Silver|coupon:silver-cash"; with |place,
// level.Status.OwedPlaces, where the order does not say it: the second of
// a level's two gifts of one target owed without the first is
// "Silver|coupon:silver-cash|2"), which the level's next reach grants,
// and only them, each the same gift, after the import as before it (a
// file with no place reads the same on the releases before places; a
// row with one is a bad row there, at owed_gifts[i], rather than read as
// another gift); the paid plans held at at (level.Status.Plans, as
// plan|expires|since: "Plus|2027-03-10T12:00:00+08:00|2026-03-10T12:00:00+08:00"),
// each held after the import until the same expiry, from the same start,
// so that the member's benefits and member price are the same at every
// instant from the run's start on, before and after the expiry; every lot of points still held per
// program with its expiry, and each pending lot with its release; the
// stored-value balance with the cumulative recharge, spend, refund and
// withdrawal (a refund after the import is refused past the same spend
// less refunds, value.ErrRefundExceedsSpend; a tag recharge total that
// counts withdrawals off, tag.Recharge.Withdraw, opens at the recharge
// less the withdrawal, down to 0); the coupons
// held (available or locked in a checkout, both imported as available)
// with their template, expiry and code (the old system's code when the
// coupon has one, else its own); the achievements granted
// (benefit.Handle.Achievements, as achievement|at|source|by:
// "gold-club|2026-03-05T10:00:00+08:00|level|Gold"), each granted once
// after the import with the same time, source and name (its note is not
// carried, and its event is the import's request: benefit.Grant.Event;
// one of an achievement the catalog in force no longer has is left out,
// as the import would refuse it);
// the manual tags; the profile attributes.
// Each row's at is the export's time, the opening time of the import, in
// the program's zone as the file's other times.
//
// What the import format has no place for is not written: the level's
// start and freezes, statistics other than the recharge, tags kept by
// rules (the rules give them again), lots, coupons and plans expired at
// at (Advance would expire them), coupons used or revoked, the notes of
// achievements, tasks and the history itself (of a plan, the start of its
// run is carried: the import's history has one purchase, dated then, for
// the renewals and the runs before).
//
// Of points, the file carries the lots, not what they came from or went
// to. Not the orders that earned them: a refund of an order earned before
// the export reverses nothing in the imported program, points or growth,
// and the shortfall a refund recorded (points it could not take back as
// they were spent, which the source takes back from what a later
// reversal of a redemption returns) is not carried, so no reversal in the
// imported program settles it and the member keeps those points. Not the
// redemptions: none made before the export can be reversed in the
// imported program, so the points of a day that a review voided
// (points.Day.Voided, which such a reversal voids again) cannot come back
// there either. Not risk control's days (what the member earned on the
// export's day counts toward the daily threshold from zero again, and the
// reviews decided) nor the earning rules' cap counters. A day awaiting
// review is refused: its frozen points, and its pending points, whose
// release goes into the review (ErrNotPortable); the import has no
// review to put them in.
//
// The growth days are the member's net growth per day (level.Handle's
// GrowthDays) from the first day that the retention window of a term end
// at or after at can read (level.Definition.FirstWindowDay: the longest
// window of the ladder ending at at's day) on, so that the import's term
// ends keep or downgrade the member as the source's would, and re-base
// the growth alike. A member with growth and no such day gets one day of
// zero growth, at's day, which says that no window counts any of it (an
// empty cell would count all of it as earned on at's day). Growth earned
// on a day after at's (an event dated after the export's time) is refused
// (ErrNotPortable): the import cannot place it after its opening time.
// An erased member is refused (ErrNotPortable): leave them out of ids,
// knowing that their balances, which Erase keeps, then stay behind. The
// cells are not protected against spreadsheet formulas as Members' are:
// the file is for a program to read back, byte for byte.
//
// It returns the rows written; an error wrapping ErrInvalidArgument for a
// nil reader, writer or ids; one wrapping ErrNotPortable (naming the
// member) for a state it cannot write; and the errors of the reader, of w
// and of ctx.
func Openings(ctx context.Context, w io.Writer, src OpeningReader, ids iter.Seq[string], at time.Time, progress Progress) (int64, error) {
	if err := nilArg(w == nil, src == nil, ids == nil); err != nil {
		return 0, fmt.Errorf("export: openings: %w", err)
	}
	if at.IsZero() {
		return 0, fmt.Errorf("export: openings: %w: zero time", ErrInvalidArgument)
	}
	def := src.Definition()
	header := OpeningsHeader(def)
	rw := newRowWriter(w, progress)
	err := rw.header(header)
	if err == nil {
		for id := range ids {
			if err = ctx.Err(); err != nil {
				break
			}
			var row []string
			if row, err = openingRow(ctx, src, def, id, at); err == nil {
				err = readsBack(header, row)
			}
			if err != nil {
				err = fmt.Errorf("member %q: %w", id, err)
				break
			}
			if err = rw.row(row, position{}); err != nil {
				break
			}
		}
	}
	if err = rw.flush(err); err != nil {
		return rw.rows(), fmt.Errorf("export: openings: %w", err)
	}
	return rw.rows(), nil
}

// openingRow is a member's row, in OpeningsHeader's order.
func openingRow(ctx context.Context, src OpeningReader, def membership.Definition, id string, at time.Time) ([]string, error) {
	if err := event.CheckQuery(id, at); err != nil {
		return nil, err
	}
	if when, erased, err := src.Erased(ctx, id); err != nil {
		return nil, err
	} else if erased {
		return nil, fmt.Errorf("%w: the member was erased at %s", ErrNotPortable, instant(when))
	}
	row := []string{id, instant(at.In(src.Location()))}
	if def.Levels != nil {
		st, err := src.Levels().Status(ctx, id)
		if err != nil {
			return nil, err
		}
		if !st.TermEnd.IsZero() && !st.TermEnd.After(at) {
			return nil, fmt.Errorf("%w: the term of level %q ended at %s", ErrNotPortable, st.Level, instant(st.TermEnd))
		}
		days, err := growthDays(ctx, src, def, id, st.Growth, at)
		if err != nil {
			return nil, err
		}
		for _, l := range st.Gifted {
			if err := portable("level", l, ";"); err != nil {
				return nil, err
			}
		}
		owed, err := owedCell(st)
		if err != nil {
			return nil, err
		}
		plans, err := plansCell(st, at)
		if err != nil {
			return nil, err
		}
		row = append(row, st.Level, instant(st.TermEnd), amount(st.Growth), amount(st.Lifetime), days,
			strings.Join(st.Gifted, ";"), owed, plans)
	}
	if def.Points != nil {
		var held, pending []string
		for _, p := range def.Points.Programs {
			lots, err := src.Points().Lots(ctx, points.LotsQuery{Program: p.Name, Member: id})
			if err != nil {
				return nil, err
			}
			for _, l := range lots {
				if !l.Expires.IsZero() && !l.Expires.After(at) {
					continue // expired: Advance takes it
				}
				// An exchange at a large rate can make a lot past the
				// limit on decimals, which the import refuses.
				if err := engine.CheckLimit(l.Amount); err != nil {
					return nil, fmt.Errorf("%w: lot %s of %q holds %s points: %w", ErrNotPortable, l.ID, p.Name, l.Amount, err)
				}
				cells := []string{p.Name, amount(l.Amount), instant(l.Expires)}
				switch l.Sub {
				case "":
					held = append(held, strings.Join(cells, "|"))
				case points.SubPending:
					if l.Release.IsZero() {
						return nil, fmt.Errorf("%w: pending lot %s of %q has no recorded release time (granted before release times were kept)", ErrNotPortable, l.ID, p.Name)
					}
					if !l.Release.After(at) {
						return nil, fmt.Errorf("%w: pending lot %s of %q was due for release at %s", ErrNotPortable, l.ID, p.Name, instant(l.Release))
					}
					if err := underReview(ctx, src, p.Name, id, l); err != nil {
						return nil, err
					}
					pending = append(pending, strings.Join(append(cells, instant(l.Release)), "|"))
				default:
					return nil, fmt.Errorf("%w: %s %q points in the %s account (lot %s)", ErrNotPortable, l.Amount, p.Name, l.Sub, l.ID)
				}
			}
			if err := portable("point program", p.Name, "|;"); err != nil {
				return nil, err
			}
		}
		row = append(row, strings.Join(held, ";"), strings.Join(pending, ";"))
	}
	if def.StoredValue != nil {
		a, err := src.Value().Account(ctx, id)
		if err != nil {
			return nil, err
		}
		row = append(row, amount(a.Balance), amount(a.Recharged), amount(a.Spent), amount(a.Refunded), amount(a.Withdrawn))
	}
	if def.Coupons != nil {
		cs, err := src.Coupons().List(ctx, id)
		if err != nil {
			return nil, err
		}
		var held []string
		for _, c := range cs {
			if (c.State != coupon.Available && c.State != coupon.Locked) || (!c.Expires.IsZero() && !c.Expires.After(at)) {
				continue
			}
			code := c.Legacy
			if code == "" {
				code = c.Code
			}
			if err := portable("coupon template", c.Template, "|;"); err != nil {
				return nil, err
			}
			if err := portable("coupon code", code, "|;"); err != nil {
				return nil, err
			}
			held = append(held, c.Template+"|"+instant(c.Expires)+"|"+code)
		}
		row = append(row, strings.Join(held, ";"))
	}
	if def.Benefits != nil {
		cell, err := achievementsCell(ctx, src, *def.Benefits, id, at)
		if err != nil {
			return nil, err
		}
		row = append(row, cell)
	}
	if def.Tags != nil {
		p, err := src.Tags().Profile(ctx, id)
		if err != nil {
			return nil, err
		}
		var manual []string
		for _, t := range p.Tags {
			if !t.Manual {
				continue
			}
			if err := portable("tag", t.Tag, ";"); err != nil {
				return nil, err
			}
			manual = append(manual, t.Tag)
		}
		row = append(row, strings.Join(manual, ";"))
		for _, a := range def.Tags.Attributes {
			v, ok := p.Attributes[a.Name]
			if !ok {
				row = append(row, "")
				continue
			}
			cell, err := attrText(v)
			if err != nil {
				return nil, fmt.Errorf("profile attribute %q: %w", a.Name, err)
			}
			row = append(row, cell)
		}
	}
	return row, nil
}

// owedCell writes the owed_gifts cell of a member's level status: each
// reward owed as level|target, with |place (st.OwedPlaces) where its order
// does not say it, that is where it is not the k-th gift of its level and
// target when k-1 of them are listed before it (migrate.OwedGift.Place).
// A member owed no such gift has the cell an export before places wrote,
// which the releases before read alike; st.Owed and st.OwedPlaces are of
// one length (level.Handle.Status).
func owedCell(st level.Status) (string, error) {
	cells := make([]string, 0, len(st.Owed))
	for i, g := range st.Owed {
		target := g.Reward.Target()
		if err := portable("level", g.Level, "|;"); err != nil {
			return "", err
		}
		if err := portable("owed reward", target, "|;"); err != nil {
			return "", err
		}
		cell, k := g.Level+"|"+target, 1
		for _, h := range st.Owed[:i] {
			if h.Level == g.Level && h.Reward.Target() == target {
				k++
			}
		}
		if st.OwedPlaces[i] != k {
			cell += "|" + strconv.Itoa(st.OwedPlaces[i])
		}
		cells = append(cells, cell)
	}
	return strings.Join(cells, ";"), nil
}

// plansCell writes the plans cell of a member's level status: each plan
// held at at as plan|expires|since. A plan whose expiry is at or before
// at is left out (Advance would perform it); one bought after at is
// refused, as the import cannot date its start after its opening time.
func plansCell(st level.Status, at time.Time) (string, error) {
	cells := make([]string, 0, len(st.Plans))
	for _, h := range st.Plans {
		if !h.Expires.After(at) {
			continue // expired: Advance performs it
		}
		if h.Since.After(at) {
			return "", fmt.Errorf("%w: plan %q was bought at %s, after the export's time", ErrNotPortable, h.Plan, instant(h.Since))
		}
		if err := portable("plan", h.Plan, "|;"); err != nil {
			return "", err
		}
		cells = append(cells, h.Plan+"|"+instant(h.Expires)+"|"+instant(h.Since))
	}
	return strings.Join(cells, ";"), nil
}

// achievementsCell writes the achievements cell of a member: each
// achievement granted as achievement|at|source|by (benefit.Grant). One
// granted after at is refused, as the import cannot date it after its
// opening time; one the catalog in force no longer has (a version dropped
// it; Achievements still lists its grant) is left out, as the import would
// refuse it.
func achievementsCell(ctx context.Context, src OpeningReader, def benefit.Definition, id string, at time.Time) (string, error) {
	gs, err := src.Benefits().Achievements(ctx, id)
	if err != nil {
		return "", err
	}
	cells := make([]string, 0, len(gs))
	for _, g := range gs {
		if _, ok := def.Achievement(g.Achievement); !ok {
			continue
		}
		if g.At.After(at) {
			return "", fmt.Errorf("%w: achievement %q was granted at %s, after the export's time", ErrNotPortable, g.Achievement, instant(g.At))
		}
		if err := portable("achievement", g.Achievement, "|;"); err != nil {
			return "", err
		}
		if err := portable("achievement granter", g.By, "|;"); err != nil {
			return "", err
		}
		cells = append(cells, g.Achievement+"|"+instant(g.At)+"|"+g.Source+"|"+g.By)
	}
	return strings.Join(cells, ";"), nil
}

// underReview refuses a pending lot of a day that risk control froze and
// whose review is open: its release goes into that review (the frozen
// account), which the import format has no place for, so the import
// would release it spendable. The day is looked up whatever the program's
// risk control now: a review opened under an earlier definition still
// takes the release.
func underReview(ctx context.Context, src OpeningReader, program, member string, l points.Lot) error {
	date := l.Granted.In(src.Location()).Format(time.DateOnly)
	rv, err := src.Points().Review(ctx, points.DayQuery{Program: program, Member: member, Date: date})
	switch {
	case errors.Is(err, points.ErrUnknownReview):
		return nil
	case err != nil:
		return err
	case rv.State == points.ReviewPending:
		return fmt.Errorf("%w: pending lot %s of %q was earned on %s, a day awaiting review, which its release would go into", ErrNotPortable, l.ID, program, date)
	}
	return nil
}

// growthDays writes the growth_days cell of a member of growth g (see
// Openings).
func growthDays(ctx context.Context, src OpeningReader, def membership.Definition, id string, g decimal.Decimal, at time.Time) (string, error) {
	loc := src.Location()
	last := rule.DateOf(at, loc)
	days, err := src.Levels().GrowthDays(ctx, id, def.Levels.FirstWindowDay(at, loc))
	if err != nil {
		return "", err
	}
	cells := make([]string, 0, len(days))
	for _, d := range days {
		if d.Day.Compare(last) > 0 {
			return "", fmt.Errorf("%w: growth earned on %s, after the export's day %s", ErrNotPortable, d.Day, last)
		}
		cells = append(cells, d.Day.String()+"|"+amount(d.Growth))
	}
	if len(cells) == 0 && !g.IsZero() {
		cells = append(cells, last.String()+"|0")
	}
	return strings.Join(cells, ";"), nil
}

// attrText writes an attribute's value as migrate's import reads it back
// for its kind. An empty text or list has no cell: the import reads an
// empty cell as an attribute not set, which a rule tells apart.
func attrText(v event.Value) (string, error) {
	switch v.Kind {
	case event.String:
		if v.Str == "" {
			return "", fmt.Errorf("%w: an empty text, which the import reads as not set", ErrNotPortable)
		}
		return v.Str, nil
	case event.Decimal:
		return v.Dec.String(), nil
	case event.Integer:
		return strconv.FormatInt(v.Int, 10), nil
	case event.Bool:
		return strconv.FormatBool(v.Bool), nil
	case event.Time:
		return v.Time.Format(time.RFC3339Nano), nil
	case event.Strings:
		for _, s := range v.Strings {
			if err := portable("list item", s, ","); err != nil {
				return "", err
			}
		}
		if s := strings.Join(v.Strings, ","); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%w: an empty list, which the import reads as not set", ErrNotPortable)
	}
	return "", fmt.Errorf("%w: a value of kind %q", ErrNotPortable, v.Kind)
}

// readsBack refuses a row with a cell that encoding/csv would read back
// as another text: it reads "\r\n" inside a quoted cell as "\n" (a lone
// "\r" or "\n" reads back as it is).
func readsBack(header, row []string) error {
	for i, c := range row {
		if strings.Contains(c, "\r\n") {
			return fmt.Errorf("%w: %s %q holds a carriage return before a line feed, which the import reads as a line feed alone", ErrNotPortable, header[i], c)
		}
	}
	return nil
}

// portable refuses a text holding one of the separators seps, which the
// import would split.
func portable(what, s, seps string) error {
	if strings.ContainsAny(s, seps) {
		return fmt.Errorf("%w: %s %q holds one of %q", ErrNotPortable, what, s, seps)
	}
	return nil
}
