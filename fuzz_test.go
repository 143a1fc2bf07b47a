package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
)

// FuzzParseDefinition: any bytes give a definition or an error wrapping
// rule.ErrInvalidDefinition, never a panic; a definition that parses
// opens, and its JSON parses again to the same definition, which opens.
// CI runs it briefly (.ci/run); go test runs the seeds.
func FuzzParseDefinition(f *testing.F) {
	seed, err := json.Marshal(testkit.OrderDef())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// The examples' programs: every domain, as hosts write them.
	for _, name := range []string{"retail", "tourism", "import"} {
		doc, err := os.ReadFile(filepath.Join("examples", name, "program.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Add([]byte(`{"zone": "UTC", "events": []}`))
	f.Add([]byte(`{"zone": "Mars/Olympus", "events": [{"name": "order", "attributes": [{"name": "amount", "type": "money"}]}]}`))
	f.Add([]byte(`{"zone": "UTC", "events": [{"name": "o", "attributes": [{"name": "a", "type": "decimal", "min": "0"}]}],
		"points": {"programs": [{"name": "p"}], "rules": [{"id": "r", "program": "p", "event": "o",
		"formula": {"kind": "multiplier", "base": "a", "rate": "1"}, "validity": {"kind": "fixed", "from": "2026-01-01", "to": "9999-12-31"}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := membership.ParseDefinition(data)
		if err != nil {
			if !errors.Is(err, rule.ErrInvalidDefinition) {
				t.Fatalf("ParseDefinition error %v does not wrap rule.ErrInvalidDefinition", err)
			}
			return
		}
		if _, err := membership.Open(memory.New(), def); err != nil {
			t.Fatalf("a definition that parses does not open: %v", err)
		}
		again, err := json.Marshal(def)
		if err != nil {
			t.Fatalf("marshal a parsed definition: %v", err)
		}
		def2, err := membership.ParseDefinition(again)
		if err != nil {
			t.Fatalf("the JSON of a parsed definition does not parse: %v\n%s", err, again)
		}
		// Go → JSON → Go gives the definition back, every field of it
		// (an empty list written as none is no change).
		if diff := cmp.Diff(def, def2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("a parsed definition's JSON parses to another (-want +got):\n%s", diff)
		}
		if _, err := membership.Open(memory.New(), def2); err != nil {
			t.Fatalf("the JSON of a parsed definition does not open: %v", err)
		}
	})
}

// FuzzProcess: an order with any ID, member, time (the whole range of
// time.Time) and amount text is processed or refused with
// ErrInvalidEvent, never a panic; one that is processed has the time it
// was given, and is a duplicate when sent again.
func FuzzProcess(f *testing.F) {
	f.Add("e1", "m1", int64(1795000000), int64(0), "10")
	f.Add("e2", "m1", int64(0), int64(0), "-5")
	f.Add("e3", "m\xff", int64(-9e18), int64(999999999), "1e400")
	f.Add("", "", int64(32503680000), int64(1), "0.000000000000000000001")
	f.Add("e4", "m4", int64(4102444799), int64(999999999), "99999999999999999999999999999999999999")
	def := testkit.OrderDef()
	f.Fuzz(func(t *testing.T, id, member string, sec, nsec int64, amount string) {
		ctx := context.Background()
		p, err := membership.Open(memory.New(), def)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(sec, nsec)
		ev := event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
		out, err := p.Process(ctx, ev)
		if err != nil {
			if !errors.Is(err, membership.ErrInvalidEvent) {
				t.Fatalf("Process error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		if !out.Time.Equal(at) {
			t.Fatalf("outcome time %v, event time %v", out.Time, at)
		}
		again, err := p.Process(ctx, ev)
		if err != nil || !again.Duplicate || !again.Time.Equal(at) {
			t.Fatalf("repeat: %+v, %v", again, err)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
