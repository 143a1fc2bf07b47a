package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/memberkit/membership/store"
)

// defaultLease is the lease of WithLease's default.
const defaultLease = 30 * time.Second

// leaseKey is the key of the lease's one record in its bucket.
var leaseKey = []byte("holder")

// leaseRecord is the lease as stored: who holds the consumer name and
// until when, by the holder's clock.
type leaseRecord struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// newToken returns a Deliverer's token: 128 random bits, so that two
// Deliverers, in one process or in two, never share one.
func newToken() string { return rand.Text() }

// A lease is a Run's or a Flush's hold on the consumer name. Its lanes
// keep it from their goroutines.
type lease struct {
	d     *Deliverer
	mu    sync.Mutex
	until time.Time // when the hold ends, as last written
	lost  error     // set once the name was found taken over
}

// getLease reads the lease record; ok is false when there is none.
func (d *Deliverer) getLease(tx store.Tx) (rec leaseRecord, ok bool, err error) {
	v, err := tx.Get(d.leaseBucket, leaseKey)
	if errors.Is(err, store.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, false, fmt.Errorf("%w: lease record %q: %w", ErrCorrupt, v, err)
	}
	if rec.Token == "" {
		return rec, false, fmt.Errorf("%w: lease record %q: no token", ErrCorrupt, v)
	}
	return rec, true, nil
}

// putLease writes the lease record: this Deliverer's, until until.
func (d *Deliverer) putLease(tx store.Tx, until time.Time) error {
	v, err := json.Marshal(leaseRecord{Token: d.token, Expires: until.UTC()})
	if err != nil {
		return fmt.Errorf("encode lease until %v: %w", until, err)
	}
	return tx.Put(d.leaseBucket, leaseKey, v)
}

// acquire takes the lease, in one transaction: when no one holds it,
// when this Deliverer does (a Run of its own that stopped without
// releasing it), or when its holder's hold has ended by this
// Deliverer's clock. Otherwise it returns an error wrapping ErrBusy.
func (d *Deliverer) acquire(ctx context.Context) (*lease, error) {
	var until time.Time
	err := d.st.Update(ctx, func(tx store.Tx) error {
		rec, ok, err := d.getLease(tx)
		if err != nil {
			return err
		}
		now := d.now()
		if ok && rec.Token != d.token && now.Before(rec.Expires) {
			return fmt.Errorf("%w: another Deliverer holds the name until %s", ErrBusy, rec.Expires.Format(time.RFC3339Nano))
		}
		until = now.Add(d.lease)
		return d.putLease(tx, until)
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: take the lease: %w", d.name, err)
	}
	d.log.Info("webhook: took the lease", "consumer", d.name, "until", until)
	return &lease{d: d, until: until}, nil
}

// keep makes sure the hold lasts the next span and half a lease after
// it; when it would not, it writes it to span and a whole lease from now,
// so that a Deliverer that works or waits keeps the name and one that
// died loses it a lease after what it last announced. With check it
// writes whatever is left: that reads the record in the store, and so
// finds a takeover that the holder's clock would not (a clock behind the
// others'). It returns an error wrapping ErrBusy once another Deliverer
// has taken the name over (or it was released): the caller must stop
// before it moves the cursor.
func (l *lease) keep(ctx context.Context, span time.Duration, check bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	d := l.d
	now := d.now()
	if !check && l.until.Sub(now) >= addSat(span, d.lease/2) {
		return nil
	}
	until := now.Add(addSat(span, d.lease))
	err := d.st.Update(ctx, func(tx store.Tx) error {
		rec, ok, err := d.getLease(tx)
		if err != nil {
			return err
		}
		if !ok || rec.Token != d.token {
			return fmt.Errorf("%w: the lease was taken over by another Deliverer", ErrBusy)
		}
		return d.putLease(tx, until)
	})
	if errors.Is(err, ErrBusy) {
		l.lost = fmt.Errorf("webhook: %s: %w", d.name, err)
		d.log.Warn("webhook: lost the lease", "consumer", d.name, "until", l.until)
		return l.lost
	}
	if err != nil {
		return fmt.Errorf("webhook: %s: renew the lease: %w", d.name, err)
	}
	l.until = until
	return nil
}

// release drops the lease if it is still this Deliverer's, so that
// another takes the name at once rather than once the hold ends. Like the
// cursor's write, it outlives ctx by at most the attempt timeout. A
// failure is logged: the hold then ends by itself.
func (l *lease) release(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return
	}
	d := l.d
	rctx, cancel := d.outlive(ctx)
	defer cancel()
	err := d.st.Update(rctx, func(tx store.Tx) error {
		rec, ok, err := d.getLease(tx)
		if err != nil || !ok || rec.Token != d.token {
			return err // taken over: not this Deliverer's to drop
		}
		return tx.Delete(d.leaseBucket, leaseKey)
	})
	if err != nil {
		d.log.Warn("webhook: lease not released", "consumer", d.name, "until", l.until, "err", err)
	}
}

// addSat returns a+b for durations that are not negative, or the largest
// Duration when the sum would wrap (a poll or a backoff may be that long).
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
