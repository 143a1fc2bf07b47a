package level_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// A store an older version wrote holds level history records as JSON:
// History reads them beside the records written since, in the program's
// zone.
func TestHistoryReadsJSONRecordsOfOlderStores(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	old := `{"seq":1,"time":"2025-01-01T00:00:00+08:00","cause":"join","to":"member","event":"b0"}`
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Put("level.history", keys.New().Str("m1").U64(1), []byte(old))
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, testkit.OrderDef())
	if err != nil {
		t.Fatal(err)
	}
	// m2's join and its move to gold (1,000 growth) are written now.
	testkit.MustProcess(t, p, event.Event{ID: "o1", Member: "m2", Type: "order", Time: time.Date(2025, 2, 1, 10, 0, 0, 0, testkit.Shanghai),
		Attrs: event.Attrs{"amount": event.DecString("1000")}})
	h, err := p.Levels().History(ctx, "m1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []level.Record{{Seq: 1, Time: time.Date(2025, 1, 1, 0, 0, 0, 0, testkit.Shanghai), Cause: level.CauseJoin, To: "member", Event: "b0"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("history of m1 (-want +got):\n%s", diff)
	}
	h, err = p.Levels().History(ctx, "m2", 0, 10)
	if err != nil || len(h) != 2 || h[1].To != "gold" {
		t.Errorf("history of m2: %+v, %v", h, err)
	}
}
