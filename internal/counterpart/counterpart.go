// Package counterpart translates the coupons a journaled request names
// (a lock's coupon IDs, a redemption's code, a revocation's coupon) from
// the store the journal ran on to a program replaying it under a changed
// definition (membership.ReplayOptions.Changed), where the same coupon
// may have another ID or code, or not exist.
package counterpart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/engine"
)

// ErrNone is returned for a coupon the replaying program holds no
// counterpart of (membership.ErrNoCounterpart).
var ErrNone = errors.New("no counterpart of the coupon under the changed definition")

// Coupons reads a program's coupons (*coupon.Handle does).
type Coupons interface {
	ByCode(ctx context.Context, code string) (coupon.Coupon, error)
	List(ctx context.Context, member string) ([]coupon.Coupon, error)
}

// Translator gives a journaled request naming a coupon of the source the
// coupon at the same place in the replaying program: the same member's
// k-th coupon of the same template, in issue order. A coupon's ID,
// member, template and code never change once issued, so the source's are
// read once per member, from its store as it is now.
type Translator struct {
	src, dst Coupons
	lists    map[string][]coupon.Coupon // the source's coupons by member
}

// New returns a Translator from the coupons of src (the store the journal
// ran on) to those of dst (the program replaying it).
func New(src, dst Coupons) *Translator {
	return &Translator{src: src, dst: dst, lists: map[string][]coupon.Coupon{}}
}

// Request returns the body of a request of action with the coupons it
// names replaced by their counterparts (a lock's coupon IDs, a
// redemption's code, a revocation's coupon); the body as it is for the
// other actions; an error wrapping ErrNone when a coupon has no
// counterpart.
func (c *Translator) Request(ctx context.Context, action string, body []byte) ([]byte, error) {
	var req any
	var err error
	switch action {
	case "coupon.lock":
		var r coupon.LockRequest
		if err = unmarshal(body, &r); err == nil {
			for i, id := range r.Coupons {
				if r.Coupons[i], err = c.id(ctx, id); err != nil {
					break
				}
			}
		}
		req = r
	case "coupon.redeem":
		var r coupon.RedeemRequest
		if err = unmarshal(body, &r); err == nil {
			r.Code, err = c.code(ctx, r.Code)
		}
		req = r
	case "coupon.revoke":
		var r coupon.RevokeRequest
		if err = unmarshal(body, &r); err == nil {
			r.Coupon, err = c.id(ctx, r.Coupon)
		}
		req = r
	default:
		return body, nil
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(req)
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: request: %v", engine.ErrCorrupt, err)
	}
	return nil
}

// id returns the ID of the counterpart of the source's coupon id ("c<n>.<member>").
func (c *Translator) id(ctx context.Context, id string) (string, error) {
	_, member, ok := strings.Cut(id, ".")
	if !ok {
		return id, nil // not a coupon ID: passed as it is, for the call to refuse
	}
	cp, err := c.counterpart(ctx, member, id)
	return cp.ID, err
}

// code returns the code of the counterpart of the source's coupon of code
// (a QR payload gives a QR payload).
func (c *Translator) code(ctx context.Context, code string) (string, error) {
	src, err := c.src.ByCode(ctx, code)
	if err != nil {
		return code, nil // not a code of the source's: passed as it is, for the call to refuse
	}
	cp, err := c.counterpart(ctx, src.Member, src.ID)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(strings.TrimSpace(code), coupon.QRPrefix) {
		return coupon.QR(cp.Code), nil
	}
	return cp.Code, nil
}

// counterpart returns the replaying program's coupon at the place of the
// source's coupon id of member.
func (c *Translator) counterpart(ctx context.Context, member, id string) (coupon.Coupon, error) {
	list, ok := c.lists[member]
	if !ok {
		var err error
		if list, err = c.src.List(ctx, member); err != nil {
			return coupon.Coupon{}, err
		}
		c.lists[member] = list
	}
	i := slices.IndexFunc(list, func(cp coupon.Coupon) bool { return cp.ID == id })
	if i < 0 {
		return coupon.Coupon{ID: id}, nil // not the source's (a journal never names one): passed as it is
	}
	template, k := list[i].Template, 0
	for _, cp := range list[:i+1] {
		if cp.Template == template {
			k++
		}
	}
	mine, err := c.dst.List(ctx, member)
	if err != nil {
		return coupon.Coupon{}, err
	}
	n := 0
	for _, cp := range mine {
		if cp.Template == template {
			if n++; n == k {
				return cp, nil
			}
		}
	}
	return coupon.Coupon{}, fmt.Errorf("%w: coupon %s is %s's coupon no. %d of template %q, of which this program has issued %d", ErrNone, id, member, k, template, n)
}
