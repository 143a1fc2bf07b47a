package membership_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
)

// TestBoltColocatedMatchesMemory runs the retail program over a few
// months of 300 members on store/memory and on store/bolt, whose member
// buckets the Program colocates, with checkpoints every few batches
// written in parts of a few pages and a reopen halfway: every member's
// state (export.Openings and export.Members), each account's statement
// and Verify agree, so the colocated layout reads back what was written,
// across members and within one.
func TestBoltColocatedMatchesMemory(t *testing.T) {
	def := testkit.RetailDef(t, "examples/retail/program.json")
	evs := retailHistory(300)
	half := len(evs) / 2
	path := filepath.Join(t.TempDir(), "store.db")
	opts := &bolt.Options{NoSync: true, CheckpointSize: 16 << 10, MaxMemory: 1 << 20}
	// One random stream each, the same, for coupon codes: the bolt
	// program's goes on across its reopens.
	memRand, diskRand := rand.NewChaCha8([32]byte{7}), rand.NewChaCha8([32]byte{7})
	mem, err := membership.Open(memory.New(), def, membership.WithRand(memRand))
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := membership.Open(st, def, membership.WithRand(diskRand))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i, ev := range evs {
		if i == half {
			if s := st.Stats(); s.Checkpoints == 0 || s.CheckpointParts == 0 {
				t.Fatalf("Stats = %+v; want checkpoints, in parts", s)
			}
			// Close and reopen: the second half reads what the first
			// left in the file.
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if st, err = bolt.Open(path, opts); err != nil {
				t.Fatal(err)
			}
			if disk, err = membership.Open(st, def, membership.WithRand(diskRand)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []*membership.Program{mem, disk} {
			if _, err := p.Process(ctx, ev); err != nil {
				t.Fatalf("Process %s: %v", ev.ID, err)
			}
		}
	}
	end := evs[len(evs)-1].Time.AddDate(0, 2, 0)
	for _, p := range []*membership.Program{mem, disk} {
		if _, err := p.Advance(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = bolt.Open(path, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if disk, err = membership.Open(st, def, membership.WithRand(diskRand)); err != nil {
		t.Fatal(err)
	}
	ids := func(yield func(string) bool) {
		for i := range 300 {
			if !yield(fmt.Sprintf("m%03d", i)) {
				return
			}
		}
	}
	dump := func(p *membership.Program) string {
		var buf bytes.Buffer
		if _, err := export.Openings(ctx, &buf, p, ids, end, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := export.Members(ctx, &buf, p, ids, end, nil); err != nil {
			t.Fatal(err)
		}
		for id := range ids {
			for _, asset := range []ledger.Asset{ledger.Growth, ledger.Points("mall"), ledger.Value} {
				if _, _, err := export.Statement(ctx, &buf, p, ledger.Query{Account: ledger.MemberAccount(id, asset, "")}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		return buf.String()
	}
	want, got := dump(mem), dump(disk)
	if got != want {
		t.Errorf("bolt (colocated) differs from memory (-memory +bolt):\n%s", cmp.Diff(want, got))
	}
	if err := disk.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := mem.Check(ctx); err != nil {
		t.Errorf("Check (memory): %v", err)
	}
}

// retailHistory is n members' registration and orders over three months
// of 2025, with recharges and card payments, in time order.
func retailHistory(n int) []event.Event {
	r := rand.New(rand.NewPCG(3, 5))
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, testkit.Shanghai)
	var evs []event.Event
	for i := range n {
		m := fmt.Sprintf("m%03d", i)
		at := start.Add(time.Duration(r.IntN(24*30)) * time.Hour)
		evs = append(evs, event.Event{ID: "reg-" + m, Member: m, Type: "register", Time: at})
		for k := range 1 + r.IntN(6) {
			at = at.Add(time.Duration(1+r.IntN(24*10)) * time.Hour)
			id := fmt.Sprintf("o-%s-%d", m, k)
			evs = append(evs, event.Event{ID: id, Member: m, Type: "order", Time: at, Attrs: event.Attrs{
				"amount": event.Dec(testkit.Dec(fmt.Sprintf("%d.%02d", 10+r.IntN(900), r.IntN(100)))), "order_id": event.Str(id),
				"store": event.Str("s01"), "category": event.List("fresh")}})
			if r.IntN(4) == 0 {
				evs = append(evs, event.Event{ID: "top-" + id, Member: m, Type: "recharge", Time: at.Add(time.Minute),
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("200"))}})
				evs = append(evs, event.Event{ID: "pay-" + id, Member: m, Type: "value_pay", Time: at.Add(2 * time.Minute),
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("35.50"))}})
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	return evs
}
