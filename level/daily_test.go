package level_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// TestDays: on 10 January m1 joins and orders 600, crossing Bronze and
// Silver to Gold at once (one upgrade), and m2 joins; on 12 January an
// operator sets m1 down to Bronze (a downgrade). The members at a day's
// end are worked back from today's counts, also for a period that ends
// before the last move, and are zero before anyone joined.
func TestDays(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, testkit.LadderDef(level.Matching))
	jan := func(day, hour int) time.Time { return time.Date(2025, 1, day, hour, 0, 0, 0, zone) }
	mustProcess(t, p,
		event.Event{ID: "o1", Member: "m1", Type: "order", Time: jan(10, 9), Attrs: event.Attrs{"amount": event.DecString("600")}},
		event.Event{ID: "c1", Member: "m2", Type: "check_in", Time: jan(10, 10)},
	)
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "set", Member: "m1", Operator: "ops", Note: "test", At: jan(12, 9), Level: "Bronze"}); err != nil {
		t.Fatal(err)
	}
	date := func(day int) rule.Date { return rule.Date{Year: 2025, Month: 1, Day: day} }
	members := func(entry, bronze, gold int64) []level.Count {
		return []level.Count{{Name: "Entry", Members: entry}, {Name: "Bronze", Members: bronze}, {Name: "Silver"}, {Name: "Gold", Members: gold}, {Name: "Platinum"}}
	}
	days, err := p.Levels().Days(ctx, date(9), date(12))
	if err != nil {
		t.Fatal(err)
	}
	want := []level.Day{
		{Day: date(9), Members: members(0, 0, 0)},
		{Day: date(10), Members: members(1, 0, 1), Joins: 2, Upgrades: 1},
		{Day: date(11), Members: members(1, 0, 1)},
		{Day: date(12), Members: members(1, 1, 0), Downgrades: 1},
	}
	if diff := cmp.Diff(want, days); diff != "" {
		t.Errorf("days 9-12 January (-want +got):\n%s", diff)
	}
	days, err = p.Levels().Days(ctx, date(10), date(10))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:2], days); diff != "" {
		t.Errorf("10 January alone (-want +got):\n%s", diff)
	}
	if _, err := p.Levels().Days(ctx, date(12), date(11)); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("Days of a period ending before it starts = %v; want ErrInvalidArgument", err)
	}
	if _, err := p.Levels().Days(ctx, date(1), date(1).AddDays(level.MaxDays)); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("Days of more than MaxDays = %v; want ErrInvalidArgument", err)
	}
	none := testkit.OpenMemory(t, testkit.ValueDef())
	if _, err := none.Levels().Days(ctx, date(1), date(2)); !errors.Is(err, level.ErrNotDefined) {
		t.Errorf("Days without levels = %v; want ErrNotDefined", err)
	}
}

// TestDaysDamagedCount: a day's move count is a total whose stripes are
// summed; a sum that is not a whole number an int64 holds (a fraction,
// 2^63, which an int64 wraps to -2^63, 24e24) is damage, reported as
// store.ErrCorrupt rather than cut to a count. A count of 3 written the
// same way reads as 3 (m1's join and upgrade of 10 January).
func TestDaysDamagedCount(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, testkit.LadderDef(level.Matching))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, event.Event{ID: "o1", Member: "m1", Type: "order", Time: time.Date(2025, 1, 10, 9, 0, 0, 0, zone),
		Attrs: event.Attrs{"amount": event.DecString("600")}})
	day := rule.Date{Year: 2025, Month: 1, Day: 10}
	testkit.Overwrite(t, st, "level.moves", []byte("3"))
	days, err := p.Levels().Days(ctx, day, day)
	if err != nil || len(days) != 1 || days[0].Joins != 3 || days[0].Upgrades != 3 {
		t.Fatalf("Days with counts of 3 = %+v, %v; want 3 joins and 3 upgrades", days, err)
	}
	for _, v := range []string{"1.5", "9223372036854775808", "24e24"} {
		testkit.Overwrite(t, st, "level.moves", []byte(v))
		if days, err := p.Levels().Days(ctx, day, day); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Days with a count of %s = %+v, %v; want store.ErrCorrupt", v, days, err)
		}
	}
	// A count of a move that is none of the moves is damage too, not a
	// move left out of the day's figures.
	testkit.Overwrite(t, st, "level.moves", []byte("1"))
	err = st.Update(ctx, func(tx store.Tx) error {
		return tx.Put("level.moves", total.Key(nil, []byte("2025-01-10\x00jump\x00Entry\x00Gold"), 0), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if days, err := p.Levels().Days(ctx, day, day); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Days with a move \"jump\" = %+v, %v; want store.ErrCorrupt", days, err)
	}
}

// TestDaysCountsPastInt64: counts that each read as a valid count, but
// whose sum in a day's figures is past an int64, are damage
// (store.ErrCorrupt), not a figure wrapped to another. Two joins of 10
// January of 2^62 (4611686018427387904) and 2^62-1 come to the most an
// int64 holds, and read as such; with 2^62 and 2^62 the day's joins are
// past it; a join to Entry of 2^62 and a downgrade to Entry of 2^62 take
// Entry's net past it; and upgrades from Entry of 2^62 and 2^62-1 on 11
// January take 9 January's end, 2 members at Entry today plus them, past
// it.
func TestDaysCountsPastInt64(t *testing.T) {
	ctx := context.Background()
	const p62 = "4611686018427387904"
	const p62less1 = "4611686018427387903"
	move := func(day, mv, from, to, n string) [3]string {
		return [3]string{"level.moves", day + "\x00" + mv + "\x00" + from + "\x00" + to, n}
	}
	count := func(level, n string) [3]string { return [3]string{"level.count", level, n} }
	open := func(t *testing.T, recs ...[3]string) *membership.Program {
		t.Helper()
		st := memory.New()
		t.Cleanup(func() { st.Close() })
		p, err := membership.Open(st, testkit.LadderDef(level.Matching))
		if err != nil {
			t.Fatal(err)
		}
		err = st.Update(ctx, func(tx store.Tx) error {
			for _, r := range recs {
				if err := tx.Put(r[0], total.Key(nil, []byte(r[1]), 0), []byte(r[2])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	date := func(day int) rule.Date { return rule.Date{Year: 2025, Month: 1, Day: day} }

	p := open(t, move("2025-01-10", "join", "", "Entry", p62), move("2025-01-10", "join", "", "Gold", p62less1),
		count("Entry", p62), count("Gold", p62less1))
	days, err := p.Levels().Days(ctx, date(9), date(10))
	if err != nil {
		t.Fatal(err)
	}
	members := func(entry, gold int64) []level.Count {
		return []level.Count{{Name: "Entry", Members: entry}, {Name: "Bronze"}, {Name: "Silver"}, {Name: "Gold", Members: gold}, {Name: "Platinum"}}
	}
	want := []level.Day{
		{Day: date(9), Members: members(0, 0)},
		{Day: date(10), Members: members(1<<62, 1<<62-1), Joins: math.MaxInt64},
	}
	if diff := cmp.Diff(want, days); diff != "" {
		t.Errorf("joins up to the most an int64 holds (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		recs [][3]string
	}{
		{"the day's joins", [][3]string{move("2025-01-10", "join", "", "Entry", p62), move("2025-01-10", "join", "", "Gold", p62)}},
		{"Entry's net", [][3]string{move("2025-01-10", "join", "", "Entry", p62), move("2025-01-10", "downgrade", "Gold", "Entry", p62)}},
		{"9 January's end", [][3]string{move("2025-01-11", "upgrade", "Entry", "Gold", p62), move("2025-01-11", "upgrade", "Entry", "Silver", p62less1),
			count("Entry", "2")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := open(t, tt.recs...)
			if days, err := p.Levels().Days(ctx, date(9), date(10)); !errors.Is(err, store.ErrCorrupt) || days != nil {
				t.Errorf("Days = %+v, %v; want store.ErrCorrupt", days, err)
			}
		})
	}
}
