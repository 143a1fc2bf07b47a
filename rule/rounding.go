package rule

import (
	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

// RoundingMode names how a [Rounding] rounds.
type RoundingMode string

// The rounding modes. The empty mode is RoundDown.
const (
	// RoundDown rounds toward zero (truncates).
	RoundDown RoundingMode = "down"
	// RoundUp rounds away from zero.
	RoundUp RoundingMode = "up"
	// RoundHalfUp rounds to the nearest, halves away from zero.
	RoundHalfUp RoundingMode = "half_up"
	// RoundHalfEven rounds to the nearest, halves to the even neighbour.
	RoundHalfEven RoundingMode = "half_even"
)

// MaxScale is the largest scale a [Rounding] accepts.
const MaxScale = 8

// Rounding brings amounts to Scale decimal places (0: whole units). The
// zero Rounding rounds toward zero to whole units.
type Rounding struct {
	Scale int32        `json:"scale,omitempty"`
	Mode  RoundingMode `json:"mode,omitempty"`
}

// Round rounds d. A Scale outside 0 to [MaxScale] is taken as the nearest
// bound and an unknown mode as RoundDown; [Rounding.Check] rejects both.
func (r Rounding) Round(d decimal.Decimal) decimal.Decimal {
	s := min(max(r.Scale, 0), MaxScale)
	switch r.Mode {
	case RoundUp:
		return d.RoundUp(s)
	case RoundHalfUp:
		return d.Round(s)
	case RoundHalfEven:
		return d.RoundBank(s)
	}
	// Round down (the default) without math/big when d is a codec.Fixed,
	// and without a new value when nothing changes.
	if f, ok := codec.FixedOf(d); ok {
		if g, ok := f.RoundDown(s); ok {
			if g == f {
				return d
			}
			return g.Decimal()
		}
	}
	return d.RoundDown(s)
}

// Check returns nil, or a *[Problems] for a scale outside 0 to [MaxScale]
// or an unknown mode.
func (r Rounding) Check() error {
	var ps Problems
	if r.Scale < 0 || r.Scale > MaxScale {
		ps.Addf("scale", "must be 0 to %d, got %d", MaxScale, r.Scale)
	}
	switch r.Mode {
	case "", RoundDown, RoundUp, RoundHalfUp, RoundHalfEven:
	default:
		ps.Addf("mode", "unknown rounding mode %q (want %s, %s, %s or %s; empty is %s)", r.Mode, RoundDown, RoundUp, RoundHalfUp, RoundHalfEven, RoundDown)
	}
	return ps.Err()
}
