package due

import (
	"strings"
	"time"
)

// stampDigits are the digits of a stamp, in ASCII order, so that stamps
// sort as the seconds they encode.
const stampDigits = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// stampLen is the length of a stamp: 6 digits of 6 bits, the seconds
// since 1970 offset by 2^35 (the years 881 to 3058; times beyond them
// share the first or the last stamp).
const stampLen = 6

// Stamp returns id preceded by a stamp of scheduled, the time the item is
// scheduled at, to the second. Items of one instant and kind are keyed by
// ID: with a member's ID, a day's window edges, scheduled as the day's
// events arrive, land at random among the instant's items, and at a
// million members each event dirtied a page of the index of its own at
// the next checkpoint. Stamped, they land after the items scheduled a
// second or more before them: a checkpoint writes a few pages. The caller
// keeps scheduled, to cancel the item, and uses its own kind for stamped
// items, so that Unstamp is only asked of stamped IDs.
func Stamp(scheduled time.Time, id string) string {
	const off = 1 << 35
	s := min(max(scheduled.Unix()+off, 0), 1<<36-1)
	var b strings.Builder
	b.Grow(stampLen + len(id))
	for i := stampLen - 1; i >= 0; i-- {
		b.WriteByte(stampDigits[s>>(6*i)&63])
	}
	b.WriteString(id)
	return b.String()
}

// Unstamp returns the ID a stamped ID was made from; ok is false when id
// does not start with a stamp.
func Unstamp(id string) (string, bool) {
	if len(id) < stampLen {
		return "", false
	}
	for i := range stampLen {
		if strings.IndexByte(stampDigits, id[i]) < 0 {
			return "", false
		}
	}
	return id[stampLen:], true
}
