// Package tally is the part the two example programs share: a consumer of
// a program's change feed that sums what the host was told (points,
// growth, stored value, coupons, tags, tasks), the checks that compare
// those sums with the ledger and the coupon statistics, the checks made
// member by member (statements, levels, coupons: CheckMembers), of the
// operator's page (CheckPage) and of the feed holding each change once
// (CheckFeed), and all three with the program's Check at the end of a run
// (CheckEnd); the host's queue of events sent on later days (late
// deliveries, refunds, retries that must come back Duplicate: Queue) and
// the checks of what followed the sales (erased members, refunded orders:
// CheckAfter); and small printing helpers. It uses only the public API,
// as a host's own reporting would.
package tally

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// Tally is what a host learns from the change feed, summed.
type Tally struct {
	// Seq is the feed position read up to.
	Seq uint64
	// Kinds counts the changes per kind.
	Kinds map[string]int64
	// Points sums, per point program, the change into members' accounts
	// per ledger kind, signed as Ledger.Totals gives it.
	Points map[string]map[ledger.Kind]decimal.Decimal
	// Growth and Value sum growth and stored value the same way.
	Growth map[ledger.Kind]decimal.Decimal
	Value  map[ledger.Kind]decimal.Decimal
	// Issued counts coupons issued per template; Used, Off the coupons
	// used and their amount off per store; Expired the coupons expired.
	Issued  map[string]int64
	Used    map[string]int64
	Off     map[string]decimal.Decimal
	Expired int64
	// Refused counts gifts and rewards refused, per template or pack and
	// cause ("pack:spring/out_of_stock").
	Refused map[string]int64
	// Packs counts packs given, and the coupons short in them.
	Packs      map[string]int64
	PackShort  map[string]int64
	Tags       map[string]int64
	Tasks      map[string]int64
	Achieved   map[string]int64
	LevelMoves map[string]int64
	Frozen     int64
	Unfrozen   int64
	Returned   int64
	// Blocked, FrozenPts and Restored sum, per point program, what risk
	// control blocked, froze and what operators restored.
	Blocked   map[string]decimal.Decimal
	FrozenPts map[string]decimal.Decimal
	Restored  map[string]decimal.Decimal
	// Live holds each member's live coupons by ID, so the host only asks
	// Checkout for members who hold some, and knows their codes.
	Live map[string]map[string]coupon.Coupon
	// Repeats lists what the feed held more than once (a change with the
	// same kind, member, event, time and data as an earlier one) or out
	// of place (a position that does not follow the one before); seen
	// holds the changes read, for that.
	Repeats []string
	seen    map[string]uint64
}

// New returns an empty tally.
func New() *Tally {
	return &Tally{
		Kinds: map[string]int64{}, Points: map[string]map[ledger.Kind]decimal.Decimal{},
		Growth: map[ledger.Kind]decimal.Decimal{}, Value: map[ledger.Kind]decimal.Decimal{},
		Issued: map[string]int64{}, Used: map[string]int64{}, Off: map[string]decimal.Decimal{},
		Refused: map[string]int64{}, Packs: map[string]int64{}, PackShort: map[string]int64{},
		Tags: map[string]int64{}, Tasks: map[string]int64{}, Achieved: map[string]int64{},
		LevelMoves: map[string]int64{}, Live: map[string]map[string]coupon.Coupon{},
		Blocked: map[string]decimal.Decimal{}, FrozenPts: map[string]decimal.Decimal{}, Restored: map[string]decimal.Decimal{},
		seen: map[string]uint64{},
	}
}

// Consume reads the feed from Seq to its end and adds every change.
func (t *Tally) Consume(ctx context.Context, p *membership.Program) error {
	for {
		cs, err := p.Feed(ctx, t.Seq, 10000)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		if err := t.add(cs); err != nil {
			return fmt.Errorf("feed after %d: %w", t.Seq, err)
		}
		t.Seq = cs[len(cs)-1].Seq
	}
}

func (t *Tally) pts(program string, k ledger.Kind, d decimal.Decimal) {
	m := t.Points[program]
	if m == nil {
		m = map[ledger.Kind]decimal.Decimal{}
		t.Points[program] = m
	}
	m[k] = m[k].Add(d)
}

// add sums a page of the feed. The page is read as one outcome, so each
// domain's EffectsOf decodes its own changes (the host decodes nothing by
// hand); within a domain the effects keep the feed's order.
func (t *Tally) add(cs []change.Change) error {
	last := t.Seq
	for _, c := range cs {
		t.Kinds[c.Kind]++
		if c.Seq != last+1 {
			t.Repeats = append(t.Repeats, fmt.Sprintf("change %d (%s of %s) follows %d", c.Seq, c.Kind, c.Member, last))
		}
		last = c.Seq
		key := strings.Join([]string{c.Kind, c.Member, c.Event, c.Time.UTC().Format(time.RFC3339Nano), string(c.Data)}, "\x00")
		if first, ok := t.seen[key]; ok {
			t.Repeats = append(t.Repeats, fmt.Sprintf("change %d (%s of %s, event %q) repeats change %d", c.Seq, c.Kind, c.Member, c.Event, first))
		} else {
			t.seen[key] = c.Seq
		}
	}
	out := &change.Outcome{Time: cs[0].Time, Changes: cs}
	pf, err := points.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, e := range pf.Changes {
		switch e.Kind {
		case points.ChangeEarned, points.ChangePending:
			t.pts(e.Program, points.KindEarned, e.Amount)
		case points.ChangeRedeemed:
			t.pts(e.Program, points.KindRedeemed, e.Amount.Neg())
		case points.ChangeExpired:
			t.pts(e.Program, points.KindExpired, e.Amount.Neg())
		case points.ChangeVoided:
			t.pts(e.Program, points.KindVoided, e.Amount.Neg())
		case points.ChangeReversed:
			t.pts(e.Program, points.KindReversed, e.Amount)
		case points.ChangeAdjusted:
			t.pts(e.Program, points.KindAdjusted, e.Amount)
		case points.ChangeBlocked:
			t.Blocked[e.Program] = t.Blocked[e.Program].Add(e.Amount)
		case points.ChangeFrozen:
			t.FrozenPts[e.Program] = t.FrozenPts[e.Program].Add(e.Amount)
		case points.ChangeRestored:
			t.Restored[e.Program] = t.Restored[e.Program].Add(e.Amount)
		case points.ChangeExchanged:
			t.pts(e.Program, points.KindExchanged, e.Amount.Neg())
			t.pts(e.To, points.KindExchanged, e.ToAmount)
		}
	}
	lf, err := level.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, g := range lf.Growth {
		t.Growth[g.Kind] = t.Growth[g.Kind].Add(g.Amount)
	}
	for _, l := range lf.Levels {
		if l.From != "" && l.From != l.To { // a join or a kept term is not a move
			t.LevelMoves[string(l.Cause)+" "+l.From+"→"+l.To]++
		}
	}
	t.Frozen += int64(len(lf.Frozen))
	for _, u := range lf.Unfrozen {
		t.Unfrozen++
		if u.Returned {
			t.Returned++
		}
	}
	vf, err := value.EffectsOf(out)
	if err != nil {
		return err
	}
	t.Value[value.KindRecharge] = t.Value[value.KindRecharge].Add(vf.Recharged)
	t.Value[value.KindSpend] = t.Value[value.KindSpend].Sub(vf.Spent)
	t.Value[value.KindRefund] = t.Value[value.KindRefund].Add(vf.Refunded)
	cf, err := coupon.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, r := range cf.Refused {
		name := "coupon:" + r.Template
		if r.Pack != "" {
			name = "pack:" + r.Pack
		}
		t.Refused[name+"/"+r.Cause]++
	}
	for _, pk := range cf.Packs {
		t.Packs[pk.Pack]++
		for _, s := range pk.Short {
			t.PackShort[pk.Pack+"/"+s.Template] += int64(s.Count)
		}
	}
	// A coupon is issued before it is used, expired or revoked, so adding
	// the page's issues first leaves the same live coupons.
	for _, d := range cf.Issued {
		t.Issued[d.Template]++
		live := t.Live[d.Member]
		if live == nil {
			live = map[string]coupon.Coupon{}
			t.Live[d.Member] = live
		}
		live[d.ID] = d
	}
	for _, d := range cf.Used {
		t.Used[d.Store]++
		t.Off[d.Store] = t.Off[d.Store].Add(d.AmountOff)
		delete(t.Live[d.Member], d.ID)
	}
	for _, d := range cf.Expired {
		t.Expired++
		delete(t.Live[d.Member], d.ID)
	}
	for _, d := range cf.Revoked {
		delete(t.Live[d.Member], d.ID)
	}
	tf, err := tag.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, e := range tf.Added {
		t.Tags[e.Tag]++
	}
	for _, e := range tf.Removed {
		t.Tags[e.Tag]--
	}
	kf, err := task.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, d := range kf.Completed {
		t.Tasks[d.Task]++
	}
	bf, err := benefit.EffectsOf(out)
	if err != nil {
		return err
	}
	for _, g := range bf.Achievements {
		t.Achieved[g.Achievement]++
	}
	return nil
}

// Checks collects the mismatches between the report and the ledger.
type Checks struct {
	N        int
	Failures []string
}

// Decimal records a check that two amounts are equal.
func (c *Checks) Decimal(what string, report, ledger decimal.Decimal) {
	c.N++
	if !report.Equal(ledger) {
		c.Failures = append(c.Failures, fmt.Sprintf("%s: report %s, ledger %s", what, report, ledger))
	}
}

// Int records a check that two counts are equal.
func (c *Checks) Int(what string, report, ledger int64) {
	c.N++
	if report != ledger {
		c.Failures = append(c.Failures, fmt.Sprintf("%s: report %d, ledger %d", what, report, ledger))
	}
}

// True records a check that must hold.
func (c *Checks) True(what string, ok bool) {
	c.N++
	if !ok {
		c.Failures = append(c.Failures, what)
	}
}

// Err returns an error listing the failures, or nil.
func (c *Checks) Err() error {
	if len(c.Failures) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d reconciliation checks failed:\n  %s", len(c.Failures), c.N, strings.Join(c.Failures, "\n  "))
}

// Reconcile compares the tally with the program's ledger and coupon
// statistics: per point program every kind against Totals, the identity
// of the points Reconciliation, growth and stored value per kind, and the
// coupons issued, used, expired and amount off per store against the
// coupon Stats. It returns the ledger's points totals per program.
func (t *Tally) Reconcile(ctx context.Context, p *membership.Program, c *Checks) (map[string]points.Reconciliation, error) {
	out := map[string]points.Reconciliation{}
	def := p.Definition()
	if def.Points != nil {
		for _, prog := range def.Points.Programs {
			tot, err := p.Totals(ctx, ledger.Points(prog.Name), "", "")
			if err != nil {
				return nil, err
			}
			kinds := []ledger.Kind{points.KindEarned, points.KindRedeemed, points.KindReversed,
				points.KindExpired, points.KindVoided, points.KindAdjusted, points.KindExchanged}
			for _, k := range kinds {
				c.Decimal(fmt.Sprintf("points %s %s", prog.Name, k), t.Points[prog.Name][k], tot[k])
			}
			r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: prog.Name})
			if err != nil {
				return nil, err
			}
			c.True(fmt.Sprintf("points %s: reconciliation identity", prog.Name), r.Holds())
			out[prog.Name] = r
		}
	}
	if def.Levels != nil && len(def.Levels.Ladder) > 0 {
		tot, err := p.Totals(ctx, ledger.Growth, "", "")
		if err != nil {
			return nil, err
		}
		for _, k := range []ledger.Kind{level.KindEarned, level.KindRewarded, level.KindReversed, level.KindRebased} {
			c.Decimal("growth "+string(k), t.Growth[k], tot[k])
		}
	}
	if def.StoredValue != nil {
		tot, err := p.Totals(ctx, ledger.Value, "", "")
		if err != nil {
			return nil, err
		}
		for _, k := range []ledger.Kind{value.KindRecharge, value.KindSpend, value.KindRefund} {
			c.Decimal("stored value "+string(k), t.Value[k], tot[k])
		}
	}
	if def.Coupons != nil {
		st, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			return nil, err
		}
		for _, tpl := range def.Coupons.Templates {
			c.Int("coupons issued "+tpl.Name, t.Issued[tpl.Name], st.ByTemplate[tpl.Name].Issued)
		}
		for _, s := range Keys(st.ByStore, t.Used) {
			if s == "" {
				continue // issues and expiries happen at no store
			}
			c.Int("coupons used at "+s, t.Used[s], st.ByStore[s].Used)
			c.Decimal("amount off at "+s, t.Off[s], st.ByStore[s].AmountOff)
		}
		c.Int("coupons expired", t.Expired, st.Total.Expired)
	}
	return out, nil
}

// CheckFeed records a check that the feed held each change once, in
// order (see Repeats).
func (t *Tally) CheckFeed(c *Checks) {
	c.True(fmt.Sprintf("the feed holds each change once, in order (%d changes read)", len(t.seen)), len(t.Repeats) == 0)
	for _, r := range t.Repeats {
		c.True("feed: "+r, false)
	}
}

// CheckTags compares the tag counts from the feed with the program's own
// counts per tag.
func (t *Tally) CheckTags(ctx context.Context, p *membership.Program, names []string, c *Checks) error {
	counts, err := p.Tags().Counts(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		c.Int("members tagged "+name, t.Tags[name], counts[name])
	}
	return nil
}

// SegmentSize counts the members of a segment by paging through it.
func SegmentSize(ctx context.Context, p *membership.Program, expr string) (int64, error) {
	var n int64
	err := segment(ctx, p, expr, func(ms []string) { n += int64(len(ms)) })
	return n, err
}

// Segment lists every member of a segment.
func Segment(ctx context.Context, p *membership.Program, expr string) ([]string, error) {
	var out []string
	err := segment(ctx, p, expr, func(ms []string) { out = append(out, ms...) })
	return out, err
}

// segment pages through a segment, passing each page's members to f.
func segment(ctx context.Context, p *membership.Program, expr string, f func([]string)) error {
	e, err := tag.Parse(expr)
	if err != nil {
		return err
	}
	q := tag.SegmentQuery{Expr: e, Limit: 1000}
	for {
		page, err := p.Tags().Segment(ctx, q)
		if err != nil {
			return err
		}
		f(page.Members)
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}

// Keys returns the sorted union of the maps' keys.
func Keys[V any, W any](a map[string]V, b map[string]W) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// Table prints rows aligned in columns under a title.
func Table(w io.Writer, title string, header []string, rows [][]string) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
}

// Parallel runs f for each item on a few goroutines and joins the errors.
// The items must be independent (one member's work each, or one slice of
// a segment), so that the order does not change the result; the bolt
// store commits concurrent updates together (group commit), which is what
// makes many small operator calls fast.
func Parallel[T any](items []T, f func(T) error) error {
	const workers = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan T)
	)
	for range workers {
		wg.Go(func() {
			for it := range next {
				if err := f(it); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// ByCount returns the keys by count, largest first, then by name.
func ByCount(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	return ks
}

// ProcessDay processes a simulated day's events in one ProcessBatch (one
// transaction), sorted by time; the sort is stable so a member's events at
// the same instant keep the order they were generated in. It returns the
// outcomes, in the order evs is left in (none, with no call, for no
// events).
func ProcessDay(ctx context.Context, p *membership.Program, day time.Time, evs []event.Event) ([]*change.Outcome, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	outs, err := p.ProcessBatch(ctx, evs)
	if err != nil {
		return nil, fmt.Errorf("day %s: %w", day.Format(time.DateOnly), err)
	}
	return outs, nil
}

// PayCoupons pays order o with the coupons of its checkout proposal, as a
// till does: a single coupon is redeemed by its QR code when qr gives one
// (ok false: no code at this till), otherwise the coupons are locked and
// used. It returns the amount off and the number of coupons used.
func PayCoupons(ctx context.Context, p *membership.Program, o coupon.Order, prop coupon.Proposal,
	qr func(coupon string) (code string, ok bool, err error)) (decimal.Decimal, int, error) {
	if len(prop.Coupons) == 1 {
		code, ok, err := qr(prop.Coupons[0].Coupon)
		if err != nil {
			return decimal.Zero, 0, err
		}
		if ok {
			r, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "qr-" + o.ID, Code: code, Via: coupon.ByQR, Order: o})
			if err != nil {
				return decimal.Zero, 0, err
			}
			return r.Coupon.AmountOff, 1, nil
		}
	}
	ids := make([]string, len(prop.Coupons))
	for i, a := range prop.Coupons {
		ids[i] = a.Coupon
	}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock-" + o.ID, Order: o, Coupons: ids}); err != nil {
		return decimal.Zero, 0, err
	}
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "pay-" + o.ID, Order: o.ID, At: o.Time}); err != nil {
		return decimal.Zero, 0, err
	}
	return prop.AmountOff, len(ids), nil
}

// Move returns a LevelMoves key ("term_end Gold→Silver") in an operator's
// words: the move ("Gold → Silver") and why it happened ("term ended
// below the retention threshold"). A key it cannot read is returned as the
// move, with no reason.
func Move(key string) (move, why string) {
	cause, fromTo, ok := strings.Cut(key, " ")
	if !ok {
		return key, ""
	}
	move = strings.Replace(fromTo, "→", " → ", 1)
	switch level.Cause(cause) {
	case level.CauseEvent:
		why = "upgraded by growth"
	case level.CauseTermEnd:
		why = "term ended below the retention threshold"
	case level.CauseUnfreeze:
		why = "frozen level given back"
	case level.CausePurchase:
		why = "plan bought"
	case level.CauseExpiry:
		why = "plan ran out"
	case level.CauseManual:
		why = "set by an operator"
	case level.CauseJoin:
		why = "joined"
	case level.CauseOpening:
		why = "imported"
	default:
		why = cause
	}
	return move, why
}

// PackMode returns a coupon pack's mode in an operator's words.
func PackMode(m coupon.PackMode) string {
	switch m {
	case coupon.AnyInvalid:
		return "stops when any coupon runs out"
	case coupon.AllInvalid:
		return "goes on while any coupon is left"
	}
	return string(m)
}

// Queue holds events a host sends on a later simulated day: events
// delivered late, refunds, and retries (events sent again, which must
// come back Duplicate). Days are the simulation's day indexes.
type Queue struct {
	later map[int][]event.Event
	retry map[string]bool // event ID and day of each retry

	Late       int // events queued late (Late counts them, Send does not)
	Retried    int // retries sent
	Duplicates int // retries answered Duplicate
	Dropped    int // events dropped (their member was erased)
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{later: map[int][]event.Event{}, retry: map[string]bool{}} }

// Send queues ev for day d.
func (q *Queue) Send(d int, ev event.Event) { q.later[d] = append(q.later[d], ev) }

// SendLate queues ev for day d, counted as delivered late.
func (q *Queue) SendLate(d int, ev event.Event) {
	q.Late++
	q.Send(d, ev)
}

// Again queues ev, sent on an earlier day, to be sent again on day d.
func (q *Queue) Again(d int, ev event.Event) {
	q.Send(d, ev)
	q.retry[retryKey(ev.ID, d)] = true
}

func retryKey(id string, d int) string { return fmt.Sprintf("%s\x00%d", id, d) }

// Due returns the events queued for day d (the retries among them
// counted), less those of members erased says were erased, which are
// dropped; sent is called with each other event that is not a retry.
func (q *Queue) Due(d int, erased func(member string) bool, sent func(event.Event)) []event.Event {
	var out []event.Event
	for _, ev := range q.later[d] {
		switch {
		case erased(ev.Member):
			q.Dropped++
			continue
		case q.retry[retryKey(ev.ID, d)]:
			q.Retried++
		default:
			sent(ev)
		}
		out = append(out, ev)
	}
	delete(q.later, d)
	return out
}

// Answered counts the retries of day d's batch answered Duplicate; outs
// are ProcessDay's outcomes for evs.
func (q *Queue) Answered(d int, evs []event.Event, outs []*change.Outcome) {
	for i, ev := range evs {
		if q.retry[retryKey(ev.ID, d)] && i < len(outs) && outs[i].Duplicate {
			q.Duplicates++
		}
	}
}

// Check records the checks that every retry came back Duplicate.
func (q *Queue) Check(c *Checks) {
	c.Int("events sent again answered Duplicate", int64(q.Retried), int64(q.Duplicates))
}

// Refund is what a host paid back (Amount) of an order it was paid Pay
// for; Amount is 0 until the refund is sent.
type Refund struct {
	Member      string
	Pay, Amount decimal.Decimal
}

// CheckAfter checks what followed the sales: each member of erased is
// erased, and each order of refunds (by order ID) has a record
// (Points().Order) that holds what the host refunded and, refunded in
// full, reverses all its grants. It passes over refunds not sent before
// the run ended, those of erased members and orders with no record (they
// earned no points).
func CheckAfter(ctx context.Context, p *membership.Program, erased []string, refunds map[string]*Refund, c *Checks) error {
	for _, id := range erased {
		_, ok, err := p.Erased(ctx, id)
		if err != nil {
			return err
		}
		c.True(id+" is erased", ok)
	}
	for _, id := range slices.Sorted(maps.Keys(refunds)) {
		rf := refunds[id]
		if rf.Amount.IsZero() || slices.Contains(erased, rf.Member) {
			continue // not sent before the run ended, or the member erased
		}
		o, found, err := p.Points().Order(ctx, id)
		if err != nil {
			return err
		}
		if !found {
			continue // it earned no points (retail: less than a yuan paid)
		}
		whole := rf.Amount.Equal(rf.Pay)
		ok := o.Amount.Equal(rf.Pay) && o.Refunded.Equal(rf.Amount) && o.Member == rf.Member
		for _, g := range o.Grants {
			ok = ok && !g.Reversed.IsNegative() && g.Reversed.LessThanOrEqual(g.Amount) && (!whole || g.Reversed.Equal(g.Amount)) &&
				g.Lapsed.Add(g.Shortfall).LessThanOrEqual(g.Reversed)
		}
		c.True(fmt.Sprintf("order %s of %s, paid %s, refunded %s: its record %+v", id, rf.Member, rf.Pay, rf.Amount, o), ok)
	}
	return nil
}
