package tag

import (
	"fmt"
	"strings"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// The due kinds re-evaluating a member's windowed rules at the edge of a
// window: dueWindowAt's IDs are stamped (due.Stamp) with the time the edge
// was scheduled, so that a day's edges are appended to their instant's
// items (engine.Unit.StampDue); dueWindow's are the member's ID.
const (
	dueWindow   = "tag.window"
	dueWindowAt = "tag.at"
)

// part is the tag domain's share of processing: it keeps the statistics
// from events, evaluates the rules after every event of a member, after a
// profile change and after another domain changed the member outside an
// event, and answers the other domains' questions about a member's tags.
type part struct {
	def Definition
	// ruleIDs name the rules in reasons, "tags.rules[i]" (made once: a
	// reason is made for every change).
	ruleIDs []string
}

var (
	_ engine.Part     = (*part)(nil)
	_ engine.Follower = (*part)(nil)
	_ engine.Tags     = (*part)(nil)
)

// Tags returns the member's tags, for the other domains. In a unit that
// may write it first performs the member's window edges due by the unit's
// time that Advance has not performed, as the level part performs term
// ends, so that a request (a coupon claim's tag condition) or an event (a
// task's target) reads the tags the member holds at its time whether or
// not Advance ran; in a view it reads the tags as stored.
func (p *part) Tags(u *engine.Unit, member string) ([]string, error) {
	if !u.ReadOnly() {
		if err := p.catchUp(u, member); err != nil {
			return nil, err
		}
	}
	return tagNames(u.Tx(), member)
}

// catchUp performs, at their own instants, the member's window edges that
// fell due at or before u.At() but that Advance has not performed yet.
// Each evaluation schedules the next edge strictly after its own, so the
// loop ends; the item of an edge performed here is cancelled.
func (p *part) catchUp(u *engine.Unit, member string) error {
	if p.def.MaxDays() == 0 {
		return nil
	}
	for {
		s, err := loadState(u.Tx(), member)
		if err != nil || s.edge.At.IsZero() || u.At().Before(s.edge.At) {
			return err
		}
		kind, id := s.edge.item(member)
		if err := u.Unschedule(s.edge.At, kind, id); err != nil {
			return err
		}
		at := s.edge.At
		s.edge, s.changed = edge{}, true
		if _, _, err := p.evaluate(u.As(at, ledger.Ref{Note: "due " + kind}), member, nil, &s); err != nil {
			return err
		}
	}
}

// DueKinds lists the window edge's kinds.
func (p *part) DueKinds() []string { return []string{dueWindow, dueWindowAt} }

// MemberRecords implements engine.Recorder: the member's mark in
// tag.members, written (touch, loadKnown) before any other record of
// theirs, which a recompute reaches through it.
func (p *part) MemberRecords(dst []store.Read, member string) []store.Read {
	return append(dst, store.Read{Bucket: bMembers, Key: []byte(member)})
}

// MemberBuckets implements engine.MemberKeyed. bMembers is not among
// them: listing members scans it across members, which in a colocated
// bucket walks every member's other records too.
func (p *part) MemberBuckets() []string {
	return []string{bAssigned, bStats, bDays, bAttrs, bEdge}
}

// Due re-evaluates a member's rules at a window edge; the next edge is
// scheduled by the evaluation.
func (p *part) Due(u *engine.Unit, it engine.Item) error {
	member := it.ID
	if it.Kind == dueWindowAt {
		var ok bool
		if member, ok = due.Unstamp(it.ID); !ok {
			return fmt.Errorf("tag: %w: due item id %q has no stamp", errRecord, it.ID)
		}
	}
	s, err := loadState(u.Tx(), member)
	if err != nil {
		return err
	}
	s.edge, s.changed = edge{}, true // the item is done
	_, _, err = p.evaluate(u, member, nil, &s)
	return err
}

// Follows reports whether a change calls for re-evaluating the member's
// rules: any change but the tag part's own.
func (p *part) Follows(kind string) bool { return !strings.HasPrefix(kind, "tag.") }

// Follow re-evaluates a member's rules after a change made outside an
// event (a level changed at a term end or by an operator). The member is
// recorded as known, so a later recompute reaches them.
func (p *part) Follow(u *engine.Unit, member string) error {
	s, err := loadKnown(u.Tx(), member)
	if err != nil {
		return err
	}
	_, _, err = p.evaluate(u, member, nil, &s)
	return err
}

// loadKnown loads the member's state and records the member as known, so a
// recompute reaches them: one with a record of its state is known already
// (it was recorded first). touch reads tag.members, which is not kept by
// member (a recompute walks it whole): in a large file a seek of its own,
// 5% of what an order cost the writer at a million members.
func loadKnown(tx store.Tx, member string) (state, error) {
	s, err := loadState(tx, member)
	if err == nil && !s.known {
		err = touch(tx, member)
	}
	return s, err
}

// Process keeps the statistics of an order, a recharge or a withdrawal and
// re-evaluates the member's rules. A recharge that would take the member's
// recharge total past the limit on decimals fails the event with an error
// wrapping event.ErrTooLarge.
func (p *part) Process(u *engine.Unit, ev event.Event) error {
	tx := u.Tx()
	s, err := loadKnown(tx, ev.Member)
	if err != nil {
		return err
	}
	if o := p.def.Orders; o != nil && ev.Type == o.Event {
		ord, _ := o.Order(ev)
		s.stats.AddOrder(ord)
		if err := s.addDay(tx, ev.Member, ord, rule.DateOf(ord.Time, u.Location())); err != nil {
			return err
		}
		s.changed = true
	}
	if r := p.def.Recharge; r != nil && ev.Type == r.Event {
		amt, _ := r.Recharged(ev)
		s.stats.AddRecharge(amt)
		// Each amount keeps to the limit on decimals, their sum may not:
		// the error undoes the event with the rest of the unit. The sum
		// counts as it reads (9e39 plus 1.00 is 9000…001, 40 digits).
		if err := engine.CheckLimit(s.stats.Recharged); err != nil {
			return fmt.Errorf("tag: member %q's recharge total would be %s: %w", ev.Member, s.stats.Recharged, err)
		}
		s.changed = true
	}
	if r := p.def.Recharge; r != nil {
		if amt, ok := r.Withdrawn(ev); ok {
			s.stats.AddWithdrawal(amt)
			s.changed = true
		}
	}
	_, _, err = p.evaluate(u, ev.Member, nil, &s)
	return err
}

// member loads what the rules read about a member at u.At(), s being the
// member's state.
func (p *part) member(u *engine.Unit, member string, s *state) (Member, error) {
	m := Member{Stats: s.stats}
	var err error
	tx := u.Tx()
	if m.Attrs, err = loadAttrs(tx, member); err != nil {
		return m, err
	}
	if m.Level, err = u.MemberCurrentLevel(member); err != nil {
		return m, err
	}
	if n := p.def.MaxDays(); n > 0 {
		today := rule.DateOf(m.Now(u.At()), u.Location())
		if m.Days, err = s.days(tx, member, today.AddDays(-(n - 1)), today); err != nil {
			return m, err
		}
	} else if err := s.forget(tx, member); err != nil {
		return m, err
	}
	return m, nil
}

// evaluate applies the rules (all, or only one) to a member at u.At(),
// schedules the member's next window edge and saves the member's state;
// s is the state when the caller loaded it (nil: evaluate loads it). It
// returns how many tags it added and removed.
func (p *part) evaluate(u *engine.Unit, member string, only *Rule, s *state) (added, removed int, err error) {
	if s == nil {
		st, err := loadState(u.Tx(), member)
		if err != nil {
			return 0, 0, err
		}
		s = &st
	}
	m, err := p.member(u, member, s)
	if err != nil {
		return 0, 0, err
	}
	now, loc := m.Now(u.At()), u.Location()
	for i, r := range p.def.Rules {
		if only != nil && r.Tag != only.Tag {
			continue
		}
		match := p.def.Match(r, m, now, loc)
		if match == s.has(r.Tag) {
			continue
		}
		why := &rule.Reason{Rule: p.ruleIDs[i], Note: "tag " + r.Tag, Inputs: p.def.Explain(r, m, now, loc)}
		if match {
			if err := s.give(u, member, Assigned{Tag: r.Tag, By: "rule", At: u.At().UTC(), Event: u.Ref().Event}); err != nil {
				return added, removed, err
			}
			added++
			if err := u.Emit(ChangeAdded, member, Change{Tag: r.Tag, By: "rule"}, why); err != nil {
				return added, removed, err
			}
			continue
		}
		if err := s.take(u, member, r.Tag); err != nil {
			return added, removed, err
		}
		removed++
		if err := u.Emit(ChangeRemoved, member, Change{Tag: r.Tag, By: "rule"}, why); err != nil {
			return added, removed, err
		}
	}
	if err := p.reschedule(u, member, m, s); err != nil {
		return added, removed, err
	}
	return added, removed, s.save(u.Tx(), member)
}

// recompute evaluates one rule for a member at u.At() (Handle.Recompute)
// and reports whether the member gained or lost its tag (1 or 0 each).
// The evaluation schedules the member's next window edge for every rule,
// so it first performs, at their own instants, the member's edges due by
// u.At() that Advance has not performed (catchUp): rescheduling would
// otherwise drop such an edge, and with it the change another rule's
// window was to make there (a "recent" tag kept for good).
func (p *part) recompute(u *engine.Unit, member string, only *Rule) (added, removed int, err error) {
	s, err := loadState(u.Tx(), member)
	if err != nil {
		return 0, 0, err
	}
	had := s.has(only.Tag)
	if !s.edge.At.IsZero() && !u.At().Before(s.edge.At) {
		if err := p.catchUp(u, member); err != nil {
			return 0, 0, err
		}
		if s, err = loadState(u.Tx(), member); err != nil {
			return 0, 0, err
		}
	}
	if _, _, err := p.evaluate(u, member, only, &s); err != nil {
		return 0, 0, err
	}
	switch has := s.has(only.Tag); {
	case has && !had:
		added = 1
	case had && !has:
		removed = 1
	}
	return added, removed, nil
}

// clear takes from a member a tag the definition no longer declares, when
// the member holds it (Handle.Recompute of such a tag), and returns how
// many tags it removed (0 or 1).
func (p *part) clear(u *engine.Unit, member, tag string) (int, error) {
	ok, err := unassign(u, member, tag)
	if err != nil || !ok {
		return 0, err
	}
	why := &rule.Reason{Rule: "tags.undeclared", Note: "tag " + tag + ": declared by no rule nor as manual"}
	return 1, u.Emit(ChangeRemoved, member, Change{Tag: tag, By: "rule"}, why)
}

// reschedule keeps one due item per member at its next window edge.
func (p *part) reschedule(u *engine.Unit, member string, m Member, s *state) error {
	if p.def.MaxDays() == 0 {
		return nil
	}
	next := p.def.Edge(m, m.Now(u.At()), u.Location())
	old := s.edge
	if old.At.Equal(next) {
		return nil
	}
	if !old.At.IsZero() {
		kind, id := old.item(member)
		if err := u.Unschedule(old.At, kind, id); err != nil {
			return err
		}
	}
	e := edge{At: next}
	if u.StampDue() {
		e.Scheduled = u.At()
	}
	if !next.IsZero() {
		kind, id := e.item(member)
		if err := u.Schedule(next, kind, id, nil); err != nil {
			return err
		}
	}
	s.edge, s.changed = e, true
	return nil
}
