package coupon

import (
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// The part's book checks a claim rule with its segment parsed once, when
// the part is made (segments.of), and answers as ClaimRule.Allows, which
// parses it on every call, does: for templates and packs, segments a
// member is in or not, and one that does not parse. Allowing a claim
// allocates nothing, so a part that parsed the segment again would fail
// here.
func TestPartSegmentsAsAllows(t *testing.T) {
	rules := []ClaimRule{
		{},
		{Segment: "vip"},
		{Segment: "(staff or vip) and not churned"},
		{Segment: "not churned", Levels: []string{"gold"}},
		{Segment: "vip and ("}, // does not parse
	}
	def := Definition{}
	for i, r := range rules {
		def.Templates = append(def.Templates, Template{Name: fmt.Sprint("t", i), Type: Cash, Amount: dec("5"), Use: days(7), Claim: r})
		def.Packs = append(def.Packs, Pack{Name: fmt.Sprint("p", i), Mode: AnyInvalid, Items: []PackItem{{Template: "t0", Count: 1}}, Claim: r})
	}
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	h := New(engine.New(st, shanghai(t), engine.Options{}), &def)
	when := at(t, "2026-05-01 10:00")
	facts := []Facts{
		{},
		{Level: "gold"},
		{Level: "silver", Tags: []string{"vip"}},
		{Level: "gold", Tags: []string{"vip", "churned"}},
		{Level: "gold", Tags: []string{"staff"}},
	}
	for i, r := range rules {
		for _, pack := range []bool{false, true} {
			name := fmt.Sprint("t", i)
			if pack {
				name = fmt.Sprint("p", i)
			}
			for _, f := range facts {
				got := r.allows(h.p.segs.of(name, pack, r), Self, when, f)
				want := r.Allows(Self, when, f)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %+v, facts %+v: part says %v, Allows %v", name, r, f, got, want)
				}
			}
		}
	}
	// Hand-worked: vip and not churned is in segment 2, also churned is
	// not; a segment that does not parse admits no one, naming the syntax.
	r2, r4 := rules[2], rules[4]
	if err := r2.allows(h.p.segs.of("t2", false, r2), Self, when, Facts{Tags: []string{"vip"}}); err != nil {
		t.Errorf("vip in (staff or vip) and not churned: %v", err)
	}
	if err := r2.allows(h.p.segs.of("p2", true, r2), Self, when, Facts{Tags: []string{"vip", "churned"}}); !errors.Is(err, ErrNotEligible) {
		t.Errorf("vip, churned in (staff or vip) and not churned: %v, want ErrNotEligible", err)
	}
	if err := r4.allows(h.p.segs.of("t4", false, r4), Self, when, Facts{Tags: []string{"vip"}}); !errors.Is(err, ErrNotEligible) || !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("malformed segment: %v, want ErrNotEligible and tag.ErrSyntax", err)
	}
	tags := Facts{Tags: []string{"staff"}}
	for _, pack := range []bool{false, true} {
		name := map[bool]string{false: "t2", true: "p2"}[pack]
		if n := testing.AllocsPerRun(100, func() { _ = r2.allows(h.p.segs.of(name, pack, r2), Self, when, tags) }); n != 0 {
			t.Errorf("%s: allowing a claim allocates %v times, want 0 (the segment parsed again?)", name, n)
		}
	}
}

// A book without the part's segments, or asked for a rule whose segment
// is not the one parsed under its name, parses the rule's own.
func TestSegmentsOfParsesWhatItHasNot(t *testing.T) {
	vip := ClaimRule{Segment: "vip"}
	parsed := parseSegments(&Definition{Templates: []Template{{Name: "t", Claim: ClaimRule{Segment: "staff"}}}})
	for _, s := range []segments{{}, parsed} {
		seg := s.of("t", false, vip)
		if seg.err != nil || !seg.expr.Match([]string{"vip"}) || seg.expr.Match([]string{"staff"}) {
			t.Errorf("%+v: segment of %q matched wrongly (err %v)", s, vip.Segment, seg.err)
		}
	}
}
