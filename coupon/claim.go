package coupon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// Facts are what claim conditions read of a member: the level held and
// the tags (for Tags and Segment).
type Facts struct {
	Level string   `json:"level,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// NeedsFacts reports whether the rule has level, tag or segment
// conditions, so a caller reads a member's facts only when they count.
func (c ClaimRule) NeedsFacts() bool {
	return len(c.Levels) > 0 || len(c.Tags) > 0 || c.Segment != ""
}

// Allows returns nil when the rule lets a coupon be issued by method at t
// to a member with facts f; otherwise an error wrapping ErrOutsidePeriod
// (t outside the claim period) or ErrNotEligible (a method not allowed, a
// level not in the list, a missing tag, tags outside the segment). The
// segment is parsed and matched by package tag (tag.Parse, Expr.Match),
// as a task's target segment is; a segment that does not parse (a rule
// no checked definition holds) admits no member.
func (c ClaimRule) Allows(m Method, t time.Time, f Facts) error {
	return c.allows(c.segment(), m, t, f)
}

// segment is a claim rule's Segment, src, parsed: expr, or err (wrapping
// tag.ErrSyntax) when it does not parse.
type segment struct {
	src  string
	expr tag.Expr
	err  error
}

// segment parses the Segment; the zero segment when there is none.
func (c ClaimRule) segment() segment {
	if c.Segment == "" {
		return segment{}
	}
	e, err := tag.Parse(c.Segment)
	return segment{src: c.Segment, expr: e, err: err}
}

// segments are the claim segments of a definition's templates and packs,
// by name, parsed once when the part is made; a rule without a segment
// has none here.
type segments struct {
	templates, packs map[string]segment
}

// parseSegments parses the claim segments of def's templates and packs.
func parseSegments(def *Definition) segments {
	s := segments{templates: map[string]segment{}, packs: map[string]segment{}}
	for _, t := range def.Templates {
		if t.Claim.Segment != "" {
			s.templates[t.Name] = t.Claim.segment()
		}
	}
	for _, k := range def.Packs {
		if k.Claim.Segment != "" {
			s.packs[k.Name] = k.Claim.segment()
		}
	}
	return s
}

// of returns the segment of c, the claim rule of template (or pack) name,
// as parsed in s, or parsed now when s has not got that segment (the zero
// segments of a book made without the part's).
func (s segments) of(name string, pack bool, c ClaimRule) segment {
	m := s.templates
	if pack {
		m = s.packs
	}
	if seg, ok := m[name]; ok && seg.src == c.Segment {
		return seg
	}
	return c.segment()
}

// allows is Allows with the Segment parsed as seg: the part parses each
// template's and pack's segment once (newPart), not on every claim.
func (c ClaimRule) allows(seg segment, m Method, t time.Time, f Facts) error {
	if !c.Period.Contains(t) {
		return fmt.Errorf("%w: %s", ErrOutsidePeriod, t.Format(time.RFC3339))
	}
	if err := c.allowsMethod(m); err != nil {
		return err
	}
	if len(c.Levels) > 0 && !slices.Contains(c.Levels, f.Level) {
		return fmt.Errorf("%w: level %q not in %v", ErrNotEligible, f.Level, c.Levels)
	}
	for _, name := range c.Tags {
		if !slices.Contains(f.Tags, name) {
			return fmt.Errorf("%w: missing tag %q", ErrNotEligible, name)
		}
	}
	if c.Segment != "" {
		if seg.err != nil {
			return fmt.Errorf("%w: segment %q: %w", ErrNotEligible, c.Segment, seg.err)
		}
		if !seg.expr.Match(f.Tags) {
			return fmt.Errorf("%w: not in segment %q", ErrNotEligible, c.Segment)
		}
	}
	return nil
}

// Room returns how many more a member who got total in all and today
// today may get (-1: no limit), and the limit that binds ("per_member" or
// "per_day").
func (c ClaimRule) Room(total, today int) (room int, limit string) {
	room = -1
	if c.PerMember > 0 {
		room, limit = max(c.PerMember-total, 0), "per_member"
	}
	if c.PerDay > 0 {
		if r := max(c.PerDay-today, 0); room < 0 || r < room {
			room, limit = r, "per_day"
		}
	}
	return room, limit
}

// Draw draws an amount in [lo, hi] to the cent, uniformly, from r (read
// as random bytes, without modulo bias). It returns r's error, and an
// error wrapping event.ErrInvalidArgument for hi below lo or a bound
// beyond ±MaxDraw (the draw counts cents in 64 bits; a bound beyond used
// to be misread: the draw failed, or came from another range). A
// program's random coupons are drawn at its Definition.MoneyPlaces
// instead: in whole units at scale 0.
func Draw(r io.Reader, lo, hi decimal.Decimal) (decimal.Decimal, error) {
	d, err := draw(r, lo, hi, Scale)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("coupon: %w", err)
	}
	return d, nil
}

// draw is Draw at dp decimal places (0 to rule.MaxScale): it counts
// units of 10^-dp, so its bounds are ±maxDraw(dp). Its caller names the
// package.
func draw(r io.Reader, lo, hi decimal.Decimal, dp int32) (decimal.Decimal, error) {
	if dp < 0 || dp > rule.MaxScale {
		return decimal.Decimal{}, fmt.Errorf("draw: %w: money scale %d is not 0 to %d", event.ErrInvalidArgument, dp, rule.MaxScale)
	}
	if !drawable(lo, dp) || !drawable(hi, dp) {
		return decimal.Decimal{}, fmt.Errorf("draw: %w: [%s, %s] is beyond %s", event.ErrInvalidArgument, lo, hi, maxDraw(dp))
	}
	a, b := lo.Shift(dp).IntPart(), hi.Shift(dp).IntPart()
	if b < a {
		return decimal.Decimal{}, fmt.Errorf("draw: %w: max %s below min %s", event.ErrInvalidArgument, hi, lo)
	}
	n := uint64(b-a) + 1
	limit := ^uint64(0) - (^uint64(0)%n+1)%n // largest multiple of n, minus 1
	var buf [8]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return decimal.Decimal{}, fmt.Errorf("draw: %w", err)
		}
		if v := binary.BigEndian.Uint64(buf[:]); v <= limit {
			return decimal.New(a+int64(v%n), -dp), nil
		}
	}
}

// MaxDraw is the largest bound of a random coupon's amount (Template.Max)
// at the default scale: the most cents a signed 64-bit count holds. At a
// Definition.MoneyScale of dp it is the most units of 10^-dp the count
// holds: 9223372036854775807 in whole units, 92233720368.54775807 at 8.
const MaxDraw = "92233720368547758.07"

// maxDraw returns the largest bound a draw at dp decimal places counts:
// MaxDraw at Scale.
func maxDraw(dp int32) decimal.Decimal { return decimal.New(math.MaxInt64, -dp) }

// drawable reports whether d is within ±maxDraw(dp), so a draw counts its
// units of 10^-dp in an int64.
func drawable(d decimal.Decimal, dp int32) bool {
	return d.Shift(dp).Truncate(0).BigInt().IsInt64()
}

// PlanPack decides which coupons a pack gives now, from left, the number
// of coupons each template can still issue (-1: no limit; 0 for a template
// that cannot be issued at all, e.g. outside its claim period). In
// AnyInvalid mode every item must be issuable in full, or the pack is out
// of stock; in AllInvalid mode each item gives what is left of its count
// and the pack is out of stock only when nothing at all is left. It
// returns the items to issue and those cut short (with the count
// missing), or an error wrapping ErrOutOfStock that names the template.
// What no checked definition holds — a nil p or left, an unknown mode, no
// items, an item count outside 1 to MaxCount — is an error wrapping
// event.ErrInvalidArgument that names the field, rather than a panic or a
// plan misread from it.
func PlanPack(p *Pack, left func(template string) int64) (give, short []PackItem, err error) {
	give, short, err = planPack(p, left)
	if err != nil {
		return nil, nil, fmt.Errorf("coupon: %w", err)
	}
	return give, short, nil
}

// planPack is PlanPack for the book, whose caller names the package.
func planPack(p *Pack, left func(template string) int64) (give, short []PackItem, err error) {
	if err := checkPlan(p, left); err != nil {
		return nil, nil, fmt.Errorf("plan pack: %w: %w", event.ErrInvalidArgument, err)
	}
	for _, it := range p.Items {
		l := left(it.Template)
		n := it.Count
		if l >= 0 && l < int64(n) {
			n = int(l)
		}
		if n < it.Count {
			if p.Mode == AnyInvalid {
				return nil, nil, fmt.Errorf("%w: pack %s: template %s has %d left, the pack needs %d", ErrOutOfStock, p.Name, it.Template, l, it.Count)
			}
			short = append(short, PackItem{Template: it.Template, Count: it.Count - n})
		}
		if n > 0 {
			give = append(give, PackItem{Template: it.Template, Count: n})
		}
	}
	if len(give) == 0 {
		return nil, nil, fmt.Errorf("%w: pack %s: no template has any left", ErrOutOfStock, p.Name)
	}
	return give, short, nil
}

// checkPlan returns an error naming the field of what PlanPack cannot
// plan from.
func checkPlan(p *Pack, left func(string) int64) error {
	switch {
	case p == nil:
		return errors.New("pack: nil")
	case left == nil:
		return errors.New("left: nil")
	case p.Mode != AnyInvalid && p.Mode != AllInvalid:
		return fmt.Errorf("mode: %q, want %s or %s", p.Mode, AnyInvalid, AllInvalid)
	case len(p.Items) == 0:
		return errors.New("items: empty")
	}
	for i, it := range p.Items {
		if it.Count < 1 || it.Count > MaxCount {
			return fmt.Errorf("items[%d].count: %d is not from 1 to %d (MaxCount)", i, it.Count, MaxCount)
		}
	}
	return nil
}
