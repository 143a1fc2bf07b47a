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

func encodeEntry(e Entry) []byte {
	w := codec.Writer{B: make([]byte, 0, 96)}
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
	return w.B
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) == 0 || b[0] != recordV1 {
		return Entry{}, fmt.Errorf("%w: entry record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	e := Entry{Seq: r.Uint(), Txn: r.Uint(), Time: r.Time(), Kind: Kind(r.String()), Account: decodeAccount(&r)}
	e.Amount = r.Decimal()
	e.Balance = r.Decimal()
	e.Lot = r.String()
	e.Ref = Ref{Event: r.String(), Order: r.String(), Operator: r.String(), Note: r.String()}
	if err := r.Err(); err != nil {
		return Entry{}, fmt.Errorf("%w: entry record: %v", ErrCorrupt, err)
	}
	return e, nil
}

func encodeLot(l Lot) []byte {
	w := codec.Writer{B: make([]byte, 0, 64)}
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
	l := Lot{ID: r.String(), Account: decodeAccount(&r)}
	l.Amount = r.Decimal()
	l.Original = r.Decimal()
	l.Expires = r.Time()
	l.Granted = r.Time()
	if err := r.Err(); err != nil {
		return Lot{}, fmt.Errorf("%w: lot record: %v", ErrCorrupt, err)
	}
	return l, nil
}

func encodeAmount(d decimal.Decimal) []byte { return codec.Amount(d) }

func decodeAmount(b []byte) (decimal.Decimal, error) {
	d, err := codec.ParseAmount(b)
	if err != nil {
		return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return d, nil
}
