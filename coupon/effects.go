package coupon

import (
	"fmt"

	"github.com/memberkit/membership/change"
)

// Effects is what an outcome did to coupons, read from its changes: each
// coupon as it was after the change, with its times in the zone of the
// change's time (the program's).
type Effects struct {
	// Issued are the coupons issued (claims, gifts, rewards, packs).
	Issued []Coupon
	// Packs are the packs given.
	Packs []PackIssued
	// Refused are the gifts and rewards that could not be issued.
	Refused []Refusal
	// Locked are the coupons locked for an order, each with its amount
	// off; Released those given back, Used those used (by an order or a
	// redemption), Expired those whose validity ended, Revoked those an
	// operator revoked.
	Locked   []Coupon
	Released []Coupon
	Used     []Coupon
	Expired  []Coupon
	Revoked  []Coupon
}

// EffectsOf reads what an outcome (of an event, a Handle call or due
// work) did to coupons, so that a host does not decode feed changes
// itself. Changes of other domains are skipped. It returns an error only
// for a coupon change whose data does not decode.
func EffectsOf(out *change.Outcome) (Effects, error) {
	ef, err := effectsOf(out)
	if err != nil {
		return Effects{}, fmt.Errorf("coupon: %w", err)
	}
	return ef, nil
}

// effectsOf is EffectsOf for the handle, which names the package.
func effectsOf(out *change.Outcome) (Effects, error) {
	var ef Effects
	if out == nil {
		return ef, nil
	}
	for _, c := range out.Changes {
		var to *[]Coupon
		switch c.Kind {
		case ChangeIssued:
			to = &ef.Issued
		case ChangeLocked:
			to = &ef.Locked
		case ChangeReleased:
			to = &ef.Released
		case ChangeUsed:
			to = &ef.Used
		case ChangeExpired:
			to = &ef.Expired
		case ChangeRevoked:
			to = &ef.Revoked
		case ChangePackIssued:
			var p PackIssued
			if err := c.Decode(&p); err != nil {
				return Effects{}, effectsErr(out, c, err)
			}
			for i := range p.Coupons {
				p.Coupons[i] = p.Coupons[i].in(c.Time.Location())
			}
			ef.Packs = append(ef.Packs, p)
			continue
		case ChangeClaimRefused:
			var r Refusal
			if err := c.Decode(&r); err != nil {
				return Effects{}, effectsErr(out, c, err)
			}
			ef.Refused = append(ef.Refused, r)
			continue
		default:
			continue
		}
		var cp Coupon
		if err := c.Decode(&cp); err != nil {
			return Effects{}, effectsErr(out, c, err)
		}
		*to = append(*to, cp.in(c.Time.Location()))
	}
	return ef, nil
}

func effectsErr(out *change.Outcome, c change.Change, err error) error {
	return fmt.Errorf("effects of %q: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
}
