package membership_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// openers opens a program on each store: the limits are the Program's,
// the same on every store.
var openers = map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
	"memory": openMemory, "bolt": openBolt,
}

// wantErrs fails t unless err wraps every target.
func wantErrs(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %v; want one wrapping %v", what, err, target)
			return
		}
	}
}

// centuryDef is a UTC program whose orders earn 10 points valid 36,600
// days (the longest validity) and whose plan "century" lasts 36,600 days.
func centuryDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	return membership.Definition{
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "at", Kind: event.Time}}},
			{Name: "buy", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: permanent}},
			Plans:  []level.Plan{{Name: "century", Period: level.Days, Days: 36600, Event: "buy", Attr: "plan"}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "order", Program: "mall", Event: "order",
				Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")}, Validity: rule.Validity{Kind: rule.DaysAfter, N: 36600}}},
		},
	}
}

// An event time outside the years 1900 to 2099 (a typo year 3026, a
// zero-ish 1677) is refused and writes nothing: it used to be stored as
// another instant, so that its retry was a conflict.
func TestEventTimeOutsideTheRangeIsRefused(t *testing.T) {
	ctx := context.Background()
	far := []time.Time{
		time.Date(3026, 11, 24, 10, 0, 0, 0, time.UTC),
		time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1899, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, centuryDef())
			for _, at := range far {
				_, err := p.Process(ctx, event.Event{ID: "o1", Member: "m", Type: "order", Time: at})
				wantErrs(t, "order at "+at.String(), err, membership.ErrInvalidEvent, event.ErrTimeRange)
				_, err = p.Process(ctx, event.Event{ID: "o1", Member: "m", Type: "order", Time: t0, Attrs: event.Attrs{"at": event.At(at)}})
				wantErrs(t, "attribute at "+at.String(), err, membership.ErrInvalidEvent, event.ErrTimeRange)
			}
			// Nothing was written under o1: the same ID with a good time is
			// new.
			out := mustProcess(t, p, event.Event{ID: "o1", Member: "m", Type: "order", Time: t0})[0]
			if out.Duplicate {
				t.Error("o1 with a good time is a duplicate: a refused event was recorded")
			}
			for _, at := range far {
				if _, err := p.Advance(ctx, at); !errors.Is(err, membership.ErrInvalidArgument) || !errors.Is(err, event.ErrTimeRange) {
					t.Errorf("Advance(%s) = %v; want ErrInvalidArgument and ErrTimeRange", at, err)
				}
				_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a1", Member: "m", Operator: "op", Note: "n", At: at, Program: "mall", Amount: dec("5")})
				wantErrs(t, "adjust at "+at.String(), err, membership.ErrInvalidArgument, event.ErrTimeRange)
				_, err = p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at})
				wantErrs(t, "balance at "+at.String(), err, membership.ErrInvalidArgument, event.ErrTimeRange)
			}
		})
	}
}

// The first and last instants of the range are taken exactly, and an
// order at the very end earns a lot whose 36,600-day expiry (derived, past
// the range) is kept and found exactly.
func TestEventTimesAtTheEdgesOfTheRange(t *testing.T) {
	ctx := context.Background()
	first := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC)
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, centuryDef())
			for _, at := range []time.Time{first, last} {
				ev := event.Event{ID: "o-" + at.Format("2006"), Member: "m" + at.Format("2006"), Type: "order", Time: at, Attrs: event.Attrs{"at": event.At(at)}}
				mustProcess(t, p, ev)
				again, err := p.Process(ctx, ev)
				if err != nil || !again.Duplicate || !again.Time.Equal(at) {
					t.Errorf("retry of an order at %s = %+v, %v; want the duplicate at that time", at, again, err)
				}
			}
			// Ordered on 2099-12-31, valid 36,600 days: the last valid day
			// is 36,599 days later and the lot expires at 00:00 after it,
			// 36,600 days on. 2100 to 2199 hold 24 leap days (2100 is not
			// leap), so 100 years are 36,524 days, to 2199-12-31; 76 more:
			// 31 of January and 28 of February 2200 (not leap) to
			// 2200-02-28, and 17 of March.
			want := time.Date(2200, 3, 17, 0, 0, 0, 0, time.UTC)
			lots, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m2099", From: last, Days: 36601})
			if err != nil || len(lots) != 1 || !lots[0].Expires.Equal(want) || !lots[0].Amount.Equal(dec("10")) {
				t.Fatalf("expiring lots of the last order = %+v, %v; want 10 expiring %s", lots, err, want)
			}
		})
	}
}

// The Unix epoch is a time like any other: it used to be written as the
// zero time, so that an event at 1970-01-01T00:00:00Z (or with it as an
// attribute) came back different and its retry was a conflict.
func TestEventAtTheUnixEpoch(t *testing.T) {
	ctx := context.Background()
	epoch := time.Unix(0, 0).UTC()
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, centuryDef())
			ev := event.Event{ID: "e", Member: "m", Type: "order", Time: epoch, Attrs: event.Attrs{"at": event.At(epoch)}}
			mustProcess(t, p, ev)
			again, err := p.Process(ctx, ev)
			if err != nil || !again.Duplicate || !again.Time.Equal(epoch) {
				t.Fatalf("retry of an order at the epoch = %+v, %v; want the duplicate at the epoch", again, err)
			}
			page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m"})
			if err != nil || len(page.Entries) != 1 || !page.Entries[0].Time.Equal(epoch) {
				t.Errorf("statement = %+v, %v; want one entry at the epoch", page, err)
			}
		})
	}
}

// A plan renewed from its expiry again and again would expire past what
// the store holds: that purchase is refused, and what was kept is exact.
func TestPlanRenewedBeyondTheStoreIsRefused(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	buy := func(id string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m", Type: "buy", Time: at, Attrs: event.Attrs{"plan": event.Str("century")}}
	}
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, centuryDef())
			mustProcess(t, p, buy("b1", at), buy("b2", at.Add(time.Hour)))
			_, err := p.Process(ctx, buy("b3", at.Add(2*time.Hour)))
			wantErrs(t, "third renewal", err, membership.ErrInvalidEvent, event.ErrTimeRange)
			// 2026-11-24 + 36,600 days: 100 years (24 leap days, 2100 not
			// leap) are 36,524 days, to 2126-11-24; 76 more: 6 to
			// 2126-11-30, 31 to 2126-12-31, 31 to 2127-01-31, and 8. Then
			// from 2127-02-08: 100 years (24 leap days, 2200 not leap) to
			// 2227-02-08; 76 more: 20 to 2227-02-28, 31 to 2227-03-31,
			// and 25.
			want := time.Date(2227, 4, 25, 10, 0, 0, 0, time.UTC)
			st, err := p.Levels().Status(ctx, "m")
			if err != nil || len(st.Plans) != 1 || !st.Plans[0].Expires.Equal(want) {
				t.Fatalf("plans after the refused renewal = %+v, %v; want century expiring %s", st.Plans, err, want)
			}
			if out, err := p.Process(ctx, buy("b2", at.Add(time.Hour))); err != nil || !out.Duplicate {
				t.Errorf("retry of the second purchase = %+v, %v; want a duplicate", out, err)
			}
		})
	}
}

// A derived time of an operator request past what the store holds (a
// coupon hold of 292 years) is refused as an invalid argument.
func TestRequestDerivedTimeBeyondTheStoreIsRefused(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, memberDef())
			res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "ann", At: t0, Template: "welcome"})
			if err != nil {
				t.Fatal(err)
			}
			o := coupon.Order{ID: "o1", Member: "ann", Time: t0, Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
			_, err = p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{res.Coupons[0].ID}, Hold: math.MaxInt64})
			wantErrs(t, "lock held 292 years", err, membership.ErrInvalidArgument, event.ErrTimeRange)
			live, err := p.Coupons().Live(ctx, "ann")
			if err != nil || len(live) != 1 || live[0].State != coupon.Available {
				t.Errorf("coupons after the refused lock = %+v, %v; want one available", live, err)
			}
		})
	}
}

// Dates and windows of a definition are within the range too, and every
// error for a far date, from JSON or from Validate, wraps
// rule.ErrInvalidDefinition.
func TestDefinitionFarDatesAreInvalid(t *testing.T) {
	const head = `{"events":[{"name":"order"}],"points":{"programs":[{"name":"mall"}],"rules":[{"id":"r","program":"mall","event":"order","formula":{"kind":"fixed","fixed":"1"},`
	// A fixed range is a coupon's validity (points refuse it).
	const tmpl = `{"coupons":{"templates":[{"name":"t","type":"cash","amount":"10","use":{`
	for name, doc := range map[string]string{
		"date of 5 digits":     tmpl + `"validity":{"kind":"fixed_range","from":"2026-01-01","to":"10000-01-01"}}}]}}`,
		"date past the range":  tmpl + `"validity":{"kind":"fixed_range","from":"2026-01-01","to":"2150-01-01"}}}]}}`,
		"date before 1900":     tmpl + `"validity":{"kind":"fixed_range","from":"1850-01-01","to":"2026-01-01"}}}]}}`,
		"window of year 10000": head + `"window":{"to":"10000-01-01T00:00:00Z"}}]}}`,
		"window of year 3026":  head + `"window":{"to":"3026-01-01T00:00:00Z"}}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := membership.ParseDefinition([]byte(doc)); !errors.Is(err, rule.ErrInvalidDefinition) {
				t.Errorf("ParseDefinition = %v; want an error wrapping rule.ErrInvalidDefinition", err)
			}
		})
	}
	// The bounds themselves are fine: a window ending at 2100-01-01 (it
	// excludes its end) and a range to 2099-12-31.
	for _, ok := range []string{
		head + `"window":{"from":"1900-01-01T00:00:00Z","to":"2100-01-01T00:00:00Z"}}]}}`,
		tmpl + `"validity":{"kind":"fixed_range","from":"1900-01-01","to":"2099-12-31"}}}]}}`,
	} {
		if _, err := membership.ParseDefinition([]byte(ok)); err != nil {
			t.Errorf("ParseDefinition of the range's bounds: %v", err)
		}
	}
	def := centuryDef()
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{{Name: "t", Type: coupon.Cash, Amount: dec("10"),
		Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 1, Day: 1}, To: rule.Date{Year: 10000, Month: 1, Day: 1}}}}}}
	if _, err := membership.Open(nil, def); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("Open(nil store) = %v", err)
	}
	if err := def.Validate(); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("Validate of a date 10000-01-01 = %v; want rule.ErrInvalidDefinition", err)
	}
}

// Text that is not UTF-8, or holds a NUL, is refused by every entry point
// with one error, event.ErrInvalidText: IDs used to be mangled when they
// went through JSON (a coupon claimed for "ann\xff" was recorded as
// "ann\ufffd", so its owner could not redeem it and a claim for "ann\xfe"
// under the same request ID came back as its duplicate).
func TestInvalidTextIsRefusedEverywhere(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, memberDef())
			order := func(id, member string, attrs event.Attrs) event.Event {
				if attrs == nil {
					attrs = event.Attrs{}
				}
				attrs["amount"] = event.Dec(dec("10"))
				return event.Event{ID: id, Member: member, Type: "order", Time: t0, Attrs: attrs}
			}
			for what, ev := range map[string]event.Event{
				"member":        order("e1", "ann\xff", nil),
				"member NUL":    order("e1", "ann\x00bob", nil),
				"id":            order("e\xff", "ann", nil),
				"string attr":   order("e1", "ann", event.Attrs{"brand": event.Str("b\xff")}),
				"list item":     order("e1", "ann", event.Attrs{"category": event.List("ok", "c\x00")}),
				"member in bad": order("e1", "\xc3", nil),
			} {
				_, err := p.Process(ctx, ev)
				wantErrs(t, "event with invalid "+what, err, membership.ErrInvalidEvent, event.ErrInvalidText)
				_, err = p.ProcessBatch(ctx, []event.Event{order("e0", "ann", nil), ev})
				wantErrs(t, "batch with invalid "+what, err, membership.ErrInvalidEvent, event.ErrInvalidText)
			}

			// The claims of the issue: both refused, so r1 is still free.
			for _, m := range []string{"ann\xff", "ann\xfe"} {
				_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "r1", Member: m, At: t0, Template: "welcome"})
				wantErrs(t, "claim for "+m, err, membership.ErrInvalidArgument, event.ErrInvalidText)
			}
			res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "r1", Member: "ann", At: t0, Template: "welcome"})
			if err != nil || res.Outcome.Duplicate || len(res.Coupons) != 1 {
				t.Fatalf("claim r1 for ann = %+v, %v; want a new coupon", res, err)
			}

			bad := "ann\xff"
			o := coupon.Order{ID: "o1", Member: bad, Time: t0, Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
			calls := map[string]func() error{
				"Coupons.Claim operator": func() error {
					_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "r2", Member: "ann", Operator: "op\xff", At: t0, Template: "welcome"})
					return err
				},
				"Coupons.Claim request ID": func() error {
					_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "r\xff", Member: "ann", At: t0, Template: "welcome"})
					return err
				},
				"Coupons.List":     func() error { _, err := p.Coupons().List(ctx, bad); return err },
				"Coupons.Live":     func() error { _, err := p.Coupons().Live(ctx, bad); return err },
				"Coupons.Checkout": func() error { _, err := p.Coupons().Checkout(ctx, o); return err },
				"Coupons.Lock": func() error {
					_, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{res.Coupons[0].ID}})
					return err
				},
				"Points.Adjust": func() error {
					_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a1", Member: bad, Operator: "op", Note: "n", At: t0, Program: "mall", Amount: dec("5")})
					return err
				},
				"Points.Adjust note": func() error {
					_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a1", Member: "ann", Operator: "op", Note: "n\x00", At: t0, Program: "mall", Amount: dec("5")})
					return err
				},
				"Points.Redeem": func() error {
					_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "d1", Member: bad, At: t0, Program: "mall", Ref: "o1", Amount: dec("5")})
					return err
				},
				"Points.Balance": func() error {
					_, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: bad})
					return err
				},
				"Points.Statement": func() error {
					_, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: bad})
					return err
				},
				"Points.Expiring": func() error {
					_, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: bad, From: t0, Days: 30})
					return err
				},
				"Points.Split": func() error {
					_, err := p.Points().Split(ctx, points.SplitQuery{Program: "mall", Member: bad, Order: dec("10"), At: t0})
					return err
				},
				"Levels.Set": func() error {
					_, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "s1", Member: bad, Operator: "op", Note: "n", At: t0, Level: "gold"})
					return err
				},
				"Levels.Status":   func() error { _, err := p.Levels().Status(ctx, bad); return err },
				"Levels.StatusAt": func() error { _, err := p.Levels().StatusAt(ctx, bad, t0); return err },
				"Levels.History":  func() error { _, err := p.Levels().History(ctx, bad, 0, 10); return err },
				"Tags.Add": func() error {
					_, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: bad, Operator: "op", At: t0, Tag: "staff"})
					return err
				},
				"Tags.SetProfile": func() error {
					_, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "t2", Member: "ann", At: t0, Attributes: map[string]event.Value{"gender": event.Str("\xff")}})
					return err
				},
				"Tags.Of":        func() error { _, err := p.Tags().Of(ctx, bad); return err },
				"Tags.Profile":   func() error { _, err := p.Tags().Profile(ctx, bad); return err },
				"Tags.InSegment": func() error { _, err := p.Tags().InSegment(ctx, bad, tag.Tag("staff")); return err },
				"Benefits.GrantAchievement": func() error {
					_, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: bad, Operator: "op", At: t0, Achievement: "first-order"})
					return err
				},
				"Benefits.Achievements": func() error { _, err := p.Benefits().Achievements(ctx, bad); return err },
				"Benefits.Of":           func() error { _, err := p.Benefits().Of(ctx, bad, t0); return err },
				"Benefits.MemberPrice":  func() error { _, err := p.Benefits().MemberPrice(ctx, bad, dec("10"), t0); return err },
				"Tasks.Progress":        func() error { _, err := p.Tasks().Progress(ctx, bad); return err },
				"Value.Account":         func() error { _, err := p.Value().Account(ctx, bad); return err },
				"Program.Member":        func() error { _, err := p.Member(ctx, bad, t0); return err },
				"Program.Balance": func() error {
					_, err := p.Balance(ctx, ledger.MemberAccount(bad, ledger.Points("mall"), ""))
					return err
				},
				"Program.Statement": func() error {
					_, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount(bad, ledger.Points("mall"), "")})
					return err
				},
				"Program.SetCursor": func() error { return p.SetCursor(ctx, "c\xff", 1) },
				"Program.Cursor":    func() error { _, err := p.Cursor(ctx, "c\xff"); return err },
			}
			for name, call := range calls {
				wantErrs(t, name, call(), membership.ErrInvalidArgument, event.ErrInvalidText)
			}
		})
	}
}

// The size limits are the Program's, the same on every store: a 1 MiB
// member ID or a 40 KiB event ID used to be taken by the memory store and
// refused by bolt with a bare store.ErrInvalid.
func TestSizeLimitsAreTheSameOnEveryStore(t *testing.T) {
	ctx := context.Background()
	id := func(n int) string { return strings.Repeat("i", n) }
	order := func(evID, member string, attrs event.Attrs) event.Event {
		if attrs == nil {
			attrs = event.Attrs{}
		}
		if _, ok := attrs["amount"]; !ok {
			attrs["amount"] = event.Dec(dec("10"))
		}
		return event.Event{ID: evID, Member: member, Type: "order", Time: t0, Attrs: attrs}
	}
	items := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = "c"
		}
		return s
	}
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, memberDef())
			for what, tc := range map[string]struct {
				ev    event.Event
				field string
			}{
				"1 MiB member":      {order("e1", id(1<<20), nil), "member"},
				"40 KiB event ID":   {order(id(40<<10), "ann", nil), "id"},
				"257-byte member":   {order("e1", id(event.MaxIDBytes+1), nil), "member"},
				"257-byte event ID": {order(id(event.MaxIDBytes+1), "ann", nil), "id"},
				"1025-byte string":  {order("e1", "ann", event.Attrs{"brand": event.Str(id(event.MaxTextBytes + 1))}), "attrs.brand"},
				"257-item list":     {order("e1", "ann", event.Attrs{"category": event.List(items(event.MaxListItems + 1)...)}), "attrs.category"},
				"1025-byte in list": {order("e1", "ann", event.Attrs{"category": event.List("a", id(event.MaxTextBytes+1))}), "attrs.category"},
				"41-digit decimal":  {order("e1", "ann", event.Attrs{"amount": event.DecString(strings.Repeat("9", 41))}), "attrs.amount"},
				"decimal of 1e50":   {order("e1", "ann", event.Attrs{"amount": event.DecString("1e50")}), "attrs.amount"},
				"decimal of 1e-41":  {order("e1", "ann", event.Attrs{"amount": event.DecString("1e-41")}), "attrs.amount"},
			} {
				_, err := p.Process(ctx, tc.ev)
				wantErrs(t, what, err, membership.ErrInvalidEvent, event.ErrTooLarge)
				if err != nil && !strings.Contains(err.Error(), tc.field+":") {
					t.Errorf("%s: error %q does not name %s", what, err, tc.field)
				}
			}
			// At the limits, every store takes the event: a task rewards the
			// member with points, growth, coupons and an achievement, all
			// kept under keys holding the 256-byte member ID.
			member := id(event.MaxIDBytes)
			big := order(id(event.MaxIDBytes), member, event.Attrs{
				"amount":   event.DecString("1234567890123456789.012345678901234567890"),
				"brand":    event.Str(id(event.MaxTextBytes)),
				"category": event.List(items(event.MaxListItems)...),
				"product":  event.List(id(event.MaxTextBytes)),
			})
			mustProcess(t, p, big)
			if again, err := p.Process(ctx, big); err != nil || !again.Duplicate {
				t.Errorf("retry at the limits = %+v, %v; want a duplicate", again, err)
			}
			cs, err := p.Coupons().List(ctx, member)
			if err != nil || len(cs) != 2 {
				t.Errorf("coupons of the 256-byte member = %d, %v; want the task's 2", len(cs), err)
			}
			if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id(event.MaxIDBytes), Member: member, At: t0, Template: "welcome"}); err != nil {
				t.Errorf("claim with a 256-byte request ID and member: %v", err)
			}

			for what, call := range map[string]func() error{
				"257-byte request ID": func() error {
					_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id(event.MaxIDBytes + 1), Member: "ann", At: t0, Template: "welcome"})
					return err
				},
				"1 MiB member of a claim": func() error {
					_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: id(1 << 20), At: t0, Template: "welcome"})
					return err
				},
				"1025-byte note": func() error {
					_, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a1", Member: "ann", Operator: "op", Note: id(event.MaxTextBytes + 1), At: t0, Program: "mall", Amount: dec("5")})
					return err
				},
				"1 MiB member of a query": func() error { _, err := p.Levels().Status(ctx, id(1<<20)); return err },
				"40 KiB consumer":         func() error { return p.SetCursor(ctx, id(40<<10), 1) },
			} {
				wantErrs(t, what, call(), membership.ErrInvalidArgument, event.ErrTooLarge)
			}
		})
	}
}

// The names and texts of a definition keep to the same limits as what a
// program takes from outside: a 2 KiB template name or an event type name
// that is not UTF-8 is a problem of the definition, named by its path,
// not a store error at the first write.
func TestDefinitionNamesKeepToTheLimits(t *testing.T) {
	long := testkit.OrderDef()
	long.Points.Programs[0].Name = strings.Repeat("p", 2048)
	long.Points.Rules[0].Program = long.Points.Programs[0].Name
	err := long.Validate()
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.Is(err, event.ErrTooLarge) || !strings.Contains(err.Error(), "points.programs[0].name") {
		t.Errorf("a 2 KiB program name: %v", err)
	}
	bad := testkit.OrderDef()
	bad.Events = append(bad.Events, event.Type{Name: "visit\xff"})
	err = bad.Validate()
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.Is(err, event.ErrInvalidText) || !strings.Contains(err.Error(), "events[1].name") {
		t.Errorf("an event type name that is not UTF-8: %v", err)
	}
	if _, err := membership.Open(memory.New(), long); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("Open of the long name: %v", err)
	}
	if err := testkit.OrderDef().Validate(); err != nil {
		t.Errorf("the order program: %v", err)
	}
}

// TestLedgerReadsRefuseMalformedQueries: Totals compared its days as key
// bytes and answered a malformed one ("2026-11-1", month 13) with no
// totals, and Balance and Statement of an account naming neither a member
// nor a pool answered zero, or an error naming no field; each is refused
// with ErrInvalidArgument (and ledger.ErrInvalid) naming the argument.
// Well-formed reads still answer: the order of 2026-11-24 earned 10.
func TestLedgerReadsRefuseMalformedQueries(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			p := open(t, centuryDef())
			if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "m", Type: "order", Time: t0}); err != nil {
				t.Fatal(err)
			}
			mall := ledger.Points("mall")
			for _, tc := range []struct{ from, to, field string }{
				{"2026-11-1", "", "from"}, {"2026-13-01", "", "from"}, {"", "2026-11-31", "to"}, {"2026-11-24", "junk", "to"},
			} {
				totals, err := p.Totals(ctx, mall, tc.from, tc.to)
				wantErrs(t, "Totals("+tc.from+", "+tc.to+")", err, membership.ErrInvalidArgument, ledger.ErrInvalid)
				if err == nil || !strings.Contains(err.Error(), tc.field+": ") || totals != nil {
					t.Errorf("Totals(%q, %q) = %v, %v; want no totals and an error naming %s", tc.from, tc.to, totals, err, tc.field)
				}
			}
			noOne := ledger.Account{Asset: mall}
			_, err := p.Balance(ctx, noOne)
			wantErrs(t, "Balance of no member", err, membership.ErrInvalidArgument)
			_, err2 := p.Statement(ctx, ledger.Query{Account: noOne})
			wantErrs(t, "Statement of no member", err2, membership.ErrInvalidArgument, ledger.ErrInvalid)
			for _, err := range []error{err, err2} {
				if err == nil || !strings.Contains(err.Error(), "member: empty") {
					t.Errorf("error %v does not name the member", err)
				}
			}
			totals, err := p.Totals(ctx, mall, "2026-11-24", "2026-11-24")
			if err != nil || len(totals) != 1 || !totals[points.KindEarned].Equal(dec("10")) {
				t.Errorf("Totals of 2026-11-24 = %v, %v; want earned 10", totals, err)
			}
			if b, err := p.Balance(ctx, ledger.MemberAccount("m", mall, "")); err != nil || !b.Equal(dec("10")) {
				t.Errorf("Balance of m = %s, %v; want 10", b, err)
			}
			if b, err := p.Balance(ctx, ledger.Pool(mall, string(points.KindEarned))); err != nil || !b.Equal(dec("-10")) {
				t.Errorf("Balance of the earned pool = %s, %v; want -10", b, err)
			}
		})
	}
}
