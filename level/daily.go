package level

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// bMoves keeps, per day, the number of members who moved between two
// ladder levels: (date, move, from, to, stripe) → members, an engine total
// (Unit.AddTotal), striped so that members' events do not share a key. A report over days reads the counters of those days and
// those after them, whatever the number of members.
const bMoves = "level.moves"

// Move is the kind of a level change counted per day.
type Move string

// The moves counted per day.
const (
	MoveJoin      Move = "join"      // a member first seen, at the entry level (or, migrated in, at the level placed)
	MoveUpgrade   Move = "upgrade"   // to a higher ladder level (an event, an unfreeze, a manual set)
	MoveDowngrade Move = "downgrade" // to a lower ladder level (a term end, a manual set)
)

// valid reports whether m is one of the moves.
func (m Move) valid() bool { return m == MoveJoin || m == MoveUpgrade || m == MoveDowngrade }

// countMove adds member's move from → to (from is "" for a join) to the
// day of u.At(). Every change of a member's ladder level passes here, as
// it passes addCount, so the counts of a day's end follow from today's
// counts and the moves since.
func countMove(u *engine.Unit, member string, mv Move, from, to string) error {
	day := rule.DateOf(u.At(), u.Location()).String()
	k := make([]byte, 0, len(day)+len(mv)+len(from)+len(to)+3)
	k = append(append(append(append(append(append(append(k, day...), 0), mv...), 0), from...), 0), to...)
	return u.AddTotal(bMoves, k, member, decimal.NewFromInt(1))
}

// moveOf returns the move from ladder level from to to.
func (p *part) moveOf(from string, to int) Move {
	if p.def.Index(from) < to {
		return MoveUpgrade
	}
	return MoveDowngrade
}

// MaxDays is the longest period Days answers, and the most days a
// Forecast covers: 100 years.
const MaxDays = 36600

// Day is the level figures of one day (in the program's zone).
type Day struct {
	Day rule.Date `json:"day"`
	// Members is the number of members at each ladder level (lowest first)
	// at the day's end.
	Members []Count `json:"members"`
	// Joins, Upgrades and Downgrades count the day's moves: members first
	// seen (a member migrated in with a level, Program.OpenMember, is
	// first seen on its opening day), moved up and moved down (a move
	// over several levels is one).
	Joins      int64 `json:"joins"`
	Upgrades   int64 `json:"upgrades"`
	Downgrades int64 `json:"downgrades"`
}

// Days returns the level figures of each day from..to (inclusive, in the
// program's zone), in one read of the store. The members at each level at
// a day's end are today's counts (Counts) less the moves after that day,
// so its cost is the number of days from from to the latest day with a
// move, whatever the number of members. Moves are counted from the
// version of the library that added them: on a store written before, the
// days before show none, and the members at their ends are not known (an
// operator reads a period after the upgrade). Errors wrap ErrNotDefined,
// event.ErrInvalidArgument for a period whose to is before from or that
// is longer than MaxDays, store.ErrCorrupt for a damaged count (its
// stripes sum to no whole number an int64 holds, or counts that add up
// to a day's figure past an int64), or are the store's.
func (h *Handle) Days(ctx context.Context, from, to rule.Date) ([]Day, error) {
	if h.p == nil {
		return nil, fmt.Errorf("level: days: %w", ErrNotDefined)
	}
	if !from.Valid() || !to.Valid() || to.Compare(from) < 0 || from.AddDays(MaxDays).Compare(to) <= 0 {
		return nil, fmt.Errorf("level: days %s..%s: %w: not a period of at most %d days", from, to, event.ErrInvalidArgument, MaxDays)
	}
	ladder := h.p.def.Ladder
	n := daysBetween(from, to) + 1
	days := make([]Day, n)
	// net[i][l] is the net number of members who came to level l on day
	// from+i, net[n][l] on the days after to; current[l] is today's count.
	net := make([][]int64, n+1)
	current := make([]int64, len(ladder))
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		for i, l := range ladder {
			c, err := count(u.Tx(), l.Name)
			if err != nil {
				return err
			}
			current[i] = c
		}
		for i := range net {
			net[i] = make([]int64, len(ladder))
		}
		for i := range days {
			days[i] = Day{Day: from.AddDays(i)}
		}
		return total.Counts(u.Tx(), bMoves, []byte(from.String()), nil, func(k []byte, c int64) error {
			parts := bytes.Split(k, []byte{0})
			if len(parts) != 4 {
				return fmt.Errorf("%w: level move key %q", engine.ErrCorrupt, k)
			}
			day, err := rule.ParseDate(string(parts[0]))
			mv := Move(parts[1])
			if err != nil || !mv.valid() {
				return fmt.Errorf("%w: level move key %q", engine.ErrCorrupt, k)
			}
			i := min(daysBetween(from, day), n)
			ok := true
			if i < n {
				switch mv {
				case MoveJoin:
					days[i].Joins, ok = addCounts(days[i].Joins, c)
				case MoveUpgrade:
					days[i].Upgrades, ok = addCounts(days[i].Upgrades, c)
				case MoveDowngrade:
					days[i].Downgrades, ok = addCounts(days[i].Downgrades, c)
				}
			}
			if j := h.p.def.Index(string(parts[2])); j >= 0 && ok {
				net[i][j], ok = subCounts(net[i][j], c)
			}
			if j := h.p.def.Index(string(parts[3])); j >= 0 && ok {
				net[i][j], ok = addCounts(net[i][j], c)
			}
			if !ok {
				return fmt.Errorf("%w: level move key %q: a count of %d takes the day's figures past an int64", engine.ErrCorrupt, k, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("level: days %s..%s: %w", from, to, err)
	}
	// Walk back from today's counts: each day's end is the next day's end
	// (today's counts, for the last day) less what came after it.
	end := current
	for i := n - 1; i >= 0; i-- {
		for j := range end {
			var ok bool
			if end[j], ok = subCounts(end[j], net[i+1][j]); !ok {
				return nil, fmt.Errorf("level: days %s..%s: %w: members at %s at the end of %s are past an int64", from, to, engine.ErrCorrupt, ladder[j].Name, days[i].Day)
			}
		}
		days[i].Members = make([]Count, len(ladder))
		for j, l := range ladder {
			days[i].Members[j] = Count{Name: l.Name, Members: end[j]}
		}
	}
	return days, nil
}

// addCounts returns a + b; ok is false when the sum is past an int64:
// counts that each read as a valid count (a damaged store's) may add up
// to more, which would wrap to a figure that looks real.
func addCounts(a, b int64) (sum int64, ok bool) {
	sum = a + b
	return sum, (b >= 0) == (sum >= a)
}

// subCounts returns a - b; ok is false when the difference is past an
// int64, as for addCounts.
func subCounts(a, b int64) (diff int64, ok bool) {
	diff = a - b
	return diff, (b >= 0) == (diff <= a)
}

// daysBetween returns the number of days from a to b (negative when b is
// before a).
func daysBetween(a, b rule.Date) int {
	return int(b.Start(time.UTC).Sub(a.Start(time.UTC)).Hours() / 24)
}
