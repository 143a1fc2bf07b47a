package coupon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// draw counts units of the money scale: from 1 to 3 there are 3 whole
// units and 201 cents, so the values 0, 1 and 5 read from the source draw
// 1 + 0 % 3 = 1, 1 + 1 % 3 = 2 and 1 + 5 % 3 = 3 in whole units, and
// 1.00, 1.01 and 1.05 in cents. A scale outside 0 to 8 is refused.
func TestDrawAtScale(t *testing.T) {
	src := func() *bytes.Reader {
		var b []byte
		for _, v := range []uint64{0, 1, 5} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		return bytes.NewReader(b)
	}
	lo, hi := decimal.NewFromInt(1), decimal.NewFromInt(3)
	for _, tc := range []struct {
		dp   int32
		want []string
	}{
		{0, []string{"1", "2", "3"}},
		{2, []string{"1", "1.01", "1.05"}},
	} {
		r := src()
		for i, want := range tc.want {
			got, err := draw(r, lo, hi, tc.dp)
			if err != nil || got.String() != want || got.Exponent() != -tc.dp {
				t.Errorf("scale %d: draw %d = %s (exponent %d), %v; want %s", tc.dp, i, got, got.Exponent(), err, want)
			}
		}
	}
	for _, dp := range []int32{-1, 9} {
		if _, err := draw(src(), lo, hi, dp); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("scale %d: %v, want event.ErrInvalidArgument", dp, err)
		}
	}
}
