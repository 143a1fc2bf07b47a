package jsonfields

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
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

type typed struct {
	N     int       `json:"n"`
	Small int32     `json:"small"`
	U     uint64    `json:"u"`
	On    bool      `json:"on"`
	S     string    `json:"s"`
	Day   rule.Date `json:"day"`
	Opt   *int32    `json:"opt"`
	Items []item    `json:"items"`
	One   item      `json:"one"`
}

// check decodes in and checks it against t, returning the problems as
// "path: cause".
func check(t *testing.T, in string, typ reflect.Type) []string {
	t.Helper()
	var ps rule.Problems
	v, err := Decode(&ps, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	Check(&ps, "", typ, v)
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	return got
}

// TestUnknown checks that every key the type has no field for is named at
// its path, in key order, through slices, maps, pointers and a promoted
// field; that names match exactly (not "Name" for "name", nor "hidden"
// for a field json leaves out); and that a type decoding itself (a
// decimal) is not looked into for fields, only asked to decode.
func TestUnknown(t *testing.T) {
	const in = `{
		"id": "a", "Plain": "p", "Hidden": "h", "zz": 1,
		"items": [{"name": "x", "price": "1.5"}, {"Name": "y", "cost": 2}],
		"by_name": {"k": {"name": "z", "extra": true}},
		"ptr": {"name": "w", "price": {"odd": 1}}
	}`
	want := []string{
		"Hidden: unknown field",
		"by_name.k.extra: unknown field",
		"items[1].Name: unknown field",
		"items[1].cost: unknown field",
		`ptr.price: error decoding string '{"odd":1}': can't convert {"odd":1} to decimal`,
		"zz: unknown field",
	}
	if got := check(t, in, reflect.TypeFor[doc]()); !slices.Equal(got, want) {
		t.Errorf("Check = %q; want %q", got, want)
	}
}

// TestCheckTypes: every value its field cannot hold is named at its path,
// what encoding/json refuses and nothing it takes: a decimal is a number
// or a string of one (1.5e3 too), an integer a number without a fraction
// within its type's range and never a string (the range is said to one
// who wrote a number), a null any field's zero.
func TestCheckTypes(t *testing.T) {
	const ok = `{"n": -3, "small": 2147483647, "u": 18446744073709551615, "on": true, "s": "x", "day": "2026-02-28",
		"opt": null, "items": [{"name": "a", "price": 1.5e3}, {"price": "2.50"}, null], "one": {"price": null}}`
	if got := check(t, ok, reflect.TypeFor[typed]()); len(got) != 0 {
		t.Errorf("Check of a well-typed document = %q; want nothing", got)
	}
	const bad = `{"n": "3", "small": 2147483648, "u": -1, "on": "true", "s": 5, "day": 20260228,
		"opt": 1.5, "items": [{"name": ["a"], "price": true}, 7], "one": []}`
	want := []string{
		"day: want a string, got the number 20260228",
		"items[0].name: want a string, got a list",
		"items[0].price: error decoding string 'true': can't convert true to decimal: exponent is not numeric",
		"items[1]: want an object, got the number 7",
		"n: want a whole number, got a string",
		"on: want true or false, got a string",
		"one: want an object, got a list",
		"opt: want a whole number from -2147483648 to 2147483647, got the number 1.5",
		"s: want a string, got the number 5",
		"small: want a whole number from -2147483648 to 2147483647, got the number 2147483648",
		"u: want a whole number from 0 to 18446744073709551615, got the number -1",
	}
	if diff := cmp.Diff(want, check(t, bad, reflect.TypeFor[typed]())); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"items: want a list, got an object"}, check(t, `{"items": {"name": "a"}}`, reflect.TypeFor[typed]())); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}

// TestDecodeDuplicateKeys: a key an object gives twice is named at its
// path, however deep, once for each repeat; the value decoded is the
// last, as encoding/json keeps it. Keys that differ only in case are two
// keys.
func TestDecodeDuplicateKeys(t *testing.T) {
	const in = `{"s": "a", "S": "b", "s": "c", "items": [{}, {"name": "x", "name": "y", "name": "z"}], "s": "d"}`
	var ps rule.Problems
	v, err := Decode(&ps, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{"s: duplicate key", "items[1].name: duplicate key", "items[1].name: duplicate key", "s: duplicate key"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	m := v.(map[string]any)
	if m["s"] != "d" || m["S"] != "b" || m["items"].([]any)[1].(map[string]any)["name"] != "z" {
		t.Errorf("decoded %v; want the last value of each key", v)
	}
	if _, err := Decode(&ps, []byte(`{"s": [1, 2}`)); err == nil {
		t.Error("Decode of a malformed document: no error")
	}
}
