package postgres

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/memberkit/membership/store"
)

// FuzzDecodePack decodes arbitrary bytes as a packed row: decodePack
// returns an error wrapping store.ErrCorrupt, or at least one record, in
// strictly increasing (bucket, rest) order, each rest empty or from its
// 0x00, which encode back to the same records; findPacked, which Get
// uses, fails on the same rows and finds every record decoded, and no
// other. It never panics. (A row is only ever written by writePacked;
// this is what a row damaged in the table, or written by a faulty
// writer, would do.)
func FuzzDecodePack(f *testing.F) {
	recA := appendRecord(nil, packRecord{bucket: []byte("bal"), rest: []byte("\x00a"), val: []byte("1")})
	recB := appendRecord(nil, packRecord{bucket: []byte("bal"), rest: []byte("\x00b"), val: []byte("2")})
	recT := appendRecord(nil, packRecord{bucket: []byte("txn"), val: bytes.Repeat([]byte("v"), 200)})
	row := func(recs ...[]byte) []byte { return append([]byte{packVersion}, bytes.Join(recs, nil)...) }
	valid := row(recA, recB, recT)
	f.Add(valid)
	f.Add(valid[:len(valid)-1])                   // cut short
	f.Add([]byte{})                               // no version
	f.Add([]byte{packVersion})                    // no record
	f.Add(row(recB, recA))                        // out of order
	f.Add(row(recA, recA))                        // the same record twice
	f.Add(row(recT, recA))                        // buckets out of order
	f.Add(row([]byte("\x03bal\x01x\x011")))       // a key of another member
	f.Add(row([]byte("\x03bal\x00\xff\xff\x7f"))) // a value longer than the row
	f.Add(row(bytes.Repeat([]byte{0xff}, 11)))    // a length past 64 bits
	f.Add(row([]byte("\x83\x00bal\x00\x00")))     // a length in more bytes than needed
	f.Add(append([]byte{2}, valid[1:]...))        // another version
	f.Fuzz(func(t *testing.T, raw []byte) {
		recs, err := decodePack(raw)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("decodePack(%q) = %v; want an error wrapping ErrCorrupt", raw, err)
			}
			if _, _, err := findPacked(raw, "bal", []byte("\x00a")); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("findPacked(%q) = %v; want an error wrapping ErrCorrupt, as decodePack's", raw, err)
			}
			return
		}
		if len(recs) == 0 {
			t.Fatalf("decodePack(%q): no record and no error", raw)
		}
		again := []byte{packVersion}
		for i, r := range recs {
			if len(r.rest) > 0 && r.rest[0] != 0 {
				t.Fatalf("decodePack(%q): record %d's key %q is another member's", raw, i, r.rest)
			}
			if i > 0 && cmpRecord(recs[i-1], r.bucket, r.rest) >= 0 {
				t.Fatalf("decodePack(%q): records %d and %d out of order", raw, i-1, i)
			}
			if v, ok, err := findPacked(raw, string(r.bucket), r.rest); err != nil || !ok || !bytes.Equal(v, r.val) {
				t.Fatalf("findPacked(%q, %q, %q) = %q, %v, %v; want %q", raw, r.bucket, r.rest, v, ok, err, r.val)
			}
			again = appendRecord(again, r)
		}
		// Keys just past the first record and past the last are found
		// when the row holds them.
		last := recs[len(recs)-1]
		for _, a := range []packRecord{
			{bucket: recs[0].bucket, rest: append(bytes.Clone(recs[0].rest), 0)},
			{bucket: append(bytes.Clone(last.bucket), 0)},
		} {
			held := slices.ContainsFunc(recs, func(r packRecord) bool { return cmpRecord(r, a.bucket, a.rest) == 0 })
			if _, ok, err := findPacked(raw, string(a.bucket), a.rest); err != nil || ok != held {
				t.Fatalf("findPacked(%q, %q, %q) = %v, %v; want %v", raw, a.bucket, a.rest, ok, err, held)
			}
		}
		// The records encode back to a row of the same records (the row
		// may have had lengths encoded in more bytes than needed).
		back, err := decodePack(again)
		if err != nil || len(back) != len(recs) {
			t.Fatalf("decodePack(again %q) = %d records, %v; want %d", again, len(back), err, len(recs))
		}
		for i := range recs {
			if cmpRecord(back[i], recs[i].bucket, recs[i].rest) != 0 || !bytes.Equal(back[i].val, recs[i].val) {
				t.Fatalf("decodePack(again %q): record %d = %q; want %q", again, i, back[i], recs[i])
			}
		}
	})
}
