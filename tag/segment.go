package tag

import (
	"slices"

	"github.com/memberkit/membership/store"
)

// gen lists candidate members after a member, in order, up to n.
type gen func(after string, n int) ([]string, error)

// plan returns the generator of an expression's candidates and their
// estimated number; ok is false for an expression with no positive tag to
// drive it (a negation).
func plan(tx store.Tx, e Expr) (g gen, size int64, ok bool, err error) {
	switch e.op {
	case "tag":
		n, err := count(tx, e.tag)
		if err != nil {
			return nil, 0, false, err
		}
		return func(a string, n int) ([]string, error) { return tagged(tx, e.tag, a, n) }, n, true, nil
	case "and":
		for _, a := range e.args {
			ag, n, aok, err := plan(tx, a)
			if err != nil {
				return nil, 0, false, err
			}
			if aok && (!ok || n < size) {
				g, size, ok = ag, n, true
			}
		}
		return g, size, ok, nil
	case "or":
		var gens []gen
		for _, a := range e.args {
			ag, n, aok, err := plan(tx, a)
			if err != nil || !aok {
				return nil, 0, false, err
			}
			gens = append(gens, ag)
			size += n
		}
		return merge(gens), size, true, nil
	}
	return nil, 0, false, nil
}

// merge lists the union of the generators' members, in order.
func merge(gens []gen) gen {
	return func(a string, n int) ([]string, error) {
		var all []string
		for _, g := range gens {
			part, err := g(a, n)
			if err != nil {
				return nil, err
			}
			all = append(all, part...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		if len(all) > n {
			all = all[:n]
		}
		return all, nil
	}
}

// segment returns up to limit members matching e after the member cursor
// ("" for the first page), in member order, and the cursor of the next
// page: "" when there is none; a next page can still turn out empty when
// the members after a full page fail the expression beyond the candidates
// already read. The members are read from the index of
// the least-populated tag of each conjunction and checked against the
// whole expression, so the cost follows the candidates read, not the
// number of members; an expression that is only negations ("not churned")
// reads every member the program has seen.
func segment(tx store.Tx, e Expr, cursor string, limit int) ([]string, string, error) {
	if limit <= 0 {
		limit = 100
	}
	g, _, ok, err := plan(tx, e)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		g = func(a string, n int) ([]string, error) { return knownMembers(tx, a, n) }
	}
	single := e.op == "tag"
	match := func(m string) (bool, error) {
		if single {
			return true, nil
		}
		tags, err := tagNames(tx, m)
		if err != nil {
			return false, err
		}
		return e.Match(tags), nil
	}
	// One more than the page, so a full page can tell whether a next
	// candidate exists.
	batch := max(limit, 64) + 1
	var out []string
	for {
		cands, err := g(cursor, batch)
		if err != nil {
			return nil, "", err
		}
		for i, m := range cands {
			cursor = m
			ok, err := match(m)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue
			}
			out = append(out, m)
			if len(out) < limit {
				continue
			}
			// The page is full: look at the rest of this batch for one
			// more match, so the last page says there is no next.
			for _, rest := range cands[i+1:] {
				if ok, err := match(rest); err != nil || ok {
					return out, m, err
				}
			}
			if len(cands) < batch {
				return out, "", nil
			}
			return out, m, nil
		}
		if len(cands) < batch {
			return out, "", nil
		}
	}
}
