package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store/postgres"
)

// BenchmarkProgram64 is the library on PostgreSQL as issue 14 measures it:
// 64 callers over 4 Programs (4 instances, 2 connections each), each
// sending order events for members of its own, on a program with one
// growth rule and one points rule (the root's BenchmarkProcess* event).
// Every member has had one order before the clock starts. Compare with
// BenchmarkBaselinePgx64 in the same run.
func BenchmarkProgram64(b *testing.B) {
	ctx := context.Background()
	p0 := testPool(b)
	schema := newSchema(b, p0)
	def := testkit.OrderDef()
	var programs []*membership.Program
	var stores []*postgres.Store
	for range 4 {
		cfg, err := pgxpool.ParseConfig(dsn(b))
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = benchConns / 4 // 8 connections in all, as the baseline's
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema, MaxAttempts: 100_000})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		p, err := membership.Open(st, def)
		if err != nil {
			b.Fatal(err)
		}
		programs, stores = append(programs, p), append(stores, st)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	order := func(id, member string) mevent.Event {
		return mevent.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("10")}}
	}
	for caller := 1; caller <= benchCallers; caller++ {
		var evs []mevent.Event
		for n := range uint64(membersPerCaller) {
			m := benchMember(caller, n)
			evs = append(evs, order("first-"+m, m))
		}
		if _, err := programs[0].ProcessBatch(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	var before postgres.Stats
	for _, st := range stores {
		s := st.Stats()
		before.Retries += s.Retries
		before.RoundTrips += s.RoundTrips
	}
	wal := walPosition(b, p0)
	client, server := runCallers(b, func(caller int, seq uint64) error {
		m := benchMember(caller, seq)
		_, err := programs[caller%4].Process(ctx, order(fmt.Sprint("e", seq), m))
		return err
	})
	var after postgres.Stats
	for _, st := range stores {
		s := st.Stats()
		after.Retries += s.Retries
		after.RoundTrips += s.RoundTrips
	}
	reportPerEvent(b, after.Retries-before.Retries, after.RoundTrips-before.RoundTrips, walPosition(b, p0)-wal, client, server)
}
