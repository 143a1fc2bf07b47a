// Package coupon is the coupon domain of the membership library (优惠券):
// coupon templates and packs, issuing against stock and claim rules,
// codes, checkout (which coupons apply to an order, and the best
// combination), redemption, expiry and statistics.
//
// It holds the definition types (a [Definition] is the "coupons" slot of a
// program definition), the rules as plain functions ([Evaluate], [Best],
// [Combine], [ClaimRule.Allows], [PlanPack], [Draw], [NewCode],
// [ParseCode]), the coupon state in the store ([Book]), and the part that
// runs them: [New] registers it with the program's engine (the root
// package does it when it opens a program) and returns the [Handle] that
// Program.Coupons hands out. Every write of the Handle is one idempotent
// unit of work of the engine, keyed by its request's RequestID.
//
// # How it relates to the other domains
//
// Through the engine only. Claim conditions read the member's level and
// tags (for ClaimRule.Tags and ClaimRule.Segment) from the readers the
// level and tag domains register (engine.Unit.MemberLevel, MemberTags):
// the level held at the claim's time, so a claim or an event dated before
// the member's latest level change (an upgrade to a level the condition
// names, processed first) is judged on the level held then and refused
// with ErrNotEligible (package level); of
// package tag only the expressions are used ([tag.Parse],
// [tag.Expr.Match]); level gifts and task rewards reach the part as engine
// rewards of kinds rule.RewardCoupon and rule.RewardPack; coupon IDs are
// numbered by the engine, per member (engine.Unit.NextID, scope "coupon"),
// and the stripes of the totals members share are the engine's too
// (engine.Unit.Stripe). Another domain's part may read a member's coupons
// with [NewBook] (a member profile counts them by state). Coupons post
// nothing to the ledger: they are not an asset with a balance.
//
// # What it publishes
//
// Changes, read back as typed values by [EffectsOf]:
//
//   - [ChangeIssued], [ChangeLocked], [ChangeReleased], [ChangeUsed],
//     [ChangeExpired], [ChangeRevoked]: the data is the [Coupon] after the
//     change. A locked coupon carries the amount it takes off
//     (Coupon.AmountOff); the reason's inputs add the applicable amount and
//     the combination's total.
//   - [ChangePackIssued]: a [PackIssued], after the coupons' own
//     coupon.issued changes. A pack that a gift or a task gives, as
//     coupons of a template it gives, is published with the gift's or the
//     task's reason (a task's rule "task.<name>", an event gift's
//     "coupons.gifts[i]", a level's "level.<level>.gift"), the pack added
//     to its inputs (and, for the pack's change, the method and mode). A
//     pack an operator or a member claims has the pack's own reason
//     ("pack.<name>"), and its coupons the templates' ("coupon.<template>").
//   - [ChangeClaimRefused]: a [Refusal]. A gift or a reward that cannot be
//     issued (out of stock, a limit, not eligible, outside the claim
//     period) does not fail its event: the refusal is published instead,
//     and the event's other effects stand (a level's upgrade gift refused
//     stays owed to the member, and the level's next reach grants it: see
//     package level). A claim through the Handle that is refused fails and
//     changes nothing.
//
// Due work: an issued coupon's expiry, and an order's hold
// (LockRequest.Hold) running out, which releases its coupons at the order's
// time plus Hold; a coupon whose validity ended while it was locked becomes
// expired when it is released rather than available (its expiry, falling
// due while it was locked, left it alone). A coupon released available has
// its expiry due again, so that a release dated before the expiry but made
// after Advance performed it leaves a coupon the next Advance expires. A
// zero Hold schedules nothing (the coupons stay locked until Use, Release
// or a revocation); a negative one, or one that ends past the years a
// program takes (event.MaxYear), is refused with event.ErrInvalidArgument
// naming the hold. A hold is its lock's: an order locked again (after a
// Release, or its coupons locked anew) keeps them until the new lock's hold
// runs out, or for good when it has none, and the earlier lock's hold
// releases nothing of them. A Lock, Use, Release, Redeem or Revoke dated
// after a hold ran out finds its coupons released, at the hold's end,
// whether or not Advance performed it yet: the request performs it first
// (a Use at 12:20 of an order whose hold ran out at 12:15 is refused with
// ErrNotFound, and the coupon may be locked for another order); a Checkout
// dated so proposes them, writing nothing (it proposed none before, as
// locked for the first order, though Lock took them). Likewise
// a request dated after a coupon's validity ended finds it expired: Lock
// and Redeem refuse it as not applicable, Revoke with ErrState.
//
// A request cannot be dated before the coupon last changed
// ([Coupon.Changed]: its issue, lock, release): a Use, Release, Revoke,
// Lock or Redeem dated earlier is refused with event.ErrInvalidArgument
// naming "at", and changes nothing; one at that very instant is accepted.
// Before, a coupon claimed at 10:00 and used "at 09:00" read used at
// 09:00, and Stats counted the use on that earlier day. (A Lock or Redeem
// dated before the issue is refused as not applicable, see
// [Coupon.ValidAt].)
//
// The store buckets are the package's: coupon.coupons, coupon.codes,
// coupon.members, coupon.orders, coupon.used, coupon.indexed,
// coupon.stock, coupon.limits and coupon.stats.
//
// # Templates and coupons
//
// A [Template] is what the operator designs (制券): its [Type] — cash, a
// discount with an optional cap, an exchange item, or a random amount
// drawn in [min, max] at issue, to the money scale — the minimum order
// amount, scenarios, stock, redemption methods, applicable products and
// stores, cost centre, stacking group, claim rule and use rule. An issued [Coupon]
// carries its own code, amount (for cash and random coupons), validity and
// state. Its ID is "c<n>.<member>", its member's n-th coupon: issuing to
// one member counts nothing another member's issue counts, and a member's
// coupons are listed in issue order (c9 before c10).
//
// # Money scale
//
// Coupon money keeps to [Definition.MoneyScale] decimal places: two (the
// cent, [Scale]) when it is nil, as every definition had before the
// field, or 0 (whole units, for yen or won) to 8 when set. It is a
// pointer so that 0 means whole units while a definition that leaves it
// out keeps two places and encodes as before. [Definition.Check] refuses
// a cash amount, a cap, a random bound or a minimum order amount with
// more places (in whole units, a cash coupon of 10.5 or a minimum of
// 99.5; a definition that had one is refused by Open from this release
// on); the Handle refuses an order line with
// more ([ErrInvalidOrder]); a random coupon is drawn in units of the
// scale (whole units at 0), its max at most 2^63 − 1 of them ([MaxDraw]
// at two places); what a discount takes off, an exchange coupon's unit
// price and the shares of an amount off over the lines are rounded to
// it, as described below. The package-level rules ([Order.Check],
// [Evaluate], [Combine], [Best], [Draw]) work at two places; the Handle's
// Checkout, Lock and Redeem and its issues use the definition's scale.
// Coupons issued before a definition changed the scale keep their
// amounts: a cash coupon of 10.50 issued at two places still takes 10.50
// off in whole units.
//
// Validity is a rule.Validity taken from the claim instant: days_after N
// is valid until 24:00 (in the program's zone) of the (N−1)th day after
// the claim day; fixed_range from 00:00 of its first day to 24:00 of its
// last. A coupon is valid from its issue in any case ([Coupon.ValidAt]):
// an order dated before the claim (a till's late order) cannot use a
// coupon claimed after it, which [Evaluate] gives as [ReasonNotYetValid]
// (an earlier release let it). A coupon is not issued once its fixed
// range has ended.
//
// Templates and packs are known by their names, and an issued coupon
// reads its template's rules (a discount's rate and cap, an exchange's
// item, the minimum order, products, stores, scenarios, stacking) when it
// is locked or redeemed; what it carries, a cash or random coupon's
// amount and its validity, is its issue's. A definition that
// replaces the one the store runs (membership.Definition.Version) may
// change a template's rules (its coupons follow them from then on, and
// keep what they carry: TestCouponAuditVersionKeepsWhatCouponsCarry) or
// lower its stock, even below what was issued (nothing more is issued),
// but may not leave out a template or pack of which coupons were issued
// or packs given out: Open refuses it with membership.ErrDefinitionInUse
// naming each (renaming one leaves its old name out). To retire one,
// lower its stock to what was issued or end its claim period. Coupons
// imported by OpenMember do not count against stock, so this check does
// not see a template only imported coupons have.
//
// # Issuing
//
// Coupons are issued by self-claim, by an operator, as a task reward or by
// the system (an upgrade gift, an event gift) — the [Method]. Every method
// is held to the template's [ClaimRule]: the methods it allows, the
// member's level (one of Levels), tags (all of Tags) and segment (Segment:
// a tag expression such as "vip or staff" or "not blocked", parsed and
// matched by package tag as a task's target segment is), the claim period
// and the per-member limits in total and per day. The conditions read the
// member's tags as they stand at the claim, so a member given a tag later
// may claim from then on. Stock is a counter kept in the same store
// transaction as the coupons, and the store serializes writers, so no
// concurrency can issue past it. Stock and limits count coupons issued:
// a coupon revoked, expired or used gives back neither (a pack's stock
// and limits count packs alike). A refusal wraps [ErrOutOfStock],
// [ErrLimitReached], [ErrNotEligible] (a member outside the segment
// included) or [ErrOutsidePeriod] and is decided before anything is
// written.
//
// A claim through the Handle ([Handle.Claim], [Handle.ClaimPack],
// [Handle.Issue]) asks for a method of Self, Operator, Task or System:
// Migrated is given only when package migrate opens a member with the
// coupons held in the system migrated from, and any other method is
// malformed. A claim issues from 1 (Count 0) to [MaxCount] coupons in one
// transaction, and [Handle.Issue] takes 1 to [MaxIssueMembers] members
// (a tag segment's page), each an ID that makes an ID with the request's
// (a member's claim is RequestID + "/" + member, at most
// event.MaxIDBytes). A method, a count or a member list outside those is
// refused with an error wrapping event.ErrInvalidArgument that names the
// field ("method", "count", "members", "members[3]"), before the unit of
// work: nothing is written, the audit trail included.
// So is a claim by the Operator method, or an Issue, that names no
// Operator ("operator": the audit trail says who issued by hand), a
// [RedeemRequest] Via other than [ByCode] and [ByQR] ("via"),
// a Lock of no coupons ("coupons"), and a Lock naming a coupon twice
// ("coupons[i]", the repeat; it wraps ErrNotCombinable too);
// [Handle.Stats] of a template the
// definition does not have is [ErrUnknownTemplate].
//
// A refusal made in the unit of work is recorded in the audit trail under
// the member the call names or, for a call naming a coupon or an order
// (Redeem by code for an order without a member, Use, Release, Revoke),
// under the member of that coupon, or of the coupons locked or used for
// the order, even when it was refused before it came to them (a reused
// request ID, a Use dated before the lock, a coupon not combinable with
// the order's), so that membership's Audit by member lists it and Erase
// redacts it; a code or order no coupon has leaves it under no member.
//
// A [Pack] gives several templates' coupons at once, with its own stock,
// claim rule and [PackMode]: [AnyInvalid] stops the pack as soon as one of
// its templates cannot be issued in full, so every pack holds every
// coupon; [AllInvalid] goes on while any template has stock and gives what
// is left. The templates' stock is consumed; their own claim rules do not
// apply to coupons given in a pack, but a template outside its claim
// period counts as having none left.
//
// A [Gift] issues its coupons, or its pack, on every event of its type.
// Definition.Check refuses a template gift that repeats an earlier one in
// every field ("gifts[1]: the same gift as gifts[0] (use count)"): it
// issued the coupons twice on every event, which one gift says with its
// Count; an earlier release accepted it. A pack gift may repeat: its
// Count gives one pack, so a repeat is the only way to give two.
//
// # Codes
//
// A code is 16 symbols of Crockford's base32 alphabet ([Alphabet]: no I,
// L, O or U) drawn from a cryptographic random source — 80 bits — and a
// Luhn mod 32 check symbol, so every single mistyped symbol is caught:
// [ParseCode] tells a typo ([ErrBadCode]) from a well-formed code that
// does not exist ([ErrUnknownCode], from [Handle.ByCode]); an empty code
// is ErrBadCode and event.ErrInvalidArgument. Input is read the Crockford
// way (case-insensitive, O as 0, I and L as 1, hyphens ignored). [QR]
// gives the QR payload. A code another coupon has is drawn again; a source
// that gives nine codes in use in a row (an injected one: membership.WithRand)
// fails the claim with an error wrapping [ErrRandomSource], which is no
// refusal, and nothing changes.
//
// # Checkout and stacking
//
// An [Order] the Handle takes (Checkout, Lock, Redeem) is checked first
// ([Order.Check]): an ID, a member (Redeem takes the coupon's owner), a
// time, 1 to [MaxLines] lines, each with a product, a quantity from 0 to
// [MaxQuantity], and an amount that is not negative, has at most the
// money scale's decimal places (at 0, a line of 10.5 is refused) and
// keeps to the library's decimal limit
// (event.MaxDecimalDigits digits). A malformed order is refused with an
// error wrapping [ErrInvalidOrder] and event.ErrInvalidArgument that names
// the line and the field, before the unit of work: nothing is written,
// the audit trail included.
//
// [Evaluate] says, for each coupon a member holds, whether it applies to an
// [Order] and its amount off, or why not (a [Reason]: expired, wrong store,
// below the minimum, products excluded, …). A [Held] without its Template
// does not apply ([ReasonNoTemplate]), and [Combine] and [CheckCombination]
// refuse it: the rules never panic on one. The minimum order amount is
// compared with the amount of the order lines the coupon applies to, as
// ordered: in a combination too, what the other coupons take off does not
// count against it (a cash coupon of 10 with a minimum of 80 combines with
// one of 30 on an order of 100). The amount off never exceeds the lines'
// amount. A discount's amount off is rounded down to the money scale, in
// the customer's disfavour by less than one unit of it: 10% off 1,501 is
// 150.10 at two places and 150 in whole units. An exchange coupon takes
// off the unit price of its item (the line's amount over its quantity,
// rounded to the money scale, half up), from the first line of the item
// among those it applies to, and never more than is left of that line; an
// item its products leave out is not in the order for it ([ReasonItem]). A
// coupon that would take nothing off does not apply ([ReasonNothingOff]). A
// template with no stacking group is exclusive; coupons of one group
// combine, at most one per template.
// Combined coupons apply one after the other — exchange, then cash and
// random, then discounts on what is left — each on the line amounts the
// previous left, so a combination never takes off more than the order.
// That order of the kinds is the library's choice (a percentage comes off
// what the fixed amounts left); within a kind, coupons apply in the order
// that takes off the most (a cash coupon for one product before one for
// anything; a capped discount after an uncapped one), found by [Combine]
// whatever the templates are named. A coupon's amount off is shared over
// the lines it applies to in proportion to their amounts (优惠分摊), to the
// money scale rounded down, the units left over (cents by default) going
// to the lines in order.
//
// [Best] proposes the allowed combination with the largest amount off:
// every exclusive coupon alone, and every subset of each group's best
// coupon per template in its best order. None of its coupons takes nothing
// off; ties go to fewer coupons, then to the coupons first applied and
// first issued. Its search skips what a bound shows cannot win (the coupons
// left competing, as a flow, for what is left of the lines each applies to)
// and stops after a bounded number of steps, keeping the best found: tests
// find it exact for random groups of up to ten coupons and for forty that
// compete for their products' lines, but a larger group of cash coupons and
// discounts on overlapping products can reach the bound first (twelve over
// twenty lines: 565.13 off where the best is 565.27). Locking a proposal
// ([Handle.Lock]) takes off exactly what it proposed; a combination holding
// a coupon that adds nothing to what the others take off is refused, so
// such a coupon is never used up. [CheckCombination] refuses a combination
// the stacking rules forbid. An order's coupons are locked together, in one
// Lock: a Lock of an order that holds coupons locked before must name them
// again (it locks them anew, with the others, as one combination), else it
// is refused with [ErrState]; so two checkouts of one order at once cannot
// lock coupons the stacking rules keep apart, and an order is one member's.
//
// A redemption by code ([Handle.Redeem]) is checked with the coupons used
// for its order before (redeemed, or locked and used): the stacking rules
// hold for them all ([ErrNotCombinable]), and together they take off what
// [Combine] gives them, as if locked in one checkout, whatever order they
// were redeemed in. The earlier coupons keep the amounts they recorded
// (used, published and counted, they are not rewritten); the new one takes
// what Combine gives the whole set less those amounts. So on an order of
// 100, a 10%-off coupon redeemed after a cash coupon of 30 takes 7, and a
// cash coupon of 30 redeemed after the 10%-off one takes 27: 37 either way,
// as the two locked together. A coupon that adds nothing to what the
// order's coupons take off, or that Combine refuses with them, is refused
// ([ErrNotApplicable]); the state and validity of the coupons used are not
// checked again (a redemption's time is its request's: a coupon used at
// 23:50 still counts at 00:10). An order whose coupons are locked, or that
// used another member's, takes none ([ErrState]); a Lock of an order that
// used coupons is refused ([ErrState]).
//
// The coupons used for an order are indexed (coupon.used) as they are
// used. A store an earlier version of the library wrote holds coupons
// used before that index existed: a member's first Redeem or Lock since
// indexes the coupons the member used (a scan of the member's coupons,
// done once: coupon.indexed marks the member), so that their orders keep
// these rules too. An order that another member's such coupon was used
// for is known once that member has redeemed or locked a coupon. An index
// entry for a coupon that was not used for its order is damage, an error
// wrapping membership.ErrCorrupt; so is a lock's entry in the order index
// (coupon.orders) that is not the end of a hold, and a stock count that
// is not a whole number an int64 holds, or is negative (issuing only adds
// to it: a negative count would leave more stock than the template has);
// so is a member's claim counter (coupon.limits) that is not such a
// count: a claim fails rather than count on from a made-up number. The
// index of members' coupons (coupon.members) is written with each
// coupon: an entry that holds no coupon state, names no coupon, another
// member's coupon or one in another state is damage too, found by the
// listings that read the coupon (a member's live coupons read only the
// available and locked ones). So is a coupon record in a state, of a
// type or by a method that is none the package has (or none).
//
// A coupon's states are available → locked (for an order, during
// checkout) → used; locked → available (released: by Release, its hold
// running out, or its owner's erasure, membership's Erase, after which
// Use and Release of the order find none locked); available → expired (by
// the due index at its expiry); available or locked → revoked by an
// operator. A store redeeming a code ([Handle.Redeem]) goes from
// available to used in one step. Each coupon is used at most once, whatever
// the concurrency: every state change is a store transaction, and the
// store serializes writers.
//
// # Refunded orders
//
// A coupon used on an order stays used when the order is refunded, in
// part or whole: nothing in this package gives a used coupon back, the
// refund events of packages points and level leave coupons alone, and
// Stats keeps counting the use and the amount it took off (the discount
// was given). Coupons locked for an order cancelled before [Handle.Use]
// go back with [Handle.Release]. A host that wants to give the member a
// coupon back has an operator issue a new one ([Handle.Claim] with Method
// Operator, naming the operator, or [Handle.Issue]): a new coupon, with
// its own ID and code and a validity counted from its issue, held to its
// template's claim rule as any claim is. The used coupon still counts
// against its template's stock and the member's limits, so a template of
// one per member refuses it with [ErrLimitReached]; a template kept for
// such returns (claimed by operators only, without a per-member limit)
// issues it (ExampleHandle_Claim_refundedOrder).
//
// # Statistics
//
// Each issue, use, expiry and revocation updates a counter per (day,
// template, store) in the same transaction — issues, expiries and
// revocations at no store — and [Handle.Stats] sums the days of a period
// per template, store and cost centre: the numbers finance reconciles
// against. A counter keeps the cost centre its template had in the
// definition in force when it counted, so a version that moves a template
// to another cost centre counts under the new one from then on and leaves
// the days before where they were (before, every day's figures followed
// the definition in force when Stats ran: TestCouponStatsCostCentreOfItsTime);
// counters written before this release, which did not keep it, read under
// the template's cost centre in force. A period whose From or To is not a date, or whose To is before
// its From, is refused with event.ErrInvalidArgument. A counter is split
// into stripes by member (or as the transaction chooses,
// store.StripeChooser), as many as the store asks for (store.Striper), so
// that the transactions of different members rarely write the same one;
// Stats merges the stripes. The count of coupons issued of a template
// without stock is split the same way; a template's (or pack's) stock,
// which every claim reads whole, is one counter.
package coupon
