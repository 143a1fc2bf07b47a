package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/examples/internal/tally"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/shopspring/decimal"
)

// What happens after the sale, as a host's systems send it: refunds days
// later, events delivered late (after Advance ran past them) or twice,
// operators reversing redemptions and adjusting points (above the
// approval threshold, a second operator decides), and members erased.

// Operators of the back office: one requests adjustments, another
// decides those above the approval threshold (no one approves their own).
const (
	opDesk = "cs.li"
	opLead = "cs.lead"
)

// approvalAbove is the mall program's approval_above (program.json): the
// host knows which of its adjustments wait for a decision.
var approvalAbove = decimal.NewFromInt(500)

// op is an operator call due on a day, run after the day's mall.
type op struct {
	member string
	key    string // orders a member's calls of a day
	run    func(ctx context.Context) error
}

// after is the host's record of what it sends after the sale, and what
// came back.
type after struct {
	sent *tally.Queue // events sent on a later day: late deliveries, refunds, retries
	ops  map[int][]op

	refunds       int
	refunded      decimal.Decimal // order money refunded
	valueRefunded decimal.Decimal // of which back to the card
	reversals     int
	adjusted      decimal.Decimal // adjustments applied (at once or approved)
	adjustments   int
	pending       int
	approved      int
	rejected      int
	notCovered    int // approvals refused for a debit the balance no longer covers, then rejected
	opRetries     int // operator calls sent twice
	opDuplicates  int
	erased        []string
	dropped       int // calls for members erased before they were due
	erasedRetried int
	erasedRefused int // retries of an erased member's events refused with ErrErased
	lastEvent     map[string]event.Event
	decided       map[string]points.AdjustmentState // the host's decisions, by adjustment
	refundOf      map[string]*tally.Refund          // the orders refunded, by ID
}

func newAfter() after {
	return after{sent: tally.NewQueue(), ops: map[int][]op{},
		lastEvent: map[string]event.Event{}, decided: map[string]points.AdjustmentState{}, refundOf: map[string]*tally.Refund{}}
}

// isErased reports whether the host erased member.
func (s *sim) isErased(member string) bool { return slices.Contains(s.erased, member) }

// due returns the events queued for day d, less those of erased members.
// A refund credits the host's card books when it is sent: the refund
// comes before the member's spends of the day (07:00), so the ledger never
// sees a spend the books counted on a refund not yet sent.
func (s *sim) due(d int) []event.Event {
	return s.sent.Due(d, s.isErased, func(ev event.Event) {
		amt, _ := ev.Attrs["amount"].Number()
		switch ev.Type {
		case "value_refund":
			m := s.members[memberIndex(ev.Member)]
			m.balance = m.balance.Add(amt)
			s.valueRefunded = s.valueRefunded.Add(amt)
		case "refund":
			id := ev.Attrs["order_id"].Str
			s.refunds++
			s.refunded = s.refunded.Add(amt)
			s.refundOf[id].Amount = s.refundOf[id].Amount.Add(amt)
		}
	})
}

// memberIndex returns the index of member ("m00042" is 41).
func memberIndex(id string) int {
	var n int
	fmt.Sscanf(id, "m%05d", &n)
	return n - 1
}

// refund queues the refunds of order o, paid pay, drawn in plan: the
// refund of a share of it (or all) some days later, and sometimes of the
// rest later still; a card payment is refunded to the card, and a whole
// refund of an order paid partly with points has an operator reverse the
// redemption.
func (s *sim) refund(d int, m *member, o *order, pay decimal.Decimal) {
	if o.refundIn == 0 || !pay.IsPositive() {
		return
	}
	first := pay
	if o.refundShare < 1 {
		first = cents(pay.InexactFloat64() * o.refundShare)
		if !first.IsPositive() || !first.LessThan(pay) {
			first = pay
		}
	}
	send := func(n, day int, amt decimal.Decimal) {
		at := s.day(day).Add(7*time.Hour + o.refundMinute)
		attrs := event.Attrs{"amount": event.Dec(amt), "order_id": event.Str(o.id)}
		if o.byValue {
			s.sent.Send(day, event.Event{ID: fmt.Sprintf("vrf-%s-%d", o.id, n), Member: m.id, Type: "value_refund", Time: at, Attrs: attrs})
		}
		ev := event.Event{ID: fmt.Sprintf("rf-%s-%d", o.id, n), Member: m.id, Type: "refund", Time: at, Attrs: attrs}
		s.sent.Send(day, ev)
		if o.retryRefund && n == 1 {
			s.sent.Again(day+1, ev)
		}
	}
	s.refundOf[o.id] = &tally.Refund{Member: m.id, Pay: pay}
	day := d + o.refundIn
	send(1, day, first)
	if first.LessThan(pay) && o.refundRestIn > 0 {
		day += o.refundRestIn
		send(2, day, pay.Sub(first))
		first = pay
	}
	if first.Equal(pay) && o.ptsCash != nil {
		s.reverse(day, m.id, o.id, decimal.Zero, "order refunded")
	}
}

// reverse queues an operator's reversal of a redemption on day d: all of
// it (amount zero) or amount.
func (s *sim) reverse(d int, member, ref string, amount decimal.Decimal, note string) {
	s.call(d, op{member: member, key: "1 reverse " + ref, run: func(ctx context.Context) error {
		at := s.day(d).Add(21*time.Hour + 45*time.Minute)
		_, err := s.p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "rev-" + ref, Operator: opDesk, Note: note,
			At: at, Program: "mall", Ref: ref, Amount: amount})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.reversals++
		s.mu.Unlock()
		return nil
	}})
}

func (s *sim) call(d int, o op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops[d] = append(s.ops[d], o)
}

// adjust has an operator adjust member's points on day d by amount
// (drawn in plan): a debit only as far as the available points cover it.
// An adjustment above the approval threshold waits, and the lead decides
// it decideIn days later. Some requests are sent twice (a double click):
// the second must come back Duplicate.
func (s *sim) adjust(d int, v *visit) {
	m, amount := v.m, v.adjust
	id := fmt.Sprintf("adj-%s-%d", m.id, d)
	s.call(d, op{member: m.id, key: "2 adjust " + id, run: func(ctx context.Context) error {
		at := s.day(d).Add(21*time.Hour + 50*time.Minute)
		if amount.IsNegative() {
			b, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m.id, At: at})
			if err != nil || b.Available.LessThan(amount.Neg()) {
				return err
			}
		}
		req := points.AdjustRequest{RequestID: id, Member: m.id, Operator: opDesk, Note: "goodwill", At: at, Program: "mall", Amount: amount}
		if amount.IsNegative() {
			req.Note = "points given in error"
		}
		res, err := s.p.Points().Adjust(ctx, req)
		if err != nil {
			return err
		}
		pending := res.Adjustment.State == points.AdjustmentPending
		s.mu.Lock()
		s.adjustments++
		if pending {
			s.pending++
		} else {
			s.adjusted = s.adjusted.Add(amount)
		}
		s.mu.Unlock()
		if c := amount.Abs().GreaterThan(approvalAbove); c != pending {
			return fmt.Errorf("adjustment %s of %s: pending %t, the approval threshold %s says %t", id, amount, pending, approvalAbove, c)
		}
		if v.retryAdjust {
			again, err := s.p.Points().Adjust(ctx, req)
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.opRetries++
			if again.Outcome.Duplicate {
				s.opDuplicates++
			}
			s.mu.Unlock()
		}
		if pending {
			s.decide(d+v.decideIn, m.id, id, amount, v.approve)
		}
		return nil
	}})
}

// decide has the lead approve or reject adjustment id on day d. An
// approval the balance no longer covers (a debit) is refused, and the
// lead rejects it instead.
func (s *sim) decide(d int, member, id string, amount decimal.Decimal, approve bool) {
	s.call(d, op{member: member, key: "0 decide " + id, run: func(ctx context.Context) error {
		at := s.day(d).Add(21*time.Hour + 40*time.Minute)
		req := points.DecideRequest{RequestID: "decide-" + id, Operator: opLead, At: at, Adjustment: id}
		state := points.AdjustmentRejected
		if approve {
			_, err := s.p.Points().Approve(ctx, req)
			switch {
			case err == nil:
				state = points.AdjustmentApplied
			case errors.Is(err, ledger.ErrInsufficientBalance) && amount.IsNegative():
				s.mu.Lock()
				s.notCovered++
				s.mu.Unlock()
				req.RequestID += "-rejected"
				req.Note = "no longer covered"
			default:
				return err
			}
		}
		if state == points.AdjustmentRejected {
			if _, err := s.p.Points().Reject(ctx, req); err != nil {
				return err
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.decided[id] = state
		if state == points.AdjustmentApplied {
			s.approved++
			s.adjusted = s.adjusted.Add(amount)
		} else {
			s.rejected++
		}
		return nil
	}})
}

// operate runs the operator calls due on day d, each member's in their
// order, members concurrently. Calls for members erased are dropped.
func (s *sim) operate(ctx context.Context, d int) error {
	ops := s.ops[d]
	delete(s.ops, d)
	slices.SortStableFunc(ops, func(a, b op) int { return cmp.Or(cmp.Compare(a.member, b.member), cmp.Compare(a.key, b.key)) })
	var groups [][]op
	for i, o := range ops {
		if s.isErased(o.member) {
			s.dropped++
			continue
		}
		if i == 0 || len(groups) == 0 || groups[len(groups)-1][0].member != o.member {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], o)
	}
	return tally.Parallel(groups, func(g []op) error {
		for _, o := range g {
			if err := o.run(ctx); err != nil {
				return fmt.Errorf("day %s: %s of %s: %w", s.day(d).Format(time.DateOnly), o.key, o.member, err)
			}
		}
		return nil
	})
}

// erase erases one or two members who ordered in the last 30 days, at
// 22:00 of day d, and sends an erased member's last order again, which
// must be refused with ErrErased and change nothing. (An order older than
// the idempotency window, 35 days, would be refused as too old instead.)
func (s *sim) erase(ctx context.Context, d int) error {
	at := s.day(d).Add(22 * time.Hour)
	var joined []*member
	for _, m := range s.members {
		if ev, ok := s.lastEvent[m.id]; ok && ev.Time.After(at.AddDate(0, 0, -30)) && !s.isErased(m.id) {
			joined = append(joined, m)
		}
	}
	for range min(1+s.rng.IntN(2), len(joined)) {
		i := s.rng.IntN(len(joined))
		m := joined[i]
		joined = slices.Delete(joined, i, i+1)
		if _, err := s.p.Erase(ctx, membership.EraseRequest{RequestID: "erase-" + m.id, Member: m.id, Operator: "dpo.zhang",
			Note: "ticket DSR-" + m.id, At: at}); err != nil {
			return err
		}
		s.erased = append(s.erased, m.id)
		ev := s.lastEvent[m.id]
		s.erasedRetried++
		_, err := s.p.Process(ctx, ev)
		switch {
		case errors.Is(err, membership.ErrErased) && errors.Is(err, membership.ErrInvalidEvent):
			s.erasedRefused++
		case err != nil:
			return fmt.Errorf("erased %s's event %s sent again: %w", m.id, ev.ID, err)
		}
	}
	return nil
}
