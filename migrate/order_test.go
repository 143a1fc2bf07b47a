package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// orderTarget applies rows by recording them (request ID, then member) in
// the order it applies them; a batch holding a row of operator "hold" waits for
// release first.
type orderTarget struct {
	release chan struct{}
	mu      sync.Mutex
	applied []string
}

func (o *orderTarget) OpenMembers(ctx context.Context, rows []migrate.Member, stop bool) ([]*change.Outcome, []error, error) {
	if slices.ContainsFunc(rows, func(m migrate.Member) bool { return m.Operator == "hold" }) {
		<-o.release
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	outs := make([]*change.Outcome, len(rows))
	for i, m := range rows {
		o.applied = append(o.applied, m.RequestID+" "+m.Member)
		outs[i] = &change.Outcome{}
	}
	return outs, make([]error, len(rows)), nil
}

// With batches in flight at once (Workers), two rows of one member, of
// one request ID, or with one old coupon code are still applied in the
// source's order, so that the first of them is the one applied and the
// second is refused (ErrKnownMember, ErrEventConflict, a code another
// coupon has), however the batches are scheduled. Line 1's batch is held
// until every other goroutine is blocked: Run used to send line 2's batch
// meanwhile, which the store then applied first. Line 3 shares nothing
// with line 1 and may pass it.
func TestRunKeepsTheOrderOfRowsThatShareAKey(t *testing.T) {
	code := func(c string) []migrate.Coupon { return []migrate.Coupon{{Template: "t", Code: c}} }
	for _, tc := range []struct {
		name string
		rows []migrate.Member
	}{
		{"member", []migrate.Member{{Member: "a"}, {Member: "a"}, {Member: "b"}}},
		{"request ID", []migrate.Member{{RequestID: "r", Member: "a"}, {RequestID: "r", Member: "b"}, {Member: "c"}}},
		{"old coupon code", []migrate.Member{{Member: "a", Coupons: code("OLD")}, {Member: "b", Coupons: code("OLD")}, {Member: "c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rows := slices.Clone(tc.rows)
				rows[0].Operator = "hold"
				key := func(line int) string {
					if id := rows[line-1].RequestID; id != "" {
						return id + " " + rows[line-1].Member
					}
					return fmt.Sprintf("s:%d %s", line, rows[line-1].Member)
				}
				first, second := key(1), key(2)
				dst := &orderTarget{release: make(chan struct{})}
				done := make(chan struct{})
				var res migrate.Result
				var err error
				go func() {
					defer close(done)
					res, err = migrate.Run(context.Background(), dst, &slice{rows: rows}, migrate.Options{Name: "s", At: at, Batch: 1, Workers: 3})
				}()
				synctest.Wait()
				close(dst.release)
				<-done
				if err != nil || res.Applied != 3 {
					t.Fatalf("%+v %v, want 3 rows applied", res.Progress, err)
				}
				i, j := slices.Index(dst.applied, first), slices.Index(dst.applied, second)
				if i < 0 || j < 0 || i > j {
					t.Errorf("applied %q: %s after %s", dst.applied, first, second)
				}
			})
		})
	}
}

// failingReader reads r, then fails with errRead once n bytes are read.
type failingReader struct {
	r io.Reader
	n int
}

var errRead = errors.New("disk gone")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errRead
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// A source that fails half way stops the run with its error; the rows
// read before it are applied (those of the batch being filled too), the
// others not; running the whole file again under the same Name applies
// exactly the others, counting the first ones as duplicates: every member
// has their growth once.
func TestRunResumesAfterAReadError(t *testing.T) {
	ctx := context.Background()
	var file strings.Builder
	file.WriteString("member,growth\n")
	for i := range 10 {
		fmt.Fprintf(&file, "m%d,%d\n", i, 10+i) // lines 2 to 11, 6 bytes each
	}
	p := open(t, memory.New())
	o := migrate.Options{Name: "members.csv", At: at, Batch: 3}
	// 14 header bytes and 6 rows; the seventh is cut in its middle and
	// never reaches the run (the CSV reader reads ahead, but returns
	// whole records).
	cut := &failingReader{r: strings.NewReader(file.String()), n: 14 + 6*6 + 3}
	res, err := migrate.Run(ctx, p, migrate.CSV(cut, shanghai), o)
	if !errors.Is(err, errRead) {
		t.Fatalf("cut run: %v, want the read error", err)
	}
	if want := (migrate.Progress{Rows: 6, Applied: 6}); res.Progress != want {
		t.Fatalf("cut run %+v, want %+v", res.Progress, want)
	}
	res, err = migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file.String()), shanghai), o)
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 10, Applied: 4, Duplicates: 6}); res.Progress != want {
		t.Fatalf("resumed run %+v, want %+v", res.Progress, want)
	}
	for i := range 10 {
		id := fmt.Sprintf("m%d", i)
		g, err := p.Balance(ctx, ledger.MemberAccount(id, ledger.Growth, ""))
		if want := decimal.NewFromInt(int64(10 + i)); err != nil || !g.Equal(want) {
			t.Errorf("%s growth %s %v, want %s", id, g, err, want)
		}
	}
	tot, err := p.Totals(ctx, ledger.Growth, "", "")
	if err != nil || !tot[membership.KindOpening].Equal(decimal.NewFromInt(145)) { // 10+11+…+19
		t.Errorf("growth opening total %v %v, want 145", tot, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// countTarget applies every row, counting its calls.
type countTarget struct{ calls, rows int }

func (c *countTarget) OpenMembers(ctx context.Context, rows []migrate.Member, stop bool) ([]*change.Outcome, []error, error) {
	c.calls++
	c.rows += len(rows)
	outs := make([]*change.Outcome, len(rows))
	for i := range outs {
		outs[i] = &change.Outcome{}
	}
	return outs, make([]error, len(rows)), nil
}

// Rows that do not parse do not cut the batch: the good rows around them
// go to the Target together (each bad row used to send the batch being
// filled and wait for every batch in flight, so a file with a bad row in
// two went one row a transaction: ten times slower on bolt), and the bad
// rows are still reported in the source's order, among the others.
func TestBadRowsDoNotCutTheBatch(t *testing.T) {
	var file strings.Builder
	file.WriteString("member,growth\n")
	for i := range 6 {
		if i%2 == 0 {
			fmt.Fprintf(&file, "m%d,5\n", i)
		} else {
			fmt.Fprintf(&file, "m%d,x\n", i)
		}
	}
	// 600 bad rows in a row, then one good one: the batch size bounds
	// what is kept of them (600 > 2 batches of 256).
	for i := range 600 {
		fmt.Fprintf(&file, "z%d,x\n", i)
	}
	file.WriteString("last,1\n")
	dst := &countTarget{}
	var lines []int
	res, err := migrate.Run(context.Background(), dst, migrate.CSV(strings.NewReader(file.String()), shanghai),
		migrate.Options{Name: "f", At: at, OnError: func(e migrate.RowError) { lines = append(lines, e.Line) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 607, Applied: 4, Failed: 603}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	// Lines 2, 4, 6 (m0, m2, m4) are one batch; "last" (line 609) follows
	// the 256-row batches the bad rows fill.
	if dst.calls != 2 || dst.rows != 4 {
		t.Errorf("%d calls of %d rows in all, want 2 calls", dst.calls, dst.rows)
	}
	want := []int{3, 5, 7}
	for l := 8; l < 608; l++ {
		want = append(want, l)
	}
	if !slices.Equal(lines, want) {
		t.Errorf("bad lines reported %v…, want 3, 5, 7, 8 to 607 in order", lines[:min(len(lines), 5)])
	}
}
