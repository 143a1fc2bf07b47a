package bolt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/memberkit/membership/store"
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

// TestCloseWritesNoSpare checks that Close after a one-key Update writes no
// spare segment: its final checkpoint recycled the log's one segment as the
// spare and filled it with zeros to 1.25 × CheckpointSize (80 MiB by
// default), which removing the log then deleted.
func TestCloseWritesNoSpare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	d, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := d.log.zeroed.Load(); n != 0 {
		t.Errorf("Open, an Update and Close wrote %d bytes of zeros to spares; want none", n)
	}
	if _, err := os.Stat(path + walInfix + spareName); !os.IsNotExist(err) {
		t.Errorf("a spare is left: %v", err)
	}
}

// TestStopSparesStopsFill checks that a spare being filled stops once
// stopSpares is called, and is removed, and that no spare is prepared or
// kept after it.
func TestStopSparesStopsFill(t *testing.T) {
	const size = 64 << 20
	prefix := filepath.Join(t.TempDir(), "db"+walInfix)
	w := &wal{prefix: prefix, spareSize: size}
	// A fill that starts after the stop stands for one under way: it
	// checks before each write.
	w.spareMu.Lock()
	w.stopSpares()
	w.fill(true)
	w.spareMu.Unlock()
	w.prepared.Wait()
	if n := w.zeroed.Load(); n != 0 || w.spareReady {
		t.Errorf("a stopped fill wrote %d bytes, spareReady %v; want 0, false", n, w.spareReady)
	}
	if _, err := os.Stat(prefix + spareName); !os.IsNotExist(err) {
		t.Errorf("a stopped spare is left: %v", err)
	}
	w.prepareSpare()
	seg := w.segmentName(1)
	if err := os.WriteFile(seg, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.await([]string{seg})
	w.recycle([]string{seg})
	w.prepared.Wait()
	if n := w.zeroed.Load(); n != 0 || w.spareReady {
		t.Errorf("after stopSpares: %d bytes of zeros, spareReady %v; want none, false", n, w.spareReady)
	}
	for _, p := range []string{seg, prefix + spareName} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left: %v", filepath.Base(p), err)
		}
	}
}
