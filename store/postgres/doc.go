// Package postgres is an implementation of [store.Store] in a PostgreSQL
// database, through github.com/jackc/pgx/v5: several processes (instances
// of an application behind a load balancer) share one store by opening the
// same database.
//
// # Basics
//
// [Open] connects to a DSN and owns its pool; [New] uses a
// *pgxpool.Pool the application already has. Both create the store's
// tables in [Options.Schema] (by default "membership") or migrate them,
// once however many processes start at once; a database migrated by a
// newer release is refused with [ErrSchemaTooNew].
//
// The data is one table, kv (bucket, key and value bytea, primary key
// (bucket, key)), beside schema_version (one row per migration applied).
// bytea compares bytewise, which is the order Scan must give.
//
// # Transactions
//
// An Update is a SERIALIZABLE transaction. Its reads go to the server
// (Get, Scan in chunks, [store.Preload]); its writes stay in the transaction
// (reads see them, Scan included) until the function returns nil, then go
// to the server with the COMMIT in one pgx.Batch: one upsert of every Put
// and one delete of every Delete, in key order. When the server reports a
// serialization failure (SQLSTATE 40001) or a deadlock (40P01), on a read
// or at the commit, the run is discarded and the function runs again, as
// the store contract allows; after [Options.MaxAttempts] runs Update
// returns an error wrapping store.ErrConflict. So an Update costs one round
// trip per read that is not preloaded, plus the commit: with its reads
// preloaded in one [store.Preload], two. A View is a REPEATABLE READ READ
// ONLY transaction: one snapshot, no conflicts, a function run once.
//
// The transaction starts with the first read (BEGIN travels in the same
// batch), and a transaction reads one snapshot, so what it read once it
// keeps: a key read again, or a Scan inside a preloaded range, costs no
// round trip. [Store.Stats] counts transactions, retries and round trips.
//
// # Caveats
//
// The store's statements are prepared by pgx once per connection (pgx's
// default query mode); behind a pooler in transaction mode set
// default_query_exec_mode in the DSN. A SERIALIZABLE transaction takes
// predicate locks: a sequential scan would lock the whole table, so every
// transaction sets enable_seqscan off for itself. B-tree predicate locks
// cover index pages, not keys: two transactions conflict when each reads
// an index page the other writes into, although their keys differ. In a
// table in use a bucket's keys spread over many pages and Updates of
// distinct members rarely meet (BenchmarkEvent64: a few retries in a
// hundred events); in a new, small table every member's new records land
// in the same few pages and such Updates conflict often, and run again,
// until it grows. Keys that every Update writes (a global counter, say)
// make all Updates conflict: they then commit one at a time, with many
// retries. An Update or View function must not call Update or View on the
// same store: it holds a connection and waits for another.
package postgres
