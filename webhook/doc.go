// Package webhook delivers a program's change feed to an HTTP endpoint:
// each change is POSTed as JSON, signed, retried with backoff, and, when
// the endpoint never takes it, kept as a dead letter an operator lists,
// replays or discards. It also holds Verify, which a receiver calls on
// every request.
//
// A [Deliverer] reads the feed through the small interface [Feed], which
// *membership.Program satisfies (Program.Feed, Program.Cursor and
// Program.SetCursor), under a consumer name of its own: several
// deliverers, to several endpoints, read one feed each with its cursor.
// It keeps its dead letters in a store.Store given to New — the program's
// own store or another — in the bucket "webhook.dead.<name>", keyed by
// feed position, so they survive a restart. The package imports no
// domain package and the root package does not import it.
//
// # Requests
//
// Each change is one POST whose body is a [Delivery]: the delivery ID and
// the change as the feed has it (kind, member, time, payload, reason, and
// its feed position in seq). The headers are:
//
//   - Membership-Delivery: the delivery ID (see [DeliveryID]), derived from
//     the consumer name and the feed position, so it is the same in every
//     attempt, after a restart and in a replay.
//   - Membership-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
//     "<t>.<body>" under the secret>", the scheme Stripe documents (see
//     [Sign]); the receiver checks it with [Verify].
//   - Membership-Attempt: the attempt's number, for logs only (unsigned).
//
// Any 2xx acknowledges the change, whatever its body (which is read up to
// 64 KiB and dropped, even when it breaks off). Anything else — another
// status, a redirect, a refused or dropped connection, no status within
// the timeout — is a failed attempt.
//
// # Guarantees
//
//   - At least once: a change is sent until a 2xx answers or the attempts
//     are spent (it is then a dead letter), and the cursor moves only
//     over changes that are one or the other. A crash or a stop sends
//     again what the cursor had not passed, with the same delivery IDs:
//     a receiver keeps the IDs it has acted on and drops repeats.
//   - Order per member: a member's changes are sent one at a time in feed
//     order, the next only once the one before is acknowledged or
//     dead-lettered. Different members' changes are sent in parallel
//     (WithParallel lanes, at most MaxParallel), so their relative order
//     is not kept; changes without a member share one lane. A replayed
//     dead letter arrives after the member's later changes; the receiver
//     compares positions (change.seq) where that matters.
//   - Backoff: after failed attempt n the deliverer waits base·2^(n-1),
//     at most max, jittered down by up to half, so deliverers that failed
//     together do not retry together.
//
// The feed is read a batch at a time (WithBatch). A batch's lanes run in
// parallel and the next batch starts when all are done, when the cursor
// moves over the batch: a member whose changes are being retried holds up
// the others' next batch for as long as its retries take (at most the
// sum of the backoffs). That keeps the cursor one number, as the feed
// stores it; a host that needs members isolated from each other's
// failures runs a lower attempts count, and replays dead letters.
//
// # Time
//
// Time is given: the clock (WithClock) stamps signatures and dead letters,
// and the waits — between attempts and between polls of an empty feed —
// go through WithWait, so tests run backoffs without sleeping. Only the
// timeout of one attempt (WithTimeout), which bounds real I/O, runs on
// real timers; it also bounds how long a stopped Deliverer waits for the
// store to take the cursor over what it delivered.
//
// # Rotating the secret
//
// A Deliverer signs with one secret. To change it without refusing a
// delivery, the receiver first accepts both: Verify with the new secret
// and, on ErrSignatureMismatch, with the old one. The host then restarts
// its Deliverer with the new secret (every attempt is signed when it is
// sent, retries included), and once the last request signed with the old
// one is older than the tolerance, the receiver drops the old secret.
//
// # Caveats
//
// Run one Deliverer per consumer name at a time, across processes too: two
// would send the same changes and race on the cursor (a Deliverer refuses
// a second Run or Flush of its own with ErrBusy, but cannot see another
// process's). Counts (Stats) are kept in memory and start at zero in each
// process.
//
// # Operating
//
// The host starts [Deliverer.Run] in a goroutine and stops it by
// cancelling its context; [Deliverer.Flush] sends what is in the feed and
// returns, for a host that drives delivery itself. [Deliverer.Stats]
// returns the counts (delivered, retried, dead, replayed);
// [Deliverer.DeadLetters] pages the dead letters, [Deliverer.Replay] sends
// one again and [Deliverer.Discard] drops one. Logs go to the
// *slog.Logger of WithLogger.
//
// [New] refuses what it cannot use — a nil feed or store, a name that is
// not an ID, an endpoint that is not http or https, a short secret, an
// option given nil (WithClient(nil)) or out of range (WithParallel above
// [MaxParallel]) — with an error wrapping [ErrInvalidArgument] that names
// the argument or the option.
package webhook
