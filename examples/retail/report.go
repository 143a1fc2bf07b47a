package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/examples/internal/tally"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// report prints the run's report and checks it against the ledger: the
// sums the host read from the change feed against the ledger's totals per
// kind, the tills' amounts off against the coupon statistics, the host's
// own stored-value books against the ledger, the members' balances against
// the points outstanding, and finally Verify over the whole journal.
func (s *sim) report(ctx context.Context, w io.Writer, pg *insight.Page, took time.Duration) error {
	c := &tally.Checks{}
	f := s.feed
	recon, err := f.Reconcile(ctx, s.p, c)
	if err != nil {
		return err
	}
	end := s.day(s.days)
	fmt.Fprintf(w, "Retail chain — %d members, %s to %s (seed %d)\n", len(s.members),
		s.start.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly), s.cfg.Seed)
	fmt.Fprintf(w, "%d events in %d daily batches (%d orders, %s paid), %d due items performed, %d changes in the feed\n",
		s.events, s.batches, s.orders, s.sales.StringFixed(2), s.advanced, f.Seq)
	defer fmt.Fprintf(w, "Run time: %s\n", took.Round(time.Millisecond))
	pg.WriteText(w)

	// Levels and plans.
	counts, err := s.p.Levels().Counts(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	var onLadder int64
	joined := int64(0)
	for _, m := range s.members {
		if m.join < s.days {
			joined++
		}
	}
	for _, lc := range counts {
		kind := "level"
		if lc.Plan {
			kind = "paid plan"
		} else {
			onLadder += lc.Members
		}
		rows = append(rows, []string{lc.Name, kind, fmt.Sprint(lc.Members)})
	}
	tally.Table(w, "Members per level", []string{"level", "kind", "members"}, rows)
	fmt.Fprintf(w, "  Plus: %d yearly fees of %s paid\n", s.feesPaid, plusFee)
	c.Int("members on the ladder", joined, onLadder)
	rows = rows[:0]
	for _, k := range tally.ByCount(f.LevelMoves) {
		move, why := tally.Move(k)
		rows = append(rows, []string{move, why, fmt.Sprint(f.LevelMoves[k])})
	}
	tally.Table(w, "Level moves", []string{"move", "why", "members"}, rows)

	// Points.
	r := recon["mall"]
	var held decimal.Decimal
	for _, m := range s.members {
		b, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m.id, At: end})
		if err != nil {
			return err
		}
		held = held.Add(b.Total())
	}
	if r.Outstanding != nil {
		c.Decimal("points held by members", held, *r.Outstanding)
	}
	pts := f.Points["mall"]
	fromFeed := decimal.Zero
	for _, v := range pts {
		fromFeed = fromFeed.Add(v)
	}
	tally.Table(w, "Points (mall)", []string{"", "ledger", "change feed"}, [][]string{
		{"issued", r.Earned.String(), pts[points.KindEarned].String()},
		{"redeemed", r.Redeemed.String(), pts[points.KindRedeemed].Neg().String()},
		{"reversed (net of refunds)", r.Reversed.String(), pts[points.KindReversed].String()},
		{"adjusted", r.Adjusted.String(), pts[points.KindAdjusted].String()},
		{"expired", r.Expired.String(), pts[points.KindExpired].Neg().String()},
		{"outstanding", r.Change.String(), fromFeed.String()},
	})
	fmt.Fprintf(w, "  members' balances add up to %s\n", held)
	fmt.Fprintf(w, "  %d points-mall vouchers, %d orders paid partly with points (%s yuan)\n", s.mallOrders, s.pointsCash, s.pointsMoney.StringFixed(2))

	// Stored value.
	vt, err := s.p.Totals(ctx, ledger.Value, "", "")
	if err != nil {
		return err
	}
	c.Decimal("stored value recharged (host books)", s.recharged, vt[value.KindRecharge])
	c.Decimal("stored value spent (host books)", s.valueSpent.Neg(), vt[value.KindSpend])
	c.Decimal("stored value refunded (host books)", s.valueRefunded, vt[value.KindRefund])
	tally.Table(w, "Stored value", []string{"", "ledger", "host"}, [][]string{
		{"recharged", vt[value.KindRecharge].StringFixed(2), s.recharged.StringFixed(2)},
		{"spent", vt[value.KindSpend].Neg().StringFixed(2), s.valueSpent.StringFixed(2)},
		{"refunded", vt[value.KindRefund].StringFixed(2), s.valueRefunded.StringFixed(2)},
		{"balance", vt[value.KindRecharge].Add(vt[value.KindSpend]).Add(vt[value.KindRefund]).StringFixed(2),
			s.recharged.Sub(s.valueSpent).Add(s.valueRefunded).StringFixed(2)},
	})

	// Coupons.
	st, err := s.p.Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		return err
	}
	rows = rows[:0]
	for _, t := range s.p.Definition().Coupons.Templates {
		x := st.ByTemplate[t.Name]
		rows = append(rows, []string{t.Name, fmt.Sprint(x.Issued), fmt.Sprint(x.Used), fmt.Sprint(x.Expired), x.AmountOff.StringFixed(2)})
	}
	rows = append(rows, []string{"total", fmt.Sprint(st.Total.Issued), fmt.Sprint(st.Total.Used), fmt.Sprint(st.Total.Expired), st.Total.AmountOff.StringFixed(2)})
	tally.Table(w, "Coupons per template", []string{"template", "issued", "used", "expired", "amount off"}, rows)
	rows = rows[:0]
	for _, store := range tally.Keys(st.ByStore, s.tillUsed) {
		if store == "" {
			continue
		}
		x := st.ByStore[store]
		c.Int("coupons used at "+store+" (tills)", s.tillUsed[store], x.Used)
		c.Decimal("amount off at "+store+" (tills)", s.tillOff[store], x.AmountOff)
		rows = append(rows, []string{store, fmt.Sprint(x.Used), x.AmountOff.StringFixed(2), s.tillOff[store].StringFixed(2)})
	}
	tally.Table(w, "Coupons used per store", []string{"store", "used", "amount off", "at the tills"}, rows)
	fmt.Fprintf(w, "  newcomer packs: %d; win-back campaign: %d issued, %d refused (limit of 2 a member), %d not sent (stock used up)\n",
		f.Packs["newcomer"], s.campaignSent, s.campaignRefus, s.campaignShort)

	// Tasks and tags.
	fmt.Fprintf(w, "\nTask \"three-orders-a-month\" completed %d times\n", f.Tasks["three-orders-a-month"])
	var names []string
	for _, t := range s.p.Definition().Tags.Rules {
		names = append(names, t.Tag)
	}
	for _, t := range s.p.Definition().Tags.Manual {
		names = append(names, t.Name)
	}
	if err := f.CheckTags(ctx, s.p, names, c); err != nil {
		return err
	}
	rows = rows[:0]
	for _, n := range tally.ByCount(f.Tags) {
		rows = append(rows, []string{n, fmt.Sprint(f.Tags[n])})
	}
	tally.Table(w, "Top tags", []string{"tag", "members"}, rows)
	seg, err := tally.SegmentSize(ctx, s.p, "recent and frequent and big-spender")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  champions (recent and frequent and big-spender): %d\n", seg)

	if err := s.reportAfter(ctx, w, r, c); err != nil {
		return err
	}

	// Member by member, the page, the feed, then Check (the bolt file's
	// pages and checksums, then Verify).
	ids := make([]string, len(s.members))
	for i, m := range s.members {
		ids[i] = m.id
	}
	if err := f.CheckEnd(ctx, s.p, ids, s.start, end, pg, map[string]decimal.Decimal{"mall": held}, c); err != nil {
		return err
	}
	if err := c.Err(); err != nil {
		fmt.Fprintf(w, "\nRECONCILIATION FAILED\n")
		return err
	}
	fmt.Fprintf(w, "\nReconciled: %d checks passed (feed = ledger per kind, tills = coupon statistics, host books = ledger, refunds, retries, adjustments and erasures as sent, members' statements, levels and coupons = totals, counts and statistics, the page, each change once in the feed, Check and Verify)\n", c.N)
	return nil
}

// reportAfter prints what followed the sales (refunds, late and repeated
// events, operators' reversals and adjustments, erasures) and checks it
// against the program: every retry came back Duplicate, each refunded
// order's record holds what the host refunded and, refunded in full,
// reverses all its grants; the adjustments applied add up to the ledger's
// adjusted points and each decision is the adjustment's state; the
// members erased are, and their event sent again was refused.
func (s *sim) reportAfter(ctx context.Context, w io.Writer, r points.Reconciliation, c *tally.Checks) error {
	fmt.Fprintf(w, "\nAfter the sale\n")
	fmt.Fprintf(w, "  %d refunds of %s yuan (%s back to the card); %d events delivered a day or two late; %d sent again, %d answered as duplicates\n",
		s.refunds, s.refunded.StringFixed(2), s.valueRefunded.StringFixed(2), s.sent.Late, s.sent.Retried, s.sent.Duplicates)
	fmt.Fprintf(w, "  %d redemptions reversed by operators; %d adjustments (%d waited for approval: %d approved, %d rejected, %d of them no longer covered), %s points adjusted\n",
		s.reversals, s.adjustments, s.pending, s.approved, s.rejected, s.notCovered, s.adjusted)
	fmt.Fprintf(w, "  %d members erased; %d events and %d operator calls for them dropped by the host\n", len(s.erased), s.sent.Dropped, s.dropped)
	s.sent.Check(c)
	c.Int("operator calls sent twice answered Duplicate", int64(s.opRetries), int64(s.opDuplicates))
	c.Int("erased members' events sent again refused with ErrErased", int64(s.erasedRetried), int64(s.erasedRefused))
	c.Decimal("points adjusted (host's operators)", s.adjusted, r.Adjusted)
	for _, id := range slices.Sorted(maps.Keys(s.decided)) {
		a, err := s.p.Points().Adjustment(ctx, id)
		if err != nil {
			return err
		}
		c.True(fmt.Sprintf("adjustment %s: state %s, decided %s", id, a.State, s.decided[id]), a.State == s.decided[id])
	}
	return tally.CheckAfter(ctx, s.p, s.erased, s.refundOf, c)
}
