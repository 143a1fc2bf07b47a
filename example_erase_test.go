package membership_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/ledger"
)

// A member asks to be forgotten: the erasure keeps the points (the ledger
// must still balance) and refuses the member's later events.
func ExampleProgram_Erase() {
	ctx := context.Background()
	p := openOps()
	if _, err := p.Process(ctx, order(p, "o1", "ana", "120", 1)); err != nil {
		panic(err)
	}
	_, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-ana", Member: "ana", Operator: "dpo",
		Note: "ticket 7", At: time.Date(2026, 12, 2, 9, 0, 0, 0, p.Location())})
	if err != nil {
		panic(err)
	}
	bal, _ := p.Balance(ctx, ledger.MemberAccount("ana", ledger.Points("mall"), ""))
	fmt.Println("points kept:", bal)
	_, err = p.Process(ctx, order(p, "o2", "ana", "80", 3))
	fmt.Println("later order refused:", errors.Is(err, membership.ErrErased))
	fmt.Println("verify:", p.Verify(ctx))
	// Output:
	// points kept: 120
	// later order refused: true
	// verify: <nil>
}
