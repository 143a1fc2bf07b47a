package task

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
)

// Sentinel errors.
var (
	// ErrUnknownTask is returned for a task the definition does not have.
	ErrUnknownTask = errors.New("unknown task")
)

// Kind is a task type.
type Kind string

// The task types.
const (
	One      Kind = "one"
	Repeat   Kind = "repeat"
	All      Kind = "all"
	Sequence Kind = "sequence"
)

// Definition is the task part of a program definition.
type Definition struct {
	Tasks []Task `json:"tasks"`
}

// Task is one member task.
type Task struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Kind        Kind   `json:"kind"`
	// Steps are the actions: one for One and Repeat, two or more for All
	// and Sequence.
	Steps []Step `json:"steps"`
	// Times is the number of events a Repeat task needs (at least 2).
	Times int `json:"times,omitempty"`
	// Window is the effective period; events outside it do not count.
	Window rule.Window `json:"window,omitzero"`
	// Target restricts the members who can take part.
	Target Target `json:"target,omitzero"`
	// Rewards are granted on each completion.
	Rewards []rule.Reward `json:"rewards"`
	// Limits caps the completions per period (limits are whole counts of
	// at least 1; a period left out has no limit).
	Limits rule.Caps `json:"limits,omitempty"`
}

// Step is one action: an event type and conditions on its attributes.
type Step struct {
	Event      string            `json:"event"`
	Conditions []event.Condition `json:"conditions,omitempty"`
}

// Match reports whether ev qualifies for the step.
func (s Step) Match(ev event.Event) bool {
	return ev.Type == s.Event && event.MatchAll(s.Conditions, ev)
}

// Matches reports whether ev qualifies for any step of the task (whether
// the task listens to it at all, before its progress is read).
func (t Task) Matches(ev event.Event) bool {
	for _, s := range t.Steps {
		if s.Match(ev) {
			return true
		}
	}
	return false
}

// Target restricts a task to some members. Empty fields do not restrict.
type Target struct {
	// Levels: the member's level is one of these.
	Levels []string `json:"levels,omitempty"`
	// Tags: the member has at least one of these.
	Tags []string `json:"tags,omitempty"`
	// Segment: the member's tags match this tag expression.
	Segment string `json:"segment,omitempty"`
}

// Targets reports whether a member with this level and tags may take part.
// A Segment that does not parse targets no one.
func (t Target) Targets(level string, tags []string) bool {
	return t.targets(t.segment(), level, tags)
}

// segment returns the Segment parsed, or the zero Expr, which matches
// nothing, when it does not parse (Definition.Check refuses it).
func (t Target) segment() tag.Expr {
	if t.Segment == "" {
		return tag.Expr{}
	}
	e, err := tag.Parse(t.Segment)
	if err != nil {
		return tag.Expr{}
	}
	return e
}

// targets is Targets with the Segment parsed as seg: the part parses each
// task's segment once, not on every event.
func (t Target) targets(seg tag.Expr, level string, tags []string) bool {
	if len(t.Levels) > 0 && !slices.Contains(t.Levels, level) {
		return false
	}
	if len(t.Tags) > 0 && !slices.ContainsFunc(t.Tags, func(x string) bool { return slices.Contains(tags, x) }) {
		return false
	}
	return t.Segment == "" || seg.Match(tags)
}

// UsesTags reports whether the target reads the member's tags.
func (t Target) UsesTags() bool { return len(t.Tags) > 0 || t.Segment != "" }

// Env is what validating a definition needs to look up.
type Env interface {
	// EventType returns the declared event type named name.
	EventType(name string) (event.Type, bool)
	// CheckReward checks a reward granted by a source of kind from
	// (rule.FromLevel for a gift, rule.FromTask for a task's reward) and
	// that what it names exists and can be granted by that source.
	CheckReward(r rule.Reward, from rule.SourceKind) error
	// LevelExists reports whether the level ladder has the level.
	LevelExists(name string) bool
	// TagExists reports whether the tag definition declares the tag.
	TagExists(name string) bool
}

// Check reports every problem of the definition, with paths relative to the
// tasks slot (tasks[1].steps[0].event: unknown event type "x").
// A nil env is refused with an error wrapping rule.ErrInvalidDefinition.
func (d Definition) Check(env Env) error {
	if env == nil {
		// The lookups are not optional here: refused rather than a panic.
		return fmt.Errorf("%w: Check needs an Env (the program's event types and other domains); nil given", rule.ErrInvalidDefinition)
	}
	var ps rule.Problems
	seen := map[string]bool{}
	for i, t := range d.Tasks {
		p := rule.Index("tasks", i)
		switch {
		case t.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case seen[t.Name]:
			ps.Addf(rule.Join(p, "name"), "duplicate task %q", t.Name)
		}
		seen[t.Name] = true
		switch t.Kind {
		case One:
			if len(t.Steps) != 1 {
				ps.Addf(rule.Join(p, "steps"), "a %q task has exactly one step, got %d", t.Kind, len(t.Steps))
			}
		case Repeat:
			if len(t.Steps) != 1 {
				ps.Addf(rule.Join(p, "steps"), "a %q task has exactly one step, got %d", t.Kind, len(t.Steps))
			}
			if t.Times < 2 {
				ps.Addf(rule.Join(p, "times"), "must be at least 2 for a repeat task, got %d", t.Times)
			}
		case All, Sequence:
			if len(t.Steps) < 2 {
				ps.Addf(rule.Join(p, "steps"), "a %q task has at least two steps, got %d", t.Kind, len(t.Steps))
			}
		default:
			ps.Addf(rule.Join(p, "kind"), "unknown task type %q (want %s, %s, %s or %s)", t.Kind, One, Repeat, All, Sequence)
		}
		if t.Kind != Repeat && t.Times != 0 {
			ps.Addf(rule.Join(p, "times"), "only for a repeat task")
		}
		for j, s := range t.Steps {
			sp := rule.Join(p, rule.Index("steps", j))
			et, ok := env.EventType(s.Event)
			if !ok {
				ps.Add(rule.Join(sp, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, s.Event))
				continue
			}
			for k, c := range s.Conditions {
				for _, err := range c.Check(et) {
					ps.Add(rule.Join(sp, rule.Index("conditions", k)), err)
				}
			}
		}
		ps.Add(rule.Join(p, "window"), t.Window.Check())
		for j, l := range t.Target.Levels {
			if !env.LevelExists(l) {
				ps.Addf(rule.Join(p, rule.Index("target.levels", j)), "unknown level %q", l)
			}
		}
		for j, tg := range t.Target.Tags {
			if !env.TagExists(tg) {
				ps.Addf(rule.Join(p, rule.Index("target.tags", j)), "unknown tag %q", tg)
			}
		}
		if t.Target.Segment != "" {
			if e, err := tag.Parse(t.Target.Segment); err != nil {
				ps.Add(rule.Join(p, "target.segment"), err)
			} else {
				for _, tg := range e.Tags() {
					if !env.TagExists(tg) {
						ps.Addf(rule.Join(p, "target.segment"), "unknown tag %q", tg)
					}
				}
			}
		}
		if len(t.Rewards) == 0 {
			ps.Addf(rule.Join(p, "rewards"), "a task needs at least one reward")
		}
		for j, r := range t.Rewards {
			ps.Add(rule.Join(p, rule.Index("rewards", j)), env.CheckReward(r, rule.FromTask))
		}
		ps.Add(rule.Join(p, "limits"), t.Limits.Check())
		for j, c := range t.Limits {
			switch {
			case !c.Limit.IsInteger():
				ps.Addf(rule.Join(p, rule.Index("limits", j), "limit"), "must be a whole number of completions")
			case c.Limit.IsZero():
				// Zero would make the task impossible to complete, which
				// a host that meant "no limit" would not see.
				ps.Addf(rule.Join(p, rule.Index("limits", j), "limit"), "must be at least 1 (leave the period out for no limit)")
			}
		}
	}
	return ps.Err()
}

// Task returns the named task.
func (d Definition) Task(name string) (Task, bool) {
	for _, t := range d.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return Task{}, false
}

// Progress is a member's progress on a task since the last completion.
type Progress struct {
	// Steps counts the qualifying events per step: the count of the one
	// step for Repeat, 1 for each step done for All and Sequence.
	Steps []int `json:"steps"`
	// Started is when the first counted event happened (zero before).
	Started time.Time `json:"started,omitzero"`
	// Updated is when the last counted event happened. For Sequence it
	// is the time of the last step done, which the next step's event must
	// not be before.
	Updated time.Time `json:"updated,omitzero"`
	// Fits is kept for All: for each step done by an event that fits
	// more than one step, the steps that event fits, so that a later
	// event fitting only a step done can take it while the earlier event
	// moves to another step it fits (nil entries: the event fits its
	// step alone).
	Fits [][]int `json:"fits,omitempty"`
}

// Done returns how many units of the task are done.
func (p Progress) Done() int {
	n := 0
	for _, s := range p.Steps {
		n += s
	}
	return n
}

// Need returns how many units complete the task.
func (t Task) Need() int {
	switch t.Kind {
	case One:
		return 1
	case Repeat:
		return t.Times
	}
	return len(t.Steps)
}

// Step applies one event to the progress. It returns the new progress, the
// index of the step the event counted for (-1 when it did not count: no
// step matches, for Sequence a step out of order or an event before the
// previous step's (p.Updated), for All only steps
// already done whose events fit no other step left) and whether the task
// is now complete. For All an event counts for one step at most: the
// first step it fits that is not done, else a step done whose event can
// move to another step it fits (so a member completes the task once their
// events can be given a step each, in whatever order they come). A
// completed task's progress is returned as it stood at completion; the
// caller restarts it. A task without steps, or of an unknown kind (which
// Check refuses), counts no event.
func (t Task) Step(p Progress, ev event.Event) (next Progress, step int, complete bool) {
	next = Progress{Steps: slices.Clone(p.Steps), Started: p.Started, Updated: p.Updated, Fits: slices.Clone(p.Fits)}
	if len(next.Steps) != len(t.Steps) {
		next.Steps = make([]int, len(t.Steps))
	}
	if len(next.Fits) != len(next.Steps) {
		next.Fits = nil // kept by an older definition: no event moves
	}
	step = -1
	switch t.Kind {
	case One, Repeat:
		// Check requires the one step; an unchecked task has none to count.
		if len(t.Steps) > 0 && t.Steps[0].Match(ev) {
			step = 0
		}
	case All:
		step = t.take(&next, ev)
	case Sequence:
		i := 0
		for i < len(next.Steps) && next.Steps[i] > 0 {
			i++
		}
		// The steps occur in order in time: the next one counts only for
		// an event not before the previous step's, the last counted
		// (Updated; zero in a record without times, which then counts
		// the next step at any time).
		if i < len(t.Steps) && t.Steps[i].Match(ev) && (i == 0 || !ev.Time.Before(next.Updated)) {
			step = i
		}
	}
	if step < 0 {
		return p, -1, false
	}
	next.Steps[step]++
	if next.Started.IsZero() {
		next.Started = ev.Time
	}
	next.Updated = ev.Time
	return next, step, next.Done() >= t.Need()
}

// take finds the step of an All task that ev counts for in next (-1:
// none) and records the steps ev fits in next.Fits, moving the events of
// steps done as it needs (an augmenting path of a bipartite matching of
// events to steps); the caller marks the step done.
func (t Task) take(next *Progress, ev event.Event) int {
	var fits []int
	for i, s := range t.Steps {
		if s.Match(ev) {
			fits = append(fits, i)
		}
	}
	step := -1
	for _, i := range fits {
		if next.Steps[i] == 0 {
			step = i
			break
		}
	}
	if step < 0 {
		seen := make([]bool, len(t.Steps))
		for _, i := range fits {
			seen[i] = true
			if next.free(i, seen) {
				step = i
				// free counted the step the event moved to; this one
				// is counted again by the caller.
				next.Steps[i] = 0
				break
			}
		}
	}
	switch {
	case step < 0:
	case len(fits) > 1:
		if next.Fits == nil {
			next.Fits = make([][]int, len(t.Steps))
		}
		next.Fits[step] = fits
	case next.Fits != nil:
		next.Fits[step] = nil
	}
	return step
}

// free moves the event counted for step s to another step it fits, not
// yet seen on this path: a step not done, or one whose own event can move
// on. It reports whether it did.
func (p *Progress) free(s int, seen []bool) bool {
	if s >= len(p.Fits) {
		return false
	}
	for _, u := range p.Fits[s] {
		// Fits from an older definition may name steps no longer there.
		if u < 0 || u >= len(p.Steps) || seen[u] {
			continue
		}
		seen[u] = true
		if p.Steps[u] == 0 || p.free(u, seen) {
			p.Steps[u] = 1
			p.Fits[u] = p.Fits[s]
			return true
		}
	}
	return false
}

// fingerprint identifies what the task's progress counts: its kind and
// steps (event types and conditions, in order), encoded as a definition
// encodes them (JSON) and hashed. Progress recorded under another
// fingerprint is not progress on these steps. Times, the window, the
// target, the rewards and the limits are not in it: progress keeps its
// meaning when they change.
func (t Task) fingerprint() string {
	raw, err := json.Marshal(struct {
		Kind  Kind   `json:"kind"`
		Steps []Step `json:"steps"`
	}{t.Kind, t.Steps})
	if err != nil {
		// Not reached: Open encoded the whole definition.
		return "unencodable: " + err.Error()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// Types returns the event types the task's steps listen to.
func (t Task) Types() []string {
	var out []string
	for _, s := range t.Steps {
		if !slices.Contains(out, s.Event) {
			out = append(out, s.Event)
		}
	}
	return out
}
