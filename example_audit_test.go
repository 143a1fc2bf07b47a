package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Every operator call leaves an entry in the audit trail, refusals too;
// an auditor pages through one operator's calls, or exports them as CSV.
func ExampleProgram_Audit() {
	ctx := context.Background()
	p := openOps()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, p.Location())
	adjust := func(id, amount string, h int) {
		_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "alice", Operator: "op.li",
			Note: "goodwill", At: at.Add(time.Duration(h) * time.Hour), Program: "mall", Amount: decimal.RequireFromString(amount)})
		if err != nil {
			fmt.Println("refused:", errors.Is(err, membership.ErrInsufficientBalance))
		}
	}
	adjust("adj-1", "30", 0)
	adjust("adj-2", "-50", 1) // more than alice has
	page, err := p.Audit(ctx, membership.AuditQuery{Operator: "op.li"})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Entries {
		fmt.Println(e.Time.Format("15:04"), e.Action, e.Member, e.Request, e.Result)
	}
	if _, err := p.ExportAudit(ctx, os.Stdout, membership.AuditQuery{Operator: "op.li", To: at.Add(time.Hour)}); err != nil {
		panic(err)
	}
	// Output:
	// refused: true
	// 09:00 points.adjust alice adj-1 accepted
	// 10:00 points.adjust alice adj-2 refused
	// time,operator,action,member,request,result,error
	// 2026-12-01T09:00:00+08:00,op.li,points.adjust,alice,adj-1,accepted,
}

// A program opened with the journal keeps every input; replaying it into
// an empty store under the same definition gives the same state.
func ExampleProgram_Replay() {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		panic(err)
	}
	from := memory.New()
	src, err := membership.Open(from, def, membership.WithJournal())
	if err != nil {
		panic(err)
	}
	for i, amount := range []string{"120", "80"} {
		if _, err := src.Process(ctx, order(src, fmt.Sprint("o", i+1), "alice", amount, 1)); err != nil {
			panic(err)
		}
	}
	if _, err := src.Advance(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, src.Location())); err != nil {
		panic(err) // the points expire at the end of 2026
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	n, err := dst.Replay(ctx, from, nil)
	if err != nil {
		panic(err)
	}
	// Two events, a page of due work (the expiry), and the last, empty
	// page of the Advance call, which moves the watermark.
	fmt.Println("inputs replayed:", n)
	for _, p := range []*membership.Program{src, dst} {
		tot, err := p.Totals(ctx, "points:mall", "", "")
		if err != nil {
			panic(err)
		}
		fmt.Println(tot[points.KindEarned], tot[points.KindExpired])
	}
	// Output:
	// inputs replayed: 4
	// 200 -200
	// 200 -200
}

// TestJournalOnConcurrentStore checks the per-member journal of a store
// that runs updates concurrently (store.Striper): each member's inputs
// keep the order they were processed in even when their times do not,
// the members' journals and the inputs naming no member (Advance's pages)
// are merged by time, a repeated event is not kept twice, a replay into a
// memory store gives the same totals, and a damaged journal key is an
// error wrapping engine.ErrCorrupt.
func TestJournalOnConcurrentStore(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	st := &remoteStore{Store: memory.New()}
	src, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		t.Fatalf("WithJournal on a striped store: %v", err)
	}
	// alice's order of 3 December is processed before hers of the 2nd.
	for _, ev := range []event.Event{
		order(src, "a1", "alice", "100", 3),
		order(src, "a2", "alice", "20", 2),
		order(src, "b1", "bob", "50", 2),
	} {
		if _, err := src.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj", Member: "alice", Operator: "op",
		Note: "goodwill", At: time.Date(2026, 12, 4, 10, 0, 0, 0, src.Location()), Program: "mall",
		Amount: decimal.RequireFromString("30")}); err != nil {
		t.Fatal(err)
	}
	if out, err := src.Process(ctx, order(src, "a1", "alice", "100", 3)); err != nil || !out.Duplicate {
		t.Fatalf("the repeated event: %v, %v", out, err)
	}
	if _, err := src.Advance(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, src.Location())); err != nil {
		t.Fatal(err) // the points expire at the end of 2026
	}
	// By time: bob's order of the 2nd; alice's of the 3rd, and after it
	// hers of the 2nd (her own order), and her adjustment of the 4th; the
	// page of due work of 1 January and the Advance's last, empty page.
	type kept struct {
		Seq    uint64
		Kind   byte
		ID     string
		Action string
		Empty  bool
	}
	want := []kept{{1, engine.InputEvent, "b1", "", false}, {2, engine.InputEvent, "a1", "", false},
		{3, engine.InputEvent, "a2", "", false}, {4, engine.InputRequest, "", "points.adjust", false},
		{5, engine.InputAdvance, "", "", false}, {6, engine.InputAdvance, "", "", true}}
	var got []kept
	err = engine.Journal(ctx, st, 0, 2, func(in engine.Input) error {
		got = append(got, kept{in.Seq, in.Kind, in.Event.ID, in.Action, in.Kind == engine.InputAdvance && in.Items == 0})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the merged journal (-want +got):\n%s", d)
	}
	if n, err := engine.JournalLength(ctx, st); n != 6 || err != nil {
		t.Errorf("JournalLength = %d, %v; want 6", n, err)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := dst.Replay(ctx, st, nil); n != 6 || err != nil {
		t.Fatalf("Replay = %d, %v; want 6 inputs", n, err)
	}
	var totals [2]map[ledger.Kind]decimal.Decimal
	for i, p := range []*membership.Program{src, dst} {
		if totals[i], err = p.Totals(ctx, "points:mall", "", ""); err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(ctx); err != nil {
			t.Error(err)
		}
	}
	if d := cmp.Diff(totals[0], totals[1]); d != "" {
		t.Errorf("replayed totals differ (-source +replay):\n%s", d)
	}
	// 100 + 20 + 50 earned, 30 adjusted.
	if e, a := totals[1][points.KindEarned], totals[1][points.KindAdjusted]; !e.Equal(decimal.RequireFromString("170")) || !a.Equal(decimal.RequireFromString("30")) {
		t.Errorf("replay: earned %s, adjusted %s; want 170 and 30", e, a)
	}
	// A key that is neither a member's nor an input's naming none.
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put("journal", []byte("bad"), []byte{1, 'e'}) }); err != nil {
		t.Fatal(err)
	}
	dst2, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst2.Replay(ctx, st, nil); !errors.Is(err, membership.ErrCorrupt) {
		t.Errorf("Replay of a damaged journal: %v; want ErrCorrupt", err)
	}
}

// writesStore records the keys each Update writes, on a store that runs
// updates concurrently (store.Striper).
type writesStore struct {
	store.Store
	writes map[string]bool
}

func (s *writesStore) Stripes() int { return 64 }

func (s *writesStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(writesTx{Tx: tx, s: s}) })
}

type writesTx struct {
	store.Tx
	s *writesStore
}

func (t writesTx) Put(bucket string, key, value []byte) error {
	t.s.writes[bucket+"|"+string(key)] = true
	return t.Tx.Put(bucket, key, value)
}

// TestJournalWritesNoSharedKey checks that on a store that runs updates
// concurrently the journal makes two members' events share no key they
// did not share without it, and that each event writes one journal
// record, under its member. A journal numbering every input from one
// counter would add that counter to every event's writes.
func TestJournalWritesNoSharedKey(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	// The keys each event writes; the second ones of alice and bob are
	// compared (their first ones create their keys).
	writes := func(journal bool) map[string]map[string]bool {
		st := &writesStore{Store: memory.New(), writes: map[string]bool{}}
		var opts []membership.Option
		if journal {
			opts = append(opts, membership.WithJournal())
		}
		p, err := membership.Open(st, def, opts...)
		if err != nil {
			t.Fatal(err)
		}
		all := map[string]map[string]bool{}
		for _, ev := range []event.Event{order(p, "a1", "alice", "10", 1), order(p, "b1", "bob", "10", 1),
			order(p, "a2", "alice", "10", 2), order(p, "b2", "bob", "10", 2)} {
			st.writes = map[string]bool{}
			if _, err := p.Process(ctx, ev); err != nil {
				t.Fatal(err)
			}
			all[ev.ID] = st.writes
		}
		return all
	}
	off, on := writes(false), writes(true)
	for k := range on["a2"] {
		if on["b2"][k] && !(off["a2"][k] && off["b2"][k]) {
			t.Errorf("alice's and bob's events both write %q with the journal on, not without it", k)
		}
	}
	for _, c := range []struct{ id, member string }{{"a2", "alice"}, {"b2", "bob"}} {
		var records []string
		for k := range on[c.id] {
			if strings.HasPrefix(k, "journal|") {
				records = append(records, k)
			}
		}
		if len(records) != 1 || !strings.HasPrefix(records[0], "journal|"+c.member+"\x00") {
			t.Errorf("event %s writes the journal keys %q, want one of %s's", c.id, records, c.member)
		}
	}
}

// TestReplayRefusesAnotherDefinition checks that a journal is not replayed
// under another definition than the one it ran under.
func TestReplayRefusesAnotherDefinition(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	from := memory.New()
	src, err := membership.Open(from, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Process(ctx, order(src, "o1", "alice", "10", 1)); err != nil {
		t.Fatal(err)
	}
	other := def
	other.Version = 2
	dst, err := membership.Open(memory.New(), other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Replay(ctx, from, nil); !errors.Is(err, membership.ErrDefinitionConflict) {
		t.Fatalf("got %v, want ErrDefinitionConflict", err)
	}
}

// TestReplayWithoutJournal checks that a store whose program ran without
// WithJournal is refused as a source, naming WithJournal, by Replay and by
// a replay under a changed definition: they used to apply its empty
// journal and report success with nothing replayed. An empty store is no
// error (nothing to replay).
func TestReplayWithoutJournal(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	from := memory.New()
	src, err := membership.Open(from, def)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := empty.Replay(ctx, from, nil); n != 0 || err != nil {
		t.Errorf("replay of an unused store: %d, %v; want 0, nil", n, err)
	}
	if _, err := src.Process(ctx, order(src, "o1", "alice", "10", 1)); err != nil {
		t.Fatal(err)
	}
	for _, o := range []membership.ReplayOptions{{}, {Changed: true}} {
		dst, err := membership.Open(memory.New(), def)
		if err != nil {
			t.Fatal(err)
		}
		res, err := dst.ReplayWith(ctx, from, o)
		if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithJournal") || res.Applied != 0 {
			t.Errorf("Changed %v: %+v, %v; want ErrInvalidArgument naming WithJournal", o.Changed, res, err)
		}
		if b, err := dst.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil || !b.Available.IsZero() {
			t.Errorf("Changed %v: the target holds %v, %v", o.Changed, b.Available, err)
		}
	}
}

// TestReplayJournalMissingItsEnd checks that a journal whose last records
// are gone (store/memory and store/bolt keep one sequence) is damage,
// wrapping ErrCorrupt and naming the first missing record: the replay
// used to end at the last record left and report success, with fewer
// inputs than the journal holds. Records missing in the middle were
// found already.
func TestReplayJournalMissingItsEnd(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	from := memory.New()
	src, err := membership.Open(from, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []string{"alice", "bob", "carol"} {
		if _, err := src.Process(ctx, order(src, "o"+m, m, "10", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Journal records 1 to 3, one for each event; the third goes.
	if err := from.Update(ctx, func(tx store.Tx) error {
		return tx.Delete("journal", []byte{0, 0, 0, 0, 0, 0, 0, 3})
	}); err != nil {
		t.Fatal(err)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	n, err := dst.Replay(ctx, from, nil)
	if !errors.Is(err, membership.ErrCorrupt) || !strings.Contains(err.Error(), "journal record 3 missing") {
		t.Errorf("Replay = %d, %v; want ErrCorrupt naming record 3", n, err)
	}
}
