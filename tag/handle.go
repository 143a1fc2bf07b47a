package tag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// ErrNotDefined is wrapped by every call of a Handle whose program defines
// no tags but Of, which lists no tags.
var ErrNotDefined = errors.New("the program defines no tags")

// Handle is a program's tag domain: manual tags, profile attributes, the
// recompute of a changed rule, and the reads (a member's tags and
// profile, segments, counts). Get it from the program (Program.Tags); it
// is safe for concurrent use.
type Handle struct {
	e *engine.Engine
	p *part // nil when the program defines no tags
}

// New registers the tag part of def with e, as the reader of members' tags
// for the other domains, and returns its handle. With a nil def it
// registers only the erasure of what a version before kept (profile
// attributes, manual tags' notes: membership's Erase): Of lists the tags
// a version before gave, and the other calls return an error wrapping
// ErrNotDefined. The part must be added after every part whose
// changes its rules read (levels), since it evaluates them last.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Tags] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	if def == nil {
		// A version before may have kept profiles and tags: Erase still
		// erases them.
		e.AddEraser(eraser{})
		return h
	}
	h.p = &part{def: *def}
	for i := range def.Rules {
		h.p.ruleIDs = append(h.p.ruleIDs, fmt.Sprintf("tags.rules[%d]", i))
	}
	e.Add(h.p)
	e.SetTags(h.p)
	return h
}

// ManualRequest asks to add a manual tag to a member, or to remove one.
type ManualRequest struct {
	// RequestID is the idempotency key: the same ID with the same request
	// returns the first outcome; with another request, an error wrapping
	// event.ErrConflict.
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	// Operator is who asks (required); the member's tag records it.
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
	// At is when the tag is given or taken (required).
	At  time.Time `json:"at"`
	Tag string    `json:"tag"`
}

// ProfileRequest sets a member's profile attributes.
type ProfileRequest struct {
	// RequestID is the idempotency key, as for ManualRequest.
	RequestID string `json:"request_id"`
	// Operator is who asks, for the audit trail (optional: a member's own
	// change from an app has none).
	Operator string    `json:"operator,omitempty"`
	Member   string    `json:"member"`
	At       time.Time `json:"at"`
	// Attributes replace the stored ones of the same name; a value of
	// empty kind (event.Value{}) removes the attribute. Others are kept.
	// At least one is required, and each must be declared, the ones to
	// remove too (a misspelt name is refused, not taken for a removal
	// that did nothing).
	Attributes map[string]event.Value `json:"attributes"`
}

// RecomputeRequest asks to re-evaluate the rule of one tag for a page of
// the members the program has seen.
type RecomputeRequest struct {
	// Operator is who asks, for the audit trail (optional).
	Operator string `json:"operator,omitempty"`
	// At is the time the rule is evaluated at (required).
	At  time.Time `json:"at"`
	Tag string    `json:"tag"`
	// After is the cursor: the Next of the previous page ("" to start).
	After string `json:"after,omitempty"`
	// Limit is the page size: 0 means 500, a limit above 1,000 means
	// 1,000, and a negative one is refused (see event.PageSize).
	Limit int `json:"limit,omitempty"`
}

// RecomputeResult is what one page of a recompute did.
type RecomputeResult struct {
	// Next is the cursor of the next page; "" when every member is done.
	Next string `json:"next"`
	// Examined is how many members the page evaluated; Added and Removed
	// how many of them got and lost the tag (holding it after the page
	// and not before, or the reverse: a window edge the page performed
	// first counts too).
	Examined int `json:"examined"`
	Added    int `json:"added"`
	Removed  int `json:"removed"`
	// Outcome holds the page's tag changes (also in the feed).
	Outcome *change.Outcome `json:"outcome"`
}

// SegmentQuery asks for a page of the members whose tags match an
// expression.
type SegmentQuery struct {
	// Expr is the segment, from Parse or MustParse.
	Expr Expr
	// After is the cursor: the Next of the previous page ("" to start).
	After string
	// Limit is the page size: 0 means 100, a limit above 1,000 means
	// 1,000, and a negative one is refused (see event.PageSize).
	Limit int
}

// SegmentPage is one page of a segment.
type SegmentPage struct {
	// Members are in member order.
	Members []string `json:"members"`
	// Next is the cursor of the next page; "" when there is none.
	Next string `json:"next"`
}

// Profile is the tag domain's view of a member: the profile attributes,
// the tags and the statistics kept from events. A member's level, assets
// and achievements belong to their domains.
type Profile struct {
	Member     string                 `json:"member"`
	Attributes map[string]event.Value `json:"attributes,omitempty"`
	Tags       []Assigned             `json:"tags,omitempty"`
	Stats      Summary                `json:"stats"`
}

// opBody is what identifies a request for idempotency: the operation and
// the request with its time in UTC (the same instant in another zone is
// the same request).
type opBody struct {
	Op      string `json:"op"`
	Request any    `json:"request"`
}

// Add gives a member a manual tag. Adding a tag the member has changes
// nothing. The error wraps ErrNotDefined, ErrUnknownTag, ErrNotManual (a
// rule's tag), event.ErrInvalidArgument (no request ID, member, operator
// or time) or event.ErrConflict (the request ID was used for another
// request). The retry of an Add or Remove applied before returns its first
// outcome, Duplicate set, even where the definition now in force would
// refuse it (a newer version dropped the tag, or gave it to a rule); so
// does SetProfile's, for a profile attribute dropped.
func (h *Handle) Add(ctx context.Context, r ManualRequest) (*change.Outcome, error) {
	return h.manual(ctx, r, true)
}

// Remove takes a manual tag from a member. Removing a tag the member does
// not have changes nothing. It also takes a tag the definition no longer
// declares (a manual tag or a rule's tag a new version left out) from a
// member who holds it; removing such a tag from a member who does not hold
// it is ErrUnknownTag. Errors as for Add.
func (h *Handle) Remove(ctx context.Context, r ManualRequest) (*change.Outcome, error) {
	return h.manual(ctx, r, false)
}

func (h *Handle) manual(ctx context.Context, r ManualRequest, add bool) (*change.Outcome, error) {
	verb := "remove"
	if add {
		verb = "add"
	}
	var undeclared bool // set by check
	check := func() error {
		if h.p == nil {
			return ErrNotDefined
		}
		if err := event.CheckMember(r.Member); err != nil {
			return err
		}
		if r.Operator == "" || r.At.IsZero() {
			return fmt.Errorf("%w: an operator and a time are required", event.ErrInvalidArgument)
		}
		// A tag the definition no longer declares can only be removed,
		// from a member who holds it: no rule takes it any more.
		undeclared = !h.p.def.Declared(r.Tag)
		switch {
		case h.p.def.RuleFor(r.Tag) != nil:
			return fmt.Errorf("%w: %q is kept by a rule", ErrNotManual, r.Tag)
		case undeclared && (add || !heldName(r.Tag)):
			return fmt.Errorf("%w %q", ErrUnknownTag, r.Tag)
		}
		return nil
	}
	body := r
	body.At = r.At.UTC()
	req := engine.Request{ID: r.RequestID, Body: opBody{Op: "tag." + verb, Request: body}, At: r.At, Member: r.Member, Ref: ledger.Ref{Note: "tag " + r.Tag},
		Action: "tag." + verb, Operator: r.Operator, Input: r, Check: check}
	out, err := h.e.Apply(ctx, req, func(u *engine.Unit) error {
		if err := touch(u.Tx(), r.Member); err != nil {
			return err
		}
		why := &rule.Reason{Rule: "tags.manual", Note: r.Note}
		data := Change{Tag: r.Tag, Manual: true, By: r.Operator, Note: r.Note}
		if add {
			ok, err := assign(u, r.Member, Assigned{Tag: r.Tag, Manual: true, By: r.Operator, At: r.At.UTC(), Event: r.RequestID, Note: r.Note})
			if err != nil || !ok {
				return err
			}
			return u.Emit(ChangeAdded, r.Member, data, why)
		}
		ok, err := unassign(u, r.Member, r.Tag)
		switch {
		case err != nil:
			return err
		case !ok && undeclared:
			return fmt.Errorf("%w %q: declared by no rule nor as manual, and the member does not hold it", ErrUnknownTag, r.Tag)
		case !ok:
			return nil
		}
		return u.Emit(ChangeRemoved, r.Member, data, why)
	})
	if err != nil {
		return nil, fmt.Errorf("tag: %s %q for %q: %w", verb, r.Tag, r.Member, err)
	}
	return out, nil
}

// SetProfile sets a member's profile attributes (declared in the
// definition) and re-evaluates the member's rules at once. A request with
// no attributes asks no change and is refused, as Add and Remove refuse a
// request naming no tag: it writes nothing (no request record, no audit
// entry, no member). The error wraps ErrNotDefined, ErrUnknownAttribute,
// ErrAttributeType, event.ErrOutOfRange (a value below the attribute's
// declared minimum), event.ErrInvalidArgument (no request ID, member or
// time; no attributes, naming "attributes") or event.ErrConflict.
func (h *Handle) SetProfile(ctx context.Context, r ProfileRequest) (*change.Outcome, error) {
	check := func() error {
		if h.p == nil {
			return ErrNotDefined
		}
		if err := event.CheckMember(r.Member); err != nil {
			return err
		}
		switch {
		case r.At.IsZero():
			return fmt.Errorf("%w: zero time", event.ErrInvalidArgument)
		case len(r.Attributes) == 0:
			return fmt.Errorf("%w: attributes: none to set or remove", event.ErrInvalidArgument)
		}
		return h.p.def.CheckAttrs(r.Attributes)
	}
	set := map[string]event.Value{}
	var del []string
	for k, v := range r.Attributes {
		if v.Kind == "" {
			del = append(del, k)
		} else {
			set[k] = v
		}
	}
	body := r
	body.At = r.At.UTC()
	req := engine.Request{ID: r.RequestID, Body: opBody{Op: "tag.set_profile", Request: body}, At: r.At, Member: r.Member, Ref: ledger.Ref{Note: "profile"},
		Action: "tag.set_profile", Operator: r.Operator, Input: r, Check: check}
	out, err := h.e.Apply(ctx, req, func(u *engine.Unit) error {
		if err := touch(u.Tx(), r.Member); err != nil {
			return err
		}
		cur, err := loadAttrs(u.Tx(), r.Member)
		if err != nil {
			return err
		}
		if cur == nil {
			cur = map[string]event.Value{}
		}
		maps.Copy(cur, set)
		for _, k := range del {
			delete(cur, k)
		}
		if err := saveAttrs(u.Tx(), r.Member, cur); err != nil {
			return err
		}
		_, _, err = h.p.evaluate(u, r.Member, nil, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tag: set profile of %q: %w", r.Member, err)
	}
	return out, nil
}

// Recompute re-evaluates the rule of r.Tag for up to r.Limit members after
// r.After, as at r.At, in one store transaction, and returns the cursor of
// the next page. A host calls it again with Next until Next is "", after
// changing the rule; a crash between pages loses nothing, since the host
// resumes from the last Next, and a page run twice changes nothing the
// second time (the rule is evaluated, not applied: there is no request
// ID). The changes go to the feed. A member's window edges due by r.At
// that Advance has not performed are performed first, at their own
// instants, every rule evaluated there as Advance would (see the package
// comment): their changes are in the page's outcome, dated at the edges.
//
// Given a tag the definition no longer declares (a rule's tag or a manual
// tag a new version left out) that members still hold, it takes the tag
// from each member of the page who holds it, as a rule that no longer
// gives it (the changes' By is "rule", their reason's rule
// "tags.undeclared"); the pages run to the end clear it from every
// member. Such a tag that no member holds any more is unknown again.
//
// The error wraps ErrNotDefined, ErrUnknownTag (no rule gives the tag: a
// manual tag, or one neither declared nor held by any member when the
// first page starts) or event.ErrInvalidArgument (no
// time, a negative limit, or a string or a time beyond the limits: a
// cursor that is not a member ID as checkCursor says, a time outside the
// years 1900 to 2099).
func (h *Handle) Recompute(ctx context.Context, r RecomputeRequest) (RecomputeResult, error) {
	fail := func(err error) (RecomputeResult, error) {
		return RecomputeResult{}, fmt.Errorf("tag: recompute %q: %w", r.Tag, err)
	}
	if h.p == nil {
		return fail(ErrNotDefined)
	}
	if err := event.CheckRequest(r); err != nil {
		return fail(err)
	}
	if err := checkCursor(r.After); err != nil {
		return fail(err)
	}
	only := h.p.def.RuleFor(r.Tag)
	undeclared := !h.p.def.Declared(r.Tag) && heldName(r.Tag)
	if only == nil && !undeclared {
		return fail(fmt.Errorf("%w %q: no rule gives it", ErrUnknownTag, r.Tag))
	}
	if r.At.IsZero() {
		return fail(fmt.Errorf("%w: zero time", event.ErrInvalidArgument))
	}
	limit, err := event.PageSize(r.Limit, 500, 1000)
	if err != nil {
		return fail(err)
	}
	var res RecomputeResult
	// The page is audited under an ID of its own (a recompute has no
	// request ID: it is not idempotent, and needs none).
	req := engine.Request{ID: "tag.recompute/" + r.Tag + "/" + r.After, At: r.At, Ref: ledger.Ref{Note: "recompute tag " + r.Tag},
		Action: "tag.recompute", Operator: r.Operator, Input: r}
	out, err := h.e.Update(ctx, req, func(u *engine.Unit) error {
		res = RecomputeResult{} // a store may run the function again
		if undeclared && r.After == "" {
			if n, err := count(u.Tx(), r.Tag); err != nil || n == 0 {
				return cmp.Or(err, fmt.Errorf("%w %q: declared by no rule nor as manual, and no member holds it", ErrUnknownTag, r.Tag))
			}
		}
		members, err := knownMembers(u.Tx(), r.After, limit)
		if err != nil {
			return err
		}
		for _, m := range members {
			var a, d int
			if undeclared {
				d, err = h.p.clear(u, m, r.Tag)
			} else {
				a, d, err = h.p.recompute(u, m, only)
			}
			if err != nil {
				return err
			}
			res.Examined++
			res.Added += a
			res.Removed += d
		}
		if len(members) == limit {
			res.Next = members[len(members)-1]
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	res.Outcome = out
	return res, nil
}

// view runs fn in a read-only transaction of the program's store.
func (h *Handle) view(ctx context.Context, fn func(tx store.Tx) error) error {
	if h.p == nil {
		return ErrNotDefined
	}
	return h.e.Store().View(ctx, fn)
}

// local returns a member's tags with their times in the program's zone.
func (h *Handle) local(as []Assigned) []Assigned {
	for i := range as {
		as[i].At = as[i].At.In(h.e.Location())
	}
	return as
}

// Of returns a member's tags in name order, each with who gave it and
// when. It lists every tag the member holds, one the definition no longer
// declares too (see Remove and Recompute to clear it), and on a program
// without tags those a version before gave (an empty list if none; a
// version declaring the tags again can clear them). The error is the
// store's, or wraps store.ErrCorrupt for a damaged tag record (one that
// is not its key's tag's, or has no time).
func (h *Handle) Of(ctx context.Context, member string) ([]Assigned, error) {
	if err := event.CheckMember(member); err != nil {
		return nil, fmt.Errorf("tag: tags: %w", err)
	}
	var out []Assigned
	// Read without a definition too: a version may leave the domain out
	// while members hold tags.
	err := h.e.Store().View(ctx, func(tx store.Tx) error {
		var err error
		out, err = loadTags(tx, member)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tag: tags of %q: %w", member, err)
	}
	return h.local(out), nil
}

// Profile returns a member's profile attributes, tags and statistics (with
// the top brands, categories and products). A member the program has
// never seen has an empty profile. The error wraps ErrNotDefined,
// store.ErrCorrupt for a damaged record (a tag's, as for Of) or the
// store's error.
func (h *Handle) Profile(ctx context.Context, member string) (Profile, error) {
	pr := Profile{Member: member}
	if err := event.CheckMember(member); err != nil {
		return Profile{}, fmt.Errorf("tag: profile: %w", err)
	}
	err := h.view(ctx, func(tx store.Tx) error {
		var err error
		if pr.Attributes, err = loadAttrs(tx, member); err != nil {
			return err
		}
		if pr.Tags, err = loadTags(tx, member); err != nil {
			return err
		}
		st, err := loadStats(tx, member)
		if err != nil {
			return err
		}
		pr.Stats = st.Summary(h.p.def.TopN())
		return nil
	})
	if err != nil {
		return Profile{}, fmt.Errorf("tag: profile of %q: %w", member, err)
	}
	loc := h.e.Location()
	for k, v := range pr.Attributes {
		if v.Kind == event.Time {
			v.Time = v.Time.In(loc)
			pr.Attributes[k] = v
		}
	}
	if len(pr.Attributes) == 0 {
		pr.Attributes = nil
	}
	pr.Tags = h.local(pr.Tags)
	if !pr.Stats.FirstOrder.IsZero() {
		pr.Stats.FirstOrder = pr.Stats.FirstOrder.In(loc)
		pr.Stats.LastOrder = pr.Stats.LastOrder.In(loc)
	}
	return pr, nil
}

// checkExpr checks that an expression is not the zero Expr and that every
// tag it names is declared.
func (h *Handle) checkExpr(e Expr) error {
	if h.p == nil {
		return ErrNotDefined
	}
	if e.op == "" {
		return fmt.Errorf("%w: empty", ErrSyntax)
	}
	return h.p.def.checkTags(e)
}

// checkCursor checks the cursor of a page of members (the After of
// Segment and Recompute): empty, or a member ID within the limits (see
// event.CheckID: at most event.MaxIDBytes bytes of valid UTF-8 without
// NUL), as the Next it came from is. The error wraps
// event.ErrInvalidArgument and names the field "after".
func checkCursor(after string) error {
	if after == "" {
		return nil
	}
	if err := event.CheckID(after); err != nil {
		return fmt.Errorf("%w: after: %w", event.ErrInvalidArgument, err)
	}
	return nil
}

// Segment returns a page of the members whose tags match q.Expr ("M and
// (vip or not churned)"), in member order, with the cursor of the next
// page. Its cost follows the members of the expression's least-populated
// tag (see the package comment), not the number of members. The error
// wraps ErrNotDefined, ErrSyntax (the zero Expr), ErrUnknownTag,
// event.ErrInvalidArgument (a cursor that is not a member ID: see
// checkCursor; a negative limit) or store.ErrCorrupt (a damaged count of
// a tag it names, as for Counts).
func (h *Handle) Segment(ctx context.Context, q SegmentQuery) (SegmentPage, error) {
	fail := func(err error) (SegmentPage, error) {
		return SegmentPage{}, fmt.Errorf("tag: segment %q: %w", q.Expr, err)
	}
	if err := h.checkExpr(q.Expr); err != nil {
		return fail(err)
	}
	if err := checkCursor(q.After); err != nil {
		return fail(err)
	}
	limit, err := event.PageSize(q.Limit, 100, 1000)
	if err != nil {
		return fail(err)
	}
	var page SegmentPage
	err = h.view(ctx, func(tx store.Tx) error {
		var err error
		page.Members, page.Next, err = segment(tx, q.Expr, q.After, limit)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}

// InSegment reports whether a member's tags match the expression e, as a
// coupon claim rule's segment (coupon.ClaimRule.Segment) or a task
// target's (task.Target.Segment) is matched. Errors as for Segment.
func (h *Handle) InSegment(ctx context.Context, member string, e Expr) (bool, error) {
	if err := h.checkExpr(e); err != nil {
		return false, fmt.Errorf("tag: segment %q: %w", e, err)
	}
	if err := event.CheckMember(member); err != nil {
		return false, fmt.Errorf("tag: segment %q: %w", e, err)
	}
	var tags []string
	err := h.view(ctx, func(tx store.Tx) error {
		var err error
		tags, err = tagNames(tx, member)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("tag: segment %q for %q: %w", e, member, err)
	}
	return e.Match(tags), nil
}

// Counts returns how many members hold each declared tag (manual tags and
// rules' tags), and each tag the definition no longer declares that
// members still hold (see Recompute to clear it), read from counters kept
// as tags change: its cost does not depend on the number of members. The
// error wraps ErrNotDefined, store.ErrCorrupt for a damaged count (its
// stripes sum to no whole number an int64 holds, or to a negative one),
// or the store's error.
func (h *Handle) Counts(ctx context.Context) (map[string]int64, error) {
	if h.p == nil {
		return nil, fmt.Errorf("tag: counts: %w", ErrNotDefined)
	}
	var out map[string]int64
	err := h.view(ctx, func(tx store.Tx) error {
		out = map[string]int64{} // a store may run the function again
		for _, m := range h.p.def.Manual {
			out[m.Name] = 0
		}
		for _, r := range h.p.def.Rules {
			out[r.Tag] = 0
		}
		return counts(tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("tag: counts: %w", err)
	}
	for n, c := range out {
		if c == 0 && !h.p.def.Declared(n) {
			delete(out, n)
		}
	}
	return out, nil
}
