package coupon_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
)

func TestClaimRuleAllows(t *testing.T) {
	r := coupon.ClaimRule{
		Methods: []coupon.Method{coupon.Self, coupon.Task},
		Levels:  []string{"gold", "platinum"},
		Tags:    []string{"mother", "vip"},
		Period:  rule.Window{From: at(t, "2026-05-01 00:00"), To: at(t, "2026-06-01 00:00")},
	}
	ok := coupon.Facts{Level: "gold", Tags: []string{"vip", "x", "mother"}}
	tests := []struct {
		name string
		m    coupon.Method
		when string
		f    coupon.Facts
		err  error
	}{
		{"eligible", coupon.Self, "2026-05-10 10:00", ok, nil},
		{"first instant of the period", coupon.Task, "2026-05-01 00:00", ok, nil},
		{"before the period", coupon.Self, "2026-04-30 23:59", ok, coupon.ErrOutsidePeriod},
		{"period end is excluded", coupon.Self, "2026-06-01 00:00", ok, coupon.ErrOutsidePeriod},
		{"method not allowed", coupon.Operator, "2026-05-10 10:00", ok, coupon.ErrNotEligible},
		{"level not listed", coupon.Self, "2026-05-10 10:00", coupon.Facts{Level: "silver", Tags: ok.Tags}, coupon.ErrNotEligible},
		{"no level", coupon.Self, "2026-05-10 10:00", coupon.Facts{Tags: ok.Tags}, coupon.ErrNotEligible},
		{"a tag missing", coupon.Self, "2026-05-10 10:00", coupon.Facts{Level: "gold", Tags: []string{"vip"}}, coupon.ErrNotEligible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Allows(tt.m, at(t, tt.when), tt.f); !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Allows = %v, want %v", err, tt.err)
			}
		})
	}
	if !r.NeedsFacts() || (coupon.ClaimRule{}).NeedsFacts() {
		t.Error("NeedsFacts wrong")
	}
	if err := (coupon.ClaimRule{}).Allows(coupon.System, at(t, "2000-01-01 00:00"), coupon.Facts{}); err != nil {
		t.Errorf("empty rule refuses: %v", err)
	}
}

func TestClaimRuleRoom(t *testing.T) {
	tests := []struct {
		per, day, total, today int
		room                   int
		limit                  string
	}{
		{0, 0, 10, 10, -1, ""},
		{3, 0, 1, 1, 2, "per_member"},
		{3, 0, 3, 0, 0, "per_member"},
		{0, 2, 9, 1, 1, "per_day"},
		{5, 2, 4, 0, 1, "per_member"},
		{5, 2, 1, 2, 0, "per_day"},
	}
	for _, tt := range tests {
		room, limit := coupon.ClaimRule{PerMember: tt.per, PerDay: tt.day}.Room(tt.total, tt.today)
		if room != tt.room || limit != tt.limit {
			t.Errorf("Room(%+v) = %d %q, want %d %q", tt, room, limit, tt.room, tt.limit)
		}
	}
}

func TestDraw(t *testing.T) {
	seen := map[string]bool{}
	for range 3000 {
		d, err := coupon.Draw(rand.Reader, dec("0.01"), dec("0.05"))
		if err != nil {
			t.Fatal(err)
		}
		if d.LessThan(dec("0.01")) || d.GreaterThan(dec("0.05")) || !d.Equal(d.Truncate(2)) {
			t.Fatalf("drew %s outside [0.01, 0.05] or finer than a cent", d)
		}
		seen[d.String()] = true
	}
	if len(seen) != 5 {
		t.Errorf("drew %d distinct amounts, want all 5: %v", len(seen), seen)
	}
	// A fixed source gives a fixed amount: 0 → min; min = max → min.
	if d, _ := coupon.Draw(bytes.NewReader(make([]byte, 8)), dec("3.5"), dec("9")); !d.Equal(dec("3.5")) {
		t.Errorf("Draw(zeros) = %s, want 3.5", d)
	}
	if d, _ := coupon.Draw(rand.Reader, dec("4.2"), dec("4.2")); !d.Equal(dec("4.2")) {
		t.Errorf("Draw(4.2, 4.2) = %s", d)
	}
	if _, err := coupon.Draw(bytes.NewReader(nil), dec("1"), dec("2")); err == nil {
		t.Error("Draw from an empty source: no error")
	}
	if _, err := coupon.Draw(rand.Reader, dec("2"), dec("1")); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("Draw(2, 1): %v, want an error wrapping ErrInvalidArgument", err)
	}
}

// A random coupon's bounds are counted in cents in 64 bits: up to
// MaxDraw, 92,233,720,368,547,758.07. A definition with a max beyond is
// refused, and so is a draw. Both were taken: the draw misread the bound
// (2e17 drew from [1, 15,532,559,262,904,483.84], wrapped around 2^64
// cents).
func TestDrawBeyondMaxDraw(t *testing.T) {
	zeros := func() *bytes.Reader { return bytes.NewReader(make([]byte, 8)) }
	if d, err := coupon.Draw(zeros(), dec("1"), dec(coupon.MaxDraw)); err != nil || !d.Equal(dec("1")) {
		t.Errorf("Draw(zeros, 1, MaxDraw) = %s, %v; want 1", d, err)
	}
	for _, hi := range []string{"92233720368547758.08", "200000000000000000"} {
		if d, err := coupon.Draw(zeros(), dec("1"), dec(hi)); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("Draw(1, %s) = %s, %v; want an error wrapping ErrInvalidArgument", hi, d, err)
		}
		if d, err := coupon.Draw(zeros(), dec(hi), dec(hi)); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("Draw(%s, %s) = %s, %v; want an error wrapping ErrInvalidArgument", hi, hi, d, err)
		}
	}
	def := func(max string) coupon.Definition {
		return coupon.Definition{Templates: []coupon.Template{{Name: "r", Type: coupon.Random, Min: dec("1"), Max: dec(max), Use: days(1)}}}
	}
	if err := def(coupon.MaxDraw).Check(nil); err != nil {
		t.Errorf("max MaxDraw: %v", err)
	}
	err := def("92233720368547758.08").Check(nil)
	var ps *rule.Problems
	if !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Path != "templates[0].max" {
		t.Errorf("max beyond MaxDraw: %v, want one problem at templates[0].max", err)
	}
}

// The article's pack example (券包): a pack of A, B and C, while A and then
// B run out.
func TestPlanPackArticleExample(t *testing.T) {
	items := []coupon.PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 1}, {Template: "C", Count: 1}}
	type step struct {
		left  map[string]int64
		give  []coupon.PackItem
		short []coupon.PackItem
		err   error
	}
	all := map[string]int64{"A": 5, "B": 5, "C": 5}
	noA := map[string]int64{"A": 0, "B": 5, "C": 5}
	noAB := map[string]int64{"A": 0, "B": 0, "C": 5}
	none := map[string]int64{"A": 0, "B": 0, "C": 0}
	one := func(n ...string) []coupon.PackItem {
		var out []coupon.PackItem
		for _, s := range n {
			out = append(out, coupon.PackItem{Template: s, Count: 1})
		}
		return out
	}
	tests := []struct {
		mode  coupon.PackMode
		steps []step
	}{
		{coupon.AnyInvalid, []step{
			{left: all, give: items},
			{left: noA, err: coupon.ErrOutOfStock},
			{left: noAB, err: coupon.ErrOutOfStock},
		}},
		{coupon.AllInvalid, []step{
			{left: all, give: items},
			{left: noA, give: one("B", "C"), short: one("A")},
			{left: noAB, give: one("C"), short: one("A", "B")},
			{left: none, err: coupon.ErrOutOfStock},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			p := &coupon.Pack{Name: "spring", Items: items, Mode: tt.mode}
			for i, st := range tt.steps {
				give, short, err := coupon.PlanPack(p, func(name string) int64 { return st.left[name] })
				if !errors.Is(err, st.err) || (st.err == nil) != (err == nil) {
					t.Fatalf("step %d: err %v, want %v", i, err, st.err)
				}
				if diff := cmp.Diff(st.give, give); diff != "" {
					t.Errorf("step %d give (-want +got):\n%s", i, diff)
				}
				if diff := cmp.Diff(st.short, short); diff != "" {
					t.Errorf("step %d short (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestPlanPackPartialCounts(t *testing.T) {
	p := &coupon.Pack{Name: "p", Items: []coupon.PackItem{{Template: "A", Count: 3}, {Template: "B", Count: 2}}}
	left := func(name string) int64 { return map[string]int64{"A": 2, "B": -1}[name] }
	p.Mode = coupon.AnyInvalid
	if _, _, err := coupon.PlanPack(p, left); !errors.Is(err, coupon.ErrOutOfStock) {
		t.Errorf("any_invalid with 2 of 3 left: %v", err)
	}
	p.Mode = coupon.AllInvalid
	give, short, err := coupon.PlanPack(p, left)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]coupon.PackItem{{Template: "A", Count: 2}, {Template: "B", Count: 2}}, give); diff != "" {
		t.Errorf("give (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]coupon.PackItem{{Template: "A", Count: 1}}, short); diff != "" {
		t.Errorf("short (-want +got):\n%s", diff)
	}
}

// PlanPack refuses what no checked definition holds with an error
// wrapping event.ErrInvalidArgument, and never ErrOutOfStock: a nil pack
// or left function (it panicked), an unknown mode (it was taken as
// all_invalid), an item count outside 1 to MaxCount (0 said the pack was
// out of stock, a negative one was skipped), no items.
func TestPlanPackMalformed(t *testing.T) {
	left := func(string) int64 { return 5 }
	pack := func(mode coupon.PackMode, counts ...int) *coupon.Pack {
		p := &coupon.Pack{Name: "p", Mode: mode}
		for i, n := range counts {
			p.Items = append(p.Items, coupon.PackItem{Template: string(rune('A' + i)), Count: n})
		}
		return p
	}
	for _, tc := range []struct {
		name, field string
		p           *coupon.Pack
		left        func(string) int64
	}{
		{"nil pack", "pack", nil, left},
		{"nil left", "left", pack(coupon.AnyInvalid, 1), nil},
		{"unknown mode", "mode", pack("some", 1), left},
		{"no items", "items", pack(coupon.AllInvalid), left},
		{"count 0", "items[0].count", pack(coupon.AnyInvalid, 0), left},
		{"negative count", "items[0].count", pack(coupon.AllInvalid, -3, 1), left},
		{"count above MaxCount", "items[1].count", pack(coupon.AllInvalid, 1, coupon.MaxCount+1), left},
	} {
		give, short, err := coupon.PlanPack(tc.p, tc.left)
		if !errors.Is(err, event.ErrInvalidArgument) || errors.Is(err, coupon.ErrOutOfStock) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v; want event.ErrInvalidArgument naming %q", tc.name, err, tc.field)
		}
		if give != nil || short != nil {
			t.Errorf("%s: gives %v, short %v; want nothing", tc.name, give, short)
		}
	}
}

// A segment is a tag expression the member's tags must match; a member
// outside it is refused as a missing tag is, with ErrNotEligible and a
// message naming the segment.
func TestClaimRuleAllowsSegment(t *testing.T) {
	when := at(t, "2026-05-10 10:00")
	tests := []struct {
		segment string
		tags    []string
		ok      bool
	}{
		{"vip or staff", []string{"vip"}, true},
		{"vip or staff", []string{"staff"}, true},
		{"vip or staff", []string{"x", "staff", "vip"}, true},
		{"vip or staff", []string{"x"}, false},
		{"vip or staff", nil, false},
		{"not blocked", nil, true},
		{"not blocked", []string{"vip"}, true},
		{"not blocked", []string{"vip", "blocked"}, false},
		{"vip and not blocked", []string{"vip"}, true},
		{"vip and not blocked", []string{"blocked", "vip"}, false},
		{"M and (vip or not churned)", []string{"M"}, true},
		{"M and (vip or not churned)", []string{"M", "churned"}, false},
		{"M and (vip or not churned)", []string{"M", "churned", "vip"}, true},
	}
	for _, tt := range tests {
		r := coupon.ClaimRule{Segment: tt.segment}
		err := r.Allows(coupon.Self, when, coupon.Facts{Tags: tt.tags})
		if tt.ok {
			if err != nil {
				t.Errorf("segment %q, tags %v: %v, want eligible", tt.segment, tt.tags, err)
			}
			continue
		}
		if !errors.Is(err, coupon.ErrNotEligible) || !strings.Contains(err.Error(), `"`+tt.segment+`"`) {
			t.Errorf("segment %q, tags %v: %v, want ErrNotEligible naming the segment", tt.segment, tt.tags, err)
		}
	}
	// Tags and Segment both hold: a member must have every tag and match.
	r := coupon.ClaimRule{Tags: []string{"M"}, Segment: "vip or staff"}
	if err := r.Allows(coupon.Self, when, coupon.Facts{Tags: []string{"vip"}}); !errors.Is(err, coupon.ErrNotEligible) {
		t.Errorf("segment matched, tag M missing: %v", err)
	}
	if err := r.Allows(coupon.Self, when, coupon.Facts{Tags: []string{"M", "staff"}}); err != nil {
		t.Errorf("both hold: %v", err)
	}
	// A rule no checked definition holds: a segment that does not parse
	// admits no one.
	if err := (coupon.ClaimRule{Segment: "vip or"}).Allows(coupon.Self, when, coupon.Facts{Tags: []string{"vip"}}); !errors.Is(err, coupon.ErrNotEligible) || !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("malformed segment: %v, want ErrNotEligible and tag.ErrSyntax", err)
	}
	if !(coupon.ClaimRule{Segment: "not blocked"}).NeedsFacts() {
		t.Error("NeedsFacts is false for a rule with a segment")
	}
}
