package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/points"
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

// TestJournalRefusedOnConcurrentStore checks that WithJournal is refused
// on a store that runs updates concurrently (store.Striper), where its
// one sequence would be a key every writer conflicts on.
func TestJournalRefusedOnConcurrentStore(t *testing.T) {
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	st := &remoteStore{Store: memory.New()}
	if _, err := membership.Open(st, def, membership.WithJournal()); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Fatalf("WithJournal on a striped store: got %v, want ErrInvalidArgument", err)
	}
	if _, err := membership.Open(st, def); err != nil {
		t.Fatalf("without the journal: %v", err)
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
