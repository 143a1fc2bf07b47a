package tag

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

var (
	_ engine.Opener   = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// CheckOpen checks a member's opening profile and tags without the store:
// each attribute is declared, its text is valid text (event.CheckText),
// parses as the declared kind (parseValue) and passes the declaration's
// check; each tag is a manual tag of the definition.
func (p *part) CheckOpen(m *migrate.Member) error {
	if _, err := p.openingAttrs(m); err != nil {
		return err
	}
	for i, t := range m.Tags {
		f := fmt.Sprintf("tags[%d]", i)
		switch {
		case p.def.RuleFor(t) != nil:
			return migrate.Field(f, fmt.Errorf("%w: %w: %q is kept by a rule", event.ErrInvalidArgument, ErrNotManual, t))
		case !p.def.IsManual(t):
			return migrate.Field(f, fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownTag, t))
		}
	}
	return nil
}

// openingAttrs returns the profile attributes of an opening state, each
// converted to its declared kind (nil when there are none).
func (p *part) openingAttrs(m *migrate.Member) (map[string]event.Value, error) {
	if len(m.Profile) == 0 {
		return nil, nil
	}
	attrs := make(map[string]event.Value, len(m.Profile))
	for name, text := range m.Profile {
		f := "profile." + name
		var decl *event.Attr
		for i := range p.def.Attributes {
			if p.def.Attributes[i].Name == name {
				decl = &p.def.Attributes[i]
			}
		}
		if decl == nil {
			return nil, migrate.Field(f, fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownAttribute, name))
		}
		if err := event.CheckText(text); err != nil {
			return nil, migrate.Field(f, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		v, err := parseValue(decl.Kind, text)
		if err != nil {
			return nil, migrate.Field(f, fmt.Errorf("%w: %w: %w", event.ErrInvalidArgument, ErrAttributeType, err))
		}
		if err := decl.CheckValue(v); err != nil {
			return nil, migrate.Field(f, fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		attrs[name] = v
	}
	return attrs, nil
}

// Open sets a member's opening profile attributes (text converted to each
// attribute's declared kind: see parseValue), gives the manual tags the
// member held, and adds the cumulative recharge brought with the stored
// value to the statistics the tag rules read (openingRecharge); the row
// passed CheckOpen.
// The rules are evaluated after the opening, as after any operator call
// (Follow). The engine refuses a member the part knows already (a
// profile, a tag, statistics: MemberRecords) before Open runs: the
// opening would replace their profile.
func (p *part) Open(u *engine.Unit, m *migrate.Member) error {
	if err := u.Tx().Put(bMembers, []byte(m.Member), []byte{}); err != nil {
		return err
	}
	attrs, err := p.openingAttrs(m)
	if err != nil {
		return err
	}
	if attrs != nil {
		if err := saveAttrs(u.Tx(), m.Member, attrs); err != nil {
			return err
		}
	}
	for _, t := range m.Tags {
		ok, err := assign(u, m.Member, Assigned{Tag: t, Manual: true, By: m.Operator, At: u.At().UTC(), Event: u.Ref().Event})
		if err != nil {
			return err
		}
		if ok {
			if err := u.Emit(ChangeAdded, m.Member, Change{Tag: t, Manual: true, By: m.Operator}, &rule.Reason{Rule: migrate.Rule}); err != nil {
				return err
			}
		}
	}
	if amt := p.openingRecharge(m.Value); amt.IsPositive() {
		s, err := loadState(u.Tx(), m.Member)
		if err != nil {
			return err
		}
		s.stats.Recharged = s.stats.Recharged.Add(amt)
		s.changed = true
		return s.save(u.Tx(), m.Member)
	}
	return nil
}

// openingRecharge is the recharge total an opening stored value brings:
// its cumulative recharge, less its cumulative withdrawal, down to zero
// and never below, when the definition takes withdrawals off the total
// (Recharge.Withdraw), as a withdrawal after the import does (Stats'
// AddWithdrawal); zero without a stored value.
func (p *part) openingRecharge(v *migrate.Value) decimal.Decimal {
	if v == nil {
		return decimal.Zero
	}
	s := Stats{Recharged: v.Recharged}
	if r := p.def.Recharge; r != nil && r.Withdraw != "" {
		s.AddWithdrawal(v.Withdrawn)
	}
	return s.Recharged
}

// parseValue reads text as a value of kind: a decimal, an integer,
// true/false, an RFC 3339 time, or strings separated by commas.
func parseValue(kind event.Kind, text string) (event.Value, error) {
	switch kind {
	case event.String:
		return event.Str(text), nil
	case event.Decimal:
		d, err := decimal.NewFromString(text)
		return event.Dec(d), err
	case event.Integer:
		i, err := strconv.ParseInt(text, 10, 64)
		return event.Int(i), err
	case event.Bool:
		b, err := strconv.ParseBool(text)
		return event.Flag(b), err
	case event.Time:
		t, err := time.Parse(time.RFC3339, text)
		return event.At(t), err
	case event.Strings:
		if text == "" {
			return event.List(), nil
		}
		return event.List(strings.Split(text, ",")...), nil
	}
	return event.Value{}, errors.New("unknown kind " + string(kind))
}
