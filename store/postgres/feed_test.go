package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/value"
)

// Four instances take recharges of 1 for eight members from 32 callers
// while four consumers, one on each instance, read the feed from cursors
// of their own (so four sequencers run at once): each consumer gets every
// change once, at positions 1, 2, 3, …, and each member's balances in the
// order 1, 2, 3, … (the order its recharges committed).
func TestFeedOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:        "Asia/Shanghai",
		Events:      []mevent.Type{{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
	}
	programs, stores := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	const callers, each, members = 32, 10, 8
	var writers sync.WaitGroup
	done := make(chan struct{})
	for g := range callers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			p := programs[g%len(programs)]
			for i := range each {
				ev := mevent.Event{ID: fmt.Sprintf("r%d-%d", g, i), Member: fmt.Sprintf("m%d", (g+i)%members), Type: "recharge", Time: at,
					Attrs: mevent.Attrs{"amount": mevent.DecString("1")}}
				if _, err := p.Process(ctx, ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { writers.Wait(); close(done) }()
	got := make([][]change.Change, len(programs))
	var readers sync.WaitGroup
	for r, p := range programs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var cursor uint64
			for finished := false; ; {
				select {
				case <-done:
					finished = true
				default:
				}
				page, err := p.Feed(ctx, cursor, 50)
				if err != nil {
					t.Error(err)
					return
				}
				got[r] = append(got[r], page...)
				if len(page) > 0 {
					cursor = page[len(page)-1].Seq
				} else if finished {
					return // nothing after the last write: all read
				}
			}
		}()
	}
	readers.Wait()
	for r, cs := range got {
		if len(cs) != callers*each {
			t.Errorf("consumer %d read %d changes, want %d", r, len(cs), callers*each)
		}
		balance := map[string]int{}
		events := map[string]bool{}
		for i, c := range cs {
			if c.Seq != uint64(i+1) {
				t.Fatalf("consumer %d: change %d at position %d", r, i+1, c.Seq)
			}
			if events[c.Event] {
				t.Fatalf("consumer %d: event %s twice", r, c.Event)
			}
			events[c.Event] = true
			var vc value.Change
			if err := json.Unmarshal(c.Data, &vc); err != nil {
				t.Fatal(err)
			}
			balance[c.Member]++
			if vc.Balance.IntPart() != int64(balance[c.Member]) {
				t.Fatalf("consumer %d: %s's balance %s at its change %d", r, c.Member, vc.Balance, balance[c.Member])
			}
		}
	}
	if err := programs[0].Verify(ctx); err != nil {
		t.Error(err)
	}
	var retries int64
	for _, st := range stores {
		retries += st.Stats().Retries
	}
	t.Logf("%d recharges, 4 consumers: %d retries", callers*each, retries)
}

// Two instances take recharges from eight callers while a consumer on one
// of them reads the feed and stores its cursor after each page: every
// position a Feed returned is taken, however far the other instance has
// sequenced meanwhile, and a position past the head is refused (it would
// count as having passed changes not written yet, which retention would
// prune unread) and leaves the cursor where it was.
func TestSetCursorOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:        "Asia/Shanghai",
		Events:      []mevent.Type{{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
	}
	programs, _ := openPrograms(t, 2, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	const callers, each = 8, 10
	var writers sync.WaitGroup
	for g := range callers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			p := programs[g%len(programs)]
			for i := range each {
				ev := mevent.Event{ID: fmt.Sprintf("r%d-%d", g, i), Member: fmt.Sprintf("m%d", g), Type: "recharge", Time: at,
					Attrs: mevent.Attrs{"amount": mevent.DecString("1")}}
				if _, err := p.Process(ctx, ev); err != nil {
					t.Error(err)
					return
				}
				// The other instance sequences meanwhile.
				if _, err := programs[(g+1)%len(programs)].Feed(ctx, 0, 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	consumer := programs[0]
	var cursor uint64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		page, err := consumer.Feed(ctx, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if finished {
				break
			}
			continue
		}
		cursor = page[len(page)-1].Seq
		if err := consumer.SetCursor(ctx, "crm", cursor); err != nil {
			t.Fatalf("SetCursor(%d), a position Feed returned: %v", cursor, err)
		}
	}
	if cursor != callers*each {
		t.Fatalf("the consumer read up to %d, want %d", cursor, callers*each)
	}
	for _, p := range programs {
		if err := p.SetCursor(ctx, "crm", callers*each+1); !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "seq") {
			t.Errorf("SetCursor(%d) past the head %d = %v; want ErrInvalidArgument naming seq", callers*each+1, callers*each, err)
		}
	}
	if n, err := programs[1].Cursor(ctx, "crm"); err != nil || n != callers*each {
		t.Errorf("cursor = %d, %v; want %d", n, err, callers*each)
	}
}
