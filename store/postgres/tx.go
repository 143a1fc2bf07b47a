package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Scans read in chunks, the first of firstChunk rows, each next four times
// larger up to maxChunk: a Scan that stops early reads little, a long one
// takes few round trips, and no rows are open on the connection while the
// callback runs (it may call Get).
const firstChunk, maxChunk = 64, 4096

// entry is a key's value, or (del) its absence: a write buffered in the
// transaction, or what a read found.
type entry struct {
	val []byte
	del bool
	ins bool // written by Insert: the key must be absent at the commit
}

// loaded is a range of a bucket that Preload read whole: every key in
// [start, end) (end nil: to the last key), in ascending order.
type loaded struct {
	start, end []byte
	keys, vals [][]byte
}

func (l *loaded) contains(key []byte) bool {
	return bytes.Compare(key, l.start) >= 0 && (l.end == nil || bytes.Compare(key, l.end) < 0)
}

// covers reports whether [start, end) lies inside l; start is not nil.
func (l *loaded) covers(start, end []byte) bool {
	return bytes.Compare(start, l.start) >= 0 && (l.end == nil || (end != nil && bytes.Compare(end, l.end) <= 0))
}

// tx is one run of an Update or View function on one connection. The
// transaction starts (BEGIN, sent in the same batch as the first read)
// when the function first reads, or at the commit; writes stay in writes
// until the commit batch. What the reads found is kept in cache and
// ranges: the transaction reads one snapshot, so a key read once reads
// the same again.
type tx struct {
	s          *Store
	ctx        context.Context
	conn       *pgx.Conn
	writable   bool
	begun      bool // BEGIN sent
	done       bool // the function returned: calls fail with ErrTxDone
	scanning   int  // Scan callbacks running: writes fail
	settling   bool // a read settles a pending Add or Ensure (settle): its write is no callback's
	err        error
	roundTrips int64
	writes     map[string]map[string]entry
	adds       map[string]map[string]decimal.Decimal // Add's deltas, sent at commit
	ensures    map[string]map[string][]byte          // Ensure's values, sent at commit
	present    map[[2]string]bool                    // keys earlier runs of the Update found present (Inserter)
	cache      map[string]map[string]entry
	ranges     map[string][]*loaded
	// undo, kept while journal is set (a transaction that runs a group
	// of Updates), lists what each change to writes and adds replaced,
	// so that a function of the group that fails can be undone alone.
	journal bool
	undo    []undo
	gen     int     // which function of a group may use the tx (groupTx)
	held    *txMaps // the holder of the maps, from Store.maps
}

// undo is what one change to a tx's writes (or, add set, its adds; or,
// ensure set, its ensures) replaced under bucket and key: had is whether
// there was an entry, e, d or v what it was.
type undo struct {
	add, ensure bool
	bucket, key string
	had         bool
	e           entry
	d           decimal.Decimal
	v           []byte
}

// rollbackTo undoes the changes to writes and adds made since the undo
// journal was mark long, the latest first.
func (t *tx) rollbackTo(mark int) {
	for i := len(t.undo) - 1; i >= mark; i-- {
		u := t.undo[i]
		switch {
		case u.ensure && u.had:
			t.ensures[u.bucket][u.key] = u.v
		case u.ensure:
			delete(t.ensures[u.bucket], u.key)
		case u.add && u.had:
			t.adds[u.bucket][u.key] = u.d
		case u.add:
			delete(t.adds[u.bucket], u.key)
		case u.had:
			t.writes[u.bucket][u.key] = u.e
		default:
			delete(t.writes[u.bucket], u.key)
		}
	}
	t.undo = t.undo[:mark]
}

// dropAdd forgets the pending addition to key, which a write replaces.
func (t *tx) dropAdd(bucket, key string) {
	d, ok := t.adds[bucket][key]
	if !ok {
		return
	}
	if t.journal {
		t.undo = append(t.undo, undo{add: true, bucket: bucket, key: key, had: true, d: d})
	}
	delete(t.adds[bucket], key)
}

// dropEnsure forgets the pending Ensure of key, which a write replaces or
// a read has settled.
func (t *tx) dropEnsure(bucket, key string) {
	v, ok := t.ensures[bucket][key]
	if !ok {
		return
	}
	if t.journal {
		t.undo = append(t.undo, undo{ensure: true, bucket: bucket, key: key, had: true, v: v})
	}
	delete(t.ensures[bucket], key)
}

func newTx(s *Store, ctx context.Context, conn *pgx.Conn, writable bool, present map[[2]string]bool) *tx {
	t := &tx{s: s, ctx: ctx, conn: conn, writable: writable, present: present}
	t.held = s.maps.Get().(*txMaps)
	m := t.held
	t.writes, t.adds, t.ensures, t.cache, t.ranges = m.writes, m.adds, m.ensures, m.cache, m.ranges
	return t
}

// txMaps holds a transaction's maps between transactions, emptied: a
// Store keeps them in a sync.Pool (Store.maps), so that a transaction
// fills maps that have their room already, a map a bucket, rather than
// allocating them (a tenth of the bytes an event allocated).
type txMaps struct {
	writes  map[string]map[string]entry
	adds    map[string]map[string]decimal.Decimal
	ensures map[string]map[string][]byte
	cache   map[string]map[string]entry
	ranges  map[string][]*loaded
}

// release empties t's maps and gives them to the next transaction; t is
// done, and every call on it fails with ErrTxDone without reading them.
func (t *tx) release() {
	for _, m := range t.writes {
		clear(m)
	}
	for _, m := range t.adds {
		clear(m)
	}
	for _, m := range t.ensures {
		clear(m)
	}
	for _, m := range t.cache {
		clear(m)
	}
	for b, l := range t.ranges {
		clear(l)
		t.ranges[b] = l[:0]
	}
	*t.held = txMaps{writes: t.writes, adds: t.adds, ensures: t.ensures, cache: t.cache, ranges: t.ranges}
	t.s.maps.Put(t.held)
	t.held, t.writes, t.adds, t.ensures, t.cache, t.ranges = nil, nil, nil, nil, nil, nil
}

// fail records err, the first error of the transaction on the server (the
// transaction can then only roll back), and returns it for the caller.
func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return t.failure()
}

func (t *tx) failure() error {
	return fmt.Errorf("postgres: %w", serverError(t.err))
}

// maxKeyBytes is the most bytes a written key and its bucket's name hold
// together: the primary key's index entry holds both, and the server
// refuses an entry over 2,704 bytes (with their headers and padding) at
// the commit, failing the whole Update with an error a host would retry.
// A Delete writes no entry, so it is not limited.
const maxKeyBytes = 2600

func (t *tx) check(op, bucket string, key []byte, needKey, write bool) error {
	switch {
	case t.done:
		return fmt.Errorf("postgres: %s: %w", op, store.ErrTxDone)
	case write && !t.writable:
		return fmt.Errorf("postgres: %s: %w", op, store.ErrReadOnly)
	case bucket == "":
		return fmt.Errorf("postgres: %s: empty bucket name: %w", op, store.ErrInvalid)
	case needKey && len(key) == 0:
		return fmt.Errorf("postgres: %s: empty key: %w", op, store.ErrInvalid)
	case write && op != "delete" && len(bucket)+len(key) > maxKeyBytes:
		return fmt.Errorf("postgres: %s: bucket name and key of %d bytes, over %d: %w", op, len(bucket)+len(key), maxKeyBytes, store.ErrInvalid)
	case write && t.scanning > 0 && !t.settling:
		return fmt.Errorf("postgres: %s inside a Scan callback: %w", op, store.ErrInvalid)
	case t.err != nil:
		return t.failure()
	}
	return nil
}

// batch returns a batch that starts the transaction first when it has not
// started.
func (t *tx) batch() (*batch, error) {
	b := &batch{}
	if t.s.tracer != nil {
		b.traced = &pgx.Batch{}
	}
	if !t.begun {
		if t.writable {
			if err := t.queue(b, t.s.sql.beginUpdate); err != nil {
				return nil, err
			}
			if err := t.queue(b, t.s.sql.settings); err != nil {
				return nil, err
			}
		} else if err := t.queue(b, t.s.sql.beginView); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// queue queues the statement sql in b. When the store prepares its
// statements (Store.prepare), sql goes by its name, prepared on the
// connection the first time it is queued there (a round trip, once a
// connection, not counted in Stats): pgx drops the statements it prepared
// itself from its cache whenever a batch fails, a serialization failure
// included, and prepares them again, in a round trip of their own and
// with new plans, while a statement prepared by name stays prepared.
// Otherwise sql goes unnamed.
func (t *tx) queue(b *batch, sql string, args ...any) error {
	name := ""
	if t.s.prepare {
		name = t.s.sql.names[sql]
	}
	return t.queueStatement(b, sql, name, args)
}

// send sends b, one round trip, and returns its results past the
// statements that start the transaction.
func (t *tx) send(b *batch) (*results, error) {
	starting := !t.begun
	t.begun = true
	t.roundTrips++
	br := t.sendBatch(b)
	if starting {
		n := 1
		if t.writable {
			n = 2
		}
		for range n {
			if _, err := br.exec(); err != nil {
				_ = br.close()
				return nil, t.fail(err)
			}
		}
	}
	return br, nil
}

func notFound(bucket string, key []byte) error {
	return fmt.Errorf("postgres: get %q in %q: %w", key, bucket, store.ErrNotFound)
}

// known returns what the transaction knows of key: its value and whether
// it exists, with known false when it must ask the server.
func (t *tx) known(bucket string, key []byte) (val []byte, found, known bool) {
	if e, ok := t.writes[bucket][string(key)]; ok {
		return e.val, !e.del, true
	}
	if e, ok := t.cache[bucket][string(key)]; ok {
		return e.val, !e.del, true
	}
	for _, l := range t.ranges[bucket] {
		if l.contains(key) {
			if i, ok := slices.BinarySearchFunc(l.keys, key, bytes.Compare); ok {
				return l.vals[i], true, true
			}
			return nil, false, true
		}
	}
	return nil, false, false
}

func (t *tx) remember(bucket string, key, val []byte, found bool) {
	if t.cache == nil {
		t.cache = map[string]map[string]entry{}
	}
	m := t.cache[bucket]
	if m == nil {
		m = map[string]entry{}
		t.cache[bucket] = m
	}
	if found && val == nil {
		val = []byte{}
	}
	m[string(key)] = entry{val: val, del: !found}
}

func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, true, false); err != nil {
		return nil, err
	}
	if _, ok := t.adds[bucket][string(key)]; ok {
		if err := t.settle(bucket, key); err != nil {
			return nil, err
		}
	}
	if _, ok := t.ensures[bucket][string(key)]; ok {
		if err := t.settleEnsure(bucket, key); err != nil {
			return nil, err
		}
	}
	return t.get(bucket, key)
}

// get is Get without the check and the pending additions.
func (t *tx) get(bucket string, key []byte) ([]byte, error) {
	if member, rest, ok := t.packed(bucket, key); ok {
		return t.getPacked(bucket, key, member, rest)
	}
	if val, found, known := t.known(bucket, key); known {
		if !found {
			return nil, notFound(bucket, key)
		}
		return val, nil
	}
	b, err := t.batch()
	if err != nil {
		return nil, err
	}
	if err := t.queue(b, t.s.sql.get, []byte(bucket), key); err != nil {
		return nil, err
	}
	br, err := t.send(b)
	if err != nil {
		return nil, err
	}
	var val []byte
	found := false
	err = br.query(func(cols [][]byte) (err error) {
		val, err = byteaCol(cols[0])
		found = true
		return err
	})
	if cerr := br.close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return nil, t.fail(err)
	case !found:
		t.remember(bucket, key, nil, false)
		return nil, notFound(bucket, key)
	}
	t.remember(bucket, key, val, true)
	return t.cache[bucket][string(key)].val, nil
}

// write buffers e under key, in place of any pending addition to it.
func (t *tx) write(op, bucket string, key []byte, e entry) error {
	if err := t.check(op, bucket, key, true, true); err != nil {
		return err
	}
	if member, rest, ok := t.packed(bucket, key); ok {
		return t.writePacked(op, bucket, key, member, rest, e)
	}
	ks := string(key) // one copy, for the map and the journal
	t.dropAdd(bucket, ks)
	t.dropEnsure(bucket, ks)
	if t.writes == nil {
		t.writes = map[string]map[string]entry{}
	}
	m := t.writes[bucket]
	if m == nil {
		m = map[string]entry{}
		t.writes[bucket] = m
	}
	if t.journal {
		old, had := m[ks]
		t.undo = append(t.undo, undo{bucket: bucket, key: ks, had: had, e: old})
	}
	m[ks] = e
	return nil
}

func (t *tx) Put(bucket string, key, value []byte) error {
	return t.write("put", bucket, key, entry{val: append([]byte{}, value...)})
}

func (t *tx) Delete(bucket string, key []byte) error {
	return t.write("delete", bucket, key, entry{del: true})
}

// Fresh reports whether key may be taken as absent (store.Inserter): true
// unless an earlier run of this Update found it present at its commit, or
// the transaction wrote it (an Update before in its group, say), which
// the function must then read.
func (t *tx) Fresh(bucket string, key []byte) bool {
	if t.done {
		return false
	}
	if _, _, ok := t.packed(bucket, key); ok {
		return false // its row is read to write it anyway
	}
	if _, written := t.writes[bucket][string(key)]; written {
		return false
	}
	if _, ensured := t.ensures[bucket][string(key)]; ensured {
		return false
	}
	return t.writable && !t.present[[2]string{bucket, string(key)}]
}

// Insert writes key without reading it (store.Inserter): it is sent with
// the commit as a plain INSERT, which fails when the key exists; the
// Update then runs again with Fresh false for the key.
func (t *tx) Insert(bucket string, key, value []byte) error {
	return t.write("insert", bucket, key, entry{val: append([]byte{}, value...), ins: true})
}

// Stripe returns the stripe, of n, of the connection the transaction runs
// on (store.StripeChooser): its server process's ID modulo n. The server's
// processes alive at once have different IDs, given out in turn, so the
// transactions in flight at once add to different stripes, unless two
// IDs differ by a multiple of n.
func (t *tx) Stripe(n int) uint16 {
	return uint16(t.conn.PgConn().PID() % uint32(max(n, 1)))
}

// Add adds delta to the amount under key (store.Adder): without reading
// it, at the commit, on the server; a key the transaction writes or
// reads anyway is added to here.
func (t *tx) Add(bucket string, key []byte, delta decimal.Decimal) error {
	if err := t.check("add", bucket, key, true, true); err != nil {
		return err
	}
	if _, _, ok := t.packed(bucket, key); ok {
		return t.addTo(bucket, key, delta)
	}
	if _, ok := t.ensures[bucket][string(key)]; ok {
		if err := t.settleEnsure(bucket, key); err != nil {
			return err
		}
	}
	if _, ok := t.writes[bucket][string(key)]; ok || t.present[[2]string{bucket, string(key)}] {
		return t.addTo(bucket, key, delta)
	}
	if t.adds == nil {
		t.adds = map[string]map[string]decimal.Decimal{}
	}
	m := t.adds[bucket]
	if m == nil {
		m = map[string]decimal.Decimal{}
		t.adds[bucket] = m
	}
	ks := string(key)
	old, had := m[ks]
	if t.journal {
		t.undo = append(t.undo, undo{add: true, bucket: bucket, key: ks, had: had, d: old})
	}
	m[ks] = old.Add(delta)
	return nil
}

// addTo adds delta to the amount the transaction reads under key, and
// writes the sum.
func (t *tx) addTo(bucket string, key []byte, delta decimal.Decimal) error {
	cur := decimal.Zero
	v, err := t.get(bucket, key)
	switch {
	case err == nil:
		if cur, err = total.Parse(v); err != nil {
			return fmt.Errorf("postgres: add to %q in %q: %w", key, bucket, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return t.write("add", bucket, key, entry{val: []byte(cur.Add(delta).String())})
}

// settle turns the pending addition to key into a write, for a read of
// it: one round trip, unless the key was read before. The read may be a
// Scan callback's, which may not write: the write is of what the
// function wrote before.
func (t *tx) settle(bucket string, key []byte) error {
	t.settling = true
	defer func() { t.settling = false }()
	ks := string(key)
	d := t.adds[bucket][ks]
	t.dropAdd(bucket, ks)
	return t.addTo(bucket, key, d)
}

// Ensure writes value under key unless the key exists (store.Ensurer):
// at the commit, as INSERT ... ON CONFLICT DO NOTHING, which writes
// nothing when the key is there. A key the transaction knows (it wrote or
// read it) is decided here: kept when present, written when absent.
func (t *tx) Ensure(bucket string, key, value []byte) error {
	if err := t.check("ensure", bucket, key, true, true); err != nil {
		return err
	}
	if _, _, ok := t.packed(bucket, key); ok {
		_, err := t.get(bucket, key)
		if errors.Is(err, store.ErrNotFound) {
			return t.write("ensure", bucket, key, entry{val: append([]byte{}, value...)})
		}
		return err
	}
	if _, ok := t.adds[bucket][string(key)]; ok {
		if err := t.settle(bucket, key); err != nil {
			return err
		}
	}
	if _, found, known := t.known(bucket, key); known {
		if found {
			return nil
		}
		return t.write("ensure", bucket, key, entry{val: append([]byte{}, value...)})
	}
	if _, ok := t.ensures[bucket][string(key)]; ok {
		return nil // the first Ensure's value is the one written
	}
	if t.ensures == nil {
		t.ensures = map[string]map[string][]byte{}
	}
	m := t.ensures[bucket]
	if m == nil {
		m = map[string][]byte{}
		t.ensures[bucket] = m
	}
	ks := string(key)
	if t.journal {
		t.undo = append(t.undo, undo{ensure: true, bucket: bucket, key: ks})
	}
	m[ks] = append([]byte{}, value...)
	return nil
}

// settleEnsure turns the pending Ensure of key into what a read of it
// needs: nothing when the store has the key, a write of the ensured value
// when it has not. One round trip, unless the key was read before. As
// settle, it may run in a Scan callback.
func (t *tx) settleEnsure(bucket string, key []byte) error {
	t.settling = true
	defer func() { t.settling = false }()
	ks := string(key)
	v := t.ensures[bucket][ks]
	t.dropEnsure(bucket, ks)
	_, err := t.get(bucket, key)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return t.write("ensure", bucket, key, entry{val: v})
	}
	return err
}

// Preload reads reads in one round trip (store.Preloader): the keys in
// one statement, each range in one more of the same batch. Keys and
// ranges the transaction already knows are not read again.
func (t *tx) Preload(reads ...store.Read) error {
	if err := t.check("preload", "-", nil, false, false); err != nil {
		return err
	}
	sc := t.s.getScratch()
	defer t.s.putScratch(sc)
	if t.s.packed.Load() != nil {
		sc.mapped = t.packedReads(sc.mapped[:0], reads)
		reads = sc.mapped
	}
	pre := &sc.preload
	var ranges []store.Read
	for _, r := range reads {
		if err := t.check("preload", r.Bucket, r.Key, r.Key != nil, false); err != nil {
			return err
		}
		if r.Key != nil {
			if _, _, known := t.known(r.Bucket, r.Key); !known {
				appendKey(pre, r.Bucket, r.Key)
			}
			continue
		}
		start := r.Start
		if start == nil {
			start = []byte{}
		}
		if r.End != nil && bytes.Compare(start, r.End) >= 0 {
			continue
		}
		if t.covering(r.Bucket, start, r.End) == nil {
			ranges = append(ranges, store.Read{Bucket: r.Bucket, Start: start, End: r.End})
		}
	}
	buckets, keys := pre.buckets, pre.keys
	if len(keys) == 0 && len(ranges) == 0 {
		return nil
	}
	b, err := t.batch()
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		if err := t.queue(b, t.s.sql.getMany, buckets, keys); err != nil {
			return err
		}
	}
	for _, r := range ranges {
		if err := t.queueScan(b, r.Bucket, r.Start, r.End, false, 0); err != nil {
			return err
		}
	}
	br, err := t.send(b)
	if err != nil {
		return err
	}
	defer br.close()
	if len(keys) > 0 {
		pre.vals = slices.Grow(pre.vals, len(keys))[:len(keys)]
		sc.found = slices.Grow(sc.found, len(keys))[:len(keys)]
		vals, found := pre.vals, sc.found
		clear(found)
		err := br.query(func(cols [][]byte) error {
			i, err := int8Col(cols[0])
			if err != nil {
				return err
			}
			if i >= 1 && int(i) <= len(keys) {
				vals[i-1], err = byteaCol(cols[1])
				found[i-1] = true
			}
			return err
		})
		if err != nil {
			return t.fail(err)
		}
		for i := range keys {
			t.remember(string(buckets[i]), keys[i], vals[i], found[i])
		}
	}
	for _, r := range ranges {
		l := &loaded{start: slices.Clone(r.Start), end: slices.Clone(r.End)}
		if err := t.collect(br, &l.keys, &l.vals); err != nil {
			return err
		}
		if t.ranges == nil {
			t.ranges = map[string][]*loaded{}
		}
		t.ranges[r.Bucket] = append(t.ranges[r.Bucket], l)
	}
	if err := br.close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// covering returns a preloaded range that holds [start, end), or nil.
func (t *tx) covering(bucket string, start, end []byte) *loaded {
	for _, l := range t.ranges[bucket] {
		if l.covers(start, end) {
			return l
		}
	}
	return nil
}

// queueScan queues the read of the keys of bucket in [start, end), up to
// limit of them (0: all) from the first or, reverse, from the last.
func (t *tx) queueScan(b *batch, bucket string, start, end []byte, reverse bool, limit int) error {
	r := 0
	if reverse {
		r = 1
	}
	var lim any
	if limit > 0 {
		lim = limit
	}
	if end == nil {
		return t.queue(b, t.s.sql.scan[r][0], []byte(bucket), start, lim)
	}
	return t.queue(b, t.s.sql.scan[r][1], []byte(bucket), start, lim, end)
}

// collect appends the keys and values of the next statement's rows.
func (t *tx) collect(br *results, keys, vals *[][]byte) error {
	err := br.query(func(cols [][]byte) error {
		k, err := byteaCol(cols[0])
		if err != nil {
			return err
		}
		v, err := byteaCol(cols[1])
		if err != nil {
			return err
		}
		*keys, *vals = append(*keys, k), append(*vals, v)
		return nil
	})
	if err != nil {
		return t.fail(err)
	}
	return nil
}

// iterator yields keys in the order of a Scan.
type iterator interface {
	next() (key, val []byte, ok bool, err error)
}

// sliceIter yields the keys of a preloaded range inside [start, end).
type sliceIter struct {
	keys, vals [][]byte
	i, step    int
	stop       int
}

func (l *loaded) iter(start, end []byte, reverse bool) *sliceIter {
	lo, _ := slices.BinarySearchFunc(l.keys, start, bytes.Compare)
	hi := len(l.keys)
	if end != nil {
		hi, _ = slices.BinarySearchFunc(l.keys, end, bytes.Compare)
	}
	if reverse {
		return &sliceIter{keys: l.keys, vals: l.vals, i: hi - 1, step: -1, stop: lo - 1}
	}
	return &sliceIter{keys: l.keys, vals: l.vals, i: lo, step: 1, stop: hi}
}

func (it *sliceIter) next() ([]byte, []byte, bool, error) {
	if it.i == it.stop {
		return nil, nil, false, nil
	}
	k, v := it.keys[it.i], it.vals[it.i]
	it.i += it.step
	return k, v, true, nil
}

// serverIter reads a range from the server in chunks.
type serverIter struct {
	t          *tx
	bucket     string
	start, end []byte // what is left to read
	reverse    bool
	limit      int
	keys, vals [][]byte
	i          int
	exhausted  bool
}

func (it *serverIter) next() ([]byte, []byte, bool, error) {
	if it.i == len(it.keys) {
		if it.exhausted {
			return nil, nil, false, nil
		}
		if err := it.fetch(); err != nil {
			return nil, nil, false, err
		}
		if len(it.keys) == 0 {
			return nil, nil, false, nil
		}
	}
	k, v := it.keys[it.i], it.vals[it.i]
	it.i++
	return k, v, true, nil
}

func (it *serverIter) fetch() error {
	b, err := it.t.batch()
	if err != nil {
		return err
	}
	if err := it.t.queueScan(b, it.bucket, it.start, it.end, it.reverse, it.limit); err != nil {
		return err
	}
	br, err := it.t.send(b)
	if err != nil {
		return err
	}
	it.keys, it.vals, it.i = it.keys[:0], it.vals[:0], 0
	err = it.t.collect(br, &it.keys, &it.vals)
	if cerr := br.close(); err == nil && cerr != nil {
		err = it.t.fail(cerr)
	}
	if err != nil {
		return err
	}
	if len(it.keys) < it.limit {
		it.exhausted = true
	} else if last := it.keys[len(it.keys)-1]; it.reverse {
		it.end = last
	} else {
		it.start = append(slices.Clone(last), 0) // the smallest key after last
	}
	it.limit = min(it.limit*4, maxChunk)
	return nil
}

type pending struct {
	key []byte
	entry
}

// pendingIn returns the buffered writes of bucket in [start, end), in the
// Scan's order.
func (t *tx) pendingIn(bucket string, start, end []byte, reverse bool) []pending {
	var ws []pending
	for k, e := range t.writes[bucket] {
		if k >= string(start) && (end == nil || k < string(end)) {
			ws = append(ws, pending{[]byte(k), e})
		}
	}
	slices.SortFunc(ws, func(a, b pending) int {
		if reverse {
			return bytes.Compare(b.key, a.key)
		}
		return bytes.Compare(a.key, b.key)
	})
	return ws
}

func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false, false); err != nil {
		return err
	}
	if start == nil {
		start = []byte{}
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	if set := t.s.packed.Load(); set != nil && (*set)[bucket] {
		return t.scanPacked(bucket, start, end, reverse, fn)
	}
	return t.scan(bucket, start, end, reverse, fn)
}

// scan is Scan of [start, end) (start not nil, before end), the bucket's
// keys as they are kept.
func (t *tx) scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	for k := range t.adds[bucket] {
		if k >= string(start) && (end == nil || k < string(end)) {
			if err := t.settle(bucket, []byte(k)); err != nil {
				return err
			}
		}
	}
	for k := range t.ensures[bucket] {
		if k >= string(start) && (end == nil || k < string(end)) {
			if err := t.settleEnsure(bucket, []byte(k)); err != nil {
				return err
			}
		}
	}
	var base iterator
	if l := t.covering(bucket, start, end); l != nil {
		base = l.iter(start, end, reverse)
	} else {
		base = &serverIter{t: t, bucket: bucket, start: start, end: end, reverse: reverse, limit: firstChunk}
	}
	ws := t.pendingIn(bucket, start, end, reverse)
	t.scanning++
	defer func() { t.scanning-- }()
	var bk, bv []byte
	var bok bool
	advance := true // the base's head was consumed
	for {
		if advance {
			var err error
			if bk, bv, bok, err = base.next(); err != nil {
				return err
			}
			advance = false
		}
		var k, v []byte
		switch {
		case len(ws) > 0 && (!bok || first(ws[0].key, bk, reverse)):
			w := ws[0]
			ws = ws[1:]
			if bok && bytes.Equal(w.key, bk) {
				advance = true // the write replaces the stored value
			}
			if w.del {
				continue
			}
			k, v = w.key, w.val
		case bok:
			k, v, advance = bk, bv, true
		default:
			return nil
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, store.StopScan) {
				return nil
			}
			return err
		}
	}
}

// first reports whether a comes before b, or is b, in a Scan's order.
func first(a, b []byte, reverse bool) bool {
	c := bytes.Compare(a, b)
	return c == 0 || (c < 0) != reverse
}

// rows is a list of keys of buckets, with values (but for a delete), as
// the statements take them: in arrays.
type rows struct {
	buckets, keys, vals [][]byte
	buf                 []byte // the bytes of buckets and keys
}

func (r *rows) add(bucket, key string, val []byte) {
	r.key(bucket, key)
	r.vals = append(r.vals, val)
}

func (r *rows) key(bucket, key string) { appendKey(r, bucket, key) }

// appendKey appends bucket and key to r, their bytes to r.buf: a slice of
// an array that buf has outgrown keeps its bytes.
func appendKey[K string | []byte](r *rows, bucket string, key K) {
	n := len(r.buf)
	r.buf = append(append(r.buf, bucket...), key...)
	m := n + len(bucket)
	r.buckets, r.keys = append(r.buckets, r.buf[n:m:m]), append(r.keys, r.buf[m:len(r.buf):len(r.buf)])
}

func (r *rows) reset() {
	clear(r.vals) // values of the transaction's, not to be kept alive
	r.buckets, r.keys, r.vals, r.buf = r.buckets[:0], r.keys[:0], r.vals[:0], r.buf[:0]
}

// scratch holds the arrays a transaction fills and drops: the rows of its
// commit, the keys it preloads, its undo journal, a group's reads. A
// Store keeps them in a sync.Pool, so that they grow once rather than in
// every transaction: BenchmarkProgram64 allocated 30.6 KB an event before,
// 24.6 after. The bytes allocated are what sets how often the collector
// runs (there, every hundred events or so), and the collector was most of
// the client's processor time an event beyond the library's own work.
type scratch struct {
	ins, upd, ups, del, ens rows
	inserted                []bool // for each key of ins, whether Insert wrote it
	preload                 rows   // the keys Preload reads, and the values it found
	found                   []bool // which of them it found
	undo                    []undo
	reads                   []store.Read
	mapped                  []store.Read // Preload's reads, packed buckets' mapped to their rows (pack.go)
}

func (s *Store) getScratch() *scratch { return s.scratch.Get().(*scratch) }

func (s *Store) putScratch(sc *scratch) {
	for _, r := range []*rows{&sc.ins, &sc.upd, &sc.ups, &sc.del, &sc.ens, &sc.preload} {
		r.reset()
	}
	clear(sc.undo)
	clear(sc.reads)
	clear(sc.mapped)
	sc.mapped = sc.mapped[:0]
	sc.inserted, sc.found, sc.undo, sc.reads = sc.inserted[:0], sc.found[:0], sc.undo[:0], sc.reads[:0]
	s.scratch.Put(sc)
}

// found reports whether the transaction's reads found key (known false
// when it did not read it): what the server had in its snapshot, before
// the transaction's own writes.
func (t *tx) found(bucket, key string) (found, known bool) {
	if e, ok := t.cache[bucket][key]; ok {
		return !e.del, true
	}
	for _, l := range t.ranges[bucket] {
		if l.contains([]byte(key)) {
			_, ok := slices.BinarySearchFunc(l.keys, []byte(key), bytes.Compare)
			return ok, true
		}
	}
	return false, false
}

// commit ends the transaction with its writes (when write is set) in one
// batch, each kind of write in one statement, each in key order (so that
// two transactions lock common rows in one order), then COMMIT. A Put of
// a key the transaction read is an UPDATE when it found the key and an
// INSERT when it did not, as is an Insert; only a Put of a key it did not
// read is an upsert (INSERT ... ON CONFLICT), which costs the server a
// speculative insertion for a new key and a row lock for an old one (a
// record in the write-ahead log of its own). A key the transaction found
// that has gone, or one it did not find that has come, is a conflict:
// the server reports a serialization failure or a unique violation, or
// the UPDATE changes fewer rows. A transaction that neither read nor
// writes needs no round trip. It returns the server's error as is.
func (t *tx) commit(write bool) error {
	sc := t.s.getScratch()
	defer t.s.putScratch(sc)
	ins, upd, ups, del, ens := &sc.ins, &sc.upd, &sc.ups, &sc.del, &sc.ens
	var ab, ak [][]byte
	var ad []string
	if write {
		for _, bucket := range sortedKeys(t.writes) {
			m := t.writes[bucket]
			for _, k := range sortedKeys(m) {
				e := m[k]
				if e.ins {
					ins.add(bucket, k, e.val)
					sc.inserted = append(sc.inserted, true)
					continue
				}
				found, known := t.found(bucket, k)
				switch {
				case e.del:
					del.key(bucket, k)
				case !known:
					ups.add(bucket, k, e.val)
				case found:
					upd.add(bucket, k, e.val)
				default:
					ins.add(bucket, k, e.val)
					sc.inserted = append(sc.inserted, false)
				}
			}
		}
		for _, bucket := range sortedKeys(t.ensures) {
			m := t.ensures[bucket]
			for _, k := range sortedKeys(m) {
				switch found, known := t.found(bucket, k); {
				case !known:
					ens.add(bucket, k, m[k])
				case !found:
					ins.add(bucket, k, m[k])
					sc.inserted = append(sc.inserted, false)
				}
			}
		}
		for _, bucket := range sortedKeys(t.adds) {
			m := t.adds[bucket]
			for _, k := range sortedKeys(m) {
				ab, ak, ad = append(ab, []byte(bucket)), append(ak, []byte(k)), append(ad, m[k].String())
			}
		}
	}
	if !t.begun && len(ins.keys) == 0 && len(upd.keys) == 0 && len(ups.keys) == 0 && len(del.keys) == 0 && len(ens.keys) == 0 && len(ak) == 0 {
		return nil
	}
	b, err := t.batch()
	if err != nil {
		return t.err
	}
	var kinds []*[][]byte // the keys of each statement queued, nil for COMMIT
	queue := func(keys *[][]byte, sql string, args ...any) {
		if err == nil && (keys == nil || len(*keys) > 0) {
			err = t.queue(b, sql, args...)
			kinds = append(kinds, keys)
		}
	}
	queue(&ins.keys, t.s.sql.insert, ins.buckets, ins.keys, ins.vals)
	queue(&upd.keys, t.s.sql.update, upd.buckets, upd.keys, upd.vals)
	queue(&ups.keys, t.s.sql.upsert, ups.buckets, ups.keys, ups.vals)
	queue(&del.keys, t.s.sql.delete, del.buckets, del.keys)
	queue(&ens.keys, t.s.sql.ensure, ens.buckets, ens.keys, ens.vals)
	queue(&ak, t.s.sql.add, ab, ak, ad)
	queue(nil, t.s.sql.commit)
	if err != nil {
		return t.err
	}
	br, err := t.send(b)
	if err != nil {
		return t.err
	}
	for _, keys := range kinds {
		tag, err := br.exec()
		switch {
		case err == nil && keys == &upd.keys && tag.RowsAffected() != int64(len(upd.keys)):
			// Unreachable: upd holds only keys this transaction's reads
			// found in its snapshot (found: the cache and ranges hold
			// what the server answered, never the transaction's own
			// writes), each once, and the delete of a key is queued after
			// this statement; in SERIALIZABLE an UPDATE of a row of the
			// snapshot that another transaction has since updated or
			// deleted fails with 40001 rather than skip it. Were it
			// reached, the COMMIT queued behind it has already committed
			// the rest, and the run again would apply the function twice:
			// make the statement fail on the server before taking a path
			// here (a weaker isolation, a read answered from elsewhere).
			err = &pgconn.PgError{Code: "40001", Message: "a key the transaction read is gone"}
		case notText(err) && keys == &ak:
			// A stripe holds an amount in binary, as internal/total writes
			// it on a transaction that is no store.Adder (ApplyBatch's
			// dry runs did, before they added): the next run reads the
			// additions' keys, and writes each sum as text (addTo), or
			// finds the stripe damaged.
			for i := range ak {
				t.present[[2]string{string(ab[i]), string(ak[i])}] = true
			}
			err = &pgconn.PgError{Code: "40001", Message: "a total's stripe is not decimal text: " + err.Error()}
		case isUniqueViolation(err) && keys == &ins.keys:
			// A key the transaction takes as absent exists: the next run
			// reads the Inserts' keys.
			for i, by := range sc.inserted {
				if by {
					t.present[[2]string{string(ins.buckets[i]), string(ins.keys[i])}] = true
				}
			}
			err = &pgconn.PgError{Code: "40001", Message: "a key written as new exists: " + err.Error()}
		}
		if err != nil {
			_ = br.close()
			_ = t.fail(err)
			return t.err
		}
	}
	if err := br.close(); err != nil {
		_ = t.fail(err)
		return t.err
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare) // bytewise, as bytea compares
	return keys
}

// end rolls back what is left of the transaction on the connection: a
// View's, or an Update's that failed, was rolled back or panicked. A
// connection that broke is left to the pool, which drops it.
func (t *tx) end() {
	if !t.begun || t.conn.IsClosed() || t.conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 10*time.Second)
	defer cancel()
	t.roundTrips++
	_, _ = t.conn.Exec(ctx, t.s.sql.rollback)
}
