package ledger

import (
	"fmt"

	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

// Entries and lots are the ledger's hottest records, so they are stored in
// a compact binary form rather than JSON; the first byte is a version.
const recordV1 = 1

func encodeAccount(w *codec.Writer, a Account) {
	w.String(string(a.Asset))
	w.String(a.Member)
	w.String(a.Sub)
}

func decodeAccount(r *codec.Reader) Account {
	return Account{Asset: Asset(r.String()), Member: r.String(), Sub: r.String()}
}

// appendEntry appends an entry's record to b; pools are the pool legs of
// its transaction that ride in it (same transaction, time, kind and
// reference).
func appendEntry(b []byte, e Entry, pools []Entry) []byte {
	w := codec.Writer{B: b}
	w.B = append(w.B, recordV1)
	w.Uint(e.Seq)
	w.Uint(e.Txn)
	w.Time(e.Time)
	w.String(string(e.Kind))
	encodeAccount(&w, e.Account)
	w.Decimal(e.Amount)
	w.Decimal(e.Balance)
	w.String(e.Lot)
	w.String(e.Ref.Event)
	w.String(e.Ref.Order)
	w.String(e.Ref.Operator)
	w.String(e.Ref.Note)
	if len(pools) > 0 {
		w.Uint(uint64(len(pools)))
		for _, p := range pools {
			w.Uint(p.Seq)
			encodeAccount(&w, p.Account)
			w.Decimal(p.Amount)
			w.Decimal(p.Balance)
		}
	}
	return w.B
}

// decodeEntry reads the entry of a record, ignoring pool legs riding in it.
func decodeEntry(b []byte) (Entry, error) {
	e, _, err := decodeRecord(b, false)
	return e, err
}

// decodeEntryRecord reads an entry and the pool legs riding in its record.
func decodeEntryRecord(b []byte) (Entry, []Entry, error) {
	return decodeRecord(b, true)
}

func decodeRecord(b []byte, withPools bool) (Entry, []Entry, error) {
	if len(b) == 0 || b[0] != recordV1 {
		return Entry{}, nil, fmt.Errorf("%w: entry record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	e := Entry{Seq: r.Uint(), Txn: r.Uint(), Time: r.Time(), Kind: Kind(r.String()), Account: decodeAccount(&r)}
	e.Amount = r.Decimal()
	e.Balance = r.Decimal()
	e.Lot = r.String()
	e.Ref = Ref{Event: r.String(), Order: r.String(), Operator: r.String(), Note: r.String()}
	var pools []Entry
	if withPools && r.Err() == nil && len(r.B) > 0 {
		n := r.Uint()
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			p := Entry{Seq: r.Uint(), Txn: e.Txn, Time: e.Time, Kind: e.Kind, Account: decodeAccount(&r), Ref: e.Ref}
			p.Amount = r.Decimal()
			p.Balance = r.Decimal()
			pools = append(pools, p)
		}
		if len(r.B) > 0 {
			return Entry{}, nil, fmt.Errorf("%w: entry record: %d trailing bytes", ErrCorrupt, len(r.B))
		}
	}
	if err := r.Err(); err != nil {
		return Entry{}, nil, fmt.Errorf("%w: entry record: %v", ErrCorrupt, err)
	}
	return e, pools, nil
}

// appendLot appends a lot's record to b.
func appendLot(b []byte, l Lot) []byte {
	w := codec.Writer{B: b}
	w.B = append(w.B, recordV1)
	w.String(l.ID)
	encodeAccount(&w, l.Account)
	w.Decimal(l.Amount)
	w.Decimal(l.Original)
	w.Time(l.Expires)
	w.Time(l.Granted)
	return w.B
}

func decodeLot(b []byte) (Lot, error) {
	if len(b) == 0 || b[0] != recordV1 {
		return Lot{}, fmt.Errorf("%w: lot record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	return decodeLotRest(&r, Lot{ID: r.String(), Account: decodeAccount(&r)})
}

// decodeLotOf reads the record of a lot whose account and id the caller
// knows (it found the record by them), without copying them again.
func decodeLotOf(b []byte, a Account, id string) (Lot, error) {
	if len(b) == 0 || b[0] != recordV1 {
		return Lot{}, fmt.Errorf("%w: lot record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	for range 4 { // id, asset, member, sub
		r.SkipString()
	}
	return decodeLotRest(&r, Lot{ID: id, Account: a})
}

// decodeLotRest reads the fields after a lot record's id and account.
func decodeLotRest(r *codec.Reader, l Lot) (Lot, error) {
	l.Amount = r.Decimal()
	l.Original = r.Decimal()
	l.Expires = r.Time()
	l.Granted = r.Time()
	if err := r.Err(); err != nil {
		return Lot{}, fmt.Errorf("%w: lot record: %v", ErrCorrupt, err)
	}
	return l, nil
}

func decodeAmount(b []byte) (decimal.Decimal, error) {
	d, err := codec.ParseAmount(b)
	if err != nil {
		return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return d, nil
}
