package value

import (
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Change kinds published by stored value; the data of each is a [Change].
const (
	ChangeRecharged = "value.recharged"
	ChangeSpent     = "value.spent"
	ChangeRefunded  = "value.refunded"
	ChangeWithdrawn = "value.withdrawn"
)

// Ledger kinds of stored-value postings. Each moves money between the
// member's account of asset ledger.Value and the pool of its kind.
const (
	KindRecharge ledger.Kind = "recharge"
	KindSpend    ledger.Kind = "spend"
	KindRefund   ledger.Kind = "refund"
	KindWithdraw ledger.Kind = "withdraw"
)

// Change is the data of the value.* changes: the amount moved and the
// member's balance after it.
type Change struct {
	Amount  decimal.Decimal `json:"amount"`
	Balance decimal.Decimal `json:"balance"`
}

// AppendJSON appends c's JSON to b, as json.Marshal writes it (it
// implements engine.JSONAppender): every stored-value event and opening
// publishes a Change, so its payload skips reflection.
func (c Change) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Dec("amount", c.Amount, false)
	o.Dec("balance", c.Balance, false)
	return append(o.B, '}'), true
}

// encode appends c's JSON, for engine.Unit.EmitWith: the method value of
// a pointer keeps c on the caller's stack, where Emit's any would move it
// to the heap.
func (c *Change) encode(b []byte) ([]byte, error) {
	b, _ = c.AppendJSON(b) // always ok
	return b, nil
}

// bTotals holds the cumulative totals (engine totals) of each member: key
// member, NUL, ledger kind.
const bTotals = "value.totals"

func totalKey(member string, k ledger.Kind) []byte {
	b := make([]byte, 0, len(member)+1+len(k))
	b = append(b, member...)
	b = append(b, 0)
	return append(b, k...)
}

// readTotal reads member's cumulative total of kind. The totals only
// grow from zero, by positive amounts: one that reads negative is damage,
// an error wrapping engine.ErrCorrupt, not a figure to show or add to.
func readTotal(tx store.Tx, member string, kind ledger.Kind) (decimal.Decimal, error) {
	sum, err := engine.Total(tx, bTotals, totalKey(member, kind))
	if err != nil {
		return sum, err
	}
	if sum.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("%w: %s: member %q's cumulative %s is negative, %s", engine.ErrCorrupt, bTotals, member, kind, sum)
	}
	return sum, nil
}

// account is the ledger account of a member's stored value.
func account(member string) ledger.Account { return ledger.MemberAccount(member, ledger.Value, "") }

// part applies stored-value events: it is an engine.Part and an
// engine.Checker.
type part struct {
	def *Definition
}

var (
	_ engine.Part    = (*part)(nil)
	_ engine.Checker = (*part)(nil)
)

func (p *part) DueKinds() []string                  { return nil }
func (p *part) Due(*engine.Unit, engine.Item) error { return nil }

// op returns the ledger kind and change kind of an event type ("" when the
// type is no stored-value operation).
func (p *part) op(typ string) (ledger.Kind, string) {
	switch typ {
	case "":
		return "", ""
	case p.def.Recharge:
		return KindRecharge, ChangeRecharged
	case p.def.Spend:
		return KindSpend, ChangeSpent
	case p.def.Refund:
		return KindRefund, ChangeRefunded
	case p.def.Withdraw:
		return KindWithdraw, ChangeWithdrawn
	}
	return "", ""
}

// CheckEvent refuses a stored-value event whose amount is not positive or
// has more decimal places than the definition's scale.
func (p *part) CheckEvent(ev event.Event) error {
	if k, _ := p.op(ev.Type); k == "" {
		return nil
	}
	amt, _ := ev.Decimal(p.def.Amount)
	if !amt.IsPositive() {
		return fmt.Errorf("attrs.%s: amount must be positive, got %s", p.def.Amount, amt)
	}
	if err := p.checkPlaces(amt); err != nil {
		return fmt.Errorf("attrs.%s: %w", p.def.Amount, err)
	}
	return nil
}

// checkPlaces returns an error when amt has more decimal places than the
// definition's scale: amounts are refused, never rounded.
func (p *part) checkPlaces(amt decimal.Decimal) error {
	sc := p.def.Places()
	switch {
	case amt.Equal(amt.Truncate(sc)):
		return nil
	case sc == 0:
		return fmt.Errorf("%s is not a whole amount (stored-value scale 0)", amt)
	}
	return fmt.Errorf("%s has more than %d decimal places (stored-value scale)", amt, sc)
}

// Process posts a recharge, spend, refund or withdrawal: a spend or a
// withdrawal beyond the balance fails the event with
// ledger.ErrInsufficientBalance, a refund beyond what the member spent and
// was not yet refunded with ErrRefundExceedsSpend.
func (p *part) Process(u *engine.Unit, ev event.Event) error {
	kind, change := p.op(ev.Type)
	if kind == "" {
		return nil
	}
	amt, _ := ev.Decimal(p.def.Amount)
	if kind == KindRefund {
		if err := checkRefund(u.Tx(), ev.Member, amt); err != nil {
			return err
		}
	}
	member := account(ev.Member)
	pool := ledger.Pool(ledger.Value, string(kind))
	legs := []ledger.Leg{{Account: member, Amount: amt}, {Account: pool, Amount: amt.Neg()}}
	if kind == KindSpend || kind == KindWithdraw {
		legs = []ledger.Leg{{Account: member, Amount: amt.Neg()}, {Account: pool, Amount: amt}}
	}
	posted, err := u.Post(ledger.Transaction{Kind: kind, Legs: legs})
	if err != nil {
		return err
	}
	var bal decimal.Decimal
	for _, e := range posted.Entries {
		if e.Account == member {
			bal = e.Balance
		}
	}
	// The error undoes the posting with the rest of the unit.
	if err := checkLimit(ev.Member, "balance", bal); err != nil {
		return err
	}
	key := totalKey(ev.Member, kind)
	sum, err := readTotal(u.Tx(), ev.Member, kind)
	if err != nil {
		return err
	}
	if err := checkLimit(ev.Member, "cumulative "+string(kind), sum.Add(amt)); err != nil {
		return err
	}
	if err := u.AddTotal(bTotals, key, ev.Member, amt); err != nil {
		return err
	}
	return u.Emit(change, ev.Member, Change{Amount: amt, Balance: bal}, &rule.Reason{
		Rule: "stored_value." + string(kind), Inputs: map[string]string{p.def.Amount: amt.String()},
	})
}

// checkLimit returns an error wrapping ErrInvalidAmount and
// event.ErrTooLarge when what, an amount of member's that an event would
// leave (its balance, a cumulative total), is beyond the limit on
// decimals every amount keeps to: a balance made of amounts that each
// keep to it may not. It judges the amount as it reads (engine.CheckLimit):
// 9e39 plus a recharge of 1.00 is 9000…001, of 40 digits.
func checkLimit(member, what string, d decimal.Decimal) error {
	if err := engine.CheckLimit(d); err != nil {
		return fmt.Errorf("value: %w: member %q's %s would be %s: %w", ErrInvalidAmount, member, what, d, err)
	}
	return nil
}

// checkRefund returns an error wrapping ErrRefundExceedsSpend when a
// refund of amt would take member's cumulative refunds past the member's
// cumulative spend. It reads both totals in tx, the event's transaction,
// before the refund adds to them: the store runs Updates serializably
// (store/memory and store/bolt one at a time; store/postgres detects the
// conflict of two refunds of one member and runs one again), so
// concurrent refunds never pass the spend together.
func checkRefund(tx store.Tx, member string, amt decimal.Decimal) error {
	spent, err := readTotal(tx, member, KindSpend)
	if err != nil {
		return err
	}
	refunded, err := readTotal(tx, member, KindRefund)
	if err != nil {
		return err
	}
	if left := spent.Sub(refunded); amt.Cmp(left) > 0 {
		left = decimal.Max(left, decimal.Zero) // refunds past the spend were accepted before the rule
		return fmt.Errorf("value: %w: refund %s of member %q, %s refundable (spent %s, refunded %s)",
			ErrRefundExceedsSpend, amt, member, left, spent, refunded)
	}
	return nil
}
