package ledger

import "github.com/memberkit/membership/store"

// BlankNotes removes the note (Ref.Note) of every entry of member's
// accounts, and of the pool legs riding in them, and returns how many
// entry records it rewrote. It is the ledger's share of erasing a
// member's personal data: a note is free text an operator wrote (an
// adjustment's reason), so it may hold personal data. Everything else of
// an entry is kept: amount, running balance, kind, lot, and the
// reference's event, order and operator, which reconciliation and the
// statements need; balances, lots and totals are not touched, so Verify
// holds as before.
func (l *Ledger) BlankNotes(member string) (int, error) {
	p := accountKey(Account{Member: member})[:len(member)+1]
	type rec struct{ k, v []byte }
	var recs []rec
	var es []Entry
	err := l.tx.Scan(bEntry, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		if len(v) < 2 || v[1]&fNote == 0 {
			return nil // no note (a damaged record is Verify's to report)
		}
		a, n, ok := parseAccountKey(k)
		if !ok {
			return errf(ErrCorrupt, "entry key %q", k)
		}
		var err error
		if es, err = appendEntries(es[:0], a, n, k, v, true); err != nil {
			return err
		}
		for i := range es {
			es[i].Ref.Note = ""
		}
		recs = append(recs, rec{k: append([]byte(nil), k...), v: appendEntry(nil, es[0], es[1:])})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		if err := l.tx.Put(bEntry, r.k, r.v); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}
