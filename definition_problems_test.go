package membership_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// One definition with problems in every domain reports them all at once,
// each at its path, nothing else, in the same order every time (the order
// Validate walks the definition: zone, events, levels, points, coupons,
// benefits, tasks, tags, stored value), whether validated from Go or
// parsed from its JSON. The retail example's program, valid as it is,
// takes one or two mistakes in each part.
func TestValidateReportsEveryDomainsProblemsAtOnce(t *testing.T) {
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	def.Zone = "Mars/Olympus"
	// order's attributes: amount, total, order_id, store, channel, category.
	def.Events[2].Attributes = append(def.Events[2].Attributes, event.Attr{Name: "store", Kind: event.String})
	// Platinum no higher than Gold (1500); its retention lowered with it.
	def.Levels.Ladder[2].Upgrade, def.Levels.Ladder[2].Retention = decimal.NewFromInt(1500), decimal.NewFromInt(1500)
	def.Levels.Growth[0].Caps = rule.Caps{{Period: rule.Day, Limit: decimal.NewFromInt(-1)}}
	def.Levels.Refunds = append(def.Levels.Refunds, level.RefundRule{ID: "refund-again", Event: "refund", Order: "order_id", Amount: "amount"})
	def.Levels.Plans[0].Attr = "tier"
	def.Points.Rules[0].Conditions = []event.Condition{{Attr: "colour", Op: event.Eq, Value: event.Str("red")}}
	def.Points.Rules[1].Levels = []string{"Bronze"}
	def.Points.Rules[4].Event = "fees"
	def.Coupons.Templates[6].Claim.Levels = []string{"Bronze"}
	def.Coupons.Packs[0].Items[1].Template = "welcome-20"
	def.Benefits.Benefits[2].Levels = []string{"Diamond", "Emerald"}
	def.Tasks.Tasks[0].Rewards[1].Template = "monthly-50"
	def.Tags.Orders.Brand = "brand"
	def.Tags.Rules[5].Tag = "staff" // the manual tag's name
	def.StoredValue.Refund = "value_return"

	want := []string{
		`zone: unknown time zone "Mars/Olympus"`,
		`events[2].attributes[6].name: duplicate attribute "store"`,
		`levels.ladder[2].upgrade: must be greater than 1500`,
		`levels.growth[0].caps[0].limit: must not be negative`,
		`levels.refunds[1]: duplicate refund rule (event "refund", order "order_id", amount "amount")`,
		`levels.plans[0].attr: unknown attribute "tier" in type "fee"`,
		`points.rules[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		`points.rules[1].levels[0]: unknown level "Bronze"`,
		`points.rules[4].event: unknown event type "fees"`,
		`coupons.templates[6].claim.levels[0]: unknown level "Bronze"`,
		`coupons.packs[0].items[1].template: unknown template "welcome-20"`,
		`benefits.benefits[2].levels[1]: unknown level "Emerald"`,
		`tasks.tasks[0].rewards[1]: unknown coupon template monthly-50`,
		`tags.orders.brand: unknown attribute "brand" in type "order"`,
		`tags.rules[5].tag: duplicate tag "staff"`,
		`stored_value.refund: unknown event type "value_return"`,
	}
	problems := func(err error) []string {
		t.Helper()
		var ps *rule.Problems
		if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) {
			t.Fatalf("err = %v, want the *rule.Problems of an invalid definition", err)
		}
		var got []string
		for _, p := range ps.List {
			got = append(got, p.Error())
		}
		return got
	}
	for i := range 3 {
		if diff := cmp.Diff(want, problems(def.Validate())); diff != "" {
			t.Errorf("Validate, run %d (-want +got):\n%s", i, diff)
		}
	}
	doc, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	_, err = membership.ParseDefinition(doc)
	if diff := cmp.Diff(want, problems(err)); diff != "" {
		t.Errorf("ParseDefinition (-want +got):\n%s", diff)
	}
	// The event types named nowhere declared are found by the sentinel.
	if err := def.Validate(); !errors.Is(err, membership.ErrUnknownEventType) || !errors.Is(err, event.ErrUnknownAttribute) {
		t.Errorf("Validate = %v, want it to wrap ErrUnknownEventType and event.ErrUnknownAttribute", err)
	}
}
