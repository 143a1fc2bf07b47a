package membership

import (
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/value"
)

// parts are the program's domain parts and handles, in processing order.
type parts struct {
	value   *value.Handle
	level   *levelPart
	points  *pointsPart
	coupons *coupon.Handle
	benefit *benefitPart
	task    *taskPart
	tag     *tagPart
}

// compose makes the parts the definition asks for and registers them with
// the engine. Order matters: stored value, then growth and levels (an
// upgrade's gifts and the level other rules target), then points, coupons,
// benefits, tasks (which may reward any of those), and tags last, seeing
// all the rest.
func (p *Program) compose() {
	p.parts.value = value.New(p.eng, p.def.StoredValue)
	if lp := p.levelPart(); lp != nil {
		p.parts.level = lp
		p.eng.Add(lp)
		p.eng.SetLevels(lp)
	}
	if pp := p.pointsPart(); pp != nil {
		p.parts.points = pp
		p.eng.Add(pp)
	}
	p.parts.coupons = coupon.New(p.eng, p.def.Coupons)
	if bp := p.benefitPart(); bp != nil {
		p.parts.benefit = bp
		p.eng.Add(bp)
	}
	if tp := p.taskPart(); tp != nil {
		p.parts.task = tp
		p.eng.Add(tp)
	}
	if tp := p.tagPart(); tp != nil {
		p.parts.tag = tp
		p.eng.Add(tp)
		p.eng.SetTags(tp)
	}
}
