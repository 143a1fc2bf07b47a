package points

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
)

var (
	_ engine.Opener   = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// CheckOpen checks a member's opening points without the store: each
// program is the definition's, an amount passes the program's
// CheckAmount and keeps to the limit on decimals (event.CheckDecimal), an
// expiry or a release is after the row's time and within the supported
// range (event.CheckTime), a pending lot has a release and a spendable
// lot none.
func (pt *part) CheckOpen(m *migrate.Member) error {
	field := func(i int, rest string) string { return fmt.Sprintf("points[%d]", i) + rest }
	for i, pp := range m.Points {
		prog, err := pt.program(pp.Program)
		if err != nil {
			return migrate.Field(field(i, ".program"), fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		for _, set := range []struct {
			name    string
			lots    []migrate.Lot
			pending bool
		}{{"lots", pp.Lots, false}, {"pending", pp.Pending, true}} {
			for j, l := range set.lots {
				f := func(name string) string { return field(i, fmt.Sprintf(".%s[%d].%s", set.name, j, name)) }
				if err := event.CheckDecimal(l.Amount); err != nil {
					return migrate.Field(f("amount"), fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
				}
				if err := prog.CheckAmount(l.Amount); err != nil {
					return migrate.Field(f("amount"), err) // ErrInvalidAmount wraps event.ErrInvalidArgument
				}
				for _, t := range []struct {
					name string
					at   time.Time
				}{{"expires", l.Expires}, {"release", l.Release}} {
					if err := event.CheckTime(t.at); err != nil && !t.at.IsZero() {
						return migrate.Field(f(t.name), fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
					}
				}
				if !l.Expires.IsZero() && !l.Expires.After(m.At) {
					return migrate.Field(f("expires"), fmt.Errorf("%w: %s is not after the row's time", event.ErrInvalidArgument, l.Expires))
				}
				if set.pending && !l.Release.After(m.At) {
					return migrate.Field(f("release"), fmt.Errorf("%w: a pending lot needs a release after the row's time", event.ErrInvalidArgument))
				}
				if !set.pending && !l.Release.IsZero() {
					// Taken as spendable, the lot would drop it silently.
					return migrate.Field(f("release"), fmt.Errorf("%w: a spendable lot has no release (a pending lot goes in pending)", event.ErrInvalidArgument))
				}
			}
		}
	}
	return nil
}

// Open credits a member's opening points (checked by CheckOpen),
// migrated from another system: each lot of each program from the
// program's pool "opening" (ledger kind engine.KindOpening) with its
// expiry, spendable at once; each pending lot into the pending
// sub-account, released (made spendable) by a due item at its Release
// time, as an earning rule's pending points are.
func (pt *part) Open(u *engine.Unit, m *migrate.Member) error {
	date := "" // made only when needed: few imported members have a pending lot
	for _, pp := range m.Points {
		for _, set := range []struct {
			lots    []migrate.Lot
			pending bool
		}{{pp.Lots, false}, {pp.Pending, true}} {
			for _, l := range set.lots {
				sub, kind := "", ChangeOpened
				if set.pending {
					if date == "" {
						date = rule.DateOf(u.At(), u.Location()).String()
					}
					sub, kind = SubPending, ChangePending
				}
				lot, err := pt.grant(u, pp.Program, m.Member, sub, engine.KindOpening, l.Amount, l.Expires)
				if err != nil {
					return err
				}
				if set.pending {
					if err := scheduleRelease(u, l.Release, duePayload{Program: pp.Program, Member: m.Member, Lot: lot.ID, Date: date}); err != nil {
						return err
					}
				}
				pc := Change{Program: pp.Program, Amount: l.Amount, Lot: lot.ID, Expires: lot.Expires}
				if err := u.EmitWith(kind, m.Member, &rule.Reason{Rule: migrate.Rule}, pc.encode); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
