package points

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// view runs fn in a read-only unit after checking that the program
// defines points; what names the read in errors.
func (h *Handle) view(ctx context.Context, what string, fn func(u *engine.Unit) error) error {
	if err := h.undefined(what); err != nil {
		return err
	}
	if err := h.e.View(ctx, time.Time{}, fn); err != nil {
		return fmt.Errorf("points: %s: %w", what, err)
	}
	return nil
}

// viewProgram is view for a read of one point program, which must be
// defined; bad is the error of the query's own checks of its arguments
// (nil when they pass), returned after ErrNotDefined and
// ErrUnknownProgram; q, when not nil, is the query, checked against the
// limits (event.CheckRequest).
func (h *Handle) viewProgram(ctx context.Context, what, program string, bad error, q any, fn func(u *engine.Unit) error) error {
	if err := h.undefined(what); err != nil {
		return err
	}
	if _, err := h.pt.program(program); err != nil {
		return fmt.Errorf("points: %s: %w", what, err)
	}
	if bad != nil {
		return fmt.Errorf("points: %s: %w", what, bad)
	}
	if q != nil {
		if err := event.CheckRequest(q); err != nil {
			return fmt.Errorf("points: %s: %w", what, err)
		}
	}
	return h.view(ctx, what, fn)
}

// zone returns the program's zone.
func (h *Handle) zone() *time.Location { return h.e.Location() }

// BalanceQuery selects a member's balance in one program at a time.
type BalanceQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// At is the time the available points are counted at (lots expiring
	// at or before it are not available); it is required.
	At time.Time `json:"at"`
}

// checkAt checks the time a query counts available points at: a zero
// time is before every expiry, so every lot would count.
func checkAt(at time.Time) error {
	if at.IsZero() {
		return argument("at", errors.New("zero time"))
	}
	return nil
}

// Balance returns a member's points in a program. Errors wrap
// ErrNotDefined, ErrUnknownProgram or event.ErrInvalidArgument (a
// malformed member: an empty one too; a zero At, at which every lot,
// expired or not, would count as available).
func (h *Handle) Balance(ctx context.Context, q BalanceQuery) (Balance, error) {
	var b Balance
	err := h.viewProgram(ctx, "balance of "+q.Member, q.Program, cmp.Or(checkMember(q.Member), checkAt(q.At)), q, func(u *engine.Unit) error {
		led := u.Ledger()
		var err error
		if b.Available, err = led.Available(acct(q.Program, q.Member, ""), q.At); err != nil {
			return err
		}
		for _, x := range []struct {
			sub string
			to  *decimal.Decimal
		}{{"", &b.Main}, {SubPending, &b.Pending}, {SubFrozen, &b.Frozen}} {
			if *x.to, err = led.Balance(acct(q.Program, q.Member, x.sub)); err != nil {
				return err
			}
		}
		return nil
	})
	return b, err
}

// StatementQuery selects a page of a member's points statement.
type StatementQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// Sub is "" for the main account, SubPending or SubFrozen.
	Sub string `json:"sub,omitempty"`
	// Kinds keeps only entries of these kinds (KindEarned, …) when not
	// empty.
	Kinds []ledger.Kind `json:"kinds,omitempty"`
	// From and To bound the entries' time (From ≤ time < To; zero: open).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Limit is the page size (see ledger.Query: 0 means 50, above 1,000
	// means 1,000, a negative limit is refused); Cursor continues from a
	// page's Next; Newest reads from the newest entry back.
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
	Newest bool   `json:"newest,omitempty"`
}

// Statement returns a page of a member's points entries with their
// running balance; it reads only the page's entries (and those the kind
// filter skips). Entries come in time order, then posting order, and an
// entry's Balance is the account's balance once it was posted: an entry
// dated before others posted earlier (a late event, a call with an
// earlier At) sorts at its time, so there the balances do not add up
// along the page (Verify checks them in posting order). A Cursor goes on
// after the entry it came from: entries posted since come in the pages
// after it when dated after that entry, and not when dated before it.
// Errors wrap ErrNotDefined, ErrUnknownProgram,
// event.ErrInvalidArgument (a malformed member, an empty one too, a Sub
// not of Subs or a kind no points entry has, which would otherwise read
// an empty page, a time outside the years 1900 to 2099, or — also
// wrapping ledger.ErrInvalid — a malformed cursor, a negative Limit or a
// To before From, each named) or the ledger's errors.
func (h *Handle) Statement(ctx context.Context, q StatementQuery) (ledger.Page, error) {
	var page ledger.Page
	bad := checkMember(q.Member)
	if bad == nil && !slices.Contains(Subs[:], q.Sub) {
		bad = argument("sub", fmt.Errorf("%q, want one of %q", q.Sub, Subs))
	}
	for _, k := range q.Kinds {
		if bad == nil && !slices.Contains(kinds, k) {
			bad = argument("kinds", fmt.Errorf("%q, want one of %q", k, kinds))
		}
	}
	err := h.viewProgram(ctx, "statement of "+q.Member, q.Program, bad, q, func(u *engine.Unit) error {
		var err error
		page, err = u.Ledger().Statement(ledger.Query{Account: acct(q.Program, q.Member, q.Sub), From: q.From, To: q.To,
			Kinds: q.Kinds, Limit: q.Limit, Cursor: q.Cursor, Newest: q.Newest})
		if errors.Is(err, ledger.ErrInvalid) {
			err = fmt.Errorf("%w: %w", event.ErrInvalidArgument, err) // the query's: a bad cursor
		}
		return err
	})
	for i := range page.Entries {
		page.Entries[i].Time = page.Entries[i].Time.In(h.zone())
	}
	return page, err
}

// ReconciliationQuery selects a program's totals over a period of days.
type ReconciliationQuery struct {
	Program string `json:"program"`
	// From and To are the first and last days ("2006-01-02", inclusive,
	// program zone; empty: unbounded).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Reconciliation returns a program's totals per kind over the days of q.
// Over the whole history it also reads the members' total balance from
// the pool accounts (the ledger keeps every asset's accounts summing to
// zero), so Holds checks the identity against an independent figure.
// Errors wrap ErrNotDefined, ErrUnknownProgram, event.ErrInvalidArgument
// (a From or To not of the form "2006-01-02", such as "2025-3-1", which
// would otherwise select no day, or a To before From) or the ledger's
// errors.
func (h *Handle) Reconciliation(ctx context.Context, q ReconciliationQuery) (Reconciliation, error) {
	r := Reconciliation{Program: q.Program, From: q.From, To: q.To}
	bad := cmp.Or(checkDate("from", q.From, false), checkDate("to", q.To, false))
	if bad == nil && q.From != "" && q.To != "" && q.To < q.From {
		bad = argument("to", fmt.Errorf("%s is before from %s", q.To, q.From))
	}
	err := h.viewProgram(ctx, "reconciliation of "+q.Program, q.Program, bad, q, func(u *engine.Unit) error {
		led := u.Ledger()
		totals, err := led.Totals(ledger.Points(q.Program), q.From, q.To)
		if err != nil {
			return err
		}
		for k, v := range totals {
			r.Change = r.Change.Add(v)
			switch k {
			case KindOpening:
				r.Opening = v
			case KindEarned:
				r.Earned = v
			case KindRedeemed:
				r.Redeemed = v.Neg()
			case KindReversed:
				r.Reversed = v
			case KindExpired:
				r.Expired = v.Neg()
			case KindVoided:
				r.Voided = v.Neg()
			case KindAdjusted:
				r.Adjusted = v
			case KindExchanged:
				r.Exchanged = v
			}
		}
		if q.From == "" && q.To == "" {
			out := decimal.Zero
			for _, k := range poolKinds {
				b, err := led.Balance(pool(q.Program, k))
				if err != nil {
					return err
				}
				out = out.Sub(b)
			}
			r.Outstanding = &out
		}
		return nil
	})
	return r, err
}

// TotalsQuery selects a member's totals in one program over a period.
type TotalsQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// From and To bound the entries' time as a Statement's do (From ≤
	// time < To; zero: open).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// checkPeriod checks the bounds of a query's period of times: each, when
// not zero, a time in the limits on input (event.CheckTime), and To not
// before From (also wrapping ledger.ErrInvalid, as a Statement's does).
func checkPeriod(from, to time.Time) error {
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"from", from}, {"to", to}} {
		if !b.t.IsZero() {
			if err := argument(b.name, event.CheckTime(b.t)); err != nil {
				return err
			}
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return argument("to", fmt.Errorf("%w: %s is before from %s", ledger.ErrInvalid, to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano)))
	}
	return nil
}

// totalsPage is the statement page Totals reads at a time: the ledger's
// largest (ledger.Query.Limit), so a long history costs few seeks and
// holds at most that many entries in memory.
const totalsPage = 1000

// eachEntry calls fn with each entry of q (q.Limit entries a page, through
// the ledger's statement paging, so memory stays bounded whatever the
// account's history).
func eachEntry(led *ledger.Ledger, q ledger.Query, fn func(e ledger.Entry) error) error {
	for {
		page, err := led.Statement(q)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

// Totals returns what moved a member's points in a program over q's
// period, kind by kind: the sums of the member's ledger entries in the
// main, pending and frozen accounts, read a statement page at a time
// (memory stays bounded however long the history; the time grows with
// it). It covers one member over a period of times; membership's
// Program.Totals covers an asset's members all together, over days, from
// the daily totals. Its figures are Reconciliation's for one member: summed over a
// program's members, Totals over whole days of the program's zone equal
// Reconciliation's over those days. Over the member's whole history
// (From and To zero), Change is the member's balance, Balance.Total
// (Main + Pending + Frozen), and the reconciliation identity holds:
//
//	Change = Opening + Earned − Redeemed + Reversed − Expired − Voided + Adjusted + Exchanged
//
// Over a period, Change is the balance at To less the balance at From,
// entries counted by their time.
//
// A grant counts as earned when it is granted, into whichever account:
// points held pending in a return window or frozen by risk control are
// earned then, and once; releasing, freezing and restoring them moves
// them between the member's accounts (Released, Frozen, Restored) and
// changes no other figure. Points leaving the pending or frozen account
// count as those leaving the main one do (an expiry as Expired, a
// refund's reversal as Reversed); a void takes points only from those
// two. The main account alone holds Change less what is pending and
// frozen: Change itself when nothing is.
//
// Errors wrap ErrNotDefined, ErrUnknownProgram, event.ErrInvalidArgument
// (a malformed member, an empty one too, a From or To outside the years
// 1900 to 2099, or — also wrapping ledger.ErrInvalid — a To before From,
// each named), or the ledger's errors (ledger.ErrCorrupt for an entry of
// a kind no points entry has).
func (h *Handle) Totals(ctx context.Context, q TotalsQuery) (Totals, error) {
	t := Totals{Program: q.Program, Member: q.Member, From: inLoc(q.From, h.zone()), To: inLoc(q.To, h.zone())}
	bad := cmp.Or(checkMember(q.Member), checkPeriod(q.From, q.To))
	err := h.viewProgram(ctx, "totals of "+q.Member, q.Program, bad, q, func(u *engine.Unit) error {
		for _, sub := range Subs {
			lq := ledger.Query{Account: acct(q.Program, q.Member, sub), From: q.From, To: q.To, Limit: totalsPage}
			err := eachEntry(u.Ledger(), lq, func(e ledger.Entry) error { return t.add(sub, e) })
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Totals{}, err
	}
	return t, nil
}

// ExpiringQuery selects a member's lots expiring in a window.
type ExpiringQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// From and Days: lots that expire after From and no later than Days
	// days after it, counted in the program's zone (the same wall-clock
	// time Days dates later, whatever From's zone). From is required (a
	// time in the years 1900 to 2099), Days is 1 to MaxExpiringDays.
	From time.Time `json:"from"`
	Days int       `json:"days"`
}

// MaxExpiringDays is the longest window an Expiring query takes: more
// than 301 years, so that a window from the first supported time
// (1900-01-01) reaches past the latest expiry a lot can have (a validity
// of 36,600 days from the last supported day, 2099-12-31, ends on
// 2200-03-17).
const MaxExpiringDays = 110000

// Expiring returns a member's lots of a program (spendable, pending and
// frozen) that expire in q's window, earliest first. Errors wrap
// ErrNotDefined, ErrUnknownProgram or event.ErrInvalidArgument naming the
// field (a malformed member, an empty one too; a zero From or one outside
// the years 1900 to 2099; Days not 1 to MaxExpiringDays).
func (h *Handle) Expiring(ctx context.Context, q ExpiringQuery) ([]ExpiringLot, error) {
	bad := checkMember(q.Member)
	switch {
	case bad != nil:
	case q.From.IsZero():
		bad = argument("from", errors.New("zero time"))
	case q.Days < 1 || q.Days > MaxExpiringDays:
		bad = argument("days", fmt.Errorf("%d, want 1 to %d", q.Days, MaxExpiringDays))
	}
	var end time.Time
	if bad == nil {
		end = q.From.In(h.zone()).AddDate(0, 0, q.Days) // days of the program's zone, whatever From's
	}
	var out []ExpiringLot
	err := h.viewProgram(ctx, "expiring points of "+q.Member, q.Program, bad, q, func(u *engine.Unit) error {
		for _, sub := range Subs {
			lots, err := u.Ledger().Lots(acct(q.Program, q.Member, sub))
			if err != nil {
				return err
			}
			for _, l := range lots {
				if l.Expires.IsZero() || l.Expires.After(end) {
					break // lots are in expiry order, permanent last
				}
				if l.Expires.After(q.From) && l.Amount.IsPositive() {
					out = append(out, ExpiringLot{Lot: l.ID, Sub: sub, Amount: l.Amount, Expires: l.Expires.In(h.zone())})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b ExpiringLot) int { return a.Expires.Compare(b.Expires) })
	return out, nil
}

// MaxForecastMonths is the most months an ExpiryForecast covers: a
// hundred years, the longest validity a lot can have (and level's
// MaxCatchUp of monthly terms).
const MaxForecastMonths = 1200

// ExpiryForecast returns, for months calendar months starting with the
// month of from (program zone), what the program's members hold that
// expires in each: points whose last valid day falls in the month. It
// reads one total per month, kept current as lots are credited and
// debited, never the members. months must be 1 to MaxForecastMonths and
// from a time in the limits on input (event.CheckTime; not zero). Errors
// wrap ErrNotDefined, ErrUnknownProgram or event.ErrInvalidArgument
// naming the argument.
func (h *Handle) ExpiryForecast(ctx context.Context, program string, from time.Time, months int) ([]MonthTotal, error) {
	var bad error
	switch {
	case months < 1 || months > MaxForecastMonths:
		bad = argument("months", fmt.Errorf("%d, want 1 to %d", months, MaxForecastMonths))
	case from.IsZero():
		bad = argument("from", errors.New("zero time"))
	default:
		bad = argument("from", event.CheckTime(from))
	}
	loc := h.zone()
	f := from.In(loc)
	first := time.Date(f.Year(), f.Month(), 1, 12, 0, 0, 0, loc)
	var out []MonthTotal
	err := h.viewProgram(ctx, "expiry forecast of "+program, program, bad, nil, func(u *engine.Unit) error {
		out = make([]MonthTotal, 0, months) // months is checked: at most MaxForecastMonths
		for i := range months {
			m := first.AddDate(0, i, 0).Format("2006-01")
			amt, err := engine.Total(u.Tx(), bExpiry, keys.New().Str(program).Str(m))
			if err != nil {
				return err
			}
			out = append(out, MonthTotal{Month: m, Amount: amt})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Reviews returns up to limit (0: 100; above 1,000: 1,000) frozen days
// of a program waiting for review, oldest day first. Errors wrap
// ErrNotDefined, ErrUnknownProgram or event.ErrInvalidArgument (a
// negative limit, named "limit").
func (h *Handle) Reviews(ctx context.Context, program string, limit int) ([]Review, error) {
	limit, bad := event.PageSize(limit, 100, 1000)
	var out []Review
	err := h.viewProgram(ctx, "reviews of "+program, program, bad, nil, func(u *engine.Unit) error {
		tx := u.Tx()
		pre := keys.New().Str(program)
		return tx.Scan(bOpen, pre, store.PrefixEnd(pre), false, func(k, _ []byte) error {
			if len(out) == limit {
				return store.StopScan
			}
			var rv Review
			if found, err := getReview(tx, k, &rv); err != nil || !found {
				return cmp.Or(err, record.Corrupt(bOpen, k, errors.New("an open review that is not there")))
			}
			rv.inZone(h.zone())
			out = append(out, rv)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DayQuery selects one member's day in one program (risk control).
type DayQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// Date is the day ("2006-01-02", program zone).
	Date string `json:"date"`
}

// check checks the query's member and date.
func (q DayQuery) check() error {
	return cmp.Or(checkMember(q.Member), checkDate("date", q.Date, true))
}

// Review returns the review of a member's day. Errors wrap ErrNotDefined,
// ErrUnknownProgram, event.ErrInvalidArgument (a malformed member or date:
// empty ones too, and a date not of the form "2006-01-02") or
// ErrUnknownReview (the day was never frozen).
func (h *Handle) Review(ctx context.Context, q DayQuery) (Review, error) {
	var rv Review
	err := h.viewProgram(ctx, fmt.Sprintf("review of %s on %s", q.Member, q.Date), q.Program, q.check(), q, func(u *engine.Unit) error {
		found, err := getReview(u.Tx(), keys.New().Str(q.Program).Str(q.Date).Str(q.Member), &rv)
		if err == nil && !found {
			err = ErrUnknownReview
		}
		return err
	})
	rv.inZone(h.zone())
	return rv, err
}

// Day returns a member's earning on one day for risk control: what was
// earned, what the stop policy blocked, whether the day is frozen. It is
// kept only for programs with risk control (zero otherwise). Errors wrap
// ErrNotDefined, ErrUnknownProgram or event.ErrInvalidArgument (as
// Review's).
func (h *Handle) Day(ctx context.Context, q DayQuery) (Day, error) {
	var d Day
	err := h.viewProgram(ctx, fmt.Sprintf("day of %s on %s", q.Member, q.Date), q.Program, q.check(), q, func(u *engine.Unit) error {
		_, err := get(u.Tx(), bDay, keys.New().Str(q.Program).Str(q.Member).Str(q.Date), &d)
		return err
	})
	return d, err
}

// Adjustment returns the adjustment with the ID (its request's ID).
// Errors wrap ErrNotDefined, event.ErrInvalidArgument (an ID that is not
// a request ID: an empty one too) or ErrUnknownAdjustment.
func (h *Handle) Adjustment(ctx context.Context, id string) (Adjustment, error) {
	var a Adjustment
	what := fmt.Sprintf("adjustment %q", id)
	if err := h.undefined(what); err != nil {
		return a, err
	}
	if err := argument("adjustment", event.CheckID(id)); err != nil {
		return a, fmt.Errorf("points: %s: %w", what, err)
	}
	err := h.view(ctx, what, func(u *engine.Unit) error {
		found, err := getAdjustment(u.Tx(), id, &a)
		if err == nil && !found {
			err = ErrUnknownAdjustment
		}
		return err
	})
	a.inZone(h.zone())
	return a, err
}

// RedemptionQuery selects the redemption of a reference in a program.
type RedemptionQuery struct {
	Program string `json:"program"`
	Ref     string `json:"ref"`
}

// Redemption returns a redemption. Errors wrap ErrNotDefined,
// ErrUnknownProgram, event.ErrInvalidArgument (an empty Ref, named "ref")
// or ErrUnknownRedemption.
func (h *Handle) Redemption(ctx context.Context, q RedemptionQuery) (Redemption, error) {
	var r Redemption
	var bad error
	if q.Ref == "" {
		bad = argument("ref", errors.New("empty"))
	}
	err := h.viewProgram(ctx, fmt.Sprintf("redemption %q", q.Ref), q.Program, bad, q, func(u *engine.Unit) error {
		found, err := record.Get(u.Tx(), bRedeem, keys.New().Str(q.Program).Str(q.Ref), &r)
		if err == nil && !found {
			err = ErrUnknownRedemption
		}
		return err
	})
	r.inZone(h.zone())
	return r, err
}

// Order returns what an order earned and what its refunds reversed; found
// is false when the order earned no points (or no rule tracks orders).
// Errors wrap ErrNotDefined or event.ErrInvalidArgument (an empty order
// ID, or one beyond the limits on strings: event.CheckText).
func (h *Handle) Order(ctx context.Context, id string) (o Order, found bool, err error) {
	what := fmt.Sprintf("order %q", id)
	if err := h.undefined(what); err != nil {
		return o, false, err
	}
	bad := argument("order", event.CheckText(id))
	if id == "" {
		bad = argument("order", errors.New("empty"))
	}
	if bad != nil {
		return o, false, fmt.Errorf("points: %s: %w", what, bad)
	}
	err = h.view(ctx, what, func(u *engine.Unit) error {
		found, err = get(u.Tx(), bOrder, []byte(id), &o)
		return err
	})
	o.inZone(h.zone())
	return o, found, err
}

// SplitQuery asks for the points + cash split of an order amount.
type SplitQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// Order is the order amount; At the time the member's available
	// points are counted at (required).
	Order decimal.Decimal `json:"order"`
	At    time.Time       `json:"at"`
}

// Split computes, without spending, the points + cash split of an order
// amount for a member (see [SplitOrder]). Errors wrap ErrNotDefined,
// ErrUnknownProgram, event.ErrInvalidArgument (a malformed member, an
// empty one too, an order amount beyond the limits on decimals, or a zero
// At), ErrNoPayment or ErrInvalidAmount.
func (h *Handle) Split(ctx context.Context, q SplitQuery) (Split, error) {
	var s Split
	bad := cmp.Or(checkMember(q.Member), checkAmount("order", q.Order), checkAt(q.At))
	err := h.viewProgram(ctx, "split for "+q.Member, q.Program, bad, q, func(u *engine.Unit) error {
		avail, err := u.Ledger().Available(acct(q.Program, q.Member, ""), q.At)
		if err != nil {
			return err
		}
		prog, _ := h.pt.program(q.Program) // view checked it
		s, err = splitOrder(prog, q.Order, avail, decimal.Zero)
		return err
	})
	return s, err
}

// LotsQuery selects a member's lots in one program.
type LotsQuery struct {
	Program string `json:"program"`
	Member  string `json:"member"`
}

// Lot is what remains of a credit of points to a member: the lot's ID,
// the account it is in (Sub: "" spendable, SubPending or SubFrozen), the
// amount left, when it was granted and when it expires (zero: never), and
// for a pending lot when it is released (becomes spendable). Times are in
// the program's zone.
type Lot struct {
	ID      string          `json:"id"`
	Sub     string          `json:"sub,omitempty"`
	Amount  decimal.Decimal `json:"amount"`
	Granted time.Time       `json:"granted"`
	Expires time.Time       `json:"expires,omitzero"`
	Release time.Time       `json:"release,omitzero"`
}

// Lots returns the member's lots of a program that still hold points,
// spendable ones first, then pending, then frozen, each account's in
// spending order (earliest expiry, then earliest grant; permanent lots
// last). Lots expired but not yet processed by Advance are included (as
// Balance's Main includes them): their Expires says so. It is the whole
// state of a member's points, as package export writes it for an import.
// A pending lot granted before release times were recorded (by an older
// version of the library) has a zero Release; its due item releases it
// all the same. Errors wrap ErrNotDefined, ErrUnknownProgram or
// event.ErrInvalidArgument (a malformed member: an empty one too), and
// ledger.ErrCorrupt for a damaged release record.
func (h *Handle) Lots(ctx context.Context, q LotsQuery) ([]Lot, error) {
	var out []Lot
	err := h.viewProgram(ctx, "lots of "+q.Member, q.Program, checkMember(q.Member), q, func(u *engine.Unit) error {
		out = out[:0]
		for _, sub := range Subs {
			lots, err := u.Ledger().Lots(acct(q.Program, q.Member, sub))
			if err != nil {
				return err
			}
			for _, l := range lots {
				if !l.Amount.IsPositive() {
					continue
				}
				lot := Lot{ID: l.ID, Sub: sub, Amount: l.Amount, Granted: l.Granted.In(h.zone())}
				if !l.Expires.IsZero() {
					lot.Expires = l.Expires.In(h.zone())
				}
				if sub == SubPending {
					v, err := u.Tx().Get(bRelease, lotKey(q.Program, q.Member, l.ID))
					switch {
					case errors.Is(err, store.ErrNotFound):
						// Granted before release times were recorded: its
						// due item releases it all the same.
					case err != nil:
						return err
					default:
						at, err := releaseAt(v)
						if err != nil {
							return err
						}
						lot.Release = at.In(h.zone())
					}
				}
				out = append(out, lot)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
