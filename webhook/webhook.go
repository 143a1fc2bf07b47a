package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store"
)

// Feed is the change feed a Deliverer reads, with the cursor it keeps
// there; *membership.Program satisfies it.
type Feed interface {
	// Feed returns up to limit changes after position after, in order.
	Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error)
	// Cursor returns the position stored for consumer (0 if none).
	Cursor(ctx context.Context, consumer string) (uint64, error)
	// SetCursor stores consumer's position.
	SetCursor(ctx context.Context, consumer string, seq uint64) error
}

// Errors of the Deliverer.
var (
	// ErrBusy is returned by Run and Flush while another Run or Flush of
	// the same Deliverer is under way, and wrapped by Flush's error while
	// another Deliverer of the same consumer name holds its lease, in this
	// process or another (see the package documentation): two would send
	// the same changes. A Run or Flush that finds its lease taken over
	// stops with an error wrapping it too.
	ErrBusy = errors.New("deliverer already running")
	// ErrUndelivered is wrapped by Replay's error when the endpoint did
	// not acknowledge the change in the attempts allowed; the dead letter
	// stays, with the attempts added.
	ErrUndelivered = errors.New("not delivered")
	// ErrNoDeadLetter is returned by Replay and Discard for a position
	// that has no dead letter.
	ErrNoDeadLetter = errors.New("no dead letter")
	// ErrCorrupt is returned for damaged data: a dead letter that does not
	// decode or names another position, or a feed whose positions do not
	// increase after the cursor. It wraps store.ErrCorrupt, which a host
	// already tests for damaged data from the store and the program.
	ErrCorrupt = fmt.Errorf("webhook: %w", store.ErrCorrupt)
)

// Delivery is the JSON body of every request: one change of the feed and
// its delivery ID.
type Delivery struct {
	// ID is the delivery ID (see DeliveryID), also in HeaderDelivery:
	// opaque to the receiver, which compares it and no more.
	ID string `json:"id"`
	// Change is the change as the feed has it, its position in Seq.
	Change change.Change `json:"change"`
}

// DeliveryID returns the ID of the delivery of change c, as the feed
// gives it, to consumer: "<consumer>-<seq>-<change>", where <consumer> is
// the first 16 hex digits of the SHA-256 of the consumer's name, <seq>
// c's feed position (c.Seq) in decimal, and <change> the first 16 hex
// digits of the SHA-256 of c's JSON as the body carries it, its time
// turned to UTC (see the package doc, Delivery IDs). It is the same in
// every attempt, after a restart and in a replay, so that a receiver keeps
// the IDs it has acted on and drops a request whose ID it has seen; two
// consumers of one feed get different IDs, and so do two different
// changes at one position (a store restored from a backup gives the
// positions of the history it lost to new changes). A receiver treats
// the ID as opaque: it compares it, it does not take it apart. A change
// that does not encode (Data that is no JSON), which no Deliverer can
// send either, is an error wrapping ErrCorrupt.
func DeliveryID(consumer string, c change.Change) (string, error) {
	sum, err := changeSum(c)
	if err != nil {
		return "", fmt.Errorf("webhook: delivery ID of change %d: %w: %w", c.Seq, ErrCorrupt, err)
	}
	return deliveryID(consumer, c.Seq, sum), nil
}

// deliveryID is DeliveryID's format, from the change's digest sum (see
// changeSum).
func deliveryID(consumer string, seq uint64, sum string) string {
	return legacyID(consumer, seq) + "-" + sum
}

// legacyID is the delivery ID of position seq to consumer as releases
// before the change's digest was added made it: "<consumer>-<seq>",
// DeliveryID's first two parts. A dead letter stored by one holds it, and
// Replay sends it again (see idOf and ownID).
func legacyID(consumer string, seq uint64) string {
	h := sha256.Sum256([]byte(consumer))
	return hex.EncodeToString(h[:8]) + "-" + strconv.FormatUint(seq, 10)
}

// changeSum returns the first 16 hex digits of the SHA-256 of c's JSON
// with its time in UTC: the feed gives times in the program's zone, whose
// offsets a time zone database update may move, and the instant is what
// the change holds.
func changeSum(c change.Change) (string, error) {
	c.Time = c.Time.UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

// MinSecretBytes is the shortest secret New accepts.
const MinSecretBytes = 16

// MaxParallel is the most lanes WithParallel accepts: each lane is a
// goroutine with a request open to the one endpoint, and more than that
// many at once is a flood, not a delivery.
const MaxParallel = 1024

// Stats are a Deliverer's counts since New (they are not stored).
type Stats struct {
	// Delivered counts the changes an endpoint acknowledged (2xx) when
	// Run or Flush sent them, each once, when the cursor moves over it: a
	// change sent again (the cursor's write failed, or a stop came before
	// it) is not counted again, and one whose cursor move is still to
	// come is not counted yet.
	Delivered uint64
	// Retried counts the attempts after the first of a change, by Run,
	// Flush and Replay.
	Retried uint64
	// Dead counts the changes dead-lettered after the last attempt, each
	// once, when the cursor moves over it, as Delivered does. Delivered
	// and Dead together grow by what Flush returns.
	Dead uint64
	// Replayed counts the dead letters Replay delivered.
	Replayed uint64
}

// A Deliverer sends a feed's changes to one endpoint, under one consumer
// name whose cursor it keeps in the feed. Build it with New, start it with
// Run; see the package documentation for what it guarantees. It is safe
// for concurrent use.
type Deliverer struct {
	feed        Feed
	st          store.Store
	name        string
	bucket      string // the dead letters'
	leaseBucket string
	token       string // this Deliverer's, in the lease it holds
	endpoint    string
	origin      string // the endpoint's scheme and host, which errors name
	secret      []byte
	extra       [][]byte // also signed with (WithExtraSecrets)

	client    *http.Client
	now       func() time.Time
	wait      func(ctx context.Context, d time.Duration) error
	log       *slog.Logger
	attempts  int
	base, max time.Duration
	poll      time.Duration
	timeout   time.Duration
	lease     time.Duration
	parallel  int
	batch     int

	randMu sync.Mutex // guards rand, which need not be safe for concurrent use
	rand   io.Reader

	busy                               atomic.Bool
	delivered, retried, dead, replayed atomic.Uint64
}

// Option configures New.
type Option func(*Deliverer)

// WithClient sets the HTTP client, for its transport (a proxy, TLS
// settings) and its timeout (default: a client on
// http.DefaultTransport). The Deliverer sends with a copy that follows no
// redirect, whatever the client's CheckRedirect says, so that a 3xx is a
// failed attempt, not a request to another address (which, after a 301,
// 302 or 303, is a GET without the body); c itself is not changed.
func WithClient(c *http.Client) Option { return func(d *Deliverer) { d.client = c } }

// WithClock sets the clock that stamps signatures and dead letters and
// dates the lease (default time.Now).
func WithClock(now func() time.Time) Option { return func(d *Deliverer) { d.now = now } }

// WithWait sets how the Deliverer waits between attempts and between
// polls of an empty feed: wait must return nil after d, or ctx's error
// once ctx is done, sooner. The default uses a timer; tests give one that
// records d and returns at once.
func WithWait(wait func(ctx context.Context, d time.Duration) error) Option {
	return func(d *Deliverer) { d.wait = wait }
}

// WithRand sets the source of the backoff's jitter (default crypto/rand):
// each wait reads 8 bytes of it, one wait at a time.
func WithRand(r io.Reader) Option { return func(d *Deliverer) { d.rand = r } }

// WithExtraSecrets sets secrets the Deliverer signs with besides the
// one given to New, for a rotation (see the package documentation): each
// request's signature header then carries a v1 signature under each, the
// secret given to New's first, "t=…,v1=<new>,v1=<old>", and a receiver
// verifies it with any of them. Each must be at least MinSecretBytes
// bytes; New copies them.
func WithExtraSecrets(secrets ...[]byte) Option {
	return func(d *Deliverer) {
		d.extra = make([][]byte, len(secrets))
		for i, s := range secrets {
			d.extra[i] = bytes.Clone(s)
		}
	}
}

// WithLogger sets the logger (default: discard). Failed attempts are
// logged at Warn, dead letters at Error, deliveries at Debug.
func WithLogger(l *slog.Logger) Option { return func(d *Deliverer) { d.log = l } }

// WithAttempts sets how many times a change is sent before it is
// dead-lettered (default 8, at least 1).
func WithAttempts(n int) Option { return func(d *Deliverer) { d.attempts = n } }

// WithBackoff sets the wait after a failed attempt: base after the first,
// doubling after each next one up to max, each jittered down by up to half
// (default 1s and 5m: the seven waits between the default eight attempts
// add up to 127s less the jitter, 63.5s to 127s, besides the attempts'
// own time, each at most the timeout). A 429 or 503 answer's Retry-After
// sets the wait instead, at most max.
func WithBackoff(base, max time.Duration) Option {
	return func(d *Deliverer) { d.base, d.max = base, max }
}

// WithPoll sets how long Run waits when the feed has nothing new
// (default 1s).
func WithPoll(every time.Duration) Option { return func(d *Deliverer) { d.poll = every } }

// WithTimeout sets how long one attempt may take, from connecting to
// reading the response (default 10s), and how long, once Run's or
// Flush's ctx is done, the cursor's write may still take. It bounds real
// I/O, so it runs on the standard library's timers, not on the clock of
// WithClock.
func WithTimeout(t time.Duration) Option { return func(d *Deliverer) { d.timeout = t } }

// WithLease sets how long the lease on the consumer name lasts (default
// 30s, at least 1s): a Deliverer renews it as it goes, over each attempt
// and each wait it starts, and another Deliverer of the name takes over
// once it has not been renewed for that long by its clock — after a
// crash, a lease and the span the holder last announced (an attempt's
// timeout, a backoff, a poll). It is also the margin for the clocks of
// the instances apart and for the write of the cursor (see the package
// documentation, "One Deliverer per name"): a shorter lease takes over
// sooner from a dead holder and sooner from a slow one.
func WithLease(d time.Duration) Option { return func(dl *Deliverer) { dl.lease = d } }

// WithParallel sets how many members' changes are sent at once (default
// 4, 1 to MaxParallel); 1 sends every change in feed order.
func WithParallel(n int) Option { return func(d *Deliverer) { d.parallel = n } }

// WithBatch sets how many changes are read from the feed at once (default
// 100, at most 10,000): the unit of parallelism and of cursor moves.
func WithBatch(n int) Option { return func(d *Deliverer) { d.batch = n } }

// New returns a Deliverer that sends the changes of feed after the cursor
// of consumer name to endpoint (an http or https URL), signed with secret
// (at least MinSecretBytes bytes), and keeps its dead letters in st, in
// the bucket "webhook.dead.<name>" (st may be the store of the program
// whose feed it reads, or another), and its lease on the name in the
// bucket "webhook.lease.<name>": the instances of an application that
// each run a Deliverer of the name give New the store they share. It
// returns an error wrapping ErrInvalidArgument for a nil feed or store, a
// name that is not an ID (1 to 256 bytes of UTF-8 without NUL), an
// unusable endpoint or secret, an option out of range or given nil, or a
// nil Option; the error names the argument or the option (WithClient(nil)
// names "client", a nil Option its place in opts).
func New(feed Feed, st store.Store, name, endpoint string, secret []byte, opts ...Option) (*Deliverer, error) {
	d := &Deliverer{
		feed: feed, st: st, name: name, bucket: "webhook.dead." + name, leaseBucket: "webhook.lease." + name,
		token: newToken(), endpoint: endpoint, secret: bytes.Clone(secret), client: &http.Client{},
		now: time.Now, wait: sleep, rand: rand.Reader, log: slog.New(slog.DiscardHandler),
		attempts: 8, base: time.Second, max: 5 * time.Minute, poll: time.Second,
		timeout: 10 * time.Second, lease: defaultLease, parallel: 4, batch: 100,
	}
	for i, o := range opts {
		if o == nil { // a host's option list built with a nil in it
			return nil, fmt.Errorf("webhook: new %q: %w: option %d of %d is nil", name, ErrInvalidArgument, i+1, len(opts))
		}
		o(d)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("webhook: new %q: %w: %w", name, ErrInvalidArgument, err)
	}
	u, _ := url.Parse(endpoint) // checked by check
	d.origin = u.Scheme + "://" + u.Host
	c := *d.client // a copy: the host's client stays as it was
	c.CheckRedirect = noRedirect
	d.client = &c
	return d, nil
}

// noRedirect makes a client return a 3xx response instead of following
// it: a redirect is a failed attempt.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// check reports the first unusable setting of a new Deliverer.
func (d *Deliverer) check() error {
	switch {
	case d.feed == nil:
		return errors.New("nil feed")
	case d.st == nil:
		return errors.New("nil store")
	case len(d.secret) < MinSecretBytes:
		return fmt.Errorf("secret of %d bytes, at least %d", len(d.secret), MinSecretBytes)
	case d.client == nil:
		return errors.New("client: nil (WithClient)")
	case d.now == nil:
		return errors.New("clock: nil (WithClock)")
	case d.wait == nil:
		return errors.New("wait: nil (WithWait)")
	case d.rand == nil:
		return errors.New("rand: nil (WithRand)")
	case d.log == nil:
		return errors.New("logger: nil (WithLogger)")
	case d.attempts < 1:
		return fmt.Errorf("attempts %d, at least 1", d.attempts)
	case d.base <= 0 || d.max < d.base:
		return fmt.Errorf("backoff %v to %v", d.base, d.max)
	case d.poll <= 0 || d.timeout <= 0:
		return fmt.Errorf("poll %v, timeout %v: not positive", d.poll, d.timeout)
	case d.lease < time.Second:
		// Shorter, it is within what the clocks of two machines and
		// their scheduling put between them.
		return fmt.Errorf("lease %v, at least 1s (WithLease)", d.lease)
	case d.parallel < 1 || d.parallel > MaxParallel:
		return fmt.Errorf("parallel %d, 1 to %d", d.parallel, MaxParallel)
	case d.batch < 1 || d.batch > 10000:
		return fmt.Errorf("batch %d, 1 to 10000", d.batch)
	}
	for i, s := range d.extra {
		if len(s) < MinSecretBytes {
			return fmt.Errorf("extra secret %d of %d bytes, at least %d (WithExtraSecrets)", i+1, len(s), MinSecretBytes)
		}
	}
	if err := event.CheckID(d.name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	u, err := url.Parse(d.endpoint)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q is not an http or https URL", d.endpoint)
	}
	return nil
}

// sleep is the default wait.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stats returns the counts since New.
func (d *Deliverer) Stats() Stats {
	return Stats{Delivered: d.delivered.Load(), Retried: d.retried.Load(),
		Dead: d.dead.Load(), Replayed: d.replayed.Load()}
}

// Run delivers the feed's changes until ctx is done, then returns ctx's
// error; the host starts it in a goroutine and stops it by cancelling ctx.
// It first takes the lease on the consumer name; while another Deliverer
// of the name holds it, Run polls for it at the poll interval, and takes
// over once that one releases it or stops renewing it. It stores the
// cursor over what was delivered and releases the lease before it
// returns, giving the store at most the attempt timeout (WithTimeout)
// after ctx is done for each. When the feed has nothing new it waits for
// the poll interval, keeping the lease. When it finds the lease taken
// over it stops sending, leaves the cursor as it is, and polls for the
// lease again. An error reading the feed or the cursor, storing the
// cursor, a dead letter or the lease is logged and tried again after a
// backoff, which the lease covers as it covers the poll (a hold that
// cannot be renewed for it is logged too), up to the attempts allowed in
// a row, and then returned, as is
// at once an error wrapping store.ErrClosed. It returns ErrBusy while
// another Run or Flush of this Deliverer is under way.
func (d *Deliverer) Run(ctx context.Context) error {
	if !d.busy.CompareAndSwap(false, true) {
		return fmt.Errorf("webhook: %s: run: %w", d.name, ErrBusy)
	}
	defer d.busy.Store(false)
	var l *lease
	defer func() {
		if l != nil {
			l.release(ctx)
		}
	}()
	fails := 0
	for {
		var err error
		if l == nil {
			l, err = d.acquire(ctx)
		}
		if l != nil {
			if _, err = d.flush(ctx, l); err == nil {
				err = l.keep(ctx, d.poll, false) // over the poll's wait
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pause := d.poll
		if errors.Is(err, ErrBusy) { // held by another, or taken over: poll for it
			d.log.Debug("webhook: lease held by another", "consumer", d.name, "err", err)
			l, err = nil, nil
		}
		if err != nil {
			fails++
			if fails >= d.attempts || errors.Is(err, store.ErrClosed) {
				return err
			}
			pause = d.backoff(fails)
			d.log.Warn("webhook: feed or store failed", "consumer", d.name, "failures", fails, "wait", pause, "err", err)
			if l != nil {
				// The backoff is a wait like the poll: the hold covers it,
				// or another Deliverer takes the name over in its middle.
				if err := l.keep(ctx, pause, false); errors.Is(err, ErrBusy) {
					l = nil // taken over: poll for it after the wait
				} else if err != nil {
					d.log.Warn("webhook: lease not renewed over the wait", "consumer", d.name, "wait", pause, "err", err)
				}
			}
		} else {
			fails = 0
		}
		if err := d.wait(ctx, pause); err != nil {
			return err
		}
	}
}

// Flush delivers (or dead-letters) every change after the cursor, a batch
// at a time, until the feed has no more, and returns how many changes it
// moved the cursor over. It is Run without the polling, for a host that
// drives delivery itself (from a cron job, or in tests): it takes the
// lease on the consumer name first and releases it before it returns. It
// returns an error wrapping ErrBusy while another Run or Flush of this
// Deliverer is under way, while another Deliverer of the name holds the
// lease, or when it finds its lease taken over (it then stops before
// moving the cursor further); ctx's error once ctx is done, and the
// errors of the feed and the store.
func (d *Deliverer) Flush(ctx context.Context) (int, error) {
	if !d.busy.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("webhook: %s: flush: %w", d.name, ErrBusy)
	}
	defer d.busy.Store(false)
	l, err := d.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer l.release(ctx)
	return d.flush(ctx, l)
}

func (d *Deliverer) flush(ctx context.Context, l *lease) (int, error) {
	total := 0
	for {
		n, more, err := d.flushBatch(ctx, l)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// flushBatch sends one batch of the feed: each member's changes in order,
// up to d.parallel members at once. It then moves the cursor over the
// longest prefix of the batch that is delivered or dead-lettered (all of
// it, unless ctx ended or a dead letter could not be stored), so the
// cursor never passes a change that is neither, and only while it holds
// the lease l. more reports a full batch.
func (d *Deliverer) flushBatch(ctx context.Context, l *lease) (n int, more bool, err error) {
	if err := l.keep(ctx, d.timeout, false); err != nil { // before reading the feed
		return 0, false, err
	}
	cur, err := d.feed.Cursor(ctx, d.name)
	if err != nil {
		return 0, false, fmt.Errorf("webhook: %s: read cursor: %w", d.name, err)
	}
	chs, err := d.feed.Feed(ctx, cur, d.batch)
	if err != nil {
		return 0, false, fmt.Errorf("webhook: %s: read feed after %d: %w", d.name, cur, err)
	}
	last := cur
	for _, c := range chs {
		if c.Seq <= last {
			return 0, false, fmt.Errorf("webhook: %s: %w: feed position %d after %d", d.name, ErrCorrupt, c.Seq, last)
		}
		last = c.Seq
	}
	stale, err := d.deadBetween(ctx, chs)
	if err != nil {
		return 0, false, err
	}
	// Each member's changes are a lane, sent in order; lanes run in
	// parallel. Changes without a member (program-wide) share one lane.
	var order []string
	lanes := make(map[string][]int)
	for i, c := range chs {
		if _, ok := lanes[c.Member]; !ok {
			order = append(order, c.Member)
		}
		lanes[c.Member] = append(lanes[c.Member], i)
	}
	done := make([]bool, len(chs)) // each lane writes its own indexes; read after Wait
	dead := make([]bool, len(chs)) // done as a dead letter, likewise
	// A lane that finds the lease taken over stops the others, in their
	// waits too, through lctx.
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		laneErr  error
		sem      = make(chan struct{}, d.parallel)
		stopping = lctx.Done()
	)
	for _, m := range order {
		select {
		case sem <- struct{}{}:
		case <-stopping:
			continue // the lanes not started stay undone
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := d.lane(lctx, l, chs, lanes[m], stale, done, dead); err != nil {
				if errors.Is(err, ErrBusy) {
					stop()
				}
				errMu.Lock()
				laneErr = cmpErr(laneErr, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if errors.Is(laneErr, ErrBusy) {
		return 0, false, laneErr // taken over: the cursor is the new holder's
	}
	for n < len(done) && done[n] {
		n++
	}
	if n > 0 {
		if err := d.saveCursor(ctx, l, chs[n-1].Seq); err != nil {
			return 0, false, fmt.Errorf("webhook: %s: store cursor %d: %w", d.name, chs[n-1].Seq, err)
		}
		// Counted once the cursor has passed them: a change sent again
		// (the cursor's write failed, a stop mid-batch) is counted once.
		var nDead uint64
		for _, x := range dead[:n] {
			if x {
				nDead++
			}
		}
		d.delivered.Add(uint64(n) - nDead)
		d.dead.Add(nDead)
	}
	if laneErr == nil {
		laneErr = ctx.Err()
	}
	return n, laneErr == nil && len(chs) == d.batch, laneErr
}

// saveCursor stores the cursor at seq, once a read of the lease in the
// store has found it still held by d, and renewed it for the attempt
// timeout and a lease: the cursor is the feed's (another store, maybe),
// so its write cannot join the lease's transaction; the renewal leaves it
// that long before another Deliverer may take over. The write outlives
// ctx, so that a stop does not send the delivered prefix again after a
// restart, but by at most the attempt timeout.
func (d *Deliverer) saveCursor(ctx context.Context, l *lease, seq uint64) error {
	sctx, cancel := d.outlive(ctx)
	defer cancel()
	if err := l.keep(sctx, d.timeout, true); err != nil {
		return err
	}
	return d.feed.SetCursor(sctx, d.name, seq)
}

// outlive returns a context for the writes that keep what a stopped Run
// did (the cursor, the lease's release): it ends with ctx's values, but
// only the attempt timeout after ctx is done, so that a store that does
// not answer does not keep Run from returning.
func (d *Deliverer) outlive(ctx context.Context) (context.Context, context.CancelFunc) {
	octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(d.timeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-octx.Done(): // the writes are over
		}
	})
	return octx, func() {
		stop()
		cancel()
	}
}

// cmpErr keeps the first error, unless it is ctx's and the next is not.
func cmpErr(first, next error) error {
	if first == nil || (isCtxErr(first) && !isCtxErr(next)) {
		return next
	}
	return first
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// lane sends the changes chs[idx...] in order, dead-lettering those the
// endpoint never acknowledged (marked in dead), and marks each in done. A change
// delivered whose position is in stale (dead-lettered by an earlier
// send the cursor did not pass) has its dead letter removed. It stops at
// ctx's end, at a dead letter it could not store or remove, or when l is
// lost.
func (d *Deliverer) lane(ctx context.Context, l *lease, chs []change.Change, idx []int, stale map[uint64]bool, done, dead []bool) error {
	for _, i := range idx {
		c := chs[i]
		id, err := d.idOf(ctx, c, stale[c.Seq])
		if err != nil {
			return err
		}
		f, err := d.send(ctx, l, id, c)
		if err != nil {
			return err
		}
		if f != nil {
			dl := DeadLetter{ID: id, Change: c, Attempts: f.attempts, Status: f.status, Error: f.err.Error(), At: d.now()}
			if err := d.putDead(ctx, dl, stale[c.Seq]); err != nil {
				return err
			}
			dead[i] = true
			d.log.Error("webhook: dead-lettered", "consumer", d.name, "id", id, "seq", c.Seq, "member", c.Member,
				"attempts", f.attempts, "status", f.status, "err", f.err)
		} else {
			d.log.Debug("webhook: delivered", "consumer", d.name, "id", id, "seq", c.Seq, "member", c.Member)
			if stale[c.Seq] {
				if err := d.deleteDead(ctx, c.Seq); err != nil && !errors.Is(err, ErrNoDeadLetter) {
					return fmt.Errorf("webhook: %s: remove the dead letter of %d, delivered: %w", d.name, c.Seq, err)
				}
			}
		}
		// Done only once the member's dead letters are gone: a failure
		// sends the erasure again, and drops them again.
		if c.Kind == change.MemberErased && c.Member != "" {
			if err := d.dropErased(ctx, c.Member, c.Seq); err != nil {
				return err
			}
		}
		done[i] = true
	}
	return nil
}

// failure is why a change was not delivered in the attempts allowed.
type failure struct {
	attempts int
	status   int // the last response's status; 0 if there was none
	err      error
}

// send posts the change until a 2xx answers or the attempts are spent,
// waiting a backoff between attempts. With a lease l (nil for Replay) it
// keeps l over each attempt and each wait. It returns (nil, nil) when the
// change is delivered, a failure when the attempts are spent, and an
// error, with no failure, when ctx ended, l was lost or the change does
// not encode.
func (d *Deliverer) send(ctx context.Context, l *lease, id string, c change.Change) (*failure, error) {
	body, err := json.Marshal(Delivery{ID: id, Change: c})
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: encode change %d: %w: %w", d.name, c.Seq, ErrCorrupt, err)
	}
	for attempt := 1; ; attempt++ {
		if l != nil {
			if err := l.keep(ctx, d.timeout, false); err != nil {
				return nil, err
			}
		}
		if attempt > 1 { // counted once made: a lease lost in the wait stops it
			d.retried.Add(1)
		}
		status, retry, err := d.post(ctx, id, attempt, body)
		if err == nil {
			return nil, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt == d.attempts {
			return &failure{attempts: attempt, status: status, err: err}, nil
		}
		pause, asked := retryAfter(status, retry, d.now(), d.max)
		if !asked {
			pause = d.backoff(attempt)
		}
		d.log.Warn("webhook: attempt failed", "consumer", d.name, "id", id, "seq", c.Seq, "member", c.Member,
			"attempt", attempt, "status", status, "wait", pause, "err", err)
		if l != nil {
			if err := l.keep(ctx, addSat(pause, d.timeout), false); err != nil { // the wait and the next attempt
				return nil, err
			}
		}
		if err := d.wait(ctx, pause); err != nil {
			return nil, err
		}
	}
}

// post makes one attempt; a nil error means a 2xx answered. retry is
// the response's Retry-After header.
func (d *Deliverer) post(ctx context.Context, id string, attempt int, body []byte) (status int, retry string, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderSignature, sign(d.now(), body, d.secret, d.extra...))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, "", d.hideURL(err)
	}
	// Read some of the body, so that the connection can be reused. The
	// status is the answer: a 2xx whose body breaks off is still an
	// acknowledgement (the receiver has taken the change), as it would
	// be with a body longer than what is read here.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry = resp.Header.Get("Retry-After")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, retry, fmt.Errorf("status %s", resp.Status)
	}
	return resp.StatusCode, retry, nil
}

// hideURL returns err, the client's error for an attempt, naming the
// endpoint by its scheme and host alone. The client's *url.Error names
// the URL it sent to, with a password masked but not a token in the path
// or the query (Slack's webhook URLs, "?token=…"), and its text is kept in
// a dead letter's Error and logged. The error stays a *url.Error with the
// same operation and the same error under it, so errors.Is and errors.As
// reach what the transport returned (a timeout, a refused connection).
// The client sends to the endpoint alone (it follows no redirect), so
// its scheme and host are the URL's.
func (d *Deliverer) hideURL(err error) error {
	ue, ok := err.(*url.Error) // what http.Client.Do returns
	if !ok {
		return err
	}
	return &url.Error{Op: ue.Op, URL: d.origin, Err: ue.Err}
}

// retryAfter returns the wait that a 429 (Too Many Requests) or 503
// (Service Unavailable) answer asks for in its Retry-After header (RFC
// 9110 §10.2.3): delay-seconds, or an HTTP-date, less now (no wait for a
// date past). The wait is at most longest, the backoff's, so that a
// header asking for days does not hold up a member's lane, and the batch,
// for days. asked is false for another status, no header, or a value of
// neither form: the backoff applies.
func retryAfter(status int, header string, now time.Time, longest time.Duration) (wait time.Duration, asked bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(header)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" { // delay-seconds: 1*DIGIT
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(longest/time.Second) { // too many digits for a uint64 is huge too
			return longest, true
		}
		return min(time.Duration(n)*time.Second, longest), true
	}
	at, err := http.ParseTime(v) // IMF-fixdate, RFC 850 or asctime
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), longest), true
}

// backoff is the wait after failed attempt n, jittered with d.rand.
func (d *Deliverer) backoff(n int) time.Duration {
	var b [8]byte
	d.randMu.Lock()
	_, err := io.ReadFull(d.rand, b[:])
	d.randMu.Unlock()
	r := uint64(math.MaxUint64) // without randomness, the longest wait
	if err == nil {
		r = binary.BigEndian.Uint64(b[:])
	}
	return backoff(d.base, d.max, n, r)
}

// backoff returns the wait after failed attempt n (1, 2, …): base
// doubled n-1 times, at most max, less up to half of it as r says, a
// fraction r/2⁶⁴ of [0, 1): from half the wait for r = 0 to all of it
// (less a nanosecond) as r nears 2⁶⁴. The jitter keeps the deliverers that
// failed together from retrying together; the half kept keeps the backoff
// growing.
func backoff(base, max time.Duration, n int, r uint64) time.Duration {
	w := base
	for i := 1; i < n && w < max; i++ {
		if w > max/2 {
			w = max // and no doubling past the largest Duration
			break
		}
		w *= 2
	}
	w = min(w, max)
	half := w / 2
	jitter, _ := bits.Mul64(uint64(w-half), r) // (w-half)·r/2⁶⁴, below w-half
	return half + time.Duration(jitter)
}
