package cowtree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkBatchAfterClone is what store/bolt's prepare does with an
// overlay tree at a million members: clone the tree (the installed
// version stays for its readers), then put one batch of writes, each a
// random member's handful of records, so that every write copies the
// member's leaf and most copy an inner node too. An op is one batch of
// 32 members. /marking runs it while the collector marks without pause
// (a goroutine calling runtime.GC in a loop), as a batch that overlaps a
// collection does: then every pointer a node copy moves is recorded.
func BenchmarkBatchAfterClone(b *testing.B) {
	const members, records, batch = 20000, 8, 32
	keys := make([][records][]byte, members)
	for m := range keys {
		for r := range records {
			keys[m][r] = fmt.Appendf(nil, "m%07d\x00\x00\x07rec%02d", m, r)
		}
	}
	value := make([]byte, 60)
	for _, marking := range []bool{false, true} {
		b.Run(map[bool]string{false: "idle", true: "marking"}[marking], func(b *testing.B) {
			tr := New[struct{}]()
			for m := range members {
				for _, k := range keys[m] {
					tr.Put(k, value)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var stop chan struct{}
			var wg sync.WaitGroup
			if marking {
				stop = make(chan struct{})
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							runtime.GC()
						}
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for range batch {
					for _, k := range keys[rng.IntN(members)] {
						tr.Put(k, value)
					}
				}
				tr = tr.Clone()
			}
			b.StopTimer()
			if marking {
				close(stop)
				wg.Wait()
			}
		})
	}
}
