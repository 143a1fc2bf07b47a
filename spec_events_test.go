package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/value"
)

// SPEC "Events": an event's ID is "unique per program, the idempotency
// key", and "the same event ID processed twice changes nothing the second
// time and returns the first outcome". On every store: alice's recharge
// r1 of 50 (balance 50); the ID r1 for bob is another event under a taken
// ID: ErrEventConflict, bob still has nothing. alice pays 20 (50 − 20 =
// 30); r1 again, after that payment, returns the first outcome (its
// change says balance 50, not 30 + 50 = 80) and alice keeps 30.
func TestEventIDUniquePerProgramAndRetryReturnsTheFirstOutcome(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p, err := membership.Open(open(), valueDef())
			if err != nil {
				t.Fatal(err)
			}
			first := mustProcess(t, p, recharge("r1", "alice", "50", t0))[0]
			if _, err := p.Process(ctx, recharge("r1", "bob", "50", t0)); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("r1 for bob: %v; want ErrEventConflict", err)
			}
			if va, err := p.Value().Account(ctx, "bob"); err != nil || !va.Balance.IsZero() || !va.Recharged.IsZero() {
				t.Errorf("bob after the refused r1: %+v, %v; want nothing", va, err)
			}
			mustProcess(t, p, pay("p1", "alice", "20", t0.Add(time.Hour)))
			again, err := p.Process(ctx, recharge("r1", "alice", "50", t0))
			if err != nil || !again.Duplicate {
				t.Fatalf("r1 again: %+v, %v; want a duplicate", again, err)
			}
			again.Duplicate = false
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("r1 again (-first +again):\n%s", diff)
			}
			var ch value.Change
			if err := again.ChangesOf(value.ChangeRecharged)[0].Decode(&ch); err != nil || !ch.Balance.Equal(dec("50")) {
				t.Errorf("r1 again says %+v, %v; want the balance of its time, 50", ch, err)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil || !va.Balance.Equal(dec("30")) || !va.Recharged.Equal(dec("50")) || !va.Spent.Equal(dec("20")) {
				t.Errorf("alice = %+v, %v; want balance 30, recharged 50, spent 20", va, err)
			}
		})
	}
}
