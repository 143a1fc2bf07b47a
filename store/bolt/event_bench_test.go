package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// The event pattern, recorded from the root package's benchmark order events
// when this was written: one event makes 22 puts in 13 buckets and 17 gets. 8 of the puts rewrite 7 hot
// keys that every event rewrites (counters, pool balances, daily totals),
// read first; 4 rewrite records of the event's member (1,000 members, in
// turn), read first; 6 add records under member-prefixed keys; 4 append
// records under increasing keys, two of them large (the event, its feed
// entry). 5 gets look up absent keys.
var (
	evHot = [8]struct{ bucket, key string }{
		{"ledger.meta", "txn"}, {"meta", "feed"},
		{"ledger.bal", "\x00growth\x00earned\x00"}, {"ledger.bal", "\x00points:mall\x00earned\x00"},
		{"ledger.day", "growth\x002025-01-01\x00earned\x00"}, {"ledger.day", "points:mall\x002025-01-01\x00earned\x00"},
		{"points.expiry", "mall\x002026-01\x00"}, {"ledger.meta", "txn"},
	}
	evValue = make([]byte, 1000)
)

func eventOp(seq uint64) func(store.Tx) error {
	return func(tx store.Tx) error {
		m := "m" + strconv.FormatUint(seq%1000, 10)
		s := strconv.FormatUint(seq, 10)
		t := binary.BigEndian.AppendUint64(nil, 1<<60+seq)
		get := func(bucket, key string) error {
			if _, err := tx.Get(bucket, []byte(key)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}
		put := func(bucket, key string, n int) error { return tx.Put(bucket, []byte(key), evValue[:n]) }
		for _, k := range []string{"e" + s, m + "\x00points:mall\x00\x00" + s, m + "\x00x", m + "\x00y", "coupon/" + m} {
			if err := get("events", k); err != nil {
				return err
			}
		}
		for _, h := range evHot {
			v, err := tx.Get(h.bucket, []byte(h.key))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			n := uint64(0)
			if len(v) == 8 {
				n = binary.BigEndian.Uint64(v)
			}
			if err := tx.Put(h.bucket, []byte(h.key), binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
				return err
			}
		}
		for _, r := range [4]struct {
			bucket, key string
			n           int
		}{
			{"level.member", m, 25}, {"ledger.bal", m + "\x00growth\x00\x00", 3},
			{"ledger.bal", m + "\x00points:mall\x00\x00", 3}, {"level.day", m + "\x002025-01-01\x00", 3},
		} {
			if err := get(r.bucket, r.key); err != nil {
				return err
			}
			if err := put(r.bucket, r.key, r.n); err != nil {
				return err
			}
		}
		for _, r := range [10]struct {
			bucket, key string
			n           int
		}{
			{"ledger.entry", m + "\x00growth\x00\x00" + string(t) + "\x00", 56},
			{"ledger.entry", m + "\x00points:mall\x00\x00" + string(t) + "\x00", 61},
			{"ledger.lot", m + "\x00growth\x00\x00\xff" + string(t), 35},
			{"ledger.lot", m + "\x00points:mall\x00\x00" + string(t) + s, 48},
			{"ledger.lotid", m + "\x00points:mall\x00\x00" + s + ".0\x00", 39},
			{"due", "\x98\x8f\xdc\x1e\x00\xc6\x00\x00points.expire\x004.mall.2." + m + "." + s, 48},
			{"events", "e" + s, 741},
			{"feed", string(t), 548},
			{"ledger.entry", "\x00growth\x00earned\x00" + string(t), 56},
			{"ledger.entry", "\x00points:mall\x00earned\x00" + string(t), 61},
		} {
			if err := put(r.bucket, r.key, r.n); err != nil {
				return err
			}
		}
		return nil
	}
}

func reportEvents(b *testing.B, n int) {
	b.Helper()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// reportCheckpoints reports how often st's DB checkpointed, and the peak
// memory of its overlay.
func reportCheckpoints(b *testing.B, st bolt.Stats) {
	b.Helper()
	b.ReportMetric(float64(st.Checkpoints)/b.Elapsed().Seconds(), "checkpoints/s")
	b.ReportMetric(float64(st.PeakOverlaySize)/(1<<20), "peak-overlay-MiB")
}

func BenchmarkEventSerial(b *testing.B) {
	db := openBench(b)
	ctx := context.Background()
	var seq uint64
	for b.Loop() {
		seq++
		if err := db.Update(ctx, eventOp(seq)); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, b.N)
	reportCheckpoints(b, db.Stats())
}

func BenchmarkEventParallel64(b *testing.B) {
	st := runParallel64(b, eventOp)
	reportEvents(b, b.N)
	b.ReportMetric(float64(st.Requests)/float64(st.Commits), "updates/commit")
	reportCheckpoints(b, st)
}

// BenchmarkEventBulk1000 runs 1,000 events in one Update, as a bulk import
// does; an op is one event.
func BenchmarkEventBulk1000(b *testing.B) {
	db := openBench(b)
	ctx := context.Background()
	var seq uint64
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		err := db.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+1000 && j < b.N; j++ {
				seq++
				if err := eventOp(seq)(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, b.N)
	reportCheckpoints(b, db.Stats())
}
