// Package store is the storage contract of the membership library: the
// ordered, transactional key-value interface that every domain package
// persists through, and the sentinel errors every implementation returns.
//
// It plays the part database/sql/driver plays for database/sql: the domain
// packages (ledger, level, points, coupon, …) are written against [Tx] and
// never against a concrete store. Three implementations ship with the
// module: store/memory (in-process, copy-on-write, fully supported),
// store/bolt (the default: a bbolt file written through group commit and a
// write-ahead log, one file again once closed) and store/postgres (a
// PostgreSQL database that several processes share). store/storetest is
// the conformance suite they all pass; a new implementation should run it
// too.
//
// # Model
//
// Data lives in named buckets; inside a bucket keys are ordered bytewise.
// [Store.Update] runs a function in a read-write transaction that commits
// when the function returns nil and leaves nothing behind when it returns an
// error. [Store.View] runs a read-only transaction over a consistent
// snapshot.
//
// # Concurrent writers
//
// Updates are serializable: the committed Updates have the effect of
// running one at a time in some order, each seeing the writes of those
// before it. A store may get there by running them one at a time
// (store/memory and store/bolt do, so their functions run exactly once), or
// by running them concurrently and detecting conflicts (store/postgres,
// where Updates from several processes share one database). A store that
// detects a conflict discards the transaction and runs the function again
// on a new one, until a run commits, the function returns an error that
// stands (see below), or the store gives up and returns an error wrapping
// [ErrConflict].
//
// So a function passed to Update may run more than once, and it must have
// no effect outside its transaction: it may draw random numbers and log,
// and those may repeat, but nothing else — no message sent, no counter or
// cache of the caller's changed, nothing kept from a run for the next. What
// must happen once happens after Update returns nil, from what the last run
// left in variables the caller reads only then. Each run reads one
// consistent snapshot (every committed Update wholly in it or wholly out of
// it) plus its own writes, even a run that is then discarded, so a function
// never sees half of another Update.
//
// Update's answer comes from the run that counted: nil when that run
// committed, or that run's error. A store that runs Updates concurrently
// validates the reads of a run that returns an error as it validates those
// of a run that commits (store/postgres commits its transaction, which has
// written nothing), and runs the function again when they conflict: an
// error the function returns, a business rejection say, is then as
// serializable as a commit.
//
// A View reads one snapshot, each committed Update wholly in it or wholly
// out of it. In a store that runs Updates concurrently that snapshot need
// not be a state the serial order of the Updates passes through (the
// read-only anomaly of snapshot isolation); a read that must be
// serializable with the writes belongs in an Update. A View function runs
// once.
//
// # Caveats
//
// Byte slices returned by Get and passed to Scan callbacks belong to the
// store and are valid only until the transaction ends; copy them to keep them
// and never modify them. Until then they keep their bytes, whatever the
// transaction writes after (a Put over their key, its Delete), and
// appending to one changes nothing the store holds. Every call copies
// what it keeps of the keys, values and reads it is given (Put, Delete,
// the optional Insert, Ensure and Add, Preload): the caller may reuse
// them once it returns.
//
// Every store keeps keys of up to 1,024 bytes and values of up to 1 MiB
// (the library's keys are IDs of at most 256 bytes and a few fields). A
// write of a key or value longer than a store can keep is refused where it
// is made, with an error wrapping ErrInvalid, and the transaction's other
// writes may still commit: store/bolt writes keys of up to 16,382 bytes
// (half bbolt's 32,768, since a colocated record's key repeats the
// member), store/postgres a bucket name and key of up to 2,600 bytes
// together (what an index entry holds), store/memory anything under 4 GiB.
//
// An Update or View function must not call Update or
// View on the same store: a store that serializes Updates deadlocks, and one
// with a pool of connections may.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Sentinel errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound is returned by Tx.Get for a key that is absent.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("store: closed")
	// ErrReadOnly is returned by Put and Delete inside View, and by the
	// optional writes (Add, Insert, Ensure) there.
	ErrReadOnly = errors.New("store: read-only transaction")
	// ErrTxDone is returned by a Tx used after its transaction ended.
	ErrTxDone = errors.New("store: transaction done")
	// ErrInvalid is returned for an empty bucket name, an empty key, a
	// key or value that cannot be stored (see the package documentation),
	// or a nil function given to View or Update.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrConflict is wrapped by the error Update returns when the store
	// gave up running a function again after conflicts with concurrent
	// Updates (nothing was written), and by a Tx call that found its
	// transaction in conflict: the function should then return that error
	// (or any error), and the store runs it again. Stores that serialize
	// Updates never return it.
	ErrConflict = errors.New("store: conflict with a concurrent update")
	// ErrCorrupt is wrapped by the errors of a store that found what it
	// holds damaged (a record whose checksum does not hold, a broken page)
	// rather than read it as data; by a Checker's Check among others.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrFailed is wrapped by the errors of a store that could not do what
	// was asked for a reason of its own rather than the call's: a write to
	// its files that failed (a full disk, an I/O error), a lost
	// connection, an error of the database server. The call's writes were
	// not applied, unless the connection was lost at the commit (or the
	// call's context ended there, which closes it: the error then wraps
	// the context's too), when the store cannot know. Retrying the call
	// later is the remedy; the library's events and requests carry IDs
	// that make a retry safe.
	ErrFailed = errors.New("store: failed")
)

// Checker is implemented by a store that can check the integrity of all it
// holds, for operators: store/bolt checks its file's structure and every
// record's checksum. Check reads everything, so it may take long; writes
// go on meanwhile, though a store may delay some of its own work until it
// ends. It returns nil when nothing is damaged, an error wrapping
// ErrCorrupt describing the damage found, ctx.Err(), or an error wrapping
// ErrClosed. Check says nothing of what the stored data means: the ledger's
// invariants are ledger.Verify's.
type Checker interface {
	Check(ctx context.Context) error
}

// StopScan may be returned by a Scan callback to end the scan early; Scan
// then returns nil.
var StopScan = errors.New("store: stop scan")

// Store is an ordered, transactional key-value store.
type Store interface {
	// View runs fn once in a read-only transaction over a consistent
	// snapshot. It returns fn's error, ctx.Err() if ctx is done before fn
	// runs, ErrClosed, or an error wrapping ErrInvalid for a nil fn.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction. When fn returns nil the
	// writes are committed (durably, for a persistent store) before Update
	// returns; when fn returns an error nothing is written and the error is
	// returned as is. When fn panics nothing is written either: the panic
	// goes on up to the caller, or the store returns it as an error
	// (store/bolt's ErrPanic), and the store goes on. Concurrent Updates are serializable, and may run
	// concurrently in a store that can: a store that detects a conflict
	// discards the run and calls fn again on a new transaction, so fn must
	// have no effect outside its transaction (random draws and logs may
	// repeat; nothing else) — see the package documentation.
	// It returns ctx.Err() if ctx is done before fn runs, ErrClosed, an
	// error wrapping ErrConflict when the store gave up after conflicts,
	// or one wrapping ErrInvalid for a nil fn, changing nothing.
	// When fn has run, Update returns only after fn's last run has returned
	// (callers reuse what fn refers to).
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// Tx is one transaction. It must not be used after the function it was
// given to returns, nor from several goroutines at once.
//
// A store whose reads go to a server may fail any call with an error
// wrapping ErrConflict (its transaction lost a conflict) or another error
// of its own (the connection broke); the function should return it, and
// Update then runs the function again or returns the error.
type Tx interface {
	// Get returns the value of key in bucket, or an error wrapping
	// ErrNotFound.
	Get(bucket string, key []byte) ([]byte, error)
	// Put sets key to value in bucket, creating the bucket if needed.
	// It copies key and value, so the caller may reuse both once Put
	// returns (the ledger writes from scratch buffers). It returns
	// ErrReadOnly in a View.
	Put(bucket string, key, value []byte) error
	// Delete removes key from bucket; deleting an absent key is not an
	// error. It returns ErrReadOnly in a View.
	Delete(bucket string, key []byte) error
	// Scan calls fn for each key k of bucket with start <= k < end, in
	// ascending order, or descending when reverse is set. A nil start means
	// from the first key, a nil end to the last. Writes made earlier in the
	// same transaction are seen. fn may read the transaction but not write
	// to it: a write from fn (a nested Scan's included) is refused with an
	// error wrapping ErrInvalid and writes nothing. If fn
	// returns StopScan the scan ends and Scan returns nil; any other error
	// ends the scan and is returned.
	Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, for use as Scan's end; nil when there is none (all 0xff).
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Preloader is an optional capability of a [Tx] whose reads are round trips
// to a server (store/postgres): Preload reads every key and range of reads
// in one round trip, and the Gets and Scans that follow inside them are
// answered from what it read, without another. Where a Tx does not
// implement it, every read is local and cheap; call [Preload], which
// checks.
type Preloader interface {
	// Preload reads reads. It returns an error wrapping ErrInvalid for an
	// empty bucket name or a non-nil empty Key, and the errors of Get.
	// reads and their keys are the caller's: Preload keeps none of them.
	Preload(reads ...Read) error
}

// Prefetcher is an optional capability of a [Store] whose reads are
// round trips and that runs several Updates in one transaction
// (store/postgres): UpdatePrefetch is Update, told what fn reads first
// (with [Preload]), so that the store reads those of a group of Updates
// in one round trip before their functions run. fn must read them itself
// all the same, as under Update; reads only lets the store read them
// early. A function that runs after others in one transaction still sees
// their writes over what was read early. reads and their keys are the
// caller's: the store keeps none of them once UpdatePrefetch returns.
type Prefetcher interface {
	UpdatePrefetch(ctx context.Context, reads []Read, fn func(Tx) error) error
}

// Read names what [Preload] reads: the one key Key of Bucket, or, when Key
// is nil, every key of Bucket in [Start, End) (a nil Start means from the
// first key, a nil End to the last).
type Read struct {
	Bucket     string
	Key        []byte
	Start, End []byte
}

// Preload reads reads in one round trip when tx implements [Preloader],
// so that the transaction's later Gets and Scans inside them need none; it
// only checks its arguments otherwise. Reading a member's keys this way
// before using them keeps an Update on a server to two round trips (reads,
// then writes with the commit).
func Preload(tx Tx, reads ...Read) error {
	for _, r := range reads {
		if r.Bucket == "" || (r.Key != nil && len(r.Key) == 0) {
			return fmt.Errorf("store: preload %q %q: %w", r.Bucket, r.Key, ErrInvalid)
		}
	}
	if p, ok := tx.(Preloader); ok {
		return p.Preload(reads...)
	}
	return nil
}

// Striper is an optional capability of a [Store] that runs Updates
// concurrently, and asks the library to split the keys that every writer
// would share: Stripes says into how many keys it splits a total that
// every writer adds to (a pool's balance, a day's earnings), by a hash of
// the member or as the Tx chooses ([StripeChooser]), and the change feed is written per member and sequenced
// apart (see Program.Feed), so that Updates for different members rarely
// touch the same key and conflict. A store without it runs Updates one at
// a time and gains nothing from either: it gets one stripe, and the feed
// written at its tail. Readers sum the stripes, whatever their number when
// they were written, so the answer may change between runs of a store.
type Striper interface {
	Stripes() int
}

// StripeChooser is an optional capability of a [Tx] of a [Striper]
// store: Stripe returns which of n stripes the transaction adds the
// shared totals to, in place of its member's. store/postgres answers by
// the connection the transaction runs on: transactions in flight at once
// run on different connections, so they add to different stripes
// whatever members they serve (two members whose hashes fall in one
// stripe no longer conflict), and a transaction that runs several Updates
// adds to one stripe of each total.
type StripeChooser interface {
	Stripe(n int) uint16
}

// Adder is an optional capability of a [Tx] whose store runs Updates
// concurrently: Add adds delta to the amount under key without reading it,
// as FoundationDB's atomic add does, so two transactions adding to one
// total do not read each other's writes (store/postgres adds on the
// server, at commit). The value under key is an amount: absent (zero), the
// record internal/codec writes, or decimal text, which is what an Adder
// writes. A Get or Scan in the same transaction sees the sum. The library
// keeps its shared totals this way (internal/total); where a Tx is not an
// Adder, it reads and writes them.
type Adder interface {
	Add(bucket string, key []byte, delta decimal.Decimal) error
}

// Inserter is an optional capability of a [Tx] whose store detects
// conflicts (store/postgres): it writes a key the caller takes to be
// absent without reading it first. Reading a key that is absent makes a
// serializable store guard the gap it would be in, so concurrent writers
// of neighbouring keys (the next event IDs) conflict; an insert guards
// nothing. If the key exists when the transaction commits, the store runs
// the function again, and Fresh then reports false for the key, so the
// function reads it as usual.
type Inserter interface {
	// Fresh reports whether the function may take key as absent without
	// reading it: false once a run of this Update found it present.
	Fresh(bucket string, key []byte) bool
	// Insert writes key, which must be absent when the transaction
	// commits; a Put or Delete of key after it replaces it.
	Insert(bucket string, key, value []byte) error
}

// Ensurer is an optional capability of a [Tx] whose reads are round trips
// (store/postgres): Ensure writes value under key unless the key exists
// when the transaction commits, without reading it; a key that exists
// keeps its value. It is for a record whose every writer writes the same
// value, or is content with any value already there (a due item whose
// payload says nothing its key does not): writing it again would cost a
// row version, reading it first a round trip. A Get or Scan of the key
// in the same transaction reads it first, and sees the stored value or,
// when there is none, value; a Put or Delete of the key replaces the
// Ensure.
type Ensurer interface {
	Ensure(bucket string, key, value []byte) error
}

// Peeker is an optional capability of a [Tx] whose reads of its file cost
// more than its writes where a read misses (store/bolt: a key absent from
// a large bucket costs a seek to a random place of it): Peek returns the
// value of key in what the transaction and the store's recent writes
// hold, without reading the file; ok is false when they hold no value for
// key (they hold it deleted, or the file alone may hold it). It is for a
// record whose every writer writes the same value (a due item whose
// payload says nothing its key does not), which a caller writes again
// rather than read it from the file.
type Peeker interface {
	Peek(bucket string, key []byte) (value []byte, ok bool)
}

// Packer is an optional capability of a [Store] whose every record is a
// row of a server's table (store/postgres): Pack names buckets whose
// records of one member are few and small and read together by the
// member's events (its balances, its counters), keyed by the member ID
// (the bytes up to the first 0x00, or the whole key); the store may keep
// each member's records of all of them in one row, so that an event reads
// and writes one row for them rather than one a record. It changes where
// records are kept, never what a transaction reads: Gets and Scans answer
// as before (a key that begins with 0x00, a pool's, is kept as any other).
// A store decides its layout once, at the first call, and keeps it: it
// may pack only while those buckets are empty, and a later call with
// other names changes nothing. The library calls it when a Program
// opens, before anything is written.
type Packer interface {
	Pack(buckets ...string) error
}

// Colocator is an optional capability of a [Store] that can keep the
// records of several buckets side by side: Colocate names buckets whose
// keys begin with a member ID (the bytes up to the first 0x00, or the
// whole key), and the store may then keep each member's records of all
// of them together, so that an event, which writes a few keys of one
// member in each of a dozen buckets, touches a page or two rather than a
// page per bucket. It changes where records are kept, never what a
// transaction reads: Gets and Scans answer as before, in the same order,
// whatever the keys (a key with no member prefix is kept correctly, only
// without the gain). A store may take the names when it can (store/bolt
// moves a bucket's records at its next checkpoint) and keeps them across
// opens; naming a bucket again, or not at all, changes nothing. The
// library calls it when a Program opens, with the buckets its domains key
// by member.
type Colocator interface {
	Colocate(buckets ...string) error
}
