package membership_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
	bbolt "go.etcd.io/bbolt"
)

// benchAttrs are every benchmark order's attributes (the library only
// reads an event's attributes, so the orders share them).
var benchAttrs = event.Attrs{"amount": event.Dec(decimal.New(1250, -2)), "store": event.Str("s1")}

// benchEvent is an order of 12.50 by member m(i mod 1000). It is built the
// way a host builds events from its own data (not by parsing text), and
// allocates only its ID and member, so that the benchmarks time the
// library.
func benchEvent(i int64) event.Event {
	var ib, mb [24]byte
	return event.Event{ID: string(strconv.AppendInt(append(ib[:0], 'e'), i, 10)), Member: string(strconv.AppendInt(append(mb[:0], 'm'), i%1000, 10)),
		Type: "order", Time: t0.Add(time.Duration(i) * time.Millisecond), Attrs: benchAttrs}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkProcessMemorySerial(b *testing.B) {
	p := openMemory(b, benchDef())
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Process(ctx, benchEvent(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func openBenchBolt(b *testing.B) *membership.Program {
	b.Helper()
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, benchDef())
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkProcessBoltSerial(b *testing.B) {
	p := openBenchBolt(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Process(ctx, benchEvent(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkProcessBolt64 has 64 concurrent callers share group commits.
func BenchmarkProcessBolt64(b *testing.B) {
	p := openBenchBolt(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32) // 2 cores × 32 = 64 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Process(ctx, benchEvent(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkProcessBatchBolt imports 1,000 events per transaction.
func BenchmarkProcessBatchBolt(b *testing.B) {
	p := openBenchBolt(b)
	ctx := context.Background()
	const size = 1000
	batch := make([]event.Event, 0, size)
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		batch = batch[:0]
		for j := i; j < i+size && j < b.N; j++ {
			batch = append(batch, benchEvent(int64(j)))
		}
		if _, err := p.ProcessBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkRawBboltBatch64 is the baseline: bbolt's own DB.Batch with 64
// callers, each writing as many records of the same size into the same
// buckets as one Process call does (measured from a processed event).
// MaxBatchSize is the callers, so that a full batch commits at once
// rather than waiting out MaxBatchDelay (10 ms) for a thousand callers
// that never come.
func BenchmarkRawBboltBatch64(b *testing.B) {
	puts := recordsPerEvent(b)
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	db.MaxBatchSize = 32 * runtime.GOMAXPROCS(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := db.Batch(func(tx *bbolt.Tx) error {
				for _, r := range puts {
					bk, err := tx.CreateBucketIfNotExists([]byte(r.bucket))
					if err != nil {
						return err
					}
					if err := bk.Put(fmt.Appendf(nil, "%s-%d", r.bucket, i), r.value); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

type record struct {
	bucket string
	value  []byte
}

// recordsPerEvent captures the writes one Process call makes, by running
// one event against a memory store wrapped to record puts.
func recordsPerEvent(b *testing.B) []record {
	b.Helper()
	rec := &recordingStore{Store: memory.New()}
	p, err := membership.Open(rec, benchDef())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Process(context.Background(), benchEvent(1)); err != nil {
		b.Fatal(err)
	}
	rec.puts = nil
	if _, err := p.Process(context.Background(), benchEvent(2)); err != nil {
		b.Fatal(err)
	}
	return rec.puts
}

// benchDef is the benchmark program of the foundation issue: one growth
// rule and one points rule on orders (points expire at the end of the
// 12th month, so every grant is a lot with an expiry in the due index).
func benchDef() membership.Definition {
	def := valueDef()
	def.Levels = &level.Definition{
		Ladder: []level.Level{
			{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "Silver", Upgrade: dec("1000000"), Retention: dec("0"), Validity: rule.Validity{Kind: rule.Permanent}},
		},
		Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
	}
	def.Points = &points.Definition{
		Programs: []points.Program{{Name: "mall"}},
		Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Validity: rule.Validity{Kind: rule.MonthEnds, N: 12},
			Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
	}
	return def
}
