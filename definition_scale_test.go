package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/postgres"
	"github.com/shopspring/decimal"
)

// loweredDef is a program of stored value at scale sv and a point program
// "mall" at scale pts, whose order earns one point per unit of money.
func loweredDef(t testing.TB, version, sv, pts int) membership.Definition {
	t.Helper()
	amount := `"attributes": [{"name": "amount", "type": "decimal", "required": true}]`
	def, err := membership.ParseDefinition(fmt.Appendf(nil, `{"version": %d, "zone": "Asia/Shanghai",
  "events": [{"name": "recharge", %s}, {"name": "pay", %s}, {"name": "order", %s}],
  "stored_value": {"recharge": "recharge", "spend": "pay", "amount": "amount", "scale": %d},
  "points": {"programs": [{"name": "mall", "rounding": {"scale": %d}}],
             "rules": [{"id": "r", "program": "mall", "event": "order",
                        "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]}}`,
		version, amount, amount, amount, sv, pts))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

var scaleSchemas atomic.Int64

// scaleStores returns a new store of each kind: memory, bolt and, when
// MEMBERSHIP_PG_DSN is set, PostgreSQL (a schema of its own, dropped at
// the end).
func scaleStores(t *testing.T) map[string]func() store.Store {
	out := testkit.Stores(t)
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return out
	}
	out["postgres"] = func() store.Store {
		ctx := context.Background()
		schema := fmt.Sprintf("scale_%d_%d", os.Getpid(), scaleSchemas.Add(1))
		st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			st.Close()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
			}
		})
		return st
	}
	return out
}

// TestDefinitionLowersAScale: a version that lowers stored value's scale
// or a point program's is refused (ErrDefinitionInUse naming the path and
// a member) while a member's balance, or a points lot's remainder, has
// more decimal places than the new scale: no spend could take the rest,
// amounts finer than the scale being refused. Before, it was installed,
// and m1's 0.05 of stored value (10.55 under a scale of 1) stayed for
// ever. Nothing is installed: version 1 goes on writing. Lowered with
// every amount at the new scale, or raised, it is accepted.
func TestDefinitionLowersAScale(t *testing.T) {
	ctx := context.Background()
	at := func(h int) time.Time {
		return time.Date(2025, 3, 1, 10, 0, 0, 0, testkit.Shanghai).Add(time.Duration(h) * time.Hour)
	}
	dec := decimal.RequireFromString
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			n := 0
			ev := func(p *membership.Program, typ, amount string) error {
				n++
				_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("e", n), Member: "m1", Type: typ, Time: at(n),
					Attrs: event.Attrs{"amount": event.DecString(amount)}})
				return err
			}
			open := func(st store.Store, def membership.Definition) *membership.Program {
				t.Helper()
				p, err := membership.Open(st, def)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			refused := func(st store.Store, def membership.Definition, want ...string) {
				t.Helper()
				_, err := membership.Open(st, def)
				if !errors.Is(err, membership.ErrDefinitionInUse) {
					t.Fatalf("Open: %v, want ErrDefinitionInUse", err)
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Open: %v, want it to name %s", err, w)
					}
				}
			}

			// m1 recharges 10.55 and earns 10.55 points (one lot).
			st := newStore()
			v1 := open(st, loweredDef(t, 1, 2, 2))
			for _, e := range [][2]string{{"recharge", "10.55"}, {"order", "10.55"}} {
				if err := ev(v1, e[0], e[1]); err != nil {
					t.Fatal(err)
				}
			}
			refused(st, loweredDef(t, 2, 1, 2), `stored_value.scale: 1 places while member "m1" holds 10.55`)
			refused(st, loweredDef(t, 2, 2, 0), `points.programs[0].rounding.scale: 0 places while member "m1" holds 10.55`)
			refused(st, loweredDef(t, 2, 1, 1), `stored_value.scale`, `points.programs[0].rounding.scale`)
			// Nothing installed: version 1 goes on writing, and opens.
			if err := ev(v1, "pay", "0.05"); err != nil {
				t.Fatalf("version 1 after the refusals: %v", err)
			}
			open(st, loweredDef(t, 1, 2, 2))
			// Raised: accepted whatever the balances hold.
			st2 := newStore()
			p := open(st2, loweredDef(t, 1, 2, 2))
			if err := ev(p, "recharge", "10.55"); err != nil {
				t.Fatal(err)
			}
			open(st2, loweredDef(t, 2, 4, 4))

			// m1 now holds 10.50 of stored value; the points go to 10.50
			// too, and the lowered version is accepted: a spend of the
			// whole 10.5 takes it all.
			if _, err := v1.Points().Redeem(ctx, points.RedeemRequest{RequestID: "red", Member: "m1", Operator: "op", At: at(20),
				Program: "mall", Ref: "r1", Amount: dec("0.05")}); err != nil {
				t.Fatal(err)
			}
			v2 := open(st, loweredDef(t, 2, 1, 1))
			if err := ev(v2, "pay", "10.5"); err != nil {
				t.Fatalf("spend of 10.5 under version 2: %v", err)
			}
			if a, err := v2.Value().Account(ctx, "m1"); err != nil || !a.Balance.IsZero() {
				t.Fatalf("balance %s, %v; want 0", a.Balance, err)
			}
			// Raised again, then lowered: the recorded scale is version
			// 3's, and 0.25 points earned under it stop version 4.
			v3 := open(st, loweredDef(t, 3, 2, 2))
			if err := ev(v3, "order", "0.25"); err != nil {
				t.Fatal(err)
			}
			refused(st, loweredDef(t, 4, 2, 1), `points.programs[0].rounding.scale: 1 places while member "m1" holds 10.75`)
		})
	}
}

// TestDefinitionLowersAPointsScaleLots: a points lot's remainder finer
// than the new scale refuses it even when the balance keeps to it (0.55
// and 0.45 make 1): the lot of 0.55 expiring alone would leave 0.45 no
// redemption takes. Stored value's lots never expire, so its balance is
// what counts.
func TestDefinitionLowersAPointsScaleLots(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			p, err := membership.Open(st, loweredDef(t, 1, 2, 2))
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range [][2]string{{"order", "0.55"}, {"order", "0.45"}, {"recharge", "0.55"}, {"recharge", "0.45"}} {
				if _, err := p.Process(ctx, event.Event{ID: fmt.Sprint("e", i), Member: "m1", Type: e[0],
					Time: time.Date(2025, 3, 1, 10+i, 0, 0, 0, testkit.Shanghai), Attrs: event.Attrs{"amount": event.DecString(e[1])}}); err != nil {
					t.Fatal(err)
				}
			}
			_, err = membership.Open(st, loweredDef(t, 2, 2, 0))
			if !errors.Is(err, membership.ErrDefinitionInUse) || !strings.Contains(err.Error(), `points.programs[0].rounding.scale: 0 places while member "m1" holds 0.55 in lot`) {
				t.Fatalf("Open: %v, want ErrDefinitionInUse naming the lot of 0.55", err)
			}
			if _, err := membership.Open(st, loweredDef(t, 2, 0, 2)); err != nil {
				t.Fatalf("Open with stored value at whole units over a balance of 1: %v", err)
			}
		})
	}
}

// scanCounter counts the scans of the ledger's balances and lots.
type scanCounter struct {
	store.Store
	scans *int
}

func (s scanCounter) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(scanTx{tx, s.scans}) })
}

type scanTx struct {
	store.Tx
	scans *int
}

func (t scanTx) Scan(bucket string, start, end []byte, reverse bool, fn func(k, v []byte) error) error {
	// A scan of every member's (past the pools, keyed from 0x00), not
	// of one member's accounts.
	if (bucket == "ledger.bal" || bucket == "ledger.lot") && string(start) == "\x01" {
		*t.scans++
	}
	return t.Tx.Scan(bucket, start, end, reverse, fn)
}

// TestDefinitionScaleScansOnlyWhenLowered: the balances are read only
// when a version lowers a scale the store recorded, and when the store
// records none (written before scales were recorded): then the check is
// made as for a lowered one.
func TestDefinitionScaleScansOnlyWhenLowered(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	scans := 0
	st := scanCounter{mem, &scans}
	p, err := membership.Open(st, loweredDef(t, 1, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"recharge", "order"} {
		if _, err := p.Process(ctx, event.Event{ID: fmt.Sprint("e", i), Member: "m1", Type: typ,
			Time: time.Date(2025, 3, 1, 10+i, 0, 0, 0, testkit.Shanghai), Attrs: event.Attrs{"amount": event.DecString("10.55")}}); err != nil {
			t.Fatal(err)
		}
	}
	scans = 0
	if _, err := membership.Open(st, loweredDef(t, 2, 2, 4)); err != nil || scans != 0 {
		t.Fatalf("kept and raised: %v, %d scans; want none", err, scans)
	}
	if _, err := membership.Open(st, loweredDef(t, 3, 1, 4)); !errors.Is(err, membership.ErrDefinitionInUse) || scans != 1 {
		t.Fatalf("stored value lowered: %v, %d scans; want ErrDefinitionInUse after 1 (balances)", err, scans)
	}
	// A store written before the scales were recorded.
	for _, r := range [][2]string{{"value.meta", "scale"}, {"points.meta", "scales"}} {
		if err := mem.Update(ctx, func(tx store.Tx) error { return tx.Delete(r[0], []byte(r[1])) }); err != nil {
			t.Fatal(err)
		}
	}
	scans = 0
	if _, err := membership.Open(st, loweredDef(t, 3, 4, 2)); err != nil || scans != 3 {
		t.Fatalf("no scale recorded, raised: %v, %d scans; want 3 (stored value's balances, the points' balances and lots)", err, scans)
	}
	if _, err := membership.Open(st, loweredDef(t, 4, 4, 1)); !errors.Is(err, membership.ErrDefinitionInUse) {
		t.Fatalf("points lowered after: %v, want ErrDefinitionInUse", err)
	}
}
