package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/memberkit/membership/store"
)

// testPrefetcher checks store.Prefetcher on a store that has it (a store
// without it passes): UpdatePrefetch is Update. Goroutines each add one
// to a counter and to a key of their own, naming both, and a key no one
// writes, as reads; every fourth Update's function then fails. The
// counter ends at the number that went through, each of their keys is 1,
// none of the failed ones' exists: a function that ran after others in
// one transaction saw their writes over what the store read early (one
// that read the counter as prefetched would lose increments), and a
// failed one's writes are undone alone. The reads are overwritten once
// UpdatePrefetch returns, which the store must not mind (they are the
// caller's), and a done context runs nothing.
func testPrefetcher(t *testing.T, s store.Store) {
	p, ok := s.(store.Prefetcher)
	if !ok {
		return
	}
	const n = 32
	errFail := errors.New("storetest: the function fails")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			own := fmt.Sprintf("k%02d", i)
			reads := []store.Read{{Bucket: "pf", Key: bs("count")}, {Bucket: "pf", Key: bs(own)}, {Bucket: "pf", Key: bs("none")}}
			err := p.UpdatePrefetch(context.Background(), reads, func(tx store.Tx) error {
				if err := store.Preload(tx, reads...); err != nil {
					return err
				}
				c, err := getInt(tx, "pf", "count")
				if err != nil {
					return err
				}
				if err := putInt(tx, "pf", "count", c+1); err != nil {
					return err
				}
				if err := putInt(tx, "pf", own, 1); err != nil {
					return err
				}
				if _, err := tx.Get("pf", bs("none")); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("Get of a key no one writes = %v; want ErrNotFound", err)
				}
				if i%4 == 3 {
					return errFail
				}
				return nil
			})
			for _, r := range reads {
				clear(r.Key) // the caller's again
			}
			switch {
			case i%4 == 3 && !errors.Is(err, errFail):
				t.Errorf("UpdatePrefetch %d = %v; want %v", i, err, errFail)
			case i%4 != 3 && err != nil:
				t.Errorf("UpdatePrefetch %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		// 32 Updates, of which the 8 numbered 3, 7, ..., 31 failed: 24.
		if c, err := getInt(tx, "pf", "count"); err != nil || c != 24 {
			t.Errorf("count = %d, %v; want 24", c, err)
		}
		for i := range n {
			wantValue(t, tx, "pf", fmt.Sprintf("k%02d", i), "\x00\x00\x00\x00\x00\x00\x00\x01", i%4 == 3)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := p.UpdatePrefetch(ctx, []store.Read{{Bucket: "pf", Key: bs("count")}}, func(tx store.Tx) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("UpdatePrefetch with a cancelled context = %v (fn called: %v); want context.Canceled and no call", err, called)
	}
}
