package engine

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/codec"
)

// A journal record is damaged, not misread, when bytes follow it (they
// were ignored) or when its page of due work counts more items than an
// int holds (read as a negative count).
func TestJournalInputMisreadRefused(t *testing.T) {
	at := time.Unix(1, 0)
	good := Input{Kind: InputRequest, Version: 1, At: at, Action: "points.adjust", Body: []byte(`{}`), Rand: []byte{7}}.appendTo(nil)
	if _, err := decodeInput(1, good); err != nil {
		t.Fatalf("decodeInput of a good record: %v", err)
	}
	trailing := append(good[:len(good):len(good)], 0)
	huge := codec.Writer{B: []byte{journalV1, InputAdvance}}
	huge.Uint(1)
	huge.Time(at)
	huge.Uint(math.MaxInt64 + 1)
	huge.String("")
	for name, b := range map[string][]byte{"trailing": trailing, "items beyond int": huge.B} {
		if in, err := decodeInput(1, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeInput(%x) = %+v, %v; want ErrCorrupt", name, b, in, err)
		}
	}
}
