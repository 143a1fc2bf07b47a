package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// TestConditionJSONRoundTrip: every form of condition a definition holds
// (each operator on each kind it applies to, with the values a form leaves
// out of the JSON: false, 0, "", a decimal's trailing zeros, a time's
// zone) reads back as the same condition, which matches the same events.
func TestConditionJSONRoundTrip(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	conds := []event.Condition{
		{Attr: "store", Op: event.Eq, Value: event.Str("s1")},
		{Attr: "store", Op: event.Ne, Value: event.Str("")},
		{Attr: "store", Op: event.In, Values: []event.Value{event.Str("s1"), event.Str("")}},
		{Attr: "store", Op: event.NotIn, Values: []event.Value{event.Str("s2")}},
		{Attr: "amount", Op: event.Gte, Value: event.Dec(decimal.RequireFromString("99.50"))},
		{Attr: "amount", Op: event.Lt, Value: event.Int(0)},
		{Attr: "amount", Op: event.In, Values: []event.Value{event.Int(0), event.Dec(decimal.RequireFromString("-0.5"))}},
		{Attr: "items", Op: event.Gt, Value: event.Int(-3)},
		{Attr: "items", Op: event.Lte, Value: event.Dec(decimal.RequireFromString("3.0"))},
		{Attr: "paid", Op: event.Eq, Value: event.Flag(false)},
		{Attr: "paid", Op: event.Ne, Value: event.Flag(true)},
		{Attr: "at", Op: event.Gte, Value: event.At(time.Date(2026, 11, 24, 18, 0, 0, 1, shanghai))},
		{Attr: "at", Op: event.Eq, Value: event.At(at)},
		{Attr: "tags", Op: event.Contains, Value: event.Str("infant")},
		{Attr: "tags", Op: event.Contains, Value: event.Str("")},
	}
	for _, c := range conds {
		if errs := c.Check(order); len(errs) > 0 {
			t.Errorf("%+v: Check = %v", c, errs)
			continue
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Errorf("Marshal(%+v): %v", c, err)
			continue
		}
		var got event.Condition
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("Unmarshal(%s): %v", b, err)
			continue
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
		if errs := got.Check(order); len(errs) > 0 {
			t.Errorf("%s read back: Check = %v", b, errs)
		}
		if got.Match(ev) != c.Match(ev) {
			t.Errorf("%s read back matches %v, before %v", b, got.Match(ev), c.Match(ev))
		}
	}
}

// TestEventJSONRoundTrip: an event with an attribute of each kind, zero
// values included, reads back the same (Same), and still passes Check.
func TestEventJSONRoundTrip(t *testing.T) {
	e := event.Event{ID: "e1", Member: "m", Type: "order", Time: at.In(time.FixedZone("X", -5*3600)), Attrs: event.Attrs{
		"amount": event.Dec(decimal.RequireFromString("0.10")),
		"items":  event.Int(0),
		"store":  event.Str(""),
		"paid":   event.Flag(false),
		"at":     event.At(at),
		"tags":   event.List(),
	}}
	if err := order.Check(e); err != nil {
		t.Fatalf("Check: %v", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got event.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if !got.Same(e) {
		t.Errorf("%s read back as %+v", b, got)
	}
	if err := order.Check(got); err != nil {
		t.Errorf("read back: Check = %v", err)
	}
}
