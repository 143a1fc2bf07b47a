package coupon

import (
	"slices"

	"github.com/memberkit/membership/internal/engine"
)

var _ engine.Eraser = (*part)(nil)

// Erase blanks the notes of the member's coupons (an operator's note on a
// revocation, free text that may hold personal data), and releases the
// coupons locked for the member's orders, as Release would (published as
// ChangeReleased, or ChangeExpired for one whose validity ended, with a
// note naming the erasure): Use and Release of an erased member's order
// are refused, so a lock without a hold would keep its coupons for ever.
// A coupon so released expires in due course. An erasure dated before a
// lock is refused, as a Release would be. The coupons, their codes,
// states, amounts and the orders they were used for are kept.
func (c *part) Erase(u *engine.Unit, member string) error {
	b := c.book(u)
	cs, err := b.Coupons(member, false)
	if err != nil {
		return err
	}
	var orders []string
	for _, cp := range cs {
		if cp.State == Locked && !slices.Contains(orders, cp.Order) {
			orders = append(orders, cp.Order)
		}
		if cp.Note == "" {
			continue
		}
		cp.Note = ""
		if err := b.save(cp); err != nil {
			return err
		}
	}
	for _, o := range orders {
		// A hold that ran out by the erasure releases its coupons at its
		// end first, as it does for a Release.
		if err := c.holdsRanOut(u, o); err != nil {
			return err
		}
		left, err := b.locked(o)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			continue
		}
		released, err := b.release(o, u.At())
		if err != nil {
			return err
		}
		if err := c.emitOrder(u, released, o, ChangeReleased, "released by the member's erasure"); err != nil {
			return err
		}
	}
	return nil
}
