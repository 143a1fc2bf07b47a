package value_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/testkit"
)

// BenchmarkProcessStoredValue processes recharges and spends of 1,000
// members on the memory store.
func BenchmarkProcessStoredValue(b *testing.B) {
	p := testkit.OpenMemory(b, valueDef())
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		ev := recharge(fmt.Sprint("e", i), fmt.Sprint("m", i/2%1000), "10.50", t0.Add(time.Duration(i)*time.Second))
		if i%2 == 1 {
			ev = pay(fmt.Sprint("e", i), fmt.Sprint("m", i/2%1000), "5.25", t0.Add(time.Duration(i)*time.Second))
		}
		if _, err := p.Process(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
