package rule

import (
	"fmt"
	"github.com/memberkit/membership/internal/codec"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// FormulaKind names how a [Formula] computes an amount.
type FormulaKind string

// The formula kinds.
const (
	// Multiplier is base × rate.
	Multiplier FormulaKind = "multiplier"
	// Fixed is the fixed amount X.
	Fixed FormulaKind = "fixed"
	// MultiplierFixed is base × rate + X.
	MultiplierFixed FormulaKind = "multiplier_fixed"
	// Count is 1 for each event.
	Count FormulaKind = "count"
)

// Formula computes the amount of growth or points an event earns. Base
// names a decimal or integer attribute of the event. Rate and Fixed may be
// negative (refund rules take back what was earned).
type Formula struct {
	Kind  FormulaKind     `json:"kind"`
	Base  string          `json:"base,omitempty"`
	Rate  decimal.Decimal `json:"rate,omitzero"`
	Fixed decimal.Decimal `json:"fixed,omitzero"`
}

// ReadsBase reports whether the kind reads a base attribute (the
// multiplier kinds).
func (k FormulaKind) ReadsBase() bool { return k == Multiplier || k == MultiplierFixed }

// Absent returns the base attribute the formula reads when e does not
// carry it (an optional attribute left out), and true; the kinds that read
// no base, and an event that carries it, give "" and false. A growth or
// points rule whose base is absent is skipped for the event, and the
// parts say so in the outcome (change.RuleSkipped); the event's other
// rules apply.
func (f Formula) Absent(e event.Event) (string, bool) {
	if !f.Kind.ReadsBase() {
		return "", false
	}
	if _, ok := e.Attrs[f.Base]; ok {
		return "", false
	}
	return f.Base, true
}

// Apply computes the formula for e, exactly (round it with a [Rounding]).
// The Reason holds the formula text, such as "amount × 1.5 + 10", its input
// ({"amount": "200.00"}) and the raw amount. A missing base attribute gives
// an error wrapping [event.ErrMissingAttribute], a non-numeric one
// [event.ErrAttributeType], an unknown kind [ErrInvalidDefinition].
func (f Formula) Apply(e event.Event) (decimal.Decimal, Reason, error) {
	amount, base, err := f.Eval(e)
	if err != nil {
		return decimal.Decimal{}, Reason{}, err
	}
	r := Reason{Formula: f.String(), Raw: amount}
	if f.Kind.ReadsBase() {
		r.Inputs = map[string]string{f.Base: Exact(base)}
	}
	return amount, r, nil
}

// Eval computes the formula for e as Apply does, without the Reason: the
// amount and the base it read (zero for a kind that reads none). A caller
// that applies a formula to every event builds the reason from the text
// it keeps (String) and the base's Exact text, which Apply makes anew each
// time.
func (f Formula) Eval(e event.Event) (amount, base decimal.Decimal, err error) {
	if f.Kind.ReadsBase() {
		v, ok := e.Attrs[f.Base]
		if !ok {
			return decimal.Decimal{}, decimal.Decimal{}, fmt.Errorf("rule: formula base %q: %w", f.Base, event.ErrMissingAttribute)
		}
		if base, ok = v.Number(); !ok {
			return decimal.Decimal{}, decimal.Decimal{}, fmt.Errorf("rule: formula base %q: %w: got %s, want decimal or integer", f.Base, event.ErrAttributeType, v.Kind)
		}
		amount = mul(base, f.Rate)
	}
	switch f.Kind {
	case Fixed, MultiplierFixed:
		amount = amount.Add(f.Fixed)
	case Count:
		amount = decimal.NewFromInt(1)
	case Multiplier:
	default:
		return decimal.Decimal{}, decimal.Decimal{}, fmt.Errorf("rule: unknown formula kind %q: %w", f.Kind, ErrInvalidDefinition)
	}
	return amount, base, nil
}

// mul returns a×b as decimal.Decimal.Mul does, without math/big when both
// are codec.Fixed (nearly every amount and rate is): a rate of 1, the
// common case, gives a back with no allocation.
func mul(a, b decimal.Decimal) decimal.Decimal {
	fb, ok := codec.FixedOf(b)
	if !ok {
		return a.Mul(b)
	}
	if fb == (codec.Fixed{C: 1}) {
		return a
	}
	fa, ok := codec.FixedOf(a)
	if !ok {
		return a.Mul(b)
	}
	p, ok := fa.Mul(fb)
	if !ok {
		return a.Mul(b)
	}
	return p.Decimal()
}

// Exact formats d keeping its trailing zeros ("200.00"), as a reason
// shows a formula's base.
func Exact(d decimal.Decimal) string {
	var buf [24]byte
	return string(codec.AppendExact(buf[:0], d))
}

// String returns the formula's text: "amount × 1.5", "10",
// "amount × 1.5 + 10", "1".
func (f Formula) String() string {
	var buf [64]byte
	b := buf[:0]
	mul := func() { b = codec.AppendExact(append(append(b, f.Base...), " × "...), f.Rate) }
	switch f.Kind {
	case Multiplier:
		mul()
	case Fixed:
		b = codec.AppendExact(b, f.Fixed)
	case MultiplierFixed:
		mul()
		if f.Fixed.IsNegative() {
			b = codec.AppendExact(append(b, " − "...), f.Fixed.Neg())
		} else {
			b = codec.AppendExact(append(b, " + "...), f.Fixed)
		}
	case Count:
		return "1"
	default:
		return string(f.Kind)
	}
	return string(b) // one allocation: the text is built on the stack
}

// stray records a base or a rate that f's kind (Fixed or Count) does not
// read, pointing to the kind use that does.
func (f Formula) stray(ps *Problems, use FormulaKind) {
	if f.Base != "" {
		ps.Addf("base", "not read by %s; use %s", f.Kind, use)
	}
	if !f.Rate.IsZero() {
		ps.Addf("rate", "not read by %s; use %s", f.Kind, use)
	}
}

// Check returns nil, or a *[Problems] naming what is wrong against the
// event type t: an unknown kind; for the multiplier kinds, a base that is
// missing, not declared by t or not a decimal or integer, and a zero rate;
// for Fixed, a zero amount; a field the kind does not read (a base or a
// rate of Fixed or Count, a fixed amount of Multiplier or Count), which
// would otherwise be ignored: {"kind": "fixed", "base": "amount", "rate":
// "1.5", "fixed": "10"} granted 10 for every order.
func (f Formula) Check(t event.Type) error {
	var ps Problems
	switch f.Kind {
	case Multiplier, MultiplierFixed:
		if f.Base == "" {
			ps.Addf("base", "required for %s", f.Kind)
		} else if a, ok := t.Attr(f.Base); !ok {
			ps.Add("base", fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, f.Base, t.Name))
		} else if a.Kind != event.Decimal && a.Kind != event.Integer {
			ps.Add("base", fmt.Errorf("%w: %q is %s, want decimal or integer", event.ErrAttributeType, f.Base, a.Kind))
		}
		if f.Rate.IsZero() {
			ps.Addf("rate", "must not be zero for %s", f.Kind)
		}
		if f.Kind == Multiplier && !f.Fixed.IsZero() {
			ps.Addf("fixed", "not read by %s; use %s", f.Kind, MultiplierFixed)
		}
	case Fixed:
		if f.Fixed.IsZero() {
			ps.Addf("fixed", "must not be zero for %s", f.Kind)
		}
		f.stray(&ps, MultiplierFixed)
	case Count:
		f.stray(&ps, Multiplier)
		if !f.Fixed.IsZero() {
			ps.Addf("fixed", "not read by %s; use %s", f.Kind, Fixed)
		}
	default:
		ps.Addf("kind", "unknown formula kind %q (want %s, %s, %s or %s)", f.Kind, Multiplier, Fixed, MultiplierFixed, Count)
	}
	// Within the limits every amount keeps to: a rate of 1e70000 would
	// make amounts the stored records cannot hold.
	for _, c := range []struct {
		name string
		d    decimal.Decimal
	}{{"rate", f.Rate}, {"fixed", f.Fixed}} {
		if err := event.CheckDecimal(c.d); err != nil {
			ps.Add(c.name, err)
		}
	}
	return ps.Err()
}
