package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// replayEndpoint answers 503 to every request until broken is cleared,
// then 204, except to the delivery ID replayed, which it answers 503
// after running during as the replay's attempt is under way, its error
// sent on ran.
type replayEndpoint struct {
	broken   atomic.Bool
	replayed atomic.Value // string: the delivery ID under replay
	during   func() error // set before the replay
	ran      chan error   // buffered: one replay attempt
}

func (e *replayEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get(webhook.HeaderDelivery)
	if rid, _ := e.replayed.Load().(string); rid != "" && id == rid {
		e.ran <- e.during()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if e.broken.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// A replay that fails leaves the dead letter as it finds it after the
// attempts: one discarded, or dropped by its member's erasure, while the
// replay's attempt was under way stays gone (it held the member's
// personal data), and Replay says so.
func TestReplayFailingAfterTheDeadLetterWentLeavesItGone(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"discarded", "erased"} {
		t.Run(how, func(t *testing.T) {
			st := memory.New()
			p := openProgram(t, st)
			orders(t, p, "a", 1, "bob")
			e := &replayEndpoint{ran: make(chan error, 1)}
			e.broken.Store(true)
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			d, err := webhook.New(p, st, consumer, srv.URL, []byte(secret), webhook.WithClock(clock),
				webhook.WithWait((&waits{}).wait), webhook.WithAttempts(1))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			dls, err := d.DeadLetters(ctx, 0, 0)
			if err != nil || len(dls) == 0 {
				t.Fatalf("dead letters %v, %v; the test needs bob's", dls, err)
			}
			seq := dls[0].Change.Seq
			e.broken.Store(false)
			e.replayed.Store(deliveryID(t, dls[0].Change))
			switch how {
			case "discarded":
				e.during = func() error { return d.Discard(ctx, seq) }
			case "erased":
				if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-bob", Member: "bob", Operator: "dpo",
					At: time.Date(2026, 2, 2, 10, 0, 0, 0, p.Location())}); err != nil {
					t.Fatal(err)
				}
				// The Deliverer sends the erasure, acknowledged, and drops
				// bob's dead letters, while the replay waits for its answer.
				e.during = func() error { _, err := d.Flush(ctx); return err }
			}
			err = d.Replay(ctx, seq)
			if during := <-e.ran; during != nil {
				t.Fatalf("%s during the replay: %v", how, during)
			}
			if !errors.Is(err, webhook.ErrUndelivered) || !errors.Is(err, webhook.ErrNoDeadLetter) {
				t.Errorf("Replay = %v, want ErrUndelivered and ErrNoDeadLetter", err)
			}
			dls, err = d.DeadLetters(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range dls {
				if dl.Change.Seq == seq || how == "erased" && dl.Change.Member == "bob" && dl.Change.Kind != change.MemberErased {
					t.Errorf("dead letter %d of bob (%s) back after the replay", dl.Change.Seq, dl.Change.Kind)
				}
			}
		})
	}
}
