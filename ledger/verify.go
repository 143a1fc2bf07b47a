package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Verify checks every invariant of the journal and returns an error joining
// one problem (each wrapping ErrCorrupt) per violation, or nil. A lot, lot
// ID index or day-total key it cannot read is one more problem (naming
// the bucket and the key), and the check goes on without that record, so
// the other problems are reported with it. Any other unreadable record
// (an entry, a balance, a counter, a lot's or a day total's value) or a
// store's failure still stops it, with that error alone:
//   - every transaction balances per asset (a transaction is known by its
//     member and number: numbers are per member);
//   - each account's stored balance (a pool's: the sum of its stripes)
//     equals the sum of its entries, and a member account's running
//     balances follow its entries in posting order;
//   - no member account was ever negative;
//   - each member account's balance equals the sum of its open lots, and no
//     lot is negative (for assets that keep lots; one that does not has
//     none, and neither has a pool); every lot is read, so a lot of an
//     account with no entry and no balance is found too;
//   - the lot ID index, through which a debit or credit naming a lot (an
//     expiry, a reversal) finds it, holds every lot record at its expiry
//     and grant and every lot a member credit names (one spent to zero
//     has no record, only its index entry), and nothing else;
//   - per asset, all accounts sum to zero, and the daily totals per kind sum
//     to the members' total balance (the reconciliation identity); the
//     totals are read in one pass, so those of an asset with no account
//     left are compared too (with zero);
//   - each member's transaction counter (and that of transactions between
//     pools) stands at or past the number of its last transaction: one
//     behind would number the next posting as an earlier transaction,
//     whose entry at the same instant and generated lot that posting
//     would overwrite.
//
// It reads the whole journal: run it in audits and tests, not per event.
func Verify(tx store.Tx) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...)))
	}
	entries := map[Account][]Entry{}
	// A transaction's legs are in its member's records (a transaction
	// between pools: in its pools' records, member "").
	type txAsset struct {
		member string
		txn    uint64
		asset  Asset
	}
	sums := map[txAsset]decimal.Decimal{}
	lastTxn := map[string]uint64{} // per member, the last transaction's number
	// credits holds, per lot a member credit names, the first such entry
	// and whether the lot ID index has the lot: a lot spent to zero has
	// no record, only its index entry and its credits.
	type credit struct {
		seq     uint64
		indexed bool
	}
	credits := map[lotRef]*credit{}
	// Keys come in account order: the account of the last key is reused
	// while it lasts.
	var lastAcct Account
	var lastKey []byte
	var es []Entry // a record's entries; they are copied out
	err := tx.Scan(bEntry, nil, nil, false, func(k, v []byte) error {
		n := len(k) - entryKeyLen
		if lastKey == nil || n < 0 || !bytes.Equal(k[:n], lastKey) {
			a, err := entryAccount(k)
			if err != nil {
				return err
			}
			lastAcct, lastKey = a, append(lastKey[:0], k[:n]...)
		}
		var err error
		if es, err = appendEntries(es[:0], lastAcct, n, k, v, true); err != nil {
			return err
		}
		for _, e := range es {
			entries[e.Account] = append(entries[e.Account], e)
			k := txAsset{lastAcct.Member, e.Txn, e.Account.Asset}
			sums[k] = sums[k].Add(e.Amount)
			if e.Txn > lastTxn[lastAcct.Member] {
				lastTxn[lastAcct.Member] = e.Txn
			}
			if e.Lot != "" && e.Account.IsMember() && e.Amount.IsPositive() {
				if r := (lotRef{e.Account, e.Lot}); credits[r] == nil {
					credits[r] = &credit{seq: e.Seq}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A counter behind a transaction of its member would number the next
	// posting as that one, whose records (an entry at the same instant,
	// the lot it generated) that posting would overwrite.
	counters := map[string]uint64{}
	err = tx.Scan(bTxn, nil, nil, false, func(k, v []byte) error {
		n, err := parseCounter(v)
		counters[string(k)] = n
		return err
	})
	if err != nil {
		return err
	}
	if v, err := tx.Get(bMeta, txnKey); err == nil {
		if counters[""], err = parseCounter(v); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for member, last := range lastTxn {
		if c := counters[member]; c < last {
			if member == "" {
				bad("the counter of transactions between pools stands at %d, behind transaction %d", c, last)
			} else {
				bad("member %q: transaction counter stands at %d, behind transaction %d", member, c, last)
			}
		}
	}
	for k, s := range sums {
		if s.IsZero() {
			continue
		}
		if k.member == "" {
			bad("transaction %d between pools: %s legs sum to %s", k.txn, k.asset, s)
		} else {
			bad("transaction %d of member %q: %s legs sum to %s", k.txn, k.member, k.asset, s)
		}
	}
	bals := map[Account]decimal.Decimal{}
	err = tx.Scan(bBal, nil, nil, false, func(k, v []byte) error {
		a, err := balanceAccount(k)
		if err != nil {
			return err
		}
		d, err := decodeAmount(v)
		if err != nil {
			return err
		}
		bals[a] = bals[a].Add(d)
		return nil
	})
	if err != nil {
		return err
	}
	// Lots are read in one pass, not per account of an entry or a
	// balance: a lot of an account that has neither (left behind, or
	// its balance and entries lost) breaks the lots' sum all the same.
	lots := map[Account]decimal.Decimal{}
	lotTimes := map[lotRef]string{} // each lot record's expiry and grant, as its key holds them
	err = tx.Scan(bLot, nil, nil, false, func(k, v []byte) error {
		a, n, ok := parseAccountKey(k)
		if !ok || !lotKeyOK(k, n) {
			bad("%s: lot key %q, unreadable", bLot, k)
			return nil
		}
		lot, err := decodeLotAt(a, n, k, v)
		if err != nil {
			return err
		}
		if lot.Amount.IsNegative() {
			bad("%s lot %s: negative %s", a, lot.ID, lot.Amount)
		}
		lots[a] = lots[a].Add(lot.Amount)
		r := lotRef{a, lot.ID}
		if ts, dup := lotTimes[r]; dup {
			bad("%s lot %s: two records, at %s and at %s", a, lot.ID, lotTimesText(ts), lotTimesText(string(k[n:n+lotTimesLen])))
		}
		lotTimes[r] = string(k[n : n+lotTimesLen])
		return nil
	})
	if err != nil {
		return err
	}
	l := New(tx, nil)
	// The lot ID index is how a debit or credit naming a lot (an expiry,
	// a reversal) finds it: each lot record and each lot a credit names
	// must be in it, at the record's expiry and grant, and it must name
	// nothing else.
	err = tx.Scan(bLotID, nil, nil, false, func(k, v []byte) error {
		a, id, ok := l.lotIDAt(k)
		if !ok {
			bad("%s: lot ID index key %q, unreadable", bLotID, k)
			return nil
		}
		r := lotRef{a, id}
		c := credits[r]
		if c != nil {
			c.indexed = true
		}
		ts, rec := lotTimes[r]
		delete(lotTimes, r)
		switch {
		case len(v) != lotTimesLen:
			bad("%s lot %s: the lot ID index holds %d bytes", a, id, len(v))
		case rec && ts != string(v):
			bad("%s lot %s: the lot ID index places it at %s; its record at %s", a, id, lotTimesText(string(v)), lotTimesText(ts))
		case !rec && c == nil:
			bad("%s lot %s: in the lot ID index, but no lot record or credit holds it", a, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range sortedRefs(lotTimes) {
		bad("%s lot %s: missing from the lot ID index", r.acct, r.id)
		if c := credits[r]; c != nil {
			c.indexed = true // reported
		}
	}
	for _, r := range sortedRefs(credits) {
		if c := credits[r]; !c.indexed {
			bad("%s lot %s: credited (entry %d), missing from the lot ID index", r.acct, r.id, c.seq)
		}
	}
	assetSum := map[Asset]decimal.Decimal{}
	memberSum := map[Asset]decimal.Decimal{}
	accts := make([]Account, 0, len(entries))
	for a := range entries {
		accts = append(accts, a)
	}
	for a := range bals {
		if _, ok := entries[a]; !ok {
			accts = append(accts, a)
		}
	}
	for a := range lots {
		_, e := entries[a]
		if _, b := bals[a]; !e && !b {
			accts = append(accts, a)
		}
	}
	sort.Slice(accts, func(i, j int) bool { return accts[i].String() < accts[j].String() })
	for _, a := range accts {
		es := entries[a]
		run := decimal.Zero
		if !a.IsMember() {
			// A pool's entries carry no running balance (Entry.Balance).
			for _, e := range es {
				run = run.Add(e.Amount)
			}
		} else {
			sort.Slice(es, func(i, j int) bool { return es[i].Seq < es[j].Seq })
			for _, e := range es {
				run = run.Add(e.Amount)
				if !run.Equal(e.Balance) {
					bad("%s entry %d: running balance %s, recorded %s", a, e.Seq, run, e.Balance)
				}
				if run.IsNegative() {
					bad("%s entry %d: negative balance %s", a, e.Seq, run)
				}
			}
		}
		bal := bals[a]
		if !bal.Equal(run) {
			bad("%s: balance %s, entries sum to %s", a, bal, run)
		}
		assetSum[a.Asset] = assetSum[a.Asset].Add(bal)
		lotSum, hasLots := lots[a]
		if !a.IsMember() || !a.Asset.HasLots() {
			if hasLots {
				bad("%s keeps no lots, but has lots summing to %s", a, lotSum)
			}
			if a.IsMember() {
				memberSum[a.Asset] = memberSum[a.Asset].Add(bal)
			}
			continue
		}
		memberSum[a.Asset] = memberSum[a.Asset].Add(bal)
		if !lotSum.Equal(bal) {
			bad("%s: balance %s, open lots sum to %s", a, bal, lotSum)
		}
	}
	// The daily totals are read in one pass too, not per asset met in
	// the accounts: those of an asset whose accounts are all gone would
	// never be compared with anything.
	days := map[Asset]decimal.Decimal{}
	err = tx.Scan(bDay, nil, nil, false, func(k, v []byte) error {
		// k is asset, date, kind and the stripe suffix.
		base, ok := total.Base(k)
		var parts []string
		if ok && len(base) > 0 && base[len(base)-1] == keys.Sep {
			parts = splitKey(base)
		}
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			bad("%s: day key %q, unreadable", bDay, k)
			return nil
		}
		amt, err := decodeAmount(v)
		if err != nil {
			return err
		}
		days[Asset(parts[0])] = days[Asset(parts[0])].Add(amt)
		return nil
	})
	if err != nil {
		return err
	}
	for asset := range days {
		if _, ok := assetSum[asset]; !ok {
			assetSum[asset] = decimal.Zero
		}
	}
	assets := slices.Sorted(maps.Keys(assetSum))
	for _, asset := range assets {
		if s := assetSum[asset]; !s.IsZero() {
			bad("%s: accounts sum to %s, not zero", asset, s)
		}
		if sum := days[asset]; !sum.Equal(memberSum[asset]) {
			bad("%s: totals per kind sum to %s, member balances to %s", asset, sum, memberSum[asset])
		}
	}
	return errors.Join(errs...)
}

// lotRef names a lot: IDs are unique within an account.
type lotRef struct {
	acct Account
	id   string
}

// sortedRefs returns the lots m holds, by account and ID, for a report in
// a stable order.
func sortedRefs[V any](m map[lotRef]V) []lotRef {
	out := make([]lotRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b lotRef) int {
		return cmp.Or(cmp.Compare(a.acct.String(), b.acct.String()), cmp.Compare(a.id, b.id))
	})
	return out
}

// lotIDAt returns the account and lot ID of a key of the lot ID index,
// and false for a key lotIDKey would not build (an ID of the generated
// form keyed as text is not where a lookup looks).
func (l *Ledger) lotIDAt(k []byte) (Account, string, bool) {
	a, n, ok := parseAccountKey(k)
	if !ok {
		return Account{}, "", false
	}
	rest := k[n:]
	var id string
	switch {
	case len(rest) == 11 && rest[0] == keys.Sep: // "<txn>.<leg>", as numbers
		id = strconv.FormatUint(binary.BigEndian.Uint64(rest[1:9]), 10) + "." + strconv.FormatUint(uint64(binary.BigEndian.Uint16(rest[9:])), 10)
	case len(rest) > 1 && rest[len(rest)-1] == keys.Sep:
		id = string(rest[:len(rest)-1])
	default:
		return Account{}, "", false
	}
	return a, id, bytes.Equal(l.lotIDKey(a, id), k)
}

// lotTimesText writes a lot key's expiry and grant (ts) for a report.
func lotTimesText(ts string) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Format(time.RFC3339Nano)
	}
	lot := lotOf(Account{}, "", []byte(ts))
	return "expiry " + at(lot.Expires) + ", granted " + at(lot.Granted)
}

// balanceAccount returns the account of a key in bBal: a member account's
// key, or the key of a stripe of a pool's balance.
func balanceAccount(k []byte) (Account, error) {
	a, n, ok := parseAccountKey(k)
	switch {
	case !ok:
	case a.IsMember() && n == len(k):
		return a, nil
	case !a.IsMember():
		if base, ok := total.Base(k); ok && len(base) == n {
			return a, nil
		}
	}
	return Account{}, fmt.Errorf("%w: balance key %q", ErrCorrupt, k)
}

// Accounts returns a member's accounts with their balances; "" returns the
// pools, each with its balance summed over its stripes.
func (l *Ledger) Accounts(member string) (map[Account]decimal.Decimal, error) {
	out := map[Account]decimal.Decimal{}
	p := accountKey(Account{Member: member})[:len(member)+1]
	err := l.tx.Scan(bBal, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		a, err := balanceAccount(k)
		if err != nil {
			return err
		}
		var d decimal.Decimal
		if a.IsMember() {
			d, err = memberBalance(a, v)
		} else {
			d, err = decodeAmount(v)
		}
		if err != nil {
			return err
		}
		if old, ok := out[a]; ok {
			d = old.Add(d)
		}
		out[a] = d
		return nil
	})
	return out, err
}

func splitKey(k []byte) []string {
	var out []string
	start := 0
	for i, c := range k {
		if c == 0 {
			out = append(out, string(k[start:i]))
			start = i + 1
		}
	}
	return out
}
