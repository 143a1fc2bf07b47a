package coupon

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// Change kinds published by the coupon part. The data of the coupon.*
// kinds about one coupon (issued, locked, released, used, expired,
// revoked) is the [Coupon] after the change; of coupon.pack_issued a
// [PackIssued]; of coupon.claim_refused a [Refusal]. [EffectsOf] decodes
// them.
const (
	ChangeIssued       = "coupon.issued"
	ChangeClaimRefused = "coupon.claim_refused"
	ChangeLocked       = "coupon.locked"
	ChangeReleased     = "coupon.released"
	ChangeUsed         = "coupon.used"
	ChangeExpired      = "coupon.expired"
	ChangeRevoked      = "coupon.revoked"
	ChangePackIssued   = "coupon.pack_issued"
)

// Due kinds of the coupon part: a coupon's expiry, and the release of an
// order's locked coupons when its hold runs out.
const (
	dueExpire  = "coupon.expire"
	dueRelease = "coupon.release"
)

// Refusal is the data of a coupon.claim_refused change: a gift or task
// reward that could not be issued, and why. The event that caused it
// still succeeds.
type Refusal struct {
	Template string `json:"template,omitempty"`
	Pack     string `json:"pack,omitempty"`
	Count    int    `json:"count,omitempty"`
	Method   Method `json:"method"`
	// Cause is the refusal: "out_of_stock", "limit_reached",
	// "not_eligible" or "outside_period"; Error the full message.
	Cause string `json:"cause"`
	Error string `json:"error"`
}

// refusalCause names a claim refusal, or "" for an error that is not one.
func refusalCause(err error) string {
	switch {
	case errors.Is(err, ErrOutOfStock):
		return "out_of_stock"
	case errors.Is(err, ErrLimitReached):
		return "limit_reached"
	case errors.Is(err, ErrNotEligible):
		return "not_eligible"
	case errors.Is(err, ErrOutsidePeriod):
		return "outside_period"
	}
	return ""
}

// part is the coupon domain's engine.Part: event gifts, rewards (level
// gifts, task rewards), expiries and the release of held orders.
type part struct {
	def *Definition
	loc *time.Location
	// segs are the claim segments of def's templates and packs, parsed
	// once here rather than on every claim.
	segs segments
	// codes and random amounts are drawn from the unit's source
	// (engine.Unit.Rand), which the input journal records
}

var (
	_ engine.Part     = (*part)(nil)
	_ engine.Rewarder = (*part)(nil)
)

// book returns the book over u's transaction, keeping the shared totals
// in the stripes of u's engine.
func (c *part) book(u *engine.Unit) *Book {
	b := newBook(u.Tx(), c.def, c.loc, u)
	b.segs = c.segs
	return b
}

func (c *part) DueKinds() []string { return []string{dueExpire, dueRelease} }

// MemberBuckets implements engine.MemberKeyed.
func (c *part) MemberBuckets() []string { return []string{bMembers} }

// MemberRecords implements engine.Recorder: the coupons the member holds
// or held, and the claim limits' counters of templates and packs.
func (c *part) MemberRecords(dst []store.Read, member string) []store.Read {
	dst = append(dst, engine.MemberRange(bMembers, member))
	for _, kind := range []string{"t", "p"} { // limitScope's
		p := sep(kind, member, "")
		dst = append(dst, store.Read{Bucket: bLimits, Start: p, End: store.PrefixEnd(p)})
	}
	return dst
}

// Due releases an order's coupons when its hold runs out (nothing when
// they were used or released meanwhile, nor those locked again since with
// a later hold or none), or expires a coupon.
func (c *part) Due(u *engine.Unit, it engine.Item) error {
	if it.Kind == dueRelease {
		cs, err := c.book(u).holdRunsOut(it.ID, u.At())
		if err != nil || len(cs) == 0 {
			return err
		}
		return c.emitOrder(u, cs, it.ID, ChangeReleased, "hold ran out")
	}
	cp, changed, err := c.book(u).expire(it.ID, u.At())
	if err != nil || !changed {
		return err
	}
	return u.Emit(ChangeExpired, cp.Member, cp, &rule.Reason{
		Rule: "coupon." + cp.Template, Note: "validity ended " + cp.Expires.In(c.loc).Format(time.RFC3339),
	})
}

// holdsRanOut performs, at their own instants, the holds of an order's
// locks that ran out by u.At() but that Advance has not performed yet, as
// Advance would (Due), and cancels their due items: a request dated after
// a hold ran out (a Use, a lock of the coupon for another order) finds the
// order's coupons released whether or not Advance ran. A lock made before
// the order index kept holds (an empty value) is left to Advance.
func (c *part) holdsRanOut(u *engine.Unit, order string) error {
	var untils []time.Time
	prefix := sep(order, "")
	err := u.Tx().Scan(bOrders, prefix, store.PrefixEnd(prefix), false, func(_, v []byte) error {
		until, legacy, err := holdEnd(v)
		if legacy || err != nil {
			return err
		}
		if !until.IsZero() && !until.After(u.At()) && !slices.ContainsFunc(untils, until.Equal) {
			untils = append(untils, until)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(untils, time.Time.Compare)
	for _, until := range untils {
		it := engine.Item{At: until, Kind: dueRelease, ID: order}
		if err := c.Due(u.As(until, ledger.Ref{Note: "due " + dueRelease}), it); err != nil {
			return err
		}
		if err := u.Unschedule(until, dueRelease, order); err != nil {
			return err
		}
	}
	return nil
}

// holdOfRanOut is holdsRanOut for the order a coupon of member is locked
// for, if it is; a coupon that is not there, or another member's, is left
// to the caller to refuse.
func (c *part) holdOfRanOut(u *engine.Unit, id, member string) error {
	cp, err := c.book(u).Get(id)
	if err != nil || cp.State != Locked || (member != "" && cp.Member != member) {
		return nil
	}
	return c.holdsRanOut(u, cp.Order)
}

// Process issues the definition's gifts for the event's type.
func (c *part) Process(u *engine.Unit, ev event.Event) error {
	for i, g := range c.def.Gifts {
		if g.Event != ev.Type {
			continue
		}
		why := rule.Reason{Rule: fmt.Sprintf("coupons.gifts[%d]", i), Inputs: map[string]string{"event": ev.Type}}
		r := rule.Reward{Kind: rule.RewardCoupon, Template: g.Template, Count: g.Count}
		if g.Pack != "" {
			r = rule.Reward{Kind: rule.RewardPack, Pack: g.Pack}
		}
		// A gift refused (out of stock) is published; the event goes on.
		if err := c.grant(u, ev.Member, r, System, why); err != nil && !errors.Is(err, engine.ErrRewardRefused) {
			return err
		}
	}
	return nil
}

func (c *part) RewardKinds() []rule.RewardKind {
	return []rule.RewardKind{rule.RewardCoupon, rule.RewardPack}
}

// Reward issues a level gift or a task reward by the claim method of its
// source (MethodOf: Task for a task's reward, System for a level's gift).
// A refusal is recorded as a coupon.claim_refused change and returned
// wrapping engine.ErrRewardRefused, which does not fail the event: the
// level part keeps a refused gift owed, the task part goes on.
func (c *part) Reward(u *engine.Unit, member string, r rule.Reward, from rule.Source, why rule.Reason) error {
	return c.grant(u, member, r, MethodOf(from.Kind), why)
}

// grant issues r to member by method m. A refusal (out of stock, a limit
// reached, not eligible, outside the claim period) is published as
// ChangeClaimRefused and returned wrapping engine.ErrRewardRefused.
func (c *part) grant(u *engine.Unit, member string, r rule.Reward, m Method, why rule.Reason) error {
	var err error
	if r.Kind == rule.RewardPack {
		_, err = c.issuePack(u, member, r.Pack, m, nil, &why)
	} else {
		_, err = c.issue(u, member, r.Template, r.Coupons(), m, &why)
	}
	cause := refusalCause(err)
	if cause == "" {
		return err
	}
	why.Note = err.Error()
	if eerr := u.Emit(ChangeClaimRefused, member, Refusal{
		Template: r.Template, Pack: r.Pack, Count: r.Count, Method: m, Cause: cause, Error: err.Error(),
	}, &why); eerr != nil {
		return eerr
	}
	return fmt.Errorf("%w: %w", engine.ErrRewardRefused, err)
}

// facts reads the member's level and tags when the rule has conditions.
func (c *part) facts(u *engine.Unit, member string, cr ClaimRule) (Facts, error) {
	var f Facts
	if !cr.NeedsFacts() {
		return f, nil
	}
	var err error
	if f.Level, err = u.MemberLevel(member); err != nil {
		return f, err
	}
	f.Tags, err = u.MemberTags(member)
	return f, err
}

// issue issues coupons of a template and publishes them; why is the
// reason of a gift, a reward or an operator's claim (nil: the template's).
func (c *part) issue(u *engine.Unit, member, template string, n int, m Method, why *rule.Reason) ([]Coupon, error) {
	tpl, ok := c.def.Template(template)
	if !ok {
		return nil, fmt.Errorf("issue %s: %w", template, ErrUnknownTemplate)
	}
	f, err := c.facts(u, member, tpl.Claim)
	if err != nil {
		return nil, err
	}
	cs, err := c.book(u).issue(issueReq{Member: member, Template: template, Count: n, Method: m, At: u.At(), Facts: f, Rand: u.Rand(), IDs: u})
	if err != nil {
		return nil, err
	}
	for _, cp := range cs {
		if err := c.issued(u, cp, why); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// issued schedules a new coupon's expiry and emits coupon.issued.
func (c *part) issued(u *engine.Unit, cp Coupon, why *rule.Reason) error {
	if !cp.Expires.IsZero() {
		if err := u.Schedule(cp.Expires, dueExpire, cp.ID, nil); err != nil {
			return err
		}
	}
	r := &rule.Reason{Rule: "coupon." + cp.Template, Inputs: map[string]string{"method": string(cp.Method)}}
	if why != nil {
		rw := *why
		r = &rw
	}
	if cp.Pack != "" && why == nil {
		r.Inputs["pack"] = cp.Pack
	}
	if cp.Type == Random {
		// The reason's inputs may be a gift's or a reward's, shared by
		// every coupon it issues: the drawn amount goes in a copy.
		in := make(map[string]string, len(r.Inputs)+1)
		maps.Copy(in, r.Inputs)
		in["drawn"] = cp.Amount.String()
		r.Inputs = in
	}
	return u.Emit(ChangeIssued, cp.Member, cp, r)
}

// issuePack gives a pack and publishes its coupons and the pack; op, when
// set, adds an operator and a note to the pack's reason. why, when set,
// is the reason of the gift or reward that gives the pack: the pack's
// change and its coupons' take it, with the pack (and for the pack's, the
// method and mode) added to its inputs, as a template's coupons given as
// a gift or reward take it; else they have the pack's own reason
// ("pack.<name>") and the template's ("coupon.<template>").
func (c *part) issuePack(u *engine.Unit, member, pack string, m Method, op *operator, why *rule.Reason) (PackIssued, error) {
	pk, ok := c.def.Pack(pack)
	if !ok {
		return PackIssued{}, fmt.Errorf("issue pack %s: %w", pack, ErrUnknownTemplate)
	}
	f, err := c.facts(u, member, pk.Claim)
	if err != nil {
		return PackIssued{}, err
	}
	res, err := c.book(u).issuePack(packReq{Member: member, Pack: pack, Method: m, At: u.At(), Facts: f, Rand: u.Rand(), IDs: u})
	if err != nil {
		return res, err
	}
	var each *rule.Reason
	if why != nil {
		each = withInputs(*why, "pack", pack)
	}
	for _, cp := range res.Coupons {
		if err := c.issued(u, cp, each); err != nil {
			return res, err
		}
	}
	r := &rule.Reason{Rule: "pack." + pack, Inputs: map[string]string{"method": string(m), "mode": string(pk.Mode)}}
	if why != nil {
		r = withInputs(*why, "pack", pack, "method", string(m), "mode", string(pk.Mode))
	}
	op.add(r)
	if len(res.Short) > 0 {
		r.Note = joinNote(r.Note, "some templates ran out; the pack holds what was left")
	}
	return res, u.Emit(ChangePackIssued, member, res, r)
}

// withInputs returns r with the key-value pairs kv added to a copy of its
// inputs (r's map may be shared by other reasons).
func withInputs(r rule.Reason, kv ...string) *rule.Reason {
	in := make(map[string]string, len(r.Inputs)+len(kv)/2)
	maps.Copy(in, r.Inputs)
	for i := 0; i+1 < len(kv); i += 2 {
		in[kv[i]] = kv[i+1]
	}
	r.Inputs = in
	return &r
}

// operator is who made an operator's request, and their note, for the
// reasons of the changes it makes.
type operator struct{ name, note string }

// add records the operator and the note in a reason (nothing for a nil or
// empty operator).
func (o *operator) add(r *rule.Reason) {
	if o == nil {
		return
	}
	if o.name != "" {
		if r.Inputs == nil {
			r.Inputs = map[string]string{}
		}
		r.Inputs["operator"] = o.name
	}
	r.Note = joinNote(r.Note, o.note)
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// emitOrder emits kind (coupon.expired for a coupon that expired while
// locked) for each coupon of an order. A coupon released to available
// has its expiry scheduled again: a release dated before the expiry may
// come after Advance performed it, which leaves a locked coupon alone,
// and the coupon would then never expire. The due item's key is its time,
// kind and coupon, so an expiry still pending is written again unchanged.
func (c *part) emitOrder(u *engine.Unit, cs []Coupon, order, kind, note string) error {
	for _, cp := range cs {
		k := kind
		switch {
		case cp.State == Expired:
			k = ChangeExpired
		case cp.State == Available && !cp.Expires.IsZero():
			if err := u.Schedule(cp.Expires, dueExpire, cp.ID, nil); err != nil {
				return err
			}
		}
		u.Outcome().Member = cp.Member
		if err := u.Emit(k, cp.Member, cp, &rule.Reason{Rule: "coupon." + cp.Template, Inputs: map[string]string{"order": order}, Note: note}); err != nil {
			return err
		}
	}
	return nil
}
