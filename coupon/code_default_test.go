package coupon_test

import (
	"testing"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/store/memory"
)

// Codes are unguessable: without WithRand a program draws them from
// crypto/rand, so two programs given the same claims, at the same time,
// on fresh stores, issue different codes. A deterministic default (a
// seeded generator) would give both the same codes, and anyone who knew
// the seed could list every coupon's code. With 80 random bits a code, two
// draws are equal with probability 2^-80: the test does not flake.
func TestCouponCodesOfTheDefaultSourceDiffer(t *testing.T) {
	claim := func() []string {
		p := openCoupons(t, memory.New())
		var codes []string
		for _, id := range []string{"c1", "c2"} {
			c := couponClaim(t, p, id, "m1", "flash", "2026-05-01 10:00")
			if len(c.Code) != coupon.CodeLen {
				t.Fatalf("code %q: %d symbols, want %d", c.Code, len(c.Code), coupon.CodeLen)
			}
			if _, err := coupon.ParseCode(c.Code); err != nil {
				t.Fatalf("code %q does not parse: %v", c.Code, err)
			}
			codes = append(codes, c.Code)
		}
		return codes
	}
	a, b := claim(), claim()
	seen := map[string]bool{}
	for _, c := range append(a, b...) {
		if seen[c] {
			t.Errorf("code %s issued twice over two programs (%v, %v): the default source is not random", c, a, b)
		}
		seen[c] = true
	}
}
