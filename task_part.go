package membership

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// Change kinds published by the task part.
const (
	// ChangeTaskProgressed is published when an event counts towards a
	// task without completing it (data: TaskProgressed).
	ChangeTaskProgressed = "task.progressed"
	// ChangeTaskCompleted is published when a member completes a task; the
	// rewards' own changes follow it (data: TaskCompleted).
	ChangeTaskCompleted = "task.completed"
	// ChangeTaskLimitReached is published when a qualifying event does not
	// count because the task's completion limit for the period is reached
	// (data: TaskLimitReached; the reason's Cut names the period).
	ChangeTaskLimitReached = "task.limit_reached"
)

// TaskProgressed is the data of task.progressed.
type TaskProgressed struct {
	Task string `json:"task"`
	// Step is the index of the step the event counted for.
	Step int `json:"step"`
	Done int `json:"done"`
	Need int `json:"need"`
}

// TaskCompleted is the data of task.completed.
type TaskCompleted struct {
	Task string `json:"task"`
	// Completions is the member's number of completions of the task so
	// far, this one included.
	Completions int64         `json:"completions"`
	Rewards     []rule.Reward `json:"rewards"`
}

// TaskLimitReached is the data of task.limit_reached.
type TaskLimitReached struct {
	Task   string          `json:"task"`
	Period rule.Period     `json:"period"`
	Limit  decimal.Decimal `json:"limit"`
}

// TaskStatus is a member's standing on one task.
type TaskStatus struct {
	Task string    `json:"task"`
	Kind task.Kind `json:"kind"`
	// Progress since the last completion; Done of Need units.
	Progress task.Progress `json:"progress"`
	Done     int           `json:"done"`
	Need     int           `json:"need"`
	// Completions is the number of completions ever.
	Completions int64 `json:"completions"`
}

const (
	bTaskProgress = "task.progress" // member \0 task → task.Progress
	bTaskLimits   = "task.limits"   // rule.Use counters of completions
	bTaskDone     = "task.done"     // member \0 task → completions (uint64)
)

type taskPart struct {
	p      *Program
	def    task.Definition
	byType map[string][]int
}

// taskPart returns the task part, or nil when the definition has none.
func (p *Program) taskPart() *taskPart {
	if p.def.Tasks == nil {
		return nil
	}
	tp := &taskPart{p: p, def: *p.def.Tasks, byType: map[string][]int{}}
	for i, t := range tp.def.Tasks {
		for _, typ := range t.Types() {
			tp.byType[typ] = append(tp.byType[typ], i)
		}
	}
	return tp
}

func (tp *taskPart) DueKinds() []string                  { return nil }
func (tp *taskPart) Due(*engine.Unit, engine.Item) error { return nil }

func taskKey(member, name string) []byte { return []byte(member + "\x00" + name) }

func (tp *taskPart) Process(t *engine.Unit, ev event.Event) error {
	idx := tp.byType[ev.Type]
	if len(idx) == 0 {
		return nil
	}
	var (
		level      string
		tags       []string
		haveLevel  bool
		haveTags   bool
		err        error
		memberName = ev.Member
	)
	for _, i := range idx {
		tk := tp.def.Tasks[i]
		if !tk.Window.Contains(ev.Time) || !matchesAny(tk, ev) {
			continue
		}
		if len(tk.Target.Levels) > 0 && !haveLevel {
			if level, err = t.MemberLevel(memberName); err != nil {
				return err
			}
			haveLevel = true
		}
		if tk.Target.UsesTags() && !haveTags {
			if tags, err = t.MemberTags(memberName); err != nil {
				return err
			}
			haveTags = true
		}
		if !tk.Target.Targets(level, tags) {
			continue
		}
		if err := tp.step(t, i, tk, ev); err != nil {
			return fmt.Errorf("task %q: %w", tk.Name, err)
		}
	}
	return nil
}

func matchesAny(tk task.Task, ev event.Event) bool {
	for _, s := range tk.Steps {
		if s.Match(ev) {
			return true
		}
	}
	return false
}

func (tp *taskPart) step(t *engine.Unit, i int, tk task.Task, ev event.Event) error {
	member := ev.Member
	scope := member + "\x00" + tk.Name
	ruleID := fmt.Sprintf("tasks[%d]", i)
	for _, c := range tk.Limits {
		used, err := rule.Used(t.Tx(), bTaskLimits, scope, c.Period, t.At(), t.Location())
		if err != nil {
			return err
		}
		if used.GreaterThanOrEqual(c.Limit) {
			return t.Emit(ChangeTaskLimitReached, member, TaskLimitReached{Task: tk.Name, Period: c.Period, Limit: c.Limit}, &rule.Reason{
				Rule: ruleID, Note: "completion limit reached; the event does not count",
				Cut: &rule.Cut{Period: c.Period, Limit: c.Limit, Used: used, Wanted: decimal.NewFromInt(1), Granted: decimal.Zero},
			})
		}
	}
	key := taskKey(member, tk.Name)
	var prog task.Progress
	if raw, err := t.Tx().Get(bTaskProgress, key); err == nil {
		if err := json.Unmarshal(raw, &prog); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	next, step, complete := tk.Step(prog, ev)
	if step < 0 {
		return nil
	}
	why := &rule.Reason{Rule: ruleID, Inputs: map[string]string{"event": ev.ID, "type": ev.Type, "step": fmt.Sprint(step)}}
	if !complete {
		raw, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if err := t.Tx().Put(bTaskProgress, key, raw); err != nil {
			return err
		}
		return t.Emit(ChangeTaskProgressed, member, TaskProgressed{Task: tk.Name, Step: step, Done: next.Done(), Need: tk.Need()}, why)
	}
	if _, _, err := rule.Use(t.Tx(), bTaskLimits, scope, tk.Limits, t.At(), t.Location(), decimal.NewFromInt(1)); err != nil {
		return err
	}
	if err := t.Tx().Delete(bTaskProgress, key); err != nil {
		return err
	}
	n, err := completions(t.Tx(), key)
	if err != nil {
		return err
	}
	n++
	if err := t.Tx().Put(bTaskDone, key, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return err
	}
	why.Note = fmt.Sprintf("completion %d of task %q", n, tk.Name)
	if err := t.Emit(ChangeTaskCompleted, member, TaskCompleted{Task: tk.Name, Completions: n, Rewards: tk.Rewards}, why); err != nil {
		return err
	}
	for _, r := range tk.Rewards {
		if err := t.Reward(member, r, rule.Reason{Rule: ruleID, Note: "task " + tk.Name, Inputs: why.Inputs}); err != nil {
			return fmt.Errorf("reward %s: %w", r.Target(), err)
		}
	}
	return nil
}

func completions(tx store.Tx, key []byte) (int64, error) {
	v, err := tx.Get(bTaskDone, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// TaskProgress returns a member's standing on every task of the program,
// in definition order: progress since the last completion and the number
// of completions.
func (p *Program) TaskProgress(ctx context.Context, member string) ([]TaskStatus, error) {
	if p.def.Tasks == nil {
		return nil, fmt.Errorf("membership: task progress of %q: %w: the program defines no tasks", member, ErrInvalidArgument)
	}
	var out []TaskStatus
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		for _, tk := range p.def.Tasks.Tasks {
			key := taskKey(member, tk.Name)
			st := TaskStatus{Task: tk.Name, Kind: tk.Kind, Need: tk.Need(), Progress: task.Progress{Steps: make([]int, len(tk.Steps))}}
			if raw, err := tx.Get(bTaskProgress, key); err == nil {
				if err := json.Unmarshal(raw, &st.Progress); err != nil {
					return err
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			st.Done = st.Progress.Done()
			var err error
			if st.Completions, err = completions(tx, key); err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: task progress of %q: %w", member, err)
	}
	return out, nil
}

// TaskCompletions returns how many times a member completed a task in the
// period containing at (rule.Total: ever), as counted for its limits; a
// period the task does not limit is not counted and returns 0. It returns
// an error wrapping task.ErrUnknownTask.
func (p *Program) TaskCompletions(ctx context.Context, member, name string, period rule.Period, at time.Time) (int64, error) {
	if p.def.Tasks == nil {
		return 0, fmt.Errorf("membership: task %q: %w", name, task.ErrUnknownTask)
	}
	if _, ok := p.def.Tasks.Task(name); !ok {
		return 0, fmt.Errorf("membership: task %q: %w", name, task.ErrUnknownTask)
	}
	var n decimal.Decimal
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		var err error
		n, err = rule.Used(tx, bTaskLimits, member+"\x00"+name, period, at, p.loc)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("membership: task %q completions of %q: %w", name, member, err)
	}
	return n.IntPart(), nil
}
