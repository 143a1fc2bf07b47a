package export_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store/memory"
)

// exampleProgram is a program with stored value and one recharge and one
// payment for alice.
func exampleProgram() *membership.Program {
	def, err := membership.ParseDefinition([]byte(`{
	  "zone": "Asia/Shanghai",
	  "events": [{"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
	             {"name": "pay", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
	  "stored_value": {"recharge": "recharge", "spend": "pay", "amount": "amount"}
	}`))
	if err != nil {
		panic(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	for i, e := range []struct{ typ, amount string }{{"recharge", "100"}, {"pay", "12.5"}} {
		_, err := p.Process(context.Background(), event.Event{ID: fmt.Sprint("e", i), Member: "alice", Type: e.typ,
			Time: time.Date(2026, 3, 1+i, 9, 0, 0, 0, p.Location()), Attrs: event.Attrs{"amount": event.DecString(e.amount)}})
		if err != nil {
			panic(err)
		}
	}
	return p
}

// Finance gets a member's stored-value statement, one row per entry with
// the running balance.
func ExampleStatement() {
	p := exampleProgram()
	q := ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, "")}
	if _, _, err := export.Statement(context.Background(), os.Stdout, p, q, nil); err != nil {
		panic(err)
	}
	// Output:
	// time,account,txn,seq,kind,amount,balance,lot,event,order,operator,note
	// 2026-03-01T09:00:00+08:00,member/alice/value,1,4096,recharge,100,100,1.0,e0,,,
	// 2026-03-02T09:00:00+08:00,member/alice/value,2,8193,spend,-12.5,87.5,,e1,,,
}

// The members' state as CSV, with progress reported per row.
func ExampleMembers() {
	p := exampleProgram()
	ids := slices.Values([]string{"alice", "bob"})
	at := time.Date(2026, 3, 31, 0, 0, 0, 0, p.Location())
	n, err := export.Members(context.Background(), os.Stdout, p, ids, at, func(rows int64) {})
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "members")
	// Output:
	// member,level,since,term_end,growth,lifetime_growth,value_balance,value_recharged,value_spent,value_refunded,value_withdrawn,coupons_available,coupons_locked,tags
	// alice,,,,0,0,87.5,100,12.5,0,0,0,0,
	// bob,,,,0,0,0,0,0,0,0,0,0,
	// 2 members
}

// The change feed as JSON lines from a cursor: the export returns the
// position to go on from.
func ExampleFeed() {
	p := exampleProgram()
	n, last, err := export.Feed(context.Background(), os.Stdout, p, 1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "changes, up to", last)
	// Output:
	// {"seq":2,"kind":"value.spent","member":"alice","time":"2026-03-02T09:00:00+08:00","event":"e1","data":{"amount":"12.5","balance":"87.5"},"reason":{"rule":"stored_value.spend","inputs":{"amount":"12.5"}}}
	// 1 changes, up to 2
}

// Moving members to another program (a new store, another deployment):
// Openings writes their state as the file package migrate imports, and
// the import gives them the same balances.
func ExampleOpenings() {
	ctx := context.Background()
	from := exampleProgram()
	at := time.Date(2026, 3, 31, 0, 0, 0, 0, from.Location())
	var file bytes.Buffer
	if _, err := export.Openings(ctx, &file, from, slices.Values([]string{"alice"}), at, nil); err != nil {
		panic(err)
	}
	fmt.Print(file.String())

	to, err := membership.Open(memory.New(), from.Definition())
	if err != nil {
		panic(err)
	}
	res, err := migrate.Run(ctx, to, migrate.CSV(&file, to.Location()), migrate.Options{Name: "alice.csv"})
	if err != nil {
		panic(err)
	}
	acct, err := to.Value().Account(ctx, "alice")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Applied, "imported; alice holds", acct.Balance, "of", acct.Recharged, "recharged")
	// Output:
	// member,at,value_balance,value_recharged,value_spent,value_refunded,value_withdrawn
	// alice,2026-03-31T00:00:00+08:00,87.5,100,12.5,0,0
	// 1 imported; alice holds 87.5 of 100 recharged
}
