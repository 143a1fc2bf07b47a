package due

import (
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/memberkit/membership/internal/keys"
)

// stampLen is the length of a stamp: keys.TimeU64 in hex.
const stampLen = 16

// Stamp returns id preceded by a stamp of scheduled, the time the item is
// scheduled at (16 hex digits that sort like it). Items of one instant
// and kind are keyed by ID: with a member's ID, a day's expiries or window
// edges, scheduled as the day's events arrive, land at random among the
// instant's items, and at a million members each event dirtied a page of
// the index of its own at the next checkpoint (about 1,400 of 10,500 pages
// of a checkpoint in BenchmarkScaleProcess64). Stamped, they land after
// the items scheduled before them: a checkpoint appends to a few pages.
// The caller keeps scheduled, to cancel the item, and uses its own kind
// for stamped items, so that Unstamp is only asked of stamped IDs.
func Stamp(scheduled time.Time, id string) string {
	var b [stampLen]byte
	hex.Encode(b[:], binary.BigEndian.AppendUint64(make([]byte, 0, 8), keys.TimeU64(scheduled)))
	return string(b[:]) + id
}

// Unstamp returns the ID a stamped ID was made from; ok is false when id
// does not start with a stamp.
func Unstamp(id string) (string, bool) {
	if len(id) < stampLen {
		return "", false
	}
	for i := range stampLen {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return id[stampLen:], true
}
