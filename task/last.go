package task

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// bLast keeps, per member and task, the member's latest completion and
// how many completions its day, week, month and year hold (latest),
// whatever the task limits: a calendar limit a version adds reads it for
// the completions its period had before (see limitUsed).
const bLast = "task.last" // member \0 task → latest, binary (codec)

// calendar lists the periods latest counts, in the order of its counts.
var calendar = [...]rule.Period{rule.Day, rule.Week, rule.Month, rule.Year}

// latest is a member's latest completion of a task: its time, and the
// completions in the day, week, month and year containing it (in the
// program's zone), in calendar's order.
type latest struct {
	At time.Time
	N  [len(calendar)]int64
}

// count returns the completions l knows of in the period pd containing
// t: its count for pd when t falls in the period of l.At, else 0 (l
// knows nothing of other periods).
func (l latest) count(pd rule.Period, t time.Time, loc *time.Location) int64 {
	for i, c := range calendar {
		if c == pd && pd.Start(l.At, loc).Equal(pd.Start(t, loc)) {
			return l.N[i]
		}
	}
	return 0
}

// add returns l with a completion at t counted: the latest completion
// becomes the later of l.At and t, each period's count restarts when
// that moves into a new period, and a completion at t counts in the
// periods of the latest that contain t (a late one of an earlier period
// is not one of them).
func (l latest) add(t time.Time, loc *time.Location) latest {
	at := l.At
	if at.IsZero() || t.After(at) {
		at = t
	}
	next := latest{At: at}
	for i, pd := range calendar {
		end := pd.Start(at, loc)
		if !l.At.IsZero() && pd.Start(l.At, loc).Equal(end) {
			next.N[i] = l.N[i]
		}
		if pd.Start(t, loc).Equal(end) {
			next.N[i]++
		}
	}
	return next
}

func (l latest) encode() []byte {
	w := codec.Writer{B: make([]byte, 0, 24)}
	w.Time(l.At)
	for _, n := range l.N {
		w.Uint(uint64(n))
	}
	return w.B
}

// loadLatest reads the latest completion stored under k; found is false
// when there is none (no completion since the release that keeps it). A
// record that does not decode, or that no completions leave (no time, a
// count below 1 or past an int64, a day counting more than its week or
// month, a month more than its year), is store.ErrCorrupt.
func loadLatest(tx store.Tx, k []byte) (l latest, found bool, err error) {
	raw, err := tx.Get(bLast, k)
	if errors.Is(err, store.ErrNotFound) {
		return latest{}, false, nil
	}
	if err != nil {
		return latest{}, false, err
	}
	r := codec.Reader{B: raw}
	l.At = r.Time()
	for i := range l.N {
		n := r.Uint()
		if n > math.MaxInt64 {
			return latest{}, false, record.Corrupt(bLast, k, fmt.Errorf("a count of %d", n))
		}
		l.N[i] = int64(n)
	}
	switch {
	case r.Err() != nil:
		return latest{}, false, record.Corrupt(bLast, k, r.Err())
	case len(r.B) > 0:
		return latest{}, false, record.Corrupt(bLast, k, fmt.Errorf("%d bytes after the record", len(r.B)))
	case l.At.IsZero() || !keys.InRange(l.At):
		return latest{}, false, record.Corrupt(bLast, k, fmt.Errorf("a completion at %v", l.At))
	case l.N[0] < 1 || l.N[0] > l.N[1] || l.N[0] > l.N[2] || l.N[2] > l.N[3]:
		return latest{}, false, record.Corrupt(bLast, k, fmt.Errorf("completions per day, week, month and year %v", l.N))
	}
	return l, true, nil
}

// countLatest counts a completion at t in the latest completion stored
// under k.
func countLatest(tx store.Tx, k []byte, t time.Time, loc *time.Location) error {
	l, _, err := loadLatest(tx, k)
	if err != nil {
		return err
	}
	return tx.Put(bLast, k, l.add(t, loc).encode())
}
