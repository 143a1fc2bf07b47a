package event_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// FuzzCheckJSON decodes any bytes as an event's JSON and checks it
// against a type declaring every kind: an event refused is refused with
// errors wrapping the documented sentinels, never a panic; one accepted
// has a JSON that decodes to the same event, which is accepted again.
func FuzzCheckJSON(f *testing.F) {
	zero := decimal.Zero
	typ := event.Type{Name: "order", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true, Min: &zero},
		{Name: "items", Kind: event.Integer},
		{Name: "store", Kind: event.String},
		{Name: "vip", Kind: event.Bool},
		{Name: "paid", Kind: event.Time},
		{Name: "skus", Kind: event.Strings},
	}}
	f.Add([]byte(`{"id":"e1","member":"m1","type":"order","time":"2026-03-01T10:00:00+08:00","attrs":{` +
		`"amount":{"kind":"decimal","dec":"12.50"},"items":{"kind":"integer","int":3},"store":{"kind":"string","str":"s1"},` +
		`"vip":{"kind":"bool","bool":true},"paid":{"kind":"time","time":"2026-03-01T10:00:00Z"},"skus":{"kind":"strings","strings":["a","b"]}}}`))
	f.Add([]byte(`{"id":"e1","member":"m1","type":"order","time":"2026-03-01T10:00:00Z","attrs":{"amount":{"kind":"decimal","str":"10"}}}`))
	f.Add([]byte(`{"id":"e1","member":"m1","time":"1800-01-01T00:00:00Z","attrs":{"amount":{"kind":"decimal","dec":-1},"x":{}}}`))
	sentinels := []error{event.ErrInvalid, event.ErrMissingAttribute, event.ErrAttributeType, event.ErrOutOfRange,
		event.ErrUnknownAttribute, event.ErrTooLarge, event.ErrInvalidText, event.ErrTimeRange}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev event.Event
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		err := typ.Check(ev)
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(e, s)
				}
				if !known {
					t.Fatalf("Check(%s): %v wraps no documented sentinel", data, e)
				}
			}
			return
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal an accepted event: %v", err)
		}
		var again event.Event
		if err := json.Unmarshal(raw, &again); err != nil || !again.Same(ev) {
			t.Fatalf("accepted %s; its JSON %s reads as %+v, %v", data, raw, again, err)
		}
		if err := typ.Check(again); err != nil {
			t.Fatalf("accepted %s; its JSON %s is refused: %v", data, raw, err)
		}
	})
}

// FuzzConditionJSON decodes any bytes as a condition's JSON: one that
// Check accepts against a type declaring every kind encodes, reads back
// the same, is accepted again and matches the same event; none panics.
func FuzzConditionJSON(f *testing.F) {
	f.Add([]byte(`{"attr":"amount","op":"gte","value":{"kind":"integer","int":100}}`))
	f.Add([]byte(`{"attr":"store","op":"in","values":[{"kind":"string","str":"s1"},{"kind":"string"}]}`))
	f.Add([]byte(`{"attr":"at","op":"lt","value":{"kind":"time","time":"2026-11-24T18:00:00+08:00"}}`))
	f.Add([]byte(`{"attr":"tags","op":"contains","value":{"kind":"string","str":"infant"}}`))
	f.Add([]byte(`{"attr":"paid","op":"ne","value":{"kind":"bool"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c event.Condition
		if json.Unmarshal(data, &c) != nil {
			return
		}
		matched := c.Match(ev)
		if len(c.Check(order)) > 0 {
			return
		}
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal an accepted condition %s: %v", data, err)
		}
		var again event.Condition
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("accepted %s; its JSON %s does not decode: %v", data, raw, err)
		}
		if errs := again.Check(order); len(errs) > 0 {
			t.Fatalf("accepted %s; its JSON %s is refused: %v", data, raw, errs)
		}
		if again.Match(ev) != matched {
			t.Fatalf("accepted %s; its JSON %s matches %v, before %v", data, raw, again.Match(ev), matched)
		}
	})
}
