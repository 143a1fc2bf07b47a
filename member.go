package membership

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// Member is everything the program knows of one member, gathered from the
// domains the definition has: a field whose domain the definition leaves
// out is empty.
type Member struct {
	ID string `json:"id"`
	// Level is the member's level, term and growth, and the paid plans
	// held (a program of plans without a ladder has these alone), at the
	// time Member is asked for (level.Handle.StatusAt); as stored for a
	// zero time.
	Level level.Status `json:"level,omitzero"`
	// Points is the balance in each point program.
	Points map[string]points.Balance `json:"points,omitempty"`
	// Value is the stored value.
	Value value.Account `json:"value,omitzero"`
	// Coupons counts the member's coupons by state.
	Coupons map[coupon.State]int `json:"coupons,omitempty"`
	// Achievements are the achievements granted.
	Achievements []benefit.Grant `json:"achievements,omitempty"`
	// Profile is the tag domain's view: attributes, tags and statistics.
	Profile tag.Profile `json:"profile,omitzero"`
	// Accounts lists every ledger account of the member (by its
	// ledger.Account string, sub-accounts such as pending points
	// included) with its balance.
	Accounts map[string]decimal.Decimal `json:"accounts,omitempty"`
}

// Member returns what every domain knows of a member, points counted as
// available at time at (required when the program has points: a zero at
// is refused, as points.Handle.Balance refuses it) and the level status at
// at: a term end, a fixed-duration freeze's deadline or a plan's expiry
// due by then counts, as it would for an event at that time, without
// being written (a zero at, without points, reads the status as stored). Each domain is read through its handle in a
// transaction of its own, so under concurrent writes two domains may be
// read at different instants; each domain's part is consistent. A member
// the program has never seen comes back with an empty profile and zero
// balances (and the entry level, with a ladder).
func (p *Program) Member(ctx context.Context, id string, at time.Time) (Member, error) {
	fail := func(err error) (Member, error) {
		return Member{}, fmt.Errorf("membership: member %q: %w", id, err)
	}
	if err := event.CheckQuery(id, at); err != nil {
		return fail(err)
	}
	m := Member{ID: id}
	var err error
	// The level domain answers for paid plans too, with or without a
	// ladder.
	if p.def.Levels != nil {
		if at.IsZero() {
			m.Level, err = p.Levels().Status(ctx, id)
		} else {
			m.Level, err = p.Levels().StatusAt(ctx, id, at)
		}
		if err != nil {
			return fail(err)
		}
	}
	if p.def.Points != nil {
		m.Points = map[string]points.Balance{}
		for _, prog := range p.def.Points.Programs {
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: prog.Name, Member: id, At: at})
			if err != nil {
				return fail(err)
			}
			m.Points[prog.Name] = b
		}
	}
	if p.def.StoredValue != nil {
		if m.Value, err = p.Value().Account(ctx, id); err != nil {
			return fail(err)
		}
	}
	if p.def.Coupons != nil {
		cs, err := p.Coupons().List(ctx, id)
		if err != nil {
			return fail(err)
		}
		for _, c := range cs {
			if m.Coupons == nil {
				m.Coupons = map[coupon.State]int{}
			}
			m.Coupons[c.State]++
		}
	}
	if p.def.Benefits != nil {
		if m.Achievements, err = p.Benefits().Achievements(ctx, id); err != nil {
			return fail(err)
		}
	}
	if p.def.Tags != nil {
		if m.Profile, err = p.Tags().Profile(ctx, id); err != nil {
			return fail(err)
		}
	} else {
		m.Profile.Member = id
	}
	err = p.eng.Store().View(ctx, func(tx store.Tx) error {
		accts, err := ledger.New(tx, p.loc).Accounts(id)
		if err != nil {
			return err
		}
		for a, bal := range accts {
			if m.Accounts == nil {
				m.Accounts = map[string]decimal.Decimal{}
			}
			m.Accounts[a.String()] = bal
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return m, nil
}
