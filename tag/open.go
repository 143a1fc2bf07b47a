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

var _ engine.Opener = (*part)(nil)

// Open sets a member's opening profile attributes (text converted to each
// attribute's declared kind: see parseValue), gives the manual tags the
// member held, and adds the cumulative recharge brought with the stored
// value to the statistics the tag rules read. The rules are evaluated
// after the opening, as after any operator call (Follow).
func (p *part) Open(u *engine.Unit, m *migrate.Member) error {
	if err := touch(u.Tx(), m.Member); err != nil {
		return err
	}
	if len(m.Profile) > 0 {
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
				return migrate.Field(f, fmt.Errorf("%w %q", ErrUnknownAttribute, name))
			}
			v, err := parseValue(decl.Kind, text)
			if err != nil {
				return migrate.Field(f, fmt.Errorf("%w: %w", ErrAttributeType, err))
			}
			if err := decl.CheckValue(v); err != nil {
				return migrate.Field(f, err)
			}
			attrs[name] = v
		}
		if err := saveAttrs(u.Tx(), m.Member, attrs); err != nil {
			return err
		}
	}
	for i, t := range m.Tags {
		f := fmt.Sprintf("tags[%d]", i)
		switch {
		case p.def.RuleFor(t) != nil:
			return migrate.Field(f, fmt.Errorf("%w: %q is kept by a rule", ErrNotManual, t))
		case !p.def.IsManual(t):
			return migrate.Field(f, fmt.Errorf("%w %q", ErrUnknownTag, t))
		}
		ok, err := assign(u, m.Member, Assigned{Tag: t, Manual: true, By: m.Operator, At: u.At().UTC(), Event: u.Ref().Event})
		if err != nil {
			return err
		}
		if ok {
			if err := u.Emit(ChangeAdded, m.Member, Change{Tag: t, Manual: true, By: m.Operator}, &rule.Reason{Rule: "migrate.opening"}); err != nil {
				return err
			}
		}
	}
	if m.Value != nil && m.Value.Recharged.IsPositive() {
		s, err := loadState(u.Tx(), m.Member)
		if err != nil {
			return err
		}
		s.stats.Recharged = s.stats.Recharged.Add(m.Value.Recharged)
		s.changed = true
		return s.save(u.Tx(), m.Member)
	}
	return nil
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
