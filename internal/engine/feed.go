package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// feedKey is the feed counter's key in bMeta.
var feedKey = []byte("feed")

// feedUnit gathers the changes of one unit of work: they are stored as one
// feed record, keyed by the last change's Seq, and the feed counter is
// read and written once.
type feedUnit struct {
	next uint64 // Seq of the next change; 0 before the first
	buf  []byte // the changes, each length-prefixed
	key  [8]byte
}

// write stores the unit's feed record and the feed counter, when the unit
// published anything.
func (f *feedUnit) write(tx store.Tx) error {
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
	if f.next == 0 {
		n, err := getCounter(u.tx, feedKey)
		if err != nil {
			return err
		}
		f.next = n + 1
	}
	// The outcome keeps a copy of the reason, as the feed record does: a
	// change is what it was when emitted.
	c := change.Change{Seq: f.next, Kind: kind, Member: member, Time: u.at.In(u.e.loc), Event: u.ref.Event, Reason: u.keepReason(why)}
	// The change is encoded straight into the feed record, after room for
	// its length prefix, and its Data is the part of the record holding
	// the payload: no copy of either is made.
	if f.buf == nil {
		if u.box != nil {
			f.buf = u.box.feed[:0] // an event's changes usually fit
		} else {
			f.buf = make([]byte, 0, 512)
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

// Feed returns up to limit changes after position after (0: from the
// start), in order, with times in the engine's zone.
func (e *Engine) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	var out []change.Change
	err := e.st.View(ctx, func(tx store.Tx) error {
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
					c.Time = c.Time.In(e.loc)
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

// cursorKey is the key of a consumer's feed cursor in bMeta.
func cursorKey(consumer string) []byte { return []byte("cursor." + consumer) }

// Cursor returns the feed position stored for consumer (0 if none).
func (e *Engine) Cursor(ctx context.Context, consumer string) (uint64, error) {
	var n uint64
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = getCounter(tx, cursorKey(consumer))
		return err
	})
	return n, err
}

// SetCursor stores consumer's feed position.
func (e *Engine) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if consumer == "" {
		return fmt.Errorf("%w: empty consumer", event.ErrInvalidArgument)
	}
	return e.st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bMeta, cursorKey(consumer), keys.New().U64(seq))
	})
}
