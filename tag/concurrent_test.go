package tag_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// TestTagConcurrentManualCalls: operators adding and removing the same
// manual tags of the same members at once, while others read segments
// and counts, leave each count equal to the members holding the tag
// (Of) and to the segment's members, on every store (run with -race).
// Each of 4 goroutines adds staff and complained to m0..m4, then removes
// staff from m0 and m1: m2..m4 hold staff whatever the order (m0 and m1
// if another's add came last), and m0..m4 complained.
func TestTagConcurrentManualCalls(t *testing.T) {
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), tagDef())
			if err != nil {
				t.Fatal(err)
			}
			h := p.Tags()
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 4 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					for i := range 5 {
						m := fmt.Sprint("m", i)
						for _, tg := range []string{"staff", "complained"} {
							if _, err := h.Add(ctx, tag.ManualRequest{RequestID: fmt.Sprint(g, "add", tg, m), Member: m, Operator: "op", At: shanghaiAt, Tag: tg}); err != nil {
								errs <- err
							}
						}
					}
					for i := range 2 {
						m := fmt.Sprint("m", i)
						if _, err := h.Remove(ctx, tag.ManualRequest{RequestID: fmt.Sprint(g, "rm", m), Member: m, Operator: "op", At: shanghaiAt, Tag: "staff"}); err != nil {
							errs <- err
						}
					}
				}()
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := h.Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse("staff or complained")}); err != nil {
							errs <- err
						}
						if _, err := h.Counts(ctx); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// Removals run after each goroutine's own adds, but another's
			// add may follow them: m0 and m1 hold staff only if an add
			// came after every removal. Count what Of says.
			holders := map[string][]string{}
			for i := range 5 {
				m := fmt.Sprint("m", i)
				for _, tg := range tagsOf(t, p, m) {
					holders[tg] = append(holders[tg], m)
				}
			}
			counts, err := h.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range []string{"staff", "complained"} {
				if counts[tg] != int64(len(holders[tg])) {
					t.Errorf("Counts[%s] = %d; Of lists %v", tg, counts[tg], holders[tg])
				}
				if got := segmentOf(t, p, tg); fmt.Sprint(got) != fmt.Sprint(holders[tg]) {
					t.Errorf("Segment(%s) = %v; Of lists %v", tg, got, holders[tg])
				}
			}
			for _, m := range []string{"m2", "m3", "m4"} {
				if !slices.Contains(holders["staff"], m) {
					t.Errorf("staff held by %v; want m2, m3 and m4 among them", holders["staff"])
				}
			}
			if len(holders["complained"]) != 5 {
				t.Errorf("complained held by %v; want m0..m4", holders["complained"])
			}
		})
	}
}
