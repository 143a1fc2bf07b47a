package codec_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123, time.UTC)
	var w codec.Writer
	w.Uint(300)
	w.String("héllo")
	w.Time(at)
	w.Time(time.Time{})
	w.Decimal(decimal.RequireFromString("-12.340"))
	huge := decimal.RequireFromString("-123456789012345678901234567890.000000001")
	w.Decimal(huge)
	w.Decimal(decimal.Zero)
	r := codec.Reader{B: w.B}
	if got := r.Uint(); got != 300 {
		t.Errorf("Uint = %d", got)
	}
	if got := r.String(); got != "héllo" {
		t.Errorf("String = %q", got)
	}
	if got := r.Time(); !got.Equal(at) {
		t.Errorf("Time = %v", got)
	}
	if got := r.Time(); !got.IsZero() {
		t.Errorf("zero Time = %v", got)
	}
	if got := r.Decimal(); got.String() != "-12.34" {
		t.Errorf("Decimal = %s", got)
	}
	if got := r.Decimal(); !got.Equal(huge) {
		t.Errorf("huge Decimal = %s", got)
	}
	if got := r.Decimal(); !got.IsZero() {
		t.Errorf("zero Decimal = %s", got)
	}
	if r.Err() != nil || len(r.B) != 0 {
		t.Errorf("err %v, %d bytes left", r.Err(), len(r.B))
	}
	short := codec.Reader{B: w.B[:3]}
	short.Uint()
	_ = short.String()
	short.Time()
	if !errors.Is(short.Err(), codec.ErrShort) {
		t.Errorf("truncated record: %v", short.Err())
	}
}

func TestAmount(t *testing.T) {
	for _, s := range []string{"0", "-0.5", "12.50", "123456789012345678901234567890.000000001"} {
		d := decimal.RequireFromString(s)
		got, err := codec.ParseAmount(codec.Amount(d))
		if err != nil || !got.Equal(d) {
			t.Errorf("ParseAmount(Amount(%s)) = %s, %v", s, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, append(codec.Amount(decimal.New(1, 0)), 0), []byte("12.5")} {
		if _, err := codec.ParseAmount(bad); !errors.Is(err, codec.ErrAmount) {
			t.Errorf("ParseAmount(%x) = %v, want ErrAmount", bad, err)
		}
	}
}

func TestAppendDecimalMatchesString(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1", "12.50", "0.001", "-0.000100", "100", "1e3", "-2.5e2", "123456789012345678",
		"1234567890123456789", "0.123456789012345678", "-99999999999999999.9", "1e-19", "5e-18", "12345678901234567890.125"}
	r := uint64(1)
	for i := range 2000 { // and a spread of random ones
		r = r*6364136223846793005 + 1442695040888963407
		coef := int64(r>>20) % 1_000_000_000_000
		if i%2 == 1 {
			coef = -coef
		}
		cases = append(cases, decimal.New(coef, int32(i%25)-20).String(), decimal.New(coef, int32(i%4)).String())
	}
	for _, s := range cases {
		d := decimal.RequireFromString(s)
		if got, want := codec.DecimalString(d), d.String(); got != want {
			t.Errorf("DecimalString(%s) = %q, want %q", s, got, want)
		}
	}
	// Unnormalized forms: coefficient with trailing zeros, positive exponent.
	for _, d := range []decimal.Decimal{decimal.New(1200, -2), decimal.New(5, 2), decimal.New(-7000, -3), decimal.New(0, -5), decimal.New(0, 3)} {
		if got, want := codec.DecimalString(d), d.String(); got != want {
			t.Errorf("DecimalString(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAppendExactMatchesStringFixed(t *testing.T) {
	for _, s := range []string{"200.00", "0.000", "-0.50", "12", "1e3", "-1.0", "0.0012300", "123456789012345678.90", "-12345678901234567890.100"} {
		d := decimal.RequireFromString(s)
		want := d.String()
		if d.Exponent() < 0 {
			want = d.StringFixed(-d.Exponent())
		}
		if got := string(codec.AppendExact(nil, d)); got != want {
			t.Errorf("AppendExact(%s) = %q, want %q", s, got, want)
		}
	}
}

// TestAddAmountMatchesDecimalAdd checks the fast sum against decimal.Add,
// value and exponent, across the edges of the 18-digit form: sums that
// overflow it, exponents far apart, long amounts stored as text, and a
// missing record (zero).
func TestAddAmountMatchesDecimalAdd(t *testing.T) {
	vals := []decimal.Decimal{
		decimal.Zero, decimal.New(1, 0), decimal.New(-1250, -2), decimal.New(5, 3), decimal.New(7, -18),
		decimal.New(999_999_999_999_999_999, 0), decimal.New(-999_999_999_999_999_999, -4),
		decimal.New(100_000_000_000_000_000, 0), decimal.New(1, 17), decimal.New(3, -30),
		decimal.RequireFromString("123456789012345678901234567890.000000001"),
	}
	vals = append(vals, randomDecimals(7, 600, -16, 24)...)
	for i, a := range vals {
		for j := 0; j < len(vals); j += 1 + i%7 {
			d := vals[j]
			want := a.Add(d)
			check := func(name string, old []byte) {
				rec, zero, err := codec.AddAmount([]byte("x"), old, d)
				if err != nil || rec[0] != 'x' {
					t.Fatalf("%s: AddAmount(%s, %s) = %x, %v", name, a, d, rec, err)
				}
				got, err := codec.ParseAmount(rec[1:])
				// (A sum of more than 18 digits is stored as text, which keeps its
				// value but not its trailing zeros, as Amount does.)
				sameExp := got.Exponent() == want.Exponent() || want.NumDigits() > 18
				if err != nil || !got.Equal(want) || !sameExp || zero != want.IsZero() {
					t.Fatalf("%s: %s + %s = %s (exp %d, zero %v), want %s (exp %d)", name, a, d, got, got.Exponent(), zero, want, want.Exponent())
				}
				_, sum, err := codec.SumAmount(nil, old, d)
				if err != nil || !sum.Equal(want) {
					t.Fatalf("%s: SumAmount(%s, %s) = %s, %v", name, a, d, sum, err)
				}
			}
			check("stored", codec.Amount(a))
			if a.IsZero() {
				check("missing", nil)
			}
		}
	}
	if _, _, err := codec.AddAmount(nil, []byte("12.5"), decimal.New(1, 0)); !errors.Is(err, codec.ErrAmount) {
		t.Errorf("AddAmount over a bad record = %v, want ErrAmount", err)
	}
}

// A decimal in a form Writer never writes is damage, not a value: a form
// byte other than 0 and 1 (every other byte was read as form 1, the text
// form), a coefficient of more than 18 digits in form 0, or in form 1 a
// text that is not a decimal's String (the digits of a damaged length or
// string read as some amount).
func TestDecimalFormsNotWritten(t *testing.T) {
	text := func(form byte, s string) []byte {
		w := codec.Writer{B: []byte{form}}
		w.String(s)
		return w.B
	}
	fixed := func(c int64) []byte {
		b := binary.AppendVarint([]byte{0}, c)
		return binary.AppendVarint(b, 0)
	}
	big := "1234567890123456789012"
	for name, b := range map[string][]byte{
		"form 2":                      text(2, big),
		"form 0x31":                   text('1', big),
		"form 1, not its String":      text(1, "+"+big),
		"form 1, an exponent":         text(1, "1e30"),
		"form 0, 19 digits":           fixed(1_000_000_000_000_000_000),
		"form 0, 19 digits, negative": fixed(-1_000_000_000_000_000_000),
	} {
		if d, err := codec.ParseAmount(b); !errors.Is(err, codec.ErrAmount) {
			t.Errorf("%s: ParseAmount(%x) = %s, %v; want ErrAmount", name, b, d, err)
		}
		r := codec.Reader{B: b}
		if d := r.Decimal(); r.Err() == nil {
			t.Errorf("%s: Decimal(%x) = %s; want an error", name, b, d)
		}
	}
	for _, s := range []string{big, "-" + big, "0.0000000000000000001", "999999999999999999", "-999999999999999999"} {
		d := decimal.RequireFromString(s)
		if got, err := codec.ParseAmount(codec.Amount(d)); err != nil || !got.Equal(d) {
			t.Errorf("ParseAmount(Amount(%s)) = %s, %v", s, got, err)
		}
	}
}

// A decimal whose exponent no amount has (a damaged varint: 4 × 10^106
// million; 24e-40960, which plus 10 is a sum text cannot hold) is
// damage: read, the first sum with it built a number of a
// hundred million digits, and the process hung; a zero with such an
// exponent looped as many times in Fixed.Add.
func TestDecimalExponentBounded(t *testing.T) {
	fixed := func(c, e int64) []byte {
		b := binary.AppendVarint([]byte{0}, c)
		return binary.AppendVarint(b, e)
	}
	for _, b := range [][]byte{fixed(4, 106_000_000), fixed(4, -106_000_000), fixed(0, math.MaxInt32), fixed(1, 10_001), fixed(1, -10_001), fixed(24, -40_960)} {
		if d, err := codec.ParseAmount(b); !errors.Is(err, codec.ErrAmount) {
			t.Errorf("ParseAmount(%x) = exponent %d, %v; want ErrAmount", b, d.Exponent(), err)
		}
		if _, _, err := codec.AddAmount(nil, b, decimal.New(15, -1)); !errors.Is(err, codec.ErrAmount) {
			t.Errorf("AddAmount over %x = %v; want ErrAmount", b, err)
		}
	}
	for _, e := range []int64{10_000, -10_000} {
		b := fixed(1, e)
		if d, err := codec.ParseAmount(b); err != nil || !d.Equal(decimal.New(1, int32(e))) {
			t.Errorf("ParseAmount(1e%d) = %v", e, err)
		}
	}
}

// Count refuses a count that the rest of the record cannot hold.
func TestCount(t *testing.T) {
	var w codec.Writer
	w.Uint(3)
	w.String("a")
	w.String("b")
	w.String("c")
	r := codec.Reader{B: w.B}
	if n := r.Count(2); n != 3 || r.Err() != nil {
		t.Errorf("Count = %d, %v", n, r.Err())
	}
	w = codec.Writer{}
	w.Uint(1 << 40)
	w.String("a")
	r = codec.Reader{B: w.B}
	if n := r.Count(2); n != 0 || !errors.Is(r.Err(), codec.ErrShort) {
		t.Errorf("huge Count = %d, %v", n, r.Err())
	}
}

// Fixed's Mul and RoundDown give decimal's results, value and exponent.
func TestFixedMulRoundDownMatchDecimal(t *testing.T) {
	vals := []decimal.Decimal{
		decimal.Zero, decimal.New(1, 0), decimal.New(-1250, -2), decimal.New(5, 3), decimal.New(7, -18), decimal.New(0, -5),
		decimal.New(999_999_999_999_999_999, 0), decimal.New(-999_999_999_999_999_999, -4), decimal.New(1_000_000_000, 0),
		decimal.New(100_000_000_000_000_000, -20), decimal.New(-15, -1), decimal.New(25, -1), decimal.New(-1999, -3),
	}
	vals = append(vals, randomDecimals(11, 300, -20, 30)...)
	same := func(got, want decimal.Decimal) bool { return got.Equal(want) && got.Exponent() == want.Exponent() }
	for i, a := range vals {
		fa, ok := codec.FixedOf(a)
		if !ok {
			t.Fatalf("FixedOf(%s) failed", a)
		}
		for _, places := range []int32{-3, 0, 1, 2, 4, 8, 18, 25} {
			want := a.RoundDown(places)
			f, ok := fa.RoundDown(places)
			if ok != (want.NumDigits() <= 18) {
				t.Fatalf("RoundDown(%s, %d): ok = %v for a result of %d digits", a, places, ok, want.NumDigits())
			}
			if got := f.Decimal(); ok && !same(got, want) {
				t.Fatalf("RoundDown(%s, %d) = %s (exp %d), want %s (exp %d)", a, places, got, got.Exponent(), want, want.Exponent())
			}
		}
		for j := i % 3; j < len(vals); j += 3 {
			b := vals[j]
			fb, _ := codec.FixedOf(b)
			want := a.Mul(b)
			got, ok := fa.Mul(fb)
			if ok != (want.NumDigits() <= 18) {
				t.Fatalf("Mul(%s, %s): ok = %v for a product of %d digits", a, b, ok, want.NumDigits())
			}
			if ok && !same(got.Decimal(), want) {
				t.Fatalf("Mul(%s, %s) = %s, want %s", a, b, got.Decimal(), want)
			}
		}
	}
}

// Add gives decimal's sums, value and exponent, on and off its fast path.
func TestAddMatchesDecimal(t *testing.T) {
	vals := []decimal.Decimal{{}, decimal.Zero, decimal.New(0, -3), decimal.New(1250, -2), decimal.New(-12, 0), decimal.New(7, 5),
		decimal.New(999_999_999_999_999_999, 0), decimal.New(-999_999_999_999_999_999, -2), decimal.RequireFromString("12345678901234567890.5")}
	for _, a := range vals {
		for _, b := range vals {
			got, want := codec.Add(a, b), a.Add(b)
			if !got.Equal(want) || got.Exponent() != want.Exponent() {
				t.Errorf("Add(%s, %s) = %s (exp %d), want %s (exp %d)", a, b, got, got.Exponent(), want, want.Exponent())
			}
		}
	}
}

// Small integers come from a shared table: the same value and exponent as
// decimal.New, and no operation on one changes it.
func TestSmallDecimals(t *testing.T) {
	for _, c := range []int64{-1025, -1024, -12, -1, 0, 1, 12, 1024, 1025} {
		got, want := codec.Fixed{C: c}.Decimal(), decimal.New(c, 0)
		if !got.Equal(want) || got.Exponent() != 0 || got.String() != want.String() {
			t.Errorf("Fixed{%d}.Decimal() = %s (exp %d)", c, got, got.Exponent())
		}
		if n := codec.Neg(want); !n.Equal(want.Neg()) || n.Exponent() != 0 {
			t.Errorf("Neg(%d) = %s", c, n)
		}
	}
	if n := codec.Neg(decimal.New(-1250, -2)); n.String() != "12.5" || n.Exponent() != -2 {
		t.Errorf("Neg(-12.50) = %s (exp %d)", n, n.Exponent())
	}
	d := codec.Fixed{C: 12}.Decimal()
	_ = d.Add(d).Mul(d).Neg().Round(2).RoundDown(1).Abs().Sub(d).Div(decimal.New(7, 0))
	_, _ = d.QuoRem(decimal.New(5, 0), 0)
	var j decimal.Decimal = d
	if err := j.UnmarshalJSON([]byte(`"99"`)); err != nil {
		t.Fatal(err)
	}
	if again := (codec.Fixed{C: 12}).Decimal(); again.String() != "12" || d.String() != "12" {
		t.Errorf("the shared 12 changed: %s, %s", again, d)
	}
}

// randomDecimals returns n decimals of up to 18 digits, a third of them
// short, half negative, with exponents from minExp on over span values,
// the same for the same seed.
func randomDecimals(seed uint64, n int, minExp, span int32) []decimal.Decimal {
	out := make([]decimal.Decimal, 0, n)
	r := seed
	for i := range n {
		r = r*6364136223846793005 + 1442695040888963407
		coef := int64(r>>4) % 1_000_000_000_000_000_000
		if i%2 == 1 {
			coef = -coef
		}
		if i%3 == 0 {
			coef %= 100_000
		}
		out = append(out, decimal.New(coef, int32(r%uint64(span))+minExp))
	}
	return out
}

// Every time a record holds comes back as written, the Unix epoch
// included: its nanoseconds (0) also stand for the zero time, and it used
// to come back as the zero time.
func TestTimeRoundTrip(t *testing.T) {
	for _, at := range []time.Time{
		time.Unix(0, 0).UTC(),
		time.Unix(0, 1).UTC(),
		time.Unix(0, -1).UTC(),
		time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC),
		{},
	} {
		var w codec.Writer
		w.Time(at)
		r := codec.Reader{B: w.B}
		if got := r.Time(); !got.Equal(at) || got.IsZero() != at.IsZero() || r.Err() != nil {
			t.Errorf("Time %v came back %v, %v", at, got, r.Err())
		}
	}
}

// TimeSize and UintSize give the bytes Time and Uint append. Worked out
// by hand: a varint takes a byte per 7 bits of its zigzag value (a
// Uint's, its value). The zero time is 0 (1 byte); the epoch is written
// as math.MinInt64, zigzag 2^64-1 (64 bits, 10 bytes); 1 ns is zigzag 2
// (1 byte); -1000 ns is zigzag 1999 (11 bits, 2 bytes); 2026 is about
// 1.77e18 ns, zigzag about 2^61.6 (62 bits, 9 bytes). Uint: 127 is 7
// bits (1 byte), 128 is 8 (2 bytes), 2^63 is 64 (10 bytes).
func TestSizes(t *testing.T) {
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{time.Time{}, 1},
		{time.Unix(0, 0).UTC(), 10},
		{time.Unix(0, 1).UTC(), 1},
		{time.Unix(0, -1000).UTC(), 2},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 9},
	} {
		var w codec.Writer
		w.Time(tt.at)
		if got := codec.TimeSize(tt.at); got != tt.want || len(w.B) != tt.want {
			t.Errorf("TimeSize(%v) = %d, Time appends %d; want %d", tt.at, got, len(w.B), tt.want)
		}
	}
	for v, want := range map[uint64]int{0: 1, 127: 1, 128: 2, 1 << 63: 10} {
		var w codec.Writer
		w.Uint(v)
		if got := codec.UintSize(v); got != want || len(w.B) != want {
			t.Errorf("UintSize(%d) = %d, Uint appends %d; want %d", v, got, len(w.B), want)
		}
	}
}

// ZonedTime gives a time back at its offset, as JSON would: UTC for an
// offset of 0 ("Z"), a fixed zone otherwise; the zero time as zero; an
// offset beyond a day is an error.
func TestZonedTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		time.Date(2025, 7, 1, 23, 59, 59, 999999999, time.FixedZone("EDT", -4*3600)),
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("NPT", 5*3600+45*60)),
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Unix(0, 0).UTC(),
		{},
	} {
		var w codec.Writer
		w.ZonedTime(at)
		r := codec.Reader{B: w.B}
		got := r.ZonedTime()
		if r.Err() != nil || len(r.B) != 0 || !got.Equal(at) || got.IsZero() != at.IsZero() {
			t.Errorf("ZonedTime %v came back %v, %v", at, got, r.Err())
		}
		if want, _ := at.MarshalJSON(); !at.IsZero() {
			var js time.Time
			if err := js.UnmarshalJSON(want); err != nil {
				t.Fatal(err)
			}
			// (JSON may read an offset as time.Local, which has it.)
			if g, j := got.Format(time.RFC3339Nano), js.Format(time.RFC3339Nano); g != j {
				t.Errorf("ZonedTime %v came back as %s; JSON as %s", at, g, j)
			}
		}
	}
	var w codec.Writer
	w.Time(time.Unix(0, 1))
	w.B = binary.AppendVarint(w.B, 24*3600+1)
	r := codec.Reader{B: w.B}
	if got := r.ZonedTime(); r.Err() == nil {
		t.Errorf("offset of a day and a second read as %v", got)
	}
}

// FuzzAmount: any bytes are one amount record or ErrAmount, never a
// panic; an amount read writes back to a record no longer than the bytes
// (no field read from nothing) that reads as the same amount, and adding
// to the record gives what decimal's Add gives.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"0", "-0.5", "12.50", "123456789012345678901234567890.000000001"} {
		f.Add(codec.Amount(decimal.RequireFromString(s)))
	}
	f.Add([]byte{1, 3, '1', 'e', '9'})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := codec.ParseAmount(b)
		if err != nil {
			if !errors.Is(err, codec.ErrAmount) {
				t.Fatalf("ParseAmount(%x) = %v; want ErrAmount", b, err)
			}
			if _, _, err := codec.AddAmount(nil, b, decimal.New(1, 0)); !errors.Is(err, codec.ErrAmount) {
				t.Fatalf("AddAmount over %x = %v; want ErrAmount", b, err)
			}
			return
		}
		again := codec.Amount(d)
		if got, err := codec.ParseAmount(again); len(again) > len(b) || err != nil || !got.Equal(d) || got.Exponent() != d.Exponent() && d.NumDigits() <= 18 {
			t.Fatalf("ParseAmount(%x) = %s; written again %x, read %s, %v", b, d, again, got, err)
		}
		one := decimal.New(15, -1)
		if _, sum, err := codec.SumAmount(nil, b, one); err != nil || !sum.Equal(d.Add(one)) {
			t.Fatalf("SumAmount(%x = %s, 1.5) = %s, %v", b, d, sum, err)
		}
	})
}
