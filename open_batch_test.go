package membership_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// updates is a store that counts its Updates.
type updates struct {
	store.Store
	n atomic.Int64
}

func (u *updates) Update(ctx context.Context, fn func(store.Tx) error) error {
	u.n.Add(1)
	return u.Store.Update(ctx, fn)
}

// TestOpenMembersRefusalsInOneRun opens twelve members in one batch, four
// of whom (m1, m4, m7, m10) the program knows already: the eight new ones
// are applied with their balances, the four refused with ErrKnownMember,
// and the batch takes two store transactions (the first run, ended by m1's
// refusal, and one run finding every refusal) plus the audit trail's
// record of each refusal: not a run of the batch for each refusal. With
// stop set, the rows after the first refusal are not run.
func TestOpenMembersRefusalsInOneRun(t *testing.T) {
	ctx := context.Background()
	st := &updates{Store: memory.New()}
	p, err := membership.Open(st, testkit.ValueDef())
	if err != nil {
		t.Fatal(err)
	}
	row := func(i int, req string) migrate.Member {
		return migrate.Member{RequestID: fmt.Sprintf("%s-%d", req, i), Member: fmt.Sprint("m", i), Operator: "import", At: t0,
			Value: &migrate.Value{Balance: testkit.Dec(fmt.Sprint(10 * (i + 1)))}}
	}
	for _, i := range []int{1, 4, 7, 10} {
		if _, err := p.OpenMember(ctx, row(i, "before")); err != nil {
			t.Fatal(err)
		}
	}
	rows := make([]migrate.Member, 12)
	for i := range rows {
		rows[i] = row(i, "batch")
	}
	before := st.n.Load()
	outs, errs, err := p.OpenMembers(ctx, rows, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.n.Load() - before; n != 2+4 {
		t.Errorf("the batch took %d store transactions, want 2 and one audit record for each of the 4 refusals", n)
	}
	for i := range rows {
		known := i%3 == 1
		switch {
		case known && (!errors.Is(errs[i], membership.ErrKnownMember) || outs[i] != nil):
			t.Errorf("row %d: %v, %v; want ErrKnownMember and no outcome", i, outs[i], errs[i])
		case !known && (errs[i] != nil || outs[i] == nil || outs[i].Duplicate):
			t.Errorf("row %d: %+v, %v; want applied", i, outs[i], errs[i])
		}
		// Each member holds the balance its first opening gave: 10 × (i+1)
		// either way, since the earlier opening had the same row.
		a, err := p.Value().Account(ctx, fmt.Sprint("m", i))
		if want := testkit.Dec(fmt.Sprint(10 * (i + 1))); err != nil || !a.Balance.Equal(want) {
			t.Errorf("m%d: balance %v, %v; want %v", i, a.Balance, err, want)
		}
	}
	page, err := p.Audit(ctx, membership.AuditQuery{Operator: "import"})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range page.Entries {
		if e.Result == membership.AuditRefused {
			refused++
		}
	}
	if refused != 4 {
		t.Errorf("the audit trail holds %d refusals, want 4", refused)
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// With stop set: m13 applied, m14 (known) refused, m15 not run.
	if _, err := p.OpenMember(ctx, row(14, "before")); err != nil {
		t.Fatal(err)
	}
	outs, errs, err = p.OpenMembers(ctx, []migrate.Member{row(13, "stop"), row(14, "stop"), row(15, "stop")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || outs[0] == nil || !errors.Is(errs[1], membership.ErrKnownMember) || outs[2] != nil || errs[2] != nil {
		t.Errorf("with stop: %v / %v; want m13 applied, m14 ErrKnownMember, m15 not run", outs, errs)
	}
	if a, err := p.Value().Account(ctx, "m15"); err != nil || !a.Balance.IsZero() {
		t.Errorf("m15 after a stopped batch: %v, %v; want nothing", a.Balance, err)
	}
}

// TestOpeningEntriesNameTheOperator: an opening's ledger entries (points,
// growth, stored value, each against its pool) refer to the request and
// name its operator, as the entries of every other operator request do
// (an adjustment's, a level set's).
func TestOpeningEntriesNameTheOperator(t *testing.T) {
	ctx := context.Background()
	p, _ := openDamageable(t)
	out, err := p.OpenMember(ctx, migrate.Member{RequestID: "open-m9", Member: "m9", Operator: "import.li", At: t0,
		Level: "Silver", Growth: testkit.Dec("50"),
		Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: testkit.Dec("100")}}}},
		Value:  &migrate.Value{Balance: testkit.Dec("20")}})
	if err != nil {
		t.Fatal(err)
	}
	assets := map[ledger.Asset]bool{}
	for _, e := range out.Entries {
		assets[e.Account.Asset] = true
		if want := (ledger.Ref{Event: "open-m9", Operator: "import.li"}); e.Ref != want {
			t.Errorf("%s entry of %s refers to %+v; want %+v", e.Kind, e.Account, e.Ref, want)
		}
	}
	if len(assets) != 3 {
		t.Errorf("the opening posted to %v; want points, growth and stored value", assets)
	}
}
