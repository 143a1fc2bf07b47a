package membership_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
)

// opsDef is a program that earns one point per yuan, the points expiring
// at the end of the year they were earned in.
const opsDef = `{
  "zone": "Asia/Shanghai",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
               "validity": {"kind": "annual_date", "month": 12, "day": 31}}]
  }
}`

// openOps opens opsDef on a memory store.
func openOps(opts ...membership.Option) *membership.Program {
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		panic(err)
	}
	p, err := membership.Open(memory.New(), def, opts...)
	if err != nil {
		panic(err)
	}
	return p
}

func order(p *membership.Program, id, member, amount string, day int) event.Event {
	return event.Event{ID: id, Member: member, Type: "order",
		Time:  time.Date(2026, 12, day, 10, 0, 0, 0, p.Location()),
		Attrs: event.Attrs{"amount": event.DecString(amount)}}
}

// A definition kept as JSON in the host's back office is parsed and
// validated in one call; every problem comes back at once, with its path.
func ExampleParseDefinition() {
	_, err := membership.ParseDefinition([]byte(`{
	  "zone": "Mars/Olympus",
	  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "money"}]}]
	}`))
	fmt.Println(errors.Is(err, rule.ErrInvalidDefinition))
	var ps *rule.Problems
	if errors.As(err, &ps) {
		for _, p := range ps.List {
			fmt.Println(p.Path)
		}
	}
	// A field the definition does not have is named with its path.
	_, err = membership.ParseDefinition([]byte(`{"zone": "UTC", "events": [{"name": "order", "colour": "red"}]}`))
	fmt.Println(errors.Is(err, rule.ErrInvalidDefinition))
	if errors.As(err, &ps) {
		for _, p := range ps.List {
			fmt.Println(p)
		}
	}
	// Output:
	// true
	// zone
	// events[0].attributes[0].type
	// true
	// events[0].colour: unknown field
}

// A webhook sender reads the change feed from its stored cursor, sends each
// change, and stores the cursor after sending: a crash between the two
// sends a change again, never loses one.
func ExampleProgram_Feed() {
	ctx := context.Background()
	p := openOps()
	for i, amount := range []string{"120", "80"} {
		if _, err := p.Process(ctx, order(p, fmt.Sprint("o", i+1), "alice", amount, 1)); err != nil {
			panic(err)
		}
	}
	send := func(c change.Change) error {
		fmt.Println("POST", c.Seq, c.Kind, c.Member)
		return nil
	}
	for {
		after, err := p.Cursor(ctx, "webhooks")
		if err != nil {
			panic(err)
		}
		changes, err := p.Feed(ctx, after, 100)
		if err != nil {
			panic(err)
		}
		if len(changes) == 0 {
			break
		}
		for _, c := range changes {
			if err := send(c); err != nil {
				panic(err) // retried from the cursor on the next run
			}
			if err := p.SetCursor(ctx, "webhooks", c.Seq); err != nil {
				panic(err)
			}
		}
	}
	// Output:
	// POST 1 points.earned alice
	// POST 2 points.earned alice
}

// Advance performs what fell due, each item at its own time: here the
// year-end expiry of points earned in December, caught up on the first
// call after the new year.
func ExampleProgram_Advance() {
	ctx := context.Background()
	p := openOps()
	if _, err := p.Process(ctx, order(p, "o1", "alice", "300", 5)); err != nil {
		panic(err)
	}
	after, _ := p.Cursor(ctx, "demo")
	n, err := p.Advance(ctx, time.Date(2027, 1, 3, 0, 0, 0, 0, p.Location()))
	if err != nil {
		panic(err)
	}
	changes, _ := p.Feed(ctx, after+1, 10)
	for _, c := range changes {
		fmt.Println(n, "due item(s):", c.Kind, c.Member, "at", c.Time.Format(time.DateTime))
	}
	// Output: 1 due item(s): points.expired alice at 2027-01-01 00:00:00
}

// The Scheduler calls Advance on a cron schedule in the program's zone;
// Run performs one scheduled run at once (a catch-up at start).
func ExampleProgram_Schedule() {
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC)
	p := openOps(membership.WithClock(func() time.Time { return now }))
	if _, err := p.Process(ctx, order(p, "o1", "alice", "300", 5)); err != nil {
		panic(err)
	}
	s, err := p.Schedule(ctx, "0 * * * *") // hourly
	if err != nil {
		panic(err)
	}
	defer s.Stop()
	s.Run()
	w, _ := p.Watermark(ctx)
	fmt.Println("advanced to", w.Format(time.DateTime))
	// Output: advanced to 2027-01-01 08:05:00
}

// A till that did not hear back sends the order again under the same ID:
// the retry returns the first outcome with Duplicate set and earns nothing
// more. The same ID with other content is refused.
func ExampleProgram_Process_retry() {
	ctx := context.Background()
	p := openOps()
	if _, err := p.Process(ctx, order(p, "o1", "alice", "300", 5)); err != nil {
		panic(err)
	}
	out, err := p.Process(ctx, order(p, "o1", "alice", "300", 5))
	if err != nil {
		panic(err)
	}
	fmt.Println("duplicate:", out.Duplicate)
	_, err = p.Process(ctx, order(p, "o1", "alice", "250", 5))
	fmt.Println("other content:", errors.Is(err, membership.ErrEventConflict))
	bal, _ := p.Balance(ctx, ledger.MemberAccount("alice", ledger.Points("mall"), ""))
	fmt.Println("points:", bal)
	// Output:
	// duplicate: true
	// other content: true
	// points: 300
}

// ProcessBatch applies a bulk import in one transaction: every event is
// validated first, and one bad event writes nothing of the batch.
func ExampleProgram_ProcessBatch() {
	ctx := context.Background()
	p := openOps()
	bad := []event.Event{order(p, "b1", "alice", "10", 1), {ID: "b2", Member: "bob", Type: "visit", Time: time.Date(2026, 12, 1, 0, 0, 0, 0, p.Location())}}
	_, err := p.ProcessBatch(ctx, bad)
	fmt.Println(errors.Is(err, membership.ErrInvalidEvent))
	outs, err := p.ProcessBatch(ctx, []event.Event{order(p, "b1", "alice", "10", 1), order(p, "b2", "bob", "25", 1)})
	if err != nil {
		panic(err)
	}
	for _, out := range outs {
		fmt.Println(out.Event, out.Member, len(out.Changes), "change(s)")
	}
	// Output:
	// true
	// b1 alice 1 change(s)
	// b2 bob 1 change(s)
}
