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
//
// Each step is an event type with attribute conditions (package event).
// [Task.Step] is the rule that counts an event; the part calls it. Events
// count in the order Process receives them, not by their times: a late
// event for A processed after B does not complete "A then B" (send a
// member's events in order).
//
// # Progress, limits and rewards
//
// Progress is kept per member and task and restarts after each completion.
// A task may be limited to a number of completions per day, week, month,
// year and in total (rule.Caps counted in the program's zone). While a
// limit is reached, qualifying events do not count at all — progress does
// not build up for the next period — and the part publishes
// task.limit_reached. Completing grants the task's rewards (points,
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
// ignored. The part reads the member's level and tags through the engine,
// once per event, before any task counts it. The level is the one held
// once the level part has processed the event (an order whose growth
// upgrades the member counts for tasks of the new level); a task's own
// growth reward that upgrades the member counts for tasks of the new level
// from the next event on, whatever the order of the tasks. Tasks run
// before the tag part in processing order, so a target reads the member's
// tags as they stood before the event (an order that earns a tag counts
// for tasks targeting that tag from the next event on).
//
// # Changes
//
// The package publishes [ChangeProgressed] ("task.progressed", payload
// [Progressed]), [ChangeCompleted] ("task.completed", [Completed]; the
// rewards' own changes follow it) and [ChangeLimitReached]
// ("task.limit_reached", [LimitReached]; the reason's Cut names the
// period). Their reasons, and those of the rewards' changes, name the task
// as their rule ("task.<name>"); the rewards are granted with the task as
// their source (rule.Source), so an achievement's grant names the task and
// a coupon is issued by the task claim method. [EffectsOf] reads them from
// an outcome. The package posts
// nothing to the ledger itself (its rewards do); its state is in the store
// buckets named "task.*", and the completions ever are an engine total.
package task
