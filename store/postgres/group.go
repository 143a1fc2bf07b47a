package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Grouping. Updates that arrive while others run are run together, up to
// Options.Group of them in one transaction, one function after the other:
// the BEGIN, the commit's statements and the COMMIT, and their round
// trips, are paid once a group rather than once an Update, which is most
// of what an event costs the server beyond its rows. A group runs as its
// functions would one after the other, each seeing the writes of those
// before it; a function that returns an error has its writes undone (the
// tx's undo journal) and the others go on, as a solo Update's error
// leaves nothing. When the group's transaction fails (a conflict, a
// server error, a panic in one function), every function of the group
// runs again alone, as an Update did before grouping: the store contract
// lets a function run again, and alone it retries its own conflicts.
//
// At most as many groups run at once as the pool has connections: the
// Update that finds fewer leads, taking the queue's first Updates (its
// own among them, or behind them), and when its own has an outcome hands
// the lead to the first Update still queued. No timer: a group is what
// queued while the connections were busy.

// call is an Update waiting in the queue.
type call struct {
	ctx   context.Context
	reads []store.Read // what fn reads first (Store.UpdatePrefetch)
	fn    func(store.Tx) error
	// out receives the Update's outcome, and before it maybe the lead
	// (at most once, while the call is queued): room for both.
	out     chan outcome
	leading bool // leads, or was offered the lead (under Store.gmu)
}

// outcome is what a group did for one of its Updates.
type outcome struct {
	err      error
	lead     bool  // not an outcome: the call is to lead the queue
	alone    bool  // the group failed: run the function alone
	ran      bool  // with alone: the function ran in the group (a retry if run again)
	conflict error // why, when the group lost a conflict
	// present holds the keys the group's Inserts found present
	// (store.Inserter), for the runs alone to read.
	present  map[[2]string]bool
	panicked bool // the function panicked with panicVal
	panicVal any
}

// inGroup runs fn in a group. It returns done false when fn is to run
// alone, with the conflict the group lost, if that is why, and ran true
// if fn ran in the group. A panic of fn is raised again here.
func (s *Store) inGroup(ctx context.Context, reads []store.Read, fn func(store.Tx) error) (err, conflict error, present map[[2]string]bool, ran, done bool) {
	c := &call{ctx: ctx, reads: reads, fn: fn, out: make(chan outcome, 2)}
	s.gmu.Lock()
	s.queue = append(s.queue, c)
	lead := s.leaders < s.maxLeaders
	if lead {
		s.leaders++
		c.leading = true // it leads already: never offered the lead
	}
	s.gmu.Unlock()
	var o outcome
	if lead {
		o = s.lead(c)
	} else {
		o = s.await(c)
	}
	if o.panicked {
		panic(o.panicVal)
	}
	return o.err, o.conflict, o.present, o.ran, !o.alone
}

// await waits for the outcome of c, queued, leading when it is offered
// the lead. When c's context ends while c is still queued, c leaves the
// queue and its outcome is the context's error, at once: its caller does
// not wait for a connection to be free (an Update whose context ends
// before its function runs returns ctx.Err()). Once taken into a group,
// c waits for the group.
func (s *Store) await(c *call) outcome {
	var o outcome
	select {
	case o = <-c.out:
	case <-c.ctx.Done():
		s.gmu.Lock()
		i := slices.Index(s.queue, c)
		if i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
			if c.leading {
				// Offered the lead (the offer is in c.out): pass it on.
				s.passLead()
			}
		}
		s.gmu.Unlock()
		if i >= 0 {
			return outcome{err: c.ctx.Err()}
		}
		o = <-c.out
	}
	if o.lead {
		return s.lead(c)
	}
	return o
}

// lead runs groups from the queue until c has its outcome, then passes
// the lead on.
func (s *Store) lead(c *call) outcome {
	for {
		select {
		case o := <-c.out:
			s.release()
			return o
		default:
		}
		g := s.take()
		if len(g) == 0 { // c is in a group another leader runs
			s.release()
			return <-c.out
		}
		s.runGroup(g)
	}
}

// take removes the first Options.Group calls from the queue.
func (s *Store) take() []*call {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	n := min(len(s.queue), s.group)
	g := make([]*call, n)
	copy(g, s.queue)
	// Shift and clear rather than reslice, so that the queue's array
	// does not keep the calls taken.
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	return g
}

// release gives the lead to the first queued call not offered it yet, or
// gives it up.
func (s *Store) release() {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	s.passLead()
}

// passLead is release, with Store.gmu held.
func (s *Store) passLead() {
	for _, c := range s.queue {
		if !c.leading {
			c.leading = true
			c.out <- outcome{lead: true}
			return
		}
	}
	s.leaders--
}

// runGroup runs the functions of g in one transaction and sends each
// call its outcome. A group of one runs the same way, so that the
// leaders are the transactions in flight, and the queue grows while
// they hold the connections.
func (s *Store) runGroup(g []*call) {
	outs := s.runTogether(g)
	for i, c := range g {
		c.out <- outs[i]
	}
}

// runTogether runs g's functions in one transaction and returns their
// outcomes. The transaction's statements are not cancelled with one
// caller's context, the others wait for it, unless the group is of one.
func (s *Store) runTogether(g []*call) []outcome {
	outs := make([]outcome, len(g))
	ran := 0 // the functions run: g[:ran]
	present := map[[2]string]bool{}
	// alone sends every call of g but the one that panicked (-1: none)
	// to run alone; a function run in the group is run again, a retry
	// its Update counts once it runs it again (not when its context
	// ended meanwhile).
	alone := func(panicked int, conflict error) []outcome {
		for i := range outs {
			if i != panicked {
				// A copy each: the runs alone add to it at once.
				outs[i] = outcome{alone: true, ran: i < ran, conflict: conflict, present: maps.Clone(present)}
			}
		}
		return outs
	}
	// A group of one is an Update alone: its context cancels its
	// statements, as in Store.run.
	ctx := g[0].ctx
	if len(g) > 1 {
		ctx = context.WithoutCancel(ctx)
	}
	conn, err := s.acquireFor(g)
	if err != nil {
		return alone(-1, nil) // each finds the error itself, or its context's end
	}
	defer conn.Release()
	t := newTx(s, ctx, conn.Conn(), true, present)
	sc := s.getScratch()
	t.journal, t.undo = true, sc.undo
	defer func() {
		t.done = true
		t.end()
		t.release()
		s.roundTrips.Add(t.roundTrips)
		sc.undo = t.undo
		s.putScratch(sc)
	}()
	if err := prefetch(t, g, sc); err != nil {
		return alone(-1, err)
	}
	for i, c := range g {
		ran = i + 1
		if err := c.ctx.Err(); err != nil {
			outs[i].err = err
			continue
		}
		mark := len(t.undo)
		ferr, panicked, val := runIn(t, c.fn)
		if panicked {
			outs[i] = outcome{panicked: true, panicVal: val}
			return alone(i, nil)
		}
		if t.err != nil { // the transaction failed on the server
			if isConflict(t.err) {
				return alone(-1, t.err)
			}
			return alone(-1, nil)
		}
		if ferr != nil {
			t.rollbackTo(mark)
		}
		// Only the function running may be undone: the next starts the
		// journal again, on the same array.
		t.undo = t.undo[:mark]
		outs[i].err = ferr
	}
	t.done = true
	if err := t.commit(true); err != nil {
		var refused *pgconn.PgError
		switch {
		case isConflict(err):
			return alone(-1, err)
		case len(g) > 1 && errors.As(err, &refused) && refused.SeverityUnlocalized == "ERROR" && !t.conn.IsClosed():
			// The server refused the commit (a deferred constraint, a
			// trigger), so nothing of the group was written, and one
			// function's writes are at fault, not the others': each runs
			// again alone and meets its own outcome. A connection lost or
			// ended by the server (FATAL) at the commit leaves the outcome
			// unknown: each is told so, and none runs again.
			return alone(-1, nil)
		}
		for i := range outs {
			if outs[i].err == nil {
				outs[i].err = fmt.Errorf("postgres: commit: %w", failedCommit(err))
			}
		}
		return outs
	}
	if len(g) > 1 {
		s.groups.Add(1)
		s.grouped.Add(int64(len(g)))
	}
	return outs
}

// acquireFor gets a connection for g until the context of one of its
// calls ends: none of them has run, and each waits no longer than its
// context (a server that stopped answering, with no connect_timeout,
// would keep the pool's connection attempt going). The group then runs
// alone, each call under its own context.
func (s *Store) acquireFor(g []*call) (*pgxpool.Conn, error) {
	if len(g) == 1 {
		return s.pool.Acquire(g[0].ctx)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(g[0].ctx))
	defer cancel()
	for _, c := range g {
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
	}
	return s.pool.Acquire(ctx)
}

// prefetch reads in one round trip what the functions of g said they read
// first (Store.UpdatePrefetch). It returns the conflict that failed the
// transaction, if one did; the reads of a failure that is not a conflict
// are left to the functions, which meet it themselves.
func prefetch(t *tx, g []*call, sc *scratch) error {
	for _, c := range g {
		if c.ctx.Err() == nil {
			sc.reads = append(sc.reads, c.reads...)
		}
	}
	if len(sc.reads) == 0 {
		return nil
	}
	if err := t.Preload(sc.reads...); err != nil && t.err != nil && isConflict(t.err) {
		return t.err
	}
	return nil
}

// runIn runs fn on a view of t of its own, which fails with
// store.ErrTxDone once fn returned; it recovers a panic of fn.
func runIn(t *tx, fn func(store.Tx) error) (err error, panicked bool, val any) {
	t.gen++
	v := &groupTx{t: t, gen: t.gen}
	defer func() {
		t.gen++
		if r := recover(); r != nil {
			panicked, val = true, r
		}
	}()
	return fn(v), false, nil
}

// groupTx is one function's view of a group's transaction: a tx's
// methods, refused once the function returned.
type groupTx struct {
	t   *tx
	gen int
}

var (
	_ store.Adder         = (*groupTx)(nil)
	_ store.Inserter      = (*groupTx)(nil)
	_ store.Ensurer       = (*groupTx)(nil)
	_ store.Preloader     = (*groupTx)(nil)
	_ store.StripeChooser = (*groupTx)(nil)
)

func (v *groupTx) live(op string) error {
	if v.gen != v.t.gen {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrTxDone)
	}
	return nil
}

func (v *groupTx) Get(bucket string, key []byte) ([]byte, error) {
	if err := v.live("get"); err != nil {
		return nil, err
	}
	return v.t.Get(bucket, key)
}

func (v *groupTx) Put(bucket string, key, value []byte) error {
	if err := v.live("put"); err != nil {
		return err
	}
	return v.t.Put(bucket, key, value)
}

func (v *groupTx) Delete(bucket string, key []byte) error {
	if err := v.live("delete"); err != nil {
		return err
	}
	return v.t.Delete(bucket, key)
}

func (v *groupTx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := v.live("scan"); err != nil {
		return err
	}
	return v.t.Scan(bucket, start, end, reverse, fn)
}

func (v *groupTx) Preload(reads ...store.Read) error {
	if err := v.live("preload"); err != nil {
		return err
	}
	return v.t.Preload(reads...)
}

func (v *groupTx) Add(bucket string, key []byte, delta decimal.Decimal) error {
	if err := v.live("add"); err != nil {
		return err
	}
	return v.t.Add(bucket, key, delta)
}

func (v *groupTx) Stripe(n int) uint16 { return v.t.Stripe(n) }

func (v *groupTx) Fresh(bucket string, key []byte) bool {
	return v.live("fresh") == nil && v.t.Fresh(bucket, key)
}

func (v *groupTx) Insert(bucket string, key, value []byte) error {
	if err := v.live("insert"); err != nil {
		return err
	}
	return v.t.Insert(bucket, key, value)
}

func (v *groupTx) Ensure(bucket string, key, value []byte) error {
	if err := v.live("ensure"); err != nil {
		return err
	}
	return v.t.Ensure(bucket, key, value)
}
