package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/webhook"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counter is an endpoint that acknowledges every request and counts the
// acknowledgements by feed position and by path (each Deliverer of a
// test sends to a path of its own). hold, when set, runs before the
// answer and may block.
type counter struct {
	t    testing.TB
	clk  *fakeClock
	srv  *httptest.Server
	hold func(path string, seq uint64)

	mu     sync.Mutex
	acks   map[uint64]int
	byPath map[string]int
}

func newCounter(t testing.TB, clk *fakeClock) *counter {
	c := &counter{t: t, clk: clk, acks: map[uint64]int{}, byPath: map[string]int{}}
	c.srv = httptest.NewServer(c)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// The test's clock moves past leases, within the hour.
	if err := webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), []byte(secret), c.clk.now(), time.Hour); err != nil {
		c.t.Errorf("counter: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var d webhook.Delivery
	if err := json.Unmarshal(body, &d); err != nil {
		c.t.Errorf("counter: %s: %v", body, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if c.hold != nil {
		c.hold(r.URL.Path, d.Change.Seq)
	}
	c.mu.Lock()
	c.acks[d.Change.Seq]++
	c.byPath[r.URL.Path]++
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// distinct counts the changes acknowledged at least once.
func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks)
}

// onceEach reports each change of chs not acknowledged exactly once, and
// any acknowledgement of a change not in chs.
func (c *counter) onceEach(t *testing.T, chs []change.Change) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range chs {
		if n := c.acks[ch.Seq]; n != 1 {
			t.Errorf("change %d acknowledged %d times, want once", ch.Seq, n)
		}
	}
	if len(c.acks) != len(chs) {
		t.Errorf("%d changes acknowledged, want the feed's %d", len(c.acks), len(chs))
	}
}

// runner runs a Deliverer's Run whose every wait parks it until the test
// lets it do one more round, so that the test's clock moves only while
// the Run is parked. Give the Deliverer WithWait(r.wait).
type runner struct {
	t      *testing.T
	parked chan struct{}
	resume chan struct{}
	cancel context.CancelFunc
	done   chan error
}

func newRunner(t *testing.T) *runner {
	return &runner{t: t, parked: make(chan struct{}), resume: make(chan struct{})}
}

func (r *runner) wait(ctx context.Context, _ time.Duration) error {
	select {
	case r.parked <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.resume:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start starts d.Run and returns once its first round is over.
func (r *runner) start(d *webhook.Deliverer) {
	r.t.Helper()
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	r.t.Cleanup(r.cancel) // when the test fails half-way
	r.done = make(chan error, 1)
	go func() { r.done <- d.Run(ctx) }()
	r.park()
}

// park waits for the Run to park, failing the test if it returned.
func (r *runner) park() {
	r.t.Helper()
	select {
	case <-r.parked:
	case err := <-r.done:
		r.t.Fatalf("Run returned %v", err)
	}
}

// round lets the Run do one more round and returns once it is over.
func (r *runner) round() {
	r.t.Helper()
	select {
	case r.resume <- struct{}{}:
	case err := <-r.done:
		r.t.Fatalf("Run returned %v", err)
	}
	r.park()
}

// stop cancels the Run and checks it returns ctx's error.
func (r *runner) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; !errors.Is(err, context.Canceled) {
		r.t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// killable is a store that a test kills: every call then fails, as for a
// process that died.
type killable struct {
	store.Store
	dead atomic.Bool
}

var errDead = errors.New("the process died")

func (k *killable) Update(ctx context.Context, fn func(store.Tx) error) error {
	if k.dead.Load() {
		return errDead
	}
	return k.Store.Update(ctx, fn)
}

func (k *killable) View(ctx context.Context, fn func(store.Tx) error) error {
	if k.dead.Load() {
		return errDead
	}
	return k.Store.View(ctx, fn)
}

// twoInstances runs f with two Programs of testkit.OrderDef and their
// stores, as two instances of an application: on store/memory and
// store/bolt the same Program and store twice (those stores belong to
// one process), and on PostgreSQL, when MEMBERSHIP_PG_DSN is set, two
// stores opened on one schema, each with its Program.
func twoInstances(t *testing.T, f func(t *testing.T, ps [2]*membership.Program, sts [2]store.Store)) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			p := openProgram(t, st)
			f(t, [2]*membership.Program{p, p}, [2]store.Store{st, st})
		})
	}
	onPostgres(t, f)
}

// onPostgres runs f, as twoInstances does, on two stores opened on one
// PostgreSQL schema, each with its Program, when MEMBERSHIP_PG_DSN is
// set.
func onPostgres(t *testing.T, f func(t *testing.T, ps [2]*membership.Program, sts [2]store.Store)) {
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		schema := fmt.Sprintf("webhook_lease_%d", os.Getpid())
		drop := func() {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
			}
		}
		drop()
		t.Cleanup(drop)
		var ps [2]*membership.Program
		var sts [2]store.Store
		for i := range ps {
			st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			sts[i], ps[i] = st, openProgram(t, st)
		}
		f(t, ps, sts)
	})
}

// Two Deliverers of one consumer name, as on two instances of an
// application, run at once: the lease lets one send, and each change is
// acknowledged exactly once. The holder renews the lease as the clock
// moves; the other takes over once the holder stops (it releases the
// lease) and, after the next holder dies without releasing it, once its
// lease has expired, and not a moment before.
func TestLeaseOneDelivererPerName(t *testing.T) {
	twoInstances(t, testLeaseOneDelivererPerName)
}

func testLeaseOneDelivererPerName(t *testing.T, ps [2]*membership.Program, sts [2]store.Store) {
	bg := context.Background()
	clk := &fakeClock{t: now}
	rc := newCounter(t, clk)
	const (
		timeout = 10 * time.Second
		lease   = 30 * time.Second
	)
	var (
		ds [2]*webhook.Deliverer
		ks [2]*killable
		rs [2]*runner
	)
	for i := range ds {
		ks[i], rs[i] = &killable{Store: sts[i]}, newRunner(t)
		var err error
		ds[i], err = webhook.New(ps[i], ks[i], consumer, fmt.Sprintf("%s/%d", rc.srv.URL, i), []byte(secret),
			webhook.WithClock(clk.now), webhook.WithWait(rs[i].wait), webhook.WithTimeout(timeout),
			webhook.WithLease(lease), webhook.WithParallel(2), webhook.WithBatch(4))
		if err != nil {
			t.Fatal(err)
		}
	}
	// drive lets the Runs of who do at least rounds rounds each, one after
	// the other, moving the clock by step after each, until every change
	// of the feed is acknowledged; then one more each, so that a change
	// sent twice would show.
	drive := func(who []int, rounds int, step time.Duration) {
		t.Helper()
		want := len(feedAll(t, ps[0]))
		for r := 0; r < rounds || rc.distinct() < want; r++ {
			if r == 200 {
				t.Fatalf("%d of %d changes acknowledged after 200 rounds", rc.distinct(), want)
			}
			for _, i := range who {
				rs[i].round()
			}
			clk.add(step)
		}
		for _, i := range who {
			rs[i].round()
		}
	}
	orders(t, ps[0], "a", 3, "alice", "bob", "carol")
	rs[0].start(ds[0])
	rs[1].start(ds[1])
	// The clock moves 5s a round, 75s in all: a holder that did not renew
	// its lease would lose it (its cursor writes renew it to 40s ahead). A
	// round of the holder ends with the lease renewed for at least the
	// poll and half a lease (16s), and the other polls within a step of it.
	drive([]int{0, 1}, 15, 5*time.Second)
	orders(t, ps[1], "b", 2, "alice", "dave")
	drive([]int{0, 1}, 2, 5*time.Second)
	rc.onceEach(t, feedAll(t, ps[0]))
	h := 0
	if ds[1].Stats().Delivered > 0 {
		h = 1
	}
	o := 1 - h
	if s := ds[o].Stats(); s.Delivered != 0 {
		t.Errorf("both Deliverers sent: %+v and %+v", ds[h].Stats(), s)
	}
	// A third Deliverer of the name, Flushing, finds it held.
	third, err := webhook.New(ps[0], sts[0], consumer, rc.srv.URL+"/third", []byte(secret), webhook.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := third.Flush(bg); !errors.Is(err, webhook.ErrBusy) {
		t.Errorf("Flush of a third Deliverer of the name = %v, want ErrBusy", err)
	}

	// The holder stops, releasing the lease: the other takes over at its
	// next poll, the clock standing still.
	rs[h].stop()
	orders(t, ps[h], "c", 2, "erin")
	drive([]int{o}, 1, 0)
	rc.onceEach(t, feedAll(t, ps[0]))
	// A new member's two orders: growth and points each, and the level
	// she joins at the first.
	if s := ds[o].Stats(); s.Delivered != 5 {
		t.Errorf("the Deliverer that took over delivered %d, want erin's 5 changes", s.Delivered)
	}

	// The new holder dies without releasing the lease (its store fails
	// from then on). Its last cursor write renewed the lease to the
	// attempt timeout and a lease after it (40s); the clock has not moved
	// since. The first comes back and polls: the name is held until then.
	ks[o].dead.Store(true)
	rs[o].stop()
	rs[h].start(ds[h])
	orders(t, ps[h], "d", 2, "frank")
	before := rc.distinct()
	rs[h].round()
	clk.add(timeout + lease - time.Second)
	rs[h].round()
	if got := rc.distinct(); got != before {
		t.Fatalf("%d changes sent while the dead holder's lease ran", got-before)
	}
	clk.add(time.Second)
	drive([]int{h}, 1, 0)
	all := feedAll(t, ps[0])
	rc.onceEach(t, all)
	rs[h].stop()
	for i, p := range ps {
		if cur, err := p.Cursor(bg, consumer); err != nil || cur != all[len(all)-1].Seq {
			t.Errorf("instance %d: cursor %d, %v; want %d", i, cur, err, all[len(all)-1].Seq)
		}
	}
}

// A holder that stalls in a request past its lease (a paused process)
// finds the name taken over when it wakes: it stops without moving the
// cursor, which the new holder moved past it, and its Flush returns
// ErrBusy. The change it had in flight is delivered twice, with one
// delivery ID; every other once.
func TestLeaseTakenOverMidBatch(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 3, "alice") // six changes
	chs := feedAll(t, p)
	clk := &fakeClock{t: now}
	rc := newCounter(t, clk)
	stalled, wakeUp := make(chan struct{}), make(chan struct{})
	wake := sync.OnceFunc(func() { close(wakeUp) })
	t.Cleanup(wake) // before the server's Close, which waits for the handler
	rc.hold = func(path string, seq uint64) {
		if path == "/a" && seq == chs[2].Seq {
			close(stalled)
			<-wakeUp
		}
	}
	const (
		timeout = time.Minute // a real timer: longer than the test
		lease   = 30 * time.Second
	)
	opts := []webhook.Option{webhook.WithClock(clk.now), webhook.WithWait((&waits{}).wait),
		webhook.WithTimeout(timeout), webhook.WithLease(lease), webhook.WithParallel(1), webhook.WithBatch(1)}
	a, err := webhook.New(p, st, consumer, rc.srv.URL+"/a", []byte(secret), opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.New(p, st, consumer, rc.srv.URL+"/b", []byte(secret), opts...)
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Flush(bg)
		aDone <- err
	}()
	<-stalled // a has moved the cursor over the first two, one a batch
	// a's cursor writes renewed its lease to a timeout and a lease ahead.
	clk.add(timeout + lease - time.Second)
	if _, err := b.Flush(bg); !errors.Is(err, webhook.ErrBusy) {
		t.Fatalf("Flush a second before a's lease expires = %v, want ErrBusy", err)
	}
	clk.add(time.Second)
	n, err := b.Flush(bg)
	if err != nil || n != len(chs)-2 {
		t.Fatalf("Flush after a's lease expired = %d, %v; want the last %d", n, err, len(chs)-2)
	}
	wake()
	if err := <-aDone; !errors.Is(err, webhook.ErrBusy) {
		t.Errorf("the stalled holder's Flush = %v, want ErrBusy", err)
	}
	if cur, err := p.Cursor(bg, consumer); err != nil || cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, %v; want %d: the stalled holder moved it", cur, err, chs[len(chs)-1].Seq)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, c := range chs {
		want := 1
		if i == 2 {
			want = 2 // a's, answered once b had sent it too
		}
		if rc.acks[c.Seq] != want {
			t.Errorf("change %d acknowledged %d times, want %d", c.Seq, rc.acks[c.Seq], want)
		}
	}
	if rc.byPath["/a"] != 3 || rc.byPath["/b"] != len(chs)-2 {
		t.Errorf("a sent %d, b %d; want 3 and %d", rc.byPath["/a"], rc.byPath["/b"], len(chs)-2)
	}
}

// A lease record that does not decode is damaged data: Flush refuses to
// send rather than take it over.
func TestLeaseCorrupt(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	err := st.Update(bg, func(tx store.Tx) error {
		return tx.Put("webhook.lease."+consumer, []byte("holder"), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := newCounter(t, &fakeClock{t: now})
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(bg); !errors.Is(err, webhook.ErrCorrupt) {
		t.Errorf("Flush = %v, want ErrCorrupt", err)
	}
	if rc.distinct() != 0 {
		t.Error("changes sent under a damaged lease")
	}
}

// A Run whose lease expired while it waited (a paused process) and was
// taken over finds out at its next round: it sends nothing, logs the
// loss, and polls for the lease again rather than returning.
func TestRunLosesTheLeaseAndPolls(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	clk := &fakeClock{t: now}
	rc := newCounter(t, clk)
	var logs syncBuffer
	newD := func(path string, r *runner) *webhook.Deliverer {
		d, err := webhook.New(p, st, consumer, rc.srv.URL+path, []byte(secret), webhook.WithClock(clk.now),
			webhook.WithWait(r.wait), webhook.WithTimeout(10*time.Second), webhook.WithLease(30*time.Second),
			webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ra, rb := newRunner(t), newRunner(t)
	a, b := newD("/a", ra), newD("/b", rb)
	ra.start(a) // alice's changes sent
	first := len(feedAll(t, p))
	// a's cursor write renewed its lease to 40s ahead: past it, b takes
	// over and sends what comes next.
	clk.add(40 * time.Second)
	rb.start(b)
	orders(t, p, "b", 1, "bob")
	rb.round()
	ra.round() // a finds the lease taken over
	ra.round() // a polls again: b holds it
	all := feedAll(t, p)
	rc.onceEach(t, all)
	rc.mu.Lock()
	if rc.byPath["/a"] != first || rc.byPath["/b"] != len(all)-first {
		t.Errorf("a sent %d, b %d; want %d and %d", rc.byPath["/a"], rc.byPath["/b"], first, len(all)-first)
	}
	rc.mu.Unlock()
	if n := strings.Count(logs.String(), `msg="webhook: lost the lease"`); n != 1 {
		t.Errorf("the loss logged %d times, want once:\n%s", n, logs.String())
	}
	ra.stop()
	rb.stop()
	if cur, err := p.Cursor(bg, consumer); err != nil || cur != all[len(all)-1].Seq {
		t.Errorf("cursor %d, %v; want %d", cur, err, all[len(all)-1].Seq)
	}
}

// syncBuffer is a strings.Builder safe for the loggers of two Runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A holder waiting out a backoff keeps the name over the wait, the next
// attempt and a lease after it, as the package doc says ("before each
// batch, each attempt and each wait … it makes sure the hold covers what
// it starts and half a lease after"): with a lease of 30s, a timeout of
// 10s and a backoff of 60s (80s less a quarter, every draw 0.5), the
// hold written before the wait ends 100s after the failed attempt.
// Another Deliverer finds the name held at 99s, though the lease alone
// ran out at 30s, and takes it over at 100s, as from a holder that died
// in its wait. The holder, woken, finds it taken over and stops: the
// change it was retrying is the new holder's to deliver, not a dead
// letter.
func TestLeaseKeptOverABackoff(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice") // growth, points and the level she joins
	chs := feedAll(t, p)
	clk := &fakeClock{t: now}
	failing := newReceiver(t, func(request) action { return fail })
	rc := newCounter(t, clk)
	parked, resume := make(chan time.Duration), make(chan struct{})
	wait := func(ctx context.Context, d time.Duration) error {
		parked <- d
		select {
		case <-resume:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a, err := webhook.New(p, st, consumer, failing.srv.URL, []byte(secret), webhook.WithClock(clk.now),
		webhook.WithWait(wait), webhook.WithRand(halves{}), webhook.WithBackoff(80*time.Second, 10*time.Minute),
		webhook.WithTimeout(10*time.Second), webhook.WithLease(30*time.Second), webhook.WithAttempts(2),
		webhook.WithParallel(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clk.now),
		webhook.WithWait((&waits{}).wait), webhook.WithTimeout(10*time.Second), webhook.WithLease(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Flush(bg)
		aDone <- err
	}()
	if d := <-parked; d != 60*time.Second {
		t.Fatalf("a waits %v after its failed attempt, want 60s", d)
	}
	clk.add(99 * time.Second)
	if _, err := b.Flush(bg); !errors.Is(err, webhook.ErrBusy) {
		t.Fatalf("Flush 99s into a's wait = %v, want ErrBusy", err)
	}
	clk.add(time.Second)
	if n, err := b.Flush(bg); err != nil || n != len(chs) {
		t.Fatalf("Flush 100s into a's wait = %d, %v; want %d, nil", n, err, len(chs))
	}
	close(resume)
	if err := <-aDone; !errors.Is(err, webhook.ErrBusy) {
		t.Errorf("the woken holder's Flush = %v, want ErrBusy", err)
	}
	rc.onceEach(t, chs)
	if n := len(failing.requests()); n != 1 {
		t.Errorf("a sent %d requests, want its one failed attempt", n)
	}
	if s := a.Stats(); s != (webhook.Stats{}) {
		t.Errorf("a's Stats = %+v, want none: it stopped before its second attempt", s)
	}
	dead, err := b.DeadLetters(bg, 0, 10)
	if err != nil || len(dead) != 0 {
		t.Errorf("DeadLetters = %v, %v; want none", dead, err)
	}
	if cur, err := p.Cursor(bg, consumer); err != nil || cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, %v; want %d", cur, err, chs[len(chs)-1].Seq)
	}
}

// Run's backoff after a failure of the feed or the store is a wait the
// lease covers, as the poll is. The feed fails once; the backoff is
// 80s·¾ = 60s (base 80s, jitter 0.5), so Run renews the hold, taken for
// 30s, to 60s + a lease of 30s: 90s. Another Deliverer of the name finds
// it held 89s into the wait, and takes it over at 90s, a lease after the
// wait's end, as from a holder that died in it. (The hold was not
// renewed: taken over from 30s on, in the middle of a live holder's
// backoff.)
func TestRunKeepsTheLeaseOverABackoff(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	chs := feedAll(t, p)
	clk := &fakeClock{t: now}
	rc := newCounter(t, clk)
	b, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clk.now),
		webhook.WithWait((&waits{}).wait), webhook.WithTimeout(10*time.Second), webhook.WithLease(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var ws []time.Duration
	var at89, at90 error
	var n90 int
	wait := func(ctx context.Context, d time.Duration) error {
		if ws = append(ws, d); len(ws) == 1 {
			clk.add(89 * time.Second)
			_, at89 = b.Flush(bg)
			clk.add(time.Second)
			n90, at90 = b.Flush(bg)
		}
		cancel()
		return ctx.Err()
	}
	a, err := webhook.New(&flakyFeed{cursorOf: cursorOf{p}, fails: 1}, st, consumer, rc.srv.URL, []byte(secret),
		webhook.WithClock(clk.now), webhook.WithWait(wait), webhook.WithRand(halves{}),
		webhook.WithBackoff(80*time.Second, 10*time.Minute), webhook.WithTimeout(10*time.Second),
		webhook.WithLease(30*time.Second), webhook.WithPoll(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if len(ws) != 1 || ws[0] != 60*time.Second {
		t.Errorf("Run waited %v, want [1m0s]", ws)
	}
	if !errors.Is(at89, webhook.ErrBusy) {
		t.Errorf("Flush 89s into the backoff = %v, want ErrBusy", at89)
	}
	if at90 != nil || n90 != len(chs) {
		t.Errorf("Flush 90s into the backoff = %d, %v; want %d, nil", n90, at90, len(chs))
	}
	rc.onceEach(t, chs)
}
