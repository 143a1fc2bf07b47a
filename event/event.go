// Package event defines what reaches a membership program from the outside
// world: an [Event] (an ID, a member, a declared type, a time and typed
// attributes), the declarations of event types that a program definition
// holds (the articles' "metadata management": 元事件 and 事件属性), and the
// attribute [Condition]s that growth rules, points rules, tasks and tag rules
// use to pick the events they act on.
//
// The root package membership validates every incoming event against its
// declared [Type] with [Type.Check] before anything is written: required
// attributes, kinds, and the minimum an attribute's declaration may set
// ([Attr].Min; 0 for an amount that must not be negative). An attribute
// not declared Required may be left out: a rule that reads it is then
// skipped for that event, and only that rule. An attribute the type does
// not declare is refused ([ErrUnknownAttribute]), not ignored: a misspelt
// name would otherwise pass as an absent optional attribute. Kinds are
// strict: an integer value for a decimal attribute is refused (though a
// [Condition] compares integers and decimals alike), and so is a value
// with a field its kind does not read ([Value.Stray]: {"kind": "decimal",
// "str": "10"} would be the decimal 0), in an event, a profile or a
// condition, both with [ErrAttributeType]. A time attribute holding the
// zero time (a time left unset) is refused with [ErrTimeRange], as a time
// outside the limits is: an attribute with no time is left out.
//
// [Condition.Check] reports each problem of a condition as a *[FieldError]
// naming the field at fault as the JSON does (attr, op, value, values[i]),
// and rule.Problems records it at that field, so a definition's problem
// reads growth[0].conditions[1].op: unknown operator "like". Before, it
// was reported at the condition, the field only at the head of the
// message (growth[0].conditions[1]: op: …).
//
// A condition's in and not_in do not apply to a list of strings, as eq
// and ne do not: [Condition.Check] refuses them at the op ("tags in
// [[infant]]" compared the whole list and matched ["infant"] alone, not
// ["infant", "formula"]); use contains. Strings compare exactly, case
// included. A condition's time or decimal beyond the limits an event's
// keeps to (a year outside MinYear to MaxYear, a decimal of more than
// MaxDecimalDigits digits) is refused at its field with [ErrTimeRange] or
// [ErrTooLarge]: no event could reach it, and a year past 9999 does not
// encode in the definition's JSON. A field the operator does not read is
// refused at that field, not ignored: a value beside in's or not_in's
// values ("value: not read by \"in\", which reads values"), values beside
// any other operator's value.
//
// [Event.Same] decides whether a repeated event ID is a retry: the same
// member, type, instant (in any zone) and attributes, numbers compared by
// value ("10" and "10.00" are the same amount).
package event

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

// Sentinel errors; the errors returned wrap them and name the field.
var (
	// ErrUnknownType is returned for an event whose type is not declared.
	ErrUnknownType = errors.New("unknown event type")
	// ErrMissingAttribute is returned when a required attribute is absent.
	ErrMissingAttribute = errors.New("missing attribute")
	// ErrAttributeType is returned when an attribute has the wrong type.
	ErrAttributeType = errors.New("attribute has the wrong type")
	// ErrUnknownAttribute is returned for an attribute that is not declared.
	ErrUnknownAttribute = errors.New("unknown attribute")
	// ErrInvalid is returned for an event with no ID, no member or no time.
	ErrInvalid = errors.New("invalid event")
	// ErrOutOfRange is returned when a numeric attribute is below the
	// minimum its declaration sets (Attr.Min).
	ErrOutOfRange = errors.New("attribute out of range")
)

// Kind is the type of an attribute value.
type Kind string

// The attribute kinds.
const (
	String  Kind = "string"
	Decimal Kind = "decimal"
	Integer Kind = "integer"
	Bool    Kind = "bool"
	Time    Kind = "time"
	Strings Kind = "strings" // a list of strings
)

// Valid reports whether k is one of the declared kinds.
func (k Kind) Valid() bool {
	switch k {
	case String, Decimal, Integer, Bool, Time, Strings:
		return true
	}
	return false
}

// Value is one typed attribute value. Exactly the field matching Kind is
// meaningful. Build values with [Str], [Dec], [Int], [Flag], [At] and [List].
type Value struct {
	Kind    Kind            `json:"kind"`
	Str     string          `json:"str,omitempty"`
	Dec     decimal.Decimal `json:"dec,omitzero"`
	Int     int64           `json:"int,omitempty"`
	Bool    bool            `json:"bool,omitempty"`
	Time    time.Time       `json:"time,omitzero"`
	Strings []string        `json:"strings,omitempty"`
}

// Stray returns the JSON name of a field of v that its kind does not
// read ("str" of a decimal, say), or "" when there is none. Only the
// field of its kind is v's value: {"kind": "decimal", "str": "10"} is
// the decimal 0, so Attr.CheckValue and Condition.Check refuse a value
// with a stray field rather than read it as something the sender did not
// mean.
func (v Value) Stray() string {
	set := []struct {
		name string
		kind Kind
		set  bool
	}{
		{"str", String, v.Str != ""},
		{"dec", Decimal, !v.Dec.IsZero()},
		{"int", Integer, v.Int != 0},
		{"bool", Bool, v.Bool},
		{"time", Time, !v.Time.IsZero()},
		{"strings", Strings, len(v.Strings) > 0},
	}
	for _, f := range set {
		if f.set && f.kind != v.Kind {
			return f.name
		}
	}
	return ""
}

// Str returns a string value.
func Str(s string) Value { return Value{Kind: String, Str: s} }

// Dec returns a decimal value.
func Dec(d decimal.Decimal) Value { return Value{Kind: Decimal, Dec: d} }

// DecString returns a decimal value parsed from s; it is meant for literals
// in code and tests and returns the zero decimal for malformed input, which
// Type.Check does not catch, so hosts should prefer Dec.
func DecString(s string) Value { d, _ := decimal.NewFromString(s); return Dec(d) }

// Int returns an integer value.
func Int(i int64) Value { return Value{Kind: Integer, Int: i} }

// Flag returns a bool value.
func Flag(b bool) Value { return Value{Kind: Bool, Bool: b} }

// At returns a time value.
func At(t time.Time) Value { return Value{Kind: Time, Time: t} }

// List returns a list-of-strings value.
func List(s ...string) Value { return Value{Kind: Strings, Strings: s} }

// Number returns the value as a decimal when it is a decimal or an integer.
func (v Value) Number() (decimal.Decimal, bool) {
	switch v.Kind {
	case Decimal:
		return v.Dec, true
	case Integer:
		return decimal.NewFromInt(v.Int), true
	}
	return decimal.Decimal{}, false
}

// Equal reports whether two values are of the same kind and equal. Two
// empty values (no kind) are equal, so a definition compares equal to
// itself (cmp.Diff uses Equal).
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case String:
		return v.Str == w.Str
	case Decimal:
		return v.Dec.Equal(w.Dec)
	case Integer:
		return v.Int == w.Int
	case Bool:
		return v.Bool == w.Bool
	case Time:
		return v.Time.Equal(w.Time)
	case Strings:
		if len(v.Strings) != len(w.Strings) {
			return false
		}
		for i := range v.Strings {
			if v.Strings[i] != w.Strings[i] {
				return false
			}
		}
		return true
	case "":
		return true
	}
	return false
}

// String formats the value for messages and explanations.
func (v Value) String() string {
	switch v.Kind {
	case String:
		return v.Str
	case Decimal:
		return codec.DecimalString(v.Dec) // d.String() without math/big: reasons show values of every change
	case Integer:
		return strconv.FormatInt(v.Int, 10)
	case Bool:
		return strconv.FormatBool(v.Bool)
	case Time:
		return v.Time.Format(time.RFC3339Nano)
	case Strings:
		return "[" + strings.Join(v.Strings, ",") + "]"
	}
	return "<invalid>"
}

// Attrs are an event's attributes by name.
type Attrs map[string]Value

// Event is one thing a member did, as the host reports it.
type Event struct {
	// ID is unique per program; it is the idempotency key.
	ID string `json:"id"`
	// Member is the member's ID.
	Member string `json:"member"`
	// Type names a declared event type.
	Type string `json:"type"`
	// Time is when it happened; every rule reads time from here.
	Time time.Time `json:"time"`
	// Attrs are the typed attributes the type declares.
	Attrs Attrs `json:"attrs,omitempty"`
}

// Decimal returns the named attribute as a decimal (an integer attribute is
// converted) and whether it was present with a numeric kind.
func (e Event) Decimal(name string) (decimal.Decimal, bool) {
	v, ok := e.Attrs[name]
	if !ok {
		return decimal.Decimal{}, false
	}
	return v.Number()
}

// String returns the named string attribute and whether it was present.
func (e Event) String(name string) (string, bool) {
	v, ok := e.Attrs[name]
	if !ok || v.Kind != String {
		return "", false
	}
	return v.Str, true
}

// Same reports whether two events carry the same content, so that a
// repeated ID can be told apart from a different event reusing the ID.
func (e Event) Same(f Event) bool {
	if e.ID != f.ID || e.Member != f.Member || e.Type != f.Type || !e.Time.Equal(f.Time) || len(e.Attrs) != len(f.Attrs) {
		return false
	}
	for k, v := range e.Attrs {
		w, ok := f.Attrs[k]
		if !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

// Attr declares one attribute of an event type.
type Attr struct {
	Name     string `json:"name"`
	Kind     Kind   `json:"type"`
	Required bool   `json:"required,omitempty"`
	// Min, when set, is the least value a decimal or integer attribute
	// may take: an event with a smaller value is refused (ErrOutOfRange),
	// nothing written. Set it to 0 for an amount that must not be
	// negative (an order's amount: a negative one would take growth back
	// and count toward tasks). Nil: no minimum, negative values pass, as
	// a refund or an adjustment may need.
	Min *decimal.Decimal `json:"min,omitempty"`
}

// CheckValue returns nil when v fits the declaration: of its kind with
// no field of another kind set (see Value.Stray), not below its minimum,
// and for a time not the zero time (the year 1, which the limits do not
// take: an attribute with no time is left out). The error wraps
// ErrAttributeType, ErrOutOfRange or ErrTimeRange.
func (a Attr) CheckValue(v Value) error {
	if v.Kind != a.Kind {
		return fmt.Errorf("%w: got %s, want %s", ErrAttributeType, v.Kind, a.Kind)
	}
	if f := v.Stray(); f != "" {
		return fmt.Errorf("%w: a %s value with %s set", ErrAttributeType, v.Kind, f)
	}
	if v.Kind == Time && v.Time.IsZero() {
		return fmt.Errorf("%w: the zero time; leave the attribute out instead", ErrTimeRange)
	}
	if a.Min != nil {
		if n, ok := v.Number(); ok && n.LessThan(*a.Min) {
			return fmt.Errorf("%w: %s is below the minimum %s", ErrOutOfRange, n, a.Min)
		}
	}
	return nil
}

// CheckDeclaration returns nil, or why the declaration's Min does not fit
// it: a minimum on an attribute that is not a decimal or an integer, or a
// minimum with a fraction on an integer.
func (a Attr) CheckDeclaration() error {
	if a.Min == nil {
		return nil
	}
	switch a.Kind {
	case Decimal:
	case Integer:
		if !a.Min.IsInteger() {
			return fmt.Errorf("min %s of an integer attribute must be whole", a.Min)
		}
	default:
		return fmt.Errorf("min is for decimal and integer attributes, not %s", a.Kind)
	}
	return nil
}

// Type declares an event type and its attributes.
type Type struct {
	Name       string `json:"name"`
	Attributes []Attr `json:"attributes,omitempty"`
}

// Attr returns the declaration of the named attribute.
func (t Type) Attr(name string) (Attr, bool) {
	for _, a := range t.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Check validates an event of this type: ID, member and time present and
// within the limits (see MaxIDBytes), every required attribute present,
// every attribute declared, of its declared kind, within the limits and
// not below its declared minimum. The error wraps ErrInvalid,
// ErrMissingAttribute, ErrAttributeType, ErrOutOfRange,
// ErrUnknownAttribute, ErrTooLarge, ErrInvalidText or ErrTimeRange and
// names the field.
func (t Type) Check(e Event) error {
	var errs []error
	if e.ID == "" {
		errs = append(errs, fmt.Errorf("id: %w: empty", ErrInvalid))
	}
	if e.Member == "" {
		errs = append(errs, fmt.Errorf("member: %w: empty", ErrInvalid))
	}
	if e.Time.IsZero() {
		// Said plainly: a Time left unset is a host's first mistake, and the
		// library has no clock to fall back on.
		errs = append(errs, fmt.Errorf("time: %w: zero; set it to when the event happened (rules read it, never a clock)", ErrInvalid))
	}
	errs = append(errs, checkLimits(e)...)
	for _, a := range t.Attributes {
		v, ok := e.Attrs[a.Name]
		if !ok {
			if a.Required {
				errs = append(errs, fmt.Errorf("attrs.%s: %w", a.Name, ErrMissingAttribute))
			}
			continue
		}
		if err := a.CheckValue(v); err != nil {
			errs = append(errs, fmt.Errorf("attrs.%s: %w", a.Name, err))
		}
		if err := CheckValue(v); err != nil {
			errs = append(errs, fmt.Errorf("attrs.%s: %w", a.Name, err))
		}
	}
	names := make([]string, 0, len(e.Attrs))
	for name := range e.Attrs {
		if _, ok := t.Attr(name); !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		errs = append(errs, fmt.Errorf("attrs.%s: %w for type %q", name, ErrUnknownAttribute, t.Name))
	}
	return errors.Join(errs...)
}
