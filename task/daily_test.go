package task_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
)

// TestDaily: "checkin" completes on each check-in, "share-twice" on every
// second share. m1 checks in on 2 and 3 March (23:30, still the 3rd in
// the program's zone) and shares twice on the 3rd; m2 checks in on the
// 3rd and shares once. Per day: 2 March checkin 1; 3 March checkin 2,
// share-twice 1; nothing on the 4th.
func TestDaily(t *testing.T) {
	ctx := context.Background()
	p := engOpen(t,
		task.Task{Name: "checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10},
		task.Task{Name: "share-twice", Kind: task.Repeat, Steps: engSteps("share"), Times: 2, Rewards: engPts10},
	)
	at := func(day, hour, min int) time.Time { return time.Date(2026, 3, day, hour, min, 0, 0, shanghai) }
	mustProcess(t, p,
		engEvent("c1", "m1", "checkin", at(2, 9, 0), nil),
		engEvent("c2", "m1", "checkin", at(3, 23, 30), nil),
		engEvent("s1", "m1", "share", at(3, 10, 0), nil),
		engEvent("s2", "m1", "share", at(3, 11, 0), nil),
		engEvent("c3", "m2", "checkin", at(3, 12, 0), nil),
		engEvent("s3", "m2", "share", at(3, 13, 0), nil),
	)
	date := func(day int) rule.Date { return rule.Date{Year: 2026, Month: 3, Day: day} }
	got, err := p.Tasks().Daily(ctx, date(1), date(4))
	if err != nil {
		t.Fatal(err)
	}
	want := []task.DayCompletions{
		{Day: date(2), Task: "checkin", Completions: 1},
		{Day: date(3), Task: "checkin", Completions: 2},
		{Day: date(3), Task: "share-twice", Completions: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily completions (-want +got):\n%s", diff)
	}
	if got, err := p.Tasks().Daily(ctx, date(3), date(3)); err != nil || len(got) != 2 {
		t.Errorf("3 March alone = %v, %v; want its two rows", got, err)
	}
	// A period of MaxDays days is answered; a longer one, one ending
	// before it starts and one of a day that is not a date are refused,
	// naming the field.
	if got, err := p.Tasks().Daily(ctx, date(1), date(1).AddDays(task.MaxDays-1)); err != nil || len(got) != 3 {
		t.Errorf("Daily of MaxDays days = %v, %v; want the three rows", got, err)
	}
	for name, c := range map[string]struct {
		from, to rule.Date
		field    string
	}{
		"to before from":   {date(4), date(3), "to"},
		"MaxDays + 1 days": {date(1), date(1).AddDays(task.MaxDays), "to"},
		"1900 to 2099":     {rule.Date{Year: 1900, Month: 1, Day: 1}, rule.Date{Year: 2099, Month: 12, Day: 31}, "to"},
		"from not a date":  {rule.Date{Year: 2026, Month: 2, Day: 30}, date(3), "from"},
		"to not a date":    {date(1), rule.Date{Year: 2026, Month: 13, Day: 1}, "to"},
		"zero from and to": {rule.Date{}, rule.Date{}, "from"},
	} {
		_, err := p.Tasks().Daily(ctx, c.from, c.to)
		if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "invalid argument: "+c.field+":") {
			t.Errorf("Daily, %s = %v; want ErrInvalidArgument naming %s", name, err, c.field)
		}
	}
	none := testkit.OpenMemory(t, testkit.ValueDef())
	if _, err := none.Tasks().Daily(ctx, date(1), date(2)); !errors.Is(err, task.ErrNotDefined) {
		t.Errorf("Daily without tasks = %v; want ErrNotDefined", err)
	}
}

// TestDailyDamagedCount: a day's completions are a total whose stripes
// are summed; a sum that is not a whole number an int64 holds (a
// fraction, 2^63, which an int64 wraps to -2^63, 24e24) is damage,
// reported as store.ErrCorrupt rather than cut to a count. A count of 3
// written the same way reads as 3.
func TestDailyDamagedCount(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, engDef(task.Task{Name: "checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10}))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, engEvent("c1", "m1", "checkin", time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai), nil))
	day := rule.Date{Year: 2026, Month: 3, Day: 2}
	testkit.Overwrite(t, st, "task.daily", []byte("3"))
	got, err := p.Tasks().Daily(ctx, day, day)
	if want := []task.DayCompletions{{Day: day, Task: "checkin", Completions: 3}}; err != nil || !cmp.Equal(want, got) {
		t.Fatalf("Daily with a count of 3 = %+v, %v; want %+v", got, err, want)
	}
	for _, v := range []string{"1.5", "9223372036854775808", "24e24"} {
		testkit.Overwrite(t, st, "task.daily", []byte(v))
		if got, err := p.Tasks().Daily(ctx, day, day); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Daily with a count of %s = %+v, %v; want store.ErrCorrupt", v, got, err)
		}
	}
}

// TestLimitCounterDamaged: a task's completion counter (rule.Use's, for
// its calendar limits; a total limit reads the completions ever) only ever holds a whole number of completions, not
// negative; one that does not (1.5, -1, 2^64, which an int64 wraps to 0)
// is damage: Completions and the next qualifying event fail with
// store.ErrCorrupt instead of reading it as some count and counting on
// from it. A counter of 2 written the same way reads as 2.
func TestLimitCounterDamaged(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, engDef(task.Task{Name: "checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Day, Limit: testkit.Dec("3")}}}))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai)
	mustProcess(t, p, engEvent("c1", "m1", "checkin", at, nil))
	q := task.CompletionsQuery{Member: "m1", Task: "checkin", Period: rule.Day, At: at}
	testkit.Overwrite(t, st, "task.limits", []byte("2"))
	if n, err := p.Tasks().Completions(ctx, q); n != 2 || err != nil {
		t.Fatalf("Completions with a counter of 2 = %d, %v; want 2", n, err)
	}
	for _, v := range []string{"1.5", "-1", "18446744073709551616"} {
		testkit.Overwrite(t, st, "task.limits", []byte(v))
		if n, err := p.Tasks().Completions(ctx, q); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Completions with a counter of %s = %d, %v; want store.ErrCorrupt", v, n, err)
		}
		if _, err := p.Process(ctx, engEvent("c2", "m1", "checkin", at.Add(time.Hour), nil)); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("a check-in with a counter of %s: %v; want store.ErrCorrupt", v, err)
		}
	}
}
