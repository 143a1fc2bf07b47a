package tally_test

import (
	"testing"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/tally"
)

// TestMoveWords checks the level moves and pack modes the reports print
// are in an operator's words, not the library's codes.
func TestMoveWords(t *testing.T) {
	for _, c := range []struct{ key, move, why string }{
		{"event Silver→Gold", "Silver → Gold", "upgraded by growth"},
		{"term_end Gold→Silver", "Gold → Silver", "term ended below the retention threshold"},
		{"unfreeze Visitor→Explorer", "Visitor → Explorer", "frozen level given back"},
		{"manual Gold→Diamond", "Gold → Diamond", "set by an operator"},
		{"garbled", "garbled", ""},
	} {
		move, why := tally.Move(c.key)
		if move != c.move || why != c.why {
			t.Errorf("Move(%q) = %q, %q; want %q, %q", c.key, move, why, c.move, c.why)
		}
	}
	if got := tally.PackMode(coupon.AnyInvalid); got != "stops when any coupon runs out" {
		t.Errorf("PackMode(any_invalid) = %q", got)
	}
	if got := tally.PackMode(coupon.AllInvalid); got != "goes on while any coupon is left" {
		t.Errorf("PackMode(all_invalid) = %q", got)
	}
}
