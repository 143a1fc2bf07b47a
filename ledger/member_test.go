package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// earnOf is earn for any member's main account.
func earnOf(member, amount string, at time.Time) ledger.Transaction {
	return ledger.Transaction{Time: at, Kind: "earned", Legs: []ledger.Leg{
		{Account: ledger.MemberAccount(member, pts, ""), Amount: d(amount)},
		{Account: issued, Amount: d(amount).Neg()},
	}}
}

// spendOf is spend for any member's main account.
func spendOf(member, amount string, at time.Time) ledger.Transaction {
	return ledger.Transaction{Time: at, Kind: "redeemed", Legs: []ledger.Leg{
		{Account: ledger.MemberAccount(member, pts, ""), Amount: d(amount).Neg()},
		{Account: redeemed, Amount: d(amount)},
	}}
}

// Each member's transactions are numbered 1, 2, … by the member's own
// counter, and those between pools by theirs; what is built from the
// numbers (sequence numbers, lot IDs, record keys) stays apart per member.
func TestTxnNumbersPerMember(t *testing.T) {
	st := memory.New()
	move := ledger.Transaction{Time: t0, Kind: "transfer", Legs: []ledger.Leg{
		{Account: issued, Amount: d("-2")}, {Account: redeemed, Amount: d("2")},
	}}
	posted := mustPost(t, st,
		earnOf("alice", "10", t0),                  // alice 1
		earnOf("bob", "20", t0),                    // bob 1
		spendOf("alice", "4", t0.Add(time.Minute)), // alice 2
		move,                                     // pools 1
		spendOf("bob", "5", t0.Add(time.Minute)), // bob 2
		move,                                     // pools 2
		earnOf("bob", "1", t0.Add(2*time.Minute)), // bob 3
	)
	var txns []uint64
	var all []ledger.Entry
	for _, p := range posted {
		txns = append(txns, p.Txn)
		all = append(all, p.Entries...)
		for _, e := range p.Entries {
			if e.Txn != p.Txn || e.Seq>>12 != p.Txn {
				t.Errorf("entry %+v of transaction %d", e, p.Txn)
			}
			if !e.Account.IsMember() && !e.Balance.IsZero() {
				t.Errorf("pool entry %+v has a running balance", e)
			}
		}
	}
	if diff := cmp.Diff([]uint64{1, 1, 2, 1, 2, 2, 3}, txns); diff != "" {
		t.Errorf("transaction numbers (-want +got):\n%s", diff)
	}
	// Both members' first lots are "1.0"; bob's third transaction's is "3.0".
	if a, b, c := posted[0].Lots[0].ID, posted[1].Lots[0].ID, posted[6].Lots[0].ID; a != "1.0" || b != "1.0" || c != "3.0" {
		t.Errorf("lot IDs %q %q %q, want 1.0 1.0 3.0", a, b, c)
	}
	// The counters: one per member, and the pools' in ledger.meta.
	ks, vs := records(t, st, "ledger.txn")
	if got := fmt.Sprintf("%q %q", ks, vs); got != `["alice" "bob"] ["2" "3"]` {
		t.Errorf("member counters: %s", got)
	}
	ks, vs = records(t, st, "ledger.meta")
	if got := fmt.Sprintf("%q %q", ks, vs); got != `["txn"] ["2"]` {
		t.Errorf("pool counter: %s", got)
	}
	// Alice's 1 and bob's 1 follow each other, as do bob's 2 and the
	// pools' 2: the record keys and entries come back as posted.
	keys := ledger.RecordKeys(all)
	if len(keys) != 9 { // one per member posting, two per pool move
		t.Errorf("RecordKeys gave %d keys, want 9", len(keys))
	}
	view(t, st, func(l *ledger.Ledger) error {
		got, err := l.EntriesAt(keys)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("EntriesAt (-posted +read):\n%s", diff)
		}
		page, err := l.Statement(ledger.Query{Account: ledger.MemberAccount("bob", pts, "")})
		if err != nil {
			return err
		}
		var bal []string
		for _, e := range page.Entries {
			bal = append(bal, fmt.Sprint(e.Txn, ":", e.Balance))
		}
		if got := strings.Join(bal, " "); got != "1:20 2:15 3:16" {
			t.Errorf("bob's statement %s, want 1:20 2:15 3:16", got)
		}
		// issued: -(10+20+1) earned, -2 twice moved; redeemed: 4+5
		// spent, 2 twice moved in.
		for a, want := range map[ledger.Account]string{issued: "-35", redeemed: "13"} {
			if got, err := l.Balance(a); err != nil || got.String() != want {
				t.Errorf("%s = %s, %v; want %s", a, got, err, want)
			}
		}
		return nil
	})
	// Bob's next transaction is his 4th: he may not name lot "4.0", but
	// may name "2.0", which no transaction of his generates any more.
	for _, c := range []struct {
		lot  string
		want error
	}{{"4.0", ledger.ErrInvalid}, {"2.0", nil}} {
		err := update(t, st, func(l *ledger.Ledger) error {
			tr := earnOf("bob", "1", t0.Add(3*time.Minute))
			tr.Legs[0].Lot = c.lot
			_, err := l.Post(tr)
			return err
		})
		if !errors.Is(err, c.want) {
			t.Errorf("bob credits lot %s: %v, want %v", c.lot, err, c.want)
		}
	}
	checkVerify(t, st)
}

// snapshot returns every record of the ledger's buckets.
func snapshot(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range []string{"ledger.entry", "ledger.bal", "ledger.lot", "ledger.lotid", "ledger.day", "ledger.txn", "ledger.meta"} {
		ks, vs := records(t, st, b)
		for i, k := range ks {
			out[b+" "+string(k)] = string(vs[i])
		}
	}
	return out
}

// A transaction holding the accounts of two members is refused before
// anything is written, even inside a store transaction that commits.
func TestTwoMembersRefused(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earnOf("alice", "10", t0), earnOf("bob", "3", t0))
	before := snapshot(t, st)
	err := update(t, st, func(l *ledger.Ledger) error {
		_, err := l.Post(ledger.Transaction{Time: t0, Kind: "gift", Legs: []ledger.Leg{
			{Account: issued, Amount: d("-1")},
			{Account: alice, Amount: d("-2")},
			{Account: ledger.MemberAccount("bob", pts, ""), Amount: d("3")},
		}})
		if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), `member "bob" in a transaction of member "alice"`) {
			t.Errorf("Post of two members' accounts: %v, want ErrInvalid naming both", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, st)); diff != "" {
		t.Errorf("records after the refusal (-before +after):\n%s", diff)
	}
}

// stripeLedger runs fn with a ledger of n stripes in one store
// transaction.
func stripeLedger(t *testing.T, st store.Store, n int, fn func(l *ledger.Ledger) error) error {
	t.Helper()
	return st.Update(context.Background(), func(tx store.Tx) error {
		l := ledger.New(tx, shanghai)
		l.SetStripes(n)
		return fn(l)
	})
}

// sums is what the pool balances and daily totals read.
type sums struct {
	Issued, Redeemed string
	Day1, Day2       map[ledger.Kind]string
}

func readSums(t *testing.T, st store.Store, n int) sums {
	t.Helper()
	var s sums
	str := func(m map[ledger.Kind]decimal.Decimal) map[ledger.Kind]string {
		out := map[ledger.Kind]string{}
		for k, v := range m {
			out[k] = v.String()
		}
		return out
	}
	err := stripeLedger(t, st, n, func(l *ledger.Ledger) error {
		i, err := l.Balance(issued)
		if err != nil {
			return err
		}
		r, err := l.Balance(redeemed)
		if err != nil {
			return err
		}
		s.Issued, s.Redeemed = i.String(), r.String()
		d1, err := l.Totals(pts, "2026-11-24", "2026-11-24")
		if err != nil {
			return err
		}
		d2, err := l.Totals(pts, "2026-11-25", "2026-11-25")
		if err != nil {
			return err
		}
		s.Day1, s.Day2 = str(d1), str(d2)
		pools, err := l.Accounts("")
		if err != nil {
			return err
		}
		if len(pools) != 2 || !pools[issued].Equal(i) || !pools[redeemed].Equal(r) {
			t.Errorf("Accounts(\"\") = %v, want issued %s and redeemed %s", pools, i, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// postMany has 50 members m0…m49 earn i+1 points each on 24 November
// (Shanghai), and every third one (m0, m3, …, m48: 17 members) spend 1
// and earn 1 on the 25th, with a ledger of n stripes.
func postMany(t *testing.T, st store.Store, n int) {
	t.Helper()
	err := stripeLedger(t, st, n, func(l *ledger.Ledger) error {
		for i := range 50 {
			if _, err := l.Post(earnOf(fmt.Sprint("m", i), fmt.Sprint(i+1), t0)); err != nil {
				return err
			}
		}
		for i := 0; i < 50; i += 3 {
			m := fmt.Sprint("m", i)
			if _, err := l.Post(spendOf(m, "1", t0.Add(24*time.Hour))); err != nil {
				return err
			}
			if _, err := l.Post(earnOf(m, "1", t0.Add(25*time.Hour))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// manySums are postMany's sums, worked by hand: 1+2+…+50 = 1275 earned on
// the 24th; 17 redeemed and 17 earned on the 25th. issued is -(1275+17).
var manySums = sums{
	Issued: "-1292", Redeemed: "17",
	Day1: map[ledger.Kind]string{"earned": "1275"},
	Day2: map[ledger.Kind]string{"earned": "17", "redeemed": "-17"},
}

// With 7 stripes, many members' postings spread a pool's balance and the
// daily totals over stripes, and every reader sums them, whatever stripe
// count it has and the writer had.
func TestStripes(t *testing.T) {
	striped, plain, mixed := memory.New(), memory.New(), memory.New()
	postMany(t, striped, 7)
	postMany(t, plain, 1)
	// The history twice, with 7 stripes and then with 1.
	postMany(t, mixed, 7)
	postMany(t, mixed, 1)
	for _, c := range []struct {
		name string
		st   store.Store
	}{{"written with 7", striped}, {"written with 1", plain}} {
		for _, n := range []int{1, 7} {
			if diff := cmp.Diff(manySums, readSums(t, c.st, n)); diff != "" {
				t.Errorf("%s, read with %d (-want +got):\n%s", c.name, n, diff)
			}
		}
		checkVerify(t, c.st)
	}
	twice := sums{Issued: "-2584", Redeemed: "34",
		Day1: map[ledger.Kind]string{"earned": "2550"},
		Day2: map[ledger.Kind]string{"earned": "34", "redeemed": "-34"}}
	for _, n := range []int{1, 7} {
		if diff := cmp.Diff(twice, readSums(t, mixed, n)); diff != "" {
			t.Errorf("written with 7 and 1, read with %d (-want +got):\n%s", n, diff)
		}
	}
	checkVerify(t, mixed)

	// The stripes are there: with 7, the issued pool is kept under more
	// than one key, each a stripe suffix (NUL and 2 bytes) below 7; with
	// 1, under stripe 0 alone.
	poolKey := []byte("\x00points:mall\x00earned\x00")
	stripesOf := func(st store.Store) []int {
		var out []int
		ks, _ := records(t, st, "ledger.bal")
		for _, k := range ks {
			if bytes.HasPrefix(k, poolKey) {
				if len(k) != len(poolKey)+3 || k[len(poolKey)] != 0 {
					t.Errorf("pool balance key %q is not a stripe's", k)
					continue
				}
				out = append(out, int(k[len(k)-2])<<8|int(k[len(k)-1]))
			}
		}
		return out
	}
	if s := stripesOf(striped); len(s) < 2 || s[len(s)-1] >= 7 {
		t.Errorf("issued stripes with 7: %v", s)
	}
	if s := stripesOf(plain); !cmp.Equal(s, []int{0}) {
		t.Errorf("issued stripes with 1: %v, want [0]", s)
	}
	// Day totals are striped as well: more than one key for the 24th's
	// earnings.
	ks, _ := records(t, striped, "ledger.day")
	n := 0
	for _, k := range ks {
		if bytes.HasPrefix(k, []byte("points:mall\x002026-11-24\x00earned\x00")) {
			n++
		}
	}
	if n < 2 {
		t.Errorf("day total of the 24th in %d stripes, want several", n)
	}
	// A transaction between pools adds to stripe 0, whatever the count.
	pools := memory.New()
	err := stripeLedger(t, pools, 7, func(l *ledger.Ledger) error {
		_, err := l.Post(ledger.Transaction{Time: t0, Kind: "transfer", Legs: []ledger.Leg{
			{Account: issued, Amount: d("-2")}, {Account: redeemed, Amount: d("2")},
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := stripesOf(pools); !cmp.Equal(s, []int{0}) {
		t.Errorf("issued stripes of a transaction between pools: %v, want [0]", s)
	}
}

// tamper runs fn on the store's raw records.
func tamper(t *testing.T, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// deleteUnder deletes the records of bucket under prefix.
func deleteUnder(tx store.Tx, bucket, prefix string) error {
	var ks [][]byte
	err := tx.Scan(bucket, []byte(prefix), store.PrefixEnd([]byte(prefix)), false, func(k, _ []byte) error {
		ks = append(ks, append([]byte(nil), k...))
		return nil
	})
	for _, k := range ks {
		if err == nil {
			err = tx.Delete(bucket, k)
		}
	}
	return err
}

// Verify finds a pool stripe that disagrees with the pool's entries,
// whatever stripe it is, and balance or day keys that are not stripes'.
func TestVerifyFindsTamperedStripe(t *testing.T) {
	const poolKey = "\x00points:mall\x00earned\x00"
	for _, c := range []struct {
		name string
		fn   func(tx store.Tx) error
		want string
	}{
		{"stripe changed", func(tx store.Tx) error {
			// The first stripe of the issued pool holds one point more.
			var k, v []byte
			err := tx.Scan("ledger.bal", []byte(poolKey), store.PrefixEnd([]byte(poolKey)), false, func(key, val []byte) error {
				k, v = append([]byte(nil), key...), append([]byte(nil), val...)
				return store.StopScan
			})
			if err != nil {
				return err
			}
			amt, err := codec.ParseAmount(v)
			if err != nil {
				return err
			}
			return tx.Put("ledger.bal", k, codec.Amount(amt.Add(d("1"))))
		}, "pool/points:mall/earned: balance -1291, entries sum to -1292"},
		{"stripe added beyond the count", func(tx store.Tx) error {
			return tx.Put("ledger.bal", []byte(poolKey+"\x00\x00\x09"), codec.Amount(d("1")))
		}, "pool/points:mall/earned: balance -1291, entries sum to -1292"},
		{"pool balance not in a stripe", func(tx store.Tx) error {
			return tx.Put("ledger.bal", []byte(poolKey), codec.Amount(d("1")))
		}, "balance key"},
		{"day total not in a stripe", func(tx store.Tx) error {
			return tx.Put("ledger.day", []byte("points:mall\x002026-11-24\x00earned\x00"), codec.Amount(d("1")))
		}, "day key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := memory.New()
			postMany(t, st, 7)
			checkVerify(t, st)
			tamper(t, st, c.fn)
			err := st.View(context.Background(), ledger.Verify)
			if !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify = %v, want ErrCorrupt saying %q", err, c.want)
			}
		})
	}
}

// Verify sums each transaction per member: alice's transaction 1 short by
// 5 and bob's transaction 1 over by 5 are both found, though together
// they would sum to zero, and so is the pools' transaction 1 short by 2.
func TestVerifyFindsUnbalancedPerMember(t *testing.T) {
	st := memory.New()
	// Each posts 5 to main and 5 to frozen from the pool; the main
	// entry's record carries the pool leg of -10.
	both := func(member string) ledger.Transaction {
		return ledger.Transaction{Time: t0, Kind: "earned", Legs: []ledger.Leg{
			{Account: ledger.MemberAccount(member, pts, ""), Amount: d("5")},
			{Account: ledger.MemberAccount(member, pts, "frozen"), Amount: d("5")},
			{Account: issued, Amount: d("-10")},
		}}
	}
	move := ledger.Transaction{Time: t0, Kind: "transfer", Legs: []ledger.Leg{
		{Account: issued, Amount: d("-2")}, {Account: redeemed, Amount: d("2")},
	}}
	mustPost(t, st, both("alice"), both("bob"), move)
	checkVerify(t, st)
	tamper(t, st, func(tx store.Tx) error {
		// Alice's transaction keeps +5 and -10; bob's keeps +5; the
		// pools' keeps -2.
		if err := deleteUnder(tx, "ledger.entry", "alice\x00points:mall\x00frozen\x00"); err != nil {
			return err
		}
		if err := deleteUnder(tx, "ledger.entry", "\x00points:mall\x00redeemed\x00"); err != nil {
			return err
		}
		return deleteUnder(tx, "ledger.entry", "bob\x00points:mall\x00\x00")
	})
	err := st.View(context.Background(), ledger.Verify)
	for _, want := range []string{
		`transaction 1 of member "alice": points:mall legs sum to -5`,
		`transaction 1 of member "bob": points:mall legs sum to 5`,
		`transaction 1 between pools: points:mall legs sum to -2`,
	} {
		if !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify = %v, want ErrCorrupt saying %q", err, want)
		}
	}
}

// Sequence hands out, per member, the number of the transaction the
// Ledger just posted (once), else the counter advanced by one: numbers
// that only grow, never shared with a transaction.
func TestSequence(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	var got []uint64
	err := st.Update(ctx, func(tx store.Tx) error {
		l := ledger.New(tx, time.UTC)
		seq := func(m string) {
			n, err := l.Sequence(m)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if _, err := l.Post(earnOf("alice", "10", t0)); err != nil { // alice 1
			return err
		}
		seq("alice") // 1: the transaction just posted
		seq("alice") // 2: the counter advanced
		if p, err := l.Post(earnOf("alice", "1", t0)); err != nil || p.Txn != 3 {
			t.Errorf("post after two sequences: %d, %v; want 3", p.Txn, err)
		}
		seq("bob")   // 1
		seq("alice") // 4: her counter (3) advanced; bob's sequence came after her posting
		seq("")      // 1: the pools' counter
		l2 := ledger.New(tx, time.UTC)
		n, err := l2.Sequence("alice") // a new Ledger reads the counter
		got = append(got, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// alice: post 1, seq 1, seq 2, post 3; bob: seq 1; alice: seq → 4
	// (the Ledger's last posting was alice's 3, but bob's sequence came
	// after it, so alice's counter advances); pools: 1; a new Ledger: 5.
	if want := []uint64{1, 2, 1, 4, 1, 5}; !cmp.Equal(got, want) {
		t.Errorf("sequences %v, want %v", got, want)
	}
}
