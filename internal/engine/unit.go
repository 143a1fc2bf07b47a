package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets the engine keeps.
const (
	bMeta    = "meta"         // the watermark, feed cursors
	bEvents  = "events"       // event ID → event record
	bOps     = "ops"          // request ID → request and outcome
	bFeed    = "feed"         // feed position of a record's last change → the record (feed.go)
	bPending = "feed.pending" // member, its record number → a unit's changes of the member, not yet in the feed
	bWhere   = "feed.where"   // the key a record had in bPending → its key in bFeed
	bIDs     = "ids"          // scope, member → last ID allocated (Unit.NextID)
)

// Unit is one unit of work (an event, an operator request, a due item) or
// a read-only view, inside one store transaction. A part reaches the store,
// the ledger, the due index, the feed and the other domains through it.
type Unit struct {
	e   *Engine
	tx  store.Tx
	led *ledger.Ledger
	at  time.Time
	ref ledger.Ref
	out *change.Outcome
	// feed collects the unit's changes; nil in a view, where Emit is an
	// error.
	feed *feedUnit
	// scratch is the unit's room for what an event usually needs; nil in
	// a view.
	scratch *scratch
	// box is the event's outcome box (nil for other units): the outcome's
	// reasons and feed record start in it.
	box    *outcomeBox
	states []State
	// tape is the random source of the unit's input (journal.go); nil
	// when the journal is off and no replay runs.
	tape *tape
	// erasing is the member the unit erases (erase.go): its changes are
	// not refused as those of an erased member.
	erasing string
}

// scratch is room, owned by the engine, for what a unit builds and the
// store copies: an event's record and its entry keys, an amount record.
type scratch struct {
	rkeys [4][]byte // an event record's entry keys, built in rbuf
	rbuf  [160]byte
	rec   [256]byte     // the event record
	val   [128]byte     // a total's key and amount record
	key   [96]byte      // a due item's key, while Ensure runs
	legs  [2]ledger.Leg // Transfer's legs, until the ledger has posted them
	// baseName and baseText are the last formula base read in the unit
	// and its text (the event's attribute, the same for every rule).
	baseName, baseText string
}

// Tx returns the unit's store transaction.
func (u *Unit) Tx() store.Tx { return u.tx }

// At returns the time the unit takes effect at: the event's, the
// request's, the due item's.
func (u *Unit) At() time.Time { return u.at }

// ReadOnly reports whether u is a view's (Engine.View): it reads, and
// writes nothing. Units of events, requests, due work, quotes and dry
// views may write.
func (u *Unit) ReadOnly() bool { return u.feed == nil }

// Location returns the program's time zone.
func (u *Unit) Location() *time.Location { return u.e.loc }

// Definition returns the version of the definition the unit runs under
// (the one in force: a unit fails once another is installed) and a
// fingerprint of it, the first 8 bytes of the SHA-256 of its JSON that
// Install records: two unversioned definitions (version 0) differ by it
// only. Both are 0 for an engine that installed none.
func (u *Unit) Definition() (version, fingerprint uint64) {
	r := &u.e.def.record
	return binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:16])
}

// Ref returns the ledger reference of the unit's postings (Event is the
// event or request ID, empty for due work).
func (u *Unit) Ref() ledger.Ref { return u.ref }

// Ledger returns the ledger in the unit's transaction, for reads; post
// with Post.
func (u *Unit) Ledger() *ledger.Ledger { return u.led }

// Outcome returns the outcome the unit is building.
func (u *Unit) Outcome() *change.Outcome { return u.out }

// State returns the per-unit state of the Stateful part p.
func (u *Unit) State(p Part) State {
	for i, q := range u.e.parts {
		if q == p {
			return u.states[i]
		}
	}
	return nil
}

// As returns a copy of the unit that takes effect at another time and
// reference (a term end caught up inside an event); it shares the unit's
// transaction, outcome and feed.
func (u *Unit) As(at time.Time, ref ledger.Ref) *Unit {
	c := *u
	c.at, c.ref = at, ref
	return &c
}

// Post records a ledger transaction at the unit's time and reference
// unless the transaction sets its own, and adds its entries to the
// outcome. The Posted is the caller's to keep.
func (u *Unit) Post(lt ledger.Transaction) (ledger.Posted, error) {
	if lt.Time.IsZero() {
		lt.Time = u.at
	}
	if lt.Ref == (ledger.Ref{}) {
		lt.Ref = u.ref
	}
	if u.out.Entries == nil {
		// Room for a few postings: a request that posts usually posts
		// more than one (a member's opening, six entries), and an entry
		// is large to copy as the slice grows.
		u.out.Entries = make([]ledger.Entry, 0, max(len(lt.Legs), 8))
	}
	n := len(u.out.Entries)
	posted, err := u.led.Append(u.out.Entries, lt)
	if err != nil {
		return posted, err
	}
	u.out.Entries = posted.Entries
	posted.Entries = posted.Entries[n:len(posted.Entries):len(posted.Entries)]
	// The ledger returns its lots in room it reuses at the next posting;
	// the copy makes them the caller's.
	posted.Lots = slices.Clone(posted.Lots)
	return posted, nil
}

// Transfer posts a transaction of two legs, as Post does: the common
// posting (a member's credit or debit and its pool's counter-leg). The legs
// are copied into the unit's room, which saves the allocation a slice of
// legs costs (a Transaction passed to Post escapes whole).
func (u *Unit) Transfer(kind ledger.Kind, a, b ledger.Leg) (ledger.Posted, error) {
	if u.scratch == nil {
		return u.Post(ledger.Transaction{Kind: kind, Legs: []ledger.Leg{a, b}})
	}
	u.scratch.legs = [2]ledger.Leg{a, b}
	return u.Post(ledger.Transaction{Kind: kind, Legs: u.scratch.legs[:]})
}

// Schedule adds an item to the due index; payload, when not nil, is kept
// as JSON.
func (u *Unit) Schedule(at time.Time, kind, id string, payload any) error {
	var raw []byte
	if payload != nil {
		var err error
		if raw, err = MarshalData(payload); err != nil {
			return err
		}
	}
	return due.Schedule(u.tx, due.Item{At: at, Kind: kind, ID: id, Payload: raw})
}

// Ensure adds a payload-less due item unless it is there already.
func (u *Unit) Ensure(at time.Time, kind string, id []byte) error {
	var buf []byte
	if u.scratch != nil {
		buf = u.scratch.key[:0] // the key is built here; the store copies it
	}
	return due.Ensure(u.tx, buf, at, kind, id)
}

// StampDue reports whether a part stamps the due items that most events
// move (a tag window's edge, see due.Stamp): on a store that keeps its
// keys in pages written at checkpoints (store.Colocator: store/bolt), an
// item keyed by member among its instant's costs a page written for each
// event, and a stamped one is appended. Other stores keep them keyed by
// member: store/memory has no pages, store/postgres no checkpoints. A
// part may stamp only items whose number does not depend on it (Advance's
// count is compared when a journal is replayed on another store).
func (u *Unit) StampDue() bool { return u.e.stamp }

// Unschedule removes a due item (nothing when absent).
func (u *Unit) Unschedule(at time.Time, kind, id string) error {
	return due.Cancel(u.tx, at, kind, id)
}

// Reward fulfils r, granted by from, for member through the part that
// grants its kind. A refusal the rewarder published (a coupon out of
// stock) is an error wrapping ErrRewardRefused, which the caller may
// take as an answer rather than a failure of the unit.
func (u *Unit) Reward(member string, r rule.Reward, from rule.Source, why rule.Reason) error {
	for _, rw := range u.e.rewarders {
		for _, k := range rw.RewardKinds() {
			if k == r.Kind {
				return rw.Reward(u, member, r, from, why)
			}
		}
	}
	return fmt.Errorf("no part of the program grants %q rewards", r.Kind)
}

// MemberLevel returns the member's ladder level ("" without a ladder) at
// the unit's time: in a unit that may write, a term end due by then that
// Advance has not performed being performed first (see Levels); in a
// view, as stored. A unit dated before the member's latest level change
// (a late event) reads the level the member held then.
func (u *Unit) MemberLevel(member string) (string, error) {
	if u.e.levels == nil {
		return "", nil
	}
	return u.e.levels.Level(u, member)
}

// MemberCurrentLevel is MemberLevel, but the level the member holds now
// even in a unit dated before their latest level change (see
// Levels.CurrentLevel).
func (u *Unit) MemberCurrentLevel(member string) (string, error) {
	if u.e.levels == nil {
		return "", nil
	}
	return u.e.levels.CurrentLevel(u, member)
}

// MemberPlans returns the paid plans the member holds at the unit's time,
// those held then for a unit dated before the member's latest plan
// change (see Levels.Plans).
func (u *Unit) MemberPlans(member string) ([]string, error) {
	if u.e.levels == nil {
		return nil, nil
	}
	return u.e.levels.Plans(u, member)
}

// MemberTags returns the member's tags (none without a tag part).
func (u *Unit) MemberTags(member string) ([]string, error) {
	if u.e.tags == nil {
		return nil, nil
	}
	return u.e.tags.Tags(u, member)
}

// NextID allocates the next number (1, 2, …) in scope for member: coupon
// IDs and every other ID a domain cannot take from the event or request.
// The counter is the member's own, so units for different members never
// share it; an ID made from it must name the member to be unique.
func (u *Unit) NextID(scope, member string) (uint64, error) {
	k := keys.New().Str(scope).Str(member)
	var n uint64
	v, err := u.tx.Get(bIDs, k)
	switch {
	case err == nil:
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: id counter %q of %q", ErrCorrupt, scope, member)
		}
		n = keys.U64(v, 0)
	case !errors.Is(err, store.ErrNotFound):
		return 0, err
	}
	n++
	return n, u.tx.Put(bIDs, k, keys.New().U64(n))
}

// AddTotal adds delta to a total kept under (bucket, key), in member's
// stripe, or the one the unit's transaction chooses (internal/total,
// store.StripeChooser): totals are the engine's, read them with Total.
func (u *Unit) AddTotal(bucket string, key []byte, member string, delta decimal.Decimal) error {
	var buf []byte
	if u.scratch != nil {
		buf = u.scratch.val[:0] // the store copies what it keeps
	}
	return total.Add(u.tx, bucket, key, total.StripeOf(u.tx, member, u.e.stripes), delta, buf)
}

// Stripe returns member's stripe of the shared totals a domain keeps
// itself, or the one the unit's transaction chooses (internal/total,
// store.StripeChooser): a domain whose totals are not plain amounts
// (coupon statistics) suffixes their keys with it and merges on read.
func (u *Unit) Stripe(member string) uint16 { return total.StripeOf(u.tx, member, u.e.stripes) }

// Total reads a total kept by AddTotal (zero when absent): the sum of its
// stripes.
func Total(tx store.Tx, bucket string, key []byte) (decimal.Decimal, error) {
	return total.Sum(tx, bucket, key)
}

// Count reads a total kept by AddTotal as a count: one that is not a
// whole number an int64 holds is ErrCorrupt.
func Count(tx store.Tx, bucket string, key []byte) (int64, error) {
	return total.Count(tx, bucket, key)
}

// CheckLimit returns event.CheckDecimal's error for d, a sum of amounts
// that each keep to the limit on decimals (a balance, a cumulative
// total), as it reads (String, as a change or an export writes it): the
// trailing zeros of an amount written with places (9e39 plus 1.00 is
// 9000…001.00) are no digits of it.
func CheckLimit(d decimal.Decimal) error {
	err := event.CheckDecimal(d)
	if err != nil && d.Exponent() < 0 {
		if read, perr := decimal.NewFromString(d.String()); perr == nil {
			err = event.CheckDecimal(read)
		}
	}
	return err
}

// SkipRule publishes change.RuleSkipped for the rule ruleID of part
// ("growth", "points"), which applies to the unit's event but did not run
// because the event lacks attr, an optional attribute its formula (whose
// text is formula) reads. The event's other rules go on.
func (u *Unit) SkipRule(member, part, ruleID, formula, attr string) error {
	return u.Emit(change.RuleSkipped, member, change.Skip{Part: part, Rule: ruleID, Attribute: attr}, &rule.Reason{
		Rule: ruleID, Formula: formula,
		Note: fmt.Sprintf("skipped: the event has no %q attribute (optional), which the formula reads", attr),
	})
}

// FormulaReason is the reason a formula gives (rule.Formula.Apply's),
// with its text made once by the caller (formula) and the base's text
// shared by the rules of the unit that read the same attribute.
func (u *Unit) FormulaReason(ruleID string, f rule.Formula, formula string, base, raw decimal.Decimal) rule.Reason {
	r := rule.Reason{Rule: ruleID, Formula: formula, Raw: raw}
	if f.Kind.ReadsBase() {
		var text string
		if s := u.scratch; s != nil && s.baseName == f.Base {
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
