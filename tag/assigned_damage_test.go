package tag_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// TestTagDamagedAssignedRecord: a member's tag record (who gave it, when
// and why) is kept under the member and the tag's name; one that decodes
// but does not say it is that tag's ("{}": no tag, no time; a record
// naming complained under the key of staff) is damage, which Of and
// Profile report as store.ErrCorrupt. Before, Of listed a tag named ""
// given at the zero time by nobody, or complained, which m does not hold
// (the index and counts say staff). The record as written reads back.
func TestTagDamagedAssignedRecord(t *testing.T) {
	ctx := context.Background()
	for name, value := range map[string]string{
		"empty object":  `{}`,
		"another tag":   `{"tag":"complained","manual":true,"by":"op","at":"2026-03-02T02:00:00Z"}`,
		"no time":       `{"tag":"staff","manual":true,"by":"op"}`,
		"as it was put": `{"tag":"staff","manual":true,"by":"op","at":"2026-03-02T02:00:00Z","event":"a"}`,
	} {
		t.Run(name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, tagDef())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "a", Member: "m", Operator: "op", At: shanghaiAt, Tag: "staff"}); err != nil {
				t.Fatal(err)
			}
			testkit.Overwrite(t, st, "tag.assigned", []byte(value))
			as, err := p.Tags().Of(ctx, "m")
			_, perr := p.Tags().Profile(ctx, "m")
			if name == "as it was put" {
				if err != nil || perr != nil || len(as) != 1 || as[0].Tag != "staff" || !as[0].At.Equal(shanghaiAt) {
					t.Errorf("Of = %+v, %v; Profile: %v; want staff at %v", as, err, perr, shanghaiAt)
				}
				return
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Of = %+v, %v; want store.ErrCorrupt", as, err)
			}
			if !errors.Is(perr, store.ErrCorrupt) {
				t.Errorf("Profile: %v; want store.ErrCorrupt", perr)
			}
		})
	}
}
