package points

import (
	"errors"
	"testing"

	"github.com/memberkit/membership/ledger"
)

// A release record is eight bytes; any other length is damage, reported
// as ledger.ErrCorrupt, never read as a time. (TestLots reads the times
// written back.)
func TestReleaseRecord(t *testing.T) {
	if _, err := releaseAt([]byte{1, 2, 3}); !errors.Is(err, ledger.ErrCorrupt) {
		t.Errorf("3 bytes: %v, want ErrCorrupt", err)
	}
	if _, err := releaseAt(nil); !errors.Is(err, ledger.ErrCorrupt) {
		t.Errorf("no bytes: %v, want ErrCorrupt", err)
	}
}
