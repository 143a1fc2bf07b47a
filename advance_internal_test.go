package membership

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/store/memory"
)

// duePart schedules one due item per "plan" event and records the order
// and the time at which Advance performs them.
type duePart struct {
	mu   sync.Mutex
	done []string
}

func (d *duePart) dueKinds() []string { return []string{"test"} }

func (d *duePart) process(t *txn, ev event.Event) error {
	if ev.Type != "plan" {
		return nil
	}
	return t.schedule(ev.Attrs["due"].Time, "test", ev.ID, map[string]string{"member": ev.Member})
}

func (d *duePart) due(t *txn, it due.Item) error {
	d.mu.Lock()
	d.done = append(d.done, fmt.Sprintf("%s@%s", it.ID, t.at.In(t.p.loc).Format("01-02 15:04")))
	d.mu.Unlock()
	// An ID ending in "+" schedules its successor a day later, like a term
	// end that starts the next term.
	if next, ok := strings.CutSuffix(it.ID, "+"); ok && len(next) > 0 {
		if err := t.schedule(t.at.AddDate(0, 0, 1), "test", next, nil); err != nil {
			return err
		}
	}
	return t.emit("test.due", "", string(it.Payload), nil)
}

func openWithDuePart(t *testing.T) (*Program, *duePart) {
	t.Helper()
	p, err := Open(memory.New(), Definition{Zone: "Asia/Shanghai", Events: []event.Type{{Name: "plan", Attributes: []event.Attr{{Name: "due", Kind: event.Time, Required: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	dp := &duePart{}
	p.parts = append(p.parts, dp)
	p.dueBy["test"] = dp
	return p, dp
}

func TestAdvanceCatchesUpInOrderAfterDowntime(t *testing.T) {
	ctx := context.Background()
	p, dp := openWithDuePart(t)
	sh := p.Location()
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, sh) }
	// Scheduled out of order; the host is then down from Dec 1 to Dec 8.
	for i, at := range []time.Time{day(5, 0), day(2, 0), day(7, 12), day(3, 9), day(20, 0)} {
		ev := event.Event{ID: fmt.Sprint("e", i), Member: "m", Type: "plan", Time: day(1, 0), Attrs: event.Attrs{"due": event.At(at)}}
		if _, err := p.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	n, err := p.Advance(ctx, day(8, 0))
	if err != nil || n != 4 {
		t.Fatalf("Advance = %d, %v; want 4", n, err)
	}
	want := []string{"e1@12-02 00:00", "e3@12-03 09:00", "e0@12-05 00:00", "e2@12-07 12:00"}
	if fmt.Sprint(dp.done) != fmt.Sprint(want) {
		t.Errorf("performed %v, want %v", dp.done, want)
	}
	// Idempotent: nothing more is due.
	if n, err := p.Advance(ctx, day(8, 0)); err != nil || n != 0 {
		t.Errorf("second Advance = %d, %v", n, err)
	}
	if w, _ := p.Watermark(ctx); !w.Equal(day(8, 0)) {
		t.Errorf("watermark = %v", w)
	}
	// An earlier now neither moves the watermark back nor runs anything.
	if n, _ := p.Advance(ctx, day(4, 0)); n != 0 {
		t.Errorf("Advance into the past ran %d", n)
	}
	if w, _ := p.Watermark(ctx); !w.Equal(day(8, 0)) {
		t.Errorf("watermark moved back to %v", w)
	}
	feed, _ := p.Feed(ctx, 0, 100)
	if len(feed) != 4 || !feed[0].Time.Equal(day(2, 0)) {
		t.Errorf("feed = %+v", feed)
	}
	if n, _ := p.Advance(ctx, day(21, 0)); n != 1 {
		t.Errorf("last item: %d", n)
	}
}

func TestAdvancePagesThroughABacklog(t *testing.T) {
	ctx := context.Background()
	p, dp := openWithDuePart(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, p.Location())
	var evs []event.Event
	total := advancePage*2 + 17
	for i := range total {
		evs = append(evs, event.Event{ID: fmt.Sprintf("e%04d", i), Member: "m", Type: "plan", Time: base, Attrs: event.Attrs{"due": event.At(base.Add(time.Duration(total-i) * time.Minute))}})
	}
	if _, err := p.ProcessBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	n, err := p.Advance(ctx, base.AddDate(0, 0, 1))
	if err != nil || n != total {
		t.Fatalf("Advance = %d, %v; want %d", n, err, total)
	}
	if dp.done[0] != fmt.Sprintf("e%04d@01-01 00:01", total-1) || len(dp.done) != total {
		t.Errorf("first performed %s of %d", dp.done[0], len(dp.done))
	}
}

func TestSchedulerRunsInZoneAndRecovers(t *testing.T) {
	ctx := context.Background()
	p, dp := openWithDuePart(t)
	sh := p.Location()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, sh)
	panicking := true
	p.clock = func() time.Time {
		if panicking {
			panic("clock broke")
		}
		return now
	}
	ev := event.Event{ID: "e", Member: "m", Type: "plan", Time: now, Attrs: event.Attrs{"due": event.At(now.Add(-time.Hour))}}
	if _, err := p.Process(ctx, ev); err != nil {
		t.Fatal(err)
	}
	s, err := p.Schedule(ctx, "30 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// cron computes Next from the wall clock; it must be 03:30 in the zone.
	if next := s.Next().In(sh); next.Hour() != 3 || next.Minute() != 30 {
		t.Errorf("next run %v, want 03:30 Asia/Shanghai", next)
	}
	s.Run() // the panic is recovered, not propagated
	if len(dp.done) != 0 {
		t.Fatalf("performed %v during a panicking run", dp.done)
	}
	panicking = false
	s.Run()
	if len(dp.done) != 1 {
		t.Errorf("performed %v, want the due item", dp.done)
	}
	if _, err := p.Schedule(ctx, "not a spec"); err == nil {
		t.Error("bad spec accepted")
	}
}

// Items that an item schedules, already due, run in the same call.
func TestAdvanceRunsItemsScheduledDuringTheCall(t *testing.T) {
	ctx := context.Background()
	p, dp := openWithDuePart(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, p.Location())
	ev := event.Event{ID: "t+++", Member: "m", Type: "plan", Time: at, Attrs: event.Attrs{"due": event.At(at)}}
	if _, err := p.Process(ctx, ev); err != nil {
		t.Fatal(err)
	}
	n, err := p.Advance(ctx, at.AddDate(0, 0, 10))
	if err != nil || n != 4 {
		t.Fatalf("Advance = %d, %v; want 4", n, err)
	}
	want := "[t+++@01-01 00:00 t++@01-02 00:00 t+@01-03 00:00 t@01-04 00:00]"
	if got := fmt.Sprint(dp.done); got != want {
		t.Errorf("performed %s, want %s", got, want)
	}
}
