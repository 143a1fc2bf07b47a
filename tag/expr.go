package tag

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors of the package.
var (
	// ErrSyntax is returned for a malformed tag expression.
	ErrSyntax = errors.New("malformed expression")
	// ErrUnknownTag is returned for a tag the definition does not declare.
	ErrUnknownTag = errors.New("unknown tag")
	// ErrNotManual is returned when an operator adds or removes a tag that
	// a rule maintains.
	ErrNotManual = errors.New("not a manual tag")
	// ErrUnknownAttribute is returned for a profile attribute the
	// definition does not declare.
	ErrUnknownAttribute = errors.New("unknown profile attribute")
	// ErrAttributeType is returned for a profile attribute value of the
	// wrong kind.
	ErrAttributeType = errors.New("profile attribute has the wrong type")
)

// Expr is a parsed tag expression: tag names combined with "and", "or",
// "not" and parentheses; "not" binds tightest, then "and", then "or". Its
// zero value matches nothing.
type Expr struct {
	op   string // "tag", "and", "or", "not"
	tag  string
	args []Expr
}

// MaxDepth is how deep an expression may nest parentheses and "not"s:
// Parse and matching recurse once a level, and an expression from a
// definition or a query millions of levels deep would exhaust the
// goroutine's stack, a crash no recover catches.
const MaxDepth = 64

// Parse parses a tag expression such as "M and (vip or not churned)". Tag
// names are words without spaces or parentheses. The error wraps ErrSyntax,
// for an expression nested deeper than MaxDepth too.
func Parse(s string) (Expr, error) {
	e, err := parse(s)
	if err != nil {
		return Expr{}, fmt.Errorf("tag: %w", err)
	}
	return e, nil
}

// parse is Parse without the package's name, which Parse adds.
func parse(s string) (Expr, error) {
	p := &parser{toks: tokenize(s)}
	if len(p.toks) == 0 {
		return Expr{}, fmt.Errorf("%w: empty", ErrSyntax)
	}
	e, err := p.or()
	if err != nil {
		return Expr{}, err
	}
	if p.i < len(p.toks) {
		return Expr{}, fmt.Errorf("%w: unexpected %q in %q", ErrSyntax, p.toks[p.i], s)
	}
	return e, nil
}

// MustParse is Parse for literals in code; it panics on a malformed
// expression and must not be given user input.
func MustParse(s string) Expr {
	e, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return e
}

// Tag returns the expression matching members with tag name.
func Tag(name string) Expr { return Expr{op: "tag", tag: name} }

func tokenize(s string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r':
			flush()
		case '(', ')':
			flush()
			toks = append(toks, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

type parser struct {
	toks  []string
	i     int
	depth int // the parentheses and "not"s open (see MaxDepth)
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) or() (Expr, error) {
	return p.list("or", p.and)
}

func (p *parser) and() (Expr, error) {
	return p.list("and", p.unary)
}

func (p *parser) list(op string, next func() (Expr, error)) (Expr, error) {
	e, err := next()
	if err != nil {
		return Expr{}, err
	}
	args := []Expr{e}
	for strings.EqualFold(p.peek(), op) {
		p.i++
		e, err := next()
		if err != nil {
			return Expr{}, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return Expr{op: op, args: args}, nil
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if (t == "(" || strings.EqualFold(t, "not")) && p.depth == MaxDepth {
		return Expr{}, fmt.Errorf("%w: nested deeper than %d", ErrSyntax, MaxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	switch {
	case t == "":
		return Expr{}, fmt.Errorf("%w: unexpected end", ErrSyntax)
	case strings.EqualFold(t, "not"):
		p.i++
		e, err := p.unary()
		if err != nil {
			return Expr{}, err
		}
		return Expr{op: "not", args: []Expr{e}}, nil
	case t == "(":
		p.i++
		e, err := p.or()
		if err != nil {
			return Expr{}, err
		}
		if p.peek() != ")" {
			return Expr{}, fmt.Errorf("%w: missing )", ErrSyntax)
		}
		p.i++
		return e, nil
	case t == ")" || strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return Expr{}, fmt.Errorf("%w: unexpected %q", ErrSyntax, t)
	}
	p.i++
	return Tag(t), nil
}

// Match reports whether a member with the given tags matches.
func (e Expr) Match(tags []string) bool {
	return e.match(func(t string) bool { return slices.Contains(tags, t) })
}

func (e Expr) match(has func(string) bool) bool {
	switch e.op {
	case "tag":
		return has(e.tag)
	case "not":
		return !e.args[0].match(has)
	case "and":
		for _, a := range e.args {
			if !a.match(has) {
				return false
			}
		}
		return true
	case "or":
		for _, a := range e.args {
			if a.match(has) {
				return true
			}
		}
	}
	return false
}

// Tags returns the tag names the expression mentions, sorted, once each.
func (e Expr) Tags() []string {
	var out []string
	var walk func(Expr)
	walk = func(x Expr) {
		if x.op == "tag" {
			out = append(out, x.tag)
		}
		for _, a := range x.args {
			walk(a)
		}
	}
	walk(e)
	slices.Sort(out)
	return slices.Compact(out)
}

// String formats the expression with full parentheses.
func (e Expr) String() string {
	switch e.op {
	case "tag":
		return e.tag
	case "not":
		if a := e.args[0]; a.op == "and" || a.op == "or" {
			return "not (" + a.String() + ")"
		}
		return "not " + e.args[0].String()
	case "and", "or":
		parts := make([]string, len(e.args))
		for i, a := range e.args {
			parts[i] = a.String()
			if a.op == "and" || a.op == "or" {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, " "+e.op+" ")
	}
	return ""
}
