package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets the ledger stores under.
const (
	bEntry = "ledger.entry" // account, time, seq → the rest of the entry, and its pool legs (encode.go)
	bBal   = "ledger.bal"   // member account → balance; pool account → its balance in stripes (internal/total)
	bLot   = "ledger.lot"   // account, expiry, grant, lot id → remaining and original amounts
	bLotID = "ledger.lotid" // account, lot id → the lot key's expiry and grant
	bDay   = "ledger.day"   // asset, date, kind → member-side net amount, in stripes (internal/total)
	bTxn   = "ledger.txn"   // member → the number of the member's last transaction
	bMeta  = "ledger.meta"  // "txn" → the number of the last transaction between pools only
)

// MemberBuckets lists the ledger's buckets keyed by member first (a
// member's account, its balance, lots and transaction counter), which a
// store may keep side by side (store.Colocator). A pool's records, keyed
// from 0x00, sit together at the start.
func MemberBuckets() []string { return []string{bEntry, bBal, bLot, bLotID, bTxn} }

// PackBuckets lists the ledger's buckets of a member's few small records
// that its every posting reads: its balances and its transaction counter,
// which a store may keep in one row a member (store.Packer).
func PackBuckets() []string { return []string{bBal, bTxn} }

// legBits is how many low bits of an entry's sequence number hold its leg's
// place in the transaction: Seq = Txn<<legBits | place, so a member's
// entries order by posting without a counter of their own.
const legBits = 12

// placeMask selects a leg's place from a sequence number.
const placeMask = 1<<legBits - 1

// Ledger posts to and reads the journal inside one store transaction.
type Ledger struct {
	tx  store.Tx
	ins store.Inserter // tx, when it inserts (see putNew)
	loc *time.Location
	// Scratch buffers for the keys and values a posting hands to the
	// store, which copies them (store.Tx.Put): an account key (kb), a lot
	// or day key (lb), a record (vb). A posting then allocates little
	// beyond the decimals it returns.
	kb, lb, vb []byte
	scratch    [3][160]byte // their first backing arrays (a record with its pool legs fits)
	lots       [2]Lot       // Append's Posted.Lots (a posting usually credits one lot)
	// day is the date in loc of the last posting's time and [dayFrom,
	// dayTo) the Unix nanoseconds of that day (not a time.Time: one kept
	// here would make the escape analysis move every posted transaction to
	// the heap). Init keeps them for the same zone, so a Ledger reused for
	// the events of one day formats the date once.
	dayFrom, dayTo int64
	day            string
	// seqMember's counter stands at seqLast, as this Ledger last wrote
	// it; seqFresh says seqLast numbers a transaction that Sequence has
	// not handed out (see Sequence).
	seqMember string
	seqLast   uint64
	seqFresh  bool
	// stripes is how many stripes a posting splits the shared totals
	// into (SetStripes); 0 and 1 mean one.
	stripes int
}

// New returns a ledger bound to tx; loc is the program's zone, used for the
// daily totals.
func New(tx store.Tx, loc *time.Location) *Ledger {
	l := &Ledger{}
	l.Init(tx, loc)
	return l
}

// Init binds l to tx as New does, for a caller that keeps its Ledger in a
// structure of its own (one allocation instead of two). It resets l, its
// stripe count included (to one: see SetStripes).
func (l *Ledger) Init(tx store.Tx, loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	from, to, day := l.dayFrom, l.dayTo, l.day
	if l.loc != loc {
		from, to, day = 0, 0, ""
	}
	ins, _ := tx.(store.Inserter)
	*l = Ledger{tx: tx, ins: ins, loc: loc, dayFrom: from, dayTo: to, day: day}
	l.kb, l.lb, l.vb = l.scratch[0][:0], l.scratch[1][:0], l.scratch[2][:0]
}

// SetStripes sets how many stripes l's postings split the shared totals
// into (a pool's balance, the daily totals): a posting adds to the stripe
// of its transaction's member, or the one its store.Tx chooses
// (total.StripeOf), and a transaction between pools only to stripe 0. A store that runs Updates concurrently
// asks for many stripes (store.Striper), so that postings for different
// members rarely write the same key; one that runs them one at a time
// wants one, the default of New and Init. n only places writes: the
// readers (Balance, Totals, Verify) sum every stripe, whatever n was when
// they were written.
func (l *Ledger) SetStripes(n int) { l.stripes = n }

func accountKey(a Account) keys.Builder { return appendAccount(keys.New(), a) }

// appendAccount appends an account's key to b.
func appendAccount(b keys.Builder, a Account) keys.Builder {
	return b.Str(a.Member).Str(string(a.Asset)).Str(a.Sub)
}

// Assets returns the assets whose pools hold a balance, in key order:
// every asset the ledger has postings of, unless all of them were undone
// (a stripe is deleted at zero). It reads one key per asset.
func Assets(tx store.Tx) ([]Asset, error) {
	pools := keys.New().Str("") // pool accounts have no member
	end := store.PrefixEnd(pools)
	var out []Asset
	for start := pools; ; {
		var asset []byte
		err := tx.Scan(bBal, start, end, false, func(k, _ []byte) error {
			rest := k[len(pools):]
			if i := bytes.IndexByte(rest, keys.Sep); i > 0 {
				asset = bytes.Clone(rest[:i]) // k is the store's
				return store.StopScan
			}
			return errf(ErrCorrupt, "pool balance key %q", k)
		})
		if err != nil || asset == nil {
			return out, err
		}
		out = append(out, Asset(asset))
		start = store.PrefixEnd(keys.New().Str("").Str(string(asset)))
	}
}

// AppendMemberReads appends to dst the reads (store.Preload) of what a
// posting for member reads: its transaction counter and the balances of
// its accounts. A caller on a store whose reads are round trips preloads
// them with the rest of a unit's reads.
func AppendMemberReads(dst []store.Read, member string) []store.Read {
	p := keys.New().Str(member)
	return append(dst,
		store.Read{Bucket: bTxn, Key: []byte(member)},
		store.Read{Bucket: bBal, Start: p, End: store.PrefixEnd(p)})
}

// Balance returns the account's balance (zero for an account never used).
// A pool's is the sum of its stripes (see SetStripes). An account that
// names neither a member nor a pool (Member and Sub both empty), has no
// asset or holds a NUL byte is refused with an error wrapping ErrInvalid
// that names the missing field; a member account's balance that reads
// negative (damage) is ErrCorrupt.
func (l *Ledger) Balance(a Account) (decimal.Decimal, error) {
	if err := a.check(); err != nil {
		return decimal.Zero, fmt.Errorf("balance: %w", err)
	}
	if !a.IsMember() {
		return sumStripes(l.tx, bBal, accountKey(a))
	}
	v, err := l.tx.Get(bBal, accountKey(a))
	if errors.Is(err, store.ErrNotFound) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Zero, err
	}
	return memberBalance(a, v)
}

// memberBalance decodes the balance record v of member account a. A
// member account never goes below zero (entry refuses it): one that reads
// negative is damage, ErrCorrupt, not a balance to show or post to.
func memberBalance(a Account, v []byte) (decimal.Decimal, error) {
	d, err := decodeAmount(v)
	if err == nil && d.IsNegative() {
		return decimal.Zero, errf(ErrCorrupt, "%s: balance %s is negative", a, d)
	}
	return d, err
}

// Available returns what a member account may spend at time at: the sum of
// its lots that have not expired by then (the balance, for an asset that
// keeps no lots).
func (l *Ledger) Available(a Account, at time.Time) (decimal.Decimal, error) {
	return l.available(a, at.UnixNano())
}

// available is Available at a time in Unix nanoseconds (the form keys store
// times in). Taking no time.Time keeps the caller's transaction off the
// heap: a time's location pointer, captured by the scan's callback, would
// make the escape analysis move all of Post's argument there.
func (l *Ledger) available(a Account, at int64) (decimal.Decimal, error) {
	if !a.Asset.HasLots() {
		return l.Balance(a)
	}
	sum := decimal.Zero
	err := l.scanLots(a, func(lot Lot) error {
		if liveAt(lot, at) {
			sum = sum.Add(lot.Amount)
		}
		return nil
	})
	return sum, err
}

func live(lot Lot, at time.Time) bool { return lot.Expires.IsZero() || lot.Expires.After(at) }

func liveAt(lot Lot, at int64) bool { return lot.Expires.IsZero() || lot.Expires.UnixNano() > at }

// Lots returns the open lots of a member account in spending order.
func (l *Ledger) Lots(a Account) ([]Lot, error) {
	var out []Lot
	err := l.scanLots(a, func(lot Lot) error { out = append(out, lot); return nil })
	return out, err
}

// Lot returns one lot of a member account; a lot spent to zero is returned
// with a zero amount (it can still be credited back). It returns an error
// wrapping ErrUnknownLot for a lot the account never held.
func (l *Ledger) Lot(a Account, id string) (Lot, error) {
	lot, ok, err := l.getLotByID(a, id)
	if err != nil {
		return Lot{}, err
	}
	if !ok {
		return Lot{}, errf(ErrUnknownLot, "%s has no lot %q", a, id)
	}
	return lot, nil
}

// LotsExpiring returns the open lots of a member account that expire at
// exactly at, in spending order. Its cost is the number of those lots: an
// expiry run for lots granted under one validity (all the month's grants
// expire at its end) reads just them.
func (l *Ledger) LotsExpiring(a Account, at time.Time) ([]Lot, error) {
	if at.IsZero() {
		return nil, errf(ErrInvalid, "lots expiring at the zero time")
	}
	p := accountKey(a)
	n := len(p)
	p = p.Time(at)
	var out []Lot
	err := l.tx.Scan(bLot, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		lot, err := decodeLotAt(a, n, k, v)
		if err == nil {
			out = append(out, lot)
		}
		return err
	})
	return out, err
}

func (l *Ledger) scanLots(a Account, fn func(Lot) error) error {
	p := accountKey(a)
	return l.tx.Scan(bLot, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		lot, err := decodeLotAt(a, len(p), k, v)
		if err != nil {
			return err
		}
		return fn(lot)
	})
}

// lotIDKey returns, in the scratch kb, the id index key of a lot. An id of
// the form the ledger generates, "<txn>.<leg>" in canonical decimal, is
// keyed by the two numbers big-endian after a NUL (which no id holds), so
// that an account's new lots append to its end of the index instead of
// landing among the others in text order ("1000.0" < "999.0").
func (l *Ledger) lotIDKey(a Account, id string) []byte {
	l.kb = appendAccount(l.kb[:0], a)
	if txn, leg, ok := numericLotID(id); ok {
		l.kb = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint64(append(l.kb, keys.Sep), txn), leg)
		return l.kb
	}
	l.kb = keys.Builder(l.kb).Str(id)
	return l.kb
}

// numericLotID splits an id of the form "<txn>.<leg>", both in canonical
// decimal (no sign, no leading zero), with leg below 10,000.
func numericLotID(id string) (txn uint64, leg uint16, ok bool) {
	dot := strings.IndexByte(id, '.')
	if dot < 1 || dot > 19 || len(id)-dot-1 < 1 || len(id)-dot-1 > 4 {
		return 0, 0, false
	}
	digits := func(s string) (uint64, bool) {
		if len(s) > 1 && s[0] == '0' {
			return 0, false
		}
		var n uint64
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' || n > (math.MaxUint64-9)/10 {
				return 0, false
			}
			n = n*10 + uint64(c-'0')
		}
		return n, true
	}
	t, ok1 := digits(id[:dot])
	g, ok2 := digits(id[dot+1:])
	return t, uint16(g), ok1 && ok2
}

// putLot stores lot; indexed says its id index already holds its expiry
// and grant (a lot that existed, whose expiry and grant never change).
func (l *Ledger) putLot(lot Lot, indexed bool) error {
	l.lb = appendAccount(l.lb[:0], lot.Account)
	n := len(l.lb)
	l.lb = keys.Builder(l.lb).Time(lot.Expires).Time(lot.Granted).Str(lot.ID)
	k := l.lb
	ts := k[n : n+lotTimesLen] // the id index's value: the key is the rest
	if lot.Amount.IsZero() {
		// A spent lot is kept in the id index only if it may be credited
		// back (reversal); its record goes so scans stay short.
		if err := l.tx.Delete(bLot, k); err != nil || indexed {
			return err
		}
		return l.putNew(bLotID, l.lotIDKey(lot.Account, lot.ID), ts)
	}
	l.vb = appendLot(l.vb[:0], lot)
	if indexed {
		return l.tx.Put(bLot, k, l.vb)
	}
	if err := l.putNew(bLot, k, l.vb); err != nil {
		return err
	}
	return l.putNew(bLotID, l.lotIDKey(lot.Account, lot.ID), ts)
}

// putNew writes a record whose key the ledger made new (a transaction's
// number is in it, or a new lot's ID): on a store that inserts
// (store.Inserter, store/postgres) it is inserted unread, which costs the
// server less than the upsert a Put is there; should the key exist all
// the same (damaged counters), the transaction runs again and Fresh then
// says so, and the record is Put as before.
func (l *Ledger) putNew(bucket string, key, val []byte) error {
	if l.ins != nil && l.ins.Fresh(bucket, key) {
		return l.ins.Insert(bucket, key, val)
	}
	return l.tx.Put(bucket, key, val)
}

// getLotByID returns a lot, including a spent one (amount zero) whose
// record was dropped: it is rebuilt from its key.
func (l *Ledger) getLotByID(a Account, id string) (Lot, bool, error) {
	ts, err := l.tx.Get(bLotID, l.lotIDKey(a, id))
	if errors.Is(err, store.ErrNotFound) {
		return Lot{}, false, nil
	}
	if err != nil {
		return Lot{}, false, err
	}
	if len(ts) != lotTimesLen {
		return Lot{}, false, fmt.Errorf("%w: lot id index %q: %d bytes", ErrCorrupt, l.kb, len(ts))
	}
	// The lot key is the account, the indexed expiry and grant, and the id.
	l.lb = appendAccount(l.lb[:0], a)
	n := len(l.lb)
	l.lb = keys.Builder(append(l.lb, ts...)).Str(id)
	ts = l.lb[n : n+lotTimesLen] // the store's slice may not outlive the next read
	v, err := l.tx.Get(bLot, l.lb)
	if errors.Is(err, store.ErrNotFound) {
		return lotOf(a, id, ts), true, nil
	}
	if err != nil {
		return Lot{}, false, err
	}
	lot, err := decodeLotOf(v, a, id, ts)
	return lot, true, err
}

// sumStripes returns the total under key in bucket: the sum of its
// stripes.
func sumStripes(tx store.Tx, bucket string, key []byte) (decimal.Decimal, error) {
	d, err := total.Sum(tx, bucket, key)
	if errors.Is(err, total.ErrCorrupt) {
		return d, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return d, err
}

// txnKey is the key in bMeta of the counter of transactions between pools
// only.
var txnKey = []byte("txn")

// counter returns the bucket and key of the counter that numbers the
// transactions of member, or those between pools only for "". A member's
// key is built in the scratch kb.
func (l *Ledger) counter(member string) (string, []byte) {
	if member == "" {
		return bMeta, txnKey
	}
	l.kb = append(l.kb[:0], member...)
	return bTxn, l.kb
}

// lastOf returns the number member's counter (bucket, key) stands at:
// as this Ledger last wrote it, or as stored.
func (l *Ledger) lastOf(member, bucket string, key []byte) (uint64, error) {
	if member != "" && member == l.seqMember {
		return l.seqLast, nil
	}
	return l.lastTxn(bucket, key)
}

// Sequence returns a number for member greater than every number member's
// transactions and earlier Sequence calls were given: the number of the
// transaction this Ledger last posted for member, once, or else the
// member's transaction counter advanced by one (a number no transaction
// will have); for "" the counter of transactions between pools. The
// engine numbers a member's change-feed records with it,
// so that an event needs one counter per member, not two. A Ledger
// assumes it is the only one that posts in its transaction.
func (l *Ledger) Sequence(member string) (uint64, error) {
	if member != "" && member == l.seqMember && l.seqFresh {
		l.seqFresh = false
		return l.seqLast, nil
	}
	cb, ck := l.counter(member)
	last, err := l.lastOf(member, cb, ck)
	if err != nil {
		return 0, err
	}
	l.vb = strconv.AppendUint(l.vb[:0], last+1, 10)
	if err := l.tx.Put(cb, ck, l.vb); err != nil {
		return 0, err
	}
	if member != "" {
		l.seqMember, l.seqLast, l.seqFresh = member, last+1, false
	}
	return last + 1, nil
}

// lastTxn returns the number of the last transaction posted under a
// counter (0: none).
func (l *Ledger) lastTxn(bucket string, key []byte) (uint64, error) {
	v, err := l.tx.Get(bucket, key)
	switch {
	case err == nil:
		return parseCounter(v)
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	}
	return 0, err
}

// generatedTxn reports whether id has the form of a generated lot id,
// "<transaction id>.<leg>", and returns the transaction id.
func generatedTxn(id string) (uint64, bool) {
	txn, leg, ok := strings.Cut(id, ".")
	if !ok || txn == "" || leg == "" || len(txn) > 19 || len(leg) > 4 {
		return 0, false
	}
	for _, c := range leg {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := parseCounter([]byte(txn))
	return n, err == nil
}

// parseCounter reads a counter stored as decimal text.
func parseCounter(v []byte) (uint64, error) {
	var n uint64
	if len(v) == 0 || len(v) > 19 {
		return 0, errf(ErrCorrupt, "transaction counter %q", v)
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errf(ErrCorrupt, "transaction counter %q", v)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// check validates a transaction's shape and balance, and returns the
// member whose accounts it holds ("" for a transaction between pools).
func check(t *Transaction) (string, error) {
	if t.Time.IsZero() {
		return "", errf(ErrInvalid, "transaction has no time")
	}
	if t.Kind == "" {
		return "", errf(ErrInvalid, "transaction has no kind")
	}
	if len(t.Legs) < 2 || len(t.Legs) > 1<<legBits {
		return "", errf(ErrInvalid, "transaction needs 2 to %d legs, has %d", 1<<legBits, len(t.Legs))
	}
	member := ""
	// Legs are summed as codec.Fixed when they can be, which needs no
	// math/big; total takes over for sums that cannot.
	type sum struct {
		asset Asset
		fixed codec.Fixed
		big   bool
		total decimal.Decimal
	}
	var sbuf [4]sum
	sums := sbuf[:0]
	for i := range t.Legs {
		leg := &t.Legs[i]
		if !leg.Account.valid() {
			return "", errf(ErrInvalid, "legs[%d]: invalid account %q", i, leg.Account)
		}
		if strings.IndexByte(leg.Lot, keys.Sep) >= 0 {
			return "", errf(ErrInvalid, "legs[%d]: lot id %q holds a NUL byte", i, leg.Lot)
		}
		if !leg.Account.Asset.HasLots() && (leg.Lot != "" || !leg.Expires.IsZero()) {
			return "", errf(ErrInvalid, "legs[%d]: %s keeps no lots: a leg names no lot or expiry", i, leg.Account.Asset)
		}
		if leg.Amount.IsZero() {
			return "", errf(ErrInvalid, "legs[%d]: zero amount", i)
		}
		if m := leg.Account.Member; m != "" && m != member {
			if member != "" {
				return "", errf(ErrInvalid, "legs[%d]: an account of member %q in a transaction of member %q (a transaction holds one member's accounts at most)", i, m, member)
			}
			member = m
		}
		j := 0
		for j < len(sums) && sums[j].asset != leg.Account.Asset {
			j++
		}
		if j == len(sums) {
			sums = append(sums, sum{asset: leg.Account.Asset})
		}
		sm := &sums[j]
		if !sm.big {
			if f, ok := codec.FixedOf(leg.Amount); ok {
				if f, ok = sm.fixed.Add(f); ok {
					sm.fixed = f
					continue
				}
			}
			sm.big, sm.total = true, sm.fixed.Decimal()
		}
		sm.total = sm.total.Add(leg.Amount)
	}
	for _, s := range sums {
		if (s.big && !s.total.IsZero()) || (!s.big && s.fixed.C != 0) {
			off := s.total
			if !s.big {
				off = s.fixed.Decimal()
			}
			return "", errf(ErrUnbalanced, "%s legs sum to %s", s.asset, off)
		}
	}
	return member, nil
}

// Post records a balanced transaction, numbered by its member's counter
// (or that of transactions between pools; t.ID is ignored). Each member
// leg is stored as an entry of the member's statement, carrying the
// transaction's pool legs; a transaction between pools stores each leg as
// an entry. A transaction holds the accounts of one member at most (and
// any pools). It first checks that every member debit is covered (by the
// named lot, or by unexpired lots at t.Time, after the transaction's own
// credits to unexpired lots (a credit to an existing lot: by the lot's
// expiry) and less what its debits naming an unexpired lot take), so it
// either writes everything or nothing. A debit naming a lot past its
// expiry (expiring it) takes nothing the other debits could spend. Legs
// apply in this order: credits, debits naming a lot, other debits. It returns errors
// wrapping ErrInvalid, ErrUnbalanced, ErrUnknownLot or
// ErrInsufficientBalance.
func (l *Ledger) Post(t Transaction) (Posted, error) {
	return l.post(make([]Entry, 0, len(t.Legs)), nil, t)
}

// Append is Post that appends the transaction's entries to dst:
// Posted.Entries is dst grown by them, so a caller gathering the entries
// of several postings (an event's outcome) need not copy them. On error,
// dst's length is unchanged (its spare capacity may have been written).
// Posted.Lots is room of the Ledger's, valid until its next posting: a
// caller reads what it needs of the lots (copying a Lot copies it) at
// once.
func (l *Ledger) Append(dst []Entry, t Transaction) (Posted, error) {
	return l.post(dst, l.lots[:0], t)
}

func (l *Ledger) post(dst []Entry, lots []Lot, t Transaction) (Posted, error) {
	member, err := check(&t)
	if err != nil {
		return Posted{}, err
	}
	if err := l.cover(&t); err != nil {
		return Posted{}, err
	}
	cb, ck := l.counter(member) // ck is the scratch kb: unchanged until the Put
	last, err := l.lastOf(member, cb, ck)
	if err != nil {
		return Posted{}, err
	}
	id := last + 1
	// A lot id the ledger generates ("<id>.<leg>") is new by construction,
	// so a credit to it skips the lookup of an existing lot; a credit
	// naming a lot may therefore not name one that a transaction from this
	// one on would generate.
	for i := range t.Legs {
		leg := &t.Legs[i]
		if n, ok := generatedTxn(leg.Lot); ok && n >= id && leg.Account.IsMember() && leg.Amount.IsPositive() {
			return Posted{}, errf(ErrInvalid, "legs[%d]: lot id %q is reserved for a lot the ledger generates", i, leg.Lot)
		}
	}
	l.vb = strconv.AppendUint(l.vb[:0], id, 10)
	if err := l.tx.Put(cb, ck, l.vb); err != nil {
		return Posted{}, err
	}
	if member != "" {
		l.seqMember, l.seqLast, l.seqFresh = member, id, true
	}
	t.ID = id
	var stripe uint16 // a transaction between pools adds to stripe 0
	if member != "" {
		stripe = total.StripeOf(l.tx, member, l.stripes)
	}
	// Credits (and pool legs) first, then debits naming a lot, then other
	// debits; stable within each rank.
	var buf [8]int
	order := buf[:0]
	for rank := range 3 {
		for i := range t.Legs {
			if legRank(&t.Legs[i]) == rank {
				order = append(order, i)
			}
		}
	}
	p := Posted{Txn: id, Entries: dst, Lots: lots}
	for i, idx := range order {
		leg := &t.Legs[idx]
		lotID := leg.Lot // the entry's lot; the caller's legs are not written
		if leg.Account.IsMember() && leg.Account.Asset.HasLots() {
			if leg.Amount.IsPositive() {
				lot, err := l.credit(&t, idx, leg)
				if err != nil {
					return Posted{}, err
				}
				lotID = lot.ID
				p.Lots = append(p.Lots, lot)
			} else {
				takes, err := l.debit(&t, leg)
				if err != nil {
					return Posted{}, err
				}
				p.Takes = append(p.Takes, takes...)
			}
		}
		e, err := l.entry(&t, leg, lotID, id<<legBits|uint64(i), stripe)
		if err != nil {
			return Posted{}, err
		}
		p.Entries = append(p.Entries, e)
	}
	return p, l.putEntries(p.Entries[len(dst):])
}

// putEntries stores a transaction's entries. The pool legs ride in the
// record of the first member entry: pools are counters that nobody pages
// through, and one record fewer per posting is one store write fewer on
// the path of every event. A transaction between pools only stores its
// entries each on its own.
func (l *Ledger) putEntries(es []Entry) error {
	carrier := -1
	for i, e := range es {
		if e.Account.IsMember() {
			carrier = i
			break
		}
	}
	var pbuf [2]Entry // the usual transaction has one pool leg
	pools := pbuf[:0]
	if carrier >= 0 {
		for _, e := range es {
			if !e.Account.IsMember() {
				pools = append(pools, e)
			}
		}
	}
	for i, e := range es {
		var carried []Entry
		switch {
		case i == carrier:
			carried = pools
		case carrier >= 0 && !e.Account.IsMember():
			continue
		}
		l.kb = appendAccount(l.kb[:0], e.Account).Time(e.Time).U64(e.Seq)
		l.vb = appendEntry(l.vb[:0], e, carried)
		if err := l.putNew(bEntry, l.kb, l.vb); err != nil {
			return err
		}
	}
	return nil
}

func entryKey(e Entry) []byte { return accountKey(e.Account).Time(e.Time).U64(e.Seq) }

func legRank(leg *Leg) int {
	switch {
	case leg.Amount.IsPositive() || !leg.Account.IsMember():
		return 0
	case leg.Lot != "":
		return 1
	}
	return 2
}

// cover checks every member debit before anything is written.
func (l *Ledger) cover(t *Transaction) error {
	debits := false
	for i := range t.Legs {
		debits = debits || (t.Legs[i].Account.IsMember() && t.Legs[i].Amount.IsNegative())
	}
	if !debits {
		return nil // credits alone are always covered
	}
	// named is what the account's debits naming a spendable lot take:
	// the ordinary debits may not count on it. A named lot past its
	// expiry (expired again at once, as a reversal into it is) is not in
	// what the account may spend, so it takes nothing from them.
	type need struct {
		credit, debit, named decimal.Decimal
		lotCredits           []int // legs crediting a named lot, judged only for an account with ordinary debits
	}
	acct := map[Account]*need{}
	lots := map[[2]string]decimal.Decimal{}
	for i, leg := range t.Legs {
		if !leg.Account.IsMember() {
			continue
		}
		n := acct[leg.Account]
		if n == nil {
			n = &need{}
			acct[leg.Account] = n
		}
		if leg.Amount.IsPositive() {
			if leg.Lot != "" {
				n.lotCredits = append(n.lotCredits, i)
			} else if leg.Expires.IsZero() || leg.Expires.After(t.Time) {
				n.credit = n.credit.Add(leg.Amount)
			}
			continue
		}
		if leg.Lot != "" {
			k := [2]string{leg.Account.String(), leg.Lot}
			lots[k] = lots[k].Sub(leg.Amount)
			lot, ok, err := l.getLotByID(leg.Account, leg.Lot)
			if err != nil {
				return err
			}
			if !ok {
				return errf(ErrUnknownLot, "%s has no lot %q", leg.Account, leg.Lot)
			}
			if lot.Amount.LessThan(lots[k]) {
				return errf(ErrInsufficientBalance, "%s lot %q holds %s, debit %s", leg.Account, leg.Lot, lot.Amount, lots[k])
			}
			if live(lot, t.Time) {
				n.named = n.named.Sub(leg.Amount)
			}
			continue
		}
		n.debit = n.debit.Sub(leg.Amount)
	}
	for a, n := range acct {
		if n.debit.IsZero() {
			continue
		}
		avail, err := l.available(a, t.Time.UnixNano())
		if err != nil {
			return err
		}
		// A credit to an existing lot keeps the lot's expiry (credit),
		// not the leg's: one past it (points given back to a lot that
		// expired) is not spendable.
		for _, i := range n.lotCredits {
			leg := &t.Legs[i]
			lot, ok, err := l.getLotByID(a, leg.Lot)
			if err != nil {
				return err
			}
			if !ok {
				lot.Expires = leg.Expires
			}
			if live(lot, t.Time) {
				n.credit = n.credit.Add(leg.Amount)
			}
		}
		// The debits naming a lot go first (legRank): what they take of
		// the spendable lots is not there for the others.
		avail = avail.Sub(n.named)
		if avail.Add(n.credit).LessThan(n.debit) {
			return errf(ErrInsufficientBalance, "%s may spend %s at %s, debit %s", a, avail.Add(n.credit), t.Time.Format(time.RFC3339), n.debit)
		}
	}
	return nil
}

func (l *Ledger) credit(t *Transaction, idx int, leg *Leg) (Lot, error) {
	id := leg.Lot
	var lot Lot
	ok := false
	if id == "" {
		var buf [24]byte
		id = string(strconv.AppendUint(append(strconv.AppendUint(buf[:0], t.ID, 10), '.'), uint64(idx), 10))
	} else {
		var err error
		if lot, ok, err = l.getLotByID(leg.Account, id); err != nil {
			return Lot{}, err
		}
	}
	if !ok {
		granted := leg.Granted
		if granted.IsZero() {
			granted = t.Time
		}
		lot = Lot{ID: id, Account: leg.Account, Amount: leg.Amount, Original: leg.Amount, Expires: leg.Expires.UTC(), Granted: granted.UTC()}
		if leg.Expires.IsZero() {
			lot.Expires = time.Time{}
		}
	} else {
		lot.Amount = lot.Amount.Add(leg.Amount)
		lot.Original = lot.Original.Add(leg.Amount)
	}
	return lot, l.putLot(lot, ok)
}

func (l *Ledger) debit(t *Transaction, leg *Leg) ([]Take, error) {
	want := leg.Amount.Neg()
	if leg.Lot != "" {
		lot, ok, err := l.getLotByID(leg.Account, leg.Lot)
		if err != nil {
			return nil, err
		}
		if !ok || lot.Amount.LessThan(want) {
			return nil, errf(ErrInsufficientBalance, "%s lot %q", leg.Account, leg.Lot)
		}
		lot.Amount = lot.Amount.Sub(want)
		return []Take{{Account: leg.Account, Lot: lot.ID, Amount: want, Expires: lot.Expires, Granted: lot.Granted}}, l.putLot(lot, true)
	}
	var takes []Take
	var changed []Lot
	// The callback captures copies, not leg or t (see available).
	at, acct := t.Time.UnixNano(), leg.Account
	err := l.scanLots(acct, func(lot Lot) error {
		if !liveAt(lot, at) {
			return nil
		}
		n := decimal.Min(lot.Amount, want)
		want = want.Sub(n)
		lot.Amount = lot.Amount.Sub(n)
		changed = append(changed, lot)
		takes = append(takes, Take{Account: acct, Lot: lot.ID, Amount: n, Expires: lot.Expires, Granted: lot.Granted})
		if !want.IsPositive() {
			return store.StopScan
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if want.IsPositive() {
		return nil, errf(ErrInsufficientBalance, "%s short by %s", leg.Account, want)
	}
	for _, lot := range changed {
		if err := l.putLot(lot, true); err != nil {
			return nil, err
		}
	}
	return takes, nil
}

// entry applies a leg to its account's balance and returns its entry; a
// member leg also adds to the daily totals. A pool's balance and the daily
// totals are added to in stripe.
func (l *Ledger) entry(t *Transaction, leg *Leg, lot string, seq uint64, stripe uint16) (Entry, error) {
	e := Entry{Seq: seq, Txn: t.ID, Time: t.Time.UTC(), Kind: t.Kind, Account: leg.Account, Amount: leg.Amount, Ref: t.Ref}
	l.kb = appendAccount(l.kb[:0], leg.Account)
	ak := l.kb
	if !leg.Account.IsMember() {
		// No running balance: it would need the pool's whole balance,
		// the one key every member's postings would share.
		return e, addStripe(l.tx, bBal, ak, stripe, leg.Amount, l.vb)
	}
	rec, bal, err := l.add(bBal, ak, leg.Amount)
	if err != nil {
		return Entry{}, err
	}
	if bal.IsNegative() {
		if old := bal.Sub(leg.Amount); old.IsNegative() {
			return Entry{}, errf(ErrCorrupt, "%s: balance %s is negative", leg.Account, old)
		}
		return Entry{}, errf(ErrInsufficientBalance, "%s would be %s", leg.Account, bal)
	}
	e.Balance, e.Lot = bal, lot
	if err := l.tx.Put(bBal, ak, rec); err != nil {
		return Entry{}, err
	}
	return e, l.addDay(leg.Account.Asset, t.Time, t.Kind, leg.Amount, stripe)
}

// addStripe adds delta to stripe s of the total under key in bucket, with
// buf as room for the stripe's key and record.
func addStripe(tx store.Tx, bucket string, key []byte, s uint16, delta decimal.Decimal, buf []byte) error {
	err := total.Add(tx, bucket, key, s, delta, buf)
	if errors.Is(err, codec.ErrAmount) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// add returns, in the scratch vb, the amount record under key plus delta,
// and the sum; a missing record is zero.
func (l *Ledger) add(bucket string, key []byte, delta decimal.Decimal) ([]byte, decimal.Decimal, error) {
	old, err := l.tx.Get(bucket, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case err != nil:
		return nil, decimal.Decimal{}, err
	}
	rec, sum, err := codec.SumAmount(l.vb[:0], old, delta)
	if err != nil {
		return nil, decimal.Decimal{}, fmt.Errorf("%w: %s %x: %v", ErrCorrupt, bucket, key, err)
	}
	l.vb = rec
	return rec, sum, nil
}

// addDay adds a member leg's amount to stripe of its asset's total of the
// day and kind.
func (l *Ledger) addDay(asset Asset, at time.Time, kind Kind, amt decimal.Decimal, stripe uint16) error {
	if ns := at.UnixNano(); l.day == "" || ns < l.dayFrom || ns >= l.dayTo {
		// The day's first instant, not time.Date's 00:00: where a zone
		// skips midnight, that is the previous day's last hour.
		d := rule.DateOf(at, l.loc)
		l.day = at.In(l.loc).Format(time.DateOnly)
		l.dayFrom = d.Start(l.loc).UnixNano()
		l.dayTo = d.AddDays(1).Start(l.loc).UnixNano()
	}
	l.lb = keys.Builder(l.lb[:0]).Str(string(asset)).Str(l.day).Str(string(kind))
	return addStripe(l.tx, bDay, l.lb, stripe, amt, l.vb)
}

// Totals returns, for asset, the net amount each kind moved into member
// accounts over the days from..to inclusive (dates "2006-01-02" in the
// program's zone; empty means unbounded). Their sum equals the change in
// the members' total balance over the period, which is the reconciliation
// identity (e.g. balance = earned − redeemed + reversed − expired − …).
// A kind whose amounts net to zero may be missing. It sums the stripes of
// each day's totals (see SetStripes). A day not of that form ("2025-3-1",
// "2025-13-01") is refused with an error wrapping ErrInvalid that names
// it (from or to), not answered with the totals of no day; so is a to
// before from.
func (l *Ledger) Totals(asset Asset, from, to string) (map[Kind]decimal.Decimal, error) {
	// The days are compared as key bytes: a date in any other form
	// ("2025-3-1") would select the wrong days, or none, without a word.
	for _, d := range []struct{ name, s string }{{"from", from}, {"to", to}} {
		if err := CheckDate(d.s); err != nil {
			return nil, fmt.Errorf("ledger: totals: %s: %w", d.name, err)
		}
	}
	if from != "" && to != "" && to < from {
		return nil, errf(ErrInvalid, "totals: to: %s is before from %s", to, from)
	}
	p := keys.New().Str(string(asset))
	start := p
	if from != "" {
		start = keys.New().Str(string(asset)).Str(from)
	}
	end := store.PrefixEnd(p)
	if to != "" {
		end = store.PrefixEnd(keys.New().Str(string(asset)).Str(to))
	}
	out := map[Kind]decimal.Decimal{}
	err := l.tx.Scan(bDay, start, end, false, func(k, v []byte) error {
		// k is asset, date, kind and the stripe suffix.
		base, ok := total.Base(k)
		var parts []string
		if ok && len(base) > len(p) && base[len(base)-1] == keys.Sep {
			parts = splitKey(base[len(p):])
		}
		if len(parts) != 2 || parts[1] == "" {
			return errf(ErrCorrupt, "day key %q", k)
		}
		amt, err := decodeAmount(v)
		if err != nil {
			return err
		}
		kind := Kind(parts[1])
		out[kind] = out[kind].Add(amt)
		return nil
	})
	return out, err
}

// Query selects a page of an account's statement.
type Query struct {
	Account Account `json:"account"`
	// From and To bound the entries' time: From <= time < To; zero is open.
	// A To before From is refused.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Kinds keeps only these kinds when not empty.
	Kinds []Kind `json:"kinds,omitempty"`
	// Limit is the page size: 0 means 50, a limit above 1,000 returns
	// pages of 1,000, and a negative one is refused.
	Limit int `json:"limit,omitempty"`
	// Cursor continues after the previous page (Page.Next) or an entry
	// (Entry.Cursor), within From and To: a cursor outside them lists
	// nothing outside them.
	Cursor string `json:"cursor,omitempty"`
	// Newest lists the newest entries first.
	Newest bool `json:"newest,omitempty"`
}

// Page is one page of a statement.
type Page struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor of the following page; empty at the end, when no
	// entry of the kinds asked (Query.Kinds) follows.
	Next string `json:"next,omitempty"`
}

// Statement returns a page of an account's entries in time order. It reads
// only the entries of the page (and those the kind filter skips, after the
// page too: a page has a Next only when an entry of the kinds asked
// follows). It is
// meant for member accounts: a pool's legs are stored inside the member
// entries of their transactions (see Post), so a pool's statement lists
// only its transactions with other pools; read pools through Balance and
// Totals. An account Balance refuses, a bad cursor, a negative limit or a
// To before From is refused with an error wrapping ErrInvalid that names
// the field.
func (l *Ledger) Statement(q Query) (Page, error) {
	if err := q.Account.check(); err != nil {
		return Page{}, fmt.Errorf("statement: %w", err)
	}
	switch {
	case q.Limit < 0:
		return Page{}, errf(ErrInvalid, "statement: limit: %d is negative (0 means the default, 50)", q.Limit)
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit > 1000:
		q.Limit = 1000
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return Page{}, errf(ErrInvalid, "statement: to: %s is before from %s", q.To, q.From)
	}
	p := accountKey(q.Account)
	start, end := []byte(p), store.PrefixEnd(p)
	if !q.From.IsZero() {
		start = accountKey(q.Account).Time(q.From)
	}
	if !q.To.IsZero() {
		end = accountKey(q.Account).Time(q.To)
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil || !bytes.HasPrefix(c, p) {
			return Page{}, errf(ErrInvalid, "bad cursor %q", q.Cursor)
		}
		// The cursor narrows the window, never widens it: one from
		// before From (or, newest first, past To) goes on from the
		// window's edge.
		if q.Newest {
			if bytes.Compare(c, end) < 0 {
				end = c
			}
		} else if c = append(c, 0); bytes.Compare(c, start) > 0 { // just after c
			start = c
		}
	}
	var page Page
	var last []byte
	var ahead []Entry // an entry past a full page, read for its kind
	err := l.tx.Scan(bEntry, start, end, q.Newest, func(k, v []byte) error {
		if len(page.Entries) == q.Limit {
			// A page has a Next only when an entry of the kinds asked
			// follows: the entries of other kinds after a full page
			// are skipped here, as the next page would skip them.
			if len(q.Kinds) > 0 {
				var err error
				if ahead, err = appendEntries(ahead[:0], q.Account, len(p), k, v, false); err != nil {
					return err
				}
				if !hasKind(q.Kinds, ahead[0].Kind) {
					return nil
				}
			}
			page.Next = encodeCursor(last)
			return store.StopScan
		}
		n := len(page.Entries)
		var err error
		page.Entries, err = appendEntries(page.Entries, q.Account, len(p), k, v, false)
		if err != nil {
			return err
		}
		last = append(last[:0], k...)
		if len(q.Kinds) > 0 && !hasKind(q.Kinds, page.Entries[n].Kind) {
			page.Entries = page.Entries[:n]
		}
		return nil
	})
	return page, err
}

func hasKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func encodeCursor(k []byte) string { return hex.EncodeToString(k) }

// Cursor returns the cursor (Query.Cursor) of a statement of e.Account
// that goes on after e, oldest or newest first: what Page.Next is when a
// page ends at e. A reader that stopped part way through a page (an
// export whose writer failed) resumes from the last entry it used.
func (e Entry) Cursor() string {
	return encodeCursor(accountKey(e.Account).Time(e.Time).U64(e.Seq))
}

func decodeCursor(s string) ([]byte, error) { return hex.DecodeString(s) }

// RecordKeys returns the keys of the records that hold entries (as a
// Posted or an outcome lists them): a caller that must find its entries
// again (an idempotent replay) keeps the keys instead of copies, and gets
// the entries back with EntriesAt.
func RecordKeys(entries []Entry) [][]byte {
	out, _ := AppendRecordKeys(make([][]byte, 0, len(entries)), nil, entries)
	return out
}

// AppendRecordKeys is RecordKeys that appends the keys to dst and builds
// them in buf (grown as needed), returning both: a caller with room of its
// own for a few keys allocates nothing.
func AppendRecordKeys(dst [][]byte, buf []byte, entries []Entry) ([][]byte, []byte) {
	// The entries of a transaction follow each other, their places in it
	// counting up from 0 (Posted.Entries): a transaction ends where the
	// number changes or a place 0 starts the next one (numbers are per
	// member, so two transactions of an outcome may share one). Its pool
	// legs ride in a member entry when it has one.
	for i := 0; i < len(entries); {
		j, carried := i, false
		for ; j < len(entries) && (j == i || (entries[j].Txn == entries[i].Txn && entries[j].Seq&placeMask != 0)); j++ {
			carried = carried || entries[j].Account.IsMember()
		}
		for _, e := range entries[i:j] {
			if e.Account.IsMember() || !carried {
				n := len(buf)
				buf = appendAccount(buf, e.Account).Time(e.Time).U64(e.Seq)
				// Capped: a later key that grows buf leaves this one intact.
				dst = append(dst, buf[n:len(buf):len(buf)])
			}
		}
		i = j
	}
	return dst, buf
}

// EntriesAt returns the entries held by the records under keys (from
// RecordKeys), in posting order; a record that is not there wraps
// ErrCorrupt.
func (l *Ledger) EntriesAt(keys [][]byte) ([]Entry, error) {
	var out []Entry
	// The records of a transaction follow each other (RecordKeys): a run
	// of keys of one member ("" between pools) and transaction number is
	// one transaction, whose entries sort by their place in it.
	var member string
	var txn uint64
	run := 0 // where the run's entries start in out
	for i, k := range keys {
		a, err := entryAccount(k)
		if err != nil {
			return nil, err
		}
		v, err := l.tx.Get(bEntry, k)
		if errors.Is(err, store.ErrNotFound) {
			// The ledger keeps every entry for ever: a record an event's
			// or a request's record names is damage when it is gone.
			return nil, fmt.Errorf("%w: entry record %x is gone", ErrCorrupt, k)
		}
		if err != nil {
			return nil, err
		}
		n := len(out)
		if out, err = appendEntries(out, a, len(k)-entryKeyLen, k, v, true); err != nil {
			return nil, err
		}
		if i == 0 || a.Member != member || out[n].Txn != txn {
			sortBySeq(out[run:n])
			run, member, txn = n, a.Member, out[n].Txn
		}
	}
	sortBySeq(out[run:])
	return out, nil
}

func sortBySeq(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
}
