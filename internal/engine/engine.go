// Package engine owns a program's unit of work: the store transaction an
// event, an operator request or a due item runs in, its idempotency record,
// its outcome and reasons, its ledger postings, the due index, the change
// feed, and the routing of rewards and reads between domains.
//
// The domain packages (level, points, coupon, benefit, task, tag, value)
// each register a [Part] with an [Engine] and reach everything shared
// through the [Unit] they are handed: no domain package imports another's
// part. Where one domain reads another's state (a coupon claim rule reads
// the member's level and tags, a points rule the level) it asks the Unit,
// which asks the [Levels] or [Tags] reader the owning domain registered;
// rewards (a level gift, a task reward) go to the [Rewarder] that grants
// their kind. Every ID, counter and feed position a domain needs is
// allocated here ([Unit.NextID], [Unit.AddTotal], the feed), so the
// engine alone decides how they are laid out in the store.
//
// The engine's lifetime rule is the store's: bytes read from a
// transaction are valid until it ends. Everything the engine returns
// (outcomes, changes, entries) is the caller's to keep.
package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/drytx"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// ErrCorrupt is wrapped when a stored record cannot be read: an event's,
// a request's, a feed record, a domain's state. It is store.ErrCorrupt, so
// that one sentinel covers a record that does not decode, whichever
// package reads it (those below the engine, the ledger and
// internal/record, cannot name this one), and the damage a store's own
// checks find.
var ErrCorrupt = store.ErrCorrupt

// ErrRewardRefused is wrapped by the error of Unit.Reward when the
// rewarder refused the reward for a business reason (a coupon out of
// stock, a claim limit reached) and published the refusal: the unit goes
// on, and the caller decides what the refusal means to it (a level's
// gift stays owed to the member; a task's completion stands).
var ErrRewardRefused = errors.New("reward refused")

// Item is a due item: work that falls due at a time (an expiry, a term end).
type Item = due.Item

// Part is one domain's share of processing.
type Part interface {
	// Process applies the part's rules to one event.
	Process(u *Unit, ev event.Event) error
	// DueKinds lists the due item kinds the part performs.
	DueKinds() []string
	// Due performs one due item.
	Due(u *Unit, it Item) error
}

// Follower is a part whose state follows what other parts change outside
// an event (a level changed by a term end or an operator): Follow is
// called once per member changed by a due item or an operator request,
// after the change, in the same transaction. Events need no such call: the
// parts run in order, and the followers run last.
type Follower interface {
	// Follows reports whether a change of kind calls for Follow: a
	// follower does not follow its own changes.
	Follows(kind string) bool
	Follow(u *Unit, member string) error
}

// Rewarder is a part that grants rewards of some kinds (points, growth,
// coupons, packs, achievements) on behalf of another part. from names what
// grants the reward (a task, a level's upgrade gift), so that the rewarder
// need not read it from the reason's text. A reward it refuses for a
// business reason (a coupon out of stock) it publishes as such and
// reports with an error wrapping ErrRewardRefused.
type Rewarder interface {
	RewardKinds() []rule.RewardKind
	Reward(u *Unit, member string, r rule.Reward, from rule.Source, why rule.Reason) error
}

// MemberKeyed is a part that keeps buckets keyed by member first (the
// member ID, then 0x00 or nothing): the engine asks a store that can
// (store.Colocator) to keep a member's records of all of them side by
// side, so that an event's writes touch few pages. It changes where the
// store keeps records, never what reads answer, so a bucket missed costs
// only locality.
type MemberKeyed interface {
	MemberBuckets() []string
}

// Checker is a part that validates the events it acts on beyond their
// declared type (a stored-value amount must be positive), before any
// transaction starts. Its errors are returned wrapped in
// event.ErrInvalidEvent.
type Checker interface {
	CheckEvent(ev event.Event) error
}

// Preloader is a part that names the keys of a member it reads on an
// event's path: on a store whose reads are round trips to a server
// (store.Preloader), the engine reads them all, with the event's own
// keys, in one round trip before the parts run.
type Preloader interface {
	AppendReads(dst []store.Read, member string) []store.Read
}

// Stateful is a part that keeps state for the length of one unit of work
// (what it read, so that it reads it once). The engine keeps one State per
// part in each pooled unit and resets it before each unit.
type Stateful interface {
	NewState() State
}

// State is a part's per-unit state.
type State interface {
	Reset()
}

// Levels answers what the level domain knows of a member, for the other
// domains.
type Levels interface {
	// Level returns the member's ladder level at the unit's time ("" without
	// a ladder). In a unit that may write it first performs the member's
	// term ends due by the unit's time that Advance has not performed, as
	// an event of the member would, so that a request or a dry view reads
	// the level the member holds at its time; in a view it reads the level
	// as stored. A unit dated before the member's latest level change (a
	// late event) reads the level the member held at its time, from the
	// member's level history.
	Level(u *Unit, member string) (string, error)
	// CurrentLevel is Level without the history: the level the member
	// holds now (after the same term ends), even in a unit dated before
	// their latest level change. It is for what describes the member as
	// they stand (tags), not for what judges an event.
	CurrentLevel(u *Unit, member string) (string, error)
	// Plans returns the paid plans the member holds at the unit's time. A
	// unit dated before the member's latest plan change (a purchase, an
	// expiry) reads the plans the member held then, from the member's
	// level history.
	Plans(u *Unit, member string) ([]string, error)
}

// Tags answers a member's tags for the other domains.
type Tags interface {
	Tags(u *Unit, member string) ([]string, error)
}

// Engine runs units of work on a store for the parts registered with it.
// It is safe for concurrent use once the parts are added.
type Engine struct {
	st        store.Store
	loc       *time.Location
	log       *slog.Logger
	rand      io.Reader
	parts     []Part
	stateful  []int // indexes of the parts that are Stateful
	dueBy     map[string]Part
	rewarders []Rewarder
	erasers   []Eraser // those of domains the definition leaves out (AddEraser)
	levels    Levels
	tags      Tags
	def       definition   // the definition in force (Install)
	inUse     []InUse      // the checks Install runs on a new definition
	installed []Installed  // what Install runs once a definition is accepted
	stripes   int          // the stripes of shared totals (internal/total)
	split     bool         // the store asks for shared keys split (store.Striper): the feed goes per member
	stamp     bool         // the store keeps keys in pages (store.Colocator): see Unit.StampDue
	retention Retention    // with defaults set (retain.go)
	jr        journalState // the input journal (journal.go)
	// units keeps unit state for reuse (see unitState); calls keeps
	// Process's store functions (see processCall); readBufs keeps the
	// lists of reads preload makes (*[]store.Read).
	units, calls, readBufs sync.Pool
}

// Options are what an engine hands its parts besides the store.
type Options struct {
	// Log receives warnings (default: discard).
	Log *slog.Logger
	// Rand is the random source for coupon codes and random amounts
	// (default crypto/rand.Reader).
	Rand io.Reader
	// Retention says what Advance prunes (retain.go); zero fields take
	// the defaults.
	Retention Retention
}

// New returns an engine on st whose days and months are in loc.
func New(st store.Store, loc *time.Location, o Options) *Engine {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if loc == nil {
		loc = time.UTC
	}
	e := &Engine{st: st, loc: loc, log: o.Log, rand: o.Rand, dueBy: map[string]Part{}, stripes: total.Stripes(st),
		retention: o.Retention.withDefaults()}
	_, e.split = st.(store.Striper)
	_, e.stamp = st.(store.Colocator)
	return e
}

// Log returns the engine's logger.
func (e *Engine) Log() *slog.Logger { return e.log }

// Rand returns the engine's random source.
func (e *Engine) Rand() io.Reader { return e.rand }

// Stripes returns how many stripes the engine splits shared totals into
// (internal/total): the store's choice.
func (e *Engine) Stripes() int { return e.stripes }

// Location returns the engine's time zone.
func (e *Engine) Location() *time.Location { return e.loc }

// Store returns the engine's store.
func (e *Engine) Store() store.Store { return e.st }

// Add registers a part; parts process an event in the order they are
// added. A part that is also a Rewarder or a Follower is used as one.
func (e *Engine) Add(p Part) {
	if _, ok := p.(Stateful); ok {
		e.stateful = append(e.stateful, len(e.parts))
	}
	e.parts = append(e.parts, p)
	for _, k := range p.DueKinds() {
		e.dueBy[k] = p
	}
	if r, ok := p.(Rewarder); ok {
		e.rewarders = append(e.rewarders, r)
	}
}

// Check runs every Checker part on ev; the error wraps
// event.ErrInvalidEvent and the part's cause.
func (e *Engine) Check(ev event.Event) error {
	for _, p := range e.parts {
		if c, ok := p.(Checker); ok {
			if err := c.CheckEvent(ev); err != nil {
				return fmt.Errorf("%w: %w", event.ErrInvalidEvent, err)
			}
		}
	}
	return nil
}

// SetLevels sets the reader of members' levels (the level domain's).
func (e *Engine) SetLevels(l Levels) { e.levels = l }

// SetTags sets the reader of members' tags (the tag domain's).
func (e *Engine) SetTags(t Tags) { e.tags = t }

// unitState is a unit of work and the state it owns. Units reuse them
// (Engine.units): nothing of a unit's state outlives the unit (the outcome
// and the feed record are allocated apart), so an event allocates none of
// it.
type unitState struct {
	u       Unit
	feed    feedUnit
	scratch scratch
	led     ledger.Ledger
	states  []State // the Stateful parts' states, by part index
}

// unit runs fn as one unit of work (an event, an operator request, a due
// item) and then writes its changes to the feed.
func (e *Engine) unit(tx store.Tx, at time.Time, ref ledger.Ref, out *change.Outcome, box *outcomeBox, tp *tape, fn func(u *Unit) error) error {
	s, _ := e.units.Get().(*unitState)
	if s == nil {
		s = &unitState{states: make([]State, len(e.parts))}
		for _, i := range e.stateful {
			s.states[i] = e.parts[i].(Stateful).NewState()
		}
	}
	defer e.units.Put(s)
	if err := e.checkDefinition(tx); err != nil {
		return err
	}
	for _, i := range e.stateful {
		s.states[i].Reset()
	}
	s.led.Init(tx, e.loc)
	s.led.SetStripes(e.stripes)
	s.feed.reset()
	s.scratch.baseName, s.scratch.baseText = "", ""
	s.u = Unit{e: e, tx: tx, led: &s.led, at: at, ref: ref, out: out, feed: &s.feed, scratch: &s.scratch, box: box, states: s.states, tape: tp}
	if err := fn(&s.u); err != nil {
		return err
	}
	return s.feed.write(&s.u)
}

// Process applies ev, already validated, in one store transaction; see
// membership.Program.Process.
func (e *Engine) Process(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	c, _ := e.calls.Get().(*processCall)
	if c == nil {
		c = &processCall{e: e}
		c.fn = c.run
	}
	c.ev, c.read = ev, false
	err := c.update(ctx)
	if c.unread {
		// Refused by a run that took the event's record as absent: only
		// a run reading it tells a retry or other content under the ID.
		c.read = true
		err = c.update(ctx)
	}
	out := c.out
	c.ev, c.out = event.Event{}, nil
	e.calls.Put(c)
	if err != nil {
		return nil, err
	}
	e.local(out)
	return out, nil
}

// Recorded returns the first outcome of ev, Duplicate set, when an event
// of its ID and content (event.Event.Same) was processed, and nil when
// none was: Program.Process asks it of an event its definition refuses,
// as a newer version may refuse the retry of an event it took before. It
// answers nil, as Process would refuse them, for an event before the
// retention horizon or of an erased member, and for another content under
// the ID; a record or a retention horizon that does not decode is an
// error wrapping ErrCorrupt.
func (e *Engine) Recorded(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	var out *change.Outcome
	err := e.st.View(ctx, func(tx store.Tx) error {
		out = nil
		if err := checkHorizon(tx, ev.Time); err != nil {
			return tooOldIsNone(err)
		}
		switch erased, _, err := erasedMark(tx, []byte(ev.Member)); {
		case err != nil:
			return err
		case erased:
			return nil
		}
		v, err := tx.Get(bEvents, []byte(ev.ID))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		rec, err := decodeRecord(v)
		if err != nil || !rec.Event.Same(ev) {
			return err
		}
		out, err = rec.outcome(tx, e.loc)
		return err
	})
	if err != nil || out == nil {
		return nil, err
	}
	e.local(out)
	return out, nil
}

// processCall is Process's store function with its arguments and result.
// Calls reuse them (Engine.calls): a closure per event would be two
// allocations (itself and the result it sets).
type processCall struct {
	e      *Engine
	ev     event.Event
	read   bool // read the event's record (processTx)
	out    *change.Outcome
	unread bool                 // the last run refused the event unread (processTx)
	fn     func(store.Tx) error // c.run, bound once
	reads  []store.Read         // what the function preloads, told to a store.Prefetcher
}

// update runs c.fn in a store transaction.
func (c *processCall) update(ctx context.Context) error {
	e := c.e
	pf, ok := e.st.(store.Prefetcher)
	if !ok || c.ev.Member == "" {
		return e.st.Update(ctx, c.fn)
	}
	// The reads preload will make, told to the store before the
	// function runs: a group of events reads them in one round trip.
	var id []byte
	if c.read {
		id = []byte(c.ev.ID)
	}
	c.reads = e.appendReads(c.reads[:0], id, !c.read, c.ev.Member)
	err := pf.UpdatePrefetch(ctx, c.reads, c.fn)
	clear(c.reads) // its keys are the event's
	return err
}

func (c *processCall) run(tx store.Tx) error {
	var err error
	c.out, c.unread, err = c.e.processTx(tx, c.ev, c.read)
	return err
}

// ProcessBatch applies events, already validated, in order in one store
// transaction; if any fails, nothing is written.
func (e *Engine) ProcessBatch(ctx context.Context, evs []event.Event) ([]*change.Outcome, error) {
	outs := make([]*change.Outcome, len(evs))
	read, unread := false, false
	fn := func(tx store.Tx) error {
		unread = false
		for i, ev := range evs {
			out, un, err := e.processTx(tx, ev, read)
			if err != nil {
				unread = un
				return fmt.Errorf("events[%d] (%q): %w", i, ev.ID, err)
			}
			outs[i] = out
		}
		return nil
	}
	err := e.st.Update(ctx, fn)
	if unread {
		// As in Process: the refusal is confirmed by a run reading the
		// records.
		read = true
		err = e.st.Update(ctx, fn)
	}
	if err != nil {
		return nil, err
	}
	for _, out := range outs {
		e.local(out)
	}
	return outs, nil
}

// processTx is the unit of work of ev in tx, which Process, ProcessBatch
// and Quote run. read makes it read the event's record even where the
// store could insert it unread (store.Inserter). The bool reports, with a
// refusal of the rules, that the run took the record as absent so: the
// event may yet be a retry its rules now refuse (a pay beyond today's
// balance) or other content under its ID, which only a run that reads the
// record tells.
func (e *Engine) processTx(tx store.Tx, ev event.Event, read bool) (*change.Outcome, bool, error) {
	// The event's ID (read and then written under) and its member (read
	// in the erased marks) as keys, in one allocation: the store's calls
	// keep neither, but a key passed to an interface method escapes.
	keyBuf := make([]byte, len(ev.ID)+len(ev.Member))
	id, member := keyBuf[:copy(keyBuf, ev.ID):len(ev.ID)], keyBuf[len(ev.ID):]
	copy(member, ev.Member)
	// On a store that detects conflicts, a new event's record is inserted
	// unread (store.Inserter): reading its absence would guard the gap
	// where the next event IDs go, and concurrent events would conflict
	// there. A repeat finds the record at the commit, and runs again
	// reading it; a repeat the rules refuse is run again by the caller,
	// read set.
	ins, _ := tx.(store.Inserter)
	fresh := !read && ins != nil && ins.Fresh(bEvents, id)
	if err := e.preload(tx, id, fresh, ev.Member); err != nil {
		return nil, false, err
	}
	if err := checkHorizon(tx, ev.Time); err != nil {
		return nil, false, fmt.Errorf("%w: event %q: %w", event.ErrInvalidEvent, ev.ID, err)
	}
	// An erased member's events are refused before their record is read:
	// a retry of one processed before the erasure is refused too, and its
	// outcome (the attributes it held) is not handed out again.
	erased, known, err := erasedMark(tx, member)
	switch {
	case err != nil:
		return nil, false, err
	case erased:
		return nil, false, fmt.Errorf("%w: event %q: member %q: %w", event.ErrInvalidEvent, ev.ID, member, ErrErased)
	}
	if fresh {
		// taken as absent
	} else if v, err := tx.Get(bEvents, id); err == nil {
		rec, err := decodeRecord(v)
		if err != nil {
			return nil, false, err
		}
		if !rec.Event.Same(ev) {
			return nil, false, event.ErrConflict
		}
		out, err := rec.outcome(tx, e.loc)
		return out, false, err
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if e.split && !known && len(member) > 0 {
		if err := markKnown(tx, member); err != nil {
			return nil, false, err
		}
	}
	box := newOutcomeBox(ev.ID, ev.Member, ev.Time)
	out := &box.out
	tp := e.newTape()
	err = e.unit(tx, ev.Time, ledger.Ref{Event: ev.ID}, out, box, tp, func(u *Unit) error {
		for _, pt := range e.parts {
			if err := pt.Process(u, ev); err != nil {
				return err
			}
		}
		// The record names the event's feed records, so they are written
		// first; it is built in the unit's scratch (the store copies it).
		if err := u.feed.write(u); err != nil {
			return err
		}
		in := Input{Kind: InputEvent, At: ev.Time, Event: ev, Digest: inputDigest(tp, out), Rand: tp.bytes()}
		if err := e.journal(tx, u.led, ev.Member, in); err != nil {
			return err
		}
		rec := newRecord(ev, u).appendTo(u.scratch.rec[:0])
		if fresh {
			return ins.Insert(bEvents, id, rec)
		}
		return tx.Put(bEvents, id, rec)
	})
	if err != nil {
		return nil, fresh, refused(err, event.ErrInvalidEvent)
	}
	// The box's room is for building: an outcome without entries or
	// changes has none (nil), as its retry's, read back, has.
	if len(out.Entries) == 0 {
		out.Entries = nil
	}
	if len(out.Changes) == 0 {
		out.Changes = nil
	}
	return out, false, nil
}

// preload reads, on a store whose reads are round trips, what an event
// for member reads: its record (unless fresh), the definition in force,
// the member's ledger counter and balances, and the keys the parts name
// (Preloader). Other stores read
// locally, as the parts ask.
func (e *Engine) preload(tx store.Tx, id []byte, fresh bool, member string) error {
	if _, ok := tx.(store.Preloader); !ok || member == "" {
		return nil
	}
	bp, _ := e.readBufs.Get().(*[]store.Read)
	if bp == nil {
		bp = new([]store.Read)
	}
	*bp = e.appendReads((*bp)[:0], id, fresh, member)
	err := store.Preload(tx, *bp...)
	clear(*bp) // its keys are the event's
	e.readBufs.Put(bp)
	return err
}

// requestReads lists what applyTx preloads for req: what an event's
// function preloads, with the request's record.
func (e *Engine) requestReads(req Request) []store.Read {
	return append(e.appendReads(nil, nil, true, req.Member), store.Read{Bucket: bOps, Key: []byte(req.ID)})
}

// appendReads appends to dst what preload reads for an event id for
// member.
func (e *Engine) appendReads(dst []store.Read, id []byte, fresh bool, member string) []store.Read {
	// Room for them all, the ledger's two and a part's one (a part
	// appending more grows it): at most one allocation.
	n := 6
	for _, p := range e.parts {
		if _, ok := p.(Preloader); ok {
			n++
		}
	}
	reads := slices.Grow(dst, n)
	reads = append(reads,
		store.Read{Bucket: bMeta, Key: defKey},
		store.Read{Bucket: bMeta, Key: horizonKey},
		store.Read{Bucket: bErased, Key: []byte(member)})
	if !fresh {
		reads = append(reads, store.Read{Bucket: bEvents, Key: id})
	}
	reads = ledger.AppendMemberReads(reads, member)
	for _, p := range e.parts {
		if pl, ok := p.(Preloader); ok {
			reads = pl.AppendReads(reads, member)
		}
	}
	return reads
}

// Request is an operator request run by Apply.
type Request struct {
	// ID is the idempotency key: a retry with the same ID and the same
	// Body returns the first outcome; another Body under the same ID is
	// event.ErrConflict.
	ID string
	// Body is the request as the caller made it, compared as JSON.
	Body any
	// BodyJSON, when set, is Body's JSON, byte for byte as json.Marshal
	// writes it (MemberJSON's), which then is not called.
	BodyJSON []byte
	// At is when the request takes effect; Member is whom it is about.
	At     time.Time
	Member string
	// Ref is the ledger reference of its postings; Ref.Event defaults to
	// ID.
	Ref ledger.Ref
	// Action names the call ("points.adjust") in the audit trail and the
	// input journal; Operator is who asked ("" for a member's or the
	// host's own call). See audit.go.
	Action   string
	Operator string
	// Input, when not nil, is what the journal keeps to make the call
	// again (the handle's request), where Body is another shape; the
	// journal keeps Body otherwise.
	Input any
	// Erasure marks the request that erases Member (Unit.Erase): its
	// retry answers from its record, where the retry of any other
	// request about a member since erased is refused with ErrErased.
	Erasure bool
	// Check, when set, is the call's own check of the request against
	// the definition in force (a level, tag or template it names, a
	// scale), with its other checks before the unit of work; Apply runs
	// it first. A request it refuses writes nothing, not even a refusal
	// in the audit trail, and gets its error — unless a request of the
	// same ID and Body was applied: a definition version installed since
	// may refuse the retry of a request an earlier version took, and the
	// retry returns the first outcome, Duplicate set, as the retry of an
	// event does (Recorded). As there, a request before the idempotency
	// window, other content under the ID, or a member erased since gets
	// Check's error.
	Check func() error
	// Owner, when set, reads the member of the object a request that
	// names no member names (a coupon, a redemption, an adjustment, an
	// order's locked coupons): "" when there is no such object. It is
	// read, in the audit's own transaction, for a refusal the call made
	// before it found that member, so that the refusal is filed under it
	// (Audit by member lists it, Erase redacts it); an unknown object
	// leaves it under no member.
	Owner func(tx store.Tx) (string, error)
}

// opRecord is what was kept of an applied request, as JSON, before
// opRecordV2 (oprecord.go); such records are still read.
type opRecord struct {
	Request json.RawMessage `json:"request"`
	Outcome *change.Outcome `json:"outcome"`
}

// Apply runs fn for an operator request idempotently, in one store
// transaction, and then calls the followers for each member it changed.
// It first runs the request's Check (see Request.Check: a retry it
// refuses of a request applied before returns the first outcome), then
// checks the request's ID, member, time and body against the
// limits of event.MaxIDBytes (an error wrapping event.ErrInvalidArgument),
// and a time fn derives that the store cannot hold refuses the request
// the same way.
func (e *Engine) Apply(ctx context.Context, req Request, fn func(u *Unit) error) (*change.Outcome, error) {
	pr, checked, err := check(req, fn)
	if err != nil {
		return nil, err
	}
	if checked != nil {
		firsts, err := e.firsts(ctx, []prepared{pr})
		switch {
		case err != nil:
			return nil, err
		case firsts[0] == nil:
			return nil, checked
		}
		e.local(firsts[0])
		e.replayedDuplicate()
		return firsts[0], nil
	}
	var out *change.Outcome
	var refusal error // the error of the call itself (fn, or the ID's reuse): a refusal the audit keeps
	apply := func(tx store.Tx) error {
		var err error
		out, refusal, err = e.applyTx(tx, pr)
		return err
	}
	if pf, ok := e.st.(store.Prefetcher); ok && req.Member != "" {
		err = pf.UpdatePrefetch(ctx, e.requestReads(req), apply) // as Process does
	} else {
		err = e.st.Update(ctx, apply)
	}
	if err != nil {
		return nil, e.refusal(ctx, req, out, refusal, err)
	}
	if out.Duplicate {
		e.replayedDuplicate()
	}
	e.local(out)
	return out, nil
}

// prepared is a request checked and encoded, ready for applyTx.
type prepared struct {
	req       Request
	fp, input []byte
	sum       [sha256.Size]byte // fp's SHA-256, what a request record keeps of it
	ref       ledger.Ref
	fn        func(u *Unit) error
}

// check runs req's Check, then prepare. refusal is Check's error for a
// request prepare accepts: the caller looks for the request's record
// (firsts) before refusing it. err is the request's error otherwise:
// Check's when both refuse it, so that a call's errors come in the order
// they came before Check was run here.
func check(req Request, fn func(u *Unit) error) (pr prepared, refusal, err error) {
	if req.Check != nil {
		refusal = req.Check()
	}
	pr, err = prepare(req, fn)
	if refusal != nil && err != nil {
		return pr, nil, refusal
	}
	return pr, refusal, err
}

// firsts returns, in one read-only transaction, the first outcome of each
// request of prs that was applied, Duplicate set, and nil for one that
// was not, or whose retry applyTx would refuse: before the retention
// horizon, other content under its ID, a member erased since. It is the
// lookup of requests their Check refused (see Request.Check); a record
// or a retention horizon that does not decode is an error wrapping
// ErrCorrupt.
func (e *Engine) firsts(ctx context.Context, prs []prepared) ([]*change.Outcome, error) {
	outs := make([]*change.Outcome, len(prs))
	err := e.st.View(ctx, func(tx store.Tx) error {
		for i := range prs {
			outs[i] = nil
			if err := checkHorizon(tx, prs[i].req.At); err != nil {
				if err = tooOldIsNone(err); err != nil {
					return err
				}
				continue
			}
			first, refusal, err := e.recorded(tx, prs[i])
			if err != nil {
				return err
			}
			if refusal == nil {
				outs[i] = first
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// prepare checks req and encodes what applyTx keeps of it; errors wrap
// event.ErrInvalidArgument.
func prepare(req Request, fn func(u *Unit) error) (prepared, error) {
	if req.ID == "" {
		return prepared{}, fmt.Errorf("%w: empty request ID", event.ErrInvalidArgument)
	}
	if req.At.IsZero() {
		return prepared{}, fmt.Errorf("%w: request %q has no time", event.ErrInvalidArgument, req.ID)
	}
	if err := checkRequest(req); err != nil {
		return prepared{}, err
	}
	fp := req.BodyJSON
	if fp == nil {
		var err error
		if fp, err = json.Marshal(req.Body); err != nil {
			return prepared{}, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err)
		}
	}
	pr := prepared{req: req, fp: fp, input: fp, sum: sha256.Sum256(fp), ref: req.Ref, fn: fn}
	if pr.ref.Event == "" {
		pr.ref.Event = req.ID
	}
	if req.Input != nil {
		var err error
		if pr.input, err = json.Marshal(req.Input); err != nil {
			return prepared{}, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err)
		}
	}
	return pr, nil
}

// applyTx runs a prepared request in tx: its outcome (the first one for a
// retry, Duplicate set), and, when it fails, refusal, the call's own error
// (fn's, or the ID's reuse), set apart from the store's failures.
func (e *Engine) applyTx(tx store.Tx, pr prepared) (out *change.Outcome, refusal error, err error) {
	req := pr.req
	if _, ok := tx.(store.Preloader); ok && req.Member != "" {
		// On a store whose reads are round trips, what a request for a
		// member reads first in one: its record, the definition, the
		// member's erasure mark, ledger counter and balances, and the
		// keys the parts name (the request's own reads may be fewer).
		if err := store.Preload(tx, e.requestReads(req)...); err != nil {
			return nil, nil, err
		}
	}
	if err := checkHorizon(tx, req.At); err != nil {
		return nil, nil, fmt.Errorf("%w: request %q: %w", event.ErrInvalidArgument, req.ID, err)
	}
	switch first, refusal, err := e.recorded(tx, pr); {
	case err != nil:
		return nil, nil, err
	case refusal != nil:
		return nil, refusal, refusal
	case first != nil:
		return first, nil, nil
	}
	out = &change.Outcome{Event: req.ID, Member: req.Member, Time: req.At}
	tp := e.newTape()
	var rec []byte // the request's record
	err = e.unit(tx, req.At, pr.ref, out, nil, tp, func(u *Unit) error {
		erased, known, err := erasedMark(tx, []byte(req.Member))
		switch {
		case err != nil:
			return err
		case erased:
			refusal = fmt.Errorf("%w: request %q: member %q: %w", event.ErrInvalidArgument, req.ID, req.Member, ErrErased)
			return refusal
		case e.split && !known && req.Member != "":
			if err := markKnown(tx, []byte(req.Member)); err != nil {
				return err
			}
		}
		if err := pr.fn(u); err != nil {
			// A request that found an erased member (an adjustment by
			// its ID, closed by the erasure) is refused as about that
			// member, before whatever else fn found wrong.
			if IsRefusal(err) {
				if cerr := u.checkChanged(req.Member); errors.Is(cerr, ErrErased) {
					err = fmt.Errorf("%w: request %q: %w", event.ErrInvalidArgument, req.ID, cerr)
				} else if cerr != nil {
					return cerr
				}
			}
			refusal = err
			return err
		}
		if err := u.settle(0); err != nil {
			refusal = err
			return err
		}
		// A request that found its member (a coupon's code) is
		// refused when that member was erased.
		if err := u.checkChanged(req.Member); err != nil {
			refusal = fmt.Errorf("%w: request %q: %w", event.ErrInvalidArgument, req.ID, err)
			return refusal
		}
		// The record names the request's feed records, so they are
		// written first.
		if err := u.feed.write(u); err != nil {
			return err
		}
		rec = appendOpRecord(nil, pr.sum[:], out, u.feed.keys)
		return nil
	})
	if err != nil {
		return out, refusal, err
	}
	if err := e.audit(tx, req, out.Member, nil); err != nil {
		return out, nil, err
	}
	member := out.Member // the member the request found (a coupon's owner), else the one it names
	if member == "" {
		member = req.Member
	}
	in := Input{Kind: InputRequest, At: req.At, Action: req.Action, Body: pr.input, Digest: inputDigest(tp, out), Rand: tp.bytes()}
	if err := e.journal(tx, nil, member, in); err != nil {
		return out, nil, err
	}
	return out, nil, tx.Put(bOps, []byte(req.ID), rec)
}

// recorded returns the first outcome of the request pr from its record
// in tx, Duplicate set, or nil when it has none. refusal is the error of
// a retry refused: event.ErrConflict for other content under its ID, or
// ErrErased for a member erased since (but by the erasure's own retry).
// err is the store's, or wraps ErrCorrupt for a record that does not
// decode.
func (e *Engine) recorded(tx store.Tx, pr prepared) (first *change.Outcome, refusal, err error) {
	req := pr.req
	v, err := tx.Get(bOps, []byte(req.ID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	fp, hashed, first, err := decodeOpRecord(tx, e.loc, v)
	if err != nil {
		return nil, nil, fmt.Errorf("request %q: %w", req.ID, err)
	}
	if hashed && string(fp) != string(pr.sum[:]) || !hashed && string(fp) != string(pr.fp) {
		return nil, event.ErrConflict, nil
	}
	// A retry about a member erased since is refused, as a new request
	// is: its outcome, read back from the feed, would hand out what the
	// erasure removed (an adjustment's reason).
	if first.Member != "" && !req.Erasure {
		if err := checkErased(tx, first.Member); errors.Is(err, ErrErased) {
			return nil, fmt.Errorf("%w: request %q: %w", event.ErrInvalidArgument, req.ID, err), nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	first.Duplicate = true
	return first, nil, nil
}

// refusal returns the error of a request that failed with err, recording
// it in the audit trail when it is the call's own refusal.
func (e *Engine) refusal(ctx context.Context, req Request, out *change.Outcome, refusal, err error) error {
	err = refused(err, event.ErrInvalidArgument)
	if refusal != nil && IsRefusal(err) {
		member := req.Member
		if out != nil && out.Member != "" {
			member = out.Member // the call found it (a coupon's owner) before refusing
		}
		err = e.auditRefusal(ctx, req, member, err)
	}
	return err
}

// ApplyBatch runs several requests as Apply does, each its own unit of
// work with its own idempotency record, in as few store transactions as it
// can: all in one when none is refused, else two. A request the call
// refuses (fn's error, its ID reused) gets its error in errs and writes
// nothing: the transaction is rolled back and run again, each request then
// on a drytx.Tx of its own over the transaction, whose writes are put
// into it only when the request is accepted, so that every refusal is
// found in that one run (rerunning the batch without each refused request
// in turn cost a run of the batch a refusal: an import of rows half of
// whose members were known took 16 times as long). A request that does
// not pass Apply's checks gets its error and is not run; the retry of a
// request applied before that its Check refuses gets the first outcome
// instead (see Request.Check: one read-only transaction looks for them
// all) and is not run either. err is a failure
// of the store or of ctx, and then nothing of the batch was written.
// outs[i] is nil where errs[i] is set. With stop set, the requests after
// the first one refused are not run: their outcome and error are both nil.
func (e *Engine) ApplyBatch(ctx context.Context, reqs []Request, fns []func(u *Unit) error, stop bool) (outs []*change.Outcome, errs []error, err error) {
	outs, errs = make([]*change.Outcome, len(reqs)), make([]error, len(reqs))
	prs := make([]prepared, len(reqs))
	var checked []int // the requests Check refused, whose records are looked for
	for i, req := range reqs {
		var refusal error
		if prs[i], refusal, errs[i] = check(req, fns[i]); refusal != nil {
			errs[i] = refusal
			checked = append(checked, i)
		}
	}
	// firsts[i] is the first outcome of request i, a retry Check refused
	// of a request applied before: answered, not run.
	firsts := make([]*change.Outcome, len(reqs))
	if len(checked) > 0 {
		retried := make([]prepared, len(checked))
		for j, i := range checked {
			retried[j] = prs[i]
		}
		found, err := e.firsts(ctx, retried)
		if err != nil {
			return outs, errs, err
		}
		for j, i := range checked {
			if found[j] != nil {
				firsts[i], errs[i] = found[j], nil
			}
		}
	}
	if stop {
		for i := range errs {
			if errs[i] != nil {
				prs = prs[:i+1]
				break
			}
		}
	}
	refused := false // a request's own refusal ended the run
	err = e.st.Update(ctx, func(tx store.Tx) error {
		refused = false
		for i := range prs {
			outs[i] = nil
			if errs[i] != nil || firsts[i] != nil {
				continue
			}
			out, ref, err := e.applyTx(tx, prs[i])
			if err != nil {
				refused = ref != nil
				return err
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		if !refused || !IsRefusal(err) {
			clear(outs)
			return outs, errs, err
		}
		if err = e.applyEach(ctx, reqs, prs, firsts, outs, errs, stop); err != nil {
			clear(outs)
			return outs, errs, err
		}
	}
	for i := range prs {
		if firsts[i] != nil {
			outs[i] = firsts[i]
		}
	}
	for _, out := range outs {
		if out != nil {
			e.local(out)
		}
	}
	return outs, errs, nil
}

// applyEach is ApplyBatch's run once a request was refused: in one
// transaction, each request runs on a drytx.Tx over it, and its writes are
// put into the transaction only when it is accepted; the refusals are then
// recorded in the audit trail (Apply's refusal) and set in errs. With stop
// set, the requests after the first refusal are not run.
func (e *Engine) applyEach(ctx context.Context, reqs []Request, prs []prepared, firsts, outs []*change.Outcome, errs []error, stop bool) error {
	type refused struct {
		i        int
		out      *change.Outcome
		ref, err error
	}
	var rs []refused
	err := e.st.Update(ctx, func(tx store.Tx) error {
		rs = rs[:0]
		for i := range prs {
			outs[i] = nil
			if errs[i] != nil || firsts[i] != nil {
				continue
			}
			d := drytx.New(tx)
			out, ref, err := e.applyTx(d.Tx(), prs[i])
			if err == nil {
				err = d.Writes(func(bucket string, key, value []byte, del bool) error {
					if del {
						return tx.Delete(bucket, key)
					}
					return tx.Put(bucket, key, value)
				})
			}
			if err == nil {
				// Only a d over a store.Adder has additions: they are added
				// to tx as they would have been, not written as sums.
				err = d.Adds(func(bucket string, key []byte, delta decimal.Decimal) error {
					return tx.(store.Adder).Add(bucket, key, delta)
				})
			}
			d.End()
			switch {
			case err == nil:
				outs[i] = out
				continue
			case ref == nil || !IsRefusal(err):
				return err
			}
			rs = append(rs, refused{i, out, ref, err})
			if stop {
				break
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rs {
		errs[r.i] = e.refusal(ctx, reqs[r.i], r.out, r.ref, r.err)
	}
	return nil
}

// checkRequest checks a request's ID, member, time and body against the
// limits (see event.MaxIDBytes): every operator request passes here, so
// no handle checks them itself. The error wraps event.ErrInvalidArgument
// and names the field.
func checkRequest(req Request) error {
	var errs []error
	if err := event.CheckID(req.ID); err != nil {
		errs = append(errs, fmt.Errorf("request ID: %w", err))
	}
	if req.Member != "" {
		if err := event.CheckID(req.Member); err != nil {
			errs = append(errs, fmt.Errorf("member: %w", err))
		}
	}
	if err := event.CheckTime(req.At); err != nil {
		errs = append(errs, fmt.Errorf("at: %w", err))
	}
	if err := event.CheckText(req.Operator); err != nil {
		errs = append(errs, fmt.Errorf("operator: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", event.ErrInvalidArgument, err)
	}
	return event.CheckRequest(req.Body)
}

// refused returns err wrapped in sentinel (event.ErrInvalidEvent for an
// event, event.ErrInvalidArgument for a request) when it is a time the
// unit derived beyond what the store holds (event.ErrTimeRange: an expiry,
// a plan renewed too far): the event or request is refused as invalid.
func refused(err, sentinel error) error {
	if errors.Is(err, event.ErrTimeRange) && !errors.Is(err, sentinel) {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}

// local puts an outcome's times in the engine's zone: a host reads them as
// it gave them.
func (e *Engine) local(out *change.Outcome) {
	out.Time = out.Time.In(e.loc)
	for i := range out.Changes {
		out.Changes[i].Time = out.Changes[i].Time.In(e.loc)
	}
	for i := range out.Entries {
		out.Entries[i].Time = out.Entries[i].Time.In(e.loc)
	}
}

// Update runs fn as a unit of work that is not idempotent by itself (a
// bulk operation made of idempotent steps, a recompute): its changes go to
// the feed, and the followers run for the members it changed. req.At and
// req.Ref are the unit's time and reference; req.Action, Operator and
// Body (or Input) are what the audit trail and the journal keep of it
// (req.ID, when set, names it in the audit trail; it is not an
// idempotency key).
func (e *Engine) Update(ctx context.Context, req Request, fn func(u *Unit) error) (*change.Outcome, error) {
	at, ref := req.At, req.Ref
	if !at.IsZero() {
		if err := event.CheckTime(at); err != nil {
			return nil, fmt.Errorf("%w: at: %w", event.ErrInvalidArgument, err)
		}
	}
	var input []byte
	if e.jr.on {
		body := req.Input
		if body == nil {
			body = req.Body
		}
		var err error
		if input, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err)
		}
	}
	out := &change.Outcome{Event: ref.Event, Time: at}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		out.Changes, out.Entries = nil, nil // a store may run fn again
		tp := e.newTape()
		err := e.unit(tx, at, ref, out, nil, tp, func(u *Unit) error {
			if err := fn(u); err != nil {
				return err
			}
			return u.settle(0)
		})
		if err != nil {
			return err
		}
		if req.ID != "" {
			if err := e.audit(tx, req, req.Member, nil); err != nil {
				return err
			}
		}
		in := Input{Kind: InputUpdate, At: at, Action: req.Action, Body: input, Digest: inputDigest(tp, out), Rand: tp.bytes()}
		return e.journal(tx, nil, req.Member, in)
	})
	if err != nil {
		return nil, refused(err, event.ErrInvalidArgument)
	}
	e.local(out)
	return out, nil
}

// View runs fn in a read-only transaction, with a unit at time at that can
// read every domain's state but not publish changes.
func (e *Engine) View(ctx context.Context, at time.Time, fn func(u *Unit) error) error {
	return e.st.View(ctx, func(tx store.Tx) error {
		led := ledger.New(tx, e.loc)
		led.SetStripes(e.stripes)
		u := &Unit{e: e, tx: tx, led: led, at: at, out: &change.Outcome{}, states: make([]State, len(e.parts))}
		for _, i := range e.stateful {
			u.states[i] = e.parts[i].(Stateful).NewState()
		}
		return fn(u)
	})
}

// DryView runs fn in a unit of work at time at that may write, on a
// drytx.Tx over a read-only transaction of the store (as Quote runs an
// event): what fn writes, or what the parts write for it (a term end due
// by at that Advance has not performed, which reading the member's level
// performs first), its own reads see, and it is dropped at the end with the
// unit's changes. Nothing reaches the store, the feed or the due index. A
// query that answers for a time uses it to answer for the state at that
// time rather than the state as stored.
func (e *Engine) DryView(ctx context.Context, at time.Time, fn func(u *Unit) error) error {
	return e.st.View(ctx, func(tx store.Tx) error {
		d := drytx.New(tx)
		defer d.End()
		return e.unit(d.Tx(), at, ledger.Ref{}, &change.Outcome{}, nil, nil, fn)
	})
}

// advancePage is how many due items one store transaction performs; pages
// keep transactions short so events are not held up behind a long catch-up.
const advancePage = 256

// Advance performs, in time order, everything that fell due up to now; see
// membership.Program.Advance.
func (e *Engine) Advance(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, _, err := e.advancePage(ctx, now)
		if err != nil {
			return total, err
		}
		total += n
		// Stop only on an empty page: performing an item may schedule the
		// next one already due (a member who missed several terms while the
		// host was down), and that must run in this call too. The feed
		// then takes in what is pending, so that it stays short even when
		// no consumer reads the feed.
		if n == 0 {
			if err := e.sequence(ctx); err != nil {
				return total, err
			}
			return total, e.retain(ctx, now)
		}
	}
}

// advancePage performs up to advancePage items due by now in one store
// transaction, and returns how many and, when the journal is on or a
// replay runs, the digest of what they did (pageDigest); with none due, it
// moves the watermark to now. The page is one input of the journal.
func (e *Engine) advancePage(ctx context.Context, now time.Time) (int, uint64, error) {
	n := 0
	var digest uint64
	err := e.st.Update(ctx, func(tx store.Tx) error {
		items, err := due.Next(tx, now, advancePage)
		if err != nil {
			return err
		}
		n, digest = len(items), 0
		tp := e.newTape()
		for _, it := range items {
			pt, ok := e.dueBy[it.Kind]
			if !ok {
				// Every part is registered whatever the definition, so no
				// version writes a kind none performs: the item is
				// damaged, and dropping it would lose its work unseen.
				return fmt.Errorf("%w: due item %s %s at %s of an unknown kind", ErrCorrupt, it.Kind, it.ID, it.At.Format(time.RFC3339))
			}
			out := &change.Outcome{Time: it.At}
			err := e.unit(tx, it.At, ledger.Ref{Note: "due " + it.Kind}, out, nil, tp, func(u *Unit) error {
				if err := pt.Due(u, it); err != nil {
					return err
				}
				return u.settle(0)
			})
			if err != nil {
				return fmt.Errorf("due %s %s at %s: %w", it.Kind, it.ID, it.At.Format(time.RFC3339), err)
			}
			if tp != nil {
				digest = pageDigest(digest, out)
			}
			if err := due.Done(tx, it); err != nil {
				return err
			}
		}
		in := Input{Kind: InputAdvance, At: now, Items: n, Digest: digest, Digested: true, Rand: tp.bytes()}
		if err := e.journal(tx, nil, "", in); err != nil {
			return err
		}
		if n == 0 {
			if err := e.checkDefinition(tx); err != nil {
				return err
			}
			return setWatermark(tx, now)
		}
		return nil
	})
	return n, digest, err
}

var watermarkKey = []byte("watermark")

func setWatermark(tx store.Tx, now time.Time) error {
	if v, err := tx.Get(bMeta, watermarkKey); err == nil && keys.U64(v, 0) >= keys.TimeU64(now) {
		return nil
	}
	return tx.Put(bMeta, watermarkKey, keys.New().Time(now))
}

// Watermark returns the latest time Advance has completed up to (zero
// before the first call), in the engine's zone.
func (e *Engine) Watermark(ctx context.Context) (time.Time, error) {
	var w time.Time
	err := e.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(bMeta, watermarkKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case len(v) != 8:
			return fmt.Errorf("%w: watermark", ErrCorrupt)
		}
		w = keys.U64Time(keys.U64(v, 0)).In(e.loc)
		return nil
	})
	return w, err
}

// settle calls each follower once for each member whose changes, from
// the unit's change number from on, it follows; the followers' own changes
// do not call them again.
func (u *Unit) settle(from int) error {
	changes := u.out.Changes[from:]
	for _, pt := range u.e.parts {
		f, ok := pt.(Follower)
		if !ok {
			continue
		}
		var members []string
		for _, c := range changes {
			if c.Member != "" && f.Follows(c.Kind) && !slices.Contains(members, c.Member) {
				members = append(members, c.Member)
			}
		}
		for _, m := range members {
			if err := f.Follow(u, m); err != nil {
				return err
			}
		}
	}
	return nil
}
