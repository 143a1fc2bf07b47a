package benefit

import (
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
)

var _ engine.Opener = (*part)(nil)

// CheckOpen checks the achievements of a member's opening state without
// the store: each is one of the catalog's (ErrUnknownAchievement), given
// once; its time, when given, is not after the row's time and within the
// supported range; its source and whom it names are both given or both
// left out, the source one of a grant's ("task", "level", "operator") and
// the name within the limits on text. The errors name the field
// (achievements[i].achievement, .at, .source, .by) and wrap
// event.ErrInvalidArgument.
func (p *part) CheckOpen(m *migrate.Member) error {
	for i, a := range m.Achievements {
		f := fmt.Sprintf("achievements[%d]", i)
		if _, ok := p.def.Achievement(a.Achievement); !ok {
			return migrate.Field(f+".achievement", fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownAchievement, a.Achievement))
		}
		if j := slices.IndexFunc(m.Achievements[:i], func(b migrate.Achievement) bool { return b.Achievement == a.Achievement }); j >= 0 {
			return migrate.Fieldf(f+".achievement", "%w: %q is given twice (achievements[%d]): it is granted once", event.ErrInvalidArgument, a.Achievement, j)
		}
		if !a.At.IsZero() {
			if err := event.CheckTime(a.At); err != nil {
				return migrate.Field(f+".at", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
			}
			if a.At.After(m.At) {
				return migrate.Fieldf(f+".at", "%w: %s is after the row's time", event.ErrInvalidArgument, a.At.Format(time.RFC3339Nano))
			}
		}
		switch rule.SourceKind(a.Source) {
		case rule.FromTask, rule.FromLevel, sourceOperator:
			if a.By == "" {
				return migrate.Fieldf(f+".by", "%w: a grant by %s names it", event.ErrInvalidArgument, a.Source)
			}
		case "":
			if a.By != "" {
				return migrate.Fieldf(f+".source", "%w: %q granted it, but what it is (task, level or operator) is not given", event.ErrInvalidArgument, a.By)
			}
		default:
			return migrate.Fieldf(f+".source", "%w: %q: want task, level or operator", event.ErrInvalidArgument, a.Source)
		}
		if err := event.CheckText(a.By); err != nil {
			return migrate.Field(f+".by", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
	}
	return nil
}

// Open grants the achievements of a member's opening state (checked by
// CheckOpen), each as its Grant: at its time (the row's when none is
// given), by its source and name (the row's operator, as an operator's
// grant, when neither is given), its event the row's request ID; the
// grant's note is not carried. Each publishes ChangeAchievement with the
// opening's reason (migrate.Rule). A task or a level gift that grants one
// of them later grants nothing, and an operator's grant of it is
// ErrAlreadyGranted, as for any achievement held. The engine refuses a
// member the part has records of (MemberRecords) before Open runs.
func (p *part) Open(u *engine.Unit, m *migrate.Member) error {
	for _, a := range m.Achievements {
		g := Grant{Achievement: a.Achievement, At: a.At, Source: a.Source, By: a.By}
		if g.Source == "" {
			g.Source, g.By = sourceOperator, m.Operator
		}
		if _, err := p.grant(u, m.Member, g, &rule.Reason{Rule: migrate.Rule}); err != nil {
			return err
		}
	}
	return nil
}
