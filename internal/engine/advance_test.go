package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the tests' zone must load on hosts without a zoneinfo database

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
)

// duePart schedules one due item per "plan" event and records the order
// and the time at which Advance performs them.
type duePart struct {
	mu   sync.Mutex
	done []string
}

func (d *duePart) DueKinds() []string { return []string{"test"} }

func (d *duePart) Process(u *Unit, ev event.Event) error {
	if ev.Type != "plan" {
		return nil
	}
	return u.Schedule(ev.Attrs["due"].Time, "test", ev.ID, map[string]string{"member": ev.Member})
}

func (d *duePart) Due(u *Unit, it Item) error {
	d.mu.Lock()
	d.done = append(d.done, fmt.Sprintf("%s@%s", it.ID, u.At().In(u.Location()).Format("01-02 15:04")))
	d.mu.Unlock()
	// An ID ending in "+" schedules its successor a day later, like a term
	// end that starts the next term.
	if next, ok := strings.CutSuffix(it.ID, "+"); ok && len(next) > 0 {
		if err := u.Schedule(u.At().AddDate(0, 0, 1), "test", next, nil); err != nil {
			return err
		}
	}
	return u.Emit("test.due", "", string(it.Payload), nil)
}

// newWithDuePart returns an engine in Asia/Shanghai on a memory store with
// a duePart. The engine does not validate events: the "plan" events fed to
// it carry the time attribute "due" the root's event type would require.
func newWithDuePart(t *testing.T) (*Engine, *duePart) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	e := New(memory.New(), loc, Options{})
	dp := &duePart{}
	e.Add(dp)
	return e, dp
}

func TestAdvanceCatchesUpInOrderAfterDowntime(t *testing.T) {
	ctx := context.Background()
	e, dp := newWithDuePart(t)
	sh := e.Location()
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, sh) }
	// Scheduled out of order; the host is then down from Dec 1 to Dec 8.
	for i, at := range []time.Time{day(5, 0), day(2, 0), day(7, 12), day(3, 9), day(20, 0)} {
		ev := event.Event{ID: fmt.Sprint("e", i), Member: "m", Type: "plan", Time: day(1, 0), Attrs: event.Attrs{"due": event.At(at)}}
		if _, err := e.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.Advance(ctx, day(8, 0))
	if err != nil || n != 4 {
		t.Fatalf("Advance = %d, %v; want 4", n, err)
	}
	want := []string{"e1@12-02 00:00", "e3@12-03 09:00", "e0@12-05 00:00", "e2@12-07 12:00"}
	if fmt.Sprint(dp.done) != fmt.Sprint(want) {
		t.Errorf("performed %v, want %v", dp.done, want)
	}
	// Idempotent: nothing more is due.
	if n, err := e.Advance(ctx, day(8, 0)); err != nil || n != 0 {
		t.Errorf("second Advance = %d, %v", n, err)
	}
	if w, _ := e.Watermark(ctx); !w.Equal(day(8, 0)) {
		t.Errorf("watermark = %v", w)
	}
	// An earlier now neither moves the watermark back nor runs anything.
	if n, _ := e.Advance(ctx, day(4, 0)); n != 0 {
		t.Errorf("Advance into the past ran %d", n)
	}
	if w, _ := e.Watermark(ctx); !w.Equal(day(8, 0)) {
		t.Errorf("watermark moved back to %v", w)
	}
	feed, _ := e.Feed(ctx, 0, 100)
	if len(feed) != 4 || !feed[0].Time.Equal(day(2, 0)) {
		t.Errorf("feed = %+v", feed)
	}
	if n, _ := e.Advance(ctx, day(21, 0)); n != 1 {
		t.Errorf("last item: %d", n)
	}
}

func TestAdvancePagesThroughABacklog(t *testing.T) {
	ctx := context.Background()
	e, dp := newWithDuePart(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, e.Location())
	var evs []event.Event
	total := advancePage*2 + 17
	for i := range total {
		evs = append(evs, event.Event{ID: fmt.Sprintf("e%04d", i), Member: "m", Type: "plan", Time: base, Attrs: event.Attrs{"due": event.At(base.Add(time.Duration(total-i) * time.Minute))}})
	}
	if _, err := e.ProcessBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	n, err := e.Advance(ctx, base.AddDate(0, 0, 1))
	if err != nil || n != total {
		t.Fatalf("Advance = %d, %v; want %d", n, err, total)
	}
	if dp.done[0] != fmt.Sprintf("e%04d@01-01 00:01", total-1) || len(dp.done) != total {
		t.Errorf("first performed %s of %d", dp.done[0], len(dp.done))
	}
}

// Items that an item schedules, already due, run in the same call.
func TestAdvanceRunsItemsScheduledDuringTheCall(t *testing.T) {
	ctx := context.Background()
	e, dp := newWithDuePart(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, e.Location())
	ev := event.Event{ID: "t+++", Member: "m", Type: "plan", Time: at, Attrs: event.Attrs{"due": event.At(at)}}
	if _, err := e.Process(ctx, ev); err != nil {
		t.Fatal(err)
	}
	n, err := e.Advance(ctx, at.AddDate(0, 0, 10))
	if err != nil || n != 4 {
		t.Fatalf("Advance = %d, %v; want 4", n, err)
	}
	want := "[t+++@01-01 00:00 t++@01-02 00:00 t+@01-03 00:00 t@01-04 00:00]"
	if got := fmt.Sprint(dp.done); got != want {
		t.Errorf("performed %s, want %s", got, want)
	}
}
