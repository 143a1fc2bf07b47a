package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// minDef is a program whose order amount is declared with a minimum of 0
// (it must not be negative), feeding growth, points and a task; its
// profile has an age that must not be negative either.
func minDef() membership.Definition {
	zero := decimal.Zero
	permanent := rule.Validity{Kind: rule.Permanent}
	amount := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true, Min: &zero},
		}}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "bronze", Validity: permanent}},
			Growth: []level.GrowthRule{{ID: "orders", Event: "order", Formula: amount}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules:    []points.Rule{{ID: "orders", Program: "mall", Event: "order", Formula: amount}},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "first", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardGrowth, Amount: dec("1")}}}}},
		Tags: &tag.Definition{Attributes: []event.Attr{{Name: "age", Kind: event.Integer, Min: &zero}}},
	}
}

// A negative order amount, declared with a minimum of 0, is refused with
// ErrInvalidEvent naming the field, and nothing is written: no growth
// taken back, no task counted; the same ID then goes through with a valid
// amount. A zero amount is at the minimum and passes.
func TestNegativeAmountRefusedWhereDeclared(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, minDef())
	order := func(id, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	mustProcess(t, p, order("o1", "100", t0))

	for _, batch := range []bool{false, true} {
		bad := order("o2", "-40", t0.Add(time.Hour))
		var err error
		if batch {
			_, err = p.ProcessBatch(ctx, []event.Event{order("o3", "5", t0.Add(time.Hour)), bad})
		} else {
			_, err = p.Process(ctx, bad)
		}
		if !errors.Is(err, membership.ErrInvalidEvent) || !errors.Is(err, event.ErrOutOfRange) || !strings.Contains(err.Error(), "attrs.amount") {
			t.Fatalf("negative amount (batch %v): %v, want ErrInvalidEvent and ErrOutOfRange naming attrs.amount", batch, err)
		}
	}
	st, err := p.Levels().Status(ctx, "ann")
	if err != nil || !st.Growth.Equal(dec("101")) { // 100 from o1, 1 from the task
		t.Errorf("growth after the refused events = %s (%v), want 101", st.Growth, err)
	}
	feed, err := p.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range feed {
		if c.Event != "o1" {
			t.Errorf("feed has a change of %s: %+v", c.Event, c)
		}
	}

	out := mustProcess(t, p, order("o2", "0", t0.Add(time.Hour)))[0]
	if out.Duplicate {
		t.Error("the refused event's ID was recorded")
	}
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf", Member: "ann", At: t0, Attributes: map[string]event.Value{"age": event.Int(-1)}}); !errors.Is(err, event.ErrOutOfRange) {
		t.Errorf("profile age -1: %v, want ErrOutOfRange", err)
	}
}

// A minimum is validated with the definition, with its path, and
// round-trips through JSON.
func TestAttrMinDefinition(t *testing.T) {
	half, zero := dec("0.5"), decimal.Zero
	def := minDef()
	def.Events[0].Attributes = append(def.Events[0].Attributes,
		event.Attr{Name: "store", Kind: event.String, Min: &zero},
		event.Attr{Name: "items", Kind: event.Integer, Min: &half})
	def.Tags.Attributes = append(def.Tags.Attributes, event.Attr{Name: "vip", Kind: event.Bool, Min: &zero})
	err := def.Validate()
	for _, path := range []string{"events[0].attributes[1].min:", "events[0].attributes[2].min:", "tags.attributes[1].min:"} {
		if !errors.Is(err, rule.ErrInvalidDefinition) || !strings.Contains(err.Error(), path) {
			t.Errorf("Validate = %v; want a problem at %s", err, path)
		}
	}

	raw, err := json.Marshal(minDef())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"min":"0"`) {
		t.Errorf("JSON has no min: %s", raw)
	}
	got, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(minDef(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
