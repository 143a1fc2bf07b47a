package membership

import (
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// parts are the program's domain parts, in processing order.
type parts struct {
	value   *valuePart
	level   *level.Handle
	points  *points.Handle
	coupon  *couponPart
	benefit *benefit.Handle
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
	p.parts.level = level.New(p.eng, p.def.Levels)
	p.parts.points = points.New(p.eng, p.def.Points)
	if cp := p.couponPart(); cp != nil {
		p.parts.coupon = cp
		p.eng.Add(cp)
	}
	p.parts.benefit = benefit.New(p.eng, p.def.Benefits)
	p.parts.tasks = task.New(p.eng, p.def.Tasks)
	p.parts.tags = tag.New(p.eng, p.def.Tags)
}
