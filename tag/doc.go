// Package tag keeps the member profile and the member tags of a membership
// program: the statistics kept from events (orders, recharges), the rules
// that tag members automatically, manual tags, and segments — members
// matching a tag expression such as "M and not churned".
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
// overlap: they read "orders containing X". Orders are also kept in daily
// buckets per member (in the program's zone), so windowed statistics
// ("order count in the last 90 days") read only that member's days.
//
// # Automatic tags
//
// A [Rule] gives its tag to the members for which all its [Cond]s hold. A
// condition tests one fact of the member (a profile attribute, the level, a
// statistic, optionally over the last N days, or a preference such as the
// top category) with the operators of package event. Rules are evaluated
// after every event of the member (the tag part runs last, so it sees the
// level and everything else the event changed) and after profile changes.
// A windowed condition "last N days" counts the days [today-N+1, today]: an
// order on day 1 counts through day N and drops out at 00:00 of day N+1
// ("ordered in the last 90 days" ends on day 91). The root package
// schedules that edge in the due index, so members drop out without a scan.
//
// # Manual tags
//
// Manual tags are declared in the definition and added or removed by an
// operator; the member's tag records who and when. A name is either a
// manual tag or a rule's tag, never both.
//
// # Segments
//
// An [Expr] is parsed from text such as "M and (vip or not churned)". The
// index (tag → members) lets a segment page read the members of one tag of
// each conjunction (the smallest) and check the others per candidate, so
// its cost follows the members listed; a bare negation ("not churned") has
// no tag to drive it and reads every known member.
package tag
