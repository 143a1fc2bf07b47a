package memory_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
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

// The replay benchmarks repeat, for a stream of order events, the store
// operations the root package's BenchmarkProcessMemorySerial makes per
// event (recorded from it): 14 Gets and 16 Puts over 11 buckets, 10 of
// the Puts overwriting a key read just before, 6 adding keys (ledger
// entries and a lot at the end of their member's range, its id, the feed
// and event records in ascending order), with the keys and value sizes
// the domain packages use. Members take turns, 1,000 of them, and the
// store holds about 600,000 keys when timing starts and grows by 6 keys
// per event.

const (
	replayMembers = 1000
	replayPreload = 100_000 // events
)

// replayTime is the ordered 8-byte encoding of a time in nanoseconds.
func replayTime(dst []byte, ns int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ns)^1<<63)
}

var replayValues = func() []byte {
	b := make([]byte, 600)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}()

func replayVal(n int) []byte { return replayValues[:n:n] }

// Keys that do not depend on the event.
var (
	replayTxn         = []byte("txn")
	replayFeed        = []byte("feed")
	replayExpiryMonth = []byte("mall\x002027-11\x00")
	replayDayGrowth   = []byte("growth\x002026-11-24\x00earned\x00")
	replayDayPoints   = []byte("points:mall\x002026-11-24\x00earned\x00")
	replayPoolGrowth  = []byte("\x00growth\x00earned\x00")
	replayPoolPoints  = []byte("\x00points:mall\x00earned\x00")
)

// replayer makes one event's operations. Its buffers keep the benchmark
// itself from allocating.
type replayer struct {
	tx       store.Tx
	m, id    []byte // member id, points lot id
	key, seq []byte
	feed     uint64 // feed sequence
	txn      uint64 // ledger transaction ids
}

func (r *replayer) get(bucket string, key []byte) error {
	if _, err := r.tx.Get(bucket, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// update reads key and writes an n-byte value to it, as the domain
// packages do with counters and records.
func (r *replayer) update(bucket string, key []byte, n int) error {
	if err := r.get(bucket, key); err != nil {
		return err
	}
	return r.tx.Put(bucket, key, replayVal(n))
}

// k starts a key with the member id and then parts.
func (r *replayer) k(parts ...string) []byte {
	r.key = append(r.key[:0], r.m...)
	for _, p := range parts {
		r.key = append(r.key, p...)
	}
	return r.key
}

func (r *replayer) newTxn() error {
	r.txn++
	r.id = strconv.AppendUint(r.id[:0], r.txn, 10)
	return r.update("ledger.meta", replayTxn, 6)
}

func (r *replayer) entry(pool string, at int64, leg uint64, n int) error {
	key := replayTime(r.k("\x00", pool, "\x00\x00"), at)
	key = append(binary.BigEndian.AppendUint64(key, r.txn<<4|leg), 0)
	return r.tx.Put("ledger.entry", key, replayVal(n))
}

func (r *replayer) event(tx store.Tx, i int64) error {
	const expiry = int64(1_827_000_000_000_000_000) // the points lots'
	r.tx = tx
	r.m = strconv.AppendInt(append(r.m[:0], 'm'), i%replayMembers, 10)
	at := int64(1_795_000_000_000_000_000) + i*1_000_000
	r.key = strconv.AppendInt(append(r.key[:0], 'e'), i, 10)
	if err := r.get("events", r.key); err != nil {
		return err
	}
	if err := r.get("level.member", r.m); err != nil {
		return err
	}
	// Growth: a plain balance.
	if err := r.newTxn(); err != nil {
		return err
	}
	if err := r.update("ledger.bal", r.k("\x00growth\x00\x00"), 3); err != nil {
		return err
	}
	if err := r.update("ledger.day", replayDayGrowth, 5); err != nil {
		return err
	}
	if err := r.update("ledger.bal", replayPoolGrowth, 5); err != nil {
		return err
	}
	if err := r.entry("growth", at, 1, 33); err != nil {
		return err
	}
	if err := tx.Put("level.member", r.m, replayVal(32)); err != nil {
		return err
	}
	// Points: a new lot expiring at the end of a month.
	if err := r.get("meta", replayFeed); err != nil {
		return err
	}
	if err := r.newTxn(); err != nil {
		return err
	}
	lot := replayTime(replayTime(r.k("\x00points:mall\x00\x00"), expiry), at)
	if err := tx.Put("ledger.lot", append(append(lot, r.id...), ".0\x00"...), replayVal(7)); err != nil {
		return err
	}
	id := append(binary.BigEndian.AppendUint64(r.k("\x00points:mall\x00\x00\x00"), r.txn), 0, 0)
	if err := tx.Put("ledger.lotid", id, replayVal(16)); err != nil {
		return err
	}
	if err := r.update("ledger.bal", r.k("\x00points:mall\x00\x00"), 3); err != nil {
		return err
	}
	if err := r.update("ledger.day", replayDayPoints, 5); err != nil {
		return err
	}
	if err := r.update("ledger.bal", replayPoolPoints, 5); err != nil {
		return err
	}
	if err := r.entry("points:mall", at, 2, 34); err != nil {
		return err
	}
	if err := r.update("points.expiry", replayExpiryMonth, 5); err != nil {
		return err
	}
	// The member's due item for the lots' expiry is there after the first.
	due := append(replayTime(r.key[:0], expiry), "\x00\x00points.expire\x004.mall."...)
	due = append(append(strconv.AppendInt(due, int64(len(r.m)), 10), '.'), r.m...)
	r.key = append(due, ".\x00"...)
	if i < replayMembers {
		if err := tx.Put("due", r.key, replayVal(1)); err != nil {
			return err
		}
	} else if err := r.get("due", r.key); err != nil {
		return err
	}
	r.feed++
	r.seq = binary.BigEndian.AppendUint64(r.seq[:0], r.feed)
	if err := tx.Put("feed", r.seq, replayVal(310)); err != nil {
		return err
	}
	if err := tx.Put("meta", replayFeed, r.seq); err != nil {
		return err
	}
	r.key = strconv.AppendInt(append(r.key[:0], 'e'), i, 10)
	return tx.Put("events", r.key, replayVal(131))
}

func benchmarkReplay(b *testing.B, viewEvery int64) {
	s := memory.New()
	ctx := context.Background()
	var r replayer
	var i int64
	run := func() {
		if err := s.Update(ctx, func(tx store.Tx) error { return r.event(tx, i) }); err != nil {
			b.Fatal(err)
		}
		i++
	}
	for i < replayPreload {
		run()
	}
	view := func(tx store.Tx) error {
		_, err := tx.Get("level.member", []byte("m1"))
		return err
	}
	for b.Loop() {
		run()
		if viewEvery > 0 && i%viewEvery == 0 {
			if err := s.View(ctx, view); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplay replays events with no View in between.
func BenchmarkReplay(b *testing.B) { benchmarkReplay(b, 0) }

// BenchmarkReplayView takes a View after every 10 events, so the writer
// keeps copying the nodes the snapshots share.
func BenchmarkReplayView(b *testing.B) { benchmarkReplay(b, 10) }
