package event_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// An attribute declared with a minimum refuses smaller values (the minimum
// itself passes), for decimals and integers; without one, negatives pass.
func TestTypeCheckMinimum(t *testing.T) {
	zero, one := decimal.Zero, decimal.NewFromInt(1)
	typ := event.Type{Name: "order", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true, Min: &zero},
		{Name: "items", Kind: event.Integer, Min: &one},
		{Name: "delta", Kind: event.Decimal},
	}}
	tests := []struct {
		name  string
		attrs event.Attrs
		field string // "" when valid
	}{
		{"at the minimums", event.Attrs{"amount": event.DecString("0"), "items": event.Int(1)}, ""},
		{"above", event.Attrs{"amount": event.DecString("0.01"), "items": event.Int(7)}, ""},
		{"no minimum: a negative passes", event.Attrs{"amount": event.DecString("5"), "delta": event.DecString("-5")}, ""},
		{"negative amount", event.Attrs{"amount": event.DecString("-0.01")}, "attrs.amount"},
		{"items below 1", event.Attrs{"amount": event.DecString("1"), "items": event.Int(0)}, "attrs.items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := typ.Check(event.Event{ID: "e", Member: "m", Type: "order", Time: at, Attrs: tc.attrs})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, event.ErrOutOfRange) || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("Check = %v; want ErrOutOfRange naming %s", err, tc.field)
			}
		})
	}
}

// CheckDeclaration refuses a minimum where it cannot apply.
func TestAttrCheckDeclaration(t *testing.T) {
	half, two := decimal.RequireFromString("0.5"), decimal.NewFromInt(2)
	tests := []struct {
		attr event.Attr
		ok   bool
	}{
		{event.Attr{Name: "a", Kind: event.String}, true},
		{event.Attr{Name: "a", Kind: event.Decimal, Min: &half}, true},
		{event.Attr{Name: "a", Kind: event.Integer, Min: &two}, true},
		{event.Attr{Name: "a", Kind: event.Integer, Min: &half}, false},
		{event.Attr{Name: "a", Kind: event.String, Min: &two}, false},
		{event.Attr{Name: "a", Kind: event.Time, Min: &two}, false},
	}
	for _, tc := range tests {
		if err := tc.attr.CheckDeclaration(); (err == nil) != tc.ok {
			t.Errorf("%s with min %v: CheckDeclaration = %v, want ok %v", tc.attr.Kind, tc.attr.Min, err, tc.ok)
		}
	}
}
