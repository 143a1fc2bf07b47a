// Package testkit holds the few helpers that the tests of the root and
// the domain packages share: opening a program on each store, decimals
// from literals, zones. It is imported by tests only.
package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// Dec returns the decimal written s; it panics on a malformed literal.
func Dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Zone returns the named location; it panics on an unknown name.
func Zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Shanghai is the zone most tests' programs run in.
var Shanghai = Zone("Asia/Shanghai")

// OpenMemory opens def on a new memory store, failing t on error.
func OpenMemory(t testing.TB, def membership.Definition, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(memory.New(), def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BoltStore returns a new bolt store in a temporary directory, closed when
// the test ends.
func BoltStore(t testing.TB) *bolt.DB {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "membership.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// OpenBolt opens def on a new bolt store, failing t on error.
func OpenBolt(t testing.TB, def membership.Definition, opts ...membership.Option) *membership.Program {
	t.Helper()
	p, err := membership.Open(BoltStore(t), def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Stores lists a constructor of each store, by name, for tests that run
// on both.
func Stores(t testing.TB) map[string]func() store.Store {
	return map[string]func() store.Store{
		"memory": func() store.Store { return memory.New() },
		"bolt":   func() store.Store { return BoltStore(t) },
	}
}

// MustProcess processes each event in order, failing t on the first error,
// and returns their outcomes.
func MustProcess(t testing.TB, p *membership.Program, evs ...event.Event) []*change.Outcome {
	t.Helper()
	outs := make([]*change.Outcome, 0, len(evs))
	for _, ev := range evs {
		out, err := p.Process(context.Background(), ev)
		if err != nil {
			t.Fatalf("Process(%s): %v", ev.ID, err)
		}
		outs = append(outs, out)
	}
	return outs
}

// LadderDef is a program with a five-level ladder: Entry 0 (permanent),
// Bronze 20 (1 month-end), Silver 100 (1 month after, growth gift 30 once),
// Gold 500 (12 months after, growth gift 50 every time), Platinum 1000;
// growth from check-in (12, once a day), real-name verification (20),
// orders (amount × 1, remembered per order) and a penalty (−50); a refund
// rule; and a monthly paid plan.
func LadderDef(mode level.DowngradeMode) membership.Definition {
	year := rule.Validity{Kind: rule.MonthsAfter, N: 12}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "check_in"},
			{Name: "verify"},
			{Name: "penalty"},
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String}, {Name: "channel", Kind: event.String}}},
			{Name: "return", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}},
			{Name: "buy", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Bronze", Upgrade: Dec("20"), Retention: Dec("10"), Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Window: 12, Downgrade: mode},
				{Name: "Silver", Upgrade: Dec("100"), Retention: Dec("60"), Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1}, Window: 1, Downgrade: mode,
					Gifts: []rule.Reward{{Kind: rule.RewardGrowth, Amount: Dec("30")}}},
				{Name: "Gold", Upgrade: Dec("500"), Retention: Dec("300"), Validity: year, Window: 12, Downgrade: mode,
					Gifts: []rule.Reward{{Kind: rule.RewardGrowth, Amount: Dec("50")}}, GiftEveryTime: true},
				{Name: "Platinum", Upgrade: Dec("1000"), Retention: Dec("800"), Validity: year, Window: 12, Downgrade: mode},
			},
			Growth: []level.GrowthRule{
				{ID: "check-in", Event: "check_in", Formula: rule.Formula{Kind: rule.Fixed, Fixed: Dec("12")}, Caps: rule.Caps{{Period: rule.Day, Limit: Dec("12")}}},
				{ID: "real-name", Event: "verify", Formula: rule.Formula{Kind: rule.Fixed, Fixed: Dec("20")}, Caps: rule.Caps{{Period: rule.Total, Limit: Dec("20")}}},
				{ID: "order", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: Dec("1")}, Order: &level.OrderRef{ID: "order_id", Amount: "amount"}},
				{ID: "penalty", Event: "penalty", Formula: rule.Formula{Kind: rule.Fixed, Fixed: Dec("-50")}},
			},
			Refunds: []level.RefundRule{{ID: "return", Event: "return", Order: "order_id", Amount: "amount"}},
			Plans:   []level.Plan{{Name: "Plus", Period: level.Monthly, Event: "buy", Attr: "plan"}},
		},
	}
}

// ValueDef is a program with stored value and an order event.
func ValueDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "pay", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order", Kind: event.String}}},
			{Name: "refund", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "order", Attributes: []event.Attr{
				{Name: "amount", Kind: event.Decimal, Required: true},
				{Name: "items", Kind: event.Integer},
				{Name: "paid", Kind: event.Bool},
				{Name: "at", Kind: event.Time},
				{Name: "tags", Kind: event.Strings},
				{Name: "store", Kind: event.String},
			}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Refund: "refund", Amount: "amount"},
	}
}

// WithWithdraw returns def, which must have stored value, with
// withdrawals (value.Definition.Withdraw) by a new event type typ whose
// required decimal "amount" its stored value reads, and which the tags'
// recharge total, where def has one, counts off (tag.Recharge.Withdraw).
// def itself is left as it was.
func WithWithdraw(def membership.Definition, typ string) membership.Definition {
	def.Events = append(slices.Clip(def.Events), event.Type{Name: typ, Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}})
	sv := *def.StoredValue
	sv.Withdraw = typ
	def.StoredValue = &sv
	if def.Tags != nil && def.Tags.Recharge != nil {
		tags := *def.Tags
		recharge := *tags.Recharge
		recharge.Withdraw = typ
		tags.Recharge = &recharge
		def.Tags = &tags
	}
	return def
}

// ValueFigures is what a member's stored value comes to: the account, and
// the tags' recharge total and the tags held.
type ValueFigures struct {
	Account  value.Account
	Recharge decimal.Decimal
	Tags     []string
}

// ValueFiguresOf returns member's ValueFigures on p, failing t on error.
func ValueFiguresOf(t testing.TB, p *membership.Program, member string) ValueFigures {
	t.Helper()
	ctx := context.Background()
	a, err := p.Value().Account(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := p.Tags().Profile(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	f := ValueFigures{Account: a, Recharge: prof.Stats.Recharged}
	for _, tg := range prof.Tags {
		f.Tags = append(f.Tags, tg.Tag)
	}
	return f
}

// Kinds returns the kinds of an outcome's changes that start with prefix,
// in order.
func Kinds(out *change.Outcome, prefix string) []string {
	var ks []string
	for _, c := range out.Changes {
		if strings.HasPrefix(c.Kind, prefix) {
			ks = append(ks, c.Kind)
		}
	}
	return ks
}

// OrderDef is a program of one event type, "order" with a required
// decimal "amount", one growth rule and one points rule (program "mall",
// points valid 365 days) that both count the amount, and a ladder of
// "member" and "gold" at 1,000 growth, both permanent: an order's
// ledger postings, lot, due item and changes, and nothing else.
func OrderDef() membership.Definition {
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: Dec("1")}
	return membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "gold", Upgrade: Dec("1000"), Validity: rule.Validity{Kind: rule.Permanent}}},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: spend}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Formula: spend,
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 365}}},
		},
	}
}

// AckForever is the body of a crash test's child process: goroutines
// callers each process the events ev(g, 0), ev(g, 1), … on p and print
// "ack <event ID>" on standard output once each is processed, until the
// process is killed. An error is printed on standard error and exits the
// process with status 2.
func AckForever(p *membership.Program, goroutines int, ev func(g, i int) event.Event) {
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				e := ev(g, i)
				if _, err := p.Process(context.Background(), e); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %s\n", e.ID)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// JSONAppender is what the hand-written JSON encoders implement
// (engine.JSONAppender, record.Appender).
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, bool)
}

// SameJSON checks that v's AppendJSON writes valid JSON that decodes to
// what json.Marshal's encoding of v decodes to (want is false when v
// leaves itself to json.Marshal), after a prefix it must keep.
func SameJSON(t testing.TB, v JSONAppender, ok bool) {
	t.Helper()
	raw, gotOK := v.AppendJSON([]byte("prefix"))
	if gotOK != ok {
		t.Fatalf("%T AppendJSON ok = %v, want %v", v, gotOK, ok)
	}
	if !ok {
		return
	}
	if !strings.HasPrefix(string(raw), "prefix") {
		t.Fatalf("%T AppendJSON lost the prefix: %s", v, raw)
	}
	raw = raw[len("prefix"):]
	std, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%T AppendJSON wrote invalid JSON %s: %v", v, raw, err)
	}
	if err := json.Unmarshal(std, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%T decoded (-json.Marshal +AppendJSON):\n%s", v, diff)
	}
}

// AppendsWithoutAllocating checks that v's AppendJSON, into a buffer with
// room, allocates nothing: the gain a hand-written encoder is kept for.
func AppendsWithoutAllocating(t testing.TB, v JSONAppender) {
	t.Helper()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf, _ = v.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("%T AppendJSON allocates %.0f times, want 0", v, n)
	}
}

// Dump returns every record of st's buckets, in their order, as
// "bucket key value" (key and value in hex), for tests that compare a
// store with itself before and after, or with another.
func Dump(tb testing.TB, st store.Store, buckets ...string) []string {
	tb.Helper()
	var out []string
	err := st.View(context.Background(), func(tx store.Tx) error {
		for _, b := range buckets {
			err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
				out = append(out, fmt.Sprintf("%s %x %x", b, k, v))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Overwrite sets every record of bucket in st to value, as damage would
// (store/memory keeps no checksum), failing tb when the bucket has none.
func Overwrite(tb testing.TB, st store.Store, bucket string, value []byte) {
	tb.Helper()
	if OverwritePrefix(tb, st, bucket, nil, value) == 0 {
		tb.Fatalf("no record in %s to overwrite", bucket)
	}
}

// OverwritePrefix sets every record of bucket in st whose key starts with
// prefix (all of them for a nil one) to value, as damage would, and
// returns how many it set.
func OverwritePrefix(tb testing.TB, st store.Store, bucket string, prefix, value []byte) int {
	tb.Helper()
	var ks [][]byte
	end := store.PrefixEnd(prefix) // nil, the bucket's end, for a nil prefix
	err := st.Update(context.Background(), func(tx store.Tx) error {
		ks = ks[:0] // a store may run the function again
		err := tx.Scan(bucket, prefix, end, false, func(k, _ []byte) error {
			ks = append(ks, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range ks {
			if err := tx.Put(bucket, k, value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return len(ks)
}
