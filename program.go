package membership

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // program zones must load on hosts without a zoneinfo database

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Sentinel errors of the root package. Errors from the domain packages
// (ledger.ErrInsufficientBalance, event.ErrMissingAttribute, …) are wrapped
// and pass through errors.Is as well.
var (
	// ErrUnknownEventType is returned for an event of an undeclared type.
	ErrUnknownEventType = event.ErrUnknownType
	// ErrInvalidEvent is returned for an event that fails validation; the
	// error also wraps the specific cause and names the field.
	ErrInvalidEvent = errors.New("membership: invalid event")
	// ErrEventConflict is returned for an event ID already processed with
	// different content.
	ErrEventConflict = errors.New("membership: event ID reused with different content")
	// ErrInsufficientBalance is returned when a debit exceeds a balance.
	ErrInsufficientBalance = ledger.ErrInsufficientBalance
	// ErrInvalidArgument is returned for a malformed request to a Program
	// method (an empty member, a negative amount, …).
	ErrInvalidArgument = errors.New("membership: invalid argument")
)

// Option configures Open.
type Option func(*Program)

// WithClock sets the clock the scheduler and operator calls without an
// explicit time read. The default reads the wall clock; rules never do.
func WithClock(now func() time.Time) Option { return func(p *Program) { p.clock = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(p *Program) { p.log = l } }

// WithRand sets the random source used for coupon codes and random amounts
// (default crypto/rand.Reader).
func WithRand(r io.Reader) Option { return func(p *Program) { p.rand = r } }

// Program is a membership program opened on a store: it validates and
// applies events, performs due work and answers queries. It is safe for
// concurrent use.
type Program struct {
	st    store.Store
	def   Definition
	loc   *time.Location
	types map[string]event.Type
	clock func() time.Time
	log   *slog.Logger
	rand  io.Reader
	parts []part
	dueBy map[string]part
	// levelOf and tagsOf are set by the level and tag parts, so other parts
	// can target members by level and tag.
	levelOf func(t *txn, member string) (string, error)
	tagsOf  func(t *txn, member string) ([]string, error)
	// units keeps unit-of-work state for reuse (see unitState), calls
	// Process's store functions (see processCall).
	units, calls sync.Pool
}

// Open validates def and returns a program on st. The store holds all
// state; several Programs must not share one store.
func Open(st store.Store, def Definition, opts ...Option) (*Program, error) {
	if st == nil {
		return nil, fmt.Errorf("membership: open: %w: nil store", ErrInvalidArgument)
	}
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("membership: open: %w", err)
	}
	loc, _ := time.LoadLocation(def.Zone)
	p := &Program{
		st:    st,
		def:   def,
		loc:   loc,
		types: map[string]event.Type{},
		clock: time.Now,
		log:   slog.New(slog.DiscardHandler),
		rand:  rand.Reader,
		dueBy: map[string]part{},
	}
	for _, o := range opts {
		o(p)
	}
	for _, t := range def.Events {
		p.types[t.Name] = t
	}
	p.parts = p.newParts()
	for _, pt := range p.parts {
		for _, k := range pt.dueKinds() {
			p.dueBy[k] = pt
		}
	}
	return p, nil
}

// Definition returns the program's definition.
func (p *Program) Definition() Definition { return p.def }

// Location returns the program's time zone.
func (p *Program) Location() *time.Location { return p.loc }

// part is one domain package's share in processing, wired here.
type part interface {
	// process applies the part's rules to one event.
	process(t *txn, ev event.Event) error
	// dueKinds lists the due item kinds the part performs.
	dueKinds() []string
	// due performs one due item.
	due(t *txn, it due.Item) error
}

// follower is a part whose state follows what other parts change outside
// an event (a level changed by a term end or an operator): follow is called
// once per member changed by a due item or an operator request, after the
// change, in the same transaction. (Events need no such call: the parts
// run in order, and the followers run last.)
type follower interface {
	follow(t *txn, member string) error
}

// settle calls the followers for each member a unit of work changed; the
// followers' own changes do not call them again.
func (t *txn) settle(from int) error {
	var members []string
	for _, c := range t.out.Changes[from:] {
		if c.Member != "" && !strings.HasPrefix(c.Kind, "tag.") && !slices.Contains(members, c.Member) {
			members = append(members, c.Member)
		}
	}
	for _, pt := range t.p.parts {
		f, ok := pt.(follower)
		if !ok {
			continue
		}
		for _, m := range members {
			if err := f.follow(t, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// rewarder is a part that can fulfil rewards (level gifts, task rewards).
type rewarder interface {
	rewardKinds() []rule.RewardKind
	reward(t *txn, member string, r rule.Reward, why rule.Reason) error
}

// newParts lists the parts in processing order.
func (p *Program) newParts() []part {
	var parts []part
	if p.def.StoredValue != nil {
		parts = append(parts, &valuePart{p: p, def: *p.def.StoredValue})
	}
	// Order matters: growth and levels first (an upgrade's gifts and the
	// level other rules target), then points, coupons, benefits, tasks
	// (which may reward any of those), and tags last, seeing all the rest.
	for _, pt := range []part{p.levelPart(), p.pointsPart(), p.couponPart(), p.benefitPart(), p.taskPart(), p.tagPart()} {
		if pt != nil {
			parts = append(parts, pt)
		}
	}
	return parts
}

// Outcome says what one event (or operator call) changed and why.
type Outcome struct {
	Event  string    `json:"event"`
	Member string    `json:"member,omitempty"`
	Time   time.Time `json:"time"`
	// Duplicate is set when the event had been processed before: the
	// outcome is the first one and nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
	// Entries are the ledger entries written.
	Entries []ledger.Entry `json:"entries,omitempty"`
	// Changes are the changes published to the change feed, each with the
	// rule, inputs and caps that produced it.
	Changes []Change `json:"changes,omitempty"`
}

// ChangesOf returns the outcome's changes of one kind.
func (o *Outcome) ChangesOf(kind string) []Change {
	var out []Change
	for _, c := range o.Changes {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// Change is one committed change, as published in the change feed.
type Change struct {
	// Seq is the change's position in the feed (1, 2, …).
	Seq    uint64    `json:"seq"`
	Kind   string    `json:"kind"`
	Member string    `json:"member,omitempty"`
	Time   time.Time `json:"time"`
	// Event is the ID of the event (or operator request) that caused it;
	// empty for due work.
	Event string `json:"event,omitempty"`
	// Data is the kind's payload (decode with Decode).
	Data json.RawMessage `json:"data,omitempty"`
	// Reason says why: the rule, the formula's inputs, a cap that cut.
	Reason *rule.Reason `json:"reason,omitempty"`
}

// Decode unmarshals the change's data into v.
func (c Change) Decode(v any) error { return json.Unmarshal(c.Data, v) }

// Change kinds published by the root package.
const (
	ChangeValueRecharged = "value.recharged"
	ChangeValueSpent     = "value.spent"
	ChangeValueRefunded  = "value.refunded"
)

// txn is the context of one unit of work inside a store transaction.
type txn struct {
	p   *Program
	tx  store.Tx
	led *ledger.Ledger
	at  time.Time
	ref ledger.Ref
	out *Outcome
	// feed collects the unit's changes; nil outside a unit (a read-only
	// txn), where emit is an error.
	feed *feedUnit
	// lvl caches the last level state loaded or saved in this unit of
	// work (shared by copies of the txn): an event reads a member's level
	// state several times (catch-up, rules, upgrade).
	lvl *levelCache
	// scratch is the unit's storage for what an event usually needs, so
	// that it is not allocated piece by piece; nil outside a unit.
	scratch *unitScratch
	// box is the event's outcome box (nil for other units): the outcome's
	// reasons and feed record start in it.
	box *outcomeBox
}

// unitScratch holds the legs of a unit's postings and a key buffer.
type unitScratch struct {
	legs  [2]ledger.Leg
	key   [64]byte
	rkeys [4][]byte // an event record's entry keys, built in rbuf
	rbuf  [160]byte
	rec   [256]byte // the event record
	level level.Scratch
	val   [24]byte // an amount record
	// baseName and baseText are the last formula base read in the unit
	// and its text (the event's attribute, the same for every rule).
	baseName, baseText string
}

// outcomeBox is an event's outcome with room for what an event usually
// makes, allocated together: the outcome's entries and changes, the
// changes' reasons and the feed record their payloads are slices of.
type outcomeBox struct {
	out  Outcome
	ents [4]ledger.Entry
	chs  [2]Change
	whys [2]rule.Reason
	nwhy int
	feed [448]byte
}

// newOutcomeBox returns an outcome box whose outcome's Entries and Changes
// are empty slices of its room.
func newOutcomeBox(event, member string, at time.Time) *outcomeBox {
	b := &outcomeBox{out: Outcome{Event: event, Member: member, Time: at}}
	b.out.Entries, b.out.Changes = b.ents[:0], b.chs[:0]
	return b
}

// keepReason returns a copy of r for a change of the outcome: in the box
// while it has room, else on its own.
func (t *txn) keepReason(r *rule.Reason) *rule.Reason {
	if r == nil {
		return nil
	}
	if b := t.box; b != nil && b.nwhy < len(b.whys) {
		b.whys[b.nwhy] = *r
		b.nwhy++
		return &b.whys[b.nwhy-1]
	}
	c := *r
	return &c
}

// keyBuf returns an empty buffer to build a store key in; the key must be
// used (the store copies what it keeps) before keyBuf is called again.
func (t *txn) keyBuf() keys.Builder {
	if t.scratch == nil {
		return keys.New()
	}
	return t.scratch.key[:0]
}

// formulaReason is the reason a formula gives (rule.Formula.Apply's), with
// its text made once (formula) and the base's text shared by the rules of
// the unit that read the same attribute.
func (t *txn) formulaReason(ruleID string, f rule.Formula, formula string, base, raw decimal.Decimal) rule.Reason {
	r := rule.Reason{Rule: ruleID, Formula: formula, Raw: raw}
	if f.Kind.ReadsBase() {
		var text string
		if s := t.scratch; s != nil && s.baseName == f.Base {
			text = s.baseText
		} else {
			text = rule.Exact(base)
			if s != nil {
				s.baseName, s.baseText = f.Base, text
			}
		}
		r.Inputs = map[string]string{f.Base: text}
	}
	return r
}

// legs returns a and b as the legs of a transaction that is posted before
// legs is called again: a posting does not keep its legs.
func (t *txn) legs(a, b ledger.Leg) []ledger.Leg {
	if t.scratch == nil {
		return []ledger.Leg{a, b}
	}
	t.scratch.legs = [2]ledger.Leg{a, b}
	return t.scratch.legs[:]
}

// levelCache holds one member's decoded level state, as stored.
type levelCache struct {
	member string
	m      level.Member
	ok     bool
}

func (p *Program) newTxn(tx store.Tx, at time.Time, ref ledger.Ref, out *Outcome) *txn {
	return &txn{p: p, tx: tx, led: ledger.New(tx, p.loc), at: at, ref: ref, out: out, lvl: &levelCache{}}
}

// loadLevel returns a member's level state (ok false for a member never
// seen); the caller gets its own copy to change.
func (t *txn) loadLevel(member string) (level.Member, bool, error) {
	m, ok, err := t.peekLevel(member)
	if err != nil {
		return level.Member{}, ok, err
	}
	return cloneMember(*m), ok, nil
}

// peekLevel is loadLevel for a caller that only reads: it returns the
// cached state itself, which the caller must not change or keep past the
// next saveLevel (a copy of the state costs on every event).
func (t *txn) peekLevel(member string) (*level.Member, bool, error) {
	c := t.lvl
	if c.member != member || member == "" {
		var s level.Scratch
		ls := &s
		if t.scratch != nil {
			ls = &t.scratch.level
		}
		m, ok, err := ls.Load(t.tx, member)
		if err != nil {
			return nil, ok, err
		}
		*c = levelCache{member: member, m: m, ok: ok}
	}
	return &c.m, c.ok, nil
}

// saveLevel stores a member's level state.
func (t *txn) saveLevel(member string, m level.Member) error {
	var s level.Scratch
	ls := &s
	if t.scratch != nil {
		ls = &t.scratch.level
	}
	if err := ls.Save(t.tx, member, m); err != nil {
		t.lvl.member = "" // unknown state: read again
		return err
	}
	*t.lvl = levelCache{member: member, m: cloneMember(m), ok: true}
	return nil
}

func cloneMember(m level.Member) level.Member {
	m.Frozen = slices.Clone(m.Frozen)
	m.Gifted = slices.Clone(m.Gifted)
	m.Plans = slices.Clone(m.Plans)
	return m
}

// post records a ledger transaction at the txn's time and reference unless
// the transaction sets its own. The Posted's Lots are valid until the next
// posting (ledger.Ledger.Append).
func (t *txn) post(lt ledger.Transaction) (ledger.Posted, error) {
	if lt.Time.IsZero() {
		lt.Time = t.at
	}
	if lt.Ref == (ledger.Ref{}) {
		lt.Ref = t.ref
	}
	if t.out.Entries == nil {
		t.out.Entries = make([]ledger.Entry, 0, len(lt.Legs))
	}
	n := len(t.out.Entries)
	posted, err := t.led.Append(t.out.Entries, lt)
	if err != nil {
		return posted, err
	}
	t.out.Entries = posted.Entries
	posted.Entries = posted.Entries[n:len(posted.Entries):len(posted.Entries)]
	return posted, nil
}

const (
	bMeta   = "meta"
	bEvents = "events"
	bOps    = "ops"
	bFeed   = "feed"
)

// emit appends a change to the outcome and to the unit's feed record,
// which Program.unit writes when the unit of work ends.
func (t *txn) emit(kind, member string, data any, why *rule.Reason) error {
	return t.emitWith(kind, member, why, func(b []byte) ([]byte, error) { return appendData(b, data) })
}

// emitWith is emit with the payload's encoder: the changes of every event
// pass their payload's appendJSON, so the payload is not boxed (emit's data
// reaches json.Marshal, which makes the compiler move it to the heap).
func (t *txn) emitWith(kind, member string, why *rule.Reason, enc func([]byte) ([]byte, error)) error {
	f := t.feed
	if f == nil {
		return fmt.Errorf("membership: emit %s outside a unit of work", kind)
	}
	if f.next == 0 {
		n, err := getCounter(t.tx, feedKey)
		if err != nil {
			return err
		}
		f.next = n + 1
	}
	// The outcome keeps a copy of the reason, as the feed record does: a
	// change is what it was when emitted.
	c := Change{Seq: f.next, Kind: kind, Member: member, Time: t.at.UTC(), Event: t.ref.Event, Reason: t.keepReason(why)}
	// The change is encoded straight into the feed record, after room for
	// its length prefix, and its Data is the part of the record holding
	// the payload: no copy of either is made.
	if f.buf == nil {
		if t.box != nil {
			f.buf = t.box.feed[:0] // an event's changes usually fit
		} else {
			f.buf = make([]byte, 0, 512)
		}
	}
	start := len(f.buf)
	f.buf = append(f.buf, make([]byte, binary.MaxVarintLen64)...)
	body := len(f.buf)
	b, d0, d1, err := c.appendRecord(f.buf, enc)
	if err != nil {
		f.buf = f.buf[:start]
		return err
	}
	n := len(b) - body
	k := binary.PutUvarint(b[start:], uint64(n))
	copy(b[start+k:], b[body:])
	shift := body - start - k
	f.buf = b[:start+k+n]
	if d1 > d0 {
		// Capped, so that appending to the outcome's Data cannot write
		// into the record.
		c.Data = f.buf[d0-shift : d1-shift : d1-shift]
	}
	f.next++
	t.out.Changes = append(t.out.Changes, c)
	return nil
}

// feedUnit gathers the changes of one unit of work: they are stored as one
// feed record, keyed by the last change's Seq, and the feed counter is
// read and written once.
type feedUnit struct {
	next uint64 // Seq of the next change; 0 before the first
	buf  []byte // the changes, each length-prefixed
	key  [8]byte
}

// unitState is a unit of work's txn and the state it owns. Units reuse
// them (Program.units): nothing of a unit's state outlives the unit (the
// outcome and the feed record are allocated apart), so an event allocates
// none of it.
type unitState struct {
	t       txn
	lvl     levelCache
	feed    feedUnit
	scratch unitScratch
	led     ledger.Ledger
}

// feedKey is the feed counter's key in bMeta.
var feedKey = []byte("feed")

// unit runs fn as one unit of work (an event, an operator request, a due
// item) and then writes its changes to the feed.
func (p *Program) unit(tx store.Tx, at time.Time, ref ledger.Ref, out *Outcome, fn func(t *txn) error) error {
	u, _ := p.units.Get().(*unitState)
	if u == nil {
		u = &unitState{}
	}
	defer p.units.Put(u)
	u.led.Init(tx, p.loc)
	u.lvl = levelCache{}
	u.feed.next, u.feed.buf = 0, nil // the old record is the old outcome's
	u.scratch.baseName, u.scratch.baseText = "", ""
	u.t = txn{p: p, tx: tx, led: &u.led, at: at, ref: ref, out: out, lvl: &u.lvl, feed: &u.feed, scratch: &u.scratch}
	if err := fn(&u.t); err != nil {
		return err
	}
	f := &u.feed
	if f.next == 0 {
		return nil
	}
	// The record's key and the counter's value are the same 8 bytes (the
	// store copies them).
	k := binary.BigEndian.AppendUint64(f.key[:0], f.next-1)
	if err := tx.Put(bFeed, k, f.buf); err != nil {
		return err
	}
	return tx.Put(bMeta, feedKey, k)
}

// decodeFeed calls fn for each change of a feed record.
func decodeFeed(b []byte, fn func(raw []byte) error) error {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("%w: feed record", errCorruptRecord)
		}
		if err := fn(b[k : k+int(n)]); err != nil {
			return err
		}
		b = b[k+int(n):]
	}
	return nil
}

// schedule adds an item to the due index.
func (t *txn) schedule(at time.Time, kind, id string, payload any) error {
	var raw []byte
	if payload != nil {
		var err error
		if raw, err = marshalData(payload); err != nil {
			return err
		}
	}
	return due.Schedule(t.tx, due.Item{At: at, Kind: kind, ID: id, Payload: raw})
}

// reward fulfils r for member through the part that grants its kind.
func (t *txn) reward(member string, r rule.Reward, why rule.Reason) error {
	for _, pt := range t.p.parts {
		if rw, ok := pt.(rewarder); ok {
			for _, k := range rw.rewardKinds() {
				if k == r.Kind {
					return rw.reward(t, member, r, why)
				}
			}
		}
	}
	return fmt.Errorf("membership: %w: no part grants %q rewards", ErrInvalidArgument, r.Kind)
}

// getCounter returns a counter's value (0 when never set).
func getCounter(tx store.Tx, key []byte) (uint64, error) {
	v, err := tx.Get(bMeta, key)
	switch {
	case err == nil:
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: counter %q", errCorruptRecord, key)
		}
		return keys.U64(v, 0), nil
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	}
	return 0, err
}

// getAmount reads an amount record (zero when absent).
func getAmount(tx store.Tx, bucket string, key []byte) (decimal.Decimal, error) {
	v, err := tx.Get(bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Zero, err
	}
	d, err := codec.ParseAmount(v)
	if err != nil {
		return d, fmt.Errorf("%s %x: %w", bucket, key, err)
	}
	return d, nil
}

// addAmount adds delta to an amount record, deleting it when it reaches
// zero. The record is built in the unit's scratch (the store copies it).
func (t *txn) addAmount(bucket string, key []byte, delta decimal.Decimal) error {
	old, err := t.tx.Get(bucket, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case err != nil:
		return err
	}
	var buf []byte
	if t.scratch != nil {
		buf = t.scratch.val[:0]
	}
	rec, zero, err := codec.AddAmount(buf, old, delta)
	if err != nil {
		return fmt.Errorf("%s %x: %w", bucket, key, err)
	}
	if zero {
		return t.tx.Delete(bucket, key)
	}
	return t.tx.Put(bucket, key, rec)
}

// check validates an event against its declared type.
func (p *Program) check(ev event.Event) error {
	t, ok := p.types[ev.Type]
	if !ok {
		return fmt.Errorf("%w: type: %w %q", ErrInvalidEvent, event.ErrUnknownType, ev.Type)
	}
	if strings.ContainsRune(ev.ID, 0) || strings.ContainsRune(ev.Member, 0) {
		return fmt.Errorf("%w: id or member contains a NUL byte", ErrInvalidEvent)
	}
	if err := t.Check(ev); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if sv := p.def.StoredValue; sv != nil && (ev.Type == sv.Recharge || ev.Type == sv.Spend || ev.Type == sv.Refund) {
		amt, _ := ev.Decimal(sv.Amount)
		if !amt.IsPositive() {
			return fmt.Errorf("%w: attrs.%s: amount must be positive, got %s", ErrInvalidEvent, sv.Amount, amt)
		}
		if !amt.Equal(amt.Truncate(valueScale(*sv))) {
			return fmt.Errorf("%w: attrs.%s: more than %d decimal places", ErrInvalidEvent, sv.Amount, valueScale(*sv))
		}
	}
	return nil
}

// Process validates ev and applies every rule it triggers in one store
// transaction, returning what changed. An invalid event (unknown type,
// missing or mistyped attribute, no ID, member or time) returns an error
// wrapping ErrInvalidEvent and the cause, naming the field, and writes
// nothing. The same event ID again returns the first outcome with
// Duplicate set and changes nothing; the same ID with different content
// returns ErrEventConflict. A rule that refuses the event (a stored-value
// spend beyond the balance) returns its error and writes nothing.
func (p *Program) Process(ctx context.Context, ev event.Event) (*Outcome, error) {
	if err := p.check(ev); err != nil {
		return nil, fmt.Errorf("membership: process %q: %w", ev.ID, err)
	}
	c, _ := p.calls.Get().(*processCall)
	if c == nil {
		c = &processCall{p: p}
		c.fn = c.run
	}
	c.ev = ev
	err := p.st.Update(ctx, c.fn)
	out := c.out
	c.ev, c.out = event.Event{}, nil
	p.calls.Put(c)
	if err != nil {
		return nil, fmt.Errorf("membership: process %q: %w", ev.ID, err)
	}
	return out, nil
}

// processCall is Process's store function with its arguments and result.
// Calls reuse them (Program.calls): a closure per event would be two
// allocations (itself and the result it sets).
type processCall struct {
	p   *Program
	ev  event.Event
	out *Outcome
	fn  func(store.Tx) error // c.run, bound once
}

func (c *processCall) run(tx store.Tx) error {
	var err error
	c.out, err = c.p.processTx(tx, c.ev)
	return err
}

// ProcessBatch processes events in order in one store transaction, for bulk
// imports: every event is validated first (the error names the index), and
// if any event fails, nothing of the batch is written. Events already
// processed are returned as duplicates.
func (p *Program) ProcessBatch(ctx context.Context, evs []event.Event) ([]*Outcome, error) {
	var errs []error
	for i, ev := range evs {
		if err := p.check(ev); err != nil {
			errs = append(errs, fmt.Errorf("events[%d] (%q): %w", i, ev.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("membership: process batch: %w", err)
	}
	outs := make([]*Outcome, len(evs))
	err := p.st.Update(ctx, func(tx store.Tx) error {
		for i, ev := range evs {
			out, err := p.processTx(tx, ev)
			if err != nil {
				return fmt.Errorf("events[%d] (%q): %w", i, ev.ID, err)
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: process batch: %w", err)
	}
	return outs, nil
}

func (p *Program) processTx(tx store.Tx, ev event.Event) (*Outcome, error) {
	id := []byte(ev.ID) // read and then written under
	if v, err := tx.Get(bEvents, id); err == nil {
		rec, err := decodeRecord(v)
		if err != nil {
			return nil, err
		}
		if !rec.Event.Same(ev) {
			return nil, ErrEventConflict
		}
		return rec.outcome(tx, p.loc)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	box := newOutcomeBox(ev.ID, ev.Member, ev.Time)
	out := &box.out
	err := p.unit(tx, ev.Time, ledger.Ref{Event: ev.ID}, out, func(t *txn) error {
		t.box = box
		for _, pt := range p.parts {
			if err := pt.process(t, ev); err != nil {
				return err
			}
		}
		// The record is built in the unit's scratch (the store copies it).
		return tx.Put(bEvents, id, newRecord(ev, t).appendTo(t.scratch.rec[:0]))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// apply runs an operator request idempotently: key identifies the request
// (a retry with the same key and the same request returns the first
// outcome; a different request under the same key is ErrEventConflict).
func (p *Program) apply(ctx context.Context, key string, request any, at time.Time, ref ledger.Ref, member string, fn func(t *txn) error) (*Outcome, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty request ID", ErrInvalidArgument)
	}
	fp, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	if ref.Event == "" {
		ref.Event = key
	}
	var out *Outcome
	err = p.st.Update(ctx, func(tx store.Tx) error {
		if v, err := tx.Get(bOps, []byte(key)); err == nil {
			var rec struct {
				Request json.RawMessage `json:"request"`
				Outcome *Outcome        `json:"outcome"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if string(rec.Request) != string(fp) {
				return ErrEventConflict
			}
			out = rec.Outcome
			out.Duplicate = true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out = &Outcome{Event: key, Member: member, Time: at}
		err := p.unit(tx, at, ref, out, func(t *txn) error {
			if err := fn(t); err != nil {
				return err
			}
			return t.settle(0)
		})
		if err != nil {
			return err
		}
		v, err := json.Marshal(map[string]any{"request": json.RawMessage(fp), "outcome": out})
		if err != nil {
			return err
		}
		return tx.Put(bOps, []byte(key), v)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// view runs fn in a read-only transaction with a ledger.
func (p *Program) view(ctx context.Context, fn func(tx store.Tx, led *ledger.Ledger) error) error {
	return p.st.View(ctx, func(tx store.Tx) error { return fn(tx, ledger.New(tx, p.loc)) })
}

// Feed returns up to limit changes after position after (0: from the
// start), in order; limit defaults to 1,000 and is at most 10,000. A host keeps the Seq of the last change it has sent
// and asks again from there, so nothing is lost if it crashes between the
// commit and the send; SetCursor stores that position in the program.
func (p *Program) Feed(ctx context.Context, after uint64, limit int) ([]Change, error) {
	switch {
	case limit <= 0:
		limit = 1000
	case limit > 10000:
		limit = 10000
	}
	var out []Change
	err := p.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bFeed, keys.New().U64(after+1), nil, false, func(_, v []byte) error {
			err := decodeFeed(v, func(raw []byte) error {
				if len(out) == limit {
					return store.StopScan
				}
				c, err := decodeChange(raw)
				if err != nil {
					return err
				}
				if c.Seq > after {
					out = append(out, c)
				}
				return nil
			})
			if err == nil && len(out) == limit {
				return store.StopScan
			}
			return err
		})
	})
	return out, err
}

// Cursor returns the feed position stored for consumer (0 if none).
func (p *Program) Cursor(ctx context.Context, consumer string) (uint64, error) {
	var n uint64
	err := p.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(bMeta, []byte("cursor."+consumer))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		n = keys.U64(v, 0)
		return err
	})
	return n, err
}

// SetCursor stores consumer's feed position, after it has sent every
// change up to seq.
func (p *Program) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if consumer == "" {
		return fmt.Errorf("membership: set cursor: %w: empty consumer", ErrInvalidArgument)
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bMeta, []byte("cursor."+consumer), keys.New().U64(seq))
	})
}

// Verify checks every ledger invariant (see ledger.Verify).
func (p *Program) Verify(ctx context.Context) error {
	return p.st.View(ctx, ledger.Verify)
}

// Balance returns a member account's balance.
func (p *Program) Balance(ctx context.Context, a ledger.Account) (bal decimal.Decimal, err error) {
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		bal, err = led.Balance(a)
		return err
	})
	return bal, err
}

// Statement returns a page of an account's statement (see ledger.Query).
func (p *Program) Statement(ctx context.Context, q ledger.Query) (page ledger.Page, err error) {
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		page, err = led.Statement(q)
		return err
	})
	return page, err
}

// Totals returns the net amount per kind moved into member accounts of
// asset over the days from..to ("2006-01-02", inclusive, in the program's
// zone; empty: unbounded).
func (p *Program) Totals(ctx context.Context, asset ledger.Asset, from, to string) (totals map[ledger.Kind]decimal.Decimal, err error) {
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		totals, err = led.Totals(asset, from, to)
		return err
	})
	return totals, err
}
