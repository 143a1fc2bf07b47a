// Package level is the level ladder of a membership program (会员等级):
// growth (成长值) and the rules that earn it, upgrades and their gifts,
// terms with retention and downgrades, freeze strategies, and paid plans.
//
// It holds the definition types (round-tripping through JSON) and their
// validation, the rules as pure functions of a member's state and a time
// ([GrowthRule.Amount], [Definition.Upgrade], [Definition.Retain],
// [Reversal], [Plan.Extend], …), and the part that applies them to a
// program's events and due work, which runs exactly those functions. A
// program hands out the package's [Handle] (membership.Program.Levels):
// the operator's manual level set and grant of the gifts owed
// ([Handle.GrantOwed]), and the queries of a member's status,
// history, days of growth, the counts per level, the level figures of
// each day ([Handle.Days]) and the term-end forecast.
//
// # Ladder and growth
//
// Levels are ordered by upgrade threshold, strictly increasing from 0 (the
// entry level, which a member joins with their first event, whatever it
// is). Growth is the member's ledger account of asset growth, a plain
// balance without lots (ledger.Asset.HasLots); growth rules earn it (event
// type, attribute conditions, applicable levels, effective period,
// formula, caps per day, week, month, year and in total); Definition.Check
// reports a condition's problem at its field (growth[0].conditions[1].op,
// .attr, .value, .values[i]), not at the condition. Growth rules,
// refund rules and growth rewards (a task's) need a ladder: a definition
// with them and none (paid plans alone) is refused. The amount is the
// formula's result rounded to the growth scale (Definition.Rounding; by
// default whole units, rounded down), then cut by the caps. A cap's limit
// is an amount of growth: Definition.Check refuses one with more decimals
// than the growth scale (growth[i].caps[j].limit), which cut a grant to a
// fraction no other growth amount has (a limit of 15.5 in whole units
// granted 5.5; a definition that passed before is refused by this
// release). An event
// without the formula's base attribute (an optional one) earns nothing
// from that rule, which is skipped: the outcome has a change.RuleSkipped
// change naming the rule and the attribute, and the event's other rules
// (and its points, tasks and tags) apply as usual.
// Whenever growth increases the member moves to the highest level it
// reaches, crossing several levels at once if need be, and gets each
// crossed level's gifts — once per member per level unless the level
// grants them every time. [ChangeGift] is published for each reward
// given, after the changes of its grant. A growth gift (or a task's
// growth reward) is such an increase: it may move the member up again,
// with that level's gifts in turn (an order of 470 crosses Silver, whose
// gift of 30 makes 500, Gold's threshold: Gold, and its gift), and the
// ChangeGift of the higher level then comes first, being one of the
// changes of the lower one's grant. The entry level is joined, never
// upgraded to, so Definition.Check refuses gifts (or GiftEveryTime) on it
// (ladder[0].gifts): before, they were accepted and never granted, and a
// definition that passed before is refused by this release. A
// registration gift (注册礼) is a coupon gift on the registration event
// (coupon.Gift) or a one-action task with a total limit of 1. A level's
// gift that repeats an earlier one of the level in every field (amounts
// by value) is refused too ("ladder[1].gifts[1]: the same gift as
// gifts[0] (use count)"; "(add the amounts)" for points and growth): it
// was granted twice, which one gift says; an earlier release accepted it.
// A pack or achievement gift may repeat (no one gift gives two). A decrease
// (a refund rule, a negative growth rule) never goes below zero — the shortfall is recorded
// in the change's payload and reason — and never downgrades before the
// term ends.
// Lifetime growth, the net growth ever earned, is kept beside the balance
// and is never re-based.
//
// An event that reaches the program late, dated before the member's
// current level started (the last level change), earns its growth as any
// event does; the upgrade it brings takes effect when that level started,
// not at the event's time: in time order the member's growth reached the
// threshold then at the earliest (the new term and the gifts count from
// then). Before, the move was dated at the event, before the one it
// follows: the history went back in time and [Handle.Days] counted -1
// members at the level left.
//
// The package's growth rules ([GrowthRule.Levels]) and the other domains
// judge an event or a request on the level the member held at its time
// (engine.Unit.MemberLevel): the rule of growth and of points, the
// coupon claim condition, the task target, the benefits of a time. One
// dated before the member's latest level change (a late order dated
// 09:00, processed after an upgrade at 10:00; one dated before a
// downgrade) is judged on the level held then, read back from the
// member's history ([Handle.History]); an upgrade the late event brings
// itself takes effect when the current level started, after its time, so
// it does not count for it. An event dated from the latest change on
// reads only the member's record; a late one reads the history once,
// however many domains ask for its level. Tags, which say what the
// member is rather than judge an event, follow the current level (package
// tag).
//
// A member's growth, lifetime growth and growth of each day keep to the
// limit on decimals every amount keeps to (event.CheckDecimal: 40
// digits, counted as the figure reads: 9e39 at two places is 40): an
// event or a reward that would take one past it (a growth rule on
// recharges of 9e38 at ten times the amount, twice) fails with an error
// wrapping event.ErrTooLarge and, as any failed event, changes nothing
// and leaves its ID free. An opening (Program.OpenMember) refuses
// growth past it.
//
// A cap that cuts a grant publishes the growth change of what is left,
// with the cut in the change's reason (rule.Reason.Cut); a grant cut to
// nothing publishes nothing.
//
// # Gifts owed
//
// A gift's reward that its part refuses (a coupon or pack out of stock, a
// claim limit reached, outside the claim period: published as
// coupon.claim_refused) is not marked given: the member is owed it
// ([Status.Owed]; [ChangeOwed] follows the refusal). A later event of
// the member tries it again, first, in the event's unit of work, when
// something may have changed since its last refusal: another definition
// is in force (a new Definition.Version, or an unversioned definition of
// other content: a restock, a changed claim rule), or the event falls on
// a later day, in the program's zone, than that refusal (a claim period
// opens, a per-period claim limit starts afresh). Otherwise the event
// leaves it owed without asking: nothing is published or written for it.
// A reward owed is so asked for automatically at most once a day and once
// per definition, however many events the member has. [Handle.GrantOwed],
// an operator's request, tries every reward owed, whatever the day and
// definition. A reward granted leaves what is owed in the same unit, so
// it is granted once however many of the member's events run at once,
// and its [ChangeGift] has a reason whose note starts "late upgrade
// gift". One refused again stays owed, its refusal and [ChangeOwed]
// published again, and that refusal (its time, the definition in force)
// is the one the next events compare with; an event whose growth reaches
// its level again does not ask for it a second time. A reach of the level
// grants what is owed of it too (only that: the gift's other rewards stay
// given; a level that grants its gifts every time owes nothing, and
// grants them all at each reach). A reward that the definition no longer
// gives (a version took it from the level's gifts) is not listed as owed,
// and the member's next event (another definition is in force) or
// GrantOwed drops it for good, published as [ChangeGiftDropped] (its
// reason's note: the definition in force no longer gives it; its payload
// names the reward's kind and target, without amount or count), so that
// a host keeping what is owed from [ChangeOwed] closes it. Before, nothing
// was published and such a host kept it owed for ever. A reward owed in a record of the release
// before this rule (or opened by migrate, whose file carries no refusal)
// has no refusal recorded: the member's next event tries it. A member owed
// nothing costs no extra read: what is owed is in the level record every
// event reads. Before, each of the member's events asked for every reward
// owed and published its refusal again, for as long as it stayed refused
// (a claim limit used up for good, stock never restocked); and before
// that, only the level's next reach granted it, so a member who stayed at
// the level (always one at the top level) never had it. An operator who
// makes it good by hand (a coupon claimed for the member) leaves it owed
// all the same, and a later event would grant it again: settle it with
// GrantOwed (after a restock, or once the claim period is open), or let a
// later event do it. A member's erasure (membership's Erase) drops what
// is owed, each reward published as [ChangeGiftDropped], those the
// definition no longer gives included (before, those went unpublished):
// neither GrantOwed nor the member's events are taken from then on.
//
// A reward owed is one of the level's gifts, known by its target (the
// coupon's template, the pack) and its place among the level's gifts of
// that target: of a level that gives two coupons of one template (counts
// 1 and 2), or one pack twice (the way to give two), each gift refused is
// owed, listed in [Status.Owed], granted, dropped and published
// ([ChangeOwed], [ChangeGift], [ChangeGiftDropped]) as itself, and
// granted once. A version that changes a gift's count or amount pays the
// one it gives at that place; one that takes one of two gifts of a target
// away pays the first owed as the gift left and drops the second.
//
// [Status.Gifted] lists the levels whose gifts the member had, and Owed
// the rewards owed; both move with the member: export.Openings writes
// them, and a member migrated in with them (migrate.Member.GiftedLevels,
// OwedGifts) has exactly those levels gifted and is owed those rewards
// (without the levels, as from a file before them, the levels up to the
// member's and those of the gifts owed count as gifted). The file names a
// reward owed by its target and, where the order of those listed does not
// say it, its place ([Status.OwedPlaces], from 1): a member owed only the
// second of two gifts of a target (the coupon of count 2 above, or the
// second of a pack listed twice) is written "Silver|coupon:T|2" and moves
// as owed that gift. One listed without its place (as a file from before
// places lists them all) is the k-th gift of its target when it is the
// k-th listed of its level and target, as an earlier release read it;
// one listed twice (at one place, or more often than the level gives its
// target) is refused.
//
// # Terms and retention
//
// Reaching a level starts a term ending at the level's validity applied to
// the start ([Level.TermEnd]). At a term end T the net growth G earned in
// the retention window [T − W months, T) decides ([Definition.Retain]): G ≥
// the retention threshold keeps the level, otherwise the downgrade mode
// picks the next lower, the matching or the lowest level. G counts what the
// window's refunds took, so it is negative when they took more than was
// earned there, and a level of retention threshold 0 is then lost too (see
// Refunds): a level meant never to be lost takes a permanent validity,
// which has no term end. Either way growth
// is re-based to G (plus anything already earned from T on) and the next
// term starts at T, not when the due work runs. Its validity counts from
// T's day, the day after the old term's last one, as for any term that
// starts then: a months-after term kept again and again ends one day later
// in the month each time (N = 1 reached on 10 January: 24:00 of 10
// February, then of 11 March, of 12 April), and a month-ends term of N kept
// at T, the first of a month, runs N + 1 whole months (N = 1: March and
// April); an annual date does not move. The re-based growth may reach a
// level above the one the term end leaves the member at (under the lowest
// mode, or with a window longer than the term): the member moves up at
// their next growth increase, as the upgrade rule says, not at the term end
// itself (a Platinum member downgraded to the entry level with 150 in the
// window reaches a level of threshold 100 with their next check-in). A term
// end that Advance has not performed yet is performed, at its own instant,
// before any later event or request of the member, so that they apply to
// the level the member holds at their time — a request of another domain
// that reads the member's level (a coupon's claim condition) included — up
// to [MaxCatchUp] of them: an event or request with more due before it
// fails with [ErrCatchUpLimit] and writes nothing, rather than being
// applied to a level the member would not hold. Queries read the stored
// state ([Handle.Status], History), except those that answer for a time:
// [Handle.StatusAt] (and membership.Program.Member, which uses it) and the
// benefits a member holds at a time (package benefit) count such a term
// end without writing it.
//
// An upgrade period (the article's 升级也需要设定固定周期内: count only
// recent growth towards an upgrade) is a term on the entry level: the
// entry level is always kept, and its term end re-bases growth to its
// window's like any other. With month ends N = 11 and a window of 12
// months, a member's growth is re-based once a year to the last twelve
// months' (TestUpgradePeriodIsAnEntryTerm). A permanent entry level
// (the usual choice) counts all growth since the last term end of a
// higher level, however old. [Handle.Forecast] lists an entry term's end
// with nothing needed, even when refunds left its window negative.
//
// The window's growth is read from per-member daily buckets kept in the
// program zone (the days from T − W months to the day before T: term ends
// are always day starts, so the window is whole days and exact). A re-base
// is not earned growth and is not counted in the buckets. The cost is one
// range scan of the days with growth in the window. The latest day's
// bucket is kept in the member's record, which every event writes anyway;
// it moves to a record of its own when a later day starts.
// A member migrated in (package migrate) brings their days: with
// migrate.Member.GrowthDays the buckets are exactly those days; without
// them (an import file from before the field) all of the opening growth
// counts as earned on the row's day. [Handle.GrowthDays] reads a
// member's days back; export.Openings writes those that a later window
// can read ([Definition.FirstWindowDay]) into the import format.
//
// # Freezes
//
// A level with a freeze strategy is frozen for a member downgraded from
// it at a term end (the risk control after expiry: an operator's manual
// set below it freezes nothing); growth earned from then on is counted
// (by the event's time: a late event dated before the downgrade earns
// growth but counts nothing for the freeze; before, it counted, and could
// return the member to the level at a time before they left it), and
// once it reaches the level's unfreeze threshold the member returns
// to it at once (the highest such level when several are frozen) with a
// new term. The return moves up as an upgrade does: each level it
// crosses, the frozen one included, grants its gifts by the usual rule —
// once per member per level, so a level whose gifts the member had (the
// frozen one, if reached by growth before) grants nothing again, one
// whose gifts they never had (passed over or reached by a manual set)
// grants them, and one whose reward was refused grants what is owed; a
// level that grants its gifts every time grants them again, as at any
// upgrade. (Before, a return granted no gift, not even those of a level
// the growth reached by itself.) A long-term freeze has no deadline and
// survives any number of further downgrades; a fixed-duration freeze ends
// at the deadline given by its duration applied to the downgrade. A
// deadline that Advance has not performed is performed as a term end is:
// at its own instant, before any later event or request of the member (in
// time order with their term ends), so that neither the status nor the
// feed shows the freeze past it; [Handle.StatusAt] counts it without
// writing it. Reaching a frozen level by ordinary growth, or being set to
// it or above by hand, ends its freeze too.
//
// The growth counted for a freeze ([Frozen.Earned]) is net, as the
// retention window's is: a refund dated from the downgrade on takes off
// what it took of the member's growth (growth's floor at 0 may cut it
// short), whether its order was earned before the downgrade or after, and
// the count may go below 0, so a refund can leave a member who has not yet
// returned needing more than the unfreeze threshold. Gold frozen with an
// unfreeze threshold of 100 and growth re-based to 40: a refund of an order
// earned before the downgrade that takes the 40 leaves −40 counted, and
// 140 are to earn; a refund of 30 of an order of 80 earned since leaves
// 50. Before, the count stopped at 0 at each refund, so the same
// movements counted differently in another order (earning 50 then a
// refund taking 60 left 0 counted, the refund first left 50), and a
// member who earned 60, had 100 taken by a refund, then earned 100 was
// returned with a net growth of 60 since the downgrade
// (TestRefundWhileFrozen in the root package). A member who has returned
// keeps the level to its term end whatever is refunded, as with any
// decrease.
//
// [Handle.Status] and [Handle.StatusAt] tell a frozen member what returns
// them: each entry of Status.Frozen gives the level's unfreeze threshold
// in the definition in force ([Frozen.Unfreeze]) and the growth still to
// earn ([Frozen.Needed]: the threshold less Earned, never below 0, so
// 240 for a threshold of 200 after the refund above took the count to
// −40), to earn before [Frozen.Deadline] when the freeze has one. Both are
// zero for a level a new version of the definition no longer freezes,
// which no growth returns the member to. They are worked out as the status
// is read, from the stored count, and stored nowhere ([Definition.Needed]
// is the rule). Before, Status gave only the count, and a host had to look
// the threshold up in the definition to say how far the member was.
//
// # Refunds
//
// A growth rule with an [OrderRef] remembers per order what it granted; a
// refund rule reverses, for the order its event names, the share of each
// grant matching everything refunded so far, rounded to the growth scale
// ([Reversal]: rounding the cumulative share, not each refund, so that
// partial refunds add up to the whole), and gives the amount back to the
// rule's caps of the day it was granted (for a grant made before a
// version added the cap, see "A new version of the definition"). Refund rules need a growth rule
// with an OrderRef: a definition with refunds and none is refused (path
// "refunds"), as its refunds would reverse nothing. Two refund rules of
// the same event, order and amount attributes are refused (path
// refunds[i]), as in package points: each adds the event's amount to what
// was refunded of the order, so a refund of 50 of 200 took 100 growth and
// a later one of 60 was refused as exceeding the order (before, such a
// definition was accepted). A refund that would
// take what was refunded of the order past its amount is refused with an
// error wrapping event.ErrRefundExceedsOrder and changes nothing, as in
// package points (before, it was accepted and reversed nothing more).
//
// A refund takes back growth only. The level the order reached stays
// until its term ends (a decrease never downgrades before), when retention
// counts the refund in the window's net growth; the level's upgrade gifts
// stay given, and reaching the level again grants them again only if the
// level grants them every time.
//
// Growth never goes below 0, so a refund past the member's growth takes
// what there is (the outcome's growth change has the shortfall), and the
// retention window counts what it took. The window's net growth G may then
// be negative, and retention compares it with the threshold as it is: 100
// earned before the window, a refund of 150 in it taking the 100, then 30
// earned, make G = −100 + 30 = −70, below every retention threshold (none
// is negative): a level of retention 0 is lost too (before, G was taken
// as 0, which kept it), and [Handle.Forecast] says 120 are still needed
// for a threshold of 50 (before, 50, which would not have kept it). The
// matching mode gives the entry level. Growth is re-based to 0, never
// below, and the term end's history record and level change give the
// window as −70 (TestRefundClampedInTheRetentionWindow in the root
// package).
//
// # Paid plans
//
// A plan is bought or renewed by a purchase event whose attribute names
// it; the expiry becomes the later of the purchase time and the current
// expiry plus the period in calendar months or days, at the same wall-clock
// time ([Plan.Extend]); where a daylight-saving change skips that time on
// the last day, at the end of the gap (bought at 02:30 the day before the
// clocks go from 02:00 to 03:00, a one-day plan ends at 03:00, not an hour
// early), and a renewal extends from that expiry as it stands. Plans are independent of the ladder: a member can
// hold a plan and a level at once. A purchase event whose attribute names
// no plan of the definition bought by that event type and attribute
// ("Nope", a mistyped "plus") is bad input: it is refused with an error
// wrapping event.ErrInvalidEvent and [ErrUnknownPlan] that names the
// attribute and the value, before anything is written (its points,
// growth and tags included), and its ID stays free. An event of that type
// without the attribute (an optional one) buys nothing and is processed
// as usual. For the other domains a plan counts until its expiry instant;
// [Handle.Status] lists it until Advance has performed the expiry,
// [Handle.StatusAt] until the expiry instant. A
// purchase of a plan that ran out before it, whose expiry Advance has not
// performed, performs that expiry first, at its own instant (the history
// and the feed show the lapse), and buys the plan anew from the purchase.
// A late purchase, dated while the member held a plan whose expiry
// Advance has since performed (the run from the purchase that bought it
// anew, at or before the late one, to an expiry after it), extends the
// plan from that expiry, as it would have had it come before Advance ran:
// bought on 1 May for a month, ended by Advance on 10 June, then bought on
// a purchase dated 20 May, the plan runs from 1 May to 1 July. The
// history's record of that expiry is removed (history numbers are not
// reused, so one is missing), the plan counts again and its benefits
// follow; the feed keeps the plan.expired change, followed by the
// renewal. Before, such a purchase bought the plan anew from its own
// time (to 20 June), the history keeping the lapse. A late purchase
// dated outside that run (before the purchase that started it, or while
// another run was held and later ended) is still bought anew from its
// time, nor does one move a later run's start or expiry: send a member's
// purchases in time order.
//
// The other domains read the plans a member held at the time of the
// event or request, as they do the level: one dated before the member's
// latest plan change (a purchase, an expiry) reads the runs of the
// member's history (a run from the purchase that bought the plan anew to
// its expiry), so a query of benefits dated before a purchase gets none
// of the plan's, and one dated before an expiry that Advance has
// performed gets them. Before, they read the plans held when the event
// was processed. One dated from the latest change on reads only the
// member's record, as before. The record keeps the time of that change
// from this release on: a member whose latest plan change came before
// it is judged by their plans' purchases alone until their next plan
// change (a time before an expiry performed then gets the plans held
// now).
// Benefits bind to level and plan names in package benefit.
//
// The plans held move with the member: export.Openings writes each with
// its expiry and the start of its run (Held.Since), and a member migrated
// in with them (migrate.Member.Plans) holds each until that expiry, as if
// bought at that start: the expiry is scheduled, the plan counted in
// [Handle.Counts], the history records one purchase dated at the start
// and naming the import's request (so a time between the start and the
// import reads the plan as held, before and after the expiry is
// performed), and [ChangePlanPurchased] is published with the opening's
// reason (migrate.Rule). A purchase before the expiry renews from it.
//
// # Manual sets
//
// [Handle.Set] moves a member to a level at a time, starting a new term
// there; growth is left as it is and no gift is granted. A time before
// the start of the level the member holds (Status.Since: their later
// event, or a term end, went first) takes effect at that start, as a late
// event's upgrade does (see Ladder and growth). Before, it was
// taken at its time, dating the move before the one it follows in the
// history and the counts of [Handle.Days]. The operator and
// the note are required and kept in the member's history. A member set
// below the level their growth reaches moves back up at their next growth
// increase, as any member does (an upgrade never waits for a term end).
//
// # Stored-value membership
//
// A ladder fed by recharge events is an ordinary ladder whose growth rule
// names the recharge event type with a multiplier on its amount.
//
// A recharge paid back (a stored-value withdrawal, value.Definition.Withdraw:
// the unspent balance returned, a card recharge charged back) is not a
// recharge, so the growth it gave is taken back: give the withdrawal type a
// growth rule with the recharge rule's rate negated (a multiplier of −1
// for one growth per yuan). That is a decrease, as a refund's is: down to
// 0 and never below (the shortfall in the change), counted in the
// retention window, never downgrading before the term ends
// (TestStoredValueLadderWithdrawal in the root package). A charge-back
// that names the recharge may instead take back exactly what that
// recharge earned, with a refund rule over a recharge growth rule that
// has an OrderRef (TestStoredValueLadderRechargeAndItsRefund). Growth
// reads the events, not stored value: without such a rule a withdrawal
// takes no growth back.
//
// The article's other upgrade bases (按积分, 储值, 消费: by points, stored
// value or spending) are growth rules too: growth is a measure of its own,
// never derived from the points a member earns or spends. Upgrading by
// points is a growth rule with the points rule's event, conditions and
// formula; the points rule's caps and risk control do not cut it (give
// it caps of its own), and redeeming points lowers no growth.
//
// # A new version of the definition
//
// Levels and plans are known by their names. A definition that replaces
// the one the store runs (membership.Definition.Version) may change a
// level's thresholds, validity, mode, window, freeze and gifts: members
// keep their level, and its new rules apply from their next event or term
// end. A level it makes permanent has no term end: one due from a term
// that started before ends nothing, the member keeps the level with no
// term end from then on, growth is not re-based, and [Handle.Forecast]
// does not list it (TestLevelTermEndOfALevelMadePermanent). The
// other way, a level it gives a validity that it had not (a permanent
// level made timed, an entry level given an upgrade period) starts the
// term of each member who holds it with no term end at their next event,
// at the event's time: its term end is the new validity applied to that
// time, due as any other, and Status.Since moves there (no level change
// is recorded or published). A late event dated before the member reached
// the level starts nothing, and a member with no event keeps the level
// with no term end (TestLevelVersionGivesAPermanentLevelATerm). It may
// not leave out a level or plan that members hold: Open refuses it with
// membership.ErrDefinitionInUse, naming each with the number of its
// members. Renaming one leaves its old name out. Move the
// members first ([Handle.Set], under the definition in force), or keep
// the level. A member left at a level the ladder lacks would keep it for
// ever and could not catch up with its term end. A version that adds a
// ladder to paid plans alone places the plans' members at its entry level
// (Status shows it, and the other domains read it); their next event or
// request joins them there, as a member's first does (a join in the
// history and in Days, the entry level's growth rules applying to it).
//
// A growth rule's caps count its grants per member and rule ID only for
// the periods the rule caps when it grants. So a cap a version adds, a
// total cap too, counts the rule's grants from that version on: a total
// cap of 100 added after a member earned 80 growth under the rule lets
// them earn 100 more (unlike a task's limits: a total one counts the
// completions ever, a calendar one those of its period that the member's
// latest completion counted). No record holds a rule's grants for the
// periods it did not cap (a rule that tracks orders for returns keeps
// what it granted per order, found by the order; other rules keep
// nothing), and keeping one would add a write to every grant of every
// rule. A changed limit keeps what its period counted, and a renamed
// rule starts afresh. A refund gives what it reverses back to the caps
// in force, also for a grant made before the cap was added, which was
// never counted: it frees room that the version's grants took (a member
// who earned those 100, then returned the order of the 80 earned before,
// earns 80 more), but never past the limit, as a counter stops at 0 (one
// who had earned 30 under the cap and returned that order earns 100
// more, not 150).
//
// # Changes, ledger and storage
//
// The part publishes [ChangeLevel] ([LevelChange]), [ChangeGrowth]
// ([GrowthChange]), [ChangeGift], [ChangeOwed] and [ChangeGiftDropped]
// ([Gift]), [ChangeFrozen] and [ChangeUnfrozen] ([FreezeChange]), [ChangePlanPurchased] and
// [ChangePlanExpired] ([PlanChange]); [EffectsOf] reads them back from an
// outcome as values. Growth is posted to the ledger under the kinds
// [KindEarned], [KindRewarded], [KindReversed] and [KindRebased], each
// against a pool of its kind. Every level change, plan purchase and expiry
// is a history [Record] with its cause. The part's state lives in the
// store buckets whose names start with "level."; term ends, freeze
// deadlines and plan expiries are due items of kinds "level.term",
// "level.freeze" and "level.plan". Times the handle returns are in the
// program's zone. A member's level record is written in the form earlier
// releases read unless the member is owed a gift's reward: then in a form
// with each reward's last refusal (time and definition), which the
// release before this rule does not read (store.ErrCorrupt on its
// instances while a deploy rolls); the form before it, rewards owed
// without their refusal, is still read. A member owed a reward at a place
// that the order of the rewards owed does not say (the second of a
// level's gifts of one target owed without the first) has a record in a
// form with each reward's place, which the release before this one does
// not read either (store.ErrCorrupt while a deploy rolls); the forms
// before list the rewards owed without their place, the k-th of a level
// and target read as the level's k-th gift of it, as they were owed (a
// gift's refusals in the order of the level's gifts). A member record
// that owes one reward twice (of one level, target and place) is
// store.ErrCorrupt: it would be paid twice. A member record whose lifetime
// growth reads negative is store.ErrCorrupt: it is floored at zero, so no
// writer writes one. So is one holding a time out of the years 1678 to
// 2261, which its binary form cannot hold (a JSON record's
// "0000-01-01" would be written back as an instant of 1753), as is a history
// record holding one (a read of the history that meets it, History's or
// a late event's, returns the error); the times the part writes are
// within them. A freeze's earned growth may be negative (see
// Freezes); the release before this one refused it as store.ErrCorrupt,
// which its instances do with such a member's record while a deploy rolls,
// writing nothing.
//
// # Relation to the other packages
//
// The package imports no other domain. It registers its part with the
// program's engine, which hands it each event and due item in a unit of
// work; the engine holds the part as its level reader, through which the
// other domains read a member's level and plans (a points or coupon rule
// bound to levels, a member's benefits). Upgrade gifts are rewards: the
// part grants growth gifts itself and hands the others (points, coupons,
// achievements) to the engine, which passes them to the part that grants
// their kind; a task's growth reward reaches this part the same way.
package level

import "errors"

// Sentinel errors. ErrNotDefined is with the Handle.
var (
	// ErrUnknownLevel is returned for a level name the ladder does not
	// have.
	ErrUnknownLevel = errors.New("unknown level")
	// ErrNoLadder is returned for a level operation on a program without
	// a ladder.
	ErrNoLadder = errors.New("no ladder")
	// ErrInvalidRefund is returned for a refund event with no order or an
	// amount that is not positive.
	ErrInvalidRefund = errors.New("invalid refund")
	// ErrUnknownPlan is returned, wrapped in event.ErrInvalidEvent, for a
	// plan purchase event whose plan attribute names no plan the event
	// buys: nothing of the event is written.
	ErrUnknownPlan = errors.New("unknown plan")
	// ErrCatchUpLimit is returned for an event or request of a member with
	// more than MaxCatchUp term ends due before its time that Advance has
	// not performed (a member left alone for a century of monthly terms,
	// or a mistyped year): nothing is written. Program.Advance up to the
	// time performs them, in transactions of their own; then retry.
	ErrCatchUpLimit = errors.New("too many term ends to catch up")
)

// MaxCatchUp is the most term ends of one member that an event or request
// performs before it is applied (see ErrCatchUpLimit): a hundred years of
// the shortest terms (a month), so that one transaction stays bounded.
const MaxCatchUp = 1200
