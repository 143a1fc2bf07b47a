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

// The event pattern, recorded from the root package's benchmark order
// events: one event makes 16 puts in 11 buckets and 14 gets. 8 of the puts
// rewrite 7 hot keys that every event rewrites (counters, pool balances,
// daily totals), read first; 3 rewrite records of the event's member
// (1,000 members, in turn), read first; 3 add records under
// member-prefixed keys (two ledger entries, a lot) and one its lot id; 2
// append records under increasing keys, one of them large (the event's
// feed record). 2 gets look up absent keys, one finds the member's due item.
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
		due := "\x98\x8f\xdc\x1e\x00\xc6\x00\x00points.expire\x004.mall." + strconv.Itoa(len(m)) + "." + m + ".\x00"
		for _, r := range [2][2]string{{"events", "e" + s}, {"due", due}} {
			if err := get(r[0], r[1]); err != nil {
				return err
			}
		}
		if seq <= 1000 { // the member's first lot of the month
			if err := put("due", due, 1); err != nil {
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
		for _, r := range [3]struct {
			bucket, key string
			n           int
		}{
			{"level.member", m, 32}, {"ledger.bal", m + "\x00growth\x00\x00", 3},
			{"ledger.bal", m + "\x00points:mall\x00\x00", 3},
		} {
			if err := get(r.bucket, r.key); err != nil {
				return err
			}
			if err := put(r.bucket, r.key, r.n); err != nil {
				return err
			}
		}
		lotID := string(binary.BigEndian.AppendUint64(nil, seq)) + "\x00\x00"
		for _, r := range [6]struct {
			bucket, key string
			n           int
		}{
			{"ledger.entry", m + "\x00growth\x00\x00" + string(t) + "\x00", 33},
			{"ledger.entry", m + "\x00points:mall\x00\x00" + string(t) + "\x00", 34},
			{"ledger.lot", m + "\x00points:mall\x00\x00" + string(t) + s + ".0\x00", 7},
			{"ledger.lotid", m + "\x00points:mall\x00\x00\x00" + lotID, 16},
			{"events", "e" + s, 131},
			{"feed", string(t), 310},
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
