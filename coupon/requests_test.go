package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store/memory"
)

// writeCase is one write call of the handle: setup prepares what it acts
// on and returns the call, which makes the request or (other) a different
// request under the same RequestID.
type writeCase struct {
	name  string
	setup func(t *testing.T, p *membership.Program) func(other bool) (*change.Outcome, error)
}

func orderOf(t testing.TB, id, amount string) coupon.Order {
	return coupon.Order{ID: id, Member: "m1", Store: "s1", Time: at(t, "2026-05-01 12:00"), Lines: []coupon.Line{{Product: "p", Amount: dec(amount)}}}
}

func writeCases() []writeCase {
	ctx := context.Background()
	h := func(p *membership.Program) *coupon.Handle { return p.Coupons() }
	return []writeCase{
		{"Claim", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			return func(other bool) (*change.Outcome, error) {
				req := coupon.ClaimRequest{RequestID: "w", Member: "m1", At: at(t, "2026-05-01 10:00"), Template: "flash"}
				if other {
					req.Template = "ten-off"
				}
				res, err := h(p).Claim(ctx, req)
				return res.Outcome, err
			}
		}},
		{"ClaimPack", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			return func(other bool) (*change.Outcome, error) {
				req := coupon.PackRequest{RequestID: "w", Member: "m1", At: at(t, "2026-05-01 10:00"), Pack: "starter"}
				if other {
					req.Member = "m2"
				}
				res, err := h(p).ClaimPack(ctx, req)
				return res.Outcome, err
			}
		}},
		{"Issue", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			return func(other bool) (*change.Outcome, error) {
				req := coupon.IssueRequest{RequestID: "w", Operator: "ops", At: at(t, "2026-05-01 10:00"), Members: []string{"m1", "m2"}, Template: "flash"}
				if other {
					req.Note = "another"
				}
				res, err := h(p).Issue(ctx, req)
				if err == nil && len(res.Outcomes) != 2 {
					err = fmt.Errorf("%d outcomes", len(res.Outcomes))
				}
				return res.Outcomes["m1"], err
			}
		}},
		{"Lock", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
			return func(other bool) (*change.Outcome, error) {
				req := coupon.LockRequest{RequestID: "w", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}}
				if other {
					req.Hold = time.Minute
				}
				res, err := h(p).Lock(ctx, req)
				return res.Outcome, err
			}
		}},
		{"Use", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
			if _, err := h(p).Lock(ctx, coupon.LockRequest{RequestID: "l", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}}); err != nil {
				t.Fatal(err)
			}
			return func(other bool) (*change.Outcome, error) {
				req := coupon.OrderRequest{RequestID: "w", At: at(t, "2026-05-01 12:01"), Order: "o1"}
				if other {
					req.At = req.At.Add(time.Minute)
				}
				return h(p).Use(ctx, req)
			}
		}},
		{"Release", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
			if _, err := h(p).Lock(ctx, coupon.LockRequest{RequestID: "l", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}}); err != nil {
				t.Fatal(err)
			}
			return func(other bool) (*change.Outcome, error) {
				req := coupon.OrderRequest{RequestID: "w", At: at(t, "2026-05-01 12:01"), Order: "o1"}
				if other {
					req.Order = "o2"
				}
				return h(p).Release(ctx, req)
			}
		}},
		{"Redeem", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
			return func(other bool) (*change.Outcome, error) {
				req := coupon.RedeemRequest{RequestID: "w", Code: c.Code, Order: orderOf(t, "o1", "20")}
				if other {
					req.Via = coupon.ByQR
				}
				res, err := h(p).Redeem(ctx, req)
				return res.Outcome, err
			}
		}},
		{"Revoke", func(t *testing.T, p *membership.Program) func(bool) (*change.Outcome, error) {
			c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
			return func(other bool) (*change.Outcome, error) {
				req := coupon.RevokeRequest{RequestID: "w", Operator: "ops", At: at(t, "2026-05-01 11:00"), Coupon: c.ID}
				if other {
					req.Note = "fraud"
				}
				return h(p).Revoke(ctx, req)
			}
		}},
	}
}

// state is what a write may change: the feed and the members' coupons.
func state(t *testing.T, p *membership.Program) (int, map[string][]coupon.Coupon) {
	t.Helper()
	cs := map[string][]coupon.Coupon{}
	for _, m := range []string{"m1", "m2"} {
		l, err := p.Coupons().List(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		cs[m] = l
	}
	return couponFeedLen(t, p), cs
}

// Every write: the same request again returns the first outcome with
// Duplicate set and changes nothing; another request under the same
// RequestID is an error wrapping event.ErrConflict and changes nothing.
func TestWriteRetryAndConflict(t *testing.T) {
	for _, wc := range writeCases() {
		t.Run(wc.name, func(t *testing.T) {
			p := openCoupons(t, memory.New())
			call := wc.setup(t, p)
			first, err := call(false)
			if err != nil {
				t.Fatal(err)
			}
			if first.Duplicate || len(first.Changes) == 0 {
				t.Fatalf("first outcome: duplicate %v, %d changes", first.Duplicate, len(first.Changes))
			}
			n, cs := state(t, p)
			again, err := call(false)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !again.Duplicate {
				t.Error("the retry's outcome is not marked Duplicate")
			}
			dup := *again
			dup.Duplicate = false
			if diff := cmp.Diff(first, &dup); diff != "" {
				t.Errorf("retry's outcome (-first +retry):\n%s", diff)
			}
			if n2, cs2 := state(t, p); n2 != n || !cmp.Equal(cs, cs2) {
				t.Errorf("the retry changed something: feed %d → %d, coupons %s", n, n2, cmp.Diff(cs, cs2))
			}
			_, err = call(true)
			if !errors.Is(err, event.ErrConflict) || !errors.Is(err, membership.ErrEventConflict) {
				t.Fatalf("other request, same ID: %v, want event.ErrConflict", err)
			}
			if n2, cs2 := state(t, p); n2 != n || !cmp.Equal(cs, cs2) {
				t.Errorf("the conflict changed something: feed %d → %d, coupons %s", n, n2, cmp.Diff(cs, cs2))
			}
		})
	}
}

// Every write refuses a request without a time (or an order without one)
// with event.ErrInvalidArgument, and one without a RequestID too.
func TestWriteNeedsTimeAndRequestID(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
	noTime := orderOf(t, "o1", "20")
	noTime.Time = time.Time{}
	when := at(t, "2026-05-01 11:00")
	calls := map[string]func(id string, at time.Time) error{
		"Claim": func(id string, at time.Time) error {
			_, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: "m1", At: at, Template: "flash"})
			return err
		},
		"ClaimPack": func(id string, at time.Time) error {
			_, err := h.ClaimPack(ctx, coupon.PackRequest{RequestID: id, Member: "m1", At: at, Pack: "starter"})
			return err
		},
		"Issue": func(id string, at time.Time) error {
			_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: id, At: at, Members: []string{"m1"}, Template: "flash"})
			return err
		},
		"Lock": func(id string, at time.Time) error {
			o := orderOf(t, "o1", "20")
			o.Time = at
			_, err := h.Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{c.ID}})
			return err
		},
		"Use": func(id string, at time.Time) error {
			_, err := h.Use(ctx, coupon.OrderRequest{RequestID: id, At: at, Order: "o9"})
			return err
		},
		"Release": func(id string, at time.Time) error {
			_, err := h.Release(ctx, coupon.OrderRequest{RequestID: id, At: at, Order: "o9"})
			return err
		},
		"Redeem": func(id string, at time.Time) error {
			o := orderOf(t, "o1", "20")
			o.Time = at
			_, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o})
			return err
		},
		"Revoke": func(id string, at time.Time) error {
			_, err := h.Revoke(ctx, coupon.RevokeRequest{RequestID: id, Operator: "ops", At: at, Coupon: c.ID})
			return err
		},
	}
	for name, call := range calls {
		if err := call("id-"+name, time.Time{}); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s without a time: %v, want event.ErrInvalidArgument", name, err)
		}
		if err := call("", when); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s without a RequestID: %v, want event.ErrInvalidArgument", name, err)
		}
	}
	if n := couponFeedLen(t, p); n != 1 {
		t.Errorf("the feed has %d changes, want the first claim's only", n)
	}
}

// A program without coupons answers every call with ErrNotDefined, but the
// lists of a member's coupons, which are empty.
func TestNotDefined(t *testing.T) {
	ctx := context.Background()
	h := testkit.OpenMemory(t, membership.Definition{Zone: "Asia/Shanghai"}).Coupons()
	when := at(t, "2026-05-01 10:00")
	o := orderOf(t, "o1", "10")
	errs := map[string]error{}
	_, errs["Claim"] = h.Claim(ctx, coupon.ClaimRequest{RequestID: "r", Member: "m1", At: when, Template: "t"})
	_, errs["ClaimPack"] = h.ClaimPack(ctx, coupon.PackRequest{RequestID: "r", Member: "m1", At: when, Pack: "p"})
	_, errs["Issue"] = h.Issue(ctx, coupon.IssueRequest{RequestID: "r", At: when, Members: []string{"m1"}, Template: "t"})
	_, errs["ByCode"] = h.ByCode(ctx, "X")
	_, errs["Checkout"] = h.Checkout(ctx, o)
	_, errs["Lock"] = h.Lock(ctx, coupon.LockRequest{RequestID: "r", Order: o, Coupons: []string{"c1.m1"}})
	_, errs["Use"] = h.Use(ctx, coupon.OrderRequest{RequestID: "r", At: when, Order: "o1"})
	_, errs["Release"] = h.Release(ctx, coupon.OrderRequest{RequestID: "r", At: when, Order: "o1"})
	_, errs["Redeem"] = h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: "X", Order: o})
	_, errs["Revoke"] = h.Revoke(ctx, coupon.RevokeRequest{RequestID: "r", Operator: "ops", At: when, Coupon: "c1.m1"})
	_, errs["Stats"] = h.Stats(ctx, coupon.StatsQuery{})
	for name, err := range errs {
		if !errors.Is(err, coupon.ErrNotDefined) {
			t.Errorf("%s: %v, want ErrNotDefined", name, err)
		}
	}
	if cs, err := h.List(ctx, "m1"); err != nil || len(cs) != 0 {
		t.Errorf("List: %v, %v; want an empty list", cs, err)
	}
	if cs, err := h.Live(ctx, "m1"); err != nil || len(cs) != 0 {
		t.Errorf("Live: %v, %v; want an empty list", cs, err)
	}
}
