package ledger

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/shopspring/decimal"
)

// Entries and lots are the ledger's hottest records, so they are stored in
// a compact binary form rather than JSON, and a value holds only what its
// key does not say: every event writes them, and their bytes are the
// store's memory and write-ahead log. The first byte of a value is a
// version; a value of any other version is corrupt, never guessed at.
//
// An entry, under (account, time, seq), stores:
//
//	version, flags, kind, amount, [balance], [lot], [ref fields], [pool legs]
//
// Its account, time and sequence number come from the key, and its
// transaction from the sequence number (Seq = Txn<<legBits | place). The
// balance is a member account's running balance; a pool's entry has none
// (Entry.Balance). The flags say which optional fields follow. A lot the
// transaction generated ("<txn>.<n>", the usual credit) is stored as n
// alone. Pool legs riding in a member entry share its transaction, time,
// kind and reference, and are pool accounts (no member), so each stores
// its place, asset and sub ("" for the carrier's asset, and for a sub that
// is the kind, as pools usually are named: neither can be empty in a valid
// pool account) and amount.
//
// A lot, under (account, expiry, grant, id), stores:
//
//	version, remaining amount, original amount
//
// The id index, under (account, id), stores the lot key's expiry and grant
// (16 bytes, in key form), from which the lot key is rebuilt.
const (
	// entryV3 is the version of entry records. Version 2 stored a running
	// balance for pool legs too; it is not read.
	entryV3 = 3
	lotV2   = 2 // the version of lot records
)

// Entry record flags.
const (
	fEvent    = 1 << iota // Ref.Event follows
	fOrder                // Ref.Order follows
	fOperator             // Ref.Operator follows
	fNote                 // Ref.Note follows
	fLot                  // the lot id follows as a string
	fLotGen               // the lot id is "<txn>.<n>"; n follows
	fPools                // pool legs follow
	fAll      = fEvent | fOrder | fOperator | fNote | fLot | fLotGen | fPools
)

// lotTimesLen is the length of an id index value: a lot key's expiry and
// grant.
const lotTimesLen = 16

// generatedLeg reports whether lot is the id the ledger generates for leg n
// of transaction txn, "<txn>.<n>", and returns n. It allocates nothing: it
// runs on every posting.
func generatedLeg(lot string, txn uint64) (uint64, bool) {
	var buf [20]byte
	p := strconv.AppendUint(buf[:0], txn, 10)
	if len(lot) < len(p)+2 || lot[:len(p)] != string(p) || lot[len(p)] != '.' {
		return 0, false
	}
	s := lot[len(p)+1:]
	if len(s) > 4 || (len(s) > 1 && s[0] == '0') { // canonical: it must read back the same
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// appendEntry appends an entry's record to b; pools are the pool legs of
// its transaction that ride in it (same transaction, time, kind and
// reference; pool accounts).
func appendEntry(b []byte, e Entry, pools []Entry) []byte {
	var flags byte
	for i, s := range [...]string{e.Ref.Event, e.Ref.Order, e.Ref.Operator, e.Ref.Note} {
		if s != "" {
			flags |= 1 << i
		}
	}
	gen, isGen := generatedLeg(e.Lot, e.Txn)
	switch {
	case isGen:
		flags |= fLotGen
	case e.Lot != "":
		flags |= fLot
	}
	if len(pools) > 0 {
		flags |= fPools
	}
	w := codec.Writer{B: append(b, entryV3, flags)}
	w.String(string(e.Kind))
	w.Decimal(e.Amount)
	if e.Account.IsMember() {
		w.Decimal(e.Balance)
	}
	switch {
	case isGen:
		w.Uint(gen)
	case e.Lot != "":
		w.String(e.Lot)
	}
	for _, s := range [...]string{e.Ref.Event, e.Ref.Order, e.Ref.Operator, e.Ref.Note} {
		if s != "" {
			w.String(s)
		}
	}
	if len(pools) > 0 {
		w.Uint(uint64(len(pools)))
		for _, p := range pools {
			w.Uint(p.Seq & (1<<legBits - 1))
			if p.Account.Asset == e.Account.Asset {
				w.String("")
			} else {
				w.String(string(p.Account.Asset))
			}
			if p.Account.Sub == string(e.Kind) {
				w.String("")
			} else {
				w.String(p.Account.Sub)
			}
			w.Decimal(p.Amount)
		}
	}
	return w.B
}

// entryKeyLen is the length of an entry key's time and sequence number,
// after its account.
const entryKeyLen = 16

// parseAccountKey reads the account at the start of a key (member, asset,
// sub, each ending in keys.Sep) and returns it and its length.
func parseAccountKey(k []byte) (Account, int, bool) {
	var parts [3]string
	n := 0
	for i := range parts {
		j := bytes.IndexByte(k[n:], keys.Sep)
		if j < 0 {
			return Account{}, 0, false
		}
		parts[i] = string(k[n : n+j])
		n += j + 1
	}
	a := Account{Member: parts[0], Asset: Asset(parts[1]), Sub: parts[2]}
	return a, n, a.valid()
}

// entryAccount returns the account of an entry key.
func entryAccount(k []byte) (Account, error) {
	a, n, ok := parseAccountKey(k)
	if !ok || len(k) != n+entryKeyLen {
		return Account{}, fmt.Errorf("%w: entry key %q", ErrCorrupt, k)
	}
	return a, nil
}

// appendEntries appends the entry of the record k, v of account a (whose
// key is k's first n bytes) to dst, and when withPools is set the pool
// legs riding in it; otherwise it checks their form but builds nothing.
func appendEntries(dst []Entry, a Account, n int, k, v []byte, withPools bool) ([]Entry, error) {
	corrupt := func(what string) ([]Entry, error) {
		return dst, &recordError{fmt.Sprintf("entry record %q", k), what}
	}
	if len(k) != n+entryKeyLen {
		return corrupt("key length")
	}
	if len(v) < 2 || v[0] != entryV3 {
		return corrupt("version")
	}
	flags := v[1]
	if flags&^fAll != 0 || flags&(fLot|fLotGen) == fLot|fLotGen {
		return corrupt("flags")
	}
	seq := keys.U64(k, n+8)
	e := Entry{Seq: seq, Txn: seq >> legBits, Time: keys.U64Time(keys.U64(k, n)), Account: a}
	r := codec.Reader{B: v[2:]}
	e.Kind = Kind(r.String())
	e.Amount = r.Decimal()
	if a.IsMember() {
		e.Balance = r.Decimal()
	}
	switch {
	case flags&fLotGen != 0:
		var buf [32]byte
		b := strconv.AppendUint(append(strconv.AppendUint(buf[:0], e.Txn, 10), '.'), r.Uint(), 10)
		e.Lot = string(b)
	case flags&fLot != 0:
		e.Lot = r.String()
	}
	for i, s := range [...]*string{&e.Ref.Event, &e.Ref.Order, &e.Ref.Operator, &e.Ref.Note} {
		if flags&(1<<i) != 0 {
			*s = r.String()
		}
	}
	if r.Err() == nil && e.Kind == "" {
		return corrupt("no kind")
	}
	dst = append(dst, e)
	if flags&fPools != 0 {
		// A pool leg is at least 5 bytes: place, asset, sub, and an
		// amount of 2 bytes or more.
		np := r.Count(5)
		if r.Err() == nil && np == 0 {
			return corrupt("no pool legs")
		}
		for range np {
			place := r.Uint()
			asset, sub := e.Account.Asset, string(e.Kind)
			if withPools {
				if s := r.String(); s != "" {
					asset = Asset(s)
				}
				if s := r.String(); s != "" {
					sub = s
				}
			} else {
				r.SkipString()
				r.SkipString()
			}
			if r.Err() != nil {
				break
			}
			if place >= 1<<legBits {
				return corrupt("pool leg place")
			}
			if !withPools {
				if !skipDecimal(&r) {
					return corrupt("pool leg amount")
				}
				continue
			}
			p := Entry{Seq: e.Txn<<legBits | place, Txn: e.Txn, Time: e.Time, Kind: e.Kind, Account: Account{Asset: asset, Sub: sub}, Ref: e.Ref}
			p.Amount = r.Decimal()
			dst = append(dst, p)
		}
	}
	if err := r.Err(); err != nil {
		return corrupt(err.Error())
	}
	if len(r.B) > 0 {
		return corrupt(fmt.Sprintf("%d trailing bytes", len(r.B)))
	}
	return dst, nil
}

// skipDecimal reads past a decimal written by codec.Writer.Decimal without
// building it, and reports whether one was there.
func skipDecimal(r *codec.Reader) bool {
	if r.Err() != nil || len(r.B) == 0 {
		return false
	}
	form := r.B[0]
	r.B = r.B[1:]
	switch form {
	case 0:
		r.Int()
		r.Int()
	case 1:
		r.SkipString()
	default:
		return false
	}
	return r.Err() == nil
}

// appendLot appends a lot's record to b: what its key does not say.
func appendLot(b []byte, l Lot) []byte {
	w := codec.Writer{B: append(b, lotV2)}
	w.Decimal(l.Amount)
	w.Decimal(l.Original)
	return w.B
}

// lotOf returns the lot of account a with id whose key's expiry and grant
// are ts (in key form), with no amounts.
func lotOf(a Account, id string, ts []byte) Lot {
	return Lot{ID: id, Account: a, Expires: keys.U64Time(keys.U64(ts, 0)), Granted: keys.U64Time(keys.U64(ts, 8))}
}

// decodeLotOf reads the record v of the lot of account a with id whose
// key's expiry and grant are ts.
func decodeLotOf(v []byte, a Account, id string, ts []byte) (Lot, error) {
	if len(v) == 0 || v[0] != lotV2 {
		return Lot{}, &recordError{"lot record", "version"}
	}
	l := lotOf(a, id, ts)
	r := codec.Reader{B: v[1:]}
	l.Amount = r.Decimal()
	l.Original = r.Decimal()
	if err := r.Err(); err != nil {
		return Lot{}, &recordError{"lot record", err.Error()}
	}
	if len(r.B) > 0 {
		return Lot{}, &recordError{"lot record", fmt.Sprintf("%d trailing bytes", len(r.B))}
	}
	return l, nil
}

// recordError is the error of an entry or lot record that does not
// decode, wrapping ErrCorrupt: the record's name and what is wrong with
// it, which Verify reports beside the record's bucket and key.
type recordError struct {
	name string // "entry record \"<key>\"", "lot record"
	why  string // "version", "codec: record too short", …
}

func (e *recordError) Error() string { return ErrCorrupt.Error() + ": " + e.name + ": " + e.why }

func (e *recordError) Unwrap() error { return ErrCorrupt }

// lotKeyOK reports whether k, past its account's n bytes, holds a lot's
// expiry, grant and ID.
func lotKeyOK(k []byte, n int) bool {
	return len(k) >= n+lotTimesLen+1 && k[len(k)-1] == keys.Sep
}

// decodeLotAt reads the lot record k, v of account a, whose key is k's
// first n bytes.
func decodeLotAt(a Account, n int, k, v []byte) (Lot, error) {
	if !lotKeyOK(k, n) {
		return Lot{}, fmt.Errorf("%w: lot key %q", ErrCorrupt, k)
	}
	return decodeLotOf(v, a, string(k[n+lotTimesLen:len(k)-1]), k[n:n+lotTimesLen])
}

// decodeAmount reads a balance or a total's stripe: binary, or the decimal
// text a store.Adder writes (total.Parse).
func decodeAmount(b []byte) (decimal.Decimal, error) {
	d, err := total.Parse(b)
	if err != nil {
		return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return d, nil
}
