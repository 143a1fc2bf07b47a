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
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// The store records the definition in force: a newer version replaces it
// and the Programs running the older one stop writing; an older version or
// another definition under the same version is refused at Open.
func TestDefinitionInForce(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	v1 := valueDef()
	v1.Version = 1
	open := func(def membership.Definition) (*membership.Program, error) { return membership.Open(st, def) }
	p1, err := open(v1)
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p1, recharge("r1", "alice", "10", t0))
	if _, err := open(v1); err != nil { // another instance, same definition
		t.Fatalf("the same definition again: %v", err)
	}
	v2 := valueDef()
	v2.Version = 2
	v2.StoredValue.Scale = new(int32(4))
	p2, err := open(v2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Process(ctx, recharge("r2", "alice", "10", t0)); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("a write of the superseded program: %v", err)
	}
	if _, err := p1.Advance(ctx, t0); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("Advance of the superseded program: %v", err)
	}
	if va, err := p1.Value().Account(ctx, "alice"); err != nil || !va.Balance.Equal(dec("10")) {
		t.Errorf("the superseded program reads %+v, %v; it still reads", va, err)
	}
	mustProcess(t, p2, recharge("r2", "alice", "0.0005", t0)) // 4 places: the new definition's rule
	if _, err := open(v1); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("Open with an older version: %v", err)
	}
	other := valueDef()
	other.Version = 2
	if _, err := open(other); !errors.Is(err, membership.ErrDefinitionConflict) {
		t.Errorf("Open with another definition of version 2: %v", err)
	}
	if va, _ := p2.Value().Account(ctx, "alice"); !va.Balance.Equal(dec("10.0005")) {
		t.Errorf("balance %s, want 10.0005", va.Balance)
	}
}

// A definition that leaves out the stored-value scale and the points +
// cash money scale (as every one written while they were int32s whose 0
// meant the default did, by omitempty) and the coupons' money scale (as
// every one written before the field) encodes byte for byte as it did
// then: the store compares the encoding with the one it recorded, so a
// host that opens it again under the same version is not refused with
// ErrDefinitionConflict. The document is what the earlier fields wrote.
func TestDefinitionWithoutScalesEncodesAsBefore(t *testing.T) {
	const doc = `{"version":1,"zone":"Asia/Tokyo","events":[{"name":"recharge","attributes":[{"name":"amount","type":"decimal","required":true}]}],` +
		`"stored_value":{"recharge":"recharge","amount":"amount"},` +
		`"points":{"programs":[{"name":"mall","payment":{"rate":"0.07","max_share":"0.33"}}]},` +
		`"coupons":{"templates":[{"name":"ten-off","type":"discount","rate":"0.9","cap":"20.5","use":{"validity":{"kind":"days_after","n":7}}}]}}`
	def, err := membership.ParseDefinition([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if def.StoredValue.Scale != nil || def.StoredValue.Places() != 2 || def.Points.Programs[0].Payment.MoneyPlaces() != 2 ||
		def.Coupons.MoneyScale != nil || def.Coupons.MoneyPlaces() != 2 {
		t.Errorf("scales %v, %v, %v: want unset, 2 places", def.StoredValue.Scale, def.Points.Programs[0].Payment.MoneyScale, def.Coupons.MoneyScale)
	}
	if b, err := json.Marshal(def); err != nil || string(b) != doc {
		t.Errorf("Marshal = %s, %v; want\n%s", b, err, doc)
	}
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(p.Definition()); string(b) != doc {
		t.Errorf("the program's definition encodes as %s", b)
	}
	if _, err := membership.Open(st, def); err != nil {
		t.Errorf("the same definition again: %v", err)
	}
}

// Unversioned definitions (version 0): the Program opened last wins, and
// the one opened before it stops writing.
func TestUnversionedDefinitionLastOpenWins(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p1, err := membership.Open(st, valueDef())
	if err != nil {
		t.Fatal(err)
	}
	changed := valueDef()
	changed.StoredValue.Scale = new(int32(3))
	p2, err := membership.Open(st, changed)
	if err != nil {
		t.Fatalf("reopening with a changed unversioned definition: %v", err)
	}
	if _, err := p1.Process(ctx, recharge("r1", "alice", "10", t0)); !errors.Is(err, membership.ErrDefinitionSuperseded) {
		t.Errorf("the program opened first: %v", err)
	}
	mustProcess(t, p2, recharge("r1", "alice", "10", t0))
}

// A document that is not one JSON object is refused: "null" (an empty
// column, say) decoded to an empty program, and what followed the object
// was never read.
func TestParseDefinitionNeedsOneObject(t *testing.T) {
	for _, doc := range []string{"", "  ", "null", " null ", "[]", `"x"`, "7", `{"zone": "UTC"} {"zone": "UTC"}`, `{"zone": "UTC"} x`, `{"zone": "UTC"`} {
		if _, err := membership.ParseDefinition([]byte(doc)); !errors.Is(err, rule.ErrInvalidDefinition) {
			t.Errorf("ParseDefinition(%q) = %v, want ErrInvalidDefinition", doc, err)
		}
	}
	for _, doc := range []string{`{"zone": "UTC"}`, "\n {\"zone\": \"UTC\"} \n\t"} {
		if d, err := membership.ParseDefinition([]byte(doc)); err != nil || d.Zone != "UTC" {
			t.Errorf("ParseDefinition(%q) = %q, %v; want zone UTC", doc, d.Zone, err)
		}
	}
}

// ParseDefinition names every field the definition does not have, each
// with its path, where encoding/json stopped at the first and named it
// alone; and a field name in other case ("Top" for "top"), which
// encoding/json takes for the field, is one of them.
func TestParseDefinitionNamesEveryUnknownField(t *testing.T) {
	doc := `{"zone": "UTC", "colour": "red",
		"events": [{"name": "order", "attributes": [
			{"name": "amount", "type": "decimal", "requird": true},
			{"name": "brand", "type": "string"}]}],
		"tags": {"Top": 3, "orders": {"event": "order", "amount": "amount", "brnd": "brand"},
			"rules": [{"tag": "buyer", "all": [{"fact": "order_count", "op": "gte",
				"value": {"kind": "integer", "int": 1, "unit": "orders"}}]}]}}`
	_, err := membership.ParseDefinition([]byte(doc))
	var ps *rule.Problems
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v, want the *rule.Problems of an invalid definition", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		"colour: unknown field",
		"events[0].attributes[0].requird: unknown field",
		"tags.Top: unknown field",
		"tags.orders.brnd: unknown field",
		"tags.rules[0].all[0].value.unit: unknown field",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A definition that decodes but does not validate is reported as a
// malformed one is: under ParseDefinition's prefix, wrapping
// rule.ErrInvalidDefinition, its problems a *rule.Problems with paths.
func TestParseDefinitionValidationProblems(t *testing.T) {
	_, err := membership.ParseDefinition([]byte(`{"events": [{"name": "order"}, {"name": "order"}]}`))
	var ps *rule.Problems
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Path != "events[1].name" {
		t.Fatalf("ParseDefinition of two event types of one name = %v; want one problem at events[1].name", err)
	}
	if !strings.HasPrefix(err.Error(), "membership: parse definition: ") {
		t.Errorf("error %q; want the prefix membership: parse definition:", err)
	}
}

// A condition's problem names the field at fault by the path a host's
// form knows it by, whatever part holds the condition: a growth rule's,
// an earning rule's, a task step's (attr, value, values[i], op) and a tag
// rule's (fact, value, op). Before, an attribute or operator was reported
// at the condition, its field only in the message (levels.growth[0].
// conditions[0]: attr: unknown attribute …), as a tag's fact was not.
func TestParseDefinitionConditionProblemsNameTheField(t *testing.T) {
	doc := `{"zone": "UTC",
		"events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal"}, {"name": "store", "type": "string"}]}],
		"levels": {"ladder": [{"name": "Basic", "upgrade": "0", "validity": {"kind": "permanent"}}],
			"growth": [{"id": "g", "event": "order", "formula": {"kind": "fixed", "fixed": "1"}, "conditions": [
				{"attr": "colour", "op": "eq", "value": {"kind": "string", "str": "red"}}]}]},
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "r", "program": "mall", "event": "order", "formula": {"kind": "fixed", "fixed": "1"}, "conditions": [
				{"attr": "amount", "op": "gte", "value": {"kind": "string", "str": "100"}}]}]},
		"tasks": {"tasks": [{"name": "t", "kind": "one", "rewards": [{"kind": "points", "program": "mall", "amount": "1"}],
			"steps": [{"event": "order", "conditions": [
				{"attr": "store", "op": "like", "value": {"kind": "string", "str": "s%"}},
				{"attr": "store", "op": "in", "values": [{"kind": "string", "str": "s1"}, {"kind": "integer", "int": 2}]}]}]}]},
		"tags": {"orders": {"event": "order", "amount": "amount"},
			"rules": [{"tag": "buyer", "all": [{"fact": "order_count", "op": "starts", "value": {"kind": "integer", "int": 1}},
				{"fact": "order_amount", "op": "gt", "value": {"kind": "bool", "bool": true}}]}]}}`
	_, err := membership.ParseDefinition([]byte(doc))
	var ps *rule.Problems
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v, want the *rule.Problems of an invalid definition", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`levels.growth[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		"points.rules[0].conditions[0].value: attribute has the wrong type: got string, want decimal",
		`tasks.tasks[0].steps[0].conditions[0].op: unknown operator "like"`,
		"tasks.tasks[0].steps[0].conditions[1].values[1]: attribute has the wrong type: got integer, want string",
		`tags.rules[0].all[0].op: unknown operator "starts"`,
		"tags.rules[0].all[1].value: attribute has the wrong type: got bool, want decimal",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// The domains whose checks look up event types and other domains refuse a
// nil Env with rule.ErrInvalidDefinition rather than panic (value's and
// coupon's skip their optional lookups).
func TestDomainCheckWithoutEnv(t *testing.T) {
	for name, check := range map[string]func() error{
		"level":   func() error { return level.Definition{}.Check(nil) },
		"points":  func() error { return points.Definition{}.Check(nil) },
		"task":    func() error { return task.Definition{}.Check(nil) },
		"tag":     func() error { return tag.Definition{}.Check(nil) },
		"benefit": func() error { return benefit.Definition{}.Check(nil) },
	} {
		if err := check(); !errors.Is(err, rule.ErrInvalidDefinition) {
			t.Errorf("%s.Definition{}.Check(nil) = %v; want rule.ErrInvalidDefinition", name, err)
		}
	}
}

// A condition's time beyond the limits is a problem at its field: a time
// of the year 10000 passed Validate, and Open then failed on encoding/json
// ("Time.MarshalJSON: year outside of range [0,9999]") with no path; Open
// now names the path too.
func TestValidateConditionTimeBeyondTheLimits(t *testing.T) {
	def := membership.Definition{Zone: "UTC",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "paid_at", Kind: event.Time}}}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "r", Program: "mall", Event: "order",
				Formula: rule.Formula{Kind: rule.Fixed, Fixed: decimal.NewFromInt(1)},
				Conditions: []event.Condition{
					{Attr: "paid_at", Op: event.Lt, Value: event.At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))},
				}}}}}
	const path = "points.rules[0].conditions[0].value"
	var ps *rule.Problems
	err := def.Validate()
	if !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Path != path || !errors.Is(err, event.ErrTimeRange) {
		t.Fatalf("Validate = %v; want one problem at %s wrapping event.ErrTimeRange", err, path)
	}
	st := memory.New()
	if _, err := membership.Open(st, def); !errors.Is(err, rule.ErrInvalidDefinition) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v; want rule.ErrInvalidDefinition naming %s", err, path)
	}
}

// Every rule naming an event type the definition does not declare is a
// problem at its event field that wraps event.ErrUnknownType
// (membership.ErrUnknownEventType), whatever part holds it, so a host's
// errors.Is finds it: only the points rules' did, the others'
// (a growth rule, a task step, a tag's orders, stored value's recharge)
// had the sentinel's text alone.
func TestValidateUnknownEventTypeWrapsTheSentinel(t *testing.T) {
	doc := `{"zone": "UTC",
		"events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal"}]}],
		"levels": {"ladder": [{"name": "Basic", "upgrade": "0", "validity": {"kind": "permanent"}}],
			"growth": [{"id": "g", "event": "visit", "formula": {"kind": "count"}}]},
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "r", "program": "mall", "event": "visit", "formula": {"kind": "count"}}]},
		"tasks": {"tasks": [{"name": "t", "kind": "one", "rewards": [{"kind": "points", "program": "mall", "amount": "1"}],
			"steps": [{"event": "visit"}]}]},
		"tags": {"orders": {"event": "visit", "amount": "amount"}},
		"stored_value": {"recharge": "visit", "amount": "amount"}}`
	_, err := membership.ParseDefinition([]byte(doc))
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v, want a *rule.Problems", err)
	}
	want := []string{"levels.growth[0].event", "points.rules[0].event", "tasks.tasks[0].steps[0].event", "tags.orders.event", "stored_value.recharge"}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
		if !errors.Is(p, event.ErrUnknownType) || !errors.Is(p, membership.ErrUnknownEventType) {
			t.Errorf("%v does not wrap event.ErrUnknownType", p)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems' paths (-want +got):\n%s\n%v", diff, err)
	}

	// So does one naming an attribute its event type does not declare with
	// event.ErrUnknownAttribute: a tag's orders and stored value's amount
	// did not.
	doc = `{"zone": "UTC",
		"events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "r", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "total", "rate": "1"}}]},
		"tags": {"orders": {"event": "order", "amount": "total"}},
		"stored_value": {"recharge": "order", "amount": "total"}}`
	_, err = membership.ParseDefinition([]byte(doc))
	if !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v, want a *rule.Problems", err)
	}
	want = []string{"points.rules[0].formula.base", "tags.orders.amount", "stored_value.recharge"}
	got = nil
	for _, p := range ps.List {
		got = append(got, p.Path)
		if !errors.Is(p, event.ErrUnknownAttribute) {
			t.Errorf("%v does not wrap event.ErrUnknownAttribute", p)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems' paths (-want +got):\n%s\n%v", diff, err)
	}
}
