package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// records returns the keys and values of a bucket.
func records(t *testing.T, st store.Store, bucket string) (ks, vs [][]byte) {
	t.Helper()
	err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan(bucket, nil, nil, false, func(k, v []byte) error {
			ks, vs = append(ks, append([]byte(nil), k...)), append(vs, append([]byte(nil), v...))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ks, vs
}

// A points credit with an expiry writes an entry carrying its pool leg, a
// lot and the lot's id index, each holding little beyond its key (the
// entry is 28 bytes: see TestRecordSizes).
func TestStoredRecordSizes(t *testing.T) {
	st := memory.New()
	tr := earn("12", t0, t0.AddDate(1, 0, 0))
	tr.Ref = ledger.Ref{Event: "e999"}
	mustPost(t, st, tr)
	for _, c := range []struct {
		bucket string
		size   int
	}{{"ledger.entry", 28}, {"ledger.lot", 7}, {"ledger.lotid", 16}} {
		ks, vs := records(t, st, c.bucket)
		if len(vs) != 1 || len(vs[0]) != c.size {
			t.Errorf("%s: %d records %q under %q, want one of %d bytes", c.bucket, len(vs), vs, ks, c.size)
		}
	}
	checkVerify(t, st)
}

// A lot spent to zero keeps only its id index, from which it is rebuilt
// with its grant and expiry.
func TestSpentLotRebuiltFromIndex(t *testing.T) {
	st := memory.New()
	exp := t0.AddDate(1, 0, 0)
	lot := mustPost(t, st, earn("5", t0, exp))[0].Lots[0]
	mustPost(t, st, spend("5", t0))
	if ks, _ := records(t, st, "ledger.lot"); len(ks) != 0 {
		t.Errorf("lot records left: %q", ks)
	}
	view(t, st, func(l *ledger.Ledger) error {
		got, err := l.Lot(alice, lot.ID)
		if err != nil || !got.Amount.IsZero() || got.ID != lot.ID || got.Account != alice || !got.Granted.Equal(t0) || !got.Expires.Equal(exp) {
			t.Errorf("spent lot = %+v, %v", got, err)
		}
		return nil
	})
	// Credited back, it is the same lot.
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "reversed", Legs: []ledger.Leg{
		{Account: alice, Amount: d("2"), Lot: lot.ID}, {Account: redeemed, Amount: d("-2")},
	}})
	view(t, st, func(l *ledger.Ledger) error {
		lots, err := l.Lots(alice)
		if err != nil || len(lots) != 1 || lots[0].ID != lot.ID || !lots[0].Amount.Equal(d("2")) ||
			!lots[0].Granted.Equal(t0) || !lots[0].Expires.Equal(exp) {
			t.Errorf("lots after the reversal = %+v, %v", lots, err)
		}
		return nil
	})
	checkVerify(t, st)
}

// Records of another version, or of the wrong form, are corrupt: every
// reader of them says so rather than misreading them.
func TestStoredRecordsOfOtherVersionsAreCorrupt(t *testing.T) {
	setup := func(t *testing.T) (store.Store, ledger.Lot) {
		st := memory.New()
		lot := mustPost(t, st, earn("10", t0, time.Time{}), spend("1", t0))[0].Lots[0]
		return st, lot
	}
	tamper := func(t *testing.T, st store.Store, bucket string, f func(v []byte) []byte) {
		t.Helper()
		ks, vs := records(t, st, bucket)
		err := st.Update(context.Background(), func(tx store.Tx) error {
			for i, k := range ks {
				if err := tx.Put(bucket, k, f(vs[i])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	version := func(b byte) func(v []byte) []byte {
		return func(v []byte) []byte { return append([]byte{b}, v[1:]...) }
	}
	corrupt := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", what, err)
		}
	}
	// Entries are of version 3, lots of version 2.
	for _, b := range []struct{ entry, lot byte }{{1, 1}, {2, 3}, {4, 0xff}} {
		st, lot := setup(t)
		tamper(t, st, "ledger.entry", version(b.entry))
		tamper(t, st, "ledger.lot", version(b.lot))
		_ = st.View(context.Background(), func(tx store.Tx) error {
			l := ledger.New(tx, shanghai)
			_, err := l.Statement(ledger.Query{Account: alice})
			corrupt(t, "Statement", err)
			_, err = l.EntriesAt([][]byte{[]byte("alice\x00points:mall\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00")})
			if err == nil {
				t.Errorf("EntriesAt of a missing record: no error")
			}
			_, err = l.Lots(alice)
			corrupt(t, "Lots", err)
			_, err = l.Lot(alice, lot.ID)
			corrupt(t, "Lot", err)
			_, err = l.Available(alice, t0)
			corrupt(t, "Available", err)
			corrupt(t, "Verify", ledger.Verify(tx))
			return nil
		})
		err := update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(spend("1", t0)); return err })
		corrupt(t, "Post", err)
	}
	// EntriesAt reads the records under the keys a posting gave.
	st := memory.New()
	keys := ledger.RecordKeys(mustPost(t, st, earn("10", t0, time.Time{}))[0].Entries)
	tamper(t, st, "ledger.entry", version(1))
	view(t, st, func(l *ledger.Ledger) error {
		_, err := l.EntriesAt(keys)
		corrupt(t, "EntriesAt", err)
		_, err = l.EntriesAt([][]byte{[]byte("alice\x00")})
		corrupt(t, "EntriesAt of a short key", err)
		return nil
	})
	// An id index holding anything but a lot key's times is corrupt.
	for _, f := range []func([]byte) []byte{
		func(v []byte) []byte { return v[:15] },
		func(v []byte) []byte { return append(v, 0) },
		func([]byte) []byte { return nil },
	} {
		st, lot := setup(t)
		tamper(t, st, "ledger.lotid", f)
		view(t, st, func(l *ledger.Ledger) error {
			_, err := l.Lot(alice, lot.ID)
			corrupt(t, "Lot", err)
			return nil
		})
	}
}

// A member account never goes below zero: a balance record that reads
// negative is damage, and every reader of it says so (Balance, Accounts,
// and a posting to the account, which took it for an
// insufficient balance: a credit of 10 to a damaged -50 "would be -40").
// A pool's balance may be negative and reads as it is.
func TestNegativeMemberBalanceIsCorrupt(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	ks, _ := records(t, st, "ledger.bal")
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range ks {
			if len(k) > 0 && k[0] == 'a' { // alice's, not the pools'
				if err := tx.Put("ledger.bal", k, codec.Amount(d("-50"))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, st, func(l *ledger.Ledger) error {
		if b, err := l.Balance(alice); !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("Balance = %s, %v; want ErrCorrupt", b, err)
		}
		if m, err := l.Accounts("alice"); !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("Accounts = %v, %v; want ErrCorrupt", m, err)
		}
		// The pool it was issued from holds -10, as it should.
		if b, err := l.Balance(issued); err != nil || !b.Equal(d("-10")) {
			t.Errorf("pool balance = %s, %v; want -10", b, err)
		}
		return nil
	})
	for _, tr := range []ledger.Transaction{earn("10", t0, time.Time{}), spend("1", t0)} {
		err := update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(tr); return err })
		if !errors.Is(err, ledger.ErrCorrupt) || errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Errorf("%s to the damaged account: %v; want ErrCorrupt, not ErrInsufficientBalance", tr.Kind, err)
		}
	}
}
