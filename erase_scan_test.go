package membership_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
	"os"
	"slices"
	"strings"
)

// bucketStore records the name of every bucket written through it, so a
// test can scan all a program stored.
type bucketStore struct {
	store.Store
	mu      sync.Mutex
	buckets map[string]bool
}

func newBucketStore(st store.Store) *bucketStore {
	return &bucketStore{Store: st, buckets: map[string]bool{}}
}

func (b *bucketStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return b.Store.Update(ctx, func(tx store.Tx) error { return fn(bucketTx{tx, b}) })
}

type bucketTx struct {
	store.Tx
	b *bucketStore
}

func (t bucketTx) Put(bucket string, key, value []byte) error {
	t.b.mu.Lock()
	t.b.buckets[bucket] = true
	t.b.mu.Unlock()
	return t.Tx.Put(bucket, key, value)
}

// find returns "bucket: needle" for each needle found in a key or a value
// of any bucket written so far, sorted.
func (b *bucketStore) find(tb testing.TB, needles ...string) []string {
	tb.Helper()
	b.mu.Lock()
	var names []string
	for n := range b.buckets {
		names = append(names, n)
	}
	b.mu.Unlock()
	sort.Strings(names)
	seen := map[string]bool{}
	err := b.Store.View(context.Background(), func(tx store.Tx) error {
		for _, n := range names {
			err := tx.Scan(n, nil, nil, false, func(k, v []byte) error {
				for _, s := range needles {
					if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
						seen[fmt.Sprintf("%s: %s", n, s)] = true
					}
				}
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
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestEraseScan gives member m1 personal data in every place the library
// keeps some (profile attributes, operator notes in each domain, an event
// attribute, a refused call), erases m1, and scans every record of the
// store for it: only what the Erase doc admits is left (event records, the
// feed, the journal), a retention pass leaves the journal alone, and a
// replay of the journal holds nothing once advanced. On store/memory and,
// when MEMBERSHIP_PG_DSN is set, on PostgreSQL, scanned with SQL.
func TestEraseScan(t *testing.T) {
	bs := newBucketStore(memory.New())
	eraseScan(t, bs, bs.find)
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return
	}
	ctx := context.Background()
	schema := fmt.Sprintf("erasescan_%d", os.Getpid())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	drop := func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	}
	drop()
	t.Cleanup(drop)
	st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	table := pgx.Identifier{schema, "kv"}.Sanitize()
	eraseScan(t, st, func(tb testing.TB, needles ...string) []string {
		tb.Helper()
		var out []string
		for _, n := range needles {
			rows, err := conn.Query(ctx, "SELECT DISTINCT encode(bucket, 'escape') FROM "+table+
				" WHERE position($1::bytea in key) > 0 OR position($1::bytea in value) > 0", []byte(n))
			if err != nil {
				tb.Fatal(err)
			}
			buckets, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				tb.Fatal(err)
			}
			for _, b := range buckets {
				out = append(out, b+": "+n)
			}
		}
		return out
	})
}

func eraseScan(t *testing.T, bs store.Store, find func(testing.TB, ...string) []string) {
	ctx := context.Background()
	def := retailWith(t, func(m map[string]any) {
		m["points"].(map[string]any)["programs"].([]any)[0].(map[string]any)["approval_above"] = "100"
		tg := m["tags"].(map[string]any)
		tg["attributes"] = []any{
			map[string]any{"name": "phone", "type": "string"},
			map[string]any{"name": "name", "type": "string"},
			map[string]any{"name": "birthday", "type": "string"},
			map[string]any{"name": "city", "type": "string"},
		}
		tg["rules"] = append(tg["rules"].([]any), map[string]any{"tag": "hz-local",
			"all": []any{map[string]any{"fact": "attr.city", "op": "eq", "value": map[string]any{"kind": "string", "str": "PII-Hangzhou"}}}})
		m["benefits"].(map[string]any)["achievements"] = []any{map[string]any{"name": "helper"}}
	})
	p, err := membership.Open(bs, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	dec := decimal.RequireFromString
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	order := func(id, member, amount string, h int) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: at(h),
			Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id), "store": event.Str("PII-evattr")}}
	}
	pts := p.Points()
	must(p.Process(ctx, order("o1", "m1", "2000", 0)))
	must(p.Process(ctx, event.Event{ID: "r1", Member: "m1", Type: "recharge", Time: at(0), Attrs: event.Attrs{"amount": event.DecString("300")}}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "PII-adjnote", At: at(1), Program: "mall", Amount: dec("50")}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-2", Member: "m1", Operator: "op.li", Note: "PII-adjnote2", At: at(1), Program: "mall", Amount: dec("500")}))
	must(pts.Approve(ctx, points.DecideRequest{RequestID: "dec-2", Operator: "op.wang", Note: "PII-approvenote", At: at(1), Adjustment: "adj-2"}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-3", Member: "m1", Operator: "op.li", Note: "PII-adjnote3", At: at(1), Program: "mall", Amount: dec("500")}))
	must(pts.Reject(ctx, points.DecideRequest{RequestID: "dec-3", Operator: "op.wang", Note: "PII-rejectnote", At: at(1), Adjustment: "adj-3"}))
	must(pts.Redeem(ctx, points.RedeemRequest{RequestID: "red-1", Member: "m1", Operator: "op.li", Note: "PII-redeemnote", At: at(1), Program: "mall", Ref: "ref-1", Amount: dec("10")}))
	must(pts.Reverse(ctx, points.ReverseRequest{RequestID: "rev-p1", Operator: "op.li", Note: "PII-reversenote", At: at(1), Program: "mall", Ref: "ref-1", Amount: dec("5")}))
	must(p.Levels().Set(ctx, level.SetRequest{RequestID: "lvl-1", Member: "m1", Operator: "op.zhao", Note: "PII-levelnote", At: at(2), Level: "Gold"}))
	must(p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag-1", Member: "m1", Operator: "op.li", Note: "PII-tagnote", At: at(2), Tag: "staff"}))
	// The profile's city gives m1 the tag hz-local; the erasure takes it away.
	must(p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "prof-1", Member: "m1", At: at(2),
		Attributes: map[string]event.Value{"phone": event.Str("PII-13800001111"), "name": event.Str("PII-ZhangWei"), "birthday": event.Str("PII-1990-05-17"), "city": event.Str("PII-Hangzhou")}}))
	must(p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "ach-1", Member: "m1", Operator: "op.li", Note: "PII-achnote", At: at(2), Achievement: "helper"}))
	issued, err := p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "camp-1", Operator: "op.wang", At: at(3), Members: []string{"m1"}, Template: "winback-30"})
	if err != nil {
		t.Fatal(err)
	}
	must(p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-1", Operator: "op.zhao", Note: "PII-revokenote", At: at(3), Coupon: issued.Issued["m1"][0].ID}))
	// A refused call, its error in the audit trail.
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red-2", Member: "m1", Operator: "op.li", Note: "PII-refusednote", At: at(3), Program: "mall", Ref: "ref-2", Amount: dec("999999")}); err == nil {
		t.Fatal("a redemption beyond the balance accepted")
	}
	// Refused calls whose errors quote what the operator sent: a tag
	// removed that no rule declares and m1 does not hold, a redemption
	// from a program that is not the definition's.
	if _, err := p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "tag-2", Member: "m1", Operator: "op.li", At: at(3), Tag: "PII-tagvalue"}); !errors.Is(err, tag.ErrUnknownTag) {
		t.Fatalf("removing an undeclared tag m1 does not hold: %v, want tag.ErrUnknownTag", err)
	}
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red-3", Member: "m1", Operator: "op.li", At: at(3), Program: "PII-program", Ref: "ref-3", Amount: dec("1")}); !errors.Is(err, points.ErrUnknownProgram) {
		t.Fatalf("a redemption from an unknown program: %v, want points.ErrUnknownProgram", err)
	}
	all := []string{"PII-tagvalue", "PII-program", "PII-evattr", "PII-adjnote", "PII-approvenote", "PII-rejectnote", "PII-redeemnote", "PII-reversenote", "PII-levelnote",
		"PII-tagnote", "PII-13800001111", "PII-ZhangWei", "PII-1990", "PII-Hangzhou", "PII-achnote", "PII-revokenote", "PII-refusednote"}
	// only fails for what find finds outside the buckets allowed.
	only := func(when string, found []string, allowed ...string) {
		t.Helper()
		for _, f := range found {
			b, _, _ := strings.Cut(f, ": ")
			if !slices.Contains(allowed, b) {
				t.Errorf("%s: personal data left: %s", when, f)
			}
		}
	}
	if len(find(t, all...)) < len(all)-1 { // all but the refused note, which nothing keeps
		t.Fatalf("before the erasure the store holds %v: the test does not test", find(t, all...))
	}
	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-1", Member: "m1", Operator: "op.dpo", Note: "ticket 42", At: at(5)}); err != nil {
		t.Fatal(err)
	}
	// What the Erase doc admits: event records, the feed (feed.pending on
	// PostgreSQL until an Advance sequences it) and the journal.
	only("after the erasure", find(t, all...), "events", "feed", "feed.pending", "journal")
	// The refusals' entries stay, what their errors quote replaced.
	pg, err := p.Audit(ctx, membership.AuditQuery{Member: "m1", From: at(3), To: at(4)})
	if err != nil {
		t.Fatal(err)
	}
	refusals := map[string]string{}
	for _, e := range pg.Entries {
		if e.Result == membership.AuditRefused && e.Request != "red-2" { // red-2's error quotes nothing
			refusals[e.Request] = e.Error
		}
	}
	wantRefusals := map[string]string{
		"tag-2": "unknown tag \"…\": declared by no rule nor as manual, and the member does not hold it",
		"red-3": "unknown point program \"…\"",
	}
	if d := cmp.Diff(wantRefusals, refusals); d != "" {
		t.Errorf("m1's refused calls after the erasure (-want +got):\n%s", d)
	}
	if prof, err := p.Tags().Profile(ctx, "m1"); err != nil || len(prof.Attributes) != 0 || slices.ContainsFunc(prof.Tags, func(a tag.Assigned) bool { return a.Tag == "hz-local" }) {
		t.Errorf("m1's profile after the erasure: %+v, %v; want no attribute, and no hz-local", prof, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify after the erasure: %v", err)
	}
	// Retention prunes the event records and the feed.
	if _, err := p.Advance(ctx, at(5).Add(60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	only("after a retention pass", find(t, all...), "journal")
	if _, ok := bs.(*bucketStore); !ok {
		return
	}
	// A replay erases m1 again; it does not prune, and holds what the
	// source pruned until an Advance does (see Replay).
	dbs := newBucketStore(memory.New())
	dst, err := membership.Open(dbs, def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Replay(ctx, bs, nil); err != nil {
		t.Fatal(err)
	}
	only("replayed", dbs.find(t, all...), "events", "feed")
	if _, err := dst.Advance(ctx, at(5).Add(60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	only("replayed, then advanced", dbs.find(t, all...))
}
