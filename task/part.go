package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// Buckets the package keeps its state in.
const (
	bProgress = "task.progress" // member \0 task → Progress
	bLimits   = "task.limits"   // rule.Use counters of completions per limited period (the total's is read by earlier releases only)
	bDone     = "task.done"     // member \0 task → completions (an engine total)
	bSteps    = "task.steps"    // "legacy" → the steps progress without a fingerprint counts (see installed)
	// bLast (last.go): member \0 task → the latest completion
)

// legacyKey is the key, in bSteps, of the fingerprints of the steps that
// progress recorded without a fingerprint counts, by task.
var legacyKey = []byte("legacy")

var one = decimal.NewFromInt(1)

// part is the task domain's share of processing: it counts events towards
// the tasks that listen to them and grants a completed task's rewards
// through the engine.
type part struct {
	def Definition
	// byType lists the indexes of the tasks listening to each event type.
	byType map[string][]int
	// fps is each task's fingerprint (Task.fingerprint), by name: its
	// progress records carry it.
	fps map[string]string
	// legacy is, by task, the fingerprint of the steps that progress
	// recorded without one counts (see installed).
	legacy map[string]string
	// segments is each task's Target.Segment parsed (Target.segment), by
	// index: Process matches it on every event.
	segments []tag.Expr
}

var (
	_ engine.Part     = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

func newPart(def Definition) *part {
	p := &part{def: def, byType: map[string][]int{}, fps: map[string]string{}}
	for i, t := range def.Tasks {
		for _, typ := range t.Types() {
			p.byType[typ] = append(p.byType[typ], i)
		}
		p.fps[t.Name] = t.fingerprint()
		p.segments = append(p.segments, t.Target.segment())
	}
	return p
}

// installed is the part's engine.Installed: the first time a release
// that fingerprints progress opens the store, it records the steps that
// progress recorded without a fingerprint (by an earlier release)
// counts. They are the steps of the definition in force when this open
// keeps it; when it replaces it, the steps the replaced one had are not
// known here, and none are recorded, so that all such progress restarts.
// The record never changes after that: progress written since carries
// its fingerprint.
func (p *part) installed(tx store.Tx, replaced bool) error {
	var legacy map[string]string
	found, err := record.Get(tx, bSteps, legacyKey, &legacy)
	if err != nil {
		return err
	}
	if !found {
		legacy = map[string]string{}
		if !replaced {
			legacy = maps.Clone(p.fps)
		}
		if err := record.Put(tx, bSteps, legacyKey, legacy); err != nil {
			return err
		}
	}
	p.legacy = legacy
	return nil
}

// DueKinds is empty: tasks have no due work.
func (p *part) DueKinds() []string { return nil }

// MemberBuckets implements engine.MemberKeyed.
func (p *part) MemberBuckets() []string { return []string{bProgress} }

// MemberRecords implements engine.Recorder: the member's progress,
// completions, completion limits' counters and latest completions.
func (p *part) MemberRecords(dst []store.Read, member string) []store.Read {
	return append(dst, engine.MemberRange(bProgress, member), engine.MemberRange(bDone, member),
		engine.MemberRange(bLimits, member), engine.MemberRange(bLast, member))
}

// Due is never called.
func (p *part) Due(*engine.Unit, engine.Item) error { return nil }

func key(member, task string) []byte { return []byte(member + "\x00" + task) }

// scope is the scope of a member's completion counters of a task.
func scope(member, task string) string { return member + "\x00" + task }

// Process counts ev towards every task in its window that listens to it
// and targets the member. Every target is checked against the member as
// they stand when the event reaches the tasks (the level once the level
// part has processed it, the tags from before it), read once before any
// task runs: a task's growth reward that upgrades the member does not
// make the same event count for a task of the new level, whatever the
// tasks' order.
func (p *part) Process(u *engine.Unit, ev event.Event) error {
	idx := p.byType[ev.Type]
	if len(idx) == 0 {
		return nil
	}
	var needLevel, needTags bool
	for _, i := range idx {
		tk := p.def.Tasks[i]
		if tk.Window.Contains(ev.Time) && tk.Matches(ev) {
			needLevel = needLevel || len(tk.Target.Levels) > 0
			needTags = needTags || tk.Target.UsesTags()
		}
	}
	var (
		level string
		tags  []string
		err   error
	)
	if needLevel {
		if level, err = u.MemberLevel(ev.Member); err != nil {
			return err
		}
	}
	if needTags {
		if tags, err = u.MemberTags(ev.Member); err != nil {
			return err
		}
	}
	for _, i := range idx {
		tk := p.def.Tasks[i]
		if !tk.Window.Contains(ev.Time) || !tk.Matches(ev) || !p.targets(i, level, tags) {
			continue
		}
		if err := p.step(u, tk, ev); err != nil {
			return fmt.Errorf("task %q: %w", tk.Name, err)
		}
	}
	return nil
}

// targets is Target.Targets of the i-th task, with its segment parsed
// once, in newPart.
func (p *part) targets(i int, level string, tags []string) bool {
	return p.def.Tasks[i].Target.targets(p.segments[i], level, tags)
}

// step counts ev towards task tk, completing it (and granting its rewards)
// when it is done, unless a completion limit is reached.
func (p *part) step(u *engine.Unit, tk Task, ev event.Event) error {
	member, tx := ev.Member, u.Tx()
	k := key(member, tk.Name)
	prog, err := p.progress(tx, tk, k)
	if err != nil {
		return err
	}
	// The limits are read only for an event that counts: one that would
	// not count anyway (a step out of order, a step done) says nothing
	// of a limit.
	next, step, complete := tk.Step(prog, ev)
	if step < 0 {
		return nil
	}
	sc := scope(member, tk.Name)
	// The reasons name the task, not its index: an index changes when the
	// tasks are reordered.
	ruleID := "task." + tk.Name
	// before[i] is what the i-th limit read from the latest completion,
	// its counter having no value yet: the counter starts from it.
	var before [len(calendar) + 1]int64
	for i, c := range tk.Limits {
		n, fromLatest, err := limitUsed(tx, k, sc, c.Period, u.At(), u.Location())
		if err != nil {
			return err
		}
		if fromLatest && i < len(before) {
			before[i] = n
		}
		if used := decimal.NewFromInt(n); used.GreaterThanOrEqual(c.Limit) {
			return u.Emit(ChangeLimitReached, member, LimitReached{Task: tk.Name, Period: c.Period, Limit: c.Limit}, &rule.Reason{
				Rule: ruleID, Note: "completion limit reached; the event does not count",
				Cut: &rule.Cut{Period: c.Period, Limit: c.Limit, Used: used, Wanted: one, Granted: decimal.Zero},
			})
		}
	}
	why := &rule.Reason{Rule: ruleID, Inputs: map[string]string{"event": ev.ID, "type": ev.Type, "step": fmt.Sprint(step)}}
	if !complete {
		raw, err := json.Marshal(progressRecord{Progress: next, Fingerprint: p.fps[tk.Name]})
		if err != nil {
			return err
		}
		if err := tx.Put(bProgress, k, raw); err != nil {
			return err
		}
		return u.Emit(ChangeProgressed, member, Progressed{Task: tk.Name, Step: step, Done: next.Done(), Need: tk.Need()}, why)
	}
	// Every limit's counter is written, the total's too though limitUsed
	// reads the completions ever for it: an instance of an earlier
	// release reads that counter while a deploy rolls. A counter a
	// version added starts from the completions its period had before.
	for i, n := range before {
		if n > 0 {
			if _, _, err := rule.Use(tx, bLimits, sc, tk.Limits[i:i+1], u.At(), u.Location(), decimal.NewFromInt(n)); err != nil {
				return err
			}
		}
	}
	if _, _, err := rule.Use(tx, bLimits, sc, tk.Limits, u.At(), u.Location(), one); err != nil {
		return err
	}
	if err := countLatest(tx, k, u.At(), u.Location()); err != nil {
		return err
	}
	if err := tx.Delete(bProgress, k); err != nil {
		return err
	}
	n, err := completions(tx, k)
	if err != nil {
		return err
	}
	n++
	if err := u.AddTotal(bDone, k, member, one); err != nil {
		return err
	}
	if err := countDay(u, member, tk.Name); err != nil {
		return err
	}
	why.Note = fmt.Sprintf("completion %d of task %q", n, tk.Name)
	if err := u.Emit(ChangeCompleted, member, Completed{Task: tk.Name, Completions: n, Rewards: tk.Rewards}, why); err != nil {
		return err
	}
	for _, r := range tk.Rewards {
		// A reward refused (a coupon out of stock) is published by its
		// part; the completion stands.
		err := u.Reward(member, r, rule.Source{Kind: rule.FromTask, Name: tk.Name}, rule.Reason{Rule: ruleID, Note: "task " + tk.Name, Inputs: why.Inputs})
		if err != nil && !errors.Is(err, engine.ErrRewardRefused) {
			return fmt.Errorf("reward %s: %w", r.Target(), err)
		}
	}
	return nil
}

// progressRecord is a member's progress on a task as stored: with the
// fingerprint of the steps it counts (Task.fingerprint). Records an
// earlier release wrote have none.
type progressRecord struct {
	Progress
	Fingerprint string `json:"fingerprint,omitempty"`
}

// progress returns the progress on task tk stored under k. It is zero
// when there is none, and when it counts other steps than tk's (an
// earlier definition's), so that it restarts: see the package comment.
func (p *part) progress(tx store.Tx, tk Task, k []byte) (Progress, error) {
	var r progressRecord
	if found, err := record.Get(tx, bProgress, k, &r); err != nil || !found {
		return Progress{}, err
	}
	fp, legacy := r.Fingerprint, r.Fingerprint == ""
	if legacy {
		fp = p.legacy[tk.Name]
	}
	switch {
	case fp != p.fps[tk.Name]:
		return Progress{}, nil
	case len(r.Steps) == len(tk.Steps):
		if err := r.Progress.possible(tk.Kind); err != nil {
			return Progress{}, record.Corrupt(bProgress, k, err)
		}
		return r.Progress, nil
	case legacy:
		// Written before fingerprints, under a definition older than the
		// one they were recorded for: restarts, as it always did.
		return Progress{}, nil
	}
	return Progress{}, record.Corrupt(bProgress, k, fmt.Errorf("%d steps counted, the steps it was recorded for are %d", len(r.Steps), len(tk.Steps)))
}

// possible returns an error when no events of a task of kind k leave
// progress p: a negative count; for a task of several or ordered
// actions, a step counted more than once, or every step done (the
// completion deletes the record); for an ordered one, a step done after
// one not done. A Repeat count at or above Times is possible: a version
// may lower Times.
func (p Progress) possible(k Kind) error {
	done := 0
	for i, n := range p.Steps {
		switch {
		case n < 0:
			return fmt.Errorf("step %d counted %d times", i, n)
		case k == Repeat:
			continue
		case n > 1:
			return fmt.Errorf("step %d of a %q task counted %d times", i, k, n)
		case k == Sequence && n == 1 && done < i:
			return fmt.Errorf("step %d of a %q task done before step %d", i, k, done)
		}
		done += n
	}
	if k != Repeat && done >= len(p.Steps) {
		return fmt.Errorf("every step of a %q task done, yet not completed", k)
	}
	return nil
}

// limitUsed returns the completions counted against a limit of period pd at
// t: for rule.Total the completions ever (k's), so that a total limit a
// version adds counts those made before it; for a calendar period the
// counter of the period containing t (sc's in bLimits), which starts when
// the period is first limited. Before, while that counter has no value,
// the period's completions are those the member's latest completion
// counted (fromLatest), when t falls in its period: a limit a version
// adds counts the completions of the member's current period made before
// it (since the release that keeps the latest completion).
func limitUsed(tx store.Tx, k []byte, sc string, pd rule.Period, t time.Time, loc *time.Location) (n int64, fromLatest bool, err error) {
	if pd == rule.Total {
		n, err = completions(tx, k)
		return n, false, err
	}
	if n, err = rule.UsedCount(tx, bLimits, sc, pd, t, loc); err != nil || n > 0 {
		return n, false, err
	}
	l, found, err := loadLatest(tx, k)
	if err != nil || !found {
		return 0, false, err
	}
	return l.count(pd, t, loc), true, nil
}

// completions returns a member's completions of a task, ever.
func completions(tx store.Tx, k []byte) (int64, error) {
	return engine.Count(tx, bDone, k)
}
