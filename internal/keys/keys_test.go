package keys_test

import (
	"math"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/keys"
)

// TimeU64 sorts like time within the range a key holds exactly, and
// saturates beyond it instead of wrapping around (an instant of 2300 used
// to sort before 1970, so a scan up to it missed everything).
func TestTimeU64(t *testing.T) {
	in := []time.Time{
		time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Date(2026, 11, 24, 10, 0, 0, 1, time.UTC),
		time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for i, at := range in {
		if !keys.InRange(at) {
			t.Errorf("InRange(%v) = false", at)
		}
		if got := keys.U64Time(keys.TimeU64(at)); !got.Equal(at) {
			t.Errorf("U64Time(TimeU64(%v)) = %v", at, got)
		}
		if i > 0 && keys.TimeU64(in[i-1]) >= keys.TimeU64(at) {
			t.Errorf("TimeU64(%v) does not sort before TimeU64(%v)", in[i-1], at)
		}
	}
	for _, tt := range []struct {
		at   time.Time
		want uint64
	}{
		{time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(-300, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2262, 12, 1, 0, 0, 0, 0, time.UTC), math.MaxUint64 - 1},
		{time.Date(3026, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxUint64 - 1},
		{time.Time{}, math.MaxUint64},
	} {
		if got := keys.TimeU64(tt.at); got != tt.want {
			t.Errorf("TimeU64(%v) = %d; want %d", tt.at, got, tt.want)
		}
		if !tt.at.IsZero() && keys.InRange(tt.at) {
			t.Errorf("InRange(%v) = true", tt.at)
		}
	}
}
