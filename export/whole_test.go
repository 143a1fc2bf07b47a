package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store/memory"
)

// openWhole opens testDef with stored value in whole units (scale 0).
func openWhole(t *testing.T) *membership.Program {
	t.Helper()
	doc := strings.Replace(testDef, `"withdraw": "withdraw", "amount": "amount"}`, `"withdraw": "withdraw", "amount": "amount", "scale": 0}`, 1)
	def, err := membership.ParseDefinition([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if def.StoredValue.Places() != 0 {
		t.Fatalf("stored value scale %d, want 0", def.StoredValue.Places())
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cells returns the cells of a CSV's row for member by column name.
func cells(t *testing.T, file, member string) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r[0] == member {
			m := map[string]string{}
			for i, name := range rows[0] {
				m[name] = r[i]
			}
			return m
		}
	}
	t.Fatalf("no row of %s in\n%s", member, file)
	return nil
}

// Stored value in whole units is exported as every amount is
// (decimal.Decimal.String): whole amounts, no ".00". The openings file
// imports into a program of the same definition, and one with a fraction
// of a unit is refused, naming the field.
func TestExportsInWholeUnits(t *testing.T) {
	ctx := context.Background()
	p := openWhole(t)
	process(t, p, "r1", "alice", "recharge", "1000", 3)
	process(t, p, "p1", "alice", "pay", "300", 4)
	if _, err := p.Process(ctx, event.Event{ID: "p2", Member: "alice", Type: "pay", Time: day(p, 4),
		Attrs: event.Attrs{"amount": event.DecString("10.5")}}); !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("a payment of 10.5 in whole units: %v, want ErrInvalidEvent", err)
	}
	ids := slices.Values([]string{"alice"})

	var members bytes.Buffer
	if _, err := export.Members(ctx, &members, p, ids, day(p, 10), nil); err != nil {
		t.Fatal(err)
	}
	// 1000 recharged, 300 spent: 700.
	got := cells(t, members.String(), "alice")
	for col, want := range map[string]string{"value_balance": "700", "value_recharged": "1000", "value_spent": "300", "value_refunded": "0"} {
		if got[col] != want {
			t.Errorf("members %s = %q, want %q", col, got[col], want)
		}
	}

	var st bytes.Buffer
	acct := ledger.MemberAccount("alice", ledger.Value, "")
	if _, _, err := export.Statement(ctx, &st, p, ledger.Query{Account: acct}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(st.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], ",1000,1000,") || !strings.Contains(lines[2], ",-300,700,") {
		t.Errorf("statement, want 1000 (balance 1000) then -300 (balance 700):\n%s", st.String())
	}

	var openings bytes.Buffer
	if _, err := export.Openings(ctx, &openings, p, ids, day(p, 10), nil); err != nil {
		t.Fatal(err)
	}
	got = cells(t, openings.String(), "alice")
	for col, want := range map[string]string{"value_balance": "700", "value_recharged": "1000", "value_spent": "300"} {
		if got[col] != want {
			t.Errorf("openings %s = %q, want %q", col, got[col], want)
		}
	}
	dst := openWhole(t)
	res, err := migrate.Run(ctx, dst, migrate.CSV(strings.NewReader(openings.String()), dst.Location()), migrate.Options{Name: "openings.csv"})
	if err != nil || res.Progress != (migrate.Progress{Rows: 1, Applied: 1}) {
		t.Fatalf("import: %+v %v\n%s", res, err, openings.String())
	}
	if a, err := dst.Value().Account(ctx, "alice"); err != nil || !a.Balance.Equal(decimalOf(700)) || !a.Recharged.Equal(decimalOf(1000)) || !a.Spent.Equal(decimalOf(300)) {
		t.Errorf("alice imported: %+v, %v; want 700, 1000 recharged, 300 spent", a, err)
	}

	// A row with half a unit is refused, naming its field, and opens
	// nothing.
	bad := "member,at,value_balance\nbob,2026-03-10,10.5\n"
	res, err = migrate.Run(ctx, dst, migrate.CSV(strings.NewReader(bad), dst.Location()), migrate.Options{Name: "bad.csv"})
	if err != nil || res.Failed != 1 || len(res.Errors) != 1 || res.Errors[0].Field != "value.balance" || !errors.Is(&res.Errors[0], event.ErrInvalidArgument) {
		t.Errorf("import of 10.5: %+v, %v; want one bad row naming value.balance", res, err)
	}
	if a, err := dst.Value().Account(ctx, "bob"); err != nil || !a.Balance.IsZero() {
		t.Errorf("bob after the refusal: %+v, %v", a, err)
	}
	if err := dst.Verify(ctx); err != nil {
		t.Error(err)
	}
}
