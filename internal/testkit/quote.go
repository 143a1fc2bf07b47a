package testkit

import (
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
)

// RewindRand is a deterministic random source whose position a test can
// set back: a quote and the Process that follows it then draw the same
// bytes, so their coupon codes are equal and the outcomes compare whole.
type RewindRand struct {
	mu  sync.Mutex
	pos uint64
}

// Read fills p with the bytes at the source's position and moves on.
func (r *RewindRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], (r.pos/8+1)*0x9e3779b97f4a7c15)
		p[i] = b[r.pos%8]
		r.pos++
	}
	return len(p), nil
}

// At returns the source's position.
func (r *RewindRand) At() uint64 { r.mu.Lock(); defer r.mu.Unlock(); return r.pos }

// Rewind sets the source's position.
func (r *RewindRand) Rewind(pos uint64) { r.mu.Lock(); defer r.mu.Unlock(); r.pos = pos }

// RetailDef reads the retail example's program from path
// (examples/retail/program.json, relative to the test's package): a
// ladder with upgrade gifts (points and a coupon), points by level, a
// newcomer pack on register, stored value and a task rewarding three
// orders a month.
func RetailDef(t testing.TB, path string) membership.Definition {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// RetailEvents is a short history of two members on the retail program
// that goes through every kind of effect: a newcomer pack each, points
// and growth at Silver, a recharge and a card payment, an order that takes
// alice to Gold (gifts of 200 points and a coupon), her third order of the
// month (the task's 100 points and coupon), and bob's orders.
func RetailEvents() []event.Event {
	at := func(day, hour int) time.Time { return time.Date(2025, 3, day, hour, 0, 0, 0, Shanghai) }
	order := func(id, member, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: when, Attrs: event.Attrs{
			"amount": event.Dec(Dec(amount)), "order_id": event.Str(id), "store": event.Str("s01"),
			"category": event.List("fresh")}}
	}
	return []event.Event{
		{ID: "reg-alice", Member: "alice", Type: "register", Time: at(3, 9), Attrs: event.Attrs{"channel": event.Str("app")}},
		{ID: "reg-bob", Member: "bob", Type: "register", Time: at(3, 10)},
		order("o1", "alice", "100", at(4, 10)),
		{ID: "top1", Member: "alice", Type: "recharge", Time: at(4, 11), Attrs: event.Attrs{"amount": event.Dec(Dec("500"))}},
		{ID: "pay1", Member: "alice", Type: "value_pay", Time: at(4, 12), Attrs: event.Attrs{"amount": event.Dec(Dec("50"))}},
		order("o2", "bob", "80.50", at(5, 10)),
		order("o3", "alice", "1450", at(6, 10)),
		order("o4", "alice", "20", at(7, 10)),
		order("o5", "bob", "30", at(8, 10)),
	}
}

// QuoteThenProcess quotes each event on p and then processes it, failing
// t unless the quote is the Process outcome, whole, and the event is new
// to Process (the quote did not record it). rr must be p's random source
// (membership.WithRand): it is rewound between the two, so that coupon
// codes are drawn from the same bytes. It returns the kinds of the
// changes published.
func QuoteThenProcess(t testing.TB, p *membership.Program, rr *RewindRand, evs ...event.Event) map[string]bool {
	t.Helper()
	ctx := context.Background()
	kinds := map[string]bool{}
	for _, ev := range evs {
		pos := rr.At()
		q, err := p.Quote(ctx, ev)
		if err != nil {
			t.Fatalf("Quote(%s): %v", ev.ID, err)
		}
		rr.Rewind(pos)
		out, err := p.Process(ctx, ev)
		if err != nil {
			t.Fatalf("Process(%s): %v", ev.ID, err)
		}
		if out.Duplicate {
			t.Fatalf("Process(%s) after a quote is a Duplicate: the quote recorded the event", ev.ID)
		}
		if diff := cmp.Diff(out, q); diff != "" {
			t.Fatalf("Quote(%s) differs from Process (-process +quote):\n%s", ev.ID, diff)
		}
		for _, c := range out.Changes {
			kinds[c.Kind] = true
		}
	}
	return kinds
}
