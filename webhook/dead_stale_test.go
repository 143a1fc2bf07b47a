package webhook_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// cursorDown is a feed whose cursor cannot be stored while down is set,
// as when the process dies between a batch's dead letters and the
// cursor's move over them.
type cursorDown struct {
	cursorOf
	down atomic.Bool
}

var errCursorDown = errors.New("cursor store down")

func (c *cursorDown) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	return c.inner.Feed(ctx, after, limit)
}

func (c *cursorDown) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if c.down.Load() {
		return errCursorDown
	}
	return c.cursorOf.SetCursor(ctx, consumer, seq)
}

// A change dead-lettered, then sent again because the cursor had not
// moved over it (the cursor's write failed, or the process died before
// it), and acknowledged this time is no longer a dead letter: the
// operator's list holds only what the endpoint never took.
func TestDeliveredAfterARestartIsNoLongerADeadLetter(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	all := feedAll(t, p)
	var broken atomic.Bool
	broken.Store(true)
	rc := newReceiver(t, func(request) action {
		if broken.Load() {
			return fail
		}
		return ack
	})
	feed := &cursorDown{cursorOf: cursorOf{p}}
	feed.down.Store(true)
	d, err := webhook.New(feed, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait((&waits{}).wait), webhook.WithAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); !errors.Is(err, errCursorDown) {
		t.Fatalf("first Flush = %v, want the cursor's error", err)
	}
	dls, err := d.DeadLetters(ctx, 0, 0)
	if err != nil || len(dls) != len(all) {
		t.Fatalf("dead letters after the first Flush: %d, %v; want %d", len(dls), err, len(all))
	}
	broken.Store(false)
	feed.down.Store(false)
	n, err := d.Flush(ctx)
	if err != nil || n != len(all) {
		t.Fatalf("second Flush = %d, %v; want %d", n, err, len(all))
	}
	dls, err = d.DeadLetters(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, dl := range dls {
		t.Errorf("dead letter %d (%s) left after its change was acknowledged", dl.Change.Seq, dl.Change.Kind)
	}
	// Each change counted once, as the cursor passed it: delivered (the
	// first send's dead letters, which the cursor never passed, are not
	// counted).
	want := webhook.Stats{Delivered: uint64(len(all))}
	if s := d.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

// A change dead-lettered again, once more sent because the cursor had
// not passed it, keeps the attempts of both sends in its dead letter:
// Attempts counts every attempt made.
func TestDeadLetteredTwiceCountsBothSendsAttempts(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	all := feedAll(t, p)
	rc := newReceiver(t, func(request) action { return fail })
	feed := &cursorDown{cursorOf: cursorOf{p}}
	feed.down.Store(true)
	d, err := webhook.New(feed, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait((&waits{}).wait), webhook.WithAttempts(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); !errors.Is(err, errCursorDown) {
		t.Fatalf("first Flush = %v, want the cursor's error", err)
	}
	feed.down.Store(false)
	if n, err := d.Flush(ctx); err != nil || n != len(all) {
		t.Fatalf("second Flush = %d, %v; want %d", n, err, len(all))
	}
	dls, err := d.DeadLetters(ctx, 0, 0)
	if err != nil || len(dls) != len(all) {
		t.Fatalf("dead letters: %d, %v; want %d", len(dls), err, len(all))
	}
	for _, dl := range dls {
		if dl.Attempts != 4 { // 2 in each Flush
			t.Errorf("dead letter %d: %d attempts, want 4", dl.Change.Seq, dl.Attempts)
		}
	}
}
