package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/memberkit/membership/store"
)

// A member's records of the packed buckets (store.Packer) are kept in one
// row: in bucket packBucket, under the member ID, a value that lists them
// (packRecord). An event reads and writes that one row where it read and
// wrote a row a record: its balances and transaction counter, read at
// each posting, and its erasure mark. The records a row holds are read
// and written through it: Get finds the record in the row, Put and
// Delete write the row again (after reading it), Scan walks the rows of
// the members in its range. Keys that begin with 0x00 (a pool's) are no
// member's and are kept as any other; they sort before every member's.
//
// The buckets packed are recorded in the store (metaBucket, packedKey) at
// the first Pack, when they are empty, and read by every Store that
// opens it: a store keeps one layout.
const (
	packBucket = "\x00pack"  // member → the member's records of the packed buckets
	metaBucket = "\x00store" // the store's own records
)

var packedKey = []byte("packed") // in metaBucket: the packed buckets' names, 0x00 between them, and a checksum (formatPacked)

// packVersion is the first byte of a packed row.
const packVersion = 1

// packRecord is one record of a packed row: the bucket, the key past the
// member ID (empty, or from its 0x00), the value.
type packRecord struct {
	bucket, rest, val []byte
}

// memberOf splits key into its member ID and the rest; ok is false for a
// key that begins with 0x00, which is no member's.
func memberOf(key []byte) (member, rest []byte, ok bool) {
	i := bytes.IndexByte(key, 0)
	switch {
	case i == 0:
		return nil, nil, false
	case i < 0:
		return key, nil, true
	}
	return key[:i], key[i:], true
}

// eachPacked calls fn with the records of a packed row, in (bucket,
// rest) order, until fn returns false; their slices are of raw. It reads
// the row as it goes, allocating nothing: an event reads a row's records
// one Get at a time. A row is damaged (an error wrapping store.ErrCorrupt)
// when it is not what writePacked writes: of another version, cut short,
// with no record (the row goes with its last), with a key that is not of
// the row's member (a rest that does not begin with 0x00), or with a
// record not past the one before it. Each record is checked as it is
// read, against the one before: the order the reads rely on costs a
// comparison a record.
func eachPacked(raw []byte, fn func(r packRecord) bool) error {
	if len(raw) == 0 || raw[0] != packVersion {
		return fmt.Errorf("postgres: a packed row of version %v: %w", raw[:min(len(raw), 1)], store.ErrCorrupt)
	}
	bad := func(why string) error {
		return fmt.Errorf("postgres: a packed row %s: %w", why, store.ErrCorrupt)
	}
	b := raw[1:]
	if len(b) == 0 {
		return bad("with no record")
	}
	var prev packRecord
	for first := true; len(b) > 0; first = false {
		var parts [3][]byte
		for i := range parts {
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				return bad("cut short")
			}
			parts[i], b = b[w:w+int(n):w+int(n)], b[w+int(n):]
		}
		r := packRecord{bucket: parts[0], rest: parts[1], val: parts[2]}
		switch {
		case len(r.rest) > 0 && r.rest[0] != 0:
			return bad(fmt.Sprintf("with a key of another member (%q past the member ID)", r.rest))
		case !first && cmpRecord(r, prev.bucket, prev.rest) <= 0:
			return bad(fmt.Sprintf("with records out of order (%q %q after %q %q)", r.bucket, r.rest, prev.bucket, prev.rest))
		}
		prev = r
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// decodePack returns the records of a packed row, in order.
func decodePack(raw []byte) ([]packRecord, error) {
	var recs []packRecord
	err := eachPacked(raw, func(r packRecord) bool {
		recs = append(recs, r)
		return true
	})
	return recs, err
}

// appendRecord appends r as a packed row holds it.
func appendRecord(dst []byte, r packRecord) []byte {
	for _, p := range [3][]byte{r.bucket, r.rest, r.val} {
		dst = binary.AppendUvarint(dst, uint64(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

// cmpRecord compares r with the record (bucket, rest): the order of a
// packed row.
func cmpRecord(r packRecord, bucket, rest []byte) int {
	if c := bytes.Compare(r.bucket, bucket); c != 0 {
		return c
	}
	return bytes.Compare(r.rest, rest)
}

// packed reports whether key of bucket is kept in its member's packed
// row, and returns the member and the rest of the key.
func (t *tx) packed(bucket string, key []byte) (member, rest []byte, ok bool) {
	set := t.s.packed.Load()
	if set == nil || !(*set)[bucket] {
		return nil, nil, false
	}
	return memberOf(key)
}

// conflictError is a serialization failure of the store's own finding:
// the Update runs again.
func conflictError(msg string) error {
	return &pgconn.PgError{Code: "40001", Message: msg}
}

// packedRow returns member's packed row (nil when it has none), read as
// any key is: from what the transaction knows, or in a round trip.
func (t *tx) packedRow(member []byte) ([]byte, error) {
	raw, err := t.get(packBucket, member)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return raw, err
}

// getPacked is get of a packed key.
func (t *tx) getPacked(bucket string, key, member, rest []byte) ([]byte, error) {
	raw, err := t.packedRow(member)
	if err != nil || raw == nil {
		if err == nil {
			err = notFound(bucket, key)
		}
		return nil, err
	}
	val, found, err := findPacked(raw, bucket, rest)
	switch {
	case err != nil:
		return nil, fmt.Errorf("postgres: get %q in %q: %w", key, bucket, err)
	case !found:
		return nil, notFound(bucket, key)
	}
	return val, nil
}

// findPacked returns the value of the record (bucket, rest) of raw, a
// packed row. It reads the whole row: in a row out of order the record
// asked for may come past one that sorts after it, so stopping there
// would answer "not found" where the answer is "damaged".
func findPacked(raw []byte, bucket string, rest []byte) (val []byte, found bool, err error) {
	err = eachPacked(raw, func(r packRecord) bool {
		if !found && string(r.bucket) == bucket && bytes.Equal(r.rest, rest) {
			val, found = r.val, true
		}
		return true
	})
	return val, found, err
}

// writePacked is write of a packed key: the member's row written again
// with the record put, or taken out (e.del), in one allocation. An Insert
// of a record the row holds fails the transaction as a conflict would
// (store.Inserter: the Update runs again).
func (t *tx) writePacked(op, bucket string, key, member, rest []byte, e entry) error {
	raw, err := t.packedRow(member)
	if err != nil {
		return err
	}
	rec := packRecord{bucket: []byte(bucket), rest: rest, val: e.val}
	row := make([]byte, 0, len(raw)+len(bucket)+len(rest)+len(e.val)+8)
	row = append(row, packVersion)
	found, placed, n := false, false, 0
	if raw != nil {
		err = eachPacked(raw, func(r packRecord) bool {
			c := cmpRecord(r, rec.bucket, rest)
			switch {
			case c == 0:
				found = true
				return true // replaced below, or taken out
			case c > 0 && !placed:
				placed = true
				if !e.del {
					row, n = appendRecord(row, rec), n+1
				}
			}
			row, n = appendRecord(row, r), n+1
			return true
		})
		if err != nil {
			return fmt.Errorf("postgres: %s %q in %q: %w", op, key, bucket, err)
		}
	}
	switch {
	case e.ins && found:
		if t.present != nil {
			t.present[[2]string{bucket, string(key)}] = true
		}
		return t.fail(conflictError("a key written as new exists: " + bucket))
	case e.del && !found:
		return nil
	case !placed && !e.del:
		row, n = appendRecord(row, rec), n+1
	}
	if n == 0 {
		return t.write(op, packBucket, member, entry{del: true})
	}
	return t.write(op, packBucket, member, entry{val: row})
}

// singleMember returns the member whose keys hold all of [start, end), if
// one does: its keys are those in [member, member+0x01).
func singleMember(start, end []byte) ([]byte, bool) {
	m, _, ok := memberOf(start)
	if !ok || end == nil {
		return nil, false
	}
	limit := append(slices.Clone(m), 1)
	return m, bytes.Compare(end, limit) <= 0
}

// notMembers is the first key of a member's: keys below it are no
// member's (they begin with 0x00).
var notMembers = []byte{1}

// scanPacked is Scan of a packed bucket: the keys that are no member's,
// kept as any other, then (reverse: first) the members' rows in the
// range, each record of bucket in it.
func (t *tx) scanPacked(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	stopped := false
	stop := func(err error) error {
		if errors.Is(err, store.StopScan) {
			stopped = true
		}
		return err
	}
	others := func() error {
		e := end
		if e == nil || bytes.Compare(e, notMembers) > 0 {
			e = notMembers
		}
		if bytes.Compare(start, e) >= 0 {
			return nil
		}
		return t.scan(bucket, start, e, reverse, func(k, v []byte) error { return stop(fn(k, v)) })
	}
	members := func() error {
		lo := start
		if bytes.Compare(lo, notMembers) < 0 {
			lo = notMembers
		}
		if end != nil && bytes.Compare(lo, end) >= 0 {
			return nil
		}
		each := func(member, raw []byte) error {
			recs, err := decodePack(raw)
			if err != nil {
				return fmt.Errorf("postgres: scan %q: member %q: %w", bucket, member, err)
			}
			for j := range recs {
				r := recs[j]
				if reverse {
					r = recs[len(recs)-1-j]
				}
				if string(r.bucket) != bucket {
					continue
				}
				k := append(append(make([]byte, 0, len(member)+len(r.rest)), member...), r.rest...)
				if bytes.Compare(k, start) < 0 || (end != nil && bytes.Compare(k, end) >= 0) {
					continue
				}
				if err := fn(k, r.val); err != nil {
					return stop(err)
				}
			}
			return nil
		}
		if m, ok := singleMember(lo, end); ok {
			raw, err := t.get(packBucket, m)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			t.scanning++
			defer func() { t.scanning-- }()
			if err := each(m, raw); err != nil && !errors.Is(err, store.StopScan) {
				return err
			}
			return nil
		}
		loM, _, _ := memberOf(lo)
		var hiM []byte
		if end != nil {
			m, _, ok := memberOf(end)
			if !ok {
				return nil // end is below every member's key
			}
			hiM = append(slices.Clone(m), 0) // past the member of end
		}
		return t.scan(packBucket, loM, hiM, reverse, each)
	}
	parts := []func() error{others, members}
	if reverse {
		parts[0], parts[1] = members, others
	}
	for _, part := range parts {
		if err := part(); err != nil {
			return err
		}
		if stopped {
			return nil
		}
	}
	return nil
}

// packedReads maps the reads of packed buckets to the rows that hold
// them: a key to its member's row; a range of one member's keys to that
// row; a range of several members' to the rows of the members in it, and
// to the range below every member's key.
// They are appended to out, which is returned; reads is returned as it
// is when the store packs nothing.
func (t *tx) packedReads(out, reads []store.Read) []store.Read {
	set := t.s.packed.Load()
	if set == nil {
		return reads
	}
	for _, r := range reads {
		if !(*set)[r.Bucket] {
			out = append(out, r)
			continue
		}
		if r.Key != nil {
			if m, _, ok := memberOf(r.Key); ok {
				out = append(out, store.Read{Bucket: packBucket, Key: m})
			} else {
				out = append(out, r)
			}
			continue
		}
		start := r.Start
		if start == nil {
			start = []byte{}
		}
		if m, ok := singleMember(start, r.End); ok {
			out = append(out, store.Read{Bucket: packBucket, Key: m})
			continue
		}
		if bytes.Compare(start, notMembers) < 0 {
			e := r.End
			if e == nil || bytes.Compare(e, notMembers) > 0 {
				e = notMembers
			}
			out = append(out, store.Read{Bucket: r.Bucket, Start: start, End: e})
			start = notMembers
		}
		if r.End != nil && bytes.Compare(start, r.End) >= 0 {
			continue
		}
		loM, _, _ := memberOf(start)
		var hiM []byte
		if r.End != nil {
			m, _, ok := memberOf(r.End)
			if !ok {
				continue
			}
			hiM = append(slices.Clone(m), 0)
		}
		out = append(out, store.Read{Bucket: packBucket, Start: loM, End: hiM})
	}
	return out
}

// Pack keeps each member's records of buckets in one row (store.Packer),
// when none of them holds a record yet: the first call decides, and the
// store records what it decided, which every Store that opens it follows;
// a later call changes nothing. A bucket name that is empty or begins
// with 0x00 (the store's own) is refused with store.ErrInvalid. What the
// server or the connection made fail (the constraint refused to a role
// that does not own kv, say) is an error wrapping store.ErrFailed, as
// New's and Update's are, and records nothing: a later call decides.
// A damaged record of the packed buckets, or one without a checksum (an
// earlier release's) that names some but not these, is an error wrapping
// store.ErrCorrupt (see the package documentation).
//
// The first call decides with kv locked (refuseUnpacked): a Store of a
// release that does not pack may be writing to those buckets.
func (s *Store) Pack(buckets ...string) error {
	if err := s.enter("pack"); err != nil {
		return err
	}
	defer s.leave()
	for _, b := range buckets {
		if b == "" || strings.HasPrefix(b, "\x00") {
			return fmt.Errorf("postgres: pack %q: %w", b, store.ErrInvalid)
		}
	}
	ctx := context.Background()
	set, unchecked, err := s.readPacked(ctx)
	if err == nil && set == nil {
		set, unchecked, err = s.decidePack(ctx, buckets)
	}
	if err == nil && unchecked && len(set) > 0 && !maps.Equal(set, setOf(buckets)) {
		// A release before checksums recorded all of the buckets its
		// Program named, the ones named here: the record was cut or
		// edited.
		err = fmt.Errorf("postgres: the record of the packed buckets (%q/%q) names %q, not the buckets packed: %w",
			metaBucket, packedKey, slices.Sorted(maps.Keys(set)), store.ErrCorrupt)
	}
	if err != nil {
		return fmt.Errorf("postgres: pack: %w", openFailed(ctx, err))
	}
	s.packed.Store(&set)
	return nil
}

// setOf returns the set of names.
func setOf(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// decidePack records which of buckets the store packs: all of them when
// they are empty, else none; or what another Store recorded first. kv
// is locked (ACCESS EXCLUSIVE) before it looks, and READ COMMITTED, so
// that the transactions writing to the buckets when it starts, those of
// an instance of an earlier release included, have ended and are seen,
// and those that write later wait for the constraint refuseUnpacked adds
// (in the same transaction) and meet it. Once a store, at its first
// Program's Open, while the store is new.
func (s *Store) decidePack(ctx context.Context, buckets []string) (set map[string]bool, unchecked bool, err error) {
	kv := s.schema + ".kv"
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+kv+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		var v []byte
		err := tx.QueryRow(ctx, `SELECT value FROM `+kv+` WHERE bucket = $1 AND key = $2`, []byte(metaBucket), packedKey).Scan(&v)
		switch {
		case err == nil:
			if set, unchecked, err = parsePacked(v); err != nil || !unchecked || len(set) > 0 {
				return err
			}
			var rows bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+kv+` WHERE bucket = $1)`, []byte(packBucket)).Scan(&rows); err != nil {
				return err
			}
			if rows {
				return errPackedEmptied
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		names := make([][]byte, len(buckets))
		for i, b := range buckets {
			names[i] = []byte(b)
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+kv+` WHERE bucket = ANY($1::bytea[]))`, names).Scan(&used); err != nil {
			return err
		}
		set = map[string]bool{}
		if !used {
			for _, b := range buckets {
				set[b] = true
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+kv+` (bucket, key, value) VALUES ($1, $2, $3)`,
			[]byte(metaBucket), packedKey, formatPacked(set)); err != nil {
			return err
		}
		return refuseUnpacked(ctx, tx, s.schema, set)
	})
	return set, unchecked, err
}

// readPacked returns the packed buckets the store recorded, nil when it
// recorded none (in an Update, which plans its statements as every
// Update does), and whether the record has no checksum (parsePacked).
func (s *Store) readPacked(ctx context.Context) (set map[string]bool, unchecked bool, err error) {
	err = s.Update(ctx, func(tx store.Tx) error {
		set, unchecked = nil, false
		v, err := tx.Get(metaBucket, packedKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		if set, unchecked, err = parsePacked(v); err != nil || !unchecked || len(set) > 0 {
			return err
		}
		// Written before checksums, naming none: a store that packs
		// nothing has no packed row.
		return tx.Scan(packBucket, nil, nil, false, func(k, v []byte) error { return errPackedEmptied })
	})
	return set, unchecked, err
}

// loadPacked reads the packed buckets the store recorded, if it did.
func (s *Store) loadPacked(ctx context.Context) error {
	set, _, err := s.readPacked(ctx)
	if err != nil || set == nil {
		return err
	}
	s.packed.Store(&set)
	return nil
}

// packedCheck names the constraint of kv that refuseUnpacked adds.
const packedCheck = "kv_packed_member_keys"

// refuseUnpacked adds to the kv table of schema q (quoted), when set
// names buckets, a constraint that refuses a row of a packed bucket under
// a member's key (one that does not begin with 0x00): this code keeps
// such a record in the member's packed row and never writes that row,
// while a Store of a release before packing (schema version 2 or 1),
// still running while a deploy rolls, writes it there, and it would not
// be read (a balance lost, a counter or erasure mark misread). Such an
// Update now fails (SQLSTATE 23514) and writes nothing. NOT VALID: rows
// are not checked, as the buckets were empty when the store packed, and
// a row such a Store wrote before the constraint existed (schema version
// 3) is not read either way; validating it would keep the store from
// opening.
func refuseUnpacked(ctx context.Context, tx pgx.Tx, q string, set map[string]bool) error {
	if len(set) == 0 {
		return nil
	}
	var names []string
	for _, b := range slices.Sorted(maps.Keys(set)) {
		// Hex: a bucket name may hold any byte, and DDL takes no parameters.
		names = append(names, fmt.Sprintf(`decode('%x', 'hex')`, b))
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s.kv ADD CONSTRAINT %s
		CHECK (bucket <> ALL (ARRAY[%s]) OR substring(key from 1 for 1) = decode('00', 'hex')) NOT VALID`,
		q, packedCheck, strings.Join(names, ", ")))
	return err
}

// refuseUnpackedMigration is migration 4: a store that packed before it
// (at version 3) gets refuseUnpacked's constraint.
func refuseUnpackedMigration(ctx context.Context, tx pgx.Tx, q string) error {
	var v []byte
	err := tx.QueryRow(ctx, `SELECT value FROM `+q+`.kv WHERE bucket = $1 AND key = $2`, []byte(metaBucket), packedKey).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	set, _, err := parsePacked(v)
	if err != nil {
		return err
	}
	return refuseUnpacked(ctx, tx, q, set)
}

// packedSum begins the last name of the record of the packed buckets that
// formatPacked writes: it is followed by the CRC-32C (Castagnoli) of the
// names before it, as 8 hex digits. A release before it reads it as the
// name of one more packed bucket, which no record is of: harmless.
const packedSum = "\x01crc32c:"

// formatPacked returns the record of the packed buckets: their names,
// sorted, 0x00 between them, and last packedSum and the checksum.
func formatPacked(set map[string]bool) []byte {
	names := slices.Sorted(maps.Keys(set))
	joined := strings.Join(names, "\x00")
	sum := fmt.Sprintf("%s%08x", packedSum, crc32.Checksum([]byte(joined), crc32.MakeTable(crc32.Castagnoli)))
	return []byte(strings.Join(append(names, sum), "\x00"))
}

// parsePacked reads a record of the packed buckets. One that formatPacked
// wrote must hold its checksum. One a release before checksums wrote
// (the names alone) must be what it wrote: names none of them empty,
// nor beginning with 0x00, in ascending order; unchecked reports that it
// has no checksum. Anything else is an error wrapping store.ErrCorrupt.
func parsePacked(v []byte) (set map[string]bool, unchecked bool, err error) {
	bad := func(why string) error {
		return fmt.Errorf("postgres: the record of the packed buckets (%q/%q) %s: %w", metaBucket, packedKey, why, store.ErrCorrupt)
	}
	set = map[string]bool{}
	if len(v) == 0 {
		return set, true, nil // packs nothing, as written before checksums
	}
	names := strings.Split(string(v), "\x00")
	if last := names[len(names)-1]; strings.HasPrefix(last, packedSum) {
		names = names[:len(names)-1]
		joined := strings.Join(names, "\x00")
		want := fmt.Sprintf("%s%08x", packedSum, crc32.Checksum([]byte(joined), crc32.MakeTable(crc32.Castagnoli)))
		if last != want {
			return nil, false, bad("does not match its checksum")
		}
		if len(names) == 1 && names[0] == "" {
			names = nil // packs nothing
		}
	} else {
		unchecked = true
	}
	for i, b := range names {
		switch {
		case b == "" || b[0] == 0:
			return nil, false, bad("names an empty bucket or one of the store's own")
		case i > 0 && b <= names[i-1]:
			return nil, false, bad("names its buckets out of order")
		}
		set[b] = true
	}
	return set, unchecked, nil
}

// errPackedEmptied is the error of a record of the packed buckets that
// names none, written before checksums, in a store that holds packed rows:
// it was cut short or emptied.
var errPackedEmptied = fmt.Errorf("postgres: the record of the packed buckets (%q/%q) names none, but members' packed rows are there: %w",
	metaBucket, packedKey, store.ErrCorrupt)
