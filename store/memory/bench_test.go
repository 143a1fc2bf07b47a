package memory_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

var (
	benchBuckets = [8]string{"members", "members", "members", "ledger", "ledger", "ledger", "points", "points"}
	benchValue   = make([]byte, 100)
)

func storeOp(seq uint64) func(store.Tx) error {
	return func(tx store.Tx) error {
		for i, b := range benchBuckets {
			key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq), uint64(i))
			if err := tx.Put(b, key, benchValue); err != nil {
				return err
			}
		}
		return nil
	}
}

func BenchmarkUpdateSerial(b *testing.B) {
	s := memory.New()
	ctx := context.Background()
	var seq uint64
	for b.Loop() {
		seq++
		if err := s.Update(ctx, storeOp(seq)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkUpdateParallel(b *testing.B) {
	s := memory.New()
	ctx := context.Background()
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Update(ctx, storeOp(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkViewGet(b *testing.B) {
	s := memory.New()
	ctx := context.Background()
	for seq := range uint64(10000) {
		if err := s.Update(ctx, storeOp(seq)); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq.Add(1)%10000), 0)
			err := s.View(ctx, func(tx store.Tx) error {
				_, err := tx.Get("members", key)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
