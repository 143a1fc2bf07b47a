package coupon_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// segmentDef is couponDef with manual tags vip, staff and blocked, and
// templates and a pack claimed by segment:
//
//   - "vip-staff" (stock 3): "vip or staff";
//   - "unblocked": "not blocked";
//   - "vip-gift": "vip", given on every "checkin" event (the system method);
//   - pack "crew" (one "flash"): "vip or staff".
func segmentDef() membership.Definition {
	def := couponDef()
	def.Events = append(def.Events, event.Type{Name: "checkin"})
	def.Tags = &tag.Definition{Manual: []tag.Manual{{Name: "vip"}, {Name: "staff"}, {Name: "blocked"}}}
	c := def.Coupons
	c.Templates = append(c.Templates,
		coupon.Template{Name: "vip-staff", Type: coupon.Cash, Amount: dec("20"), Stock: 3, Use: days(7),
			Claim: coupon.ClaimRule{Segment: "vip or staff"}},
		coupon.Template{Name: "unblocked", Type: coupon.Cash, Amount: dec("2"), Use: days(7),
			Claim: coupon.ClaimRule{Segment: "not blocked"}},
		coupon.Template{Name: "vip-gift", Type: coupon.Cash, Amount: dec("5"), Use: days(7),
			Claim: coupon.ClaimRule{Segment: "vip"}},
	)
	c.Packs = append(c.Packs, coupon.Pack{Name: "crew", Mode: coupon.AnyInvalid,
		Items: []coupon.PackItem{{Template: "flash", Count: 1}}, Claim: coupon.ClaimRule{Segment: "vip or staff"}})
	c.Gifts = append(c.Gifts, coupon.Gift{Event: "checkin", Template: "vip-gift"})
	return def
}

// openSegments opens segmentDef and tags its members: alice vip, bob
// staff, carol nothing, dave blocked.
func openSegments(t *testing.T) *membership.Program {
	t.Helper()
	st := memory.New()
	p, err := membership.Open(st, segmentDef())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, mt := range [][2]string{{"alice", "vip"}, {"bob", "staff"}, {"dave", "blocked"}} {
		addTag(t, p, mt[0], mt[1], "2026-05-01 09:00")
	}
	return p
}

func addTag(t *testing.T, p *membership.Program, member, name, when string) {
	t.Helper()
	if _, err := p.Tags().Add(context.Background(), tag.ManualRequest{RequestID: "tag-" + member + "-" + name,
		Member: member, Operator: "op", At: at(t, when), Tag: name}); err != nil {
		t.Fatal(err)
	}
}

// issuedOf returns how many coupons of template were ever issued.
func issuedOf(t *testing.T, p *membership.Program, template string) int64 {
	t.Helper()
	r, err := p.Coupons().Stats(context.Background(), coupon.StatsQuery{Template: template})
	if err != nil {
		t.Fatal(err)
	}
	return r.ByTemplate[template].Issued
}

// refusedNamingSegment fails the test unless err is the refusal of a
// member outside segment: ErrNotEligible, the message naming it.
func refusedNamingSegment(t *testing.T, err error, segment string) {
	t.Helper()
	if !errors.Is(err, coupon.ErrNotEligible) || !strings.Contains(err.Error(), `segment "`+segment+`"`) {
		t.Errorf("got %v, want ErrNotEligible naming segment %q", err, segment)
	}
}

// Self-claims of "vip-or-staff" (stock 3): alice (vip) and bob (staff)
// get one each, carol (neither) is refused with nothing written, and once
// given vip carol gets the third: the refusal took no stock. dave, given
// vip after that, finds it out of stock.
func TestCouponClaimSegment(t *testing.T) {
	p := openSegments(t)
	ctx := context.Background()
	couponClaim(t, p, "a1", "alice", "vip-staff", "2026-05-01 10:00")
	couponClaim(t, p, "b1", "bob", "vip-staff", "2026-05-01 10:00")

	n := couponFeedLen(t, p)
	res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "carol", Template: "vip-staff", At: at(t, "2026-05-01 10:00")})
	refusedNamingSegment(t, err, "vip or staff")
	if res.Outcome != nil || len(res.Coupons) != 0 {
		t.Errorf("refused claim returned %+v", res)
	}
	if got := couponFeedLen(t, p); got != n {
		t.Errorf("refused claim: feed %d → %d", n, got)
	}
	if cs, err := p.Coupons().List(ctx, "carol"); err != nil || len(cs) != 0 {
		t.Errorf("carol holds %v (%v) after a refusal, want none", cs, err)
	}
	if got := issuedOf(t, p, "vip-staff"); got != 2 {
		t.Errorf("issued after the refusal = %d, want 2", got)
	}

	// The tag is read at the claim: carol, given vip later, may claim,
	// under the refused request's ID, which recorded nothing.
	addTag(t, p, "carol", "vip", "2026-05-01 11:00")
	if c := couponClaim(t, p, "c1", "carol", "vip-staff", "2026-05-01 12:00"); c.Member != "carol" || c.Template != "vip-staff" {
		t.Errorf("carol's coupon %+v", c)
	}
	if got := issuedOf(t, p, "vip-staff"); got != 3 {
		t.Errorf("issued = %d, want 3", got)
	}
	addTag(t, p, "dave", "vip", "2026-05-01 12:00")
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "d1", Member: "dave", Template: "vip-staff", At: at(t, "2026-05-01 13:00")}); !errors.Is(err, coupon.ErrOutOfStock) {
		t.Errorf("fourth claim of a stock of 3: %v, want ErrOutOfStock", err)
	}
}

// "not blocked": dave (blocked) is refused, carol (no tag) and alice (vip)
// may claim; removing dave's tag lets him claim.
func TestCouponClaimSegmentNot(t *testing.T) {
	p := openSegments(t)
	ctx := context.Background()
	_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "d1", Member: "dave", Template: "unblocked", At: at(t, "2026-05-01 10:00")})
	refusedNamingSegment(t, err, "not blocked")
	if cs, _ := p.Coupons().List(ctx, "dave"); len(cs) != 0 {
		t.Errorf("dave holds %d coupons after a refusal", len(cs))
	}
	couponClaim(t, p, "c1", "carol", "unblocked", "2026-05-01 10:00")
	couponClaim(t, p, "a1", "alice", "unblocked", "2026-05-01 10:00")
	if _, err := p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "unblock", Member: "dave", Operator: "op", At: at(t, "2026-05-01 11:00"), Tag: "blocked"}); err != nil {
		t.Fatal(err)
	}
	couponClaim(t, p, "d2", "dave", "unblocked", "2026-05-01 12:00")
}

// The segment holds for every method the claim rule covers: an operator's
// bulk issue, a pack claim and a system gift.
func TestCouponSegmentEveryMethod(t *testing.T) {
	p := openSegments(t)
	ctx := context.Background()

	res, err := p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "bulk", Operator: "op", At: at(t, "2026-05-01 10:00"),
		Members: []string{"alice", "carol", "bob"}, Template: "vip-staff"})
	if err != nil {
		t.Fatal(err)
	}
	var issued []string
	for m, cs := range res.Issued {
		if len(cs) == 1 && cs[0].Method == coupon.Operator {
			issued = append(issued, m)
		}
	}
	slices.Sort(issued)
	if !slices.Equal(issued, []string{"alice", "bob"}) || len(res.Refused) != 1 {
		t.Errorf("bulk issue: issued to %v, refused %v", issued, res.Refused)
	}
	refusedNamingSegment(t, res.Refused["carol"], "vip or staff")

	n := couponFeedLen(t, p)
	if _, err := p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "p1", Member: "carol", Pack: "crew", At: at(t, "2026-05-01 10:00")}); err == nil {
		t.Error("carol got the crew pack")
	} else {
		refusedNamingSegment(t, err, "vip or staff")
	}
	if got := couponFeedLen(t, p); got != n {
		t.Errorf("refused pack: feed %d → %d", n, got)
	}
	pk, err := p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "p2", Member: "bob", Pack: "crew", At: at(t, "2026-05-01 10:00")})
	if err != nil || len(pk.Coupons) != 1 || pk.Coupons[0].Template != "flash" {
		t.Errorf("bob's crew pack: %+v, %v", pk.Coupons, err)
	}

	checkin := func(id, member string) (issued, refused int, r coupon.Refusal) {
		out, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "checkin", Time: at(t, "2026-05-01 10:00")})
		if err != nil {
			t.Fatalf("checkin %s: %v", member, err)
		}
		ch := out.ChangesOf(coupon.ChangeClaimRefused)
		if len(ch) == 1 {
			if err := ch[0].Decode(&r); err != nil {
				t.Fatal(err)
			}
		}
		return len(out.ChangesOf(coupon.ChangeIssued)), len(ch), r
	}
	if i, r, _ := checkin("e1", "alice"); i != 1 || r != 0 {
		t.Errorf("alice's checkin: %d issued, %d refused; want 1, 0", i, r)
	}
	i, r, why := checkin("e2", "bob")
	if i != 0 || r != 1 || why.Template != "vip-gift" || why.Method != coupon.System || why.Cause != "not_eligible" || !strings.Contains(why.Error, `segment "vip"`) {
		t.Errorf("bob's checkin: %d issued, %d refused (%+v); want the gift refused as not in segment \"vip\"", i, r, why)
	}
}

// A program definition reports a claim segment's problems under
// coupons.…claim.segment, tags looked up in the program's tag definition.
func TestCouponSegmentDefinitionProblems(t *testing.T) {
	def := segmentDef()
	c := def.Coupons
	c.Templates[len(c.Templates)-3].Claim.Segment = "vip or"
	c.Templates[len(c.Templates)-2].Claim.Segment = "unknwn"
	c.Packs[len(c.Packs)-1].Claim.Segment = "staff and not gone"
	err := def.Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate = %v", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`coupons.templates[8].claim.segment: tag: malformed expression: unexpected end`,
		`coupons.templates[9].claim.segment: unknown tag "unknwn"`,
		`coupons.packs[1].claim.segment: unknown tag "gone"`,
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no problem %q in:\n%v", w, err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(got), len(want), err)
	}
	if _, err := membership.Open(memory.New(), def); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("Open: %v, want ErrInvalidDefinition", err)
	}
}

// A program definition with claim segments round-trips through JSON
// (membership.ParseDefinition refuses unknown fields).
func TestCouponSegmentDefinitionJSON(t *testing.T) {
	def := segmentDef()
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	back, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if tpl, ok := back.Coupons.Template("vip-staff"); !ok || tpl.Claim.Segment != "vip or staff" {
		t.Errorf("vip-staff after the round trip: %+v", tpl)
	}
}
