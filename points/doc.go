// Package points is a membership program's points (积分), end to end: the
// definition of point programs and their rules, the rules themselves as
// plain functions, the part that applies them to events and due work, and
// the [Handle] through which a host redeems, reverses, adjusts, reviews,
// exchanges and reads points.
//
// # How it fits
//
// The root package membership builds the program: it calls [New] with the
// program's engine (internal/engine) and its *[Definition], and hands out
// the Handle as Program.Points. The part registered with the engine
// receives each event, due item and reward inside the engine's unit of
// work: the engine owns the store transaction, the idempotency of
// requests, the outcome, the ledger postings, the due index and the change
// feed. This package imports no other domain: the level an earning rule
// checks comes from the engine (which asks the level domain), and rewards
// of points granted by other domains (level gifts, task rewards) reach it
// through the engine too. Its state lives in its own store buckets
// ("points.*"); balances and lots are the ledger's (package ledger), under
// the asset ledger.Points(program).
//
// The rules are functions with table tests and no store: [Rule.Applies],
// [Rule.Earn], [Risk.Decide], [SplitOrder], [Convert], [Reversal],
// [Expiry]. The part calls exactly these; nothing re-implements them.
//
// # What it publishes
//
// Every change it publishes carries a [Change] as its data; the change
// kinds are [ChangeEarned], [ChangePending], [ChangeReleased],
// [ChangeBlocked], [ChangeFrozen], [ChangeRestored], [ChangeVoided],
// [ChangeRedeemed], [ChangeReversed], [ChangeExpired], [ChangeAdjusted],
// [ChangeAdjustmentRequested], [ChangeAdjustmentRejected] and
// [ChangeExchanged]. [EffectsOf] reads them from an outcome into typed
// values (the points an event earned per program, what a refund took
// back), so a host need not decode the feed itself. Its ledger
// transactions are of the kinds [KindEarned], [KindRedeemed],
// [KindReversed], [KindExpired], [KindVoided], [KindAdjusted],
// [KindExchanged] (each moving points between member accounts and a pool
// of the same name) and [KindReleased], [KindFrozen], [KindRestored]
// (moving a lot between a member's own accounts).
//
// # Programs and accounts
//
// A [Program] has its own scale and rounding; its points are the ledger
// asset ledger.Points(name). A member has three accounts per program: the
// main, spendable account (""), [SubPending] for points in a return window
// and [SubFrozen] for points frozen by risk control. Every credit is a lot
// with a grant time and an expiry; moving a lot between a member's accounts
// (release, freeze, restore) keeps its ID, expiry and grant time, and its
// remainder expires at its expiry wherever it is, as an entry of its own
// (the expiries of a member's lots that share an instant are one due item,
// performed by the program's Advance). Spending takes the main account's
// unexpired lots by earliest expiry, then earliest grant.
//
// A program is known by its name. A definition that replaces the one the
// store runs (membership.Definition.Version) may change a program's
// rules, validity (for lots granted from then on), risk control and
// payment, but may not leave out a program the ledger has postings of:
// Open refuses it with membership.ErrDefinitionInUse naming the program
// (renaming one leaves its old name out). Its balances, pending and
// frozen points, lots, statements and due expiries stay readable only
// under a program the definition has; to retire a program, keep it
// without earning rules.
//
// Nor may it lower a program's scale (Rounding.Scale) while a member's
// balance in it, or the remainder of one of its lots, has more decimal
// places than the new scale (a lot of 0.55 under whole points, even if
// the balance is 1): no redemption, adjustment or exchange could take the
// fraction, amounts finer than the scale being refused, and a lot
// expiring alone leaves the rest unspendable. Open refuses it with
// membership.ErrDefinitionInUse at "points.programs[i].rounding.scale",
// naming one such member and amount, and nothing is installed. The store
// records each program's scale in force (bucket "points.meta"); only a
// version that lowers one reads that program's balances and lots, in one
// scan at Open (streamed, not held in memory: it takes time on a large
// store), and so does the first version opened over a store written
// before the scales were recorded. Raising or keeping a scale is never
// refused.
//
// A rule's caps count its grants per member and rule ID only for the
// periods the rule caps when it grants. So a cap a version adds, a total
// cap too, counts the rule's grants from that version on: a total cap of
// 100 added after a member earned 80 under the rule lets them earn 100
// more (unlike a task's limits: a total one counts the completions ever,
// a calendar one those of its period that the member's latest completion
// counted). No record holds a rule's grants for the periods it did not
// cap (a day's record of risk control sums the program's rules; a rule
// that tracks orders for refunds keeps what it granted per order, found
// by the order alone), and keeping one would add a write to every grant
// of every rule. A changed limit keeps what its period counted, and a
// renamed rule starts afresh. A refund gives what it reverses back to
// the caps in force, also for a grant made before the cap was added,
// which was never counted: it frees room that the version's grants took
// (a member who earned those 100, then refunded the 80 earned before,
// earns 80 more), but never past the limit, as a counter stops at 0 (one
// who had earned 30 under the cap and refunded the 80 earns 100 more,
// not 150).
//
// # Earning
//
// An earning [Rule] applies to an event of its type inside its window
// whose attributes match its conditions (Definition.Check reports a
// condition's problem at its field, rules[0].conditions[1].attr, .op,
// .value or .values[i], not at the condition), for a member at one of its levels
// (the level once the level part has processed the same event, so an
// upgrade the event causes counts; the level held at the event's time, so
// a late event dated before the member's latest level change is judged
// on the level held then, without its own upgrade, which takes effect
// later: package level). [Rule.Earn] rounds its formula's
// result once with the program's rounding (by default whole points,
// rounded down); a negative result grants nothing. A rule whose formula
// reads a base attribute the event lacks (an optional attribute left out)
// grants nothing and is skipped: the outcome has a change.RuleSkipped
// change naming the rule and the attribute, and the event's other rules
// (and its growth, tasks and tags) apply as usual. The amount is then cut
// by the rule's caps per member per day, week (from Monday), month, year
// and in total, in the program's zone. A cap's limit, as risk control's
// daily threshold (of either policy), is an amount of the program's points:
// Definition.Check refuses one with more decimals than the program's
// scale, which cut a grant to a fraction the program does not hold (a
// limit of 15.5 in a whole-point program granted 5.5 points; a
// definition that passed before is refused by this release). A cut
// grant publishes points.earned with the amount granted and the cut in
// Reason.Cut; a grant cut to nothing still publishes points.earned, with Amount 0, so that the
// host sees why nothing was earned. Risk control comes last (see [Risk]):
// only earning rules count toward the daily threshold, not rewards,
// adjustments or exchanges; what it blocks is published as points.blocked
// (with the amount wanted) and gives its cap room back.
//
// A rule with PendingDays holds its points in the pending account; they are
// released (points.released) when Advance reaches the grant's time plus
// that many calendar days in the program's zone, at the same wall-clock
// time (at the end of the gap where a daylight-saving change skips that
// time on the release day: 03:00 for 02:30 where the clocks go from 02:00
// to 03:00, not an hour early). Until Advance performs a release its points stay pending, even for
// a spend dated after the release time: a host that spends points at the
// time they are released advances the program to that time first. (Expiry
// is the other way round: a lot past its expiry is never spent, whether or
// not Advance expired it.) Rewards, credit adjustments and exchanges credit
// lots of the program's Validity; earning rules of their own. A validity
// is permanent, an annual date, month ends, or months or days after the
// grant; a fixed range, a coupon's, is refused: a lot is spendable from its
// grant, so the range's first day could not be kept.
//
// # Risk control
//
// The day is the calendar day in the program's zone. Under [Stop], what
// passes the threshold is blocked for the rest of the day. Under [Freeze],
// the grant that reaches the threshold (earned ≥ daily) freezes the day:
// the unspent remainder of every lot the day's rules credited, and every
// later grant that day, move to the frozen account, and a [Review] opens.
// Pending lots of a frozen day go to frozen when released while the review
// is open. A decision cannot be dated before the review last took
// points (Review.Frozen), as an adjustment's cannot precede its request:
// before, a restore dated before the freeze was applied, and the
// statement restored points before they were earned. Nor can it be
// dated before the grant of a lot it decides (a void's pending lots of
// the day included): a late event, dated before grants of its day that
// were processed first, freezes them at its own time, and a decision
// between the two was accepted before, restoring or voiding points
// before they were granted.
// An operator restores the frozen lots to the main account (same
// lots and expiries; what expired meanwhile stays expired) or voids them;
// voiding also voids the day's lots still pending, which restoring leaves
// to their release. A decision takes only the lots not past their expiry
// at its time: the others expire where they are, as their own entry, so
// a decision comes to the same whether Advance expired them first or not.
// Before, one made before Advance restored them (to expire at once, the
// change counting them as restored) or voided them (Voided, not Expired,
// in the reconciliation, and no expiry in the statement). A redemption spent before the day froze and reversed
// while its review is open returns its points of the day's lots to the
// frozen account too, into the review. One reversed after the day was
// voided returns them to the frozen account and voids them again at once
// (a points.voided change with the day's Date and the redemption's Ref),
// as points returned to an expired lot expire again: the void would have
// taken them had they not been spent, so they never reach the balance
// (Day.Voided lists the lots voids decided; a void recorded by an
// earlier version lists none, and reversals into it return points to the
// spendable account, as before). Into a lot past its expiry they expire
// again instead. A grant later the same day reopens the review for the
// new points only; a reversal into the lots voided earlier that day still
// voids them again, outside the reopened review.
//
// A member's erasure (membership's Erase) decides what of the member
// waits on an operator, since Restore, Void, Approve and Reject are
// refused for an erased member from then on: each open review is voided
// and each adjustment waiting for approval rejected, by the erasure's
// operator at its time, published as a decision is (the reason's note
// says "closed by the member's erasure").
//
// # Refunds
//
// An earning rule naming an Order attribute records what each order earned
// (an order ID is one member's: another member's event naming it is not
// tracked, and its refund reverses nothing). A refund naming an order no
// rule recorded (an ID never seen, another member's order, one that earned
// no points) is not refused: it is applied, its ID taken, and it reverses
// nothing (no [ChangeReversed] in its outcome); a host that would rather
// refuse it asks [Handle.Order] first. Refund rules need such a rule:
// a definition with refunds and no earning rule naming an Order is refused
// (path "refunds"), as its refunds would reverse nothing, and so is the
// same refund rule twice, which would count each refund twice. A [Refund]
// event reverses, for each grant, [Reversal]: granted × refunded in all /
// order amount, computed exactly and rounded once with the program's
// rounding, less what earlier refunds reversed, so partial refunds add up
// to the whole order. A refund that would take what was refunded of the
// order past its amount is refused with an error wrapping
// event.ErrRefundExceedsOrder (membership.ErrRefundExceedsOrder): the
// event changes nothing, in any domain, and its ID stays free, so the
// host's mistake (a refund sent twice under two IDs, a typo) can be
// corrected; before, it was accepted and reversed nothing more. An order
// of unknown amount (0: no amount attribute) is not refused: its first
// refund reverses it whole. That share is split by what became of the grant's
// points, in this order: what the order's own lot still holds (pending,
// spendable or frozen) is taken from it; then what was spent of the grant
// (redeemed, debited, exchanged) and not charged by an earlier refund is
// taken from the member's other spendable points, down to zero, and what
// they cannot cover is the order's shortfall; last, what had lapsed
// (expired, or been voided after a review) is not taken again: the member
// lost those points already, so it is neither taken from other points nor a
// shortfall, and is recorded as lapsed (Order.Lapsed, Change.Lapsed). A lot
// past its expiry has lapsed even before Advance expires its remainder, so
// a refund comes to the same whether Advance ran first or not. So a full
// refund of an order whose points all expired takes nothing and records no
// shortfall, and a partial refund of an order partly spent and partly
// expired charges the spent part first. The parts are amounts at the
// program's scale: nothing more is rounded. The balance never goes below
// zero. The reversed share (lapsed and short parts included) gives its cap
// room back (for a grant made before a version added the cap, see above);
// it does not lower the day's earned total of risk control,
// which counts what was granted that day, refunded or not (a buy-and-refund
// loop still reaches the threshold). Growth is reversed by the level
// package's own refund rules.
//
// A shortfall is settled by the points a redemption's reversal
// ([Handle.Reverse]) gives back, as the refund would have taken them had
// the reversal come first: what the reversal returns to the lot of a
// grant a refund left short (Grant.Shortfall) is taken back at once, up to
// that shortfall, from the account it went to (the frozen one for a day
// awaiting review); then what it returns spendable (to the main account,
// to a lot not expired), to whichever lot, is taken back up to the
// member's other short grants of the program, earliest granted first, as
// a refund takes what was spent from the member's other spendable points.
// So a partial reversal refilling another order's lot settles too. Each
// order settled is a ledger transaction of [KindReversed] whose
// reference is the order (ledger.Ref.Order, with the reversal's operator
// and a note naming the redemption), published as a second
// points.reversed change: Ref the order, Amount what was taken back
// (negative), Settled what of the shortfall it settled
// ([Effects].Settled). Points returned to a lot past its expiry expire
// again at once, and points returned to a lot of a day voided by review
// are voided again (see Risk control); up to their own grant's shortfall
// they count as lapsed instead, and they settle no other grant's; nor do
// points returned into a frozen day awaiting review, which are not
// spendable. Either way the grant's and the order's Shortfall go down by
// as much.
//
// What a refund took from the member's other spendable points for a
// grant's spent share (Grant.Charged, by lot) is given back the same way:
// had the reversal come first, the refund would have taken the returned
// points from the grant's lot, or found them lapsed, and left the
// member's other lots alone. So what a reversal returns to the grant's
// lot beyond its shortfall, up to that charge, is taken back from the
// lot (or, expired or voided again, counts as lapsed) and the charge goes
// back to the lots it came from, the lots charged last first, in the same
// transaction and change: Amount is then what was given back less what
// was taken, GivenBack the lots given back ([Effects].GivenBack). A lot
// given back that has expired meanwhile expires again, and one whose day
// froze since goes to the frozen account, into the review, or is voided
// again if the review voided the day. Before, the charge stayed: a refund
// then a reversal into a lot that had expired, or whose day a review had
// voided, took the spent points from the member's other lots while the
// points returned lapsed, where the other way round took nothing.
//
// A charge given back is itself a return to its lot: where that lot's
// own grant was left short or charged by a refund (the charge had
// emptied the lot, so that grant's refund found its points spent), it
// settles that grant first, as a reversal's return to the lot would,
// before what stays spendable of the reversal's returns settles the
// member's other short grants; and so on for what that gives back. Each
// such round is a transaction of its own, posted after the one it takes
// from, so an order settled in two rounds has two transactions of
// KindReversed (one change still, summing both). So with o-1 (100) and
// o-2 (50) spent down to o-2's 30, refunded o-1 then o-2 (o-1's refund
// taking o-2's 30, o-2's finding its lot empty: 50 short), the
// redemption's reversal settles 20 of o-2's shortfall with its own return
// to o-2's lot and the last 30 with the charge given back there: the
// member ends at 0 with nothing short, as reversal first does. What
// stays spendable of a charge given back (its lot's own grant settled)
// settles the member's other short grants as the reversal's spendable
// returns do: they are the member's points again, which a refund would
// have taken for a shortfall.
//
// So an order that earned 100 points, all redeemed, ends at 0 whether it
// is refunded and the redemption then reversed, or the other way round,
// and whatever else the member holds ends as it would have; a refund of
// 30% after redeeming all ends at 70 either way. Points earned later
// settle nothing, and neither does a shortfall or a charge recorded by a
// version before these rules (its grants have no Shortfall, no Charged).
//
// # Operator calls
//
// Every write of the Handle takes a request whose RequestID is its
// idempotency key (see [Handle]); its Operator and Note are recorded with
// what it does (the ledger reference, the change's reason, the adjustment).
// A redemption (one per reference and program) spends points, or with an
// order amount the points + cash split of [SplitOrder]: the money paid in
// points is rounded down to the money scale (Payment.MoneyScale: 2
// decimal places when unset, 0 for whole units such as yen), so what the
// member pays in cash is rounded up, and the points charged are the
// fewest worth it, so rounding never gives a fraction of a point away. A
// reversal refills the lots taken last (latest expiry) first; points
// returned to a lot that has expired meanwhile expire again at once, and
// points it returns settle the shortfalls and charges refunds left first
// (see Refunds). A reversal is in points: what a partial refund of a
// points + cash order gives back in points and what in cash is the
// host's choice (the
// redemption's Split says what each paid), and the library refunds no
// cash. A manual adjustment whose absolute amount is above the program's
// ApprovalAbove waits for another operator's approval (or rejection,
// neither dated before the request); a credit is a new lot of the program's
// validity and a debit takes spendable lots like a redemption. An exchange
// converts at the configured rate, rounded down to the target program's
// scale ([Convert]), in one transaction. The source's points are all
// debited: the fraction rounding down cuts from the target's (10 points at
// a rate of 0.15 give 1, not 1.5, of a whole-point program) is not kept
// anywhere, as the spec's rounding down says; a host that wants no such
// loss exchanges amounts that convert exactly (Convert says what they
// give before the call). An exchange's rate, like a points + cash
// payment's, keeps to the limit on decimals a formula's rate keeps to (40
// digits before and after the point): [Definition.Check] refuses one
// beyond it at its path (exchanges[i].rate, programs[i].payment.rate),
// wrapping event.ErrTooLarge. It checked only that they were positive,
// and an exchange at a rate of 1e70000 made a balance of 70,001 digits.
//
// Every time the Handle returns is in the program's zone.
//
// # Bad input
//
// Every call of the Handle checks its arguments before it reads or writes
// anything, and refuses a malformed one with an error wrapping
// event.ErrInvalidArgument that names the field as its JSON name reads
// (from, sub, kinds, at); nothing is written, not even a refusal in the
// audit trail. A query that takes a member checks it
// as an ID (1 to event.MaxIDBytes bytes: an empty member is refused, not
// answered with zeros); a day ("2006-01-02" in DayQuery, ReviewRequest and
// ReconciliationQuery) must be an existing date of that form ("2025-3-1"
// would otherwise match no day); the times of a Statement's or Totals'
// period must be within the years 1900 to 2099, To not before From; a
// Statement's Sub must be one of [Subs]
// and its kinds points kinds (KindEarned, …), or the page would be empty
// for a typo; Balance and Split need an At (at the zero time every lot,
// expired or not, would count as available); an amount (of Redeem, Reverse, Adjust,
// Exchange, and the order amount of Redeem and Split) must keep to the
// limit on decimals every event attribute keeps to (event.MaxDecimalDigits
// digits; the error also wraps event.ErrTooLarge); an adjustment or order
// ID must not be empty; and [Handle.ExpiryForecast] covers 1 to
// [MaxForecastMonths] months from a time within the limits on input.
// [ErrInvalidAmount] (an amount not positive, or finer than the program's
// scale or the order amount's money scale) wraps event.ErrInvalidArgument
// too, wherever it comes from (the Handle, [SplitOrder],
// [Program.CheckAmount], a migrated member's opening lots); the Handle's
// writes check it against the program inside the unit of work, so the
// audit trail records that refusal. A refusal of Reverse, Approve or
// Reject, which name a redemption or an adjustment rather than a member,
// is recorded under the member of the redemption or adjustment, even
// when it came before the call read it (a reused request ID), or under
// no member when there is no such redemption or adjustment.
//
// A refusal that comes from the member's state, not from the request,
// wraps neither ErrInvalidAmount nor event.ErrInvalidArgument, so a host
// does not take it for a malformed call: a whole reversal (Amount zero)
// of a redemption with nothing left is [ErrOverReversal], as a reversal
// of more than remains is; a points + cash redemption whose split spends
// no points because the member's spendable points pay none of the order
// is ledger.ErrInsufficientBalance, as a redemption of more than the
// balance is. (Before, both were ErrInvalidAmount, for the zero points
// they came to.) A split that spends none because the order's share
// payable in points, or the Amount capping it, is worth less than the
// money scale's unit is still ErrInvalidAmount: no balance would pay it.
//
// # Reconciliation
//
// Since only earned, redeemed, reversed, expired, voided, adjusted and
// exchanged move points in or out of members' accounts, the ledger's daily
// totals give the members' balance (main + pending + frozen) change as
// earned − redeemed + reversed − expired − voided ± adjusted ± exchanged
// ([Reconciliation]). Reversed is net: redemptions returned less what
// refunds took back (shortfalls settled included).
//
// [Handle.Totals] gives the same figures for one member (a member
// center's points earned, spent, expired … in all or over a period),
// summed from the member's ledger entries a statement page at a time, so
// a long history costs time, not memory. They cover the member's three
// accounts, as the identity's balance does: points earned into the
// pending or frozen account are earned when granted, and releasing,
// freezing and restoring them (Totals.Released, Frozen, Restored) moves
// them between the member's accounts without changing a figure. Over the
// whole history Totals.Change is the member's Balance.Total; summed over
// the members, Totals over whole days equal Reconciliation's.
//
// # Storage while a deploy rolls
//
// A member's day of risk control, an order's record and a day's review
// are JSON records (buckets "points.day", "points.order",
// "points.review"). One that holds a field the release before this one
// does not know — [Day].Voided, a [Grant]'s Charged, [Review].Frozen — is
// written in a second version (a byte 2 before the JSON), which that
// release refuses as damage (store.ErrCorrupt) and rewrites nothing; the
// others are written as before, in the form both releases read. Before,
// an instance of that release read such a record and wrote it back
// without the field: a voided day written again by the member's next
// order that day lost Voided (a reversal into its lots then returned the
// points spendable instead of voiding them again), an order refunded or
// settled again lost what its refund had charged to other lots, a review
// frozen again lost when it took its points. So while a deploy rolls, the
// earlier release's instances fail with store.ErrCorrupt on the events
// and calls that read such a record: a risk-controlled member's earning
// on a day voided since, a refund or settling of an order whose refund
// charged other lots, and every call reading a review this release
// froze or reopened (Review, Reviews, Restore, Void, a later grant or
// release into the day).
package points
