package coupon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// books runs functions on a Book of def over an in-memory store in
// Asia/Shanghai, one engine unit of work per call.
type books struct {
	t   testing.TB
	e   *engine.Engine
	def *Definition
	// u is the unit of the update running: the Book's writes take their
	// coupon IDs from it.
	u *engine.Unit
}

func newBooks(t testing.TB, def Definition) *books {
	t.Helper()
	return newBooksOn(t, def, memory.New())
}

// newBooksOn is newBooks over st.
func newBooksOn(t testing.TB, def Definition, st store.Store) *books {
	t.Helper()
	t.Cleanup(func() { st.Close() })
	return &books{t: t, e: engine.New(st, shanghai(t), engine.Options{}), def: &def}
}

// update runs fn in a unit of work and returns its error (the transaction
// rolls back on error).
func (b *books) update(fn func(*Book) error) error {
	_, err := b.e.Update(context.Background(), engine.Request{}, func(u *engine.Unit) error {
		b.u = u
		defer func() { b.u = nil }()
		return fn(newBook(u.Tx(), b.def, shanghai(b.t), u))
	})
	return err
}

func (b *books) issue(member, template, when string) ([]Coupon, error) {
	var cs []Coupon
	err := b.update(func(bk *Book) error {
		var err error
		cs, err = bk.issue(issueReq{Member: member, Template: template, Method: Self, At: at(b.t, when), Rand: rand.Reader, IDs: b.u})
		return err
	})
	return cs, err
}

func (b *books) mustIssue(member, template, when string) Coupon {
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
	if err := b.update(func(bk *Book) error {
		var err error
		n, err = bk.Issued(name, pack)
		return err
	}); err != nil {
		b.t.Fatal(err)
	}
	return n
}

func TestBookIssueRefusals(t *testing.T) {
	def := Definition{Templates: []Template{
		{Name: "stock2", Type: Cash, Amount: dec("5"), Stock: 2, Use: days(7)},
		{Name: "lim", Type: Cash, Amount: dec("5"), Use: days(7), Claim: ClaimRule{PerMember: 3, PerDay: 2}},
		{Name: "gold", Type: Cash, Amount: dec("5"), Use: days(7), Claim: ClaimRule{Levels: []string{"gold"}}},
		{Name: "ops", Type: Cash, Amount: dec("5"), Use: days(7), Claim: ClaimRule{Methods: []Method{Operator}}},
		{Name: "may", Type: Cash, Amount: dec("5"), Use: days(7), Claim: ClaimRule{
			Period: rule.Window{From: at(t, "2026-05-01 00:00"), To: at(t, "2026-06-01 00:00")}}},
		{Name: "fixed", Type: Cash, Amount: dec("5"), Use: UseRule{Validity: rule.Validity{
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
		{"out of stock", "m3", "stock2", "2026-05-01 10:00", ErrOutOfStock},
		{"another member has own limits", "m2", "lim", "2026-05-01 10:00", nil},
		{"per member limit", "m1", "lim", "2026-05-03 10:00", ErrLimitReached},
		{"level condition", "m1", "gold", "2026-05-01 10:00", ErrNotEligible},
		{"method not allowed", "m1", "ops", "2026-05-01 10:00", ErrNotEligible},
		{"before the period", "m1", "may", "2026-04-30 23:59", ErrOutsidePeriod},
		{"after the period", "m1", "may", "2026-06-01 00:00", ErrOutsidePeriod},
		{"fixed validity ended", "m1", "fixed", "2026-06-01 00:00", ErrOutsidePeriod},
		{"unknown template", "m1", "nope", "2026-05-01 10:00", ErrUnknownTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.issued(tt.template, false)
			// The caller carries on after a refusal (as a gift does): the
			// transaction commits, and the refusal must have written nothing.
			var err error
			if cerr := b.update(func(bk *Book) error {
				_, err = bk.issue(issueReq{Member: tt.member, Template: tt.template, Method: Self, At: at(t, tt.when), Rand: rand.Reader, IDs: b.u})
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
	if _, err := b.issue("m2", "lim", "2026-05-01 13:00"); !errors.Is(err, ErrLimitReached) {
		t.Errorf("third claim of the day: %v, want ErrLimitReached", err)
	}
}

func TestBookEligibleWithFacts(t *testing.T) {
	def := Definition{Templates: []Template{
		{Name: "gold", Type: Cash, Amount: dec("5"), Use: days(7), Claim: ClaimRule{Levels: []string{"gold"}, Tags: []string{"mum"}}},
	}}
	b := newBooks(t, def)
	err := b.update(func(bk *Book) error {
		_, err := bk.issue(issueReq{Member: "m1", Template: "gold", At: at(t, "2026-05-01 10:00"), Rand: rand.Reader, IDs: b.u,
			Facts: Facts{Level: "gold", Tags: []string{"mum"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBookDaysAfterValidityAtDayBoundary(t *testing.T) {
	def := Definition{Templates: []Template{
		{Name: "d1", Type: Cash, Amount: dec("5"), Use: days(1)},
		{Name: "d3", Type: Cash, Amount: dec("5"), Use: days(3)},
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
			h := Held{Coupon: c, Template: tpl}
			o := order(t, line("a", "", "10"))
			o.Time = want.Add(-time.Nanosecond)
			if a := Evaluate(o, []Held{h})[0]; !a.OK() {
				t.Errorf("last instant of the last day: %v", a.Reasons)
			}
			o.Time = want
			if a := Evaluate(o, []Held{h})[0]; len(a.Reasons) != 1 || a.Reasons[0] != ReasonExpired {
				t.Errorf("24:00 of the last day: %v, want expired", a.Reasons)
			}
		})
	}
}

// The article's pack example on a Book: packs of A, B and C while A (stock
// 2) and then B (stock 3) run out, C having 5.
func TestBookPackArticleExample(t *testing.T) {
	tpl := func(name string, stock int64) Template {
		return Template{Name: name, Type: Cash, Amount: dec("5"), Stock: stock, Use: days(30)}
	}
	items := []PackItem{{Template: "A", Count: 1}, {Template: "B", Count: 1}, {Template: "C", Count: 1}}
	tests := []struct {
		mode PackMode
		// want is the templates of each successive pack; then refused.
		want [][]string
	}{
		{AnyInvalid, [][]string{{"A", "B", "C"}, {"A", "B", "C"}}},
		{AllInvalid, [][]string{{"A", "B", "C"}, {"A", "B", "C"}, {"B", "C"}, {"C"}, {"C"}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			b := newBooks(t, Definition{
				Templates: []Template{tpl("A", 2), tpl("B", 3), tpl("C", 5)},
				Packs:     []Pack{{Name: "spring", Items: items, Mode: tt.mode}},
			})
			claim := func(i int) (PackIssued, error) {
				var res PackIssued
				var ierr error
				err := b.update(func(bk *Book) error {
					res, ierr = bk.issuePack(packReq{Member: "m" + string(rune('0'+i)), Pack: "spring", Method: Self,
						At: at(t, "2026-05-01 10:00"), Rand: rand.Reader, IDs: b.u})
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
			if _, err := claim(9); !errors.Is(err, ErrOutOfStock) {
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
	b := newBooks(t, Definition{
		Templates: []Template{{Name: "A", Type: Cash, Amount: dec("5"), Use: days(30)}},
		Packs: []Pack{
			{Name: "two", Items: []PackItem{{Template: "A", Count: 2}}, Stock: 2, Mode: AnyInvalid},
			{Name: "once", Items: []PackItem{{Template: "A", Count: 1}}, Mode: AllInvalid, Claim: ClaimRule{PerMember: 1}},
		},
	})
	give := func(member, pack string) error {
		return b.update(func(bk *Book) error {
			res, err := bk.issuePack(packReq{Member: member, Pack: pack, At: at(t, "2026-05-01 10:00"), Rand: rand.Reader, IDs: b.u})
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
		{"m1", "two", nil}, {"m2", "two", nil}, {"m3", "two", ErrOutOfStock},
		{"m1", "once", nil}, {"m1", "once", ErrLimitReached}, {"m2", "once", nil},
		{"m1", "none", ErrUnknownTemplate},
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
	def := Definition{Templates: []Template{
		{Name: "cash", Type: Cash, Amount: dec("10"), Use: days(10), Group: "g", CostCentre: "mkt"},
		{Name: "disc", Type: Discount, Rate: dec("0.9"), Use: days(10), Group: "g", CostCentre: "mkt"},
		{Name: "qr", Type: Cash, Amount: dec("3"), Use: days(1), Redemption: []Redemption{ByQR}, CostCentre: "ops"},
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
	state := func(id string) State {
		t.Helper()
		var c Coupon
		if err := b.update(func(bk *Book) error { var err error; c, err = bk.Get(id); return err }); err != nil {
			t.Fatal(err)
		}
		return c.State
	}
	var total string
	step("lock both", b.update(func(bk *Book) error {
		_, tot, err := bk.lock(o, []string{c1.ID, c2.ID}, time.Time{})
		total = tot.String()
		return err
	}), nil)
	if total != "19" || state(c1.ID) != Locked || state(c2.ID) != Locked {
		t.Fatalf("after lock: total %s, states %s %s", total, state(c1.ID), state(c2.ID))
	}
	// Another order, placed when o1 is released: a lock cannot be dated
	// before the coupon's release.
	o2 := o
	o2.ID, o2.Time = "o2", at(t, "2026-05-02 10:05")
	step("lock a locked coupon for another order", b.update(func(bk *Book) error { _, _, err := bk.lock(o2, []string{c1.ID}, time.Time{}); return err }), ErrState)
	step("release", b.update(func(bk *Book) error { _, err := bk.release("o1", at(t, "2026-05-02 10:05")); return err }), nil)
	if state(c1.ID) != Available || state(c2.ID) != Available {
		t.Fatal("release did not make the coupons available")
	}
	step("exclusive with another", b.update(func(bk *Book) error { _, _, err := bk.lock(o2, []string{c3.ID, c1.ID}, time.Time{}); return err }), ErrNotCombinable)
	if state(c1.ID) != Available {
		t.Fatal("a refused lock changed a coupon")
	}
	step("release again", b.update(func(bk *Book) error { _, err := bk.release("o1", at(t, "2026-05-02 10:05")); return err }), ErrNotFound)
	step("lock again", b.update(func(bk *Book) error { _, _, err := bk.lock(o2, []string{c1.ID, c2.ID}, time.Time{}); return err }), nil)
	step("another member's coupon", b.update(func(bk *Book) error {
		o3 := o2
		o3.ID, o3.Member = "o3", "m2"
		_, _, err := bk.lock(o3, []string{c1.ID}, time.Time{})
		return err
	}), ErrNotFound)
	step("use", b.update(func(bk *Book) error { _, err := bk.use("o2", at(t, "2026-05-02 10:10")); return err }), nil)
	step("use again", b.update(func(bk *Book) error { _, err := bk.use("o2", at(t, "2026-05-02 10:10")); return err }), ErrNotFound)
	step("revoke a used coupon", b.update(func(bk *Book) error { _, err := bk.revoke(c1.ID, at(t, "2026-05-02 11:00"), ""); return err }), ErrState)
	if state(c1.ID) != Used || state(c2.ID) != Used {
		t.Fatal("use did not mark the coupons used")
	}

	// Redeem by code: the template allows QR only.
	redeem := func(code string, via Redemption, o Order) error {
		return b.update(func(bk *Book) error { _, _, err := bk.redeem(code, via, o); return err })
	}
	ro := Order{ID: "pos1", Store: "s9", Time: at(t, "2026-05-01 18:00"), Lines: []Line{line("a", "", "20")}}
	bad := []byte(c3.Code)
	bad[3] = map[bool]byte{true: 'A', false: 'B'}[bad[3] != 'A']
	step("typo", redeem(string(bad), ByQR, ro), ErrBadCode)
	unknown, _ := NewCode(rand.Reader)
	step("unknown code", redeem(unknown, ByQR, ro), ErrUnknownCode)
	step("method not allowed", redeem(c3.Code, ByCode, ro), ErrNotApplicable)
	other := ro
	other.Member = "m2"
	step("another member's order", redeem(c3.Code, ByQR, other), ErrNotFound)
	late := ro
	late.Time = at(t, "2026-05-02 00:00")
	step("expired at the order time", redeem(c3.QR(), ByQR, late), ErrNotApplicable)
	step("redeem", redeem(c3.QR(), ByQR, ro), nil)
	step("redeem twice", redeem(c3.Code, ByQR, ro), ErrState)

	// Expiry and revocation.
	c4 := b.mustIssue("m1", "cash", "2026-05-01 10:00")
	c5 := b.mustIssue("m1", "cash", "2026-05-01 10:00")
	expire := func(id, when string) bool {
		var changed bool
		if err := b.update(func(bk *Book) error { var err error; _, changed, err = bk.expire(id, at(t, when)); return err }); err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if expire(c4.ID, "2026-05-10 23:59") {
		t.Error("expired before 24:00 of the last day")
	}
	if !expire(c4.ID, "2026-05-11 00:00") || state(c4.ID) != Expired {
		t.Error("not expired at 24:00 of the last day")
	}
	if expire(c1.ID, "2026-05-11 00:00") {
		t.Error("a used coupon expired")
	}
	step("revoke", b.update(func(bk *Book) error {
		_, err := bk.revoke(c5.ID, at(t, "2026-05-03 09:00"), "fraud")
		return err
	}), nil)
	step("revoke twice", b.update(func(bk *Book) error { _, err := bk.revoke(c5.ID, at(t, "2026-05-03 09:00"), ""); return err }), ErrState)

	// Statistics.
	var r Report
	stats := func(q StatsQuery) Report {
		t.Helper()
		if err := b.update(func(bk *Book) error { var err error; r, err = bk.Stats(q); return err }); err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := stats(StatsQuery{})
	want := Stat{Issued: 5, Used: 3, Expired: 1, Revoked: 1, AmountOff: dec("22")}
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
	day1 := stats(StatsQuery{From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 1}})
	if got := day1.Total; got.Issued != 5 || got.Used != 1 || !got.AmountOff.Equal(dec("3")) {
		t.Errorf("1 May: %+v", got)
	}
	mkt := stats(StatsQuery{CostCentre: "mkt", Store: "s1"})
	if got := mkt.Total; got.Used != 2 || got.Issued != 0 || len(mkt.Rows) != 2 {
		t.Errorf("mkt at s1: %+v rows %d", got, len(mkt.Rows))
	}
}

// stripedStore is a memory store that asks for n stripes of the shared
// totals (store.Striper), as a store whose Updates run concurrently does.
type stripedStore struct {
	*memory.Store
	n int
}

func (s stripedStore) Stripes() int { return s.n }

// stripesOf returns the stripes of bucket's totals by total: the keys
// with their stripe suffix (internal/total) taken off.
func (b *books) stripesOf(bucket string) map[string]map[uint16]bool {
	b.t.Helper()
	out := map[string]map[uint16]bool{}
	if err := b.update(func(bk *Book) error {
		return bk.tx.Scan(bucket, nil, nil, false, func(k, _ []byte) error {
			base, ok := total.Base(k)
			if !ok {
				return fmt.Errorf("%s: key %q has no stripe", bucket, k)
			}
			if out[string(base)] == nil {
				out[string(base)] = map[uint16]bool{}
			}
			out[string(base)][binary.BigEndian.Uint16(k[len(k)-2:])] = true
			return nil
		})
	}); err != nil {
		b.t.Fatal(err)
	}
	return out
}

// stripeValue returns the amount in stripe s of the total under key in
// bucket (zero when absent).
func (b *books) stripeValue(bucket string, key []byte, s uint16) decimal.Decimal {
	b.t.Helper()
	d := decimal.Zero
	if err := b.update(func(bk *Book) error {
		v, err := bk.tx.Get(bucket, total.Key(nil, key, s))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err == nil {
			d, err = codec.ParseAmount(v)
		}
		return err
	}); err != nil {
		b.t.Fatal(err)
	}
	return d
}

// The issued counts of templates and packs without stock, and the
// statistics, are written in the stripe of the member they count; the
// count of a template with stock, which every claim reads whole, in
// stripe 0. Reads sum every stripe, so a stock set later counts what was
// issued before.
func TestBookSharedTotalsInStripes(t *testing.T) {
	const n = 7
	b := newBooksOn(t, Definition{
		Templates: []Template{
			{Name: "open", Type: Cash, Amount: dec("5"), Use: days(7)},
			{Name: "limited", Type: Cash, Amount: dec("5"), Stock: 4, Use: days(7)},
		},
		Packs: []Pack{{Name: "duo", Items: []PackItem{{Template: "open", Count: 1}}, Mode: AllInvalid}},
	}, stripedStore{memory.New(), n})
	stripes := func(members ...string) map[uint16]bool {
		s := map[uint16]bool{}
		for _, m := range members {
			s[total.Stripe(m, n)] = true
		}
		return s
	}
	var members []string
	for i := range 20 {
		members = append(members, fmt.Sprint("m", i))
	}
	if len(stripes(members...)) < 2 {
		t.Fatalf("the members all hash to one stripe of %d: pick others", n)
	}
	for _, m := range members {
		b.mustIssue(m, "open", "2026-05-01 10:00")
	}
	for i, m := range members[:6] {
		if _, err := b.issue(m, "limited", "2026-05-01 10:00"); errors.Is(err, ErrOutOfStock) != (i >= 4) {
			t.Fatalf("%s claims limited: %v", m, err)
		}
	}
	for _, m := range members[:10] {
		if err := b.update(func(bk *Book) error {
			_, err := bk.issuePack(packReq{Member: m, Pack: "duo", At: at(t, "2026-05-01 10:00"), Rand: rand.Reader, IDs: b.u})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// open: 20 claims and 10 packs; limited: a stock of 4; duo: 10 packs.
	for _, c := range []struct {
		name string
		pack bool
		want int64
	}{{"open", false, 30}, {"limited", false, 4}, {"duo", true, 10}} {
		if got := b.issued(c.name, c.pack); got != c.want {
			t.Errorf("%s issued %d, want %d", c.name, got, c.want)
		}
	}
	wantStock := map[string]map[uint16]bool{
		"t\x00open":    stripes(members...),
		"t\x00limited": {0: true},
		"p\x00duo":     stripes(members[:10]...),
	}
	if diff := cmp.Diff(wantStock, b.stripesOf(bStock)); diff != "" {
		t.Errorf("stripes of the issued counts (-want +got):\n%s", diff)
	}
	wantStats := map[string]map[uint16]bool{
		"2026-05-01\x00open\x00\x00":    stripes(members...), // no cost centre, no store
		"2026-05-01\x00limited\x00\x00": stripes(members[:4]...),
	}
	if diff := cmp.Diff(wantStats, b.stripesOf(bStats)); diff != "" {
		t.Errorf("stripes of the statistics (-want +got):\n%s", diff)
	}

	// A stock of 31 set on open counts the 30 in every stripe: one more,
	// in stripe 0, then none.
	b.def.Templates[0].Stock = 31
	zero := b.stripeValue(bStock, stockKey("open", false), 0)
	b.mustIssue("m20", "open", "2026-05-02 10:00")
	if got := b.stripeValue(bStock, stockKey("open", false), 0); !got.Equal(zero.Add(decimal.NewFromInt(1))) {
		t.Errorf("stripe 0 of open went from %s to %s, want one more", zero, got)
	}
	if _, err := b.issue("m21", "open", "2026-05-02 10:00"); !errors.Is(err, ErrOutOfStock) {
		t.Errorf("claim past a stock set later: %v, want ErrOutOfStock", err)
	}
	if got := b.issued("open", false); got != 31 {
		t.Errorf("open issued %d, want 31", got)
	}
}

// The order index's value says which hold releases a locked coupon: the
// one its latest lock set, none for a lock without a hold, and any for a
// lock made before the index kept holds (an empty value).
func TestHoldRanOut(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 15, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		v    []byte
		want bool
	}{
		{"the hold ends then", holdValue(at), true},
		{"the hold ended before", holdValue(at.Add(-time.Minute)), true},
		{"a later lock's hold", holdValue(at.Add(time.Minute)), false},
		{"a lock without a hold", holdValue(time.Time{}), false},
		{"a lock of an earlier release", nil, true},
	} {
		if got, err := holdRanOut(tc.v, at); got != tc.want || err != nil {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// A damaged value in the order index is engine.ErrCorrupt when a hold of
// its order runs out, not read as a hold that ended (in 1677, or at the
// time its first eight bytes hold).
func TestHoldRunsOutDamaged(t *testing.T) {
	b := newBooks(t, Definition{})
	at := time.Date(2026, 5, 1, 12, 15, 0, 0, time.UTC)
	for _, v := range [][]byte{{1, 2, 3}, append(holdValue(at), 0)} {
		err := b.update(func(bk *Book) error {
			if err := bk.tx.Put(bOrders, sep("o1", "c1.m1"), v); err != nil {
				return err
			}
			_, err := bk.holdRunsOut("o1", at)
			return err
		})
		if !errors.Is(err, engine.ErrCorrupt) {
			t.Errorf("value %x: %v; want ErrCorrupt", v, err)
		}
	}
}

// TestInUseDamagedStock: a definition that leaves out a template of which
// coupons were issued is refused; an issued count is never negative, so a
// negative one is damage (store.ErrCorrupt), not a template never issued.
func TestInUseDamagedStock(t *testing.T) {
	for _, c := range []struct {
		count string
		want  error // nil: a problem naming the template
	}{{"2", nil}, {"-3", store.ErrCorrupt}} {
		st := memory.New()
		err := st.Update(context.Background(), func(tx store.Tx) error {
			if err := tx.Put(bStock, total.Key(nil, stockKey("gone", false), 0), []byte(c.count)); err != nil {
				return err
			}
			return inUse(tx, &Definition{})
		})
		switch {
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("inUse with %s issued = %v; want %v", c.count, err, c.want)
		case c.want == nil && (errors.Is(err, store.ErrCorrupt) || err == nil || !strings.Contains(err.Error(), `template "gone" has coupons issued`)):
			t.Errorf("inUse with %s issued = %v; want a problem naming the template", c.count, err)
		}
	}
}
