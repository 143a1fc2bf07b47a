package level_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// zone is the zone of the tests' programs.
var zone = testkit.Shanghai

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, zone)

var mustProcess = testkit.MustProcess

// valueDef is a program with stored value fed by recharge events.
func valueDef() membership.Definition {
	return membership.Definition{
		Zone:        "Asia/Shanghai",
		Events:      []event.Type{{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
	}
}

func recharge(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "recharge", Time: at, Attrs: event.Attrs{"amount": event.Dec(d(amount))}}
}

// lvlAt is a wall time in Asia/Shanghai.
func lvlAt(s string) time.Time {
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, zone); err == nil {
			return v
		}
	}
	panic("bad wall time " + s)
}

var lvlDef = testkit.LadderDef

func lvlEvent(id, member, typ string, at time.Time, attrs event.Attrs) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: attrs}
}

func lvlOrder(id, member, amount, order string, at time.Time) event.Event {
	attrs := event.Attrs{"amount": event.Dec(d(amount))}
	if order != "" {
		attrs["order_id"] = event.Str(order)
	}
	return lvlEvent(id, member, "order", at, attrs)
}

func lvlStatus(t *testing.T, p *membership.Program, member string) level.Status {
	t.Helper()
	s, err := p.Levels().Status(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lvlWant checks a member's level, growth and term end ("" for none).
func lvlWant(t *testing.T, p *membership.Program, member, lvl, growth, termEnd string) level.Status {
	t.Helper()
	s := lvlStatus(t, p, member)
	var end time.Time
	if termEnd != "" {
		end = lvlAt(termEnd)
	}
	if s.Level != lvl || !s.Growth.Equal(d(growth)) || !s.TermEnd.Equal(end) {
		t.Errorf("%s: level %s, growth %s, term end %v; want %s, %s, %s", member, s.Level, s.Growth, s.TermEnd.In(zone), lvl, growth, termEnd)
	}
	return s
}

func lvlAdvance(t *testing.T, p *membership.Program, now time.Time) int {
	t.Helper()
	n, err := p.Advance(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func lvlHistory(t *testing.T, p *membership.Program, member string) []level.Record {
	t.Helper()
	h, err := p.Levels().History(context.Background(), member, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func lvlCauses(h []level.Record) []string {
	var out []string
	for _, r := range h {
		if r.Plan != "" {
			out = append(out, fmt.Sprintf("%s %s", r.Cause, r.Plan))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s→%s", r.Cause, r.From, r.To))
	}
	return out
}

func TestLevelArticleExamples(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	day := lvlAt("2026-03-15 10:30")
	out := mustProcess(t, p, lvlEvent("c1", "ann", "check_in", day, nil))[0]
	lvlWant(t, p, "ann", "Entry", "12", "")
	if got := out.ChangesOf(level.ChangeLevel); len(got) != 1 {
		t.Errorf("joining: %d level changes, want 1", len(got))
	}
	// A second check-in the same day is cut by the daily cap.
	out = mustProcess(t, p, lvlEvent("c2", "ann", "check_in", day.Add(time.Hour), nil))[0]
	if n := len(out.ChangesOf(level.ChangeGrowth)); n != 0 {
		t.Errorf("capped check-in changed growth %d times", n)
	}
	// Real-name verification gives 20: 32 growth reaches Bronze (20), whose
	// "1 month-end" term ends at 24:00 of next month's last day.
	out = mustProcess(t, p, lvlEvent("v1", "ann", "verify", day.Add(2*time.Hour), nil))[0]
	lvlWant(t, p, "ann", "Bronze", "32", "2026-05-01")
	var lc level.LevelChange
	if err := out.ChangesOf(level.ChangeLevel)[0].Decode(&lc); err != nil {
		t.Fatal(err)
	}
	if lc.From != "Entry" || lc.To != "Bronze" || lc.Cause != level.CauseEvent {
		t.Errorf("level change = %+v", lc)
	}
	var gc level.GrowthChange
	if err := out.ChangesOf(level.ChangeGrowth)[0].Decode(&gc); err != nil {
		t.Fatal(err)
	}
	if !gc.Amount.Equal(d("20")) || !gc.Balance.Equal(d("32")) || gc.Rule != "real-name" {
		t.Errorf("growth change = %+v", gc)
	}
	// A "1 month after" level (Silver) reached today ends at 24:00 of the
	// same day next month.
	mustProcess(t, p, lvlOrder("o1", "ann", "70", "", day.Add(3*time.Hour)))
	lvlWant(t, p, "ann", "Silver", "132", "2026-04-16") // 32 + 70 + the 30 gift
}

func TestLevelUpgradeSeveralLevelsAndGifts(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	ctx := context.Background()
	at := lvlAt("2026-03-15 10:00")
	out := mustProcess(t, p, lvlOrder("o1", "bob", "600", "", at))[0]
	// 600 crosses Bronze, Silver and Gold; Silver's gift (30) and Gold's (50)
	// are granted: 680 does not reach Platinum.
	lvlWant(t, p, "bob", "Gold", "680", "2027-03-16")
	var gifts []string
	for _, c := range out.ChangesOf(level.ChangeGift) {
		var g level.Gift
		if err := c.Decode(&g); err != nil {
			t.Fatal(err)
		}
		gifts = append(gifts, g.Level+" "+g.Reward.Amount.String())
	}
	if diff := cmp.Diff([]string{"Silver 30", "Gold 50"}, gifts); diff != "" {
		t.Errorf("gifts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"join →Entry", "event Entry→Gold"}, lvlCauses(lvlHistory(t, p, "bob"))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// Set back to Bronze by hand, then any growth upgrades again: Silver's
	// gift is once per member, Gold's every time.
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "op-1", Member: "bob", Level: "Bronze", Operator: "alice", Note: "test", At: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	out = mustProcess(t, p, lvlOrder("o2", "bob", "1", "", at.Add(2*time.Hour)))[0]
	gifts = nil
	for _, c := range out.ChangesOf(level.ChangeGift) {
		var g level.Gift
		if err := c.Decode(&g); err != nil {
			t.Fatal(err)
		}
		gifts = append(gifts, g.Level)
	}
	if diff := cmp.Diff([]string{"Gold"}, gifts); diff != "" {
		t.Errorf("second gifts (-want +got):\n%s", diff)
	}
	lvlWant(t, p, "bob", "Gold", "731", "2027-03-16")
	// The growth gifts go through the ledger like any growth.
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLevelDowngradeModes runs one history under each downgrade mode: a
// Platinum member who earned 150 in the last 12 months of the term.
func TestLevelDowngradeModes(t *testing.T) {
	tests := []struct {
		mode    level.DowngradeMode
		want    string
		termEnd string
	}{
		{level.NextLower, "Gold", "2028-01-12"},
		{level.Matching, "Silver", "2027-02-12"},
		{level.Lowest, "Entry", ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			p := testkit.OpenMemory(t, lvlDef(tc.mode))
			mustProcess(t, p,
				lvlOrder("o1", "cat", "1000", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o2", "cat", "150", "", lvlAt("2026-06-01 12:00")),
			)
			lvlWant(t, p, "cat", "Platinum", "1230", "2027-01-11")
			if n := lvlAdvance(t, p, lvlAt("2027-01-10 23:59")); n != 0 {
				t.Fatalf("Advance before the term end performed %d", n)
			}
			lvlAdvance(t, p, lvlAt("2027-01-20"))
			// Growth is re-based to the window's 150; the new term starts
			// at the old one's end.
			s := lvlWant(t, p, "cat", tc.want, "150", tc.termEnd)
			if !s.Since.Equal(lvlAt("2027-01-11")) || !s.Lifetime.Equal(d("1230")) {
				t.Errorf("since %v, lifetime %s", s.Since.In(zone), s.Lifetime)
			}
			h := lvlHistory(t, p, "cat")
			last := h[len(h)-1]
			if last.Cause != level.CauseTermEnd || last.From != "Platinum" || last.To != tc.want || last.Window == nil || !last.Window.Equal(d("150")) {
				t.Errorf("last history record = %+v", last)
			}
		})
	}
}

func TestLevelTermEndWhileHostDown(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	at := lvlAt("2026-03-15 10:30")
	for _, m := range []string{"dan", "eve"} {
		mustProcess(t, p, lvlEvent("c-"+m, m, "check_in", at, nil), lvlEvent("v-"+m, m, "verify", at, nil))
		lvlWant(t, p, m, "Bronze", "32", "2026-05-01")
	}
	// The host was down from April to the 20th of May: Advance evaluates
	// dan's term end at 2026-05-01 00:00 and the next term runs from there
	// (1 month-end: to 24:00 of 30 June).
	if n := lvlAdvance(t, p, lvlAt("2026-05-20 08:00")); n != 2 {
		t.Fatalf("Advance performed %d items, want 2", n)
	}
	s := lvlWant(t, p, "dan", "Bronze", "32", "2026-07-01")
	if !s.Since.Equal(lvlAt("2026-05-01")) {
		t.Errorf("new term since %v, want 2026-05-01", s.Since.In(zone))
	}
	h := lvlHistory(t, p, "dan")
	if last := h[len(h)-1]; last.Cause != level.CauseTermEnd || !last.Time.Equal(lvlAt("2026-05-01")) {
		t.Errorf("term end record = %+v", last)
	}
	if n := lvlAdvance(t, p, lvlAt("2026-05-20 08:00")); n != 0 {
		t.Errorf("second Advance performed %d", n)
	}
}

func TestLevelEventAfterUnperformedTermEnd(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	at := lvlAt("2026-03-15 10:30")
	mustProcess(t, p, lvlOrder("o1", "fay", "120", "", at)) // Silver, term to 2026-04-16
	lvlWant(t, p, "fay", "Silver", "150", "2026-04-16")
	// Nothing in Silver's 1-month window: the term end (not yet performed
	// by Advance) downgrades fay before the May event counts.
	out := mustProcess(t, p, lvlEvent("c1", "fay", "check_in", lvlAt("2026-05-03 09:00"), nil))[0]
	changes := out.ChangesOf(level.ChangeLevel)
	if len(changes) != 1 || !changes[0].Time.Equal(lvlAt("2026-04-16")) {
		t.Fatalf("level changes = %+v, want the term end at 2026-04-16", changes)
	}
	// Re-based to 0, then 12 from the check-in; Bronze's term runs from
	// 2026-04-16 to the end of May.
	lvlWant(t, p, "fay", "Bronze", "12", "2026-06-01")
	if n := lvlAdvance(t, p, lvlAt("2026-05-03 09:00")); n != 0 {
		t.Errorf("Advance performed %d stale items", n)
	}
}

// A request that reads a member's level (a coupon's claim condition)
// performs a term end Advance has not performed first, as an event does,
// and a query of benefits at a time reads the level held then without
// writing it. Before, both read the stored Silver.
func TestLevelRequestAndQueryAfterUnperformedTermEnd(t *testing.T) {
	def := lvlDef("")
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{
		{Name: "silver-only", Type: coupon.Cash, Amount: d("5"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 10}},
			Claim: coupon.ClaimRule{Levels: []string{"Silver"}}},
		{Name: "bronze-only", Type: coupon.Cash, Amount: d("3"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 10}},
			Claim: coupon.ClaimRule{Levels: []string{"Bronze"}}},
	}}
	def.Benefits = &benefit.Definition{Benefits: []benefit.Benefit{
		{Name: "silver-lounge", Type: "service", Levels: []string{"Silver"}},
		{Name: "bronze-gift", Type: "care", Levels: []string{"Bronze"}},
	}}
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			t.Cleanup(func() { st.Close() })
			p, err := membership.Open(st, def)
			if err != nil {
				t.Fatal(err)
			}
			// An order of 100 on 15 January reaches Silver (30 of gift:
			// 130), whose 1-month term ends at 24:00 on 15 February. Its
			// window [16 January, 16 February) holds no growth, below
			// Silver's retention of 60: at 16 February 00:00 fay goes down
			// to Bronze, growth re-based to 0, Bronze's month-end term to
			// 1 April.
			mustProcess(t, p, lvlOrder("o1", "fay", "100", "", lvlAt("2026-01-15 10:00")))
			lvlWant(t, p, "fay", "Silver", "130", "2026-02-16")
			after := lvlAt("2026-02-16 01:00")

			names := func(bs []benefit.Benefit, err error) []string {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, b := range bs {
					out = append(out, b.Name)
				}
				return out
			}
			if got := names(p.Benefits().Of(ctx, "fay", lvlAt("2026-02-15 23:59"))); !slices.Equal(got, []string{"silver-lounge"}) {
				t.Errorf("benefits before the term end = %v, want [silver-lounge]", got)
			}
			if got := names(p.Benefits().Of(ctx, "fay", after)); !slices.Equal(got, []string{"bronze-gift"}) {
				t.Errorf("benefits after the term end = %v, want [bronze-gift]", got)
			}
			// The query wrote nothing: the status is still the stored one.
			lvlWant(t, p, "fay", "Silver", "130", "2026-02-16")

			_, err = p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "fay", Template: "silver-only", At: after})
			if !errors.Is(err, coupon.ErrNotEligible) {
				t.Fatalf("claim of a Silver coupon after Silver's term end = %v, want ErrNotEligible", err)
			}
			// Refused: the term end it performed first is not kept either.
			lvlWant(t, p, "fay", "Silver", "130", "2026-02-16")

			if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c2", Member: "fay", Template: "bronze-only", At: after}); err != nil {
				t.Fatalf("claim of a Bronze coupon after Silver's term end: %v", err)
			}
			lvlWant(t, p, "fay", "Bronze", "0", "2026-04-01")
			if got := lvlCauses(lvlHistory(t, p, "fay")); !slices.Equal(got, []string{"join →Entry", "event Entry→Silver", "term_end Silver→Bronze"}) {
				t.Errorf("history = %v", got)
			}
			if n := lvlAdvance(t, p, after); n != 0 {
				t.Errorf("Advance performed %d items the claim had performed", n)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLevelDecreaseNeverDowngradesMidTermNorGoesNegative(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	at := lvlAt("2026-03-15 10:30")
	mustProcess(t, p, lvlOrder("o1", "gus", "200", "A-1", at))
	lvlWant(t, p, "gus", "Silver", "230", "2026-04-16")
	ret := func(id, amount string, at time.Time) event.Event {
		return lvlEvent(id, "gus", "return", at, event.Attrs{"amount": event.Dec(d(amount)), "order_id": event.Str("A-1")})
	}
	out := mustProcess(t, p, ret("r1", "150", at.Add(time.Hour)))[0] // 3/4 of the order: 150 of 200
	var gc level.GrowthChange
	if err := out.ChangesOf(level.ChangeGrowth)[0].Decode(&gc); err != nil {
		t.Fatal(err)
	}
	if !gc.Amount.Equal(d("-150")) || gc.Rule != "return" {
		t.Errorf("refund change = %+v", gc)
	}
	lvlWant(t, p, "gus", "Silver", "80", "2026-04-16") // below 100, still Silver
	// Only 50 of the order is left to refund: 100 is refused, and changes nothing.
	if _, err := p.Process(context.Background(), ret("r2", "100", at.Add(2*time.Hour))); !errors.Is(err, event.ErrRefundExceedsOrder) {
		t.Errorf("a refund of 100 of the 50 left: %v; want ErrRefundExceedsOrder", err)
	}
	lvlWant(t, p, "gus", "Silver", "80", "2026-04-16")
	mustProcess(t, p, ret("r2", "50", at.Add(2*time.Hour)))
	lvlWant(t, p, "gus", "Silver", "30", "2026-04-16")
	out = mustProcess(t, p, lvlEvent("pen", "gus", "penalty", at.Add(3*time.Hour), nil))[0]
	if err := out.ChangesOf(level.ChangeGrowth)[0].Decode(&gc); err != nil {
		t.Fatal(err)
	}
	if !gc.Amount.Equal(d("-30")) || !gc.Shortfall.Equal(d("20")) || !gc.Balance.IsZero() ||
		!strings.Contains(out.ChangesOf(level.ChangeGrowth)[0].Reason.Note, "shortfall 20") {
		t.Errorf("penalty change = %+v, reason %+v", gc, out.ChangesOf(level.ChangeGrowth)[0].Reason)
	}
	s := lvlWant(t, p, "gus", "Silver", "0", "2026-04-16")
	if !s.Lifetime.Equal(decimal.Zero) {
		t.Errorf("lifetime = %s, want 0 (230 earned, 200 refunded, 30 taken)", s.Lifetime)
	}
	if _, err := p.Process(context.Background(), lvlEvent("bad", "gus", "return", at, event.Attrs{"amount": event.Dec(d("-1")), "order_id": event.Str("A-1")})); !errors.Is(err, level.ErrInvalidRefund) {
		t.Errorf("negative refund: %v, want ErrInvalidRefund", err)
	}
	if err := p.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// lvlFreezeDef is a ladder with monthly terms and 1-month windows where
// Gold has the given freeze strategy.
func lvlFreezeDef(f *level.Freeze) membership.Definition {
	def := lvlDef(level.NextLower)
	month := rule.Validity{Kind: rule.MonthsAfter, N: 1}
	for i := 1; i < len(def.Levels.Ladder); i++ {
		l := &def.Levels.Ladder[i]
		l.Validity, l.Window, l.Gifts = month, 1, nil
	}
	def.Levels.Ladder[3].Freeze = f
	return def
}

func TestLevelLongTermFreezeReturnsAfterTwoDowngrades(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}))
	mustProcess(t, p, lvlOrder("o1", "hal", "500", "", lvlAt("2026-01-10 09:00")))
	lvlWant(t, p, "hal", "Gold", "500", "2026-02-11")
	lvlAdvance(t, p, lvlAt("2026-02-11")) // Gold → Silver, Gold frozen
	s := lvlWant(t, p, "hal", "Silver", "0", "2026-03-12")
	if len(s.Frozen) != 1 || s.Frozen[0].Level != "Gold" || !s.Frozen[0].Deadline.IsZero() {
		t.Fatalf("frozen = %+v", s.Frozen)
	}
	mustProcess(t, p, lvlOrder("o2", "hal", "50", "", lvlAt("2026-02-20")))
	lvlAdvance(t, p, lvlAt("2026-03-12")) // 50 < 60: Silver → Bronze; Gold stays frozen
	s = lvlWant(t, p, "hal", "Bronze", "50", "2026-04-13")
	if len(s.Frozen) != 1 || !s.Frozen[0].Earned.Equal(d("50")) {
		t.Fatalf("frozen = %+v", s.Frozen)
	}
	// 150 more makes 200 since the downgrade from Gold: back to Gold at once
	// (the growth, 200, reaches only Silver).
	out := mustProcess(t, p, lvlOrder("o3", "hal", "150", "", lvlAt("2026-03-20 10:00")))[0]
	s = lvlWant(t, p, "hal", "Gold", "200", "2026-04-21")
	if len(s.Frozen) != 0 {
		t.Errorf("frozen after return = %+v", s.Frozen)
	}
	var fc level.FreezeChange
	if err := out.ChangesOf(level.ChangeUnfrozen)[0].Decode(&fc); err != nil || !fc.Returned || fc.Level != "Gold" {
		t.Errorf("unfrozen = %+v, %v", fc, err)
	}
	want := []string{"join →Entry", "event Entry→Gold", "term_end Gold→Silver", "term_end Silver→Bronze", "unfreeze Bronze→Gold"}
	if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "hal"))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// Status says how much growth returns a frozen member to the level, and
// by when: the unfreeze threshold less the net growth earned since the
// downgrade, more than the threshold after a refund of an order from
// before it. fay reaches Gold with an order of 500, earns 40 in Gold's
// one-month window, and is downgraded to Silver at the term end (24:00 on
// 10 February) with growth re-based to 40 and Gold frozen for 30 days (to
// 13 March) with a threshold of 200. A refund of 100 of the first order
// takes only the 40 she has: −40 counted, 240 needed. 150 earned leaves
// 90, 89 more leaves 1, and the last 1 returns her to Gold.
func TestLevelFrozenNeeded(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")}))
	frozen := func(s level.Status, earned, needed string) {
		t.Helper()
		want := []level.Frozen{{Level: "Gold", Since: lvlAt("2026-02-11"), Deadline: lvlAt("2026-03-13"), Earned: d(earned), Unfreeze: d("200"), Needed: d(needed)}}
		if diff := cmp.Diff(want, s.Frozen, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("frozen (-want +got):\n%s", diff)
		}
	}
	mustProcess(t, p, lvlOrder("o1", "fay", "500", "A", lvlAt("2026-01-10 09:00")))
	mustProcess(t, p, lvlOrder("o2", "fay", "40", "B", lvlAt("2026-02-01 10:00")))
	lvlAdvance(t, p, lvlAt("2026-02-11"))
	frozen(lvlWant(t, p, "fay", "Silver", "40", "2026-03-12"), "0", "200")
	mustProcess(t, p, lvlEvent("r1", "fay", "return", lvlAt("2026-02-15 10:00"), event.Attrs{"amount": event.Dec(d("100")), "order_id": event.Str("A")}))
	frozen(lvlWant(t, p, "fay", "Silver", "0", "2026-03-12"), "-40", "240")
	mustProcess(t, p, lvlOrder("o3", "fay", "150", "C", lvlAt("2026-02-20 10:00")))
	frozen(lvlWant(t, p, "fay", "Silver", "150", "2026-03-12"), "110", "90")
	// StatusAt says the same before the deadline.
	s, err := p.Levels().StatusAt(ctx, "fay", lvlAt("2026-03-01"))
	if err != nil {
		t.Fatal(err)
	}
	frozen(s, "110", "90")
	mustProcess(t, p, lvlOrder("o4", "fay", "89", "D", lvlAt("2026-02-25 10:00")))
	frozen(lvlWant(t, p, "fay", "Silver", "239", "2026-03-12"), "199", "1")
	mustProcess(t, p, lvlOrder("o5", "fay", "1", "E", lvlAt("2026-02-26 10:00")))
	if s := lvlWant(t, p, "fay", "Gold", "240", "2026-03-27"); len(s.Frozen) != 0 {
		t.Errorf("frozen after the return = %+v", s.Frozen)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// A return to a frozen level moves the member up as an upgrade does:
// each level it crosses grants its gifts by the usual rule. In this
// ladder Silver gives 30 once per member and Gold 50 every time; Gold
// has a long-term freeze. max was set to Gold by hand (no gift), ned
// reached it with an order (Silver's and Gold's gifts); both went down to
// Silver, then Bronze, and return with 200 of growth, which reaches
// Silver by itself. max gets Silver's gift, which he never had, and
// Gold's; ned only Gold's, Silver's being once per member. Before, a
// return granted no gift at all, not even that of Silver, which the
// growth reached.
func TestLevelUnfreezeGrantsCrossedGifts(t *testing.T) {
	ctx := context.Background()
	def := lvlDef(level.NextLower)
	for i := 1; i < len(def.Levels.Ladder); i++ {
		l := &def.Levels.Ladder[i]
		l.Validity, l.Window = rule.Validity{Kind: rule.MonthsAfter, N: 1}, 1
	}
	def.Levels.Ladder[3].Freeze = &level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}
	p := testkit.OpenMemory(t, def)
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "set-max", Member: "max", Level: "Gold", Operator: "op", Note: "vip", At: lvlAt("2026-01-10 09:00")}); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlOrder("o1", "ned", "500", "", lvlAt("2026-01-10 09:00"))) // 500 + 30 + 50
	lvlWant(t, p, "ned", "Gold", "580", "2026-02-11")
	// Gold's terms end at 24:00 on 10 February with nothing in the window:
	// down to Silver, Gold frozen; Silver's at 24:00 on 11 March: Bronze.
	lvlAdvance(t, p, lvlAt("2026-03-12"))
	for _, m := range []string{"max", "ned"} {
		if s := lvlWant(t, p, m, "Bronze", "0", "2026-04-13"); len(s.Frozen) != 1 || s.Frozen[0].Level != "Gold" {
			t.Fatalf("%s: frozen = %+v", m, s.Frozen)
		}
	}
	for _, tc := range []struct {
		member, growth string
		gifts          []string
	}{
		{"max", "280", []string{"Silver", "Gold"}}, // 200 + 30 + 50
		{"ned", "250", []string{"Gold"}},           // 200 + 50
	} {
		out := mustProcess(t, p, lvlOrder("o2-"+tc.member, tc.member, "200", "", lvlAt("2026-03-20 10:00")))[0]
		e, err := level.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		var gifts []string
		for _, g := range e.Gifts {
			gifts = append(gifts, g.Level)
		}
		if diff := cmp.Diff(tc.gifts, gifts); diff != "" {
			t.Errorf("%s: gifts (-want +got):\n%s", tc.member, diff)
		}
		lvlWant(t, p, tc.member, "Gold", tc.growth, "2026-04-21")
		h := lvlHistory(t, p, tc.member)
		if last := h[len(h)-1]; last.Cause != level.CauseUnfreeze || last.From != "Bronze" || last.To != "Gold" {
			t.Errorf("%s: last history record = %+v, want the return Bronze→Gold", tc.member, last)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLevelFixedFreezeRunsOut(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")}))
	// A consumer that has read nothing keeps the whole feed from retention.
	if err := p.SetCursor(context.Background(), "test", 0); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlOrder("o1", "ida", "500", "", lvlAt("2026-01-10 09:00")))
	lvlAdvance(t, p, lvlAt("2026-02-11"))
	s := lvlWant(t, p, "ida", "Silver", "0", "2026-03-12")
	if len(s.Frozen) != 1 || !s.Frozen[0].Deadline.Equal(lvlAt("2026-03-13")) {
		t.Fatalf("frozen = %+v", s.Frozen)
	}
	mustProcess(t, p, lvlOrder("o2", "ida", "100", "", lvlAt("2026-03-01")))
	lvlAdvance(t, p, lvlAt("2026-03-13")) // Silver kept (100 ≥ 60); the freeze runs out
	s = lvlWant(t, p, "ida", "Silver", "100", "2026-04-13")
	if len(s.Frozen) != 0 {
		t.Fatalf("frozen after the deadline = %+v", s.Frozen)
	}
	// 200 earned since the downgrade no longer returns ida to Gold.
	mustProcess(t, p, lvlOrder("o3", "ida", "100", "", lvlAt("2026-03-20")))
	lvlWant(t, p, "ida", "Silver", "200", "2026-04-13")
	changes, err := p.Feed(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range changes {
		if c.Kind == level.ChangeFrozen || c.Kind == level.ChangeUnfrozen {
			kinds = append(kinds, c.Kind+" "+c.Time.In(zone).Format(time.DateOnly))
		}
	}
	if diff := cmp.Diff([]string{"level.frozen 2026-02-11", "level.unfrozen 2026-03-13"}, kinds); diff != "" {
		t.Errorf("freeze changes (-want +got):\n%s", diff)
	}
}

// A fixed-duration freeze past its deadline is released by the member's
// next event or request, at the deadline's own instant and before what
// the event does, as a term end due before it is performed; and
// StatusAt reads the status at a time, such a freeze released and term
// ends performed, writing nothing. Before, the event left the freeze in
// the status (and its release came in the feed after the event's
// changes, when Advance ran), and no query gave the status at a time.
func TestLevelFixedFreezeReleasedBeforeEvent(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")}))
	if err := p.SetCursor(ctx, "test", 0); err != nil {
		t.Fatal(err)
	}
	// Gold from 10 January: its term ends at 24:00 on 10 February with
	// nothing in the window, down to Silver, Gold frozen for 30 days: to
	// 24:00 on 12 March (30 days from 11 February, that day the first).
	mustProcess(t, p, lvlOrder("o1", "ivy", "500", "", lvlAt("2026-01-10 09:00")))
	lvlAdvance(t, p, lvlAt("2026-02-11"))
	s := lvlWant(t, p, "ivy", "Silver", "0", "2026-03-12")
	if len(s.Frozen) != 1 || !s.Frozen[0].Deadline.Equal(lvlAt("2026-03-13")) {
		t.Fatalf("frozen = %+v", s.Frozen)
	}

	statusAt := func(at time.Time) level.Status {
		t.Helper()
		s, err := p.Levels().StatusAt(ctx, "ivy", at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// At 23:59 on 12 March the freeze still holds; Silver's term ended at
	// 24:00 on 11 March (nothing in its window: down to Bronze, growth 0,
	// Bronze's one-month term to 24:00 on 12 April).
	if s := statusAt(lvlAt("2026-03-12 23:59")); s.Level != "Bronze" || !s.TermEnd.Equal(lvlAt("2026-04-13")) || len(s.Frozen) != 1 {
		t.Errorf("StatusAt 12 March 23:59 = %+v, want Bronze to 13 April, Gold frozen", s)
	}
	if s := statusAt(lvlAt("2026-03-13")); len(s.Frozen) != 0 || s.Level != "Bronze" {
		t.Errorf("StatusAt 13 March = %+v, want Bronze and no freeze", s)
	}
	// A query writes nothing: the stored status is as it was.
	if s := lvlWant(t, p, "ivy", "Silver", "0", "2026-03-12"); len(s.Frozen) != 1 {
		t.Errorf("status after StatusAt: frozen = %+v", s.Frozen)
	}
	if _, err := p.Levels().StatusAt(ctx, "ivy", time.Time{}); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("StatusAt of the zero time: %v, want ErrInvalidArgument", err)
	}

	// An event after the deadline, Advance not run: the term end and the
	// deadline are performed at their instants, before the event.
	out := mustProcess(t, p, lvlOrder("o2", "ivy", "150", "", lvlAt("2026-03-20 10:00")))[0]
	s = lvlWant(t, p, "ivy", "Silver", "150", "2026-04-21")
	if len(s.Frozen) != 0 {
		t.Errorf("status after the event: frozen = %+v, want none", s.Frozen)
	}
	var got []string
	for _, c := range out.Changes {
		if c.Kind == level.ChangeLevel || c.Kind == level.ChangeUnfrozen {
			got = append(got, c.Kind+" "+c.Time.In(zone).Format("01-02 15:04"))
		}
	}
	want := []string{"level.changed 03-12 00:00", "level.unfrozen 03-13 00:00", "level.changed 03-20 10:00"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if n := lvlAdvance(t, p, lvlAt("2026-03-20 10:00")); n != 0 {
		t.Errorf("Advance performed %d items the event had performed", n)
	}
}

// An upgrade gift's reward that is refused (its coupon out of stock) is
// not marked given: the member is owed it (Status.Owed), and the level's
// next reach grants it, and only it, once-per-member gifts already given
// staying given. Before, the level was marked gifted whole, so the member
// never had the coupon, and the outcome listed it among the gifts granted.
func TestLevelGiftRefusedIsOwed(t *testing.T) {
	ctx := context.Background()
	def := lvlDef("")
	def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"})
	tpl := coupon.Template{Name: "silver-cash", Type: coupon.Cash, Amount: d("20"), Stock: 1, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{tpl}}
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	giftsOf := func(out *change.Outcome) []string {
		t.Helper()
		e, err := level.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range e.Gifts {
			got = append(got, g.Level+" "+g.Reward.Target())
		}
		return got
	}
	coupons := func(member string) int {
		t.Helper()
		cs, err := p.Coupons().List(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	// ann takes the one coupon in stock; bob reaches Silver an hour later:
	// his 30 of growth is given, the coupon refused.
	mustProcess(t, p, lvlOrder("o1", "ann", "100", "", lvlAt("2026-01-15 10:00")))
	out := mustProcess(t, p, lvlOrder("o2", "bob", "100", "", lvlAt("2026-01-15 11:00")))[0]
	if n := len(out.ChangesOf(coupon.ChangeClaimRefused)); n != 1 {
		t.Errorf("%d claims refused, want 1", n)
	}
	if diff := cmp.Diff([]string{"Silver growth"}, giftsOf(out)); diff != "" {
		t.Errorf("gifts granted (-want +got):\n%s", diff)
	}
	s := lvlWant(t, p, "bob", "Silver", "130", "2026-02-16")
	want := []level.Gift{{Level: "Silver", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"}}}
	if diff := cmp.Diff(want, s.Owed); diff != "" {
		t.Errorf("owed (-want +got):\n%s", diff)
	}
	if n := coupons("bob"); n != 0 {
		t.Fatalf("bob holds %d coupons", n)
	}

	// The operator restocks (version 2). Silver's term ends at 24:00 on
	// 15 February with nothing in its window: bob goes down to Bronze,
	// growth 0. His order of 100 on 1 March reaches Silver again: the
	// coupon owed is issued, Silver's growth gift not given twice.
	def.Version = 2
	def.Coupons.Templates[0].Stock = 2
	if p, err = membership.Open(st, def); err != nil {
		t.Fatal(err)
	}
	out = mustProcess(t, p, lvlOrder("o3", "bob", "100", "", lvlAt("2026-03-01 10:00")))[0]
	if diff := cmp.Diff([]string{"Silver coupon:silver-cash"}, giftsOf(out)); diff != "" {
		t.Errorf("gifts granted at the second reach (-want +got):\n%s", diff)
	}
	if s := lvlWant(t, p, "bob", "Silver", "100", "2026-04-02"); len(s.Owed) != 0 {
		t.Errorf("owed after the second reach: %+v", s.Owed)
	}
	if n := coupons("bob"); n != 1 {
		t.Errorf("bob holds %d coupons, want 1", n)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLevelPaidPlan(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	buy := func(id string, at time.Time) event.Event {
		return lvlEvent(id, "joy", "buy", at, event.Attrs{"plan": event.Str("Plus")})
	}
	out := mustProcess(t, p, buy("b1", lvlAt("2026-01-31 10:00")))[0]
	if n := len(out.ChangesOf(level.ChangePlanPurchased)); n != 1 {
		t.Fatalf("%d plan.purchased", n)
	}
	// A renewal extends from the current expiry, not from the purchase.
	mustProcess(t, p, buy("b2", lvlAt("2026-02-10 12:00")), lvlOrder("o1", "joy", "25", "", lvlAt("2026-02-11")))
	s := lvlWant(t, p, "joy", "Bronze", "25", "2026-04-01") // a plan and a level at once
	if diff := cmp.Diff([]level.Held{{Plan: "Plus", Since: lvlAt("2026-01-31 10:00"), Expires: lvlAt("2026-03-28 10:00")}}, s.Plans,
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	lvlAdvance(t, p, lvlAt("2026-03-28 09:59"))
	if s = lvlStatus(t, p, "joy"); len(s.Plans) != 1 {
		t.Fatalf("plan gone before expiry")
	}
	lvlAdvance(t, p, lvlAt("2026-03-28 10:00"))
	if s = lvlStatus(t, p, "joy"); len(s.Plans) != 0 || s.Level != "Bronze" {
		t.Fatalf("after expiry: %+v", s)
	}
	// Bought again after it ran out: from the purchase.
	mustProcess(t, p, buy("b3", lvlAt("2026-04-05 08:00")))
	if s = lvlStatus(t, p, "joy"); len(s.Plans) != 1 || !s.Plans[0].Expires.Equal(lvlAt("2026-05-05 08:00")) {
		t.Fatalf("rebought: %+v", s.Plans)
	}
	want := []string{"join →Entry", "purchase Plus", "purchase Plus", "event Entry→Bronze", "expiry Plus", "term_end Bronze→Bronze", "purchase Plus"}
	if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "joy"))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	counts, err := p.Levels().Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []level.Count{{Name: "Entry"}, {Name: "Bronze", Members: 1}, {Name: "Silver"}, {Name: "Gold"}, {Name: "Platinum"}, {Name: "Plus", Plan: true, Members: 1}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// A plan bought again after it ran out, before Advance performed its
// expiry, records the expiry at its own instant first: the history and
// the feed show the lapse, as they do when Advance ran. Before, the
// history went purchase, purchase with no expiry between.
func TestLevelPlanLapsedBeforeAdvance(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	buy := func(id string, at time.Time) event.Event {
		return lvlEvent(id, "kai", "buy", at, event.Attrs{"plan": event.Str("Plus")})
	}
	mustProcess(t, p, buy("b1", lvlAt("2026-01-31 10:00"))) // monthly: to 2026-02-28 10:00
	out := mustProcess(t, p, buy("b2", lvlAt("2026-04-05 08:00")))[0]
	var got []string
	for _, c := range out.Changes {
		if c.Kind != level.ChangePlanExpired && c.Kind != level.ChangePlanPurchased {
			continue
		}
		var pc level.PlanChange
		if err := c.Decode(&pc); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s at %s: since %s, expires %s, renewed %v", c.Kind, c.Time.In(zone).Format("01-02 15:04"),
			pc.Since.In(zone).Format("01-02 15:04"), pc.Expires.In(zone).Format("01-02 15:04"), pc.Renewed))
	}
	want := []string{
		"plan.expired at 02-28 10:00: since 01-31 10:00, expires 02-28 10:00, renewed false",
		"plan.purchased at 04-05 08:00: since 04-05 08:00, expires 05-05 08:00, renewed false",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan changes (-want +got):\n%s", diff)
	}
	h := lvlHistory(t, p, "kai")
	if diff := cmp.Diff([]string{"join →Entry", "purchase Plus", "expiry Plus", "purchase Plus"}, lvlCauses(h)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if r := h[2]; !r.Time.Equal(lvlAt("2026-02-28 10:00")) || !r.Expires.Equal(lvlAt("2026-02-28 10:00")) {
		t.Errorf("expiry record = %+v, want at 2026-02-28 10:00", r)
	}
	counts, err := p.Levels().Counts(context.Background())
	if err != nil || counts[len(counts)-1].Members != 1 {
		t.Errorf("plan count = %+v, %v; want 1", counts, err)
	}
	// Only the new expiry is due.
	if n := lvlAdvance(t, p, lvlAt("2026-06-01")); n != 1 {
		t.Errorf("Advance performed %d items, want 1 (the plan bought on 5 April)", n)
	}
	if err := p.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A late purchase reinstates a plan whose expiry Advance performed only
// when the member held the plan at the purchase's time: the run bought
// at or before it, expiring after it. Monthly plan Plus bought on
// 1 February at 10:00 (to 1 March 10:00) and ended by Advance on 2 March.
// A purchase at 1 March 10:00, the expiry instant, finds it ended (valid
// before its expiry), as it would before Advance: bought anew, to 1 April
// 10:00, the expiry kept. One dated 28 January, before the run, is bought
// anew from its time, to 28 February 09:00 (the run was not held on
// 28 January: see the package doc, Paid plans).
func TestLevelLatePlanPurchaseOutsideTheRun(t *testing.T) {
	for _, tc := range []struct {
		name, at      string
		since, expire string
	}{
		{"at the expiry instant", "2026-03-01 10:00", "2026-03-01 10:00", "2026-04-01 10:00"},
		{"before the run", "2026-01-28 09:00", "2026-01-28 09:00", "2026-02-28 09:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.OpenMemory(t, lvlDef(""))
			buy := func(id string, at time.Time) event.Event {
				return lvlEvent(id, "lea", "buy", at, event.Attrs{"plan": event.Str("Plus")})
			}
			mustProcess(t, p, buy("b1", lvlAt("2026-02-01 10:00")))
			if n := lvlAdvance(t, p, lvlAt("2026-03-02")); n != 1 {
				t.Fatalf("Advance performed %d items, want 1", n)
			}
			mustProcess(t, p, buy("b2", lvlAt(tc.at)))
			want := []level.Held{{Plan: "Plus", Since: lvlAt(tc.since), Expires: lvlAt(tc.expire)}}
			if diff := cmp.Diff(want, lvlStatus(t, p, "lea").Plans, cmp.Comparer(time.Time.Equal)); diff != "" {
				t.Errorf("plans (-want +got):\n%s", diff)
			}
			h := lvlHistory(t, p, "lea")
			if diff := cmp.Diff([]string{"join →Entry", "purchase Plus", "expiry Plus", "purchase Plus"}, lvlCauses(h)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if err := p.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A days plan of a program in New York bought at 02:30 on 7 March 2026,
// for a day, ends at 03:00 EDT on the 8th: the clocks skip from 02:00
// EST to 03:00 EDT that night, and the plan is held until a clock there
// could read 02:30. Before, it ended at 01:30 EST, an hour early. A
// renewal extends from the expiry as it stands: to 03:00 on the 9th.
func TestLevelDaysPlanAcrossDST(t *testing.T) {
	def := lvlDef("")
	def.Zone = "America/New_York"
	def.Levels.Plans = []level.Plan{{Name: "Day", Period: level.Days, Days: 1, Event: "buy", Attr: "plan"}}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.OpenMemory(t, def)
	buy := func(id string, at time.Time) event.Event {
		return lvlEvent(id, "lee", "buy", at, event.Attrs{"plan": event.Str("Day")})
	}
	expires := func() string {
		t.Helper()
		s := lvlStatus(t, p, "lee")
		if len(s.Plans) != 1 {
			return fmt.Sprintf("%d plans", len(s.Plans))
		}
		return s.Plans[0].Expires.Format(time.RFC3339)
	}
	mustProcess(t, p, buy("b1", time.Date(2026, 3, 7, 2, 30, 0, 0, ny)))
	if got := expires(); got != "2026-03-08T03:00:00-04:00" {
		t.Errorf("expires %s, want 2026-03-08T03:00:00-04:00", got)
	}
	lvlAdvance(t, p, time.Date(2026, 3, 8, 1, 59, 0, 0, ny)) // EST
	if got := expires(); got != "2026-03-08T03:00:00-04:00" {
		t.Errorf("after Advance to 01:59 EST: %s, want the plan held to 03:00 EDT", got)
	}
	mustProcess(t, p, buy("b2", time.Date(2026, 3, 8, 1, 59, 0, 0, ny)))
	if got := expires(); got != "2026-03-09T03:00:00-04:00" {
		t.Errorf("renewed: expires %s, want 2026-03-09T03:00:00-04:00", got)
	}
}

func TestLevelStoredValueMembership(t *testing.T) {
	// A stored-value membership: the ladder's growth comes from recharges.
	def := valueDef()
	def.Levels = &level.Definition{
		Ladder: []level.Level{
			{Name: "Card", Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "Silver Card", Upgrade: d("500"), Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "Gold Card", Upgrade: d("2000"), Validity: rule.Validity{Kind: rule.Permanent}},
		},
		Growth: []level.GrowthRule{{ID: "recharge", Event: "recharge", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")}}},
	}
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p, recharge("r1", "kim", "300.50", t0), recharge("r2", "kim", "300", t0.Add(time.Hour)))
	lvlWant(t, p, "kim", "Silver Card", "600", "")
	v, err := p.Value().Account(context.Background(), "kim")
	if err != nil || !v.Balance.Equal(d("600.50")) {
		t.Errorf("stored value = %+v, %v", v, err)
	}
}

func TestLevelSetLevel(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	ctx := context.Background()
	at := lvlAt("2026-03-15 10:00")
	req := level.SetRequest{RequestID: "req-1", Member: "lee", Level: "Gold", Operator: "ops-1", Note: "VIP complaint", At: at}
	out, err := p.Levels().Set(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ChangesOf(level.ChangeLevel)) != 2 { // join, then the set
		t.Errorf("changes = %+v", out.Changes)
	}
	again, err := p.Levels().Set(ctx, req)
	if err != nil || !again.Duplicate {
		t.Errorf("retry: %+v, %v", again, err)
	}
	lvlWant(t, p, "lee", "Gold", "0", "2027-03-16")
	h := lvlHistory(t, p, "lee")
	if last := h[len(h)-1]; last.Cause != level.CauseManual || last.Operator != "ops-1" || last.Note != "VIP complaint" || last.Event != "req-1" {
		t.Errorf("manual record = %+v", last)
	}
	bad := []struct {
		name string
		req  level.SetRequest
		want error
	}{
		{"unknown level", level.SetRequest{Member: "lee", Level: "Diamond", Operator: "o", Note: "r", At: at}, level.ErrUnknownLevel},
		{"no operator", level.SetRequest{Member: "lee", Level: "Gold", Note: "r", At: at}, event.ErrInvalidArgument},
		{"no reason", level.SetRequest{Member: "lee", Level: "Gold", Operator: "o", At: at}, event.ErrInvalidArgument},
		{"no member", level.SetRequest{Level: "Gold", Operator: "o", Note: "r", At: at}, event.ErrInvalidArgument},
		{"no time", level.SetRequest{Member: "lee", Level: "Gold", Operator: "o", Note: "r"}, event.ErrInvalidArgument},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.RequestID = "req-" + tc.name
			if _, err := p.Levels().Set(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Errorf("Set = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.Levels().Set(ctx, level.SetRequest{Member: "lee", Level: "Silver", Operator: "ops-1", Note: "x", At: at}); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("no request ID: %v", err)
	}
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "req-1", Member: "lee", Level: "Silver", Operator: "ops-1", Note: "x", At: at}); !errors.Is(err, event.ErrConflict) {
		t.Errorf("reused request ID: %v", err)
	}
}

func TestLevelForecast(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	at := lvlAt("2026-03-15 10:00")
	// Silver members (1-month terms ending 2026-04-16, retention 60).
	mustProcess(t, p,
		lvlOrder("o1", "m1", "100", "", at), // 130 with the gift; window [03-16, 04-16) empty so far
		lvlOrder("o2", "m2", "100", "", at),
		lvlOrder("o3", "m2", "45", "", lvlAt("2026-03-20")),
		lvlOrder("o4", "m3", "25", "", at), // Bronze, term to 2026-05-01
	)
	got, err := p.Levels().Forecast(context.Background(), lvlAt("2026-04-01"), 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Member, Level, Window, Needed, Next string }
	var rows []row
	for _, f := range got {
		rows = append(rows, row{f.Member, f.Level, f.Window.String(), f.Needed.String(), f.Next})
	}
	want := []row{{"m1", "Silver", "0", "60", "Bronze"}, {"m2", "Silver", "45", "15", "Bronze"}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("forecast (-want +got):\n%s", diff)
	}
	if got, _ = p.Levels().Forecast(context.Background(), lvlAt("2026-04-01"), 31, 0); len(got) != 3 {
		t.Errorf("31-day forecast has %d members, want 3", len(got))
	}
	if _, err := p.Levels().Forecast(context.Background(), at, 0, 0); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("0 days: %v", err)
	}
}

// A forecast's days are the program zone's, whose starts a term end
// falls on: from the start of a day, days days end at the start of the
// day days later, even where daylight saving moves a start off 00:00. In
// America/Santiago 6 September 2026 starts at 01:00 (the clocks skip
// 00:00 to 01:00); in Asia/Gaza 29 October 2021 starts at the first of
// two midnights (the clocks went back from 01:00 to 00:00). A Silver term
// (a month) reached on 5 August ends at 24:00 of 5 September, the start
// of the 6th; one reached on 6 August at the start of the 7th. Before,
// the day from the 6th's start took the same wall clock a day later
// (01:00 on the 7th) and listed the 7th's term end too, and the day from
// Gaza's 28 October ended at the second midnight and listed the 29th's:
// a host forecasting day by day counted each twice.
func TestLevelForecastDaysAcrossDaylightSaving(t *testing.T) {
	ctx := context.Background()
	forecast := func(t *testing.T, p *membership.Program, from time.Time, days int) []string {
		t.Helper()
		got, err := p.Levels().Forecast(ctx, from, days, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range got {
			out = append(out, f.Member+" "+f.TermEnd.Format(time.RFC3339))
		}
		return out
	}
	t.Run("skipped midnight", func(t *testing.T) {
		def := lvlDef("")
		def.Zone = "America/Santiago"
		scl := testkit.Zone(def.Zone)
		p := testkit.OpenMemory(t, def)
		mustProcess(t, p, lvlOrder("o1", "m1", "100", "", time.Date(2026, 8, 5, 12, 0, 0, 0, scl)),
			lvlOrder("o2", "m2", "100", "", time.Date(2026, 8, 6, 12, 0, 0, 0, scl)))
		m1, m2 := "m1 2026-09-06T01:00:00-03:00", "m2 2026-09-07T00:00:00-03:00"
		start5 := time.Date(2026, 9, 5, 0, 0, 0, 0, scl)
		start6 := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC) // 01:00 -03
		start7 := time.Date(2026, 9, 7, 0, 0, 0, 0, scl)
		for _, tc := range []struct {
			from time.Time
			days int
			want []string
		}{
			{start5, 1, nil},
			{start5, 2, []string{m1}},
			{start6, 1, []string{m1}},
			{start6, 2, []string{m1, m2}},
			{start7, 1, []string{m2}},
			{start6.Add(time.Minute), 1, []string{m2}}, // 01:01 to 01:01
		} {
			if diff := cmp.Diff(tc.want, forecast(t, p, tc.from, tc.days)); diff != "" {
				t.Errorf("from %v, %d days (-want +got):\n%s", tc.from, tc.days, diff)
			}
		}
	})
	t.Run("doubled midnight", func(t *testing.T) {
		def := lvlDef("")
		def.Zone = "Asia/Gaza"
		gaza := testkit.Zone(def.Zone)
		p := testkit.OpenMemory(t, def)
		mustProcess(t, p, lvlOrder("o1", "m1", "100", "", time.Date(2021, 9, 28, 12, 0, 0, 0, gaza)))
		m1 := "m1 2021-10-29T00:00:00+03:00"
		start28 := time.Date(2021, 10, 28, 0, 0, 0, 0, gaza)
		start29 := time.Date(2021, 10, 28, 21, 0, 0, 0, time.UTC) // the first 00:00, +03
		for _, tc := range []struct {
			from time.Time
			days int
			want []string
		}{
			{start28, 1, nil},
			{start28, 2, []string{m1}},
			{start29, 1, []string{m1}},
		} {
			if diff := cmp.Diff(tc.want, forecast(t, p, tc.from, tc.days)); diff != "" {
				t.Errorf("from %v, %d days (-want +got):\n%s", tc.from, tc.days, diff)
			}
		}
	})
}

// Forecast's from is a query time: outside the years 1900 to 2099 it is
// refused, naming "from" (a from in 2200 used to return an empty list),
// as a zero from is; the edges of the range are taken.
func TestLevelForecastFromOutsideTheRange(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	ctx := context.Background()
	for _, from := range []time.Time{
		{},
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		_, err := p.Levels().Forecast(ctx, from, 3, 10)
		if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "from") {
			t.Errorf("from %v: %v; want ErrInvalidArgument naming from", from, err)
		}
	}
	for _, from := range []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		if got, err := p.Levels().Forecast(ctx, from, 3, 10); err != nil || len(got) != 0 {
			t.Errorf("from %v: %v, %v; want an empty forecast", from, got, err)
		}
	}
	if _, err := p.Levels().Forecast(ctx, lvlAt("2026-04-01"), 0, 10); !strings.Contains(fmt.Sprint(err), "days 0") {
		t.Errorf("0 days: %v; want an error naming days", err)
	}
}

// History and Forecast page by the library's one rule (event.PageSize):
// 0 is the default, a limit above the maximum is clamped, a negative one
// is refused naming "limit". History used to read a negative limit as the
// default and a limit above 1,000 as 100 (131 records — the join, then
// 130 sets — asked with 5,000 gave 100); Forecast took a negative limit
// and any number of days.
func TestLevelHistoryAndForecastLimits(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	ctx := context.Background()
	for i := range 130 {
		lvl := []string{"Silver", "Gold"}[i%2]
		at := lvlAt("2026-03-01").Add(time.Duration(i) * time.Minute)
		if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: fmt.Sprint("s", i), Member: "ann", Operator: "ops", Note: "test", At: at, Level: lvl}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ limit, want int }{{0, 100}, {7, 7}, {5000, 131}, {1 << 40, 131}} {
		h, err := p.Levels().History(ctx, "ann", 0, tc.limit)
		if err != nil || len(h) != tc.want {
			t.Errorf("History limit %d: %d records, %v; want %d", tc.limit, len(h), err, tc.want)
		}
	}
	// Paging after the last record, or after the greatest Seq there can
	// be, lists nothing (the latter wrapped round to Seq 0 and listed
	// everything from the start).
	for _, after := range []uint64{131, math.MaxUint64} {
		if h, err := p.Levels().History(ctx, "ann", after, 10); err != nil || len(h) != 0 {
			t.Errorf("History after %d: %d records, %v; want none", after, len(h), err)
		}
	}
	_, err := p.Levels().History(ctx, "ann", 0, -1)
	if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("History limit -1: %v; want ErrInvalidArgument naming the limit", err)
	}
	_, err = p.Levels().Forecast(ctx, lvlAt("2026-03-01"), 30, -1)
	if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Forecast limit -1: %v; want ErrInvalidArgument naming the limit", err)
	}
	for _, days := range []int{level.MaxDays + 1, 1 << 40} {
		_, err = p.Levels().Forecast(ctx, lvlAt("2026-03-01"), days, 10)
		if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "days") {
			t.Errorf("Forecast of %d days: %v; want ErrInvalidArgument naming days", days, err)
		}
	}
	if _, err := p.Levels().Forecast(ctx, lvlAt("2026-03-01"), level.MaxDays, 1<<40); err != nil {
		t.Errorf("Forecast of MaxDays, a huge limit: %v", err)
	}
}

func TestLevelInvalidDefinitionPaths(t *testing.T) {
	def := lvlDef("")
	def.Levels.Ladder[2].Upgrade = d("10")
	def.Levels.Ladder[3].Window = 0
	def.Levels.Growth[2].Event = "visit"
	def.Levels.Ladder[1].Gifts = []rule.Reward{{Kind: rule.RewardCoupon, Template: "welcome"}}
	err := def.Validate()
	for _, want := range []string{
		"levels.ladder[2].upgrade: must be greater than 20",
		"levels.ladder[3].window: must be 1 to 1200",
		`levels.growth[2].event: unknown event type "visit"`,
		"levels.ladder[1].gifts[0]: unknown coupon template welcome",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v\nwant %q", err, want)
		}
	}
}

func TestLevelConcurrentMembersCounted(t *testing.T) {
	p := testkit.OpenMemory(t, lvlDef(""))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount := []string{"5", "25", "120"}[i%3]
			_, err := p.Process(context.Background(), lvlOrder(fmt.Sprint("o", i), fmt.Sprint("m", i), amount, "", lvlAt("2026-03-15")))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	counts, err := p.Levels().Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Name] = c.Members
	}
	if got["Entry"] != 14 || got["Bronze"] != 13 || got["Silver"] != 13 {
		t.Errorf("counts = %v", got)
	}
}

// TestLevelBoltMainFlow runs the main flow on the bolt store.
func TestLevelBoltMainFlow(t *testing.T) {
	p := testkit.OpenBolt(t, lvlDef(level.Matching))
	at := lvlAt("2026-03-15 10:30")
	mustProcess(t, p,
		lvlEvent("c1", "ann", "check_in", at, nil),
		lvlEvent("v1", "ann", "verify", at, nil),
		lvlOrder("o1", "ann", "600", "X", at.Add(time.Hour)),
		lvlEvent("b1", "ann", "buy", at, event.Attrs{"plan": event.Str("Plus")}),
	)
	lvlWant(t, p, "ann", "Gold", "712", "2027-03-16")
	mustProcess(t, p, lvlEvent("r1", "ann", "return", at.Add(2*time.Hour), event.Attrs{"amount": event.Dec(d("300")), "order_id": event.Str("X")}))
	lvlWant(t, p, "ann", "Gold", "412", "2027-03-16")
	lvlAdvance(t, p, lvlAt("2027-04-01"))
	// Window [2026-03-16, 2027-03-16) is empty: matching → Entry; the plan ran out.
	s := lvlWant(t, p, "ann", "Entry", "0", "")
	if len(s.Plans) != 0 || !s.Lifetime.Equal(d("412")) {
		t.Errorf("status = %+v", s)
	}
	if err := p.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLevelDefinitionJSONRoundTrip(t *testing.T) {
	def := lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")})
	def.Levels.Growth[0].Effective = rule.Window{From: lvlAt("2026-01-01"), To: lvlAt("2027-01-01")}
	def.Levels.Growth[2].Conditions = []event.Condition{{Attr: "channel", Op: event.In, Values: []event.Value{event.Str("app")}}}
	def.Levels.Rounding = rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	got, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{
		cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		// event.Value.Equal reports two zero values unequal.
		cmp.Comparer(func(a, b event.Value) bool { return a.Kind == "" && b.Kind == "" || a.Equal(b) }),
	}
	if diff := cmp.Diff(def, got, opts); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestLevelUnknownPlanRefused: a purchase event whose plan attribute names
// no plan of the definition ("Nope") used to be processed as buying
// nothing while its points rule still granted 10 points; it is refused as
// an invalid event naming the attribute and the value, writes nothing, and
// its ID is free for the purchase meant: "Plus" (monthly) bought at
// 2026-03-01 20:00 expires 2026-04-01 20:00, and the rule grants 10. An
// event of that type without the (optional) attribute buys no plan and is
// processed: 10 more points, 20 in all.
func TestLevelUnknownPlanRefused(t *testing.T) {
	ctx := context.Background()
	def := lvlDef("")
	def.Events[5].Attributes[0].Required = false // "buy"'s "plan"
	def.Points = &points.Definition{
		Programs: []points.Program{{Name: "mall"}},
		Rules:    []points.Rule{{ID: "buy", Program: "mall", Event: "buy", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("10")}}},
	}
	p := testkit.OpenMemory(t, def)
	at := lvlAt("2026-03-01 20:00")
	buy := func(plan string) event.Event {
		ev := lvlEvent("b1", "max", "buy", at, event.Attrs{})
		if plan != "" {
			ev.Attrs["plan"] = event.Str(plan)
		}
		return ev
	}
	balance := func() string {
		t.Helper()
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "max", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return b.Available.String()
	}
	for _, plan := range []string{"Nope", "plus", "Entry"} {
		_, err := p.Process(ctx, buy(plan))
		if !errors.Is(err, event.ErrInvalidEvent) || !errors.Is(err, level.ErrUnknownPlan) ||
			!strings.Contains(err.Error(), "attrs.plan") || !strings.Contains(err.Error(), fmt.Sprintf("%q", plan)) {
			t.Errorf("purchase of plan %q: %v, want ErrInvalidEvent and ErrUnknownPlan naming attrs.plan and the value", plan, err)
		}
		if _, err := p.Quote(ctx, buy(plan)); !errors.Is(err, level.ErrUnknownPlan) {
			t.Errorf("quote of a purchase of plan %q: %v, want ErrUnknownPlan", plan, err)
		}
	}
	if feed, err := p.Feed(ctx, 0, 100); err != nil || len(feed) != 0 {
		t.Errorf("feed after the refusals: %d changes, %v; want none", len(feed), err)
	}
	if got := balance(); got != "0" {
		t.Errorf("points after the refusals = %s, want 0", got)
	}
	out := mustProcess(t, p, buy("Plus"))[0]
	if out.Duplicate {
		t.Fatal("the refused event's ID was taken")
	}
	s := lvlStatus(t, p, "max")
	if len(s.Plans) != 1 || s.Plans[0].Plan != "Plus" || !s.Plans[0].Expires.Equal(lvlAt("2026-04-01 20:00")) {
		t.Errorf("plans = %+v, want Plus to 2026-04-01 20:00", s.Plans)
	}
	if got := balance(); got != "10" {
		t.Errorf("points after the purchase = %s, want 10", got)
	}
	none := buy("")
	none.ID = "b2"
	mustProcess(t, p, none)
	if s := lvlStatus(t, p, "max"); len(s.Plans) != 1 || !s.Plans[0].Expires.Equal(lvlAt("2026-04-01 20:00")) {
		t.Errorf("plans after an event naming none = %+v, want Plus unchanged", s.Plans)
	}
	if got := balance(); got != "20" {
		t.Errorf("points after an event naming no plan = %s, want 20", got)
	}
}

func TestLevelPlansWithoutLadder(t *testing.T) {
	def := lvlDef("")
	def.Levels = &level.Definition{Plans: []level.Plan{{Name: "Annual", Period: level.Yearly, Event: "buy", Attr: "plan"}, {Name: "Week", Period: level.Days, Days: 7, Event: "buy", Attr: "plan"}}}
	p := testkit.OpenMemory(t, def)
	buy := func(id, plan string, at time.Time) event.Event {
		return lvlEvent(id, "max", "buy", at, event.Attrs{"plan": event.Str(plan)})
	}
	mustProcess(t, p, buy("b1", "Week", lvlAt("2026-03-01 20:00")))
	// A purchase naming no plan is refused (TestLevelUnknownPlanRefused).
	if _, err := p.Process(context.Background(), buy("b2", "Other", lvlAt("2026-03-01 20:00"))); !errors.Is(err, level.ErrUnknownPlan) {
		t.Errorf("a purchase naming no plan: %v, want ErrUnknownPlan", err)
	}
	s := lvlStatus(t, p, "max")
	if s.Level != "" || len(s.Plans) != 1 || !s.Plans[0].Expires.Equal(lvlAt("2026-03-08 20:00")) {
		t.Fatalf("status = %+v", s)
	}
	lvlAdvance(t, p, lvlAt("2026-03-09"))
	out := mustProcess(t, p, buy("b3", "Annual", lvlAt("2026-03-10")))
	var pc level.PlanChange
	if err := out[0].ChangesOf(level.ChangePlanPurchased)[0].Decode(&pc); err != nil || pc.Renewed || !pc.Expires.Equal(lvlAt("2027-03-10")) {
		t.Errorf("plan change = %+v, %v", pc, err)
	}
	if _, err := p.Levels().Set(context.Background(), level.SetRequest{RequestID: "r", Member: "max", Level: "Gold", Operator: "o", Note: "r", At: lvlAt("2026-03-10")}); !errors.Is(err, level.ErrNoLadder) {
		t.Errorf("SetLevel without a ladder: %v", err)
	}
	feed, _ := p.Feed(context.Background(), 0, 100)
	var kinds []string
	for _, c := range feed {
		kinds = append(kinds, c.Kind)
	}
	if diff := cmp.Diff([]string{"plan.purchased", "plan.expired", "plan.purchased"}, kinds); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
}

// A member known for a paid plan bought while the definition had no
// ladder joins the entry level when a later version adds one: their level
// is the entry level, their first event joins them there (the rules bound
// to it apply) and the join is counted. Before, the member kept the level
// "": the entry level's rules skipped them, their first upgrade counted
// as an upgrade from "" and not as a join, and Status showed no level.
func TestLevelLadderAddedAfterPlans(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	v1 := lvlDef("")
	v1.Version = 1
	v1.Levels = &level.Definition{Plans: v1.Levels.Plans}
	p, err := membership.Open(st, v1)
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, lvlEvent("b1", "max", "buy", lvlAt("2026-03-01 20:00"), event.Attrs{"plan": event.Str("Plus")}))
	v2 := lvlDef("")
	v2.Version = 2
	v2.Levels.Growth[0].Levels = []string{"Entry"} // check-ins earn at the entry level only
	if p, err = membership.Open(st, v2); err != nil {
		t.Fatal(err)
	}
	if s := lvlStatus(t, p, "max"); s.Level != "Entry" || len(s.Plans) != 1 {
		t.Errorf("before any event: level %q, plans %+v; want Entry, Plus", s.Level, s.Plans)
	}
	mustProcess(t, p, lvlEvent("c1", "max", "check_in", lvlAt("2026-03-02 20:00"), nil))
	s := lvlWant(t, p, "max", "Entry", "12", "")
	if !s.Since.Equal(lvlAt("2026-03-02 20:00")) {
		t.Errorf("since %v, want the first event's time", s.Since)
	}
	if diff := cmp.Diff([]string{"purchase Plus", "join →Entry"}, lvlCauses(lvlHistory(t, p, "max"))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	counts, err := p.Levels().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []level.Count{{Name: "Entry", Members: 1}, {Name: "Bronze"}, {Name: "Silver"}, {Name: "Gold"}, {Name: "Platinum"}, {Name: "Plus", Plan: true, Members: 1}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	days, err := p.Levels().Days(ctx, rule.Date{Year: 2026, Month: 3, Day: 2}, rule.Date{Year: 2026, Month: 3, Day: 2})
	if err != nil {
		t.Fatal(err)
	}
	if dd := days[0]; dd.Joins != 1 || dd.Upgrades != 0 || dd.Members[0].Members != 1 {
		t.Errorf("day = %+v; want one join, no upgrade, one member at Entry", dd)
	}
}

// Freezes are the risk control after a term's expiry: an operator's set
// below a level with a freeze strategy freezes nothing, and a set to a
// frozen level ends its freeze (not a return: no threshold was reached).
func TestLevelManualSetsAndFreezes(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}))
	ctx := context.Background()
	set := func(id, lvl string, at time.Time) *change.Outcome {
		t.Helper()
		out, err := p.Levels().Set(ctx, level.SetRequest{RequestID: id, Member: "ned", Level: lvl, Operator: "ops", Note: "test", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	mustProcess(t, p, lvlOrder("o1", "ned", "500", "", lvlAt("2026-01-10 09:00")))
	set("s1", "Bronze", lvlAt("2026-01-12 09:00"))
	if s := lvlStatus(t, p, "ned"); len(s.Frozen) != 0 {
		t.Fatalf("a manual set below Gold froze %+v", s.Frozen)
	}
	// 500 + 200 = 700 reaches Gold by growth; nothing returns the member.
	mustProcess(t, p, lvlOrder("o2", "ned", "200", "", lvlAt("2026-01-13 09:00")))
	lvlWant(t, p, "ned", "Gold", "700", "2026-02-14")

	// Gold's term ends with nothing in its window: Silver, Gold frozen.
	lvlAdvance(t, p, lvlAt("2026-02-14"))
	lvlWant(t, p, "ned", "Silver", "0", "2026-03-15")
	out := set("s2", "Gold", lvlAt("2026-02-20 09:00"))
	var fc level.FreezeChange
	if got := out.ChangesOf(level.ChangeUnfrozen); len(got) != 1 || got[0].Decode(&fc) != nil || fc.Level != "Gold" || fc.Returned {
		t.Errorf("set to the frozen level: unfrozen %+v (%+v); want Gold's freeze ended, not a return", got, fc)
	}
	if s := lvlStatus(t, p, "ned"); len(s.Frozen) != 0 {
		t.Errorf("frozen after the set = %+v", s.Frozen)
	}
}

// Only growth earned from the downgrade on counts toward the unfreeze
// threshold (SPEC: "growth earned from then on is counted"). An event
// that reaches the program late, dated before the term end Advance
// performed, earns growth but does not count for the freeze. Before, a
// late order dated 5 February counted its 250 toward Gold's 200 and
// returned hal to Gold on 5 February, before the 11 February downgrade.
func TestLevelGrowthBeforeTheDowngradeDoesNotUnfreeze(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}))
	mustProcess(t, p, lvlOrder("o1", "hal", "500", "", lvlAt("2026-01-10 09:00")))
	lvlAdvance(t, p, lvlAt("2026-02-11")) // nothing in [11 Jan, 11 Feb): Gold → Silver, Gold frozen
	lvlWant(t, p, "hal", "Silver", "0", "2026-03-12")

	out := mustProcess(t, p, lvlOrder("o2", "hal", "250", "", lvlAt("2026-02-05 10:00")))[0]
	if n := len(out.ChangesOf(level.ChangeLevel)) + len(out.ChangesOf(level.ChangeUnfrozen)); n != 0 {
		t.Errorf("late order: %d level or unfreeze changes, want none", n)
	}
	s := lvlWant(t, p, "hal", "Silver", "250", "2026-03-12")
	if len(s.Frozen) != 1 || !s.Frozen[0].Earned.IsZero() {
		t.Fatalf("frozen after the late order = %+v, want Gold with 0 earned", s.Frozen)
	}
	// 200 earned after the downgrade: back to Gold at once.
	mustProcess(t, p, lvlOrder("o3", "hal", "200", "", lvlAt("2026-02-20 10:00")))
	lvlWant(t, p, "hal", "Gold", "450", "2026-03-21")
	want := []string{"join →Entry", "event Entry→Gold", "term_end Gold→Silver", "unfreeze Silver→Gold"}
	if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "hal"))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// The retention window of a term end T is [T − W months, T) in the
// program's zone: growth at T − W counts, a second before it does not,
// nor does growth at T, which comes after the term end (the event
// performs it first). Silver here (one-month terms and window, retention
// 60) is reached on 10 January, so its term ends at 24:00 of 10 February,
// 11 February 00:00, and the window opens on 11 January 00:00.
func TestLevelRetentionWindowEdges(t *testing.T) {
	for _, tc := range []struct {
		name, last, want, growth, termEnd string
	}{
		// 30 + 29 = 59 < 60: down to Bronze, whose term (one month
		// after 11 February) ends at 24:00 of 11 March.
		{"59 in the window", "29", "Bronze", "64", "2026-03-12"},
		{"60 in the window", "30", "Silver", "65", "2026-03-12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.OpenMemory(t, lvlFreezeDef(nil))
			mustProcess(t, p,
				lvlOrder("o1", "kim", "120", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o2", "kim", "10", "", lvlAt("2026-01-10 23:59:59")), // before the window
				lvlOrder("o3", "kim", "30", "", lvlAt("2026-01-11 00:00")),    // its first instant
				lvlOrder("o4", "kim", tc.last, "", lvlAt("2026-02-10 23:59:59")),
			)
			lvlWant(t, p, "kim", "Silver", d("160").Add(d(tc.last)).String(), "2026-02-11")
			// At T itself: the term end first, then the order's 5.
			mustProcess(t, p, lvlOrder("o5", "kim", "5", "", lvlAt("2026-02-11 00:00")))
			s := lvlWant(t, p, "kim", tc.want, tc.growth, tc.termEnd)
			if !s.Lifetime.Equal(d("165").Add(d(tc.last))) {
				t.Errorf("lifetime %s, want %s", s.Lifetime, d("165").Add(d(tc.last)))
			}
			h := lvlHistory(t, p, "kim")
			last := h[len(h)-1]
			if last.Cause != level.CauseTermEnd || !last.Time.Equal(lvlAt("2026-02-11")) || last.Window == nil || !last.Window.Equal(d("30").Add(d(tc.last))) {
				t.Errorf("term end record = %+v", last)
			}
		})
	}
}

// A growth rule's effective period [from, to) is read in instants, so in
// the program's zone: an event at 00:00 of 1 March in Shanghai counts, one
// a second before does not, one at 23:59:59 of 31 March counts, and one
// at 1 April 00:00 in Shanghai (16:00 of 31 March in UTC) does not.
func TestLevelGrowthRuleEffectiveEdges(t *testing.T) {
	def := lvlDef("")
	def.Levels.Growth[2].Effective = rule.Window{From: lvlAt("2026-03-01"), To: lvlAt("2026-04-01")}
	p := testkit.OpenMemory(t, def)
	for i, tc := range []struct {
		at     time.Time
		growth string
	}{
		{lvlAt("2026-02-28 23:59:59"), "0"},
		{lvlAt("2026-03-01 00:00"), "7"},
		{lvlAt("2026-03-31 23:59:59"), "14"},
		{time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC), "14"},
	} {
		mustProcess(t, p, lvlOrder(fmt.Sprint("o", i), "lee", "7", "", tc.at))
		if s := lvlStatus(t, p, "lee"); !s.Growth.Equal(d(tc.growth)) {
			t.Errorf("after the order at %v: growth %s, want %s", tc.at, s.Growth, tc.growth)
		}
	}
}

// An event that reaches the program late, dated before the member's
// current level started, earns its growth, and the upgrade it brings
// takes effect when the current level started, not before: in time
// order the member's growth reached the threshold then at the earliest.
// kim reaches Silver with 120 on 10 March; an order of 400 dated 1 March
// arrives after it: 520 reaches Gold, from 10 March 09:00, whose
// one-month term ends at 24:00 of 10 April. Before, Gold was dated 1
// March (its term to 24:00 of 1 April), the history went back in time,
// and Days counted -1 members at Silver from 1 to 9 March.
func TestLevelLateEventUpgradesFromTheCurrentLevel(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(nil))
	mustProcess(t, p, lvlOrder("o1", "kim", "120", "", lvlAt("2026-03-10 09:00")))
	out := mustProcess(t, p, lvlOrder("o2", "kim", "400", "", lvlAt("2026-03-01 09:00")))[0]
	s := lvlWant(t, p, "kim", "Gold", "520", "2026-04-11")
	if !s.Since.Equal(lvlAt("2026-03-10 09:00")) {
		t.Errorf("Gold since %v, want 2026-03-10 09:00", s.Since.In(zone))
	}
	if cs := out.ChangesOf(level.ChangeLevel); len(cs) != 1 || !cs[0].Time.Equal(lvlAt("2026-03-10 09:00")) {
		t.Errorf("level changes = %+v, want one at 2026-03-10 09:00", cs)
	}
	var times []time.Time
	for _, r := range lvlHistory(t, p, "kim") {
		times = append(times, r.Time.In(zone))
	}
	want := []time.Time{lvlAt("2026-03-10 09:00"), lvlAt("2026-03-10 09:00"), lvlAt("2026-03-10 09:00")}
	if diff := cmp.Diff(want, times); diff != "" {
		t.Errorf("history times (-want +got):\n%s", diff)
	}
	days, err := p.Levels().Days(context.Background(), rule.Date{Year: 2026, Month: 3, Day: 1}, rule.Date{Year: 2026, Month: 3, Day: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, dd := range days {
		var silver, gold int64
		for _, c := range dd.Members {
			switch c.Name {
			case "Silver":
				silver = c.Members
			case "Gold":
				gold = c.Members
			}
		}
		wantGold, wantUp := int64(0), int64(0)
		if dd.Day.Day == 10 {
			wantGold, wantUp = 1, 2 // joined, then Entry → Silver and Silver → Gold
		}
		if silver != 0 || gold != wantGold || dd.Upgrades != wantUp {
			t.Errorf("%s: Silver %d, Gold %d, upgrades %d; want 0, %d, %d", dd.Day, silver, gold, dd.Upgrades, wantGold, wantUp)
		}
	}
}

// A manual set takes effect at its At, or, when that is before the level
// the member holds started (the member's later event went first: the two
// raced), at that start, so that the move never precedes the one it
// follows. A set to Bronze dated 5 March of a member at Silver since 10
// March 09:00 takes effect then: Bronze's one-month term ends at 24:00 of
// 10 April, the history stays in time order and Days counts the move on
// 10 March. Before, it was dated 5 March (term to 24:00 of 5 April), and
// Days counted -1 members at Silver from 5 to 9 March.
func TestLevelSetNotBeforeTheLevelHeld(t *testing.T) {
	p := testkit.OpenMemory(t, lvlFreezeDef(nil))
	ctx := context.Background()
	mustProcess(t, p, lvlOrder("o1", "kim", "120", "", lvlAt("2026-03-10 09:00")))
	out, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "s1", Member: "kim", Level: "Bronze", Operator: "ops", Note: "complaint", At: lvlAt("2026-03-05 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	if cs := out.ChangesOf(level.ChangeLevel); len(cs) != 1 || !cs[0].Time.Equal(lvlAt("2026-03-10 09:00")) {
		t.Errorf("level changes = %+v, want one at 2026-03-10 09:00", cs)
	}
	s := lvlWant(t, p, "kim", "Bronze", "120", "2026-04-11")
	if !s.Since.Equal(lvlAt("2026-03-10 09:00")) {
		t.Errorf("Bronze since %v, want 2026-03-10 09:00", s.Since.In(zone))
	}
	h := lvlHistory(t, p, "kim")
	if last := h[len(h)-1]; last.Cause != level.CauseManual || !last.Time.Equal(lvlAt("2026-03-10 09:00")) || last.Operator != "ops" {
		t.Errorf("manual record = %+v", last)
	}
	days, err := p.Levels().Days(ctx, rule.Date{Year: 2026, Month: 3, Day: 5}, rule.Date{Year: 2026, Month: 3, Day: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, dd := range days {
		for _, c := range dd.Members {
			want := int64(0)
			if dd.Day.Day == 10 && c.Name == "Bronze" {
				want = 1
			}
			if !c.Plan && c.Members != want {
				t.Errorf("%s: %d at %s, want %d", dd.Day, c.Members, c.Name, want)
			}
		}
	}
}
