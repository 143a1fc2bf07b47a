package task

import (
	"fmt"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Change kinds the task domain publishes. An event publishes them for its
// own member (the outcome's Member).
const (
	// ChangeProgressed is published when an event counts towards a task
	// without completing it (data: Progressed).
	ChangeProgressed = "task.progressed"
	// ChangeCompleted is published when a member completes a task; the
	// rewards' own changes follow it (data: Completed).
	ChangeCompleted = "task.completed"
	// ChangeLimitReached is published when an event does not count
	// because the task's completion limit for the period is reached: only
	// for an event that would have counted had the limit not been reached
	// (of the member the task targets, in its effective period, for the
	// step that is next in an ordered task or one that is not done in a
	// task of several actions). Data: LimitReached; the reason's Cut
	// names the period.
	ChangeLimitReached = "task.limit_reached"
)

// Progressed is the data of task.progressed.
type Progressed struct {
	Task string `json:"task"`
	// Step is the index of the step the event counted for.
	Step int `json:"step"`
	Done int `json:"done"`
	Need int `json:"need"`
}

// Completed is the data of task.completed.
type Completed struct {
	Task string `json:"task"`
	// Completions is the member's number of completions of the task so
	// far, this one included.
	Completions int64         `json:"completions"`
	Rewards     []rule.Reward `json:"rewards"`
}

// LimitReached is the data of task.limit_reached.
type LimitReached struct {
	Task   string          `json:"task"`
	Period rule.Period     `json:"period"`
	Limit  decimal.Decimal `json:"limit"`
}

// Effects is what an outcome did to its member's tasks, in the order of
// its changes. The rewards of a completion are their domains' effects
// (points, growth, coupons, achievements): read them with those packages'
// EffectsOf.
type Effects struct {
	Progressed   []Progressed   `json:"progressed,omitempty"`
	Completed    []Completed    `json:"completed,omitempty"`
	LimitReached []LimitReached `json:"limit_reached,omitempty"`
}

// EffectsOf reads what an event's outcome did to the member's tasks (the
// steps counted, the tasks completed with their rewards, the events a
// limit did not count), so that a host does not decode the feed's task
// changes itself. A nil outcome has no effects. The error wraps the JSON
// error of a change whose data does not decode.
func EffectsOf(out *change.Outcome) (Effects, error) {
	var fx Effects
	if out == nil {
		return fx, nil
	}
	for _, c := range out.Changes {
		var err error
		switch c.Kind {
		case ChangeProgressed:
			var d Progressed
			if err = c.Decode(&d); err == nil {
				fx.Progressed = append(fx.Progressed, d)
			}
		case ChangeCompleted:
			var d Completed
			if err = c.Decode(&d); err == nil {
				fx.Completed = append(fx.Completed, d)
			}
		case ChangeLimitReached:
			var d LimitReached
			if err = c.Decode(&d); err == nil {
				fx.LimitReached = append(fx.LimitReached, d)
			}
		}
		if err != nil {
			return Effects{}, fmt.Errorf("task: effects of %q: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
		}
	}
	return fx, nil
}
