package event

import (
	"fmt"
	"slices"
)

// Op is a comparison in a [Condition].
type Op string

// The condition operators. Ordering operators (Gt, Gte, Lt, Lte) apply to
// decimal, integer and time attributes; Contains applies to lists of
// strings; Eq, Ne, In and NotIn to every kind but lists ([Condition.Check]
// refuses them on a list). Strings compare exactly, byte for byte: "VIP"
// is not "vip", as a list's items for Contains.
const (
	Eq       Op = "eq"
	Ne       Op = "ne"
	In       Op = "in"
	NotIn    Op = "not_in"
	Gt       Op = "gt"
	Gte      Op = "gte"
	Lt       Op = "lt"
	Lte      Op = "lte"
	Contains Op = "contains"
)

// Condition tests one attribute of an event. An event that lacks the
// attribute does not match (whatever the operator).
type Condition struct {
	Attr   string  `json:"attr"`
	Op     Op      `json:"op"`
	Value  Value   `json:"value,omitzero"`
	Values []Value `json:"values,omitempty"` // for In and NotIn
}

// Match reports whether e satisfies the condition.
func (c Condition) Match(e Event) bool {
	v, ok := e.Attrs[c.Attr]
	if !ok {
		return false
	}
	switch c.Op {
	case Eq:
		return same(v, c.Value)
	case Ne:
		return !same(v, c.Value)
	case In:
		return slices.ContainsFunc(c.Values, func(w Value) bool { return same(v, w) })
	case NotIn:
		return !slices.ContainsFunc(c.Values, func(w Value) bool { return same(v, w) })
	case Contains:
		return v.Kind == Strings && c.Value.Kind == String && slices.Contains(v.Strings, c.Value.Str)
	case Gt, Gte, Lt, Lte:
		cmp, ok := compare(v, c.Value)
		if !ok {
			return false
		}
		switch c.Op {
		case Gt:
			return cmp > 0
		case Gte:
			return cmp >= 0
		case Lt:
			return cmp < 0
		default:
			return cmp <= 0
		}
	}
	return false
}

// same compares numbers by value whatever their kind (an integer attribute
// equals the decimal 3.0), everything else by Value.Equal.
func same(v, w Value) bool {
	if cmp, ok := compare(v, w); ok && v.Kind != Time {
		return cmp == 0
	}
	return v.Equal(w)
}

func compare(v, w Value) (int, bool) {
	if v.Kind == Time && w.Kind == Time {
		return v.Time.Compare(w.Time), true
	}
	a, ok1 := v.Number()
	b, ok2 := w.Number()
	if !ok1 || !ok2 {
		return 0, false
	}
	return a.Cmp(b), true
}

// MatchAll reports whether e satisfies every condition (true for none).
func MatchAll(conds []Condition, e Event) bool {
	for _, c := range conds {
		if !c.Match(e) {
			return false
		}
	}
	return true
}

// FieldError is a problem with one field of a [Condition], which Field
// names as the JSON does: "attr", "op", "value", "values" or "values[i]".
// A definition's validation joins it to the condition's path, so that the
// problem is reported at the field (growth[0].conditions[1].op).
type FieldError struct {
	Field string
	Err   error
}

// Error returns "field: cause".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the cause, so errors.Is finds its sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr returns a *FieldError at field with a formatted cause.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// isZero reports whether v is the zero Value, which a condition's JSON
// leaves out.
func (v Value) isZero() bool { return v.Kind == "" && v.Stray() == "" }

// limits returns a *FieldError at field when v is a time or a decimal
// beyond the limits an event's attribute keeps to (CheckValue): a
// definition holding it would not encode (a year past 9999), and no
// event's value could reach it. Strings are CheckTexts' business.
func limits(field string, v Value) error {
	if v.Kind != Time && v.Kind != Decimal {
		return nil
	}
	if err := CheckValue(v); err != nil {
		return &FieldError{Field: field, Err: err}
	}
	return nil
}

// Check returns the problems of the condition against the declared type:
// an undeclared attribute (wrapping [ErrUnknownAttribute]), an unknown
// operator, an operator that does not fit the attribute's kind, or a value
// of another kind (wrapping [ErrAttributeType]), a time or a decimal
// beyond the limits (wrapping [ErrTimeRange] or [ErrTooLarge], as an
// event's would), a field the operator does not read (a value for In and
// NotIn, values for the others). Each is a *[FieldError] naming the field
// at fault.
func (c Condition) Check(t Type) []error {
	a, ok := t.Attr(c.Attr)
	if !ok {
		return []error{fieldErr("attr", "%w %q in type %q", ErrUnknownAttribute, c.Attr, t.Name)}
	}
	want := a.Kind
	if a.Kind == Integer || a.Kind == Decimal {
		want = "" // numbers compare with integers or decimals alike
	}
	check := func(field string, v Value) error {
		if f := v.Stray(); f != "" {
			return fieldErr(field, "%w: a %s value with %s set", ErrAttributeType, v.Kind, f)
		}
		if want == "" && (v.Kind == Integer || v.Kind == Decimal) || v.Kind == want {
			return limits(field, v)
		}
		return fieldErr(field, "%w: got %s, want %s", ErrAttributeType, v.Kind, a.Kind)
	}
	var errs []error
	// A field the operator does not read would be ignored: refused, as a
	// value's stray field is.
	switch c.Op {
	case In, NotIn:
		if !c.Value.isZero() {
			errs = append(errs, fieldErr("value", "not read by %q, which reads values", c.Op))
		}
	case Eq, Ne, Gt, Gte, Lt, Lte, Contains:
		if len(c.Values) > 0 {
			errs = append(errs, fieldErr("values", "not read by %q, which reads value", c.Op))
		}
	}
	switch c.Op {
	case Eq, Ne:
		if a.Kind == Strings {
			errs = append(errs, fieldErr("op", "%q does not apply to a list; use contains", c.Op))
		} else if err := check("value", c.Value); err != nil {
			errs = append(errs, err)
		}
	case In, NotIn:
		if a.Kind == Strings {
			// A value would be a whole list, equal only to the same list
			// in the same order: not what "tags in [a, b]" means.
			errs = append(errs, fieldErr("op", "%q does not apply to a list; use contains", c.Op))
			break
		}
		if len(c.Values) == 0 {
			errs = append(errs, fieldErr("values", "empty for %q", c.Op))
		}
		for i, v := range c.Values {
			if err := check(fmt.Sprintf("values[%d]", i), v); err != nil {
				errs = append(errs, err)
			}
		}
	case Gt, Gte, Lt, Lte:
		if a.Kind != Decimal && a.Kind != Integer && a.Kind != Time {
			errs = append(errs, fieldErr("op", "%q does not apply to %s", c.Op, a.Kind))
		} else if err := check("value", c.Value); err != nil {
			errs = append(errs, err)
		}
	case Contains:
		if a.Kind != Strings {
			errs = append(errs, fieldErr("op", "%q applies only to a list of strings", c.Op))
		} else if f := c.Value.Stray(); f != "" {
			errs = append(errs, fieldErr("value", "%w: a %s value with %s set", ErrAttributeType, c.Value.Kind, f))
		} else if c.Value.Kind != String {
			// The value is one element of the list, not a list: check,
			// which wants the attribute's kind, does not apply.
			errs = append(errs, fieldErr("value", "%w: got %s, want string", ErrAttributeType, c.Value.Kind))
		}
	default:
		errs = append(errs, fieldErr("op", "unknown operator %q", c.Op))
	}
	return errs
}
