package value

import (
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ChangeOpened is published for a member's opening stored value, migrated
// from another system (data: Change).
const ChangeOpened = "value.opened"

var (
	_ engine.Opener   = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// MemberRecords implements engine.Recorder: the member's cumulative
// totals.
func (p *part) MemberRecords(dst []store.Read, member string) []store.Read {
	return append(dst, engine.MemberRange(bTotals, member))
}

// CheckOpen checks a member's opening stored value: amounts (the balance,
// the cumulative recharge, spend, refund and withdrawal) must not be
// negative nor have more decimal places than the definition's scale, and
// keep to the limit on decimals (event.CheckDecimal). The refund is not
// checked against the spend, nor the withdrawal against the recharge (see
// migrate.Value).
func (p *part) CheckOpen(m *migrate.Member) error {
	v := m.Value
	if v == nil {
		return nil
	}
	for _, a := range []struct {
		name string
		amt  decimal.Decimal
	}{{"balance", v.Balance}, {"recharged", v.Recharged}, {"spent", v.Spent}, {"refunded", v.Refunded}, {"withdrawn", v.Withdrawn}} {
		if err := event.CheckDecimal(a.amt); err != nil {
			return migrate.Field("value."+a.name, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		if a.amt.IsNegative() {
			return migrate.Field("value."+a.name, fmt.Errorf("%w: %s is negative", event.ErrInvalidArgument, a.amt))
		}
		if err := p.checkPlaces(a.amt); err != nil {
			return migrate.Field("value."+a.name, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
	}
	return nil
}

// Open sets a member's opening stored value (checked by CheckOpen): the
// balance, credited from the value pool "opening" (ledger kind
// engine.KindOpening), and the cumulative recharge, spend, refund and
// withdrawal, which Account reports: a refund after the import is refused
// past the spend less the refund imported (ErrRefundExceedsSpend), as it
// is in the program the member came from. The balance is the one given,
// not worked out from the totals, so Balance = Recharged − Spent +
// Refunded − Withdrawn holds after the import when it held in the
// program the member came from (and every total is carried).
func (p *part) Open(u *engine.Unit, m *migrate.Member) error {
	v := m.Value
	if v == nil {
		return nil
	}
	bal := v.Balance
	if bal.IsPositive() {
		_, err := u.Post(ledger.Transaction{Kind: engine.KindOpening, Legs: []ledger.Leg{
			{Account: account(m.Member), Amount: bal},
			{Account: ledger.Pool(ledger.Value, string(engine.KindOpening)), Amount: bal.Neg()},
		}})
		if err != nil {
			return err
		}
	}
	for _, t := range []struct {
		kind ledger.Kind
		amt  decimal.Decimal
	}{{KindRecharge, v.Recharged}, {KindSpend, v.Spent}, {KindRefund, v.Refunded}, {KindWithdraw, v.Withdrawn}} {
		if t.amt.IsPositive() {
			if err := u.AddTotal(bTotals, totalKey(m.Member, t.kind), m.Member, t.amt); err != nil {
				return err
			}
		}
	}
	c := Change{Amount: bal, Balance: bal}
	return u.EmitWith(ChangeOpened, m.Member, &rule.Reason{Rule: migrate.Rule}, c.encode)
}
