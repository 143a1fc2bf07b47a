package value

import (
	"slices"

	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// bMeta holds what stored value records of the definition in force:
// scaleKey → the scale (Definition.Places) its balances were kept to.
const bMeta = "value.meta"

var scaleKey = []byte("scale")

// recordScale is stored value's engine.Installed: it records the scale of
// the definition in force (nothing when the store records it already), so
// that the next version's scaleInUse knows whether it lowers it.
func recordScale(tx store.Tx, places int32) error {
	var old int32
	found, err := record.Get(tx, bMeta, scaleKey, &old)
	if err != nil || (found && old == places) {
		return err
	}
	return record.Put(tx, bMeta, scaleKey, places)
}

// scaleInUse is stored value's engine.InUse check of a definition whose
// scale is places: when it lowers the recorded scale, a member's balance
// with more decimal places is a problem at "stored_value.scale", for no
// spend could take the rest (amounts finer than the scale are refused).
// A lot's remainder does not count: stored value's lots never expire, so
// a spend of the balance takes them all. Only a lowered scale scans the
// balances (ledger.FirstFiner); a store that records no scale (written
// before it was recorded) is scanned too.
func scaleInUse(tx store.Tx, places int32) error {
	var old int32
	found, err := record.Get(tx, bMeta, scaleKey, &old)
	if err != nil || (found && old <= places) {
		return err
	}
	assets, err := ledger.Assets(tx)
	if err != nil || !slices.Contains(assets, ledger.Value) {
		return err // no pool balance: no member holds any
	}
	f, held, err := ledger.FirstFiner(tx, ledger.Value, places, false)
	if err != nil || !held {
		return err
	}
	var ps rule.Problems
	ps.Addf("stored_value.scale", "%d places while %s: keep the scale until every balance has at most %d", places, f, places)
	return ps.Err()
}
