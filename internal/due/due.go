// Package due is the time-ordered index of work that falls due later: lot
// expiries, level term ends, coupon expiries, freeze deadlines, pending
// points releases. Items live in the store, keyed by (time, kind, id), so
// Program.Advance reads exactly what is due, in order, whatever the number
// of members. Items that most events move (a tag window's edge) fall at a
// few instants, a day's at one: on a store with pages their IDs are
// stamped (Stamp), so that they are appended to their instant's items in
// the order they come.
package due

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

const bucket = "due"

// Item is one piece of due work.
type Item struct {
	At      time.Time
	Kind    string
	ID      string
	Payload []byte
}

// Decode decodes the item's JSON payload into v. The payload is what the
// part scheduled, read back from the store: one that does not decode is
// an error wrapping store.ErrCorrupt.
func (it Item) Decode(v any) error {
	if err := json.Unmarshal(it.Payload, v); err != nil {
		return fmt.Errorf("%w: due item's payload: %w", store.ErrCorrupt, err) // the engine names the item
	}
	return nil
}

// errKey is the error of an item whose key or value is damaged.
func errKey(k []byte) error {
	return fmt.Errorf("%w: due: malformed item %q", store.ErrCorrupt, k)
}

// parse reads an item as Schedule and Ensure write it: the time, the kind
// and the ID, each string ended by keys.Sep, and a value of the version
// byte 1 and the payload. Anything else is damage: an item read with
// another key than its own would be performed and never removed (Done
// deletes the key it names), so Advance would read it again for ever.
func parse(k, v []byte) (Item, error) {
	if len(k) < 8 || len(v) == 0 || v[0] != 1 {
		return Item{}, errKey(k)
	}
	parts := bytes.SplitN(k[8:], []byte{keys.Sep}, 3)
	if len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0 || len(parts[2]) != 0 {
		return Item{}, errKey(k)
	}
	return Item{
		At:      keys.U64Time(keys.U64(k, 0)),
		Kind:    string(parts[0]),
		ID:      string(parts[1]),
		Payload: append([]byte(nil), v[1:]...),
	}, nil
}

func key(at time.Time, kind, id string) []byte {
	return keys.New().Time(at).Str(kind).Str(id)
}

// Schedule adds an item; scheduling the same (at, kind, id) again replaces
// its payload. A zero at is refused, and so is one the store cannot hold
// (keys.InRange): the error wraps event.ErrTimeRange, and the unit that
// derived the time (an expiry, a plan's renewal) fails.
func Schedule(tx store.Tx, it Item) error {
	if it.At.IsZero() || it.Kind == "" || it.ID == "" {
		return errors.New("due: item needs a time, a kind and an id")
	}
	if err := checkAt(it.At, it.Kind); err != nil {
		return err
	}
	// The key and the value (a version byte and the payload) share one
	// allocation; the store copies both.
	n := 8 + len(it.Kind) + 1 + len(it.ID) + 1
	b := keys.Builder(make([]byte, 0, n+1+len(it.Payload))).Time(it.At).Str(it.Kind).Str(it.ID)
	b = append(append(b, 1), it.Payload...)
	return tx.Put(bucket, b[:n:n], b[n:])
}

// Ensure is Schedule for an item whose payload says nothing its key does
// not: it writes the item only when it is not there yet, so rescheduling
// it (a member's every grant that expires at the same instant) reads
// instead of writing. In a transaction whose reads go to a server
// (store.Ensurer: store/postgres) it neither reads nor writes: the store
// inserts the item at the commit unless it is there, and the item is the
// same either way. Where reading the file costs more than writing
// (store.Peeker: store/bolt), it looks only at what the transaction and
// the store's recent writes hold, and writes the item unless they hold
// it: an item only the file holds is written again, unchanged (at a
// million members, the read of one a grant did not find was 3% of an
// order's processor time).
// The key is built in buf (the store copies it), so a caller with a
// buffer of its own allocates nothing.
func Ensure(tx store.Tx, buf []byte, at time.Time, kind string, id []byte) error {
	if at.IsZero() || kind == "" || len(id) == 0 {
		return errors.New("due: item needs a time, a kind and an id")
	}
	if err := checkAt(at, kind); err != nil {
		return err
	}
	b := append(keys.Builder(buf[:0]).Time(at).Str(kind), id...)
	b = append(b, keys.Sep)
	n := len(b)
	if e, ok := tx.(store.Ensurer); ok {
		b = append(b, 1)
		return e.Ensure(bucket, b[:n:n], b[n:])
	}
	if p, ok := tx.(store.Peeker); ok {
		// A read that misses would seek in the file's index of due
		// items; writing an item the file holds rewrites it unchanged.
		if v, ok := p.Peek(bucket, b); ok && len(v) == 1 && v[0] == 1 {
			return nil
		}
		b = append(b, 1)
		return tx.Put(bucket, b[:n:n], b[n:])
	}
	v, err := tx.Get(bucket, b)
	switch {
	case err == nil && len(v) == 1 && v[0] == 1:
		return nil // there, with no payload
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	b = append(b, 1)
	return tx.Put(bucket, b[:n:n], b[n:])
}

// checkAt refuses a due time the store cannot hold exactly: every time a
// unit derives and keeps (an expiry, a term end, a deadline) is due at
// some point, so this is where one beyond the store's range is caught.
func checkAt(at time.Time, kind string) error {
	if !keys.InRange(at) {
		return fmt.Errorf("due: %s at year %d: %w", kind, at.Year(), event.ErrTimeRange)
	}
	return nil
}

// Cancel removes an item; cancelling an absent item is not an error.
func Cancel(tx store.Tx, at time.Time, kind, id string) error {
	return tx.Delete(bucket, key(at, kind, id))
}

// Next returns up to limit items due at or before now, earliest first. An
// item whose key or value is not as Schedule writes it is an error
// wrapping store.ErrCorrupt.
func Next(tx store.Tx, now time.Time, limit int) ([]Item, error) {
	var out []Item
	end := keys.New().U64(keys.TimeU64(now) + 1)
	err := tx.Scan(bucket, nil, end, false, func(k, v []byte) error {
		if len(out) == limit {
			return store.StopScan
		}
		it, err := parse(k, v)
		if err != nil {
			return err
		}
		out = append(out, it)
		return nil
	})
	return out, err
}

// Done removes a performed item.
func Done(tx store.Tx, it Item) error { return Cancel(tx, it.At, it.Kind, it.ID) }

// Count returns the number of items due at or before now (for tests and
// forecasts; it reads them).
func Count(tx store.Tx, now time.Time) (int, error) {
	n := 0
	end := keys.New().U64(keys.TimeU64(now) + 1)
	err := tx.Scan(bucket, nil, end, false, func(_, _ []byte) error { n++; return nil })
	return n, err
}
