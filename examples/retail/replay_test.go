package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// openRetail opens the retail program with the input journal on a new
// memory store, its random source seeded with seed.
func openRetail(tb testing.TB, seed uint64) (*membership.Program, *memory.Store) {
	tb.Helper()
	def, err := membership.ParseDefinition(programJSON)
	if err != nil {
		tb.Fatal(err)
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, def, membership.WithRand(rand.NewChaCha8(key)), membership.WithJournal())
	if err != nil {
		tb.Fatal(err)
	}
	return p, st
}

// runRetail runs the retail stream (tills and the campaign concurrent, as
// the command runs them) on a journaled program and returns it with the
// simulation.
func runRetail(tb testing.TB, members, months int) (*membership.Program, *memory.Store, *sim) {
	tb.Helper()
	p, st := openRetail(tb, 7)
	s := newSim(config{Members: members, Months: months, Seed: 7}, p)
	if err := s.run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return p, st, s
}

// state is everything a replay must reproduce, read through the public
// API: each member's state (level, growth, points balances, stored value,
// coupon counts, achievements, profile, the balance of every account),
// coupons (with codes and states), tags, and the ledger's totals per kind.
type state struct {
	Members map[string]membership.Member
	Coupons map[string]any
	Tags    map[string]any
	Totals  map[ledger.Asset]map[ledger.Kind]decimal.Decimal
	Pools   map[string]decimal.Decimal
}

func readState(tb testing.TB, p *membership.Program, s *sim) state {
	tb.Helper()
	ctx := context.Background()
	end := s.day(s.days)
	st := state{Members: map[string]membership.Member{}, Coupons: map[string]any{}, Tags: map[string]any{},
		Totals: map[ledger.Asset]map[ledger.Kind]decimal.Decimal{}, Pools: map[string]decimal.Decimal{}}
	for _, m := range s.members {
		mm, err := p.Member(ctx, m.id, end)
		if err != nil {
			tb.Fatal(err)
		}
		st.Members[m.id] = mm
		cs, err := p.Coupons().List(ctx, m.id)
		if err != nil {
			tb.Fatal(err)
		}
		st.Coupons[m.id] = cs
		tags, err := p.Tags().Of(ctx, m.id)
		if err != nil {
			tb.Fatal(err)
		}
		st.Tags[m.id] = tags
	}
	for _, a := range []ledger.Asset{ledger.Points("mall"), ledger.Growth, ledger.Value} {
		t, err := p.Totals(ctx, a, "", "")
		if err != nil {
			tb.Fatal(err)
		}
		st.Totals[a] = t
		for _, pool := range []string{"earned", "redeemed", "expired", "reversed", "adjusted", "recharged", "spent"} {
			b, err := p.Balance(ctx, ledger.Pool(a, pool))
			if err != nil {
				tb.Fatal(err)
			}
			st.Pools[fmt.Sprintf("%s/%s", a, pool)] = b
		}
	}
	return st
}

// TestRetailReplay runs the retail stream with the journal on, replays its
// journal into an empty store (whose random source is another: the codes
// must come from the journal), and compares every member's state, every
// coupon and tag, the ledger's totals and pools, the audit trail and the
// journal itself; both ledgers pass Verify.
func TestRetailReplay(t *testing.T) {
	members, months := 150, 4
	if testing.Short() {
		members, months = 60, 3
	}
	src, from, s := runRetail(t, members, months)
	dst, _ := openRetail(t, 99)
	var calls, last uint64
	n, err := dst.Replay(context.Background(), from, func(done, total uint64) { calls++; last = done })
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || calls == 0 || last != n {
		t.Fatalf("replay applied %d inputs, progress called %d times, last with %d", n, calls, last)
	}
	ctx := context.Background()
	for name, p := range map[string]*membership.Program{"source": src, "replay": dst} {
		if err := p.Verify(ctx); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
	want, got := readState(t, src, s), readState(t, dst, s)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replayed state differs (-source +replay):\n%s", d)
	}
	if d := cmp.Diff(auditAll(t, src), auditAll(t, dst)); d != "" {
		t.Errorf("replayed audit trail differs (-source +replay):\n%s", d)
	}
	// The stream exercised what the comparison must cover.
	var coupons, plus int
	for _, m := range want.Members {
		for _, c := range m.Coupons {
			coupons += c
		}
		if len(m.Level.Plans) > 0 {
			plus++
		}
	}
	if coupons == 0 || plus == 0 || want.Totals[ledger.Points("mall")][ledger.Kind("points.expired")].IsZero() && months > 12 {
		t.Errorf("the stream issued %d coupons, %d members hold a plan: too thin a test", coupons, plus)
	}
	// A second replay into a store that is not empty is refused.
	if _, err := dst.Replay(ctx, from, nil); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("replay into a non-empty store: got %v, want ErrInvalidArgument", err)
	}
}

func auditAll(tb testing.TB, p *membership.Program) []membership.AuditEntry {
	tb.Helper()
	var all []membership.AuditEntry
	q := membership.AuditQuery{Limit: 1000}
	for {
		pg, err := p.Audit(context.Background(), q)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, pg.Entries...)
		if pg.Next == "" {
			return all
		}
		q.After = pg.Next
	}
}

// BenchmarkReplay measures replaying the journal of the retail stream
// (120 members, 3 months) into a memory store: inputs/s counts every
// input (events, requests, pages of due work), events/s the events among
// them, over the same time.
func BenchmarkReplay(b *testing.B) {
	_, from, _ := runRetail(b, 120, 3)
	events := 0
	if err := engine.Journal(context.Background(), from, 0, 0, func(in engine.Input) error {
		if in.Kind == engine.InputEvent {
			events++
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var n uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dst, _ := openRetail(b, 99)
		b.StartTimer()
		var err error
		if n, err = dst.Replay(context.Background(), from, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(float64(n), "inputs")
}
