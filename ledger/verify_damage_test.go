package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
			st := earnedTwice(t, alice, earned, at)
			if err := st.Update(ctx, c.damage); err != nil {
				t.Fatal(err)
			}
			err := st.View(ctx, Verify)
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

// Verify lists a record it cannot read as one problem naming its bucket
// and key, goes on without it, and skips only the checks that would need
// what it holds: the exact problems are listed for each kind of record,
// alone and beside a damage found after it. The store is
// TestVerifyFindsEachDamage's: alice earned 10 at 10:00 (transaction 1,
// entry 4096 = 1<<12, lot 1.0) and 5 at 11:00 (transaction 2, entry 8192,
// lot 2.0), her balance 15, her counter 2, the earned pool -15 and the
// day's total of earned points 15. Keys are built as encode.go lays them
// out: account (member, asset, sub, each ending in 0), then an entry's
// time and number, or a lot's expiry (never), grant and ID.
func TestVerifyListsUnreadableRecords(t *testing.T) {
	ctx := context.Background()
	pts := Points("mall")
	alice := MemberAccount("alice", pts, "")
	earned := Pool(pts, "earned")
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	acct := keys.New().Str("alice").Str("points:mall").Str("")
	entryKey := func(hour int, seq uint64) []byte {
		return append(acct[:len(acct):len(acct)], keys.New().Time(at.Add(time.Duration(hour)*time.Hour)).U64(seq)...)
	}
	lotKey := func(hour int, id string) []byte {
		return append(acct[:len(acct):len(acct)], keys.New().Time(time.Time{}).Time(at.Add(time.Duration(hour)*time.Hour)).Str(id)...)
	}
	k1, k2 := entryKey(0, 1<<12), entryKey(1, 2<<12)
	lot1 := lotKey(0, "1.0")
	// A record of the kind in the entry's version, cut short: its kind
	// is 5 bytes long, and one follows.
	shortEntry := []byte{entryV3, 0, 5, 'x'}
	dayKey := func(tx store.Tx) []byte {
		// The day's one total, in the stripe alice's postings chose.
		var k []byte
		tx.Scan(bDay, nil, nil, false, func(kk, _ []byte) error {
			k = append([]byte(nil), kk...)
			return store.StopScan
		})
		if k == nil {
			t.Fatal("no day total")
		}
		return k
	}
	// postGrowth posts alice's transaction 3 at 12:00: 3 points and 2
	// growth earned.
	postGrowth := func(tx store.Tx) error {
		three, two := decimal.NewFromInt(3), decimal.NewFromInt(2)
		_, err := New(tx, time.UTC).Post(Transaction{Time: at.Add(2 * time.Hour), Kind: "earned", Legs: []Leg{
			{Account: alice, Amount: three}, {Account: earned, Amount: three.Neg()},
			{Account: MemberAccount("alice", Growth, ""), Amount: two}, {Account: Pool(Growth, "earned"), Amount: two.Neg()},
		}})
		return err
	}
	growthKey := func(seq uint64) []byte {
		return keys.New().Str("alice").Str("growth").Str("").Time(at.Add(2 * time.Hour)).U64(seq)
	}
	balanceOutOfStep := []string{
		// As in TestVerifyFindsEachDamage: alice's balance 16 against her
		// entries' and lots' 15, the accounts 16 - 15, the totals 15.
		"member/alice/points:mall: balance 16, entries sum to 15",
		"member/alice/points:mall: balance 16, open lots sum to 15",
		"points:mall: accounts sum to 1, not zero",
		"points:mall: totals per kind sum to 15, member balances to 16",
	}
	for _, c := range []struct {
		name string
		// damage damages the store and returns the problems Verify must
		// list, no more, no fewer.
		damage func(tx store.Tx) ([]string, error)
	}{
		{"an entry record", func(tx store.Tx) ([]string, error) {
			// Her running balances stop at entry 4096, her balance and the
			// pool's are not compared with their entries (15 against 5,
			// -15 against -5), and transaction 1 is not summed.
			return []string{
				fmt.Sprintf("ledger.entry: entry record %q, unreadable: codec: record too short", k1),
			}, tx.Put(bEntry, k1, shortEntry)
		}},
		{"an entry record after a changed one", func(tx store.Tx) ([]string, error) {
			// Entry 4096 says 10.01: its transaction and running balance
			// are still checked, the entries from 8192 on are not, nor her
			// balance against them.
			v, err := tx.Get(bEntry, k1)
			if err != nil {
				return nil, err
			}
			es, err := appendEntries(nil, alice, len(k1)-entryKeyLen, k1, v, true)
			if err != nil {
				return nil, err
			}
			es[0].Amount = decimal.RequireFromString("10.01")
			if err := tx.Put(bEntry, k1, appendEntry(nil, es[0], es[1:])); err != nil {
				return nil, err
			}
			return []string{
				`transaction 1 of member "alice": points:mall legs sum to 0.01`,
				"member/alice/points:mall entry 4096: running balance 10.01, recorded 10",
				fmt.Sprintf("ledger.entry: entry record %q, unreadable: codec: record too short", k2),
			}, tx.Put(bEntry, k2, shortEntry)
		}},
		{"an entry record and the counter behind", func(tx store.Tx) ([]string, error) {
			// The unread entry's key still numbers transaction 2, which
			// the counter at 1 is behind.
			if err := tx.Put(bEntry, k2, shortEntry); err != nil {
				return nil, err
			}
			return []string{
				fmt.Sprintf("ledger.entry: entry record %q, unreadable: codec: record too short", k2),
				`member "alice": transaction counter stands at 1, behind transaction 2`,
			}, tx.Put(bTxn, []byte("alice"), []byte("1"))
		}},
		{"an entry key cut short", func(tx store.Tx) ([]string, error) {
			// Entry 8192 under its key less its last byte: the key names
			// alice's account, whose entries are then not all known, so
			// neither her balance nor the pool's is compared with them
			// (15 against 10, -15 against -10).
			v, err := tx.Get(bEntry, k2)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bEntry, k2); err != nil {
				return nil, err
			}
			cut := k2[:len(k2)-1]
			return []string{
				fmt.Sprintf("ledger.entry: entry key %q, unreadable", cut),
			}, tx.Put(bEntry, cut, v)
		}},
		{"an entry record of a transaction with a leg read", func(tx store.Tx) ([]string, error) {
			// Transaction 3 credits 3 points and 2 growth: its legs are
			// placed 0 to 3 as given, the points entry (12288 = 3<<12)
			// carries both pool legs, and the growth entry 12290 is
			// garbled. The growth pool's -2 is not summed alone.
			if err := postGrowth(tx); err != nil {
				return nil, err
			}
			k := growthKey(12290)
			return []string{
				fmt.Sprintf("ledger.entry: entry record %q, unreadable: codec: record too short", k),
			}, tx.Put(bEntry, k, shortEntry)
		}},
		{"an entry key of a transaction with a leg read cut short", func(tx store.Tx) ([]string, error) {
			// The growth entry of transaction 3 under its key less its
			// last byte: its number unknown, none of alice's
			// transactions is summed (the 3rd's growth legs read -2).
			if err := postGrowth(tx); err != nil {
				return nil, err
			}
			k := growthKey(12290)
			v, err := tx.Get(bEntry, k)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bEntry, k); err != nil {
				return nil, err
			}
			cut := k[:len(k)-1]
			return []string{
				fmt.Sprintf("ledger.entry: entry key %q, unreadable", cut),
			}, tx.Put(bEntry, cut, v)
		}},
		{"an entry record crediting a spent lot", func(tx store.Tx) ([]string, error) {
			// Lot 1.0 expired to zero has no record, only its index entry
			// and entry 4096's credit; that entry unread, the index
			// entry is not reported as held by nothing.
			ten := decimal.NewFromInt(10)
			if _, err := New(tx, time.UTC).Post(Transaction{Time: at.Add(2 * time.Hour), Kind: "expired", Legs: []Leg{{Account: alice, Amount: ten.Neg(), Lot: "1.0"}, {Account: Pool(pts, "expired"), Amount: ten}}}); err != nil {
				return nil, err
			}
			return []string{
				fmt.Sprintf("ledger.entry: entry record %q, unreadable: codec: record too short", k1),
			}, tx.Put(bEntry, k1, shortEntry)
		}},
		{"an entry key naming no account and a balance out of step", func(tx store.Tx) ([]string, error) {
			// Nothing says whose entry it is: it skips no check.
			if err := tx.Put(bEntry, []byte("garbled"), []byte{entryV3, 0}); err != nil {
				return nil, err
			}
			return append([]string{`ledger.entry: entry key "garbled", unreadable`}, balanceOutOfStep...),
				tx.Put(bBal, acct, []byte("16"))
		}},
		{"a balance record and a lot missing from the lot ID index", func(tx store.Tx) ([]string, error) {
			// Her balance unknown, it is compared with nothing, and the
			// accounts and the totals are not summed.
			if err := tx.Put(bBal, acct, []byte("1x")); err != nil {
				return nil, err
			}
			return []string{
				`ledger.bal: balance record "alice\x00points:mall\x00\x00", unreadable: "1x" is not an amount`,
				"member/alice/points:mall lot 2.0: missing from the lot ID index",
			}, tx.Delete(bLotID, New(tx, time.UTC).lotIDKey(alice, "2.0"))
		}},
		{"a balance key", func(tx store.Tx) ([]string, error) {
			// Her balance under her key and an "x": it names her
			// account, whose balance (0 as read) is then not compared.
			v, err := tx.Get(bBal, acct)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bBal, acct); err != nil {
				return nil, err
			}
			return []string{
				`ledger.bal: balance key "alice\x00points:mall\x00\x00x", unreadable`,
			}, tx.Put(bBal, append(acct[:len(acct):len(acct)], 'x'), v)
		}},
		{"a counter and a day's total changed", func(tx store.Tx) ([]string, error) {
			// Her counter unknown is not compared (it read 0, behind 2).
			if err := tx.Put(bTxn, []byte("alice"), []byte("2x")); err != nil {
				return nil, err
			}
			return []string{
				`ledger.txn: counter record "alice", unreadable: transaction counter "2x"`,
				"points:mall: totals per kind sum to 14, member balances to 15",
			}, tx.Put(bDay, dayKey(tx), []byte("14"))
		}},
		{"the pools' counter", func(tx store.Tx) ([]string, error) {
			// A transfer between pools is their transaction 1.
			three := decimal.NewFromInt(3)
			_, err := New(tx, time.UTC).Post(Transaction{Time: at, Kind: "transfer", Legs: []Leg{{Account: earned, Amount: three}, {Account: Pool(pts, "redeemed"), Amount: three.Neg()}}})
			if err != nil {
				return nil, err
			}
			return []string{
				`ledger.meta: counter record "txn", unreadable: transaction counter "x"`,
			}, tx.Put(bMeta, txnKey, []byte("x"))
		}},
		{"a lot key", func(tx store.Tx) ([]string, error) {
			// Lot 2.0's record under a key with no times: her lots are
			// not all known, so her balance is not compared with them
			// (15 against 10).
			k := lotKey(1, "2.0")
			v, err := tx.Get(bLot, k)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bLot, k); err != nil {
				return nil, err
			}
			return []string{
				`ledger.lot: lot key "alice\x00points:mall\x00\x00x\x00", unreadable`,
			}, tx.Put(bLot, keys.New().Str("alice").Str("points:mall").Str("").Str("x"), v)
		}},
		{"a lot ID index key", func(tx store.Tx) ([]string, error) {
			// Lot 2.0's index entry keyed by its ID as text, where
			// lookups key it by its numbers: her index entries are not
			// all known, so lot 2.0 is not reported missing from it.
			l := New(tx, time.UTC)
			v, err := tx.Get(bLotID, l.lotIDKey(alice, "2.0"))
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bLotID, l.lotIDKey(alice, "2.0")); err != nil {
				return nil, err
			}
			return []string{
				`ledger.lotid: lot ID index key "alice\x00points:mall\x00\x002.0\x00", unreadable`,
			}, tx.Put(bLotID, keys.New().Str("alice").Str("points:mall").Str("").Str("2.0"), v)
		}},
		{"a lot ID index key of a numeric ID cut short", func(tx store.Tx) ([]string, error) {
			// Lot 2.0's index key is her account, a NUL, transaction 2
			// in 8 bytes and leg 0 in 2. Less its last byte it ends in
			// the leg's high byte, a NUL, as a text ID's key does: that
			// ID, a NUL and the 8 bytes of 2, holds a NUL no posting
			// takes, so the key is unreadable, not a lot that no record
			// holds beside lot 2.0 missing from the index. After
			// "points:mall": the asset's and the empty sub's separators,
			// the NUL, 7 zero bytes and 2 of the transaction, the leg's
			// zero high byte.
			l := New(tx, time.UTC)
			k := l.lotIDKey(alice, "2.0")
			k = append([]byte(nil), k...)
			v, err := tx.Get(bLotID, k)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bLotID, k); err != nil {
				return nil, err
			}
			return []string{
				`ledger.lotid: lot ID index key "alice\x00points:mall\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00", unreadable`,
			}, tx.Put(bLotID, k[:len(k)-1], v)
		}},
		{"a lot record and its index entry at other times", func(tx store.Tx) ([]string, error) {
			// Lot 1.0's amounts unknown, her balance is not compared with
			// her lots (15 against 5); its key still places it at 10:00,
			// where the index no longer does.
			if err := tx.Put(bLot, lot1, []byte{lotV2}); err != nil {
				return nil, err
			}
			return []string{
				fmt.Sprintf("ledger.lot: lot record %q, unreadable: codec: record too short", lot1),
				"member/alice/points:mall lot 1.0: the lot ID index places it at expiry never, granted 2026-03-01T11:00:00Z; its record at expiry never, granted 2026-03-01T10:00:00Z",
			}, tx.Put(bLotID, New(tx, time.UTC).lotIDKey(alice, "1.0"), keys.New().Time(time.Time{}).Time(at.Add(time.Hour)))
		}},
		{"a day key", func(tx store.Tx) ([]string, error) {
			// The day's total without its stripe suffix: the key still
			// names the asset, whose totals are then not compared (0
			// against 15).
			k := dayKey(tx)
			v, err := tx.Get(bDay, k)
			if err != nil {
				return nil, err
			}
			if err := tx.Delete(bDay, k); err != nil {
				return nil, err
			}
			base := keys.New().Str("points:mall").Str("2026-03-01").Str("earned")
			return []string{
				`ledger.day: day key "points:mall\x002026-03-01\x00earned\x00", unreadable`,
			}, tx.Put(bDay, base, v)
		}},
		{"a day record and a balance out of step", func(tx store.Tx) ([]string, error) {
			// The totals unknown are not compared with her 16.
			k := dayKey(tx)
			if err := tx.Put(bDay, k, []byte("1x")); err != nil {
				return nil, err
			}
			return append([]string{fmt.Sprintf(`ledger.day: day record %q, unreadable: "1x" is not an amount`, k)}, balanceOutOfStep[:3]...),
				tx.Put(bBal, acct, []byte("16"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := earnedTwice(t, alice, earned, at)
			var want []string
			err := st.Update(ctx, func(tx store.Tx) (err error) {
				want, err = c.damage(tx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			err = st.View(ctx, Verify)
			var got []string
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					msg, ok := strings.CutPrefix(e.Error(), ErrCorrupt.Error()+": ")
					if !ok || !errors.Is(e, ErrCorrupt) {
						t.Errorf("problem %q does not wrap ErrCorrupt", e)
					}
					got = append(got, msg)
				}
			} else {
				t.Fatalf("Verify = %v, want the problems joined", err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify's problems (-want +got):\n%s", diff)
			}
		})
	}
}

// earnedTwice returns a memory store where alice earned 10 points at at
// and 5 an hour later from the earned pool, which Verify finds sound.
func earnedTwice(t *testing.T, alice, earned Account, at time.Time) store.Store {
	t.Helper()
	ctx := context.Background()
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
	return st
}
