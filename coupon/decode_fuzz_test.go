package coupon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// The book's stored records, on arbitrary bytes: a coupon and a day's
// statistics (JSON records) decode to a value whose record decodes to it
// again, and the bytes followed by one more do not decode (none is
// ignored); a coupon's state, type and method are ones the package has; a stock count's stripe reads as the count it holds, exactly,
// which is not negative.
// Or they fail with an error wrapping store.ErrCorrupt; never panic. A
// JSON record may encode longer than the bytes read: a field it lacks
// reads as zero and is written. CI runs the seeds and testdata/fuzz; go
// test -fuzz=FuzzCouponRecord (and the others) looks further.

var recordOpts = []cmp.Option{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// readStored stores v at bucket/key in a store of its own and returns
// what read returns from it.
func readStored[T any](t *testing.T, bucket string, key, v []byte, read func(*Book) (T, error)) (T, error) {
	t.Helper()
	st := memory.New()
	defer st.Close()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(bucket, key, v) }); err != nil {
		t.Fatal(err)
	}
	var out T
	err := st.Update(ctx, func(tx store.Tx) error { // Book.count writes the stat back
		var err error
		out, err = read(newBook(tx, &Definition{}, time.UTC, nil))
		return err
	})
	return out, err
}

func FuzzCouponRecord(f *testing.F) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for _, c := range []Coupon{
		{ID: "c1.m1", Code: "ABCD2345", Template: "ten", Member: "m1", Type: Cash, Amount: decimal.RequireFromString("10"), State: Available, Method: Self,
			IssuedAt: at, Expires: at.AddDate(0, 1, 0), Changed: at},
		{ID: "c2.m1", Code: "WXYZ6789", Template: "off", Member: "m1", Type: Discount, State: Used, Method: Operator, Pack: "p", IssuedAt: at,
			From: at, Expires: at.AddDate(0, 0, 7), Order: "o1", Store: "s1", AmountOff: decimal.RequireFromString("12.34"), Changed: at.Add(time.Hour),
			Note: "n", Legacy: "OLD-1"},
	} {
		b, err := json.Marshal(c) // as Book.put writes it
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	get := func(t *testing.T, b []byte) (Coupon, error) {
		return readStored(t, bCoupons, []byte("c1.m1"), b, func(bk *Book) (Coupon, error) { return bk.Get("c1.m1") })
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := get(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("coupon record %q: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		if _, err := get(t, append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("coupon record %q decodes with a byte more", b)
		}
		if !c.State.valid() || !c.Type.valid() || !c.Method.valid() {
			t.Fatalf("coupon record %q decodes in state %q, of type %q, by method %q", b, c.State, c.Type, c.Method)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("coupon record %q decodes as %+v, which does not encode: %v", b, c, err)
		}
		got, err := get(t, again)
		if err != nil || !cmp.Equal(got, c, recordOpts...) {
			t.Fatalf("coupon record %q = %+v; its record %s decodes as %+v, %v", b, c, again, got, err)
		}
	})
}

func FuzzStatRecord(f *testing.F) {
	for _, s := range []Stat{{Issued: 1}, {Issued: 12, Used: 5, Expired: 2, Revoked: 1, AmountOff: decimal.RequireFromString("123.45")}} {
		b, err := json.Marshal(s) // as Book.count writes it
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	stats := func(t *testing.T, b []byte) (Stat, error) {
		k := total.Key(statKey("2026-03-01", "ten", "", "s1"), nil, 0)
		return readStored(t, bStats, k, b, func(bk *Book) (Stat, error) {
			var s Stat
			err := bk.count(day, "ten", "s1", "m1", func(got *Stat) { s = *got })
			return s, err
		})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := stats(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("stat record %q: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		if _, err := stats(t, append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("stat record %q decodes with a byte more", b)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("stat record %q decodes as %+v, which does not encode: %v", b, s, err)
		}
		got, err := stats(t, again)
		if err != nil || !cmp.Equal(got, s, recordOpts...) {
			t.Fatalf("stat record %q = %+v; its record %s decodes as %+v, %v", b, s, again, got, err)
		}
	})
}

// A stock count's stripe, as total.Add writes it (binary) or a
// store.Adder (decimal text).
func FuzzStockRecord(f *testing.F) {
	f.Add(codec.Amount(decimal.NewFromInt(3)))
	f.Add(codec.Amount(decimal.NewFromInt(1 << 40)))
	f.Add([]byte("17"))
	issued := func(t *testing.T, b []byte) (int64, error) {
		return readStored(t, bStock, total.Key(stockKey("ten", false), nil, 0), b, func(bk *Book) (int64, error) { return bk.Issued("ten", false) })
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := issued(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("stock record %x: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		d, err := total.Parse(b)
		if err != nil || !d.Equal(decimal.NewFromInt(n)) || n < 0 {
			t.Fatalf("stock record %x reads as %d issued; it holds %v, %v", b, n, d, err)
		}
		if got, err := issued(t, codec.Amount(d)); err != nil || got != n {
			t.Fatalf("stock record %x reads as %d issued; its record %x as %d, %v", b, n, codec.Amount(d), got, err)
		}
	})
}

// A lock's value in the order index (holdValue, or empty for a lock made
// before the index kept holds) reads as the end of its hold, which
// holdValue writes as the same bytes, or fails with engine.ErrCorrupt.
func FuzzHoldRecord(f *testing.F) {
	f.Add(holdValue(time.Date(2026, 5, 1, 12, 15, 0, 0, time.UTC)))
	f.Add(holdValue(time.Time{}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		until, legacy, err := holdEnd(b)
		switch {
		case err != nil:
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("holdEnd(%x) = %v; want store.ErrCorrupt", b, err)
			}
		case legacy:
			if len(b) != 0 {
				t.Fatalf("holdEnd(%x) reads as a lock without a recorded hold", b)
			}
		case !bytes.Equal(holdValue(until), b):
			t.Fatalf("holdEnd(%x) = %v, which holdValue writes as %x", b, until, holdValue(until))
		}
		if _, rerr := holdRanOut(b, time.Unix(0, 0)); (rerr != nil) != (err != nil) {
			t.Fatalf("holdRanOut(%x): %v; holdEnd: %v", b, rerr, err)
		}
	})
}

// A member's claim counter of a template (per member, in total), as
// rule.Use writes it (decimal text): it reads as the number of claims it
// holds, a whole number, not negative, against which a limit of 3 takes
// one more claim or refuses it (ErrLimitReached), and the claim counted
// makes it one more; or the claim fails with an error wrapping
// store.ErrCorrupt.
func FuzzLimitRecord(f *testing.F) {
	f.Add([]byte("1"))
	f.Add([]byte("3"))
	f.Add([]byte("12"))
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := ClaimRule{PerMember: 3}
	scope := limitScope("m1", "ten", false)
	k := []byte(scope + "\x00" + rule.Total.Key(at, time.UTC))
	type claimed struct {
		refused error
		after   decimal.Decimal // the counter after a claim taken
	}
	claim := func(t *testing.T, b []byte) (claimed, error) {
		return readStored(t, bLimits, k, b, func(bk *Book) (claimed, error) {
			var out claimed
			err := bk.checkLimits(c, scope, at, 1)
			if errors.Is(err, ErrLimitReached) {
				out.refused = err
				return out, nil
			}
			if err == nil {
				err = bk.recordLimits(c, scope, at, 1)
			}
			if err == nil {
				out.after, err = rule.Used(bk.tx, bLimits, scope, rule.Total, at, time.UTC)
			}
			return out, err
		})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := claim(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("claim counter %q: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		n, perr := decimal.NewFromString(string(b))
		switch {
		case perr != nil || !n.IsInteger() || n.IsNegative():
			t.Fatalf("claim counter %q is no count (%v, %v), read as one: refused %v, then %v", b, n, perr, got.refused, got.after)
		case (got.refused != nil) != n.GreaterThanOrEqual(decimal.NewFromInt(3)):
			t.Fatalf("claim counter %q: a claim under a limit of 3 refused: %v; want refused once the counter holds 3 or more", b, got.refused)
		case got.refused == nil && !got.after.Equal(n.Add(decimal.NewFromInt(1))):
			t.Fatalf("claim counter %q holds %v after a claim, want %v", b, got.after, n.Add(decimal.NewFromInt(1)))
		}
	})
}

// A member's entry in the index of members' coupons (coupon.members:
// member, NUL, coupon ID → the coupon's state), on an arbitrary ID and
// state: m1 holds coupon c1.m1, available, and m2 holds c1.m2, used. The
// index is written with each coupon, so m1's coupons list without error
// only when the entry is c1.m1's own, "available": an entry naming no
// coupon, another member's, or a state that is not the coupon's (or no
// state) is damage, an error wrapping store.ErrCorrupt, not a coupon
// listed under the wrong owner or state. m1's live coupons (available or
// locked) are read alone, so an entry in another state is not read: it
// leaves c1.m1 out if it is c1.m1's own, and changes nothing else.
func FuzzMemberRecord(f *testing.F) {
	f.Add("c1.m1", []byte(Available))
	f.Add("c1.m1", []byte(Used))
	f.Add("c1.m1", []byte("availablex"))
	f.Add("c1.m2", []byte(Used))
	f.Add("c9.m1", []byte(Available))
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	mine := Coupon{ID: "c1.m1", Code: "ABCD2345", Template: "ten", Member: "m1", Type: Cash, Amount: decimal.RequireFromString("10"),
		State: Available, Method: Self, IssuedAt: at, Changed: at}
	theirs := Coupon{ID: "c1.m2", Code: "WXYZ6789", Template: "ten", Member: "m2", Type: Cash, Amount: decimal.RequireFromString("10"),
		State: Used, Method: Self, IssuedAt: at, Order: "o1", Changed: at}
	f.Fuzz(func(t *testing.T, id string, state []byte) {
		st := memory.New()
		defer st.Close()
		ctx := context.Background()
		err := st.Update(ctx, func(tx store.Tx) error {
			b := newBook(tx, nil, time.UTC, nil)
			if err := b.save(mine); err != nil {
				return err
			}
			if err := b.save(theirs); err != nil {
				return err
			}
			return tx.Put(bMembers, sep("m1", id), state)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, live := range []bool{false, true} {
			var cs []Coupon
			err := st.View(ctx, func(tx store.Tx) error {
				var err error
				cs, err = newBook(tx, nil, time.UTC, nil).Coupons("m1", live)
				return err
			})
			ok := id == mine.ID && string(state) == string(Available)
			var want []Coupon // when ok
			if ok {
				want = []Coupon{mine}
			}
			switch s := State(state); {
			case !live:
			case s == Used || s == Expired || s == Revoked: // not read
				ok = true
				if id != mine.ID {
					want = []Coupon{mine}
				}
			}
			switch {
			case err != nil && (ok || !errors.Is(err, store.ErrCorrupt)):
				t.Fatalf("m1's coupons (live %v) with entry %q → %q: %v", live, id, state, err)
			case err == nil && !ok:
				t.Fatalf("m1's coupons (live %v) with entry %q → %q = %+v; want store.ErrCorrupt", live, id, state, cs)
			case err == nil && !cmp.Equal(cs, want, append(recordOpts, cmpopts.EquateEmpty())...):
				t.Fatalf("m1's coupons (live %v) with entry %q → %q = %+v; want %+v", live, id, state, cs, want)
			}
		}
	})
}
