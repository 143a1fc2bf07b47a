package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Points earned in two lots are spent earliest expiry first; the statement
// shows each entry with the running balance.
func ExampleLedger_Post() {
	st := memory.New()
	mall := ledger.Points("mall")
	alice := ledger.MemberAccount("alice", mall, "")
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	earn := func(n int64, expires time.Time) ledger.Transaction {
		return ledger.Transaction{Time: at, Kind: "earned", Legs: []ledger.Leg{
			{Account: alice, Amount: decimal.NewFromInt(n), Expires: expires},
			{Account: ledger.Pool(mall, "earned"), Amount: decimal.NewFromInt(-n)},
		}}
	}
	err := st.Update(context.Background(), func(tx store.Tx) error {
		l := ledger.New(tx, time.UTC)
		if _, err := l.Post(earn(100, time.Time{})); err != nil {
			return err
		}
		if _, err := l.Post(earn(50, at.AddDate(0, 1, 0))); err != nil {
			return err
		}
		spent, err := l.Post(ledger.Transaction{Time: at.Add(time.Hour), Kind: "redeemed", Legs: []ledger.Leg{
			{Account: alice, Amount: decimal.NewFromInt(-80)},
			{Account: ledger.Pool(mall, "redeemed"), Amount: decimal.NewFromInt(80)},
		}})
		for _, take := range spent.Takes {
			fmt.Println("took", take.Amount, "from lot", take.Lot)
		}
		return err
	})
	if err != nil {
		panic(err)
	}
	_ = st.View(context.Background(), func(tx store.Tx) error {
		page, err := ledger.New(tx, time.UTC).Statement(ledger.Query{Account: alice})
		for _, e := range page.Entries {
			fmt.Println(e.Kind, e.Amount, "balance", e.Balance)
		}
		return err
	})
	// Output:
	// took 50 from lot 2.0
	// took 30 from lot 1.0
	// earned 100 balance 100
	// earned 50 balance 150
	// redeemed -80 balance 70
}
