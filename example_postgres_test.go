package membership_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/postgres"
)

// Every instance of an application behind a load balancer opens its own
// Program on the same PostgreSQL database, with the same definition (its
// Version raised with each change, for rolling deploys). Events for one
// member may reach any instance; every instance may call Advance and read
// the feed. (No output: it needs a server, MEMBERSHIP_PG_DSN.)
func ExampleOpen_postgres() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("MEMBERSHIP_PG_DSN"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	def, err := membership.ParseDefinition([]byte(`{
		"version": 3,
		"zone": "Asia/Shanghai",
		"events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
		"points": {
			"programs": [{"name": "mall"}],
			"rules": [{"id": "buy", "program": "mall", "event": "order",
				"formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
				"validity": {"kind": "days_after", "n": 365}}]
		}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	p, err := membership.Open(st, def)
	if err != nil {
		log.Fatal(err) // ErrDefinitionSuperseded: another instance runs a newer version
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, p.Location())
	_, err = p.Process(ctx, event.Event{ID: "order-1001", Member: "m1", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("128.00")}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := p.Advance(ctx, at); err != nil { // safe on every instance at once
		log.Fatal(err)
	}
}
