package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// retail returns the retail example's definition with two profile
// attributes.
// A nil t (an Example) panics on an error.
func retail(t testing.TB) membership.Definition {
	fatal := func(err error) {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../examples/retail/program.json")
	if err != nil {
		fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		fatal(err)
	}
	m["tags"].(map[string]any)["attributes"] = []any{
		map[string]any{"name": "phone", "type": "string"},
		map[string]any{"name": "city", "type": "string"},
	}
	if raw, err = json.Marshal(m); err != nil {
		fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		fatal(err)
	}
	return def
}

func open(t testing.TB, st store.Store) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, retail(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// at is the import's opening time: 2025-06-01 00:00 in the program's zone.
var at = time.Date(2025, 6, 1, 0, 0, 0, 0, shanghai)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func date(t testing.TB, s string) rule.Date {
	t.Helper()
	d, err := rule.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func source(t testing.TB, name string) migrate.Source {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if name == "members.csv" {
		return migrate.CSV(f, shanghai)
	}
	return migrate.JSONL(f)
}

// TestImportFiles imports the CSV and the JSON lines file, which hold the
// same members (every field on m1), checks each balance worked out by
// hand from the files, the bad rows reported by line and field, a re-run
// that changes nothing, and the pending points released on time.
func TestImportFiles(t *testing.T) {
	for _, tc := range []struct {
		file string
		bad  []migrate.RowError // Line, Member, Field; Err checked apart
	}{
		{"members.csv", []migrate.RowError{{Line: 4, Member: "m3", Field: "points[0].amount"}, {Line: 5, Member: "m4", Field: "level"}}},
		{"members.jsonl", []migrate.RowError{{Line: 4, Member: "m3", Field: "nickname"}, {Line: 5, Member: "m4", Field: "level"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, memory.New())
			var progress []migrate.Progress
			opts := migrate.Options{Name: tc.file, At: at, Batch: 2, Operator: "op.migrate",
				Progress: func(pr migrate.Progress) { progress = append(progress, pr) }}
			res, err := migrate.Run(ctx, p, source(t, tc.file), opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := (migrate.Progress{Rows: 5, Applied: 3, Failed: 2}); res.Progress != want {
				t.Errorf("progress %+v, want %+v", res.Progress, want)
			}
			if len(progress) == 0 || progress[len(progress)-1] != res.Progress {
				t.Errorf("progress callbacks %+v, last want %+v", progress, res.Progress)
			}
			if len(res.Errors) != len(tc.bad) {
				t.Fatalf("errors %v, want %d", res.Errors, len(tc.bad))
			}
			for i, w := range tc.bad {
				g := res.Errors[i]
				if g.Line != w.Line || g.Member != w.Member || g.Field != w.Field {
					t.Errorf("error %d: line %d member %q field %q (%v), want line %d member %q field %q", i, g.Line, g.Member, g.Field, g.Err, w.Line, w.Member, w.Field)
				}
			}
			if !errors.Is(res.Errors[1].Err, level.ErrUnknownLevel) {
				t.Errorf("m4: %v, want ErrUnknownLevel", res.Errors[1].Err)
			}
			checkImported(t, p)

			// A re-run changes nothing: every good row is a duplicate.
			res, err = migrate.Run(ctx, p, source(t, tc.file), opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := (migrate.Progress{Rows: 5, Duplicates: 3, Failed: 2}); res.Progress != want {
				t.Errorf("re-run: %+v, want %+v", res.Progress, want)
			}
			checkImported(t, p)

			// Under another default time, the rows that took it are other
			// requests under the same IDs: conflicts, refused. m5 gives its
			// own time: a duplicate.
			later := opts
			later.At = at.Add(time.Hour)
			res, err = migrate.Run(ctx, p, source(t, tc.file), later)
			if err != nil {
				t.Fatal(err)
			}
			if want := (migrate.Progress{Rows: 5, Duplicates: 1, Failed: 4}); res.Progress != want {
				t.Errorf("run at another time: %+v, want %+v", res.Progress, want)
			}
			if !errors.Is(res.Errors[0].Err, membership.ErrEventConflict) || res.Errors[0].Member != "m1" {
				t.Errorf("m1 under another time: %v, want ErrEventConflict", res.Errors[0])
			}
			checkImported(t, p)

			// The pending 50 are released on 2025-06-10.
			if _, err := p.Advance(ctx, time.Date(2025, 6, 11, 0, 0, 0, 0, shanghai)); err != nil {
				t.Fatal(err)
			}
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m1", At: time.Date(2025, 6, 11, 0, 0, 0, 0, shanghai)})
			if err != nil || !b.Available.Equal(dec("550")) || !b.Pending.IsZero() {
				t.Errorf("m1 after the release: %+v %v, want 550 available, none pending", b, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkImported checks the state the members files give, worked out by
// hand.
func checkImported(t *testing.T, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	// m1: mall 300 (to 2025-12-31) + 200 (no expiry) spendable, 50
	// pending; Gold to 2026-06-01 00:00 with growth 1800, lifetime 5000;
	// stored value 120.50, recharged 1000, spent 879.50; two coupons, one
	// found by its old code; the staff tag; phone and city.
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m1", At: at})
	if err != nil || !b.Available.Equal(dec("500")) || !b.Main.Equal(dec("500")) || !b.Pending.Equal(dec("50")) {
		t.Errorf("m1 points %+v %v, want 500 available and main, 50 pending", b, err)
	}
	lv, err := p.Levels().Status(ctx, "m1")
	// term_end 2026-06-01 in the CSV is the end of that day: 24:00, the
	// start of 2026-06-02 (the JSON line gives that instant).
	if err != nil || lv.Level != "Gold" || !lv.TermEnd.Equal(time.Date(2026, 6, 2, 0, 0, 0, 0, shanghai)) ||
		!lv.Growth.Equal(dec("1800")) || !lv.Lifetime.Equal(dec("5000")) || !lv.Since.Equal(at) {
		t.Errorf("m1 level %+v %v", lv, err)
	}
	v, err := p.Value().Account(ctx, "m1")
	if err != nil || !v.Balance.Equal(dec("120.50")) || !v.Recharged.Equal(dec("1000")) || !v.Spent.Equal(dec("879.50")) {
		t.Errorf("m1 value %+v %v", v, err)
	}
	cs, err := p.Coupons().Live(ctx, "m1")
	if err != nil || len(cs) != 2 {
		t.Fatalf("m1 coupons %+v %v", cs, err)
	}
	// winback-30 expires as given (2025-07-01 in the CSV: valid all that
	// day, to 24:00); gold-gift as its template says: 60 days from
	// 2025-06-01, to 24:00 of 2025-07-30.
	wantC := map[string]time.Time{"winback-30": time.Date(2025, 7, 2, 0, 0, 0, 0, shanghai), "gold-gift": time.Date(2025, 7, 31, 0, 0, 0, 0, shanghai)}
	for _, c := range cs {
		if !c.Expires.Equal(wantC[c.Template]) || c.Method != coupon.Migrated || c.State != coupon.Available {
			t.Errorf("m1 coupon %+v, want expiry %v", c, wantC[c.Template])
		}
	}
	old, err := p.Coupons().ByCode(ctx, "OLD-001")
	if err != nil || old.Member != "m1" || old.Template != "winback-30" || old.Legacy != "OLD-001" {
		t.Errorf("by old code: %+v %v", old, err)
	}
	prof, err := p.Tags().Profile(ctx, "m1")
	if err != nil || !prof.Attributes["phone"].Equal(event.Str("13800001111")) || !prof.Attributes["city"].Equal(event.Str("Hangzhou")) {
		t.Errorf("m1 profile %+v %v", prof.Attributes, err)
	}
	staff := false
	for _, a := range prof.Tags {
		staff = staff || (a.Tag == "staff" && a.Manual && a.By == "op.migrate")
	}
	if !staff {
		t.Errorf("m1 tags %+v, want staff by op.migrate", prof.Tags)
	}
	// m2: growth 7000 places them at Platinum (6000 <= 7000 < 15000), a
	// term of 12 months: to 24:00 of 2026-06-01.
	lv, err = p.Levels().Status(ctx, "m2")
	if err != nil || lv.Level != "Platinum" || !lv.TermEnd.Equal(time.Date(2026, 6, 2, 0, 0, 0, 0, shanghai)) || !lv.Lifetime.Equal(dec("7000")) {
		t.Errorf("m2 level %+v %v", lv, err)
	}
	// m3 and m4 were refused: nothing of them.
	for _, m := range []string{"m3", "m4"} {
		got, err := p.Member(ctx, m, at)
		if err != nil || len(got.Accounts) != 0 {
			t.Errorf("%s: accounts %v %v, want none", m, got.Accounts, err)
		}
	}
	// m5: 10 points, the entry level.
	b, err = p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m5", At: at})
	if err != nil || !b.Available.Equal(dec("10")) {
		t.Errorf("m5 points %+v %v", b, err)
	}
	if lv, _ := p.Levels().Status(ctx, "m5"); lv.Level != "Silver" {
		t.Errorf("m5 level %q, want Silver", lv.Level)
	}
	// m5's row gives its own request ID; the others' are "<file>:<line>".
	// The audit trail has each row, by member (first: later runs may add
	// refusals).
	for member, req := range map[string]string{"m5": "legacy-m5", "m1": "members.*:2"} {
		pg, err := p.Audit(ctx, membership.AuditQuery{Member: member})
		if err != nil || len(pg.Entries) == 0 || pg.Entries[0].Action != "member.open" || pg.Entries[0].Result != membership.AuditAccepted {
			t.Fatalf("audit of %s: %+v %v", member, pg.Entries, err)
		}
		if got := pg.Entries[0].Request; got != req && !(strings.HasPrefix(req, "members.") && (got == "members.csv:2" || got == "members.jsonl:1")) {
			t.Errorf("%s's request ID %q, want %s", member, got, req)
		}
	}
	// The opening balances are their own kind: 300+200+50+10 points,
	// 1800+7000 growth, 120.50 stored value.
	for asset, want := range map[ledger.Asset]string{ledger.Points("mall"): "560", ledger.Growth: "8800", ledger.Value: "120.50"} {
		tot, err := p.Totals(ctx, asset, "", "")
		if err != nil || !tot[membership.KindOpening].Equal(dec(want)) {
			t.Errorf("%s opening total %v %v, want %s", asset, tot, err, want)
		}
	}
	// The points reconciliation holds with the opening kind: 560 opened,
	// nothing else, 560 outstanding in the pools.
	r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	if err != nil || !r.Holds() || !r.Opening.Equal(dec("560")) || r.Outstanding == nil || !r.Outstanding.Equal(dec("560")) {
		t.Errorf("reconciliation %+v %v", r, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportReplay imports the CSV on a program with the input journal
// and replays the journal into an empty store: the same balances, and
// m1's coupons with the same codes.
func TestImportReplay(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	p, err := membership.Open(src, retail(t), membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run(ctx, p, source(t, "members.csv"), migrate.Options{Name: "members.csv", At: at, Operator: "op.migrate"}); err != nil {
		t.Fatal(err)
	}
	q := open(t, memory.New())
	if _, err := q.Replay(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	checkImported(t, q)
	a, _ := p.Coupons().List(ctx, "m1")
	b, _ := q.Coupons().List(ctx, "m1")
	if len(a) != 2 || len(b) != 2 || a[0].Code != b[0].Code || a[1].Code != b[1].Code {
		t.Errorf("coupons %+v, replayed %+v", a, b)
	}
}

// TestStopOnError stops at the first bad row: m1 and m2 applied, nothing
// after m3.
func TestStopOnError(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	res, err := migrate.Run(ctx, p, source(t, "members.csv"), migrate.Options{Name: "members.csv", At: at, StopOnError: true})
	var re *migrate.RowError
	if !errors.As(err, &re) || re.Line != 4 || re.Field != "points[0].amount" {
		t.Fatalf("err %v, want line 4's", err)
	}
	if want := (migrate.Progress{Rows: 3, Applied: 2, Failed: 1}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	got, err := p.Member(ctx, "m5", at)
	if err != nil || len(got.Accounts) != 0 {
		t.Errorf("m5 applied after the stop: %v", got.Accounts)
	}

	// A refused row inside a batch: the rows after it in the batch are
	// not applied either.
	p = open(t, memory.New())
	rows := []migrate.Member{{Member: "a", Growth: dec("1")}, {Member: "b", Level: "Bronze"}, {Member: "c", Growth: dec("1")}}
	res, err = migrate.Run(ctx, p, &slice{rows: rows}, migrate.Options{Name: "s", At: at, StopOnError: true})
	if !errors.As(err, &re) || re.Member != "b" || re.Field != "level" {
		t.Fatalf("err %v, want b's level", err)
	}
	if want := (migrate.Progress{Rows: 3, Applied: 1, Failed: 1}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	if lv, _ := p.Levels().Status(ctx, "c"); !lv.Growth.IsZero() {
		t.Errorf("c applied after the stop: %+v", lv)
	}
}

// Run refuses a nil target or source, and CSV and JSONL a nil reader,
// with an error wrapping ErrInvalidArgument that names the argument and
// nothing applied: a nil source or reader used to panic, and a nil target
// was taken when the source had no row (and panicked in a goroutine when
// it had one).
func TestRunRefusesNilArguments(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	o := migrate.Options{Name: "nil", At: at}
	rows := func() migrate.Source { return &slice{rows: []migrate.Member{{Member: "a", Growth: dec("1")}}} }
	for _, c := range []struct {
		name  string
		dst   migrate.Target
		src   migrate.Source
		field string
	}{
		{"nil target, empty source", nil, &slice{}, "dst"},
		{"nil target", nil, rows(), "dst"},
		{"nil source", p, nil, "src"},
		{"CSV of a nil reader", p, migrate.CSV(nil, shanghai), "r: nil reader"},
		{"JSONL of a nil reader", p, migrate.JSONL(nil), "r: nil reader"},
	} {
		res, err := migrate.Run(ctx, c.dst, c.src, o)
		if !errors.Is(err, migrate.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v; want ErrInvalidArgument naming %q", c.name, err, c.field)
		}
		if res.Progress != (migrate.Progress{}) {
			t.Errorf("%s: progress %+v, want none", c.name, res.Progress)
		}
	}
	if !errors.Is(migrate.ErrInvalidArgument, event.ErrInvalidArgument) {
		t.Error("migrate.ErrInvalidArgument is not event.ErrInvalidArgument")
	}
	if cs, err := p.Feed(ctx, 0, 0); err != nil || len(cs) != 0 {
		t.Errorf("the feed after the refusals: %d changes, %v; want none", len(cs), err)
	}
}

// slice is a Source of rows in memory, line i+1 for row i.
type slice struct {
	rows []migrate.Member
	i    int
}

func (s *slice) Next() (migrate.Row, error) {
	if s.i == len(s.rows) {
		return migrate.Row{}, io.EOF
	}
	s.i++
	return migrate.Row{Line: s.i, Member: s.rows[s.i-1]}, nil
}

// TestImportKeepsOurOwnCodes imports a coupon whose old code is a code of
// this library (a program moved to another store by package export's
// Openings): ByCode finds it by that code, as typed (lower case, with
// hyphens) too, and a well-formed code no coupon has is still unknown.
func TestImportKeepsOurOwnCodes(t *testing.T) {
	ctx := context.Background()
	old := open(t, memory.New())
	res, err := old.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "m1", Operator: "op", At: at,
		Template: "winback-30", Method: coupon.Operator, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	code, other := res.Coupons[0].Code, res.Coupons[1].Code
	p := open(t, memory.New())
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "r1", Member: "m1", Operator: "op", At: at,
		Coupons: []migrate.Coupon{{Template: "winback-30", Code: code}}}); err != nil {
		t.Fatal(err)
	}
	typed := strings.ToLower(code[:4] + "-" + code[4:])
	for _, c := range []string{code, typed} {
		got, err := p.Coupons().ByCode(ctx, c)
		if err != nil || got.Member != "m1" || got.Legacy != code || got.Code == code {
			t.Errorf("ByCode(%q): %+v %v; want m1's new coupon, its old code %s", c, got, err, code)
		}
	}
	if _, err := p.Coupons().ByCode(ctx, other); !errors.Is(err, coupon.ErrUnknownCode) {
		t.Errorf("a well-formed code no coupon has: %v, want ErrUnknownCode", err)
	}
}

// TestOpenPointsFields opens members whose points the program refuses and
// checks the field each refusal names, and that nothing was written.
func TestOpenPointsFields(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	good := migrate.Lot{Amount: dec("5"), Expires: at.AddDate(1, 0, 0)}
	for i, tc := range []struct {
		pts   []migrate.Points
		field string
	}{
		{[]migrate.Points{{Program: "mall", Lots: []migrate.Lot{good}}, {Program: "nope"}}, "points[1].program"},
		{[]migrate.Points{{Program: "mall", Lots: []migrate.Lot{good, {Amount: dec("-5")}}}}, "points[0].lots[1].amount"},
		{[]migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("5"), Expires: at}}}}, "points[0].lots[0].expires"},
		{[]migrate.Points{{Program: "mall", Lots: []migrate.Lot{good}, Pending: []migrate.Lot{{Amount: dec("2"), Release: at.AddDate(0, 1, 0)}, {Amount: dec("1")}}}}, "points[0].pending[1].release"},
	} {
		member := fmt.Sprintf("m%d", i)
		_, err := p.OpenMember(ctx, migrate.Member{RequestID: "r" + member, Member: member, Operator: "op", At: at, Points: tc.pts})
		var fe *migrate.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want a FieldError of %s", member, err, tc.field)
		}
		if b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: member, At: at}); err != nil || !b.Available.IsZero() || !b.Pending.IsZero() {
			t.Errorf("%s: refused, yet balance %+v, %v", member, b, err)
		}
	}
}

// TestOpenMemberMalformedRows opens rows that are malformed whatever the
// store holds: each is refused with ErrInvalidArgument (and the domain's
// sentinel for an unknown name) in a FieldError naming the field, before
// its unit of work, so nothing is written — no change, no audit entry, no
// request record (the ID then takes a good row). A member already known is
// the store's to tell: its refusal is in the audit trail, as a business
// rejection's is.
func TestOpenMemberMalformedRows(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	lot := migrate.Lot{Amount: dec("5")}
	for _, tc := range []struct {
		name   string
		row    migrate.Member
		field  string
		domain error // the domain's sentinel, if any, wrapped too
	}{
		{"no time", migrate.Member{}, "at", nil},
		{"unknown level", migrate.Member{Level: "Nope"}, "level", level.ErrUnknownLevel},
		{"negative growth", migrate.Member{Growth: dec("-5")}, "growth", nil},
		{"lifetime below growth", migrate.Member{Growth: dec("5"), Lifetime: dec("4")}, "lifetime", nil},
		{"term end not after at", migrate.Member{Level: "Gold", TermEnd: at}, "term_end", nil},
		{"term end past 2099", migrate.Member{Level: "Gold", TermEnd: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, "term_end", event.ErrTimeRange},
		{"unknown program", migrate.Member{Points: []migrate.Points{{Program: "zzz", Lots: []migrate.Lot{lot}}}}, "points[0].program", points.ErrUnknownProgram},
		{"negative lot", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("-5")}}}}}, "points[0].lots[0].amount", points.ErrInvalidAmount},
		{"fractional lot", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("5.5")}}}}}, "points[0].lots[0].amount", points.ErrInvalidAmount},
		{"expired lot", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("5"), Expires: at.Add(-time.Hour)}}}}}, "points[0].lots[0].expires", nil},
		// A release belongs to a pending lot: on a spendable one it was
		// dropped, and the points were spendable at once.
		{"spendable lot with a release", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("5"), Release: at.AddDate(0, 1, 0)}}}}}, "points[0].lots[0].release", nil},
		{"unknown template", migrate.Member{Coupons: []migrate.Coupon{{Template: "zzz"}}}, "coupons[0].template", coupon.ErrUnknownTemplate},
		{"code twice", migrate.Member{Coupons: []migrate.Coupon{{Template: "welcome-10", Code: "LEG1"}, {Template: "welcome-10", Code: "LEG1"}}}, "coupons[1].code", nil},
		{"code with a NUL", migrate.Member{Coupons: []migrate.Coupon{{Template: "welcome-10", Code: "L\x00"}}}, "coupons[0].code", event.ErrInvalidText},
		{"unknown tag", migrate.Member{Tags: []string{"zzz"}}, "tags[0]", tag.ErrUnknownTag},
		{"rule's tag", migrate.Member{Tags: []string{"recent"}}, "tags[0]", tag.ErrNotManual},
		{"unknown attribute", migrate.Member{Profile: map[string]string{"zzz": "1"}}, "profile.zzz", tag.ErrUnknownAttribute},
		{"negative value", migrate.Member{Value: &migrate.Value{Balance: dec("-1")}}, "value.balance", nil},
		{"value of 3 places", migrate.Member{Value: &migrate.Value{Balance: dec("1.001")}}, "value.balance", nil},
		// The growth scale is whole units (the retail ladder's default).
		{"growth of 1 place", migrate.Member{Growth: dec("100.5")}, "growth", nil},
		{"lifetime of 2 places", migrate.Member{Growth: dec("5"), Lifetime: dec("5.25")}, "lifetime", nil},
		// Growth days: dates, none after the row's day (2025-06-01 in
		// the program's zone), none twice, amounts of the growth scale.
		{"growth day not a date", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: rule.Date{Year: 2025, Month: 2, Day: 30}, Growth: dec("5")}}}, "growth_days[0].day", nil},
		{"growth day zero", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Growth: dec("5")}}}, "growth_days[0].day", nil},
		{"growth day after the row's", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: date(t, "2025-05-31"), Growth: dec("1")}, {Day: date(t, "2025-06-02"), Growth: dec("4")}}}, "growth_days[1].day", nil},
		{"growth day before 1900", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: date(t, "1899-12-31"), Growth: dec("5")}}}, "growth_days[0].day", event.ErrTimeRange},
		{"growth day twice", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: date(t, "2025-05-01"), Growth: dec("2")}, {Day: date(t, "2025-04-01"), Growth: dec("1")}, {Day: date(t, "2025-05-01"), Growth: dec("2")}}}, "growth_days[2].day", nil},
		{"growth day of 1 place", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: date(t, "2025-05-01"), Growth: dec("-0.5")}}}, "growth_days[0].growth", nil},
		{"growth day of 46 digits", migrate.Member{Growth: dec("5"), GrowthDays: []migrate.GrowthDay{{Day: date(t, "2025-05-01"), Growth: dec("1e45")}}}, "growth_days[0].growth", event.ErrTooLarge},
		// Amounts keep to the limit every amount of the library keeps to:
		// 10^45 has 46 digits before the point, the limit is 40.
		{"growth of 46 digits", migrate.Member{Growth: dec("1e45")}, "growth", event.ErrTooLarge},
		{"lot of 46 digits", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("1e45")}}}}}, "points[0].lots[0].amount", event.ErrTooLarge},
		{"recharge of 46 digits", migrate.Member{Value: &migrate.Value{Balance: dec("1"), Recharged: dec("1e45")}}, "value.recharged", event.ErrTooLarge},
		// Times, texts and IDs beyond the limits name their field too.
		{"at past 2099", migrate.Member{At: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, "at", event.ErrTimeRange},
		{"lot expiring past 2099", migrate.Member{Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("5"), Expires: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}}}}}, "points[0].lots[0].expires", event.ErrTimeRange},
		{"release past 2099", migrate.Member{Points: []migrate.Points{{Program: "mall", Pending: []migrate.Lot{{Amount: dec("5"), Release: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}}}}}, "points[0].pending[0].release", event.ErrTimeRange},
		{"coupon expiring past 2099", migrate.Member{Coupons: []migrate.Coupon{{Template: "welcome-10", Expires: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}}}, "coupons[0].expires", event.ErrTimeRange},
		{"profile text not UTF-8", migrate.Member{Profile: map[string]string{"city": "\xff"}}, "profile.city", event.ErrInvalidText},
		{"operator not UTF-8", migrate.Member{Operator: "\xff"}, "operator", event.ErrInvalidText},
		{"request ID too long", migrate.Member{RequestID: strings.Repeat("r", event.MaxIDBytes+1)}, "request_id", event.ErrTooLarge},
	} {
		row := tc.row
		row.Member = "new"
		if row.RequestID == "" {
			row.RequestID = "r-" + tc.name
		}
		if row.Operator == "" {
			row.Operator = "op"
		}
		if tc.name != "no time" && row.At.IsZero() {
			row.At = at
		}
		_, err := p.OpenMember(ctx, row)
		var fe *migrate.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s: %v; want ErrInvalidArgument in a FieldError of %s", tc.name, err, tc.field)
		}
		if tc.domain != nil && !errors.Is(err, tc.domain) {
			t.Errorf("%s: %v; want it to wrap %v too", tc.name, err, tc.domain)
		}
	}
	if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
		t.Errorf("audit after the malformed rows: %+v, %v; want no entry", pg.Entries, err)
	}
	if cs, err := p.Feed(ctx, 0, 0); err != nil || len(cs) != 0 {
		t.Errorf("feed after the malformed rows: %d changes, %v; want none", len(cs), err)
	}
	// No request record: a good row under a refused row's ID is applied.
	out, err := p.OpenMember(ctx, migrate.Member{RequestID: "r-negative growth", Member: "new", Operator: "op", At: at, Growth: dec("5")})
	if err != nil || out.Duplicate {
		t.Fatalf("a good row under a refused row's ID: %+v, %v; want it applied", out, err)
	}
	// The member is known now: the store tells, and the audit trail keeps
	// the refusal (with the accepted opening before it).
	// The refusal names the field, as a malformed row's does (a file's
	// second row of a member is reported at field member).
	_, err = p.OpenMember(ctx, migrate.Member{RequestID: "again", Member: "new", Operator: "op", At: at, Growth: dec("5")})
	var fe *migrate.FieldError
	if !errors.Is(err, membership.ErrKnownMember) || !errors.As(err, &fe) || fe.Field != "member" {
		t.Errorf("opening a known member: %v; want ErrKnownMember in a FieldError of member", err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{})
	results := map[string]string{}
	for _, e := range pg.Entries {
		results[e.Request] = string(e.Result)
	}
	want := map[string]string{"r-negative growth": string(membership.AuditAccepted), "again": string(membership.AuditRefused)}
	if diff := cmp.Diff(want, results); err != nil || diff != "" {
		t.Errorf("audit results by request (-want +got):\n%s%v", diff, err)
	}
}

// TestOpenKnownWithoutLedger opens members the program knows although
// they have no ledger account nor level: one with a profile set by an
// operator, one with a manual tag, one holding a claimed coupon. Each is
// known (ErrKnownMember) and keeps what they had: the opening used to
// replace the profile set before (city lost) and add its coupons to the
// claimed one.
func TestOpenKnownWithoutLedger(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p1", Member: "prof", At: at, Attributes: map[string]event.Value{"city": event.Str("Paris")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "tagged", Operator: "op", At: at, Tag: "staff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "holder", Operator: "op", At: at, Template: "winback-30", Method: coupon.Operator}); err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{"prof", "tagged", "holder"} {
		_, err := p.OpenMember(ctx, migrate.Member{RequestID: "o-" + member, Member: member, Operator: "op", At: at,
			Profile: map[string]string{"phone": "1"}, Coupons: []migrate.Coupon{{Template: "welcome-10"}}})
		if !errors.Is(err, membership.ErrKnownMember) {
			t.Errorf("%s: %v, want ErrKnownMember", member, err)
		}
		if cs, err := p.Coupons().List(ctx, member); err != nil || len(cs) != map[string]int{"holder": 1}[member] {
			t.Errorf("%s: coupons %+v %v, want only what they had", member, cs, err)
		}
	}
	prof, err := p.Tags().Profile(ctx, "prof")
	if err != nil || len(prof.Attributes) != 1 || !prof.Attributes["city"].Equal(event.Str("Paris")) {
		t.Errorf("prof's profile %v %v, want city Paris only", prof.Attributes, err)
	}
	// A new member is still opened.
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "o-new", Member: "new", Operator: "op", At: at, Profile: map[string]string{"phone": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportRefusesACodeOfOurs imports a coupon whose old code is the
// code of a coupon the program issued itself (as it was written, and as
// typed): ByCode finds the program's coupon first, so the imported one
// could never be found by it. The row is refused, naming the code, and
// ByCode still finds the program's coupon.
func TestImportRefusesACodeOfOurs(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "x", Operator: "op", At: at,
		Template: "winback-30", Method: coupon.Operator})
	if err != nil {
		t.Fatal(err)
	}
	code := res.Coupons[0].Code
	for i, old := range []string{code, strings.ToLower(code[:4] + "-" + code[4:])} {
		member := fmt.Sprintf("m%d", i)
		_, err := p.OpenMember(ctx, migrate.Member{RequestID: "r" + member, Member: member, Operator: "op", At: at,
			Coupons: []migrate.Coupon{{Template: "welcome-10", Code: old}}})
		var fe *migrate.FieldError
		if !errors.As(err, &fe) || fe.Field != "coupons[0].code" {
			t.Errorf("old code %q: %v, want a refusal naming coupons[0].code", old, err)
		}
		if cs, err := p.Coupons().List(ctx, member); err != nil || len(cs) != 0 {
			t.Errorf("%s: coupons %+v %v, want none", member, cs, err)
		}
	}
	if got, err := p.Coupons().ByCode(ctx, code); err != nil || got.Member != "x" {
		t.Errorf("ByCode(%s): %+v %v, want x's", code, got, err)
	}
}

// TestOpenGrowthDaysWithoutLevels: growth days are the level domain's; a
// program without levels refuses them, naming the field, and writes
// nothing.
func TestOpenGrowthDaysWithoutLevels(t *testing.T) {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), testkit.ValueDef())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.OpenMember(ctx, migrate.Member{RequestID: "r1", Member: "m1", Operator: "op", At: at,
		GrowthDays: []migrate.GrowthDay{{Day: date(t, "2025-05-01"), Growth: dec("5")}}})
	var fe *migrate.FieldError
	if !errors.Is(err, level.ErrNotDefined) || !errors.As(err, &fe) || fe.Field != "growth_days" {
		t.Errorf("growth days without levels: %v; want level.ErrNotDefined in a FieldError of growth_days", err)
	}
	if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
		t.Errorf("audit after the refusal: %+v, %v; want no entry", pg.Entries, err)
	}
}

// TestImportGrowthDaysRefused: a growth_days cell that does not parse,
// and days the program refuses (one after the row's day 2025-06-01, one
// given twice), are bad rows naming the field; they write nothing, and
// the good row is applied.
func TestImportGrowthDaysRefused(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,growth,growth_days\n" +
		"m1,100,2025-05-02|120;2025-05-20|-20\n" +
		"m2,100,2025-13-01|5\n" +
		"m3,100,2025-05-02|5;2025-06-02|5\n" +
		"m4,100,2025-05-02|5;2025-05-02|6\n"
	res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), shanghai), migrate.Options{Name: "days.csv", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 4, Applied: 1, Failed: 3}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	type bad struct {
		Line          int
		Member, Field string
		Sentinel      error
	}
	want := []bad{{3, "m2", "growth_days[0].day", migrate.ErrBadRow}, {4, "m3", "growth_days[1].day", event.ErrInvalidArgument}, {5, "m4", "growth_days[1].day", event.ErrInvalidArgument}}
	var got []bad
	for _, e := range res.Errors {
		b := bad{Line: e.Line, Member: e.Member, Field: e.Field}
		for _, s := range []error{migrate.ErrBadRow, event.ErrInvalidArgument} {
			if errors.Is(e.Err, s) {
				b.Sentinel = s
			}
		}
		got = append(got, b)
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
		t.Errorf("bad rows (-want +got):\n%s", d)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{})
	if err != nil || len(pg.Entries) != 1 || pg.Entries[0].Member != "m1" {
		t.Errorf("audit %+v, %v; want m1's opening alone", pg.Entries, err)
	}
	cs, err := p.Feed(ctx, 0, 0)
	if err != nil || len(cs) == 0 {
		t.Fatalf("feed: %d changes, %v", len(cs), err)
	}
	for _, c := range cs {
		if c.Member != "m1" {
			t.Errorf("a change of %s (%s): a refused row wrote it", c.Member, c.Kind)
		}
	}
}

// TestImportOwedGifts imports members owed a reward of Gold's upgrade
// gift (its coupon, refused when the old system's member reached Gold)
// while at Silver: Status lists it, and the member's next reach of Gold
// grants the coupon owed and not Gold's 200 points, which were given.
// A member owed nothing gets both gifts at that reach, as before. A gift
// of a level the ladder has not, a reward the level does not give, a
// cell that does not parse, and the coupon owed twice (Gold gives it
// once: before, accepted, and the member paid it twice) are bad rows
// naming the field, writing nothing.
func TestImportOwedGifts(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,growth,owed_gifts\n" +
		"m1,1000,Gold|coupon:gold-gift\n" +
		"m2,1000,Nope|coupon:gold-gift\n" +
		"m3,1000,Gold|coupon:platinum-gift\n" +
		"m4,1000,Gold\n" +
		"m5,1000,\n" +
		"m6,1000,Gold|coupon:gold-gift;Gold|coupon:gold-gift\n"
	res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), shanghai), migrate.Options{Name: "owed.csv", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 6, Applied: 2, Failed: 4}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	type bad struct {
		Line          int
		Member, Field string
		Sentinel      error
	}
	want := []bad{{3, "m2", "owed_gifts[0].level", level.ErrUnknownLevel}, {4, "m3", "owed_gifts[0].reward", event.ErrInvalidArgument}, {5, "m4", "owed_gifts[0]", migrate.ErrBadRow},
		{7, "m6", "owed_gifts[1].reward", event.ErrInvalidArgument}}
	var got []bad
	for _, e := range res.Errors {
		b := bad{Line: e.Line, Member: e.Member, Field: e.Field}
		for _, s := range []error{migrate.ErrBadRow, event.ErrInvalidArgument, level.ErrUnknownLevel} {
			if errors.Is(e.Err, s) {
				b.Sentinel = s
			}
		}
		got = append(got, b)
		if e.Member == "m6" && !strings.Contains(e.Err.Error(), `level "Gold" gives "coupon:gold-gift" 1 time(s), each owed before (the last at owed_gifts[0])`) {
			t.Errorf("m6: %v, want the count of Gold's gifts of gold-gift", e.Err)
		}
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
		t.Errorf("bad rows (-want +got):\n%s", d)
	}
	for _, m := range []string{"m2", "m3", "m4", "m6"} {
		if s, err := p.Levels().Status(ctx, m); err != nil || !s.Growth.IsZero() {
			t.Errorf("%s refused: %+v %v, want no growth", m, s, err)
		}
	}
	s, err := p.Levels().Status(ctx, "m1")
	gift := []level.Gift{{Level: "Gold", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "gold-gift"}}}
	if d := cmp.Diff(gift, s.Owed); err != nil || s.Level != "Silver" || d != "" {
		t.Fatalf("m1: %s, %v; owed (-want +got):\n%s", s.Level, err, d)
	}

	// An order of 500 takes each to 1,500: Gold, whose rule earns 500 ×
	// 1.2 = 600 points. m1 gets the coupon owed and no gift points; m5
	// Gold's 200 points and its coupon.
	for i, c := range []struct {
		member, points string
	}{{"m1", "600"}, {"m5", "800"}} {
		when := at.Add(time.Duration(10+i) * time.Hour)
		if _, err := p.Process(ctx, event.Event{ID: "o-" + c.member, Member: c.member, Type: "order", Time: when,
			Attrs: event.Attrs{"amount": event.DecString("500"), "order_id": event.Str("o-" + c.member)}}); err != nil {
			t.Fatal(err)
		}
		s, err := p.Levels().Status(ctx, c.member)
		if err != nil || s.Level != "Gold" || len(s.Owed) != 0 {
			t.Errorf("%s after the order: %+v %v, want Gold, none owed", c.member, s, err)
		}
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: c.member, At: when})
		if err != nil || !b.Available.Equal(dec(c.points)) {
			t.Errorf("%s after the order: %+v %v, want %s points", c.member, b, err, c.points)
		}
		cs, err := p.Coupons().List(ctx, c.member)
		if err != nil || len(cs) != 1 || cs[0].Template != "gold-gift" {
			t.Errorf("%s after the order: coupons %+v %v, want one gold-gift", c.member, cs, err)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// A reward owed imported carries no refusal: the member's first event,
// the same day as the import and reaching no level, tries it, and grants
// it.
func TestImportOwedGiftTriedAtFirstEvent(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,growth,owed_gifts\nm1,1500,Gold|coupon:gold-gift\n"
	if res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), shanghai), migrate.Options{Name: "owed.csv", At: at}); err != nil || res.Progress.Applied != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if s, err := p.Levels().Status(ctx, "m1"); err != nil || s.Level != "Gold" || len(s.Owed) != 1 {
		t.Fatalf("m1 imported: %+v, %v; want Gold, the coupon owed", s, err)
	}
	out, err := p.Process(ctx, event.Event{ID: "o1", Member: "m1", Type: "order", Time: at.Add(time.Hour),
		Attrs: event.Attrs{"amount": event.DecString("1"), "order_id": event.Str("o1")}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := level.EffectsOf(out)
	gift := []level.Gift{{Level: "Gold", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "gold-gift"}}}
	if d := cmp.Diff(gift, e.Gifts); err != nil || d != "" {
		t.Errorf("the first event: %v; gifts (-want +got):\n%s", err, d)
	}
}

// TestOpenOwedGiftsWithoutLadder: gifts owed are the ladder's; a program
// without levels, or with paid plans and no ladder, refuses them, naming
// the field, and writes nothing.
func TestOpenOwedGiftsWithoutLadder(t *testing.T) {
	ctx := context.Background()
	plans := testkit.LadderDef(level.NextLower)
	plans.Levels.Ladder, plans.Levels.Growth, plans.Levels.Refunds = nil, nil, nil
	for _, c := range []struct {
		name string
		def  membership.Definition
		want error
	}{
		{"no levels", testkit.ValueDef(), level.ErrNotDefined},
		{"plans only", plans, level.ErrNoLadder},
	} {
		p, err := membership.Open(memory.New(), c.def)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.OpenMember(ctx, migrate.Member{RequestID: "r1", Member: "m1", Operator: "op", At: at,
			OwedGifts: []migrate.OwedGift{{Level: "Silver", Reward: "growth"}}})
		var fe *migrate.FieldError
		if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Field != "owed_gifts" {
			t.Errorf("%s: %v; want %v in a FieldError of owed_gifts", c.name, err, c.want)
		}
		if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
			t.Errorf("%s: audit after the refusal: %+v, %v; want no entry", c.name, pg.Entries, err)
		}
	}
}

// TestImportGiftedLevels imports members with the levels whose upgrade
// gifts they had. m1, at Silver (growth 1000) with Gold gifted (reached,
// then left), gets no gift at the next reach of Gold: an order of 500
// earns its 500 × 1.2 = 600 points and nothing more, no gold-gift coupon.
// m2, a Platinum member with none gifted, has none listed; m7's gift owed
// is of a level gifted. A level the ladder has not, a level given twice,
// a cell that does not parse and a gift owed of a level not gifted are
// bad rows naming their line and field, writing nothing.
func TestImportGiftedLevels(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,level,growth,gifted_levels,owed_gifts\n" +
		"m1,,1000,Gold,\n" +
		"m2,Platinum,7000,,\n" +
		"m3,,1000,Nope,\n" +
		"m4,,1000,Gold;Platinum;Gold,\n" +
		"m5,,1000,Gold;,\n" +
		"m6,,1000,Platinum,Gold|coupon:gold-gift\n" +
		"m7,,1000,Gold,Gold|coupon:gold-gift\n"
	res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), shanghai), migrate.Options{Name: "gifted.csv", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 7, Applied: 3, Failed: 4}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	type bad struct {
		Line          int
		Member, Field string
		Sentinel      error
	}
	want := []bad{
		{4, "m3", "gifted_levels[0]", level.ErrUnknownLevel},
		{5, "m4", "gifted_levels[2]", event.ErrInvalidArgument},
		{6, "m5", "gifted_levels[1]", migrate.ErrBadRow},
		{7, "m6", "owed_gifts[0].level", event.ErrInvalidArgument},
	}
	var got []bad
	for _, e := range res.Errors {
		b := bad{Line: e.Line, Member: e.Member, Field: e.Field}
		for _, s := range []error{migrate.ErrBadRow, event.ErrInvalidArgument, level.ErrUnknownLevel} {
			if errors.Is(e.Err, s) {
				b.Sentinel = s
			}
		}
		got = append(got, b)
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
		t.Errorf("bad rows (-want +got):\n%s", d)
	}
	for _, m := range []string{"m3", "m4", "m5", "m6"} {
		if s, err := p.Levels().Status(ctx, m); err != nil || !s.Growth.IsZero() || s.Gifted != nil {
			t.Errorf("%s refused: %+v %v, want no growth, none gifted", m, s, err)
		}
	}
	for m, w := range map[string]struct {
		level  string
		gifted []string
		owed   int
	}{"m1": {"Silver", []string{"Gold"}, 0}, "m2": {"Platinum", nil, 0}, "m7": {"Silver", []string{"Gold"}, 1}} {
		s, err := p.Levels().Status(ctx, m)
		if err != nil || s.Level != w.level || len(s.Owed) != w.owed {
			t.Errorf("%s: %+v %v, want %s owing %d", m, s, err, w.level, w.owed)
		}
		if d := cmp.Diff(w.gifted, s.Gifted); d != "" {
			t.Errorf("%s: gifted (-want +got):\n%s", m, d)
		}
	}

	when := at.Add(10 * time.Hour)
	if _, err := p.Process(ctx, event.Event{ID: "o-m1", Member: "m1", Type: "order", Time: when,
		Attrs: event.Attrs{"amount": event.DecString("500"), "order_id": event.Str("o-m1")}}); err != nil {
		t.Fatal(err)
	}
	s, err := p.Levels().Status(ctx, "m1")
	if err != nil || s.Level != "Gold" {
		t.Errorf("m1 after the order: %+v %v, want Gold", s, err)
	}
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m1", At: when})
	if err != nil || !b.Available.Equal(dec("600")) {
		t.Errorf("m1 after the order: %+v %v, want 600 points", b, err)
	}
	if cs, err := p.Coupons().List(ctx, "m1"); err != nil || len(cs) != 0 {
		t.Errorf("m1 after the order: coupons %+v %v, want none", cs, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOpenGiftedLevelsWithoutLadder: the levels gifted are the ladder's;
// a program without levels, or with paid plans and no ladder, refuses
// any, naming the field, and writes nothing; an empty list (none gifted)
// is taken.
func TestOpenGiftedLevelsWithoutLadder(t *testing.T) {
	ctx := context.Background()
	plans := testkit.LadderDef(level.NextLower)
	plans.Levels.Ladder, plans.Levels.Growth, plans.Levels.Refunds = nil, nil, nil
	for _, c := range []struct {
		name string
		def  membership.Definition
		want error
	}{
		{"no levels", testkit.ValueDef(), level.ErrNotDefined},
		{"plans only", plans, level.ErrNoLadder},
	} {
		p, err := membership.Open(memory.New(), c.def)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.OpenMember(ctx, migrate.Member{RequestID: "r1", Member: "m1", Operator: "op", At: at, GiftedLevels: []string{"Silver"}})
		var fe *migrate.FieldError
		if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Field != "gifted_levels" {
			t.Errorf("%s: %v; want %v in a FieldError of gifted_levels", c.name, err, c.want)
		}
		if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
			t.Errorf("%s: audit after the refusal: %+v, %v; want no entry", c.name, pg.Entries, err)
		}
		if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "r2", Member: "m2", Operator: "op", At: at, GiftedLevels: []string{}}); err != nil {
			t.Errorf("%s: none gifted: %v", c.name, err)
		}
	}
}

// TestOpeningChangesNameTheRule pins Rule's "the rule named in the reason
// of every change an opening state publishes": the JSONL file's first two
// rows, imported, publish by hand, for m1 (Gold with growth 1,800, two
// lots of points and a pending one, stored value, two coupons, the staff
// tag): growth.changed, level.changed, points.opened twice, points.pending,
// value.opened, coupon.issued twice and tag.added; for m2 (growth 7,000,
// placed at Platinum by the ladder): growth.changed and level.changed.
// Each names migrate.Rule, but for m1's card-holder tag, which the tag
// rule "recharged 500 or more" gives on the imported recharge of 1,000,
// and whose reason is that rule's, tags.rules[5].
func TestOpeningChangesNameTheRule(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	raw, err := os.ReadFile("testdata/members.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfterN(string(raw), "\n", 3)
	res, err := migrate.Run(ctx, p, migrate.JSONL(strings.NewReader(lines[0]+lines[1])), migrate.Options{Name: "two", At: at})
	if err != nil || res.Applied != 2 {
		t.Fatalf("import: %+v, %v; want 2 rows applied", res, err)
	}
	feed, err := p.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range feed {
		got[c.Member+" "+c.Kind]++
		rule := migrate.Rule
		var tc tag.Change
		if c.Kind == tag.ChangeAdded && c.Decode(&tc) == nil && tc.Tag == "card-holder" {
			rule = "tags.rules[5]"
		}
		if c.Reason == nil || c.Reason.Rule != rule {
			t.Errorf("%s %s: reason %+v, want rule %s", c.Member, c.Kind, c.Reason, rule)
		}
	}
	want := map[string]int{
		"m1 growth.changed": 1, "m1 level.changed": 1, "m1 points.opened": 2, "m1 points.pending": 1,
		"m1 value.opened": 1, "m1 coupon.issued": 2, "m1 tag.added": 2, // staff, card-holder
		"m2 growth.changed": 1, "m2 level.changed": 1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the opening's changes (-want +got):\n%s", d)
	}
}

// TestResultKeepsTheFirstMaxErrors pins MaxErrors: of a file of 1,002
// rows that are not JSON objects around one good row (line 501), the
// Result keeps the first 1,000 bad rows (lines 1 to 500 and 502 to 1,001),
// OnError sees all 1,002 in order, the counts hold every row, and the good
// row is applied.
func TestResultKeepsTheFirstMaxErrors(t *testing.T) {
	var file strings.Builder
	for line := 1; line <= 1003; line++ {
		if line == 501 {
			file.WriteString(`{"member":"m1","growth":"10"}` + "\n")
		} else {
			file.WriteString("[1]\n")
		}
	}
	var seen []int
	p := open(t, memory.New())
	res, err := migrate.Run(context.Background(), p, migrate.JSONL(strings.NewReader(file.String())),
		migrate.Options{Name: "bad.jsonl", At: at, OnError: func(e migrate.RowError) { seen = append(seen, e.Line) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (migrate.Progress{Rows: 1003, Applied: 1, Failed: 1002}); res.Progress != want {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
	if len(res.Errors) != migrate.MaxErrors || migrate.MaxErrors != 1000 {
		t.Fatalf("%d errors kept, want MaxErrors = 1000 (%d)", len(res.Errors), migrate.MaxErrors)
	}
	if first, last := res.Errors[0].Line, res.Errors[999].Line; first != 1 || last != 1001 {
		t.Errorf("errors kept from line %d to %d, want 1 to 1001", first, last)
	}
	if len(seen) != 1002 || seen[0] != 1 || seen[499] != 500 || seen[500] != 502 || seen[1001] != 1003 {
		t.Errorf("OnError saw %d rows (%v…%v), want 1,002: lines 1-500, 502-1003", len(seen), seen[:min(3, len(seen))], seen[max(0, len(seen)-3):])
	}
	if st, err := p.Levels().Status(context.Background(), "m1"); err != nil || !st.Growth.Equal(dec("10")) {
		t.Errorf("m1's growth %s (%v), want 10", st.Growth, err)
	}
}
