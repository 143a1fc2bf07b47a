package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var (
	encAt    = time.Date(2026, 11, 24, 2, 0, 0, 123, time.UTC)
	encPts   = Points("mall")
	encAlice = MemberAccount("alice", encPts, "")
)

// encCase is a record of an entry and the pool legs riding in it.
type encCase struct {
	name  string
	e     Entry
	pools []Entry
}

func encCases() []encCase {
	const txn = 2000
	base := Entry{Seq: txn << legBits, Txn: txn, Time: encAt, Kind: "earned", Account: encAlice, Amount: dec("12"), Balance: dec("12")}
	with := func(f func(*Entry)) Entry { e := base; f(&e); return e }
	// A pool leg has no running balance (Entry.Balance).
	pool := func(place uint64, a Account, amount string) Entry {
		return Entry{Seq: txn<<legBits | place, Txn: txn, Time: encAt, Kind: "earned", Account: a, Amount: dec(amount)}
	}
	ref := Ref{Event: "e999", Order: "o1", Operator: "op", Note: "a note"}
	withRef := func(es []Entry, r Ref) []Entry {
		out := append([]Entry(nil), es...)
		for i := range out {
			out[i].Ref = r
		}
		return out
	}
	pools := []Entry{pool(1, Pool(encPts, "earned"), "-12")}
	return []encCase{
		{"bare", base, nil},
		{"generated lot", with(func(e *Entry) { e.Lot = "2000.0" }), nil},
		{"generated lot, 4 digits", with(func(e *Entry) { e.Lot = "2000.4095" }), nil},
		{"another transaction's lot", with(func(e *Entry) { e.Lot = "1999.0" }), nil},
		{"non-canonical generated", with(func(e *Entry) { e.Lot = "2000.01" }), nil},
		{"named lot", with(func(e *Entry) { e.Lot = "gift" }), nil},
		{"event ref", with(func(e *Entry) { e.Ref.Event = "e999" }), nil},
		{"full ref", with(func(e *Entry) { e.Ref = ref; e.Lot = "2000.0" }), withRef(pools, ref)},
		{"note only", with(func(e *Entry) { e.Ref.Note = "n" }), nil},
		{"pool legs", with(func(e *Entry) { e.Lot = "2000.0"; e.Ref.Event = "e999" }), withRef(pools, Ref{Event: "e999"})},
		{"pools of other names and assets", with(func(e *Entry) { e.Seq |= 2 }), []Entry{
			pool(0, Pool(encPts, "issued"), "-10"),
			pool(1, Pool(Growth, "earned"), "-2"),
			pool(3, Pool(Value, "x"), "0"),
		}},
		{"long amounts", with(func(e *Entry) {
			e.Amount = dec("123456789012345678901234.5")
			e.Balance = dec("-0.00000000000000000000001")
		}), []Entry{pool(4095, Pool(encPts, "earned"), "-123456789012345678901234.5")}},
		{"pool to pool", Entry{Seq: 7 << legBits, Txn: 7, Time: encAt, Kind: "transfer", Account: Pool(encPts, "issued"), Amount: dec("-2")}, nil},
	}
}

func entryRecordKey(e Entry) keys.Builder {
	return appendAccount(keys.New(), e.Account).Time(e.Time).U64(e.Seq)
}

// Every entry reads back from its key and value as it was written, with
// or without its pool legs.
func TestEntryRecordRoundTrip(t *testing.T) {
	for _, c := range encCases() {
		k, v := entryRecordKey(c.e), appendEntry(nil, c.e, c.pools)
		a, err := entryAccount(k)
		if err != nil || a != c.e.Account {
			t.Fatalf("%s: entryAccount = %v, %v", c.name, a, err)
		}
		got, err := appendEntries(nil, a, len(k)-entryKeyLen, k, v, true)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := append([]Entry{c.e}, c.pools...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-written +read):\n%s", c.name, diff)
		}
		got, err = appendEntries(nil, a, len(k)-entryKeyLen, k, v, false)
		if err != nil || len(got) != 1 || !cmp.Equal(got[0], c.e) {
			t.Errorf("%s without pools: %+v, %v", c.name, got, err)
		}
	}
}

// The lot and its id index read back from their keys and values.
func TestLotRecordRoundTrip(t *testing.T) {
	for _, lot := range []Lot{
		{ID: "2000.0", Account: encAlice, Amount: dec("12"), Original: dec("12"), Expires: encAt.AddDate(1, 0, 0), Granted: encAt},
		{ID: "gift", Account: MemberAccount("bob", Value, "frozen"), Amount: dec("0.5"), Original: dec("123456789012345678901234.5"), Granted: encAt},
		{ID: "", Account: encAlice, Amount: dec("1"), Original: dec("1"), Granted: time.Unix(0, 0).UTC()},
	} {
		k := appendAccount(keys.New(), lot.Account)
		n := len(k)
		k = k.Time(lot.Expires).Time(lot.Granted).Str(lot.ID)
		got, err := decodeLotAt(lot.Account, n, k, appendLot(nil, lot))
		if err != nil || !cmp.Equal(got, lot) {
			t.Errorf("lot %q: %+v, %v", lot.ID, got, err)
		}
		// The id index holds the key's times: the lot key is rebuilt
		// from them.
		ts := k[n : n+lotTimesLen]
		if got := lotOf(lot.Account, lot.ID, ts); !got.Expires.Equal(lot.Expires) || !got.Granted.Equal(lot.Granted) || got.Expires.IsZero() != lot.Expires.IsZero() {
			t.Errorf("lot %q from its index: %+v", lot.ID, got)
		}
	}
}

// The records of one event (a points credit with an expiry, its pool leg
// riding along) hold only what their keys lack. Before, the entry took 95
// bytes, the lot 50 and the id index 41. The entry is: version and flags
// (2), kind (1+6), amount and balance (3 each), the lot's leg (1), the
// event (1+4), and one pool leg: count, place, asset and sub (1 each) and
// amount (3); 28 bytes. A pool leg's balance, gone with version 3, took 5
// more here (-12000).
func TestRecordSizes(t *testing.T) {
	e := Entry{Seq: 2000 << legBits, Txn: 2000, Time: encAt, Kind: "earned", Account: MemberAccount("m999", encPts, ""),
		Amount: dec("12"), Balance: dec("12"), Lot: "2000.0", Ref: Ref{Event: "e999"}}
	pool := Entry{Seq: 2000<<legBits | 1, Txn: 2000, Time: encAt, Kind: "earned", Account: Pool(encPts, "earned"),
		Amount: dec("-12"), Ref: e.Ref}
	lot := Lot{ID: "2000.0", Account: e.Account, Amount: dec("12"), Original: dec("12"), Expires: encAt.AddDate(1, 0, 0), Granted: encAt}
	if n := len(appendEntry(nil, e, []Entry{pool})); n != 28 {
		t.Errorf("entry record: %d bytes, want 28", n)
	}
	// A pool's entry stores no balance, whatever the Entry says.
	pool.Balance = dec("-12000")
	if n := len(appendEntry(nil, e, []Entry{pool})); n != 28 {
		t.Errorf("entry record with a pool balance set: %d bytes, want 28", n)
	}
	if n := len(appendLot(nil, lot)); n != 7 {
		t.Errorf("lot record: %d bytes, want 7", n)
	}
	if lotTimesLen != 16 {
		t.Errorf("id index record: %d bytes, want 16", lotTimesLen)
	}
}

// Every valid record, cut short at any length or given another version,
// is reported corrupt; so are unknown flags, trailing bytes and pool legs
// out of place.
func TestRecordTruncatedOrOfOtherVersion(t *testing.T) {
	for _, c := range encCases() {
		k, v := entryRecordKey(c.e), appendEntry(nil, c.e, c.pools)
		n := len(k) - entryKeyLen
		for _, withPools := range []bool{true, false} {
			for i := range len(v) {
				if _, err := appendEntries(nil, c.e.Account, n, k, v[:i], withPools); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s cut to %d bytes (pools %v): %v", c.name, i, withPools, err)
				}
			}
			for _, ver := range []byte{0, 1, 2, 4, 0xff} {
				w := append([]byte{ver}, v[1:]...)
				if _, err := appendEntries(nil, c.e.Account, n, k, w, withPools); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s of version %d: %v", c.name, ver, err)
				}
			}
			if _, err := appendEntries(nil, c.e.Account, n, k, append(v[:len(v):len(v)], 0), withPools); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s with a trailing byte: %v", c.name, err)
			}
			for i := range len(k) {
				if _, err := appendEntries(nil, c.e.Account, n, k[:i], v, withPools); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s under a key cut to %d bytes: %v", c.name, i, err)
				}
			}
		}
		for i := range len(k) {
			if _, err := entryAccount(k[:i]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: entry key cut to %d bytes: %v", c.name, i, err)
			}
		}
		for _, f := range []byte{0x80, fLot | fLotGen} {
			w := append([]byte(nil), v...)
			w[1] |= f
			if _, err := appendEntries(nil, c.e.Account, n, k, w, true); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s with flags %#x: %v", c.name, w[1], err)
			}
		}
	}
	// A pool leg's place must fit in the sequence number's low bits, and
	// a record announcing pool legs has some.
	e := encCases()[0].e // no optional fields: pool legs are appended
	k := entryRecordKey(e)
	withPools := func(legs func(w *codec.Writer)) []byte {
		w := codec.Writer{B: appendEntry(nil, e, nil)}
		w.B[1] |= fPools
		legs(&w)
		return w.B
	}
	for _, v := range [][]byte{
		withPools(func(w *codec.Writer) { w.Uint(0) }),
		withPools(func(w *codec.Writer) {
			w.Uint(1)
			w.Uint(1 << legBits)
			w.String("")
			w.String("x")
			w.Decimal(dec("1"))
		}),
		withPools(func(w *codec.Writer) { // a decimal of an unknown form
			w.Uint(1)
			w.Uint(1)
			w.String("")
			w.String("x")
			w.B = append(w.B, 2, 0, 0)
		}),
	} {
		for _, pools := range []bool{true, false} {
			if _, err := appendEntries(nil, e.Account, len(k)-entryKeyLen, k, v, pools); !errors.Is(err, ErrCorrupt) {
				t.Errorf("record %q (pools %v): %v", v, pools, err)
			}
		}
	}

	lot := Lot{ID: "2000.0", Account: encAlice, Amount: dec("12"), Original: dec("123456789012345678901234.5"), Granted: encAt}
	k = appendAccount(keys.New(), lot.Account)
	n := len(k)
	k = k.Time(lot.Expires).Time(lot.Granted).Str(lot.ID)
	v := appendLot(nil, lot)
	for i := range len(v) {
		if _, err := decodeLotAt(lot.Account, n, k, v[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("lot cut to %d bytes: %v", i, err)
		}
	}
	for i := range len(k) {
		if _, err := decodeLotAt(lot.Account, n, k[:i], v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("lot key cut to %d bytes: %v", i, err)
		}
	}
	for _, ver := range []byte{0, 1, 3, 0xff} {
		if _, err := decodeLotAt(lot.Account, n, k, append([]byte{ver}, v[1:]...)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("lot of version %d: %v", ver, err)
		}
	}
	if _, err := decodeLotAt(lot.Account, n, k, append(v, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("lot with a trailing byte: %v", err)
	}
}

// Garbled records are reported or misread, but never make the decoders
// panic.
func TestRecordGarbledNoPanic(t *testing.T) {
	for _, c := range encCases() {
		k, v := entryRecordKey(c.e), appendEntry(nil, c.e, c.pools)
		n := len(k) - entryKeyLen
		for i := range len(v) {
			for _, b := range []byte{0, 1, 2, 0x7f, 0x80, 0xff} {
				w := append([]byte(nil), v...)
				w[i] = b
				appendEntries(nil, c.e.Account, n, k, w, true)
				appendEntries(nil, c.e.Account, n, k, w, false)
			}
		}
	}
}

func FuzzEntryRecord(f *testing.F) {
	for _, c := range encCases() {
		f.Add([]byte(entryRecordKey(c.e)), appendEntry(nil, c.e, c.pools))
	}
	f.Fuzz(func(t *testing.T, k, v []byte) {
		a, err := entryAccount(k)
		if err != nil {
			return
		}
		es, err := appendEntries(nil, a, len(k)-entryKeyLen, k, v, true)
		one, err1 := appendEntries(nil, a, len(k)-entryKeyLen, k, v, false)
		if err == nil && (err1 != nil || len(one) != 1 || !cmp.Equal(one[0], es[0])) {
			t.Errorf("with pools %+v, without %+v, %v", es, one, err1)
		}
	})
}

func FuzzLotRecord(f *testing.F) {
	k := appendAccount(keys.New(), encAlice)
	n := len(k)
	k = k.Time(time.Time{}).Time(encAt).Str("2000.0")
	f.Add([]byte(k), appendLot(nil, Lot{Amount: dec("1"), Original: dec("2")}))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if len(k) >= n {
			decodeLotAt(encAlice, n, k, v)
		}
	})
}

func TestGeneratedLeg(t *testing.T) {
	for _, c := range []struct {
		lot string
		n   uint64
		ok  bool
	}{
		{"12.0", 0, true}, {"12.4095", 4095, true}, {"12.9999", 9999, true},
		{"12.00", 0, false}, {"12.01", 0, false}, {"12.", 0, false}, {"12.12345", 0, false},
		{"12.a", 0, false}, {"12.-1", 0, false}, {"123.0", 0, false}, {"1.0", 0, false},
		{"12", 0, false}, {"", 0, false}, {"12x0", 0, false},
	} {
		n, ok := generatedLeg(c.lot, 12)
		if n != c.n || ok != c.ok {
			t.Errorf("generatedLeg(%q, 12) = %d, %v; want %d, %v", c.lot, n, ok, c.n, c.ok)
		}
	}
}

// Generated lot ids key the id index in creation order; other ids keep
// their text, and no two ids share a key.
func TestLotIDKey(t *testing.T) {
	l := New(nil, nil)
	a := Account{Asset: "points:mall", Member: "m1"}
	key := func(id string) string { return string(l.lotIDKey(a, id)) }
	for _, c := range []struct {
		id  string
		txn uint64
		leg uint16
		ok  bool
	}{
		{"999.0", 999, 0, true}, {"1000.12", 1000, 12, true}, {"0.0", 0, 0, true},
		{"18446744073709551615.1", 0, 0, false}, {"01.0", 0, 0, false}, {"1.01", 0, 0, false},
		{"1.10000", 0, 0, false}, {"1.", 0, 0, false}, {".1", 0, 0, false}, {"1.x", 0, 0, false},
		{"+1.0", 0, 0, false}, {"gift", 0, 0, false}, {"", 0, 0, false},
	} {
		txn, leg, ok := numericLotID(c.id)
		if ok != c.ok || (ok && (txn != c.txn || leg != c.leg)) {
			t.Errorf("numericLotID(%q) = %d, %d, %v", c.id, txn, leg, ok)
		}
	}
	if !(key("999.0") < key("1000.0") && key("1000.0") < key("1000.1") && key("1000.1") < key("12345.0")) {
		t.Error("generated ids do not key in creation order")
	}
	seen := map[string]string{}
	for _, id := range []string{"1.0", "01.0", "1.00", "0.0", "", "1", "x", "1.0x", "10.0", "1.1"} {
		k := key(id)
		if prev, dup := seen[k]; dup {
			t.Errorf("ids %q and %q share the key %q", prev, id, k)
		}
		seen[k] = id
	}
}
