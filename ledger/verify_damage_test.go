package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Verify reports each kind of damage it documents with an error wrapping
// ErrCorrupt, and never panics: alice earned 10 at 10:00 and 5 at 11:00
// (one lot each, balance 15, the earned pool -15), then one record is
// damaged. A lot left where no entry or balance is (bob's 3, or one in a
// pool, which keeps none) was not seen before: Verify read the lots only
// of the accounts it met in the entries and balances; nor was a
// transaction counter behind its member's transactions, or garbled; nor
// was the lot ID index (a lot missing from it, an entry naming no lot, or
// at other times than its lot's record): a reversal finds a lot through
// it.
func TestVerifyFindsEachDamage(t *testing.T) {
	ctx := context.Background()
	pts := Points("mall")
	alice := MemberAccount("alice", pts, "")
	earned := Pool(pts, "earned")
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	first := func(tx store.Tx, bucket, prefix string, newest bool) (k, v []byte) {
		tx.Scan(bucket, []byte(prefix), store.PrefixEnd([]byte(prefix)), newest, func(kk, vv []byte) error {
			k, v = append([]byte(nil), kk...), append([]byte(nil), vv...)
			return store.StopScan
		})
		if k == nil {
			t.Fatalf("no record of %s under %q", bucket, prefix)
		}
		return k, v
	}
	three := decimal.NewFromInt(3)
	for _, c := range []struct {
		name   string
		damage func(tx store.Tx) error
		want   []string
	}{
		{"an entry's amount changed", func(tx store.Tx) error {
			k, v := first(tx, bEntry, "alice", false)
			es, err := appendEntries(nil, alice, len(k)-entryKeyLen, k, v, true)
			if err != nil {
				return err
			}
			es[0].Amount = decimal.RequireFromString("10.01")
			return tx.Put(bEntry, k, appendEntry(nil, es[0], es[1:]))
		}, []string{
			`transaction 1 of member "alice": points:mall legs sum to 0.01`,
			"member/alice/points:mall entry 4096: running balance 10.01, recorded 10",
			"member/alice/points:mall entry 8192: running balance 15.01, recorded 15",
			"member/alice/points:mall: balance 15, entries sum to 15.01",
		}},
		{"an entry missing", func(tx store.Tx) error {
			k, _ := first(tx, bEntry, "alice", true)
			return tx.Delete(bEntry, k)
		}, []string{
			"member/alice/points:mall: balance 15, entries sum to 10",
			"pool/points:mall/earned: balance -15, entries sum to -10",
		}},
		{"a balance out of step", func(tx store.Tx) error {
			return tx.Put(bBal, accountKey(alice), []byte("16"))
		}, []string{
			"member/alice/points:mall: balance 16, entries sum to 15",
			"member/alice/points:mall: balance 16, open lots sum to 15",
			"points:mall: accounts sum to 1, not zero",
			"points:mall: totals per kind sum to 15, member balances to 16",
		}},
		{"a lot changed", func(tx store.Tx) error {
			k, _ := first(tx, bLot, "alice", false)
			return tx.Put(bLot, k, appendLot(nil, Lot{Amount: decimal.NewFromInt(9), Original: decimal.NewFromInt(10)}))
		}, []string{"member/alice/points:mall: balance 15, open lots sum to 14"}},
		{"a day's total changed", func(tx store.Tx) error {
			k, _ := first(tx, bDay, "", false)
			return tx.Put(bDay, k, []byte("14"))
		}, []string{"points:mall: totals per kind sum to 14, member balances to 15"}},
		{"day totals of an asset with no account", func(tx store.Tx) error {
			// Its entries, balances and lots lost, an asset's day totals
			// stand alone: there is no account to meet the asset by.
			return addStripe(tx, bDay, keys.New().Str("points:old").Str("2026-03-01").Str("earned"), 0, decimal.NewFromInt(7), nil)
		}, []string{"points:old: totals per kind sum to 7, member balances to 0"}},
		{"a lot of an account with no entry and no balance", func(tx store.Tx) error {
			return New(tx, time.UTC).putLot(Lot{ID: "x", Account: MemberAccount("bob", pts, ""), Amount: three, Original: three, Granted: at}, false)
		}, []string{"member/bob/points:mall: balance 0, open lots sum to 3"}},
		{"a lot in a pool", func(tx store.Tx) error {
			return New(tx, time.UTC).putLot(Lot{ID: "x", Account: earned, Amount: three, Original: three, Granted: at}, false)
		}, []string{"pool/points:mall/earned keeps no lots, but has lots summing to 3"}},
		{"a member's counter behind", func(tx store.Tx) error {
			// Alice's next posting would be numbered 2 again.
			return tx.Put(bTxn, []byte("alice"), []byte("1"))
		}, []string{`member "alice": transaction counter stands at 1, behind transaction 2`}},
		{"a member's counter missing", func(tx store.Tx) error {
			return tx.Delete(bTxn, []byte("alice"))
		}, []string{`member "alice": transaction counter stands at 0, behind transaction 2`}},
		{"the pools' counter behind", func(tx store.Tx) error {
			// A transfer between pools is transaction 1 of theirs.
			_, err := New(tx, time.UTC).Post(Transaction{Time: at, Kind: "transfer", Legs: []Leg{{Account: earned, Amount: three}, {Account: Pool(pts, "redeemed"), Amount: three.Neg()}}})
			if err != nil {
				return err
			}
			return tx.Delete(bMeta, txnKey)
		}, []string{"the counter of transactions between pools stands at 0, behind transaction 1"}},
		{"a counter garbled", func(tx store.Tx) error {
			return tx.Put(bTxn, []byte("alice"), []byte("2x"))
		}, []string{`transaction counter "2x"`}},
		{"an entry record garbled", func(tx store.Tx) error {
			k, _ := first(tx, bEntry, "alice", false)
			return tx.Put(bEntry, k, []byte{entryV3, 0, 5, 'x'})
		}, []string{"entry record", "record too short"}},
		{"an entry key garbled", func(tx store.Tx) error {
			return tx.Put(bEntry, keys.New().Str("alice").Str(string(pts)).Str("").Str("x"), []byte{entryV3, 0})
		}, []string{"entry key"}},
		{"a lot missing from the lot ID index", func(tx store.Tx) error {
			return tx.Delete(bLotID, New(tx, time.UTC).lotIDKey(alice, "2.0"))
		}, []string{"member/alice/points:mall lot 2.0: missing from the lot ID index"}},
		{"a spent lot missing from the lot ID index", func(tx store.Tx) error {
			// Spent to zero, lot 1.0 has no record: its index entry is
			// all that lets a reversal give the 10 back to it.
			l := New(tx, time.UTC)
			ten := decimal.NewFromInt(10)
			if _, err := l.Post(Transaction{Time: at.Add(2 * time.Hour), Kind: "expired", Legs: []Leg{{Account: alice, Amount: ten.Neg(), Lot: "1.0"}, {Account: Pool(pts, "expired"), Amount: ten}}}); err != nil {
				return err
			}
			return tx.Delete(bLotID, l.lotIDKey(alice, "1.0"))
		}, []string{"member/alice/points:mall lot 1.0: credited (entry 4096), missing from the lot ID index"}},
		{"an index entry naming no lot", func(tx store.Tx) error {
			l := New(tx, time.UTC)
			v, err := tx.Get(bLotID, l.lotIDKey(alice, "1.0"))
			if err != nil {
				return err
			}
			return tx.Put(bLotID, l.lotIDKey(alice, "gift"), v)
		}, []string{"member/alice/points:mall lot gift: in the lot ID index, but no lot record or credit holds it"}},
		{"an index entry at other times than its lot", func(tx store.Tx) error {
			return tx.Put(bLotID, New(tx, time.UTC).lotIDKey(alice, "2.0"), keys.New().Time(time.Time{}).Time(at))
		}, []string{"member/alice/points:mall lot 2.0: the lot ID index places it at expiry never, granted 2026-03-01T10:00:00Z; its record at expiry never, granted 2026-03-01T11:00:00Z"}},
		{"an index entry garbled", func(tx store.Tx) error {
			return tx.Put(bLotID, New(tx, time.UTC).lotIDKey(alice, "2.0"), []byte{1, 2, 3})
		}, []string{"member/alice/points:mall lot 2.0: the lot ID index holds 3 bytes"}},
		{"an index key garbled", func(tx store.Tx) error {
			// "1.0" keyed as text: lookups key it by its numbers.
			return tx.Put(bLotID, keys.New().Str("alice").Str(string(pts)).Str("").Str("1.0"), make([]byte, lotTimesLen))
		}, []string{"lot ID index key"}},
		{"a lot key garbled", func(tx store.Tx) error {
			return tx.Put(bLot, keys.New().Str("alice").Str(string(pts)).Str("").Str("x"), []byte{lotV2})
		}, []string{"lot key"}},
		{"unreadable keys and a day's total changed", func(tx store.Tx) error {
			// Each unreadable key is one problem, and Verify goes on: the
			// changed total is reported too, and the garbled day key's 7
			// is not summed (the totals read 14, not 21).
			k, _ := first(tx, bDay, "", false)
			if err := tx.Put(bDay, k, []byte("14")); err != nil {
				return err
			}
			if err := tx.Put(bLot, keys.New().Str("alice").Str(string(pts)).Str("").Str("x"), []byte{lotV2}); err != nil {
				return err
			}
			if err := tx.Put(bLotID, keys.New().Str("alice").Str(string(pts)).Str("").Str("1.0"), make([]byte, lotTimesLen)); err != nil {
				return err
			}
			return tx.Put(bDay, []byte("garbled"), []byte("7"))
		}, []string{
			`ledger.lot: lot key "alice\x00points:mall\x00\x00x\x00", unreadable`,
			`ledger.lotid: lot ID index key "alice\x00points:mall\x00\x001.0\x00", unreadable`,
			`ledger.day: day key "garbled", unreadable`,
			"points:mall: totals per kind sum to 14, member balances to 15",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := memory.New()
			err := st.Update(ctx, func(tx store.Tx) error {
				l := New(tx, time.UTC)
				for i, a := range []int64{10, 5} {
					amt := decimal.NewFromInt(a)
					if _, err := l.Post(Transaction{Time: at.Add(time.Duration(i) * time.Hour), Kind: "earned", Legs: []Leg{{Account: alice, Amount: amt}, {Account: earned, Amount: amt.Neg()}}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.View(ctx, Verify); err != nil {
				t.Fatalf("Verify before the damage: %v", err)
			}
			if err := st.Update(ctx, c.damage); err != nil {
				t.Fatal(err)
			}
			err = st.View(ctx, Verify)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Verify = %v, want ErrCorrupt", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Verify = %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}
