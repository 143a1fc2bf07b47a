package jsonfields

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

type base struct {
	ID string `json:"id"`
}

type item struct {
	Name  string          `json:"name"`
	Price decimal.Decimal `json:"price"`
}

type doc struct {
	base
	Items  []item          `json:"items,omitempty"`
	ByName map[string]item `json:"by_name"`
	Plain  string
	Hidden string `json:"-"`
	Ptr    *item  `json:"ptr"`
}

// TestUnknown checks that every key the type has no field for is named at
// its path, in key order, through slices, maps, pointers and a promoted
// field; that names match exactly (not "Name" for "name", nor "hidden"
// for a field json leaves out); and that a type decoding itself (a
// decimal) is not looked into.
func TestUnknown(t *testing.T) {
	const in = `{
		"id": "a", "Plain": "p", "Hidden": "h", "zz": 1,
		"items": [{"name": "x", "price": "1.5"}, {"Name": "y", "cost": 2}],
		"by_name": {"k": {"name": "z", "extra": true}},
		"ptr": {"name": "w", "price": {"odd": 1}}
	}`
	var v any
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	var ps rule.Problems
	Unknown(&ps, "", reflect.TypeFor[doc](), v)
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{
		"Hidden: unknown field",
		"by_name.k.extra: unknown field",
		"items[1].Name: unknown field",
		"items[1].cost: unknown field",
		"zz: unknown field",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Unknown = %q; want %q", got, want)
	}
}
