package membership

import "github.com/memberkit/membership/points"

// parts are the program's domain parts, in processing order.
type parts struct {
	value   *valuePart
	level   *levelPart
	points  *points.Handle
	coupon  *couponPart
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
	if p.def.StoredValue != nil {
		p.parts.value = &valuePart{p: p, def: *p.def.StoredValue}
		p.eng.Add(p.parts.value)
	}
	if lp := p.levelPart(); lp != nil {
		p.parts.level = lp
		p.eng.Add(lp)
		p.eng.SetLevels(lp)
	}
	p.parts.points = points.New(p.eng, p.def.Points)
	if cp := p.couponPart(); cp != nil {
		p.parts.coupon = cp
		p.eng.Add(cp)
	}
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
