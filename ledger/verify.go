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
// one problem (each wrapping ErrCorrupt) per violation, or nil. A record
// it cannot read (the key or the value of an entry, a balance, a lot or a
// day's total; a lot ID index key, one whose lot ID holds a NUL byte,
// which no posting takes, among them; a transaction counter) is one more
// problem, naming the bucket and the key (`ledger.lot: lot key "…",
// unreadable`; a value's problem says what is wrong with it,
// `ledger.entry: entry record "…", unreadable: codec: record too short`),
// and the check goes on without that record, so every other problem is
// listed with it. The checks that would need what the record holds are
// skipped, rather than report its absence as more problems; the record's
// key says which (a key that names no account, or no asset for a day's
// total, says nothing: that record is left out as if absent):
//   - an entry: its transaction's legs are not summed (none of its
//     member's transactions when its key holds no number); its account's
//     running balances are checked up to it, not after; its account's
//     balance is not compared with its entries, nor, for a member's entry,
//     any pool's (the pool legs riding in it are unknown); and an index
//     entry of its account that no lot record or credit holds is not
//     reported (it may have been the credit). Its key still numbers its
//     transaction for the counter;
//   - a balance: its account's balance is compared with nothing, its
//     asset's accounts are not summed, and for a member's the asset's day
//     totals are not compared;
//   - a lot: its account's balance is not compared with its lots; a lot
//     whose key reads is still checked against the lot ID index (one whose
//     key does not: an index entry of its account that no record or
//     credit holds is not reported);
//   - a lot ID index key: a lot or credit of its account missing from the
//     index is not reported;
//   - a day's total: its asset's totals are not compared;
//   - a transaction counter: it is not compared with its member's last
//     transaction.
//
// A store's failure stops it, with that error alone. The invariants:
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
	u := newUnread()
	entries := map[Account][]Entry{}
	// A transaction's legs are in its member's records (a transaction
	// between pools: in its pools' records, member "").
	type txAsset struct {
		txnRef
		asset Asset
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
				bad("%s: entry key %q, unreadable", bEntry, k)
				if a, _, ok := parseAccountKey(k); ok {
					u.entry(a, 0) // its time and number unknown
				}
				return nil
			}
			lastAcct, lastKey = a, append(lastKey[:0], k[:n]...)
		}
		var err error
		if es, err = appendEntries(es[:0], lastAcct, n, k, v, true); err != nil {
			bad("%s: entry record %q, unreadable: %s", bEntry, k, why(err))
			// Its key still numbers its transaction.
			seq := keys.U64(k, n+8)
			u.entry(lastAcct, seq)
			lastTxn[lastAcct.Member] = max(lastTxn[lastAcct.Member], seq>>legBits)
			return nil
		}
		for _, e := range es {
			entries[e.Account] = append(entries[e.Account], e)
			k := txAsset{txnRef{lastAcct.Member, e.Txn}, e.Account.Asset}
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
		if err != nil {
			bad("%s: counter record %q, unreadable: transaction counter %q", bTxn, k, v)
			u.counters[string(k)] = true
			return nil
		}
		counters[string(k)] = n
		return nil
	})
	if err != nil {
		return err
	}
	if v, err := tx.Get(bMeta, txnKey); err == nil {
		if n, err := parseCounter(v); err != nil {
			bad("%s: counter record %q, unreadable: transaction counter %q", bMeta, txnKey, v)
			u.counters[""] = true
		} else {
			counters[""] = n
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for member, last := range lastTxn {
		if c := counters[member]; c < last && !u.counters[member] {
			if member == "" {
				bad("the counter of transactions between pools stands at %d, behind transaction %d", c, last)
			} else {
				bad("member %q: transaction counter stands at %d, behind transaction %d", member, c, last)
			}
		}
	}
	for k, s := range sums {
		if s.IsZero() || u.txns[k.txnRef] || u.members[k.member] {
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
			bad("%s: balance key %q, unreadable", bBal, k)
			if a, _, ok := parseAccountKey(k); ok {
				u.balance(a)
			}
			return nil
		}
		d, err := decodeAmount(v)
		if err != nil {
			bad("%s: balance record %q, unreadable: %q is not an amount", bBal, k, v)
			u.balance(a)
			return nil
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
			if ok {
				u.lot(a, false)
			}
			return nil
		}
		// The key names the lot and its times even when the record
		// does not read: the lot ID index is checked against them.
		r, ts := lotRef{a, string(k[n+lotTimesLen : len(k)-1])}, string(k[n:n+lotTimesLen])
		if lot, err := decodeLotOf(v, a, r.id, k[n:n+lotTimesLen]); err != nil {
			bad("%s: lot record %q, unreadable: %s", bLot, k, why(err))
			u.lot(a, true)
		} else {
			if lot.Amount.IsNegative() {
				bad("%s lot %s: negative %s", a, lot.ID, lot.Amount)
			}
			lots[a] = lots[a].Add(lot.Amount)
		}
		if old, dup := lotTimes[r]; dup {
			bad("%s lot %s: two records, at %s and at %s", a, r.id, lotTimesText(old), lotTimesText(ts))
		}
		lotTimes[r] = ts
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
			if a, _, ok := parseAccountKey(k); ok {
				u.index[a] = true
			}
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
		case !rec && c == nil && !u.lotIDs[a]:
			bad("%s lot %s: in the lot ID index, but no lot record or credit holds it", a, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range sortedRefs(lotTimes) {
		if u.index[r.acct] {
			continue
		}
		bad("%s lot %s: missing from the lot ID index", r.acct, r.id)
		if c := credits[r]; c != nil {
			c.indexed = true // reported
		}
	}
	for _, r := range sortedRefs(credits) {
		if c := credits[r]; !c.indexed && !u.index[r.acct] {
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
		// An entry that does not read stops the running balances there
		// (all of them when its place is unknown): each one after it
		// would be off by its amount.
		stop, partial := u.chain[a]
		run := decimal.Zero
		if !a.IsMember() {
			// A pool's entries carry no running balance (Entry.Balance).
			for _, e := range es {
				run = run.Add(e.Amount)
			}
		} else {
			sort.Slice(es, func(i, j int) bool { return es[i].Seq < es[j].Seq })
			for _, e := range es {
				if partial && e.Seq >= stop {
					break
				}
				run = run.Add(e.Amount)
				if !run.Equal(e.Balance) {
					bad("%s entry %d: running balance %s, recorded %s", a, e.Seq, run, e.Balance)
				}
				if run.IsNegative() {
					bad("%s entry %d: negative balance %s", a, e.Seq, run)
				}
			}
		}
		bal, balKnown := bals[a], !u.bals[a]
		entriesKnown := !partial && (a.IsMember() || !u.pools)
		if balKnown && entriesKnown && !bal.Equal(run) {
			bad("%s: balance %s, entries sum to %s", a, bal, run)
		}
		assetSum[a.Asset] = assetSum[a.Asset].Add(bal)
		lotSum, hasLots := lots[a]
		lotsKnown := !u.lots[a]
		if !a.IsMember() || !a.Asset.HasLots() {
			if hasLots && lotsKnown {
				bad("%s keeps no lots, but has lots summing to %s", a, lotSum)
			}
			if a.IsMember() {
				memberSum[a.Asset] = memberSum[a.Asset].Add(bal)
			}
			continue
		}
		memberSum[a.Asset] = memberSum[a.Asset].Add(bal)
		if balKnown && lotsKnown && !lotSum.Equal(bal) {
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
			if i := bytes.IndexByte(k, keys.Sep); i > 0 {
				u.days[Asset(k[:i])] = true
			}
			return nil
		}
		amt, err := decodeAmount(v)
		if err != nil {
			bad("%s: day record %q, unreadable: %q is not an amount", bDay, k, v)
			u.days[Asset(parts[0])] = true
			return nil
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
		if s := assetSum[asset]; !s.IsZero() && !u.assets[asset] {
			bad("%s: accounts sum to %s, not zero", asset, s)
		}
		if sum := days[asset]; !sum.Equal(memberSum[asset]) && !u.days[asset] {
			bad("%s: totals per kind sum to %s, member balances to %s", asset, sum, memberSum[asset])
		}
	}
	return errors.Join(errs...)
}

// txnRef names a transaction: numbers are per member ("" between pools).
type txnRef struct {
	member string
	txn    uint64
}

// unread holds what the records Verify could not read leave unknown, so
// that the checks needing it are skipped rather than report the records'
// absence as more problems. A record is attributed by its key: one whose
// key names no account (no asset, for a day total) leaves nothing marked,
// and the checks go on as if it were absent. It grows with the damage,
// not with the journal.
type unread struct {
	// chain holds each account with an entry unread and the sequence
	// number of the first such entry (0: one whose place is unknown):
	// the account's running balances are checked before it, and its
	// balance is not compared with its entries.
	chain map[Account]uint64
	// pools is set when a member entry is unread: the pool legs riding in
	// it are unknown, so no pool's balance is compared with its entries.
	pools bool
	// txns holds each transaction with a leg unread, members each member
	// with an entry unread of unknown number: those transactions' legs
	// are not summed.
	txns    map[txnRef]bool
	members map[string]bool
	bals    map[Account]bool // balance unknown: compared with nothing
	lots    map[Account]bool // the lots' sum unknown: not compared with the balance
	// lotIDs holds each account whose lots (a lot key unread) or credits
	// (an entry unread) are not all known: an index entry of it that no
	// known record or credit holds is not reported.
	lotIDs map[Account]bool
	// index holds each account with a lot ID index key unread: a lot or
	// credit of it missing from the index is not reported.
	index    map[Account]bool
	assets   map[Asset]bool  // an account's balance unknown: the accounts are not summed
	days     map[Asset]bool  // a day total or a member's balance unknown: not compared
	counters map[string]bool // the member's counter unknown: not compared ("" for the pools')
}

func newUnread() *unread {
	return &unread{
		chain: map[Account]uint64{}, txns: map[txnRef]bool{}, members: map[string]bool{},
		bals: map[Account]bool{}, lots: map[Account]bool{}, lotIDs: map[Account]bool{},
		index: map[Account]bool{}, assets: map[Asset]bool{}, days: map[Asset]bool{},
		counters: map[string]bool{},
	}
}

// entry marks an entry of account a unread; seq is its sequence number, 0
// when its key does not say.
func (u *unread) entry(a Account, seq uint64) {
	if first, ok := u.chain[a]; !ok || seq < first {
		u.chain[a] = seq
	}
	if seq == 0 {
		u.members[a.Member] = true
	} else {
		u.txns[txnRef{a.Member, seq >> legBits}] = true
	}
	if a.IsMember() {
		u.pools = true
		u.lotIDs[a] = true
	}
}

// balance marks the balance (or a stripe of it) of account a unread.
func (u *unread) balance(a Account) {
	u.bals[a] = true
	u.assets[a.Asset] = true
	if a.IsMember() {
		u.days[a.Asset] = true
	}
}

// lot marks a lot of account a unread; keyed tells whether its key read
// (its ID and times known).
func (u *unread) lot(a Account, keyed bool) {
	u.lots[a] = true
	if !keyed {
		u.lotIDs[a] = true
	}
}

// why returns what a record's decoding error says is wrong with it.
func why(err error) string {
	if re, ok := errors.AsType[*recordError](err); ok {
		return re.why
	}
	return err.Error()
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
// form keyed as text is not where a lookup looks) or that holds an ID
// no posting takes: one with a NUL byte, as a numeric key less its last
// byte reads when its leg is below 256.
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
	case len(rest) > 1 && rest[len(rest)-1] == keys.Sep && bytes.IndexByte(rest[:len(rest)-1], keys.Sep) < 0:
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
