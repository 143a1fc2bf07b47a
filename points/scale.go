package points

import (
	"maps"

	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// bMeta holds what points records of the definition in force: scalesKey
// → each program's scale (Program.Scale), by name.
const bMeta = "points.meta"

var scalesKey = []byte("scales")

// scalesOf returns the scale of each program of def (none when def is nil).
func scalesOf(def *Definition) map[string]int32 {
	out := map[string]int32{}
	if def != nil {
		for _, p := range def.Programs {
			out[p.Name] = p.Scale()
		}
	}
	return out
}

// recordScales is the points domain's engine.Installed: it records the
// scales of the definition in force (nothing when the store records them
// already), so that the next version's scalesInUse knows which it lowers.
func recordScales(tx store.Tx, def *Definition) error {
	var old map[string]int32
	found, err := record.Get(tx, bMeta, scalesKey, &old)
	if err != nil {
		return err
	}
	now := scalesOf(def)
	if found && maps.Equal(old, now) {
		return nil
	}
	return record.Put(tx, bMeta, scalesKey, now)
}

// scalesInUse adds to ps, for each program of def whose scale is lower
// than the recorded one and whose ledger asset is among assets, a problem
// at "points.programs[i].rounding.scale" naming a member whose balance,
// or a lot's remainder, has more decimal places: no redemption,
// adjustment or exchange could take the rest (amounts finer than the
// scale are refused; a lot expiring alone leaves the rest of the balance
// unspendable). Only such a program's balances and lots are
// scanned (ledger.FirstFiner); a program the store records no scale of
// (a store written before they were recorded) is scanned too.
func scalesInUse(tx store.Tx, def *Definition, assets []ledger.Asset, ps *rule.Problems) error {
	var old map[string]int32
	found, err := record.Get(tx, bMeta, scalesKey, &old)
	if err != nil {
		return err
	}
	held := map[ledger.Asset]bool{}
	for _, a := range assets {
		held[a] = true
	}
	for i, p := range def.Programs {
		asset := ledger.Points(p.Name)
		if was, ok := old[p.Name]; !held[asset] || (found && ok && was <= p.Scale()) {
			continue
		}
		f, finer, err := ledger.FirstFiner(tx, asset, p.Scale(), true)
		if err != nil {
			return err
		}
		if finer {
			ps.Addf(rule.Join("points", rule.Index("programs", i), "rounding.scale"),
				"%d places while %s (program %q): keep the scale until every balance has at most %d", p.Scale(), f, p.Name, p.Scale())
		}
	}
	return nil
}
