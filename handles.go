package membership

import "github.com/memberkit/membership/points"

// The domain handles: each domain's operator calls and queries, documented
// in its own package. A handle is built once in Open and is never nil; a
// domain the definition leaves out answers with its ErrNotDefined.

// Points returns the program's points: redemptions, adjustments, reviews,
// exchanges, balances and statements (see package points).
func (p *Program) Points() *points.Handle { return p.parts.points }
