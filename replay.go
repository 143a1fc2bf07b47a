package membership

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/counterpart"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store"
)

// ErrReplayDiverged is returned by Replay when an input did not do on the
// target what it did on the source (refused, found applied already, an
// event or request that posted or published something else, a page of due
// work of another size or whose items posted or published something else,
// random bytes left over or missing): the target was not empty, or its
// definition, library version or clock-free inputs differ, or the inputs
// of a per-member journal ran in another order (see WithJournal).
var ErrReplayDiverged = engine.ErrReplayDiverged

// WithJournal turns the input journal on (see Replay); it is off by
// default.
//
// The input journal (WithJournal) keeps every input a Program accepted:
// each event, each request a handle applied (its action and request as
// JSON), each page of due work Advance performed (the time it ran to),
// each page of a tag recompute, and the random bytes each drew (coupon
// codes). Duplicates and refused inputs change nothing and are not kept.
// Replay applies a journal to another store and reproduces the same state:
// balances, levels, coupons (codes included), tags, ledger totals, and the
// audit trail's accepted calls; the refused calls the source's audit trail
// records (Program.Audit) are not in the journal, nor in the replay's trail.
//
// On the stores that run updates one at a time (store/memory, store/bolt)
// the journal is one global sequence, in the order the inputs committed,
// and a replay is exact. On a store that runs them concurrently
// (store/postgres, several instances) one sequence would be a key every
// writer conflicts on, so the journal is kept per member: a member's
// inputs (its events, and the requests that name or find it) are numbered
// by the member's own ledger counter, in the order they committed, and an
// event writes no journal key another member's event writes. Inputs that
// name no member (a page of Advance, a tag recompute, a bulk request) are
// kept by their time (the last, empty page of an Advance call after the
// other inputs of its time), then in the order the instance that made
// them made them. A replay merges these journals in time order (the time
// the input carries; at equal times a member's input before one naming
// none, members in the order of their IDs), keeping each member's own
// order, and performs consecutive pages of due work of one time together
// (Advance on several instances at once: one performs the items, the
// others find none), checking that they perform as many items in all. It
// does not reproduce the order in which inputs of different members
// committed: two members competing for the last coupons of a stock at the
// same time, or an Advance that ran before a late event was processed
// (one dated at or before the time Advance ran to), replay the other way
// round. Where that changes what an input does (an input refused, an
// event or request posting or publishing something else, a page of due
// work performing another number of items or doing something else with
// them, random bytes left over or missing), Replay returns
// ErrReplayDiverged naming it (ReplayWith under ReplayOptions.Changed
// records a refused input as a refusal and goes on, and compares neither
// the pages' items nor what any input did). Each input's record keeps a
// digest of what it did: the ledger entries it posted (account, kind,
// amount) and the changes it published (kind, member), for a page of due
// work summed over its items so that the order they ran in, and the
// instance that performed them, do not count. A late event's points that
// the source's Advance left for its next call (they were earned after it)
// are expired by that Advance's page in the replay, as many items but
// another amount: the page's digest differs and Replay returns
// ErrReplayDiverged (it used to end with fewer points and no error). A
// late event that gives back a windowed tag the source's page had taken
// finds it still held in the replay, where it runs before the page, and
// publishes nothing: its own digest differs, and Replay returns
// ErrReplayDiverged naming its sequence number, the event and its member
// (it used to end without the tag and no error, the page doing the same
// either way); a request or an update (a tag recompute) is compared so
// too, and named by its action and, where its request has them, its ID
// and member. A journal written before pages kept a digest replays
// without the pages' check, and one written before events, requests and
// updates kept one (records of version 2) without theirs. Feed each
// member's events in time order and Advance only to a time whose events
// are all processed, and the merged order does what the committed one
// did. Reading a per-member journal
// holds it whole in memory, and its sequence numbers are places in the
// merged order: ReplayOptions.After and Through continue a replay of a
// journal that no input was added to since.
//
// The journal grows with the history: every input is kept in full, for
// ever (about the size of the event records, which are kept for ever too
// to answer retries). The library deletes nothing from it; a journal
// missing its start cannot be replayed into an empty store, so keep it
// whole, or leave it off (the default: Replay and package whatif then
// refuse the store as a source, ErrInvalidArgument). Turned on for a store that
// already has a history, it holds the inputs from then on only, and a
// replay of it does not reproduce that store.
func WithJournal() Option { return func(p *Program) { p.journal = true } }

// replayer re-applies one journaled request: it decodes the request and
// makes the handle's call.
type replayer func(ctx context.Context, body []byte) error

// call returns the replayer of a handle call taking a request of type R.
func call[R, O any](f func(context.Context, R) (O, error)) replayer {
	return func(ctx context.Context, body []byte) error {
		var r R
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("%w: request: %v", engine.ErrCorrupt, err)
		}
		_, err := f(ctx, r)
		return err
	}
}

// replayers maps each action a handle journals to its replayer; Open
// builds it once the handles exist.
func (p *Program) replayers() map[string]replayer {
	pts, cps, tgs := p.Points(), p.Coupons(), p.Tags()
	return map[string]replayer{
		"points.redeem":             call(pts.Redeem),
		"points.reverse":            call(pts.Reverse),
		"points.adjust":             call(pts.Adjust),
		"points.approve":            call(pts.Approve),
		"points.reject":             call(pts.Reject),
		"points.restore":            call(pts.Restore),
		"points.void":               call(pts.Void),
		"points.exchange":           call(pts.Exchange),
		"coupon.claim":              call(cps.Claim),
		"coupon.issue":              call(cps.Claim), // one member of a bulk issue (Method Operator)
		"coupon.claim_pack":         call(cps.ClaimPack),
		"coupon.issue_pack":         call(cps.ClaimPack),
		"coupon.lock":               call(cps.Lock),
		"coupon.use":                call(cps.Use),
		"coupon.release":            call(cps.Release),
		"coupon.redeem":             call(cps.Redeem),
		"coupon.revoke":             call(cps.Revoke),
		"level.set":                 call(p.Levels().Set),
		"level.grant_owed":          call(p.Levels().GrantOwed),
		"benefit.grant_achievement": call(p.Benefits().GrantAchievement),
		"tag.add":                   call(tgs.Add),
		"tag.remove":                call(tgs.Remove),
		"tag.set_profile":           call(tgs.SetProfile),
		"tag.recompute":             call(tgs.Recompute),
		"member.erase":              call(p.Erase),
		"member.open":               call(p.OpenMember),
	}
}

// ReplayProgress is called by Replay after each input it applied, with
// the inputs done (the sequence number reached) and the journal's length;
// consecutive events are applied in batches, and it is called once after
// each batch, with the batch's last.
type ReplayProgress func(done, total uint64)

// replayBatch is how many consecutive events Replay applies in one
// transaction (ProcessBatch): the journal keeps them in order, and a
// batch applies them in order.
const replayBatch = 256

// Replay applies the input journal of from, a store a Program with
// WithJournal ran on, to p, in the journal's order, and returns how many
// inputs it applied. p must run the definition from runs (the same version
// and content: else ErrDefinitionConflict) on an empty store (no event,
// request, journal or Advance yet: else ErrInvalidArgument), and nothing
// else may use p until Replay returns. Events are applied in batches,
// requests through their handle calls, due work page for page as Advance
// performed it, each drawing the random bytes it drew on from: p's state
// ends as from's (balances, lots, levels, coupons and their codes, tags,
// ledger totals, the audit trail's accepted calls; the feed's positions may
// differ, and the trail's refusals are not replayed; from a per-member
// journal (store/postgres), whose records take numbers from each member's
// ledger counter, the ledger entries' sequence and transaction numbers and
// the lots' IDs differ too). An input that does not do on p what it did on
// from returns an error wrapping ErrReplayDiverged and naming its sequence
// number; inputs before it stay applied. An event or request that posted
// or published something else than its record says it did on from is
// named by its ID and member too; it was applied (differently), and so
// were the other events of its batch, which count as applied
// (ReplayResult.Applied and Last). An input p holds already (a
// ReplayWith After an input p's store went past) is one: an event found
// applied, and a request answered from its record (Duplicate), which
// applies nothing (a request used to count as applied then). A journal
// record that does not decode or is missing (on store/memory and
// store/bolt, whose journal is one numbered sequence), a source's
// definition record that is not one a program writes (it read as another
// definition, ErrDefinitionConflict), and damage the store's own checks
// find (store/bolt's checksums), wrap ErrCorrupt (store.ErrCorrupt); the records
// carry no checksum of their own, so a record changed into another that
// decodes (through the store's API, or on a store without checksums) is
// replayed as it reads: its input then diverges, is refused, or draws other
// random bytes (another coupon code). A nil from wraps ErrInvalidArgument,
// and so does a from that holds a history but no journal (its program ran
// without WithJournal), rather than replaying nothing: nothing is written
// then. progress, when not nil, is called after each input (see
// ReplayProgress). ReplayWith
// replays a part of the journal, or under a changed definition.
//
// Replay runs no retention pass (package whatif reads the whole feed of a
// replay): the event records and the feed changes that the source's
// Advance pruned are on p until p's first Advance prunes them, an erased
// member's notes in the feed among them. A host that restores a store
// from a journal calls Advance once the replay is done.
func (p *Program) Replay(ctx context.Context, from store.Store, progress ReplayProgress) (uint64, error) {
	res, err := p.ReplayWith(ctx, from, ReplayOptions{Progress: progress})
	return res.Applied, err
}

// ErrNoCounterpart is wrapped by the refusal (ReplayRefusal.Err) of a
// journaled request naming a coupon the program replaying under a changed
// definition holds no counterpart of (see ReplayOptions.Changed).
var ErrNoCounterpart = counterpart.ErrNone

// ReplayOptions says which part of a journal ReplayWith applies, and
// how. The zero value applies all of it as Replay does.
type ReplayOptions struct {
	// Progress, when not nil, is called after each input (once after
	// each batch of consecutive events) with the sequence number reached
	// and the journal's length.
	Progress ReplayProgress
	// After, when not zero, continues a replay that stopped after the
	// input of that sequence number (ReplayResult.Last): p's store must
	// hold what that replay wrote, and is not checked to be empty (an
	// input it holds already, event or request, is ErrReplayDiverged).
	// An After beyond the journal's length wraps ErrInvalidArgument.
	After uint64
	// Until, when not zero, stops the replay before the first input whose
	// time is at or after Until (inputs after it that are older are left
	// for a later ReplayWith).
	Until time.Time
	// Through, when not zero, stops the replay after the input of that
	// sequence number: a replay of a journal that is still growing (a
	// live program's) ends where the caller read its length. A Through
	// before After wraps ErrInvalidArgument.
	Through uint64
	// Changed replays the journal under p's definition although the
	// source ran another (a what-if): p's definition is not compared
	// with the source's, an input p refuses is recorded in
	// ReplayResult.Refused and the replay goes on, and what an input did
	// is not compared with what it did on the source (neither a page's
	// items nor any input's digest: under another definition inputs are
	// meant to do otherwise, and such a difference is neither an error
	// nor a refusal). Each event is applied
	// alone (a refused one takes no other with it); each page of due work
	// the source performed performs one page on p, and the last page of
	// an Advance call performs all that p has due by then; every input
	// draws the random bytes it drew on the source first, then p's own
	// source (WithRand), so coupons issued alike get the same codes. A
	// request naming a coupon (a lock, a redemption by code, a
	// revocation) names the source's: it is given the coupon of p's
	// store at the same place, the same member's k-th coupon of the same
	// template, read from from's coupons; when p holds no such coupon yet
	// the request is refused with ErrNoCounterpart. The host's decisions
	// stay as the journal has them: an order that used a coupon or paid
	// with points the changed program never granted is refused, and a
	// coupon only the changed program issued is never used.
	Changed bool
}

// ReplayResult says what ReplayWith did.
type ReplayResult struct {
	// Applied is how many inputs were applied (refused ones not counted).
	Applied uint64
	// Last is the sequence number of the last input taken, applied or
	// refused (After when none): a later ReplayWith continues after it.
	Last uint64
	// Refused lists the inputs refused under a changed definition, in
	// the journal's order.
	Refused []ReplayRefusal
}

// ReplayRefusal is an input a replay under a changed definition refused.
type ReplayRefusal struct {
	// Seq is the input's place in the journal; At its time, in the
	// program's zone.
	Seq uint64
	At  time.Time
	// Action is "event" for an event, else the request's action
	// ("points.redeem", "coupon.lock").
	Action string
	// ID is the event's ID or the request's RequestID; Member the member
	// it names, when it names one.
	ID, Member string
	// Err is the refusal: what p returned, or ErrNoCounterpart.
	Err error
}

// errUntil stops the journal's scan at ReplayOptions.Until or Through.
var errUntil = errors.New("until")

// ReplayWith applies the input journal of from to p as Replay does, from
// after o.After up to o.Until and o.Through, and, with o.Changed, under a definition
// other than the one from ran (see ReplayOptions). Nothing else may use p
// until it returns. Errors are Replay's; under o.Changed an input p
// refuses is no error (ReplayResult.Refused), while a page of due work
// that fails, a damaged journal, a store that fails (closed, damaged, or
// giving up after conflicts: store.ErrClosed, store.ErrCorrupt,
// store.ErrConflict), a superseded definition or ctx's end are.
func (p *Program) ReplayWith(ctx context.Context, from store.Store, o ReplayOptions) (ReplayResult, error) {
	res := ReplayResult{Last: o.After}
	fail := func(err error) (ReplayResult, error) { return res, fmt.Errorf("membership: replay: %w", err) }
	if from == nil {
		return fail(fmt.Errorf("%w: from: nil store", ErrInvalidArgument))
	}
	if o.Through > 0 && o.Through < o.After {
		return fail(fmt.Errorf("%w: through: input %d is before after, %d", ErrInvalidArgument, o.Through, o.After))
	}
	mine := p.eng.Definition()
	if !o.Changed {
		src, err := engine.DefinitionRecord(ctx, from)
		if err != nil {
			return fail(err)
		}
		if !bytes.Equal(src, mine) {
			return fail(fmt.Errorf("%w: the source runs another definition than this program's", ErrDefinitionConflict))
		}
	}
	version := binary.BigEndian.Uint64(mine[:8])
	if o.After == 0 {
		if used, err := engine.Used(ctx, p.eng.Store()); err != nil {
			return fail(err)
		} else if used {
			return fail(fmt.Errorf("%w: the target store is not empty", ErrInvalidArgument))
		}
	}
	total, err := engine.JournalLength(ctx, from)
	if err != nil {
		return fail(err)
	}
	if o.After > total {
		// A Last of another journal: nothing of this one follows it.
		return fail(fmt.Errorf("%w: after: input %d is beyond the journal's %d", ErrInvalidArgument, o.After, total))
	}
	if total == 0 {
		// A program that ran without WithJournal left a history and no
		// journal: replaying nothing would look like a replay of it.
		if used, err := engine.Used(ctx, from); err != nil {
			return fail(err)
		} else if used {
			return fail(fmt.Errorf("%w: from: the source store holds no input journal (its program ran without WithJournal)", ErrInvalidArgument))
		}
	}
	_, split := from.(store.Striper)
	r := replay{p: p, ops: p.replay, progress: progress(o.Progress), total: total, res: &res, split: split}
	if o.Changed && p.def.Coupons != nil {
		r.coupons = counterpart.New(coupon.New(engine.New(from, p.loc, engine.Options{}), p.def.Coupons), p.Coupons())
	}
	err = engine.Journal(ctx, from, o.After, 0, func(in engine.Input) error {
		if (!o.Until.IsZero() && !in.At.Before(o.Until)) || (o.Through > 0 && in.Seq > o.Through) {
			return errUntil
		}
		if o.Changed {
			return r.changed(ctx, in)
		}
		if in.Version != version {
			return fmt.Errorf("input %d: %w: it ran under definition version %d, this program runs %d", in.Seq, ErrDefinitionConflict, in.Version, version)
		}
		if r.split && in.Kind == engine.InputAdvance {
			if len(r.adv) > 0 && !r.adv[0].At.Equal(in.At) {
				if err := r.advances(ctx); err != nil {
					return err
				}
			}
			if err := r.flush(ctx); err != nil {
				return err
			}
			r.adv = append(r.adv, in)
			return nil
		}
		if err := r.advances(ctx); err != nil {
			return err
		}
		if in.Kind == engine.InputEvent {
			r.evs = append(r.evs, in.Event)
			r.ins = append(r.ins, in)
			r.rnd = append(r.rnd, in.Rand...)
			r.last = in.Seq
			if len(r.evs) == replayBatch {
				return r.flush(ctx)
			}
			return nil
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		return r.apply(ctx, in)
	})
	if err == nil || errors.Is(err, errUntil) {
		err = errors.Join(r.advances(ctx), r.flush(ctx)) // at most one of them waits
	}
	if err != nil {
		return fail(err)
	}
	return res, nil
}

func progress(f ReplayProgress) ReplayProgress {
	if f == nil {
		return func(uint64, uint64) {}
	}
	return f
}

// replay is one Replay's state: the events waiting for their batch.
type replay struct {
	p        *Program
	ops      map[string]replayer
	progress ReplayProgress
	total    uint64
	res      *ReplayResult
	evs      []event.Event
	ins      []engine.Input // the journal records of evs
	rnd      []byte
	last     uint64                  // the sequence number of the last event waiting
	split    bool                    // the journal is per member (the source is a store.Striper)
	adv      []engine.Input          // its pages of due work of one time waiting (advances)
	coupons  *counterpart.Translator // under a changed definition, when p has coupons
}

// step counts n inputs applied, up to the input of sequence number seq.
func (r *replay) step(n, seq uint64) {
	r.res.Applied += n
	r.res.Last = seq
	r.progress(seq, r.total)
}

// flush applies the events waiting, in one batch.
func (r *replay) flush(ctx context.Context) error {
	if len(r.evs) == 0 {
		return nil
	}
	done := r.p.eng.Replaying(r.rnd)
	outs, err := r.p.ProcessBatch(ctx, r.evs)
	did, derr := done()
	err = errors.Join(err, derr)
	for i := 0; err == nil && i < len(outs); i++ {
		if outs[i].Duplicate {
			err = fmt.Errorf("%w: event %q applied twice", ErrReplayDiverged, r.evs[i].ID)
		}
	}
	if err != nil {
		return fmt.Errorf("inputs %d to %d: %w", r.last+1-uint64(len(r.evs)), r.last, diverged(err))
	}
	// The batch is committed: its events count as applied, also one that
	// did something else than on the source, which stops the replay.
	r.step(uint64(len(r.evs)), r.last)
	for _, in := range r.ins {
		if err := didDiverge(in, did); err != nil {
			return fmt.Errorf("input %d (%s): %w", in.Seq, inputName(in, r.p.loc), err)
		}
	}
	r.evs, r.ins, r.rnd = r.evs[:0], r.ins[:0], r.rnd[:0]
	return nil
}

// didDiverge compares what an event, request or update did on p (did)
// with what its journal record says it did on the source, when the record
// keeps it (version 3 on): an event that earned another amount, or
// published another change, because an input of another member's journal
// ran before it on the source and after it here (or p's code does
// otherwise), diverged.
func didDiverge(in engine.Input, did engine.Replayed) error {
	if !in.Digested {
		return nil
	}
	switch got, ok := did.Digest(in); {
	case !ok:
		return fmt.Errorf("%w: it committed nothing", ErrReplayDiverged)
	case got != in.Digest:
		return fmt.Errorf("%w: it posted or published something else than on the source (digest %016x, %016x on the source)",
			ErrReplayDiverged, got, in.Digest)
	}
	return nil
}

// inputName names an event or request for an error: its kind (the
// request's action), ID and member, as a refusal under a changed
// definition names them.
func inputName(in engine.Input, loc *time.Location) string {
	rf := refusal(in, nil, loc)
	name := rf.Action
	if rf.ID != "" {
		name += fmt.Sprintf(" %q", rf.ID)
	}
	if rf.Member != "" {
		name += fmt.Sprintf(" of member %q", rf.Member)
	}
	return name
}

// advances applies the pages of due work waiting: consecutive pages of a
// per-member journal with the same time, of one Advance call or of
// several instances advancing at once (where one performed the items and
// the others found none). It performs pages until none is due, which must
// perform as many items in all as the source's pages did.
func (r *replay) advances(ctx context.Context) error {
	if len(r.adv) == 0 {
		return nil
	}
	first, last := r.adv[0], r.adv[len(r.adv)-1]
	want := engine.Input{Digested: true}
	var rnd []byte
	for _, in := range r.adv {
		want.Items += in.Items
		want.Digest += in.Digest
		want.Digested = want.Digested && in.Digested
		rnd = append(rnd, in.Rand...)
	}
	done := r.p.eng.Replaying(rnd)
	got, digest := 0, uint64(0)
	var err error
	for {
		n, d, perr := r.p.eng.AdvancePage(ctx, first.At)
		if perr != nil {
			err = perr
			break
		}
		got += n
		digest += d
		if n == 0 {
			break
		}
	}
	if err == nil {
		err = pageDiverged(first.At, got, digest, want)
	}
	_, derr := done() // the pages' digests are compared above
	if err = errors.Join(err, derr); err != nil {
		return fmt.Errorf("inputs %d to %d (advance): %w", first.Seq, last.Seq, diverged(err))
	}
	r.step(uint64(len(r.adv)), last.Seq)
	r.adv = r.adv[:0]
	return nil
}

// pageDiverged compares what pages of due work to at did on p (n items,
// digest) with what the source's did (want: their items and, when each
// recorded one, the sum of their digests): a page that performed as many
// items but posted other amounts or published other changes (an expiry
// that took a late event's points too) diverged as well.
func pageDiverged(at time.Time, n int, digest uint64, want engine.Input) error {
	switch {
	case n != want.Items:
		return fmt.Errorf("%w: advance to %s performed %d items, %d on the source", ErrReplayDiverged, at, n, want.Items)
	case want.Digested && digest != want.Digest:
		return fmt.Errorf("%w: advance to %s performed %d items, as on the source, but they posted or published something else (digest %016x, %016x on the source)",
			ErrReplayDiverged, at, n, digest, want.Digest)
	}
	return nil
}

// apply applies one input other than an event.
func (r *replay) apply(ctx context.Context, in engine.Input) error {
	done := r.p.eng.Replaying(in.Rand)
	var err error
	switch in.Kind {
	case engine.InputAdvance:
		var n int
		var d uint64
		n, d, err = r.p.eng.AdvancePage(ctx, in.At)
		if err == nil {
			err = pageDiverged(in.At, n, d, in)
		}
	case engine.InputRequest, engine.InputUpdate:
		op, ok := r.ops[in.Action]
		if !ok {
			err = fmt.Errorf("%w: unknown action %q", engine.ErrCorrupt, in.Action)
		} else {
			err = op(ctx, in.Body)
		}
	}
	did, derr := done()
	if err = errors.Join(err, derr); err != nil {
		return fmt.Errorf("input %d (%s): %w", in.Seq, kindName(in), diverged(err))
	}
	r.step(1, in.Seq) // committed, also when it did something else
	if in.Kind != engine.InputAdvance {
		if err := didDiverge(in, did); err != nil {
			return fmt.Errorf("input %d (%s): %w", in.Seq, inputName(in, r.p.loc), err)
		}
	}
	return nil
}

// diverged wraps ErrReplayDiverged around an input's refusal on the
// target (the store's and the journal's own failures pass as they are).
func diverged(err error) error {
	if errors.Is(err, ErrReplayDiverged) || errors.Is(err, ErrDefinitionConflict) || fatal(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrReplayDiverged, err)
}

// fatal reports whether err stops any replay: the store's or the
// journal's own failure, or the context's end, rather than the input's
// refusal (engine.IsRefusal, which the audit trail goes by too).
func fatal(err error) bool { return !engine.IsRefusal(err) }

func kindName(in engine.Input) string {
	switch in.Kind {
	case engine.InputAdvance:
		return "advance"
	case engine.InputEvent:
		return "event " + in.Event.ID
	}
	return in.Action
}
