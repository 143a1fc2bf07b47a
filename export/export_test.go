package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// testDef has every domain Members writes: a two-level ladder fed by
// spend, one point per yuan of an order in program "mall", stored value
// (with withdrawals), a cash coupon and a manual tag.
const testDef = `{
  "zone": "Asia/Shanghai",
  "events": [
    {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "pay", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "withdraw", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}
  ],
  "stored_value": {"recharge": "recharge", "spend": "pay", "withdraw": "withdraw", "amount": "amount"},
  "levels": {
    "ladder": [{"name": "bronze", "upgrade": "0", "validity": {"kind": "permanent"}},
               {"name": "silver", "upgrade": "100", "validity": {"kind": "permanent"}}],
    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "coupons": {"templates": [{"name": "welcome", "type": "cash", "amount": "5",
                             "use": {"validity": {"kind": "days_after", "n": 30}}}]},
  "tags": {"manual": [{"name": "vip"}, {"name": "staff"}]}
}`

func open(t *testing.T) *membership.Program {
	t.Helper()
	def, err := membership.ParseDefinition([]byte(testDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// day is 10:00 on a day of March 2026 in Shanghai.
func day(p *membership.Program, d int) time.Time {
	return time.Date(2026, 3, d, 10, 0, 0, 0, p.Location())
}

func process(t *testing.T, p *membership.Program, id, member, typ, amount string, d int) {
	t.Helper()
	_, err := p.Process(context.Background(), event.Event{ID: id, Member: member, Type: typ, Time: day(p, d),
		Attrs: event.Attrs{"amount": event.DecString(amount)}})
	if err != nil {
		t.Fatal(err)
	}
}

// fill gives alice two orders (70 and 50.5: silver at the second), a
// recharge of 200 and a payment of 30.25, two coupons and two tags; bob an
// order of 30.
func fill(t *testing.T, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	process(t, p, "o1", "alice", "order", "70", 1)
	process(t, p, "o2", "alice", "order", "50.5", 2)
	process(t, p, "r1", "alice", "recharge", "200", 3)
	process(t, p, "p1", "alice", "pay", "30.25", 4)
	process(t, p, "o3", "bob", "order", "30", 5)
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "alice", At: day(p, 6), Template: "welcome", Count: 2}); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []string{"vip", "staff"} {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t-" + tg, Member: "alice", Operator: "op", At: day(p, 7), Tag: tg}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMembers(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	fill(t, p)
	process(t, p, "w1", "alice", "withdraw", "19.75", 8)
	var buf bytes.Buffer
	var progress []int64
	n, err := export.Members(ctx, &buf, p, slices.Values([]string{"alice", "bob", "carol"}), day(p, 10),
		func(rows int64) { progress = append(progress, rows) })
	if err != nil {
		t.Fatal(err)
	}
	// alice: growth and points 70 + 50 = 120 (whole by default, each
	// order's rounded down), silver since the second order (2 March);
	// value 200 − 30.25 − 19.75 withdrawn = 150; two coupons held; tags
	// by name.
	// bob: 30 of each, bronze. carol, never seen: the entry level.
	want := `member,level,since,term_end,growth,lifetime_growth,points.mall.available,points.mall.pending,points.mall.frozen,value_balance,value_recharged,value_spent,value_refunded,value_withdrawn,coupons_available,coupons_locked,tags
alice,silver,2026-03-02T10:00:00+08:00,,120,120,120,0,0,150,200,30.25,0,19.75,2,0,staff|vip
bob,bronze,2026-03-05T10:00:00+08:00,,30,30,30,0,0,0,0,0,0,0,0,0,
carol,bronze,,,0,0,0,0,0,0,0,0,0,0,0,0,
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
	if n != 3 || !slices.Equal(progress, []int64{1, 2, 3}) {
		t.Errorf("rows %d, progress %v; want 3, [1 2 3]", n, progress)
	}
}

func TestStatement(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	fill(t, p)
	acct := ledger.MemberAccount("alice", ledger.Value, "")
	var buf bytes.Buffer
	n, _, err := export.Statement(ctx, &buf, p, ledger.Query{Account: acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if n != 2 || len(lines) != 3 || lines[0] != strings.Join(export.StatementHeader, ",") {
		t.Fatalf("%d rows:\n%s", n, buf.String())
	}
	// The recharge of 200 then the payment of 30.25: running balance 200,
	// 169.75.
	check := func(line, when, amount, balance, ev string) {
		t.Helper()
		f := strings.Split(line, ",")
		if f[0] != when || f[1] != acct.String() || f[5] != amount || f[6] != balance || f[8] != ev {
			t.Errorf("row %q; want time %s, amount %s, balance %s, event %s", line, when, amount, balance, ev)
		}
	}
	check(lines[1], "2026-03-03T10:00:00+08:00", "200", "200", "r1")
	check(lines[2], "2026-03-04T10:00:00+08:00", "-30.25", "169.75", "p1")

	// A period: only 4 March.
	buf.Reset()
	n, _, err = export.Statement(ctx, &buf, p, ledger.Query{Account: acct, From: day(p, 4), To: day(p, 5)}, nil)
	if err != nil || n != 1 || !strings.Contains(buf.String(), ",-30.25,169.75,") {
		t.Errorf("4 March: %d rows, %v:\n%s", n, err, buf.String())
	}
	if _, _, err := export.Statement(ctx, &buf, p, ledger.Query{Account: acct, Newest: true}, nil); !errors.Is(err, export.ErrInvalidArgument) {
		t.Errorf("newest first: %v, want ErrInvalidArgument", err)
	}
}

// pagedStatement is a statement of n entries of 1 each, in pages of 1000,
// as the ledger pages it; it checks the query it is given.
type pagedStatement struct {
	t     *testing.T
	n     int
	pages int
}

func (s *pagedStatement) Location() *time.Location { return time.UTC }

func (s *pagedStatement) Statement(_ context.Context, q ledger.Query) (ledger.Page, error) {
	s.pages++
	from := 0
	if q.Cursor != "" {
		fmt.Sscan(q.Cursor, &from)
	}
	if q.Limit != 1000 || q.Newest {
		s.t.Errorf("query %+v", q)
	}
	var page ledger.Page
	for i := from; i < s.n && len(page.Entries) < q.Limit; i++ {
		page.Entries = append(page.Entries, ledger.Entry{Txn: uint64(i + 1), Seq: uint64(i+1) << 12,
			Kind: "earned", Account: q.Account, Amount: decimalOne, Balance: decimalOf(i + 1),
			Ref: ledger.Ref{Note: "=HYPERLINK(\"x\")"}})
	}
	if from+len(page.Entries) < s.n {
		page.Next = fmt.Sprint(from + len(page.Entries))
	}
	return page, nil
}

// A statement longer than a page is read page by page to its end, and a
// note that a spreadsheet would run as a formula is written as text.
func TestStatementPages(t *testing.T) {
	src := &pagedStatement{t: t, n: 2500}
	var buf bytes.Buffer
	n, _, err := export.Statement(context.Background(), &buf, src, ledger.Query{Account: ledger.MemberAccount("m", ledger.Points("mall"), "")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if n != 2500 || src.pages != 3 || len(lines) != 2501 {
		t.Fatalf("%d rows in %d pages, %d lines; want 2500 in 3, 2501", n, src.pages, len(lines))
	}
	if want := `,1,2500,,,,,"'=HYPERLINK(""x"")"`; !strings.HasSuffix(lines[2500], want) {
		t.Errorf("last row %q, want it to end %q", lines[2500], want)
	}
}

func TestFeed(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	fill(t, p)
	chs, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var progress []int64
	n, last, err := export.Feed(ctx, &buf, p, 0, func(rows int64) { progress = append(progress, rows) })
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != len(chs) || last != chs[len(chs)-1].Seq || len(progress) != len(chs) || progress[len(progress)-1] != n {
		t.Fatalf("%d rows to %d, progress %v; want %d to %d", n, last, progress, len(chs), chs[len(chs)-1].Seq)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, line := range lines {
		want, _ := json.Marshal(chs[i])
		if line != string(want) {
			t.Errorf("line %d = %s, want %s", i, line, want)
		}
	}
	// From a cursor: only what follows it.
	buf.Reset()
	n, last2, err := export.Feed(ctx, &buf, p, chs[2].Seq, nil)
	if err != nil || int(n) != len(chs)-3 || last2 != last {
		t.Errorf("after %d: %d rows to %d, %v; want %d to %d", chs[2].Seq, n, last2, err, len(chs)-3, last)
	}
	var first change.Change
	if err := json.Unmarshal([]byte(strings.SplitN(buf.String(), "\n", 2)[0]), &first); err != nil || first.Seq != chs[3].Seq {
		t.Errorf("first line after the cursor: %+v, %v; want change %d", first, err, chs[3].Seq)
	}
	// Nothing new: no rows, the position kept.
	buf.Reset()
	if n, l, err := export.Feed(ctx, &buf, p, last, nil); n != 0 || l != last || err != nil || buf.Len() != 0 {
		t.Errorf("at the end: %d rows to %d, %v, %q", n, l, err, buf.String())
	}
}

// failingWriter fails after max bytes.
type failingWriter struct{ max, n int }

var errDisk = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.max {
		return 0, errDisk
	}
	w.n += len(p)
	return len(p), nil
}

// A writer's error and a cancelled context end an export with that error.
func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	fill(t, p)
	ids := slices.Values([]string{"alice"})
	if _, err := export.Members(ctx, &failingWriter{max: 10}, p, ids, day(p, 10), nil); !errors.Is(err, errDisk) {
		t.Errorf("Members to a full disk: %v", err)
	}
	if _, _, err := export.Feed(ctx, &failingWriter{max: 10}, p, 0, nil); !errors.Is(err, errDisk) {
		t.Errorf("Feed to a full disk: %v", err)
	}
	acct := ledger.MemberAccount("alice", ledger.Value, "")
	if _, _, err := export.Statement(ctx, &failingWriter{max: 10}, p, ledger.Query{Account: acct}, nil); !errors.Is(err, errDisk) {
		t.Errorf("Statement to a full disk: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	var buf bytes.Buffer
	if n, err := export.Members(done, &buf, p, ids, day(p, 10), nil); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Members cancelled: %d, %v", n, err)
	}
	if n, _, err := export.Feed(done, &buf, p, 0, nil); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Feed cancelled: %d, %v", n, err)
	}
	if n, _, err := export.Statement(done, &buf, p, ledger.Query{Account: acct}, nil); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Statement cancelled: %d, %v", n, err)
	}
	if _, err := export.Members(ctx, &buf, p, slices.Values([]string{""}), day(p, 10), nil); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("an empty member ID: %v, want ErrInvalidArgument", err)
	}
	if _, err := export.Members(ctx, &buf, nil, ids, day(p, 10), nil); !errors.Is(err, export.ErrInvalidArgument) {
		t.Errorf("a nil reader: %v", err)
	}
	if _, _, err := export.Feed(ctx, nil, p, 0, nil); !errors.Is(err, export.ErrInvalidArgument) {
		t.Errorf("a nil writer: %v", err)
	}
}

// Each export refuses a nil writer, reader or ID sequence with
// ErrInvalidArgument naming the argument (w, src, ids), and writes
// nothing; the errors used to say "nil reader or writer" without which.
func TestExportNamesTheNilArgument(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	fill(t, p)
	ids := slices.Values([]string{"alice"})
	acct := ledger.MemberAccount("alice", ledger.Value, "")
	var buf bytes.Buffer
	for _, c := range []struct {
		name, field string
		call        func() error
	}{
		{"Feed to nil", "w: nil writer", func() error { _, _, err := export.Feed(ctx, nil, p, 0, nil); return err }},
		{"Feed of nil", "src: nil reader", func() error { _, _, err := export.Feed(ctx, &buf, nil, 0, nil); return err }},
		{"Members to nil", "w: nil writer", func() error { _, err := export.Members(ctx, nil, p, ids, day(p, 10), nil); return err }},
		{"Members of nil", "src: nil reader", func() error { _, err := export.Members(ctx, &buf, nil, ids, day(p, 10), nil); return err }},
		{"Members of nil IDs", "ids: nil sequence", func() error { _, err := export.Members(ctx, &buf, p, nil, day(p, 10), nil); return err }},
		{"Openings to nil", "w: nil writer", func() error { _, err := export.Openings(ctx, nil, p, ids, day(p, 10), nil); return err }},
		{"Openings of nil", "src: nil reader", func() error { _, err := export.Openings(ctx, &buf, nil, ids, day(p, 10), nil); return err }},
		{"Openings of nil IDs", "ids: nil sequence", func() error { _, err := export.Openings(ctx, &buf, p, nil, day(p, 10), nil); return err }},
		{"Statement to nil", "w: nil writer", func() error {
			_, _, err := export.Statement(ctx, nil, p, ledger.Query{Account: acct}, nil)
			return err
		}},
		{"Statement of nil", "src: nil reader", func() error {
			_, _, err := export.Statement(ctx, &buf, nil, ledger.Query{Account: acct}, nil)
			return err
		}},
	} {
		if err := c.call(); !errors.Is(err, export.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v; want ErrInvalidArgument naming %q", c.name, err, c.field)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("the refused exports wrote %q", buf.String())
	}
}

// pagedFeed is a feed of n changes that records the limits asked.
type pagedFeed struct {
	n      uint64
	limits []int
}

func (f *pagedFeed) Feed(_ context.Context, after uint64, limit int) ([]change.Change, error) {
	f.limits = append(f.limits, limit)
	var out []change.Change
	for s := after + 1; s <= f.n && len(out) < limit; s++ {
		out = append(out, change.Change{Seq: s, Kind: "k", Member: "m"})
	}
	return out, nil
}

// damagedFeed gives its changes once, whatever the position asked.
type damagedFeed []change.Change

func (f damagedFeed) Feed(_ context.Context, after uint64, _ int) ([]change.Change, error) {
	if after > 0 {
		return nil, nil
	}
	return f, nil
}

// A feed whose positions do not increase, or a change whose data is no
// JSON, is damaged data: Feed stops with an error wrapping
// store.ErrCorrupt, the changes before it written.
func TestFeedDamaged(t *testing.T) {
	for name, src := range map[string]damagedFeed{
		"out of order": {{Seq: 1, Kind: "k"}, {Seq: 3, Kind: "k"}, {Seq: 2, Kind: "k"}},
		"data no JSON": {{Seq: 1, Kind: "k"}, {Seq: 3, Kind: "k"}, {Seq: 4, Kind: "k", Data: json.RawMessage("{")}},
	} {
		var buf bytes.Buffer
		n, last, err := export.Feed(context.Background(), &buf, src, 0, nil)
		if !errors.Is(err, store.ErrCorrupt) || n != 2 || last != 3 || strings.Count(buf.String(), "\n") != 2 {
			t.Errorf("%s: %d rows to %d, %v, %q; want 2 rows to 3 and an error wrapping store.ErrCorrupt", name, n, last, err, buf.String())
		}
	}
}

// A feed longer than a page is read a page of 1000 at a time, and a full
// last page is followed by one more read that finds the end.
func TestFeedPages(t *testing.T) {
	for _, tt := range []struct {
		n     uint64
		reads int
	}{{2500, 3}, {2000, 3}, {0, 1}} {
		src := &pagedFeed{n: tt.n}
		var buf bytes.Buffer
		n, last, err := export.Feed(context.Background(), &buf, src, 0, nil)
		if err != nil || uint64(n) != tt.n || last != tt.n || len(src.limits) != tt.reads {
			t.Errorf("%d changes: %d rows to %d, %v, limits %v; want %d reads", tt.n, n, last, err, src.limits, tt.reads)
		}
		for _, l := range src.limits {
			if l != 1000 {
				t.Errorf("limit %d, want 1000", l)
			}
		}
		if got := int64(strings.Count(buf.String(), "\n")); got != n {
			t.Errorf("%d lines for %d rows", got, n)
		}
	}
}

// cutWriter takes its first max bytes, the last write in part, and then
// fails with errDisk, as a full disk does.
type cutWriter struct {
	max int
	buf bytes.Buffer
}

func (w *cutWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max-w.buf.Len())
	w.buf.Write(p[:n])
	if n < len(p) {
		return n, errDisk
	}
	return n, nil
}

// complete returns the lines w took whole (each ends in a newline).
func (w *cutWriter) complete() []string {
	s := w.buf.String()
	return strings.Split(s[:strings.LastIndexByte(s, '\n')+1], "\n")
}

// An export to a writer that fails part way counts the rows the writer
// took whole, no more: the host resumes from that count (Members, by the
// IDs not yet written; Feed, from the position returned), so a row
// counted but never written would be lost. Rows used to be counted as
// they entered a buffer, up to 4 KiB before the writer saw them.
func TestExportCountsOnlyRowsTheWriterTook(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("m%03d", i)
		ids = append(ids, id)
		process(t, p, "o"+id, id, "order", "10", 1)
		process(t, p, "r"+id, "alice", "recharge", "1", 2)
	}
	for _, max := range []int{0, 1, 100, 4096, 5000, 9999} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			// Each file has a header line; rows counted are the whole
			// lines after it.
			rows := func(w *cutWriter) int64 { return max64(int64(len(w.complete()))-2, 0) }

			w := &cutWriter{max: max}
			var last int64
			n, err := export.Members(ctx, w, p, slices.Values(ids), day(p, 10), func(r int64) { last = r })
			if !errors.Is(err, errDisk) || n != rows(w) || last != n {
				t.Errorf("Members: %d rows (progress %d), %v; the writer took %d whole", n, last, err, rows(w))
			}

			w = &cutWriter{max: max}
			last = 0
			n, err = export.Openings(ctx, w, p, slices.Values(ids), day(p, 10), func(r int64) { last = r })
			if !errors.Is(err, errDisk) || n != rows(w) || last != n {
				t.Errorf("Openings: %d rows (progress %d), %v; the writer took %d whole", n, last, err, rows(w))
			}

			w = &cutWriter{max: max}
			acct := ledger.MemberAccount("alice", ledger.Value, "")
			n, _, err = export.Statement(ctx, w, p, ledger.Query{Account: acct}, nil)
			if !errors.Is(err, errDisk) || n != rows(w) {
				t.Errorf("Statement: %d rows, %v; the writer took %d whole", n, err, rows(w))
			}

			// The feed has no header: every whole line is a row, and
			// the position returned is the last whole line's.
			w = &cutWriter{max: max}
			n, pos, err := export.Feed(ctx, w, p, 0, nil)
			lines := w.complete()
			lines = lines[:len(lines)-1]
			var want uint64
			if len(lines) > 0 {
				var c change.Change
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &c); err != nil {
					t.Fatal(err)
				}
				want = c.Seq
			}
			if !errors.Is(err, errDisk) || n != int64(len(lines)) || pos != want {
				t.Errorf("Feed: %d rows to position %d, %v; the writer took %d whole, to %d", n, pos, err, len(lines), want)
			}
		})
	}
}

func max64(a, b int64) int64 { return max(a, b) }

// A statement export that stops part way — its writer fails after some
// rows, whole or in part, or ctx is cancelled between pages — returns the
// cursor after the last row the writer took whole; the export resumed
// from it writes the rest with no header, so that the whole lines of the
// first file and the second file are the full export, byte for byte.
// Statement used to return no cursor: the host re-derived one from the
// last row's time and entry number. 1,100 recharges share one instant, so
// the cursor's entry number is what keeps each row once, and there are
// two pages.
func TestStatementResumesFromItsCursor(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	for i := range 1100 {
		process(t, p, fmt.Sprintf("r%04d", i), "alice", "recharge", "1", 2)
	}
	process(t, p, "p1", "alice", "pay", "0.5", 3)
	q := ledger.Query{Account: ledger.MemberAccount("alice", ledger.Value, "")}
	var whole bytes.Buffer
	n, end, err := export.Statement(ctx, &whole, p, q, nil)
	if err != nil || n != 1101 {
		t.Fatalf("whole statement: %d rows, %v; want 1101", n, err)
	}
	// The cursor after the last row: nothing follows it.
	var none bytes.Buffer
	if n, next, err := export.Statement(ctx, &none, p, ledger.Query{Account: q.Account, Cursor: end}, nil); n != 0 || next != end || err != nil || none.Len() != 0 {
		t.Errorf("after the end: %d rows, cursor %q, %v, %q; want none, the same cursor", n, next, err, none.String())
	}

	// resume exports again from next onto the whole lines of first and
	// checks the file is the whole statement.
	resume := func(t *testing.T, first string, rows int64, next string) {
		t.Helper()
		kept := first[:strings.LastIndexByte(first, '\n')+1]
		if next == "" {
			if rows != 0 || strings.Count(kept, "\n") > 1 {
				t.Fatalf("no cursor after %d rows:\n%s", rows, kept)
			}
			kept = "" // no row yet: the file is written again
		} else if int64(strings.Count(kept, "\n")) != rows+1 {
			t.Fatalf("%d rows counted, %d whole lines after the header", rows, strings.Count(kept, "\n")-1)
		}
		var rest bytes.Buffer
		if _, _, err := export.Statement(ctx, &rest, p, ledger.Query{Account: q.Account, Cursor: next}, nil); err != nil {
			t.Fatal(err)
		}
		if got := kept + rest.String(); got != whole.String() {
			t.Errorf("resumed file differs from the whole one: %d bytes, want %d", len(got), whole.Len())
		}
	}
	header := len(strings.Join(export.StatementHeader, ",")) + 1
	for _, max := range []int{0, 10, header, header + 5, 5000, 40000, whole.Len() - 3} {
		t.Run(fmt.Sprint("writer cut at ", max), func(t *testing.T) {
			w := &cutWriter{max: max}
			n, next, err := export.Statement(ctx, w, p, q, nil)
			if !errors.Is(err, errDisk) {
				t.Fatalf("%d rows, %v; want errDisk", n, err)
			}
			resume(t, w.buf.String(), n, next)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		done, cancel := context.WithCancel(ctx)
		defer cancel()
		var buf bytes.Buffer
		// The first flush (32 KiB, some 300 rows) cancels: the export
		// stops before its second page.
		n, next, err := export.Statement(done, &buf, p, q, func(int64) { cancel() })
		if !errors.Is(err, context.Canceled) || n == 0 || n >= 1101 {
			t.Fatalf("%d rows, %v; want Canceled part way", n, err)
		}
		resume(t, buf.String(), n, next)
	})
}

// fixedStatement is a statement of the given entries, in one page.
type fixedStatement []ledger.Entry

func (s fixedStatement) Location() *time.Location { return time.UTC }

func (s fixedStatement) Statement(context.Context, ledger.Query) (ledger.Page, error) {
	return ledger.Page{Entries: s}, nil
}

// A text cell gets a ' before each of its starts (its beginning, and just
// after each ';', where a spreadsheet in a ';' locale splits it) that a
// spreadsheet would read as a formula: full-width ＝ ＋ － ＠ as well as
// = + - @, after white space too, and a ' or " so that the quotes added
// are told apart. Only a leading =, +, -, @, tab or CR used to be
// caught. The text comes back by the package doc's rule.
func TestTextCellsNeverStartAFormula(t *testing.T) {
	notes := []string{
		"=1+2",
		"＝1+2",
		"＋86 138 0000",
		"－5",
		"＠SUM(A1)",
		" =1+2",
		"\u3000＝1",
		"\t=1",
		"-5",
		"x;=cmd",
		"x; -1",
		"x;＠y",
		"=a;=b",
		"a,=b",
		"'ok",
		"x;'y",
		`x;"=cmd"`,
		`"VIP" customer`,
		"a-b;a@b.cn",
		"x;",
		"10-20 pcs, 3@5",
	}
	var entries fixedStatement
	for _, n := range notes {
		entries = append(entries, ledger.Entry{Txn: 1, Seq: 1, Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
			Kind: "k", Account: ledger.MemberAccount("m", ledger.Value, ""), Amount: decimalOne, Balance: decimalOne,
			Ref: ledger.Ref{Note: n}})
	}
	// A member whose ID holds ";=": the account's cell is text too.
	entries = append(entries, ledger.Entry{Txn: 1, Seq: 1, Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Kind: "k", Account: ledger.MemberAccount("a;=b", ledger.Value, ""), Amount: decimalOne, Balance: decimalOne})
	var buf bytes.Buffer
	if _, _, err := export.Statement(context.Background(), &buf, entries, ledger.Query{Account: ledger.MemberAccount("m", ledger.Value, "")}, nil); err != nil {
		t.Fatal(err)
	}
	row := "2026-03-01T10:00:00Z,member/m/value,1,1,k,1,1,,,,,"
	want := strings.Join(export.StatementHeader, ",") + "\n" +
		row + "'=1+2\n" +
		row + "'＝1+2\n" +
		row + "'＋86 138 0000\n" +
		row + "'－5\n" +
		row + "'＠SUM(A1)\n" +
		row + "' =1+2\n" +
		row + "'\u3000＝1\n" +
		row + "'\t=1\n" +
		row + "'-5\n" +
		row + "x;'=cmd\n" +
		row + "x;' -1\n" +
		row + "x;'＠y\n" +
		row + "'=a;'=b\n" +
		row + `"a,=b"` + "\n" +
		row + "''ok\n" +
		row + "x;''y\n" +
		row + `"x;'""=cmd"""` + "\n" +
		row + `"'""VIP"" customer"` + "\n" +
		row + "a-b;a@b.cn\n" +
		row + "x;\n" +
		row + `"10-20 pcs, 3@5"` + "\n" +
		"2026-03-01T10:00:00Z,member/a;'=b/value,1,1,k,1,1,,,,,\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}

	// The package doc's way back: drop the ' at the beginning and just
	// after each ';'.
	undo := func(cell string) string {
		parts := strings.Split(cell, ";")
		for i, p := range parts {
			parts[i] = strings.TrimPrefix(p, "'")
		}
		return strings.Join(parts, ";")
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range notes {
		if got := undo(records[i+1][11]); got != n {
			t.Errorf("note %q read back as %q", n, got)
		}
	}
	if got := undo(records[len(records)-1][1]); got != "member/a;=b/value" {
		t.Errorf("account read back as %q", got)
	}
}
