// Package codec is a small binary encoding for the ledger's hot records
// (entries and lots): length-prefixed strings and varints, several times
// cheaper than JSON to write and read. Decimals are kept as their exact
// string form, so nothing is rounded.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// ErrShort is returned when a record ends before a field.
var ErrShort = errors.New("codec: record too short")

// Writer appends fields to a buffer.
type Writer struct{ B []byte }

// Uint appends an unsigned varint.
func (w *Writer) Uint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }

// String appends a length-prefixed string.
func (w *Writer) String(s string) { w.Uint(uint64(len(s))); w.B = append(w.B, s...) }

// Bytes appends b as a length-prefixed string.
func (w *Writer) Bytes(b []byte) { w.Uint(uint64(len(b))); w.B = append(w.B, b...) }

// epoch is how Writer.Time writes the instant 1970-01-01T00:00:00Z, whose
// nanoseconds (0) stand for the zero time: math.MinInt64, an instant of
// 1677 no record holds (times are in keys.InRange, 1678 to 2261).
const epoch = math.MinInt64

// Time appends t as nanoseconds since the epoch (0 for the zero time,
// math.MinInt64 for the epoch itself). t must be zero or within the years
// 1678 to 2261 (keys.InRange); the callers refuse other times before.
func (w *Writer) Time(t time.Time) { w.B = binary.AppendVarint(w.B, timeNanos(t)) }

// TimeSize returns the number of bytes Time appends for t: fewer for an
// instant near 1970, nine for one of this century.
func TimeSize(t time.Time) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], timeNanos(t))
}

// UintSize returns the number of bytes Uint appends for v.
func UintSize(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// timeNanos returns the integer Time writes for t.
func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if ns := t.UnixNano(); ns != 0 {
		return ns
	}
	return epoch
}

// ZonedTime appends t as Time does and, unless t is zero, its zone
// offset in seconds, so that [Reader.ZonedTime] gives t back as JSON
// would: the same instant at the same offset. It is for the records that
// replaced JSON ones whose times are shown with their offset.
func (w *Writer) ZonedTime(t time.Time) {
	w.Time(t)
	if !t.IsZero() {
		w.Offset(t)
	}
}

// Offset appends t's zone offset in seconds, for [Reader.InOffset].
func (w *Writer) Offset(t time.Time) {
	_, off := t.Zone()
	w.B = binary.AppendVarint(w.B, int64(off))
}

// maxOffset bounds a zone offset ZonedTime reads: real zones are within
// ±14 hours.
const maxOffset = 24 * 60 * 60

// Decimal appends d exactly: as coefficient and exponent when the
// coefficient fits 18 digits (no text conversion), else as its string.
func (w *Writer) Decimal(d decimal.Decimal) {
	if d.NumDigits() <= 18 {
		w.B = append(w.B, 0)
		w.B = binary.AppendVarint(w.B, d.CoefficientInt64())
		w.B = binary.AppendVarint(w.B, int64(d.Exponent()))
		return
	}
	w.B = append(w.B, 1)
	w.String(d.String())
}

// Reader reads fields in the order they were written; the first error
// sticks and is reported by Err.
type Reader struct {
	B   []byte
	err error
}

// Err returns the first error met.
func (r *Reader) Err() error { return r.err }

// Uint reads an unsigned varint.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Int reads a signed varint.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.B = r.B[n:]
	return v
}

// String reads a length-prefixed string.
func (r *Reader) String() string {
	n := r.Uint()
	if r.err != nil {
		return ""
	}
	if uint64(len(r.B)) < n {
		r.err = ErrShort
		return ""
	}
	s := string(r.B[:n])
	r.B = r.B[n:]
	return s
}

// Count reads the number of items that follow, each of at least size
// bytes; a count the rest of the record cannot hold is an error (so a
// corrupt count never sizes an allocation).
func (r *Reader) Count(size int) uint64 {
	n := r.Uint()
	if r.err == nil && n > uint64(len(r.B)/max(size, 1)) {
		r.err = ErrShort
		return 0
	}
	return n
}

// SkipString reads past a length-prefixed string without copying it.
func (r *Reader) SkipString() {
	n := r.Uint()
	if r.err != nil {
		return
	}
	if uint64(len(r.B)) < n {
		r.err = ErrShort
		return
	}
	r.B = r.B[n:]
}

// Time reads a time written by Writer.Time, in UTC.
func (r *Reader) Time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.err = ErrShort
		return time.Time{}
	}
	r.B = r.B[n:]
	switch v {
	case 0:
		return time.Time{}
	case epoch:
		v = 0
	}
	return time.Unix(0, v).UTC()
}

// ZonedTime reads a time written by Writer.ZonedTime: in UTC when its
// offset is 0, as time.Parse reads "Z", else at a fixed zone of its
// offset, as time.Parse reads "+08:00". An offset beyond a day is an
// error.
func (r *Reader) ZonedTime() time.Time {
	t := r.Time()
	if t.IsZero() {
		return t
	}
	return r.InOffset(t)
}

// InOffset reads an offset written by Writer.Offset and returns t at it:
// in UTC for 0, else at a fixed zone of that offset. An offset beyond a
// day is an error.
func (r *Reader) InOffset(t time.Time) time.Time {
	off := r.Int()
	switch {
	case r.err != nil:
		return time.Time{}
	case off == 0:
		return t.UTC()
	case off < -maxOffset || off > maxOffset:
		r.err = fmt.Errorf("codec: zone offset %ds out of range", off)
		return time.Time{}
	}
	return t.In(time.FixedZone("", int(off)))
}

// Decimal reads a decimal written by Writer.Decimal. An exponent beyond
// ±maxExponent, or a form it does not write, is an error: a form byte other than 0 and 1, a coefficient of
// more than 18 digits in form 0, or in form 1 a text that is not a
// decimal's String. (Any byte but 0 used to be read as form 1: a damaged
// record read as some amount.) Form 1 may hold 18 digits or fewer: the
// String of a longer coefficient that ends in zeros.
func (r *Reader) Decimal() decimal.Decimal {
	if r.err != nil {
		return decimal.Decimal{}
	}
	if len(r.B) == 0 {
		r.err = ErrShort
		return decimal.Decimal{}
	}
	form := r.B[0]
	r.B = r.B[1:]
	switch form {
	case 0:
		coef, exp := r.Int(), r.Int()
		switch {
		case r.err != nil:
			return decimal.Decimal{}
		case exp < -maxExponent || exp > maxExponent:
			r.err = fmt.Errorf("codec: decimal exponent %d out of range", exp)
			return decimal.Decimal{}
		case coef > maxFixed || coef < -maxFixed:
			r.err = fmt.Errorf("codec: decimal coefficient %d of more than 18 digits", coef)
			return decimal.Decimal{}
		}
		return Fixed{C: coef, E: int32(exp)}.Decimal()
	case 1:
	default:
		r.err = fmt.Errorf("codec: decimal of form %d", form)
		return decimal.Decimal{}
	}
	s := r.String()
	if r.err != nil {
		return decimal.Decimal{}
	}
	d, err := decimal.NewFromString(s)
	switch {
	case err != nil:
		r.err = err
	case d.String() != s:
		r.err = fmt.Errorf("codec: decimal text %q not in the form written", s)
		return decimal.Decimal{}
	case d.Exponent() < -maxExponent || d.Exponent() > maxExponent:
		r.err = fmt.Errorf("codec: decimal exponent %d out of range", d.Exponent())
		return decimal.Decimal{}
	}
	return d
}

// maxExponent bounds the exponent of a decimal a Reader reads, far beyond
// any amount's (an event's decimals have at most 40 digits each side of
// the point, and so do a formula's rate and fixed amount): a
// damaged exponent of 10^8 read as such made the first sum with it build
// a number of as many digits, and hang. A sum at this bound takes
// milliseconds. It is the bound decimal.NewFromString reads (its
// MaxDecodeExponent): a sum of more than 18 digits is written as text, and
// with a greater bound 10 plus 24e-40960 was written as a record that
// could not be read back.
const maxExponent = 10_000

// Amount returns d alone in its binary form: the stored form of balances,
// counters and daily totals, cheaper to read and write than text.
func Amount(d decimal.Decimal) []byte {
	w := Writer{B: make([]byte, 0, 12)}
	w.Decimal(d)
	return w.B
}

// ErrAmount is returned by ParseAmount for bytes that are not one amount.
var ErrAmount = errors.New("codec: not an amount record")

// ParseAmount reads a record written by Amount.
func ParseAmount(b []byte) (decimal.Decimal, error) {
	r := Reader{B: b}
	d := r.Decimal()
	if r.Err() != nil || len(r.B) != 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: %x", ErrAmount, b)
	}
	return d, nil
}

// AppendDecimal appends d as d.String() would write it, without math/big
// when the coefficient fits 18 digits (the usual amounts): it is on the
// path of every change's payload and reason.
func AppendDecimal(b []byte, d decimal.Decimal) []byte { return appendDecimal(b, d, true) }

// AppendExact appends d keeping its trailing zeros ("200.00"), as
// d.StringFixed(-d.Exponent()) writes a decimal with a negative exponent.
func AppendExact(b []byte, d decimal.Decimal) []byte { return appendDecimal(b, d, false) }

func appendDecimal(b []byte, d decimal.Decimal, trim bool) []byte {
	exp := d.Exponent()
	if d.NumDigits() > 18 || exp > 0 || exp < -18 {
		if !trim && exp < 0 {
			return append(b, d.StringFixed(-exp)...)
		}
		return append(b, d.String()...)
	}
	c := d.CoefficientInt64()
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	if exp == 0 {
		return strconv.AppendUint(b, uint64(c), 10)
	}
	var pow uint64 = 1
	for range -exp {
		pow *= 10
	}
	u := uint64(c)
	b = strconv.AppendUint(b, u/pow, 10)
	frac := u % pow
	if frac == 0 && trim {
		return b
	}
	digits := int(-exp)
	for trim && frac%10 == 0 { // trailing zeros go, as in String
		frac /= 10
		digits--
	}
	b = append(b, '.')
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], frac, 10)
	if frac == 0 {
		s = s[:0]
	}
	for range digits - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// DecimalString returns d.String(), the fast way (see AppendDecimal).
func DecimalString(d decimal.Decimal) string {
	var buf [24]byte
	return string(AppendDecimal(buf[:0], d))
}

// Fixed is an amount C × 10^E whose coefficient has at most 18 digits: the
// form of nearly every stored amount. Adding two of them needs no math/big
// (each decimal.Decimal operation allocates), which matters on the path of
// every event: balances, daily totals and expiry totals are read, added to
// and written back each time.
type Fixed struct {
	C int64
	E int32
}

// maxFixed bounds a Fixed's coefficient: 18 digits.
const maxFixed = 999_999_999_999_999_999

// FixedOf returns d as a Fixed, or false when its coefficient is too long.
func FixedOf(d decimal.Decimal) (Fixed, bool) {
	if d.NumDigits() > 18 {
		return Fixed{}, false
	}
	return Fixed{C: d.CoefficientInt64(), E: d.Exponent()}, true
}

// Decimal returns f as a decimal, with f's exponent. A small integer
// comes from a table made once, without allocating (see small).
func (f Fixed) Decimal() decimal.Decimal {
	if f.E == 0 && f.C >= -smallMax && f.C <= smallMax {
		return small[f.C+smallMax]
	}
	return decimal.New(f.C, f.E)
}

// smallMax bounds the integers of small.
const smallMax = 1024

// small holds the decimals of the integers −smallMax to smallMax (exponent
// 0). A decimal is immutable — every operation makes a new one — so one
// value can be shared, as decimal.Zero is; and the amounts an event moves
// (points and growth of an order, rounded to whole units) are small
// integers more often than not, each of which would otherwise cost two
// allocations.
var small = func() (t [2*smallMax + 1]decimal.Decimal) {
	for i := range t {
		t[i] = decimal.New(int64(i-smallMax), 0)
	}
	return t
}()

// Neg returns −d as decimal.Decimal.Neg does (value and exponent), from
// small when it can.
func Neg(d decimal.Decimal) decimal.Decimal {
	if f, ok := FixedOf(d); ok {
		return Fixed{C: -f.C, E: f.E}.Decimal()
	}
	return d.Neg()
}

// Add returns f+g exactly, with the smaller exponent of the two (as
// decimal.Decimal.Add does), or false when the result would not be a
// Fixed.
func (f Fixed) Add(g Fixed) (Fixed, bool) {
	if f.E < g.E {
		f, g = g, f
	}
	// f has the larger exponent: scale its coefficient down to g's.
	for ; f.E > g.E; f.E-- {
		if f.C > maxFixed/10 || f.C < -maxFixed/10 {
			return Fixed{}, false
		}
		f.C *= 10
	}
	c := f.C + g.C // both at most 18 digits: no int64 overflow
	if c > maxFixed || c < -maxFixed {
		return Fixed{}, false
	}
	return Fixed{C: c, E: g.E}, true
}

// Add returns a+b as decimal.Decimal.Add does (value and exponent), without
// math/big when both are Fixed and so is the sum.
func Add(a, b decimal.Decimal) decimal.Decimal {
	if fa, ok := FixedOf(a); ok {
		if fb, ok := FixedOf(b); ok {
			if s, ok := fa.Add(fb); ok {
				return s.Decimal()
			}
		}
	}
	return a.Add(b)
}

// Mul returns f×g exactly, with the sum of the exponents (as
// decimal.Decimal.Mul does), or false when the product would not be a
// Fixed.
func (f Fixed) Mul(g Fixed) (Fixed, bool) {
	e := int64(f.E) + int64(g.E)
	if e < math.MinInt32 || e > math.MaxInt32 {
		return Fixed{}, false
	}
	hi, lo := bits.Mul64(absU(f.C), absU(g.C))
	if hi != 0 || lo > maxFixed {
		return Fixed{}, false
	}
	c := int64(lo)
	if (f.C < 0) != (g.C < 0) {
		c = -c
	}
	return Fixed{C: c, E: int32(e)}, true
}

func absU(c int64) uint64 {
	if c < 0 {
		return uint64(-c)
	}
	return uint64(c)
}

// RoundDown returns f truncated (toward zero) to places decimal places
// with exponent −places, as decimal.Decimal.RoundDown does (12 to two
// places is 12.00), or false when the result would not be a Fixed.
func (f Fixed) RoundDown(places int32) (Fixed, bool) {
	target := -int64(places)
	if target > math.MaxInt32 {
		return Fixed{}, false
	}
	e := int32(target)
	switch k := target - int64(f.E); {
	case k == 0:
		return f, true
	case k > 18: // every digit goes
		return Fixed{C: 0, E: e}, true
	case k > 0:
		return Fixed{C: f.C / pow10[k], E: e}, true // Go's division truncates toward zero
	case f.C == 0:
		return Fixed{C: 0, E: e}, true
	case -k > 18:
		return Fixed{}, false
	default: // pad with −k zeros
		hi, lo := bits.Mul64(absU(f.C), uint64(pow10[-k]))
		if hi != 0 || lo > maxFixed {
			return Fixed{}, false
		}
		c := int64(lo)
		if f.C < 0 {
			c = -c
		}
		return Fixed{C: c, E: e}, true
	}
}

// pow10[k] is 10^k.
var pow10 = [19]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// appendFixed appends f in the Decimal form 0 (coefficient, exponent).
func appendFixed(b []byte, f Fixed) []byte {
	b = append(b, 0)
	b = binary.AppendVarint(b, f.C)
	return binary.AppendVarint(b, int64(f.E))
}

// parseFixed reads a record of Amount in form 0.
func parseFixed(b []byte) (Fixed, bool) {
	if len(b) < 3 || b[0] != 0 {
		return Fixed{}, false
	}
	c, n := binary.Varint(b[1:])
	if n <= 0 {
		return Fixed{}, false
	}
	e, m := binary.Varint(b[1+n:])
	if m <= 0 || 1+n+m != len(b) || e < -maxExponent || e > maxExponent || c > maxFixed || c < -maxFixed {
		return Fixed{}, false
	}
	return Fixed{C: c, E: int32(e)}, true
}

// AddAmount returns the record of old plus delta, appended to dst, where
// old is a record written by Amount (nil: zero), and whether the sum is
// zero. It is exact, and needs no math/big when both amounts are Fixed.
func AddAmount(dst, old []byte, delta decimal.Decimal) ([]byte, bool, error) {
	b, _, zero, err := addAmount(dst, old, delta, false)
	return b, zero, err
}

// SumAmount is AddAmount that returns the sum as a decimal.
func SumAmount(dst, old []byte, delta decimal.Decimal) ([]byte, decimal.Decimal, error) {
	b, sum, _, err := addAmount(dst, old, delta, true)
	return b, sum, err
}

// addAmount adds; the sum is returned as a decimal only when want is set.
func addAmount(dst, old []byte, delta decimal.Decimal, want bool) ([]byte, decimal.Decimal, bool, error) {
	if g, ok := FixedOf(delta); ok {
		f, ok := Fixed{}, old == nil // a missing record is decimal.Zero
		if !ok {
			f, ok = parseFixed(old)
		}
		if ok {
			if s, ok := f.Add(g); ok {
				var d decimal.Decimal
				if want {
					d = s.Decimal()
				}
				return appendFixed(dst, s), d, s.C == 0, nil
			}
		}
	}
	cur := decimal.Zero
	if old != nil {
		var err error
		if cur, err = ParseAmount(old); err != nil {
			return dst, decimal.Decimal{}, false, err
		}
	}
	sum := cur.Add(delta)
	w := Writer{B: dst}
	w.Decimal(sum)
	return w.B, sum, sum.IsZero(), nil
}
