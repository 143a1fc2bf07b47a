package task_test

// The other domains' calls these tests make, in one place: task rewards
// are points, growth, achievements and coupons; targets read the level an
// operator sets.

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/shopspring/decimal"
)

// The change kinds of the reward domains.
const (
	kindAchievementGranted = benefit.ChangeAchievement
	kindPackIssued         = coupon.ChangePackIssued
)

// setLevel sets a member's level by hand, as an operator.
func setLevel(t *testing.T, p *membership.Program, requestID, member, lvl string, at time.Time) {
	t.Helper()
	if _, err := p.Levels().Set(context.Background(), level.SetRequest{RequestID: requestID, Member: member, Level: lvl, Operator: "bob", Note: "vip", At: at}); err != nil {
		t.Fatal(err)
	}
}

// levelOf returns a member's level.
func levelOf(t *testing.T, p *membership.Program, member string) string {
	t.Helper()
	s, err := p.Levels().Status(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return s.Level
}

// pointsOf returns a member's balance of the mall points.
func pointsOf(t *testing.T, p *membership.Program, member string) decimal.Decimal {
	t.Helper()
	bal, err := p.Balance(context.Background(), ledger.MemberAccount(member, ledger.Points("mall"), ""))
	if err != nil {
		t.Fatal(err)
	}
	return bal
}

// achievementsOf returns a member's achievements.
func achievementsOf(t *testing.T, p *membership.Program, member string) []benefit.Grant {
	t.Helper()
	gs, err := p.Benefits().Achievements(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// couponsOf returns a member's live coupons.
func couponsOf(t *testing.T, p *membership.Program, member string) []coupon.Coupon {
	t.Helper()
	cs, err := p.Coupons().Live(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
