package membership

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/jsonfields"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// Definition is a whole program as data: its time zone, the event types it
// accepts, and the definitions of each domain package. It round-trips
// through JSON so a host can keep it in its own back office.
type Definition struct {
	// Version numbers the definition's releases. The store records the
	// definition in force; a Program opened with an older version is
	// refused (ErrDefinitionSuperseded), and one opened with a newer version
	// replaces it, after which the Programs still running the old one
	// refuse to write: several instances never apply two rule sets at
	// once during a rolling deploy. Two definitions with the same version
	// and other content are refused (ErrDefinitionConflict); content is
	// compared as it encodes, a decimal by its value ("1.0" is "1").
	// Version 0 is unversioned: the Program opened last wins. Any
	// definition that replaces the one in force, versioned or not, may
	// change rules but not leave out a level, plan, point program, coupon
	// template or pack the store holds state of, nor stored value while
	// the store holds some, nor lower stored value's or a point program's
	// scale below an amount members hold (ErrDefinitionInUse): see Open.
	Version uint64 `json:"version,omitempty"`
	// Zone is the IANA time zone every day, week, month and year boundary
	// is computed in (e.g. "Asia/Shanghai"). Empty means UTC.
	Zone string `json:"zone,omitempty"`
	// Events declares the event types the program accepts.
	Events []event.Type `json:"events"`
	// StoredValue, when set, maps event types to stored-value operations.
	StoredValue *value.Definition `json:"stored_value,omitempty"`
	// Levels is the level ladder, growth rules and paid plans.
	Levels *level.Definition `json:"levels,omitempty"`
	// Points is the point programs and their earning rules.
	Points *points.Definition `json:"points,omitempty"`
	// Coupons is the coupon templates and packs.
	Coupons *coupon.Definition `json:"coupons,omitempty"`
	// Benefits is the benefit and achievement catalogs.
	Benefits *benefit.Definition `json:"benefits,omitempty"`
	// Tasks is the member tasks.
	Tasks *task.Definition `json:"tasks,omitempty"`
	// Tags is the tag rules and the profile statistics.
	Tags *tag.Definition `json:"tags,omitempty"`
}

// ParseDefinition decodes a JSON definition and validates it. Every error
// wraps rule.ErrInvalidDefinition: a malformed document as well (a date
// or a time that does not parse, an unknown field, a document that is not
// one JSON object: "null", which would decode to an empty program, or an
// object followed by more than white space). Field names match exactly,
// as Go writes them ("name", not "Name"). Every problem of the document
// is reported at once, each with its path, as a *rule.Problems: each
// field the definition does not have
// (events[0].attributes[1].requird: unknown field), each value its field
// cannot hold (levels.ladder[1].window: want a whole number from …, got a
// string; a decimal is a number or a string of one, an integer is not a
// string), and each key an object gives twice (levels.ladder[1].upgrade:
// duplicate key; encoding/json would keep the last without a word). The
// definition's own problems (Validate) are reported once the document
// has none.
func ParseDefinition(data []byte) (Definition, error) {
	fail := func(err error) (Definition, error) {
		if errors.Is(err, rule.ErrInvalidDefinition) {
			return Definition{}, fmt.Errorf("membership: parse definition: %w", err)
		}
		return Definition{}, fmt.Errorf("membership: parse definition: %w: %w", rule.ErrInvalidDefinition, err)
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return fail(errors.New("not a JSON object"))
	}
	var d Definition
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&d)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return fail(errors.New("data after the definition's object"))
		}
	}
	// encoding/json stops at the first unknown field or mistyped value,
	// names it without its index, takes "Name" for "name", and keeps the
	// last of a key given twice: a well-formed document is walked for
	// every key it repeats, every field it has that the definition has
	// not, and every value its field cannot hold.
	var ps rule.Problems
	if doc, err := jsonfields.Decode(&ps, data); err == nil {
		jsonfields.Check(&ps, "", reflect.TypeFor[Definition](), doc)
		if ps.Err() != nil {
			return fail(&ps)
		}
	}
	if err != nil {
		return fail(err)
	}
	if err := d.Validate(); err != nil {
		// The same prefix as a document's problems; d is returned as
		// decoded, for a host that shows what it read beside the problems.
		return d, fmt.Errorf("membership: parse definition: %w", err)
	}
	return d, nil
}

// Validate reports every problem of the definition at once, each with its
// path (events[3].attributes[0].type: unknown type "money"). The error is a
// *rule.Problems wrapping rule.ErrInvalidDefinition; nil when valid. A
// rule, step, gift or part naming an event type the definition does not
// declare is a problem wrapping ErrUnknownEventType, whatever part holds
// it; one naming an undeclared attribute wraps event.ErrUnknownAttribute
// (unknown attribute "total" in type "order"), and one naming an
// attribute of the wrong kind event.ErrAttributeType.
func (d Definition) Validate() error {
	var ps rule.Problems
	d.validate(&ps)
	return ps.Err()
}

func (d Definition) validate(ps *rule.Problems) {
	// Every name, ID and text of a definition goes into store keys and
	// records: it keeps to the limits of what a program takes from
	// outside (event.MaxTextBytes, UTF-8 without NUL), on every store.
	ps.Add("", event.CheckTexts(d))
	if _, err := time.LoadLocation(d.Zone); err != nil {
		ps.Addf("zone", "unknown time zone %q", d.Zone)
	}
	seen := map[string]bool{}
	for i, t := range d.Events {
		p := rule.Index("events", i)
		if t.Name == "" {
			ps.Addf(rule.Join(p, "name"), "empty")
		} else if seen[t.Name] {
			ps.Addf(rule.Join(p, "name"), "duplicate event type %q", t.Name)
		}
		seen[t.Name] = true
		attrs := map[string]bool{}
		for j, a := range t.Attributes {
			ap := rule.Join(p, rule.Index("attributes", j))
			if a.Name == "" {
				ps.Addf(rule.Join(ap, "name"), "empty")
			} else if attrs[a.Name] {
				ps.Addf(rule.Join(ap, "name"), "duplicate attribute %q", a.Name)
			}
			attrs[a.Name] = true
			if !a.Kind.Valid() {
				ps.Addf(rule.Join(ap, "type"), "unknown type %q", a.Kind)
			} else {
				ps.Add(rule.Join(ap, "min"), a.CheckDeclaration())
			}
		}
	}
	env := defEnv{d: &d}
	if d.Levels != nil {
		ps.Add("levels", d.Levels.Check(env))
	}
	if d.Points != nil {
		ps.Add("points", d.Points.Check(env))
	}
	if d.Coupons != nil {
		ps.Add("coupons", d.Coupons.Check(env))
	}
	if d.Benefits != nil {
		ps.Add("benefits", d.Benefits.Check(env))
	}
	if d.Tasks != nil {
		ps.Add("tasks", d.Tasks.Check(env))
	}
	if d.Tags != nil {
		ps.Add("tags", d.Tags.Check(env))
	}
	if d.StoredValue != nil {
		ps.Add("stored_value", d.StoredValue.Check(env))
	}
}

// eventType returns the declared type named name.
func (d Definition) eventType(name string) (event.Type, bool) {
	for _, t := range d.Events {
		if t.Name == name {
			return t, true
		}
	}
	return event.Type{}, false
}

// defEnv answers the lookups the domain packages make while validating a
// definition (declared event types, levels, templates, …). Each part file
// adds the methods its package's Env interface needs.
type defEnv struct{ d *Definition }

// EventType returns the declared event type named name.
func (e defEnv) EventType(name string) (event.Type, bool) { return e.d.eventType(name) }

// CheckReward checks a reward granted by a source of kind from and that
// what it names exists and can be granted by that source.
func (e defEnv) CheckReward(r rule.Reward, from rule.SourceKind) error { return e.checkReward(r, from) }

// checkReward checks a reward's own fields, that the point program, coupon
// template, pack or achievement it names is defined, and that a coupon
// template or pack lets the source's claim method issue it
// (coupon.Definition.CheckReward).
func (e defEnv) checkReward(r rule.Reward, from rule.SourceKind) error {
	if err := r.Check(); err != nil {
		return err
	}
	var missing string
	switch r.Kind {
	case rule.RewardPoints:
		if !e.hasPointProgram(r.Program) {
			missing = "point program " + r.Program
		}
	case rule.RewardCoupon:
		if !e.hasTemplate(r.Template) {
			missing = "coupon template " + r.Template
		}
	case rule.RewardPack:
		if !e.hasPack(r.Pack) {
			missing = "coupon pack " + r.Pack
		}
	case rule.RewardAchievement:
		if !e.hasAchievement(r.Achievement) {
			missing = "achievement " + r.Achievement
		}
	case rule.RewardGrowth:
		// Growth feeds the ladder: a level definition of paid plans alone
		// has none, and the growth would count towards nothing.
		if e.d.Levels == nil || len(e.d.Levels.Ladder) == 0 {
			missing = "level ladder (growth reward)"
		}
	}
	if missing != "" {
		return fmt.Errorf("unknown %s", missing)
	}
	// A reward is granted on its domain's scale: growth as it is, points
	// rounded by their program.
	var ps rule.Problems
	switch r.Kind {
	case rule.RewardCoupon, rule.RewardPack:
		return e.d.Coupons.CheckReward(r, from)
	case rule.RewardGrowth:
		if !r.Amount.Equal(e.d.Levels.Rounding.Round(r.Amount)) {
			ps.Addf("amount", "%s has more decimal places than the growth scale", r.Amount)
		}
	case rule.RewardPoints:
		if pr, _ := e.d.Points.Program(r.Program); !pr.Rounding.Round(r.Amount).IsPositive() {
			ps.Addf("amount", "%s rounds to nothing on the scale of point program %s", r.Amount, r.Program)
		}
	}
	return ps.Err()
}

// hasAchievement reports whether the definition has the achievement.
func (e defEnv) hasAchievement(name string) bool {
	if e.d.Benefits == nil {
		return false
	}
	_, ok := e.d.Benefits.Achievement(name)
	return ok
}

// hasTemplate reports whether the definition has the coupon template.
func (e defEnv) hasTemplate(name string) bool {
	if e.d.Coupons == nil {
		return false
	}
	_, ok := e.d.Coupons.Template(name)
	return ok
}

// hasPack reports whether the definition has the coupon pack.
func (e defEnv) hasPack(name string) bool {
	if e.d.Coupons == nil {
		return false
	}
	_, ok := e.d.Coupons.Pack(name)
	return ok
}

// LevelExists reports whether the level ladder has a level named name
// (for the lookups of packages that target levels).
func (e defEnv) LevelExists(name string) bool {
	return e.d.Levels != nil && e.d.Levels.Index(name) >= 0
}

// PlanExists reports whether the definition has a paid plan named name.
func (e defEnv) PlanExists(name string) bool {
	if e.d.Levels == nil {
		return false
	}
	_, ok := e.d.Levels.Plan(name)
	return ok
}

// hasPointProgram reports whether the definition has the point program.
func (e defEnv) hasPointProgram(name string) bool {
	if e.d.Points == nil {
		return false
	}
	_, ok := e.d.Points.Program(name)
	return ok
}

// TagExists reports whether the tag definition declares the tag (a manual
// tag or a rule's tag).
func (e defEnv) TagExists(name string) bool {
	return e.d.Tags != nil && e.d.Tags.Declared(name)
}
