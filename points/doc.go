// Package points defines point programs (积分) and the rules that earn,
// hold, spend and take back points: earning rules with formulas, caps and
// validity, pending points, the return policy, daily risk control,
// points + cash payment and exchange between programs.
//
// It holds definitions, state records and decisions as plain functions
// ([Rule.Applies], [Rule.Earn], [Risk.Decide], [SplitOrder], [Convert],
// [RefundShare]); the root package membership applies them inside a store
// transaction, posts to the ledger and schedules due work. This package
// imports neither the root package nor a store.
//
// # Programs and accounts
//
// A [Program] has its own scale and rounding; its points are the ledger
// asset ledger.Points(name). A member has three accounts per program: the
// main, spendable account (""), [SubPending] for points in a return window
// and [SubFrozen] for points frozen by risk control. Every credit is a lot
// with a grant time and an expiry; moving a lot between a member's accounts
// (release, freeze, restore) keeps its ID, expiry and grant time, and its
// remainder expires at its expiry wherever it is. Spending takes the main
// account's unexpired lots by earliest expiry, then earliest grant.
//
// # Earning
//
// An earning [Rule] applies to an event of its type inside its window
// whose attributes match its conditions, for a member at one of its levels
// (the level once the level part has processed the same event, so an
// upgrade the event causes counts). Its formula's result is rounded with
// the program's rounding, then cut by the rule's caps per member per day,
// week (from Monday), month, year and in total, in the program's zone; the
// cut is reported in the reason. Risk control comes last (see [Risk]): only
// earning rules count toward the daily threshold, not rewards,
// adjustments or exchanges; blocked amounts give their cap room back.
//
// # Risk control
//
// Under [Stop], what passes the threshold is blocked for the rest of the
// day. Under [Freeze], the grant that reaches the threshold (earned ≥
// daily) freezes the day: the unspent remainder of every lot the day's
// rules credited, and every later grant that day, move to the frozen
// account, and a [Review] opens. Pending lots of a frozen day go to frozen
// when released while the review is open. An operator restores the frozen
// lots to the main account (same lots and expiries) or voids them; a grant
// later the same day reopens the review for the new points only.
//
// # Refunds
//
// An earning rule naming an Order attribute records what each order
// earned. A [Refund] event reverses, for each grant, its share of the
// order (refunded in all / order amount, rounded with the program's
// rounding) less what was reversed before: first from the order's own lot
// (pending, spendable or frozen), then from the member's other spendable
// points; what was already spent beyond that is the order's shortfall,
// recorded, and the balance never goes below zero. Growth is reversed by
// the level package's own refund rules.
//
// # Reconciliation
//
// Ledger kinds earned, redeemed, reversed, expired, voided, adjusted and
// exchanged move points between member accounts and a pool of the same
// name; released, frozen and restored move lots between a member's own
// accounts and net to zero. So, from the ledger's daily totals, the
// members' balance (main + pending + frozen) changes by earned − redeemed
// + reversed − expired − voided ± adjusted ± exchanged ([Reconciliation]).
// Reversed is net: redemptions returned less what refunds took back.
package points
