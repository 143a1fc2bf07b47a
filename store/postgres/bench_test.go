package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The benchmarks run 64 goroutines, each sending events for members of
// its own, through benchConns connections in all (unless the DSN sets
// pool_max_conns): BenchmarkProgram64 through the library (program_bench_
// test.go), and BenchmarkBaselinePgx64 through a transaction written by
// hand with pgx for a small part of the same work, the figure to match.
// Both report events/s, retries/event and round-trips/event.
//
// Before the clock starts, every member has had one event, as in a store
// in use: keys of the same bucket then spread over many index pages. (On
// an empty table the first records of all members land in the same few
// pages, which PostgreSQL's predicate locks, one per index page, turn into
// conflicts between distinct members.)
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
// the caller's number and the call's sequence number, from 1. It returns
// the processor time the run took in this process and in the server's
// processes (see serverCPU).
func runCallers(b *testing.B, op func(caller int, seq uint64) error) (client, server time.Duration) {
	b.Helper()
	client0, server0 := processCPU(b), serverCPU()
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
	return processCPU(b) - client0, serverCPU() - server0
}

// processCPU returns the processor time this process has used, user and
// system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU returns the processor time, user and system, used by the
// processes named postgres on this machine (Linux's /proc), or 0 where
// none can be read: the server's backends, and its background writers,
// when it runs here and nothing else does. A backend that exits takes its
// time with it; the benchmarks' connections live through the run.
func serverCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15, counted
		// after the comm, which may hold spaces.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open || string(stat[open+1:end]) != "postgres" {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ, 100 on Linux
}

// walPosition returns the server's write-ahead log position, in bytes:
// the difference of two is the log the work between them wrote, every
// row's new version and index entry included (on a server where nothing
// else runs at the time).
func walPosition(b *testing.B, p *pgxpool.Pool) int64 {
	b.Helper()
	var pos int64
	if err := p.QueryRow(context.Background(), `SELECT pg_current_wal_lsn() - '0/0'`).Scan(&pos); err != nil {
		b.Fatal(err)
	}
	return pos
}

// reportPerEvent reports the events/s of the run and the retries, round
// trips, bytes of write-ahead log (wal, from walPosition) and processor
// time of this process and the server's (from runCallers) per event. The
// processor times are steadier than the rate on a shared machine, and say
// which side a change saves: with both on one machine, the rate is about
// its cores over their sum.
func reportPerEvent(b *testing.B, retries, roundTrips, wal int64, client, server time.Duration) {
	b.ReportMetric(float64(client.Microseconds())/float64(b.N), "client-µs/event")
	if server > 0 {
		b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-µs/event")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(wal)/float64(b.N), "WAL-bytes/event")
	b.ReportMetric(float64(retries)/float64(b.N), "retries/event")
	b.ReportMetric(float64(roundTrips)/float64(b.N), "round-trips/event")
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
	wal := walPosition(b, p)
	client, server := runCallers(b, func(caller int, seq uint64) error {
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
	reportPerEvent(b, 0, roundTrips.Load(), walPosition(b, p)-wal, client, server)
}
