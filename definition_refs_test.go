package membership_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
)

// refProblems parses doc, which must be invalid, and returns its problems
// as "path: cause", failing t for each one that does not wrap sentinel.
func refProblems(t *testing.T, doc string, sentinel error) []string {
	t.Helper()
	_, err := membership.ParseDefinition([]byte(doc))
	var ps *rule.Problems
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v; want the *rule.Problems of an invalid definition", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
		if !errors.Is(p, sentinel) {
			t.Errorf("%v does not wrap %v", p, sentinel)
		}
	}
	return got
}

// Every place a definition names an event type reports an undeclared one
// at its own field, wrapping membership.ErrUnknownEventType, all at once:
// a growth rule, a growth refund, a paid plan, a points rule, a points
// refund, a coupon gift, a task step, a tag's orders, recharge and
// withdrawal, and each of stored value's four operations. Each rule names "visit"; only
// "order" (and "refund", which a refund rule needs no more than its
// event) is declared. Before, a coupon gift's problem had the sentinel's
// text alone, and errors.Is did not find it. The expected list is the
// order Validate walks in: levels (growth, refunds, plans), points
// (rules, refunds), coupons, tasks, tags (orders, recharge, its
// withdrawal), stored value (recharge, spend, refund, withdraw).
func TestValidateEveryEventTypeReferenceWrapsTheSentinel(t *testing.T) {
	const doc = `{"zone": "UTC",
		"events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string"}]}],
		"levels": {"ladder": [{"name": "Basic", "upgrade": "0", "validity": {"kind": "permanent"}}],
			"growth": [{"id": "g", "event": "visit", "formula": {"kind": "count"}, "order": {"id": "order_id", "amount": "amount"}}],
			"refunds": [{"id": "r", "event": "visit", "order": "order_id", "amount": "amount"}],
			"plans": [{"name": "Plus", "period": "monthly", "event": "visit", "attr": "plan"}]},
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "p", "program": "mall", "event": "visit", "formula": {"kind": "count"}, "order": "order_id"}],
			"refunds": [{"event": "visit", "order": "order_id", "amount": "amount"}]},
		"coupons": {"templates": [{"name": "t10", "title": "10 off", "type": "cash", "amount": "10", "use": {"validity": {"kind": "days_after", "n": 30}}}],
			"gifts": [{"event": "visit", "template": "t10"}]},
		"tasks": {"tasks": [{"name": "t", "kind": "one", "rewards": [{"kind": "points", "program": "mall", "amount": "1"}],
			"steps": [{"event": "visit"}]}]},
		"tags": {"orders": {"event": "visit", "amount": "amount"}, "recharge": {"event": "visit", "amount": "amount", "withdraw": "visit5"}},
		"stored_value": {"recharge": "visit", "spend": "visit2", "refund": "visit3", "withdraw": "visit4", "amount": "amount"}}`
	want := []string{
		`levels.growth[0].event: unknown event type "visit"`,
		`levels.refunds[0].event: unknown event type "visit"`,
		`levels.plans[0].event: unknown event type "visit"`,
		`points.rules[0].event: unknown event type "visit"`,
		`points.refunds[0].event: unknown event type "visit"`,
		`coupons.gifts[0].event: unknown event type "visit"`,
		`tasks.tasks[0].steps[0].event: unknown event type "visit"`,
		`tags.orders.event: unknown event type "visit"`,
		`tags.recharge.event: unknown event type "visit"`,
		`tags.recharge.withdraw: unknown event type "visit5"`,
		`stored_value.recharge: unknown event type "visit"`,
		`stored_value.spend: unknown event type "visit2"`,
		`stored_value.refund: unknown event type "visit3"`,
		`stored_value.withdraw: unknown event type "visit4"`,
	}
	if diff := cmp.Diff(want, refProblems(t, doc, membership.ErrUnknownEventType)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// Every place a definition names an attribute of a declared event type
// reports an undeclared one at its own field, wrapping
// event.ErrUnknownAttribute, all at once: a growth rule's condition,
// formula base and order reference, a growth refund's order and amount, a
// plan's attribute, a points rule's condition, base, order and order
// amount, a points refund's order and amount, a task step's condition,
// a tag's orders (amount, brand, category, product), recharge and
// withdrawal, and stored value's amount in each operation's type. The
// types declare amount (decimal), order_id (string) and plan (string);
// every reference is to a name neither has.
func TestValidateEveryAttributeReferenceWrapsTheSentinel(t *testing.T) {
	const doc = `{"zone": "UTC",
		"events": [
			{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string"}, {"name": "plan", "type": "string"}]},
			{"name": "refund", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string"}]},
			{"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
			{"name": "cash_out", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
		"levels": {"ladder": [{"name": "Basic", "upgrade": "0", "validity": {"kind": "permanent"}}],
			"growth": [{"id": "g", "event": "order", "conditions": [{"attr": "colour", "op": "eq", "value": {"kind": "string", "str": "red"}}],
				"formula": {"kind": "multiplier", "base": "total", "rate": "1"}, "order": {"id": "oid", "amount": "total"}}],
			"refunds": [{"id": "r", "event": "refund", "order": "oid", "amount": "total"}],
			"plans": [{"name": "Plus", "period": "monthly", "event": "order", "attr": "tier"}]},
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "p", "program": "mall", "event": "order", "conditions": [{"attr": "colour", "op": "eq", "value": {"kind": "string", "str": "red"}}],
				"formula": {"kind": "multiplier", "base": "total", "rate": "1"}, "order": "oid", "order_amount": "total"}],
			"refunds": [{"event": "refund", "order": "oid", "amount": "total"}]},
		"tasks": {"tasks": [{"name": "t", "kind": "one", "rewards": [{"kind": "points", "program": "mall", "amount": "1"}],
			"steps": [{"event": "order", "conditions": [{"attr": "colour", "op": "eq", "value": {"kind": "string", "str": "red"}}]}]}]},
		"tags": {"orders": {"event": "order", "amount": "total", "brand": "brand", "category": "cat", "product": "sku"},
			"recharge": {"event": "recharge", "amount": "total", "withdraw": "cash_out"}},
		"stored_value": {"recharge": "recharge", "withdraw": "cash_out", "amount": "total"}}`
	want := []string{
		`levels.growth[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		`levels.growth[0].formula.base: unknown attribute "total" in type "order"`,
		`levels.growth[0].order.id: unknown attribute "oid" in type "order"`,
		`levels.growth[0].order.amount: unknown attribute "total" in type "order"`,
		`levels.refunds[0].order: unknown attribute "oid" in type "refund"`,
		`levels.refunds[0].amount: unknown attribute "total" in type "refund"`,
		`levels.plans[0].attr: unknown attribute "tier" in type "order"`,
		`points.rules[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		`points.rules[0].formula.base: unknown attribute "total" in type "order"`,
		`points.rules[0].order: unknown attribute "oid" in type "order"`,
		`points.rules[0].order_amount: unknown attribute "total" in type "order"`,
		`points.refunds[0].order: unknown attribute "oid" in type "refund"`,
		`points.refunds[0].amount: unknown attribute "total" in type "refund"`,
		`tasks.tasks[0].steps[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		`tags.orders.amount: unknown attribute "total" in type "order"`,
		`tags.orders.brand: unknown attribute "brand" in type "order"`,
		`tags.orders.category: unknown attribute "cat" in type "order"`,
		`tags.orders.product: unknown attribute "sku" in type "order"`,
		`tags.recharge.amount: unknown attribute "total" in type "recharge"`,
		`tags.recharge.withdraw: unknown attribute "total" in type "cash_out"`,
		`stored_value.recharge: unknown attribute "total" in type "recharge"`,
		`stored_value.withdraw: unknown attribute "total" in type "cash_out"`,
	}
	if diff := cmp.Diff(want, refProblems(t, doc, event.ErrUnknownAttribute)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// Every place a definition names an attribute of a kind it cannot read
// reports it at its own field, wrapping event.ErrAttributeType, all at
// once: order IDs and a plan name must be strings, amounts and formula
// bases decimals (or integers), a tag's brand a string or a list of
// strings. Each reference names the other attribute of its event: amount
// (decimal) where a string is read, order_id (string) where a decimal is.
func TestValidateEveryAttributeOfTheWrongKindWrapsTheSentinel(t *testing.T) {
	const doc = `{"zone": "UTC",
		"events": [
			{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string", "required": true}]},
			{"name": "refund", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string", "required": true}]},
			{"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string", "required": true}]},
			{"name": "cash_out", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order_id", "type": "string", "required": true}]}],
		"levels": {"ladder": [{"name": "Basic", "upgrade": "0", "validity": {"kind": "permanent"}}],
			"growth": [{"id": "g", "event": "order", "formula": {"kind": "multiplier", "base": "order_id", "rate": "1"}, "order": {"id": "amount", "amount": "order_id"}}],
			"refunds": [{"id": "r", "event": "refund", "order": "amount", "amount": "order_id"}],
			"plans": [{"name": "Plus", "period": "monthly", "event": "order", "attr": "amount"}]},
		"points": {"programs": [{"name": "mall"}],
			"rules": [{"id": "p", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "order_id", "rate": "1"}, "order": "amount", "order_amount": "order_id"}],
			"refunds": [{"event": "refund", "order": "amount", "amount": "order_id"}]},
		"tags": {"orders": {"event": "order", "amount": "order_id", "brand": "amount"},
			"recharge": {"event": "recharge", "amount": "order_id", "withdraw": "cash_out"}},
		"stored_value": {"recharge": "recharge", "withdraw": "cash_out", "amount": "order_id"}}`
	want := []string{
		`levels.growth[0].formula.base: attribute has the wrong type: "order_id" is string, want decimal or integer`,
		`levels.growth[0].order.id: attribute has the wrong type: "amount" is decimal, want string`,
		`levels.growth[0].order.amount: attribute has the wrong type: "order_id" is string, want decimal`,
		`levels.refunds[0].order: attribute has the wrong type: "amount" is decimal, want string`,
		`levels.refunds[0].amount: attribute has the wrong type: "order_id" is string, want decimal`,
		`levels.plans[0].attr: attribute has the wrong type: "amount" is decimal, want string`,
		`points.rules[0].formula.base: attribute has the wrong type: "order_id" is string, want decimal or integer`,
		`points.rules[0].order: attribute has the wrong type: "amount" is decimal, want string`,
		`points.rules[0].order_amount: attribute has the wrong type: "order_id" is string, want decimal`,
		`points.refunds[0].order: attribute has the wrong type: "amount" is decimal, want string`,
		`points.refunds[0].amount: attribute has the wrong type: "order_id" is string, want decimal`,
		`tags.orders.amount: attribute has the wrong type: "order_id" is string, want decimal or integer`,
		`tags.orders.brand: attribute has the wrong type: "amount" is decimal, want string or strings`,
		`tags.recharge.amount: attribute has the wrong type: "order_id" is string, want decimal or integer`,
		`tags.recharge.withdraw: attribute has the wrong type: "order_id" of "cash_out" is string, want decimal or integer`,
		`stored_value.recharge: attribute has the wrong type: "order_id" of "recharge" is string, want decimal`,
		`stored_value.withdraw: attribute has the wrong type: "order_id" of "cash_out" is string, want decimal`,
	}
	if diff := cmp.Diff(want, refProblems(t, doc, event.ErrAttributeType)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
