package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// wantRefused fails t unless err wraps ErrInvalidArgument and its message
// names field.
func wantRefused(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("%s: error %v; want one wrapping ErrInvalidArgument", what, err)
		return
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("%s: error %q does not name %q", what, err, field)
	}
}

// Arguments a call cannot use are refused with ErrInvalidArgument, named,
// before anything is read or written: a nil writer or source store used
// to panic, a cron spec that does not parse came back as the parser's bare
// error, and an empty consumer read cursor 0 where SetCursor refused it.
func TestUnusableArgumentsAreRefused(t *testing.T) {
	ctx := context.Background()
	from := memory.New()
	src := openOpsOn(t, from, membership.WithJournal())
	if _, err := src.Process(ctx, order(src, "o1", "alice", "10", 1)); err != nil {
		t.Fatal(err)
	}
	if err := src.SetCursor(ctx, "crm", 1); err != nil {
		t.Fatal(err)
	}
	feed := func() int {
		t.Helper()
		cs, err := src.Feed(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	before := feed()

	t.Run("ExportAudit nil writer", func(t *testing.T) {
		n, err := src.ExportAudit(ctx, nil, membership.AuditQuery{})
		wantRefused(t, "ExportAudit(nil)", err, "w: nil writer")
		if n != 0 {
			t.Errorf("ExportAudit(nil) wrote %d entries, want 0", n)
		}
	})

	t.Run("Replay nil source", func(t *testing.T) {
		dst := openOpsOn(t, memory.New())
		n, err := dst.Replay(ctx, nil, nil)
		wantRefused(t, "Replay(nil)", err, "from: nil store")
		if n != 0 {
			t.Errorf("Replay(nil) applied %d inputs, want 0", n)
		}
		_, err = dst.ReplayWith(ctx, nil, membership.ReplayOptions{})
		wantRefused(t, "ReplayWith(nil)", err, "from: nil store")
		_, err = dst.ReplayWith(ctx, nil, membership.ReplayOptions{Changed: true})
		wantRefused(t, "ReplayWith(nil, Changed)", err, "from: nil store")
		// The refusals left dst empty: the journal (one order) replays.
		if n, err := dst.Replay(ctx, from, nil); err != nil || n != 1 {
			t.Errorf("Replay after the refusals = %d, %v; want 1 input", n, err)
		}
	})

	t.Run("Schedule bad spec", func(t *testing.T) {
		// "TZ=UTC" and "CRON_TZ=Asia/Shanghai", a zone with no schedule
		// after it, made the cron parser panic.
		for _, spec := range []string{"", "nope nope", "61 * * * *", "@fortnightly", "*/0 * * * *", "TZ=UTC", "CRON_TZ=Asia/Shanghai", "CRON_TZ=Mars/Base @hourly"} {
			s, err := src.Schedule(ctx, spec)
			if s != nil {
				s.Stop()
				t.Errorf("Schedule(%q) started a scheduler", spec)
			}
			wantRefused(t, "Schedule("+spec+")", err, "spec \""+spec+"\"")
		}
	})

	t.Run("Cursor consumer", func(t *testing.T) {
		for _, c := range []struct{ consumer, field string }{
			{"", "consumer: empty"},
			{"c\x00", "consumer"},
			{"c\xff", "consumer"},
			{strings.Repeat("c", 1025), "consumer"},
		} {
			n, err := src.Cursor(ctx, c.consumer)
			wantRefused(t, "Cursor("+c.consumer+")", err, c.field)
			if n != 0 {
				t.Errorf("Cursor(%q) = %d, want 0", c.consumer, n)
			}
			wantRefused(t, "SetCursor("+c.consumer+")", src.SetCursor(ctx, c.consumer, 5), c.field)
		}
		// crm's cursor is where it was set, by hand: 1.
		if n, err := src.Cursor(ctx, "crm"); err != nil || n != 1 {
			t.Errorf("Cursor(crm) = %d, %v; want 1", n, err)
		}
	})

	if after := feed(); after != before {
		t.Errorf("the refused calls changed the feed: %d changes, were %d", after, before)
	}
}

// openOpsOn opens opsDef on st.
func openOpsOn(t *testing.T, st *memory.Store, opts ...membership.Option) *membership.Program {
	t.Helper()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Paged queries follow one rule (see "Paged queries" in the package doc):
// 0 is the query's default, a limit above its maximum is clamped, and a
// negative limit is refused naming "limit" — Feed and Audit used to read
// it as the default, Statement too. A To before From used to give an
// empty page (Statement, Audit) or no totals (Totals); it is refused,
// naming "to". Nothing is written.
func TestPagedQueriesAndRanges(t *testing.T) {
	ctx := context.Background()
	p := openOpsOn(t, memory.New())
	for i, m := range []string{"alice", "bob", "carol"} {
		if _, err := p.Process(ctx, order(p, "o"+m, m, "10", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	alice := ledger.MemberAccount("alice", ledger.Points("mall"), "")
	at := time.Date(2026, 12, 2, 0, 0, 0, 0, p.Location())
	_, err = p.Feed(ctx, 0, -1)
	wantRefused(t, "Feed limit -1", err, "limit: ")
	_, err = p.Audit(ctx, membership.AuditQuery{Limit: -1})
	wantRefused(t, "Audit limit -1", err, "limit: ")
	_, err = p.Audit(ctx, membership.AuditQuery{From: at, To: at.Add(-time.Hour)})
	wantRefused(t, "Audit to before from", err, "to: ")
	_, err = p.Statement(ctx, ledger.Query{Account: alice, Limit: -1})
	wantRefused(t, "Statement limit -1", err, "limit: ")
	_, err = p.Statement(ctx, ledger.Query{Account: alice, From: at, To: at.Add(-time.Hour)})
	wantRefused(t, "Statement to before from", err, "to: ")
	_, err = p.Totals(ctx, ledger.Points("mall"), "2026-12-03", "2026-12-01")
	wantRefused(t, "Totals to before from", err, "to: ")
	if after, _ := p.Feed(ctx, 0, 0); len(after) != len(before) {
		t.Errorf("the refused calls changed the feed: %d changes, were %d", len(after), len(before))
	}
	// Above the maximum is clamped: every change, entry and audit entry
	// comes back (three orders: one earned entry for alice).
	if cs, err := p.Feed(ctx, 0, 1<<40); err != nil || len(cs) != len(before) {
		t.Errorf("Feed limit 2^40: %d changes, %v; want %d", len(cs), err, len(before))
	}
	if pg, err := p.Statement(ctx, ledger.Query{Account: alice, Limit: 1 << 40}); err != nil || len(pg.Entries) != 1 {
		t.Errorf("Statement limit 2^40: %+v, %v; want alice's one entry", pg, err)
	}
	if _, err := p.Audit(ctx, membership.AuditQuery{Limit: 1 << 40}); err != nil {
		t.Errorf("Audit limit 2^40: %v", err)
	}
}

// An asset the definition does not have used to read as zero (Balance),
// an empty page (Statement) or no totals (Totals). A point program it
// lacks is refused with points.ErrUnknownProgram (as the points calls
// refuse it) and ErrInvalidArgument, any other unknown asset with
// ErrInvalidArgument, both naming "asset". Growth and stored value are
// the ledger's own assets and are read.
func TestUnknownAssetsAreRefused(t *testing.T) {
	ctx := context.Background()
	p := openOpsOn(t, memory.New())
	if _, err := p.Process(ctx, order(p, "o1", "alice", "10", 1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		asset   ledger.Asset
		program bool // a point program's asset: also ErrUnknownProgram
	}{
		{ledger.Points("zzz"), true},
		{ledger.Points(""), true},
		{"zzz", false},
		{"", false},
	} {
		_, err := p.Balance(ctx, ledger.MemberAccount("alice", c.asset, ""))
		wantRefused(t, "Balance of "+string(c.asset), err, "asset")
		_, err2 := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("alice", c.asset, "")})
		wantRefused(t, "Statement of "+string(c.asset), err2, "asset")
		_, err3 := p.Totals(ctx, c.asset, "", "")
		wantRefused(t, "Totals of "+string(c.asset), err3, "asset")
		for _, e := range []error{err, err2, err3} {
			if got := errors.Is(e, points.ErrUnknownProgram); got != c.program {
				t.Errorf("%q: %v wraps points.ErrUnknownProgram: %v, want %v", c.asset, e, got, c.program)
			}
		}
	}
	if b, err := p.Balance(ctx, ledger.MemberAccount("alice", ledger.Points("mall"), "")); err != nil || !b.Equal(decimal.NewFromInt(10)) {
		t.Errorf("alice's mall balance = %s, %v; want 10", b, err)
	}
	for _, a := range []ledger.Asset{ledger.Growth, ledger.Value} {
		if b, err := p.Balance(ctx, ledger.MemberAccount("alice", a, "")); err != nil || !b.IsZero() {
			t.Errorf("alice's %s balance = %s, %v; want 0", a, b, err)
		}
		if _, err := p.Totals(ctx, a, "", ""); err != nil {
			t.Errorf("Totals of %s: %v", a, err)
		}
	}
}

// The query fields Audit and Statement check against the limits on input
// are named in lower case, as their JSON names read and as the calls' own
// checks name limit and to: event.CheckRequest names a field by its JSON
// tag, else by its Go name, and AuditQuery and ledger.Query had no tags
// ("From: …", "Account.member: …"). The messages are written out by hand:
// the call, "invalid argument", the field, then event.CheckTime's or
// event.ErrInvalidText's text.
func TestQueryFieldsNamedAsJSON(t *testing.T) {
	ctx := context.Background()
	p := openOpsOn(t, memory.New())
	mall := ledger.Points("mall")
	early := time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC)
	late := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	const (
		earlyRange = "time outside of the supported range: 1899-12-31T23:59:59Z is not from 1900-01-01 to 2099-12-31"
		lateRange  = "time outside of the supported range: 2100-01-01T00:00:00Z is not from 1900-01-01 to 2099-12-31"
		badText    = "not valid UTF-8 or contains a NUL byte"
	)
	audit := func(q membership.AuditQuery) error {
		_, err := p.Audit(ctx, q)
		return err
	}
	statement := func(q ledger.Query) error {
		_, err := p.Statement(ctx, q)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"Audit from in 1899", audit(membership.AuditQuery{From: early}),
			"membership: audit: invalid argument: from: " + earlyRange},
		{"Audit after with a NUL", audit(membership.AuditQuery{After: "a\x00"}),
			"membership: audit: invalid argument: after: " + badText},
		{"Statement to in 2100", statement(ledger.Query{Account: ledger.MemberAccount("alice", mall, ""), To: late}),
			"membership: statement: invalid argument: to: " + lateRange},
		{"Statement of a member with a NUL", statement(ledger.Query{Account: ledger.MemberAccount("a\x00", mall, "")}),
			"membership: statement: invalid argument: account.member: " + badText},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.name, tc.err, tc.want)
		}
		if !errors.Is(tc.err, membership.ErrInvalidArgument) {
			t.Errorf("%s: %v, want it to wrap ErrInvalidArgument", tc.name, tc.err)
		}
	}
}
