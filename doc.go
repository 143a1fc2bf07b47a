// Package membership runs member programs in process: levels and growth,
// points, coupons and coupon packs, benefits and achievements, member tasks,
// tags and profiles, and stored value, with every balance change kept in a
// double-entry ledger that reconciles to the cent.
//
// A host opens a [Program] on a store with a [Definition] (plain data that
// round-trips through JSON, so it can live in the host's back office), and
// feeds it events: an order paid, a check-in, a recharge. Each event is
// validated against its declared type and applied in one store transaction
// by every rule it triggers; the outcome says what changed and why. Work
// that falls due later (points expiry, level term ends, coupon expiry,
// freeze deadlines) is performed by [Program.Advance], which a [Scheduler]
// can call on a cron schedule; an event or request dated after a term
// end, a tag window's edge or an order's coupon hold that Advance has not
// reached yet performs it first (see [Program.Advance]). [Program.Quote] evaluates an event as
// Process would and writes nothing (what an order would earn, shown before
// it is placed). Each domain's operator calls and queries
// are on its handle: [Program.Points], [Program.Coupons], [Program.Levels],
// [Program.Benefits], [Program.Tasks], [Program.Tags], [Program.Value].
//
// # Packages
//
// The root package holds the Program, its options, the Definition and the
// composition of the parts; it holds no rule. Each domain package owns its
// rules end to end: definition, pure rules, the part that applies them to
// events and due work, its state, its operator calls and its queries.
//
//   - level: the level ladder, growth rules, terms and retention, downgrade
//     modes, freezes and paid plans.
//   - points: point programs, earning rules, pending points, lots and
//     expiry, refunds, risk control, redemption, approvals and exchange.
//   - coupon: templates, stock, claims, codes, checkout, stacking, packs and
//     statistics.
//   - benefit: benefits bound to levels and plans, and achievements.
//   - task: member tasks and their progress.
//   - tag: manual and automatic tags, segments and member profiles.
//   - value: stored value (a member's money balance).
//   - change: the Outcome of an event or request and the Changes it
//     publishes to the change feed.
//   - event: events, the declared event types, attribute conditions and
//     the errors every package shares.
//   - rule: building blocks shared by the rules: validity, periods and
//     caps, formulas, rounding, rewards and reasons.
//   - ledger: the double-entry journal with lots, statements, daily totals
//     per kind and Verify.
//   - export: the members' state and ledger statements as CSV, the change
//     feed as JSON lines, streamed; and the members' state as the file
//     package migrate imports back (Openings).
//   - webhook: delivery of the change feed to an HTTP endpoint, signed,
//     retried, in order per member, with stored dead letters.
//   - report: the program's figures per day or month (levels, points and
//     their liability, coupons, stored value, tasks), as Go values and CSV,
//     read from the daily totals the ledger and the domains keep.
//   - migrate: importing members with their opening state from another
//     system, from CSV or JSON lines ([Program.OpenMembers] applies them).
//   - whatif: what a changed definition would have done with the same
//     history, month by month, from the input journal ([WithJournal]).
//   - store: the storage contract, with store/memory, store/bolt (the
//     default: one bbolt file, group commit through a write-ahead log),
//     store/postgres (one PostgreSQL database that several instances
//     share) and the conformance suite store/storetest.
//
// The domain packages never import one another's parts. An internal engine
// owns the unit of work (the store transaction, idempotency, the outcome,
// ledger postings, the due index, the change feed); where one domain reads
// another (a coupon claim rule reads the member's level and tags, a task
// reward grants points), it asks the engine, which routes the question or
// the reward to the domain that owns it.
//
// # Guarantees
//
//   - One event, one transaction, once: the same event ID again returns the
//     first outcome with Duplicate set and changes nothing; the same ID with
//     other content is [ErrEventConflict]. That holds when a definition
//     version installed since would refuse the event (a type or attribute
//     dropped, a minimum or a scale raised): its retry still returns the
//     first outcome, where it was refused with [ErrInvalidEvent] before,
//     which a host reads as an event never applied. Every operator call takes a
//     request with a RequestID that behaves the same way, under a newer
//     version too: the retry of a level set, a tag added or removed, a
//     profile set, an achievement granted, a coupon claim, lock, use,
//     release, redemption or revocation, or an opening (OpenMember,
//     OpenMembers, migrate.Run run again) returns its first outcome where
//     the version in force would refuse the request before its unit of
//     work (the level, tag, attribute or achievement it names dropped, the
//     coupons' money scale lowered below an order line's places), where it
//     was refused with that domain's error before. The checks made inside
//     the unit of work (a template dropped, a claim limit lowered, an
//     approval threshold changed) came after the request's record, and
//     were answered so already. A request refused under one version is not
//     recorded, and is applied under a version that allows it. Records are kept
//     for the idempotency window ([Retention], 35 days by default); an
//     event or request older than it is refused with [ErrTooOld], never
//     applied twice.
//   - Invalid input changes nothing: an unknown event type, a missing,
//     mistyped or undeclared attribute, an attribute below the minimum its
//     declaration sets (event.Attr.Min: declare an order amount with a
//     minimum of 0 and a negative one is refused), a stored-value amount
//     that is not positive, a plan purchase naming no plan of the
//     definition (level.ErrUnknownPlan), or an overspend returns an error
//     that wraps a sentinel (test with errors.Is) and names the field. An
//     amount declared without a minimum may be negative: the library cannot
//     tell an order from an adjustment, so the declaration says which. An
//     argument a call cannot use — a nil writer ([Program.ExportAudit]), a
//     nil source store ([Program.Replay]), a cron spec that does not parse
//     ([Program.Schedule]), an empty feed consumer ([Program.Cursor],
//     [Program.SetCursor], [Program.DeleteCursor]) — is refused with [ErrInvalidArgument], naming
//     it, before anything is read or written; so are nil arguments in
//     export, report, migrate, whatif and webhook. A feed cursor past the
//     feed's head ([Program.SetCursor]) is refused with
//     [ErrInvalidArgument] too, naming "seq", and not stored; so is a
//     [Program.Feed] after a position past the head, naming "after" (the
//     head itself gives an empty page).
//   - The limits on input are the same on every store, and every store
//     holds what they allow (they are listed in one place, at
//     event.MaxIDBytes): IDs of up to 256 bytes, other strings of up to 1
//     KiB, lists of up to 256 items, all valid UTF-8 without NUL; times
//     in the years 1900 to 2099. Beyond them an event is refused with
//     [ErrInvalidEvent], a request or a query with [ErrInvalidArgument].
//     A query's period is a period: a To (or Until) before its From is
//     refused, naming "to".
//   - Paged queries follow one rule (event.PageSize): a limit of 0 means
//     the query's default page size, a limit above its maximum returns
//     pages of the maximum (the cursor goes on from there), and a negative
//     limit is refused with [ErrInvalidArgument] naming "limit". Default
//     and maximum: [Program.Feed] 1,000 and 10,000; [Program.Audit] and
//     [Program.Statement] (and points Statement) 50 and 1,000; level
//     History 100 and 1,000, level Forecast 1,000 and 10,000; points
//     Reviews 100 and 1,000; tag Segment 100 and 1,000, tag Recompute 500
//     and 1,000; webhook DeadLetters 100 and 1,000; whatif
//     Report.Members 100 and 1,000 (it has no error to return, so it reads
//     a negative limit as 0).
//   - An asset a ledger query names must be one the definition has:
//     [Program.Balance], [Program.Statement] and [Program.Totals] refuse a
//     point program it lacks with points.ErrUnknownProgram (and
//     [ErrInvalidArgument]), any other asset but growth and stored value
//     with [ErrInvalidArgument], naming "asset".
//   - Time is given, never taken: rules read the event's time, operator
//     calls the time in their request, and Advance the time it is given;
//     every day, week (from Monday), month and year boundary is in the
//     program's zone, and every time a call returns is in that zone. An
//     event or request dated after a member's term end, tag window edge
//     or order hold that Advance has not performed performs it first, at
//     its own instant, so that its result does not depend on when Advance
//     ran; pending points are released by Advance only (package points).
//   - Every committed change is appended, in the same transaction, to a
//     change feed that a host reads from a cursor ([Program.Feed]), so a
//     crash between commit and notification loses nothing.
//   - Balances are decimals and never go negative; [Program.Verify] checks
//     the ledger's invariants.
//   - Damaged data is an error wrapping [ErrCorrupt], never a panic nor a
//     misread: a stored record of any package that does not decode (an
//     event's, a request's, an audit entry, a coupon, a level, points,
//     tag, task, benefit or stored-value record, a ledger entry, a due
//     item), on every store, and the damage a store's own checks find
//     (store/bolt's checksums). So is a record that decodes but holds
//     what no writer writes: an enumeration's value that is none of its
//     values (a coupon's state, a review's state, a level's cause…), a
//     count that is not a whole number an int64 holds, or a negative one
//     where counting only adds (issued coupons, claims, completions).
//     store/memory and store/postgres keep no checksum, so a value edited
//     by hand or a partial migration is found only when it is read. The
//     call fails; the audit trail does
//     not record it as refused, and [Program.ReplayWith] stops there.
//
// # Audit and replay
//
// Every write a handle makes for a request is recorded in the audit trail
// with its operator, action, member, request ID, time and result, in the
// call's own transaction (a refusal in one of its own; a retry answered
// from the first outcome is not recorded again). A call naming an object
// rather than a member (a coupon's code, an order, a redemption, an
// adjustment) is filed under the object's member, a refusal too, or under
// none when the object does not exist. [Program.Audit] pages
// through it by operator, member and period, [Program.ExportAudit] writes
// it as CSV (its text cells protected against spreadsheet formulas, as
// package export's are). With [WithJournal] (off by default) every
// accepted input is also kept in processing order (on store/postgres per
// member, each member's inputs in the order they committed, merged by
// time when read), and [Program.Replay] applies that journal to an empty
// store under the same definition, reproducing the same state (the audit
// trail's refusals aside; on store/postgres, an event processed after an
// Advance to its time may replay before it, which Replay reports as
// [ErrReplayDiverged] when that Advance's page then posts or publishes
// something else: see [WithJournal]).
// [Program.ReplayWith] applies a part of it, or replays it under a changed
// definition, recording the inputs the changed program refuses: package
// whatif builds on it to report, month by month, what a changed program
// would have done with the same history. [Program.Audit] and [WithJournal] say what is
// recorded and what is not.
//
// # Migration and erasure
//
// [Program.OpenMember] sets a new member's opening state (package migrate
// streams a file of them through [Program.OpenMembers]): each row an
// idempotent, audited request, its balances ledger entries of kind
// [KindOpening]. [Program.Erase] removes a member's personal data (profile
// attributes, operator notes), keeps every amount, and refuses the
// member's later events and calls with [ErrErased]; its doc lists what is
// removed, what is kept and why.
//
// # Shutting down
//
// A Program has no Close: it holds no goroutine, file or connection of its
// own; the store holds everything. Stop what calls it, then close the
// store. Stop a [Scheduler] and wait for the context [Scheduler.Stop]
// returns, which is done once a running Advance has returned (Stop does not
// cancel it: cancel the context given to Schedule to cut it short; what its
// pages committed stays, the rest stays due). Cancel the context of a
// webhook Deliverer's Run and wait for Run to return. Let running calls
// return, then close the store and check its error: store/bolt's Close
// commits the queued writes, folds its log into the file and removes it,
// and when that fails keeps the log for the next Open to replay. A call
// made after the store is closed returns an error wrapping store.ErrClosed
// and changes nothing.
//
// # Caveats
//
// Events and operator requests take effect as of the time they carry, in
// the order they are processed; the library does not reorder them. A host
// should feed each member's events in time order: a request whose time is
// earlier than what was already processed for the member is applied as if
// it happened after it (spending can only use lots that exist when it is
// processed).
//
// Several Programs share a store only where the store runs concurrent
// writers (store/postgres); store/memory and store/bolt belong to one
// process. The store records the definition in force: a Program opened with
// a newer Definition.Version replaces it, and the Programs still running an
// older one refuse to write. Definitions may change between opens: state
// written under an old definition is read under the new one, so Open
// refuses one that leaves out a level or plan members hold, a point program
// with postings, a coupon template or pack that was issued, or stored value
// while the store holds some, or that lowers stored value's or a point
// program's scale below the decimal places of an amount a member holds
// (ErrDefinitionInUse, naming each); a tag
// members hold may go, and can be cleared (package tag).
package membership
