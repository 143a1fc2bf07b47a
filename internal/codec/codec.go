// Package codec is a small binary encoding for the ledger's hot records
// (entries and lots): length-prefixed strings and varints, several times
// cheaper than JSON to write and read. Decimals are kept as their exact
// string form, so nothing is rounded.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// Time appends t as nanoseconds since the epoch (0 for the zero time).
func (w *Writer) Time(t time.Time) {
	if t.IsZero() {
		w.B = binary.AppendVarint(w.B, 0)
		return
	}
	w.B = binary.AppendVarint(w.B, t.UnixNano())
}

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
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// Decimal reads a decimal.
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
	if form == 0 {
		coef, exp := r.Int(), r.Int()
		if r.err != nil {
			return decimal.Decimal{}
		}
		return decimal.New(coef, int32(exp))
	}
	s := r.String()
	if r.err != nil {
		return decimal.Decimal{}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		r.err = err
	}
	return d
}

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
