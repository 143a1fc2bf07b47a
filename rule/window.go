package rule

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
)

// Window is the effective period of a rule: [From, To), where a zero
// bound is open.
type Window struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// Contains reports whether t is in the window: not before From and before
// To.
func (w Window) Contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || t.Before(w.To))
}

// Check returns nil, or a *[Problems] when a bound is outside the range
// of times a program takes (event.CheckTime; To, which the window
// excludes, may be its end) or when both bounds are set and To is not
// after From.
func (w Window) Check() error {
	var ps Problems
	if !w.From.IsZero() {
		ps.Add("from", event.CheckTime(w.From))
	}
	if !w.To.IsZero() {
		ps.Add("to", event.CheckTime(w.To.Add(-time.Nanosecond)))
	}
	if !w.From.IsZero() && !w.To.IsZero() && !w.To.After(w.From) {
		ps.Add("to", fmt.Errorf("%s is not after from %s", w.To.Format(time.RFC3339), w.From.Format(time.RFC3339)))
	}
	return ps.Err()
}
