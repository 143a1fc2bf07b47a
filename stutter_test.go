package membership_test

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/webhook"
	"github.com/memberkit/membership/whatif"
)

// prefixes are the package names an error message may begin a layer
// with; Go's convention (and STYLE.md) is that each appears once, from the
// layer that adds the package's context.
var prefixes = []string{
	"membership", "points", "level", "coupon", "benefit", "task", "tag", "value",
	"webhook", "export", "migrate", "whatif", "report", "store", "ledger", "rule",
	"event", "bolt", "memory", "postgres", "engine", "codec", "record", "due",
}

// prefixRE matches a package prefix at the start of a layer: of the
// message, after another layer's ": " or on a line of a joined error; not
// inside a layer ("no such coupon: none locked", "subtag: ").
var prefixRE = func() map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for _, p := range prefixes {
		m[p] = regexp.MustCompile(`(^|: |\n)` + p + `: `)
	}
	return m
}()

// stutters reports the package prefixes msg repeats ("coupon: claim x:
// coupon: unknown template" repeats "coupon: ").
func stutters(msg string) []string {
	var out []string
	for _, p := range prefixes {
		if n := len(prefixRE[p].FindAllStringIndex(msg, -1)); n > 1 || strings.Contains(msg, p+": "+p+": ") {
			out = append(out, p)
		}
	}
	return out
}

// errorTexts drives each handle's and package's main calls with bad input
// on a memory store and returns each call's error, by the name of the
// case. A case whose call succeeds fails t: bad input must be refused.
func errorTexts(t *testing.T) map[string]error {
	t.Helper()
	ctx := context.Background()
	def := testkit.RetailDef(t, "examples/retail/program.json")
	def.Coupons.Templates = append(def.Coupons.Templates, coupon.Template{
		Name: "last-one", Type: coupon.Cash, Amount: dec("5"), Stock: 1,
		Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Operator}},
		Use:   coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 1}},
	})
	def.Benefits.Achievements = []benefit.Achievement{{Name: "first-order"}}
	p := openMemory(t, def)
	at := time.Date(2025, 3, 3, 9, 0, 0, 0, testkit.Shanghai)
	mustProcess(t, p, event.Event{ID: "reg-alice", Member: "alice", Type: "register", Time: at})
	claimed, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c-last", Member: "alice", Operator: "op", At: at, Template: "last-one", Method: coupon.Operator})
	if err != nil {
		t.Fatalf("Claim last-one: %v", err)
	}
	if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "alice", Operator: "op", At: at, Achievement: "first-order"}); err != nil {
		t.Fatalf("GrantAchievement: %v", err)
	}
	later := at.Add(72 * time.Hour)
	order := coupon.Order{ID: "o-x", Member: "alice", Time: later, Lines: []coupon.Line{{Product: "p", Amount: dec("100")}}}

	errs := map[string]error{}
	try := func(name string, err error) {
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		errs[name] = err
	}
	c := p.Coupons()
	_, err = c.Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "alice", At: at, Template: "nope"})
	try("coupon claim unknown template", err)
	_, err = c.ClaimPack(ctx, coupon.PackRequest{RequestID: "c2", Member: "alice", At: at, Pack: "nope"})
	try("coupon claim unknown pack", err)
	_, err = c.Issue(ctx, coupon.IssueRequest{RequestID: "c3", Operator: "op", At: at, Members: []string{"alice"}, Template: "nope"})
	try("coupon issue unknown template", err)
	_, err = c.Claim(ctx, coupon.ClaimRequest{RequestID: "c4", Member: "bob", Operator: "op", At: at, Template: "last-one", Method: coupon.Operator})
	try("coupon claim out of stock", err)
	_, err = c.Claim(ctx, coupon.ClaimRequest{RequestID: "c-last", Member: "bob", Operator: "op", At: at, Template: "last-one", Method: coupon.Operator})
	try("coupon claim request ID reused", err)
	_, err = c.Redeem(ctx, coupon.RedeemRequest{RequestID: "c5", Code: claimed.Coupons[0].Code, Order: order})
	try("coupon redeem expired", err)
	_, err = c.Redeem(ctx, coupon.RedeemRequest{RequestID: "c6", Code: "nope", Order: order})
	try("coupon redeem malformed code", err)
	_, err = c.Redeem(ctx, coupon.RedeemRequest{RequestID: "c7", Code: claimed.Coupons[0].Code, Order: coupon.Order{ID: "o-y", Time: later}})
	try("coupon redeem invalid order", err)
	_, err = c.Revoke(ctx, coupon.RevokeRequest{RequestID: "c8", Operator: "op", At: later, Coupon: "nope"})
	try("coupon revoke unknown coupon", err)
	_, err = c.Revoke(ctx, coupon.RevokeRequest{RequestID: "c9", Operator: "op", At: later, Coupon: claimed.Coupons[0].ID})
	try("coupon revoke expired", err)
	_, err = c.ByCode(ctx, "nope")
	try("coupon by malformed code", err)
	_, err = c.Lock(ctx, coupon.LockRequest{RequestID: "c10", Order: order, Coupons: []string{"nope"}})
	try("coupon lock unknown coupon", err)
	_, err = c.Use(ctx, coupon.OrderRequest{RequestID: "c11", At: later, Order: "nope"})
	try("coupon use unknown order", err)
	_, err = c.Checkout(ctx, coupon.Order{ID: "o-z", Time: later})
	try("coupon checkout invalid order", err)

	pt := p.Points()
	_, err = pt.Redeem(ctx, points.RedeemRequest{RequestID: "p1", Member: "alice", At: at, Program: "mall", Ref: "r1", Amount: dec("1000000")})
	try("points redeem insufficient", err)
	_, err = pt.Redeem(ctx, points.RedeemRequest{RequestID: "p2", Member: "alice", At: at, Program: "nope", Ref: "r2", Amount: dec("1")})
	try("points redeem unknown program", err)
	_, err = pt.Redeem(ctx, points.RedeemRequest{RequestID: "p3", Member: "alice", At: at, Program: "mall", Ref: "r3", Amount: dec("-1")})
	try("points redeem negative amount", err)
	_, err = pt.Adjust(ctx, points.AdjustRequest{RequestID: "p4", Member: "alice", Operator: "op", Note: "n", At: at, Program: "mall", Amount: dec("0")})
	try("points adjust zero", err)
	_, err = pt.Adjust(ctx, points.AdjustRequest{RequestID: "p5", Member: "alice", At: at, Program: "mall", Amount: dec("5")})
	try("points adjust no operator", err)
	_, err = pt.Reverse(ctx, points.ReverseRequest{RequestID: "p6", Operator: "op", At: at, Program: "mall", Ref: "nope"})
	try("points reverse unknown redemption", err)
	_, err = pt.Approve(ctx, points.DecideRequest{RequestID: "p7", Operator: "op", At: at, Adjustment: "nope"})
	try("points approve unknown adjustment", err)
	_, err = pt.Exchange(ctx, points.ExchangeRequest{RequestID: "p8", Member: "alice", At: at, From: "mall", To: "nope", Amount: dec("1")})
	try("points exchange unknown program", err)
	_, err = pt.Void(ctx, points.ReviewRequest{RequestID: "p9", Member: "alice", Operator: "op", At: at, Program: "mall", Date: "nope"})
	try("points void bad date", err)

	lv := p.Levels()
	_, err = lv.Set(ctx, level.SetRequest{RequestID: "l1", Member: "alice", Operator: "op", Note: "n", At: at, Level: "nope"})
	try("level set unknown level", err)
	_, err = lv.Set(ctx, level.SetRequest{RequestID: "l2", Member: "alice", Note: "n", At: at, Level: "Gold"})
	try("level set no operator", err)
	_, err = lv.StatusAt(ctx, "alice", time.Time{})
	try("level status zero time", err)
	_, err = lv.History(ctx, "alice", 0, -1)
	try("level history negative limit", err)

	bf := p.Benefits()
	_, err = bf.GrantAchievement(ctx, benefit.GrantRequest{RequestID: "b1", Member: "alice", Operator: "op", At: at, Achievement: "nope"})
	try("benefit grant unknown achievement", err)
	_, err = bf.GrantAchievement(ctx, benefit.GrantRequest{RequestID: "b2", Member: "alice", Operator: "op", At: at, Achievement: "first-order"})
	try("benefit grant twice", err)
	_, err = bf.MemberPrice(ctx, "alice", dec("-1"), at)
	try("benefit member price negative", err)

	tk := p.Tasks()
	_, err = tk.Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "nope", Period: rule.Month, At: at})
	try("task completions unknown task", err)

	tg := p.Tags()
	_, err = tg.Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "alice", Operator: "op", At: at, Tag: "nope"})
	try("tag add unknown tag", err)
	_, err = tg.Add(ctx, tag.ManualRequest{RequestID: "t2", Member: "alice", Operator: "op", At: at, Tag: "recent"})
	try("tag add rule tag", err)
	_, err = tg.SetProfile(ctx, tag.ProfileRequest{RequestID: "t3", Member: "alice", At: at, Attributes: map[string]event.Value{"nope": event.Str("x")}})
	try("tag profile unknown attribute", err)
	_, err = tg.Recompute(ctx, tag.RecomputeRequest{At: at, Tag: "nope"})
	try("tag recompute unknown tag", err)
	_, err = tg.Segment(ctx, tag.SegmentQuery{Expr: tag.Tag("nope")})
	try("tag segment unknown tag", err)
	_, err = tag.Parse("recent and (")
	try("tag parse malformed", err)

	_, err = p.Process(ctx, event.Event{ID: "v1", Member: "alice", Type: "value_pay", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec("1000000"))}})
	try("value spend beyond balance", err)
	_, err = p.Process(ctx, event.Event{ID: "v2", Member: "alice", Type: "recharge", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec("-5"))}})
	try("value recharge negative", err)
	_, err = p.Process(ctx, event.Event{ID: "reg-alice", Member: "bob", Type: "register", Time: at})
	try("process event ID reused", err)
	_, err = p.Statement(ctx, ledger.Query{Limit: -1})
	try("statement bad query", err)

	err = webhook.Verify([]byte("{}"), "nope", []byte("secret"), at, time.Minute)
	try("webhook verify malformed header", err)
	_, err = webhook.New(nil, memory.New(), "c", "http://x", []byte("s"))
	try("webhook new nil feed", err)
	err = webhook.Verify([]byte("{}"), webhook.Sign([]byte("other"), at, []byte("{}")), []byte("secret"), at, time.Minute)
	try("webhook verify wrong secret", err)
	err = webhook.Verify([]byte("{}"), webhook.Sign([]byte("secret"), at, []byte("{}")), []byte("secret"), at.Add(time.Hour), time.Minute)
	try("webhook verify old signature", err)
	st := memory.New()
	pw, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.New(pw, st, "crm", "http://127.0.0.1:1", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	try("webhook discard no dead letter", d.Discard(ctx, 42))
	try("webhook replay no dead letter", d.Replay(ctx, 42))

	var buf bytes.Buffer
	_, _, err = export.Statement(ctx, &buf, p, ledger.Query{Limit: -1}, nil)
	try("export statement bad query", err)
	if _, err := pw.Erase(ctx, membership.EraseRequest{RequestID: "e1", Member: "alice", Operator: "dpo", At: at}); err != nil {
		t.Fatal(err)
	}
	_, err = export.Openings(ctx, &buf, pw, slices.Values([]string{"alice"}), later, nil)
	try("export openings of an erased member", err)
	_, err = report.Build(ctx, p, report.Query{From: rule.Date{Year: 2025, Month: 3, Day: 1}, To: rule.Date{Year: 2025, Month: 3, Day: 31}, Grain: "fortnight"})
	try("report unknown grain", err)
	_, err = whatif.Run(ctx, st, def, def, whatif.Options{From: later, Until: at})
	try("whatif window backwards", err)

	_, err = migrate.Run(ctx, p, migrate.CSV(strings.NewReader("member,nope\nalice,1\n"), testkit.Shanghai), migrate.Options{})
	try("migrate bad header", err)
	_, err = migrate.Run(ctx, p, migrate.JSONL(nil), migrate.Options{})
	try("migrate nil reader", err)

	_, err = whatif.Run(ctx, memory.New(), def, def, whatif.Options{})
	try("whatif empty source", err)

	_, err = report.Build(ctx, p, report.Query{From: rule.Date{}, To: rule.Date{}})
	try("report zero dates", err)

	_, err = membership.Open(memory.New(), membership.Definition{Zone: "Mars/Olympus"})
	try("open bad definition", err)

	// A program that defines no domain: each handle's ErrNotDefined.
	bare := openMemory(t, membership.Definition{Zone: "Asia/Shanghai", Events: def.Events})
	_, err = bare.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "n1", Member: "alice", At: at, Template: "x"})
	try("coupon not defined", err)
	_, err = bare.Points().Adjust(ctx, points.AdjustRequest{RequestID: "n2", Member: "alice", Operator: "op", Note: "n", At: at, Program: "mall", Amount: dec("5")})
	try("points not defined", err)
	_, err = bare.Levels().Set(ctx, level.SetRequest{RequestID: "n3", Member: "alice", Operator: "op", Note: "n", At: at, Level: "Gold"})
	try("level not defined", err)
	_, err = bare.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "n4", Member: "alice", Operator: "op", At: at, Achievement: "x"})
	try("benefit not defined", err)
	_, err = bare.Tasks().Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "x", Period: rule.Month, At: at})
	try("task not defined", err)
	_, err = bare.Tags().Add(ctx, tag.ManualRequest{RequestID: "n5", Member: "alice", Operator: "op", At: at, Tag: "x"})
	try("tag not defined", err)
	_, err = bare.Value().Account(ctx, "alice")
	try("value not defined", err)
	return errs
}

func TestErrorsNameTheirPackageOnce(t *testing.T) {
	for name, err := range errorTexts(t) {
		t.Logf("%s: %v", name, err)
		if s := stutters(err.Error()); len(s) > 0 {
			t.Errorf("%s: %q repeats %v", name, err, s)
		}
	}
}

func TestStutters(t *testing.T) {
	for msg, want := range map[string]int{
		"coupon: claim nope: coupon: unknown template or pack": 1,
		"coupon: claim nope: unknown template or pack":         0,
		"points: redeem: store: not found":                     0,
		"tag: tag: x":                                          1,
		"membership: process e1: level: unknown level":         0,
		"tag: a: subtag: b":                                    0,
		"coupon: use: no such coupon: none locked":             0,
		"tag: a\ntag: b":                                       1,
	} {
		if got := len(stutters(msg)); got != want {
			t.Errorf("stutters(%q) = %d, want %d", msg, got, want)
		}
	}
}
