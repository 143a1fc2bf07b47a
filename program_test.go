package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/value"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

var (
	shanghai   = testkit.Shanghai
	dec        = testkit.Dec
	openMemory = testkit.OpenMemory
	openBolt   = testkit.OpenBolt
	valueDef   = testkit.ValueDef
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, shanghai)

func recharge(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "recharge", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

func pay(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "pay", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

var mustProcess = testkit.MustProcess

func TestDefinitionValidateReportsEveryProblemWithPath(t *testing.T) {
	def := valueDef()
	def.Zone = "Mars/Olympus"
	def.Events = append(def.Events,
		event.Type{Name: "bad", Attributes: []event.Attr{{Name: "price", Kind: "money"}, {Name: "price", Kind: event.Decimal}, {Kind: event.String}}},
		event.Type{Name: "recharge"},
	)
	def.StoredValue.Refund = "nope"
	err := def.Validate()
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Validate: %v, want ErrInvalidDefinition", err)
	}
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate error %T is not *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`zone: unknown time zone "Mars/Olympus"`,
		`events[4].attributes[0].type: unknown type "money"`,
		`events[4].attributes[1].name: duplicate attribute "price"`,
		`events[4].attributes[2].name: empty`,
		`events[5].name: duplicate event type "recharge"`,
		`stored_value.refund: unknown event type "nope"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := membership.Open(memory.New(), def); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("Open with an invalid definition: %v", err)
	}
}

func TestDefinitionStoredValueNeedsRequiredDecimal(t *testing.T) {
	def := valueDef()
	def.Events[1].Attributes[0] = event.Attr{Name: "amount", Kind: event.Integer, Required: true}
	def.Events[2].Attributes[0].Required = false
	err := def.Validate()
	for _, want := range []string{
		`stored_value.spend: attribute has the wrong type: "amount" of "pay" is integer, want decimal`,
		`stored_value.refund: attribute "amount" of "refund" must be required`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to contain %q", err, want)
		}
	}
}

func TestDefinitionJSONRoundTrip(t *testing.T) {
	def := valueDef()
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	got, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := membership.ParseDefinition([]byte(`{"zone":"UTC","events":[],"colour":"red"}`)); err == nil {
		t.Error("ParseDefinition accepted an unknown field")
	}
}

func TestProcessRejectsInvalidEventsAndWritesNothing(t *testing.T) {
	good := pay("e1", "alice", "10", t0)
	tests := []struct {
		name  string
		ev    func(e *event.Event)
		field string
		want  error
	}{
		{"unknown type", func(e *event.Event) { e.Type = "teleport" }, "type", membership.ErrUnknownEventType},
		{"missing attribute", func(e *event.Event) { delete(e.Attrs, "amount") }, "attrs.amount", event.ErrMissingAttribute},
		{"wrong type", func(e *event.Event) { e.Attrs["amount"] = event.Str("10") }, "attrs.amount", event.ErrAttributeType},
		{"undeclared attribute", func(e *event.Event) { e.Attrs["colour"] = event.Str("red") }, "attrs.colour", event.ErrUnknownAttribute},
		{"no id", func(e *event.Event) { e.ID = "" }, "id", event.ErrInvalid},
		{"no member", func(e *event.Event) { e.Member = "" }, "member", event.ErrInvalid},
		{"no time", func(e *event.Event) { e.Time = time.Time{} }, "time", event.ErrInvalid},
		{"negative amount", func(e *event.Event) { e.Attrs["amount"] = event.Dec(dec("-1")) }, "attrs.amount", membership.ErrInvalidEvent},
		{"zero amount", func(e *event.Event) { e.Attrs["amount"] = event.Dec(dec("0")) }, "attrs.amount", membership.ErrInvalidEvent},
		{"sub-cent amount", func(e *event.Event) { e.Attrs["amount"] = event.Dec(dec("1.001")) }, "attrs.amount", membership.ErrInvalidEvent},
		{"overspend", func(e *event.Event) { e.Attrs["amount"] = event.Dec(dec("100.01")) }, "", membership.ErrInsufficientBalance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := openMemory(t, valueDef())
			mustProcess(t, p, recharge("r1", "alice", "100", t0.Add(-time.Hour)))
			before, _ := p.Feed(context.Background(), 0, 100)
			ev := good
			ev.Attrs = event.Attrs{}
			for k, v := range good.Attrs {
				ev.Attrs[k] = v
			}
			tt.ev(&ev)
			_, err := p.Process(context.Background(), ev)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Process: %v, want %v", err, tt.want)
			}
			if tt.field != "" && !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %q", err, tt.field)
			}
			after, _ := p.Feed(context.Background(), 0, 100)
			if len(after) != len(before) {
				t.Errorf("feed grew from %d to %d changes", len(before), len(after))
			}
			va, err := p.Value().Account(context.Background(), "alice")
			if err != nil || !va.Balance.Equal(dec("100")) || !va.Spent.IsZero() {
				t.Errorf("stored value after rejection = %+v, %v", va, err)
			}
			// Nothing recorded under the event ID: fixing the event lets it through.
			if ev.ID != "" {
				fixed := good
				fixed.ID = ev.ID
				if _, err := p.Process(context.Background(), fixed); err != nil {
					t.Errorf("valid event with the rejected ID: %v", err)
				}
			}
		})
	}
}

func TestProcessDuplicateAndConflict(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, valueDef())
	first := mustProcess(t, p, recharge("r1", "alice", "50", t0))[0]
	again, err := p.Process(ctx, recharge("r1", "alice", "50", t0))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || first.Duplicate {
		t.Errorf("Duplicate flags: first %v, again %v", first.Duplicate, again.Duplicate)
	}
	again.Duplicate = false
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("duplicate outcome differs (-first +again):\n%s", diff)
	}
	if _, err := p.Process(ctx, recharge("r1", "alice", "51", t0)); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("same ID, other content: %v", err)
	}
	va, _ := p.Value().Account(ctx, "alice")
	if !va.Balance.Equal(dec("50")) || !va.Recharged.Equal(dec("50")) {
		t.Errorf("after duplicate: %+v", va)
	}
	feed, _ := p.Feed(ctx, 0, 10)
	if len(feed) != 1 {
		t.Errorf("feed has %d changes, want 1", len(feed))
	}
}

func TestProcessBatch(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, valueDef())
	_, err := p.ProcessBatch(ctx, []event.Event{recharge("r1", "alice", "10", t0), {ID: "x", Member: "alice", Type: "nope", Time: t0}})
	if !errors.Is(err, membership.ErrUnknownEventType) || !strings.Contains(err.Error(), "events[1]") {
		t.Fatalf("batch with an invalid event: %v", err)
	}
	// A rule refusal in the middle undoes the whole batch.
	_, err = p.ProcessBatch(ctx, []event.Event{recharge("r1", "alice", "10", t0), pay("p1", "alice", "11", t0)})
	if !errors.Is(err, membership.ErrInsufficientBalance) {
		t.Fatalf("batch with an overspend: %v", err)
	}
	if va, _ := p.Value().Account(ctx, "alice"); !va.Balance.IsZero() {
		t.Fatalf("failed batch left balance %s", va.Balance)
	}
	outs, err := p.ProcessBatch(ctx, []event.Event{recharge("r1", "alice", "10", t0), pay("p1", "alice", "4", t0), recharge("r1", "alice", "10", t0)})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Duplicate || !outs[2].Duplicate {
		t.Errorf("duplicate inside a batch not detected: %v %v", outs[0].Duplicate, outs[2].Duplicate)
	}
	if va, _ := p.Value().Account(ctx, "alice"); !va.Balance.Equal(dec("6")) {
		t.Errorf("balance = %s, want 6", va.Balance)
	}
}

func TestFeedAndCursor(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, valueDef())
	for i := range 5 {
		mustProcess(t, p, recharge(fmt.Sprint("r", i), "alice", "1", t0.Add(time.Duration(i)*time.Minute)))
	}
	first, err := p.Feed(ctx, 0, 3)
	if err != nil || len(first) != 3 || first[0].Seq != 1 || first[2].Seq != 3 || first[1].Event != "r1" {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	if err := p.SetCursor(ctx, "webhooks", first[2].Seq); err != nil {
		t.Fatal(err)
	}
	cur, err := p.Cursor(ctx, "webhooks")
	if err != nil || cur != 3 {
		t.Fatalf("cursor = %d, %v", cur, err)
	}
	rest, err := p.Feed(ctx, cur, 100)
	if err != nil || len(rest) != 2 || rest[0].Seq != 4 || rest[0].Kind != value.ChangeRecharged {
		t.Errorf("rest = %+v, %v", rest, err)
	}
	if err := p.SetCursor(ctx, "", 1); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("empty consumer: %v", err)
	}
}

func TestOpenNilStore(t *testing.T) {
	var st store.Store
	if _, err := membership.Open(st, valueDef()); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("Open(nil): %v", err)
	}
}

// A nil Option (a host building its options conditionally) is refused
// with an error naming it; it used to panic calling it. Nothing is
// written: the store stays empty.
func TestOpenNilOption(t *testing.T) {
	st := memory.New()
	_, err := membership.Open(st, valueDef(), membership.WithJournal(), nil)
	if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "option 2 of 2 is nil") {
		t.Fatalf("Open with a nil option: %v", err)
	}
	if err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan("meta", nil, nil, false, func(k, _ []byte) error {
			return fmt.Errorf("wrote %q", k)
		})
	}); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the store after a refused Open: %v", err)
	}
}

// An event's changes are stored together; reading the feed from any
// position with any page size gives the same sequence, without gaps.
func TestFeedPagesWithinEvents(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, benchDef())
	for _, i := range []int64{0, 1, 1000, 1001} { // members m0, m1, m0, m1
		mustProcess(t, p, benchEvent(i))
	}
	all, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The first order of a member has 3 changes (join, growth, points),
	// the next 2: 3+3+2+2.
	if len(all) != 10 {
		t.Fatalf("feed has %d changes, want 10: %+v", len(all), all)
	}
	for i, c := range all {
		if c.Seq != uint64(i+1) {
			t.Fatalf("change %d has Seq %d", i, c.Seq)
		}
	}
	for after := range uint64(len(all) + 1) {
		for limit := 1; limit <= len(all)+1; limit++ {
			var got []change.Change
			for pos := after; ; {
				page, err := p.Feed(ctx, pos, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("after %d limit %d: page of %d", pos, limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				pos = page[len(page)-1].Seq
			}
			if diff := cmp.Diff(all[after:], got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("after %d limit %d (-want +got):\n%s", after, limit, diff)
			}
		}
	}
}

// A repeat of an event with several changes and postings (a join, growth,
// points with a lot and pool legs) returns the first outcome exactly.
func TestDuplicateOutcomeWithSeveralParts(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, benchDef())
	for _, i := range []int64{1, 1001} { // the member's first order, then a second
		first := mustProcess(t, p, benchEvent(i))[0]
		if len(first.Changes) < 2 || len(first.Entries) < 4 {
			t.Fatalf("order %d: %d changes, %d entries", i, len(first.Changes), len(first.Entries))
		}
		again, err := p.Process(ctx, benchEvent(i))
		if err != nil || !again.Duplicate {
			t.Fatalf("repeat of %d: %v, duplicate %v", i, err, again != nil && again.Duplicate)
		}
		again.Duplicate = false
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("order %d: duplicate outcome differs (-first +again):\n%s", i, diff)
		}
	}
}

// An event's growth and points rules explain themselves as their formulas'
// Apply does, each reason with inputs of its own, though the Program makes
// a formula's text once and shares the base's text between rules.
func TestFormulaReasonsMatchApply(t *testing.T) {
	def := benchDef()
	def.Points.Rules[0].Formula = rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: dec("2"), Fixed: dec("1")}
	p := openMemory(t, def)
	for i := range 2 {
		ev := benchEvent(int64(i))
		out, err := p.Process(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		rules := map[string]rule.Formula{"spend": def.Levels.Growth[0].Formula, "buy": def.Points.Rules[0].Formula}
		reasons := map[string]*rule.Reason{}
		for _, c := range out.Changes {
			f, ok := rules[c.Reason.Rule]
			if !ok {
				continue
			}
			reasons[c.Reason.Rule] = c.Reason
			_, want, err := f.Apply(ev)
			if err != nil {
				t.Fatal(err)
			}
			want.Rule = c.Reason.Rule
			if diff := cmp.Diff(want, *c.Reason); diff != "" {
				t.Errorf("event %d, rule %s: reason (-Apply +Process):\n%s", i, c.Reason.Rule, diff)
			}
			delete(rules, c.Reason.Rule)
		}
		if len(rules) != 0 {
			t.Errorf("no change explained by %v", rules)
		}
		reasons["spend"].Inputs["amount"] = "changed"
		if got := reasons["buy"].Inputs["amount"]; got != "12.50" {
			t.Errorf("the points reason's input = %q after the growth reason's changed", got)
		}
	}
}

// A cursor past the feed's head counts as having passed changes not
// written yet, which retention would prune before the consumer read them:
// SetCursor refuses it (ErrInvalidArgument, naming seq and the head) and
// leaves the cursor where it was, and takes the head itself. On memory
// and bolt (both append changes at the feed's tail; the pending records
// that Feed, or SetCursor, sequences first are store/postgres's, whose
// TestSetCursorOnSeveralInstances checks them), with no Feed read before:
// the head is the last change committed.
func TestSetCursorPastHead(t *testing.T) {
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{"memory": openMemory, "bolt": openBolt} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, valueDef())
			// Two recharges, a change each: the head is 2.
			mustProcess(t, p, recharge("r1", "alice", "1", t0), recharge("r2", "bob", "1", t0.Add(time.Minute)))
			if err := p.SetCursor(ctx, "crm", 1); err != nil {
				t.Fatal(err)
			}
			for _, seq := range []uint64{3, 1000, 1<<64 - 1} {
				err := p.SetCursor(ctx, "crm", seq)
				if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "seq") || !strings.Contains(err.Error(), "head 2") {
					t.Errorf("SetCursor(%d) = %v; want ErrInvalidArgument naming seq and the head 2", seq, err)
				}
			}
			if n, err := p.Cursor(ctx, "crm"); err != nil || n != 1 {
				t.Errorf("cursor after the refusals = %d, %v; want 1", n, err)
			}
			if err := p.SetCursor(ctx, "crm", 2); err != nil {
				t.Errorf("SetCursor at the head: %v", err)
			}
			// A third change moves the head on to 3.
			mustProcess(t, p, recharge("r3", "alice", "1", t0.Add(2*time.Minute)))
			if err := p.SetCursor(ctx, "crm", 4); !errors.Is(err, membership.ErrInvalidArgument) {
				t.Errorf("SetCursor(4) with the head at 3 = %v; want ErrInvalidArgument", err)
			}
			if err := p.SetCursor(ctx, "crm", 3); err != nil {
				t.Errorf("SetCursor at the new head: %v", err)
			}
			if n, err := p.Cursor(ctx, "crm"); err != nil || n != 3 {
				t.Errorf("cursor = %d, %v; want 3", n, err)
			}
		})
	}
}

// TestDefinitionIsTheProgramsOwn edits, after Open, the definition the
// program was opened with and the one Definition returns: the gold
// threshold down from 1,000 to 1, the points rate up from 1 to 100, an
// event attribute's kind. The program keeps the rules it validated:
// an order of 50 earns 50 growth and 50 points (50 × 1) and leaves the
// member at the entry level, and the order is still checked as declared.
func TestDefinitionIsTheProgramsOwn(t *testing.T) {
	ctx := context.Background()
	def := testkit.OrderDef()
	p := openMemory(t, def)
	edit := func(d membership.Definition) {
		d.Levels.Ladder[1].Upgrade = dec("1")
		d.Points.Rules[0].Formula.Rate = dec("100")
		d.Events[0].Attributes[0].Kind = event.String
	}
	edit(def)
	edit(p.Definition())
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "m", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.Dec(dec("50"))}}); err != nil {
		t.Fatalf("Process of an order as declared at Open: %v", err)
	}
	st, err := p.Levels().Status(ctx, "m")
	if err != nil || st.Level != "member" || !st.Growth.Equal(dec("50")) {
		t.Errorf("Status = %+v, %v; want the entry level member with growth 50", st, err)
	}
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at})
	if err != nil || !b.Available.Equal(dec("50")) {
		t.Errorf("Balance = %+v, %v; want 50 available", b, err)
	}
	if got := p.Definition(); !got.Levels.Ladder[1].Upgrade.Equal(dec("1000")) || got.Events[0].Attributes[0].Kind != event.Decimal {
		t.Errorf("Definition after the edits: gold at %s, amount a %s; want 1000 and decimal", got.Levels.Ladder[1].Upgrade, got.Events[0].Attributes[0].Kind)
	}
}

// TestOutcomeIsTheCallersOwn edits everything the outcome of an order
// holds once Process returns it: its entries, the bytes of its changes'
// payloads and their reasons. The program keeps none of it: a retry of
// the order returns the first outcome as it was returned (Duplicate
// set), and the feed holds the changes as they were published.
func TestOutcomeIsTheCallersOwn(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(newStore(), testkit.OrderDef())
			if err != nil {
				t.Fatal(err)
			}
			ev := event.Event{ID: "o1", Member: "m", Type: "order", Time: time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai),
				Attrs: event.Attrs{"amount": event.Dec(dec("50"))}}
			out, err := p.Process(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Entries) == 0 || len(out.Changes) == 0 {
				t.Fatalf("an order of 50 has %d entries and %d changes; want some of each", len(out.Entries), len(out.Changes))
			}
			want, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			for i := range out.Entries {
				out.Entries[i].Amount, out.Entries[i].Lot = dec("999"), "edited"
			}
			for _, c := range out.Changes {
				for i := range c.Data {
					c.Data[i] = ' '
				}
				if c.Reason != nil {
					c.Reason.Rule = "edited"
					for k := range c.Reason.Inputs {
						c.Reason.Inputs[k] = "edited"
					}
				}
			}

			again, err := p.Process(ctx, ev)
			if err != nil || !again.Duplicate {
				t.Fatalf("retry: %+v, %v; want the first outcome with Duplicate set", again, err)
			}
			again.Duplicate = false
			got, err := json.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("the retry's outcome after edits to the first (-want +got):\n%s", diff)
			}
			var first change.Outcome
			if err := json.Unmarshal(want, &first); err != nil {
				t.Fatal(err)
			}
			feed, err := p.Feed(ctx, 0, 0)
			if err != nil || len(feed) != len(first.Changes) {
				t.Fatalf("Feed = %d changes, %v; want %d", len(feed), err, len(first.Changes))
			}
			for i, c := range feed {
				w := first.Changes[i]
				if diff := cmp.Diff([]any{w.Kind, string(w.Data), w.Reason}, []any{c.Kind, string(c.Data), c.Reason}); diff != "" {
					t.Errorf("feed change %d after edits to the outcome (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}
