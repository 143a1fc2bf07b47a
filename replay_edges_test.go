package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// TestReplayRequestAppliedTwiceDiverges continues a replay After an input
// the target already holds: an event found already applied is
// ErrReplayDiverged ("applied twice"), and so is a request answered from
// its record (Duplicate) rather than applied; before, the request counted
// as applied although it applied nothing. By hand: the source takes an
// order of 200 (200 points at Silver's rate 1), an adjustment of 50 and an
// order of 100, 350 points; the whole replay holds 350, and replaying the
// adjustment or the second order again applies nothing and leaves 350.
func TestReplayRequestAppliedTwiceDiverges(t *testing.T) {
	ctx := context.Background()
	r := newReplaySource(t)
	def, src, p, at, order := r.def, r.st, r.p, r.at, r.order
	order("o1", "200", 0)
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op", Note: "goodwill",
		At: at.Add(time.Hour), Program: "mall", Amount: decimal.NewFromInt(50)}); err != nil {
		t.Fatal(err)
	}
	order("o2", "100", 2)
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := dst.Replay(ctx, src, nil); err != nil || n != 3 {
		t.Fatalf("Replay = %d, %v; want 3 inputs", n, err)
	}
	mall := ledger.MemberAccount("m1", ledger.Points("mall"), "")
	check := func(when string) {
		t.Helper()
		if b, err := dst.Balance(ctx, mall); err != nil || !b.Equal(decimal.NewFromInt(350)) {
			t.Errorf("%s: points %s (%v), want 350", when, b, err)
		}
	}
	check("replayed")
	for _, c := range []struct {
		name  string
		input uint64
	}{{"the adjustment again", 2}, {"the second order again", 3}} {
		res, err := dst.ReplayWith(ctx, src, membership.ReplayOptions{After: c.input - 1, Through: c.input})
		if !errors.Is(err, membership.ErrReplayDiverged) || res.Applied != 0 {
			t.Errorf("%s: ReplayWith = %+v, %v; want nothing applied and ErrReplayDiverged", c.name, res, err)
		}
		check(c.name)
	}
}

// TestReplayFromDamagedDefinitionRecord: a source whose definition record
// is not one a program writes (3 bytes where a version and a SHA-256 take
// 40) is damaged, not running another definition: Replay wraps ErrCorrupt
// (it returned ErrDefinitionConflict) and applies nothing.
func TestReplayFromDamagedDefinitionRecord(t *testing.T) {
	ctx := context.Background()
	r := newReplaySource(t)
	def, src := r.def, r.st
	r.order("o1", "200", 0)
	if err := src.Update(ctx, func(tx store.Tx) error { return tx.Put("meta", []byte("definition"), []byte{0, 0, 1}) }); err != nil {
		t.Fatal(err)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	n, err := dst.Replay(ctx, src, nil)
	if !errors.Is(err, membership.ErrCorrupt) || errors.Is(err, membership.ErrDefinitionConflict) || n != 0 {
		t.Errorf("Replay from a damaged definition record = %d, %v; want 0 and ErrCorrupt", n, err)
	}
}

// TestReplayWithPartsOutsideTheJournal: After beyond the journal's length
// (a ReplayResult.Last of another journal, say) and Through before After
// are refused, wrapping ErrInvalidArgument and naming the field, and apply
// nothing; before, both replayed nothing without an error, the first
// reporting the foreign After as Last. After at the journal's length (a
// replay that is done) applies nothing and is no error.
func TestReplayWithPartsOutsideTheJournal(t *testing.T) {
	ctx := context.Background()
	r := newReplaySource(t)
	def, src := r.def, r.st
	r.order("o1", "100", 0)
	r.order("o2", "100", 1)
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := dst.ReplayWith(ctx, src, membership.ReplayOptions{Through: 1}); err != nil || res.Applied != 1 {
		t.Fatalf("replaying input 1: %+v, %v", res, err)
	}
	for _, c := range []struct {
		name, field string
		o           membership.ReplayOptions
	}{
		{"after beyond the journal", "after", membership.ReplayOptions{After: 3}},
		{"through before after", "through", membership.ReplayOptions{After: 2, Through: 1}},
	} {
		res, err := dst.ReplayWith(ctx, src, c.o)
		if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) || res.Applied != 0 {
			t.Errorf("%s: ReplayWith = %+v, %v; want nothing applied and ErrInvalidArgument naming %q", c.name, res, err, c.field)
		}
	}
	if res, err := dst.ReplayWith(ctx, src, membership.ReplayOptions{After: 1}); err != nil || res.Applied != 1 || res.Last != 2 {
		t.Fatalf("replaying the rest: %+v, %v; want input 2 applied", res, err)
	}
	if res, err := dst.ReplayWith(ctx, src, membership.ReplayOptions{After: 2}); err != nil || res.Applied != 0 || res.Last != 2 {
		t.Errorf("replaying after the end: %+v, %v; want nothing and no error", res, err)
	}
}

// TestReplayProgressAfterEachBatch pins ReplayProgress: consecutive
// events are applied in one batch and reported once, with the last of
// them. By hand, for o1, o2, an adjustment and o3 (4 inputs): (2, 4) once
// the adjustment ends the batch of o1 and o2, (3, 4) for the adjustment,
// (4, 4) for o3.
func TestReplayProgressAfterEachBatch(t *testing.T) {
	ctx := context.Background()
	r := newReplaySource(t)
	def, src, p, at := r.def, r.st, r.p, r.at
	order := func(id string, h int) { t.Helper(); r.order(id, "100", h) }
	order("o1", 0)
	order("o2", 1)
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op", Note: "n",
		At: at.Add(2 * time.Hour), Program: "mall", Amount: decimal.NewFromInt(5)}); err != nil {
		t.Fatal(err)
	}
	order("o3", 3)
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]uint64
	if n, err := dst.Replay(ctx, src, func(done, total uint64) { got = append(got, [2]uint64{done, total}) }); err != nil || n != 4 {
		t.Fatalf("Replay = %d, %v; want 4", n, err)
	}
	if d := cmp.Diff([][2]uint64{{2, 4}, {3, 4}, {4, 4}}, got); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
}

// replaySource is the source of the replay tests here: the retail program
// with its journal on a memory store, and the time of its first order,
// 10:00 on 1 March 2026 in the program's zone.
type replaySource struct {
	t   *testing.T
	def membership.Definition
	st  *memory.Store
	p   *membership.Program
	at  time.Time
}

func newReplaySource(t *testing.T) replaySource {
	t.Helper()
	r := replaySource{t: t, def: retailWith(t, func(map[string]any) {}), st: memory.New()}
	p, err := membership.Open(r.st, r.def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	r.p, r.at = p, time.Date(2026, 3, 1, 10, 0, 0, 0, p.Location())
	return r
}

// order processes m1's order id of amount (its order_id id), h hours
// after the first order's time.
func (r replaySource) order(id, amount string, h int) {
	r.t.Helper()
	if _, err := r.p.Process(context.Background(), event.Event{ID: id, Member: "m1", Type: "order", Time: r.at.Add(time.Duration(h) * time.Hour),
		Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id)}}); err != nil {
		r.t.Fatal(err)
	}
}
