package tally

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// CheckMembers checks the program member by member, from the members'
// side rather than the totals': every account of each member (growth,
// stored value, each point program's available, pending and frozen
// points) has a statement that adds up, in posting order, to each entry's
// running balance and to the account's balance, never negative but for
// growth; the entries of all members summed per month and kind are the
// ledger's Totals of that month (so the monthly report, built on Totals,
// is what the statements hold); each member's points balance is what the
// accounts hold; the members counted at each level and plan from their
// Status are Levels().Counts; the coupons listed member by member add up
// to the coupon Stats per template and per store; and each member's live
// coupons are those the feed left live. The months compared run from
// start's to end's; balances are read at end.
func (t *Tally) CheckMembers(ctx context.Context, p *membership.Program, members []string, start, end time.Time, c *Checks) error {
	def := p.Definition()
	type account struct {
		asset     ledger.Asset
		sub       string
		mayBeNeg  bool
		programOf string // the point program, for points accounts
	}
	var accounts []account
	if def.Levels != nil && len(def.Levels.Ladder) > 0 {
		accounts = append(accounts, account{asset: ledger.Growth, mayBeNeg: true})
	}
	if def.StoredValue != nil {
		accounts = append(accounts, account{asset: ledger.Value})
	}
	if def.Points != nil {
		for _, prog := range def.Points.Programs {
			for _, sub := range []string{"", points.SubPending, points.SubFrozen} {
				accounts = append(accounts, account{asset: ledger.Points(prog.Name), sub: sub, programOf: prog.Name})
			}
		}
	}
	sums := map[ledger.Asset]map[monthKind]decimal.Decimal{}
	levels := map[string]int64{}
	first, last := rule.DateOf(start, p.Location()), rule.DateOf(end, p.Location())
	hist := newHistories(p, first, last)
	// listed sums the coupons listed per "template <name>" and per
	// "store <id>"; usedAt holds the stores they were used at.
	listed, usedAt := map[string]coupon.Stat{}, map[string]coupon.Stat{}
	for _, m := range members {
		held := map[string]decimal.Decimal{}
		bals := map[ledger.Account]decimal.Decimal{}
		mine := map[ledger.Asset]map[ledger.Kind]decimal.Decimal{} // the member's entries per kind
		for _, a := range accounts {
			acc := ledger.MemberAccount(m, a.asset, a.sub)
			bal, es, err := statement(ctx, p, acc, a.mayBeNeg, c)
			if err != nil {
				return err
			}
			if sums[a.asset] == nil {
				sums[a.asset] = map[monthKind]decimal.Decimal{}
			}
			if mine[a.asset] == nil {
				mine[a.asset] = map[ledger.Kind]decimal.Decimal{}
			}
			for _, e := range es {
				k := monthKind{e.Time.In(p.Location()).Format("2006-01"), e.Kind}
				sums[a.asset][k] = sums[a.asset][k].Add(e.Amount)
				mine[a.asset][e.Kind] = mine[a.asset][e.Kind].Add(e.Amount)
			}
			bals[acc] = bal
			if a.programOf != "" {
				held[a.programOf] = held[a.programOf].Add(bal)
			}
		}
		for prog, total := range held {
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: prog, Member: m, At: end})
			if err != nil {
				return err
			}
			c.True(fmt.Sprintf("%s's %s balance %+v is what the accounts hold, %s", m, prog, b, total),
				b.Total().Equal(total) && !b.Available.IsNegative())
			lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: prog, Member: m})
			if err != nil {
				return err
			}
			inLots := map[string]decimal.Decimal{}
			for _, l := range lots {
				inLots[l.Sub] = inLots[l.Sub].Add(l.Amount)
			}
			for _, sub := range []string{"", points.SubPending, points.SubFrozen} {
				acc := ledger.MemberAccount(m, ledger.Points(prog), sub)
				c.Decimal(fmt.Sprintf("%s: its lots", acc), inLots[sub], bals[acc])
			}
		}
		if def.StoredValue != nil {
			va, err := p.Value().Account(ctx, m)
			if err != nil {
				return err
			}
			k := mine[ledger.Value]
			c.True(fmt.Sprintf("%s's stored value %+v is its statement's: balance %s, recharged %s, spent %s, refunded %s", m, va,
				bals[ledger.MemberAccount(m, ledger.Value, "")], k[value.KindRecharge], k[value.KindSpend].Neg(), k[value.KindRefund]),
				va.Balance.Equal(bals[ledger.MemberAccount(m, ledger.Value, "")]) && va.Recharged.Equal(k[value.KindRecharge]) &&
					va.Spent.Equal(k[value.KindSpend].Neg()) && va.Refunded.Equal(k[value.KindRefund]))
		}
		if def.Levels != nil && len(def.Levels.Ladder) > 0 {
			if err := hist.add(ctx, p, m); err != nil {
				return err
			}
		}
		if def.Levels != nil {
			st, err := p.Levels().Status(ctx, m)
			if err != nil {
				return err
			}
			if len(def.Levels.Ladder) > 0 {
				growth := bals[ledger.MemberAccount(m, ledger.Growth, "")]
				c.Decimal(m+"'s growth (status against the growth account)", st.Growth, growth)
			}
			if !st.Since.IsZero() { // a member never seen shows the entry level
				levels[st.Level]++
			}
			for _, pl := range st.Plans {
				levels["plan "+pl.Plan]++
			}
		}
		if def.Coupons != nil {
			if err := t.checkCoupons(ctx, p, m, listed, usedAt, c); err != nil {
				return err
			}
		}
	}
	var assets []ledger.Asset
	for _, a := range accounts {
		assets = append(assets, a.asset)
	}
	for _, a := range slices.Compact(assets) {
		for from := first.AddDays(1 - first.Day); from.Compare(last) <= 0; from = from.AddMonths(1) {
			month := from.String()[:len("2006-01")]
			tot, err := p.Totals(ctx, a, from.String(), from.AddMonths(1).AddDays(-1).String())
			if err != nil {
				return err
			}
			kinds := map[ledger.Kind]bool{}
			for k := range tot {
				kinds[k] = true
			}
			for mk := range sums[a] {
				if mk.month == month {
					kinds[mk.kind] = true
				}
			}
			for _, k := range slices.Sorted(maps.Keys(kinds)) {
				c.Decimal(fmt.Sprintf("%s %s in %s (members' statements)", a, k, month), sums[a][monthKind{month, k}], tot[k])
			}
		}
	}
	if def.Levels != nil {
		counts, err := p.Levels().Counts(ctx)
		if err != nil {
			return err
		}
		for _, lc := range counts {
			name := lc.Name
			if lc.Plan {
				name = "plan " + name
			}
			c.Int("members at "+name+" (members' status)", levels[name], lc.Members)
		}
	}
	if def.Levels != nil && len(def.Levels.Ladder) > 0 {
		if err := hist.check(ctx, p, c); err != nil {
			return err
		}
	}
	if def.Coupons != nil {
		st, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			return err
		}
		for _, tpl := range def.Coupons.Templates {
			statEqual(c, "coupons of "+tpl.Name+" (members' lists)", listed["template "+tpl.Name], st.ByTemplate[tpl.Name])
		}
		for _, s := range Keys(st.ByStore, usedAt) {
			if s == "" {
				continue
			}
			got, want := listed["store "+s], st.ByStore[s]
			c.Int("coupons used at "+s+" (members' lists)", got.Used, want.Used)
			c.Decimal("amount off at "+s+" (members' lists)", got.AmountOff, want.AmountOff)
		}
	}
	return nil
}

// checkCoupons adds member's coupons to listed, per template and per
// store, and checks the live ones are those the feed left live.
func (t *Tally) checkCoupons(ctx context.Context, p *membership.Program, m string, listed, stores map[string]coupon.Stat, c *Checks) error {
	cs, err := p.Coupons().List(ctx, m)
	if err != nil {
		return err
	}
	var liveIDs []string
	for _, cp := range cs {
		s := listed["template "+cp.Template]
		s.Issued++
		switch cp.State {
		case coupon.Used:
			s.Used++
			s.AmountOff = s.AmountOff.Add(cp.AmountOff)
			u := listed["store "+cp.Store]
			u.Used++
			u.AmountOff = u.AmountOff.Add(cp.AmountOff)
			listed["store "+cp.Store] = u
			stores[cp.Store] = coupon.Stat{}
		case coupon.Expired:
			s.Expired++
		case coupon.Revoked:
			s.Revoked++
		case coupon.Available, coupon.Locked:
			liveIDs = append(liveIDs, cp.ID)
		}
		listed["template "+cp.Template] = s
	}
	fromFeed := slices.Sorted(maps.Keys(t.Live[m]))
	slices.Sort(liveIDs)
	c.True(fmt.Sprintf("%s's live coupons %v are those the feed left live, %v", m, liveIDs, fromFeed), slices.Equal(liveIDs, fromFeed))
	return nil
}

// statement reads an account's whole statement and checks it adds up, in
// posting order, to each entry's running balance and to the balance,
// never negative unless mayBeNeg. It returns the balance and the entries.
func statement(ctx context.Context, p *membership.Program, a ledger.Account, mayBeNeg bool, c *Checks) (decimal.Decimal, []ledger.Entry, error) {
	var es []ledger.Entry
	for cursor := ""; ; {
		page, err := p.Statement(ctx, ledger.Query{Account: a, Limit: 1000, Cursor: cursor})
		if err != nil {
			return decimal.Zero, nil, err
		}
		es = append(es, page.Entries...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	slices.SortFunc(es, func(x, y ledger.Entry) int { return cmp.Compare(x.Seq, y.Seq) })
	sum, ok := decimal.Zero, true
	for _, e := range es {
		sum = sum.Add(e.Amount)
		if !e.Balance.Equal(sum) || (!mayBeNeg && sum.IsNegative()) {
			c.True(fmt.Sprintf("%s: entry %d (%s %s) has balance %s, the entries up to it add up to %s", a, e.Seq, e.Kind, e.Amount, e.Balance, sum), false)
			ok = false
			break
		}
	}
	if ok {
		c.True(fmt.Sprintf("%s's statement adds up", a), true)
	}
	bal, err := p.Balance(ctx, a)
	if err != nil {
		return decimal.Zero, nil, err
	}
	c.Decimal(fmt.Sprintf("%s: balance against its statement", a), bal, sum)
	return bal, es, nil
}

// CheckEnd makes the checks that end a run: the members one by one
// (CheckMembers), the operator's page (CheckPage), the feed holding each
// change once (CheckFeed), then the program's Check (the store's own
// check, a bolt file's pages and checksums, then Verify), whose error is
// a failed check.
func (t *Tally) CheckEnd(ctx context.Context, p *membership.Program, members []string, start, end time.Time, pg *insight.Page, held map[string]decimal.Decimal, c *Checks) error {
	if err := t.CheckMembers(ctx, p, members, start, end, c); err != nil {
		return err
	}
	if err := CheckPage(ctx, p, pg, held, c); err != nil {
		return err
	}
	t.CheckFeed(c)
	if err := p.Check(ctx); err != nil {
		c.True("Check (store and ledger Verify): "+err.Error(), false)
	} else {
		c.True("Check (store and ledger Verify)", true)
	}
	return nil
}

// CheckPage checks the operator's page against the program: the level mix
// of its last month is Levels().Counts, the last month's points
// outstanding is the members' balances summed (held, per program), and
// each template's funnel is the coupon Stats of the whole run.
func CheckPage(ctx context.Context, p *membership.Program, pg *insight.Page, held map[string]decimal.Decimal, c *Checks) error {
	counts, err := p.Levels().Counts(ctx)
	if err != nil {
		return err
	}
	if n := len(pg.LevelMix); n > 0 {
		for i, name := range pg.Ladder {
			for _, lc := range counts {
				if lc.Name == name && !lc.Plan {
					c.Int("page: members at "+name+" at the end", pg.LevelMix[n-1][i], lc.Members)
				}
			}
		}
	}
	for _, pt := range pg.Points {
		if n := len(pt.Outstanding); n > 0 {
			c.Decimal("page: "+pt.Program+" points outstanding at the end (members' balances)", pt.Outstanding[n-1], held[pt.Program])
		}
	}
	st, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		return err
	}
	for _, f := range pg.Coupons {
		statEqual(c, "page: funnel of "+f.Template, coupon.Stat{Issued: f.Issued, Used: f.Used, Expired: f.Expired, Revoked: f.Revoked, AmountOff: f.AmountOff}, st.ByTemplate[f.Template])
	}
	return nil
}

func statEqual(c *Checks, what string, got, want coupon.Stat) {
	c.Int(what+": issued", got.Issued, want.Issued)
	c.Int(what+": used", got.Used, want.Used)
	c.Int(what+": expired", got.Expired, want.Expired)
	c.Int(what+": revoked", got.Revoked, want.Revoked)
	c.Decimal(what+": amount off", got.AmountOff, want.AmountOff)
}

// monthKind keys the members' entries summed per month and kind.
type monthKind struct {
	month string
	kind  ledger.Kind
}

// histories replays the members' level histories into the figures of
// each day that Levels().Days gives: the members at each ladder level at
// the day's end, the joins, upgrades and downgrades.
type histories struct {
	first, last rule.Date
	rank        map[string]int
	days        []level.Day
}

func newHistories(p *membership.Program, first, last rule.Date) *histories {
	h := &histories{first: first, last: last, rank: map[string]int{}}
	ladder := p.Definition().Levels.Ladder
	for i, l := range ladder {
		h.rank[l.Name] = i
	}
	for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
		h.days = append(h.days, level.Day{Day: d, Members: make([]level.Count, len(ladder))})
	}
	return h
}

// add reads member's whole history and adds its ladder moves, and the
// level it held at each day's end, to the days.
func (h *histories) add(ctx context.Context, p *membership.Program, m string) error {
	var moves []level.Record
	for after := uint64(0); ; {
		rs, err := p.Levels().History(ctx, m, after, 1000)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			if r.Plan == "" {
				moves = append(moves, r)
			}
		}
		after = rs[len(rs)-1].Seq
	}
	held, next := -1, 0
	for i := range h.days {
		d := &h.days[i]
		for ; next < len(moves) && rule.DateOf(moves[next].Time, p.Location()).Compare(d.Day) <= 0; next++ {
			r := moves[next]
			from, to := h.rank[r.From], h.rank[r.To]
			switch {
			case r.From == "":
				if rule.DateOf(r.Time, p.Location()).Compare(h.first) >= 0 {
					d.Joins++
				}
			case to > from:
				d.Upgrades++
			case to < from:
				d.Downgrades++
			}
			held = to
		}
		if held >= 0 {
			d.Members[held].Members++
		}
	}
	return nil
}

// check compares the days with Levels().Days.
func (h *histories) check(ctx context.Context, p *membership.Program, c *Checks) error {
	days, err := p.Levels().Days(ctx, h.first, h.last)
	if err != nil {
		return err
	}
	c.Int("level days (members' histories)", int64(len(h.days)), int64(len(days)))
	for i := range min(len(days), len(h.days)) {
		got, want := h.days[i], days[i]
		what := "level figures of " + want.Day.String() + " (members' histories)"
		c.Int(what+": joins", got.Joins, want.Joins)
		c.Int(what+": upgrades", got.Upgrades, want.Upgrades)
		c.Int(what+": downgrades", got.Downgrades, want.Downgrades)
		for l := range min(len(got.Members), len(want.Members)) {
			c.Int(what+": members at "+want.Members[l].Name, got.Members[l].Members, want.Members[l].Members)
		}
	}
	return nil
}
