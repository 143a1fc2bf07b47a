package membership

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store/memory"
)

// schedPart schedules one due item per "plan" event and records the items
// Advance performs.
type schedPart struct {
	mu   sync.Mutex
	done []string
}

func (d *schedPart) DueKinds() []string { return []string{"test"} }

func (d *schedPart) Process(u *engine.Unit, ev event.Event) error {
	if ev.Type != "plan" {
		return nil
	}
	return u.Schedule(ev.Attrs["due"].Time, "test", ev.ID, nil)
}

func (d *schedPart) Due(u *engine.Unit, it engine.Item) error {
	d.mu.Lock()
	d.done = append(d.done, it.ID)
	d.mu.Unlock()
	return nil
}

func TestSchedulerRunsInZoneAndRecovers(t *testing.T) {
	ctx := context.Background()
	p, err := Open(memory.New(), Definition{Zone: "Asia/Shanghai", Events: []event.Type{{Name: "plan", Attributes: []event.Attr{{Name: "due", Kind: event.Time, Required: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	dp := &schedPart{}
	p.eng.Add(dp)
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
