package bolt_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// The write pattern every benchmark uses: one operation writes 8 records of
// 100-byte values into 3 buckets, under keys unique to the operation.
var (
	benchBuckets = [8]string{"members", "members", "members", "ledger", "ledger", "ledger", "points", "points"}
	benchValue   = make([]byte, 100)
)

func benchKey(seq uint64, i int) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq), uint64(i))
}

func storeOp(seq uint64) func(store.Tx) error {
	return func(tx store.Tx) error {
		for i, b := range benchBuckets {
			if err := tx.Put(b, benchKey(seq, i), benchValue); err != nil {
				return err
			}
		}
		return nil
	}
}

func bboltOp(seq uint64) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		for i, name := range benchBuckets {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put(benchKey(seq, i), benchValue); err != nil {
				return err
			}
		}
		return nil
	}
}

func reportOps(b *testing.B) {
	b.Helper()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// parallelism64 runs b's RunParallel on at least 64 goroutines and
// returns how many.
func parallelism64(b *testing.B) int {
	b.Helper()
	procs := runtime.GOMAXPROCS(0)
	p := (64 + procs - 1) / procs
	b.SetParallelism(p)
	return p * procs
}

func openBench(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func BenchmarkUpdateSerial(b *testing.B) {
	db := openBench(b)
	ctx := context.Background()
	var seq uint64
	for b.Loop() {
		seq++
		if err := db.Update(ctx, storeOp(seq)); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

func BenchmarkUpdateParallel64(b *testing.B) {
	st := runParallel64(b, storeOp)
	reportOps(b)
	b.ReportMetric(float64(st.Requests)/float64(st.Commits), "updates/commit")
}

// runParallel64 runs op(1), op(2), … as Updates from 64 goroutines on a
// fresh DB and returns its stats.
func runParallel64(b *testing.B, op func(seq uint64) func(store.Tx) error) bolt.Stats {
	db := openBench(b)
	ctx := context.Background()
	var seq atomic.Uint64
	parallelism64(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.Update(ctx, op(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	return db.Stats()
}

func openRaw(b *testing.B) *bbolt.DB {
	b.Helper()
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: bolt.DefaultInitialMmapSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func BenchmarkRawBboltUpdateSerial(b *testing.B) {
	db := openRaw(b)
	var seq uint64
	for b.Loop() {
		seq++
		if err := db.Update(bboltOp(seq)); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

// BenchmarkRawBboltBatch64 is bbolt's DB.Batch with MaxBatchSize equal to
// the callers, so that a full batch commits at once rather than waiting
// out MaxBatchDelay (10 ms) for a thousand callers that never come.
func BenchmarkRawBboltBatch64(b *testing.B) {
	db := openRaw(b)
	var seq atomic.Uint64
	db.MaxBatchSize = parallelism64(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.Batch(bboltOp(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}
