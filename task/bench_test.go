package task_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// engBenchDef has 20 active tasks (all four types, half of them listening
// to orders, with daily limits and points rewards) and 20 tag rules (5 of
// them windowed).
func engBenchDef() membership.Definition {
	def := engDef()
	var tasks []task.Task
	reward := []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("5")}}
	limit := rule.Caps{{Period: rule.Day, Limit: dec("3")}, {Period: rule.Total, Limit: dec("1000")}}
	for i := range 20 {
		tk := task.Task{Name: fmt.Sprintf("task%02d", i), Rewards: reward, Limits: limit}
		switch i % 4 {
		case 0:
			tk.Kind, tk.Steps = task.One, []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString(fmt.Sprint(10 * i))}}}}
		case 1:
			tk.Kind, tk.Times, tk.Steps = task.Repeat, 3, engSteps("order")
		case 2:
			tk.Kind, tk.Steps = task.All, engSteps("order", "share", "browse")
		case 3:
			tk.Kind, tk.Steps = task.Sequence, engSteps("browse", "cart", "order")
		}
		tasks = append(tasks, tk)
	}
	def.Tasks = &task.Definition{Tasks: tasks}
	var rules []tag.Rule
	for i := range 20 {
		var c tag.Cond
		switch i % 4 {
		case 0:
			c = tag.Cond{Fact: tag.FactOrderCount, Days: 30 * (i/4 + 1), Op: event.Gte, Value: event.Int(int64(i/4 + 1))}
		case 1:
			c = tag.Cond{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString(fmt.Sprint(100 * i))}
		case 2:
			c = tag.Cond{Fact: tag.FactTopCategory, Op: event.Eq, Value: event.Str(fmt.Sprint("cat", i%5))}
		case 3:
			c = tag.Cond{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("silver")}
		}
		rules = append(rules, tag.Rule{Tag: fmt.Sprintf("rule%02d", i), All: []tag.Cond{c}})
	}
	def.Tags.Rules = rules
	def.Coupons.Templates[1].Claim.Tags = nil // M is not a tag of this definition
	return def
}

// BenchmarkEngageProcess20Tasks20Rules processes orders of 1,000 members
// through 20 tasks and 20 tag rules (and the other domains of engDef).
func BenchmarkEngageProcess20Tasks20Rules(b *testing.B) {
	for _, backend := range []string{"memory", "bolt"} {
		b.Run(backend, func(b *testing.B) {
			var p *membership.Program
			if backend == "memory" {
				p = testkit.OpenMemory(b, engBenchDef())
			} else {
				p = testkit.OpenBolt(b, engBenchDef())
			}
			ctx := context.Background()
			start := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := engOrder(fmt.Sprint("o", i), fmt.Sprintf("m%04d", i%1000), fmt.Sprint(50+i%300), start.Add(time.Duration(i)*time.Minute), fmt.Sprint("cat", i%5))
				if _, err := p.Process(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProcessSegmentTargets processes check-ins of 1,000 members
// through 10 tasks whose targets are a tag segment: every event reads the
// member's tags and matches each task's segment. A tenth of the members
// are staff, and so in the segment; a task completes once a member.
func BenchmarkProcessSegmentTargets(b *testing.B) {
	var tasks []task.Task
	for i := range 10 {
		tasks = append(tasks, task.Task{Name: fmt.Sprintf("task%02d", i), Kind: task.One, Steps: engSteps("checkin"),
			Target:  task.Target{Segment: "(staff or frequent) and not complained and not (women and big-spender)"},
			Rewards: engPts10})
	}
	p := testkit.OpenMemory(b, engDef(tasks...))
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	for m := 0; m < 1000; m += 10 {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: fmt.Sprint("tag", m), Member: fmt.Sprintf("m%04d", m),
			Operator: "ops", Tag: "staff", At: start}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev := engEvent(fmt.Sprint("c", i), fmt.Sprintf("m%04d", i%1000), "checkin", start.Add(time.Duration(i+1)*time.Second), nil)
		if _, err := p.Process(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
