package ledger_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// insertingTx is a Tx of a store that inserts (store.Inserter), as
// store/postgres is: Fresh says stale's opposite for every key, and Insert
// counts the records inserted by bucket, refusing a key that exists.
type insertingTx struct {
	store.Tx
	stale    bool
	inserted map[string]int
}

func (t *insertingTx) Fresh(string, []byte) bool { return !t.stale }

func (t *insertingTx) Insert(bucket string, key, value []byte) error {
	if _, err := t.Get(bucket, key); err == nil {
		return fmt.Errorf("insert of %q in %q, which exists", key, bucket)
	}
	t.inserted[bucket]++
	return t.Put(bucket, key, value)
}

// ledgerBuckets are the buckets the ledger writes.
var ledgerBuckets = []string{"ledger.entry", "ledger.bal", "ledger.lot", "ledger.lotid", "ledger.day", "ledger.txn", "ledger.meta"}

// On a store that inserts, the records a posting makes new (its entries,
// a new lot and its ID index) are inserted, not Put; a lot that exists is
// Put. When Fresh says a key may exist (an earlier run found one), they
// are Put. Either way the ledger holds the same records as on a store
// that does not insert.
func TestNewRecordsInserted(t *testing.T) {
	// post posts two transactions in st, through an insertingTx when wrap
	// is set, and returns what it inserted.
	post := func(st store.Store, wrap, stale bool) map[string]int {
		inserted := map[string]int{}
		for _, tr := range []ledger.Transaction{
			earn("10", t0, t0.AddDate(1, 0, 0)), // an entry (the pool's leg rides in it), a new lot and its ID
			spend("4", t0.Add(1)),               // an entry; the lot is spent from, so Put
		} {
			err := st.Update(context.Background(), func(tx store.Tx) error {
				var in store.Tx = tx
				if wrap {
					in = &insertingTx{Tx: tx, stale: stale, inserted: inserted}
				}
				_, err := ledger.New(in, shanghai).Post(tr)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return inserted
	}
	plain := memory.New()
	defer plain.Close()
	post(plain, false, false)
	fresh, stale := memory.New(), memory.New()
	defer fresh.Close()
	defer stale.Close()
	want := map[string]int{"ledger.entry": 2, "ledger.lot": 1, "ledger.lotid": 1}
	if got := post(fresh, true, false); !cmp.Equal(got, want) {
		t.Errorf("records inserted, by bucket: %v; want %v", got, want)
	}
	if got := post(stale, true, true); len(got) != 0 {
		t.Errorf("records inserted where Fresh said they may exist: %v; want none", got)
	}
	for name, st := range map[string]store.Store{"inserted": fresh, "put after a stale run": stale} {
		if diff := cmp.Diff(testkit.Dump(t, plain, ledgerBuckets...), testkit.Dump(t, st, ledgerBuckets...)); diff != "" {
			t.Errorf("the ledger's records, %s, differ from a plain store's (-plain +%s):\n%s", name, name, diff)
		}
	}
}
