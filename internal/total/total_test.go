package total_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// adderTx adds as store/postgres does: decimal text, no read, zero kept.
type adderTx struct {
	store.Tx
	reads int
}

func (a *adderTx) Get(b string, k []byte) ([]byte, error) { a.reads++; return a.Tx.Get(b, k) }

func (a *adderTx) Add(b string, k []byte, d decimal.Decimal) error {
	old, err := a.Tx.Get(b, k)
	if errors.Is(err, store.ErrNotFound) {
		return a.Tx.Put(b, k, []byte(d.String()))
	}
	cur, err := total.Parse(old)
	if err != nil {
		return err
	}
	return a.Tx.Put(b, k, []byte(cur.Add(d).String()))
}

func TestStripesSumToTheTotal(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	key := []byte("points:mall\x002027-11\x00")
	other := []byte("points:mall\x002027-12\x00")
	// Eleven members add 1.10, 2.10, … 11.10 (sum 66 + 11 × 0.10 = 67.10)
	// split over 7 stripes, then members 1 and 2 take 1.10 and 2.10 back:
	// 67.10 − 3.20 = 63.90. The other month holds 5 and is not counted.
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := 1; i <= 11; i++ {
			m := string(rune('a' + i))
			if err := total.Add(tx, "t", key, total.Stripe(m, 7), decimal.NewFromInt(int64(i)).Add(dec("0.10")), nil); err != nil {
				return err
			}
		}
		for i := 1; i <= 2; i++ {
			m := string(rune('a' + i))
			if err := total.Add(tx, "t", key, total.Stripe(m, 7), decimal.NewFromInt(int64(-i)).Sub(dec("0.10")), nil); err != nil {
				return err
			}
		}
		return total.Add(tx, "t", other, 3, dec("5"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx store.Tx) error {
		got, err := total.Sum(tx, "t", key)
		if err != nil || !got.Equal(dec("63.90")) {
			t.Errorf("Sum = %s, %v; want 63.90", got, err)
		}
		got, err = total.Sum(tx, "t", []byte("nothing"))
		if err != nil || !got.IsZero() {
			t.Errorf("Sum of nothing = %s, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAdderAddsWithoutReadingAndBinaryReadsText(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	key := []byte("tag\x00")
	err := st.Update(ctx, func(tx store.Tx) error {
		a := &adderTx{Tx: tx}
		for _, d := range []string{"1", "1", "-1", "2.50"} {
			if err := total.Add(a, "t", key, 4, dec(d), nil); err != nil {
				return err
			}
		}
		if a.reads != 0 {
			t.Errorf("Add through an Adder read %d times", a.reads)
		}
		// A plain Tx then adds to the text an Adder left: 3.50 + 0.25.
		return total.Add(tx, "t", key, 4, dec("0.25"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.View(ctx, func(tx store.Tx) error {
		got, err := total.Sum(tx, "t", key)
		if err != nil || !got.Equal(dec("3.75")) {
			t.Errorf("Sum = %s, %v; want 3.75", got, err)
		}
		return nil
	})
}

func TestCorruptStripes(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	key := []byte("k\x00")
	_ = st.Update(ctx, func(tx store.Tx) error {
		_ = tx.Put("bad", total.Key(nil, key, 1), []byte("12x"))
		_ = tx.Put("short", append(append([]byte(nil), key...), 0, 1), []byte("1"))
		return nil
	})
	_ = st.View(ctx, func(tx store.Tx) error {
		for _, b := range []string{"bad", "short"} {
			if _, err := total.Sum(tx, b, key); !errors.Is(err, total.ErrCorrupt) {
				t.Errorf("Sum of %s = %v, want ErrCorrupt", b, err)
			}
		}
		return nil
	})
	if _, err := total.Parse([]byte{7}); !errors.Is(err, total.ErrCorrupt) {
		t.Errorf("Parse of a bad record = %v", err)
	}
}

func TestStripe(t *testing.T) {
	if total.Stripe("m1", 1) != 0 || total.Stripe("m1", 0) != 0 {
		t.Error("one stripe is stripe 0")
	}
	seen := map[uint16]bool{}
	for i := range 1000 {
		s := total.Stripe(string(rune(i)), 16)
		if s >= 16 {
			t.Fatalf("stripe %d of 16", s)
		}
		seen[s] = true
	}
	if len(seen) != 16 {
		t.Errorf("1000 members used %d of 16 stripes", len(seen))
	}
	if total.Stripe("m1", 16) != total.Stripe("m1", 16) {
		t.Error("a member's stripe changed")
	}
	if b, ok := total.Base(total.Key(nil, []byte("abc\x00"), 300)); !ok || string(b) != "abc\x00" {
		t.Errorf("Base = %q, %v", b, ok)
	}
}

// chooserTx chooses its stripe, as store/postgres's do (by connection).
type chooserTx struct {
	store.Tx
	stripe uint16
}

func (c chooserTx) Stripe(n int) uint16 { return c.stripe }

func TestStripeOf(t *testing.T) {
	_ = memory.New().View(context.Background(), func(tx store.Tx) error {
		if got, want := total.StripeOf(tx, "m1", 16), total.Stripe("m1", 16); got != want {
			t.Errorf("StripeOf a plain Tx = %d; want the member's, %d", got, want)
		}
		for _, c := range []struct {
			chosen uint16
			n      int
			want   uint16
		}{
			{5, 16, 5},
			{21, 16, 5},             // out of range: taken modulo n
			{7, 1, 0},               // one stripe
			{7, 0, 0},               // none asked
			{65535, 1 << 20, 65535}, // n past MaxStripes
		} {
			if got := total.StripeOf(chooserTx{tx, c.chosen}, "m1", c.n); got != c.want {
				t.Errorf("StripeOf a Tx choosing %d, of %d = %d; want %d", c.chosen, c.n, got, c.want)
			}
		}
		return nil
	})
}

// A count is a whole number an int64 holds: stripes summing to 2.5, or
// to 24e24 (which IntPart wraps to a negative count), are damage, and
// stripes of 2 and 3 count 5.
func TestCount(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	key := []byte("k\x00")
	_ = st.Update(ctx, func(tx store.Tx) error {
		for b, stripes := range map[string][]string{"ok": {"2", "3"}, "fraction": {"2", "0.5"}, "huge": {"24e24"}} {
			for i, v := range stripes {
				if err := tx.Put(b, total.Key(nil, key, uint16(i)), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
		}
		return nil
	})
	_ = st.View(ctx, func(tx store.Tx) error {
		if n, err := total.Count(tx, "ok", key); n != 5 || err != nil {
			t.Errorf("Count of 2 and 3 = %d, %v; want 5", n, err)
		}
		for _, b := range []string{"fraction", "huge"} {
			if n, err := total.Count(tx, b, key); !errors.Is(err, total.ErrCorrupt) {
				t.Errorf("Count of %s = %d, %v; want ErrCorrupt", b, n, err)
			}
		}
		return nil
	})
}

// Counts gives each total of a range once, its stripes summed, in key
// order: "a" (stripes 2 and 3) counts 5 and "b" (one stripe, 4) 4; "c",
// past the range's end, is not read. A sum that is no count (1 and 0.5)
// and a key that is no stripe's are ErrCorrupt, and fn's error ends the
// scan.
func TestCounts(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	put := func(bucket string, kvs ...string) {
		t.Helper()
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := 0; i < len(kvs); i += 2 {
				if err := tx.Put(bucket, []byte(kvs[i]), []byte(kvs[i+1])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	k := func(key string, s uint16) string { return string(total.Key(nil, []byte(key), s)) }
	put("ok", k("a", 0), "2", k("a", 3), "3", k("b", 1), "4", k("c", 0), "1")
	put("fraction", k("a", 0), "1", k("a", 1), "0.5")
	put("not a stripe", "a", "1")
	counts := func(bucket string, end []byte, fn func(k []byte, n int64) error) (got []string, err error) {
		err = st.View(ctx, func(tx store.Tx) error {
			return total.Counts(tx, bucket, nil, end, func(k []byte, n int64) error {
				got = append(got, fmt.Sprintf("%s %d", k, n))
				return fn(k, n)
			})
		})
		return got, err
	}
	none := func([]byte, int64) error { return nil }
	got, err := counts("ok", []byte("c"), none)
	if diff := cmp.Diff([]string{"a 5", "b 4"}, got); err != nil || diff != "" {
		t.Errorf("Counts: %v (-want +got):\n%s", err, diff)
	}
	for _, b := range []string{"fraction", "not a stripe"} {
		if got, err := counts(b, nil, none); !errors.Is(err, total.ErrCorrupt) {
			t.Errorf("Counts of %s = %v, %v; want ErrCorrupt", b, got, err)
		}
	}
	stop := errors.New("stop")
	got, err = counts("ok", nil, func([]byte, int64) error { return stop })
	if !errors.Is(err, stop) || len(got) != 1 {
		t.Errorf("Counts whose fn fails at once = %v, %v; want one total and its error", got, err)
	}
}
