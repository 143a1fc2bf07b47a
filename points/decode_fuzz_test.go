package points

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// The part's stored records, on arbitrary bytes: an order (with its
// grants' shortfalls), a day of risk control, a review, an adjustment
// and a redemption (JSON records, as record.Put writes them; an order, a
// day and a review in their version, as put does) decode to a value whose
// record decodes to it again, and the bytes followed by one more do not
// decode (none is ignored); or fail with an error wrapping
// store.ErrCorrupt; never panic. A JSON record may encode longer than the
// bytes read: a field it lacks reads as zero and is written. A release
// record (eight bytes) decodes to the time it is written back as, or
// fails with ledger.ErrCorrupt. CI runs the seeds and testdata/fuzz; go
// test -fuzz=FuzzOrderRecord (and the others) looks further.

var recordOpts = []cmp.Option{
	cmpopts.EquateEmpty(), // "lots": [] is written as no lots
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// fuzzRecord runs the check above on the JSON records of bucket, seeded
// with the records of seeds. check, when not nil, is the check the part
// makes of a record it decodes (getReview's): a record it refuses is
// damage as well.
func fuzzRecord[T any](f *testing.F, bucket string, check func(*T) error, seeds ...T) {
	// A day, an order or a review is written in its version (put), the
	// others as record.Put writes them.
	var max byte = 1
	var zero T
	if _, ok := any(zero).(versioned); ok {
		max = recordV2
	}
	encode := func(v T) ([]byte, error) {
		b, err := json.Marshal(v)
		if vv, ok := any(v).(versioned); ok && vv.version() > 1 {
			b = append([]byte{vv.version()}, b...)
		}
		return b, err
	}
	for _, s := range seeds {
		b, err := encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	decode := func(b []byte) (T, error) {
		var v T
		err := record.DecodeVersion(bucket, []byte("k"), b, &v, max)
		if err == nil && check != nil {
			err = checked(bucket, []byte("k"), check(&v))
		}
		return v, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("%s record %q: %v; want store.ErrCorrupt", bucket, b, err)
			}
			return
		}
		if _, err := decode(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("%s record %q decodes with a byte more", bucket, b)
		}
		again, err := encode(v)
		if err != nil {
			t.Fatalf("%s record %q decodes as %+v, which does not encode: %v", bucket, b, v, err)
		}
		got, err := decode(again)
		if err != nil || !cmp.Equal(got, v, recordOpts...) {
			t.Fatalf("%s record %q = %+v; its record %s decodes as %+v, %v", bucket, b, v, again, got, err)
		}
	})
}

var (
	fuzzAt  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	fuzzDec = decimal.RequireFromString
)

func FuzzOrderRecord(f *testing.F) {
	fuzzRecord(f, bOrder, nil,
		Order{ID: "o1", Member: "m1", Amount: fuzzDec("100"), Grants: []Grant{{Program: "mall", Rule: "buy", Lot: "l1", Amount: fuzzDec("100"), Time: fuzzAt}}},
		Order{ID: "o2", Member: "m1", Amount: fuzzDec("250.50"), Refunded: fuzzDec("200"), Shortfall: fuzzDec("30"), Lapsed: fuzzDec("20"),
			Grants: []Grant{
				{Program: "mall", Rule: "buy", Lot: "l2", Amount: fuzzDec("150"), Time: fuzzAt, Reversed: fuzzDec("120"), Lapsed: fuzzDec("20"), Shortfall: fuzzDec("30")},
				{Program: "air", Rule: "miles", Lot: "l3", Amount: fuzzDec("0.5"), Time: fuzzAt.Add(time.Hour)},
			}},
		Order{ID: "o3", Member: "m1", Amount: fuzzDec("60"), Refunded: fuzzDec("60"),
			Grants: []Grant{{Program: "mall", Rule: "buy", Lot: "l4", Amount: fuzzDec("60"), Time: fuzzAt, Reversed: fuzzDec("60"),
				Charged: []LotAmount{{Lot: "l1", Amount: fuzzDec("40"), Expires: fuzzAt.AddDate(1, 0, 0), Granted: fuzzAt}}}}},
	)
}

func FuzzDayRecord(f *testing.F) {
	fuzzRecord(f, bDay, nil,
		Day{Earned: fuzzDec("40")},
		Day{Earned: fuzzDec("1200.5"), Blocked: fuzzDec("200"), Frozen: true, Lots: []string{"l1", "l2"}},
		Day{Earned: fuzzDec("1200.5"), Frozen: true, Lots: []string{"l3"}, Voided: []string{"l1", "l2"}},
	)
}

func FuzzReviewRecord(f *testing.F) {
	fuzzRecord(f, bReview, (*Review).check,
		Review{Program: "mall", Member: "m1", Date: "2026-03-01", Earned: fuzzDec("1200"), Lots: []LotAmount{{Lot: "l1", Amount: fuzzDec("1000")}}, State: ReviewPending},
		Review{Program: "mall", Member: "m1", Date: "2026-03-01", Earned: fuzzDec("1200"), State: ReviewRestored, Round: 2, Operator: "op", Decided: fuzzAt},
		Review{Program: "mall", Member: "m1", Date: "2026-03-01", Earned: fuzzDec("1200"), State: ReviewVoided, Operator: "op", Decided: fuzzAt, Frozen: fuzzAt.Add(-time.Hour)},
	)
}

func FuzzAdjustmentRecord(f *testing.F) {
	fuzzRecord(f, bAdjust, (*Adjustment).check,
		Adjustment{ID: "a1", Program: "mall", Member: "m1", Amount: fuzzDec("-12.5"), Reason: "r", State: AdjustmentPending, Requester: "op1", Requested: fuzzAt},
		Adjustment{ID: "a2", Program: "mall", Member: "m1", Amount: fuzzDec("100"), Reason: "r", State: AdjustmentApplied, Requester: "op1", Requested: fuzzAt,
			Decider: "op2", Decided: fuzzAt.Add(time.Minute), Note: "ok"},
	)
}

func FuzzRedemptionRecord(f *testing.F) {
	fuzzRecord(f, bRedeem, nil,
		Redemption{Program: "mall", Member: "m1", Ref: "r1", Amount: fuzzDec("30"), Time: fuzzAt,
			Takes: []LotAmount{{Lot: "l1", Amount: fuzzDec("20")}, {Lot: "l2", Amount: fuzzDec("10")}}, Returned: []decimal.Decimal{fuzzDec("5"), decimal.Zero}, Reversed: fuzzDec("5")},
		Redemption{Program: "mall", Member: "m1", Ref: "r2", Amount: fuzzDec("100"), Split: &Split{Order: fuzzDec("19.90"), Points: fuzzDec("100"), PointsMoney: fuzzDec("10"), Cash: fuzzDec("9.90")}, Time: fuzzAt,
			Takes: []LotAmount{{Lot: "l1", Amount: fuzzDec("100")}}, Returned: []decimal.Decimal{decimal.Zero}, Reversed: decimal.Zero},
	)
}

func FuzzReleaseRecord(f *testing.F) {
	for _, at := range []time.Time{fuzzAt, {}} {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], keys.TimeU64(at))
		f.Add(v[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		at, err := releaseAt(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("releaseAt(%x) = %v; want ledger.ErrCorrupt", b, err)
			}
			return
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], keys.TimeU64(at))
		if got, err := releaseAt(v[:]); err != nil || !got.Equal(at) {
			t.Fatalf("releaseAt(%x) = %v; its record %x reads as %v, %v", b, at, v, got, err)
		}
	})
}

// A points.short record names the order whose grant of the lot a refund
// left short; any bytes are an order ID. A reversal returning points to
// the lot settles that order's shortfall: a record naming no order of
// the member's, or one without a grant of the lot, is store.ErrCorrupt;
// naming the order (which has no shortfall left), it settles nothing and
// is deleted. Never a panic.
func FuzzShortRecord(f *testing.F) {
	st := memory.New()
	e := engine.New(st, time.UTC, engine.Options{})
	h := New(e, &Definition{Programs: []Program{{Name: "mall"}}, Rules: []Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order",
		Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}}})
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if _, err := e.Process(ctx, event.Event{ID: "e1", Member: "m1", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("100"), "order": event.Str("o1")}}); err != nil {
		f.Fatal(err)
	}
	var ord Order
	if err := st.View(ctx, func(tx store.Tx) error {
		_, err := get(tx, bOrder, []byte("o1"), &ord)
		return err
	}); err != nil || len(ord.Grants) != 1 {
		f.Fatalf("order o1: %+v, %v", ord, err)
	}
	lot := ord.Grants[0].Lot
	f.Add([]byte("o1"))
	f.Add([]byte("o2"))
	errRollBack := errors.New("rolled back") // each input starts from the same store
	f.Fuzz(func(t *testing.T, b []byte) {
		var kept bool
		_, err := e.Update(ctx, engine.Request{}, func(u *engine.Unit) error {
			k := lotKey("mall", "m1", lot)
			if err := u.Tx().Put(bShort, k, b); err != nil {
				return err
			}
			rets := []returned{{to: acct("mall", "m1", ""), LotAmount: LotAmount{Lot: lot, Amount: decimal.NewFromInt(1)}}}
			if err := h.pt.settle(u, &frozenDays{pt: h.pt, u: u, member: "m1"}, "mall", "m1", "r1", rets); err != nil {
				return err
			}
			_, err := u.Tx().Get(bShort, k)
			kept = err == nil
			return errRollBack
		})
		switch {
		case string(b) == "o1":
			if !errors.Is(err, errRollBack) || kept {
				t.Fatalf("short record naming o1: %v, kept %v; want it settled and deleted", err, kept)
			}
		case !errors.Is(err, store.ErrCorrupt):
			t.Fatalf("short record %q: %v; want store.ErrCorrupt", b, err)
		}
	})
}
