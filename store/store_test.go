package store_test

import (
	"errors"
	"testing"

	"github.com/memberkit/membership/store"
)

// TestPrefixEnd checks PrefixEnd against ends worked out by hand: the last
// byte below 0xff is raised by one and the 0xff bytes after it dropped;
// nil where every byte is 0xff (or there is none). The prefix is left as
// it was.
func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"a", "b"},
		{"k3", "k4"},
		{"\x00", "\x01"},
		{"a\xff", "b"},
		{"ab\xff\xff", "ac"},
		{"\xfe\xff", "\xff"},
		{"a\x00\xff", "a\x01"},
	} {
		prefix := []byte(c.prefix)
		got := store.PrefixEnd(prefix)
		if string(got) != c.want || got == nil {
			t.Errorf("PrefixEnd(%q) = %q; want %q", c.prefix, got, c.want)
		}
		if string(prefix) != c.prefix {
			t.Errorf("PrefixEnd(%q) changed its argument to %q", c.prefix, prefix)
		}
	}
	for _, prefix := range []string{"", "\xff", "\xff\xff\xff"} {
		if got := store.PrefixEnd([]byte(prefix)); got != nil {
			t.Errorf("PrefixEnd(%q) = %q; want nil (no key ends the prefix)", prefix, got)
		}
	}
	if got := store.PrefixEnd(nil); got != nil {
		t.Errorf("PrefixEnd(nil) = %q; want nil", got)
	}
}

// TestPreloadChecksArguments checks store.Preload's checks on a Tx that
// is not a Preloader: an empty bucket name or a non-nil empty key wraps
// ErrInvalid; a nil key (a range) and nil bounds are valid.
func TestPreloadChecksArguments(t *testing.T) {
	var tx store.Tx // Preload only checks when tx is no Preloader
	for _, r := range []store.Read{{Key: []byte("k")}, {Bucket: "b", Key: []byte{}}, {}} {
		if err := store.Preload(tx, r); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Preload(%+v) = %v; want an error wrapping ErrInvalid", r, err)
		}
	}
	ok := []store.Read{{Bucket: "b", Key: []byte("k")}, {Bucket: "b"}, {Bucket: "b", Start: []byte("a"), End: []byte("z")}}
	if err := store.Preload(tx, ok...); err != nil {
		t.Errorf("Preload(%+v) = %v; want nil", ok, err)
	}
	if err := store.Preload(tx, append(ok, store.Read{Bucket: ""})...); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Preload with one empty bucket name after valid reads = %v; want an error wrapping ErrInvalid", err)
	}
}
