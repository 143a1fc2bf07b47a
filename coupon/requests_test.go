package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
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
			_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: id, Operator: "ops", At: at, Members: []string{"m1"}, Template: "flash"})
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
// lists of a member's coupons, which are empty; the lists check the
// member as an ID all the same, as they do with coupons (an empty member
// got an empty list).
func TestNotDefined(t *testing.T) {
	ctx := context.Background()
	h := testkit.OpenMemory(t, membership.Definition{Zone: "Asia/Shanghai"}).Coupons()
	when := at(t, "2026-05-01 10:00")
	o := orderOf(t, "o1", "10")
	errs := map[string]error{}
	_, errs["Claim"] = h.Claim(ctx, coupon.ClaimRequest{RequestID: "r", Member: "m1", At: when, Template: "t"})
	_, errs["ClaimPack"] = h.ClaimPack(ctx, coupon.PackRequest{RequestID: "r", Member: "m1", At: when, Pack: "p"})
	_, errs["Issue"] = h.Issue(ctx, coupon.IssueRequest{RequestID: "r", Operator: "ops", At: when, Members: []string{"m1"}, Template: "t"})
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
	for _, member := range []string{"", "m\x00", strings.Repeat("m", 257)} {
		if _, err := h.List(ctx, member); !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "member") {
			t.Errorf("List(%q): %v, want event.ErrInvalidArgument naming member", member, err)
		}
		if _, err := h.Live(ctx, member); !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "member") {
			t.Errorf("Live(%q): %v, want event.ErrInvalidArgument naming member", member, err)
		}
	}
}

// auditLen returns the number of entries in the program's audit trail.
func auditLen(t *testing.T, p *membership.Program) int {
	t.Helper()
	n, after := 0, ""
	for {
		pg, err := p.Audit(context.Background(), membership.AuditQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(pg.Entries)
		if pg.Next == "" {
			return n
		}
		after = pg.Next
	}
}

// malformed is a request the handle refuses before its unit of work: the
// error wraps every one of want and names field, and nothing changes, the
// audit trail included.
type malformed struct {
	name  string
	want  []error
	field string
	call  func() error
}

func checkMalformed(t *testing.T, p *membership.Program, cases []malformed) {
	t.Helper()
	for _, mc := range cases {
		t.Run(mc.name, func(t *testing.T) {
			n, cs := state(t, p)
			audit := auditLen(t, p)
			err := mc.call()
			for _, w := range mc.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want it to wrap %v", err, w)
				}
			}
			if err != nil && !strings.Contains(err.Error(), mc.field) {
				t.Errorf("%q does not name %q", err, mc.field)
			}
			if n2, cs2 := state(t, p); n2 != n || !cmp.Equal(cs, cs2) {
				t.Errorf("the refusal changed something: feed %d → %d, coupons %s", n, n2, cmp.Diff(cs, cs2))
			}
			if a := auditLen(t, p); a != audit {
				t.Errorf("the refusal was audited: %d entries → %d", audit, a)
			}
		})
	}
}

// A claim asks for 0 (one coupon) to MaxCount coupons, by Self, Operator,
// Task or System; anything else is malformed and changes nothing.
func TestClaimMalformed(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	when := at(t, "2026-05-01 10:00")
	claim := func(count int, m coupon.Method) func() error {
		return func() error {
			_, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: "c", Member: "m1", At: when, Template: "ten-off", Count: count, Method: m})
			return err
		}
	}
	pack := func(m coupon.Method) func() error {
		return func() error {
			_, err := h.ClaimPack(ctx, coupon.PackRequest{RequestID: "p", Member: "m1", At: when, Pack: "starter", Method: m})
			return err
		}
	}
	issue := func(count int) func() error {
		return func() error {
			_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: "i", Operator: "ops", At: when, Members: []string{"m1", "m2"}, Template: "ten-off", Count: count})
			return err
		}
	}
	ia := []error{event.ErrInvalidArgument}
	checkMalformed(t, p, []malformed{
		{"Claim count -1", ia, "count", claim(-1, "")},
		{"Claim count MaxCount+1", ia, "count", claim(coupon.MaxCount+1, coupon.Operator)},
		{"Claim method hack", ia, "method", claim(1, "hack")},
		{"Claim method migrated", ia, "method", claim(1, coupon.Migrated)},
		{"ClaimPack method hack", ia, "method", pack("hack")},
		{"ClaimPack method migrated", ia, "method", pack(coupon.Migrated)},
		{"Issue count -1", ia, "count", issue(-1)},
		{"Issue count MaxCount+1", ia, "count", issue(coupon.MaxCount + 1)},
	})

	// The bounds themselves: MaxCount coupons in one claim, and each
	// method a claim may ask for.
	res, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: "max", Member: "m1", At: when, Template: "ten-off", Count: coupon.MaxCount})
	if err != nil || len(res.Coupons) != coupon.MaxCount {
		t.Fatalf("Claim of MaxCount: %d coupons, %v; want %d", len(res.Coupons), err, coupon.MaxCount)
	}
	for _, m := range []coupon.Method{coupon.Self, coupon.Operator, coupon.Task, coupon.System} {
		req := coupon.ClaimRequest{RequestID: "m-" + string(m), Member: "m2", At: when, Template: "ten-off", Method: m}
		if m == coupon.Operator {
			req.Operator = "ops"
		}
		res, err := h.Claim(ctx, req)
		if err != nil || len(res.Coupons) != 1 || res.Coupons[0].Method != m {
			t.Errorf("Claim by %s: %+v, %v; want one coupon of that method", m, res.Coupons, err)
		}
	}
}

// Checkout, Lock and Redeem refuse a malformed order (see Order.Check), a
// negative hold and an empty code before their unit of work: nothing
// changes and nothing is audited. Redeem refused malformed orders inside
// its unit once, which recorded them as refusals.
func TestCheckoutMalformed(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
	f := couponClaim(t, p, "f", "m1", "flash", "2026-05-01 10:00")
	mod := func(fn func(o *coupon.Order)) coupon.Order {
		o := orderOf(t, "o1", "80")
		fn(&o)
		return o
	}
	many := make([]coupon.Line, coupon.MaxLines+1)
	for i := range many {
		many[i] = coupon.Line{Product: "p", Amount: dec("1")}
	}
	orders := []struct {
		name  string
		o     coupon.Order
		field string
	}{
		{"amount 1e60", mod(func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 60) }), "lines[0].amount"},
		{"amount 1e80", mod(func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 80) }), "lines[0].amount"},
		{"amount 80.001", mod(func(o *coupon.Order) { o.Lines[0].Amount = dec("80.001") }), "lines[0].amount"},
		{"MaxLines+1 lines", mod(func(o *coupon.Order) { o.Lines = many }), "lines"},
		{"quantity 1<<62", mod(func(o *coupon.Order) { o.Lines[0].Quantity = 1 << 62 }), "lines[0].quantity"},
		{"no ID", mod(func(o *coupon.Order) { o.ID = "" }), "no ID"},
		{"negative line", mod(func(o *coupon.Order) { o.Lines[0].Amount = dec("-5") }), "lines[0]: negative amount"},
		{"no product", mod(func(o *coupon.Order) { o.Lines[0].Product = "" }), "lines[0]: no product"},
		{"no lines", mod(func(o *coupon.Order) { o.Lines = nil }), "no lines"},
	}
	bad := []error{coupon.ErrInvalidOrder, event.ErrInvalidArgument}
	var cases []malformed
	for i, oc := range orders {
		cases = append(cases,
			malformed{"Checkout " + oc.name, bad, oc.field, func() error { _, err := h.Checkout(ctx, oc.o); return err }},
			malformed{"Lock " + oc.name, bad, oc.field, func() error {
				_, err := h.Lock(ctx, coupon.LockRequest{RequestID: fmt.Sprint("l", i), Order: oc.o, Coupons: []string{c.ID}})
				return err
			}},
			malformed{"Redeem " + oc.name, bad, oc.field, func() error {
				_, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: fmt.Sprint("r", i), Code: f.Code, Order: oc.o})
				return err
			}},
		)
	}
	cases = append(cases,
		malformed{"Lock negative hold", []error{event.ErrInvalidArgument}, "hold", func() error {
			_, err := h.Lock(ctx, coupon.LockRequest{RequestID: "neg", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}, Hold: -time.Hour})
			return err
		}},
		malformed{"Lock hold past 2099", []error{event.ErrInvalidArgument}, "hold", func() error {
			_, err := h.Lock(ctx, coupon.LockRequest{RequestID: "far", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}, Hold: 290 * 365 * 24 * time.Hour})
			return err
		}},
		malformed{"Redeem empty code", []error{coupon.ErrBadCode, event.ErrInvalidArgument}, "code", func() error {
			_, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "empty", Order: orderOf(t, "o1", "20")})
			return err
		}},
		malformed{"ByCode empty code", []error{coupon.ErrBadCode, event.ErrInvalidArgument}, "code", func() error {
			_, err := h.ByCode(ctx, "")
			if errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("the store's error leaked: %w", err)
			}
			return err
		}},
	)
	checkMalformed(t, p, cases)

	// A Redeem of an order without a member takes the coupon's owner.
	o := orderOf(t, "o2", "20")
	o.Member = ""
	if res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "ok", Code: f.Code, Order: o}); err != nil || res.Coupon.Member != "m1" {
		t.Errorf("Redeem without a member: %+v, %v", res.Coupon, err)
	}
}

// A zero Hold releases nothing: the coupons stay locked until Release.
func TestLockZeroHoldKeepsTheLock(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l", Order: orderOf(t, "o1", "80"), Coupons: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(t, "2027-05-01 12:00")); err != nil {
		t.Fatal(err)
	}
	cs, err := p.Coupons().List(ctx, "m1")
	if err != nil || len(cs) != 1 || cs[0].State != coupon.Locked {
		t.Fatalf("a year later: %+v, %v; want the coupon locked", cs, err)
	}
	if _, err := p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: "r", At: at(t, "2027-05-01 12:01"), Order: "o1"}); err != nil {
		t.Fatal(err)
	}
}

// Malformed input to Issue, Redeem, Lock and Stats is refused naming the
// field, and nothing is written: Issue with no members did nothing and
// said nothing, took any number of them, and issued to the members before
// an empty one; Redeem took any Via; Lock with no coupons named no field;
// Stats of an unknown template returned an empty report.
func TestMalformedBulkRedeemLockStats(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
	when := at(t, "2026-05-01 11:00")
	before := couponFeedLen(t, p)
	issue := func(members []string) error {
		_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: "i", Operator: "ops", At: when, Members: members, Template: "flash"})
		return err
	}
	many := make([]string, coupon.MaxIssueMembers+1)
	for i := range many {
		many[i] = fmt.Sprint("m", i)
	}
	for _, tc := range []struct {
		name, field string
		err         error
	}{
		{"Issue to no members", "members: ", issue(nil)},
		{"Issue to MaxIssueMembers+1", "members: ", issue(many)},
		{"Issue with an empty member", "members[1]: ", issue([]string{"m2", "", "m3"})},
		{"Issue with a NUL member", "members[0]: ", issue([]string{"m\x00"})},
		{"Redeem via smoke", "via: ", func() error {
			_, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: c.Code, Via: "smoke", Order: orderOf(t, "o1", "20")})
			return err
		}()},
		{"Lock no coupons", "coupons: ", func() error {
			_, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l", Order: orderOf(t, "o2", "20")})
			return err
		}()},
	} {
		if !errors.Is(tc.err, event.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(tc.err), tc.field) {
			t.Errorf("%s: %v; want event.ErrInvalidArgument naming %q", tc.name, tc.err, tc.field)
		}
	}
	if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l", Order: orderOf(t, "o2", "20")}); !errors.Is(err, coupon.ErrNotFound) {
		t.Errorf("Lock no coupons: %v; want ErrNotFound too, as before", err)
	}
	if _, err := h.Stats(ctx, coupon.StatsQuery{Template: "zzz"}); !errors.Is(err, coupon.ErrUnknownTemplate) || !strings.Contains(err.Error(), `"zzz"`) {
		t.Errorf("Stats of an unknown template: %v; want ErrUnknownTemplate naming it", err)
	}
	if n := couponFeedLen(t, p); n != before {
		t.Errorf("the refusals wrote: feed %d → %d", before, n)
	}
	if cs, _ := h.List(ctx, "m2"); len(cs) != 0 {
		t.Errorf("m2 was issued %d coupons by a refused Issue", len(cs))
	}
	// The well-formed calls go through: Via "qr", and stats of flash.
	if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: c.Code, Via: coupon.ByQR, Order: orderOf(t, "o1", "20")}); err != nil {
		t.Fatalf("Redeem via qr: %v", err)
	}
	if r, err := h.Stats(ctx, coupon.StatsQuery{Template: "flash"}); err != nil || r.ByTemplate["flash"].Used != 1 {
		t.Errorf("Stats of flash = %+v, %v; want 1 used", r.ByTemplate["flash"], err)
	}
}

// A bulk issue claims for each member under RequestID + "/" + member, an
// ID held to event.MaxIDBytes like any request ID. One too long for a
// member is malformed: refused before anything is issued, naming the
// member. It used to issue to the members before it (m2 here got a coupon)
// and then fail with event.ErrInvalidArgument.
func TestIssueClaimIDTooLong(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	id := strings.Repeat("r", 200)
	long := strings.Repeat("m", 60) // 200 + 1 + 60 = 261 bytes
	issue := func(id string, members ...string) func() error {
		return func() error {
			_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: id, Operator: "ops", At: at(t, "2026-05-01 10:00"), Members: members, Template: "ten-off"})
			return err
		}
	}
	ia := []error{event.ErrInvalidArgument, event.ErrTooLarge}
	checkMalformed(t, p, []malformed{
		{"a member's claim ID too long", ia, "members[1]", issue(id, "m2", long)},
		{"the request ID too long", ia, "request ID", issue(strings.Repeat("r", event.MaxIDBytes+1), "m1")},
		{"a NUL in the request ID", []error{event.ErrInvalidArgument, event.ErrInvalidText}, "request ID", issue("r\x00", "m1")},
	})
	// At the limit: 200 + 1 + 55 bytes is a claim ID of 256 bytes.
	res, err := h.Issue(ctx, coupon.IssueRequest{RequestID: id, Operator: "ops", At: at(t, "2026-05-01 10:00"), Members: []string{"m2", strings.Repeat("m", 55)}, Template: "ten-off"})
	if err != nil || len(res.Issued) != 2 {
		t.Errorf("Issue at the limit: issued to %d members, %v; want 2", len(res.Issued), err)
	}
}

// An operator issuing by hand is named, as in every other operator call:
// a Claim or ClaimPack by the Operator method, or an Issue, with no
// Operator is malformed, refused naming the field, and changes nothing
// (it used to issue, with an empty operator in the audit trail).
func TestOperatorMethodNeedsOperator(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	when := at(t, "2026-05-01 10:00")
	ia := []error{event.ErrInvalidArgument}
	checkMalformed(t, p, []malformed{
		{"claim", ia, "operator", func() error {
			_, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: "c", Member: "m1", At: when, Template: "ten-off", Method: coupon.Operator})
			return err
		}},
		{"claim pack", ia, "operator", func() error {
			_, err := h.ClaimPack(ctx, coupon.PackRequest{RequestID: "p", Member: "m1", At: when, Pack: "starter", Method: coupon.Operator})
			return err
		}},
		{"issue", ia, "operator", func() error {
			_, err := h.Issue(ctx, coupon.IssueRequest{RequestID: "i", At: when, Members: []string{"m1"}, Template: "ten-off"})
			return err
		}},
	})
	// Named, the same calls issue.
	if _, err := h.Claim(ctx, coupon.ClaimRequest{RequestID: "c", Member: "m1", Operator: "ops", At: when, Template: "ten-off", Method: coupon.Operator}); err != nil {
		t.Errorf("Claim by a named operator: %v", err)
	}
	if res, err := h.Issue(ctx, coupon.IssueRequest{RequestID: "i", Operator: "ops", At: when, Members: []string{"m1"}, Template: "ten-off"}); err != nil || len(res.Issued) != 1 {
		t.Errorf("Issue by a named operator: %+v, %v; want one member issued", res, err)
	}
}

// A Lock naming one coupon twice is malformed: refused before its unit of
// work naming the repeat ("coupons[1]"), with nothing written or audited.
// It was refused in the unit as not combinable, saying that the one
// coupon was exclusive ("c1.m1 (template flash) is exclusive") or that
// the order had two coupons of its template; it still wraps
// ErrNotCombinable. Named once, the coupons lock.
func TestLockNamingACouponTwice(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	h := p.Coupons()
	f := couponClaim(t, p, "f", "m1", "flash", "2026-05-01 10:00")
	w := couponClaim(t, p, "w", "m1", "welcome", "2026-05-01 10:00")
	d := couponClaim(t, p, "d", "m1", "ten-off", "2026-05-01 10:00")
	lock := func(id string, coupons ...string) func() error {
		return func() error {
			_, err := h.Lock(ctx, coupon.LockRequest{RequestID: id, Order: orderOf(t, "o-"+id, "80"), Coupons: coupons})
			return err
		}
	}
	twice := []error{event.ErrInvalidArgument, coupon.ErrNotCombinable}
	checkMalformed(t, p, []malformed{
		{"an exclusive coupon twice", twice, "coupons[1]", lock("lf", f.ID, f.ID)},
		{"a group's coupon twice", twice, "coupons[2]", lock("lg", w.ID, d.ID, w.ID)},
	})
	if err := lock("lf", f.ID)(); err != nil {
		t.Errorf("lock flash once: %v", err)
	}
	if err := lock("lg", w.ID, d.ID)(); err != nil {
		t.Errorf("lock welcome and ten-off once each: %v", err)
	}
}
