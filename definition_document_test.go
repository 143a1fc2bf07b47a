package membership_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
)

// editRetail returns the retail example's program with each pair of
// old → new applied once, failing t for a pair it does not find.
func editRetail(t *testing.T, pairs ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("retail program has no %q", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return []byte(doc)
}

// ParseDefinition reports every problem of the document at once, each at
// its path with its index: a key an object gives twice (encoding/json
// keeps the last: the zone Mars/Olympus and Gold's upgrade of 15 would
// be dropped without a word), a value its field cannot hold (an integer
// written as a string or with a fraction, a bool as a string, a decimal
// as true), and a field the definition does not have. The retail
// example's program, valid as it is, takes one of each. Duplicates are
// found as the document is read, in its order; the others in key order
// (coupons, events, levels, points, tags). Before, the first value its
// field could not hold was reported alone, as encoding/json's text
// without its index ("json: cannot unmarshal string into Go struct field
// Attr.events.attributes.required of type bool"), a decimal's without
// any path, and the repeated keys not at all.
func TestParseDefinitionReportsEveryDocumentProblemAtOnce(t *testing.T) {
	doc := editRetail(t,
		`"zone": "Asia/Shanghai",`, `"zone": "Mars/Olympus", "zone": "Asia/Shanghai",`,
		`{"name": "plan", "type": "string", "required": true}`, `{"name": "plan", "type": "string", "required": "true"}`,
		`"upgrade": "1500",`, `"upgrade": "15", "upgrade": "1500",`,
		`"window": 12, "downgrade": "matching",
        "gifts": [{"kind": "points", "program": "mall", "amount": "200"}`, `"window": "12", "downgrade": "matching",
        "gifts": [{"kind": "points", "program": "mall", "amount": "200"}`,
		`"approval_above": "500"`, `"approval_above": true`,
		`"stock": 1500,`, `"stock": 1500.0,`,
		`"category": "category"}`, `"categroy": "category"}`,
	)
	_, err := membership.ParseDefinition(doc)
	var ps *rule.Problems
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.As(err, &ps) {
		t.Fatalf("ParseDefinition = %v; want the *rule.Problems of an invalid definition", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		"zone: duplicate key",
		"levels.ladder[1].upgrade: duplicate key",
		"coupons.templates[6].stock: want a whole number from -9223372036854775808 to 9223372036854775807, got the number 1500.0",
		"events[1].attributes[0].required: want true or false, got a string",
		"levels.ladder[1].window: want a whole number, got a string",
		"points.programs[0].approval_above: error decoding string 'true': can't convert true to decimal: exponent is not numeric",
		"tags.orders.categroy: unknown field",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A decimal is a JSON number or a string of one, exponent included, and
// either is the same definition: the same Go value and, opened under one
// version on one store, not ErrDefinitionConflict. An integer is a number
// only (above).
func TestParseDefinitionDecimalAsNumberOrString(t *testing.T) {
	asStrings := editRetail(t)
	asNumbers := editRetail(t, `"upgrade": "1500",`, `"upgrade": 1.5e3,`, `"rate": "1.2"`, `"rate": 1.2`,
		`"approval_above": "500"`, `"approval_above": 500`, `"amount": "200"`, `"amount": "2e2"`)
	a, err := membership.ParseDefinition(asStrings)
	if err != nil {
		t.Fatal(err)
	}
	b, err := membership.ParseDefinition(asNumbers)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("decimals as numbers (-strings +numbers):\n%s", diff)
	}
	a.Version, b.Version = 4, 4
	st := memory.New()
	if _, err := membership.Open(st, a); err != nil {
		t.Fatal(err)
	}
	if _, err := membership.Open(st, b); err != nil {
		t.Errorf("the definition with decimals as numbers, under the same version: %v", err)
	}
}
