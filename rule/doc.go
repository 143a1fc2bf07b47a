// Package rule holds the building blocks shared by the domain packages'
// rules: validity, periods and caps, formulas, rounding, effective windows,
// rewards and reasons. It knows nothing of levels, points or coupons; the
// domain packages compose these pieces and persist through [store.Tx].
//
// # Time
//
// Nothing here reads the wall clock: every function takes the instant it
// works on and the program's time zone. Dates are civil dates ([Date]) in
// that zone, and "24:00 of day D" is the first instant of D+1 in the zone,
// computed with [time.Date] so that days of 23 or 25 hours (daylight saving
// changes) are handled. In the rare zones where midnight itself is skipped
// (a change at 00:00), a day starts at the first instant that exists, for
// example 01:00; where the clocks go back from 01:00 to 00:00, so that
// midnight comes twice, a day starts at the first of them. A nil
// *time.Location is read as UTC.
//
// # Validity
//
// A [Validity] says when something granted at a given instant expires: never
// ([Permanent]), at 24:00 of an annual date, at the end of the month N months
// on, N months later to the day, N days on, or at the end of a fixed range.
// [Validity.Check] rejects what does not make sense, and bounds N to 100
// years; [Validity.Expiry] reports no expiry for a validity that fails
// Check, so definitions must be checked before they run. Each domain takes
// the kinds that fit it: a fixed range, which has a first day, is a
// coupon's (points and levels refuse it, as what they grant counts at once),
// and N days on is not a level term.
//
// # Periods and caps
//
// A [Period] (day, week from Monday, month, year, total) buckets instants in
// the zone, and [Caps] limit an amount per period. [Use] grants what the caps
// still allow and records it in store counters keyed by scope and period
// bucket; [Release] gives it back on a refund. Counters of past periods are
// left in place: they are the history of what was used.
//
// # Formulas, rounding and reasons
//
// A [Formula] turns an event into an amount (base × rate, a fixed amount,
// both, or a count), exactly, with decimals; a [Rounding] then brings it to
// the program's scale, by default rounding toward zero. [Formula.Check]
// refuses a field the kind does not read (a base or a rate of a fixed or
// count formula, a fixed amount of a multiplier or a count), which was
// ignored: a "fixed" formula with a base and a rate granted its fixed
// amount alone. Each effect carries
// a [Reason]: the rule, the formula text and its inputs, the raw amount and
// the [Cut] a cap made, so an operator can see why a member got what they
// got.
//
// # Definitions
//
// Every Check method returns nil or a *[Problems] listing every problem with
// its path relative to the checked value, for the caller to nest under its
// own path with [Problems.Add]. Add records a condition's problem (an
// *event.FieldError from event.Condition.Check) at the field it names under
// the path it is given: conditions[1] and op make conditions[1].op. Every
// type round-trips through encoding/json.
package rule
