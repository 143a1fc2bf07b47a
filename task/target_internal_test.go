package task

import (
	"fmt"
	"testing"
)

// The part matches each task's target with its segment parsed once
// (part.targets), and answers as Target.Targets, which parses it on every
// call, does: for levels, tags and segments, a segment that does not parse
// (Definition.Check refuses it) targeting no one. Matching allocates
// nothing, so a part that parsed the segment again would fail here.
func TestPartTargetsAsTargets(t *testing.T) {
	targets := []Target{
		{},
		{Levels: []string{"gold"}},
		{Tags: []string{"vip", "staff"}},
		{Segment: "vip"},
		{Segment: "(staff or vip) and not churned"},
		{Segment: "not churned"},
		{Levels: []string{"silver", "gold"}, Tags: []string{"vip"}, Segment: "not churned"},
		{Segment: "vip and ("}, // does not parse
		{Segment: "vip or"},    // does not parse
	}
	var def Definition
	for i, tg := range targets {
		def.Tasks = append(def.Tasks, Task{Name: fmt.Sprint("t", i), Kind: One, Steps: []Step{{Event: "order"}}, Target: tg})
	}
	p := newPart(def)
	members := []struct {
		level string
		tags  []string
	}{
		{"", nil},
		{"gold", nil},
		{"silver", []string{"vip"}},
		{"gold", []string{"vip", "churned"}},
		{"bronze", []string{"staff"}},
		{"gold", []string{"staff", "churned"}},
	}
	for i, tg := range targets {
		for _, m := range members {
			if got, want := p.targets(i, m.level, m.tags), tg.Targets(m.level, m.tags); got != want {
				t.Errorf("%+v, level %q, tags %v: part says %v, Targets %v", tg, m.level, m.tags, got, want)
			}
		}
	}
	// Hand-worked: a member with vip and not churned is in segment 4, one
	// also churned is not; a malformed segment targets no one.
	if !p.targets(4, "", []string{"vip"}) || p.targets(4, "", []string{"vip", "churned"}) || p.targets(7, "", []string{"vip"}) {
		t.Error("segment (staff or vip) and not churned, or a malformed one, matched wrongly")
	}
	tags := []string{"staff"}
	if n := testing.AllocsPerRun(100, func() { p.targets(4, "gold", tags) }); n != 0 {
		t.Errorf("matching a target allocates %v times, want 0 (the segment parsed again?)", n)
	}
}
