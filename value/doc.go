// Package value is stored value (余额, 储值): a member's money balance,
// recharged, spent, refunded and withdrawn through events, never
// negative, with the cumulative recharge, spend, refund and withdrawal
// kept for levels, tags and reports.
//
// A [Definition] (the "stored_value" slot of a program definition) names
// the event types that recharge, spend, refund and withdraw (each
// optional; a type names one operation: Check refuses one named twice),
// and the decimal attribute holding the amount. [New] registers the part with the
// program's engine; the root package does it when it opens a program, and
// hands out the [Handle] as Program.Value.
//
// # Events
//
// Recharges, spends, refunds and withdrawals are events, processed by
// Program.Process like any other: there is no operator call. Before the transaction, an
// event whose amount is not positive, or has more decimal places than the
// definition's scale, is refused with an error wrapping
// event.ErrInvalidEvent that names the attribute: amounts are never
// rounded. The scale is Definition.Scale: 2 decimal places when it is nil
// (unset), 0 (whole units, for yen or won: 10.5 is refused, 10 taken) to
// 8 when set. It is a pointer so that an explicit 0 means whole units
// while a definition that leaves it out keeps the default of 2 it always
// had, and encodes as before. A migrated member's opening amounts
// (Program.OpenMember) keep to the same scale. A spend or a withdrawal
// beyond the balance fails its event with ledger.ErrInsufficientBalance
// and changes nothing, whatever the concurrency: the store serializes
// writers and the ledger refuses a member account going below zero.
//
// A member's balance and cumulative recharge, spend, refund and
// withdrawal keep to the limit on decimals every amount keeps to
// (event.CheckDecimal: 40 digits, counted as the figure reads: 9e39
// recharged by 1.00 is 9000…001, 40 digits, not 42): an event that would take one past it fails with an error
// wrapping [ErrInvalidAmount] and event.ErrTooLarge, and, like a refund
// past the spend, changes nothing and leaves its event ID free. An
// opening (Program.OpenMember) cannot pass it: its amounts each keep to
// the limit, and the member is new.
//
// The cumulative totals only grow, from zero: one that reads negative is
// damaged data, and Account, and every event that reads it (a recharge
// its recharge total, a spend its spend, a refund both spend and
// refunds, a withdrawal its withdrawn total), fails with an error wrapping store.ErrCorrupt and changes
// nothing.
//
// Totals across members are not held to the limit: the pool of each kind
// (ledger.Pool(ledger.Value, kind)), whose balances together are the
// float, the program's stored-value liability, and the ledger's daily
// totals that a report reads. Two members of 9e39 make a float of
// 1.8e40. Checking a pool would read, in every stored-value event, a
// total that every member's events write, which its stripes exist to
// avoid: on PostgreSQL every two concurrent events would conflict. They
// read exactly at any size (a pool's balance, Program.Totals, a report's
// figures are sums of decimals, never cut to some number of digits), so
// nothing is misread.
//
// A refund credits back money the member spent: a refund whose amount
// would take the member's cumulative refunds past the member's cumulative
// spend (what is refundable is [Account]'s Spent less its Refunded) fails
// its event with an error wrapping [ErrRefundExceedsSpend], which gives the
// amount and what is still refundable. Like a spend beyond the balance, it
// changes nothing — no ledger entry, no total, no change in the feed — and
// its event ID is not taken: the same ID may be sent again once the member
// has spent enough. Both totals are read in the event's transaction, so
// concurrent refunds of one member never pass the spend together. The
// refunds are not matched to purchases: any spend of the member counts,
// and a migrated member's opening spend (migrate.Value.Spent) counts less
// the opening refunds (migrate.Value.Refunded, which export.Openings
// writes from Account's Refunded), as in the program the member came
// from. A retry of an
// accepted refund (same event ID and content) is found before the check
// and returns its first outcome, Duplicate set, whatever has been
// refunded since.
//
// # Withdrawals
//
// A withdrawal (Definition.Withdraw, 储值退款) pays recharged money back to
// the member: the unspent balance returned on request, or a recharge paid
// by card and charged back. It debits the balance as a spend does (beyond
// the balance: ledger.ErrInsufficientBalance, nothing changes, the event ID
// stays free) but is no spend: it counts in Account's Withdrawn, not in
// Spent, so no refund can credit it back (what is refundable is still
// Spent less Refunded), and Recharged keeps what was recharged. Modelling
// a withdrawal as a spend, as a host had to before, counted it in the
// spend that a later refund could credit back, and left nothing to tell a
// recharge kept from one returned. A member's balance is, without an
// opening, Recharged − Spent + Refunded − Withdrawn. An opening brings
// the withdrawn total with the others (migrate.Value.Withdrawn, which
// export.Openings writes from Account's Withdrawn), so a member moved by
// an export and an import keeps it, and the balance the totals account
// for; before, it was not carried and the imported member had withdrawn
// nothing.
//
// What a returned recharge does to the other domains is theirs to say,
// since they read events, not this package (see Relations): a recharge
// returned is not a recharge, so
//
//   - the growth of a stored-value ladder (a growth rule on the recharge
//     type) is taken back by a growth rule on the withdrawal type with the
//     recharge rule's rate negated (a decrease, down to zero, never
//     downgrading before the term ends: package level), or, for a
//     charge-back naming the recharge, by a level refund rule;
//   - a tag's recharge total (the recharge_total fact, the profile's
//     Recharged) drops by what is withdrawn when the tag definition names
//     the withdrawal type (tag.Recharge.Withdraw);
//   - a report shows the period's withdrawals as Value.Withdrawn
//     (package report).
//
// # Definition changes
//
// A definition that replaces the one the store runs may change the event
// types, the amount attribute and the scale, but may not drop stored value
// while the store holds some (a member's ledger postings or cumulative
// totals): Open refuses it with membership.ErrDefinitionInUse at
// "stored_value". Members' money would stay the program's liability in the
// ledger while Account answered ErrNotDefined and the recharge and spend
// events, still declared, moved nothing.
//
// It may add an operation (Withdraw, say) or leave one out while members
// have totals of it: the totals stay, and Account reports them whatever
// the definition names (a member's Withdrawn after Withdraw is left out,
// as Refunded after Refund is), while the type, still declared, moves no
// money from then on.
//
// Nor may it lower the scale while a member's balance has more decimal
// places than the new one (10.55 under a scale of 1): no spend could take
// the 0.05, amounts finer than the scale being refused. Open refuses it
// with membership.ErrDefinitionInUse at "stored_value.scale", naming one
// such member and balance, and nothing is installed. The store records the
// scale in force (bucket "value.meta"); only a version that lowers it
// reads the members' balances, in one scan at Open (streamed, not held in
// memory: it takes time on a large store), and so does the first version
// opened over a store written before the scale was recorded. Raising or
// keeping the scale is never refused. A lot's remainder does not count:
// stored value's lots never expire, so spending the balance takes them all.
//
// # What it publishes
//
// Each operation posts one ledger transaction of kind [KindRecharge],
// [KindSpend], [KindRefund] or [KindWithdraw] between the member's account
// of asset ledger.Value and the pool of its kind, and publishes one change
// — [ChangeRecharged], [ChangeSpent], [ChangeRefunded], [ChangeWithdrawn]
// — whose data is a
// [Change]: the amount and the balance after it. A member migrated in
// (Program.OpenMember) publishes [ChangeOpened], its opening balance, which
// is no recharge. [EffectsOf] reads them from an outcome. The cumulative totals are engine totals in the
// package's bucket "value.totals"; [Handle.Account] reads them with the
// ledger balance.
//
// # Relations
//
// Stored value reads nothing of the other domains. The others see it
// through the ledger (a member profile's assets) and through the events
// themselves (a tag rule over recharge totals, a growth rule on a recharge
// event, and on a withdrawal: see Withdrawals).
package value
