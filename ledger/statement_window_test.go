package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
)

// A cursor goes on after its entry but never outside the query's From and
// To: alice earned 1 to 6 at 10:00 to 10:05; the window [10:02, 10:04)
// with the cursor of the 10:00 entry lists 3 and 4 (it listed 2 to 4:
// the entry at 10:01 too, the cursor replacing From), and newest first
// with the cursor of the 10:05 entry lists 4 and 3 (it listed 5, 4, 3:
// the cursor replacing To). A cursor inside the window goes on from it.
func TestStatementCursorKeepsTheWindow(t *testing.T) {
	st := memory.New()
	var txs []ledger.Transaction
	for i := range 6 {
		txs = append(txs, earn(fmt.Sprint(i+1), t0.Add(time.Duration(i)*time.Minute), time.Time{}))
	}
	mustPost(t, st, txs...)
	var all []ledger.Entry
	view(t, st, func(l *ledger.Ledger) error {
		p, err := l.Statement(ledger.Query{Account: alice})
		all = p.Entries
		return err
	})
	if len(all) != 6 {
		t.Fatalf("%d entries, want 6", len(all))
	}
	from, to := t0.Add(2*time.Minute), t0.Add(4*time.Minute)
	for _, c := range []struct {
		name   string
		after  int // the entry whose cursor the query takes
		newest bool
		want   []string
	}{
		{"oldest first, from a cursor before From", 0, false, []string{"3", "4"}},
		{"oldest first, from a cursor in the window", 2, false, []string{"4"}},
		{"oldest first, from a cursor past To", 5, false, nil},
		{"newest first, from a cursor past To", 5, true, []string{"4", "3"}},
		{"newest first, from a cursor in the window", 3, true, []string{"3"}},
		{"newest first, from a cursor before From", 0, true, nil},
	} {
		var got []string
		view(t, st, func(l *ledger.Ledger) error {
			p, err := l.Statement(ledger.Query{Account: alice, From: from, To: to, Cursor: all[c.after].Cursor(), Newest: c.newest})
			for _, e := range p.Entries {
				got = append(got, e.Amount.String())
			}
			return err
		})
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}
