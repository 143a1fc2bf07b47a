package bolt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRecycledSpareExtended checks that a segment recycled as the spare
// keeps its records and is extended with zeros to the spare's size, so that
// the segment made from it is synced over written blocks to its end, and
// that a segment already long enough is kept as it is.
func TestRecycledSpareExtended(t *testing.T) {
	const size = 2 << 20
	for _, n := range []int{size / 2, size + 10} {
		prefix := filepath.Join(t.TempDir(), "db"+walInfix)
		w := &wal{prefix: prefix, spareSize: size}
		seg := w.segmentName(1)
		old := bytes.Repeat([]byte{7}, n)
		if err := os.WriteFile(seg, old, 0o600); err != nil {
			t.Fatal(err)
		}
		w.await([]string{seg})
		w.recycle([]string{seg})
		w.prepared.Wait()
		if !w.spareReady || w.awaited != 0 {
			t.Fatalf("%d bytes: spareReady %v, awaited %d; want true, 0", n, w.spareReady, w.awaited)
		}
		got, err := os.ReadFile(prefix + spareName)
		if err != nil {
			t.Fatal(err)
		}
		want := append(old, make([]byte, max(size-n, 0))...)
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: spare of %d bytes, want the segment's %d followed by zeros to %d", n, len(got), n, max(size, n))
		}
		if _, err := os.Stat(seg); !os.IsNotExist(err) {
			t.Errorf("%d bytes: the recycled segment is still there: %v", n, err)
		}
	}
}
