package membership

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store"
)

// ErrReplayDiverged is returned by Replay when an input did not do on the
// target what it did on the source (refused, a page of due work of
// another size, random bytes left over or missing): the target was not
// empty, or its definition, library version or clock-free inputs differ.
var ErrReplayDiverged = engine.ErrReplayDiverged

// WithJournal turns the input journal on (see Replay); it is off by
// default. Open returns an error wrapping ErrInvalidArgument on a store
// that runs updates concurrently (store/postgres).
//
// The input journal (WithJournal) keeps every input a Program accepted, in
// the order their transactions committed: each event, each request a
// handle applied (its action and request as JSON), each page of due work
// Advance performed (the time it ran to), each page of a tag recompute,
// and the random bytes each drew (coupon codes). Duplicates and refused
// inputs change nothing and are not kept. Replay applies a journal to
// another store and reproduces the same state: balances, levels, coupons
// (codes included), tags, ledger totals.
//
// The journal is one global sequence, exact on the stores that run
// updates one at a time (store/memory, store/bolt). On a store that runs
// them concurrently (store/postgres) its sequence would be a key every
// writer conflicts on, so WithJournal is refused there.
//
// The journal grows with the history: every input is kept in full, for
// ever (about the size of the event records, which are kept for ever too
// to answer retries). The library deletes nothing from it; a journal
// missing its start cannot be replayed into an empty store, so keep it
// whole, or leave it off (the default). Turned on for a store that
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
// the inputs done and the journal's length.
type ReplayProgress func(done, total uint64)

// replayBatch is how many consecutive events Replay applies in one
// transaction (ProcessBatch): the journal keeps them in order, and a
// batch applies them in order.
const replayBatch = 256

// Replay applies the input journal of from, a store a Program with
// WithJournal ran on, to p, in the journal's order, and returns how many
// inputs it applied. p must run the definition from runs (the same
// version and content: else ErrDefinitionConflict) on an empty store (no
// journal, no Advance yet: else ErrInvalidArgument), and nothing else may
// use p until Replay returns. Events are applied in batches, requests
// through their handle calls, due work page for page as Advance performed
// it, each drawing the random bytes it drew on from: p's state ends as
// from's (balances, lots, levels, coupons and their codes, tags, ledger
// totals; the feed's positions may differ). An input that does not do on
// p what it did on from returns an error wrapping ErrReplayDiverged and
// naming its sequence number; inputs before it stay applied. A damaged
// journal wraps engine's ErrCorrupt. progress, when not nil, is called
// after each input.
func (p *Program) Replay(ctx context.Context, from store.Store, progress ReplayProgress) (uint64, error) {
	fail := func(err error) (uint64, error) { return 0, fmt.Errorf("membership: replay: %w", err) }
	src, err := engine.DefinitionRecord(ctx, from)
	if err != nil {
		return fail(err)
	}
	mine := p.eng.Definition()
	if !bytes.Equal(src, mine) {
		return fail(fmt.Errorf("%w: the source runs another definition than this program's", ErrDefinitionConflict))
	}
	version := binary.BigEndian.Uint64(mine[:8])
	if n, err := engine.JournalLength(ctx, p.eng.Store()); err != nil {
		return fail(err)
	} else if w, err := p.Watermark(ctx); err != nil {
		return fail(err)
	} else if n > 0 || !w.IsZero() {
		return fail(fmt.Errorf("%w: the target store is not empty", ErrInvalidArgument))
	}
	total, err := engine.JournalLength(ctx, from)
	if err != nil {
		return fail(err)
	}
	r := replay{p: p, ops: p.replay, progress: progress, total: total}
	err = engine.Journal(ctx, from, 0, 0, func(in engine.Input) error {
		if in.Version != version {
			return fmt.Errorf("input %d: %w: it ran under definition version %d, this program runs %d", in.Seq, ErrDefinitionConflict, in.Version, version)
		}
		if in.Kind == engine.InputEvent {
			r.evs = append(r.evs, in.Event)
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
	if err == nil {
		err = r.flush(ctx)
	}
	if err != nil {
		return r.done, fmt.Errorf("membership: replay: %w", err)
	}
	return r.done, nil
}

// replay is one Replay's state: the events waiting for their batch.
type replay struct {
	p        *Program
	ops      map[string]replayer
	progress ReplayProgress
	total    uint64
	done     uint64
	evs      []event.Event
	rnd      []byte
	last     uint64 // the sequence number of the last event waiting
}

func (r *replay) step(n uint64) {
	r.done += n
	if r.progress != nil {
		r.progress(r.done, r.total)
	}
}

// flush applies the events waiting, in one batch.
func (r *replay) flush(ctx context.Context) error {
	if len(r.evs) == 0 {
		return nil
	}
	done := r.p.eng.Replaying(r.rnd)
	outs, err := r.p.ProcessBatch(ctx, r.evs)
	err = errors.Join(err, done())
	for i := 0; err == nil && i < len(outs); i++ {
		if outs[i].Duplicate {
			err = fmt.Errorf("%w: event %q applied twice", ErrReplayDiverged, r.evs[i].ID)
		}
	}
	if err != nil {
		return fmt.Errorf("inputs %d to %d: %w", r.last+1-uint64(len(r.evs)), r.last, diverged(err))
	}
	r.step(uint64(len(r.evs)))
	r.evs, r.rnd = r.evs[:0], r.rnd[:0]
	return nil
}

// apply applies one input other than an event.
func (r *replay) apply(ctx context.Context, in engine.Input) error {
	done := r.p.eng.Replaying(in.Rand)
	var err error
	switch in.Kind {
	case engine.InputAdvance:
		var n int
		n, err = r.p.eng.AdvancePage(ctx, in.At)
		if err == nil && n != in.Items {
			err = fmt.Errorf("%w: advance to %s performed %d items, %d on the source", ErrReplayDiverged, in.At, n, in.Items)
		}
	case engine.InputRequest, engine.InputUpdate:
		op, ok := r.ops[in.Action]
		if !ok {
			err = fmt.Errorf("%w: unknown action %q", engine.ErrCorrupt, in.Action)
		} else {
			err = op(ctx, in.Body)
		}
	}
	err = errors.Join(err, done())
	if err != nil {
		return fmt.Errorf("input %d (%s): %w", in.Seq, kindName(in), diverged(err))
	}
	r.step(1)
	return nil
}

// diverged wraps ErrReplayDiverged around an input's refusal on the
// target (the store's and the journal's own failures pass as they are).
func diverged(err error) error {
	if errors.Is(err, ErrReplayDiverged) || errors.Is(err, engine.ErrCorrupt) || errors.Is(err, ErrDefinitionConflict) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrClosed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrReplayDiverged, err)
}

func kindName(in engine.Input) string {
	switch in.Kind {
	case engine.InputAdvance:
		return "advance"
	case engine.InputEvent:
		return "event " + in.Event.ID
	}
	return in.Action
}
