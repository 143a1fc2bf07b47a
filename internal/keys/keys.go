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

// The seconds since 1970 of the instants a key holds exactly: within
// them, t.UnixNano does not overflow (it does from 2262-04-11 on, and
// before 1677-09-21).
const (
	minUnix = math.MinInt64/1_000_000_000 + 1
	maxUnix = math.MaxInt64/1_000_000_000 - 1
)

// InRange reports whether t (not zero) is an instant TimeU64 and the
// record codec hold exactly: the years 1678 to 2261.
func InRange(t time.Time) bool {
	s := t.Unix()
	return s >= minUnix && s <= maxUnix
}

// TimeU64 maps t to an unsigned integer that sorts like t; zero maps to
// max. An instant out of range (InRange) saturates to the first or the
// last value before max: the bound of a scan then still covers what is
// stored, which is always in range.
func TimeU64(t time.Time) uint64 {
	if t.IsZero() {
		return math.MaxUint64
	}
	switch s := t.Unix(); {
	case s < minUnix:
		return 0
	case s > maxUnix:
		return math.MaxUint64 - 1
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
