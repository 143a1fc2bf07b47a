package benefit

import (
	"fmt"

	"github.com/memberkit/membership/change"
)

// ChangeAchievement is the change kind published when a member is granted
// an achievement (payload [Grant]).
const ChangeAchievement = "achievement.granted"

// Effects is what an outcome did in the benefit domain.
type Effects struct {
	// Achievements lists the achievements granted, with their times in
	// the outcome's zone (the program's).
	Achievements []Grant
}

// EffectsOf reads what out (an event's, an operator request's) did in the
// benefit domain into typed values, so that a host need not decode the
// feed's payloads itself. A nil outcome has no effects. A payload that
// does not decode returns an error wrapping store.ErrCorrupt
// (change.Change.Decode's), naming the change.
func EffectsOf(out *change.Outcome) (Effects, error) {
	var e Effects
	if out == nil {
		return e, nil
	}
	for _, c := range out.Changes {
		if c.Kind != ChangeAchievement {
			continue
		}
		var g Grant
		if err := c.Decode(&g); err != nil {
			return Effects{}, fmt.Errorf("benefit: effects of %q: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
		}
		g.At = g.At.In(out.Time.Location())
		e.Achievements = append(e.Achievements, g)
	}
	return e, nil
}
