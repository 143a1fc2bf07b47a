package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLog is the log FuzzReplayDamaged damages: fuzzSegs segments of
// fuzzPerSeg batches each, batch i putting k<i> and deleting d<i> in
// bucket "b" and putting i under "last" in bucket "meta".
const (
	fuzzSegs   = 3
	fuzzPerSeg = 4
)

// fuzzRecord returns the record of batch seq.
func fuzzRecord(seq uint64) []byte {
	body := make([]byte, recHeader, 64)
	body = append(body, make([]byte, 8)...)
	body[recHeader] = byte(seq) // little-endian seq, seq < 256
	body = append(body, 2)      // buckets
	body = append(body, 1, 'b', 2)
	body = appendWrite(body, fmt.Appendf(nil, "k%d", seq), fmt.Appendf(nil, "value %d", seq), false)
	body = appendWrite(body, fmt.Appendf(nil, "d%d", seq), nil, true)
	body = append(body, 4, 'm', 'e', 't', 'a', 1)
	body = appendWrite(body, []byte("last"), fmt.Append(nil, seq), false)
	return frameRecord(body, recHeader)
}

// fuzzSegments returns the segments' contents, and where each record
// ends in its segment.
func fuzzSegments() (segs [][]byte, ends [][]int) {
	id := fileID{1, 2, 3}
	for s := range fuzzSegs {
		b := appendSegHeader(nil, id)
		var e []int
		for i := range fuzzPerSeg {
			b = append(b, fuzzRecord(uint64(s*fuzzPerSeg+i+1))...)
			e = append(e, len(b))
		}
		segs, ends = append(segs, b), append(ends, e)
	}
	return segs, ends
}

// FuzzReplayDamaged flips bytes of the log (mask at off of segment seg,
// twice; mask 0 flips nothing) and cuts a segment (cutSeg at cut; a cut
// past its end cuts nothing), then replays it: replay returns an error
// wrapping ErrCorrupt, or delivers batches 1, 2, … each exactly as
// written (never a damaged record), all of them when the last segment is
// untouched, and every one whose record ends in the last segment before
// its first damaged byte. With salvage it never fails and delivers such a
// prefix. Never a panic.
func FuzzReplayDamaged(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint8(0), uint8(0), uint32(0), uint8(0), uint8(0), uint32(1<<20))
	f.Add(uint8(2), uint32(100), uint8(1), uint8(0), uint32(0), uint8(0), uint8(0), uint32(1<<20))
	f.Add(uint8(1), uint32(30), uint8(0x80), uint8(0), uint32(0), uint8(0), uint8(0), uint32(1<<20))
	f.Add(uint8(0), uint32(0), uint8(0), uint8(0), uint32(0), uint8(0), uint8(2), uint32(150))
	f.Add(uint8(0), uint32(3), uint8(0xff), uint8(2), uint32(40), uint8(7), uint8(1), uint32(60))
	base, ends := fuzzSegments()
	want := make(map[uint64][]byte)
	for seq := uint64(1); seq <= fuzzSegs*fuzzPerSeg; seq++ {
		_, _, writes, err := decodeRecord(fuzzRecord(seq))
		if err != nil {
			f.Fatal(err)
		}
		want[seq] = writesText(writes)
	}
	f.Fuzz(func(t *testing.T, seg1 uint8, off1 uint32, mask1 uint8, seg2 uint8, off2 uint32, mask2 uint8, cutSeg uint8, cut uint32) {
		segs := make([][]byte, fuzzSegs)
		for i := range segs {
			segs[i] = bytes.Clone(base[i])
		}
		// firstBad is the first damaged offset of each segment (len: none).
		firstBad := make([]int, fuzzSegs)
		for i := range firstBad {
			firstBad[i] = len(segs[i])
		}
		for _, d := range []struct {
			seg  uint8
			off  uint32
			mask uint8
		}{{seg1, off1, mask1}, {seg2, off2, mask2}} {
			s := int(d.seg) % fuzzSegs
			if d.mask == 0 || int(d.off) >= len(segs[s]) {
				continue
			}
			segs[s][d.off] ^= d.mask
			firstBad[s] = min(firstBad[s], int(d.off))
		}
		if s := int(cutSeg) % fuzzSegs; int(cut) < len(segs[s]) {
			segs[s] = segs[s][:cut]
			firstBad[s] = min(firstBad[s], int(cut))
		}
		dir := t.TempDir()
		prefix := filepath.Join(dir, "store.db") + walInfix
		for i, b := range segs {
			if err := os.WriteFile(fmt.Sprintf("%s%016x", prefix, i*fuzzPerSeg+1), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// least is the fewest batches a replay may deliver: the log ends
		// in the last segment, before its first damaged byte.
		least := uint64(fuzzSegs * fuzzPerSeg)
		for i := range fuzzSegs - 1 {
			if firstBad[i] < len(base[i]) {
				least = 0 // damage before the end: refused (or salvaged up to it)
			}
		}
		if last := fuzzSegs - 1; least > 0 && firstBad[last] < len(base[last]) {
			least = uint64(last * fuzzPerSeg)
			for _, e := range ends[last] {
				if e <= firstBad[last] {
					least++
				}
			}
		}
		for _, salvage := range []bool{false, true} {
			var got uint64
			r, err := replay(prefix, 0, salvage, func(seq uint64, writes []walWrite) {
				got++
				if seq != got {
					t.Fatalf("salvage %v: batch %d delivered as the %dth", salvage, seq, got)
				}
				if w := writesText(writes); !bytes.Equal(w, want[seq]) {
					t.Fatalf("salvage %v: batch %d delivered as %s; written %s", salvage, seq, w, want[seq])
				}
			})
			if err != nil {
				if salvage || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("salvage %v: replay = %v; want an error wrapping ErrCorrupt, without salvage", salvage, err)
				}
				continue
			}
			if got < least || r.last != got {
				t.Fatalf("salvage %v: replay delivered %d batches (last %d), damage %v; want %d or more", salvage, got, r.last, firstBad, least)
			}
		}
	})
}

// writesText returns writes as text, to compare.
func writesText(writes []walWrite) []byte {
	var b []byte
	for _, w := range writes {
		b = fmt.Appendf(b, "%s %q %q %v;", w.bucket, w.e.key, w.e.value, w.e.del)
	}
	return b
}
