package rule

import (
	"errors"
	"fmt"
	"strings"

	"github.com/memberkit/membership/event"
)

// ErrInvalidDefinition is wrapped by every [Problems] error, so a caller can
// test any definition error with errors.Is.
var ErrInvalidDefinition = errors.New("invalid definition")

// Problem is one thing wrong with a definition, at a path such as
// "levels[2].upgrade".
type Problem struct {
	Path string
	Err  error
}

// Error returns "path: cause" (the cause alone without a path).
func (p Problem) Error() string {
	if p.Path == "" {
		return p.Err.Error()
	}
	return p.Path + ": " + p.Err.Error()
}

// Unwrap returns the problem's cause.
func (p Problem) Unwrap() error { return p.Err }

// Problems collects every problem of a definition, so that validation
// reports them all at once. The zero value is ready to use.
type Problems struct {
	List []Problem
}

// Add records err at path; a nil err is ignored. An err that is itself a
// joined list or a Problems is flattened under path, and a condition's
// *event.FieldError is recorded at its field under path
// (Add("rules[0].conditions[1]", err) at "rules[0].conditions[1].op").
func (ps *Problems) Add(path string, err error) {
	if err == nil {
		return
	}
	// Only as given, not wrapped: a wrapper's own text would be lost.
	if fe, ok := err.(*event.FieldError); ok {
		ps.Add(Join(path, fe.Field), fe.Err)
		return
	}
	var inner *Problems
	if errors.As(err, &inner) {
		for _, p := range inner.List {
			ps.List = append(ps.List, Problem{Path: Join(path, p.Path), Err: p.Err})
		}
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			ps.Add(path, e)
		}
		return
	}
	ps.List = append(ps.List, Problem{Path: path, Err: err})
}

// Addf records a formatted problem at path.
func (ps *Problems) Addf(path, format string, args ...any) {
	ps.Add(path, fmt.Errorf(format, args...))
}

// errOf returns a copy of ps as an error, or nil when there is no problem:
// a Check that finds nothing wrong (every event checks a validity) then
// allocates nothing, as its own Problems does not escape.
func errOf(ps Problems) error {
	if len(ps.List) == 0 {
		return nil
	}
	out := new(Problems) // allocated only here, not for every call
	*out = ps
	return out
}

// Err returns ps as an error, or nil when there is no problem.
func (ps *Problems) Err() error {
	if ps == nil || len(ps.List) == 0 {
		return nil
	}
	return ps
}

// Error lists every problem, one a line, after their count.
func (ps *Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s):", len(ps.List))
	for _, p := range ps.List {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrInvalidDefinition and each problem's cause.
func (ps *Problems) Unwrap() []error {
	errs := make([]error, 0, len(ps.List)+1)
	errs = append(errs, ErrInvalidDefinition)
	for _, p := range ps.List {
		errs = append(errs, p)
	}
	return errs
}

// Join joins path elements: Join("levels[2]", "upgrade") is
// "levels[2].upgrade"; an element starting with "[" is appended as is.
func Join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Index formats an indexed path element: Index("levels", 2) is "levels[2]".
func Index(name string, i int) string { return fmt.Sprintf("%s[%d]", name, i) }
