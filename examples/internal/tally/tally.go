// Package tally is the part the two example programs share: a consumer of
// a program's change feed that sums what the host was told (points,
// growth, stored value, coupons, tags, tasks), the checks that compare
// those sums with the ledger and the coupon statistics, and small printing
// helpers. It uses only the public API, as a host's own reporting would.
package tally

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/memberkit/membership/change"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/shopspring/decimal"
)

// Tally is what a host learns from the change feed, summed.
type Tally struct {
	// Seq is the feed position read up to.
	Seq uint64
	// Kinds counts the changes per kind.
	Kinds map[string]int64
	// Points sums, per point program, the change into members' accounts
	// per ledger kind, signed as ledger.Totals gives it.
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
		for _, c := range cs {
			if err := t.add(c); err != nil {
				return fmt.Errorf("change %d (%s): %w", c.Seq, c.Kind, err)
			}
			t.Seq = c.Seq
		}
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

func (t *Tally) add(c change.Change) error {
	t.Kinds[c.Kind]++
	switch {
	case strings.HasPrefix(c.Kind, "points."):
		var d membership.PointsChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		switch c.Kind {
		case membership.ChangePointsEarned, membership.ChangePointsPending:
			t.pts(d.Program, membership.KindPointsEarned, d.Amount)
		case membership.ChangePointsRedeemed:
			t.pts(d.Program, membership.KindPointsRedeemed, d.Amount.Neg())
		case membership.ChangePointsExpired:
			t.pts(d.Program, membership.KindPointsExpired, d.Amount.Neg())
		case membership.ChangePointsVoided:
			t.pts(d.Program, membership.KindPointsVoided, d.Amount.Neg())
		case membership.ChangePointsReversed:
			t.pts(d.Program, membership.KindPointsReversed, d.Amount)
		case membership.ChangePointsAdjusted:
			t.pts(d.Program, membership.KindPointsAdjusted, d.Amount)
		case membership.ChangePointsBlocked:
			t.Blocked[d.Program] = t.Blocked[d.Program].Add(d.Amount)
		case membership.ChangePointsFrozen:
			t.FrozenPts[d.Program] = t.FrozenPts[d.Program].Add(d.Amount)
		case membership.ChangePointsRestored:
			t.Restored[d.Program] = t.Restored[d.Program].Add(d.Amount)
		case membership.ChangePointsExchanged:
			t.pts(d.Program, membership.KindPointsExchanged, d.Amount.Neg())
			t.pts(d.To, membership.KindPointsExchanged, d.ToAmount)
		}
	case c.Kind == membership.ChangeGrowthChanged:
		var d membership.GrowthChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		t.Growth[d.Kind] = t.Growth[d.Kind].Add(d.Amount)
	case c.Kind == membership.ChangeValueRecharged || c.Kind == membership.ChangeValueSpent || c.Kind == membership.ChangeValueRefunded:
		var d membership.ValueChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		switch c.Kind {
		case membership.ChangeValueRecharged:
			t.Value[membership.KindRecharge] = t.Value[membership.KindRecharge].Add(d.Amount)
		case membership.ChangeValueSpent:
			t.Value[membership.KindSpend] = t.Value[membership.KindSpend].Sub(d.Amount)
		case membership.ChangeValueRefunded:
			t.Value[membership.KindRefund] = t.Value[membership.KindRefund].Add(d.Amount)
		}
	case c.Kind == membership.ChangeCouponClaimRefused:
		var d membership.CouponRefusal
		if err := c.Decode(&d); err != nil {
			return err
		}
		name := "coupon:" + d.Template
		if d.Pack != "" {
			name = "pack:" + d.Pack
		}
		t.Refused[name+"/"+d.Cause]++
	case c.Kind == membership.ChangePackIssued:
		var d coupon.PackIssued
		if err := c.Decode(&d); err != nil {
			return err
		}
		t.Packs[d.Pack]++
		for _, s := range d.Short {
			t.PackShort[d.Pack+"/"+s.Template] += int64(s.Count)
		}
	case strings.HasPrefix(c.Kind, "coupon."):
		var d coupon.Coupon
		if err := c.Decode(&d); err != nil {
			return err
		}
		live := t.Live[d.Member]
		switch c.Kind {
		case membership.ChangeCouponIssued:
			t.Issued[d.Template]++
			if live == nil {
				live = map[string]coupon.Coupon{}
				t.Live[d.Member] = live
			}
			live[d.ID] = d
		case membership.ChangeCouponUsed:
			t.Used[d.Store]++
			t.Off[d.Store] = t.Off[d.Store].Add(d.AmountOff)
			delete(live, d.ID)
		case membership.ChangeCouponExpired:
			t.Expired++
			delete(live, d.ID)
		case membership.ChangeCouponRevoked:
			delete(live, d.ID)
		}
	case c.Kind == membership.ChangeTagAdded || c.Kind == membership.ChangeTagRemoved:
		var d membership.TagChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		if c.Kind == membership.ChangeTagAdded {
			t.Tags[d.Tag]++
		} else {
			t.Tags[d.Tag]--
		}
	case c.Kind == membership.ChangeTaskCompleted:
		var d membership.TaskCompleted
		if err := c.Decode(&d); err != nil {
			return err
		}
		t.Tasks[d.Task]++
	case c.Kind == membership.ChangeAchievementGranted:
		var d struct {
			Achievement string `json:"achievement"`
		}
		if err := c.Decode(&d); err != nil {
			return err
		}
		t.Achieved[d.Achievement]++
	case c.Kind == membership.ChangeLevelChanged:
		var d membership.LevelChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		switch {
		case d.From == "" || d.From == d.To:
			// A join or a kept term is not a move.
		default:
			t.LevelMoves[string(d.Cause)+" "+d.From+"→"+d.To]++
		}
	case c.Kind == membership.ChangeLevelFrozen:
		t.Frozen++
	case c.Kind == membership.ChangeLevelUnfrozen:
		var d membership.FreezeChange
		if err := c.Decode(&d); err != nil {
			return err
		}
		t.Unfrozen++
		if d.Returned {
			t.Returned++
		}
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
// of PointsReconciliation, growth and stored value per kind, and the
// coupons issued, used, expired and amount off per store against
// CouponStats. It returns the ledger's points totals per program.
func (t *Tally) Reconcile(ctx context.Context, p *membership.Program, c *Checks) (map[string]points.Reconciliation, error) {
	out := map[string]points.Reconciliation{}
	def := p.Definition()
	if def.Points != nil {
		for _, prog := range def.Points.Programs {
			tot, err := p.Totals(ctx, ledger.Points(prog.Name), "", "")
			if err != nil {
				return nil, err
			}
			kinds := []ledger.Kind{membership.KindPointsEarned, membership.KindPointsRedeemed, membership.KindPointsReversed,
				membership.KindPointsExpired, membership.KindPointsVoided, membership.KindPointsAdjusted, membership.KindPointsExchanged}
			for _, k := range kinds {
				c.Decimal(fmt.Sprintf("points %s %s", prog.Name, k), t.Points[prog.Name][k], tot[k])
			}
			r, err := p.PointsReconciliation(ctx, prog.Name, "", "")
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
		for _, k := range []ledger.Kind{membership.KindGrowthEarned, membership.KindGrowthRewarded, membership.KindGrowthReversed, membership.KindGrowthRebased} {
			c.Decimal("growth "+string(k), t.Growth[k], tot[k])
		}
	}
	if def.StoredValue != nil {
		tot, err := p.Totals(ctx, ledger.Value, "", "")
		if err != nil {
			return nil, err
		}
		for _, k := range []ledger.Kind{membership.KindRecharge, membership.KindSpend, membership.KindRefund} {
			c.Decimal("stored value "+string(k), t.Value[k], tot[k])
		}
	}
	if def.Coupons != nil {
		st, err := p.CouponStats(ctx, coupon.StatsQuery{})
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

// CheckTags compares the tag counts from the feed with the members each
// tag's segment lists (the API has no per-tag count).
func (t *Tally) CheckTags(ctx context.Context, p *membership.Program, names []string, c *Checks) error {
	for _, name := range names {
		n, err := SegmentSize(ctx, p, name)
		if err != nil {
			return err
		}
		c.Int("members tagged "+name, t.Tags[name], n)
	}
	return nil
}

// SegmentSize counts the members of a segment by paging through it.
func SegmentSize(ctx context.Context, p *membership.Program, expr string) (int64, error) {
	var n int64
	cursor := ""
	for {
		ms, next, err := p.Segment(ctx, expr, cursor, 1000)
		if err != nil {
			return 0, err
		}
		n += int64(len(ms))
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// Segment lists every member of a segment.
func Segment(ctx context.Context, p *membership.Program, expr string) ([]string, error) {
	var out []string
	cursor := ""
	for {
		ms, next, err := p.Segment(ctx, expr, cursor, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if next == "" {
			return out, nil
		}
		cursor = next
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
// the same instant keep the order they were generated in. It returns how
// many events it processed (0 for none, with no call).
func ProcessDay(ctx context.Context, p *membership.Program, day time.Time, evs []event.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	if _, err := p.ProcessBatch(ctx, evs); err != nil {
		return 0, fmt.Errorf("day %s: %w", day.Format(time.DateOnly), err)
	}
	return len(evs), nil
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
			c, _, err := p.RedeemCode(ctx, membership.RedeemRequest{RequestID: "qr-" + o.ID, Code: code, Via: coupon.ByQR, Order: o})
			if err != nil {
				return decimal.Zero, 0, err
			}
			return c.AmountOff, 1, nil
		}
	}
	ids := make([]string, len(prop.Coupons))
	for i, a := range prop.Coupons {
		ids[i] = a.Coupon
	}
	if _, err := p.LockCoupons(ctx, membership.LockRequest{RequestID: "lock-" + o.ID, Order: o, Coupons: ids}); err != nil {
		return decimal.Zero, 0, err
	}
	if _, err := p.UseCoupons(ctx, membership.OrderRequest{RequestID: "pay-" + o.ID, Order: o.ID, Time: o.Time}); err != nil {
		return decimal.Zero, 0, err
	}
	return prop.AmountOff, len(ids), nil
}
