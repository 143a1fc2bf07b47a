package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

// A DeadLetter is a change the endpoint did not acknowledge in the
// attempts allowed. It is kept, under its feed position, in the store
// given to New until Replay delivers it or Discard drops it, or the
// member's erasure does (see the package doc, Erasure), or the Deliverer
// sends the change again (the cursor had not passed it) and a 2xx
// answers.
type DeadLetter struct {
	// ID is the delivery ID, the same Replay sends.
	ID string `json:"id"`
	// Change is the change, its feed position in Seq.
	Change change.Change `json:"change"`
	// Attempts counts the attempts made, by the Deliverer and by replays.
	Attempts int `json:"attempts"`
	// Status is the last response's HTTP status; 0 when the last attempt
	// got no response (a refused or dropped connection, a timeout).
	Status int `json:"status,omitempty"`
	// Error says why the last attempt failed. A transport error names
	// the endpoint by its scheme and host alone (Post "https://host": …),
	// not its path or query, which may hold a token.
	Error string `json:"error"`
	// At is when the last attempt failed, by the Deliverer's clock.
	At time.Time `json:"at"`
}

// putDead stores a dead letter under its position. With again (the
// position had a dead letter when its batch was read: an earlier send the
// cursor did not pass), the attempts of the one stored are added, so
// that Attempts counts them all; one that does not decode is an error
// wrapping ErrCorrupt, and nothing is written.
func (d *Deliverer) putDead(ctx context.Context, dl DeadLetter, again bool) error {
	err := d.st.Update(ctx, func(tx store.Tx) error {
		k := keys.New().U64(dl.Change.Seq)
		dl := dl // a store may run the function again
		if again {
			v, err := tx.Get(d.bucket, k)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				old, err := d.decodeDead(k, v)
				if err != nil {
					return err
				}
				dl.Attempts += old.Attempts
			}
		}
		v, err := json.Marshal(dl)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return tx.Put(d.bucket, k, v)
	})
	if err != nil {
		return fmt.Errorf("webhook: %s: store dead letter %d: %w", d.name, dl.Change.Seq, err)
	}
	return nil
}

// decodeDead decodes the dead letter stored under key k, checking that it
// is the one of that position and of this consumer. Its errors name no
// consumer: every caller's does.
func (d *Deliverer) decodeDead(k, v []byte) (DeadLetter, error) {
	var dl DeadLetter
	if len(k) != 8 {
		return dl, fmt.Errorf("%w: dead letter key %x", ErrCorrupt, k)
	}
	seq := keys.U64(k, 0)
	if err := json.Unmarshal(v, &dl); err != nil {
		return dl, fmt.Errorf("%w: dead letter %d: %w", ErrCorrupt, seq, err)
	}
	if dl.Change.Seq != seq || !d.ownID(dl.ID, seq) || dl.Attempts < 1 {
		return dl, fmt.Errorf("%w: dead letter %d holds position %d, ID %q, %d attempts",
			ErrCorrupt, seq, dl.Change.Seq, dl.ID, dl.Attempts)
	}
	return dl, nil
}

// ownID reports whether id is a delivery ID of this consumer at position
// seq: of DeliveryID's form, or of legacyID's, which a dead letter stored
// by an earlier release holds. The change's digest is not recomputed: the
// dead letter keeps the ID it was first sent with, which Replay sends, and
// the check is that it belongs to this consumer and position.
func (d *Deliverer) ownID(id string, seq uint64) bool {
	rest, ok := strings.CutPrefix(id, legacyID(d.name, seq))
	if !ok {
		return false
	}
	if rest == "" {
		return true // an earlier release's
	}
	sum, ok := strings.CutPrefix(rest, "-")
	return ok && len(sum) == 16 && strings.Trim(sum, "0123456789abcdef") == ""
}

// idOf returns the delivery ID of c, a change read from the feed:
// DeliveryID's, unless again (its position had a dead letter when its
// batch was read: an earlier send the cursor did not pass) and that dead
// letter holds c, the same digest (see changeSum): then the ID the dead
// letter holds, the one c was first sent with, which an earlier release
// made in legacyID's form. A dead letter of another change (a restore of
// the program's store alone gave its position to a new change), one gone
// since the batch was read, and one that does not decode leave
// DeliveryID's (putDead reports the last should c fail again). A change
// that does not encode is an error wrapping ErrCorrupt, as in send.
func (d *Deliverer) idOf(ctx context.Context, c change.Change, again bool) (string, error) {
	sum, err := changeSum(c)
	if err != nil {
		return "", fmt.Errorf("webhook: %s: encode change %d: %w: %w", d.name, c.Seq, ErrCorrupt, err)
	}
	id := deliveryID(d.name, c.Seq, sum)
	if !again {
		return id, nil
	}
	dl, err := d.getDead(ctx, c.Seq)
	switch {
	case errors.Is(err, ErrNoDeadLetter) || errors.Is(err, ErrCorrupt):
		return id, nil
	case err != nil:
		return "", fmt.Errorf("webhook: %s: read the dead letter of %d: %w", d.name, c.Seq, err)
	}
	if old, err := changeSum(dl.Change); err == nil && old == sum {
		return dl.ID, nil
	}
	return id, nil
}

// DeadLetters returns up to limit dead letters after feed position after
// (0: from the first), in feed order; a limit of 0 means 100, and at
// most 1,000 are returned; a negative limit wraps ErrInvalidArgument,
// naming it (event.PageSize). Page on with the last one's Change.Seq. A
// record that does not decode is an error wrapping ErrCorrupt.
func (d *Deliverer) DeadLetters(ctx context.Context, after uint64, limit int) ([]DeadLetter, error) {
	limit, err := event.PageSize(limit, 100, 1000)
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: dead letters: %w", d.name, err)
	}
	var out []DeadLetter
	err = d.st.View(ctx, func(tx store.Tx) error {
		out = out[:0]
		if after == ^uint64(0) {
			return nil
		}
		return tx.Scan(d.bucket, keys.New().U64(after+1), nil, false, func(k, v []byte) error {
			dl, err := d.decodeDead(k, v)
			if err != nil {
				return err
			}
			out = append(out, dl)
			if len(out) == limit {
				return store.StopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: dead letters after %d: %w", d.name, after, err)
	}
	return out, nil
}

// deadBetween returns the positions of chs, a batch read from the feed,
// that have a dead letter: a send before that the cursor did not pass
// (its write failed, the process died first, or another Deliverer moved
// it back) dead-lettered them. A change of them delivered now is no
// longer one. It is one read of the store a batch.
func (d *Deliverer) deadBetween(ctx context.Context, chs []change.Change) (map[uint64]bool, error) {
	if len(chs) == 0 {
		return nil, nil
	}
	first, last := chs[0].Seq, chs[len(chs)-1].Seq
	var end []byte // past the last position, nil for the largest
	if last < ^uint64(0) {
		end = keys.New().U64(last + 1)
	}
	var stale map[uint64]bool
	err := d.st.View(ctx, func(tx store.Tx) error {
		stale = nil
		return tx.Scan(d.bucket, keys.New().U64(first), end, false, func(k, _ []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: dead letter key %x", ErrCorrupt, k)
			}
			if stale == nil {
				stale = make(map[uint64]bool)
			}
			stale[keys.U64(k, 0)] = true
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: read the dead letters of %d to %d: %w", d.name, first, last, err)
	}
	return stale, nil
}

// getDead reads the dead letter of position seq.
func (d *Deliverer) getDead(ctx context.Context, seq uint64) (DeadLetter, error) {
	var dl DeadLetter
	err := d.st.View(ctx, func(tx store.Tx) error {
		k := keys.New().U64(seq)
		v, err := tx.Get(d.bucket, k)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w at position %d", ErrNoDeadLetter, seq)
		}
		if err != nil {
			return err
		}
		dl, err = d.decodeDead(k, v)
		return err
	})
	return dl, err
}

// Replay sends the dead letter of feed position seq again, with its
// delivery ID and the attempts and backoff of a change from the feed, and
// removes it once a 2xx answers. When none does, the dead letter stays with
// the attempts added and the last failure, and Replay returns an error
// wrapping ErrUndelivered; if the dead letter was discarded, or dropped by
// its member's erasure, while the replay was under way, it stays gone and
// the error wraps ErrNoDeadLetter too. A replayed change reaches the receiver after the
// member's later changes: the receiver tells by the position, Change.Seq.
// It returns an error wrapping ErrNoDeadLetter when there is none at seq.
// Replay may run while Run does.
func (d *Deliverer) Replay(ctx context.Context, seq uint64) error {
	dl, err := d.getDead(ctx, seq)
	if err != nil {
		return fmt.Errorf("webhook: %s: replay: %w", d.name, err)
	}
	f, err := d.send(ctx, nil, dl.ID, dl.Change)
	if err != nil {
		return fmt.Errorf("webhook: %s: replay %d: %w", d.name, seq, err)
	}
	if f != nil {
		undelivered := fmt.Errorf("webhook: %s: replay %d: %w after %d attempts: %w", d.name, seq, ErrUndelivered, f.attempts, f.err)
		if err := d.failedAgain(ctx, seq, f); err != nil {
			return fmt.Errorf("%w; %w", undelivered, err)
		}
		return undelivered
	}
	if err := d.deleteDead(ctx, seq); err != nil {
		return fmt.Errorf("webhook: %s: replay %d: delivered, but %w", d.name, seq, err)
	}
	d.replayed.Add(1)
	d.log.Info("webhook: replayed", "consumer", d.name, "id", dl.ID, "seq", seq, "member", dl.Change.Member)
	return nil
}

// failedAgain adds a replay's failed attempts to the dead letter of
// position seq as it is in the store, in one transaction: a dead letter
// discarded or dropped by its member's erasure while the replay was
// under way stays gone (the erasure's must not be undone), an error
// wrapping ErrNoDeadLetter, and attempts added by a replay beside this
// one are kept.
func (d *Deliverer) failedAgain(ctx context.Context, seq uint64, f *failure) error {
	err := d.st.Update(ctx, func(tx store.Tx) error {
		k := keys.New().U64(seq)
		v, err := tx.Get(d.bucket, k)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w at position %d any more: discarded or erased during the replay", ErrNoDeadLetter, seq)
		}
		if err != nil {
			return err
		}
		dl, err := d.decodeDead(k, v)
		if err != nil {
			return err
		}
		dl.Attempts += f.attempts
		dl.Status, dl.Error, dl.At = f.status, f.err.Error(), d.now()
		v, err = json.Marshal(dl)
		if err != nil {
			return fmt.Errorf("encode dead letter %d: %w", seq, err)
		}
		return tx.Put(d.bucket, k, v)
	})
	if err != nil {
		return fmt.Errorf("webhook: %s: update dead letter %d: %w", d.name, seq, err)
	}
	return nil
}

// Discard removes the dead letter of feed position seq without sending
// it, for a change the operator has dealt with otherwise. It returns an
// error wrapping ErrNoDeadLetter when there is none at seq.
func (d *Deliverer) Discard(ctx context.Context, seq uint64) error {
	if err := d.deleteDead(ctx, seq); err != nil {
		return fmt.Errorf("webhook: %s: discard: %w", d.name, err)
	}
	d.log.Info("webhook: discarded", "consumer", d.name, "seq", seq)
	return nil
}

// deleteDead removes the dead letter of position seq, which must exist.
func (d *Deliverer) deleteDead(ctx context.Context, seq uint64) error {
	return d.st.Update(ctx, func(tx store.Tx) error {
		k := keys.New().U64(seq)
		if _, err := tx.Get(d.bucket, k); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w at position %d", ErrNoDeadLetter, seq)
		} else if err != nil {
			return err
		}
		return tx.Delete(d.bucket, k)
	})
}

// dropErased removes the dead letters of member before feed position seq,
// that of the member's erasure (change.MemberErased): they hold the
// member's changes as they were, personal data included (an operator's
// note, a profile), which the erasure must not leave behind; the receiver
// erases the member on the erasure's change. The dead letters are keyed
// by position, so it reads those before seq: there are few (only what the
// endpoint never took). One that does not decode is an error wrapping
// ErrCorrupt, and none is removed.
func (d *Deliverer) dropErased(ctx context.Context, member string, seq uint64) error {
	n := 0
	err := d.st.Update(ctx, func(tx store.Tx) error {
		var ks [][]byte
		err := tx.Scan(d.bucket, nil, keys.New().U64(seq), false, func(k, v []byte) error {
			dl, err := d.decodeDead(k, v)
			if err != nil {
				return err
			}
			if dl.Change.Member == member {
				ks = append(ks, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		n = len(ks) // a store may run the function again
		for _, k := range ks {
			if err := tx.Delete(d.bucket, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook: %s: drop the dead letters of erased member %q: %w", d.name, member, err)
	}
	if n > 0 {
		d.log.Info("webhook: dropped an erased member's dead letters", "consumer", d.name, "member", member, "dropped", n)
	}
	return nil
}
