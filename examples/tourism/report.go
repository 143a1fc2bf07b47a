package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/examples/internal/tally"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/shopspring/decimal"
)

// report prints the run's report and checks it: the feed's sums against
// the ledger per point program and kind, the growth per kind, the coupons
// against their statistics, the members' balances against the points
// outstanding, the reviews decided against what the feed saw restored,
// and Verify over the whole journal.
func (s *sim) report(ctx context.Context, w io.Writer, pg *insight.Page, took time.Duration) error {
	c := &tally.Checks{}
	f := s.feed
	recon, err := f.Reconcile(ctx, s.p, c)
	if err != nil {
		return err
	}
	end := s.day(s.days)
	fmt.Fprintf(w, "Cultural-tourism group — %d members, %s to %s (seed %d)\n", len(s.members),
		s.start.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly), s.cfg.Seed)
	fmt.Fprintf(w, "%d events in %d daily batches (%d park trips, %d tickets), %d due items performed, %d changes in the feed\n",
		s.events, s.batches, s.trips, s.tickets, s.advanced, f.Seq)
	defer fmt.Fprintf(w, "Run time: %s\n", took.Round(time.Millisecond))
	pg.WriteText(w)

	// Levels and freezes.
	counts, err := s.p.Levels().Counts(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	var onLadder, joined int64
	for _, m := range s.members {
		if m.join < s.days {
			joined++
		}
	}
	frozenNow := map[string]int{}
	for _, m := range s.members {
		st, err := s.p.Levels().Status(ctx, m.id)
		if err != nil {
			return err
		}
		for _, fz := range st.Frozen {
			frozenNow[fz.Level]++
		}
	}
	for _, lc := range counts {
		onLadder += lc.Members
		rows = append(rows, []string{lc.Name, fmt.Sprint(lc.Members), fmt.Sprint(frozenNow[lc.Name])})
	}
	tally.Table(w, "Members per level", []string{"level", "members", "frozen for"}, rows)
	// A member may have joined the simulation without any event yet
	// (nothing sent on their first days): they are not on the ladder.
	c.True(fmt.Sprintf("members on the ladder (%d) at most those joined (%d)", onLadder, joined), onLadder <= joined)
	rows = rows[:0]
	for _, k := range tally.ByCount(f.LevelMoves) {
		move, why := tally.Move(k)
		rows = append(rows, []string{move, why, fmt.Sprint(f.LevelMoves[k])})
	}
	tally.Table(w, "Level moves", []string{"move", "why", "members"}, rows)
	fmt.Fprintf(w, "  freezes: %d levels frozen at downgrades, %d returns by unfreeze threshold, %d freezes ended (deadline or upgrade)\n",
		f.Frozen, f.Returned, f.Unfrozen-f.Returned)

	// Points per program.
	rows = rows[:0]
	var held = map[string]decimal.Decimal{}
	var frozen = map[string]decimal.Decimal{}
	for _, prog := range []string{"park", "shops"} {
		for _, m := range s.members {
			b, err := s.p.Points().Balance(ctx, points.BalanceQuery{Program: prog, Member: m.id, At: end})
			if err != nil {
				return err
			}
			held[prog] = held[prog].Add(b.Total())
			frozen[prog] = frozen[prog].Add(b.Frozen)
		}
		r := recon[prog]
		if r.Outstanding != nil {
			c.Decimal("points "+prog+" held by members", held[prog], *r.Outstanding)
		}
	}
	line := func(name string, get func(prog string) string) {
		rows = append(rows, []string{name, get("park"), get("shops")})
	}
	line("issued", func(p string) string { return recon[p].Earned.String() })
	line("redeemed", func(p string) string { return recon[p].Redeemed.String() })
	line("expired", func(p string) string { return recon[p].Expired.String() })
	line("exchanged (net in)", func(p string) string { return recon[p].Exchanged.String() })
	line("blocked by risk control", func(p string) string { return f.Blocked[p].String() })
	line("frozen by risk control", func(p string) string { return f.FrozenPts[p].String() })
	line("  restored by review", func(p string) string { return f.Restored[p].String() })
	line("  voided by review", func(p string) string { return recon[p].Voided.String() })
	line("  still frozen", func(p string) string { return frozen[p].String() })
	line("outstanding", func(p string) string { return recon[p].Change.String() })
	tally.Table(w, "Points", []string{"", "park", "shops"}, rows)
	fmt.Fprintf(w, "  %d exchanges, %d annual-pass redemptions; %d frozen days reviewed: %d restored, %d voided\n",
		s.exchanges, s.redeemed, s.restored+s.voided, s.restored, s.voided)
	c.Int("reviews restored (feed)", int64(s.restored), f.Kinds[points.ChangeRestored])
	c.Int("reviews voided (feed)", int64(s.voided), f.Kinds[points.ChangeVoided])
	pending, err := s.p.Points().Reviews(ctx, "park", 1000)
	if err != nil {
		return err
	}
	waiting := decimal.Zero
	for _, r := range pending {
		for _, l := range r.Lots {
			waiting = waiting.Add(l.Amount)
		}
	}
	fmt.Fprintf(w, "  %d frozen days (%s points) wait for next Monday's review\n", len(pending), waiting)

	gt, err := s.p.Totals(ctx, ledger.Growth, "", "")
	if err != nil {
		return err
	}
	tally.Table(w, "Growth", []string{"", "ledger", "feed"}, [][]string{
		{"earned (tickets, shops)", gt[level.KindEarned].String(), f.Growth[level.KindEarned].String()},
		{"rewarded (check-in 12, real name 20)", gt[level.KindRewarded].String(), f.Growth[level.KindRewarded].String()},
		{"re-based at term ends", gt[level.KindRebased].String(), f.Growth[level.KindRebased].String()},
	})

	// Packs and coupons.
	rows = rows[:0]
	for _, pk := range s.p.Definition().Coupons.Packs {
		short := int64(0)
		for k, n := range f.PackShort {
			if len(k) > len(pk.Name) && k[:len(pk.Name)+1] == pk.Name+"/" {
				short += n
			}
		}
		rows = append(rows, []string{pk.Name, tally.PackMode(pk.Mode), fmt.Sprint(f.Packs[pk.Name]), fmt.Sprint(short),
			fmt.Sprint(s.packRefuse[pk.Name+"/out of stock"] + f.Refused["pack:"+pk.Name+"/out_of_stock"])})
	}
	tally.Table(w, "Coupon packs", []string{"pack", "when it stops", "given", "coupons short", "refused: out of stock"}, rows)
	for _, pk := range s.p.Definition().Coupons.Packs {
		if last, ok := s.packLast[pk.Name]; ok {
			fmt.Fprintf(w, "  %s: last given on %s\n", pk.Name, last.Format(time.DateOnly))
		}
	}
	st, err := s.p.Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		return err
	}
	rows = rows[:0]
	for _, t := range s.p.Definition().Coupons.Templates {
		x := st.ByTemplate[t.Name]
		stock := "unlimited"
		if t.Stock > 0 {
			stock = fmt.Sprint(t.Stock)
		}
		rows = append(rows, []string{t.Name, stock, fmt.Sprint(x.Issued), fmt.Sprint(x.Used), fmt.Sprint(x.Expired), x.AmountOff.StringFixed(2)})
	}
	tally.Table(w, "Coupons per template", []string{"template", "stock", "issued", "used", "expired", "amount off"}, rows)
	rows = rows[:0]
	for _, store := range tally.Keys(st.ByStore, s.gateUsed) {
		if store == "" {
			continue
		}
		x := st.ByStore[store]
		c.Int("coupons used at "+store+" (tills)", s.gateUsed[store], x.Used)
		c.Decimal("amount off at "+store+" (tills)", s.gateOff[store], x.AmountOff)
		rows = append(rows, []string{store, fmt.Sprint(x.Used), x.AmountOff.StringFixed(2), s.gateOff[store].StringFixed(2)})
	}
	tally.Table(w, "Coupons used per store", []string{"store", "used", "amount off", "at the tills"}, rows)

	// Tasks and achievements.
	rows = rows[:0]
	for _, t := range s.p.Definition().Tasks.Tasks {
		rows = append(rows, []string{t.Name, fmt.Sprint(f.Tasks[t.Name])})
	}
	tally.Table(w, "Tasks completed", []string{"task", "completions"}, rows)
	fmt.Fprintf(w, "  achievement trail-master granted to %d members\n", f.Achieved["trail-master"])
	c.Int("trail completions = achievements", f.Tasks["scenic-trail"], f.Achieved["trail-master"])

	// After the sale.
	fmt.Fprintf(w, "\nAfter the sale\n  %d refunds of %s yuan (tickets of members who did not come, shop orders returned); %d events delivered a day or two late; %d sent again, %d answered as duplicates\n",
		s.refunds, s.refundAmt.StringFixed(2), s.sent.Late, s.sent.Retried, s.sent.Duplicates)
	fmt.Fprintf(w, "  %d members erased; %d events for them dropped by the host\n", len(s.erased), s.sent.Dropped)
	if err := s.checkAfter(ctx, c); err != nil {
		return err
	}

	// Member by member, the page, the feed, then Check (the bolt file's
	// pages and checksums, then Verify).
	ids := make([]string, len(s.members))
	for i, m := range s.members {
		ids[i] = m.id
	}
	if err := f.CheckEnd(ctx, s.p, ids, s.start, end, pg, held, c); err != nil {
		return err
	}
	if err := c.Err(); err != nil {
		fmt.Fprintf(w, "\nRECONCILIATION FAILED\n")
		return err
	}
	fmt.Fprintf(w, "\nReconciled: %d checks passed (feed = ledger per kind, tills = coupon statistics, balances = outstanding, refunds, retries and erasures as sent, members' statements, levels and coupons = totals, counts and statistics, the page, each change once in the feed, Check and Verify)\n", c.N)
	return nil
}
