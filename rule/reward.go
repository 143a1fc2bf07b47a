package rule

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// RewardKind names what a [Reward] grants.
type RewardKind string

// The reward kinds.
const (
	RewardPoints      RewardKind = "points"
	RewardGrowth      RewardKind = "growth"
	RewardCoupon      RewardKind = "coupon"
	RewardPack        RewardKind = "pack"
	RewardAchievement RewardKind = "achievement"
)

// Reward is what a level's upgrade gift or a task grants; the domain
// package of its kind fulfils it. Which fields count depends on Kind:
// Program and Amount for points, Amount for growth, Template and Count for
// coupons, Pack for a coupon pack, Achievement for an achievement. A
// program's definition refuses a growth amount with more decimals than
// the growth scale, and a points amount that the program's rounding takes
// to 0 (it would grant nothing); a points amount is granted rounded.
type Reward struct {
	Kind        RewardKind      `json:"kind"`
	Program     string          `json:"program,omitempty"`
	Amount      decimal.Decimal `json:"amount,omitzero"`
	Template    string          `json:"template,omitempty"`
	Pack        string          `json:"pack,omitempty"`
	Achievement string          `json:"achievement,omitempty"`
	// Count is the number of coupons; 0 means 1. A pack reward gives
	// one pack: package coupon refuses a Count above 1 on it.
	Count int `json:"count,omitempty"`
}

// Coupons returns the number of coupons a coupon reward grants.
func (r Reward) Coupons() int { return max(r.Count, 1) }

// Check returns nil, or a *[Problems] for an unknown kind or a missing
// field of the kind: the program and an amount > 0 for points, an amount
// > 0 for growth, the template (and a count not below 0) for a coupon, the
// pack, the achievement.
func (r Reward) Check() error {
	var ps Problems
	required := func(path, v string) {
		if v == "" {
			ps.Addf(path, "required for %s", r.Kind)
		}
	}
	positive := func() {
		if !r.Amount.IsPositive() {
			ps.Addf("amount", "must be > 0 for %s", r.Kind)
		}
	}
	switch r.Kind {
	case RewardPoints:
		required("program", r.Program)
		positive()
	case RewardGrowth:
		positive()
	case RewardCoupon:
		required("template", r.Template)
		if r.Count < 0 {
			ps.Add("count", fmt.Errorf("must not be negative"))
		}
	case RewardPack:
		required("pack", r.Pack)
	case RewardAchievement:
		required("achievement", r.Achievement)
	default:
		ps.Addf("kind", "unknown reward kind %q (want %s, %s, %s, %s or %s)", r.Kind, RewardPoints, RewardGrowth, RewardCoupon, RewardPack, RewardAchievement)
	}
	return ps.Err()
}

// Target names what the reward grants, for messages: "points:mall",
// "growth", "coupon:welcome", "pack:spring", "achievement:first-order".
func (r Reward) Target() string {
	switch r.Kind {
	case RewardPoints:
		return "points:" + r.Program
	case RewardCoupon:
		return "coupon:" + r.Template
	case RewardPack:
		return "pack:" + r.Pack
	case RewardAchievement:
		return "achievement:" + r.Achievement
	}
	return string(r.Kind)
}

// SourceKind names what grants a [Reward].
type SourceKind string

// The reward sources.
const (
	// FromTask is a task's reward, granted on completing the task.
	FromTask SourceKind = "task"
	// FromLevel is a level's upgrade gift, granted on reaching the level.
	FromLevel SourceKind = "level"
)

// Source is what grants a reward: a task or a level, by its name. The part
// that grants the reward's kind records it (an achievement's Grant names
// it) and may act on it (a coupon reward is issued by the claim method of
// its source).
type Source struct {
	Kind SourceKind
	// Name is the task's or the level's name.
	Name string
}
