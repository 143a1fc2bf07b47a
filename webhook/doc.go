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
// feed position, so they survive a restart, and there too, in the bucket
// "webhook.lease.<name>", the lease that lets one Deliverer of a name
// send at a time. The package imports no domain package and the root
// package does not import it.
//
// # Requests
//
// Each change is one POST whose body is a [Delivery]: the delivery ID and
// the change as the feed has it (kind, member, time, payload, reason, and
// its feed position in seq). The headers are:
//
//   - Membership-Delivery: the delivery ID (see [DeliveryID] and "Delivery
//     IDs" below), made of the consumer name, the feed position and a
//     digest of the change, so it is the same in every attempt, after a
//     restart and in a replay, and differs from change to change.
//   - Membership-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
//     "<t>.<body>" under the secret>", the scheme Stripe documents (see
//     [Sign]), with one v1 more for each secret of WithExtraSecrets; the
//     receiver checks it with [Verify], which accepts any v1 that matches.
//   - Membership-Attempt: the attempt's number, for logs only (unsigned).
//
// Any 2xx acknowledges the change, whatever its body (which is read up to
// 64 KiB and dropped, even when it breaks off). Anything else — another
// status, a redirect, a refused or dropped connection, no status within
// the timeout — is a failed attempt.
//
// # Delivery IDs
//
// A delivery ID is "<consumer>-<seq>-<change>": the first 16 hex digits
// of the SHA-256 of the consumer name, the change's feed position in
// decimal, and the first 16 hex digits of the SHA-256 of the change's
// JSON (the body's "change") with its time in UTC; 54 characters at
// most. A receiver treats it as opaque: it keeps the IDs it has acted on
// and compares a request's with them, and does not take it apart (a
// release that changes the form says so in CHANGES.md).
//
// The position alone does not name a change. A store restored from a
// backup gives the positions of the history it lost to new changes, and
// two programs sending to one receiver under one consumer name share
// positions: with the consumer and the position alone those changes went
// out under IDs the receiver had acted on, and it dropped them as
// repeats. The change's digest tells them apart. It is the simplest
// marker that is deterministic: the change, read again from the feed
// after a restart or a takeover, encodes to the same bytes, so each
// attempt of it carries the same ID, while two different changes at one
// position differ in their kind, member, time, event, payload or reason,
// and so in their digest (two sharing its 64 bits by chance is a 2⁻⁶⁴
// event). Two changes equal in all of these are one fact to the
// receiver, and share an ID. Other markers fall short: a random one or a
// counter would have to be stored with each change to survive a restart,
// and the change's time or event alone repeats (a clock given, an event
// with several changes). The time is turned to UTC first: the feed gives
// it in the program's zone, whose offsets a time zone database update may
// move; the instant is the change's, its offset is not.
//
// A dead letter keeps the ID its change was first sent with, and Replay
// sends that one. A dead letter stored by a release before the digest
// joined the ID holds "<consumer>-<seq>" and keeps it, and so does its
// change when the Deliverer sends it again from the feed (the old release
// stopped before its cursor passed it). A change the old release had sent
// but not yet passed with the cursor, and not dead-lettered, goes out
// again under the new form: a host that lets Flush return (or Run reach
// the feed's head) before it stops the old release sends none that way.
//
// # Guarantees
//
//   - At least once: a change is sent until a 2xx answers or the attempts
//     are spent (it is then a dead letter), and the cursor moves only
//     over changes that are one or the other. A crash or a stop sends
//     again what the cursor had not passed, and so does a takeover of the
//     name (see "One Deliverer per name"), with the same delivery IDs: a
//     receiver keeps the IDs it has acted on and drops repeats. A change
//     sent again that way after it was dead-lettered is no longer a dead
//     letter once a 2xx answers it.
//   - Order per member: a member's changes are sent one at a time in feed
//     order, the next only once the one before is acknowledged or
//     dead-lettered. Different members' changes are sent in parallel
//     (WithParallel lanes, at most MaxParallel), so their relative order
//     is not kept; changes without a member share one lane. A replayed
//     dead letter arrives after the member's later changes; the receiver
//     compares positions (change.seq) where that matters.
//   - Backoff: after failed attempt n the deliverer waits base·2^(n-1),
//     at most max, jittered down by up to half, so deliverers that failed
//     together do not retry together. An answer 429 (Too Many Requests)
//     or 503 (Service Unavailable) with a Retry-After header, in seconds
//     or an HTTP-date (RFC 9110 §10.2.3), sets the wait instead: what it
//     asks for, from the clock of WithClock (none for a date past), at
//     most max, so that a header asking for days does not hold up the
//     member's lane, and the batch, that long. A header of neither form
//     leaves the backoff.
//
// The feed is read a batch at a time (WithBatch). A batch's lanes run in
// parallel and the next batch starts when all are done, when the cursor
// moves over the batch: a member whose changes are being retried holds up
// the others' next batch for as long as its retries take (at most the
// sum of the backoffs). That keeps the cursor one number, as the feed
// stores it; a host that needs members isolated from each other's
// failures runs a lower attempts count, and replays dead letters.
//
// # One Deliverer per name
//
// Each instance of an application may start the Deliverer of a consumer
// name: a lease lets one of them send at a time. It is one record in the
// store given to New, holding the token of its holder (random, one per
// Deliverer) and when its hold ends, by the holder's clock (WithClock).
// Run and Flush take it, in a transaction of that store, before they read
// the feed: when no one holds it or the hold has ended. The store's
// Updates are serializable (store/postgres runs again the one that lost
// a conflict), so of two instances taking it at once one is the holder
// and the other finds it held. The holder keeps it as it goes: before
// each batch, each attempt and each wait (a backoff between attempts, a
// poll, Run's backoff after the feed or the store failed) it makes
// sure the hold covers what it starts and half a lease after, writing it
// only when it would not, and before each move of the cursor it reads
// the lease in the store and renews it for the attempt timeout and a
// lease. A stop (Run's ctx cancelled) and the end of a Flush release it.
// Meanwhile another Deliverer of the name polls for it (Run, at the poll
// interval, through WithWait) or returns an error wrapping ErrBusy
// (Flush); it takes over once the lease is released or, when the holder
// died, once its hold has ended: a lease (WithLease, 30s by default)
// after the span the holder last announced. The instances must give New
// the store they share (the program's, on PostgreSQL): Deliverers on
// stores of their own (a bolt file each) do not see each other's lease.
//
// What the lease leaves possible: the cursor is the feed's, written
// through Feed.SetCursor, which cannot join the lease's transaction (it
// may be in another store). A holder that stops renewing its lease for a
// lease's time (a process paused, cut off from the store, or a clock
// behind the others' by that much) may be taken over. When it finds out
// it stops before it moves the cursor again: its Run polls for the lease
// anew, its Flush returns an error wrapping ErrBusy. Until then both
// send: the attempts it had under way and, if its clock is behind, those
// it starts before its next cursor move, where it reads the lease in the
// store. And a cursor write delayed past the renewal just before it, by
// more than the attempt timeout and a lease (a process paused between the
// two, a store that slow), lands after the new holder's writes: the
// cursor moves back, and the new holder sends the changes in between
// again. The cursor never skips a change: whoever writes it, each change
// up to it was acknowledged or dead-lettered. So delivery is at least
// once, whatever happens, and repeats carry the same delivery IDs.
//
// # Erasure
//
// A dead letter holds its change as the feed had it: the member's
// personal data too, an operator's note say. When a member is erased
// (membership.Program.Erase), its change, of kind change.MemberErased,
// reaches the Deliverer in the member's lane, after the member's earlier
// changes; once it is delivered or dead-lettered, the Deliverer drops the
// member's dead letters before it (the receiver erases the member on that
// change, so it has no use for them) and logs how many at Info. The
// erasure's own dead letter, which holds no personal data, is kept. The
// cursor passes the erasure only once they are gone: a store that fails
// meanwhile makes the Deliverer send the erasure again, and drop them then.
// A Deliverer not run again after an erasure keeps them: a host that
// retires a consumer name discards its dead letters, and deletes its
// cursor (membership.Program.DeleteCursor), which retention would
// otherwise wait for.
//
// # Time
//
// Time is given: the clock (WithClock) stamps signatures and dead letters
// and dates the lease, and the waits — between attempts and between polls
// of an empty feed — go through WithWait, so tests run backoffs without
// sleeping. Only the timeout of one attempt (WithTimeout), which bounds
// real I/O, runs on real timers; it also bounds how long a stopped
// Deliverer waits for the store to take the cursor over what it delivered,
// and to release the lease.
//
// # Rotating the secret
//
// A Deliverer signs each attempt when it sends it (retries included),
// under the secret given to New and each of WithExtraSecrets, one v1
// signature each, and Verify accepts a header where any of them matches.
// So a secret changes without a refused delivery, and without the
// receiver trying two secrets:
//
//  1. The host restarts its Deliverers (every instance) with the new
//     secret given to New and the old one in WithExtraSecrets: every
//     request now verifies under either.
//  2. The receiver switches to the new secret.
//  3. The host restarts its Deliverers without WithExtraSecrets.
//
// A receiver that cannot wait for the host may instead Verify with the
// new secret and, on ErrSignatureMismatch, with the old one, until the
// last request signed with the old one only is older than the tolerance.
//
// # Caveats
//
// The lease is only as good as the clocks that date it: keep the
// instances' clocks within a small part of the lease (NTP does). Replay
// and Discard take no lease: an operator's replay may run beside a
// Deliverer, and two replays of one dead letter at once send it twice. A
// dead letter discarded, or dropped by its member's erasure, while a
// replay of it is under way stays gone: a replay that fails does not
// write it back (its error wraps ErrNoDeadLetter besides ErrUndelivered).
// Counts (Stats) are kept in memory and start at zero in each process;
// a change counts as delivered or dead when the cursor moves over it,
// once, however often it was sent.
//
// # Operating
//
// The host starts [Deliverer.Run] in a goroutine and stops it by
// cancelling its context; [Deliverer.Flush] sends what is in the feed and
// returns, for a host that drives delivery itself. [Deliverer.Stats]
// returns the counts (delivered, retried, dead, replayed);
// [Deliverer.DeadLetters] pages the dead letters, [Deliverer.Replay] sends
// one again and [Deliverer.Discard] drops one. Logs go to the
// *slog.Logger of WithLogger; taking the lease is logged at Info, losing
// it to a takeover at Warn. A failed attempt's error, logged and kept in
// its dead letter, names the endpoint by its scheme and host alone: an
// endpoint's path or query may hold a token (Slack's webhook URLs), which
// Go's own error text shows (it masks a password only). The error is
// still the client's *url.Error over the transport's, for errors.Is and
// errors.As.
//
// [New] refuses what it cannot use — a nil feed or store, a name that is
// not an ID, an endpoint that is not http or https, a short secret, an
// option given nil (WithClient(nil)) or out of range (WithParallel above
// [MaxParallel]), a nil Option — with an error wrapping
// [ErrInvalidArgument] that names the argument or the option.
package webhook
