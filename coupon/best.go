package coupon

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// rank is a coupon's place in the order a combination applies in:
// exchange first, then cash and random, then discounts on what is left.
// Within a rank the order is the one that takes off the most (see plan).
func rank(t *Template) int {
	switch t.Type {
	case Exchange:
		return 0
	case Discount:
		return 2
	}
	return 1
}

// compareIDs orders coupon IDs as they are issued: a member's "c2.m"
// before its "c10.m". It compares the numbers (couponID's n: the digits
// after the leading "c"), then the whole IDs, shorter first, so that the
// IDs of several members, and IDs of other shapes, have one order too.
func compareIDs(a, b string) int {
	na, nb := idNumber(a), idNumber(b)
	if c := cmp.Compare(len(na), len(nb)); c != 0 {
		return c
	}
	if c := strings.Compare(na, nb); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// idNumber returns the digits that follow a coupon ID's leading "c" (its
// number, without leading zeros), or "" for an ID of another shape.
func idNumber(id string) string {
	if id == "" || id[0] != 'c' {
		return ""
	}
	i := 1
	for i < len(id) && '0' <= id[i] && id[i] <= '9' {
		i++
	}
	return id[1:i]
}

// compareHeld orders coupons by rank, then ID: the order a plan tries
// them in, and the order that breaks ties between plans.
func compareHeld(a, b Held) int {
	return cmp.Or(cmp.Compare(rank(a.Template), rank(b.Template)), compareIDs(a.Coupon.ID, b.Coupon.ID))
}

// maxPlan is the most coupons one combination may hold (one per template
// of a stacking group): a plan's search keeps the coupons it has applied
// in a 64-bit set.
const maxPlan = 64

// planVisits bounds the states a plan's search visits. The search prunes
// every state whose bound (see flowBound) cannot beat the best plan found,
// and starts a plan of more than smallPlan coupons from a greedy plan that
// bound guides (see dive): it finds the best plan of every random group
// of up to ten coupons tested (TestBestAgainstExhaustive; nine in ten
// proven within 770 states) and of forty that compete for their
// products' lines (TestBestScopedBeforeGeneral: 820 states). A larger
// group of cash coupons and discounts on overlapping products can reach
// the bound before it finds the best (BenchmarkBestLargeGroup's twelve
// over twenty lines: 565.13 where the best is 565.27); past the bound the
// search keeps the best plan found, so that a member holding coupons of
// dozens of templates of one group still gets a proposal in tens of
// milliseconds.
const planVisits = 2048

// smallPlan is the most coupons a plan's search takes without the dive
// and the flow bound: six coupons have 1,957 sequences, fewer than
// planVisits, so the search goes through them all anyway, and the dive's
// and the bound's amounts off took up to a third more time of a checkout
// with groups of four and three coupons (BenchmarkCouponCheckout).
const smallPlan = 6

// step is one coupon of a plan and what it takes off.
type step struct {
	i   int // index in the plan's coupons
	off decimal.Decimal
}

// planner searches the sequences of a set of coupons (sorted by
// compareHeld) for the one that takes the most off an order: the best
// total, then the fewest coupons, then the first in compareHeld order,
// coupon by coupon. A sequence applies its coupons one after the other,
// each on what the previous left, in rank order; within a rank, in any
// order.
type planner struct {
	o      Order
	dp     int32 // the money scale amounts are rounded to
	hs     []Held
	sc     []scope
	ranks  []int
	solo   []decimal.Decimal // what each takes off alone: at most what it takes anywhere
	reach  [][]int           // the lines each may take from, indices into lines
	guided bool              // more than smallPlan coupons: dive first, prune by flowBound too
	all    bool              // only sequences of every coupon count; a coupon may take nothing
	lines  []int             // the lines some coupon applies to: the state's key
	seen   map[string]bool   // the states visited: (coupons applied, rank, what is left)
	visits int
	key    []byte
	// rems[n] is the room for what is left after the (n+1)th coupon of
	// the sequence being searched: a state's amounts are needed only
	// while its subtree is searched, so each depth reuses one slice.
	rems [][]decimal.Decimal

	cur, best []step
	total     decimal.Decimal // best's
	found     bool
}

// plan returns the best sequence of hs (sorted by compareHeld) for o, with
// every coupon when all is set (some may take nothing then), or else the
// best subset, whose every coupon takes something off, its amounts at dp
// decimal places.
func plan(o Order, hs []Held, sc scopes, solo []decimal.Decimal, all bool, dp int32) ([]step, decimal.Decimal) {
	p := &planner{o: o, dp: dp, hs: hs, sc: make([]scope, len(hs)), ranks: make([]int, len(hs)), solo: solo, all: all, seen: map[string]bool{}}
	in := make([]bool, len(o.Lines))
	for j, h := range hs {
		p.sc[j] = sc.of(h.Template, o)
		p.ranks[j] = rank(h.Template)
		for _, i := range p.sc[j].lines {
			in[i] = true
		}
	}
	at := make([]int, len(o.Lines)) // a line's index in p.lines
	for i, ok := range in {
		if ok {
			at[i] = len(p.lines)
			p.lines = append(p.lines, i)
		}
	}
	p.reach = make([][]int, len(hs))
	for j, h := range hs {
		for _, i := range p.sc[j].lines {
			// An exchange coupon takes from its item's first line only.
			if h.Template.Type != Exchange || o.Lines[i].Product == h.Template.Item {
				p.reach[j] = append(p.reach[j], at[i])
				if h.Template.Type == Exchange {
					break
				}
			}
		}
	}
	rem := remaining(o)
	if p.guided = len(hs) > smallPlan; p.guided {
		p.dive(rem)
	}
	p.search(rem, decimal.Zero, 0, 0)
	return p.best, p.total
}

// consider makes the sequence being searched, which takes taken off in
// all, the best when it is: a larger total, or as much with fewer
// coupons, or with as many coupons that come first in compareHeld order.
func (p *planner) consider(taken decimal.Decimal) {
	c := taken.Cmp(p.total)
	if !p.found || c > 0 || c == 0 && (len(p.cur) < len(p.best) || len(p.cur) == len(p.best) && before(p.cur, p.best) < 0) {
		p.best = append(p.best[:0], p.cur...)
		p.total, p.found = taken, true
	}
}

// before compares a and b on their common length, step by step, by the
// coupons' places in compareHeld order: -1 when a comes first, 1 when b
// does, 0 when one begins with the other.
func before(a, b []step) int {
	for k := range min(len(a), len(b)) {
		if c := cmp.Compare(a[k].i, b[k].i); c != 0 {
			return c
		}
	}
	return 0
}

// dive follows, from the empty sequence, the coupon whose amount off and
// bound on the rest add up to the most (the first in compareHeld order on
// a tie), down to a full sequence, and considers each sequence on the way:
// a good plan to start the search with, so that it prunes from the start.
func (p *planner) dive(rem []decimal.Decimal) {
	rem = slices.Clone(rem)
	after := make([]decimal.Decimal, len(rem))
	var used uint64
	taken, rk := decimal.Zero, 0
	for len(p.cur) < len(p.hs) {
		next := p.nextRank(used, rk)
		pick, pickRem := -1, []decimal.Decimal(nil)
		var pickAmt, pickScore decimal.Decimal
		for j, h := range p.hs {
			if used&(1<<j) != 0 || p.ranks[j] < rk || p.all && p.ranks[j] != next {
				continue
			}
			copy(after, rem)
			amt, _ := off(h, p.o, p.sc[j], after, p.dp)
			if !p.all && !amt.IsPositive() {
				continue
			}
			score := amt.Add(p.flowBound(after, used|1<<j, p.ranks[j]))
			if pick < 0 || score.GreaterThan(pickScore) {
				pick, pickAmt, pickScore, pickRem = j, amt, score, slices.Clone(after)
			}
		}
		if pick < 0 {
			break
		}
		p.cur = append(p.cur, step{pick, pickAmt})
		taken, used, rk, rem = taken.Add(pickAmt), used|1<<pick, p.ranks[pick], pickRem
		if !p.all || len(p.cur) == len(p.hs) {
			p.consider(taken)
		}
	}
	p.cur = p.cur[:0]
}

// nextRank returns the lowest rank, rk or later, of the coupons not in
// used: the rank a sequence of every coupon applies next (-1 when none
// is left).
func (p *planner) nextRank(used uint64, rk int) int {
	next := -1
	for j := range p.hs {
		if used&(1<<j) == 0 && p.ranks[j] >= rk && (next < 0 || p.ranks[j] < next) {
			next = p.ranks[j]
		}
	}
	return next
}

// flowBound returns the most the coupons not in used, of rank rk or
// later, can still take off rem: a maximum flow from those coupons, each
// giving at most what it would take off rem now, through the lines each
// may take from, each taking at most what is left of it. A coupon takes
// no more later, when less is left (a discount's base, a cash coupon's
// lines), and what any sequence of them takes, line by line, is such a
// flow, so none takes more; unlike the sum of the amounts off alone, it
// sees that coupons of one product compete for that product's line.
func (p *planner) flowBound(rem []decimal.Decimal, used uint64, rk int) decimal.Decimal {
	var js []int
	var give []decimal.Decimal // what each of js may still give
	for j := range p.hs {
		if used&(1<<j) != 0 || p.ranks[j] < rk || len(p.reach[j]) == 0 {
			continue
		}
		if now, _, _, _ := amountOff(p.hs[j], p.o, p.sc[j], rem, p.dp); now.IsPositive() {
			js, give = append(js, j), append(give, now)
		}
	}
	if len(js) == 0 {
		return decimal.Zero
	}
	// The residual network: what each coupon may still give, what each
	// line may still take, and the flow from each coupon to each line
	// (which a path may push back to reach another coupon).
	take := make([]decimal.Decimal, len(p.lines))
	for l, i := range p.lines {
		take[l] = rem[i]
	}
	flow := make([][]decimal.Decimal, len(js))
	for k := range flow {
		flow[k] = make([]decimal.Decimal, len(p.lines))
	}
	total := decimal.Zero
	// Shortest augmenting paths (Edmonds–Karp): coupon, line, coupon,
	// line …, from a coupon with something to give to a line with room.
	fromLine := make([]int, len(p.lines)) // the coupon a path reached the line from, -1 when not reached
	fromCoupon := make([]int, len(js))    // the line a path reached the coupon from, -1 from the source, -2 when not reached
	queue := make([]int, 0, len(js))
	for {
		for l := range fromLine {
			fromLine[l] = -1
		}
		queue = queue[:0]
		for k := range js {
			fromCoupon[k] = -2
			if give[k].IsPositive() {
				fromCoupon[k] = -1
				queue = append(queue, k)
			}
		}
		end := -1
		for q := 0; q < len(queue) && end < 0; q++ {
			k := queue[q]
			for _, l := range p.reach[js[k]] {
				if fromLine[l] >= 0 {
					continue
				}
				fromLine[l] = k
				if take[l].IsPositive() {
					end = l
					break
				}
				for k2 := range js {
					if fromCoupon[k2] == -2 && flow[k2][l].IsPositive() {
						fromCoupon[k2] = l
						queue = append(queue, k2)
					}
				}
			}
		}
		if end < 0 {
			return total
		}
		// The bottleneck, then the push, along the path back from end.
		amt := take[end]
		for l := end; ; {
			k := fromLine[l]
			if fromCoupon[k] == -1 {
				amt = decimal.Min(amt, give[k])
				break
			}
			l = fromCoupon[k]
			amt = decimal.Min(amt, flow[k][l])
		}
		take[end] = take[end].Sub(amt)
		for l := end; ; {
			k := fromLine[l]
			flow[k][l] = flow[k][l].Add(amt)
			if fromCoupon[k] == -1 {
				give[k] = give[k].Sub(amt)
				break
			}
			l = fromCoupon[k]
			flow[k][l] = flow[k][l].Sub(amt)
		}
		total = total.Add(amt)
	}
}

func (p *planner) search(rem []decimal.Decimal, taken decimal.Decimal, used uint64, rk int) {
	n := len(p.cur)
	full := n == len(p.hs)
	if !p.all || full {
		p.consider(taken)
	}
	if full || p.visits >= planVisits {
		return
	}
	p.visits++
	// Two sequences of the same coupons that leave the same amounts have
	// the same futures; the first one visited comes first in compareHeld
	// order (the search tries coupons in that order), so the later one is
	// skipped.
	k := binary.AppendUvarint(p.key[:0], used)
	k = append(k, byte(rk))
	for _, i := range p.lines {
		k = appendAmountKey(k, rem[i])
	}
	p.key = k
	if p.seen[string(k)] {
		return
	}
	p.seen[string(k)] = true
	// The most the rest can add is each coupon's amount off alone, and at
	// most what is left: a bound cheap to reckon, and when it does not
	// prune (and the plan is not small), the tighter flowBound.
	next := p.nextRank(used, rk) // in an all plan, the rank to apply next
	var most, left decimal.Decimal
	for j := range p.hs {
		if used&(1<<j) == 0 && p.ranks[j] >= rk {
			most = most.Add(p.solo[j])
		}
	}
	for _, i := range p.lines {
		left = left.Add(rem[i])
	}
	if p.found && (p.beaten(taken.Add(decimal.Min(most, left)), taken, used, rk) ||
		p.guided && p.beaten(taken.Add(p.flowBound(rem, used, rk)), taken, used, rk)) {
		return
	}
	for j, h := range p.hs {
		if used&(1<<j) != 0 || p.ranks[j] < rk || p.all && p.ranks[j] != next {
			continue
		}
		if len(p.rems) <= n {
			p.rems = append(p.rems, make([]decimal.Decimal, len(rem)))
		}
		after := p.rems[n]
		copy(after, rem)
		amt, _ := off(h, p.o, p.sc[j], after, p.dp)
		if !p.all && !amt.IsPositive() {
			continue // the sequence without it takes as much, with fewer coupons
		}
		p.cur = append(p.cur, step{j, amt})
		p.search(after, taken.Add(amt), used|1<<j, p.ranks[j])
		p.cur = p.cur[:n]
	}
}

// beaten reports whether no sequence that begins with the one being
// searched (the coupons used, the last of rank rk, taking taken off) and
// takes at most bound off in all can be the best: a smaller total than the
// best's, or the same total with more coupons, or with as many that come
// later in compareHeld order.
func (p *planner) beaten(bound, taken decimal.Decimal, used uint64, rk int) bool {
	c := bound.Cmp(p.total)
	if c != 0 {
		return c < 0
	}
	n, first := len(p.cur), before(p.cur, p.best)
	fewest := len(p.hs) // an all plan's sequences hold every coupon
	if !p.all {
		fewest = n + p.fewest(p.total.Sub(taken), used, rk)
	}
	switch {
	case fewest < len(p.best):
		return false
	case fewest > len(p.best):
		return true
	}
	// As many coupons as the best: a sequence that comes first can still
	// win, one that comes later cannot, nor one that begins with the best.
	return first > 0 || first == 0 && n >= len(p.best)
}

// fewest returns how many more coupons (unused, of rank rk or later) it
// takes at least to add need, each adding at most its amount off alone.
func (p *planner) fewest(need decimal.Decimal, used uint64, rk int) int {
	if !need.IsPositive() {
		return 0
	}
	var solo []decimal.Decimal
	for j := range p.hs {
		if used&(1<<j) == 0 && p.ranks[j] >= rk {
			solo = append(solo, p.solo[j])
		}
	}
	slices.SortFunc(solo, func(a, b decimal.Decimal) int { return b.Cmp(a) })
	for k, s := range solo {
		if need = need.Sub(s); !need.IsPositive() {
			return k + 1
		}
	}
	return len(solo) + 1 // never: the caller's bound says it can be reached
}

// applied returns the plan's coupons as Applied, in the order they apply.
func applied(hs []Held, steps []step, sc scopes, o Order) []Applied {
	out := make([]Applied, 0, len(steps))
	for _, st := range steps {
		h := hs[st.i]
		a := Applied{Coupon: h.Coupon.ID, Code: h.Coupon.Code, Template: h.Template.Name, Group: h.Template.Group,
			Applicable: sc.of(h.Template, o).applicable, AmountOff: st.off}
		if h.Template.Type == Exchange {
			a.Item = h.Template.Item
		}
		out = append(out, a)
	}
	return out
}

// Combine returns the coupons' amounts off when used together in o, in
// the order they apply: exchange, then cash and random, then discounts on
// what the others left, each on the line amounts the previous ones left,
// so the total never exceeds the order; within each of those kinds, in
// the order that takes off the most (ties: the coupons' IDs in issue
// order). It returns an error wrapping ErrNotCombinable for a combination
// the stacking rules forbid (or of more than 64 coupons), or wrapping
// ErrNotApplicable naming a coupon that does not apply and why, including
// a coupon that adds nothing to what the others take off
// (ReasonNothingOff): the coupons of a proposal (Best) combine as
// proposed. A Held without its Template is refused as CheckCombination
// says. Amounts are rounded to Scale, two places; the Handle combines at
// its definition's money scale (Definition.MoneyPlaces).
func Combine(o Order, held []Held) ([]Applied, decimal.Decimal, error) {
	as, total, err := combine(o, held, Scale)
	if err != nil {
		return nil, decimal.Zero, fmt.Errorf("coupon: %w", err)
	}
	return as, total, nil
}

// combine is Combine at dp decimal places, the money scale; its caller
// names the package.
func combine(o Order, held []Held, dp int32) ([]Applied, decimal.Decimal, error) {
	if err := checkCombination(held); err != nil {
		return nil, decimal.Zero, err
	}
	if len(held) > maxPlan {
		return nil, decimal.Zero, fmt.Errorf("%w: %d coupons, at most %d", ErrNotCombinable, len(held), maxPlan)
	}
	sc := scopes{}
	hs := slices.Clone(held)
	slices.SortFunc(hs, compareHeld)
	ev := evaluate(o, hs, sc, dp)
	solo := make([]decimal.Decimal, len(hs))
	for j, a := range ev {
		if !a.OK() {
			return nil, decimal.Zero, fmt.Errorf("%s: %w: %s", a.Coupon, ErrNotApplicable, a.Reasons[0])
		}
		solo[j] = a.AmountOff
	}
	steps, total := plan(o, hs, sc, solo, true, dp)
	if len(hs) > 1 {
		// A coupon adds nothing when the others take as much without it.
		for j := range hs {
			rest := slices.Delete(slices.Clone(hs), j, j+1)
			restSolo := slices.Delete(slices.Clone(solo), j, j+1)
			if _, t := plan(o, rest, sc, restSolo, true, dp); t.Equal(total) {
				return nil, decimal.Zero, fmt.Errorf("%s: %w: %s in this combination", hs[j].Coupon.ID, ErrNotApplicable, ReasonNothingOff)
			}
		}
	}
	return applied(hs, steps, sc, o), total, nil
}

// Best proposes the allowed combination of held coupons with the largest
// amount off for o: each exclusive coupon alone, or, for each stacking
// group, the best subset of the best coupon of each of its templates (the
// largest amount off alone, then the earliest expiry, then the first
// issued), each applied in its best order (see Combine). No coupon of a
// proposal takes nothing off. Ties go to fewer coupons, then to the
// coupons first in application order and issue order; the templates'
// names never decide. A proposal with no coupons means none applies.
//
// The search stops after planVisits steps, keeping the best found (see
// the package doc, Checkout and stacking). Amounts are rounded to Scale,
// two places; Handle.Checkout proposes at its definition's money scale
// (Definition.MoneyPlaces).
func Best(o Order, held []Held) Proposal {
	return best(o, held, Scale)
}

// best is Best at dp decimal places, the money scale.
func best(o Order, held []Held, dp int32) Proposal {
	sc := scopes{}
	ev := evaluate(o, held, sc, dp)
	p := Proposal{Evaluated: ev, AmountOff: decimal.Zero}
	bestOf := map[string]int{} // group\x00template → index in held
	var pick []Held            // the best coupons, in application order
	var picked []Applied
	consider := func(hs []Held, out []Applied, total decimal.Decimal) {
		c := total.Cmp(p.AmountOff)
		if c < 0 || c == 0 && (len(out) > len(picked) || len(out) == len(picked) && !firstPlan(hs, pick)) || !total.IsPositive() {
			return
		}
		pick, picked, p.AmountOff = hs, out, total
	}
	for i, a := range ev {
		if !a.OK() {
			continue
		}
		h := held[i]
		if h.Template.Group == "" {
			consider([]Held{h}, applied([]Held{h}, []step{{0, a.AmountOff}}, sc, o), a.AmountOff)
			continue
		}
		k := h.Template.Group + "\x00" + h.Template.Name
		j, ok := bestOf[k]
		if !ok || better(ev[i], held[i], ev[j], held[j]) {
			bestOf[k] = i
		}
	}
	groups := map[string][]int{}
	for _, i := range bestOf {
		g := held[i].Template.Group
		groups[g] = append(groups[g], i)
	}
	for _, is := range groups {
		// The most a group's search holds: its coupons that take most
		// off alone.
		slices.SortFunc(is, func(a, b int) int {
			return cmp.Or(ev[b].AmountOff.Cmp(ev[a].AmountOff), compareHeld(held[a], held[b]))
		})
		is = is[:min(len(is), maxPlan)]
		slices.SortFunc(is, func(a, b int) int { return compareHeld(held[a], held[b]) })
		hs := make([]Held, len(is))
		solo := make([]decimal.Decimal, len(is))
		for j, i := range is {
			hs[j], solo[j] = held[i], ev[i].AmountOff
		}
		steps, total := plan(o, hs, sc, solo, false, dp)
		seq := make([]Held, len(steps))
		for j, st := range steps {
			seq[j] = hs[st.i]
		}
		consider(seq, applied(hs, steps, sc, o), total)
	}
	p.Coupons = picked
	return p
}

// firstPlan reports whether the coupons a come before b (of the same
// length) in compareHeld order, coupon by coupon.
func firstPlan(a, b []Held) bool {
	for i := range a {
		if c := compareHeld(a[i], b[i]); c != 0 {
			return c < 0
		}
	}
	return false
}

// better reports whether coupon a (of the same template as b) is the
// better pick: a larger amount off, then the earlier expiry, then the
// first issued.
func better(ea Applied, a Held, eb Applied, b Held) bool {
	if c := ea.AmountOff.Cmp(eb.AmountOff); c != 0 {
		return c > 0
	}
	ax, bx := a.Coupon.Expires, b.Coupon.Expires
	if !ax.Equal(bx) {
		return !ax.IsZero() && (bx.IsZero() || ax.Before(bx))
	}
	return compareIDs(a.Coupon.ID, b.Coupon.ID) < 0
}

// appendAmountKey appends a key of d's value as written (coefficient and
// exponent). A coefficient of up to 18 digits is written as an int64: the
// search writes one per line per state, and Coefficient copies its big.Int.
func appendAmountKey(k []byte, d decimal.Decimal) []byte {
	if d.NumDigits() <= 18 {
		k = append(k, 'i')
		k = binary.AppendVarint(k, d.CoefficientInt64())
	} else {
		k = append(d.Coefficient().Append(append(k, 'b'), 16), 'e')
	}
	return binary.AppendVarint(k, int64(d.Exponent()))
}
