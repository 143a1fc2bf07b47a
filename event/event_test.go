package event_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

var (
	at    = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	order = event.Type{Name: "order", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true},
		{Name: "items", Kind: event.Integer},
		{Name: "store", Kind: event.String},
		{Name: "paid", Kind: event.Bool},
		{Name: "at", Kind: event.Time},
		{Name: "tags", Kind: event.Strings},
	}}
	ev = event.Event{ID: "e1", Member: "m", Type: "order", Time: at, Attrs: event.Attrs{
		"amount": event.Dec(decimal.RequireFromString("99.50")),
		"items":  event.Int(3),
		"store":  event.Str("s1"),
		"paid":   event.Flag(true),
		"at":     event.At(at),
		"tags":   event.List("infant", "formula"),
	}}
)

func TestConditionMatch(t *testing.T) {
	dec := func(s string) event.Value { return event.DecString(s) }
	tests := []struct {
		c    event.Condition
		want bool
	}{
		{event.Condition{Attr: "store", Op: event.Eq, Value: event.Str("s1")}, true},
		{event.Condition{Attr: "store", Op: event.Eq, Value: event.Str("s2")}, false},
		{event.Condition{Attr: "store", Op: event.Ne, Value: event.Str("s2")}, true},
		{event.Condition{Attr: "store", Op: event.In, Values: []event.Value{event.Str("s2"), event.Str("s1")}}, true},
		{event.Condition{Attr: "store", Op: event.NotIn, Values: []event.Value{event.Str("s1")}}, false},
		{event.Condition{Attr: "amount", Op: event.Gt, Value: dec("99.49")}, true},
		{event.Condition{Attr: "amount", Op: event.Gt, Value: dec("99.5")}, false},
		{event.Condition{Attr: "amount", Op: event.Gte, Value: dec("99.5")}, true},
		{event.Condition{Attr: "amount", Op: event.Lt, Value: dec("99.5")}, false},
		{event.Condition{Attr: "amount", Op: event.Lte, Value: dec("99.50")}, true},
		{event.Condition{Attr: "items", Op: event.Gte, Value: event.Int(3)}, true},
		{event.Condition{Attr: "items", Op: event.Lt, Value: dec("3.5")}, true},
		{event.Condition{Attr: "at", Op: event.Lt, Value: event.At(at.Add(time.Second))}, true},
		{event.Condition{Attr: "at", Op: event.Gt, Value: event.At(at)}, false},
		{event.Condition{Attr: "paid", Op: event.Eq, Value: event.Flag(true)}, true},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str("infant")}, true},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str("toys")}, false},
		// Strings compare exactly: case counts.
		{event.Condition{Attr: "store", Op: event.Eq, Value: event.Str("S1")}, false},
		{event.Condition{Attr: "store", Op: event.In, Values: []event.Value{event.Str("S1")}}, false},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str("Infant")}, false},
		{event.Condition{Attr: "missing", Op: event.Ne, Value: event.Str("x")}, false},
		{event.Condition{Attr: "missing", Op: event.NotIn, Values: []event.Value{event.Str("x")}}, false},
		{event.Condition{Attr: "missing", Op: event.Lt, Value: event.Int(1)}, false},
		{event.Condition{Attr: "store", Op: "like", Value: event.Str("s1")}, false},
	}
	for _, tt := range tests {
		if got := tt.c.Match(ev); got != tt.want {
			t.Errorf("%+v.Match = %v, want %v", tt.c, got, tt.want)
		}
	}
	if !event.MatchAll(nil, ev) || event.MatchAll([]event.Condition{tests[0].c, tests[1].c}, ev) {
		t.Error("MatchAll")
	}
}

func TestConditionCheck(t *testing.T) {
	tests := []struct {
		c    event.Condition
		want string // "" for valid
	}{
		{event.Condition{Attr: "amount", Op: event.Gte, Value: event.Int(100)}, ""},
		{event.Condition{Attr: "items", Op: event.Eq, Value: event.DecString("2")}, ""},
		{event.Condition{Attr: "colour", Op: event.Eq, Value: event.Str("red")}, `attr: unknown attribute "colour"`},
		{event.Condition{Attr: "store", Op: event.Gt, Value: event.Str("a")}, `op: "gt" does not apply to string`},
		{event.Condition{Attr: "store", Op: event.Eq, Value: event.Int(1)}, "value: attribute has the wrong type"},
		{event.Condition{Attr: "store", Op: event.In}, `values: empty for "in"`},
		{event.Condition{Attr: "store", Op: event.In, Values: []event.Value{event.Int(1)}}, "values[0]: attribute has the wrong type"},
		{event.Condition{Attr: "tags", Op: event.Eq, Value: event.Str("x")}, "does not apply to a list"},
		{event.Condition{Attr: "store", Op: event.Contains, Value: event.Str("x")}, "applies only to a list"},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str("infant")}, ""},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.List("infant")}, "value: attribute has the wrong type: got strings, want string"},
		{event.Condition{Attr: "store", Op: "like"}, `unknown operator "like"`},
	}
	for _, tt := range tests {
		errs := tt.c.Check(order)
		switch {
		case tt.want == "" && len(errs) > 0:
			t.Errorf("%+v: unexpected %v", tt.c, errs)
		case tt.want != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want)):
			t.Errorf("%+v: got %v, want %q", tt.c, errs, tt.want)
		}
	}
}

func TestTypeCheck(t *testing.T) {
	if err := order.Check(ev); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	bad := ev
	bad.Attrs = event.Attrs{"items": event.Str("3"), "extra": event.Int(1)}
	bad.ID = ""
	err := order.Check(bad)
	for _, want := range []error{event.ErrInvalid, event.ErrMissingAttribute, event.ErrAttributeType, event.ErrUnknownAttribute} {
		if !errors.Is(err, want) {
			t.Errorf("Check = %v; want it to wrap %v", err, want)
		}
	}
	for _, field := range []string{"id:", "attrs.amount:", "attrs.items:", "attrs.extra:"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Check = %v; want it to name %s", err, field)
		}
	}
}

func TestSame(t *testing.T) {
	other := ev
	other.Attrs = event.Attrs{}
	for k, v := range ev.Attrs {
		other.Attrs[k] = v
	}
	if !ev.Same(other) {
		t.Error("copy is not Same")
	}
	other.Attrs["amount"] = event.DecString("99.5") // equal decimal, other scale
	if !ev.Same(other) {
		t.Error("99.50 and 99.5 should be the same amount")
	}
	other.Attrs["tags"] = event.List("formula", "infant")
	if ev.Same(other) {
		t.Error("list order is content")
	}
}

func TestNumbersCompareAcrossKinds(t *testing.T) {
	for _, c := range []event.Condition{
		{Attr: "amount", Op: event.Eq, Value: event.DecString("99.5")},
		{Attr: "items", Op: event.Eq, Value: event.DecString("3.0")},
		{Attr: "items", Op: event.In, Values: []event.Value{event.Int(2), event.Int(3)}},
		{Attr: "amount", Op: event.Ne, Value: event.Int(99)},
	} {
		if !c.Match(ev) {
			t.Errorf("%+v does not match", c)
		}
	}
}

// Every value equals itself, the empty one included (issue 16, item 8:
// cmp.Diff of a definition with an "in" condition against itself was not
// empty).
func TestValueEqualsItself(t *testing.T) {
	for _, v := range []event.Value{{}, event.Str("a"), event.DecString("1.5"), event.Int(3), event.Flag(true),
		event.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), event.List("a", "b")} {
		if !v.Equal(v) {
			t.Errorf("%#v does not equal itself", v)
		}
	}
	if (event.Value{}).Equal(event.Str("")) {
		t.Error("the empty value equals an empty string")
	}
}

// A value's text is what reasons show: a decimal as decimal.Decimal's
// String writes it, an integer and a flag as strconv does, a time in RFC
// 3339 with its offset, a list in brackets.
func TestValueString(t *testing.T) {
	for _, c := range []struct {
		v    event.Value
		want string
	}{
		{event.Str("gold"), "gold"},
		{event.Dec(decimal.New(1250, -2)), "12.5"},
		{event.Dec(decimal.New(-3, 0)), "-3"},
		{event.Dec(decimal.New(5, -9)), "0.000000005"},
		{event.Dec(decimal.RequireFromString("123456789012345678901234567890.25")), "123456789012345678901234567890.25"},
		{event.Dec(decimal.New(12, 3)), "12000"},
		{event.Int(-42), "-42"},
		{event.Flag(true), "true"},
		{event.At(time.Date(2026, 3, 1, 8, 0, 0, 5, time.FixedZone("", 8*3600))), "2026-03-01T08:00:00.000000005+08:00"},
		{event.List("a", "b"), "[a,b]"},
		{event.Value{}, "<invalid>"},
	} {
		if got := c.v.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.v, got, c.want)
		}
	}
}

// A time attribute holding the zero time (the year 1, or a JSON value
// {"kind": "time"} with no time) is refused, naming it, as any time outside
// the years event.MinYear to event.MaxYear is: the limits name time
// attributes, and a rule comparing it would take it for a real date.
func TestTypeCheckZeroTimeAttribute(t *testing.T) {
	e := ev
	e.Attrs = event.Attrs{"amount": ev.Attrs["amount"], "at": event.At(time.Time{})}
	err := order.Check(e)
	if !errors.Is(err, event.ErrTimeRange) || !strings.Contains(err.Error(), "attrs.at:") {
		t.Errorf("Check with a zero time attribute = %v; want ErrTimeRange naming attrs.at", err)
	}
	if err := (event.Attr{Name: "at", Kind: event.Time}).CheckValue(event.At(time.Time{})); !errors.Is(err, event.ErrTimeRange) {
		t.Errorf("Attr.CheckValue of the zero time = %v; want ErrTimeRange", err)
	}
}

// An event left without a Time says what to set, as no clock stands in
// for it.
func TestTypeCheckZeroTimeSaysWhatToDo(t *testing.T) {
	e := ev
	e.Time = time.Time{}
	err := order.Check(e)
	if !errors.Is(err, event.ErrInvalid) {
		t.Fatalf("Check without a time = %v; want ErrInvalid", err)
	}
	for _, want := range []string{"time:", "zero", "when the event happened"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check without a time = %v; want it to say %q", err, want)
		}
	}
}

// TestStrayFieldRefused sends values whose kind does not read a field
// that is set: {"kind": "decimal", "str": "10"} is the decimal 0, not 10.
// An event attribute and a condition's value with such a field are
// refused with ErrAttributeType naming the attribute and the field, and
// a value of its kind alone still passes.
func TestStrayFieldRefused(t *testing.T) {
	for _, c := range []struct {
		attr, js, stray string
	}{
		{"amount", `{"kind":"decimal","str":"10"}`, "str"},
		{"amount", `{"kind":"decimal","dec":"10","int":10}`, "int"},
		{"items", `{"kind":"integer","dec":"3"}`, "dec"},
		{"store", `{"kind":"string","strings":["s1"]}`, "strings"},
		{"paid", `{"kind":"bool","str":"true"}`, "str"},
		{"at", `{"kind":"time","time":"2026-11-24T10:00:00Z","bool":true}`, "bool"},
		{"tags", `{"kind":"strings","str":"infant"}`, "str"},
	} {
		var v event.Value
		if err := json.Unmarshal([]byte(c.js), &v); err != nil {
			t.Fatal(err)
		}
		if got := v.Stray(); got != c.stray {
			t.Errorf("%s.Stray() = %q; want %q", c.js, got, c.stray)
		}
		e := ev
		e.Attrs = maps.Clone(ev.Attrs)
		e.Attrs[c.attr] = v
		err := order.Check(e)
		if !errors.Is(err, event.ErrAttributeType) || !strings.Contains(err.Error(), "attrs."+c.attr+":") || !strings.Contains(err.Error(), c.stray+" set") {
			t.Errorf("Check with %s = %v; want ErrAttributeType naming attrs.%s and %s", c.js, err, c.attr, c.stray)
		}
	}
	cond := event.Condition{Attr: "amount", Op: event.Gte, Value: event.Value{Kind: event.Decimal, Str: "100"}}
	if errs := cond.Check(order); len(errs) != 1 || !errors.Is(errs[0], event.ErrAttributeType) || !strings.Contains(errs[0].Error(), "str set") {
		t.Errorf("Check of a condition whose decimal has str = %v; want one ErrAttributeType naming str", errs)
	}
	contains := event.Condition{Attr: "tags", Op: event.Contains, Value: event.Value{Kind: event.String, Str: "infant", Int: 1}}
	if errs := contains.Check(order); len(errs) != 1 || !errors.Is(errs[0], event.ErrAttributeType) {
		t.Errorf("Check of a contains condition whose string has int = %v; want one ErrAttributeType", errs)
	}
	for name, v := range ev.Attrs {
		if f := v.Stray(); f != "" {
			t.Errorf("attrs.%s (%v).Stray() = %q; want none", name, v, f)
		}
	}
	if f := (event.Value{Kind: event.Bool}).Stray(); f != "" {
		t.Errorf("false's Stray() = %q; want none", f)
	}
}

// TestConditionCheckNamesTheField: each problem Check finds is a
// *event.FieldError naming the condition's field at fault as the JSON
// names it, so a definition's validation reports the path to that field
// (growth[0].conditions[1].op) and not only to the condition. Its text
// reads as before: the field, then the cause.
func TestConditionCheckNamesTheField(t *testing.T) {
	tests := []struct {
		c     event.Condition
		field string
		text  string
		is    error // nil: the cause wraps no sentinel
	}{
		{event.Condition{Attr: "colour", Op: event.Eq, Value: event.Str("red")}, "attr", `attr: unknown attribute "colour" in type "order"`, event.ErrUnknownAttribute},
		{event.Condition{Attr: "store", Op: "like", Value: event.Str("s%")}, "op", `op: unknown operator "like"`, nil},
		{event.Condition{Attr: "store", Op: event.Gt, Value: event.Str("a")}, "op", `op: "gt" does not apply to string`, nil},
		{event.Condition{Attr: "tags", Op: event.Eq, Value: event.Str("x")}, "op", `op: "eq" does not apply to a list; use contains`, nil},
		// In and not_in compared the whole list with each value: "tags in
		// [[infant]]" matched ["infant"] only, not ["infant","formula"].
		{event.Condition{Attr: "tags", Op: event.In, Values: []event.Value{event.List("infant")}}, "op", `op: "in" does not apply to a list; use contains`, nil},
		{event.Condition{Attr: "tags", Op: event.NotIn, Values: []event.Value{event.List("toys")}}, "op", `op: "not_in" does not apply to a list; use contains`, nil},
		{event.Condition{Attr: "store", Op: event.Contains, Value: event.Str("x")}, "op", `op: "contains" applies only to a list of strings`, nil},
		{event.Condition{Attr: "amount", Op: event.Gte, Value: event.Str("100")}, "value", "value: attribute has the wrong type: got string, want decimal", event.ErrAttributeType},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.List("infant")}, "value", "value: attribute has the wrong type: got strings, want string", event.ErrAttributeType},
		{event.Condition{Attr: "store", Op: event.NotIn}, "values", `values: empty for "not_in"`, nil},
		// A field the operator does not read is refused, not ignored: an
		// admin form that switched eq to in and kept the value matched on
		// the values alone.
		{event.Condition{Attr: "store", Op: event.In, Value: event.Str("s1"), Values: []event.Value{event.Str("s2")}}, "value", `value: not read by "in", which reads values`, nil},
		{event.Condition{Attr: "store", Op: event.Eq, Value: event.Str("s1"), Values: []event.Value{event.Str("s2")}}, "values", `values: not read by "eq", which reads value`, nil},
		{event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str("infant"), Values: []event.Value{event.Str("toys")}}, "values", `values: not read by "contains", which reads value`, nil},
		{event.Condition{Attr: "amount", Op: event.Gte, Value: event.Int(1), Values: []event.Value{event.Int(2)}}, "values", `values: not read by "gte", which reads value`, nil},
		{event.Condition{Attr: "store", Op: event.In, Values: []event.Value{event.Str("s1"), event.Int(2)}}, "values[1]", "values[1]: attribute has the wrong type: got integer, want string", event.ErrAttributeType},
	}
	for _, tt := range tests {
		errs := tt.c.Check(order)
		if len(errs) != 1 {
			t.Errorf("%+v: Check = %v, want one problem", tt.c, errs)
			continue
		}
		var fe *event.FieldError
		if !errors.As(errs[0], &fe) {
			t.Errorf("%+v: Check = %T %v, want a *event.FieldError", tt.c, errs[0], errs[0])
			continue
		}
		if fe.Field != tt.field || errs[0].Error() != tt.text {
			t.Errorf("%+v: field %q, %q; want field %q, %q", tt.c, fe.Field, errs[0], tt.field, tt.text)
		}
		if tt.is != nil && !errors.Is(errs[0], tt.is) {
			t.Errorf("%+v: %v does not wrap %v", tt.c, errs[0], tt.is)
		}
	}
}

// TestConditionValueWithinTheLimits: a condition's times and decimals
// keep to the limits an event's do, each refused at its field, so a
// definition that passes validation also encodes: a time of the year
// 10000 passed Check, and Open then failed on encoding/json's "year
// outside of range" with no path; a time of 1800 or a decimal of 41
// digits compared with values no event can hold. (A definition's strings
// are checked by CheckTexts.)
func TestConditionValueWithinTheLimits(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	early := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	big := decimal.New(1, 41) // 42 digits before the point
	tests := []struct {
		c     event.Condition
		field string
		is    error
	}{
		{event.Condition{Attr: "at", Op: event.Gte, Value: event.At(far)}, "value", event.ErrTimeRange},
		{event.Condition{Attr: "at", Op: event.In, Values: []event.Value{event.At(at), event.At(early)}}, "values[1]", event.ErrTimeRange},
		{event.Condition{Attr: "amount", Op: event.Lt, Value: event.Dec(big)}, "value", event.ErrTooLarge},
	}
	for _, tt := range tests {
		errs := tt.c.Check(order)
		if len(errs) != 1 {
			t.Errorf("%+v: Check = %v, want one problem", tt.c, errs)
			continue
		}
		var fe *event.FieldError
		if !errors.As(errs[0], &fe) || fe.Field != tt.field || !errors.Is(errs[0], tt.is) {
			t.Errorf("%+v: Check = %v; want a problem at %s wrapping %v", tt.c, errs[0], tt.field, tt.is)
		}
	}
	// At the limits, and the zero time a value leaves unset, still pass.
	last := time.Date(event.MaxYear, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, c := range []event.Condition{
		{Attr: "at", Op: event.Lt, Value: event.At(last)},
		{Attr: "at", Op: event.Gte, Value: event.At(time.Date(event.MinYear, 1, 1, 0, 0, 0, 0, time.UTC))},
		{Attr: "amount", Op: event.Lt, Value: event.Dec(decimal.New(1, 39))},
	} {
		if errs := c.Check(order); len(errs) > 0 {
			t.Errorf("%+v: Check = %v, want none", c, errs)
		}
	}
}

// An empty list is present: it passes Check, even required, and contains
// nothing, so contains is false for every item, the empty string too.
func TestEmptyList(t *testing.T) {
	typ := event.Type{Name: "order", Attributes: []event.Attr{{Name: "tags", Kind: event.Strings, Required: true}}}
	e := event.Event{ID: "e1", Member: "m", Type: "order", Time: at, Attrs: event.Attrs{"tags": event.List()}}
	if err := typ.Check(e); err != nil {
		t.Fatalf("Check of an empty list: %v", err)
	}
	for _, item := range []string{"infant", ""} {
		if (event.Condition{Attr: "tags", Op: event.Contains, Value: event.Str(item)}).Match(e) {
			t.Errorf("an empty list contains %q", item)
		}
	}
}
