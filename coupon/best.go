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

// planVisits bounds the states a plan's search visits: enough for every
// subset and order of six coupons of one kind (the search prunes what
// cannot beat the best found); past the bound it keeps the best plan
// found so far, so that a member holding coupons of a dozen templates of
// one group still gets a proposal in milliseconds
// (BenchmarkBestLargeGroup).
const planVisits = 2048

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
	hs     []Held
	sc     []scope
	ranks  []int
	solo   []decimal.Decimal // what each takes off alone: at most what it takes anywhere
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
// best subset, whose every coupon takes something off.
func plan(o Order, hs []Held, sc scopes, solo []decimal.Decimal, all bool) ([]step, decimal.Decimal) {
	p := &planner{o: o, hs: hs, sc: make([]scope, len(hs)), ranks: make([]int, len(hs)), solo: solo, all: all, seen: map[string]bool{}}
	in := make([]bool, len(o.Lines))
	for j, h := range hs {
		p.sc[j] = sc.of(h.Template, o)
		p.ranks[j] = rank(h.Template)
		for _, i := range p.sc[j].lines {
			in[i] = true
		}
	}
	for i, ok := range in {
		if ok {
			p.lines = append(p.lines, i)
		}
	}
	p.search(remaining(o), decimal.Zero, 0, 0)
	return p.best, p.total
}

func (p *planner) search(rem []decimal.Decimal, taken decimal.Decimal, used uint64, rk int) {
	n := len(p.cur)
	full := n == len(p.hs)
	if !p.all || full {
		c := taken.Cmp(p.total)
		if !p.found || c > 0 || c == 0 && n < len(p.best) {
			p.best = append(p.best[:0], p.cur...)
			p.total, p.found = taken, true
		}
	}
	if full || p.visits >= planVisits {
		return
	}
	p.visits++
	// Two sequences of the same coupons that leave the same amounts have
	// the same futures; the first one visited comes first in compareHeld
	// order, so the later one is skipped.
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
	// most what is left.
	next := -1 // in an all plan, the rank to apply next: the lowest left
	var most, left decimal.Decimal
	for j := range p.hs {
		if used&(1<<j) == 0 && p.ranks[j] >= rk {
			most = most.Add(p.solo[j])
			if next < 0 {
				next = p.ranks[j]
			}
		}
	}
	for _, i := range p.lines {
		left = left.Add(rem[i])
	}
	if p.found {
		c := taken.Add(decimal.Min(most, left)).Cmp(p.total)
		if c < 0 || c == 0 && (p.all || n+p.fewest(p.total.Sub(taken), used, rk) >= len(p.best)) {
			return // no better total, nor the best with fewer coupons
		}
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
		amt, _ := off(h, p.o, p.sc[j], after)
		if !p.all && !amt.IsPositive() {
			continue // the sequence without it takes as much, with fewer coupons
		}
		p.cur = append(p.cur, step{j, amt})
		p.search(after, taken.Add(amt), used|1<<j, p.ranks[j])
		p.cur = p.cur[:n]
	}
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
// proposed.
func Combine(o Order, held []Held) ([]Applied, decimal.Decimal, error) {
	if err := CheckCombination(held); err != nil {
		return nil, decimal.Zero, err
	}
	if len(held) > maxPlan {
		return nil, decimal.Zero, fmt.Errorf("coupon: %w: %d coupons, at most %d", ErrNotCombinable, len(held), maxPlan)
	}
	sc := scopes{}
	hs := slices.Clone(held)
	slices.SortFunc(hs, compareHeld)
	ev := evaluate(o, hs, sc)
	solo := make([]decimal.Decimal, len(hs))
	for j, a := range ev {
		if !a.OK() {
			return nil, decimal.Zero, fmt.Errorf("coupon: %s: %w: %s", a.Coupon, ErrNotApplicable, a.Reasons[0])
		}
		solo[j] = a.AmountOff
	}
	steps, total := plan(o, hs, sc, solo, true)
	if len(hs) > 1 {
		// A coupon adds nothing when the others take as much without it.
		for j := range hs {
			rest := slices.Delete(slices.Clone(hs), j, j+1)
			restSolo := slices.Delete(slices.Clone(solo), j, j+1)
			if _, t := plan(o, rest, sc, restSolo, true); t.Equal(total) {
				return nil, decimal.Zero, fmt.Errorf("coupon: %s: %w: %s in this combination", hs[j].Coupon.ID, ErrNotApplicable, ReasonNothingOff)
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
// The search visits every subset and order of a group's coupons up to a
// bound (about six coupons of one kind in one group); past it, it keeps
// the best found.
func Best(o Order, held []Held) Proposal {
	sc := scopes{}
	ev := evaluate(o, held, sc)
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
		steps, total := plan(o, hs, sc, solo, false)
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
