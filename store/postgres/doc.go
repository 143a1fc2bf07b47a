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
// newer release is refused with [ErrSchemaTooNew] (an instance already
// running is not: see Schema versions). The schema is created
// when missing, which needs the CREATE privilege on the database; a role
// without it opens a schema made for it beforehand (CREATE SCHEMA ...
// AUTHORIZATION the role), where it makes its tables. An option out of
// its range (see [Options]) is refused with store.ErrInvalid before
// anything is read or created, as is a DSN Open cannot parse. A failure
// of the server or of the connection while they open (none reachable
// yet, a migration's statement refused) wraps store.ErrFailed, as an
// Update's does, unless it is the caller's context's. A server that does
// not answer fails them after one connection attempt: one connect_timeout
// of the DSN's (pgx gives each host it tries one of its own).
//
// The data is one table, kv (bucket, key and value bytea, primary key
// (bucket, key)), beside schema_version (one row per migration applied).
// bytea compares bytewise, which is the order Scan must give. The table
// keeps 30% of each page free (fillfactor 70), so that an update stays in
// its page and adds no index entry (see Caveats).
//
// A member's records of the buckets a Program names to [Store.Pack] (its
// balances, its ledger's transaction counter, its erasure mark: what every
// event of the member reads) are one row, in bucket "\x00pack" under the
// member ID, rather than a row each: an order reads one row for them
// instead of three keys and a range, and writes one instead of three.
// Reads and scans answer as before; a key that begins with 0x00 (a
// pool's) is a row of its own. The store packs only buckets that are
// empty at the first Pack, and records what it decided in bucket
// "\x00store", which every Store that opens the schema follows: a
// schema made before keeps its layout. Bucket names that begin with 0x00
// are the store's own. A store that packs refuses, by a constraint of
// kv, a row of a packed bucket under a member's key (see Schema
// versions): this code never writes one.
//
// The store keeps no checksum of the records it is given: a value
// damaged in the table (edited by hand, a partial migration) is found
// when it is read and does not decode. Its record of the packed buckets
// holds one (the names, 0x00 between them, then "\x01crc32c:" and the
// CRC-32C of the names in 8 hex digits; a release before reads that as
// one more bucket's name, which no record is of): damaged, New, or Pack,
// fails with an error wrapping store.ErrCorrupt, where the packed
// buckets' records read as absent. A record without it, as releases
// before wrote them, is read when it is what they wrote: names in order,
// none empty, all of those Pack names (they recorded all of them or
// none), and none only while no member's row is packed.
//
// A member's packed row is checked whole at each read of one of its
// records (Get, Scan, and the read before a Put or Delete), as it is
// decoded and at no other cost: a row of another version, cut short,
// with no record, with a key that is not the member's (one that does not
// go on from the member ID with 0x00), or with a record not past the one
// before it (out of order, or twice) is an error wrapping
// store.ErrCorrupt for every record of it, never "not found" or a record
// out of its place; the row is left as it is, and other members' rows
// read as before.
//
// # Schema versions
//
// [SchemaVersion] is 4. A Store checks the version only at New: one of an
// earlier release already running goes on reading and writing after a
// later release migrated the schema, until it is stopped. What each
// version changed, and what such an instance does after it:
//
//   - 1 creates kv and schema_version. (No earlier code.)
//   - 2 sets kv's fillfactor to 70: storage only; an instance at version 1
//     reads and writes as before. Harmless.
//   - 3 lets a store pack (Store.Pack, bucket "\x00pack"), recording its
//     layout in bucket "\x00store" under "packed"; the table is unchanged.
//     A store that existed before keeps its layout (its packed buckets
//     hold records when this release's first Program opens it), and
//     instances at version 2 or 1, which never read the store's own
//     buckets, are harmless there. On a new store, packed at the first
//     Program's Open, such an instance would write a member's balances,
//     ledger counter and erasure mark as rows of their own, which this
//     code never reads (a balance lost; a counter restarting, an erasure
//     unseen), and read none of the packed records.
//   - 4 closes that: a store that packs has a CHECK constraint
//     (kv_packed_member_keys) refusing a row of a packed bucket whose key
//     does not begin with 0x00, added by the first Pack, in the
//     transaction that decides to pack, or by the migration to 4 for a
//     store packed at version 3. An earlier instance's Update writing
//     such a row fails at its commit (SQLSTATE 23514; store.ErrFailed
//     from this code, "postgres: commit" from the earlier one) and writes
//     nothing. An event or request that posts to the ledger writes the
//     member's balances and counter, and one that finds no erasure mark
//     (every member's, to that code) writes it: they fail. Its writes of
//     a pool's keys (from 0x00) and of other buckets alone go on, as
//     their layout is the same in both. Its reads are not refused: the earlier
//     code has no check that a read could fail, so a View on it answers
//     as though the member had no balance. The decision is made with kv
//     locked (ACCESS EXCLUSIVE, READ COMMITTED, once a store): a write of
//     an earlier instance committed before it is seen and the store does
//     not pack; one after it meets the constraint. Rows written at
//     version 3, before the constraint, are not checked (NOT VALID) and
//     are not read. Adding the constraint needs the role to own kv, as
//     the role that created it does: a role granted only kv's rows gets,
//     at its first Program's Open, an error wrapping store.ErrFailed
//     (SQLSTATE 42501; before, the server's error alone), and the store
//     decides nothing until its owner opens it. A running instance of version 3
//     writes only packed rows: harmless after 4 (a new one is refused
//     with ErrSchemaTooNew).
//
// So while a deploy from a release before version 3 rolls onto a new
// store, send every request to the new instances: the old ones' writes
// fail and their reads miss the members' balances. A later migration
// that changes what an earlier release would read or write must likewise
// make the server refuse that release's writes, or be harmless to it.
//
// # Transactions
//
// An Update is a SERIALIZABLE transaction. Its reads go to the server (Get,
// Scan in chunks, [store.Preload]); its writes stay in the transaction
// (reads see them, Scan included) until the function returns nil, then go
// to the server with the COMMIT in one batch (one round trip), one
// statement per kind of write, each in key order: an INSERT of every
// [store.Inserter] key and of every Put of a key the transaction read and
// did not find, an UPDATE of every Put of a key it read and found, an
// upsert (INSERT ... ON CONFLICT) of every other Put, a DELETE of every
// Delete, an INSERT ... ON CONFLICT DO NOTHING of every [store.Ensurer] key
// it did not read (which neither writes nor locks a row that is there), and
// the additions of [store.Adder], made on the server to what is there
// (decimal text, numeric arithmetic): a total that many transactions add to
// is never read by them (a stripe found in internal/codec's binary form,
// as a transaction that is no Adder writes it, or in any form but the
// decimal text the store writes, fails the addition, and the function runs
// again reading it, writing the sum as text: a stripe internal/total does
// not read, "NaN" or "Infinity" say, which numeric would take, is an error
// wrapping store.ErrCorrupt, and the Update writes nothing). (An upsert
// costs the server a speculative
// insertion for a new key and a row lock, with its own record in the
// write-ahead log, for an old one; the library inserts the records it
// numbers itself, a ledger entry or a lot, as new.) When the server reports
// a serialization failure (SQLSTATE 40001) or a deadlock (40P01), on a read
// or at the commit, or a key written as new exists (23505), or a key read
// has gone, the run is discarded and the function runs again, as the store
// contract allows; after [Options.MaxAttempts] runs Update returns an error
// wrapping store.ErrConflict. Any other error of the server or of the
// connection (one ended, none to be had) wraps store.ErrFailed, unless it
// is the caller's context's; a context that ends once the COMMIT was sent
// closes the connection with the outcome unknown (the server may have
// committed), and that error wraps both. So an Update costs one round trip
// per read that is not preloaded, plus the commit: with its reads preloaded
// in one [store.Preload], two. A View is a REPEATABLE READ READ ONLY
// transaction: one snapshot, a function run once. It meets no conflict on a
// primary in ordinary use; should a read fail with one all the same (a hot
// standby's recovery conflict), the function is not run again: the View
// returns its error, or one wrapping store.ErrConflict when it returned nil
// ([Store.View]).
//
// The store asks the library for [Options.Stripes] stripes of each shared
// total ([store.Striper]): a pool's balance, a day's earnings, the points
// expiring in a month are split into that many rows, summed on read, and
// a transaction adds to the stripe of its connection
// ([store.StripeChooser]: the server process's ID modulo Stripes), so that
// the transactions in flight at once, each on a connection of its own,
// add to different rows whatever members they serve. (Striping by member
// made two events conflict whenever their members' hashes met, about once
// in Stripes pairs, which groups, below, multiply.)
//
// # Groups
//
// Updates that arrive while every connection of the pool is busy queue, and
// the next connection free runs up to [Options.Group] of them (4 by
// default) in one transaction, one function after the other, each seeing
// the writes of those before it: BEGIN, the commit's statements and COMMIT
// are sent once a group, and its totals are added to once. What the group's
// Updates said they read first ([Store.UpdatePrefetch], which the library's
// Process calls with an event's reads) is read in one round trip before
// their functions run, so that a group of events costs two round trips; a
// function sees the writes of those before it over what was read early. A
// function that returns an error has its writes undone (the others go on);
// when the group's transaction fails (a conflict, a panic of one of its
// functions, raised again in that function's Update, or a commit the
// server refuses, as a deferred constraint or trigger may for one
// function's writes), each of its functions runs again alone, as above, so
// that only the one at fault gets the refusal. (Before, every Update of a
// group whose commit the server refused got that error, and wrote
// nothing.) So does a group whose reads failed before its commit (a
// connection the server ended, as at a restart): alone, each function
// meets a new connection, or the failure itself as store.ErrFailed. A
// connection lost at the commit leaves the outcome unknown:
// each Update of the group returns an error wrapping store.ErrFailed. An
// Update whose context ends while it waits in the queue leaves it and
// returns the context's error at once (before, it waited for a
// connection to be free), and so does one whose group waits for a
// connection when its context ends: the group stops waiting and its
// Updates run alone, each under its own context (before, with a server
// that stopped answering and no connect_timeout, all of them waited for
// a connection attempt that nothing ended). A group of one Update is
// that Update alone: its context ends its reads and its commit, as
// under Group 1 (before, a read after the context ended went through,
// and the Update committed when its function returned nil). No timer: a group is what queued while the
// connections were busy, so a store that is not busy runs each Update
// alone, with no wait. Groups are kept small because PostgreSQL turns a
// transaction's predicate locks on one relation into a lock of the whole
// relation past max_pred_locks_per_relation (by default half of
// max_pred_locks_per_transaction, 64): with the store's one table, a
// transaction that read more than about 32 pages and tuples then conflicts
// with every writer. In BenchmarkProgram64 groups of 4 ran 0.1 to 0.4% of
// the events again, groups of 6 20% and of 8 a third; with
// max_pred_locks_per_relation raised to 1,000, groups of 8 ran 0.6% again,
// and were no faster than groups of 4.
//
// The transaction starts with the first read (BEGIN travels in the same
// batch), and a transaction reads one snapshot, so what it read once it
// keeps: a key read again, or a Scan inside a preloaded range, costs no
// round trip. [Store.Stats] counts transactions, retries (runs discarded
// on a conflict or with their group and run again; not a run whose
// context ended, which a group of one counted) and round trips.
//
// # Caveats
//
// A written key and its bucket's name hold at most 2,600 bytes together:
// the primary key's index entry holds both, and the server refuses one
// over 2,704 bytes with its headers. A longer one is refused by the Put
// (Insert, Ensure, Add) with an error wrapping store.ErrInvalid; earlier
// releases failed the Update at its commit, with an error wrapping
// store.ErrFailed that a host would retry for ever. The library's keys
// are far shorter.
//
// In pgx's default query mode the store prepares its statements itself, by
// names of its own, once on each connection it uses: pgx drops the
// statements it prepared whenever a batch fails (a serialization failure
// included) and prepares them again in round trips of their own, while
// these stay prepared. They stay on the pool's connections after Close.
// Behind a pooler in transaction mode set default_query_exec_mode in the
// DSN: in any other mode the statements go unnamed (the extended protocol's
// unnamed statement, prepared for one run), which poolers in transaction
// mode pass on. The statements go through pgconn, pgx's connection layer,
// with their parameters in the binary format; a tracer on the pool's
// ConnConfig that is a pgx.BatchTracer sees each round trip. Every
// transaction sets plan_cache_mode to force_generic_plan for itself:
// PostgreSQL would plan a statement again at each run (its custom plans),
// which cost the server more than the run, while every statement here has
// one best plan whatever its parameters.
//
// A SERIALIZABLE transaction takes predicate locks: a sequential scan would
// lock the whole table, so every transaction sets enable_seqscan (and
// enable_bitmapscan) off for itself. B-tree predicate locks cover index
// pages, not keys: two transactions conflict when each reads an index page
// (a range, or the gap where an absent key would be) that the other inserts
// into, although their keys differ. The library keeps out of this on an
// event's path: it inserts an event's record without reading its absence
// (store.Inserter; an event its rules refuse so is run again reading it,
// which tells a retry), reads only keys of the event's member, and adds to
// shared totals without reading them; updates stay in their page
// (fillfactor), so only new keys enter index pages. So that the erasure
// check (every event reads its member's key in the "erased" bucket) reads a
// key of its own rather than the gap of an empty bucket, on the page where
// the first keys of "events" are inserted, a member's first event or
// request writes its "not erased" record there. BenchmarkProgram64 (64
// callers, 4 Programs, sequential event IDs) ran about 0.003 retries an
// event (0.06 before that record), and with groups and stripes by
// connection 0.001 to 0.004. A member's first event inserts its first
// records next to other new members' and conflicts more often. So does
// every event on a new database, whose table is a few index pages that hold
// every member's keys: two instances processing 8 members' events, each
// member's on one of them, ran the first 800 events again 0.3 to 1.3 times
// each, and none of those after the first 2,400 (the members' keys had
// pages of their own). A load test on an empty database overstates
// conflicts.
//
// An Update or View function must not call Update or View on the same
// store: it holds a connection (or the lead of a group) and waits for
// another.
//
// # Beyond one server
//
// Every key an event for a member reads or writes is that member's (its
// records, counters and balances begin with the member ID), its event's
// record, or a stripe of a shared total; only what the program's rules
// share (a coupon template's stock, a limit over all members) and the
// work of Advance and Feed (due items by time, the feed's sequence) are
// read by every member's events or by one process at a time. A host that
// outgrows one server has these paths, in order:
//
//   - A bigger server. (A Program reads from the database it writes; it
//     does not send its views to read replicas.)
//   - Native partitioning of kv by hash of key (PARTITION BY HASH (key),
//     with the primary key (bucket, key)): writes spread over partitions
//     and their indexes, and a member's keys, which share a prefix but not
//     a hash, go to several. The store's statements work unchanged; range
//     reads visit every partition. This helps vacuum and index size more
//     than throughput, as the partitions share one server.
//   - Several servers, by member. The library does not route by member
//     itself: a host runs one Program per shard, each on its own database
//     (or schema), and sends each member's events to the shard its ID
//     hashes to. Everything a member's event touches is then on that
//     shard, except what rules share across members: stock and
//     program-wide limits must be split between shards by the host (a
//     stock of 1,000 as 4 × 250), and reports sum the shards' Totals. On
//     Citus the same split is a distributed table with the member as its
//     distribution column; the kv table has no member column today, so
//     that needs a schema of the library's own per bucket, which it does
//     not have.
package postgres
