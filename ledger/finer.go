package ledger

import (
	"fmt"

	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Finer is a member account's amount with more decimal places than a
// scale: its balance, or the remaining amount of one of its lots (Lot set).
type Finer struct {
	Account Account
	Lot     string // the lot's ID; empty for the balance
	Amount  decimal.Decimal
}

// FirstFiner returns the first member account of asset, in key order,
// whose balance, or with lots set one of whose lots' remaining amounts,
// has more than places decimal places; found is false when every one
// keeps to them. It scans every member account's balance and, with lots,
// every lot, one record at a time (the store's scan, nothing gathered): a
// check for a definition that lowers a scale, at Open, never for an
// event. A record that does not read is ErrCorrupt.
func FirstFiner(tx store.Tx, asset Asset, places int32, lots bool) (f Finer, found bool, err error) {
	fits := func(d decimal.Decimal) bool { return d.Equal(d.Truncate(places)) }
	// Pools (keyed from member "", first) are sums of members' amounts
	// and hold none of their own: the scan starts past them.
	start := []byte{0x01}
	err = tx.Scan(bBal, start, nil, false, func(k, v []byte) error {
		a, n, ok := parseAccountKey(k)
		if !ok || n != len(k) || !a.IsMember() {
			return fmt.Errorf("%w: balance key %q", ErrCorrupt, k)
		}
		if a.Asset != asset {
			return nil
		}
		d, err := memberBalance(a, v)
		if err != nil {
			return err
		}
		if !fits(d) {
			f, found = Finer{Account: a, Amount: d}, true
			return store.StopScan
		}
		return nil
	})
	if err != nil || found || !lots || !asset.HasLots() {
		return f, found, err
	}
	err = tx.Scan(bLot, start, nil, false, func(k, v []byte) error {
		a, n, ok := parseAccountKey(k)
		if !ok || !a.IsMember() {
			return fmt.Errorf("%w: lot key %q", ErrCorrupt, k)
		}
		if a.Asset != asset {
			return nil
		}
		lot, err := decodeLotAt(a, n, k, v)
		if err != nil {
			return err
		}
		if !fits(lot.Amount) {
			f, found = Finer{Account: a, Lot: lot.ID, Amount: lot.Amount}, true
			return store.StopScan
		}
		return nil
	})
	return f, found, err
}

// String names the member and the amount: `member "m1" holds 10.55`, with
// the lot when it is one (`member "m1" holds 0.5 in lot 7.0`).
func (f Finer) String() string {
	s := fmt.Sprintf("member %q holds %s", f.Account.Member, f.Amount)
	if f.Lot != "" {
		s += " in lot " + f.Lot
	}
	return s
}
