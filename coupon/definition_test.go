package coupon_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
)

// env knows the names set to true: event types, levels and tags alike.
type env map[string]bool

func (e env) EventType(name string) (event.Type, bool) { return event.Type{Name: name}, e[name] }
func (e env) LevelExists(name string) bool             { return e[name] }
func (e env) TagExists(name string) bool               { return e[name] }

func validDef(t testing.TB) coupon.Definition {
	return coupon.Definition{
		Templates: []coupon.Template{
			{Name: "A", Type: coupon.Cash, Amount: dec("10"), MinOrder: dec("100"), Stock: 100, Use: days(7),
				Redemption: []coupon.Redemption{coupon.ByCode}, Stores: []string{"s1"}, CostCentre: "marketing",
				Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Self}, Levels: []string{"gold"}, PerMember: 2, PerDay: 1,
					Period: rule.Window{From: at(t, "2026-01-01 00:00")}}},
			{Name: "B", Type: coupon.Discount, Rate: dec("0.85"), Cap: dec("50"), Group: "g", Use: days(30),
				Products: coupon.Products{Exclude: []string{"tv"}}},
			{Name: "C", Type: coupon.Exchange, Item: "latte", Use: coupon.UseRule{Validity: rule.Validity{
				Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 31}}}},
			{Name: "D", Type: coupon.Random, Min: dec("1"), Max: dec("9.99"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}},
		},
		Packs: []coupon.Pack{{Name: "P", Items: []coupon.PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 2}}, Stock: 10, Mode: coupon.AnyInvalid}},
		Gifts: []coupon.Gift{{Event: "register", Template: "B"}, {Event: "register", Pack: "P"}},
	}
}

func TestDefinitionCheckValid(t *testing.T) {
	if err := validDef(t).Check(env{"register": true, "gold": true}); err != nil {
		t.Fatal(err)
	}
}

func TestDefinitionJSONRoundTrip(t *testing.T) {
	d := validDef(t)
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back coupon.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDefinitionCheckProblems(t *testing.T) {
	d := validDef(t)
	d.Templates[0].Stock = -1
	d.Templates[0].Claim.PerMember = -2
	d.Templates[0].Claim.Methods = []coupon.Method{"mail"}
	d.Templates[1].Rate = dec("1.2")
	d.Templates[1].Products.Include = []string{"tv"}
	d.Templates[2].Item = ""
	d.Templates[3].Min = dec("12")
	d.Templates = append(d.Templates,
		coupon.Template{Name: "A", Type: "gift", Use: days(0)},
		coupon.Template{Name: "E", Type: coupon.Cash, Amount: dec("1.005"), Use: days(1), Redemption: []coupon.Redemption{"nfc"}},
	)
	d.Packs = append(d.Packs,
		coupon.Pack{Name: "Q", Items: []coupon.PackItem{{Template: "Z", Count: 1}, {Template: "A", Count: 0}}, Stock: -3, Mode: "some"},
		coupon.Pack{Name: "R"},
	)
	d.Gifts = append(d.Gifts, coupon.Gift{Event: "login", Template: "Y"}, coupon.Gift{Event: "register"})
	d.Packs[0].Claim.Tags = []string{"vip"}
	err := d.Check(env{"register": true})
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check = %v, want a definition error", err)
	}
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("not a *rule.Problems: %T", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	slices.Sort(got)
	want := []string{
		"gifts[2].event",
		"gifts[2].template",
		"gifts[3]",
		"packs[0].claim.tags[0]",
		"packs[1].items[0].template",
		"packs[1].items[1].count",
		"packs[1].mode",
		"packs[1].stock",
		"packs[2].items",
		"packs[2].mode",
		"templates[0].claim.levels[0]",
		"templates[0].claim.methods[0]",
		"templates[0].claim.per_member",
		"templates[0].stock",
		"templates[1].products.exclude",
		"templates[1].rate",
		"templates[2].item",
		"templates[3].max",
		"templates[4].name",
		"templates[4].type",
		"templates[4].use.validity.n",
		"templates[5].amount",
		"templates[5].redemption[0]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
}

// A claim rule's segment keeps its text through JSON, under "segment".
func TestDefinitionJSONRoundTripSegment(t *testing.T) {
	d := validDef(t)
	d.Templates[1].Claim.Segment = "vip or staff"
	d.Packs[0].Claim.Segment = "not blocked"
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"claim":{"segment":"vip or staff"}`, `"claim":{"segment":"not blocked"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JSON lacks %s:\n%s", want, raw)
		}
	}
	var back coupon.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := d.Check(env{"register": true, "gold": true, "vip": true, "staff": true, "blocked": true}); err != nil {
		t.Errorf("Check with the segments' tags declared: %v", err)
	}
}

// A segment that does not parse, and each unknown tag of one that does,
// is a problem at claim.segment, reported with the others at once.
func TestDefinitionCheckSegment(t *testing.T) {
	d := validDef(t)
	d.Templates[0].Claim.Segment = "vip or"            // syntax
	d.Templates[1].Claim.Segment = "unknwn"            // unknown tag
	d.Templates[2].Claim.Segment = "vip and not ghost" // vip declared, ghost not
	d.Templates[3].Claim.Segment = "(vip"              // syntax
	d.Packs[0].Claim.Segment = "nobody or vip"         // unknown tag
	d.Templates[1].Stock = -1                          // another problem, reported too
	err := d.Check(env{"register": true, "gold": true, "vip": true})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check = %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	slices.Sort(got)
	want := []string{
		`packs[0].claim.segment: unknown tag "nobody"`,
		`templates[0].claim.segment: tag: malformed expression: unexpected end`,
		`templates[1].claim.segment: unknown tag "unknwn"`,
		`templates[1].stock: must not be negative`,
		`templates[2].claim.segment: unknown tag "ghost"`,
		`templates[3].claim.segment: tag: malformed expression: missing )`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("a malformed segment's problem does not wrap tag.ErrSyntax: %v", err)
	}
	// Without an env the syntax is still checked; tags are not looked up.
	err = d.Check(nil)
	if !errors.As(err, &ps) {
		t.Fatalf("Check(nil) = %v", err)
	}
	got = got[:0]
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"templates[0].claim.segment", "templates[1].stock", "templates[3].claim.segment"}, got); diff != "" {
		t.Errorf("Check(nil) problem paths (-want +got):\n%s", diff)
	}
}

// A template gift repeated in every field issues its coupons twice on
// every event, which its count says in one gift: refused at the repeat,
// naming the first. Gifts that differ in any field, and a repeated pack
// gift (its count gives one pack), are accepted.
func TestDefinitionCheckRepeatedGift(t *testing.T) {
	e := env{"register": true, "login": true, "gold": true}
	b := coupon.Gift{Event: "register", Template: "B"} // validDef's gifts[0]
	for _, tc := range []struct {
		name  string
		extra []coupon.Gift // appended to validDef's two gifts
		want  string        // "": accepted
	}{
		{"repeat", []coupon.Gift{b},
			"1 problem(s):\n\tgifts[2]: the same gift as gifts[0] (use count)"},
		{"two repeats", []coupon.Gift{b, {Event: "login", Template: "B"}, b},
			"2 problem(s):\n\tgifts[2]: the same gift as gifts[0] (use count)\n\tgifts[4]: the same gift as gifts[0] (use count)"},
		{"repeat with a count", []coupon.Gift{{Event: "register", Template: "B", Count: 2}, {Event: "register", Template: "B", Count: 2}},
			"1 problem(s):\n\tgifts[3]: the same gift as gifts[2] (use count)"},
		{"another count", []coupon.Gift{{Event: "register", Template: "B", Count: 2}}, ""},
		{"another event", []coupon.Gift{{Event: "login", Template: "B"}}, ""},
		{"another template", []coupon.Gift{{Event: "register", Template: "C"}}, ""},
		{"a pack twice", []coupon.Gift{{Event: "register", Pack: "P"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := validDef(t)
			d.Gifts = append(d.Gifts, tc.extra...)
			err := d.Check(e)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, rule.ErrInvalidDefinition) {
				t.Fatalf("Check = %v, want a definition error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Check =\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}
