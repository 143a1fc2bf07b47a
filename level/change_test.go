package level_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// The hand-written GrowthChange encoder decodes to what json.Marshal's
// would, with every optional field set and unset.
func TestGrowthChangeJSONMatchesMarshal(t *testing.T) {
	for _, data := range []level.GrowthChange{
		{Amount: d("12.5"), Balance: d("0"), Lifetime: d("-3"), Kind: "earned"},
		{Amount: d("-1"), Balance: d("2"), Lifetime: d("3"), Kind: "k\"<", Rule: "r\n", Shortfall: d("0.01")},
	} {
		raw, err := engine.MarshalData(data)
		if err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(data)
		var got, want map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", raw, err)
		}
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%T decoded (-json.Marshal +AppendJSON):\n%s", data, diff)
		}
	}
}

// The hand-written encoders of LevelChange and Record decode to what
// json.Marshal's would, every optional field set and unset.
func TestLevelJSONMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 3, 15, 10, 0, 0, 5, testkit.Zone("Asia/Shanghai"))
	w := d("12.5")
	for _, v := range []testkit.JSONAppender{
		level.LevelChange{To: "gold", Cause: level.CauseOpening, Growth: d("0")},
		level.LevelChange{From: "a\"b", To: "c<d>", Cause: "x\n", TermEnd: at, Growth: d("-1.25"), Window: &w},
		&level.Record{Time: at, Cause: level.CauseOpening},
		&level.Record{Seq: 1<<63 + 5, Time: at.UTC(), Cause: "c", From: "f", To: "t", TermEnd: at.AddDate(1, 0, 0), Event: "e\x00",
			Operator: "o&p", Note: "n\u2029", Window: &w, Plan: "p", Expires: at.Add(time.Nanosecond)},
	} {
		testkit.SameJSON(t, v, true)
		testkit.AppendsWithoutAllocating(t, v)
	}
}

// The encoder earns its place by not allocating: every event that earns
// growth publishes a GrowthChange.
func TestGrowthChangeAppendJSONAllocs(t *testing.T) {
	c := level.GrowthChange{Amount: d("35"), Balance: d("1234.5"), Lifetime: d("2000"), Kind: level.KindEarned, Rule: "order"}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf, _ = c.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %.0f times, want 0", n)
	}
}

func TestEffectsOf(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, lvlDef(""))
	utc := time.Date(2026, 3, 15, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	// 600 crosses Bronze, Silver and Gold; the two growth gifts follow.
	out := mustProcess(t, p, lvlOrder("o1", "bob", "600", "", utc))[0]
	e, err := level.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	var growth []string
	for _, g := range e.Growth {
		growth = append(growth, string(g.Kind)+" "+g.Amount.String()+" → "+g.Balance.String())
	}
	if diff := cmp.Diff([]string{"earned 600 → 600", "rewarded 30 → 630", "rewarded 50 → 680"}, growth); diff != "" {
		t.Errorf("growth (-want +got):\n%s", diff)
	}
	if !e.Granted().Equal(d("680")) {
		t.Errorf("Granted = %s, want 680", e.Granted())
	}
	if to, ok := e.Reached(); !ok || to != "Gold" {
		t.Errorf("Reached = %q, %v; want Gold", to, ok)
	}
	if len(e.Levels) != 2 || e.Levels[0].Cause != level.CauseJoin || e.Levels[1].Cause != level.CauseEvent || e.Levels[1].From != "Entry" {
		t.Errorf("levels = %+v", e.Levels)
	}
	if end := e.Levels[1].TermEnd; end.Location() != p.Location() || !end.Equal(lvlAt("2027-03-16")) {
		t.Errorf("term end %v, want 2027-03-16 00:00 in the program's zone", end)
	}
	if len(e.Gifts) != 2 || e.Gifts[0].Level != "Silver" || e.Gifts[1].Reward.Kind != rule.RewardGrowth {
		t.Errorf("gifts = %+v", e.Gifts)
	}

	// A purchase, a refund with a shortfall, a manual set.
	out = mustProcess(t, p, lvlEvent("b1", "bob", "buy", lvlAt("2026-03-16 09:00"), event.Attrs{"plan": event.Str("Plus")}))[0]
	if e, _ = level.EffectsOf(out); len(e.Purchased) != 1 || e.Purchased[0].Plan != "Plus" || e.Purchased[0].Expires.Location() != p.Location() ||
		!e.Purchased[0].Expires.Equal(lvlAt("2026-04-16 09:00")) {
		t.Errorf("purchased = %+v", e.Purchased)
	}
	if _, ok := e.Reached(); ok || !e.Granted().IsZero() {
		t.Errorf("a purchase reached %v, granted %s", e.Levels, e.Granted())
	}
	set, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "s1", Member: "bob", Operator: "ops", Note: "test", At: lvlAt("2026-03-17"), Level: "Silver"})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ = level.EffectsOf(set); len(e.Levels) != 1 || e.Levels[0].Cause != level.CauseManual || e.Levels[0].To != "Silver" || len(e.Growth) != 0 {
		t.Errorf("manual set effects = %+v", e)
	}

	// Nothing, or another domain's changes only.
	if e, err := level.EffectsOf(nil); err != nil || e.Growth != nil || e.Levels != nil {
		t.Errorf("EffectsOf(nil) = %+v, %v", e, err)
	}
	other := &change.Outcome{Changes: []change.Change{{Kind: "points.earned", Data: json.RawMessage(`{"x":1}`)}}}
	if e, err := level.EffectsOf(other); err != nil || len(e.Growth)+len(e.Levels) != 0 {
		t.Errorf("EffectsOf(points) = %+v, %v", e, err)
	}
	bad := &change.Outcome{Event: "e", Changes: []change.Change{{Seq: 3, Kind: level.ChangeGrowth, Data: json.RawMessage(`{"amount":[]}`)}}}
	if _, err := level.EffectsOf(bad); err == nil {
		t.Error("a payload that does not decode gave no error")
	}
}

// TestSetIdempotent: a retry returns the first outcome marked Duplicate;
// the same ID with another request is a conflict and changes nothing; the
// same instant written in another zone is the same request.
func TestSetIdempotent(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, lvlDef(""))
	at := lvlAt("2026-03-15 10:00")
	req := level.SetRequest{RequestID: "r1", Member: "ann", Operator: "ops", Note: "goodwill", At: at, Level: "Silver"}
	first, err := p.Levels().Set(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	utc := req
	utc.At = at.UTC()
	for _, r := range []level.SetRequest{req, utc} {
		again, err := p.Levels().Set(ctx, r)
		if err != nil || !again.Duplicate {
			t.Fatalf("retry: %+v, %v", again, err)
		}
		want := *first
		want.Duplicate = true
		if diff := cmp.Diff(&want, again, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
			cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("retry outcome (-want +got):\n%s", diff)
		}
	}
	before := lvlStatus(t, p, "ann")
	feed, _ := p.Feed(ctx, 0, 100)
	conflict := req
	conflict.Level = "Gold"
	if _, err := p.Levels().Set(ctx, conflict); !errors.Is(err, event.ErrConflict) || !errors.Is(err, membership.ErrEventConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if after := lvlStatus(t, p, "ann"); after.Level != "Silver" || !after.Since.Equal(before.Since) {
		t.Errorf("after the conflict: %+v", after)
	}
	if again, _ := p.Feed(ctx, 0, 100); len(again) != len(feed) {
		t.Errorf("the conflict published %d changes", len(again)-len(feed))
	}
	if h := lvlHistory(t, p, "ann"); len(h) != 2 {
		t.Errorf("history = %v", lvlCauses(h))
	}
}

// TestTimesInProgramZone: a host that sends UTC times reads the level's
// times back in the program's zone.
func TestTimesInProgramZone(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")}))
	mustProcess(t, p,
		lvlOrder("o1", "ida", "500", "", lvlAt("2026-01-10 09:00").UTC()),
		lvlEvent("b1", "ida", "buy", lvlAt("2026-02-01 09:00").UTC(), event.Attrs{"plan": event.Str("Plus")}),
	)
	lvlAdvance(t, p, lvlAt("2026-02-11").UTC()) // Gold → Silver, Gold frozen
	s := lvlStatus(t, p, "ida")
	loc := p.Location()
	if s.Since.Location() != loc || s.TermEnd.Location() != loc || len(s.Frozen) != 1 || s.Frozen[0].Since.Location() != loc ||
		s.Frozen[0].Deadline.Location() != loc || len(s.Plans) != 1 || s.Plans[0].Expires.Location() != loc {
		t.Errorf("status times not in %v: %+v", loc, s)
	}
	if !s.Since.Equal(lvlAt("2026-02-11")) || !s.TermEnd.Equal(lvlAt("2026-03-12")) {
		t.Errorf("term %v – %v", s.Since, s.TermEnd)
	}
	for _, r := range lvlHistory(t, p, "ida") {
		if r.Time.Location() != loc || (!r.TermEnd.IsZero() && r.TermEnd.Location() != loc) || (!r.Expires.IsZero() && r.Expires.Location() != loc) {
			t.Errorf("history record times not in %v: %+v", loc, r)
		}
	}
	f, err := p.Levels().Forecast(ctx, lvlAt("2026-03-01").UTC(), 30, 0)
	if err != nil || len(f) != 1 || f[0].TermEnd.Location() != loc {
		t.Errorf("forecast = %+v, %v", f, err)
	}
}

// TestNotDefined: without levels every call of the handle says so, but
// History, which lists no record. Each says so before it looks at its
// arguments: with bad ones too (a member that is not an ID, a zero time,
// a period that is none), the error is ErrNotDefined, not
// event.ErrInvalidArgument; StatusAt checked its arguments first.
func TestNotDefined(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, valueDef())
	h := p.Levels()
	if h == nil {
		t.Fatal("nil handle")
	}
	_, err1 := h.Set(ctx, level.SetRequest{RequestID: "r", Member: "m", Operator: "o", Note: "n", At: t0, Level: "Gold"})
	_, err2 := h.Status(ctx, "m")
	_, err3 := h.Counts(ctx)
	_, err4 := h.Forecast(ctx, t0, 1, 0)
	_, err5 := h.StatusAt(ctx, "m", t0)
	_, err6 := h.GrowthDays(ctx, "m", rule.Date{Year: 2026, Month: 1, Day: 1})
	_, err7 := h.Days(ctx, rule.Date{Year: 2026, Month: 1, Day: 1}, rule.Date{Year: 2026, Month: 1, Day: 2})
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if !errors.Is(err, level.ErrNotDefined) {
			t.Errorf("call %d: %v, want ErrNotDefined", i+1, err)
		}
	}
	bad := map[string]error{}
	_, bad["Set"] = h.Set(ctx, level.SetRequest{Member: "\x00"})
	_, bad["Status"] = h.Status(ctx, "")
	_, bad["StatusAt"] = h.StatusAt(ctx, "", time.Time{})
	_, bad["GrowthDays"] = h.GrowthDays(ctx, "", rule.Date{})
	_, bad["Forecast"] = h.Forecast(ctx, time.Time{}, 0, -1)
	_, bad["Days"] = h.Days(ctx, rule.Date{}, rule.Date{})
	for name, err := range bad {
		if !errors.Is(err, level.ErrNotDefined) || errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s with bad arguments: %v, want ErrNotDefined alone", name, err)
		}
	}
	if h, err := h.History(ctx, "m", 0, 10); err != nil || len(h) != 0 {
		t.Errorf("History: %v, %v; want an empty list", h, err)
	}
}

// TestCapCutPublishes: a grant a cap cuts publishes what is left, with the
// cut in the reason; a grant cut to nothing publishes nothing.
func TestCapCutPublishes(t *testing.T) {
	def := lvlDef("")
	def.Levels.Growth[2].Caps = rule.Caps{{Period: rule.Day, Limit: d("15")}}
	p := testkit.OpenMemory(t, def)
	at := lvlAt("2026-03-15 10:00")
	outs := mustProcess(t, p, lvlOrder("o1", "cy", "10", "", at), lvlOrder("o2", "cy", "10", "", at.Add(time.Hour)), lvlOrder("o3", "cy", "10", "", at.Add(2*time.Hour)))
	cs := outs[1].ChangesOf(level.ChangeGrowth)
	if len(cs) != 1 {
		t.Fatalf("second order: %d growth changes", len(cs))
	}
	var gc level.GrowthChange
	if err := cs[0].Decode(&gc); err != nil || !gc.Amount.Equal(d("5")) {
		t.Errorf("second order granted %+v, %v; want 5", gc, err)
	}
	if cut := cs[0].Reason.Cut; cut == nil || cut.Period != rule.Day || !cut.Wanted.Equal(d("10")) || !cut.Granted.Equal(d("5")) {
		t.Errorf("cut = %+v", cut)
	}
	if n := len(outs[2].ChangesOf(level.ChangeGrowth)); n != 0 {
		t.Errorf("third order published %d growth changes, want 0", n)
	}
	lvlWant(t, p, "cy", "Entry", "15", "") // 10 + 5 + 0: below Bronze (20)
}

// TestGrowthCapAddedByANewVersion pins what a cap a new version adds
// counts: the grants from that version on. Version 1 of the order rule
// has no cap; under it a and b each earn 80 growth for an order of 80.
// Version 2 adds a total cap of 100, whose counter starts at 0: a's order
// of 150 earns 100 (used 0), and a's next order nothing. A refund gives
// back to the counter what it reverses, though the grant was made before
// the cap: a's full return of the version-1 order takes the counter from
// 100 to 20, so an order of 150 earns 80 more. b earned 30 under version
// 2 when b's version-1 order is returned: the counter stops at 0
// (deleted), not -50, so b's next order of 150 earns the limit, 100, and
// no more. The ladder's gifts are left out: only the rule earns growth.
func TestGrowthCapAddedByANewVersion(t *testing.T) {
	def := func(version uint64, caps rule.Caps) membership.Definition {
		def := lvlDef("")
		for i := range def.Levels.Ladder {
			def.Levels.Ladder[i].Gifts = nil
		}
		order := def.Levels.Growth[2]
		order.Caps = caps
		def.Levels.Growth = []level.GrowthRule{order}
		def.Version = version
		return def
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, zone) }
	mustProcess(t, v1, lvlOrder("a1", "a", "80", "oa", at(2, 10)), lvlOrder("b1", "b", "80", "ob", at(2, 10)))
	p, err := membership.Open(st, def(2, rule.Caps{{Period: rule.Total, Limit: d("100")}}))
	if err != nil {
		t.Fatal(err)
	}
	// growth processes e and checks the growth it moved (none: "") and
	// the cut: none when used is "", else the total cap's with used
	// before it.
	growth := func(e event.Event, wanted, moved, used string) {
		t.Helper()
		cs := mustProcess(t, p, e)[0].ChangesOf(level.ChangeGrowth)
		if moved == "" {
			if len(cs) != 0 {
				t.Errorf("%s: %d growth changes, want none", e.ID, len(cs))
			}
			return
		}
		if len(cs) != 1 {
			t.Fatalf("%s: %d growth changes, want 1", e.ID, len(cs))
		}
		var gc level.GrowthChange
		if err := cs[0].Decode(&gc); err != nil {
			t.Fatal(err)
		}
		var want *rule.Cut
		if used != "" {
			want = &rule.Cut{Period: rule.Total, Limit: d("100"), Used: d(used), Wanted: d(wanted), Granted: d(moved)}
		}
		if !gc.Amount.Equal(d(moved)) || !cmp.Equal(cs[0].Reason.Cut, want, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })) {
			t.Errorf("%s moved %s growth, cut %+v; want %s, cut %+v", e.ID, gc.Amount, cs[0].Reason.Cut, moved, want)
		}
	}
	ret := func(id, member, order string, at time.Time) event.Event {
		return lvlEvent(id, member, "return", at, event.Attrs{"amount": event.Dec(d("80")), "order_id": event.Str(order)})
	}
	growth(lvlOrder("a2", "a", "150", "oa2", at(3, 10)), "150", "100", "0")
	growth(lvlOrder("a3", "a", "10", "oa3", at(3, 11)), "10", "", "")
	growth(ret("a4", "a", "oa", at(4, 10)), "", "-80", "")
	growth(lvlOrder("a5", "a", "150", "oa5", at(5, 10)), "150", "80", "20")
	// 80 + 100 - 80 + 80; Silver (100) since 3 March, to 24:00 of 3 April.
	lvlWant(t, p, "a", "Silver", "180", "2026-04-04")

	growth(lvlOrder("b2", "b", "30", "ob2", at(3, 10)), "30", "30", "")
	growth(ret("b3", "b", "ob", at(4, 10)), "", "-80", "")
	growth(lvlOrder("b4", "b", "150", "ob4", at(5, 10)), "150", "100", "0")
	growth(lvlOrder("b5", "b", "1", "ob5", at(5, 11)), "1", "", "")
	// 80 + 30 - 80 + 100; Silver since 3 March (110), kept through the
	// return's 30: a decrease never downgrades mid-term.
	lvlWant(t, p, "b", "Silver", "130", "2026-04-04")
}
