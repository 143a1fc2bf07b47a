package counterpart

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
)

// book is a member's coupons, in issue order, found by code too.
type book []coupon.Coupon

func (b book) ByCode(_ context.Context, code string) (coupon.Coupon, error) {
	canon := strings.TrimPrefix(code, coupon.QRPrefix) // the fake codes carry no check symbol
	for _, c := range b {
		if c.Code == canon {
			return c, nil
		}
	}
	return coupon.Coupon{}, coupon.ErrUnknownCode
}

func (b book) List(_ context.Context, member string) ([]coupon.Coupon, error) {
	var out []coupon.Coupon
	for _, c := range b {
		if c.Member == member {
			out = append(out, c)
		}
	}
	return out, nil
}

// Codes, found as they are (the real ones end in a check symbol).
const (
	codeA = "ABCDEFGHJKMNPQRS"
	codeB = "BCDEFGHJKMNPQRST"
	codeC = "CDEFGHJKMNPQRSTV"
)

// TestRequest translates, by hand: the source gave ann a vip coupon (c1)
// and two "ten" (c2, c3); the replaying program gave her a welcome coupon
// (c1) and one "ten" so far (c2), whose code is codeC.
func TestRequest(t *testing.T) {
	src := book{
		{ID: "c1.ann", Member: "ann", Template: "vip", Code: codeA},
		{ID: "c2.ann", Member: "ann", Template: "ten", Code: codeB},
		{ID: "c3.ann", Member: "ann", Template: "ten", Code: "DEFGHJKMNPQRSTVW"},
	}
	dst := book{
		{ID: "c1.ann", Member: "ann", Template: "welcome", Code: codeA},
		{ID: "c2.ann", Member: "ann", Template: "ten", Code: codeC},
	}
	tr := New(src, dst)
	ctx := context.Background()
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, action string
		in, want     any
		err          error
	}{
		{"lock: the first ten", "coupon.lock", coupon.LockRequest{RequestID: "l", Coupons: []string{"c2.ann"}}, coupon.LockRequest{RequestID: "l", Coupons: []string{"c2.ann"}}, nil},
		{"redeem by QR: the first ten's code", "coupon.redeem", coupon.RedeemRequest{RequestID: "q", Code: coupon.QR(codeB), Via: coupon.ByQR}, coupon.RedeemRequest{RequestID: "q", Code: coupon.QR(codeC), Via: coupon.ByQR}, nil},
		{"redeem by code", "coupon.redeem", coupon.RedeemRequest{RequestID: "q", Code: codeB}, coupon.RedeemRequest{RequestID: "q", Code: codeC}, nil},
		{"revoke: the second ten, not issued yet", "coupon.revoke", coupon.RevokeRequest{RequestID: "r", Coupon: "c3.ann"}, nil, ErrNone},
		{"revoke: the vip, never issued", "coupon.revoke", coupon.RevokeRequest{RequestID: "r", Coupon: "c1.ann"}, nil, ErrNone},
		{"redeem: a code the source never issued passes", "coupon.redeem", coupon.RedeemRequest{RequestID: "q", Code: "not a code"}, coupon.RedeemRequest{RequestID: "q", Code: "not a code"}, nil},
		{"another action passes", "points.redeem", map[string]string{"ref": "c2.ann"}, map[string]string{"ref": "c2.ann"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tr.Request(ctx, tc.action, body(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if d := cmp.Diff(string(body(tc.want)), string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if _, err := tr.Request(ctx, "coupon.lock", []byte("{")); err == nil {
		t.Error("a damaged request translated")
	}
}
