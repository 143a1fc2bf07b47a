//go:build linux && (amd64 || arm64)

package bolt_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/memberkit/membership/store/bolt"
)

// TestDefaultMmapSize checks that a store maps its file with
// DefaultInitialMmapSize of address space, 16 GiB: growing the map stalls
// every Update and View, which a million members' file of about 1 GiB did
// with a map of 1 GiB.
func TestDefaultMmapSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mmap.db")
	db, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mapped uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != path {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("maps line %q", sc.Text())
		}
		mapped += b - a
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if want := uint64(16 << 30); mapped != want {
		t.Errorf("the file is mapped with %d bytes of address space, want %d", mapped, want)
	}
}
