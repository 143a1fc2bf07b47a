// Package testkit holds the few helpers that the tests of the root and
// the domain packages share: opening a program on each store, decimals
// from literals, zones. It is imported by tests only.
package testkit

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Dec returns the decimal written s; it panics on a malformed literal.
func Dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Zone returns the named location; it panics on an unknown name.
func Zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Shanghai is the zone most tests' programs run in.
var Shanghai = Zone("Asia/Shanghai")

// OpenMemory opens def on a new memory store, failing t on error.
func OpenMemory(t testing.TB, def membership.Definition, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(memory.New(), def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BoltStore returns a new bolt store in a temporary directory, closed when
// the test ends.
func BoltStore(t testing.TB) *bolt.DB {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "membership.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// OpenBolt opens def on a new bolt store, failing t on error.
func OpenBolt(t testing.TB, def membership.Definition, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(BoltStore(t), def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Stores lists a constructor of each store, by name, for tests that run
// on both.
func Stores(t testing.TB) map[string]func() store.Store {
	return map[string]func() store.Store{
		"memory": func() store.Store { return memory.New() },
		"bolt":   func() store.Store { return BoltStore(t) },
	}
}

// MustProcess processes each event in order, failing t on the first error,
// and returns their outcomes.
func MustProcess(t testing.TB, p *membership.Program, evs ...event.Event) []*change.Outcome {
	t.Helper()
	outs := make([]*change.Outcome, 0, len(evs))
	for _, ev := range evs {
		out, err := p.Process(context.Background(), ev)
		if err != nil {
			t.Fatalf("Process(%s): %v", ev.ID, err)
		}
		outs = append(outs, out)
	}
	return outs
}
