package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// retailDef is the retail example's definition with profile attributes of
// every kind, a second manual tag, a recharge bonus of 10% in points,
// pending for 7 days and valid 90 days (so that members hold lots of
// different expiries, and pending lots), and an achievement catalog
// (gold-club, which Gold's upgrade gift grants; vip-guest, which
// operators grant).
func retailDef(t testing.TB) membership.Definition {
	t.Helper()
	raw, err := os.ReadFile("../examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	tags := m["tags"].(map[string]any)
	tags["attributes"] = []any{
		map[string]any{"name": "phone", "type": "string"},
		map[string]any{"name": "score", "type": "decimal"},
		map[string]any{"name": "visits", "type": "integer"},
		map[string]any{"name": "opted_in", "type": "bool"},
		map[string]any{"name": "born", "type": "time"},
		map[string]any{"name": "interests", "type": "strings"},
	}
	tags["manual"] = append(tags["manual"].([]any), map[string]any{"name": "vip"})
	pts := m["points"].(map[string]any)
	pts["rules"] = append(pts["rules"].([]any), map[string]any{
		"id": "recharge-bonus", "program": "mall", "event": "recharge", "pending_days": 7,
		"formula":  map[string]any{"kind": "multiplier", "base": "amount", "rate": "0.1"},
		"validity": map[string]any{"kind": "days_after", "n": 90}})
	m["benefits"].(map[string]any)["achievements"] = []any{map[string]any{"name": "gold-club"}, map[string]any{"name": "vip-guest"}}
	gold := m["levels"].(map[string]any)["ladder"].([]any)[1].(map[string]any)
	if gold["name"] != "Gold" {
		t.Fatalf("ladder[1] is %v, want Gold", gold["name"])
	}
	gold["gifts"] = append(gold["gifts"].([]any), map[string]any{"kind": "achievement", "achievement": "gold-club"})
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func openRetail(t testing.TB) *membership.Program {
	t.Helper()
	p, err := membership.Open(memory.New(), retailDef(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// march is a time of March 2026 in the program's zone.
func march(p *membership.Program, d, h int) time.Time {
	return time.Date(2026, 3, d, h, 0, 0, 0, p.Location())
}

// history gives alice a rich history and bob and carol a little (see
// TestOpeningsRoundTrip for what it comes to).
func history(t *testing.T, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	ev := func(id, member, typ string, d int, attrs event.Attrs) {
		t.Helper()
		if _, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: typ, Time: march(p, d, 10), Attrs: attrs}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	order := func(id, member, amount string, d int) {
		t.Helper()
		ev(id, member, "order", d, event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id)})
	}
	ev("e1", "alice", "register", 1, nil)
	order("o1", "alice", "1000", 2)
	order("o2", "alice", "600", 5)
	ev("e2", "alice", "recharge", 6, event.Attrs{"amount": event.DecString("800")})
	ev("e3", "alice", "value_pay", 7, event.Attrs{"amount": event.DecString("150")})
	ev("e5", "alice", "value_refund", 8, event.Attrs{"amount": event.DecString("50")})
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Member: "alice", At: march(p, 8, 10),
		Program: "mall", Ref: "gift-shop-1", Amount: decimal.NewFromInt(300)}); err != nil {
		t.Fatal(err)
	}
	cs, err := p.Coupons().List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Template == "welcome-fresh" {
			if _, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rv1", Operator: "op", At: march(p, 8, 11), Coupon: c.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, tg := range []string{"staff", "vip"} {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t" + tg, Member: "alice", Operator: "op", At: march(p, 9, 10+i), Tag: tg}); err != nil {
			t.Fatal(err)
		}
	}
	born := time.Date(1990, 5, 17, 8, 30, 0, 0, time.UTC)
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p1", Member: "alice", At: march(p, 9, 12),
		Attributes: map[string]event.Value{"phone": event.Str("+8613800001111"), "score": event.DecString("4.75"),
			"visits": event.Int(12), "opted_in": event.Flag(true), "born": event.At(born),
			"interests": event.List("fresh", "wine")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "alice", Operator: "op", Note: "opened the new store",
		At: march(p, 9, 13), Achievement: "vip-guest"}); err != nil {
		t.Fatal(err)
	}
	order("o3", "bob", "100", 1)
	ev("e4", "bob", "recharge", 10, event.Attrs{"amount": event.DecString("50")})
	if _, err := p.Process(ctx, event.Event{ID: "f1", Member: "bob", Type: "fee", Time: march(p, 10, 12),
		Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.DecString("199")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p2", Member: "carol", At: march(p, 11, 10),
		Attributes: map[string]event.Value{"opted_in": event.Flag(false)}}); err != nil {
		t.Fatal(err)
	}
}

// state is what of a member an import carries over.
type state struct {
	Level            string
	TermEnd          time.Time
	Growth, Lifetime decimal.Decimal
	Available        decimal.Decimal
	Pending          decimal.Decimal
	Frozen           decimal.Decimal
	Lots             []lot
	Plans            []level.Held
	Value            [5]decimal.Decimal // balance, recharged, spent, refunded, withdrawn
	Coupons          []held
	Achievements     []achieved
	Tags             []string
	Profile          map[string]event.Value
}

// achieved is what of an achievement's grant an import carries over: its
// time and source (not its note, nor its event: the import's request is).
type achieved struct {
	Achievement, Source, By string
	At                      time.Time
}

type lot struct {
	Sub              string
	Amount           decimal.Decimal
	Expires, Release time.Time
}

type held struct {
	Template, Code string
	Expires        time.Time
	State          coupon.State
}

func stateOf(t *testing.T, p *membership.Program, member string, at time.Time) state {
	t.Helper()
	ctx := context.Background()
	var s state
	lv, err := p.Levels().Status(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	s.Level, s.TermEnd, s.Growth, s.Lifetime, s.Plans = lv.Level, lv.TermEnd, lv.Growth, lv.Lifetime, lv.Plans
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: member, At: at})
	if err != nil {
		t.Fatal(err)
	}
	s.Available, s.Pending, s.Frozen = b.Available, b.Pending, b.Frozen
	lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: member})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lots {
		s.Lots = append(s.Lots, lot{l.Sub, l.Amount, l.Expires, l.Release})
	}
	v, err := p.Value().Account(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	s.Value = [5]decimal.Decimal{v.Balance, v.Recharged, v.Spent, v.Refunded, v.Withdrawn}
	cs, err := p.Coupons().List(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.State != coupon.Available {
			continue
		}
		code := c.Legacy // an imported coupon keeps the exported one's code as its Legacy
		if code == "" {
			code = c.Code
		}
		s.Coupons = append(s.Coupons, held{c.Template, code, c.Expires, c.State})
	}
	slices.SortFunc(s.Coupons, func(a, b held) int { return strings.Compare(a.Template+a.Code, b.Template+b.Code) })
	gs, err := p.Benefits().Achievements(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		s.Achievements = append(s.Achievements, achieved{g.Achievement, g.Source, g.By, g.At})
	}
	prof, err := p.Tags().Profile(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range prof.Tags {
		if a.Manual {
			s.Tags = append(s.Tags, a.Tag)
		}
	}
	s.Profile = prof.Attributes
	return s
}

var stateCmp = []cmp.Option{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b event.Value) bool { return a.Equal(b) }),
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// TestOpeningsRoundTrip exports a program with a history into the import
// format, imports the file into an empty program with the same
// definition, and finds every member's state the same (and Verify
// passing on both), before and after the pending points fall due, and
// the paid plan's benefits and member price the same on both at instants
// before and after its expiry. A file without the plans, value_refunded
// and achievements columns (an export before them) imports with none
// held, nothing refunded and none granted.
func TestOpeningsRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openRetail(t)
	history(t, src)
	at := march(src, 12, 12)
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	members := []string{"alice", "bob", "carol"}

	// The source, worked out by hand. alice: 1000 spent at Silver (1,000
	// points to the end of 2026), 600 more reach Gold at 1,600 growth
	// (gifts: 200 points, a gold-gift coupon; the order earns 600 × 1.2 =
	// 720), a recharge of 800 gives 80 pending points (released on 13
	// March 10:00, valid 90 days: to 24:00 of 3 June), the payment of 150 leaves
	// 650, the redemption of 300 takes from the oldest lot (1,000 → 700);
	// the newcomer pack's welcome-fresh was revoked, welcome-10 is held.
	// Gold's term: 12 months from 5 March, to 24:00 of 5 March 2027. A
	// refund of 50 of the 150 spent (8 March) takes the balance to 700.
	// Gold's gift grants gold-club with the order of 5 March 10:00 (source
	// level, by Gold), an operator vip-guest on 9 March 13:00.
	endOf2026 := time.Date(2027, 1, 1, 0, 0, 0, 0, src.Location())
	alice := stateOf(t, src, "alice", at)
	want := state{Level: "Gold", TermEnd: time.Date(2027, 3, 6, 0, 0, 0, 0, src.Location()),
		Growth: dec("1600"), Lifetime: dec("1600"), Available: dec("1620"), Pending: dec("80"),
		Lots: []lot{{"", dec("700"), endOf2026, time.Time{}}, {"", dec("200"), endOf2026, time.Time{}}, {"", dec("720"), endOf2026, time.Time{}},
			{points.SubPending, dec("80"), time.Date(2026, 6, 4, 0, 0, 0, 0, src.Location()), march(src, 13, 10)}},
		Value: [5]decimal.Decimal{dec("700"), dec("800"), dec("150"), dec("50"), decimal.Zero},
		Achievements: []achieved{{"gold-club", "level", "Gold", march(src, 5, 10)},
			{"vip-guest", "operator", "op", march(src, 9, 13)}},
		Tags: []string{"staff", "vip"},
		Profile: map[string]event.Value{"phone": event.Str("+8613800001111"), "score": event.DecString("4.75"),
			"visits": event.Int(12), "opted_in": event.Flag(true), "born": event.At(time.Date(1990, 5, 17, 8, 30, 0, 0, time.UTC)),
			"interests": event.List("fresh", "wine")}}
	got := alice
	got.Coupons = nil // their codes are random: checked below
	if d := cmp.Diff(want, got, stateCmp...); d != "" {
		t.Errorf("alice before the export (-want +got):\n%s", d)
	}
	var templates []string
	for _, c := range alice.Coupons {
		templates = append(templates, c.Template)
	}
	if !slices.Equal(templates, []string{"gold-gift", "welcome-10"}) {
		t.Errorf("alice's coupons %v, want gold-gift and welcome-10", templates)
	}
	// bob bought Plus (yearly) on 10 March 12:00: held to the same time of
	// 10 March 2027.
	plusEnd := time.Date(2027, 3, 10, 12, 0, 0, 0, src.Location())
	if got := stateOf(t, src, "bob", at).Plans; !cmp.Equal([]level.Held{{Plan: "Plus", Since: march(src, 10, 12), Expires: plusEnd}}, got, stateCmp...) {
		t.Errorf("bob's plans %+v, want Plus from 10 March 12:00 to %s", got, plusEnd)
	}

	var buf bytes.Buffer
	var progress []int64
	n, err := export.Openings(ctx, &buf, src, slices.Values(members), at, func(rows int64) { progress = append(progress, rows) })
	if err != nil || n != 3 || !slices.Equal(progress, []int64{1, 2, 3}) {
		t.Fatalf("export: %d rows %v, progress %v; want 3, nil, [1 2 3]", n, err, progress)
	}
	file := buf.String()

	dst := openRetail(t)
	res, err := migrate.Run(ctx, dst, migrate.CSV(strings.NewReader(file), dst.Location()), migrate.Options{Name: "export.csv"})
	if err != nil || res.Progress != (migrate.Progress{Rows: 3, Applied: 3}) {
		t.Fatalf("import: %+v %v\n%s", res, err, file)
	}
	for _, p := range []*membership.Program{src, dst} {
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(when time.Time) {
		t.Helper()
		for _, m := range members {
			if d := cmp.Diff(stateOf(t, src, m, when), stateOf(t, dst, m, when), stateCmp...); d != "" {
				t.Errorf("%s at %s (-exported +imported):\n%s", m, when, d)
			}
		}
	}
	compare(at)
	// Exporting the imported program gives the same file back.
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, dst, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}
	// An imported coupon is found by the exported one's code.
	for _, c := range alice.Coupons {
		if got, err := dst.Coupons().ByCode(ctx, c.Code); err != nil || got.Member != "alice" || got.Template != c.Template {
			t.Errorf("imported coupon by code %s: %+v %v", c.Code, got, err)
		}
	}
	// An imported grant names the import's request (alice is the file's
	// line 2) and carries no note.
	if gs, err := dst.Benefits().Achievements(ctx, "alice"); err != nil || len(gs) != 2 || gs[1].Event != "export.csv:2" || gs[1].Note != "" {
		t.Errorf("alice's imported achievements %+v, %v; want two, of event export.csv:2 and no note", gs, err)
	}
	// Refunds: 100 of alice's 150 spent are refundable on both, not 150.
	for name, p := range map[string]*membership.Program{"source": src, "imported": dst} {
		refund := func(id, amount string) error {
			_, err := p.Process(ctx, event.Event{ID: id, Member: "alice", Type: "value_refund", Time: march(p, 12, 13),
				Attrs: event.Attrs{"amount": event.DecString(amount)}})
			return err
		}
		if err := refund("rf-over", "100.01"); !errors.Is(err, value.ErrRefundExceedsSpend) {
			t.Errorf("%s: a refund of 100.01: %v, want ErrRefundExceedsSpend", name, err)
		}
	}

	// The plan's benefits and member price, on both, at instants before
	// bob bought it (9 March), between the purchase and the export (11
	// March), at the export, a nanosecond before its expiry and at it: bob
	// is at Silver, which has no benefit, so with Plus he has plus-price
	// (95%) and free-delivery and pays 95 for 100, without it nothing and
	// 100. alice (Gold, no plan) has none at every instant.
	benefits := func(p *membership.Program, member string, when time.Time) (names []string, price decimal.Decimal) {
		t.Helper()
		bs, err := p.Benefits().Of(ctx, member, when)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			names = append(names, b.Name)
		}
		pr, err := p.Benefits().MemberPrice(ctx, member, dec("100"), when)
		if err != nil {
			t.Fatal(err)
		}
		return names, pr.Amount
	}
	plus := []string{"plus-price", "free-delivery"}
	checkBenefits := func(stage string) {
		t.Helper()
		for _, c := range []struct {
			when  time.Time
			names []string
			price string
		}{
			{march(src, 9, 0), nil, "100"},
			{march(src, 11, 0), plus, "95"},
			{at, plus, "95"},
			{plusEnd.Add(-time.Nanosecond), plus, "95"},
			{plusEnd, nil, "100"},
		} {
			for name, p := range map[string]*membership.Program{"source": src, "imported": dst} {
				names, price := benefits(p, "bob", c.when)
				if !slices.Equal(names, c.names) || !price.Equal(dec(c.price)) {
					t.Errorf("%s, %s: bob at %s: benefits %v, price %s; want %v, %s", stage, name, c.when, names, price, c.names, c.price)
				}
				if names, price := benefits(p, "alice", c.when); names != nil || !price.Equal(dec("100")) {
					t.Errorf("%s, %s: alice at %s: benefits %v, price %s; want none, 100", stage, name, c.when, names, price)
				}
			}
		}
	}
	checkBenefits("before the expiry")

	// The file without the plans, value_refunded, value_withdrawn and
	// achievements columns, as an export before them wrote it: no plan
	// held, nothing refunded or withdrawn, no achievement granted; the rest
	// as imported.
	older := withoutColumns(t, file, "plans", "value_refunded", "value_withdrawn", "achievements")
	old := openRetail(t)
	if res, err := migrate.Run(ctx, old, migrate.CSV(strings.NewReader(older), old.Location()), migrate.Options{Name: "older.csv"}); err != nil || res.Applied != 3 {
		t.Fatalf("import of the older file: %+v %v", res, err)
	}
	for _, m := range members {
		w, g := stateOf(t, dst, m, at), stateOf(t, old, m, at)
		w.Plans, w.Achievements, w.Value[3], w.Value[4] = nil, nil, decimal.Zero, decimal.Zero
		if d := cmp.Diff(w, g, stateCmp...); d != "" {
			t.Errorf("%s imported from the older file (-want +got):\n%s", m, d)
		}
	}

	// The pending points are released on both at their time (alice on 13
	// March, bob on 17 March), and the rest stays the same.
	later := march(src, 18, 0)
	for _, p := range []*membership.Program{src, dst} {
		if _, err := p.Advance(ctx, later); err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	compare(later)
	if s := stateOf(t, dst, "alice", later); !s.Available.Equal(dec("1700")) || !s.Pending.IsZero() {
		t.Errorf("alice imported, after the release: %s available, %s pending; want 1700, 0", s.Available, s.Pending)
	}
	// bob: 100 from his order at Silver, 500 from Plus's fee, and the 5
	// pending from his recharge of 50.
	if s := stateOf(t, dst, "bob", later); !s.Available.Equal(dec("605")) || !s.Pending.IsZero() {
		t.Errorf("bob imported, after the release: %s available, %s pending; want 605, 0", s.Available, s.Pending)
	}

	// Exported at its expiry, before Advance performed it (Status still
	// lists it), bob's plan is left out, as an expired lot is.
	var atEnd bytes.Buffer
	if _, err := export.Openings(ctx, &atEnd, src, slices.Values([]string{"bob"}), plusEnd, nil); err != nil {
		t.Fatal(err)
	}
	if rows, err := csv.NewReader(&atEnd).ReadAll(); err != nil || len(rows) != 2 || rows[1][slices.Index(rows[0], "plans")] != "" {
		t.Errorf("bob exported at Plus's expiry: %q, %v; want an empty plans cell", rows, err)
	}

	// Past Plus's expiry, Advance performs it on both: bob holds no plan,
	// has no benefit and pays 100; the rest (alice's Gold term end of 6
	// March 2027, the lots expired at the end of 2026) the same on both.
	after := plusEnd.Add(time.Hour)
	for _, p := range []*membership.Program{src, dst} {
		if _, err := p.Advance(ctx, after); err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if s := stateOf(t, p, "bob", after); s.Plans != nil {
			t.Errorf("bob after Plus's expiry: plans %+v, want none", s.Plans)
		}
		if names, price := benefits(p, "bob", after); names != nil || !price.Equal(dec("100")) {
			t.Errorf("bob after Plus's expiry: benefits %v, price %s; want none, 100", names, price)
		}
	}
	compare(after)
	// The same instants read back from the history once the expiry is
	// performed: the imported plan's run starts on 10 March, as the
	// source's.
	checkBenefits("after the expiry")
}

// withoutColumns returns the CSV file without the columns named, each of
// which its header has, as an export before them wrote it.
func withoutColumns(t *testing.T, file string, cols ...string) string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var keep []int
	for i, col := range rows[0] {
		if !slices.Contains(cols, col) {
			keep = append(keep, i)
		}
	}
	if len(keep) != len(rows[0])-len(cols) {
		t.Fatalf("header %v: want each of %v", rows[0], cols)
	}
	var out bytes.Buffer
	cw := csv.NewWriter(&out)
	for _, r := range rows {
		var cells []string
		for _, i := range keep {
			cells = append(cells, r[i])
		}
		if err := cw.Write(cells); err != nil {
			t.Fatal(err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestOpeningsRoundTripWithdrawals carries the stored-value withdrawal
// total (value_withdrawn): the imported members have the same Account,
// the same tag recharge total (net of withdrawals) and tags, the export
// of the imported program is the same file, and Verify passes on both. A
// withdrawal after the import counts off alike on both. The file without
// the column imports as before it: nothing withdrawn, a balance the
// totals no longer account for, and the gross recharge total with the
// card-holder tag (recharge total ≥ 500) it gives.
func TestOpeningsRoundTripWithdrawals(t *testing.T) {
	ctx := context.Background()
	open := func() *membership.Program {
		// retailDef with stored-value withdrawals (event type
		// value_withdraw) that the tags' recharge total counts off.
		p, err := membership.Open(memory.New(), testkit.WithWithdraw(retailDef(t), "value_withdraw"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := open()
	ev := func(p *membership.Program, id, member, typ, amount string, when time.Time) error {
		_, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: typ, Time: when,
			Attrs: event.Attrs{"amount": event.DecString(amount)}})
		return err
	}
	for _, e := range []struct {
		id, member, typ, amount string
		d                       int
	}{
		{"r1", "dave", "recharge", "800", 2},
		{"p1", "dave", "value_pay", "150", 3},
		{"w1", "dave", "value_withdraw", "400", 4},
		{"f1", "dave", "value_refund", "50", 5},
		{"r2", "erin", "recharge", "600", 2},
		{"w2", "erin", "value_withdraw", "50", 4},
	} {
		if err := ev(src, e.id, e.member, e.typ, e.amount, march(src, e.d, 10)); err != nil {
			t.Fatalf("%s: %v", e.id, err)
		}
	}
	at := march(src, 12, 12)
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	members := []string{"dave", "erin"}

	// By hand. dave: 800 recharged, 150 spent, 400 withdrawn, 50 of the
	// spend refunded: balance 800 − 150 + 50 − 400 = 300; the recharge
	// total 800 − 400 = 400, below card-holder's 500 (given at the
	// recharge, taken away by the withdrawal). erin: 600 recharged, 50
	// withdrawn: balance and recharge total 550, card-holder kept.
	type figures = testkit.ValueFigures
	want := map[string]figures{
		"dave": {Account: value.Account{Balance: dec("300"), Recharged: dec("800"), Spent: dec("150"), Refunded: dec("50"), Withdrawn: dec("400")}, Recharge: dec("400")},
		"erin": {Account: value.Account{Balance: dec("550"), Recharged: dec("600"), Withdrawn: dec("50")}, Recharge: dec("550"), Tags: []string{"card-holder"}},
	}
	for _, m := range members {
		if d := cmp.Diff(want[m], testkit.ValueFiguresOf(t, src, m), stateCmp...); d != "" {
			t.Errorf("%s before the export (-want +got):\n%s", m, d)
		}
	}

	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	if got := cells(t, file, "dave"); got["value_refunded"] != "50" || got["value_withdrawn"] != "400" {
		t.Errorf("dave's row %v, want value_refunded 50, value_withdrawn 400", got)
	}
	dst := open()
	if res, err := migrate.Run(ctx, dst, migrate.CSV(strings.NewReader(file), dst.Location()), migrate.Options{Name: "export.csv"}); err != nil || res.Progress != (migrate.Progress{Rows: 2, Applied: 2}) {
		t.Fatalf("import: %+v %v\n%s", res, err, file)
	}
	for _, p := range []*membership.Program{src, dst} {
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		got := testkit.ValueFiguresOf(t, dst, m)
		if d := cmp.Diff(want[m], got, stateCmp...); d != "" {
			t.Errorf("%s imported (-want +got):\n%s", m, d)
		}
		// The imported balance is what the totals say it is.
		a := got.Account
		if net := a.Recharged.Sub(a.Spent).Add(a.Refunded).Sub(a.Withdrawn); !a.Balance.Equal(net) {
			t.Errorf("%s imported: balance %s, recharged − spent + refunded − withdrawn %s", m, a.Balance, net)
		}
		if d := cmp.Diff(stateOf(t, src, m, at), stateOf(t, dst, m, at), stateCmp...); d != "" {
			t.Errorf("%s (-exported +imported):\n%s", m, d)
		}
	}
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, dst, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}

	// The file without value_withdrawn, as an export before it wrote it:
	// nothing withdrawn, the balance and other totals as given (dave's
	// 300 no longer 800 − 150 + 50), and the recharge total gross: 800
	// gives dave card-holder, erin 600.
	old := open()
	older := withoutColumns(t, file, "value_withdrawn")
	if res, err := migrate.Run(ctx, old, migrate.CSV(strings.NewReader(older), old.Location()), migrate.Options{Name: "older.csv"}); err != nil || res.Applied != 2 {
		t.Fatalf("import of the older file: %+v %v", res, err)
	}
	gross := map[string]figures{
		"dave": {Account: value.Account{Balance: dec("300"), Recharged: dec("800"), Spent: dec("150"), Refunded: dec("50")}, Recharge: dec("800"), Tags: []string{"card-holder"}},
		"erin": {Account: value.Account{Balance: dec("550"), Recharged: dec("600")}, Recharge: dec("600"), Tags: []string{"card-holder"}},
	}
	for _, m := range members {
		if d := cmp.Diff(gross[m], testkit.ValueFiguresOf(t, old, m), stateCmp...); d != "" {
			t.Errorf("%s imported from the older file (-want +got):\n%s", m, d)
		}
	}
	if err := old.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// A withdrawal of 100 by erin after the import, on both: balance 450,
	// withdrawn 150, recharge total 450, below 500: card-holder taken
	// away on both.
	after := figures{Account: value.Account{Balance: dec("450"), Recharged: dec("600"), Withdrawn: dec("150")}, Recharge: dec("450")}
	for name, p := range map[string]*membership.Program{"source": src, "imported": dst} {
		if err := ev(p, "w3", "erin", "value_withdraw", "100", march(p, 13, 10)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cmp.Diff(after, testkit.ValueFiguresOf(t, p, "erin"), stateCmp...); d != "" {
			t.Errorf("%s: erin after a withdrawal of 100 (-want +got):\n%s", name, d)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpeningsRefuses checks the arguments Openings refuses and the
// states it will not write because an import would not give them back.
func TestOpeningsRefuses(t *testing.T) {
	ctx := context.Background()
	p := openRetail(t)
	history(t, p)
	at := march(p, 12, 12)
	var buf bytes.Buffer
	for name, call := range map[string]func() (int64, error){
		"nil reader": func() (int64, error) {
			return export.Openings(ctx, &buf, nil, slices.Values([]string{"alice"}), at, nil)
		},
		"nil writer": func() (int64, error) { return export.Openings(ctx, nil, p, slices.Values([]string{"alice"}), at, nil) },
		"nil IDs":    func() (int64, error) { return export.Openings(ctx, &buf, p, nil, at, nil) },
		"zero time": func() (int64, error) {
			return export.Openings(ctx, &buf, p, slices.Values([]string{"alice"}), time.Time{}, nil)
		},
	} {
		if n, err := call(); !errors.Is(err, export.ErrInvalidArgument) || n != 0 {
			t.Errorf("%s: %d rows, %v; want 0, ErrInvalidArgument", name, n, err)
		}
	}

	// Pending points due before the export's time and not yet released
	// (Advance not run): the import would refuse a release in its past.
	buf.Reset()
	n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"carol", "alice"}), march(p, 14, 0), nil)
	if !errors.Is(err, export.ErrNotPortable) || n != 1 || !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("a release due: %d rows, %v; want 1 (carol), ErrNotPortable naming alice", n, err)
	}

	// Growth earned on a day after the export's (alice's orders of 5
	// March, exported on the 4th): the import cannot place it after its
	// opening time.
	buf.Reset()
	n, err = export.Openings(ctx, &buf, p, slices.Values([]string{"carol", "alice"}), march(p, 4, 0), nil)
	if !errors.Is(err, export.ErrNotPortable) || n != 1 || !strings.Contains(err.Error(), `"alice"`) || !strings.Contains(err.Error(), "2026-03-05") {
		t.Errorf("growth after the export's day: %d rows, %v; want 1 (carol), ErrNotPortable naming alice and 2026-03-05", n, err)
	}

	// A plan bought after the export's time (bob's Plus, 10 March 12:00,
	// exported at 11:00) and an achievement granted after it (alice's
	// vip-guest, 9 March 13:00, exported at 12:00): the import cannot date
	// them after its opening time.
	for _, c := range []struct {
		member, what string
		at           time.Time
	}{{"bob", `"Plus"`, march(p, 10, 11)}, {"alice", `"vip-guest"`, march(p, 9, 12)}} {
		buf.Reset()
		n, err = export.Openings(ctx, &buf, p, slices.Values([]string{"carol", c.member}), c.at, nil)
		if !errors.Is(err, export.ErrNotPortable) || n != 1 || !strings.Contains(err.Error(), `"`+c.member+`"`) || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s after the export's time: %d rows, %v; want 1 (carol), ErrNotPortable naming %s and %s", c.what, n, err, c.member, c.what)
		}
	}

	// An erased member: the import format has no erasure mark, and the
	// import would make them a member again, whose events are taken.
	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "x1", Member: "carol", Operator: "op", At: march(p, 12, 0)}); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	n, err = export.Openings(ctx, &buf, p, slices.Values([]string{"bob", "carol"}), at, nil)
	if !errors.Is(err, export.ErrNotPortable) || n != 1 || !strings.Contains(err.Error(), `"carol"`) {
		t.Errorf("an erased member: %d rows, %v; want 1 (bob), ErrNotPortable naming carol", n, err)
	}

	// An empty text or list: its cell would be empty, which the import
	// reads as not set, and a rule on the attribute (eq "") would then
	// find it absent.
	for i, v := range []event.Value{event.Str(""), event.List()} {
		name := map[event.Kind]string{event.String: "phone", event.Strings: "interests"}[v.Kind]
		if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pe" + name, Member: "dan", At: march(p, 12, i),
			Attributes: map[string]event.Value{name: v}}); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"dan"}), at, nil)
		if !errors.Is(err, export.ErrNotPortable) || n != 0 || !strings.Contains(err.Error(), name) {
			t.Errorf("an empty %s: %d rows, %v; want 0, ErrNotPortable naming the attribute", v.Kind, n, err)
		}
		if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pr" + name, Member: "dan", At: march(p, 12, i),
			Attributes: map[string]event.Value{name: {}}}); err != nil {
			t.Fatal(err)
		}
	}

	// A list attribute whose item holds the list's separator.
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p3", Member: "bob", At: march(p, 12, 0),
		Attributes: map[string]event.Value{"interests": event.List("wine, red")}}); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"bob"}), at, nil); !errors.Is(err, export.ErrNotPortable) || n != 0 {
		t.Errorf("a list item with a comma: %d rows, %v; want 0, ErrNotPortable", n, err)
	}
}

// TestOpeningsRefusesACarriageReturnBeforeALineFeed: encoding/csv reads
// "\r\n" inside a quoted cell as "\n", so a text holding one would be
// imported as another text (a phone, a list item, even the member's ID:
// another member). Openings refuses such a row, naming the member and the
// column, and writes the rows before it; a lone "\r" or "\n" reads back
// as it is, and is written.
func TestOpeningsRefusesACarriageReturnBeforeALineFeed(t *testing.T) {
	ctx := context.Background()
	p := openRetail(t)
	at := march(p, 12, 12)
	set := func(member string, attrs map[string]event.Value) {
		t.Helper()
		if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p-" + member, Member: member, At: march(p, 1, 10),
			Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	set("ok", map[string]event.Value{"phone": event.Str("a\rb\nc"), "interests": event.List("x\ny")})
	set("phone", map[string]event.Value{"phone": event.Str("line 1\r\nline 2")})
	set("list", map[string]event.Value{"interests": event.List("wine", "red\r\nwhite")})
	set("id\r\n2", map[string]event.Value{"phone": event.Str("1")})
	for _, tc := range []struct{ member, column string }{
		{"phone", "profile.phone"}, {"list", "profile.interests"}, {"id\r\n2", "member"},
	} {
		var buf bytes.Buffer
		n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"ok", tc.member}), at, nil)
		if !errors.Is(err, export.ErrNotPortable) || n != 1 || !strings.Contains(err.Error(), strconv.Quote(tc.member)) || !strings.Contains(err.Error(), tc.column) {
			t.Errorf("%q: %d rows, %v; want 1 (ok), ErrNotPortable naming %q and %s", tc.member, n, err, tc.member, tc.column)
		}
	}
	// The row written reads back as it was.
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, p, slices.Values([]string{"ok"}), at, nil); err != nil {
		t.Fatal(err)
	}
	dst := openRetail(t)
	if res, err := migrate.Run(ctx, dst, migrate.CSV(&buf, dst.Location()), migrate.Options{Name: "o.csv"}); err != nil || res.Applied != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	pr, err := dst.Tags().Profile(ctx, "ok")
	if err != nil || pr.Attributes["phone"].Str != "a\rb\nc" || !slices.Equal(pr.Attributes["interests"].Strings, []string{"x\ny"}) {
		t.Errorf("imported profile %+v, %v; want phone \"a\\rb\\nc\", interests [\"x\\ny\"]", pr.Attributes, err)
	}
}

// The at cell is in the program's zone, as every time the package writes
// is: an export's time given in UTC was written with its "Z".
func TestOpeningsAtInTheProgramsZone(t *testing.T) {
	ctx := context.Background()
	p := openRetail(t)
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p1", Member: "ann", At: march(p, 1, 10),
		Attributes: map[string]event.Value{"phone": event.Str("1")}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// 03:00 UTC is 11:00 in Shanghai.
	if _, err := export.Openings(ctx, &buf, p, slices.Values([]string{"ann"}), time.Date(2026, 3, 12, 3, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][1] != "2026-03-12T11:00:00+08:00" {
		t.Errorf("rows %q, %v; want ann at 2026-03-12T11:00:00+08:00", rows, err)
	}
}

// TestOpeningsRoundTripRetention builds members by events on a ladder
// (Gold: retention 300 over 12 months, 12-month terms), exports them on
// 2025-12-01 12:00, imports the file into an empty program and performs
// the next term ends on both: each imported member is kept or downgraded
// as the source member is, with the same growth, since the file carries
// the days the growth was earned on. The same file without its
// growth_days column (an import file from before it) counts all of the
// growth as earned on the row's day, as before.
func TestOpeningsRoundTripRetention(t *testing.T) {
	ctx := context.Background()
	def := testkit.LadderDef(level.NextLower)
	open := func() *membership.Program {
		p, err := membership.Open(memory.New(), def)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	wall := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, testkit.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	src := open()
	for _, o := range []struct{ id, member, amount, at string }{
		// idle: Gold on 2024-03-01 (600, gifts 30 + 50: 680), 300 more on
		// 2024-10-01; its term end on 2025-03-02 finds 300 in the window:
		// kept, re-based to 300, the next term to 2026-03-03.
		{"i1", "idle", "600", "2024-03-01 10:00"},
		{"i2", "idle", "300", "2024-10-01 10:00"},
		// keep and down: Gold on 2025-01-10 (680), the term to
		// 2026-01-11, its window from 2025-01-11; then 310 or 100 in it.
		{"k1", "keep", "600", "2025-01-10 10:00"},
		{"k2", "keep", "310", "2025-06-15 10:00"},
		{"d1", "down", "600", "2025-01-10 10:00"},
		{"d2", "down", "100", "2025-06-15 10:00"},
	} {
		if _, err := src.Process(ctx, event.Event{ID: o.id, Member: o.member, Type: "order", Time: wall(o.at),
			Attrs: event.Attrs{"amount": event.DecString(o.amount), "order_id": event.Str(o.id)}}); err != nil {
			t.Fatalf("%s: %v", o.id, err)
		}
	}
	at := wall("2025-12-01 12:00")
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	members := []string{"keep", "down", "idle"}
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	// The days from 2024-12-01 on (12 months before at's day, the longest
	// window): keep's and down's two days each; none of idle's, whose 300
	// no later window counts: one day of zero. Each had the gifts of
	// Silver and Gold (Bronze gives none); no gift is owed, no plan held.
	want := "member,at,level,term_end,growth,lifetime,growth_days,gifted_levels,owed_gifts,plans\n" +
		"keep,2025-12-01T12:00:00+08:00,Gold,2026-01-11T00:00:00+08:00,990,990,2025-01-10|680;2025-06-15|310,Silver;Gold,,\n" +
		"down,2025-12-01T12:00:00+08:00,Gold,2026-01-11T00:00:00+08:00,780,780,2025-01-10|680;2025-06-15|100,Silver;Gold,,\n" +
		"idle,2025-12-01T12:00:00+08:00,Gold,2026-03-03T00:00:00+08:00,300,980,2025-12-01|0,Silver;Gold,,\n"
	file := buf.String()
	if d := cmp.Diff(want, file); d != "" {
		t.Fatalf("the file (-want +got):\n%s", d)
	}

	// The file without its growth_days, gifted_levels, owed_gifts and
	// plans columns: what an older export wrote.
	var old strings.Builder
	for _, line := range strings.SplitAfter(file, "\n") {
		if cells := strings.Split(line, ","); len(cells) == 10 {
			old.WriteString(strings.Join(cells[:6], ",") + "\n")
		}
	}
	imported, older := open(), open()
	for p, text := range map[*membership.Program]string{imported: file, older: old.String()} {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(text), p.Location()), migrate.Options{Name: "export.csv"})
		if err != nil || res.Progress != (migrate.Progress{Rows: 3, Applied: 3}) {
			t.Fatalf("import: %+v %v\n%s", res, err, text)
		}
	}
	// The imported program exports the same file back.
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, imported, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}

	type status struct {
		Level            string
		TermEnd          time.Time
		Growth, Lifetime string
	}
	statuses := func(p *membership.Program) map[string]status {
		t.Helper()
		out := map[string]status{}
		for _, m := range members {
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			out[m] = status{s.Level, s.TermEnd.In(testkit.Shanghai), s.Growth.String(), s.Lifetime.String()}
		}
		return out
	}
	for _, step := range []struct {
		to        string
		want, old map[string]status
	}{
		// keep's and down's term end on 2026-01-11: keep has 310 in its
		// window [2025-01-11, 2026-01-11): Gold kept, re-based to 310, the
		// next term to 24:00 of 2027-01-11; down has 100: Silver, 100, a
		// month's term to 24:00 of 2026-02-11. Without the days, all of
		// the growth is in the window (earned on 2025-12-01): both kept,
		// at 990 and 780.
		{"2026-01-12 00:00",
			map[string]status{"keep": {"Gold", wall("2027-01-12 00:00"), "310", "990"}, "down": {"Silver", wall("2026-02-12 00:00"), "100", "780"},
				"idle": {"Gold", wall("2026-03-03 00:00"), "300", "980"}},
			map[string]status{"keep": {"Gold", wall("2027-01-12 00:00"), "990", "990"}, "down": {"Gold", wall("2027-01-12 00:00"), "780", "780"},
				"idle": {"Gold", wall("2026-03-03 00:00"), "300", "980"}}},
		// idle's term end on 2026-03-03: nothing in its window
		// [2025-03-03, 2026-03-03): Silver, 0, to 24:00 of 2026-04-03.
		// Without the days, its 300 is in the window: kept. (down, Silver
		// since 2026-01-11 with no growth in its month, went down to
		// Bronze on 2026-02-12 on both.)
		{"2026-03-04 00:00",
			map[string]status{"keep": {"Gold", wall("2027-01-12 00:00"), "310", "990"}, "idle": {"Silver", wall("2026-04-04 00:00"), "0", "980"}},
			map[string]status{"keep": {"Gold", wall("2027-01-12 00:00"), "990", "990"}, "idle": {"Gold", wall("2027-03-04 00:00"), "300", "980"}}},
	} {
		for _, p := range []*membership.Program{src, imported, older} {
			if _, err := p.Advance(ctx, wall(step.to)); err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, gotImported, gotOlder := statuses(src), statuses(imported), statuses(older)
		if d := cmp.Diff(got, gotImported); d != "" {
			t.Errorf("at %s, the imported members (-source +imported):\n%s", step.to, d)
		}
		for m, w := range step.want {
			if d := cmp.Diff(w, got[m]); d != "" {
				t.Errorf("at %s, source's %s (-want +got):\n%s", step.to, m, d)
			}
		}
		for m, w := range step.old {
			if d := cmp.Diff(w, gotOlder[m]); d != "" {
				t.Errorf("at %s, %s imported without the days (-want +got):\n%s", step.to, m, d)
			}
		}
	}
}

// TestOpeningsRoundTripOwedGifts exports members owed an upgrade gift's
// coupon (refused when they reached Silver: out of stock), imports the
// file into an empty program and finds the same rewards owed; once the
// coupon is restocked, the next reach of Silver grants the coupon owed,
// and only it (not Silver's growth gift again), on both. A file without
// the gifted_levels and owed_gifts columns (an older export) imports with
// none owed.
func TestOpeningsRoundTripOwedGifts(t *testing.T) {
	ctx := context.Background()
	def := testkit.LadderDef(level.NextLower)
	def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"})
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{{Name: "silver-cash", Type: coupon.Cash, Amount: dec("20"), Stock: 1,
		Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}}
	wall := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, testkit.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	order := func(p *membership.Program, id, member, at string) {
		t.Helper()
		if _, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "order", Time: wall(at),
			Attrs: event.Attrs{"amount": event.DecString("100"), "order_id": event.Str(id)}}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	srcStore, dstStore := memory.New(), memory.New()
	src, err := membership.Open(srcStore, def)
	if err != nil {
		t.Fatal(err)
	}
	// ann reaches Silver first and takes the one coupon; bob and cy reach
	// it after: Silver's 30 of growth given, the coupon owed. bob's term
	// ends on 2026-02-16 with nothing in its month's window: down to
	// Bronze (growth 0, its term to 24:00 of 31 March), owed still.
	order(src, "o1", "ann", "2026-01-15 10:00")
	order(src, "o2", "bob", "2026-01-15 11:00")
	order(src, "o3", "cy", "2026-02-10 10:00")
	at := wall("2026-02-20 12:00")
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	members := []string{"ann", "bob", "cy"}
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	// ann's coupon (valid 30 days from 15 January) has expired: no cell.
	want := "member,at,level,term_end,growth,lifetime,growth_days,gifted_levels,owed_gifts,plans,coupons\n" +
		"ann,2026-02-20T12:00:00+08:00,Bronze,2026-04-01T00:00:00+08:00,0,130,2026-01-15|130,Silver,,,\n" +
		"bob,2026-02-20T12:00:00+08:00,Bronze,2026-04-01T00:00:00+08:00,0,130,2026-01-15|130,Silver,Silver|coupon:silver-cash,,\n" +
		"cy,2026-02-20T12:00:00+08:00,Silver,2026-03-11T00:00:00+08:00,130,130,2026-02-10|130,Silver,Silver|coupon:silver-cash,,\n"
	file := buf.String()
	if d := cmp.Diff(want, file); d != "" {
		t.Fatalf("the file (-want +got):\n%s", d)
	}
	dst, err := membership.Open(dstStore, def)
	if err != nil {
		t.Fatal(err)
	}
	older, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	// The file without its gifted_levels, owed_gifts and plans columns:
	// what an older export wrote.
	var old strings.Builder
	for _, line := range strings.SplitAfter(file, "\n") {
		if cells := strings.Split(line, ","); len(cells) == 11 {
			old.WriteString(strings.Join(slices.Delete(cells, 7, 10), ","))
		}
	}
	for p, text := range map[*membership.Program]string{dst: file, older: old.String()} {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(text), p.Location()), migrate.Options{Name: "export.csv"})
		if err != nil || res.Progress != (migrate.Progress{Rows: 3, Applied: 3}) {
			t.Fatalf("import: %+v %v\n%s", res, err, text)
		}
	}
	statuses := func(p *membership.Program) map[string]level.Status {
		t.Helper()
		out := map[string]level.Status{}
		for _, m := range members {
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			s.Since = time.Time{} // the import's time: the format has no place for the level's start
			out[m] = s
		}
		return out
	}
	if d := cmp.Diff(statuses(src), statuses(dst), stateCmp...); d != "" {
		t.Errorf("the imported members' levels (-source +imported):\n%s", d)
	}
	for _, m := range members {
		if s := statuses(older)[m]; len(s.Owed) != 0 {
			t.Errorf("%s imported from a file without owed_gifts: owed %+v, want none", m, s.Owed)
		}
	}
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, dst, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}

	// The coupon restocked, bob's order of 100 on 1 March reaches Silver
	// again: the coupon owed is issued, Silver's growth gift not given
	// twice (growth 100, not 130), and nothing is owed any more.
	def.Version = 2
	def.Coupons.Templates[0].Stock = 5
	for name, st := range map[string]*memory.Store{"source": srcStore, "imported": dstStore} {
		p, err := membership.Open(st, def)
		if err != nil {
			t.Fatal(err)
		}
		order(p, "o4", "bob", "2026-03-01 10:00")
		s, err := p.Levels().Status(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		cs, err := p.Coupons().List(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if s.Level != "Silver" || !s.Growth.Equal(dec("100")) || len(s.Owed) != 0 || len(cs) != 1 || cs[0].Template != "silver-cash" {
			t.Errorf("%s: bob at %s with %s growth, owed %+v, coupons %+v; want Silver, 100, none owed, one silver-cash", name, s.Level, s.Growth, s.Owed, cs)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpeningsRoundTripOwedGiftsOfOneTarget: a reward owed moves through
// Openings and migrate as the gift it is, at its place among its level's
// gifts of its target. Silver gives, beside its growth of 30, silver-cash
// ×1 and ×2 (stock 4) and the pack silver-pack (one silver-tea, stock 5)
// twice; ann, bob, dee and cy reach it in that order on 15 January. By
// hand, taking each gift in the level's order:
//
//   - ann takes ×1 and ×2 (cash 1 left) and both packs (tea 3 left);
//   - bob takes ×1 (cash 0), ×2 (two wanted) is refused, and both packs
//     (tea 1): owed ×2 alone, at place 2;
//   - dee is refused ×1 and ×2, takes the first pack (tea 0) and is
//     refused the second: owed ×1, ×2 and the pack, at places 1, 2, 2;
//   - cy is refused all four: owed ×1, ×2, the pack and the pack, at
//     places 1, 2, 1, 2.
//
// The owed_gifts cell writes a place where the order does not say it (a
// gift that is not the k-th of its target when k-1 of them are listed
// before it): bob's ×2 and dee's second pack. Imported into an empty
// program, each member has the source's level status, Owed and
// OwedPlaces included, and the imported program exports the same file.
// Version 2 restocks exactly what is owed (8 more silver-cash: bob's 2,
// dee's 3, cy's 3; 3 more silver-tea: dee's 1, cy's 2), and GrantOwed on
// each side grants each member what is owed, so that each holds all of
// Silver's coupons, 3 silver-cash and 2 silver-tea, on both. Before,
// the file named bob's gift by its target alone: imported, he was owed
// ×1 and paid 1 coupon (2 silver-cash in all), and dee's pack was owed
// at place 1 (the same pack, but the one a version taking the second
// away pays rather than drops). The file without its places, as an
// export before them wrote it, still imports with its old meaning: bob
// owed ×1.
func TestOpeningsRoundTripOwedGiftsOfOneTarget(t *testing.T) {
	ctx := context.Background()
	cashOne := rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"}
	cashTwo := rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash", Count: 2}
	teaPack := rule.Reward{Kind: rule.RewardPack, Pack: "silver-pack"}
	defOf := func(version uint64, cash, tea int64) membership.Definition {
		def := testkit.LadderDef(level.NextLower)
		def.Version = version
		def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, cashOne, cashTwo, teaPack, teaPack)
		month := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
		def.Coupons = &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "silver-cash", Type: coupon.Cash, Amount: dec("20"), Stock: cash, Use: month},
				{Name: "silver-tea", Type: coupon.Cash, Amount: dec("5"), Stock: tea, Use: month},
			},
			Packs: []coupon.Pack{{Name: "silver-pack", Items: []coupon.PackItem{{Template: "silver-tea", Count: 1}}, Mode: coupon.AnyInvalid}},
		}
		return def
	}
	wall := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, testkit.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	members := []string{"ann", "bob", "dee", "cy"}
	srcStore, dstStore := memory.New(), memory.New()
	src, err := membership.Open(srcStore, defOf(0, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range members {
		id := "o-" + m
		if _, err := src.Process(ctx, event.Event{ID: id, Member: m, Type: "order", Time: wall("2026-01-15 10:00").Add(time.Duration(i) * time.Hour),
			Attrs: event.Attrs{"amount": event.DecString("100"), "order_id": event.Str(id)}}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	silver := func(rs ...rule.Reward) []level.Gift {
		var gs []level.Gift
		for _, r := range rs {
			gs = append(gs, level.Gift{Level: "Silver", Reward: r})
		}
		return gs
	}
	type owing struct {
		owed   []level.Gift
		places []int
		cell   string // owed_gifts
	}
	want := map[string]owing{
		"ann": {},
		"bob": {silver(cashTwo), []int{2}, "Silver|coupon:silver-cash|2"},
		"dee": {silver(cashOne, cashTwo, teaPack), []int{1, 2, 2}, "Silver|coupon:silver-cash;Silver|coupon:silver-cash;Silver|pack:silver-pack|2"},
		"cy": {silver(cashOne, cashTwo, teaPack, teaPack), []int{1, 2, 1, 2},
			"Silver|coupon:silver-cash;Silver|coupon:silver-cash;Silver|pack:silver-pack;Silver|pack:silver-pack"},
	}
	statuses := func(p *membership.Program) map[string]level.Status {
		t.Helper()
		out := map[string]level.Status{}
		for _, m := range members {
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			s.Since = time.Time{} // the import's time: the format has no place for the level's start
			out[m] = s
		}
		return out
	}
	for m, s := range statuses(src) {
		if !cmp.Equal(want[m].owed, s.Owed) || !cmp.Equal(want[m].places, s.OwedPlaces) {
			t.Errorf("source: %s owed %+v at %v, want %+v at %v", m, s.Owed, s.OwedPlaces, want[m].owed, want[m].places)
		}
	}

	at := wall("2026-01-20 12:00")
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	for _, m := range members {
		if got := cells(t, file, m)["owed_gifts"]; got != want[m].cell {
			t.Errorf("%s's owed_gifts: %q, want %q", m, got, want[m].cell)
		}
	}
	dst, err := membership.Open(dstStore, defOf(0, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	older, err := membership.Open(memory.New(), defOf(0, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	// The file as an export before places wrote it: level|reward alone.
	rows, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "owed_gifts")
	for _, r := range rows[1:] {
		items := strings.Split(r[col], ";")
		for i, item := range items {
			if parts := strings.Split(item, "|"); len(parts) == 3 {
				items[i] = parts[0] + "|" + parts[1]
			}
		}
		r[col] = strings.Join(items, ";")
	}
	var oldFile bytes.Buffer
	if err := csv.NewWriter(&oldFile).WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	old := oldFile.String()
	if old == file {
		t.Fatalf("no place to take out of the file:\n%s", file)
	}
	for p, text := range map[*membership.Program]string{dst: file, older: old} {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(text), p.Location()), migrate.Options{Name: "export.csv"})
		if err != nil || res.Progress != (migrate.Progress{Rows: 4, Applied: 4}) {
			t.Fatalf("import: %+v %v\n%s", res, err, text)
		}
	}
	if d := cmp.Diff(statuses(src), statuses(dst), stateCmp...); d != "" {
		t.Errorf("the imported members' levels (-source +imported):\n%s", d)
	}
	if s := statuses(older)["bob"]; !cmp.Equal(silver(cashOne), s.Owed) || !cmp.Equal([]int{1}, s.OwedPlaces) {
		t.Errorf("bob imported from a file without places: owed %+v at %v, want ×1 at 1", s.Owed, s.OwedPlaces)
	}
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, dst, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}

	for name, st := range map[string]*memory.Store{"source": srcStore, "imported": dstStore} {
		p, err := membership.Open(st, defOf(2, 12, 8))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			res, err := p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "grant-" + m, Member: m, Operator: "op.li", At: wall("2026-01-21 10:00")})
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(want[m].owed, res.Granted) || len(res.Owed)+len(res.Dropped) != 0 {
				t.Errorf("%s: %s granted %+v, owed %+v, dropped %+v; want %+v granted", name, m, res.Granted, res.Owed, res.Dropped, want[m].owed)
			}
			held := map[string]int{}
			for _, c := range listOf(t, p, m) {
				held[c.Template]++
			}
			if d := cmp.Diff(map[string]int{"silver-cash": 3, "silver-tea": 2}, held); d != "" {
				t.Errorf("%s: %s's coupons (-want +got):\n%s", name, m, d)
			}
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpeningsPendingOfADayUnderReview: points pending from a day that
// risk control froze, whose review is open, go to the frozen account when
// released, into the review; the import format has no review, so the
// import would release them spendable. Openings refuses them
// (ErrNotPortable, naming the member and the day), as it refuses frozen
// points; once the review restores the day, the lot is written.
func TestOpeningsPendingOfADayUnderReview(t *testing.T) {
	ctx := context.Background()
	def := retailDef(t)
	for i := range def.Points.Programs {
		if def.Points.Programs[i].Name == "mall" {
			def.Points.Programs[i].Risk = &points.Risk{Daily: dec("50"), Policy: points.Freeze}
		}
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	// A recharge of 800 on 10 March earns 80 points, pending for 7 days
	// (to 17 March 10:00) and valid 90 (to 24:00 of 7 June): they pass
	// the daily 50, and the day freezes with nothing spendable to move.
	if _, err := p.Process(ctx, event.Event{ID: "e1", Member: "dan", Type: "recharge", Time: march(p, 10, 10),
		Attrs: event.Attrs{"amount": event.DecString("800")}}); err != nil {
		t.Fatal(err)
	}
	rv, err := p.Points().Review(ctx, points.DayQuery{Program: "mall", Member: "dan", Date: "2026-03-10"})
	if err != nil || rv.State != points.ReviewPending || len(rv.Lots) != 0 {
		t.Fatalf("review %+v %v, want one pending with no lot frozen", rv, err)
	}
	at := march(p, 12, 12)
	var buf bytes.Buffer
	n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"dan"}), at, nil)
	if !errors.Is(err, export.ErrNotPortable) || n != 0 || !strings.Contains(err.Error(), `"dan"`) || !strings.Contains(err.Error(), "2026-03-10") {
		t.Errorf("a pending lot of a day under review: %d rows, %v; want 0, ErrNotPortable naming dan and 2026-03-10", n, err)
	}

	if _, err := p.Points().Restore(ctx, points.ReviewRequest{RequestID: "rs1", Member: "dan", Operator: "op", At: march(p, 11, 9),
		Program: "mall", Date: "2026-03-10"}); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"dan"}), at, nil); err != nil || n != 1 || !strings.Contains(buf.String(), "mall|80|2026-06-08T00:00:00+08:00|2026-03-17T10:00:00+08:00") {
		t.Errorf("after the restore: %d rows, %v; want dan's pending lot written\n%s", n, err, buf.String())
	}
}

// TestOpeningsRoundTripGiftedLevels exports the levels whose upgrade
// gifts each member had (gifted_levels) and imports them exactly: dee,
// gifted Silver and Gold and downgraded to Silver at Gold's term end, does
// not get Gold's gift again when an order takes her back to Gold; eve, set
// by hand from Bronze to Gold (no gift: Silver passed over), gets Silver's
// gift when, set back to Bronze, her growth reaches Silver, as the level
// doc says of a level whose gifts the member never had. A file without
// the column (an older export) imports as before: the levels up to the
// member's counted as gifted, so dee gets Gold's gift again and eve not
// Silver's.
func TestOpeningsRoundTripGiftedLevels(t *testing.T) {
	ctx := context.Background()
	def := testkit.LadderDef(level.NextLower)
	def.Levels.Ladder[3].GiftEveryTime = false // Gold: 50 of growth, once
	wall := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, testkit.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	order := func(p *membership.Program, id, member, amount, at string) {
		t.Helper()
		if _, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "order", Time: wall(at),
			Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id)}}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	set := func(p *membership.Program, id, member, lvl, at string) {
		t.Helper()
		if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: id, Member: member, Operator: "op", Note: "by hand",
			At: wall(at), Level: lvl}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	src, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	// dee's order of 500 crosses Bronze, Silver and Gold: Silver's 30 and
	// Gold's 50, 580. Gold's term ends at 24:00 of 10 March 2026 with none
	// of it in the 12 months' window: down to Silver, re-based to 0.
	order(src, "o1", "dee", "500", "2025-03-10 10:00")
	// eve's 50 reach Bronze (no gift); the set to Gold grants none.
	order(src, "o2", "eve", "50", "2026-03-01 10:00")
	set(src, "s1", "eve", "Gold", "2026-03-02 10:00")
	at := wall("2026-03-20 12:00")
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	members := []string{"dee", "eve"}
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	rows, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "gifted_levels")
	if col < 0 || rows[0][col+1] != "owed_gifts" {
		t.Fatalf("header %v: want gifted_levels before owed_gifts", rows[0])
	}
	lvl := slices.Index(rows[0], "level")
	got := map[string][2]string{}
	for _, r := range rows[1:] {
		got[r[0]] = [2]string{r[lvl], r[col]}
	}
	if d := cmp.Diff(map[string][2]string{"dee": {"Silver", "Silver;Gold"}, "eve": {"Gold", ""}}, got); d != "" {
		t.Fatalf("level and gifted_levels (-want +got):\n%s\n%s", d, file)
	}

	// The file without its gifted_levels column: what an older export
	// wrote.
	var old strings.Builder
	w := csv.NewWriter(&old)
	for _, r := range rows {
		if err := w.Write(slices.Delete(slices.Clone(r), col, col+1)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	older, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	for p, text := range map[*membership.Program]string{dst: file, older: old.String()} {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(text), p.Location()), migrate.Options{Name: "export.csv"})
		if err != nil || res.Progress != (migrate.Progress{Rows: 2, Applied: 2}) {
			t.Fatalf("import: %+v %v\n%s", res, err, text)
		}
	}
	statuses := func(p *membership.Program) map[string]level.Status {
		t.Helper()
		out := map[string]level.Status{}
		for _, m := range members {
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			s.Since = time.Time{} // the import's time: the format has no place for the level's start
			out[m] = s
		}
		return out
	}
	if d := cmp.Diff(statuses(src), statuses(dst), stateCmp...); d != "" {
		t.Errorf("the imported members' levels (-source +imported):\n%s", d)
	}
	var again bytes.Buffer
	if _, err := export.Openings(ctx, &again, dst, slices.Values(members), at, nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(file, again.String()); d != "" {
		t.Errorf("the imported program's export (-first +second):\n%s", d)
	}

	// dee's order of 500 on 25 March takes her from 0 to 500, Gold: no
	// gift on the source and the import (500), Gold's 50 again on the
	// older one (550). eve, set back to Bronze, reaches Silver with an
	// order of 50 (100): Silver's 30 on the source and the import (130),
	// none on the older one (100).
	for name, c := range map[string]struct {
		p        *membership.Program
		dee, eve string
	}{"source": {src, "500", "130"}, "imported": {dst, "500", "130"}, "older file": {older, "550", "100"}} {
		order(c.p, "o3", "dee", "500", "2026-03-25 10:00")
		set(c.p, "s2", "eve", "Bronze", "2026-03-25 09:00")
		order(c.p, "o4", "eve", "50", "2026-03-25 10:00")
		for _, want := range []struct{ member, level, growth string }{{"dee", "Gold", c.dee}, {"eve", "Silver", c.eve}} {
			s, err := c.p.Levels().Status(ctx, want.member)
			if err != nil || s.Level != want.level || !s.Growth.Equal(dec(want.growth)) {
				t.Errorf("%s: %s at %s with %s growth (%v), want %s with %s", name, want.member, s.Level, s.Growth, err, want.level, want.growth)
			}
		}
		if err := c.p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A coupon locked in a checkout is exported and imported as available, as
// Openings' doc says: alice's gold-gift (claimed at Gold on 5 March,
// valid 60 days: to 24:00 of 3 May), locked for an order of 250 on 12
// March 11:00 and neither used nor released, is in the file beside her
// welcome-10 (claimed on 1 March, 30 days: to 24:00 of 30 March), and the
// imported program holds both available, with their expiries and the
// source's codes; its gold-gift then locks for another order, 30 off,
// while the source's stays locked for the first.
func TestOpeningsLockedCouponImportedAvailable(t *testing.T) {
	ctx := context.Background()
	src := openRetail(t)
	history(t, src)
	cs, err := src.Coupons().List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var gift coupon.Coupon
	for _, c := range cs {
		if c.Template == "gold-gift" {
			gift = c
		}
	}
	order := func(id string, at time.Time) coupon.Order {
		return coupon.Order{ID: id, Member: "alice", Time: at, Lines: []coupon.Line{{Product: "tv", Amount: dec("250")}}}
	}
	if _, err := src.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: order("ord-1", march(src, 12, 11)),
		Coupons: []string{gift.ID}}); err != nil {
		t.Fatal(err)
	}
	at := march(src, 12, 12)
	if _, err := src.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, src, slices.Values([]string{"alice"}), at, nil); err != nil {
		t.Fatal(err)
	}
	dst := openRetail(t)
	if _, err := migrate.Run(ctx, dst, migrate.CSV(strings.NewReader(buf.String()), dst.Location()), migrate.Options{Name: "export.csv"}); err != nil {
		t.Fatalf("import: %v\n%s", err, buf.String())
	}
	codes := map[string]string{} // template → the source's code
	for _, c := range listOf(t, src, "alice") {
		codes[c.Template] = c.Code
		if c.Template == "gold-gift" && (c.State != coupon.Locked || c.Order != "ord-1") {
			t.Errorf("the source's gold-gift is %s for %q, want locked for ord-1", c.State, c.Order)
		}
	}
	loc := src.Location()
	want := []held{
		{"gold-gift", codes["gold-gift"], time.Date(2026, 5, 4, 0, 0, 0, 0, loc), coupon.Available},
		{"welcome-10", codes["welcome-10"], time.Date(2026, 3, 31, 0, 0, 0, 0, loc), coupon.Available},
	}
	var got []held
	var imported string
	for _, c := range listOf(t, dst, "alice") {
		got = append(got, held{c.Template, c.Legacy, c.Expires, c.State})
		if c.Template == "gold-gift" {
			imported = c.ID
		}
	}
	if d := cmp.Diff(want, got, stateCmp...); d != "" {
		t.Errorf("alice's imported coupons (-want +got):\n%s", d)
	}
	res, err := dst.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: order("ord-2", march(dst, 12, 13)),
		Coupons: []string{imported}})
	if err != nil || !res.AmountOff.Equal(dec("30")) {
		t.Errorf("locking the imported gold-gift: %s off, %v; want 30", res.AmountOff, err)
	}
	if err := dst.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// listOf is the member's coupons that are not used, expired or revoked,
// by template.
func listOf(t *testing.T, p *membership.Program, member string) []coupon.Coupon {
	t.Helper()
	cs, err := p.Coupons().List(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	cs = slices.DeleteFunc(cs, func(c coupon.Coupon) bool { return c.State != coupon.Available && c.State != coupon.Locked })
	slices.SortFunc(cs, func(a, b coupon.Coupon) int { return strings.Compare(a.Template, b.Template) })
	return cs
}

// TestOpeningsRefusesALotPastTheLimit: a lot an exchange makes can be past
// the limit on decimals (40 digits) every amount keeps to, which the
// import refuses (migrate.Field points: an opening lot keeps to it). A
// member holds 1e39 mall points and exchanges them all into park at 1e30:
// a lot of 1e69, 70 digits. Openings refuses the member (ErrNotPortable,
// naming the member, the program and the lot) after the row before it,
// as it does any state the import cannot take, rather than write a file
// the import refuses.
func TestOpeningsRefusesALotPastTheLimit(t *testing.T) {
	ctx := context.Background()
	def := retailDef(t)
	def.Points.Programs = append(def.Points.Programs, points.Program{Name: "park"})
	def.Points.Exchanges = []points.Exchange{{From: "mall", To: "park", Rate: dec("1e30")}}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	at := march(p, 12, 12)
	big := dec("1e39")
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a", Member: "big", Operator: "ops", Note: "n", At: march(p, 12, 10), Program: "mall", Amount: big}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "ap", Adjustment: "a", Operator: "boss", At: march(p, 12, 10)}); err != nil {
		t.Fatal(err)
	}
	res, err := p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x", Member: "big", At: march(p, 12, 11), From: "mall", To: "park", Amount: big})
	if err != nil || !res.Got.Equal(dec("1e69")) {
		t.Fatalf("exchange: %+v, %v; want 1e69 park", res, err)
	}
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "b", Member: "ok", Operator: "ops", Note: "n", At: march(p, 12, 10), Program: "park", Amount: dec("10")}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := export.Openings(ctx, &buf, p, slices.Values([]string{"ok", "big"}), at, nil)
	if !errors.Is(err, export.ErrNotPortable) || !errors.Is(err, event.ErrTooLarge) || n != 1 || !strings.Contains(err.Error(), `"big"`) || !strings.Contains(err.Error(), `"park"`) {
		t.Errorf("export: %d rows, %v; want 1 (ok), ErrNotPortable and event.ErrTooLarge naming big and park", n, err)
	}
	// The row written reads back.
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := migrate.Run(ctx, dst, migrate.CSV(&buf, dst.Location()), migrate.Options{Name: "o.csv"}); err != nil || res.Applied != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
}

// An achievement the catalog in force no longer has (version 2 drops
// vip-guest, which an operator granted alice in version 1) is left out of
// Openings' file, as the import into a program of that definition would
// refuse the row; Benefits().Achievements still lists its grant. alice's
// gold-club is written and imported as in TestOpeningsRoundTrip.
func TestOpeningsLeavesOutAnAchievementNoLongerInTheCatalog(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	def := retailDef(t)
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	history(t, p)
	at := march(p, 12, 12)
	if _, err := p.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	def.Version = 2
	def.Benefits.Achievements = []benefit.Achievement{{Name: "gold-club"}}
	if p, err = membership.Open(st, def); err != nil {
		t.Fatal(err)
	}
	if gs, err := p.Benefits().Achievements(ctx, "alice"); err != nil || len(gs) != 2 {
		t.Fatalf("alice's grants under version 2: %+v, %v; want gold-club and vip-guest", gs, err)
	}
	var buf bytes.Buffer
	if _, err := export.Openings(ctx, &buf, p, slices.Values([]string{"alice"}), at, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("the file: %q, %v", rows, err)
	}
	if got, want := rows[1][slices.Index(rows[0], "achievements")], "gold-club|2026-03-05T10:00:00+08:00|level|Gold"; got != want {
		t.Errorf("alice's achievements cell %q, want %q", got, want)
	}
	dst, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := migrate.Run(ctx, dst, migrate.CSV(&buf, dst.Location()), migrate.Options{Name: "export.csv"}); err != nil || res.Applied != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if d := cmp.Diff(stateOf(t, p, "alice", at).Achievements[:1], stateOf(t, dst, "alice", at).Achievements, stateCmp...); d != "" {
		t.Errorf("alice's imported achievements (-gold-club of the source +imported):\n%s", d)
	}
}
