package level

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Change kinds the level part publishes, with their payloads.
const (
	// ChangeLevel is a member's level or term changing (payload
	// [LevelChange]): joining, an upgrade, a term end (kept or
	// downgraded), a return to a frozen level, a manual set.
	ChangeLevel = "level.changed"
	// ChangeGrowth is a member's growth changing (payload [GrowthChange]).
	ChangeGrowth = "growth.changed"
	// ChangeGift is an upgrade gift's reward granted (payload [Gift]),
	// after the changes of the part that grants its kind; a reward that
	// part refused is not published as a gift but as ChangeOwed. A late
	// one (owed since an earlier reach, granted at a later event or by
	// GrantOwed) has a reason whose note starts "late upgrade gift".
	ChangeGift = "level.gift"
	// ChangeOwed is an upgrade gift's reward refused and kept owed to the
	// member (payload [Gift]), after the refusal its part published: at
	// the level's reach, or again at a later event or GrantOwed.
	ChangeOwed = "level.gift_owed"
	// ChangeGiftDropped is an upgrade gift's reward owed to the member
	// (ChangeOwed) that is no longer owed though never granted (payload
	// [Gift]): the member's erasure drops what is owed, and a later event
	// or GrantOwed drops a reward the definition in force no longer gives
	// (its reason's note says so). The payload of one the definition no
	// longer gives has the reward's kind and what it grants
	// (rule.Reward.Target), not its amount or count: match it with
	// ChangeOwed's by level and target (of several owed of one target, it
	// closes one of them; the others are paid as the gifts the level
	// still gives of it).
	ChangeGiftDropped = "level.gift_dropped"
	// ChangeFrozen is a level frozen after a downgrade (payload
	// [FreezeChange]).
	ChangeFrozen = "level.frozen"
	// ChangeUnfrozen is a freeze ending (payload [FreezeChange]): the
	// member returned to the level, reached it otherwise, or the deadline
	// passed.
	ChangeUnfrozen = "level.unfrozen"
	// ChangePlanPurchased is a paid plan bought or renewed (payload
	// [PlanChange]).
	ChangePlanPurchased = "plan.purchased"
	// ChangePlanExpired is a paid plan that ran out (payload [PlanChange]).
	ChangePlanExpired = "plan.expired"
)

// Ledger kinds of growth postings. Increases move growth from the pool of
// their kind (ledger.Pool(ledger.Growth, kind)) into the member's account,
// decreases back.
const (
	// KindEarned is growth earned by a growth rule.
	KindEarned ledger.Kind = "earned"
	// KindRewarded is growth granted as a reward (an upgrade gift, a task).
	KindRewarded ledger.Kind = "rewarded"
	// KindReversed is growth taken back by a refund rule or a negative
	// growth rule.
	KindReversed ledger.Kind = "reversed"
	// KindRebased is the re-base of growth to the retention window's
	// growth at a term end.
	KindRebased ledger.Kind = "rebased"
)

// LevelChange is the payload of ChangeLevel.
type LevelChange struct {
	From    string    `json:"from,omitempty"`
	To      string    `json:"to"`
	Cause   Cause     `json:"cause"`
	TermEnd time.Time `json:"term_end,omitzero"`
	// Growth is the member's growth after the change.
	Growth decimal.Decimal `json:"growth"`
	// Window is the retention window's net growth, at a term end: negative
	// when refunds in it took more than it earned (Growth is then 0).
	Window *decimal.Decimal `json:"window,omitempty"`
}

// AppendJSON appends c's JSON to b, as json.Marshal writes it (it
// implements engine.JSONAppender): a member's opening publishes one, so
// an import's payloads skip reflection.
func (c LevelChange) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("from", c.From, true)
	o.Str("to", c.To, false)
	o.Str("cause", string(c.Cause), false)
	o.Time("term_end", c.TermEnd, true)
	o.Dec("growth", c.Growth, false)
	if c.Window != nil {
		o.Dec("window", *c.Window, false)
	}
	return append(o.B, '}'), true
}

// encode appends c's JSON, for engine.Unit.EmitWith.
func (c *LevelChange) encode(b []byte) ([]byte, error) {
	b, _ = c.AppendJSON(b) // always ok
	return b, nil
}

// GrowthChange is the payload of ChangeGrowth.
type GrowthChange struct {
	// Amount is what moved (negative for a decrease).
	Amount  decimal.Decimal `json:"amount"`
	Balance decimal.Decimal `json:"balance"`
	// Lifetime is the net growth ever earned.
	Lifetime decimal.Decimal `json:"lifetime"`
	Kind     ledger.Kind     `json:"kind"`
	// Rule is the growth or refund rule (or the reward's source).
	Rule string `json:"rule,omitempty"`
	// Shortfall is what a decrease could not take because growth would
	// have gone below zero.
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
}

// AppendJSON appends c's JSON to b, as json.Marshal writes it (it
// implements engine.JSONAppender). Every event that earns growth
// publishes a GrowthChange, so its payload skips reflection.
func (c GrowthChange) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Dec("amount", c.Amount, false)
	o.Dec("balance", c.Balance, false)
	o.Dec("lifetime", c.Lifetime, false)
	o.Str("kind", string(c.Kind), false)
	o.Str("rule", c.Rule, true)
	o.Dec("shortfall", c.Shortfall, true)
	return append(o.B, '}'), true
}

// encode appends c's JSON, for engine.Unit.EmitWith.
func (c *GrowthChange) encode(b []byte) ([]byte, error) {
	b, _ = c.AppendJSON(b) // always ok
	return b, nil
}

// Gift is the payload of ChangeGift.
type Gift struct {
	Level  string      `json:"level"`
	Reward rule.Reward `json:"reward"`
}

// FreezeChange is the payload of ChangeFrozen and ChangeUnfrozen.
type FreezeChange struct {
	Level    string    `json:"level"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Earned is the net growth earned since the downgrade, negative
	// when refunds since took more (see Frozen.Earned).
	Earned decimal.Decimal `json:"earned"`
	// Returned is set when the member returned to the level by reaching
	// its unfreeze threshold.
	Returned bool `json:"returned,omitempty"`
}

// PlanChange is the payload of ChangePlanPurchased and ChangePlanExpired.
type PlanChange struct {
	Plan    string    `json:"plan"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
	// Renewed is set when the purchase extended a plan still held.
	Renewed bool `json:"renewed,omitempty"`
}

// Effects is what an outcome did in the level domain, read from its
// changes in order: the payloads, decoded, with their times in the
// outcome's zone (the program's).
type Effects struct {
	// Growth lists the growth moves: earned, rewarded (gifts, tasks),
	// reversed, re-based.
	Growth []GrowthChange
	// Levels lists the level changes: joining, upgrades, term ends,
	// returns from a freeze, manual sets.
	Levels []LevelChange
	// Gifts lists the upgrade gifts' rewards granted (late ones, owed
	// since an earlier reach, included); Owed those refused and still
	// owed; Dropped those owed that no longer are (ChangeGiftDropped).
	Gifts, Owed, Dropped []Gift
	// Frozen and Unfrozen list the freezes that started and ended.
	Frozen, Unfrozen []FreezeChange
	// Purchased and Expired list the paid plans bought or renewed and
	// those that ran out.
	Purchased, Expired []PlanChange
}

// Granted returns the net growth the outcome moved: the sum of the
// growth moves' amounts (a re-base included).
func (e Effects) Granted() decimal.Decimal {
	sum := decimal.Zero
	for _, g := range e.Growth {
		sum = sum.Add(g.Amount)
	}
	return sum
}

// Reached returns the level the last level change moved the member to,
// and false when the outcome changed no level.
func (e Effects) Reached() (string, bool) {
	if len(e.Levels) == 0 {
		return "", false
	}
	return e.Levels[len(e.Levels)-1].To, true
}

// EffectsOf reads what out (an event's, an operator request's) did in the
// level domain into typed values, so that a host need not decode the
// feed's payloads itself. A nil outcome has no effects. A payload that
// does not decode (a change written by another version of the library)
// returns an error wrapping store.ErrCorrupt (change.Change.Decode's),
// naming the change.
func EffectsOf(out *change.Outcome) (Effects, error) {
	var e Effects
	if out == nil {
		return e, nil
	}
	loc := out.Time.Location()
	for _, c := range out.Changes {
		var err error
		switch c.Kind {
		case ChangeGrowth:
			var v GrowthChange
			if err = c.Decode(&v); err == nil {
				e.Growth = append(e.Growth, v)
			}
		case ChangeLevel:
			var v LevelChange
			if err = c.Decode(&v); err == nil {
				v.TermEnd = inZone(v.TermEnd, loc)
				e.Levels = append(e.Levels, v)
			}
		case ChangeGift, ChangeOwed, ChangeGiftDropped:
			var v Gift
			if err = c.Decode(&v); err == nil {
				switch c.Kind {
				case ChangeGift:
					e.Gifts = append(e.Gifts, v)
				case ChangeOwed:
					e.Owed = append(e.Owed, v)
				default:
					e.Dropped = append(e.Dropped, v)
				}
			}
		case ChangeFrozen, ChangeUnfrozen:
			var v FreezeChange
			if err = c.Decode(&v); err == nil {
				v.Since, v.Deadline = inZone(v.Since, loc), inZone(v.Deadline, loc)
				if c.Kind == ChangeFrozen {
					e.Frozen = append(e.Frozen, v)
				} else {
					e.Unfrozen = append(e.Unfrozen, v)
				}
			}
		case ChangePlanPurchased, ChangePlanExpired:
			var v PlanChange
			if err = c.Decode(&v); err == nil {
				v.Since, v.Expires = inZone(v.Since, loc), inZone(v.Expires, loc)
				if c.Kind == ChangePlanPurchased {
					e.Purchased = append(e.Purchased, v)
				} else {
					e.Expired = append(e.Expired, v)
				}
			}
		}
		if err != nil {
			return Effects{}, fmt.Errorf("level: effects of %q: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
		}
	}
	return e, nil
}

// inZone returns t in loc, keeping the zero time zero.
func inZone(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(loc)
}
