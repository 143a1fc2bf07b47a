package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

// Retention: what only idempotency and the change feed need is pruned by
// Advance, so that a store stops growing when its member count does. The
// ledger, lots and everything a balance, a statement or a due item reads
// are never pruned.
//
// The horizon (horizonKey in bMeta) is the time before which events and
// requests are refused (event.ErrTooOld). A pass first moves it to
// now − Window, in a transaction of its own, and only then deletes the
// event and request records older than it: a retry of a pruned event is
// refused, never applied twice, and whether a record is still there
// decides nothing. Feed records go once every consumer's cursor has passed
// them and they are older than now − max(Feed, Window), so an event record
// still kept never names a pruned feed record. A feed record's age is its
// latest change's time, except where an event or request performed due
// work first and changed nothing else (a term end due weeks before, when
// Advance lagged): feedUnit.keepOld notes the unit's time for it, and it
// goes only once that time is before the cut too.

// ErrPruned is returned by Feed for a position whose changes were pruned.
var ErrPruned = errors.New("feed changes pruned")

// Retention says how long the engine keeps event and request records and
// feed records; see membership.Retention.
type Retention struct {
	Window time.Duration
	Feed   time.Duration
}

// Defaults of Retention.
const (
	DefaultWindow = 35 * 24 * time.Hour
	DefaultFeed   = 35 * 24 * time.Hour
	// retainEvery is how far Advance's time moves between passes: a pass
	// reads every event record, so it runs once a day, not on every call.
	retainEvery = 24 * time.Hour
	// retainPage is how many records one transaction of a pass reads.
	retainPage = 1024
)

var (
	horizonKey    = []byte("retain.horizon") // events and requests before it are refused
	retainLastKey = []byte("retain.last")    // Advance's time at the last pass
	prunedKey     = []byte("feed.pruned")    // the last feed position pruned
)

// withDefaults returns r with zero durations set to their defaults.
func (r Retention) withDefaults() Retention {
	if r.Window == 0 {
		r.Window = DefaultWindow
	}
	if r.Feed == 0 {
		r.Feed = DefaultFeed
	}
	return r
}

// getTime returns the time stored under key in bMeta (zero if none).
func getTime(tx store.Tx, key []byte) (time.Time, error) {
	v, err := tx.Get(bMeta, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	case len(v) != 8:
		return time.Time{}, fmt.Errorf("%w: %s", ErrCorrupt, key)
	}
	return keys.U64Time(keys.U64(v, 0)), nil
}

// checkHorizon refuses a unit at a time before the retention horizon.
func checkHorizon(tx store.Tx, at time.Time) error {
	h, err := getTime(tx, horizonKey)
	if err != nil {
		return err
	}
	if at.Before(h) {
		return fmt.Errorf("%w: %s is before %s, the start of the idempotency window", event.ErrTooOld,
			at.UTC().Format(time.RFC3339), h.UTC().Format(time.RFC3339))
	}
	return nil
}

// tooOldIsNone is nil for checkHorizon's refusal (a lookup of a retry
// answers that nothing before the horizon was applied) and err for any
// other error: a damaged horizon says nothing of what was applied.
func tooOldIsNone(err error) error {
	if errors.Is(err, event.ErrTooOld) {
		return nil
	}
	return err
}

// retain runs a retention pass when a day of Advance's time has passed
// since the last one. Its first transaction claims the pass, so that of
// several instances advancing at once one prunes.
func (e *Engine) retain(ctx context.Context, now time.Time) error {
	r := e.retention
	if r.Window < 0 {
		// Event records kept for ever may name any feed record.
		return nil
	}
	horizon := now.Add(-r.Window)
	feedCut := now.Add(-max(r.Window, r.Feed))
	run := false
	err := e.st.Update(ctx, func(tx store.Tx) error {
		last, err := getTime(tx, retainLastKey)
		if err != nil {
			return err
		}
		if run = last.IsZero() || now.Sub(last) >= retainEvery; !run {
			return nil
		}
		if err := tx.Put(bMeta, retainLastKey, keys.New().Time(now)); err != nil {
			return err
		}
		h, err := getTime(tx, horizonKey)
		if err != nil || !horizon.After(h) {
			return err
		}
		return tx.Put(bMeta, horizonKey, keys.New().Time(horizon))
	})
	if err != nil || !run {
		return err
	}
	if err := e.prune(ctx, bEvents, before(horizon, recordTime)); err != nil {
		return err
	}
	if err := e.prune(ctx, bOps, before(horizon, opTime)); err != nil {
		return err
	}
	if r.Feed < 0 {
		return nil
	}
	return e.pruneFeed(ctx, feedCut)
}

// before returns a test of whether a record's time (timeOf) is before cut.
func before(cut time.Time, timeOf func([]byte) (time.Time, error)) func(store.Tx, []byte) (bool, error) {
	return func(_ store.Tx, v []byte) (bool, error) {
		t, err := timeOf(v)
		return err == nil && t.Before(cut), err
	}
}

// prune deletes the records of bucket that stale reports, a page of
// records a transaction.
func (e *Engine) prune(ctx context.Context, bucket string, stale func(tx store.Tx, v []byte) (bool, error)) error {
	var from []byte
	for {
		var next []byte
		err := e.st.Update(ctx, func(tx store.Tx) error {
			next = nil
			var old [][]byte // deleted after the scan: a scan must not write
			n := 0
			err := tx.Scan(bucket, from, nil, false, func(k, v []byte) error {
				if n == retainPage {
					next = bytes.Clone(k)
					return store.StopScan
				}
				n++
				isOld, err := stale(tx, v)
				if err != nil {
					return fmt.Errorf("%s record %q: %w", bucket, k, err)
				}
				if isOld {
					old = append(old, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range old {
				if err := tx.Delete(bucket, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || next == nil {
			return err
		}
		from = next
	}
}

// recordTime returns the time of an event record (record.go) without
// decoding the rest.
func recordTime(b []byte) (time.Time, error) {
	if len(b) == 0 || b[0] != eventRecordV2 {
		return time.Time{}, fmt.Errorf("%w: version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	_, _, _ = r.String(), r.String(), r.String() // ID, member, type
	t := r.Time()
	if err := r.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return t, nil
}

// opTime returns the time of a request record.
func opTime(b []byte) (time.Time, error) { return opRecordTime(b) }

// pruneFeed deletes the feed records that every consumer's cursor has
// passed whose changes are all before cut, then the notes of bWhere that
// lead to them. A record still young is kept where it is: the feed may
// have holes, and a reader skips them.
func (e *Engine) pruneFeed(ctx context.Context, cut time.Time) error {
	var from []byte
	var pruned uint64
	for more := true; more; {
		// next is where the following page starts, taken only once the
		// transaction committed: a store that runs the function again
		// (store/postgres after a conflict) starts it from the same page.
		var next []byte
		err := e.st.Update(ctx, func(tx store.Tx) error {
			next = nil
			var err error
			if pruned, err = getCounter(tx, prunedKey); err != nil {
				return err
			}
			upTo, err := minCursor(tx)
			if err != nil {
				return err
			}
			var old, notes [][]byte
			n := 0
			err = tx.Scan(bFeed, from, nil, false, func(k, v []byte) error {
				if keys.U64(k, 0) > upTo {
					return store.StopScan
				}
				if n == retainPage {
					next = bytes.Clone(k)
					return store.StopScan
				}
				n++
				latest, err := recordLatest(v)
				if err != nil {
					return fmt.Errorf("feed record %x: %w", k, err)
				}
				if !latest.Before(cut) {
					return nil
				}
				note, unit, err := namedOld(tx, v)
				if err != nil {
					return fmt.Errorf("feed record %x: %w", k, err)
				}
				if !unit.Before(cut) {
					return nil // its unit's record may still name it
				}
				old = append(old, bytes.Clone(k))
				if note != nil {
					notes = append(notes, note)
				}
				return nil
			})
			if err != nil || len(old) == 0 {
				return err
			}
			for _, k := range old {
				if err := tx.Delete(bFeed, k); err != nil {
					return err
				}
			}
			for _, k := range notes {
				if err := tx.Delete(bMeta, k); err != nil {
					return err
				}
			}
			pruned = max(pruned, keys.U64(old[len(old)-1], 0))
			return tx.Put(bMeta, prunedKey, keys.New().U64(pruned))
		})
		if err != nil {
			return err
		}
		from, more = next, next != nil
	}
	if pruned == 0 {
		return nil
	}
	return e.prune(ctx, bWhere, func(tx store.Tx, v []byte) (bool, error) {
		if len(v) != 8 {
			return false, fmt.Errorf("%w: feed note", ErrCorrupt)
		}
		if keys.U64(v, 0) > pruned {
			return false, nil
		}
		_, err := tx.Get(bFeed, v)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		return false, err
	})
}

// namedOld returns the key and the unit time of keepOld's note of a feed
// record (nil and the zero time when there is none).
func namedOld(tx store.Tx, rec []byte) ([]byte, time.Time, error) {
	k := oldFeedKey(rec)
	t, err := getTime(tx, k)
	if err != nil || t.IsZero() {
		return nil, time.Time{}, err
	}
	return k, t, nil
}

// minCursor returns the least cursor of the consumers (the largest
// position when there is none).
func minCursor(tx store.Tx) (uint64, error) {
	least := uint64(math.MaxUint64)
	prefix := cursorKey("")
	err := tx.Scan(bMeta, prefix, nil, false, func(k, v []byte) error {
		if !strings.HasPrefix(string(k), string(prefix)) {
			return store.StopScan
		}
		if len(v) != 8 {
			return fmt.Errorf("%w: cursor %q", ErrCorrupt, k)
		}
		least = min(least, keys.U64(v, 0))
		return nil
	})
	return least, err
}

// checkPruned refuses a read of the feed after a position whose changes
// were pruned.
func checkPruned(tx store.Tx, after uint64) error {
	pruned, err := getCounter(tx, prunedKey)
	if err != nil {
		return err
	}
	if after < pruned {
		return fmt.Errorf("%w: changes up to position %d are gone; read after it", ErrPruned, pruned)
	}
	return nil
}
