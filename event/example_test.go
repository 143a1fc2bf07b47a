package event_test

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
)

// A type declares the attributes an event must carry; a condition picks
// the events a rule acts on.
func ExampleCondition_Match() {
	order := event.Type{Name: "order", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true},
		{Name: "category", Kind: event.Strings},
	}}
	ev := event.Event{ID: "o-1", Member: "alice", Type: "order", Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Attrs: event.Attrs{"amount": event.DecString("399"), "category": event.List("infant-formula")}}
	fmt.Println(order.Check(ev))
	big := event.Condition{Attr: "amount", Op: event.Gte, Value: event.Int(300)}
	formula := event.Condition{Attr: "category", Op: event.Contains, Value: event.Str("infant-formula")}
	fmt.Println(event.MatchAll([]event.Condition{big, formula}, ev))
	delete(ev.Attrs, "amount")
	fmt.Println(order.Check(ev))
	// Output:
	// <nil>
	// true
	// attrs.amount: missing attribute
}
