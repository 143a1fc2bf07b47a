package rule

import (
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ErrNegative is wrapped by the errors of [Use] and [Release] for a
// negative amount.
var ErrNegative = errors.New("rule: negative amount")

// Cap limits an amount per period: at most Limit in each Period bucket.
type Cap struct {
	Period Period          `json:"period"`
	Limit  decimal.Decimal `json:"limit"`
}

// Caps are the caps of one rule, at most one per period.
type Caps []Cap

// Check returns nil, or a *[Problems] with paths such as "[1].limit" for an
// unknown period, a negative limit or a period capped twice.
func (cs Caps) Check() error {
	var ps Problems
	seen := make(map[Period]bool, len(cs))
	for i, c := range cs {
		at := Index("", i)
		switch {
		case !c.Period.Valid():
			ps.Addf(Join(at, "period"), "unknown period %q (want %s, %s, %s, %s or %s)", c.Period, Day, Week, Month, Year, Total)
		case seen[c.Period]:
			ps.Addf(Join(at, "period"), "duplicate period %q", c.Period)
		}
		seen[c.Period] = true
		if c.Limit.IsNegative() {
			ps.Addf(Join(at, "limit"), "must not be negative")
		}
	}
	return errOf(ps)
}

// Cut records what a cap cut from a grant: the cap's period and limit, what
// was used in the period before, what was wanted and what was granted.
type Cut struct {
	Period  Period          `json:"period"`
	Limit   decimal.Decimal `json:"limit"`
	Used    decimal.Decimal `json:"used"`
	Wanted  decimal.Decimal `json:"wanted"`
	Granted decimal.Decimal `json:"granted"`
}

// counterKey is the key of scope's counter for the period containing t.
func counterKey(scope string, p Period, t time.Time, loc *time.Location) []byte {
	return []byte(scope + "\x00" + p.Key(t, loc))
}

func readCounter(tx store.Tx, bucket string, key []byte) (decimal.Decimal, error) {
	b, err := tx.Get(bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return decimal.Decimal{}, nil
	}
	if err != nil {
		return decimal.Decimal{}, err
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("rule: counter %q in %s: %w: %w", key, bucket, store.ErrCorrupt, err)
	}
	if d.IsNegative() { // Use only adds, Release deletes a counter at 0
		return decimal.Decimal{}, fmt.Errorf("rule: counter %q in %s: %w: negative, %s", key, bucket, store.ErrCorrupt, d)
	}
	return d, nil
}

// Used returns what scope used in the period p containing t, in the
// counters of bucket. An unknown period is refused with an error wrapping
// event.ErrInvalidArgument; a counter that does not hold an amount, or
// holds a negative one, with one wrapping store.ErrCorrupt (as Use and
// Release do).
func Used(tx store.Tx, bucket, scope string, p Period, t time.Time, loc *time.Location) (decimal.Decimal, error) {
	if !p.Valid() {
		return decimal.Decimal{}, fmt.Errorf("rule: %w: unknown period %q", event.ErrInvalidArgument, p)
	}
	return readCounter(tx, bucket, counterKey(scope, p, t, loc))
}

// UsedCount returns Used as a count, for counters of whole things (a
// member's claims of a coupon, completions of a task): Use only adds
// whole numbers to them and Release never takes them below 0, so a
// counter that is not a whole number an int64 holds, or is negative, is
// damage (an error wrapping store.ErrCorrupt), not read as some count.
func UsedCount(tx store.Tx, bucket, scope string, p Period, t time.Time, loc *time.Location) (int64, error) {
	used, err := Used(tx, bucket, scope, p, t, loc)
	if err != nil {
		return 0, err
	}
	if n, ok := total.CountOf(used); ok && n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("rule: counter %q in %s: %w: a count of %v", counterKey(scope, p, t, loc), bucket, store.ErrCorrupt, used)
}

// Use grants as much of want as caps allow for scope at t and records the
// grant in the counters of bucket, one per capped period (uncapped periods
// are not counted). What each cap allows is its limit less what was used
// in its period containing t, never below 0; the grant is the least of
// want and those. cut is the tightest cap when the grant is less than want,
// nil otherwise. With no caps the whole of want is granted and nothing is
// written. A counter that does not hold an amount, or holds a negative
// one (damaged data), fails Use and Release with an error wrapping
// store.ErrCorrupt.
func Use(tx store.Tx, bucket, scope string, caps Caps, t time.Time, loc *time.Location, want decimal.Decimal) (granted decimal.Decimal, cut *Cut, err error) {
	if want.IsNegative() {
		return decimal.Decimal{}, nil, fmt.Errorf("rule: use %s: %w", want, ErrNegative)
	}
	if len(caps) == 0 {
		return want, nil, nil
	}
	if err := caps.Check(); err != nil {
		return decimal.Decimal{}, nil, err
	}
	used := make([]decimal.Decimal, len(caps))
	granted = want
	for i, c := range caps {
		if used[i], err = readCounter(tx, bucket, counterKey(scope, c.Period, t, loc)); err != nil {
			return decimal.Decimal{}, nil, err
		}
		room := decimal.Max(c.Limit.Sub(used[i]), decimal.Zero)
		if room.LessThan(granted) {
			granted = room
			cut = &Cut{Period: c.Period, Limit: c.Limit, Used: used[i]}
		}
	}
	if cut != nil {
		cut.Wanted, cut.Granted = want, granted
	}
	if granted.IsZero() {
		return granted, cut, nil
	}
	for i, c := range caps {
		v := used[i].Add(granted).String()
		if err := tx.Put(bucket, counterKey(scope, c.Period, t, loc), []byte(v)); err != nil {
			return decimal.Decimal{}, nil, err
		}
	}
	return granted, cut, nil
}

// Release gives amount back to scope's counters of the periods containing
// t, for a refund: t is the time of the original grant. A counter never
// goes below 0; one that reaches 0 is deleted.
func Release(tx store.Tx, bucket, scope string, caps Caps, t time.Time, loc *time.Location, amount decimal.Decimal) error {
	if amount.IsNegative() {
		return fmt.Errorf("rule: release %s: %w", amount, ErrNegative)
	}
	if err := caps.Check(); err != nil {
		return err
	}
	if amount.IsZero() {
		return nil
	}
	for _, c := range caps {
		key := counterKey(scope, c.Period, t, loc)
		used, err := readCounter(tx, bucket, key)
		if err != nil {
			return err
		}
		if used = used.Sub(amount); used.IsPositive() {
			err = tx.Put(bucket, key, []byte(used.String()))
		} else {
			err = tx.Delete(bucket, key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
