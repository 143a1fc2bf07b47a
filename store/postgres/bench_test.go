package postgres_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
)

// The benchmarks run 64 goroutines, each sending events for members of
// its own, through a pool of benchConns connections (unless the DSN sets
// pool_max_conns): BenchmarkEvent64 through the store, an Update shaped
// like the library's event (14 gets, 16 puts), and BenchmarkBaselinePgx64
// through a transaction written by hand with pgx for a small part of the
// same work, the figure to match. Both report events/s, retries/event and
// round-trips/event.
//
// Before the clock starts, every member has its records and one past
// event, as in a store in use: keys of the same bucket then spread over
// many index pages. (On an empty table the events of all members land in
// the same few pages, which PostgreSQL's predicate locks, one per index
// page, turn into conflicts between distinct members.)
const (
	benchCallers = 64
	benchConns   = 8
	// membersPerCaller is how many members each goroutine rotates through.
	membersPerCaller = 100
)

func benchMember(caller int, n uint64) string {
	return fmt.Sprintf("m%03d.%d", caller, n%membersPerCaller)
}

// benchPool returns a pool of its own for a benchmark, closed at its end.
func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	d := dsn(b)
	cfg, err := pgxpool.ParseConfig(d)
	if err != nil {
		b.Fatal(err)
	}
	if !strings.Contains(d, "pool_max_conns") {
		cfg.MaxConns = benchConns
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

// runCallers runs b.N calls of op from benchCallers goroutines; op gets
// the caller's number and the call's sequence number, from 1.
func runCallers(b *testing.B, op func(caller int, seq uint64) error) {
	b.Helper()
	var callers atomic.Int64
	var seq atomic.Uint64
	b.SetParallelism((benchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		caller := int(callers.Add(1))
		for pb.Next() {
			if err := op(caller, seq.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
}

func reportPerEvent(b *testing.B, retries, roundTrips int64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(retries)/float64(b.N), "retries/event")
	b.ReportMetric(float64(roundTrips)/float64(b.N), "round-trips/event")
}

var benchValue = make([]byte, 1000)

// memberKeys are the 14 keys an event reads, all of its member: the
// event's ID (absent, its idempotency check), and 13 records of the
// member, 10 of which it rewrites. The engine's event today also rewrites
// keys shared by every event (hotKeys); here each is split per member, as
// issue 14 plans.
func memberKeys(member string, seq uint64) []store.Read {
	m := []byte(member)
	key := func(s ...string) []byte { return []byte(strings.Join(append([]string{member}, s...), "\x00")) }
	return []store.Read{
		{Bucket: "events", Key: fmt.Appendf(nil, "%s\x00e%d", member, seq)},
		{Bucket: "due", Key: key("points.expire", "mall")},
		{Bucket: "level.member", Key: m},
		{Bucket: "ledger.bal", Key: key("growth")},
		{Bucket: "ledger.bal", Key: key("points:mall")},
		{Bucket: "ledger.meta", Key: key("txn")},
		{Bucket: "feed.meta", Key: m},
		{Bucket: "points.expiry", Key: key("mall", "2026-01")},
		{Bucket: "ledger.day", Key: key("growth", "2025-01-01")},
		{Bucket: "ledger.day", Key: key("points:mall", "2025-01-01")},
		{Bucket: "task.progress", Key: m},
		{Bucket: "tag.member", Key: m},
		{Bucket: "benefit.member", Key: m},
		{Bucket: "coupon.member", Key: m},
	}
}

// hotKeys are the keys that every event of the engine writes today (the
// ledger's transaction counter, the feed counter, pool balances, daily
// totals, the monthly expiry total), read and rewritten by the HotKeys
// variant: what the engine's events do until issue 14 splits them.
var hotKeys = []store.Read{
	{Bucket: "ledger.meta", Key: []byte("txn")},
	{Bucket: "meta", Key: []byte("feed")},
	{Bucket: "ledger.bal", Key: []byte("\x00growth\x00earned\x00")},
	{Bucket: "ledger.bal", Key: []byte("\x00points:mall\x00earned\x00")},
	{Bucket: "ledger.day", Key: []byte("growth\x002025-01-01\x00earned\x00")},
	{Bucket: "ledger.day", Key: []byte("points:mall\x002025-01-01\x00earned\x00")},
	{Bucket: "points.expiry", Key: []byte("mall\x002026-01\x00")},
}

// event is the Update of one event of member: it reads memberKeys (in one
// Preload when preload is set, else one Get each), stops on a duplicate
// event, rewrites 10 of the keys it read (counters incremented) and adds 6
// records (the event, two ledger entries, a lot and its ID, the feed
// record): 16 puts. With hot set it reads and increments hotKeys too.
func event(member string, seq uint64, preload, hot bool) func(store.Tx) error {
	return func(tx store.Tx) error {
		reads := memberKeys(member, seq)
		if hot {
			reads = append(reads, hotKeys...)
		}
		if preload {
			if err := store.Preload(tx, reads...); err != nil {
				return err
			}
		}
		vals := make([][]byte, len(reads))
		for i, r := range reads {
			v, err := tx.Get(r.Bucket, r.Key)
			switch {
			case err == nil:
				vals[i] = v
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		if vals[0] != nil {
			return nil // a duplicate event
		}
		incr := func(i int) error {
			n := uint64(0)
			if len(vals[i]) >= 8 {
				n = binary.BigEndian.Uint64(vals[i])
			}
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 32), n+1)
			return tx.Put(reads[i].Bucket, reads[i].Key, append(v, benchValue[:24]...))
		}
		for i := 1; i <= 10; i++ {
			if err := incr(i); err != nil {
				return err
			}
		}
		if hot {
			for i := len(reads) - len(hotKeys); i < len(reads); i++ {
				if err := incr(i); err != nil {
					return err
				}
			}
		}
		t := binary.BigEndian.AppendUint64(nil, 1<<60+seq)
		for _, w := range [...]struct {
			bucket, key string
			n           int
		}{
			{"events", string(reads[0].Key), 131},
			{"ledger.entry", member + "\x00growth\x00" + string(t), 33},
			{"ledger.entry", member + "\x00points:mall\x00" + string(t), 34},
			{"ledger.lot", member + "\x00points:mall\x00" + string(t), 7},
			{"ledger.lotid", fmt.Sprintf("e%d.0", seq), 16},
			{"feed", member + "\x00" + string(t), 310},
		} {
			if err := tx.Put(w.bucket, []byte(w.key), benchValue[:w.n]); err != nil {
				return err
			}
		}
		return nil
	}
}

func BenchmarkEvent64(b *testing.B) {
	for _, c := range []struct {
		name         string
		preload, hot bool
	}{
		{"Gets", false, false},
		{"Preload", true, false},
		{"PreloadHotKeys", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := benchPool(b)
			s, err := postgres.New(context.Background(), p, &postgres.Options{Schema: newSchema(b, p), MaxAttempts: 1000})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for caller := 1; caller <= benchCallers; caller++ {
				err := s.Update(ctx, func(tx store.Tx) error {
					for n := range uint64(membersPerCaller) {
						for _, r := range memberKeys(benchMember(caller, n), 0) {
							if err := tx.Put(r.Bucket, r.Key, benchValue[:32]); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			before := s.Stats()
			runCallers(b, func(caller int, seq uint64) error {
				return s.Update(ctx, event(benchMember(caller, seq), seq, c.preload, c.hot))
			})
			st := s.Stats()
			reportPerEvent(b, st.Retries-before.Retries, st.RoundTrips-before.RoundTrips)
		})
	}
}

// BenchmarkBaselinePgx64 is the hand-written transaction of issue 14, in
// pgx with PostgreSQL's default READ COMMITTED: insert the event's ID,
// upsert the member's growth, check the level threshold (and upgrade the
// member when it is crossed), insert a ledger row and a lot; one statement
// per round trip, as such code is written, BEGIN and COMMIT included.
func BenchmarkBaselinePgx64(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	schema := newSchema(b, p)
	q := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	for _, ddl := range []string{
		`CREATE SCHEMA ` + pgx.Identifier{schema}.Sanitize(),
		`CREATE TABLE ` + q("events") + ` (id bigint PRIMARY KEY, member text NOT NULL)`,
		`CREATE TABLE ` + q("growth") + ` (member text PRIMARY KEY, total bigint NOT NULL)`,
		`CREATE TABLE ` + q("levels") + ` (member text PRIMARY KEY, level int NOT NULL)`,
		`CREATE TABLE ` + q("ledger") + ` (id bigserial PRIMARY KEY, member text NOT NULL, account text NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL)`,
		`CREATE TABLE ` + q("lots") + ` (id bigserial PRIMARY KEY, member text NOT NULL, amount bigint NOT NULL, expires date NOT NULL)`,
	} {
		if _, err := p.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
	}
	const amount, threshold = 10, 1000
	var members []string
	for caller := 1; caller <= benchCallers; caller++ {
		for n := range uint64(membersPerCaller) {
			members = append(members, benchMember(caller, n))
		}
	}
	if _, err := p.Exec(ctx, `INSERT INTO `+q("growth")+` (member, total) SELECT unnest($1::text[]), 0`, members); err != nil {
		b.Fatal(err)
	}
	var roundTrips atomic.Int64
	runCallers(b, func(caller int, seq uint64) error {
		member := benchMember(caller, seq)
		n := int64(2) // BEGIN, COMMIT
		err := pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			n++
			tag, err := tx.Exec(ctx, `INSERT INTO `+q("events")+` (id, member) VALUES ($1, $2) ON CONFLICT DO NOTHING`, seq, member)
			if err != nil || tag.RowsAffected() == 0 {
				return err // a duplicate event: nothing to do
			}
			n++
			var total int64
			err = tx.QueryRow(ctx, `INSERT INTO `+q("growth")+` (member, total) VALUES ($1, $2)
				ON CONFLICT (member) DO UPDATE SET total = `+q("growth")+`.total + excluded.total RETURNING total`, member, amount).Scan(&total)
			if err != nil {
				return err
			}
			if total >= threshold && total-amount < threshold {
				n++
				_, err := tx.Exec(ctx, `INSERT INTO `+q("levels")+` (member, level) VALUES ($1, 2)
					ON CONFLICT (member) DO UPDATE SET level = excluded.level`, member)
				if err != nil {
					return err
				}
			}
			n++
			if _, err := tx.Exec(ctx, `INSERT INTO `+q("ledger")+` (member, account, amount, at) VALUES ($1, 'growth', $2, now())`, member, amount); err != nil {
				return err
			}
			n++
			_, err = tx.Exec(ctx, `INSERT INTO `+q("lots")+` (member, amount, expires) VALUES ($1, $2, current_date + 365)`, member, amount)
			return err
		})
		roundTrips.Add(n)
		return err
	})
	reportPerEvent(b, 0, roundTrips.Load())
}
