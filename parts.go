package membership

import (
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// parts are the program's domain handles; each domain's New registers its
// part with the engine.
type parts struct {
	value   *value.Handle
	level   *level.Handle
	points  *points.Handle
	coupons *coupon.Handle
	benefit *benefit.Handle
	tasks   *task.Handle
	tags    *tag.Handle
}

// compose makes each domain's handle and registers the parts the
// definition asks for with the engine. Order matters: stored value, then
// growth and levels (an upgrade's gifts and the level other rules target),
// then points, coupons, benefits, tasks (which may reward any of those),
// and tags last, seeing all the rest.
func (p *Program) compose() {
	p.parts.value = value.New(p.eng, p.def.StoredValue)
	p.parts.level = level.New(p.eng, p.def.Levels)
	p.parts.points = points.New(p.eng, p.def.Points)
	p.parts.coupons = coupon.New(p.eng, p.def.Coupons)
	p.parts.benefit = benefit.New(p.eng, p.def.Benefits)
	p.parts.tasks = task.New(p.eng, p.def.Tasks)
	p.parts.tags = tag.New(p.eng, p.def.Tags)
}
