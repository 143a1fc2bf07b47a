// Package store is the storage contract of the membership library: the
// ordered, transactional key-value interface that every domain package
// persists through, and the sentinel errors every implementation returns.
//
// It plays the part database/sql/driver plays for database/sql: the domain
// packages (ledger, level, points, coupon, …) are written against [Tx] and
// never against a concrete store. Two implementations ship with the module:
// store/memory (in-process, copy-on-write, fully supported) and store/bolt
// (the default: a bbolt file written through group commit and a
// write-ahead log, one file again once closed). store/storetest is
// the conformance suite both pass; a new implementation should run it too.
//
// # Model
//
// Data lives in named buckets; inside a bucket keys are ordered bytewise.
// [Store.Update] runs a function in a read-write transaction that commits
// when the function returns nil and leaves nothing behind when it returns an
// error. [Store.View] runs a read-only transaction over a consistent
// snapshot. A function passed to Update is called exactly once, so it may
// have side effects outside the store (unlike bbolt's DB.Batch).
//
// # Caveats
//
// Byte slices returned by Get and passed to Scan callbacks belong to the
// store and are valid only until the transaction ends; copy them to keep them
// and never modify them.
package store

import (
	"context"
	"errors"
)

// Sentinel errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound is returned by Tx.Get for a key that is absent.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("store: closed")
	// ErrReadOnly is returned by Put and Delete inside View.
	ErrReadOnly = errors.New("store: read-only transaction")
	// ErrTxDone is returned by a Tx used after its transaction ended.
	ErrTxDone = errors.New("store: transaction done")
	// ErrInvalid is returned for an empty bucket name, an empty key or a
	// value that cannot be stored.
	ErrInvalid = errors.New("store: invalid argument")
)

// StopScan may be returned by a Scan callback to end the scan early; Scan
// then returns nil.
var StopScan = errors.New("store: stop scan")

// Store is an ordered, transactional key-value store.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	// It returns fn's error, ctx.Err() if ctx is done before fn runs, or
	// ErrClosed.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn once in a read-write transaction. When fn returns nil
	// the writes are committed (durably, for a persistent store) before
	// Update returns; when fn returns an error nothing is written and the
	// error is returned as is. Concurrent Updates are serialized.
	// It returns ctx.Err() if ctx is done before fn runs, or ErrClosed.
	// When fn has run, Update returns only after fn has returned (callers
	// reuse what fn refers to).
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// Tx is one transaction. It must not be used after the function it was
// given to returns, nor from several goroutines at once.
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
	// same transaction are seen. fn must not write to the transaction. If fn
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
