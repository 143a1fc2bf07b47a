package migrate_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// scaleMembers is how many members the scale test and the import
// benchmarks import: MEMBERSHIP_IMPORT_MEMBERS, or def.
func scaleMembers(tb testing.TB, def int) int {
	if s := os.Getenv("MEMBERSHIP_IMPORT_MEMBERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 {
			tb.Fatalf("MEMBERSHIP_IMPORT_MEMBERS=%q: want a count of 10 or more", s)
		}
		return n
	}
	return def
}

// genMember is member i of a generated import: its points (i mod 100 + 1,
// expiring 2026-06-01), growth (i mod 2000), stored value (i mod 50, with
// twice that recharged), a winback coupon for every tenth member and the
// staff tag for every seventh.
func genMember(i int) (id string, pts, growth, val decimal.Decimal, coupon, staff bool) {
	return fmt.Sprintf("g%07d", i), decimal.NewFromInt(int64(i%100 + 1)), decimal.NewFromInt(int64(i % 2000)),
		decimal.NewFromInt(int64(i % 50)), i%10 == 0, i%7 == 0
}

// writeCSV writes n generated members as an import CSV to path, a row at a
// time.
func writeCSV(tb testing.TB, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "member,growth,points,value_balance,value_recharged,coupons,tags")
	for i := range n {
		id, pts, growth, val, cp, staff := genMember(i)
		c, tg := "", ""
		if cp {
			c = "winback-30||OLD-" + id
		}
		if staff {
			tg = "staff"
		}
		fmt.Fprintf(w, "%s,%s,mall|%s|2026-06-01,%s,%s,%s,%s\n", id, growth, pts, val, val.Add(val), c, tg)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func runFile(ctx context.Context, tb testing.TB, p *membership.Program, path string, progress func(migrate.Progress)) (migrate.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	batch := 0 // Run's default
	if s := os.Getenv("MEMBERSHIP_IMPORT_BATCH"); s != "" {
		if batch, err = strconv.Atoi(s); err != nil {
			tb.Fatalf("MEMBERSHIP_IMPORT_BATCH=%q: %v", s, err)
		}
	}
	workers := 0 // Run's default
	if s := os.Getenv("MEMBERSHIP_IMPORT_WORKERS"); s != "" {
		if workers, err = strconv.Atoi(s); err != nil {
			tb.Fatalf("MEMBERSHIP_IMPORT_WORKERS=%q: %v", s, err)
		}
	}
	return migrate.Run(ctx, p, migrate.CSV(f, shanghai), migrate.Options{Name: filepath.Base(path), At: at, Progress: progress, Batch: batch, Workers: workers})
}

func openBolt(tb testing.TB, dir string) (*membership.Program, *bolt.DB) {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(dir, "members.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return open(tb, db), db
}

// TestImportInterruptedResumes imports a generated CSV of
// MEMBERSHIP_IMPORT_MEMBERS members (3,000 by default; the 100,000 of
// issue 17 with the variable set) into a bolt store, cancels the run half
// way, closes and reopens the store, runs the file again to completion,
// and checks every member's balances, the opening totals and Verify.
func TestImportInterruptedResumes(t *testing.T) {
	n := scaleMembers(t, 3000)
	dir := t.TempDir()
	path := filepath.Join(dir, "members.csv")
	writeCSV(t, path, n)
	ctx, cancel := context.WithCancel(context.Background())
	p, db := openBolt(t, dir)
	start := time.Now()
	res, err := runFile(ctx, t, p, path, func(pr migrate.Progress) {
		if pr.Rows >= n/2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v (%+v), want context.Canceled", err, res.Progress)
	}
	first := res.Applied
	if first == 0 || first >= n {
		t.Fatalf("interrupted run applied %d of %d", first, n)
	}
	t.Logf("interrupted after %d members (%v)", first, time.Since(start))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	p, db = openBolt(t, dir)
	defer db.Close()
	start = time.Now()
	res, err = runFile(context.Background(), t, p, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if want := (migrate.Progress{Rows: n, Applied: n - first, Duplicates: first}); res.Progress != want {
		t.Fatalf("resumed run %+v, want %+v", res.Progress, want)
	}
	t.Logf("resumed: %d members applied, %d duplicates in %v", res.Applied, res.Duplicates, el)

	ctx = context.Background()
	sumPts, sumGrowth, sumVal := decimal.Zero, decimal.Zero, decimal.Zero
	for i := range n {
		id, pts, growth, val, cp, staff := genMember(i)
		sumPts, sumGrowth, sumVal = sumPts.Add(pts), sumGrowth.Add(growth), sumVal.Add(val)
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: id, At: at})
		if err != nil || !b.Available.Equal(pts) {
			t.Fatalf("%s points %+v %v, want %s", id, b, err, pts)
		}
		v, err := p.Value().Account(ctx, id)
		if err != nil || !v.Balance.Equal(val) || !v.Recharged.Equal(val.Add(val)) {
			t.Fatalf("%s value %+v %v, want %s", id, v, err, val)
		}
		g, err := p.Balance(ctx, ledger.MemberAccount(id, ledger.Growth, ""))
		if err != nil || !g.Equal(growth) {
			t.Fatalf("%s growth %s %v, want %s", id, g, err, growth)
		}
		if i%97 == 0 { // coupons and tags on a sample: two reads more a member
			cs, err := p.Coupons().Live(ctx, id)
			if err != nil || (len(cs) == 1) != cp {
				t.Fatalf("%s coupons %+v %v, want %v", id, cs, err, cp)
			}
			tags, err := p.Tags().Of(ctx, id)
			has := false
			for _, a := range tags {
				has = has || a.Tag == "staff"
			}
			if err != nil || has != staff {
				t.Fatalf("%s tags %+v %v, want staff %v", id, tags, err, staff)
			}
		}
	}
	for asset, want := range map[ledger.Asset]decimal.Decimal{ledger.Points("mall"): sumPts, ledger.Growth: sumGrowth, ledger.Value: sumVal} {
		tot, err := p.Totals(ctx, asset, "", "")
		if err != nil || !tot[membership.KindOpening].Equal(want) {
			t.Errorf("%s opening total %v %v, want %s", asset, tot, err, want)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// benchImport imports a generated CSV of MEMBERSHIP_IMPORT_MEMBERS members
// (100,000 by default) into a fresh store each iteration, and reports
// members a second. Run it with -benchtime 1x.
func benchImport(b *testing.B, openStore func(dir string) store.Store) {
	n := scaleMembers(b, 100000)
	dir := b.TempDir()
	path := filepath.Join(dir, "members.csv")
	writeCSV(b, path, n)
	var total, closing time.Duration
	iters := 0
	for i := 0; b.Loop(); i++ {
		iters++
		b.StopTimer()
		sd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(sd, 0o755); err != nil {
			b.Fatal(err)
		}
		st := openStore(sd)
		p := open(b, st)
		b.StartTimer()
		start := time.Now()
		res, err := runFile(context.Background(), b, p, path, nil)
		total += time.Since(start)
		if err != nil || res.Applied != n {
			b.Fatalf("%+v %v", res.Progress, err)
		}
		b.StopTimer()
		// Close writes what the store holds in memory only (bolt's last
		// checkpoint): reported apart, as a run that goes on would pay it
		// later.
		start = time.Now()
		if c, ok := st.(io.Closer); ok {
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		}
		closing += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(iters)/total.Seconds(), "members/s")
	b.ReportMetric(float64(n)*float64(iters)/(total+closing).Seconds(), "members/s-with-close")
}

func BenchmarkImportMemory(b *testing.B) {
	benchImport(b, func(string) store.Store { return memory.New() })
}

func BenchmarkImportBolt(b *testing.B) {
	benchImport(b, func(dir string) store.Store {
		db, err := bolt.Open(filepath.Join(dir, "members.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		return db
	})
}
