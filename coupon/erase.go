package coupon

import "github.com/memberkit/membership/internal/engine"

var _ engine.Eraser = (*part)(nil)

// Erase blanks the notes of the member's coupons (an operator's note on a
// revocation, free text that may hold personal data). The coupons, their
// codes, states, amounts and orders are kept.
func (c *part) Erase(u *engine.Unit, member string) error {
	b := c.book(u)
	cs, err := b.Coupons(member, false)
	if err != nil {
		return err
	}
	for _, cp := range cs {
		if cp.Note == "" {
			continue
		}
		cp.Note = ""
		if err := b.save(cp); err != nil {
			return err
		}
	}
	return nil
}
