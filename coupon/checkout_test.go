package coupon_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

func TestEvaluateAmountOff(t *testing.T) {
	cash := &coupon.Template{Name: "cash10", Type: coupon.Cash, Amount: dec("10"), MinOrder: dec("100")}
	bigCash := &coupon.Template{Name: "cash50", Type: coupon.Cash, Amount: dec("50")}
	disc := &coupon.Template{Name: "off20", Type: coupon.Discount, Rate: dec("0.8")}
	capped := &coupon.Template{Name: "off20cap", Type: coupon.Discount, Rate: dec("0.8"), Cap: dec("30")}
	exch := &coupon.Template{Name: "coffee", Type: coupon.Exchange, Item: "latte"}
	rnd := &coupon.Template{Name: "lucky", Type: coupon.Random, Min: dec("1"), Max: dec("9")}
	noShoes := &coupon.Template{Name: "noshoes", Type: coupon.Discount, Rate: dec("0.9"), MinOrder: dec("60"),
		Products: coupon.Products{Exclude: []string{"sku-tv"}, ExcludeCategories: []string{"shoes"}}}
	onlyBaby := &coupon.Template{Name: "baby", Type: coupon.Cash, Amount: dec("5"),
		Products: coupon.Products{IncludeCategories: []string{"baby"}}}
	stores := &coupon.Template{Name: "s2only", Type: coupon.Cash, Amount: dec("5"), Stores: []string{"s2"}}
	offline := &coupon.Template{Name: "offline", Type: coupon.Cash, Amount: dec("5"), Scenarios: []string{"offline"}}

	rndHeld := held(t, "r1", rnd)
	rndHeld.Coupon.Amount = dec("7.35")
	expired := held(t, "x1", cash)
	expired.Coupon.Expires = at(t, "2026-05-01 00:00")
	future := held(t, "f1", cash)
	future.Coupon.From = at(t, "2026-05-02 00:00")
	other := held(t, "m2c", cash)
	other.Coupon.Member = "m2"
	used := held(t, "u1", cash)
	used.Coupon.State = coupon.Used

	tests := []struct {
		name       string
		h          coupon.Held
		lines      []coupon.Line
		off        string
		applicable string
		reasons    []coupon.Reason
	}{
		{"cash", held(t, "c", cash), []coupon.Line{line("a", "", "120")}, "10", "120", nil},
		{"cash at the minimum", held(t, "c", cash), []coupon.Line{line("a", "", "60"), line("b", "", "40")}, "10", "100", nil},
		{"cash below the minimum", held(t, "c", cash), []coupon.Line{line("a", "", "99.99")}, "0", "99.99", []coupon.Reason{coupon.ReasonMinimum}},
		{"cash above the order", held(t, "c", bigCash), []coupon.Line{line("a", "", "30")}, "30", "30", nil},
		{"discount", held(t, "d", disc), []coupon.Line{line("a", "", "100")}, "20", "100", nil},
		{"discount rounds down to the cent", held(t, "d", disc), []coupon.Line{line("a", "", "33.33")}, "6.66", "33.33", nil},
		{"discount under its cap", held(t, "d", capped), []coupon.Line{line("a", "", "100")}, "20", "100", nil},
		{"discount cut by its cap", held(t, "d", capped), []coupon.Line{line("a", "", "200")}, "30", "200", nil},
		{"exchange gives one unit", held(t, "e", exch), []coupon.Line{line("bun", "", "8"), {Product: "latte", Quantity: 2, Amount: dec("31")}}, "15.5", "39", nil},
		{"exchange item missing", held(t, "e", exch), []coupon.Line{line("bun", "", "8")}, "0", "8", []coupon.Reason{coupon.ReasonItem}},
		{"random amount as drawn", rndHeld, []coupon.Line{line("a", "", "50")}, "7.35", "50", nil},
		{"excluded product and category left out", held(t, "n", noShoes),
			[]coupon.Line{line("sku-tv", "tv", "1000"), line("boot", "shoes", "300"), line("shirt", "clothes", "80")}, "8", "80", nil},
		{"excluded lines do not count for the minimum", held(t, "n", noShoes),
			[]coupon.Line{line("sku-tv", "tv", "1000"), line("shirt", "clothes", "50")}, "0", "50", []coupon.Reason{coupon.ReasonMinimum}},
		{"only excluded products", held(t, "n", noShoes), []coupon.Line{line("sku-tv", "tv", "1000")}, "0", "0", []coupon.Reason{coupon.ReasonProducts}},
		{"included category", held(t, "b", onlyBaby), []coupon.Line{line("milk", "baby", "3"), line("beer", "drinks", "20")}, "3", "3", nil},
		{"wrong store", held(t, "s", stores), []coupon.Line{line("a", "", "50")}, "0", "50", []coupon.Reason{coupon.ReasonStore}},
		{"wrong scenario", held(t, "o", offline), []coupon.Line{line("a", "", "50")}, "0", "50", []coupon.Reason{coupon.ReasonScenario}},
		{"expired at the order time", expired, []coupon.Line{line("a", "", "150")}, "0", "150", []coupon.Reason{coupon.ReasonExpired}},
		{"not yet valid", future, []coupon.Line{line("a", "", "150")}, "0", "150", []coupon.Reason{coupon.ReasonNotYetValid}},
		{"another member's", other, []coupon.Line{line("a", "", "150")}, "0", "150", []coupon.Reason{coupon.ReasonOwner}},
		{"used", used, []coupon.Line{line("a", "", "150")}, "0", "150", []coupon.Reason{coupon.ReasonState}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := coupon.Evaluate(order(t, tt.lines...), []coupon.Held{tt.h})[0]
			if !got.AmountOff.Equal(dec(tt.off)) || !got.Applicable.Equal(dec(tt.applicable)) {
				t.Errorf("amount off %s of applicable %s, want %s of %s", got.AmountOff, got.Applicable, tt.off, tt.applicable)
			}
			if diff := cmp.Diff(tt.reasons, got.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if got.OK() != (len(tt.reasons) == 0) {
				t.Errorf("OK() = %v", got.OK())
			}
		})
	}
}

func TestEvaluateSeveralReasons(t *testing.T) {
	tpl := &coupon.Template{Name: "s2", Type: coupon.Cash, Amount: dec("5"), Stores: []string{"s2"}, MinOrder: dec("100")}
	h := held(t, "c1.m1", tpl)
	h.Coupon.Expires = at(t, "2026-04-30 00:00")
	got := coupon.Evaluate(order(t, line("a", "", "50")), []coupon.Held{h})[0]
	want := []coupon.Reason{coupon.ReasonExpired, coupon.ReasonStore, coupon.ReasonMinimum}
	if diff := cmp.Diff(want, got.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestBest(t *testing.T) {
	big := &coupon.Template{Name: "big", Type: coupon.Cash, Amount: dec("25")}
	cashG := &coupon.Template{Name: "cashG", Type: coupon.Cash, Amount: dec("10"), Group: "g"}
	discG := &coupon.Template{Name: "discG", Type: coupon.Discount, Rate: dec("0.9"), Group: "g"}
	cashH := &coupon.Template{Name: "cashH", Type: coupon.Cash, Amount: dec("12"), Group: "h"}
	small := &coupon.Template{Name: "small", Type: coupon.Cash, Amount: dec("3")}
	type pick struct {
		ID  string
		Off string
	}
	tests := []struct {
		name  string
		held  []coupon.Held
		lines []coupon.Line
		want  []pick
		total string
	}{
		{"group stacks: cash then discount on the rest", []coupon.Held{held(t, "1", cashG), held(t, "2", discG)},
			[]coupon.Line{line("a", "", "100")}, []pick{{"1", "10"}, {"2", "9"}}, "19"},
		{"exclusive beats a smaller group", []coupon.Held{held(t, "1", cashG), held(t, "2", discG), held(t, "3", big)},
			[]coupon.Line{line("a", "", "100")}, []pick{{"3", "25"}}, "25"},
		{"group beats a smaller exclusive", []coupon.Held{held(t, "1", cashG), held(t, "2", discG), held(t, "3", small)},
			[]coupon.Line{line("a", "", "100")}, []pick{{"1", "10"}, {"2", "9"}}, "19"},
		{"groups do not mix", []coupon.Held{held(t, "1", cashG), held(t, "4", cashH)},
			[]coupon.Line{line("a", "", "100")}, []pick{{"4", "12"}}, "12"},
		{"one coupon per template", []coupon.Held{held(t, "1", cashG), held(t, "5", cashG), held(t, "2", discG)},
			[]coupon.Line{line("a", "", "100")}, []pick{{"1", "10"}, {"2", "9"}}, "19"},
		{"combination never exceeds the order; a coupon left nothing to take is not proposed", []coupon.Held{held(t, "1", cashG), held(t, "2", discG)},
			[]coupon.Line{line("a", "", "8")}, []pick{{"1", "8"}}, "8"},
		{"cash shared over lines in proportion, then a discount on one line", []coupon.Held{held(t, "1", cashG),
			held(t, "7", &coupon.Template{Name: "halfA", Type: coupon.Discount, Rate: dec("0.5"), Group: "g", Products: coupon.Products{Include: []string{"a"}}})},
			[]coupon.Line{line("a", "", "10"), line("b", "", "10"), line("c", "", "10")}, []pick{{"1", "10"}, {"7", "3.33"}}, "13.33"},
		{"none applies", []coupon.Held{held(t, "6", &coupon.Template{Name: "min", Type: coupon.Cash, Amount: dec("5"), MinOrder: dec("1000")})},
			[]coupon.Line{line("a", "", "100")}, nil, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := coupon.Best(order(t, tt.lines...), tt.held)
			var got []pick
			for _, a := range p.Coupons {
				got = append(got, pick{a.Coupon, a.AmountOff.String()})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("coupons (-want +got):\n%s", diff)
			}
			if !p.AmountOff.Equal(dec(tt.total)) {
				t.Errorf("total %s, want %s", p.AmountOff, tt.total)
			}
			if len(p.Evaluated) != len(tt.held) {
				t.Errorf("evaluated %d coupons, want %d", len(p.Evaluated), len(tt.held))
			}
		})
	}
}

func TestBestPicksLargerRandomCoupon(t *testing.T) {
	rnd := &coupon.Template{Name: "lucky", Type: coupon.Random, Min: dec("1"), Max: dec("9"), Group: "g"}
	a, b := held(t, "1", rnd), held(t, "2", rnd)
	a.Coupon.Amount, b.Coupon.Amount = dec("2.5"), dec("8.1")
	p := coupon.Best(order(t, line("x", "", "100")), []coupon.Held{a, b})
	if len(p.Coupons) != 1 || p.Coupons[0].Coupon != "2" || !p.AmountOff.Equal(dec("8.1")) {
		t.Errorf("Best = %+v, want coupon 2 for 8.1", p.Coupons)
	}
}

func TestCombineRefusesForbidden(t *testing.T) {
	ex := &coupon.Template{Name: "ex", Type: coupon.Cash, Amount: dec("5")}
	g1 := &coupon.Template{Name: "g1", Type: coupon.Cash, Amount: dec("5"), Group: "g"}
	h1 := &coupon.Template{Name: "h1", Type: coupon.Cash, Amount: dec("5"), Group: "h"}
	minT := &coupon.Template{Name: "min", Type: coupon.Cash, Amount: dec("5"), Group: "g", MinOrder: dec("500")}
	o := order(t, line("a", "", "100"))
	tests := []struct {
		name string
		held []coupon.Held
		err  error
	}{
		{"exclusive with another", []coupon.Held{held(t, "1", ex), held(t, "2", g1)}, coupon.ErrNotCombinable},
		{"two groups", []coupon.Held{held(t, "2", g1), held(t, "3", h1)}, coupon.ErrNotCombinable},
		{"same template twice", []coupon.Held{held(t, "2", g1), held(t, "4", g1)}, coupon.ErrNotCombinable},
		{"one does not apply", []coupon.Held{held(t, "2", g1), held(t, "5", minT)}, coupon.ErrNotApplicable},
		{"exclusive alone", []coupon.Held{held(t, "1", ex)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := coupon.Combine(o, tt.held)
			if !errors.Is(err, tt.err) {
				t.Errorf("Combine: %v, want %v", err, tt.err)
			}
		})
	}
}

// An order is checked field by field; each malformed one wraps
// ErrInvalidOrder and event.ErrInvalidArgument and names the field (and
// the line), one beyond a limit event.ErrTooLarge too. The limits are
// worked out by hand: 10^39 has 40 digits before the point (the most
// event.CheckDecimal allows), 10^40 has 41; 10.010 is 10.01, two places.
func TestOrderCheck(t *testing.T) {
	good := order(t, line("a", "", "1"))
	lines := func(n int) []coupon.Line {
		ls := make([]coupon.Line, n)
		for i := range ls {
			ls[i] = line(fmt.Sprint("p", i), "", "1")
		}
		return ls
	}
	tests := []struct {
		name string
		mod  func(*coupon.Order)
		// field is what the error names; "" when the order is good.
		field    string
		tooLarge bool
	}{
		{"good", func(*coupon.Order) {}, "", false},
		{"no ID", func(o *coupon.Order) { o.ID = "" }, "no ID", false},
		{"no member", func(o *coupon.Order) { o.Member = "" }, "no member", false},
		{"no time", func(o *coupon.Order) { o.Time = time.Time{} }, "no time", false},
		{"no lines", func(o *coupon.Order) { o.Lines = nil }, "no lines", false},
		{"negative amount", func(o *coupon.Order) { o.Lines = []coupon.Line{line("a", "", "-1")} }, "lines[0]: negative amount", false},
		{"no product", func(o *coupon.Order) { o.Lines = []coupon.Line{line("", "", "1")} }, "lines[0]: no product", false},
		{"negative quantity", func(o *coupon.Order) { o.Lines[0].Quantity = -1 }, "lines[0]: negative quantity", false},
		{"MaxLines lines", func(o *coupon.Order) { o.Lines = lines(coupon.MaxLines) }, "", false},
		{"MaxLines+1 lines", func(o *coupon.Order) { o.Lines = lines(coupon.MaxLines + 1) }, "lines: ", true},
		{"MaxQuantity", func(o *coupon.Order) { o.Lines[0].Quantity = coupon.MaxQuantity }, "", false},
		{"MaxQuantity+1", func(o *coupon.Order) { o.Lines[0].Quantity = coupon.MaxQuantity + 1 }, "lines[0].quantity", true},
		{"quantity 1<<62", func(o *coupon.Order) { o.Lines[0].Quantity = 1 << 62 }, "lines[0].quantity", true},
		{"two places", func(o *coupon.Order) { o.Lines = []coupon.Line{line("a", "", "9.99"), line("b", "", "10.010")} }, "", false},
		{"three places", func(o *coupon.Order) { o.Lines = []coupon.Line{line("a", "", "9.99"), line("b", "", "10.001")} }, "lines[1].amount", false},
		{"40 digits", func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 39) }, "", false},
		{"41 digits", func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 40) }, "lines[0].amount", true},
		{"1e60", func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 60) }, "lines[0].amount", true},
		{"1e80", func(o *coupon.Order) { o.Lines[0].Amount = decimal.New(1, 80) }, "lines[0].amount", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			o.Lines = slices.Clone(good.Lines)
			tt.mod(&o)
			err := o.Check()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, coupon.ErrInvalidOrder) || !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), tt.field) {
				t.Errorf("Check() = %v, want ErrInvalidOrder and event.ErrInvalidArgument naming %q", err, tt.field)
			}
			if errors.Is(err, event.ErrTooLarge) != tt.tooLarge {
				t.Errorf("Check() = %v: wraps event.ErrTooLarge %v, want %v", err, !tt.tooLarge, tt.tooLarge)
			}
		})
	}
}

// A Held without its Template (a caller's mistake) does not apply, for
// ReasonNoTemplate alone; Best leaves it out, Combine and CheckCombination
// refuse it naming its index. None of them panics.
func TestHeldWithoutTemplate(t *testing.T) {
	cash := &coupon.Template{Name: "cash", Type: coupon.Cash, Amount: dec("5"), Group: "g"}
	good := held(t, "1", cash)
	bare := held(t, "2", cash)
	bare.Template = nil
	o := order(t, line("a", "", "100"))

	want := []coupon.Applied{
		{Coupon: "1", Template: "cash", Group: "g", Applicable: dec("100"), AmountOff: dec("5")},
		{Coupon: "2", Template: "cash", AmountOff: decimal.Zero, Reasons: []coupon.Reason{coupon.ReasonNoTemplate}},
	}
	if diff := cmp.Diff(want, coupon.Evaluate(o, []coupon.Held{good, bare})); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
	p := coupon.Best(o, []coupon.Held{bare, good})
	if len(p.Coupons) != 1 || p.Coupons[0].Coupon != "1" || !p.AmountOff.Equal(dec("5")) {
		t.Errorf("Best = %+v off %s, want coupon 1 for 5", p.Coupons, p.AmountOff)
	}
	if p := coupon.Best(o, []coupon.Held{bare}); len(p.Coupons) != 0 || !p.AmountOff.IsZero() {
		t.Errorf("Best of the bare coupon alone = %+v off %s, want none", p.Coupons, p.AmountOff)
	}
	for _, tt := range []struct {
		name  string
		held  []coupon.Held
		index string
	}{
		{"alone", []coupon.Held{bare}, "held[0]"},
		{"second", []coupon.Held{good, bare}, "held[1]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for fn, err := range map[string]error{
				"CheckCombination": coupon.CheckCombination(tt.held),
				"Combine":          func() error { _, _, err := coupon.Combine(o, tt.held); return err }(),
			} {
				if !errors.Is(err, coupon.ErrNotApplicable) || !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), tt.index) {
					t.Errorf("%s: %v, want ErrNotApplicable and event.ErrInvalidArgument naming %s", fn, err, tt.index)
				}
			}
		})
	}
}
