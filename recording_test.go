package membership_test

import (
	"context"

	"github.com/memberkit/membership/store"
)

// recordingStore records every Put made through its Update transactions.
type recordingStore struct {
	store.Store
	puts []record
}

func (r *recordingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return r.Store.Update(ctx, func(tx store.Tx) error { return fn(recordingTx{tx, r}) })
}

type recordingTx struct {
	store.Tx
	r *recordingStore
}

func (t recordingTx) Put(bucket string, key, value []byte) error {
	t.r.puts = append(t.r.puts, record{bucket, append([]byte(nil), value...)})
	return t.Tx.Put(bucket, key, value)
}
