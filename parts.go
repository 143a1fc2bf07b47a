package membership

import (
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
)

// defEnv answers the lookups the domain packages make while validating a
// definition (declared event types, levels, templates, …). Each part file
// adds the methods its package's Env interface needs.
type defEnv struct{ d *Definition }

// EventType returns the declared event type named name.
func (e defEnv) EventType(name string) (event.Type, bool) { return e.d.eventType(name) }

// CheckReward checks a reward and that what it names exists.
func (e defEnv) CheckReward(r rule.Reward) error { return e.checkReward(r) }

// memberLevel returns the member's current ladder level ("" without a
// ladder); the level part sets levelOf.
func (t *txn) memberLevel(member string) (string, error) {
	if t.p.levelOf == nil {
		return "", nil
	}
	return t.p.levelOf(t, member)
}

// memberTags returns the member's tags; the tag part sets tagsOf.
func (t *txn) memberTags(member string) ([]string, error) {
	if t.p.tagsOf == nil {
		return nil, nil
	}
	return t.p.tagsOf(t, member)
}

// checkReward checks a reward's own fields and that the point program,
// coupon template, pack or achievement it names is defined.
func (e defEnv) checkReward(r rule.Reward) error {
	if err := r.Check(); err != nil {
		return err
	}
	var missing string
	switch r.Kind {
	case rule.RewardPoints:
		if !e.hasPointProgram(r.Program) {
			missing = "point program " + r.Program
		}
	case rule.RewardCoupon:
		if !e.hasTemplate(r.Template) {
			missing = "coupon template " + r.Template
		}
	case rule.RewardPack:
		if !e.hasPack(r.Pack) {
			missing = "coupon pack " + r.Pack
		}
	case rule.RewardAchievement:
		if !e.hasAchievement(r.Achievement) {
			missing = "achievement " + r.Achievement
		}
	case rule.RewardGrowth:
		if e.d.Levels == nil {
			missing = "level ladder (growth reward)"
		}
	}
	if missing != "" {
		return fmt.Errorf("unknown %s", missing)
	}
	return nil
}
