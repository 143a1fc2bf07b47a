package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/examples/internal/tally"
	"github.com/shopspring/decimal"
)

// What happens after the sale, as the park's systems send it: groups
// refund the tickets of members who did not come and shoppers return
// orders days later, a gate or shop offline delivers a day's events a day
// or two late (after Advance ran past them), some events are sent twice
// (they must come back Duplicate), and a member or two is erased near the
// end.

// refundPlan is a refund drawn in plan: days after the purchase, and the
// tickets refunded (0: the whole order).
type refundPlan struct {
	in      int
	tickets int64
}

// after is the host's record of what it sends after the sale.
type after struct {
	sent          *tally.Queue
	refunds       int
	refundAmt     decimal.Decimal
	refundOf      map[string]*tally.Refund
	erased        []string
	erasedRetried int
	erasedRefused int
	lastEvent     map[string]event.Event
}

func newAfter() after {
	return after{sent: tally.NewQueue(), refundOf: map[string]*tally.Refund{}, lastEvent: map[string]event.Event{}}
}

func (s *sim) isErased(member string) bool { return slices.Contains(s.erased, member) }

// drawAfter draws what follows a visit: its events a day or two late (not
// while the member's earlier late events are still on their way, nor past
// the run), a purchase sent again, the refunds of its purchases: a bulk
// ticket purchase refunds some tickets (no-shows) one time in three, a
// shop order is returned one time in twenty-five.
func (s *sim) drawAfter(d int, v *visit) {
	if s.rng.Float64() < 0.02 {
		v.late = 1 + s.rng.IntN(2)
		if d+v.late >= s.days || d < v.m.lateUntil {
			v.late = 0
		}
	}
	v.retry = s.rng.Float64() < 0.03
	v.refunds = map[string]refundPlan{}
	for _, ev := range v.evs {
		// The till's purchase is a placeholder until finish fills it in.
		id, ticket, tickets := ev.ID, ev.Type == "ticket", ev.Attrs["tickets"].Int
		if ev.ID == "" {
			id, ticket, tickets = v.till.id, v.till.ticket, v.till.count
		} else if !ticket && ev.Type != "shop_order" {
			continue
		}
		switch {
		case ticket && tickets > 10:
			if s.rng.Float64() < 0.33 {
				v.refunds[id] = refundPlan{in: 3 + s.rng.IntN(8), tickets: 1 + s.rng.Int64N(tickets/4)}
			}
		case !ticket:
			if s.rng.Float64() < 0.04 {
				v.refunds[id] = refundPlan{in: 3 + s.rng.IntN(12)}
			}
		}
	}
}

// send queues what follows the visit's events, once finish filled them
// in, and returns those sent today: the refunds (at 07:00, before the
// day's purchases), the retry the day after the purchase reaches the
// program, and the events late.
func (s *sim) send(d int, v *visit) []event.Event {
	evs := v.evs
	if v.late > 0 {
		v.m.lateUntil = d + v.late
	}
	arrives := max(d, v.m.lateUntil)
	for _, ev := range evs {
		if ev.Type != "ticket" && ev.Type != "shop_order" {
			continue
		}
		s.lastEvent[v.m.id] = ev
		if v.retry {
			s.sent.Again(arrives+1, ev)
			v.retry = false
		}
		rp, ok := v.refunds[ev.ID]
		if !ok {
			continue
		}
		pay, _ := ev.Attrs["amount"].Number()
		amt := pay
		if rp.tickets > 0 {
			amt = decimal.Min(pay, ticketPrice.Mul(decimal.NewFromInt(rp.tickets)))
		}
		if !amt.IsPositive() {
			continue
		}
		s.refundOf[ev.ID] = &tally.Refund{Member: v.m.id, Pay: pay}
		s.sent.Send(d+rp.in, event.Event{ID: "rf-" + ev.ID, Member: v.m.id, Type: "refund", Time: s.day(d + rp.in).Add(7 * time.Hour),
			Attrs: event.Attrs{"amount": event.Dec(amt), "order_id": event.Str(ev.ID)}})
	}
	if d < v.m.lateUntil {
		for _, ev := range evs {
			s.sent.SendLate(v.m.lateUntil, ev)
		}
		return nil
	}
	return evs
}

// due returns the events queued for day d, less those of erased members.
func (s *sim) due(d int) []event.Event {
	return s.sent.Due(d, s.isErased, func(ev event.Event) {
		if ev.Type == "refund" {
			amt, _ := ev.Attrs["amount"].Number()
			s.refunds++
			s.refundAmt = s.refundAmt.Add(amt)
			s.refundOf[ev.Attrs["order_id"].Str].Amount = amt
		}
	})
}

// erase erases one or two members who bought in the last 30 days, at
// 22:00 of day d, and sends an erased member's last purchase again,
// which must be refused with ErrErased and change nothing.
func (s *sim) erase(ctx context.Context, d int) error {
	at := s.day(d).Add(22 * time.Hour)
	var recent []string
	for _, m := range s.members {
		if ev, ok := s.lastEvent[m.id]; ok && ev.Time.After(at.AddDate(0, 0, -30)) && !s.isErased(m.id) {
			recent = append(recent, m.id)
		}
	}
	for range min(1+s.rng.IntN(2), len(recent)) {
		i := s.rng.IntN(len(recent))
		id := recent[i]
		recent = slices.Delete(recent, i, i+1)
		if _, err := s.p.Erase(ctx, membership.EraseRequest{RequestID: "erase-" + id, Member: id, Operator: "dpo.zhang", At: at}); err != nil {
			return err
		}
		s.erased = append(s.erased, id)
		s.erasedRetried++
		_, err := s.p.Process(ctx, s.lastEvent[id])
		switch {
		case errors.Is(err, membership.ErrErased) && errors.Is(err, membership.ErrInvalidEvent):
			s.erasedRefused++
		case err != nil:
			return fmt.Errorf("erased %s's event sent again: %w", id, err)
		}
	}
	return nil
}

// checkAfter checks what followed the sales: every retry came back
// Duplicate, the erased members are and their event sent again was
// refused, and each refunded order's record holds what the host refunded
// and, refunded in full, reverses all its grants.
func (s *sim) checkAfter(ctx context.Context, c *tally.Checks) error {
	s.sent.Check(c)
	c.Int("erased members' events sent again refused with ErrErased", int64(s.erasedRetried), int64(s.erasedRefused))
	return tally.CheckAfter(ctx, s.p, s.erased, s.refundOf, c)
}
