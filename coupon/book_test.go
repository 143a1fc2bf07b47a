package coupon_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// books runs functions on a Book of def over an in-memory store in
// Asia/Shanghai, one store transaction per call.
type books struct {
	t   testing.TB
	st  store.Store
	def *coupon.Definition
}

func newBooks(t testing.TB, def coupon.Definition) *books {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	return &books{t: t, st: st, def: &def}
}

// update runs fn in a read-write transaction and returns its error (the
// transaction rolls back on error).
func (b *books) update(fn func(*coupon.Book) error) error {
	return b.st.Update(context.Background(), func(tx store.Tx) error {
		return fn(coupon.NewBook(tx, b.def, shanghai(b.t)))
	})
}

func (b *books) issue(member, template, when string) ([]coupon.Coupon, error) {
	var cs []coupon.Coupon
	err := b.update(func(bk *coupon.Book) error {
		var err error
		cs, err = bk.Issue(coupon.Issue{Member: member, Template: template, Method: coupon.Self, At: at(b.t, when), Rand: rand.Reader})
		return err
	})
	return cs, err
}

func (b *books) mustIssue(member, template, when string) coupon.Coupon {
	b.t.Helper()
	cs, err := b.issue(member, template, when)
	if err != nil {
		b.t.Fatal(err)
	}
	return cs[0]
}

func (b *books) issued(name string, pack bool) int64 {
	b.t.Helper()
	var n int64
	if err := b.update(func(bk *coupon.Book) error {
		var err error
		n, err = bk.Issued(name, pack)
		return err
	}); err != nil {
		b.t.Fatal(err)
	}
	return n
}

func TestBookIssueRefusals(t *testing.T) {
	def := coupon.Definition{Templates: []coupon.Template{
		{Name: "stock2", Type: coupon.Cash, Amount: dec("5"), Stock: 2, Use: days(7)},
		{Name: "lim", Type: coupon.Cash, Amount: dec("5"), Use: days(7), Claim: coupon.ClaimRule{PerMember: 3, PerDay: 2}},
		{Name: "gold", Type: coupon.Cash, Amount: dec("5"), Use: days(7), Claim: coupon.ClaimRule{Levels: []string{"gold"}}},
		{Name: "ops", Type: coupon.Cash, Amount: dec("5"), Use: days(7), Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Operator}}},
		{Name: "may", Type: coupon.Cash, Amount: dec("5"), Use: days(7), Claim: coupon.ClaimRule{
			Period: rule.Window{From: at(t, "2026-05-01 00:00"), To: at(t, "2026-06-01 00:00")}}},
		{Name: "fixed", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{
			Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 31}}}},
	}}
	b := newBooks(t, def)
	b.mustIssue("m1", "stock2", "2026-05-01 10:00")
	b.mustIssue("m2", "stock2", "2026-05-01 10:00")
	b.mustIssue("m1", "lim", "2026-05-01 10:00")
	b.mustIssue("m1", "lim", "2026-05-01 11:00")
	b.mustIssue("m1", "lim", "2026-05-02 00:00") // a new day in Shanghai
	b.mustIssue("m1", "may", "2026-05-31 23:59")
	tests := []struct {
		name, member, template, when string
		err                          error
	}{
		{"out of stock", "m3", "stock2", "2026-05-01 10:00", coupon.ErrOutOfStock},
		{"another member has own limits", "m2", "lim", "2026-05-01 10:00", nil},
		{"per member limit", "m1", "lim", "2026-05-03 10:00", coupon.ErrLimitReached},
		{"level condition", "m1", "gold", "2026-05-01 10:00", coupon.ErrNotEligible},
		{"method not allowed", "m1", "ops", "2026-05-01 10:00", coupon.ErrNotEligible},
		{"before the period", "m1", "may", "2026-04-30 23:59", coupon.ErrOutsidePeriod},
		{"after the period", "m1", "may", "2026-06-01 00:00", coupon.ErrOutsidePeriod},
		{"fixed validity ended", "m1", "fixed", "2026-06-01 00:00", coupon.ErrOutsidePeriod},
		{"unknown template", "m1", "nope", "2026-05-01 10:00", coupon.ErrUnknownTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.issued(tt.template, false)
			// The caller carries on after a refusal (as a gift does): the
			// transaction commits, and the refusal must have written nothing.
			var err error
			if cerr := b.update(func(bk *coupon.Book) error {
				_, err = bk.Issue(coupon.Issue{Member: tt.member, Template: tt.template, Method: coupon.Self, At: at(t, tt.when), Rand: rand.Reader})
				return nil
			}); cerr != nil {
				t.Fatal(cerr)
			}
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Issue: %v, want %v", err, tt.err)
			}
			want := before
			if err == nil {
				want++
			}
			if got := b.issued(tt.template, false); got != want {
				t.Errorf("issued %d, want %d", got, want)
			}
		})
	}
	// m2 has one of "lim" on 1 May (from the table); the per-day limit is 2.
	if _, err := b.issue("m2", "lim", "2026-05-01 12:00"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.issue("m2", "lim", "2026-05-01 13:00"); !errors.Is(err, coupon.ErrLimitReached) {
		t.Errorf("third claim of the day: %v, want ErrLimitReached", err)
	}
}

func TestBookEligibleWithFacts(t *testing.T) {
	def := coupon.Definition{Templates: []coupon.Template{
		{Name: "gold", Type: coupon.Cash, Amount: dec("5"), Use: days(7), Claim: coupon.ClaimRule{Levels: []string{"gold"}, Tags: []string{"mum"}}},
	}}
	b := newBooks(t, def)
	err := b.update(func(bk *coupon.Book) error {
		_, err := bk.Issue(coupon.Issue{Member: "m1", Template: "gold", At: at(t, "2026-05-01 10:00"), Rand: rand.Reader,
			Facts: coupon.Facts{Level: "gold", Tags: []string{"mum"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBookDaysAfterValidityAtDayBoundary(t *testing.T) {
	def := coupon.Definition{Templates: []coupon.Template{
		{Name: "d1", Type: coupon.Cash, Amount: dec("5"), Use: days(1)},
		{Name: "d3", Type: coupon.Cash, Amount: dec("5"), Use: days(3)},
	}}
	b := newBooks(t, def)
	tests := []struct {
		template, claimed, expires string
	}{
		{"d1", "2026-05-01 00:00", "2026-05-02 00:00"},
		{"d1", "2026-05-01 23:59", "2026-05-02 00:00"},
		{"d1", "2026-05-02 00:00", "2026-05-03 00:00"},
		{"d3", "2026-05-01 23:59", "2026-05-04 00:00"},
		{"d3", "2026-12-30 08:00", "2027-01-02 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.template+" "+tt.claimed, func(t *testing.T) {
			c := b.mustIssue("m1", tt.template, tt.claimed)
			want := at(t, tt.expires)
			if !c.Expires.Equal(want) {
				t.Fatalf("expires %s, want %s", c.Expires.In(shanghai(t)), want)
			}
			tpl, _ := def.Template(tt.template)
			h := coupon.Held{Coupon: c, Template: tpl}
			o := order(t, line("a", "", "10"))
			o.Time = want.Add(-time.Nanosecond)
			if a := coupon.Evaluate(o, []coupon.Held{h})[0]; !a.OK() {
				t.Errorf("last instant of the last day: %v", a.Reasons)
			}
			o.Time = want
			if a := coupon.Evaluate(o, []coupon.Held{h})[0]; len(a.Reasons) != 1 || a.Reasons[0] != coupon.ReasonExpired {
				t.Errorf("24:00 of the last day: %v, want expired", a.Reasons)
			}
		})
	}
}

// The article's pack example on a Book: packs of A, B and C while A (stock
// 2) and then B (stock 3) run out, C having 5.
func TestBookPackArticleExample(t *testing.T) {
	tpl := func(name string, stock int64) coupon.Template {
		return coupon.Template{Name: name, Type: coupon.Cash, Amount: dec("5"), Stock: stock, Use: days(30)}
	}
	items := []coupon.PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 1}, {Template: "C", Count: 1}}
	tests := []struct {
		mode coupon.PackMode
		// want is the templates of each successive pack; then refused.
		want [][]string
	}{
		{coupon.AnyInvalid, [][]string{{"A", "B", "C"}, {"A", "B", "C"}}},
		{coupon.AllInvalid, [][]string{{"A", "B", "C"}, {"A", "B", "C"}, {"B", "C"}, {"C"}, {"C"}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			b := newBooks(t, coupon.Definition{
				Templates: []coupon.Template{tpl("A", 2), tpl("B", 3), tpl("C", 5)},
				Packs:     []coupon.Pack{{Name: "spring", Items: items, Mode: tt.mode}},
			})
			claim := func(i int) (coupon.PackIssued, error) {
				var res coupon.PackIssued
				var ierr error
				err := b.update(func(bk *coupon.Book) error {
					res, ierr = bk.IssuePack(coupon.IssuePack{Member: "m" + string(rune('0'+i)), Pack: "spring", Method: coupon.Self,
						At: at(t, "2026-05-01 10:00"), Rand: rand.Reader})
					return nil // carry on: a refusal must have written nothing
				})
				if err != nil {
					t.Fatal(err)
				}
				return res, ierr
			}
			var got [][]string
			for i := range len(tt.want) {
				res, err := claim(i)
				if err != nil {
					t.Fatalf("pack %d: %v", i, err)
				}
				var names []string
				for _, c := range res.Coupons {
					names = append(names, c.Template)
					if c.Pack != "spring" {
						t.Errorf("coupon %s has pack %q", c.ID, c.Pack)
					}
				}
				got = append(got, names)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packs (-want +got):\n%s", diff)
			}
			before := map[string]int64{"A": b.issued("A", false), "B": b.issued("B", false), "C": b.issued("C", false), "spring": b.issued("spring", true)}
			if _, err := claim(9); !errors.Is(err, coupon.ErrOutOfStock) {
				t.Fatalf("pack after the stock ran out: %v, want ErrOutOfStock", err)
			}
			after := map[string]int64{"A": b.issued("A", false), "B": b.issued("B", false), "C": b.issued("C", false), "spring": b.issued("spring", true)}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a refused pack changed stock (-before +after):\n%s", diff)
			}
			if after["spring"] != int64(len(tt.want)) {
				t.Errorf("packs issued %d, want %d", after["spring"], len(tt.want))
			}
		})
	}
}

func TestBookPackStockAndLimits(t *testing.T) {
	b := newBooks(t, coupon.Definition{
		Templates: []coupon.Template{{Name: "A", Type: coupon.Cash, Amount: dec("5"), Use: days(30)}},
		Packs: []coupon.Pack{
			{Name: "two", Items: []coupon.PackItem{{Template: "A", Count: 2}}, Stock: 2, Mode: coupon.AnyInvalid},
			{Name: "once", Items: []coupon.PackItem{{Template: "A", Count: 1}}, Mode: coupon.AllInvalid, Claim: coupon.ClaimRule{PerMember: 1}},
		},
	})
	give := func(member, pack string) error {
		return b.update(func(bk *coupon.Book) error {
			res, err := bk.IssuePack(coupon.IssuePack{Member: member, Pack: pack, At: at(t, "2026-05-01 10:00"), Rand: rand.Reader})
			if err == nil && len(res.Coupons) == 0 {
				t.Errorf("pack %s gave nothing", pack)
			}
			return err
		})
	}
	for _, st := range []struct {
		member, pack string
		err          error
	}{
		{"m1", "two", nil}, {"m2", "two", nil}, {"m3", "two", coupon.ErrOutOfStock},
		{"m1", "once", nil}, {"m1", "once", coupon.ErrLimitReached}, {"m2", "once", nil},
		{"m1", "none", coupon.ErrUnknownTemplate},
	} {
		if err := give(st.member, st.pack); !errors.Is(err, st.err) || (err == nil) != (st.err == nil) {
			t.Errorf("%s %s: %v, want %v", st.member, st.pack, err, st.err)
		}
	}
	if n := b.issued("A", false); n != 6 {
		t.Errorf("A issued %d, want 6", n)
	}
}

func TestBookStateMachine(t *testing.T) {
	def := coupon.Definition{Templates: []coupon.Template{
		{Name: "cash", Type: coupon.Cash, Amount: dec("10"), Use: days(10), Group: "g", CostCentre: "mkt"},
		{Name: "disc", Type: coupon.Discount, Rate: dec("0.9"), Use: days(10), Group: "g", CostCentre: "mkt"},
		{Name: "qr", Type: coupon.Cash, Amount: dec("3"), Use: days(1), Redemption: []coupon.Redemption{coupon.ByQR}, CostCentre: "ops"},
	}}
	b := newBooks(t, def)
	c1 := b.mustIssue("m1", "cash", "2026-05-01 10:00")
	c2 := b.mustIssue("m1", "disc", "2026-05-01 10:00")
	c3 := b.mustIssue("m1", "qr", "2026-05-01 10:00")
	o := order(t, line("a", "", "100"))
	o.Time = at(t, "2026-05-02 10:00")
	step := func(name string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
	}
	state := func(id string) coupon.State {
		t.Helper()
		var c coupon.Coupon
		if err := b.update(func(bk *coupon.Book) error { var err error; c, err = bk.Get(id); return err }); err != nil {
			t.Fatal(err)
		}
		return c.State
	}
	var total string
	step("lock both", b.update(func(bk *coupon.Book) error {
		_, tot, err := bk.Lock(o, []string{c1.ID, c2.ID})
		total = tot.String()
		return err
	}), nil)
	if total != "19" || state(c1.ID) != coupon.Locked || state(c2.ID) != coupon.Locked {
		t.Fatalf("after lock: total %s, states %s %s", total, state(c1.ID), state(c2.ID))
	}
	o2 := o
	o2.ID = "o2"
	step("lock a locked coupon for another order", b.update(func(bk *coupon.Book) error { _, _, err := bk.Lock(o2, []string{c1.ID}); return err }), coupon.ErrState)
	step("release", b.update(func(bk *coupon.Book) error { _, err := bk.Release("o1", at(t, "2026-05-02 10:05")); return err }), nil)
	if state(c1.ID) != coupon.Available || state(c2.ID) != coupon.Available {
		t.Fatal("release did not make the coupons available")
	}
	step("exclusive with another", b.update(func(bk *coupon.Book) error { _, _, err := bk.Lock(o2, []string{c3.ID, c1.ID}); return err }), coupon.ErrNotCombinable)
	if state(c1.ID) != coupon.Available {
		t.Fatal("a refused lock changed a coupon")
	}
	step("release again", b.update(func(bk *coupon.Book) error { _, err := bk.Release("o1", at(t, "2026-05-02 10:05")); return err }), coupon.ErrNotFound)
	step("lock again", b.update(func(bk *coupon.Book) error { _, _, err := bk.Lock(o2, []string{c1.ID, c2.ID}); return err }), nil)
	step("another member's coupon", b.update(func(bk *coupon.Book) error {
		o3 := o2
		o3.ID, o3.Member = "o3", "m2"
		_, _, err := bk.Lock(o3, []string{c1.ID})
		return err
	}), coupon.ErrNotFound)
	step("use", b.update(func(bk *coupon.Book) error { _, err := bk.Use("o2", at(t, "2026-05-02 10:10")); return err }), nil)
	step("use again", b.update(func(bk *coupon.Book) error { _, err := bk.Use("o2", at(t, "2026-05-02 10:10")); return err }), coupon.ErrNotFound)
	step("revoke a used coupon", b.update(func(bk *coupon.Book) error { _, err := bk.Revoke(c1.ID, at(t, "2026-05-02 11:00"), ""); return err }), coupon.ErrState)
	if state(c1.ID) != coupon.Used || state(c2.ID) != coupon.Used {
		t.Fatal("use did not mark the coupons used")
	}

	// Redeem by code: the template allows QR only.
	redeem := func(code string, via coupon.Redemption, o coupon.Order) error {
		return b.update(func(bk *coupon.Book) error { _, _, err := bk.Redeem(code, via, o); return err })
	}
	ro := coupon.Order{ID: "pos1", Store: "s9", Time: at(t, "2026-05-01 18:00"), Lines: []coupon.Line{line("a", "", "20")}}
	bad := []byte(c3.Code)
	bad[3] = map[bool]byte{true: 'A', false: 'B'}[bad[3] != 'A']
	step("typo", redeem(string(bad), coupon.ByQR, ro), coupon.ErrBadCode)
	unknown, _ := coupon.NewCode(rand.Reader)
	step("unknown code", redeem(unknown, coupon.ByQR, ro), coupon.ErrUnknownCode)
	step("method not allowed", redeem(c3.Code, coupon.ByCode, ro), coupon.ErrNotApplicable)
	other := ro
	other.Member = "m2"
	step("another member's order", redeem(c3.Code, coupon.ByQR, other), coupon.ErrNotFound)
	late := ro
	late.Time = at(t, "2026-05-02 00:00")
	step("expired at the order time", redeem(c3.QR(), coupon.ByQR, late), coupon.ErrNotApplicable)
	step("redeem", redeem(c3.QR(), coupon.ByQR, ro), nil)
	step("redeem twice", redeem(c3.Code, coupon.ByQR, ro), coupon.ErrState)

	// Expiry and revocation.
	c4 := b.mustIssue("m1", "cash", "2026-05-01 10:00")
	c5 := b.mustIssue("m1", "cash", "2026-05-01 10:00")
	expire := func(id, when string) bool {
		var changed bool
		if err := b.update(func(bk *coupon.Book) error { var err error; _, changed, err = bk.Expire(id, at(t, when)); return err }); err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if expire(c4.ID, "2026-05-10 23:59") {
		t.Error("expired before 24:00 of the last day")
	}
	if !expire(c4.ID, "2026-05-11 00:00") || state(c4.ID) != coupon.Expired {
		t.Error("not expired at 24:00 of the last day")
	}
	if expire(c1.ID, "2026-05-11 00:00") {
		t.Error("a used coupon expired")
	}
	step("revoke", b.update(func(bk *coupon.Book) error {
		_, err := bk.Revoke(c5.ID, at(t, "2026-05-03 09:00"), "fraud")
		return err
	}), nil)
	step("revoke twice", b.update(func(bk *coupon.Book) error { _, err := bk.Revoke(c5.ID, at(t, "2026-05-03 09:00"), ""); return err }), coupon.ErrState)

	// Statistics.
	var r coupon.Report
	stats := func(q coupon.StatsQuery) coupon.Report {
		t.Helper()
		if err := b.update(func(bk *coupon.Book) error { var err error; r, err = bk.Stats(q); return err }); err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := stats(coupon.StatsQuery{})
	want := coupon.Stat{Issued: 5, Used: 3, Expired: 1, Revoked: 1, AmountOff: dec("22")}
	if diff := cmp.Diff(want, all.Total); diff != "" {
		t.Errorf("total (-want +got):\n%s", diff)
	}
	if got := all.ByStore["s1"]; got.Used != 2 || !got.AmountOff.Equal(dec("19")) {
		t.Errorf("store s1: %+v", got)
	}
	if got := all.ByCostCentre["ops"]; got.Used != 1 || got.Issued != 1 || !got.AmountOff.Equal(dec("3")) {
		t.Errorf("cost centre ops: %+v", got)
	}
	if got := all.ByTemplate["cash"]; got.Issued != 3 || got.Used != 1 || got.Expired != 1 || got.Revoked != 1 || !got.AmountOff.Equal(dec("10")) {
		t.Errorf("template cash: %+v", got)
	}
	day1 := stats(coupon.StatsQuery{From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 1}})
	if got := day1.Total; got.Issued != 5 || got.Used != 1 || !got.AmountOff.Equal(dec("3")) {
		t.Errorf("1 May: %+v", got)
	}
	mkt := stats(coupon.StatsQuery{CostCentre: "mkt", Store: "s1"})
	if got := mkt.Total; got.Used != 2 || got.Issued != 0 || len(mkt.Rows) != 2 {
		t.Errorf("mkt at s1: %+v rows %d", got, len(mkt.Rows))
	}
}
