package engine

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// The change feed is written in two steps, so that units of work for
// different members share no key (issue 14: several instances on one
// database). A unit writes its changes, one record per member it changed,
// under that member's own sequence number in bPending (member, NUL, the member's
// record number). The sequencer (sequence, run by Feed and Advance) then
// gives pending records their feed positions in one transaction of its
// own: it moves each to bFeed under the position of its last change, notes
// in bWhere where it went (for a repeated event's outcome), and advances
// the feed counter. Each member's records are numbered in the order its
// units commit (the counter is the member's), and the sequencer takes them
// in key order, so a member's changes reach the feed in order, each once.
// Changes of different members are ordered by when the sequencer met
// them, not by when they were made.

// feedKey is the feed counter's key in bMeta: the position of the last
// change sequenced.
var feedKey = []byte("feed")

// feedUnit gathers the changes of one unit of work until they are written
// as pending records.
type feedUnit struct {
	next    uint64 // number of the next change in the unit; 0 before the first
	buf     []byte // the changes, each length-prefixed
	member  string // the member of every change so far
	many    bool   // the changes name more than one member
	written bool
	keys    [][]byte // the pending records' keys, once written
	// earliest is the earliest time of a change so far: before the
	// unit's own when it performed due work first (see keepOld).
	earliest time.Time
}

func (f *feedUnit) reset() {
	*f = feedUnit{} // the old record and keys are the old outcome's
}

// write stores the unit's changes as pending records, one per member
// (once: a unit whose record must name them writes them early).
func (f *feedUnit) write(u *Unit) error {
	if f.written || f.next == 0 {
		return nil
	}
	f.written = true
	if err := f.keepOld(u); err != nil {
		return err
	}
	if !u.e.split {
		return f.append(u)
	}
	if !f.many {
		return f.put(u, f.member, f.buf)
	}
	// Changes of several members (a bulk request, a referral): a record
	// per member, in the order each first appears.
	var members []string
	parts := map[string][]byte{}
	err := decodeFeed(f.buf, func(raw []byte) error {
		m, err := changeMember(raw)
		if err != nil {
			return err
		}
		if _, ok := parts[m]; !ok {
			members = append(members, m)
		}
		parts[m] = append(binary.AppendUvarint(parts[m], uint64(len(raw))), raw...)
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := f.put(u, m, parts[m]); err != nil {
			return err
		}
	}
	return nil
}

// keepOld notes, for an event's or a request's unit, the unit's time
// under each of its feed records whose changes all come before it: due
// work it performed first (a term end due weeks before, when Advance
// lagged). Retention dates a feed record by its changes, and would prune
// such a record while the unit's own record, dated by the unit, still
// names it for a retry (see namedOld). The records are the ones write
// stores, byte for byte, wherever the feed puts them.
func (f *feedUnit) keepOld(u *Unit) error {
	if u.ref.Event == "" || !f.earliest.Before(u.at) {
		return nil // due work, or no change before the unit: the usual case
	}
	recs := [][]byte{f.buf}
	if u.e.split && f.many {
		parts := map[string][]byte{}
		var members []string
		err := decodeFeed(f.buf, func(raw []byte) error {
			m, err := changeMember(raw)
			if _, ok := parts[m]; !ok {
				members = append(members, m)
			}
			parts[m] = append(binary.AppendUvarint(parts[m], uint64(len(raw))), raw...)
			return err
		})
		if err != nil {
			return err
		}
		recs = recs[:0]
		for _, m := range members {
			recs = append(recs, parts[m])
		}
	}
	for _, rec := range recs {
		latest, err := recordLatest(rec)
		if err != nil {
			return err
		}
		if latest.Before(u.at) {
			if err := u.tx.Put(bMeta, oldFeedKey(rec), keys.New().Time(u.at)); err != nil {
				return err
			}
		}
	}
	return nil
}

// oldFeedKey is the key in bMeta of a note of keepOld: the record's hash.
func oldFeedKey(rec []byte) []byte {
	sum := sha256.Sum256(rec)
	return append([]byte("feed.old."), sum[:16]...)
}

// recordLatest returns the latest time of a feed record's changes.
func recordLatest(rec []byte) (time.Time, error) {
	var latest time.Time
	err := decodeFeed(rec, func(raw []byte) error {
		at, err := changeTime(raw)
		if at.After(latest) {
			latest = at
		}
		return err
	})
	return latest, err
}

// append writes the unit's changes as one record at the feed's tail, with
// their positions, for a store that runs Updates one at a time (no
// store.Striper): the tail is then no writer's contention, and appending
// there costs the memory store's Process 8% less than a pending record
// per member and its counter (BenchmarkProcessMemorySerial).
func (f *feedUnit) append(u *Unit) error {
	last, err := getCounter(u.tx, feedKey)
	if err != nil {
		return err
	}
	last += f.next - 1
	k := keys.New().U64(last)
	f.keys = append(f.keys, k)
	if err := u.tx.Put(bFeed, k, f.buf); err != nil {
		return err
	}
	return u.tx.Put(bMeta, feedKey, k)
}

// put writes one member's pending record, numbered by the member's
// ledger sequence (ledger.Ledger.Sequence): the event's own transaction
// number when it posted one, so that it reads and writes no other
// counter.
func (f *feedUnit) put(u *Unit, member string, rec []byte) error {
	n, err := u.led.Sequence(member)
	if err != nil {
		return err
	}
	k := keys.New().Str(member).U64(n)
	f.keys = append(f.keys, k)
	// The number is new, and so is the key: inserted unread where the
	// store can (store.Inserter), as the ledger's entries are.
	if ins, ok := u.tx.(store.Inserter); ok && ins.Fresh(bPending, k) {
		return ins.Insert(bPending, k, rec)
	}
	return u.tx.Put(bPending, k, rec)
}

// outcomeBox is an event's outcome with room for what an event usually
// makes, allocated together: the outcome's entries and changes, the
// changes' reasons and the feed record their payloads are slices of.
type outcomeBox struct {
	out  change.Outcome
	ents [4]ledger.Entry
	chs  [2]change.Change
	whys [2]rule.Reason
	nwhy int
	feed [448]byte
}

// newOutcomeBox returns an outcome box whose outcome's Entries and Changes
// are empty slices of its room.
func newOutcomeBox(event, member string, at time.Time) *outcomeBox {
	b := &outcomeBox{out: change.Outcome{Event: event, Member: member, Time: at}}
	b.out.Entries, b.out.Changes = b.ents[:0], b.chs[:0]
	return b
}

// keepReason returns a copy of r for a change of the outcome: in the box
// while it has room, else on its own.
func (u *Unit) keepReason(r *rule.Reason) *rule.Reason {
	if r == nil {
		return nil
	}
	if b := u.box; b != nil && b.nwhy < len(b.whys) {
		b.whys[b.nwhy] = *r
		b.nwhy++
		return &b.whys[b.nwhy-1]
	}
	c := *r
	return &c
}

// Emit publishes a change: it is added to the outcome and to the unit's
// feed record, written when the unit of work ends. data is the kind's
// payload, encoded as JSON (a payload that implements JSONAppender writes
// its own).
func (u *Unit) Emit(kind, member string, data any, why *rule.Reason) error {
	return u.EmitWith(kind, member, why, func(b []byte) ([]byte, error) { return AppendData(b, data) })
}

// EmitWith is Emit with the payload's encoder: the changes every event
// publishes pass their payload's encoder, so the payload is not boxed
// (Emit's data reaches json.Marshal, which moves it to the heap).
func (u *Unit) EmitWith(kind, member string, why *rule.Reason, enc func([]byte) ([]byte, error)) error {
	f := u.feed
	if f == nil {
		return fmt.Errorf("emit %s outside a unit of work", kind)
	}
	if f.written {
		return fmt.Errorf("emit %s after the unit's changes were written", kind)
	}
	if f.next == 0 {
		f.next, f.member = 1, member
	} else if member != f.member {
		f.many = true
	}
	// The outcome keeps a copy of the reason, as the feed record does: a
	// change is what it was when emitted. The record keeps the change's
	// number in the unit as its Seq (a repeated event's outcome is rebuilt
	// in that order); the feed's position is given when it is sequenced.
	c := change.Change{Seq: f.next, Kind: kind, Member: member, Time: u.at.In(u.e.loc), Event: u.ref.Event, Reason: u.keepReason(why)}
	if f.earliest.IsZero() || u.at.Before(f.earliest) {
		f.earliest = u.at
	}
	// The change is encoded straight into the feed record, after room for
	// its length prefix, and its Data is the part of the record holding
	// the payload: no copy of either is made.
	if f.buf == nil {
		if u.box != nil {
			f.buf = u.box.feed[:0] // an event's changes usually fit
		} else {
			// A request's record: room for a member's opening, whose six
			// changes would otherwise regrow the record and the outcome's
			// changes three times each.
			f.buf = make([]byte, 0, 1024)
			if u.out.Changes == nil {
				u.out.Changes = make([]change.Change, 0, 8)
			}
		}
	}
	start := len(f.buf)
	f.buf = append(f.buf, make([]byte, binary.MaxVarintLen64)...)
	body := len(f.buf)
	b, d0, d1, err := appendChange(f.buf, &c, enc)
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
	c.Seq = 0
	u.out.Changes = append(u.out.Changes, c)
	return nil
}

// getCounter returns a counter's value in bMeta (0 when never set).
func getCounter(tx store.Tx, key []byte) (uint64, error) {
	v, err := tx.Get(bMeta, key)
	switch {
	case err == nil:
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: counter %q", ErrCorrupt, key)
		}
		return keys.U64(v, 0), nil
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	}
	return 0, err
}

// decodeFeed calls fn for each change of a feed record.
func decodeFeed(b []byte, fn func(raw []byte) error) error {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("%w: feed record", ErrCorrupt)
		}
		if err := fn(b[k : k+int(n)]); err != nil {
			return err
		}
		b = b[k+int(n):]
	}
	return nil
}

// sequencePage is how many pending records one transaction of the
// sequencer moves into the feed.
const sequencePage = 1024

// sequence gives every pending record its place in the feed (see
// feedUnit), a page of records a transaction.
func (e *Engine) sequence(ctx context.Context) error {
	for {
		n := 0
		err := e.st.Update(ctx, func(tx store.Tx) error {
			n = 0
			last, err := getCounter(tx, feedKey)
			if err != nil {
				return err
			}
			var ks, vs [][]byte // copied: the scan's bytes are the store's, and a scan must not write
			err = tx.Scan(bPending, nil, nil, false, func(k, v []byte) error {
				ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
				if len(ks) == sequencePage {
					return store.StopScan
				}
				return nil
			})
			if err != nil {
				return err
			}
			for i, k := range ks {
				c, err := countChanges(vs[i])
				if err != nil {
					return fmt.Errorf("pending feed record %q: %w", k, err)
				}
				last += c
				at := keys.New().U64(last)
				if err := tx.Put(bFeed, at, vs[i]); err != nil {
					return err
				}
				if err := tx.Put(bWhere, k, at); err != nil {
					return err
				}
				if err := tx.Delete(bPending, k); err != nil {
					return err
				}
			}
			n = len(ks)
			if n == 0 {
				return nil
			}
			return tx.Put(bMeta, feedKey, keys.New().U64(last))
		})
		if err != nil || n < sequencePage {
			return err
		}
	}
}

// countChanges returns the number of changes in a feed record.
func countChanges(rec []byte) (uint64, error) {
	var n uint64
	err := decodeFeed(rec, func([]byte) error { n++; return nil })
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: empty feed record", ErrCorrupt)
	}
	return n, err
}

// Feed returns up to limit changes after position after (0: from the
// start), in order, with times in the engine's zone. It first sequences
// the pending changes, so that it returns every change committed before
// it was called. A position past the feed's head, which no Feed gave
// out, wraps event.ErrInvalidArgument, read from the head's counter
// before the feed is scanned.
func (e *Engine) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	if err := e.sequence(ctx); err != nil {
		return nil, err
	}
	var out []change.Change
	err := e.st.View(ctx, func(tx store.Tx) error {
		// Checked first: a scan from after+1 would find nothing, and
		// for the largest position (after+1 wraps to 0) read the whole
		// feed to find it.
		head, err := getCounter(tx, feedKey)
		if err != nil {
			return err
		}
		if after > head {
			return fmt.Errorf("%w: after: %d is past the feed's head %d", event.ErrInvalidArgument, after, head)
		}
		if err := checkPruned(tx, after); err != nil {
			return err
		}
		var prev uint64 // the last position of the record before, once read
		return tx.Scan(bFeed, keys.New().U64(after+1), nil, false, func(k, v []byte) error {
			n, err := countChanges(v)
			if err != nil {
				return fmt.Errorf("feed record %x: %w", k, err)
			}
			// A record's key is the position of its last change, and the
			// records before it end before its first: damage that breaks
			// this would hand out changes at positions not theirs.
			last := keys.U64(k, 0)
			if len(k) != 8 || last < n || (prev > 0 && last-n < prev) {
				return fmt.Errorf("%w: feed record %x: %d changes do not fit after position %d", ErrCorrupt, k, n, prev)
			}
			prev = last
			seq := last - n // the position before the record's first change
			err = decodeFeed(v, func(raw []byte) error {
				if len(out) == limit {
					return store.StopScan
				}
				seq++
				if seq <= after {
					return nil
				}
				c, err := decodeChange(raw)
				if err != nil {
					return err
				}
				c.Seq = seq
				c.Time = c.Time.In(e.loc)
				out = append(out, c)
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

// recordChanges returns the changes of the records a unit wrote under
// keys (pending or sequenced since), in the order they were made, with
// Seq 0 as in the unit's outcome.
func recordChanges(tx store.Tx, keys [][]byte) ([]change.Change, error) {
	var out []change.Change
	for _, k := range keys {
		var v []byte
		var err error
		if len(k) == 8 { // a position: appended at the tail (a pending key is longer)
			v, err = tx.Get(bFeed, k)
			if err != nil {
				return nil, missing(err, fmt.Sprintf("feed record %x", k))
			}
		} else if v, err = tx.Get(bPending, k); errors.Is(err, store.ErrNotFound) {
			at, err := tx.Get(bWhere, k)
			if err != nil {
				return nil, missing(err, fmt.Sprintf("feed record %q", k))
			}
			if v, err = tx.Get(bFeed, at); err != nil {
				return nil, missing(err, fmt.Sprintf("feed record %q at %x", k, at))
			}
		} else if err != nil {
			return nil, err
		}
		err = decodeFeed(v, func(raw []byte) error {
			c, err := decodeChange(raw)
			out = append(out, c)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b change.Change) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range out {
		out[i].Seq = 0
	}
	return out, nil
}

// cursorKey is the key of a consumer's feed cursor in bMeta.
func cursorKey(consumer string) []byte { return []byte("cursor." + consumer) }

// Cursor returns the feed position stored for consumer (0 if none).
func (e *Engine) Cursor(ctx context.Context, consumer string) (uint64, error) {
	if err := checkConsumer(consumer); err != nil {
		return 0, err
	}
	var n uint64
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = getCounter(tx, cursorKey(consumer))
		return err
	})
	return n, err
}

// SetCursor stores consumer's feed position. A position past the feed's
// head is refused, wrapping event.ErrInvalidArgument and naming seq: such
// a cursor would count as having passed changes not written yet, and
// retention would prune them unread. It first sequences the pending
// changes, as Feed does, so that the head is the last change committed
// before it was called, on every store. The head is read again in the
// transaction that writes the cursor: a sequencer that runs meanwhile
// (another instance's Feed) only moves it on, so a position at or below
// the head read is never past the feed's head.
func (e *Engine) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	if err := e.sequence(ctx); err != nil {
		return err
	}
	return e.st.Update(ctx, func(tx store.Tx) error {
		head, err := getCounter(tx, feedKey)
		if err != nil {
			return err
		}
		if seq > head {
			return fmt.Errorf("%w: seq: %d is past the feed's head %d", event.ErrInvalidArgument, seq, head)
		}
		return tx.Put(bMeta, cursorKey(consumer), keys.New().U64(seq))
	})
}

// DeleteCursor removes consumer's feed cursor (nothing when it has none),
// so that retention no longer waits for it (minCursor reads the cursors
// there are).
func (e *Engine) DeleteCursor(ctx context.Context, consumer string) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	return e.st.Update(ctx, func(tx store.Tx) error { return tx.Delete(bMeta, cursorKey(consumer)) })
}

// checkConsumer checks a feed consumer's name, for Cursor, SetCursor and
// DeleteCursor alike: not empty, and a string within the limits (event.CheckText). The
// error wraps event.ErrInvalidArgument and names the consumer.
func checkConsumer(consumer string) error {
	if consumer == "" {
		return fmt.Errorf("%w: consumer: empty", event.ErrInvalidArgument)
	}
	if err := event.CheckText(consumer); err != nil {
		return fmt.Errorf("%w: consumer: %w", event.ErrInvalidArgument, err)
	}
	return nil
}
