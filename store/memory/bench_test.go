package memory_test

import (
	"context"
	"encoding/binary"
	"errors"
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

// The large-store benchmarks mimic what one processed event does to a
// store that already holds a million keys: about 25 Gets (half of them
// misses) and 25 Puts (half overwriting existing keys, half adding new
// ones) spread over 15 buckets, with keys mostly prefixed by one of 1,000
// member ids plus append-only keys (sequence numbers, time-ordered
// entries).

const (
	largeMembers = 1000
	largeKeys    = 1_000_000
)

var largeBuckets = [15]string{
	"ledger.bal", "ledger.entry", "ledger.lot", "ledger.lotid", "ledger.day", "ledger.meta",
	"level.member", "level.day", "points.day", "points.expiry", "due", "meta", "coupon",
	"feed", "events", // sequence keys
}

// largeMemberKey appends the key of member m's n-th record of kind k:
// "m", m as a uvarint (about as long as in decimal), "\x00points\x00",
// the kind letter, a zero byte and n as 8 bytes big-endian.
func largeMemberKey(dst []byte, m, k, n uint64) []byte {
	dst = binary.AppendUvarint(append(dst, 'm'), m)
	dst = append(dst, "\x00points\x00"...)
	dst = append(dst, byte('a'+k))
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, n)
}

// largeStore returns a store preloaded with about largeKeys keys:
// per-member records in 13 buckets, n < perMember for each member and
// bucket, and sequence keys up to seq in "feed" and "events".
func largeStore(b *testing.B) (s *memory.Store, perMember, seq uint64) {
	b.Helper()
	s = memory.New()
	ctx := context.Background()
	val := make([]byte, 40)
	perMember = largeKeys / largeMembers / 2 / 13 // half member keys over 13 buckets
	var key []byte
	err := s.Update(ctx, func(tx store.Tx) error {
		for bi, bucket := range largeBuckets[:13] {
			for m := range uint64(largeMembers) {
				for n := range perMember {
					key = largeMemberKey(key[:0], m, uint64(bi), n)
					if err := tx.Put(bucket, key, val); err != nil {
						return err
					}
				}
			}
		}
		for seq < largeKeys/4 { // the other half over the 2 sequences
			seq++
			key = binary.BigEndian.AppendUint64(key[:0], seq)
			for _, bucket := range largeBuckets[13:] {
				if err := tx.Put(bucket, key, val); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, perMember, seq
}

// largeOp is one event's worth of reads and writes for member m: the new
// records get numbers from next on, the sequence keys from seq on.
func largeOp(m, perMember, next, seq uint64, val []byte) func(store.Tx) error {
	return func(tx store.Tx) error {
		var key [64]byte
		for i := range uint64(25) {
			bi := i % 15
			bucket := largeBuckets[bi]
			n := (i * 7919) % perMember // an existing record
			if i%2 == 1 {
				n = perMember + next + i // absent
			}
			_, err := tx.Get(bucket, largeMemberKey(key[:0], m, bi, n))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		for i := range uint64(25) {
			bi := i % 13
			var k []byte
			switch {
			case i%2 == 0: // overwrite
				k = largeMemberKey(key[:0], m, bi, (i*104729)%perMember)
			case i%4 == 1: // append to the member's records
				k = largeMemberKey(key[:0], m, bi, perMember+next+i)
			default: // append to a sequence
				bucket := largeBuckets[13+i%2]
				if err := tx.Put(bucket, binary.BigEndian.AppendUint64(key[:0], seq+i), val); err != nil {
					return err
				}
				continue
			}
			if err := tx.Put(largeBuckets[bi], k, val); err != nil {
				return err
			}
		}
		return nil
	}
}

func benchmarkLarge(b *testing.B, viewEvery int) {
	s, perMember, seq := largeStore(b)
	ctx := context.Background()
	val := make([]byte, 40)
	view := func(tx store.Tx) error {
		_, err := tx.Get(largeBuckets[0], largeMemberKey(nil, 1, 0, 1))
		return err
	}
	var i uint64
	for b.Loop() {
		i++
		m := (i * 7) % largeMembers
		if err := s.Update(ctx, largeOp(m, perMember, i*32, seq+i*32, val)); err != nil {
			b.Fatal(err)
		}
		if viewEvery > 0 && i%uint64(viewEvery) == 0 {
			if err := s.View(ctx, view); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkLargeUpdate runs event-like Updates on a store of a million
// keys with no View in between.
func BenchmarkLargeUpdate(b *testing.B) { benchmarkLarge(b, 0) }

// BenchmarkLargeUpdateView takes a View after every 10 Updates, so the
// writer keeps copying what the snapshots share.
func BenchmarkLargeUpdateView(b *testing.B) { benchmarkLarge(b, 10) }
