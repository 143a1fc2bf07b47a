package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unsafe"

	bbolt "go.etcd.io/bbolt"
)

// The records of the bbolt file. Every value store/bolt keeps in the file,
// those of the reserved bucket included, is followed by sumSize bytes: the
// CRC-32C (big-endian) of
//
//	len(bucket) uint32 (big-endian), bucket, len(key) uint32, key, value
//
// so that a flipped byte of the value, of the key or of the bucket's name,
// or a record read from another bucket's page, fails the check. Reads
// check it and return the value without it; a record that fails is an
// error wrapping ErrCorrupt.
const sumSize = 4

// The file format, recorded under metaFormat. Format 1 (before checksums)
// had no such record; Open migrates such a file, and one made by another
// program, to formatVersion in one transaction. Format 3 added colocated
// buckets (coloc.go): a file of format 2 is one of format 3 with none.
// Format 4 added member packs (pack.go): a file of format 3 is one of
// format 4 with none. Format 5 added held writes (held.go): a file of
// format 4 is one of format 5 with none. Files of formats 2 to 4 are
// therefore read as they are and written as format 5.
const (
	// formatVersion is the format this package writes.
	formatVersion = 5
	// formatPacked is format 4, the first with member packs.
	formatPacked = 4
	// formatColocated is format 3, the first with colocated buckets.
	formatColocated = 3
	// formatChecksums is format 2, the first with checksums.
	formatChecksums = 2
	// formatUnversioned stands for a file without a format record: of
	// format 1, or made by another program.
	formatUnversioned = 1
)

// ErrFormat is wrapped by the error of [Open] when the file, or a segment
// of its log, was written by a later version of this package, in a format
// it cannot read. The files are left as they are.
var ErrFormat = errors.New("bolt: unknown file format")

// bucketSum returns the checksum of a bucket's name, where the checksums of
// its records start.
func bucketSum(bucket string) uint32 {
	c := updateLen(0, len(bucket))
	return crc32.Update(c, castagnoli, unsafe.Slice(unsafe.StringData(bucket), len(bucket)))
}

// recordSum returns the checksum of a record of the bucket whose
// bucketSum is base.
func recordSum(base uint32, key, value []byte) uint32 {
	c := crc32.Update(updateLen(base, len(key)), castagnoli, key)
	return crc32.Update(c, castagnoli, value)
}

// updateLen returns crc updated with n as a uint32 (big-endian), as
// crc32.Update would: written out, since the 4 bytes handed to
// crc32.Update escape to the heap, an allocation on every read.
func updateLen(crc uint32, n int) uint32 {
	crc = ^crc
	for shift := 24; shift >= 0; shift -= 8 {
		crc = castagnoli[byte(crc)^byte(uint32(n)>>shift)] ^ (crc >> 8)
	}
	return ^crc
}

// unseal returns the value of the record key, stored as read from the
// file, of the bucket whose bucketSum is base, and whether its checksum
// holds. The value's capacity ends with it: the file's pages are never
// written through it.
func unseal(base uint32, key, stored []byte) ([]byte, bool) {
	if len(stored) < sumSize {
		return nil, false
	}
	n := len(stored) - sumSize
	v := stored[:n:n]
	return v, binary.BigEndian.Uint32(stored[n:]) == recordSum(base, key, v)
}

// badSum is the error of a record whose checksum does not hold.
func badSum(op, bucket string, key []byte) error {
	return fmt.Errorf("%w: %s: bucket %q, key %q: the record's checksum does not match", ErrCorrupt, op, bucket, key)
}

// sealer appends checksums to values to be put into the file, in chunks
// that live as long as the bbolt transaction they are put in (bbolt keeps
// the slices until it commits).
type sealer struct {
	chunk []byte
}

// seal returns value followed by its checksum as a record key of the
// bucket whose bucketSum is base.
func (s *sealer) seal(base uint32, key, value []byte) []byte {
	n := len(value) + sumSize
	if cap(s.chunk)-len(s.chunk) < n {
		s.chunk = make([]byte, 0, max(n, 64<<10))
	}
	off := len(s.chunk)
	s.chunk = append(s.chunk, value...)
	s.chunk = binary.BigEndian.AppendUint32(s.chunk, recordSum(base, key, value))
	return s.chunk[off:len(s.chunk):len(s.chunk)]
}

// migrate rewrites, in btx, every record of every bucket but the reserved
// one with its checksum (see sumSize), for a file without checksums; keys
// holding nested buckets are left as they are. It returns the number of
// records rewritten. A file whose records have checksums already is one
// whose meta record was damaged (its name, or its format's): migrate
// refuses it with an error wrapping ErrCorrupt, rather than seal the
// records a second time, after which reads returned each value with its
// old checksum.
func migrate(btx *bbolt.Tx) (int, error) {
	var names [][]byte
	err := btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		if string(name) != metaBucket {
			names = append(names, bytes.Clone(name))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := notSealed(btx, names); err != nil {
		return 0, err
	}
	var (
		s     sealer
		total int
	)
	for _, name := range names {
		b := btx.Bucket(name)
		base := bucketSum(string(name))
		// A cursor is not to be trusted after a Put: the bucket is read
		// in runs, each Put after its run is read, and the cursor sought
		// again after the run's last key.
		type pair struct{ k, v []byte }
		var run []pair
		var last []byte
		for {
			run = run[:0]
			c := b.Cursor()
			var k, v []byte
			if last == nil {
				k, v = c.First()
			} else if k, v = c.Seek(last); k != nil && bytes.Equal(k, last) {
				k, v = c.Next()
			}
			for ; k != nil && len(run) < 1024; k, v = c.Next() {
				if v != nil {
					run = append(run, pair{bytes.Clone(k), bytes.Clone(v)})
				}
				last = bytes.Clone(k)
			}
			for _, p := range run {
				if err := b.Put(p.k, s.seal(base, p.k, p.v)); err != nil {
					return total, fmt.Errorf("bucket %q, key %q: %w", name, p.k, err)
				}
			}
			total += len(run)
			if k == nil {
				break
			}
		}
	}
	return total, nil
}

// notSealed returns an error wrapping ErrCorrupt when the buckets names
// of btx show the file has checksums already: a bucket of this package's
// (named with metaBucket's prefix, of format 3 on), or one of the first
// records of a bucket whose checksum holds (by chance once in 2^32 for a
// file without them).
func notSealed(btx *bbolt.Tx, names [][]byte) error {
	for _, name := range names {
		if bytes.HasPrefix(name, []byte(metaBucket)) {
			return fmt.Errorf("%w: no valid meta record, yet the file has bucket %q of a later format", ErrCorrupt, name)
		}
		base := bucketSum(string(name))
		c := btx.Bucket(name).Cursor()
		n := 0
		for k, v := c.First(); k != nil && n < 64; k, v = c.Next() {
			if v == nil {
				continue
			}
			n++
			if _, good := unseal(base, k, v); good {
				return fmt.Errorf("%w: no valid meta record, yet bucket %q, key %q has its checksum", ErrCorrupt, name, k)
			}
		}
	}
	return nil
}
