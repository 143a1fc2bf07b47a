package tag_test

// The other domains' calls these tests make, in one place: a tag rule
// reads the level an operator sets, a segment is a coupon's audience.

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/level"
	"github.com/shopspring/decimal"
)

// setLevel sets a member's level by hand, as an operator.
func setLevel(t *testing.T, p *membership.Program, requestID, member, lvl string, at time.Time) {
	t.Helper()
	if _, err := p.Levels().Set(context.Background(), level.SetRequest{RequestID: requestID, Member: member, Level: lvl, Operator: "bob", Note: "vip", At: at}); err != nil {
		t.Fatal(err)
	}
}

// levelOf returns a member's level, growth and term end.
func levelOf(t *testing.T, p *membership.Program, member string) (string, decimal.Decimal, time.Time) {
	t.Helper()
	s, err := p.Levels().Status(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return s.Level, s.Growth, s.TermEnd
}

// issueToMembers issues one coupon of template to each member and returns
// how many were issued and refused.
func issueToMembers(t *testing.T, p *membership.Program, requestID string, members []string, template string, at time.Time) (issued, refused int) {
	t.Helper()
	res, err := p.Coupons().Issue(context.Background(), coupon.IssueRequest{RequestID: requestID, Operator: "ops", Members: members, Template: template, At: at})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Issued), len(res.Refused)
}

// liveCoupons returns the templates of a member's live coupons.
func liveCoupons(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	cs, err := p.Coupons().Live(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Template)
	}
	return out
}

// claim self-claims a coupon of template; it returns the claim's error.
func claim(p *membership.Program, requestID, member, template string, at time.Time) error {
	_, err := p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: requestID, Member: member, Template: template, At: at})
	return err
}

// errNotEligible is the coupon domain's refusal of a claim.
var errNotEligible = coupon.ErrNotEligible
