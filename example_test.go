package membership_test

import (
	"context"
	"fmt"

	"github.com/memberkit/membership/points"
)

// Example opens a program whose definition is JSON (one point per yuan,
// expiring at the end of the year), processes an order and reads what it
// earned from the outcome, typed, through the points package.
func Example() {
	ctx := context.Background()
	p := openOps()
	out, err := p.Process(ctx, order(p, "o1", "alice", "99.90", 24))
	if err != nil {
		panic(err)
	}
	earned, err := points.EffectsOf(out)
	if err != nil {
		panic(err)
	}
	for _, e := range earned.Earned {
		fmt.Println(out.Member, "earned", e.Amount, "points in", e.Program)
	}
	// Points are whole by default, rounded down.
	// Output: alice earned 99 points in mall
}
