package benefit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// bAchievements holds the achievements granted: member, NUL, achievement →
// Grant as JSON.
const bAchievements = "benefit.achievements"

// sourceOperator is the Source of an operator's grant (Grant.Source).
const sourceOperator = "operator"

// part grants achievements, as the Rewarder of achievement rewards (a
// task's, a level's gift) and for the operator's grants. Benefits need no
// part: a member's benefits are read from the level domain when asked.
type part struct {
	def Definition
}

var (
	_ engine.Part     = (*part)(nil)
	_ engine.Rewarder = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// Process does nothing: no event grants a benefit or an achievement by
// itself.
func (p *part) Process(*engine.Unit, event.Event) error { return nil }

// DueKinds lists no due work.
func (p *part) DueKinds() []string { return nil }

// MemberBuckets implements engine.MemberKeyed.
func (p *part) MemberBuckets() []string { return []string{bAchievements} }

// MemberRecords implements engine.Recorder: the member's achievements.
func (p *part) MemberRecords(dst []store.Read, member string) []store.Read {
	return append(dst, engine.MemberRange(bAchievements, member))
}

// Due does nothing.
func (p *part) Due(*engine.Unit, engine.Item) error { return nil }

// RewardKinds says the part grants achievement rewards.
func (p *part) RewardKinds() []rule.RewardKind {
	return []rule.RewardKind{rule.RewardAchievement}
}

// Reward grants an achievement as a reward (a task's or a level's gift);
// one the member already holds is kept as it is and nothing is published.
// The grant records the source's kind ("task", "level") and name.
func (p *part) Reward(u *engine.Unit, member string, r rule.Reward, from rule.Source, why rule.Reason) error {
	if _, ok := p.def.Achievement(r.Achievement); !ok {
		return fmt.Errorf("%w %q", ErrUnknownAchievement, r.Achievement)
	}
	_, err := p.grant(u, member, Grant{Achievement: r.Achievement, Source: string(from.Kind), By: from.Name, Note: why.Note}, &why)
	return err
}

// grant records an achievement once per member, at g.At or, when it is
// zero, at u.At(); it reports false when the member already had it.
func (p *part) grant(u *engine.Unit, member string, g Grant, why *rule.Reason) (bool, error) {
	key := []byte(member + "\x00" + g.Achievement)
	if _, err := u.Tx().Get(bAchievements, key); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if g.At.IsZero() {
		g.At = u.At()
	}
	g.At = g.At.UTC()
	g.Event = u.Ref().Event
	raw, err := json.Marshal(g)
	if err != nil {
		return false, err
	}
	if err := u.Tx().Put(bAchievements, key, raw); err != nil {
		return false, err
	}
	return true, u.Emit(ChangeAchievement, member, g, why)
}

// Granted returns a member's achievements in name order, read in the store
// transaction tx, with times in UTC. It is for the code that builds a
// whole member profile inside one transaction; hosts call
// Handle.Achievements.
func Granted(tx store.Tx, member string) ([]Grant, error) {
	var out []Grant
	prefix := []byte(member + "\x00")
	err := tx.Scan(bAchievements, prefix, store.PrefixEnd(prefix), false, func(k, v []byte) error {
		var g Grant
		if err := record.Decode(bAchievements, k, v, &g); err != nil {
			return err
		}
		switch rule.SourceKind(g.Source) {
		case rule.FromTask, rule.FromLevel, sourceOperator:
		default: // damage, not an achievement granted by no one known
			return record.Corrupt(bAchievements, k, fmt.Errorf("an achievement of source %q", g.Source))
		}
		// grant writes the achievement of the key, its time and who
		// granted it (the operator, the task or the level): a record
		// without them is damage, not a grant to list as it reads.
		switch {
		case g.Achievement != string(k[len(prefix):]):
			return record.Corrupt(bAchievements, k, fmt.Errorf("a grant of %q", g.Achievement))
		case g.At.IsZero():
			return record.Corrupt(bAchievements, k, errors.New("a grant with no time"))
		case g.By == "":
			return record.Corrupt(bAchievements, k, fmt.Errorf("a grant by no %s", g.Source))
		}
		out = append(out, g)
		return nil
	})
	return out, err
}
