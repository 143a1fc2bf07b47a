package value

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Sentinel errors of stored value.
var (
	// ErrNotDefined is returned by every call of a Handle whose program
	// defines no stored value.
	ErrNotDefined = errors.New("the program defines no stored value")
	// ErrRefundExceedsSpend is wrapped in the error of a refund event
	// whose amount would take the member's cumulative refunds past the
	// member's cumulative spend: a refund credits back money the member
	// spent, it never creates money. The event changes nothing; the error
	// gives the amount and what is still refundable (Account's Spent less
	// its Refunded).
	ErrRefundExceedsSpend = errors.New("refund exceeds the member's spend")
	// ErrInvalidAmount is wrapped in the error of a stored-value event
	// that would take the member's balance or cumulative recharge, spend,
	// refund or withdrawal past the limit on decimals each amount keeps to
	// (event.CheckDecimal: event.MaxDecimalDigits digits; the error also
	// wraps event.ErrTooLarge). Like a refund past the spend, the event
	// changes nothing, and its ID is not taken. (An amount that is not
	// positive, or finer than the scale, is refused before, with
	// event.ErrInvalidEvent naming the attribute.)
	ErrInvalidAmount = errors.New("invalid amount")
)

// Handle reads members' stored value. Recharges, spends, refunds and
// withdrawals are events (see the package comment): there is no write
// call. A Handle is safe for concurrent use.
type Handle struct {
	e   *engine.Engine
	def *Definition
}

// New registers the stored-value part of def with e and returns its
// handle. With def nil it registers nothing, and the handle's calls return
// ErrNotDefined; e then refuses to install its definition over a store
// holding stored value (inUse). With def, e refuses one that lowers the
// scale below a balance's decimal places (scaleInUse).
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Value] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	if def == nil {
		e.CheckInUse(inUse)
		return h
	}
	d := *def // the program's, whatever the caller does with def later
	h.def = &d
	e.Add(&part{def: &d})
	e.CheckInUse(func(tx store.Tx) error { return scaleInUse(tx, d.Places()) })
	e.OnInstall(func(tx store.Tx, _ bool) error { return recordScale(tx, d.Places()) })
	return h
}

// inUse is stored value's engine.InUse check of a definition without
// stored value about to replace the one the store runs: a store holding
// stored value (ledger postings of asset ledger.Value, or a member's
// cumulative totals, which an opening may bring without a balance) is a
// problem at "stored_value". The members' money would stay the program's
// liability in the ledger while Account answered ErrNotDefined and the
// recharge and spend events, still declared, moved nothing.
func inUse(tx store.Tx) error {
	assets, err := ledger.Assets(tx)
	if err != nil {
		return err
	}
	held := slices.Contains(assets, ledger.Value)
	if !held {
		err := tx.Scan(bTotals, nil, nil, false, func(_, _ []byte) error {
			held = true
			return store.StopScan
		})
		if err != nil {
			return err
		}
	}
	if held {
		var ps rule.Problems
		ps.Addf("stored_value", "the store holds stored value (members' balances, cumulative totals): keep it, with other rules if need be")
		return ps.Err()
	}
	return nil
}

// Account is a member's stored value.
type Account struct {
	// Balance is the money the member holds.
	Balance decimal.Decimal `json:"balance"`
	// Recharged, Spent, Refunded and Withdrawn are cumulative, kept for
	// levels, tags and reports. Without an opening (Program.OpenMember),
	// Balance = Recharged − Spent + Refunded − Withdrawn; Recharged less
	// Withdrawn is what the member recharged and did not take back.
	Recharged decimal.Decimal `json:"recharged"`
	Spent     decimal.Decimal `json:"spent"`
	Refunded  decimal.Decimal `json:"refunded"`
	Withdrawn decimal.Decimal `json:"withdrawn"`
}

// Account returns a member's balance and cumulative recharge, spend,
// refund and withdrawal (all zero for a member never seen), whatever
// operations the definition in force names. It returns ErrNotDefined
// without stored value, an error wrapping event.ErrInvalidArgument for a
// member that is not an ID (event.CheckMember), an error wrapping
// store.ErrCorrupt for a total that reads negative (damage: the totals
// only grow), and the store's errors.
func (h *Handle) Account(ctx context.Context, member string) (Account, error) {
	var a Account
	if h.def == nil {
		return a, fmt.Errorf("value: account of %q: %w", member, ErrNotDefined)
	}
	if err := event.CheckMember(member); err != nil {
		return a, fmt.Errorf("value: account: %w", err)
	}
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		var err error
		if a.Balance, err = u.Ledger().Balance(account(member)); err != nil {
			return err
		}
		if a.Recharged, err = readTotal(u.Tx(), member, KindRecharge); err != nil {
			return err
		}
		if a.Spent, err = readTotal(u.Tx(), member, KindSpend); err != nil {
			return err
		}
		if a.Refunded, err = readTotal(u.Tx(), member, KindRefund); err != nil {
			return err
		}
		a.Withdrawn, err = readTotal(u.Tx(), member, KindWithdraw)
		return err
	})
	if err != nil {
		return a, fmt.Errorf("value: account of %q: %w", member, err)
	}
	return a, nil
}
