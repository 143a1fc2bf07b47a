package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A transaction that expires a lot already past its expiry (named: a lot
// given back after it expired expires again at once) and makes an
// ordinary debit of the same account judges the ordinary debit on the
// spendable lots alone. Alice holds 10 that never expire (lot 1.0) and 5
// that expired a day ago (lot 2.0): expiring the 5 and spending the 10 in
// one transaction is covered. The named lot's 5 was taken off the 10
// spendable before, as if it were spendable, leaving 5 < 10: refused.
func TestOrdinaryDebitBesideAnExpiredNamedLot(t *testing.T) {
	st := memory.New()
	posted := mustPost(t, st,
		earn("10", t0, time.Time{}),
		earn("5", t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)),
	)
	live, expired := posted[0].Lots[0], posted[1].Lots[0]
	at := t0.Add(time.Hour)
	tr := ledger.Transaction{Time: at, Kind: "redeemed", Legs: []ledger.Leg{
		{Account: alice, Amount: d("-5"), Lot: expired.ID},
		{Account: ledger.Pool(pts, "expired"), Amount: d("5")},
		{Account: alice, Amount: d("-10")},
		{Account: redeemed, Amount: d("10")},
	}}
	got := mustPost(t, st, tr)[0].Takes
	want := []ledger.Take{
		{Account: alice, Lot: expired.ID, Amount: d("5"), Expires: t0.Add(-24 * time.Hour).UTC(), Granted: t0.Add(-48 * time.Hour).UTC()},
		{Account: alice, Lot: live.ID, Amount: d("10"), Granted: t0.UTC()},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("takes (-want +got):\n%s", diff)
	}
	if got := balance(t, st, alice); got != "0" {
		t.Errorf("balance = %s, want 0", got)
	}
	checkVerify(t, st)
}

// A named lot that is spendable still counts against the ordinary debits
// of its account: of alice's 10 (one lot), 6 named and 6 more is 12,
// refused before anything is written.
func TestOrdinaryDebitBesideALiveNamedLot(t *testing.T) {
	st := memory.New()
	lot := mustPost(t, st, earn("10", t0, time.Time{}))[0].Lots[0]
	err := update(t, st, func(l *ledger.Ledger) error {
		_, err := l.Post(ledger.Transaction{Time: t0.Add(time.Hour), Kind: "redeemed", Legs: []ledger.Leg{
			{Account: alice, Amount: d("-6"), Lot: lot.ID},
			{Account: alice, Amount: d("-6")},
			{Account: redeemed, Amount: d("12")},
		}})
		return err
	})
	if !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("Post = %v, want ErrInsufficientBalance", err)
	}
	if got := balance(t, st, alice); got != "10" {
		t.Errorf("balance = %s, want 10", got)
	}
}

// A credit naming a lot past its expiry (points given back to it) is not
// spendable, whatever the leg's Expires says (a credit to an existing lot
// keeps the lot's): alice's only lot, 5 that expired a day ago, spent to
// zero, given back 5 and spent 5 in one transaction is refused before
// anything is written. It counted as spendable before, so the debit
// failed only after the credit was written, and a caller going on in the
// same store transaction committed the lot's 5 and a balance of 5 with no
// entry (Verify: balance 5, entries sum to 0).
func TestOrdinaryDebitBesideACreditToAnExpiredLot(t *testing.T) {
	st := memory.New()
	lot := mustPost(t, st, earn("5", t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)))[0].Lots[0]
	mustPost(t, st, ledger.Transaction{Time: t0, Kind: "expired", Legs: []ledger.Leg{
		{Account: alice, Amount: d("-5"), Lot: lot.ID}, {Account: ledger.Pool(pts, "expired"), Amount: d("5")},
	}})
	err := update(t, st, func(l *ledger.Ledger) error {
		_, err := l.Post(ledger.Transaction{Time: t0.Add(time.Hour), Kind: "redeemed", Legs: []ledger.Leg{
			{Account: alice, Amount: d("5"), Lot: lot.ID},
			{Account: alice, Amount: d("-5")},
		}})
		if !errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Errorf("Post = %v, want ErrInsufficientBalance", err)
		}
		return nil // the caller goes on: the refused posting must have written nothing
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(t, st, alice); got != "0" {
		t.Errorf("balance = %s, want 0", got)
	}
	checkVerify(t, st)
}
