package points

import (
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
)

var _ engine.Opener = (*part)(nil)

// Open credits a member's opening points, migrated from another system:
// each lot of each program from the program's pool "opening" (ledger
// kind engine.KindOpening) with its expiry, spendable at once; each
// pending lot into the pending sub-account, released (made spendable) by
// a due item at its Release time, as an earning rule's pending points are.
// An amount must pass the program's CheckAmount; an expiry or a release
// must be after the row's time, and a pending lot needs a release.
func (pt *part) Open(u *engine.Unit, m *migrate.Member) error {
	date := rule.DateOf(u.At(), u.Location()).String()
	for i, pp := range m.Points {
		field := fmt.Sprintf("points[%d]", i)
		prog, err := pt.program(pp.Program)
		if err != nil {
			return migrate.Field(field+".program", err)
		}
		for _, set := range []struct {
			name    string
			lots    []migrate.Lot
			pending bool
		}{{"lots", pp.Lots, false}, {"pending", pp.Pending, true}} {
			for j, l := range set.lots {
				f := fmt.Sprintf("%s.%s[%d]", field, set.name, j)
				if err := prog.CheckAmount(l.Amount); err != nil {
					return migrate.Field(f+".amount", err)
				}
				if !l.Expires.IsZero() && !l.Expires.After(u.At()) {
					return migrate.Field(f+".expires", fmt.Errorf("%w: %s is not after the row's time", event.ErrInvalidArgument, l.Expires))
				}
				sub, kind := "", ChangeOpened
				if set.pending {
					if !l.Release.After(u.At()) {
						return migrate.Field(f+".release", fmt.Errorf("%w: a pending lot needs a release after the row's time", event.ErrInvalidArgument))
					}
					sub, kind = SubPending, ChangePending
				}
				lot, err := pt.grant(u, pp.Program, m.Member, sub, engine.KindOpening, l.Amount, l.Expires)
				if err != nil {
					return err
				}
				if set.pending {
					if err := u.Schedule(l.Release, dueRelease, dueID(pp.Program, m.Member, lot.ID), duePayload{Program: pp.Program, Member: m.Member, Lot: lot.ID, Date: date}); err != nil {
						return err
					}
				}
				pc := Change{Program: pp.Program, Amount: l.Amount, Lot: lot.ID, Expires: lot.Expires}
				if err := u.EmitWith(kind, m.Member, &rule.Reason{Rule: "migrate.opening"}, pc.encode); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
