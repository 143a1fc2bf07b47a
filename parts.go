package membership

import (
	"fmt"
	"strings"

	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// parts are the program's domain parts, in processing order.
type parts struct {
	value   *valuePart
	level   *levelPart
	points  *pointsPart
	coupon  *couponPart
	benefit *benefitPart
	tasks   *task.Handle
	tags    *tag.Handle
}

// compose makes the parts the definition asks for and registers them with
// the engine. Order matters: stored value, then growth and levels (an
// upgrade's gifts and the level other rules target), then points, coupons,
// benefits, tasks (which may reward any of those), and tags last, seeing
// all the rest.
func (p *Program) compose() {
	if p.def.StoredValue != nil {
		p.parts.value = &valuePart{p: p, def: *p.def.StoredValue}
		p.eng.Add(p.parts.value)
	}
	if lp := p.levelPart(); lp != nil {
		p.parts.level = lp
		p.eng.Add(lp)
		p.eng.SetLevels(lp)
	}
	if pp := p.pointsPart(); pp != nil {
		p.parts.points = pp
		p.eng.Add(pp)
	}
	if cp := p.couponPart(); cp != nil {
		p.parts.coupon = cp
		p.eng.Add(cp)
	}
	if bp := p.benefitPart(); bp != nil {
		p.parts.benefit = bp
		p.eng.Add(bp)
	}
	p.parts.tasks = task.New(p.eng, p.def.Tasks)
	p.parts.tags = tag.New(p.eng, p.def.Tags)
}

// checkMember rejects an empty member ID or one with a NUL byte; the
// benefit part's calls use it until benefit moves to its package.
func checkMember(member string) error {
	if member == "" || strings.ContainsRune(member, 0) {
		return fmt.Errorf("%w: member %q", ErrInvalidArgument, member)
	}
	return nil
}
