package migrate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
)

// Import two members from CSV, one of them with a bad amount, then run
// the same file again: the good row is already there.
func ExampleRun() {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), retail(nil))
	if err != nil {
		panic(err)
	}
	const file = `member,level,growth,points,value_balance,tags
ana,Gold,1800,mall|300|2025-12-31,50,staff
bo,,,mall|lots,,
`
	for range 2 {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), p.Location()),
			migrate.Options{Name: "members.csv", At: at})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d rows: %d applied, %d already there, %d bad\n", res.Rows, res.Applied, res.Duplicates, res.Failed)
		for _, e := range res.Errors {
			fmt.Printf("line %d, field %s\n", e.Line, e.Field)
		}
	}
	b, _ := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "ana", At: at})
	lv, _ := p.Levels().Status(ctx, "ana")
	v, _ := p.Balance(ctx, ledger.MemberAccount("ana", ledger.Value, ""))
	fmt.Println("ana:", lv.Level, lv.Growth, "growth,", b.Available, "points,", v, "stored value")
	fmt.Println("verify:", p.Verify(ctx))
	// Output:
	// 2 rows: 1 applied, 0 already there, 1 bad
	// line 3, field points[0].amount
	// 2 rows: 0 applied, 1 already there, 1 bad
	// line 3, field points[0].amount
	// ana: Gold 1800 growth, 300 points, 50 stored value
	// verify: <nil>
}
