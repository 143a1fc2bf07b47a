// Package tag keeps the member profile and the member tags of a membership
// program: the statistics kept from events (orders, recharges), the
// profile attributes a host sets, the rules that tag members
// automatically, manual tags, and segments — members matching a tag
// expression such as "M and not staff".
//
// A program's tag domain is its [Handle] (Program.Tags in the root
// package): [Handle.Add] and [Handle.Remove] for manual tags,
// [Handle.SetProfile] for attributes, [Handle.Recompute] after a rule
// changed (or to clear a tag a new version left out), and the reads
// [Handle.Of], [Handle.Profile], [Handle.Segment],
// [Handle.InSegment] and [Handle.Counts]. Without a tag definition Of
// returns an empty list (the member has no tag) and every other call an
// error wrapping [ErrNotDefined].
//
// Every call checks its input against the program's limits (see
// event.MaxIDBytes): a member, and the cursor (After) of a page of
// Segment or Recompute, which is a member ID, as an ID; other strings as
// text (valid UTF-8 without NUL, at most event.MaxTextBytes bytes); times
// in the years 1900 to 2099. Input beyond them is refused with an error
// wrapping event.ErrInvalidArgument that names the field, and changes
// nothing. So is a request that asks no change: a SetProfile with no
// attributes (naming "attributes"), as an Add or a Remove naming no tag
// is refused (ErrUnknownTag).
//
// # Profile and statistics
//
// A [Definition] names the order event type and its attributes (amount,
// brand, category, product, each a string or a list of strings) and the
// recharge event type. From each order the package keeps, per member, the
// first and last order time, the order count and amount, and counts and
// amounts per brand, category and product ([Stats]); the top values are
// ordered by order count, then amount, then name. An order listing several
// values of one dimension (a list attribute) counts one order and the full
// order amount for each distinct value, so amounts per value of one order
// overlap: they read "orders containing X". The average order value is
// rounded half-up to the cent; a rule finds none without an order (in its
// window), so "average order < 50" tags no member who has not ordered (the
// profile's Summary shows 0). Orders are also kept in daily buckets per
// member (in the program's zone), so windowed statistics ("order count in
// the last 90 days") read only that member's days (see Storage).
//
// A member's recharge total keeps to the limit on decimals every amount
// keeps to (event.CheckDecimal: 40 digits, counted as the total reads:
// 9e39 recharged by 1.00 is 9000…001, 40 digits): a recharge event that would
// take it past the limit fails with an error wrapping event.ErrTooLarge,
// and, as any failed event, changes nothing and leaves its ID free (two
// recharges of 9e39 would make 1.8e40). A migrated member's opening
// cannot pass it: the total it brings (migrate.Value.Recharged) is
// refused beyond the limit, and the member is new.
//
// A recharge paid back is not a recharge: when the definition names the
// withdrawal event type (Recharge.Withdraw, the type stored value's
// Definition.Withdraw names), each withdrawal takes its amount off the
// member's recharge total (the recharge_total fact, the profile's
// Recharged), down to zero and never below, so "recharge total ≥ 1,000"
// no longer tags a member who recharged 1,000 and took 600 back (400).
// Left out, the total counts every recharge, paid back or not, as before
// withdrawals existed. A migrated member's opening total is alike: the
// cumulative recharge it brings (migrate.Value.Recharged) less its
// cumulative withdrawal (migrate.Value.Withdrawn, which export.Openings
// writes from value.Account's Withdrawn), down to zero, when Withdraw is
// named, and the whole recharge when not. That is the source's total,
// but where a withdrawal there was cut at zero before a later recharge (a
// withdrawal of an opening balance or of refunded money can pass the
// total; the cut is not carried, so the import's total is lower) or
// where the source's definition named Withdraw only from some time on
// (the withdrawals before it did not count there). Taking a withdrawal off the total is not as the
// order statistics treat refunds (below): a withdrawal returns the money
// recharged itself, which the member no longer holds with the program,
// while a refunded order was still placed.
//
// The statistics count orders as placed: a refund does not lower the
// order count or amounts (the refund rules of points and growth reverse
// what an order earned, not the profile's figures), so a rule over them
// reads gross spending. An order whose amount attribute is optional and
// absent counts as an order of amount 0.
//
// A [Profile] is this package's view of a member: attributes, tags and
// statistics. The member's level, balances, coupons and achievements
// belong to their own domains; the root package composes the whole
// member view from the handles. Every time a read returns is in the
// program's zone.
//
// # Automatic tags
//
// A [Rule] gives its tag to the members for which all its [Cond]s hold. A
// condition tests one fact of the member (a profile attribute, the level, a
// statistic, optionally over the last N days, or a preference such as the
// top category) with the operators of package event; Definition.Check
// reports a condition's problem at its field (rules[0].all[1].fact, .op,
// .value or .values[i]: the operator and value were reported at the
// condition). Rules are evaluated
// after every event of the member (the tag part is added last, so it sees
// the level and everything else the event changed), after a profile
// change, and after another domain changed the member outside an event (a
// level set by an operator or lost at a term end): the part is the
// engine's Follower. A late event, older than the member's last order, is
// evaluated as at that last order ([Member.Now]), so it never brings back
// windows as they stood in the past; and whatever its date, a level
// condition tests the level the member holds now, not the one held at
// the event's time by which the other domains judge the event (package
// level): a late event neither takes a Gold member's tag of Gold away
// nor gives it back to a member downgraded since. A late event dated after the last
// order but before a window edge Advance has already performed is
// evaluated at its own time, as every late event is (Program.Advance):
// the member may hold a windowed tag again, and the next Advance takes it
// at the edge that evaluation scheduled in the past.
//
// A windowed condition "last N days" counts the days [today-N+1, today]:
// an order on day 1 counts through day N and drops out at 00:00 of day
// N+1 ("ordered in the last 90 days" ends on day 91). The part schedules
// that edge in the engine's due index (one item per member: on
// store/bolt of kind "tag.at", stamped with the time it was scheduled so
// that a day's edges are appended to their instant's items; elsewhere,
// and in files written before stamps, of kind "tag.window"), so members
// drop out when Program.Advance passes it, without a scan. Another
// domain that reads a member's tags in a unit of work (a coupon claim's
// tag condition, a task's target) first has the member's edges due by
// its time performed, at their own instants, when Advance has not
// performed them yet: it reads the tags the member holds at its time,
// whether or not Advance ran. [Handle.Of] and the segment queries read
// the tags as stored.
//
// A changed rule is applied to the members already seen by
// [Handle.Recompute], page by page from a cursor. It is not idempotent by
// a request ID (it has none): it evaluates the rule, so a page run again
// changes nothing the second time. As another domain's read does, it
// first performs a member's window edges due by its time that Advance has
// not performed, at their own instants and as Advance would (every rule
// evaluated there): evaluating the one rule reschedules the member's
// edge, which would otherwise drop the change another rule's window was
// to make at it.
//
// # Manual tags
//
// Manual tags are declared in the definition and added or removed by an
// operator; the member's tag records who, when, the request and a note. A
// name is either a manual tag or a rule's tag, never both: adding a
// rule's tag by hand is [ErrNotManual]. Adding a tag the member has, or
// removing one the member lacks, succeeds and changes nothing.
//
// # A new definition version
//
// A version may leave out a rule's tag or a manual tag that members hold:
// Open accepts it (refusing it would leave no way to clear an automatic
// tag first), and the members keep the tag until an operator clears it.
// No rule gives or takes it any more, and no expression may name it
// (Segment, a claim rule's or a task target's segment), but the reads
// show it as held: [Handle.Of] and [Handle.Profile] list it, and
// [Handle.Counts] counts it beside the declared tags while members hold
// it. [Handle.Remove] takes it from a member who holds it (a manual
// removal, audited, its reason "tags.manual"), and [Handle.Recompute]
// of it takes it, page by page, from every member who holds it (By
// "rule", reason "tags.undeclared"); both keep the index and the counts
// and publish tag.removed. Adding it stays [ErrUnknownTag], as do a
// Remove from a member who does not hold it and a Recompute once no
// member holds it. A later version that declares the name again finds
// the members who still hold it with it.
//
// A version may leave out the tags altogether (no tag definition): Of
// still lists the tags members hold (before, it listed none), the other
// calls return ErrNotDefined, and membership's Erase still erases the
// profile attributes and the notes of manual tags.
//
// # Segments
//
// An [Expr] is parsed from text such as "M and (vip or not churned)",
// its keywords in any case ("M AND vip"). A tag's name is a word (no
// spaces nor parentheses) and no keyword in any case: Definition.Check
// refuses "AND" or "Not" as it refuses "and", since no expression could
// name them (releases before took them; members holding one keep it
// until Remove or Recompute clears it under a version leaving it out). The
// index (tag → members) lets a segment page read the members of one tag of
// each conjunction (the smallest, by the count kept per tag) and check the
// others per candidate, so its cost follows the members listed; a bare
// negation ("not churned") has no tag to drive it and reads every known
// member. Other domains read a member's tags through the engine (a coupon
// claim condition, a task target): the part is the engine's Tags reader. A
// segment there (coupon.ClaimRule.Segment, task.Target.Segment) is parsed
// with [Parse] and matched with [Expr.Match] on those tags, as
// [Handle.InSegment] matches it.
//
// # Changes
//
// The package publishes [ChangeAdded] ("tag.added") and [ChangeRemoved]
// ("tag.removed"), both with a [Change] payload; [EffectsOf] reads them
// from an outcome. A rule's change carries a reason naming the rule
// ("tags.rules[2]") with the value of each fact it read. The package posts
// nothing to the ledger. Its state is in the store buckets named "tag.*";
// the members per tag are an engine total.
//
// # Storage
//
// What every event of a member reads and writes (the statistics, the
// names of the member's tags, the window edge and the order days the
// rules' windows reach) is one record per member, the member's state, so
// that an order costs the part one read and one write of the member's
// own besides the index of a tag it gains or loses. The days before the
// longest window, and a member's days when more than 400 fall within it,
// are records of their own, one a day, read only when a window reaches
// them (a rule given a longer window, a late event). Each tag's record
// (who gave it, when and why) is kept beside, for [Handle.Of] and
// [Handle.Profile]. Records an earlier version wrote (the statistics
// alone, the edge in a record of its own) are read as they are and
// replaced by the member's state at the member's next change; releases
// before the state read it as a damaged record.
package tag
