package membership_test

import (
	"context"
	"testing"
)

// BenchmarkQuoteMemorySerial quotes the orders BenchmarkProcessMemorySerial
// processes, on a memory store that has processed 10,000 of them (10 per
// member), to compare with it (issue 18: a quote within 1.5× of Process).
func BenchmarkQuoteMemorySerial(b *testing.B) {
	p := openMemory(b, benchDef())
	ctx := context.Background()
	const history = 10000
	for i := range history {
		if _, err := p.Process(ctx, benchEvent(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Quote(ctx, benchEvent(int64(history+i))); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}
