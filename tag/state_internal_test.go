package tag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

func date(y int, m time.Month, d int) rule.Date { return rule.Date{Year: y, Month: m, Day: d} }

// stateCases are states as events leave them: a member seen but without
// order, one with tags, an edge and recent days, and one whose recent
// days are not kept.
func stateCases() []state {
	cst := time.FixedZone("CST", 8*3600)
	return []state{
		{},
		{stats: statsCases()[2], names: []string{"big", "recent", "vip"},
			edge: edge{At: time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC), Scheduled: time.Date(2026, 1, 5, 9, 0, 0, 1, time.UTC)},
			from: date(2026, 1, 1),
			recent: []Day{{Date: date(2026, 1, 1), Orders: 2, Amount: dec("20.50")}, {Date: date(2026, 2, 28), Orders: 1, Amount: dec("-3")},
				{Date: date(2026, 3, 1), Orders: 300, Amount: dec("12345678901234567890.12")}}},
		{stats: statsCases()[1], names: []string{"x"}, from: date(2025, 12, 31)},
		{from: firstDate},
		{stats: Stats{FirstOrder: time.Date(2025, 1, 1, 0, 0, 0, 0, cst), LastOrder: time.Date(2025, 1, 1, 0, 0, 0, 0, cst), Orders: 1, Amount: dec("1")},
			edge: edge{At: time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC)}},
	}
}

// A state reads back as written, and equal states make equal records.
func TestStateRecord(t *testing.T) {
	for i, s := range stateCases() {
		raw := appendState(nil, &s)
		got, err := decodeState(raw)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		opt := cmp.AllowUnexported(state{}, edge{})
		if diff := cmp.Diff(s, got, opt, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("case %d: round trip (-want +got):\n%s", i, diff)
		}
		if again := appendState(nil, &got); string(again) != string(raw) {
			t.Errorf("case %d: record changed when written again", i)
		}
	}
	// A statistics record of an older version reads as a legacy state.
	old := statsCases()[2]
	got, err := decodeState(appendStatsV1(nil, &old))
	if err != nil || !got.legacy || !cmp.Equal(got.stats, old) {
		t.Errorf("statsV1 record: %+v, %v", got, err)
	}
}

// A damaged state (cut short anywhere, its tags or days out of order, a
// day before the first kept or out of the calendar, bytes after it) is an
// error, never a panic nor another state.
func TestStateRecordDamaged(t *testing.T) {
	s := stateCases()[1]
	raw := appendState(nil, &s)
	for n := 1; n < len(raw); n++ {
		if _, err := decodeState(raw[:n]); !errors.Is(err, errRecord) {
			t.Errorf("record cut to %d of %d bytes: %v", n, len(raw), err)
		}
	}
	change := func(f func(s *state)) []byte {
		c := stateCases()[1]
		c.names, c.recent = slices.Clone(c.names), slices.Clone(c.recent)
		f(&c)
		return appendState(nil, &c)
	}
	for name, b := range map[string][]byte{
		"tags":     change(func(s *state) { s.names[0], s.names[1] = s.names[1], s.names[0] }),
		"same tag": change(func(s *state) { s.names[1] = s.names[0] }),
		"days":     change(func(s *state) { s.recent[0], s.recent[1] = s.recent[1], s.recent[0] }),
		"same day": change(func(s *state) { s.recent[1].Date = s.recent[0].Date }),
		"early":    change(func(s *state) { s.from = date(2026, 1, 2) }),
		"month":    change(func(s *state) { s.recent[2].Date.Month = 13 }),
		"from":     change(func(s *state) { s.from.Day = 0 }),
		"trailing": append(slices.Clone(raw), 0),
	} {
		if _, err := decodeState(b); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// checkState fails the test unless the member's state is one this version
// wrote, its tags are the member's tag.assigned records, and the member's
// order days (tag.days' before the state's, then the state's) are want,
// each "date orders amount". It returns the state.
func checkState(t *testing.T, st store.Store, member string, want ...string) state {
	t.Helper()
	var s state
	err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		if s, err = loadState(tx, member); err != nil {
			return err
		}
		if s.legacy {
			return fmt.Errorf("%s's state is an older version's", member)
		}
		names, err := tagNames(tx, member)
		if err != nil {
			return err
		}
		if !slices.Equal(names, s.names) && len(names)+len(s.names) > 0 {
			t.Errorf("%s's state has tags %q, tag.assigned %q", member, s.names, names)
		}
		to := date(9999, 12, 30)
		if !s.from.IsZero() {
			to = s.from.AddDays(-1)
		}
		days, err := loadDays(tx, member, date(1, 1, 1), to)
		if err != nil {
			return err
		}
		var got []string
		for _, d := range append(days, s.recent...) {
			got = append(got, fmt.Sprint(d.Date, " ", d.Orders, " ", d.Amount))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's days %q, want %q", member, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// windowEngine returns an engine on st whose rules are "recent" (an order
// in the last days days) and "often" (orders on at least n days in the
// last days days), and its handle.
func windowEngine(t *testing.T, st store.Store, days, n int) (*engine.Engine, *Handle) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(st, loc, engine.Options{})
	h := New(e, &Definition{Orders: &Orders{Event: "order", Amount: "amount"}, Rules: []Rule{
		{Tag: "recent", All: []Cond{{Fact: FactOrderCount, Days: days, Op: event.Gte, Value: event.Int(1)}}},
		{Tag: "often", All: []Cond{{Fact: FactOrderCount, Days: days, Op: event.Gte, Value: event.Int(int64(n))}}},
	}})
	return e, h
}

// visit processes an event of member m that is not an order.
func visit(t *testing.T, e *engine.Engine, id string, at time.Time) {
	t.Helper()
	if _, err := e.Process(context.Background(), event.Event{ID: id, Member: "m", Type: "visit", Time: at}); err != nil {
		t.Fatal(err)
	}
}

// The state keeps the member's days of the rules' longest window: an
// order on a day the state holds is added to it, the days that leave the
// window leave the state for tag.days, a late order before them goes to
// tag.days, and a rule given a longer window reads tag.days again.
func TestStateRecentDays(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	e, h := windowEngine(t, st, 90, 3)
	sh := e.Location()
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, sh) }
	order(t, e, "o1", "m", at(2026, 1, 5))
	order(t, e, "o2", "m", at(2026, 1, 5))
	s := checkState(t, st, "m", "2026-01-05 2 20")
	// Evaluated on 5 January: the window of 90 days starts on 8 October.
	if s.from != date(2025, 10, 8) || len(s.recent) != 1 {
		t.Fatalf("after two orders on 5 January: from %s, days %v", s.from, s.recent)
	}
	order(t, e, "o3", "m", at(2026, 3, 1))
	order(t, e, "o4", "m", at(2026, 4, 10))
	// On 10 April the window starts on 11 January: 5 January left it.
	s = checkState(t, st, "m", "2026-01-05 2 20", "2026-03-01 1 10", "2026-04-10 1 10")
	if s.from != date(2026, 1, 11) || len(s.recent) != 2 {
		t.Fatalf("after the order of 10 April: from %s, days %v", s.from, s.recent)
	}
	if got := tagsOf(t, h, "m"); got != "recent" {
		t.Errorf("tags on 10 April: %q, want recent (two days of orders in the window)", got)
	}
	// A late order of 1 January, before the days kept: its day is
	// tag.days', and the window is the current one (Member.Now).
	order(t, e, "o5", "m", at(2026, 1, 1))
	s = checkState(t, st, "m", "2026-01-01 1 10", "2026-01-05 2 20", "2026-03-01 1 10", "2026-04-10 1 10")
	if s.from != date(2026, 1, 11) || len(s.recent) != 2 {
		t.Fatalf("after the late order: from %s, days %v", s.from, s.recent)
	}
	// A late order of 12 January is within the days kept.
	order(t, e, "o6", "m", at(2026, 1, 12))
	s = checkState(t, st, "m", "2026-01-01 1 10", "2026-01-05 2 20", "2026-01-12 1 10", "2026-03-01 1 10", "2026-04-10 1 10")
	if len(s.recent) != 3 {
		t.Fatalf("after the late order of 12 January: days %v", s.recent)
	}
	if got := tagsOf(t, h, "m"); got != "often,recent" {
		t.Errorf("tags after the order of 12 January: %q, want often,recent", got)
	}
	// The rules now look back 200 days, to 23 September 2025, before the
	// days kept: the event reads 1 and 5 January from tag.days.
	e2, h2 := windowEngine(t, st, 200, 5)
	visit(t, e2, "v1", at(2026, 4, 10))
	s = checkState(t, st, "m", "2026-01-01 1 10", "2026-01-05 2 20", "2026-01-12 1 10", "2026-03-01 1 10", "2026-04-10 1 10")
	if s.from != date(2025, 9, 23) || len(s.recent) != 5 {
		t.Fatalf("with a window of 200 days: from %s, days %v", s.from, s.recent)
	}
	if got := tagsOf(t, h2, "m"); got != "often,recent" {
		t.Errorf("tags with a window of 200 days: %q, want often,recent", got)
	}
	// Back to 90 days, on 1 June: 1 March leaves the window (from 4
	// March), and the days before it go back to tag.days, 5 January
	// with its two orders.
	e3, h3 := windowEngine(t, st, 90, 1)
	visit(t, e3, "v2", at(2026, 6, 1))
	s = checkState(t, st, "m", "2026-01-01 1 10", "2026-01-05 2 20", "2026-01-12 1 10", "2026-03-01 1 10", "2026-04-10 1 10")
	if s.from != date(2026, 3, 4) || len(s.recent) != 1 {
		t.Fatalf("with a window of 90 days on 1 June: from %s, days %v", s.from, s.recent)
	}
	if got := tagsOf(t, h3, "m"); got != "often,recent" {
		t.Errorf("tags on 1 June: %q, want often,recent", got)
	}
	// Without a windowed rule the state keeps no day.
	e4 := engine.New(st, sh, engine.Options{})
	New(e4, &Definition{Orders: &Orders{Event: "order", Amount: "amount"}, Rules: []Rule{
		{Tag: "recent", All: []Cond{{Fact: FactOrderCount, Op: event.Gte, Value: event.Int(1)}}},
	}})
	if _, err := e4.Process(context.Background(), event.Event{ID: "o7", Member: "m", Type: "order", Time: at(2026, 6, 2), Attrs: event.Attrs{"amount": event.DecString("5")}}); err != nil {
		t.Fatal(err)
	}
	s = checkState(t, st, "m", "2026-01-01 1 10", "2026-01-05 2 20", "2026-01-12 1 10", "2026-03-01 1 10", "2026-04-10 1 10", "2026-06-02 1 5")
	if !s.from.IsZero() {
		t.Fatalf("without a windowed rule: from %s, days %v", s.from, s.recent)
	}
}

// A member who ordered on more than recentMax days of the window has the
// days in tag.days, read after every event, and the rules count them all.
func TestStateRecentDaysBounded(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	e, h := windowEngine(t, st, 1000, recentMax+1)
	sh := e.Location()
	first := time.Date(2024, 1, 1, 10, 0, 0, 0, sh)
	var want []string
	for i := range recentMax {
		order(t, e, fmt.Sprint("o", i), "m", first.AddDate(0, 0, i))
		want = append(want, first.AddDate(0, 0, i).Format(time.DateOnly)+" 1 10")
	}
	if s := checkState(t, st, "m", want...); s.from.IsZero() || len(s.recent) != recentMax {
		t.Fatalf("after %d days of orders: from %s, %d days", recentMax, s.from, len(s.recent))
	}
	if got := tagsOf(t, h, "m"); got != "recent" {
		t.Errorf("tags after %d days: %q, want recent", recentMax, got)
	}
	order(t, e, "last", "m", first.AddDate(0, 0, recentMax))
	want = append(want, first.AddDate(0, 0, recentMax).Format(time.DateOnly)+" 1 10")
	if s := checkState(t, st, "m", want...); !s.from.IsZero() || s.recent != nil {
		t.Fatalf("after %d days of orders: from %s, %d days kept, want none", recentMax+1, s.from, len(s.recent))
	}
	if got := tagsOf(t, h, "m"); got != "often,recent" {
		t.Errorf("tags after %d days: %q, want often,recent", recentMax+1, got)
	}
}

// A member whose records an older version wrote (the statistics alone in
// tag.stats, the edge in tag.edge, the tags in tag.assigned, every day in
// tag.days) has a state of this version after the next event, with the
// same tags and edge, and the statistics counted on.
func TestStateFromOlderRecords(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	e, h := windowEngine(t, st, 90, 2)
	sh := e.Location()
	order(t, e, "o1", "m", time.Date(2026, 1, 5, 10, 0, 0, 0, sh))
	order(t, e, "o2", "m", time.Date(2026, 1, 6, 10, 0, 0, 0, sh))
	before := checkState(t, st, "m", "2026-01-05 1 10", "2026-01-06 1 10")
	err := st.Update(context.Background(), func(tx store.Tx) error {
		if err := putDays(tx, "m", before.recent); err != nil {
			return err
		}
		if err := tx.Put(bEdge, []byte("m"), appendEdgeV1(nil, before.edge)); err != nil {
			return err
		}
		return tx.Put(bStats, []byte("m"), appendStatsV1(nil, &before.stats))
	})
	if err != nil {
		t.Fatal(err)
	}
	order(t, e, "o3", "m", time.Date(2026, 1, 7, 10, 0, 0, 0, sh))
	s := checkState(t, st, "m", "2026-01-05 1 10", "2026-01-06 1 10", "2026-01-07 1 10")
	if s.stats.Orders != 3 || !s.stats.Amount.Equal(dec("30")) || len(s.recent) != 3 || !slices.Equal(s.names, []string{"often", "recent"}) {
		t.Errorf("state after the older records: %+v", s)
	}
	if !s.edge.At.Equal(before.edge.At) {
		t.Errorf("edge %v, want %v (the edge record's: 5 January leaves the quarter first)", s.edge.At, before.edge.At)
	}
	wantEdgeRecords(t, st, "after the next order")
	if got := tagsOf(t, h, "m"); got != "often,recent" {
		t.Errorf("tags: %q, want often,recent", got)
	}
}
