package tally

import (
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
)

// TestFeedHeldOnce checks CheckFeed fails on a change the feed holds twice
// (same kind, member, event, time and data, at another position) and on a
// position that does not follow the one before, and passes otherwise.
func TestFeedHeldOnce(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tagged := func(seq uint64, member string) change.Change {
		return change.Change{Seq: seq, Kind: "tag.added", Member: member, Event: "e1", Time: at, Data: []byte(`{"tag":"vip"}`)}
	}
	for _, c := range []struct {
		name string
		page []change.Change
		want []string // the failures, in part
	}{
		{"each once", []change.Change{tagged(1, "m1"), tagged(2, "m2")}, nil},
		{"repeated", []change.Change{tagged(1, "m1"), tagged(2, "m2"), tagged(3, "m1")},
			[]string{"change 3 (tag.added of m1, event \"e1\") repeats change 1"}},
		{"gap", []change.Change{tagged(1, "m1"), tagged(3, "m2")}, []string{"change 3 (tag.added of m2) follows 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := New()
			if err := tl.add(c.page); err != nil {
				t.Fatal(err)
			}
			var checks Checks
			tl.CheckFeed(&checks)
			if len(c.want) == 0 {
				if err := checks.Err(); err != nil {
					t.Fatalf("CheckFeed: %v", err)
				}
				return
			}
			if len(checks.Failures) != 1+len(c.want) {
				t.Fatalf("CheckFeed failures %q, want the summary and %q", checks.Failures, c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(checks.Failures[1+i], w) {
					t.Errorf("failure %q lacks %q", checks.Failures[1+i], w)
				}
			}
		})
	}
}
