package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
)

// TestReplayRandChanged checks the random source of a replay under a
// changed definition: the journal's bytes first, then the engine's own,
// and bytes left over are no error; a strict replay refuses both.
func TestReplayRandChanged(t *testing.T) {
	own := bytes.Repeat([]byte{9}, 16)
	e := New(memory.New(), time.UTC, Options{Rand: bytes.NewReader(own)})
	done := e.ReplayingChanged([]byte{1, 2, 3})
	tp := e.newTape()
	got := make([]byte, 5)
	if _, err := io.ReadFull(tp.src, got); err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 2, 3, 9, 9}; !bytes.Equal(got, want) {
		t.Errorf("drew %v, want %v", got, want)
	}
	done()
	if e.newTape() != nil {
		t.Error("a tape after the replay, with the journal off")
	}

	done = e.ReplayingChanged([]byte{1, 2, 3})
	tp = e.newTape()
	if _, err := io.ReadFull(tp.src, got[:1]); err != nil || got[0] != 1 {
		t.Fatalf("drew %v, %v", got[0], err)
	}
	done() // two bytes left: no error

	strict := e.Replaying([]byte{1, 2, 3})
	if _, err := io.ReadFull(e.newTape().src, got); !errors.Is(err, ErrReplayDiverged) {
		t.Errorf("strict replay drawing more than the journal's bytes: %v", err)
	}
	if _, err := strict(); !errors.Is(err, ErrReplayDiverged) {
		t.Errorf("strict replay leaving bytes: %v", err)
	}
}

// TestUsed checks what makes a store used for a replay: nothing in a new
// store; an event record, or a watermark.
func TestUsed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(e *Engine) error
		want bool
	}{
		{"new", func(*Engine) error { return nil }, false},
		{"an event", func(e *Engine) error {
			_, err := e.Process(ctx, event.Event{ID: "e1", Member: "ann", Type: "order", Time: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)})
			return err
		}, true},
		{"a watermark", func(e *Engine) error {
			_, err := e.Advance(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			defer st.Close()
			e := New(st, time.UTC, Options{})
			if err := tc.do(e); err != nil {
				t.Fatal(err)
			}
			if used, err := Used(ctx, st); err != nil || used != tc.want {
				t.Errorf("Used = %v, %v; want %v", used, err, tc.want)
			}
		})
	}
}
