package level_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// monthlyDef is a ladder whose Bronze level runs terms of one calendar
// month (month-ends 0) with no retention threshold: a Bronze member is
// kept at every term end, one a month, for as long as nobody advances the
// program.
func monthlyDef() membership.Definition {
	return membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "check_in"}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Bronze", Upgrade: d("10"), Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}, Window: 1},
			},
			Growth: []level.GrowthRule{{ID: "check-in", Event: "check_in", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("10")}}},
		},
	}
}

// An event performs the term ends Advance has not performed before it
// applies, up to level.MaxCatchUp of them. With more due it fails with
// ErrCatchUpLimit and writes nothing, rather than applying the event to a
// term that ended long before it; Advance then performs them, and the
// event goes through.
func TestLevelCatchUpLimit(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, monthlyDef())
	joined := lvlAt("1900-01-15 10:00")
	for _, m := range []string{"ann", "bob"} {
		mustProcess(t, p, lvlEvent("c0-"+m, m, "check_in", joined, nil))
		lvlWant(t, p, m, "Bronze", "10", "1900-02-01")
	}
	// The term ends fall on the first of every month from 1900-02-01: the
	// 1,200th is 1900-02-01 + 1,199 months = 2000-01-01, the 1,201st
	// 2000-02-01.
	if level.MaxCatchUp != 1200 {
		t.Fatalf("MaxCatchUp = %d; the dates below assume 1200", level.MaxCatchUp)
	}

	// bob: exactly MaxCatchUp term ends due, all performed by the event.
	mustProcess(t, p, lvlEvent("c1-bob", "bob", "check_in", lvlAt("2000-01-15 10:00"), nil))
	s := lvlWant(t, p, "bob", "Bronze", "10", "2000-02-01")
	if !s.Since.Equal(lvlAt("2000-01-01")) {
		t.Errorf("bob's term since %v, want 2000-01-01", s.Since.In(zone))
	}
	if n := countCause(lvlHistoryAll(t, p, "bob"), level.CauseTermEnd); n != 1200 {
		t.Errorf("bob's history has %d term ends, want 1200", n)
	}

	// ann: one more is due, and the event is refused; nothing changes.
	late := lvlEvent("c1-ann", "ann", "check_in", lvlAt("2000-02-15 10:00"), nil)
	_, err := p.Process(ctx, late)
	if !errors.Is(err, level.ErrCatchUpLimit) {
		t.Fatalf("Process after 1,201 term ends: %v, want ErrCatchUpLimit", err)
	}
	lvlWant(t, p, "ann", "Bronze", "10", "1900-02-01")
	if n := len(lvlHistoryAll(t, p, "ann")); n != 2 {
		t.Errorf("ann's history has %d records after the refused event, want 2 (join, upgrade)", n)
	}

	// Advance performs them in transactions of its own; the event then
	// applies in the term it falls in.
	if _, err := p.Advance(ctx, late.Time); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, late)
	lvlWant(t, p, "ann", "Bronze", "10", "2000-03-01")
	if n := countCause(lvlHistoryAll(t, p, "ann"), level.CauseTermEnd); n != 1201 {
		t.Errorf("ann's history has %d term ends, want 1201", n)
	}
}

// lvlHistoryAll returns a member's whole level history, page by page.
func lvlHistoryAll(t *testing.T, p *membership.Program, member string) []level.Record {
	t.Helper()
	var all []level.Record
	var after uint64
	for {
		page, err := p.Levels().History(context.Background(), member, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

func countCause(h []level.Record, c level.Cause) int {
	n := 0
	for _, r := range h {
		if r.Cause == c {
			n++
		}
	}
	return n
}
