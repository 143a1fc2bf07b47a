// Package keys builds the ordered byte keys the library stores under:
// big-endian integers and times sort as numbers, strings are NUL-separated.
package keys

import (
	"encoding/binary"
	"math"
	"time"
)

// Sep separates string parts of a key; IDs must not contain it.
const Sep = 0x00

// Builder appends key parts.
type Builder []byte

// New starts a key.
func New() Builder { return make(Builder, 0, 48) }

// Str appends s followed by the separator.
func (b Builder) Str(s string) Builder { return append(append(b, s...), Sep) }

// U64 appends v big-endian.
func (b Builder) U64(v uint64) Builder { return binary.BigEndian.AppendUint64(b, v) }

// Time appends t as sortable nanoseconds; the zero time sorts last, so that
// "never" comes after every real instant.
func (b Builder) Time(t time.Time) Builder { return b.U64(TimeU64(t)) }

// TimeU64 maps t to an unsigned integer that sorts like t; zero maps to max.
func TimeU64(t time.Time) uint64 {
	if t.IsZero() {
		return math.MaxUint64
	}
	return uint64(t.UnixNano()) ^ (1 << 63)
}

// U64Time is the inverse of TimeU64.
func U64Time(v uint64) time.Time {
	if v == math.MaxUint64 {
		return time.Time{}
	}
	return time.Unix(0, int64(v^(1<<63))).UTC()
}

// U64 decodes a big-endian integer at b[i:].
func U64(b []byte, i int) uint64 {
	if len(b) < i+8 {
		return 0
	}
	return binary.BigEndian.Uint64(b[i:])
}
