// Package task defines member tasks (会员任务) and runs them: what a
// member must do, in which order, who may take part, what completing
// earns and how often.
//
// A program's task domain is its [Handle] (Program.Tasks in the root
// package). Tasks progress as events arrive, in Program.Process; there is
// no operator call. The handle reads a member's standing
// ([Handle.Progress]) and completions per period ([Handle.Completions]:
// in total, and per day, week, month or year for the periods the task
// limits; another period wraps [ErrNotCounted]).
// Without a task definition Progress returns an empty list (the member has
// progress on no task) and Completions an error wrapping [ErrNotDefined].
// Both check the member they take as an ID (1 to event.MaxIDBytes bytes
// of valid UTF-8 without NUL), and Completions its time (the years 1900
// to 2099), with or without tasks: beyond that the error wraps
// event.ErrInvalidArgument and names the field. [Handle.Daily] answers a
// period of at most [MaxDays] days, refusing a longer one, or one whose
// end is before its start, with event.ErrInvalidArgument naming "to".
//
// # Types
//
//   - [One] (one action): one qualifying event completes the task.
//   - [Repeat] (repeated action): Times qualifying events of the one step.
//   - [All] (several actions): every step occurs, in any order. One event
//     counts for one step at most (an order of 150 of the brand does not
//     do both "an order of 100 or more" and "an order of the brand"), and
//     the task completes once the member's events can be given a step
//     each: an event that fits only steps already done takes one whose
//     event also fits a step not done, which that event moves to
//     ([Progress].Fits keeps what each event fits); else it does not count.
//   - [Sequence] (ordered actions): the steps occur in the configured order.
//     An event matching a step other than the next one is ignored: progress
//     neither advances nor resets. The task completes when the member has
//     done the steps as an ordered subsequence of their events, so B then A
//     never completes "A then B", while A, C, B, C does complete "A, B, C".
//     Operators expect a stray action not to wipe out what was already done.
//     The order is that of the events' times, as the types are to "occur"
//     in order: a step counts only for an event whose time is not before
//     the time of the previous step's event (an equal time counts), so a
//     cart of 09:00 processed after a browse of 10:00 does not do "browse,
//     then cart". Before, the order was the one Process received the events
//     in, whatever their times. The previous step's time is the progress's
//     Updated, which progress recorded by earlier releases carries too.
//
// Each step is an event type with attribute conditions (package event);
// Definition.Check reports a condition's problem at its field
// (tasks[0].steps[1].conditions[0].attr, .op, .value or .values[i]), not
// at the condition.
// [Task.Step] is the rule that counts an event; the part calls it. Events
// count as Process receives them, and what did not count is not looked at
// again: a late event for A processed after B does not complete "A then
// B" (B did not count, having no A before it), and a late A does not move
// the time of an A already counted back. Send a member's events in order.
// Progress does not keep what an out-of-order event would need: to
// decide "A, B, then C" whatever the order events arrive in, it would
// keep the time of every B received before any A or C (an A and a C
// arriving later complete the task if any of those B falls between them),
// a record growing with the member's events; a record of bounded size
// cannot, so none is kept.
//
// # Progress, limits and rewards
//
// Progress is kept per member and task and restarts after each completion.
// A task may be limited to a number of completions per day, week, month,
// year and in total (rule.Caps counted in the program's zone). The total
// is the member's completions ever, also those made before a version
// added the limit. A day, week, month or year limit is counted per
// member and period only for the periods limited, and a limit a version
// adds also counts the completions its period had before, for the
// period of the member's latest completion: each completion keeps the
// member's latest one with how many completions its day, week, month
// and year hold (one small record per member and task), which a limit
// reads while its period's counter has no value yet, its counter then
// starting from it (see "A new definition version"). While a
// limit is reached, qualifying events do not count at all — progress does
// not build up for the next period — and the part publishes
// task.limit_reached for each event that would have counted had the limit
// not been reached, and for no other (not for a step out of order, a step
// done, an event outside the effective period or of a member the task
// does not target). Completing grants the task's rewards (points,
// growth, an achievement, a coupon or a coupon pack) through the engine
// (engine.Unit.Reward), which hands each to the domain that grants its
// kind, inside the event's transaction: the package imports no other
// domain's part. A completion, with its limits' counters, is published
// before its rewards and stands whatever they do: a coupon or pack that
// package coupon refuses (out of stock, its claim rules or limits) is
// recorded as coupon.claim_refused with the task's reason, the other
// rewards being granted; an achievement the member holds is not granted
// again and nothing is published for it. Any other error of a reward fails
// the event, which then changes nothing.
//
// Nothing takes a count back. An event that refunds an order (points' and
// level's refund rules) undoes neither the order's count towards a task
// nor a completion nor its rewards (an operator adjusts or revokes them),
// and an event of a type a step listens to counts whatever it does in
// other domains. Progress made before a task's effective period (Window)
// ends stays as it was: events from its end on (the end is excluded, the
// start included) do not count. Erasing a member keeps their progress and
// completions.
//
// # Targets
//
// A [Target] restricts a task to levels (any of), tags (any of) and a
// segment (a tag expression of package tag); events of other members are
// ignored. A member who leaves the target mid-progress (a downgrade, a
// tag removed) keeps their progress: their events do not count while
// they are outside it, and count on from where they were once they are
// back, as progress stays when a task's effective period ends. The level
// is the one held at the event's time (for an event in order; a late one
// below): a term end due by then counts
// though Advance has not performed it. The part reads the member's level and tags through the engine,
// once per event, before any task counts it. The level is the one held
// once the level part has processed the event (an order whose growth
// upgrades the member counts for tasks of the new level); a task's own
// growth reward that upgrades the member counts for tasks of the new level
// from the next event on, whatever the order of the tasks. Tasks run
// before the tag part in processing order, so a target reads the member's
// tags as they stood before the event (an order that earns a tag counts
// for tasks targeting that tag from the next event on).
//
// A late event (dated before changes of the member already processed) is
// targeted by the level the member held at its time, which the level
// history keeps, but by the tags the member holds when it is processed:
// no record keeps a member's tags at a past time. A check-in dated 09:00
// processed after an order of 10:00 that took a bronze member to silver
// and gave them a tag counts for bronze-only tasks, not silver-only ones
// (before, the other way round), and for tasks of that tag. Its own
// upgrade, if it brings one, takes effect when the current level started
// (package level), after its time, so it does not count for it. Send a
// member's events in order.
//
// # A new definition version
//
// Progress is kept by task name and counts the task's steps. Each record
// carries a fingerprint of the steps it counts (the task's kind and
// steps, their event types and conditions in order, encoded as in the
// definition and hashed). A version that edits a task's steps, even
// keeping their number (steps reordered, an event type swapped, a
// condition changed), or its kind, restarts the members' progress on it,
// as it always did when the number of steps changed: progress on "order,
// then recharge" is never read as progress on "recharge, then order".
// Completions already counted, and the rewards they granted, stay.
// Progress restarts when it is next read; a member's stale record is
// replaced at the member's next counted event.
//
// The other fields leave progress as it is: a version that changes Times
// keeps the count (two of three check-ins are two of four; a count at or
// above a lowered Times completes at the member's next qualifying
// event), and one that changes the window or the target changes which
// events count from then on. A lowered limit keeps the completions
// already counted in the period: while they reach the new limit,
// qualifying events do not count (task.limit_reached). An added total
// limit counts the completions ever; an added day, week, month or year
// limit the completions its current period had before it, as the
// member's latest completion counted them: a version that adds "once a
// day" at 12:00 to a task completed at 09:00 counts that completion, and
// a check-in at 15:00 does not count. It knows the periods of the latest
// completion only: a late event of an earlier period, and a query of one
// (Handle.Completions), read its counter alone, and completions made
// before this release, which kept no latest completion, are not known
// (the period counts from the version on, as it did). The counter of total completions
// per limited task that earlier releases read is still kept, though not
// read: an instance of an earlier release reads it while a deploy rolls,
// and would let a member past the limit were the completions of this
// release left out of it.
//
// Progress recorded by an earlier release has no fingerprint. The first
// time this release opens the store, it records the steps of each task of
// the definition in force, in the transaction that installs it, and such
// progress counts those steps: it is kept while a version keeps them and
// restarts when one changes them. When that first open also installs a
// new definition version, the steps the records counted are not known
// and all of it restarts; to keep it, open the new release with the
// definition in force first. A record with its task's fingerprint but
// another number of steps is damage: reading it fails with an error
// wrapping store.ErrCorrupt. So is a record no events leave: a negative
// count; for several or ordered actions a step counted more than once,
// or every step done (a completion deletes the record); for ordered
// actions a step done while one before it is not. Before, such a record
// was read as it was (a count of -2 asked 5 more check-ins of a task of
// 3; an ordered task's second step done without its first completed at
// one event of the first). A Repeat count at or above Times is read: a
// version that lowers Times leaves it.
//
// # Changes
//
// The package publishes [ChangeProgressed] ("task.progressed", payload
// [Progressed]), [ChangeCompleted] ("task.completed", [Completed]; the
// rewards' own changes follow it) and [ChangeLimitReached]
// ("task.limit_reached", [LimitReached]; the reason's Cut names the
// period). Their reasons, and those of the rewards' changes, name the task
// as their rule ("task.<name>"), a coupon pack's coupon.issued and
// coupon.pack_issued too; the rewards are granted with the task as
// their source (rule.Source), so an achievement's grant names the task and
// a coupon is issued by the task claim method. [EffectsOf] reads them from
// an outcome. The package posts
// nothing to the ledger itself (its rewards do); its state is in the store
// buckets named "task.*", and the completions ever are an engine total.
package task
