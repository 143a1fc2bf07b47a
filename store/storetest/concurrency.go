package storetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership/store"
)

// The cases of this file check the contract's concurrent writers (see the
// package documentation of store): they hold whether a store runs Updates
// one at a time or concurrently, running a function again after a
// conflict. Each says how a store without the isolation it checks fails
// it; storetest's own tests run them on such stores (an in-memory store
// with optimistic transactions and a broken validation) and see them fail.
// Their functions yield (runtime.Gosched) between their reads and their
// writes, which widens the window a store without isolation lets through.

var (
	// errTaken is the rejection of a booking in a room already booked.
	errTaken = errors.New("storetest: room taken")
	// errInsufficient is the rejection of a transfer larger than the
	// balance.
	errInsufficient = errors.New("storetest: insufficient balance")
)

// getInt returns the big-endian int64 at key in bucket, 0 when absent.
func getInt(tx store.Tx, bucket, key string) (int64, error) {
	v, err := tx.Get(bucket, bs(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("storetest: %s/%s holds %d bytes; want 8", bucket, key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func putInt(tx store.Tx, bucket, key string, n int64) error {
	return tx.Put(bucket, bs(key), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// testRerunLeavesOneResult checks what a function leaves when the store
// runs it more than once. Each of n goroutines runs one Update that
// appends its number to a shared list, increments a count kept beside it
// and writes a key of its own; every fourth then returns an error. At the
// end the count is the number of Updates that succeeded, the list holds
// each of their numbers exactly once and none of the failed ones', and
// only their own keys exist. Each run checks that the count and the list
// it read agree (they are always written together), so a run that sees
// half of another Update fails it, and Update must return only after the
// last run of its function has returned.
//
// A store that runs a function again but keeps the writes of the run it
// discarded fails it with numbers listed twice and a count too high; a
// store without isolation fails it with numbers lost.
func testRerunLeavesOneResult(t *testing.T, s store.Store) {
	const n = 32
	var runs, running [n]atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				running[i].Add(1)
				defer running[i].Add(-1)
				run := runs[i].Add(1)
				count, err := getInt(tx, "rerun", "count")
				if err != nil {
					return err
				}
				list, err := tx.Get("rerun", bs("list"))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if int64(len(list)) != count {
					t.Errorf("Update %d, run %d: read count %d beside a list of %d numbers; written together, they must agree", i, run, count, len(list))
				}
				runtime.Gosched()
				if err := tx.Put("rerun", bs("list"), append(slices.Clone(list), byte(i))); err != nil {
					return err
				}
				if err := putInt(tx, "rerun", "count", count+1); err != nil {
					return err
				}
				if err := tx.Put("own", fmt.Appendf(nil, "%03d", i), fmt.Append(nil, run)); err != nil {
					return err
				}
				if i%4 == 0 {
					return errBoom
				}
				return nil
			})
			if running[i].Load() != 0 {
				t.Errorf("Update %d returned while a run of its function was still running", i)
			}
			if runs[i].Load() < 1 {
				t.Errorf("Update %d returned without running its function", i)
			}
			if i%4 == 0 && err != errBoom {
				t.Errorf("Update %d = %v; want its function's error %v returned as is", i, err, errBoom)
			}
			if i%4 != 0 && err != nil {
				t.Errorf("Update %d = %v; want nil", i, err)
			}
		})
	}
	wg.Wait()
	total := 0
	var want []byte
	var wantOwn []string
	for i := range n {
		total += int(runs[i].Load())
		if i%4 != 0 {
			want = append(want, byte(i))
			wantOwn = append(wantOwn, fmt.Sprintf("%03d", i))
		}
	}
	t.Logf("%d Updates ran their functions %d times", n, total)
	view(t, s, func(tx store.Tx) error {
		count, err := getInt(tx, "rerun", "count")
		if err != nil {
			t.Fatalf("Get count: %v", err)
		}
		if count != int64(len(want)) {
			t.Errorf("count = %d after %d successful Updates; want %d", count, len(want), len(want))
		}
		list, err := tx.Get("rerun", bs("list"))
		if err != nil {
			t.Fatalf("Get list: %v", err)
		}
		got := slices.Clone(list)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("the list holds %v; want each successful Update's number once: %v", got, want)
		}
		var own []string
		err = tx.Scan("own", nil, nil, false, func(k, v []byte) error {
			own = append(own, string(k))
			if i, err := strconv.Atoi(string(k)); err == nil && i >= 0 && i < n {
				if run, err := strconv.Atoi(string(v)); err != nil || run < 1 || run > int(runs[i].Load()) {
					t.Errorf("key %s holds run %q; want one of the %d runs of its function", k, v, runs[i].Load())
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("Scan own: %v", err)
		}
		if !slices.Equal(own, wantOwn) {
			t.Errorf("own keys %q; want those of the successful Updates %q", own, wantOwn)
		}
		return nil
	})
}

// bank is a set of accounts with money moved between them.
type bank struct {
	accounts int
	initial  int64
}

func (b bank) key(i int) string { return fmt.Sprintf("acct%03d", i) }

func (b bank) total() int64 { return int64(b.accounts) * b.initial }

func (b bank) open(t *testing.T, s store.Store) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for i := range b.accounts {
			if err := putInt(tx, "bank", b.key(i), b.initial); err != nil {
				return err
			}
		}
		return nil
	})
}

// transfer moves a random amount between two random accounts, drawn in the
// function (draws may repeat when the store runs it again); it rejects a
// transfer larger than the balance with errInsufficient.
func (b bank) transfer(rng *rand.Rand) func(store.Tx) error {
	return func(tx store.Tx) error {
		from := rng.IntN(b.accounts)
		to := (from + 1 + rng.IntN(b.accounts-1)) % b.accounts
		amount := 1 + rng.Int64N(b.initial*2/3)
		fromBal, err := getInt(tx, "bank", b.key(from))
		if err != nil {
			return err
		}
		toBal, err := getInt(tx, "bank", b.key(to))
		if err != nil {
			return err
		}
		if fromBal < amount {
			return errInsufficient
		}
		runtime.Gosched()
		if err := putInt(tx, "bank", b.key(from), fromBal-amount); err != nil {
			return err
		}
		return putInt(tx, "bank", b.key(to), toBal+amount)
	}
}

// run makes goroutines×transfers transfers, each goroutine with its own
// random source, and reports errors other than errInsufficient; it returns
// how many transfers committed.
func (b bank) run(t *testing.T, s store.Store, goroutines, transfers int) int {
	var committed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 14))
			for range transfers {
				err := s.Update(context.Background(), b.transfer(rng))
				switch {
				case err == nil:
					committed.Add(1)
				case err != errInsufficient:
					t.Errorf("transfer: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	return int(committed.Load())
}

// sums returns the total of the accounts read one Get at a time (yielding
// in between), and the total and count of those read by a Scan; it
// reports an account found negative.
func (b bank) sums(t *testing.T, tx store.Tx) (byGets, byScan int64, scanned int, err error) {
	for i := range b.accounts {
		n, err := getInt(tx, "bank", b.key(i))
		if err != nil {
			return 0, 0, 0, err
		}
		if n < 0 {
			t.Errorf("account %d holds %d; no account may go negative", i, n)
		}
		byGets += n
		runtime.Gosched()
	}
	err = tx.Scan("bank", nil, nil, false, func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("storetest: %s holds %d bytes; want 8", k, len(v))
		}
		byScan += int64(binary.BigEndian.Uint64(v))
		scanned++
		return nil
	})
	return byGets, byScan, scanned, err
}

// check reports unless the accounts hold the total, none negative.
func (b bank) check(t *testing.T, tx store.Tx, when string) {
	t.Helper()
	byGets, byScan, scanned, err := b.sums(t, tx)
	if err != nil {
		t.Errorf("%s: reading the accounts: %v", when, err)
		return
	}
	if byGets != b.total() || byScan != b.total() || scanned != b.accounts {
		t.Errorf("%s: the accounts hold %d read by Gets, %d in %d accounts read by a Scan; want %d in %d accounts",
			when, byGets, byScan, scanned, b.total(), b.accounts)
	}
}

// testBankTransfers checks that bank transfers between random accounts,
// from many goroutines, keep the total and never overdraw an account. A
// store without isolation fails it: two transfers from one account both
// read its balance and each writes its own debit, so money appears (a
// lost update), or both pass the balance check that only one should.
func testBankTransfers(t *testing.T, s store.Store) {
	b := bank{accounts: 8, initial: 100}
	b.open(t, s)
	committed := b.run(t, s, 8, 20)
	t.Logf("%d of %d transfers committed, the others rejected", committed, 8*20)
	if committed == 0 {
		t.Errorf("no transfer committed")
	}
	// Read in an Update too: serializable with the transfers.
	update(t, s, func(tx store.Tx) error { b.check(t, tx, "after the transfers, in an Update"); return nil })
	view(t, s, func(tx store.Tx) error { b.check(t, tx, "after the transfers"); return nil })
}

// testViewSeesOneSnapshot checks that a View sees one snapshot while
// Updates commit: readers sum the accounts, one Get at a time and by a
// Scan, while transfers run, and always find the total. A store whose View
// reads each key as last committed fails it: between two of the reader's
// Gets a transfer commits, and the reader counts its amount twice or not
// at all.
func testViewSeesOneSnapshot(t *testing.T, s store.Store) {
	const readers, maxReads = 2, 5000
	b := bank{accounts: 8, initial: 100}
	b.open(t, s)
	stop, reading := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			once.Do(func() { close(reading) })
			for range maxReads {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(context.Background(), func(tx store.Tx) error {
					b.check(t, tx, "in a View during the transfers")
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
				reads.Add(1)
			}
		})
	}
	<-reading
	committed := b.run(t, s, 4, 40)
	close(stop)
	wg.Wait()
	t.Logf("%d Views read the accounts while %d transfers committed", reads.Load(), committed)
	view(t, s, func(tx store.Tx) error { b.check(t, tx, "after the transfers"); return nil })
}

// testWriteSkewOnRange checks that two transactions that each read a range
// and insert into it, under a rule that only one may, never both succeed.
// The rule: a room holds at most one booking, a key under the room's
// prefix; a booking scans the room and is rejected with errTaken when it
// finds one. Several goroutines book each room at once, each under a key of
// its own, so that no two of them write the same key: only a store that
// serializes the Updates, or tracks the range each read, keeps the rule. At
// the end each room holds exactly one booking, made by the one Update that
// succeeded. A store with snapshot isolation (conflicts on keys written
// twice only) fails it: two bookings see the room empty and both insert
// (write skew).
func testWriteSkewOnRange(t *testing.T, s store.Store) {
	const rooms, goroutines = 12, 4
	room := func(r int) []byte { return fmt.Appendf(nil, "room%02d/", r) }
	var booked, taken, empty [rooms]atomic.Int32 // empty: runs that found the room empty
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for r := range rooms {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					n := 0
					err := tx.Scan("booking", room(r), store.PrefixEnd(room(r)), false, func(k, v []byte) error {
						n++
						return nil
					})
					if err != nil {
						return err
					}
					if n > 0 {
						return errTaken
					}
					// Wait a little, in a bounded loop, for another
					// booking to read the room too: a store that runs
					// Updates concurrently lets it, which is the case
					// under test; one that serializes them does not.
					empty[r].Add(1)
					for i := 0; i < 1000 && empty[r].Load() < 2; i++ {
						runtime.Gosched()
					}
					return tx.Put("booking", fmt.Appendf(room(r), "guest%d", g), nil)
				})
				switch {
				case err == nil:
					booked[r].Add(1)
				case err == errTaken:
					taken[r].Add(1)
				default:
					t.Errorf("booking room %d: %v", r, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		for r := range rooms {
			got := scan(t, tx, "booking", room(r), store.PrefixEnd(room(r)), false)
			if len(got) != 1 || booked[r].Load() != 1 || taken[r].Load() != goroutines-1 {
				t.Errorf("room %d holds bookings %q after %d Updates succeeded and %d were rejected; want exactly 1 booking, 1 success and %d rejections (write skew)",
					r, got, booked[r].Load(), taken[r].Load(), goroutines-1)
			}
		}
		return nil
	})
}

// testPreload checks store.Preload: whatever the store does with it, the
// reads that follow see what they would have seen without it, the
// transaction's own writes included, before and after it.
func testPreload(t *testing.T, s store.Store) {
	put(t, s, "b", "a", "1", "c", "3", "d", "4")
	put(t, s, "x", "k", "v")
	reads := []store.Read{
		{Bucket: "b", Key: bs("a")},
		{Bucket: "b", Key: bs("zz")},
		{Bucket: "b", Start: bs("b")},
		{Bucket: "x", Key: bs("k")},
		{Bucket: "nobucket", Key: bs("k")},
		{Bucket: "nobucket"},
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("b"), bs("2")); err != nil {
			return err
		}
		if err := tx.Delete("b", bs("c")); err != nil {
			return err
		}
		if err := store.Preload(tx, reads...); err != nil {
			t.Errorf("Preload: %v", err)
		}
		wantValue(t, tx, "b", "a", "1", false)
		wantValue(t, tx, "b", "zz", "", true)
		wantValue(t, tx, "b", "b", "2", false)
		wantValue(t, tx, "b", "c", "", true)
		wantValue(t, tx, "b", "d", "4", false)
		wantValue(t, tx, "x", "k", "v", false)
		wantValue(t, tx, "nobucket", "k", "", true)
		wantScan(t, tx, "b", nil, nil, false, "a=1", "b=2", "d=4")
		wantScan(t, tx, "b", bs("b"), nil, true, "d=4", "b=2")
		wantScan(t, tx, "b", bs("c"), bs("e"), false, "d=4")
		wantScan(t, tx, "nobucket", nil, nil, false)
		for _, err := range []error{tx.Put("b", bs("e"), bs("5")), tx.Delete("b", bs("d")), tx.Put("b", bs("zz"), bs("z"))} {
			if err != nil {
				return err
			}
		}
		wantValue(t, tx, "b", "e", "5", false)
		wantValue(t, tx, "b", "d", "", true)
		wantValue(t, tx, "b", "zz", "z", false)
		wantScan(t, tx, "b", bs("b"), nil, false, "b=2", "e=5", "zz=z")
		wantScan(t, tx, "b", nil, nil, true, "zz=z", "e=5", "b=2", "a=1")
		return nil
	})
	// Several ranges with an end, as a group of a member's events reads
	// them (store/postgres reads them in one statement): in two buckets,
	// one empty, one inside another, one from a key, and the reads inside
	// them after.
	put(t, s, "m", "m1\x00a", "1", "m1\x00b", "2", "m2\x00a", "3", "m3\x00a", "4")
	update(t, s, func(tx store.Tx) error {
		err := store.Preload(tx,
			store.Read{Bucket: "m", Start: bs("m3\x00a"), End: bs("m3\x01")}, // from a key
			store.Read{Bucket: "m", Start: bs("m1\x00"), End: bs("m1\x01")},
			store.Read{Bucket: "m", Start: bs("m1\x00b"), End: bs("m1\x00c")},
			store.Read{Bucket: "m", Start: bs("m9\x00"), End: bs("m9\x01")},
			store.Read{Bucket: "x", Start: bs("a"), End: bs("z")},
			store.Read{Bucket: "empty", Start: bs("a"), End: bs("z")})
		if err != nil {
			t.Errorf("Preload of ranges: %v", err)
		}
		wantScan(t, tx, "m", bs("m1\x00"), bs("m1\x01"), false, "m1\x00a=1", "m1\x00b=2")
		wantScan(t, tx, "m", bs("m1\x00"), bs("m1\x01"), true, "m1\x00b=2", "m1\x00a=1")
		wantScan(t, tx, "m", bs("m3\x00a"), bs("m3\x01"), false, "m3\x00a=4")
		wantScan(t, tx, "m", bs("m9\x00"), bs("m9\x01"), false)
		wantScan(t, tx, "x", bs("a"), bs("z"), false, "k=v")
		wantScan(t, tx, "empty", bs("a"), bs("z"), false)
		wantValue(t, tx, "m", "m1\x00b", "2", false)
		wantValue(t, tx, "m", "m2\x00a", "3", false) // outside them: read on its own
		wantValue(t, tx, "m", "m9\x00a", "", true)
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if err := store.Preload(tx, reads...); err != nil {
			t.Errorf("Preload in View: %v", err)
		}
		// Commit a change while this View is open; it must stay invisible
		// to what was preloaded and to what was not.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(context.Background(), func(tx store.Tx) error {
				for _, err := range []error{tx.Put("b", bs("bb"), bs("new")), tx.Put("b", bs("a"), bs("new")), tx.Put("b", bs("y"), bs("new"))} {
					if err != nil {
						return err
					}
				}
				return nil
			})
		}()
		if err := <-done; err != nil {
			t.Errorf("Update during View: %v", err)
		}
		wantValue(t, tx, "b", "a", "1", false)
		wantValue(t, tx, "b", "bb", "", true)
		wantValue(t, tx, "b", "y", "", true)
		wantScan(t, tx, "b", nil, nil, false, "a=1", "b=2", "e=5", "zz=z")
		wantScan(t, tx, "b", bs("b"), nil, true, "zz=z", "e=5", "b=2")
		wantValue(t, tx, "x", "k", "v", false)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		for _, r := range []store.Read{{Bucket: ""}, {Bucket: "", Key: bs("k")}, {Bucket: "b", Key: []byte{}}} {
			if err := store.Preload(tx, r); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Preload(%+v) = %v; want an error wrapping ErrInvalid", r, err)
			}
		}
		return nil
	})
}
