package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

var (
	shanghai = mustZone("Asia/Shanghai")
	pts      = ledger.Points("mall")
	alice    = ledger.MemberAccount("alice", pts, "")
	frozen   = ledger.MemberAccount("alice", pts, "frozen")
	issued   = ledger.Pool(pts, "earned")
	redeemed = ledger.Pool(pts, "redeemed")
	t0       = time.Date(2026, 11, 24, 10, 0, 0, 0, shanghai)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// update runs fn with a ledger in one store transaction.
func update(t *testing.T, st store.Store, fn func(l *ledger.Ledger) error) error {
	t.Helper()
	return st.Update(context.Background(), func(tx store.Tx) error { return fn(ledger.New(tx, shanghai)) })
}

func view(t *testing.T, st store.Store, fn func(l *ledger.Ledger) error) {
	t.Helper()
	if err := st.View(context.Background(), func(tx store.Tx) error { return fn(ledger.New(tx, shanghai)) }); err != nil {
		t.Fatal(err)
	}
}

func earn(amount string, at, expires time.Time) ledger.Transaction {
	return ledger.Transaction{Time: at, Kind: "earned", Legs: []ledger.Leg{
		{Account: alice, Amount: d(amount), Expires: expires},
		{Account: issued, Amount: d(amount).Neg()},
	}}
}

func spend(amount string, at time.Time) ledger.Transaction {
	return ledger.Transaction{Time: at, Kind: "redeemed", Legs: []ledger.Leg{
		{Account: alice, Amount: d(amount).Neg()},
		{Account: redeemed, Amount: d(amount)},
	}}
}

func mustPost(t *testing.T, st store.Store, txs ...ledger.Transaction) []ledger.Posted {
	t.Helper()
	var out []ledger.Posted
	err := update(t, st, func(l *ledger.Ledger) error {
		for _, tr := range txs {
			p, err := l.Post(tr)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func balance(t *testing.T, st store.Store, a ledger.Account) string {
	t.Helper()
	var b decimal.Decimal
	view(t, st, func(l *ledger.Ledger) error {
		var err error
		b, err = l.Balance(a)
		return err
	})
	return b.String()
}

func TestPostRejects(t *testing.T) {
	bobPts := ledger.MemberAccount("bob", pts, "")
	tests := []struct {
		name string
		tx   ledger.Transaction
		want error
	}{
		{"unbalanced", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("5")}, {Account: issued, Amount: d("-4")}}}, ledger.ErrUnbalanced},
		{"one leg", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("5")}}}, ledger.ErrInvalid},
		{"no time", ledger.Transaction{Kind: "x", Legs: earn("1", t0, time.Time{}).Legs}, ledger.ErrInvalid},
		{"no kind", ledger.Transaction{Time: t0, Legs: earn("1", t0, time.Time{}).Legs}, ledger.ErrInvalid},
		{"zero leg", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("0")}, {Account: issued, Amount: d("0")}}}, ledger.ErrInvalid},
		{"pool without name", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("1")}, {Account: ledger.Account{Asset: pts}, Amount: d("-1")}}}, ledger.ErrInvalid},
		{"overspend", spend("101", t0), ledger.ErrInsufficientBalance},
		{"unknown lot", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("-1"), Lot: "nope"}, {Account: redeemed, Amount: d("1")}}}, ledger.ErrUnknownLot},
		// Sums past 18 digits leave the fast path: 999…9 + 999…9 − 1 is
		// unbalanced by 999…9 only a long sum can hold.
		{"unbalanced past 18 digits", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("999999999999999999")}, {Account: frozen, Amount: d("999999999999999999")}, {Account: issued, Amount: d("-999999999999999999")}}}, ledger.ErrUnbalanced},
		{"two members", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("-1")}, {Account: bobPts, Amount: d("1")}}}, ledger.ErrInvalid},
		{"unbalanced by 1e-30", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("1.000000000000000000000000000001")}, {Account: issued, Amount: d("-1")}}}, ledger.ErrUnbalanced},
		// Transaction 2 would generate lot "2.0": a credit may not name it.
		{"NUL in a lot id", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("1"), Lot: "a\x00b"}, {Account: issued, Amount: d("-1")}}}, ledger.ErrInvalid},
		{"reserved lot id", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("1"), Lot: "2.0"}, {Account: issued, Amount: d("-1")}}}, ledger.ErrInvalid},
		{"balanced across assets only", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("1")}, {Account: ledger.Pool(ledger.Growth, "earned"), Amount: d("-1")}}}, ledger.ErrUnbalanced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memory.New()
			mustPost(t, st, earn("100", t0, time.Time{}))
			err := update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(tt.tx); return err })
			if !errors.Is(err, tt.want) {
				t.Fatalf("Post: got %v, want %v", err, tt.want)
			}
			if got := balance(t, st, alice); got != "100" {
				t.Errorf("balance after rejected post = %s, want 100", got)
			}
		})
	}
}

// A rejected Post inside a transaction that goes on writes nothing itself.
func TestPostAtomicWithinTransaction(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	err := update(t, st, func(l *ledger.Ledger) error {
		tr := spend("4", t0)
		tr.Legs = append(tr.Legs, ledger.Leg{Account: frozen, Amount: d("-1")}, ledger.Leg{Account: redeemed, Amount: d("1")})
		if _, err := l.Post(tr); !errors.Is(err, ledger.ErrInsufficientBalance) {
			return fmt.Errorf("want insufficient, got %v", err)
		}
		_, err := l.Post(spend("3", t0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(t, st, alice); got != "7" {
		t.Errorf("balance = %s, want 7", got)
	}
	checkVerify(t, st)
}

func checkVerify(t *testing.T, st store.Store) {
	t.Helper()
	if err := st.View(context.Background(), ledger.Verify); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestDebitOrderAndExpiry(t *testing.T) {
	st := memory.New()
	jan := time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)
	feb := time.Date(2027, 2, 1, 0, 0, 0, 0, shanghai)
	posted := mustPost(t, st,
		earn("10", t0, time.Time{}),                             // never expires: spent last
		earn("20", t0.Add(time.Hour), feb),                      // later expiry
		earn("30", t0.Add(2*time.Hour), jan),                    // earliest expiry, later grant
		earn("40", t0.Add(-time.Hour), jan),                     // earliest expiry, earliest grant
		earn("5", t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)), // already expired: not spendable
	)
	lotID := func(i int) string { return posted[i].Lots[0].ID }
	got := mustPost(t, st, spend("75", t0.Add(3*time.Hour)))[0].Takes
	want := []ledger.Take{
		{Account: alice, Lot: lotID(3), Amount: d("40"), Expires: jan.UTC(), Granted: t0.Add(-time.Hour).UTC()},
		{Account: alice, Lot: lotID(2), Amount: d("30"), Expires: jan.UTC(), Granted: t0.Add(2 * time.Hour).UTC()},
		{Account: alice, Lot: lotID(1), Amount: d("5"), Expires: feb.UTC(), Granted: t0.Add(time.Hour).UTC()},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("takes (-want +got):\n%s", diff)
	}
	// 15 from the Feb lot and 10 permanent are spendable; the expired 5 is not.
	err := update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(spend("26", t0.Add(4*time.Hour))); return err })
	if !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("spend beyond live lots: %v", err)
	}
	// At 24:00 of Jan 31 the Feb lot is gone too: lots are valid strictly before expiry.
	err = update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(spend("11", feb)); return err })
	if !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("spend at the expiry instant: %v", err)
	}
	mustPost(t, st, spend("25", t0.Add(5*time.Hour)))
	// The expired lot is expired by naming it.
	mustPost(t, st, ledger.Transaction{Time: t0.Add(6 * time.Hour), Kind: "expired", Legs: []ledger.Leg{
		{Account: alice, Amount: d("-5"), Lot: lotID(4)}, {Account: ledger.Pool(pts, "expired"), Amount: d("5")},
	}})
	if got := balance(t, st, alice); got != "0" {
		t.Errorf("balance = %s, want 0", got)
	}
	checkVerify(t, st)
}

func TestLotMovesAndReturns(t *testing.T) {
	st := memory.New()
	exp := time.Date(2027, 12, 31, 0, 0, 0, 0, shanghai)
	lot := mustPost(t, st, earn("50", t0, exp))[0].Lots[0]
	frozen := ledger.MemberAccount("alice", pts, "frozen")
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "frozen", Legs: []ledger.Leg{
		{Account: alice, Amount: d("-50"), Lot: lot.ID},
		{Account: frozen, Amount: d("50"), Lot: lot.ID, Expires: lot.Expires, Granted: lot.Granted},
	}})
	if got := balance(t, st, alice); got != "0" {
		t.Fatalf("available after freeze = %s", got)
	}
	back := mustPost(t, st, ledger.Transaction{Time: t0.Add(time.Hour), Kind: "restored", Legs: []ledger.Leg{
		{Account: frozen, Amount: d("-50"), Lot: lot.ID},
		{Account: alice, Amount: d("50"), Lot: lot.ID},
	}})[0]
	if got := back.Lots[0]; got.ID != lot.ID || !got.Expires.Equal(exp) || !got.Amount.Equal(d("50")) {
		t.Errorf("restored lot = %+v, want id %s expiring %s", got, lot.ID, exp)
	}
	// Spend 20, then reverse 15 of it into the same lot.
	take := mustPost(t, st, spend("20", t0.Add(2*time.Hour)))[0].Takes[0]
	mustPost(t, st, ledger.Transaction{Time: t0.Add(3 * time.Hour), Kind: "reversed", Legs: []ledger.Leg{
		{Account: alice, Amount: d("15"), Lot: take.Lot}, {Account: redeemed, Amount: d("-15")},
	}})
	var lots []ledger.Lot
	view(t, st, func(l *ledger.Ledger) error { var err error; lots, err = l.Lots(alice); return err })
	if len(lots) != 1 || lots[0].ID != lot.ID || !lots[0].Amount.Equal(d("45")) {
		t.Errorf("lots = %+v, want one lot %s of 45", lots, lot.ID)
	}
	checkVerify(t, st)
}

func TestStatementPaging(t *testing.T) {
	st := memory.New()
	var txs []ledger.Transaction
	for i := 0; i < 25; i++ {
		txs = append(txs, earn("1", t0.Add(time.Duration(i)*time.Minute), time.Time{}))
	}
	txs = append(txs, spend("5", t0.Add(30*time.Minute)))
	mustPost(t, st, txs...)
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		var page ledger.Page
		view(t, st, func(l *ledger.Ledger) error {
			var err error
			page, err = l.Statement(ledger.Query{Account: alice, Limit: 10, Cursor: cursor})
			return err
		})
		for _, e := range page.Entries {
			seen = append(seen, e.Balance.String())
		}
		if page.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cursor = page.Next
	}
	if len(seen) != 26 || seen[0] != "1" || seen[24] != "25" || seen[25] != "20" {
		t.Errorf("running balances = %v", seen)
	}
	var newest ledger.Page
	view(t, st, func(l *ledger.Ledger) error {
		var err error
		newest, err = l.Statement(ledger.Query{Account: alice, Limit: 2, Newest: true, Kinds: []ledger.Kind{"earned"}})
		return err
	})
	if len(newest.Entries) != 2 || newest.Entries[0].Balance.String() != "25" || newest.Entries[1].Balance.String() != "24" {
		t.Errorf("newest earned = %+v", newest.Entries)
	}
	var window ledger.Page
	view(t, st, func(l *ledger.Ledger) error {
		var err error
		window, err = l.Statement(ledger.Query{Account: alice, From: t0.Add(10 * time.Minute), To: t0.Add(12 * time.Minute)})
		return err
	})
	if len(window.Entries) != 2 || window.Entries[0].Balance.String() != "11" {
		t.Errorf("time window = %+v", window.Entries)
	}
	err := st.View(context.Background(), func(tx store.Tx) error {
		_, err := ledger.New(tx, shanghai).Statement(ledger.Query{Account: alice, Cursor: "zz"})
		return err
	})
	if !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
}

// An entry's Cursor goes on after it, in either order, as a page's Next
// does after the page's last entry (the last page has none): a reader that stopped part way
// through a page resumes from the last entry it used.
func TestEntryCursor(t *testing.T) {
	st := memory.New()
	var txs []ledger.Transaction
	for i := 0; i < 12; i++ {
		// Two entries an instant: the cursor holds the entry number too.
		txs = append(txs, earn("1", t0.Add(time.Duration(i/2)*time.Minute), time.Time{}))
	}
	mustPost(t, st, txs...)
	statement := func(q ledger.Query) ledger.Page {
		t.Helper()
		var page ledger.Page
		view(t, st, func(l *ledger.Ledger) error { var err error; page, err = l.Statement(q); return err })
		return page
	}
	all := statement(ledger.Query{Account: alice}).Entries
	if len(all) != 12 {
		t.Fatalf("%d entries, want 12", len(all))
	}
	balances := func(es []ledger.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Balance.String())
		}
		return out
	}
	for i, e := range all {
		if p := statement(ledger.Query{Account: alice, Limit: i + 1}); i < len(all)-1 && p.Next != e.Cursor() {
			t.Errorf("entry %d: cursor %s, the page ending at it has Next %s", i, e.Cursor(), p.Next)
		}
		after := statement(ledger.Query{Account: alice, Cursor: e.Cursor()}).Entries
		if diff := cmp.Diff(balances(all[i+1:]), balances(after)); diff != "" {
			t.Errorf("after entry %d (-want +got):\n%s", i, diff)
		}
		before := statement(ledger.Query{Account: alice, Cursor: e.Cursor(), Newest: true}).Entries
		want := balances(all[:i])
		slices.Reverse(want)
		if diff := cmp.Diff(want, balances(before)); diff != "" {
			t.Errorf("before entry %d, newest first (-want +got):\n%s", i, diff)
		}
	}
}

func TestTotalsByDayInZone(t *testing.T) {
	st := memory.New()
	// 23:30 and 00:30 Shanghai time fall on different days.
	late := time.Date(2026, 11, 24, 23, 30, 0, 0, shanghai)
	mustPost(t, st, earn("10", late, time.Time{}), earn("7", late.Add(time.Hour), time.Time{}), spend("3", late.Add(2*time.Hour)))
	var day1, day2, all map[ledger.Kind]decimal.Decimal
	view(t, st, func(l *ledger.Ledger) error {
		var err error
		if day1, err = l.Totals(pts, "2026-11-24", "2026-11-24"); err != nil {
			return err
		}
		if day2, err = l.Totals(pts, "2026-11-25", "2026-11-25"); err != nil {
			return err
		}
		all, err = l.Totals(pts, "", "")
		return err
	})
	str := func(m map[ledger.Kind]decimal.Decimal) map[ledger.Kind]string {
		out := map[ledger.Kind]string{}
		for k, v := range m {
			out[k] = v.String()
		}
		return out
	}
	if diff := cmp.Diff(map[ledger.Kind]string{"earned": "10"}, str(day1)); diff != "" {
		t.Errorf("day 1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[ledger.Kind]string{"earned": "7", "redeemed": "-3"}, str(day2)); diff != "" {
		t.Errorf("day 2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[ledger.Kind]string{"earned": "17", "redeemed": "-3"}, str(all)); diff != "" {
		t.Errorf("all (-want +got):\n%s", diff)
	}
}

func TestVerifyFindsCorruption(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	checkVerify(t, st)
	// Tamper with the stored balance behind the ledger's back.
	err := st.Update(context.Background(), func(tx store.Tx) error {
		var key []byte
		if err := tx.Scan("ledger.bal", nil, nil, false, func(k, _ []byte) error {
			if k[0] != 0 {
				key = append([]byte(nil), k...)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Put("ledger.bal", key, []byte("11"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(context.Background(), ledger.Verify)
	if !errors.Is(err, ledger.ErrCorrupt) {
		t.Fatalf("Verify after tampering = %v, want ErrCorrupt", err)
	}
}

func TestAccounts(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}), ledger.Transaction{Time: t0, Kind: "growth", Legs: []ledger.Leg{
		{Account: ledger.MemberAccount("alice", ledger.Growth, ""), Amount: d("3")},
		{Account: ledger.Pool(ledger.Growth, "earned"), Amount: d("-3")},
	}}, ledger.Transaction{Time: t0, Kind: "earned", Legs: []ledger.Leg{
		{Account: ledger.MemberAccount("alicia", pts, ""), Amount: d("1")}, {Account: issued, Amount: d("-1")},
	}})
	var got map[ledger.Account]decimal.Decimal
	view(t, st, func(l *ledger.Ledger) error { var err error; got, err = l.Accounts("alice"); return err })
	if len(got) != 2 || !got[alice].Equal(d("10")) || !got[ledger.MemberAccount("alice", ledger.Growth, "")].Equal(d("3")) {
		t.Errorf("Accounts(alice) = %v", got)
	}
}

func TestLotSpentToZeroIsStillKnown(t *testing.T) {
	st := memory.New()
	lot := mustPost(t, st, earn("5", t0, time.Time{}))[0].Lots[0]
	mustPost(t, st, spend("5", t0))
	view(t, st, func(l *ledger.Ledger) error {
		got, err := l.Lot(alice, lot.ID)
		if err != nil || !got.Amount.IsZero() || got.ID != lot.ID || !got.Granted.Equal(lot.Granted) {
			t.Errorf("Lot after spending = %+v, %v", got, err)
		}
		if _, err := l.Lot(alice, "never"); !errors.Is(err, ledger.ErrUnknownLot) {
			t.Errorf("unknown lot: %v", err)
		}
		return nil
	})
}

// Pool legs are stored inside their transaction's member entry record; a
// transaction between pools stores its entries on their own. Either way
// RecordKeys and EntriesAt give back every entry in posting order, Verify
// sees the pool legs, and a tampered pool balance is found.
func TestPoolLegsRideInMemberRecords(t *testing.T) {
	st := memory.New()
	move := ledger.Transaction{Time: t0, Kind: "transfer", Legs: []ledger.Leg{
		{Account: issued, Amount: d("-2")}, {Account: redeemed, Amount: d("2")},
	}}
	two := ledger.Transaction{Time: t0, Kind: "earned", Legs: []ledger.Leg{
		{Account: issued, Amount: d("-3")},
		{Account: alice, Amount: d("1")},
		{Account: frozen, Amount: d("2")},
	}}
	posted := mustPost(t, st, earn("10", t0, time.Time{}), move, two, spend("4", t0.Add(time.Hour)))
	var all []ledger.Entry
	for _, p := range posted {
		all = append(all, p.Entries...)
	}
	if len(all) != 9 {
		t.Fatalf("posted %d entries, want 9", len(all))
	}
	// Alice's transaction 1 (earn) and the pools' transaction 1 (move)
	// follow each other: the pools' legs have records of their own.
	if posted[0].Txn != 1 || posted[1].Txn != 1 || posted[2].Txn != 2 || posted[3].Txn != 3 {
		t.Errorf("transactions numbered %d %d %d %d, want alice's 1, the pools' 1, alice's 2 and 3", posted[0].Txn, posted[1].Txn, posted[2].Txn, posted[3].Txn)
	}
	keys := ledger.RecordKeys(all)
	if len(keys) != 6 { // earn 1, move 2 (pools only), two 2, spend 1
		t.Errorf("RecordKeys gave %d keys, want 6", len(keys))
	}
	view(t, st, func(l *ledger.Ledger) error {
		got, err := l.EntriesAt(keys)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("EntriesAt (-posted +read):\n%s", diff)
		}
		// A member's statement lists only the member's entries.
		page, err := l.Statement(ledger.Query{Account: alice})
		if err != nil {
			return err
		}
		if len(page.Entries) != 3 {
			t.Errorf("alice's statement has %d entries, want 3", len(page.Entries))
		}
		if bal, _ := l.Balance(issued); !bal.Equal(d("-15")) {
			t.Errorf("issued pool balance %s, want -15", bal)
		}
		return nil
	})
	checkVerify(t, st)
	// A pool balance that disagrees with the legs riding in member records
	// is corruption.
	err := st.Update(context.Background(), func(tx store.Tx) error {
		// The pool's one stripe (stripe 0: one stripe by default).
		return tx.Put("ledger.bal", []byte("\x00points:mall\x00earned\x00\x00\x00\x00"), codec.Amount(d("-14")))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(context.Background(), ledger.Verify)
	if !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), "pool/points:mall/earned: balance -14, entries sum to -15") {
		t.Fatalf("Verify after tampering with a pool balance = %v, want the pool's balance mismatch", err)
	}
}

// A transaction whose legs sum to zero only past 18 digits is balanced.
func TestPostLongAmounts(t *testing.T) {
	st := memory.New()
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{
		{Account: alice, Amount: d("999999999999999999")}, {Account: frozen, Amount: d("999999999999999999.5")},
		{Account: issued, Amount: d("-1999999999999999998.5")}}})
	if got := balance(t, st, frozen); got != "999999999999999999.5" {
		t.Errorf("frozen = %s", got)
	}
	if got := balance(t, st, issued); got != "-1999999999999999998.5" {
		t.Errorf("issued = %s", got)
	}
}

// A credit may name a lot an earlier transaction generated: in the same
// account it adds to that lot, in another it opens a lot with that ID (a
// lot moving between a member's accounts keeps its ID).
func TestCreditNamesEarlierGeneratedLot(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{})) // transaction 1: lot "1.0"
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("5"), Lot: "1.0"}, {Account: issued, Amount: d("-5")}}})
	frozen := ledger.MemberAccount("alice", pts, "frozen")
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: alice, Amount: d("-3"), Lot: "1.0"}, {Account: frozen, Amount: d("3"), Lot: "1.0"}}})
	view(t, st, func(l *ledger.Ledger) error {
		for _, c := range []struct {
			a    ledger.Account
			want string
		}{{alice, "12"}, {frozen, "3"}} {
			lot, err := l.Lot(c.a, "1.0")
			if err != nil || lot.Amount.String() != c.want {
				t.Errorf("%s lot 1.0 = %+v, %v; want %s", c.a, lot, err, c.want)
			}
		}
		return nil
	})
}

// LotsExpiring returns the open lots that expire at exactly that instant,
// in spending order, and no others.
func TestLotsExpiring(t *testing.T) {
	st := memory.New()
	jan, feb := t0.AddDate(0, 2, 0), t0.AddDate(0, 3, 0)
	mustPost(t, st, earn("1", t0.Add(time.Hour), jan), earn("2", t0, jan), earn("3", t0, feb), earn("4", t0, time.Time{}), spend("2", t0))
	view(t, st, func(l *ledger.Ledger) error {
		lots, err := l.LotsExpiring(alice, jan)
		if err != nil {
			return err
		}
		var got []string
		for _, lot := range lots {
			got = append(got, lot.Amount.String()+"@"+lot.Granted.In(shanghai).Format("15:04"))
		}
		// The spend took lot "2" (same expiry, granted first) whole: it is
		// no longer open.
		if strings.Join(got, " ") != "1@11:00" {
			t.Errorf("expiring in January: %v", got)
		}
		if _, err := l.LotsExpiring(alice, time.Time{}); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("zero time: %v", err)
		}
		return nil
	})
}

// Growth keeps no lots: its credits write none, its debits are covered by
// the balance, and a leg naming a lot or an expiry is refused.
func TestGrowthKeepsNoLots(t *testing.T) {
	st := memory.New()
	g := ledger.MemberAccount("alice", ledger.Growth, "")
	pool := ledger.Pool(ledger.Growth, "earned")
	move := func(amount string) ledger.Transaction {
		return ledger.Transaction{Time: t0, Kind: "earned", Legs: []ledger.Leg{{Account: g, Amount: d(amount)}, {Account: pool, Amount: d(amount).Neg()}}}
	}
	mustPost(t, st, move("10"))
	mustPost(t, st, move("5"))
	mustPost(t, st, move("-12"))
	for _, tt := range []struct {
		name string
		tx   ledger.Transaction
		want error
	}{
		{"overspend", move("-4"), ledger.ErrInsufficientBalance},
		{"named lot", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: g, Amount: d("1"), Lot: "growth"}, {Account: pool, Amount: d("-1")}}}, ledger.ErrInvalid},
		{"expiry", ledger.Transaction{Time: t0, Kind: "x", Legs: []ledger.Leg{{Account: g, Amount: d("1"), Expires: t0.AddDate(1, 0, 0)}, {Account: pool, Amount: d("-1")}}}, ledger.ErrInvalid},
	} {
		err := update(t, st, func(l *ledger.Ledger) error { _, err := l.Post(tt.tx); return err })
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Post = %v, want %v", tt.name, err, tt.want)
		}
	}
	view(t, st, func(l *ledger.Ledger) error {
		lots, err := l.Lots(g)
		if err != nil || len(lots) != 0 {
			t.Errorf("Lots = %v, %v; want none", lots, err)
		}
		avail, err := l.Available(g, t0)
		if err != nil || !avail.Equal(d("3")) {
			t.Errorf("Available = %s, %v; want 3", avail, err)
		}
		return nil
	})
	if got := balance(t, st, g); got != "3" {
		t.Errorf("balance = %s, want 3", got)
	}
	n := 0
	if err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan("ledger.lot", nil, nil, false, func(_, _ []byte) error { n++; return nil })
	}); err != nil || n != 0 {
		t.Errorf("lot records = %d, %v; want none", n, err)
	}
	checkVerify(t, st)
}

// Append gathers the entries of several postings in one slice.
func TestAppend(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	err := update(t, st, func(l *ledger.Ledger) error {
		var all []ledger.Entry
		p, err := l.Append(all, earn("5", t0, time.Time{}))
		if err != nil {
			return err
		}
		if len(p.Lots) != 1 || !p.Lots[0].Amount.Equal(d("5")) || p.Lots[0].ID != p.Entries[0].Lot && p.Lots[0].ID != p.Entries[1].Lot {
			t.Errorf("Append's lots = %+v", p.Lots)
		}
		all = p.Entries
		p, err = l.Append(all, spend("3", t0))
		if err != nil {
			return err
		}
		all = p.Entries
		if len(all) != 4 || all[0].Txn != all[1].Txn || all[2].Txn != all[3].Txn || all[2].Txn != p.Txn {
			t.Errorf("appended entries = %+v", all)
		}
		// Pool legs apply first: the spend's member entry is the last.
		if all[3].Account != alice || !all[3].Balance.Equal(d("12")) {
			t.Errorf("last entry = %+v, want alice's balance 12", all[3])
		}
		if p, err = l.Append(all, spend("100", t0)); !errors.Is(err, ledger.ErrInsufficientBalance) || len(p.Entries) != 0 {
			t.Errorf("overspend: %+v, %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkVerify(t, st)
}

// A Ledger bound again with Init keeps its cached date only for the same
// zone: a posting's day is always its date in the zone bound last.
func TestInitDayPerZone(t *testing.T) {
	st := memory.New()
	var l ledger.Ledger
	morning := time.Date(2026, 11, 24, 4, 0, 0, 0, shanghai) // 2026-11-23 20:00 UTC
	err := st.Update(context.Background(), func(tx store.Tx) error {
		l.Init(tx, shanghai)
		if _, err := l.Post(earn("10", morning.Add(time.Hour), time.Time{})); err != nil {
			return err
		}
		l.Init(tx, time.UTC)
		_, err := l.Post(earn("5", morning, time.Time{}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, st, func(l *ledger.Ledger) error {
		for day, want := range map[string]string{"2026-11-23": "5", "2026-11-24": "10"} {
			got, err := l.Totals(pts, day, day)
			if err != nil {
				return err
			}
			if got["earned"].String() != want {
				t.Errorf("earned on %s = %s, want %s", day, got["earned"], want)
			}
		}
		return nil
	})
}

// TestTotalsRefusesMalformedDates: Totals compares days as key bytes, so a
// day not written "2006-01-02" used to select no day and answer an empty
// map; it is refused, naming the argument, and a well-formed day still
// answers (10 earned on 2026-11-24).
func TestTotalsRefusesMalformedDates(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	for _, tc := range []struct{ from, to, field string }{
		{"2026-11-1", "", "from"},
		{"2026-13-01", "", "from"},
		{"2026-02-30", "", "from"},
		{"", "2026-11-24 ", "to"},
		{"2026-11-24", "24/11/2026", "to"},
		{"junk", "", "from"},
		{"2026-11-25", "2026-11-24", "to"}, // to before from
	} {
		err := st.View(context.Background(), func(tx store.Tx) error {
			_, err := ledger.New(tx, shanghai).Totals(pts, tc.from, tc.to)
			return err
		})
		if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), tc.field+": ") {
			t.Errorf("Totals(%q, %q) = %v, want ErrInvalid naming %s", tc.from, tc.to, err, tc.field)
		}
	}
	view(t, st, func(l *ledger.Ledger) error {
		got, err := l.Totals(pts, "2026-11-24", "2026-11-24")
		if err != nil {
			return err
		}
		if len(got) != 1 || !got["earned"].Equal(d("10")) {
			t.Errorf("Totals of 2026-11-24 = %v, want earned 10", got)
		}
		return nil
	})
}

// TestStatementRefusesBadLimitAndRange: a negative limit used to mean the
// default and a To before From an empty page; both are refused naming the
// field. A limit above the maximum is clamped: 1,200 entries ask 5,000
// and get 1,000 with a cursor for the rest; 0 gets the default 50.
func TestStatementRefusesBadLimitAndRange(t *testing.T) {
	st := memory.New()
	var txs []ledger.Transaction
	for i := range 1200 {
		txs = append(txs, earn("1", t0.Add(time.Duration(i)*time.Second), time.Time{}))
	}
	mustPost(t, st, txs...)
	for _, tc := range []struct {
		name  string
		q     ledger.Query
		field string
	}{
		{"negative limit", ledger.Query{Account: alice, Limit: -1}, "limit: "},
		{"to before from", ledger.Query{Account: alice, From: t0.Add(time.Minute), To: t0}, "to: "},
	} {
		err := st.View(context.Background(), func(tx store.Tx) error {
			_, err := ledger.New(tx, shanghai).Statement(tc.q)
			return err
		})
		if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Statement = %v, want ErrInvalid naming %q", tc.name, err, tc.field)
		}
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {1000, 1000}, {5000, 1000}} {
		view(t, st, func(l *ledger.Ledger) error {
			page, err := l.Statement(ledger.Query{Account: alice, Limit: tc.limit})
			if err != nil {
				return err
			}
			if len(page.Entries) != tc.want || page.Next == "" {
				t.Errorf("limit %d: %d entries, next %q; want %d and a cursor", tc.limit, len(page.Entries), page.Next, tc.want)
			}
			return nil
		})
	}
}

// TestQueriesRefuseAnAccountOfNoOne: an account with neither a member nor
// a pool name (Member and Sub empty) used to read as a pool of no name,
// a zero balance and an error that named no field; Balance and Statement
// refuse it naming the member, and a pool is still read (issued: −10).
func TestQueriesRefuseAnAccountOfNoOne(t *testing.T) {
	st := memory.New()
	mustPost(t, st, earn("10", t0, time.Time{}))
	for _, a := range []ledger.Account{{Asset: pts}, {Asset: pts, Member: ""}} {
		err := st.View(context.Background(), func(tx store.Tx) error {
			_, err := ledger.New(tx, shanghai).Balance(a)
			return err
		})
		if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), "member: empty") {
			t.Errorf("Balance(%+v) = %v, want ErrInvalid naming the member", a, err)
		}
		err = st.View(context.Background(), func(tx store.Tx) error {
			_, err := ledger.New(tx, shanghai).Statement(ledger.Query{Account: a})
			return err
		})
		if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), "member: empty") {
			t.Errorf("Statement(%+v) = %v, want ErrInvalid naming the member", a, err)
		}
	}
	err := st.View(context.Background(), func(tx store.Tx) error {
		_, err := ledger.New(tx, shanghai).Balance(ledger.Account{Member: "alice"})
		return err
	})
	if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), "asset: empty") {
		t.Errorf("Balance without an asset = %v, want ErrInvalid naming the asset", err)
	}
	view(t, st, func(l *ledger.Ledger) error {
		b, err := l.Balance(issued)
		if err != nil {
			return err
		}
		if !b.Equal(d("-10")) {
			t.Errorf("Balance(issued) = %s, want -10", b)
		}
		return nil
	})
}

// CheckDate, which a caller runs on a day before it queries, refuses a
// day not of the form YYYY-MM-DD with an error wrapping ErrInvalid, as
// Totals refuses it.
func TestCheckDate(t *testing.T) {
	for _, s := range []string{"", "2025-03-01", "2024-02-29"} {
		if err := ledger.CheckDate(s); err != nil {
			t.Errorf("CheckDate(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{"2025-3-1", "2025-13-01", "2025-02-29", "junk"} {
		if err := ledger.CheckDate(s); !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), s) {
			t.Errorf("CheckDate(%q) = %v, want an error wrapping ErrInvalid naming the day", s, err)
		}
	}
}

// In a zone whose midnight does not exist (Santiago: on 2026-09-06 the
// clocks go from 00:00 to 01:00), a day starts at its first instant, not
// at the hour before that time.Date gives for the missing midnight: a
// posting at 23:30 of the 5th, after one on the 6th, counts for the 5th.
func TestTotalsByDayWhereMidnightIsSkipped(t *testing.T) {
	santiago, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	sunday := time.Date(2026, 9, 6, 10, 0, 0, 0, santiago)
	saturday := time.Date(2026, 9, 5, 23, 30, 0, 0, santiago) // 03:30 UTC on the 6th
	err = st.Update(context.Background(), func(tx store.Tx) error {
		l := ledger.New(tx, santiago)
		if _, err := l.Post(earn("10", sunday, time.Time{})); err != nil {
			return err
		}
		_, err := l.Post(earn("5", saturday, time.Time{}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(context.Background(), func(tx store.Tx) error {
		l := ledger.New(tx, santiago)
		for day, want := range map[string]string{"2026-09-05": "5", "2026-09-06": "10"} {
			got, err := l.Totals(pts, day, day)
			if err != nil {
				return err
			}
			if got["earned"].String() != want {
				t.Errorf("earned on %s = %s, want %s", day, got["earned"], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
