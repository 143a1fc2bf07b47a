package membership_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// TestReplayLateEventAfterAdvanceDiverges checks the case a per-member
// journal (store/postgres) cannot replay in the source's order: alice's
// order of 20 December is processed after an Advance to 1 January. On
// the source that Advance's page expires her 100 points of 1 December
// (and bob's 50); the late 20 are left for the next Advance, which never
// ran. The merge puts the late order before the page, whose one item for
// alice then expires 120: as many items as on the source, so the replay
// used to end with alice at 0 instead of 20 and no error. The page's
// digest (what it posted) differs, and the replay returns
// ErrReplayDiverged naming the advance. A replay under a changed
// definition (ReplayOptions.Changed) does not compare what pages did, as
// it does not compare their items, and neither does a replay of records
// written before pages kept a digest.
func TestReplayLateEventAfterAdvanceDiverges(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	st := &remoteStore{Store: memory.New()}
	src, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct{ id, member, amount string }{{"a1", "alice", "100"}, {"b1", "bob", "50"}} {
		if _, err := src.Process(ctx, order(src, ev.id, ev.member, ev.amount, 1)); err != nil {
			t.Fatal(err)
		}
	}
	newYear := time.Date(2027, 1, 1, 0, 0, 0, 0, src.Location())
	if _, err := src.Advance(ctx, newYear); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Process(ctx, order(src, "a2", "alice", "20", 20)); err != nil {
		t.Fatal(err)
	}
	left := func(p *membership.Program) decimal.Decimal {
		t.Helper()
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: newYear.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return b.Available
	}
	if got := left(src); !got.Equal(decimal.NewFromInt(20)) {
		t.Fatalf("the source: alice holds %s, want the late 20", got)
	}

	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dst.Replay(ctx, st, nil)
	if !errors.Is(err, membership.ErrReplayDiverged) || !strings.Contains(err.Error(), "advance") || !strings.Contains(err.Error(), "posted") {
		t.Fatalf("Replay: %v (alice holds %s); want ErrReplayDiverged naming the advance and what it posted", err, left(dst))
	}

	changed, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	res, err := changed.ReplayWith(ctx, st, membership.ReplayOptions{Changed: true})
	if err != nil || len(res.Refused) != 0 {
		t.Fatalf("ReplayWith Changed: %+v, %v; want no error", res, err)
	}
	// The merged order: the late order before the page, which expires it.
	if got := left(changed); !got.IsZero() {
		t.Errorf("the changed replay: alice holds %s, want 0", got)
	}

	// A journal written before pages kept a digest (records of version 1)
	// replays as it did, without the check.
	if err := st.Update(ctx, func(tx store.Tx) error {
		pages := map[string][]byte{}
		err := tx.Scan("journal", []byte{0}, []byte{1}, false, func(k, v []byte) error {
			if v[1] == engine.InputAdvance {
				pages[string(k)] = v
			}
			return nil
		})
		for k, v := range pages {
			r := codec.Reader{B: v[2:]}
			w := codec.Writer{B: []byte{1, engine.InputAdvance}}
			w.Uint(r.Uint())     // version
			w.Time(r.Time())     // time
			w.Uint(r.Uint())     // items
			r.Uint()             // the digest, left out
			w.String(r.String()) // random bytes
			if r.Err() != nil || len(r.B) != 0 {
				return fmt.Errorf("journal record %x: %v, %d bytes left", k, r.Err(), len(r.B))
			}
			err = errors.Join(err, tx.Put("journal", []byte(k), w.B))
		}
		if len(pages) != 2 {
			err = errors.Join(err, fmt.Errorf("%d pages in the journal, want 2", len(pages)))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := old.Replay(ctx, st, nil); n != 5 || err != nil {
		t.Errorf("Replay of version 1 pages = %d, %v; want 5 inputs (3 events, 2 pages) and no error", n, err)
	}
}

// TestReplayDigestsInOrder checks that a journal whose events all come
// before the Advance that expires them replays without an error on
// store/memory, store/bolt and a store that runs updates concurrently
// (store.Striper, a per-member journal): each page of due work that
// performed items records what it did, and the replay's pages do the same.
func TestReplayDigestsInOrder(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]func(t *testing.T) store.Store{
		"memory":  func(*testing.T) store.Store { return memory.New() },
		"striped": func(*testing.T) store.Store { return &remoteStore{Store: memory.New()} },
		"bolt": func(t *testing.T) store.Store {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), &bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			src, err := membership.Open(st, def, membership.WithJournal())
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range []string{"alice", "bob", "carol"} {
				for j, amount := range []string{"100", "30"} {
					if _, err := src.Process(ctx, order(src, m+string(rune('1'+j)), m, amount, 1+i+j)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := src.Advance(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, src.Location())); err != nil {
				t.Fatal(err)
			}
			// The page that expired the three members' points records a
			// digest; the last, empty page records none of anything done.
			var items, digested int
			err = engine.Journal(ctx, st, 0, 0, func(in engine.Input) error {
				if in.Kind == engine.InputAdvance && in.Items > 0 {
					items += in.Items
					if in.Digested && in.Digest != 0 {
						digested++
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if items != 3 || digested != 1 {
				t.Errorf("the journal's pages performed %d items, %d pages with a digest; want 3 items on 1 page", items, digested)
			}
			dst, err := membership.Open(memory.New(), def)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := dst.Replay(ctx, st, nil); n != 8 || err != nil {
				t.Fatalf("Replay = %d, %v; want 8 inputs (6 events, 2 pages)", n, err)
			}
			for _, p := range []*membership.Program{src, dst} {
				tot, err := p.Totals(ctx, "points:mall", "", "")
				if err != nil {
					t.Fatal(err)
				}
				// 3 × 130 earned, all of it expired.
				if e, x := tot[points.KindEarned], tot[points.KindExpired]; !e.Equal(decimal.RequireFromString("390")) || !x.Equal(decimal.RequireFromString("-390")) {
					t.Errorf("earned %s, expired %s; want 390 and -390", e, x)
				}
			}
		})
	}
}
