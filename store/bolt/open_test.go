package bolt_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// goodFile returns the bytes of a closed store holding b/k = v.
func goodFile(t *testing.T) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "good")
	db, err := bolt.Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openFDs returns the number of open file descriptors of the process, or
// -1 where /proc does not tell.
func openFDs() int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(e)
}

// TestFailedOpenReleasesFile checks that an Open that fails on a damaged
// file (bbolt panics on it, or refuses it) keeps neither the file's lock
// nor a descriptor: once a good copy is written over the same path, as
// README's Restore does, Open succeeds at once.
func TestFailedOpenReleasesFile(t *testing.T) {
	good := goodFile(t)
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"truncated to 8193 bytes", good[:8193]},
		{"truncated to 4196 bytes", good[:4196]},
		{"zeros", make([]byte, 64<<10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "db")
			if err := os.WriteFile(p, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			fds := openFDs()
			for range 3 {
				if db, err := bolt.Open(p, nil); !errors.Is(err, bolt.ErrCorrupt) {
					if db != nil {
						db.Close()
					}
					t.Fatalf("Open of the damaged file = %v; want an error wrapping ErrCorrupt", err)
				}
			}
			if got := openFDs(); got > fds {
				t.Errorf("open descriptors: %d before the failed Opens, %d after", fds, got)
			}
			if err := os.WriteFile(p, good, 0o600); err != nil { // the same inode
				t.Fatal(err)
			}
			db := openDB(t, p, nil)
			err := db.View(t.Context(), func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("k"))
				if err == nil && string(v) != "v" {
					t.Errorf("b/k = %q; want v", v)
				}
				return err
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
		})
	}
}
