package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ChangeAchievementGranted is published when a member is granted an
// achievement (data: benefit.Grant).
const ChangeAchievementGranted = "achievement.granted"

const bAchievements = "benefit.achievements" // member \0 achievement → Grant

type benefitPart struct {
	p   *Program
	def benefit.Definition
}

// benefitPart returns the benefit part, or nil when the definition has none.
func (p *Program) benefitPart() *benefitPart {
	if p.def.Benefits == nil {
		return nil
	}
	return &benefitPart{p: p, def: *p.def.Benefits}
}

func (bp *benefitPart) Process(*engine.Unit, event.Event) error { return nil }
func (bp *benefitPart) DueKinds() []string                      { return nil }
func (bp *benefitPart) Due(*engine.Unit, engine.Item) error     { return nil }

func (bp *benefitPart) RewardKinds() []rule.RewardKind {
	return []rule.RewardKind{rule.RewardAchievement}
}

// reward grants an achievement as a task reward (or a level gift); one the
// member already holds is kept as it is and nothing is published.
func (bp *benefitPart) Reward(t *engine.Unit, member string, r rule.Reward, why rule.Reason) error {
	if _, ok := bp.def.Achievement(r.Achievement); !ok {
		return fmt.Errorf("%w %q", benefit.ErrUnknownAchievement, r.Achievement)
	}
	_, err := bp.grant(t, member, benefit.Grant{Achievement: r.Achievement, Source: "task", By: why.Rule, Note: why.Note}, &why)
	return err
}

// grant records an achievement once per member; it reports false when the
// member already had it.
func (bp *benefitPart) grant(t *engine.Unit, member string, g benefit.Grant, why *rule.Reason) (bool, error) {
	key := []byte(member + "\x00" + g.Achievement)
	if _, err := t.Tx().Get(bAchievements, key); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	g.At = t.At().UTC()
	g.Event = t.Ref().Event
	raw, err := json.Marshal(g)
	if err != nil {
		return false, err
	}
	if err := t.Tx().Put(bAchievements, key, raw); err != nil {
		return false, err
	}
	return true, t.Emit(ChangeAchievementGranted, member, g, why)
}

func loadGrants(tx store.Tx, member string) ([]benefit.Grant, error) {
	var out []benefit.Grant
	p := []byte(member + "\x00")
	err := tx.Scan(bAchievements, p, store.PrefixEnd(p), false, func(_, v []byte) error {
		var g benefit.Grant
		if err := json.Unmarshal(v, &g); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

func (p *Program) benefits() (*benefitPart, error) {
	if p.parts.benefit != nil {
		return p.parts.benefit, nil
	}
	return nil, fmt.Errorf("%w: the program defines no benefits", ErrInvalidArgument)
}

// GrantAchievement grants an achievement to a member on behalf of operator
// at time at. A retry with the same requestID returns the first outcome.
// It returns errors wrapping benefit.ErrUnknownAchievement,
// benefit.ErrAlreadyGranted (nothing changes) or ErrInvalidArgument.
func (p *Program) GrantAchievement(ctx context.Context, requestID, member, achievement, operator, note string, at time.Time) (*change.Outcome, error) {
	fail := func(err error) (*change.Outcome, error) {
		return nil, fmt.Errorf("membership: grant achievement %q to %q: %w", achievement, member, err)
	}
	bp, err := p.benefits()
	if err != nil {
		return fail(err)
	}
	if err := checkMember(member); err != nil {
		return fail(err)
	}
	if operator == "" || at.IsZero() {
		return fail(fmt.Errorf("%w: an operator and a time are required", ErrInvalidArgument))
	}
	if _, ok := bp.def.Achievement(achievement); !ok {
		return fail(fmt.Errorf("%w %q", benefit.ErrUnknownAchievement, achievement))
	}
	req := map[string]any{"op": "grant_achievement", "member": member, "achievement": achievement, "operator": operator, "note": note, "at": at.UTC()}
	out, err := p.apply(ctx, requestID, req, at, ledger.Ref{Note: "achievement " + achievement}, member, func(t *engine.Unit) error {
		ok, err := bp.grant(t, member, benefit.Grant{Achievement: achievement, Source: "operator", By: operator, Note: note},
			&rule.Reason{Rule: "benefits.achievements", Note: note})
		if err == nil && !ok {
			err = benefit.ErrAlreadyGranted
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// Achievements returns a member's achievements in name order, each with
// when, by whom and why it was granted.
func (p *Program) Achievements(ctx context.Context, member string) ([]benefit.Grant, error) {
	var out []benefit.Grant
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		var err error
		out, err = loadGrants(tx, member)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("membership: achievements of %q: %w", member, err)
	}
	return out, nil
}

// Benefits returns a member's benefits at time at: those bound to the
// member's current level or to a paid plan the member holds at that time,
// in catalog order.
func (p *Program) Benefits(ctx context.Context, member string, at time.Time) ([]benefit.Benefit, error) {
	bp, err := p.benefits()
	if err != nil {
		return nil, fmt.Errorf("membership: benefits of %q: %w", member, err)
	}
	var out []benefit.Benefit
	err = p.eng.View(ctx, at, func(t *engine.Unit) error {
		level, err := t.MemberLevel(member)
		if err != nil {
			return err
		}
		plans, err := t.MemberPlans(member)
		if err != nil {
			return err
		}
		out = bp.def.For(level, plans)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: benefits of %q: %w", member, err)
	}
	return out, nil
}

// MemberPrice returns the member price of amount at time at: the lowest
// price any of the member's current discount benefits gives, the benefit giving it, and
// ok false (price = amount) when the member has no discount benefit. It
// returns errors wrapping benefit.ErrNegativeAmount.
func (p *Program) MemberPrice(ctx context.Context, member string, amount decimal.Decimal, at time.Time) (price decimal.Decimal, by benefit.Benefit, ok bool, err error) {
	bs, err := p.Benefits(ctx, member, at)
	if err != nil {
		return decimal.Decimal{}, benefit.Benefit{}, false, err
	}
	by, price, ok, err = benefit.Best(bs, amount)
	if err != nil {
		return decimal.Decimal{}, benefit.Benefit{}, false, fmt.Errorf("membership: member price for %q: %w", member, err)
	}
	if !ok {
		return amount, benefit.Benefit{}, false, nil
	}
	return price, by, true, nil
}
