//go:build unix

package bolt_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// TestOpenCreatesPrivateFiles pins Open's "creating it (mode 0600)": the
// file holds members' data, and so does its log, so both are readable by
// their owner alone, whatever the umask leaves (022 would leave 0644 of a
// mode 0666). The log's files are checked while the store is open, the
// file once it is closed.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "members.db")
	db, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	check := func() int {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "members.db") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: mode %v, want -rw-------", e.Name(), got)
			}
			n++
		}
		return n
	}
	if n := check(); n < 3 { // the file, a segment, the lock
		t.Errorf("%d files of the store while it is open, want the file and its log", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := check(); n != 1 {
		t.Errorf("%d files of the store once closed, want the file alone", n)
	}
}
