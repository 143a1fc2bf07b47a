package points_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
)

// TestEarnAllocs guards the hot path: what the points part adds to an
// event that earns (the rule, the caps' counter, the lot's posting, its
// expiry's due item and monthly total, the change and its hand-written
// JSON) stays at 32 allocations, measured against an event that earns
// nothing on the same program when the part moved into this package.
func TestEarnAllocs(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsBenchDef())
	at := ptsAt("2026-03-01 10:00")
	attrs := event.Attrs{"amount": event.DecString("88.50")}
	i := 0
	next := func(typ string) event.Event {
		i++
		ev := event.Event{ID: "e" + strconv.Itoa(i), Member: "m" + strconv.Itoa(i%100), Type: typ, Time: at.Add(time.Duration(i) * time.Millisecond)}
		if typ == "order" {
			ev.Attrs = attrs
		}
		return ev
	}
	for range 200 { // every member has earned: steady state
		mustProcess(t, p, next("order"))
	}
	allocs := func(typ string) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := p.Process(ctx, next(typ)); err != nil {
				t.Fatal(err)
			}
		})
	}
	order, visit := allocs("order"), allocs("visit")
	if limit := float64(32 + raceSlack); order-visit > limit {
		t.Errorf("an earning order allocates %v times, an event that earns nothing %v: the points part adds %v, want at most %v", order, visit, order-visit, limit)
	}
}
