package codec_test

import (
	"errors"
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
