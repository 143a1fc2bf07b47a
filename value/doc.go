// Package value is stored value (余额, 储值): a member's money balance,
// recharged, spent and refunded through events, never negative, with the
// cumulative recharge, spend and refund kept for levels, tags and reports.
//
// A [Definition] (the "stored_value" slot of a program definition) names
// the event types that recharge, spend and refund, and the decimal
// attribute holding the amount. [New] registers the part with the
// program's engine; the root package does it when it opens a program, and
// hands out the [Handle] as Program.Value.
//
// # Events
//
// Recharges, spends and refunds are events, processed by Program.Process
// like any other: there is no operator call. Before the transaction, an
// event whose amount is not positive, or has more decimal places than the
// definition's Scale (default 2), is refused with an error wrapping
// event.ErrInvalidEvent that names the attribute: amounts are never
// rounded. A spend beyond the balance fails its event with
// ledger.ErrInsufficientBalance and changes nothing, whatever the
// concurrency: the store serializes writers and the ledger refuses a
// member account going below zero.
//
// # What it publishes
//
// Each operation posts one ledger transaction of kind [KindRecharge],
// [KindSpend] or [KindRefund] between the member's account of asset
// ledger.Value and the pool of its kind, and publishes one change —
// [ChangeRecharged], [ChangeSpent], [ChangeRefunded] — whose data is a
// [Change]: the amount and the balance after it. [EffectsOf] reads them
// from an outcome. The cumulative totals are engine totals in the
// package's bucket "value.totals"; [Handle.Account] reads them with the
// ledger balance.
//
// # Relations
//
// Stored value reads nothing of the other domains. The others see it
// through the ledger (a member profile's assets) and through the events
// themselves (a tag rule over recharge totals, a growth rule on a recharge
// event).
package value
