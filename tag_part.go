package membership

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// Change kinds published by the tag part.
const (
	// ChangeTagAdded is published when a member gets a tag (data: TagChange).
	ChangeTagAdded = "tag.added"
	// ChangeTagRemoved is published when a member loses a tag (data:
	// TagChange).
	ChangeTagRemoved = "tag.removed"
)

// TagChange is the data of the tag.* changes.
type TagChange struct {
	Tag string `json:"tag"`
	// Manual is set for an operator's change; By is then the operator.
	Manual bool   `json:"manual,omitempty"`
	By     string `json:"by"`
	Note   string `json:"note,omitempty"`
}

// dueTagWindow is the due kind re-evaluating a member's windowed tag rules
// at the edge of a window.
const dueTagWindow = "tag.window"

type tagPart struct {
	p   *Program
	def tag.Definition
}

// tagPart returns the tag part, or nil when the definition has none.
func (p *Program) tagPart() *tagPart {
	if p.def.Tags == nil {
		return nil
	}
	return &tagPart{p: p, def: *p.def.Tags}
}

// Tags returns the member's tags, for the other parts.
func (tp *tagPart) Tags(t *engine.Unit, member string) ([]string, error) {
	return tag.TagNames(t.Tx(), member)
}

func (tp *tagPart) DueKinds() []string { return []string{dueTagWindow} }

// due re-evaluates a member's rules at a window edge; the next edge is
// scheduled by the evaluation.
func (tp *tagPart) Due(t *engine.Unit, it engine.Item) error {
	if err := tag.SaveEdge(t.Tx(), it.ID, time.Time{}); err != nil {
		return err
	}
	return tp.evaluate(t, it.ID, nil)
}

// follow re-evaluates a member's rules after a change made outside an
// event (a level changed at a term end or by an operator).
// The member is recorded as known, so a later RecomputeTag reaches them.
func (tp *tagPart) Follow(t *engine.Unit, member string) error {
	if err := tag.Touch(t.Tx(), member); err != nil {
		return err
	}
	return tp.evaluate(t, member, nil)
}

func (tp *tagPart) Process(t *engine.Unit, ev event.Event) error {
	if err := tag.Touch(t.Tx(), ev.Member); err != nil {
		return err
	}
	o := tp.def.Orders
	r := tp.def.Recharge
	isOrder := o != nil && ev.Type == o.Event
	isRecharge := r != nil && ev.Type == r.Event
	if isOrder || isRecharge {
		st, err := tag.LoadStats(t.Tx(), ev.Member)
		if err != nil {
			return err
		}
		if isOrder {
			ord, _ := o.Order(ev)
			st.AddOrder(ord)
			if err := tag.AddDay(t.Tx(), ev.Member, ord, t.Location()); err != nil {
				return err
			}
		}
		if isRecharge {
			amt, _ := ev.Decimal(r.Amount)
			st.Recharged = st.Recharged.Add(amt)
		}
		if err := tag.SaveStats(t.Tx(), ev.Member, st); err != nil {
			return err
		}
	}
	return tp.evaluate(t, ev.Member, nil)
}

// member loads what the rules read about a member at t.At().
func (tp *tagPart) member(t *engine.Unit, member string) (tag.Member, error) {
	var m tag.Member
	var err error
	if m.Attrs, err = tag.LoadAttrs(t.Tx(), member); err != nil {
		return m, err
	}
	if m.Level, err = t.MemberLevel(member); err != nil {
		return m, err
	}
	if m.Stats, err = tag.LoadStats(t.Tx(), member); err != nil {
		return m, err
	}
	if n := tp.def.MaxDays(); n > 0 {
		today := rule.DateOf(tp.now(t, m), t.Location())
		if m.Days, err = tag.Days(t.Tx(), member, today.AddDays(-(n - 1)), today); err != nil {
			return m, err
		}
	}
	return m, nil
}

// now is the time rules are evaluated at: the txn's time, or the member's
// last order when a late event arrives after it, so that a late event does
// not evaluate the windows as they stood in the past.
func (tp *tagPart) now(t *engine.Unit, m tag.Member) time.Time {
	if m.Stats.LastOrder.After(t.At()) {
		return m.Stats.LastOrder
	}
	return t.At()
}

// evaluate applies the rules (all, or only one) to a member at t.At() and
// schedules the member's next window edge. It returns how many tags were
// added and removed through counts.
func (tp *tagPart) evaluate(t *engine.Unit, member string, only *tag.Rule) error {
	_, _, err := tp.evaluateCount(t, member, only)
	return err
}

func (tp *tagPart) evaluateCount(t *engine.Unit, member string, only *tag.Rule) (added, removed int, err error) {
	m, err := tp.member(t, member)
	if err != nil {
		return 0, 0, err
	}
	now := tp.now(t, m)
	have, err := tag.TagNames(t.Tx(), member)
	if err != nil {
		return 0, 0, err
	}
	for i, r := range tp.def.Rules {
		if only != nil && r.Tag != only.Tag {
			continue
		}
		match := tp.def.Match(r, m, now, t.Location())
		if match == slices.Contains(have, r.Tag) {
			continue
		}
		why := func() *rule.Reason {
			return &rule.Reason{Rule: fmt.Sprintf("tags.rules[%d]", i), Note: "tag " + r.Tag, Inputs: tp.def.Explain(r, m, now, t.Location())}
		}
		if match {
			ok, err := tag.Assign(t.Tx(), member, tag.Assigned{Tag: r.Tag, By: "rule", At: t.At().UTC(), Event: t.Ref().Event})
			if err != nil {
				return added, removed, err
			}
			if ok {
				added++
				if err := t.Emit(ChangeTagAdded, member, TagChange{Tag: r.Tag, By: "rule"}, why()); err != nil {
					return added, removed, err
				}
			}
			continue
		}
		ok, err := tag.Unassign(t.Tx(), member, r.Tag)
		if err != nil {
			return added, removed, err
		}
		if ok {
			removed++
			if err := t.Emit(ChangeTagRemoved, member, TagChange{Tag: r.Tag, By: "rule"}, why()); err != nil {
				return added, removed, err
			}
		}
	}
	return added, removed, tp.reschedule(t, member, m)
}

// reschedule keeps one due item per member at its next window edge.
func (tp *tagPart) reschedule(t *engine.Unit, member string, m tag.Member) error {
	if tp.def.MaxDays() == 0 {
		return nil
	}
	next := tp.def.Edge(m, tp.now(t, m), t.Location())
	old, err := tag.LoadEdge(t.Tx(), member)
	if err != nil {
		return err
	}
	if old.Equal(next) {
		return nil
	}
	if !old.IsZero() {
		if err := due.Cancel(t.Tx(), old, dueTagWindow, member); err != nil {
			return err
		}
	}
	if !next.IsZero() {
		if err := t.Schedule(next, dueTagWindow, member, nil); err != nil {
			return err
		}
	}
	return tag.SaveEdge(t.Tx(), member, next)
}

func (p *Program) tags() (*tagPart, error) {
	if p.parts.tag != nil {
		return p.parts.tag, nil
	}
	return nil, fmt.Errorf("%w: the program defines no tags", ErrInvalidArgument)
}

func checkMember(member string) error {
	if member == "" || strings.ContainsRune(member, 0) {
		return fmt.Errorf("%w: member %q", ErrInvalidArgument, member)
	}
	return nil
}

// AddTag gives a member a manual tag on behalf of operator at time at. A
// retry with the same requestID returns the first outcome. Adding a tag
// the member has changes nothing. It returns errors wrapping
// tag.ErrUnknownTag, tag.ErrNotManual (a rule's tag) or ErrInvalidArgument.
func (p *Program) AddTag(ctx context.Context, requestID, member, name, operator, note string, at time.Time) (*change.Outcome, error) {
	return p.manualTag(ctx, requestID, member, name, operator, note, at, true)
}

// RemoveTag takes a manual tag from a member on behalf of operator at time
// at, with the same rules and errors as AddTag.
func (p *Program) RemoveTag(ctx context.Context, requestID, member, name, operator, note string, at time.Time) (*change.Outcome, error) {
	return p.manualTag(ctx, requestID, member, name, operator, note, at, false)
}

func (p *Program) manualTag(ctx context.Context, requestID, member, name, operator, note string, at time.Time, add bool) (*change.Outcome, error) {
	verb := "remove"
	if add {
		verb = "add"
	}
	fail := func(err error) (*change.Outcome, error) {
		return nil, fmt.Errorf("membership: %s tag %q for %q: %w", verb, name, member, err)
	}
	tp, err := p.tags()
	if err != nil {
		return fail(err)
	}
	if err := checkMember(member); err != nil {
		return fail(err)
	}
	if operator == "" || at.IsZero() {
		return fail(fmt.Errorf("%w: an operator and a time are required", ErrInvalidArgument))
	}
	switch {
	case tp.def.RuleFor(name) != nil:
		return fail(fmt.Errorf("%w: %q is kept by a rule", tag.ErrNotManual, name))
	case !tp.def.IsManual(name):
		return fail(fmt.Errorf("%w %q", tag.ErrUnknownTag, name))
	}
	req := map[string]any{"op": verb + "_tag", "member": member, "tag": name, "operator": operator, "note": note, "at": at.UTC()}
	return p.apply(ctx, requestID, req, at, ledger.Ref{Note: "tag " + name}, member, func(t *engine.Unit) error {
		if err := tag.Touch(t.Tx(), member); err != nil {
			return err
		}
		why := &rule.Reason{Rule: "tags.manual", Note: note}
		data := TagChange{Tag: name, Manual: true, By: operator, Note: note}
		if add {
			ok, err := tag.Assign(t.Tx(), member, tag.Assigned{Tag: name, Manual: true, By: operator, At: at.UTC(), Event: requestID, Note: note})
			if err != nil || !ok {
				return err
			}
			return t.Emit(ChangeTagAdded, member, data, why)
		}
		ok, err := tag.Unassign(t.Tx(), member, name)
		if err != nil || !ok {
			return err
		}
		return t.Emit(ChangeTagRemoved, member, data, why)
	})
}

// SetProfile sets a member's profile attributes (declared in the tag
// definition) at time at and re-evaluates the member's tag rules. Given
// attributes replace the stored ones; a value of empty kind removes the
// attribute. A retry with the same requestID returns the first outcome. It
// returns errors wrapping tag.ErrUnknownAttribute, tag.ErrAttributeType or
// ErrInvalidArgument.
func (p *Program) SetProfile(ctx context.Context, requestID, member string, attrs map[string]event.Value, at time.Time) (*change.Outcome, error) {
	fail := func(err error) (*change.Outcome, error) {
		return nil, fmt.Errorf("membership: set profile of %q: %w", member, err)
	}
	tp, err := p.tags()
	if err != nil {
		return fail(err)
	}
	if err := checkMember(member); err != nil {
		return fail(err)
	}
	if at.IsZero() {
		return fail(fmt.Errorf("%w: zero time", ErrInvalidArgument))
	}
	set := map[string]event.Value{}
	var del []string
	for k, v := range attrs {
		if v.Kind == "" {
			del = append(del, k)
		} else {
			set[k] = v
		}
	}
	if err := tp.def.CheckAttrs(set); err != nil {
		return fail(err)
	}
	req := map[string]any{"op": "set_profile", "member": member, "attrs": attrs, "at": at.UTC()}
	return p.apply(ctx, requestID, req, at, ledger.Ref{Note: "profile"}, member, func(t *engine.Unit) error {
		if err := tag.Touch(t.Tx(), member); err != nil {
			return err
		}
		cur, err := tag.LoadAttrs(t.Tx(), member)
		if err != nil {
			return err
		}
		maps.Copy(cur, set)
		for _, k := range del {
			delete(cur, k)
		}
		if err := tag.SaveAttrs(t.Tx(), member, cur); err != nil {
			return err
		}
		return tp.evaluate(t, member, nil)
	})
}

// MemberTags returns a member's tags in name order, each with who gave it
// and when.
func (p *Program) MemberTags(ctx context.Context, member string) ([]tag.Assigned, error) {
	var out []tag.Assigned
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		var err error
		out, err = tag.Tags(tx, member)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("membership: tags of %q: %w", member, err)
	}
	return out, nil
}

// Segment returns up to limit members (default 100) whose tags match the
// tag expression expr ("M and (vip or not churned)"), after cursor ("" for
// the first page), in member order, and the cursor of the next page (""
// when there is none). Its cost follows the members of the expression's
// least-populated tag (see package tag), not the number of members. It
// returns errors wrapping tag.ErrSyntax or tag.ErrUnknownTag.
func (p *Program) Segment(ctx context.Context, expr, cursor string, limit int) (members []string, next string, err error) {
	tp, err := p.tags()
	if err != nil {
		return nil, "", fmt.Errorf("membership: segment %q: %w", expr, err)
	}
	if err := tp.def.CheckExpr(expr); err != nil {
		return nil, "", fmt.Errorf("membership: segment %q: %w", expr, err)
	}
	e, _ := tag.Parse(expr)
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		members, next, err = tag.Segment(tx, e, cursor, limit)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("membership: segment %q: %w", expr, err)
	}
	return members, next, nil
}

// InSegment reports whether a member's tags match the tag expression expr;
// for claim conditions and targets. Errors as for Segment.
func (p *Program) InSegment(ctx context.Context, member, expr string) (bool, error) {
	tp, err := p.tags()
	if err != nil {
		return false, err
	}
	if err := tp.def.CheckExpr(expr); err != nil {
		return false, fmt.Errorf("membership: segment %q: %w", expr, err)
	}
	e, _ := tag.Parse(expr)
	var tags []string
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		tags, err = tag.TagNames(tx, member)
		return err
	})
	return err == nil && e.Match(tags), err
}

// Recompute is the result of one page of RecomputeTag.
type Recompute struct {
	// Next is the cursor of the next page; "" when every member is done.
	Next     string `json:"next"`
	Examined int    `json:"examined"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
}

// RecomputeTag re-evaluates the rule of tag name for up to limit members
// (default 500) after cursor ("" to start), as at time at, in one store
// transaction, and returns the cursor of the next page. A host calls it
// again with Next until Next is "", after changing the rule; a crash
// between pages loses nothing, since the host resumes from the last Next.
// The changes go to the change feed. It returns errors wrapping
// tag.ErrUnknownTag (no rule gives that tag) or ErrInvalidArgument.
func (p *Program) RecomputeTag(ctx context.Context, name, cursor string, limit int, at time.Time) (Recompute, error) {
	var res Recompute
	fail := func(err error) (Recompute, error) {
		return Recompute{}, fmt.Errorf("membership: recompute tag %q: %w", name, err)
	}
	tp, err := p.tags()
	if err != nil {
		return fail(err)
	}
	r := tp.def.RuleFor(name)
	if r == nil {
		return fail(fmt.Errorf("%w %q: no rule gives it", tag.ErrUnknownTag, name))
	}
	if at.IsZero() {
		return fail(fmt.Errorf("%w: zero time", ErrInvalidArgument))
	}
	if limit <= 0 {
		limit = 500
	}
	_, err = p.eng.Update(ctx, at, ledger.Ref{Note: "recompute tag " + name}, func(t *engine.Unit) error {
		res = Recompute{}
		members, err := tag.Members(t.Tx(), cursor, limit)
		if err != nil {
			return err
		}
		err = func() error {
			for _, m := range members {
				a, d, err := tp.evaluateCount(t, m, r)
				if err != nil {
					return err
				}
				res.Examined++
				res.Added += a
				res.Removed += d
			}
			return nil
		}()
		if err != nil {
			return err
		}
		if len(members) == limit {
			res.Next = members[len(members)-1]
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// Profile is everything known about a member in one value: profile
// attributes, level, tags, statistics, assets and achievements.
type Profile struct {
	Member     string                 `json:"member"`
	Attributes map[string]event.Value `json:"attributes,omitempty"`
	// Level is the member's ladder level ("" without a ladder).
	Level        string          `json:"level,omitempty"`
	Tags         []tag.Assigned  `json:"tags,omitempty"`
	Stats        tag.Summary     `json:"stats"`
	Assets       Assets          `json:"assets"`
	Achievements []benefit.Grant `json:"achievements,omitempty"`
}

// Assets are a member's balances.
type Assets struct {
	// Points is the spendable balance per point program.
	Points map[string]decimal.Decimal `json:"points,omitempty"`
	// Growth is the current growth.
	Growth decimal.Decimal `json:"growth"`
	// StoredValue is the money balance.
	StoredValue decimal.Decimal `json:"stored_value"`
	// Coupons counts the member's coupons by state (available, locked,
	// used, expired, revoked).
	Coupons map[coupon.State]int `json:"coupons,omitempty"`
	// Accounts lists every account of the member with its balance,
	// including sub-accounts such as pending or frozen points.
	Accounts map[string]decimal.Decimal `json:"accounts,omitempty"`
}

// Profile returns a member's profile: attributes, level, tags, statistics
// with the top brands, categories and products, assets from the ledger and
// achievements. A member the program has never seen has an empty profile.
func (p *Program) Profile(ctx context.Context, member string) (Profile, error) {
	pr := Profile{Member: member}
	err := p.eng.View(ctx, p.clock(), func(t *engine.Unit) error {
		tx, led := t.Tx(), t.Ledger()
		accts, err := led.Accounts(member)
		if err != nil {
			return err
		}
		pr.Assets.Accounts = map[string]decimal.Decimal{}
		for a, bal := range accts {
			pr.Assets.Accounts[a.String()] = bal
			if a.Sub != "" {
				continue
			}
			if prog, ok := a.Asset.PointsProgram(); ok {
				if pr.Assets.Points == nil {
					pr.Assets.Points = map[string]decimal.Decimal{}
				}
				pr.Assets.Points[prog] = bal
			}
			switch a.Asset {
			case ledger.Growth:
				pr.Assets.Growth = bal
			case ledger.Value:
				pr.Assets.StoredValue = bal
			}
		}
		if pr.Level, err = t.MemberLevel(member); err != nil {
			return err
		}
		if p.def.Coupons != nil {
			cs, err := coupon.NewBook(tx, p.def.Coupons, p.loc).Coupons(member, false)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if pr.Assets.Coupons == nil {
					pr.Assets.Coupons = map[coupon.State]int{}
				}
				pr.Assets.Coupons[c.State]++
			}
		}
		if p.def.Benefits != nil {
			if pr.Achievements, err = loadGrants(tx, member); err != nil {
				return err
			}
		}
		if p.def.Tags == nil {
			return nil
		}
		if pr.Attributes, err = tag.LoadAttrs(tx, member); err != nil {
			return err
		}
		if pr.Tags, err = tag.Tags(tx, member); err != nil {
			return err
		}
		st, err := tag.LoadStats(tx, member)
		if err != nil {
			return err
		}
		pr.Stats = st.Summary(p.def.Tags.TopN())
		return nil
	})
	if err != nil {
		return Profile{}, fmt.Errorf("membership: profile of %q: %w", member, err)
	}
	return pr, nil
}

// TagCounts returns how many members hold each declared tag (manual tags
// and rules' tags), read from counters kept as tags change: its cost does
// not depend on the number of members.
func (p *Program) TagCounts(ctx context.Context) (map[string]int64, error) {
	tp, err := p.tags()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range tp.def.Manual {
		names = append(names, m.Name)
	}
	for _, r := range tp.def.Rules {
		names = append(names, r.Tag)
	}
	out := make(map[string]int64, len(names))
	err = p.eng.Store().View(ctx, func(tx store.Tx) error {
		for _, n := range names {
			c, err := tag.Count(tx, n)
			if err != nil {
				return err
			}
			out[n] = c
		}
		return nil
	})
	return out, err
}
