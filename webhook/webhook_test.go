package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// An endpoint that fails, times out and drops connections at random
// loses nothing, gets each member's changes in feed order, and gets no
// request twice but for retries; the cursor never passes a change that
// is neither acknowledged nor dead-lettered.
func TestChaos(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { chaos(t, seed) })
	}
}

func chaos(t *testing.T, seed uint64) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	members := []string{"m0", "m1", "m2", "m3", "m4", "m5"}
	orders(t, p, "a", 6, members...)
	chs := feedAll(t, p)
	seqs := bySeq(chs)
	const attempts = 5
	rng := rand.New(rand.NewPCG(seed, 99))
	rc := newReceiver(t, func(r request) action {
		if r.Member == "m0" && r.Seq%5 == 0 {
			return fail // always: these become dead letters
		}
		switch x := rng.IntN(100); {
		case x < 20:
			return fail
		case x < 25:
			return hang
		case x < 35:
			return drop
		}
		return ack
	})
	snd := newSender()
	w := &waits{}
	var d *webhook.Deliverer
	var guardMu sync.Mutex
	var passed []string
	guard := &guardedFeed{Program: p, check: func(cursor uint64) {
		guardMu.Lock()
		defer guardMu.Unlock()
		dead := map[uint64]bool{}
		dls, err := d.DeadLetters(ctx, 0, 1000)
		if err != nil {
			t.Error(err)
		}
		for _, dl := range dls {
			dead[dl.Change.Seq] = true
		}
		for _, c := range chs {
			if c.Seq <= cursor && !dead[c.Seq] && !snd.acked(deliveryID(t, c)) {
				passed = append(passed, deliveryID(t, c))
			}
		}
	}}
	d, err := webhook.New(guard, st, consumer, rc.srv.URL, []byte(secret),
		webhook.WithClient(snd.client()), webhook.WithClock(clock), webhook.WithWait(w.wait),
		webhook.WithAttempts(attempts), webhook.WithTimeout(500*time.Millisecond),
		webhook.WithParallel(4), webhook.WithBatch(16))
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(chs) {
		t.Errorf("Flush handled %d changes, want %d", n, len(chs))
	}
	if len(passed) > 0 {
		t.Errorf("the cursor passed changes neither acknowledged nor dead-lettered: %v", passed)
	}
	if cur, err := p.Cursor(ctx, consumer); err != nil || cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, %v; want %d", cur, err, chs[len(chs)-1].Seq)
	}
	if guard.moves < 3 {
		t.Errorf("the cursor moved %d times; want one per batch of 16 of %d changes", guard.moves, len(chs))
	}

	dls, err := d.DeadLetters(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	dead := map[uint64]webhook.DeadLetter{}
	for _, dl := range dls {
		dead[dl.Change.Seq] = dl
	}
	got := rc.requests()
	// Nothing lost: each change acknowledged (seen by the sender) or dead.
	delivered, forced := 0, 0
	for _, c := range chs {
		id := deliveryID(t, c)
		_, isDead := dead[c.Seq]
		switch {
		case snd.acked(id) && isDead:
			t.Errorf("change %d both acknowledged and dead-lettered", c.Seq)
		case snd.acked(id):
			delivered++
		case !isDead:
			t.Errorf("change %d lost: neither acknowledged nor dead-lettered", c.Seq)
		}
		if c.Member == "m0" && c.Seq%5 == 0 {
			forced++
			if dl, ok := dead[c.Seq]; !ok || dl.Attempts != attempts || dl.Status != http.StatusServiceUnavailable {
				t.Errorf("change %d: dead letter %+v, %v; want %d attempts ending in 503", c.Seq, dl, ok, attempts)
			}
		}
	}
	if forced == 0 {
		t.Fatal("no change was forced to the dead letters; the test proves less than it says")
	}
	// Each member's requests arrive in feed order: a later change only
	// after every attempt at the earlier ones.
	last := map[string]uint64{}
	for _, r := range got {
		if r.Seq < last[r.Member] {
			t.Errorf("member %s: change %d arrived after change %d", r.Member, r.Seq, last[r.Member])
		}
		last[r.Member] = r.Seq
		if !sameChange(t, r.Change, seqs[r.Seq]) {
			t.Errorf("change %d arrived as %s", r.Seq, r.Change)
		}
	}
	// No duplicate beyond retries: each (ID, attempt) once, at most the
	// attempts allowed, and no more requests than the sender made.
	type key struct {
		id      string
		attempt int
	}
	seen := map[key]bool{}
	perID := map[string]int{}
	for _, r := range got {
		k := key{r.ID, r.Attempt}
		if seen[k] || r.Attempt < 1 || r.Attempt > attempts {
			t.Errorf("request %s attempt %d: again or out of range", r.ID, r.Attempt)
		}
		seen[k] = true
		perID[r.ID]++
	}
	sent := 0
	for id, k := range perID {
		if k > snd.sent[id] {
			t.Errorf("%s received %d times, sent %d", id, k, snd.sent[id])
		}
	}
	for _, k := range snd.sent {
		sent += k
	}
	s := d.Stats()
	want := webhook.Stats{Delivered: uint64(delivered), Dead: uint64(len(dls)), Retried: uint64(sent - len(chs))}
	if s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if s.Retried == 0 || len(got) == len(chs) {
		t.Errorf("no retries (%d requests for %d changes): the faults did not happen", len(got), len(chs))
	}
	t.Logf("%d changes, %d requests, stats %+v", len(chs), len(got), s)
}

// guardedFeed is a feed whose SetCursor calls check first and counts the
// moves.
type guardedFeed struct {
	Program webhook.Feed
	check   func(cursor uint64)
	moves   int
}

func (g *guardedFeed) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	return g.Program.Feed(ctx, after, limit)
}

func (g *guardedFeed) Cursor(ctx context.Context, c string) (uint64, error) {
	return g.Program.Cursor(ctx, c)
}

func (g *guardedFeed) SetCursor(ctx context.Context, c string, seq uint64) error {
	g.check(seq)
	g.moves++
	return g.Program.SetCursor(ctx, c, seq)
}

// Each failed attempt is followed by a wait of base·2^(n-1), at most max,
// jittered: with every draw r = 0.5 the waits are three quarters of that.
func TestBackoffWaits(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	chs := feedAll(t, p)
	rc := newReceiver(t, func(request) action { return fail })
	w := &waits{}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithWait(w.wait),
		webhook.WithClock(clock), webhook.WithRand(halves{}), webhook.WithAttempts(4),
		webhook.WithBackoff(time.Second, 3*time.Second), webhook.WithParallel(1), webhook.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Per change: waits of 1s, 2s, 3s (4s capped), each less a quarter.
	var want []time.Duration
	for range chs {
		want = append(want, 750*time.Millisecond, 1500*time.Millisecond, 2250*time.Millisecond)
	}
	if got := w.list(); !equalDurations(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if got := len(rc.requests()); got != 4*len(chs) {
		t.Errorf("%d requests, want 4 for each of %d changes", got, len(chs))
	}
	// Each failed attempt but the last is a warning, each dead letter an error.
	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"webhook: attempt failed\""); n != 3*len(chs) {
		t.Errorf("%d warnings of failed attempts, want %d:\n%s", n, 3*len(chs), out)
	}
	id := deliveryID(t, chs[0])
	if n := strings.Count(out, "level=ERROR msg=\"webhook: dead-lettered\" consumer=crm id="+id); n != 1 {
		t.Errorf("the dead letter of %s logged %d times, want once:\n%s", id, n, out)
	}
}

// The defaults, as WithBackoff's doc and README state them: 8 attempts,
// waits from 1s doubling (below the 5m cap), so the seven waits add up to
// 127s less the jitter, at most half: with every draw r = 0.5, 95.25s.
func TestDefaultBackoff(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	rc := newReceiver(t, func(request) action { return fail })
	w := &waits{}
	d, err := webhook.New(&staticFeed{chs: feedAll(t, p)[:1]}, st, consumer, rc.srv.URL, []byte(secret), webhook.WithWait(w.wait),
		webhook.WithClock(clock), webhook.WithRand(halves{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second,
		12 * time.Second, 24 * time.Second, 48 * time.Second}
	got := w.list()
	if !equalDurations(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	var sum time.Duration
	for _, d := range got {
		sum += d
	}
	if sum != 95250*time.Millisecond || len(rc.requests()) != 8 {
		t.Errorf("waits add up to %v over %d requests, want 95.25s over 8", sum, len(rc.requests()))
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A 2xx acknowledges; any other status, a redirect included, is a failed
// attempt.
func TestStatuses(t *testing.T) {
	for _, tt := range []struct {
		status int
		ok     bool
	}{{200, true}, {201, true}, {204, true}, {302, false}, {400, false}, {404, false}, {500, false}} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			ctx := context.Background()
			st := memory.New()
			p := openProgram(t, st)
			orders(t, p, "a", 1, "alice")
			chs := feedAll(t, p)
			var mu sync.Mutex
			calls := 0
			srv := newStatusServer(t, tt.status, &mu, &calls)
			d, err := webhook.New(p, st, consumer, srv, []byte(secret), webhook.WithWait((&waits{}).wait),
				webhook.WithAttempts(2))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			s := d.Stats()
			want := webhook.Stats{Delivered: uint64(len(chs))}
			if !tt.ok {
				want = webhook.Stats{Retried: uint64(len(chs)), Dead: uint64(len(chs))}
			}
			if s != want {
				t.Errorf("Stats = %+v, want %+v", s, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if wantCalls := int(want.Delivered + 2*want.Dead); calls != wantCalls {
				t.Errorf("%d requests reached the endpoint, want %d (a redirect is not followed)", calls, wantCalls)
			}
		})
	}
}

func newStatusServer(t *testing.T, status int, mu *sync.Mutex, calls *int) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*calls++
		mu.Unlock()
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*calls++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// An endpoint that does not answer within the timeout gets the same
// delivery again after the backoff.
func TestTimeoutThenRetry(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	chs := feedAll(t, p)
	first := true
	rc := newReceiver(t, func(request) action {
		if first {
			first = false
			return hang
		}
		return ack
	})
	w := &waits{}
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithWait(w.wait),
		webhook.WithClock(clock), webhook.WithRand(halves{}), webhook.WithTimeout(time.Second),
		webhook.WithParallel(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != len(chs)+1 || got[0].ID != got[1].ID || got[0].Attempt != 1 || got[1].Attempt != 2 {
		t.Fatalf("requests %+v; want the first change twice (attempts 1 and 2), then one each", got)
	}
	if s := d.Stats(); s != (webhook.Stats{Delivered: uint64(len(chs)), Retried: 1}) {
		t.Errorf("Stats = %+v", s)
	}
	if ws := w.list(); !equalDurations(ws, []time.Duration{750 * time.Millisecond}) {
		t.Errorf("waits %v, want [750ms]", ws)
	}
}

// A stop part-way stores the cursor over what was done; the next
// deliverer resumes there and sends nothing the cursor passed.
func TestRestartResumesFromTheCursor(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 3, "alice", "bob")
	chs := feedAll(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := 0
	rc := newReceiver(t, func(request) action {
		if acks++; acks == 5 {
			cancel() // the host stops it while the fifth is answered
		}
		return ack
	})
	snd := newSender()
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClient(snd.client()),
		webhook.WithClock(clock), webhook.WithWait((&waits{}).wait), webhook.WithParallel(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush after the stop: %v, want context.Canceled", err)
	}
	cur, err := p.Cursor(context.Background(), consumer)
	if err != nil {
		t.Fatal(err)
	}
	// One lane at a time, alice's changes first: the first four are done
	// before the fifth is sent; the fifth's answer may be lost in the stop.
	if cur < chs[3].Seq || cur > chs[4].Seq {
		t.Fatalf("cursor %d after the stop, want %d or %d", cur, chs[3].Seq, chs[4].Seq)
	}
	for _, c := range chs {
		if c.Seq <= cur && !snd.acked(deliveryID(t, c)) {
			t.Errorf("cursor %d passed change %d, never acknowledged", cur, c.Seq)
		}
	}
	before := len(rc.requests())

	d2, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClient(snd.client()),
		webhook.WithClock(clock), webhook.WithWait((&waits{}).wait))
	if err != nil {
		t.Fatal(err)
	}
	n, err := d2.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wantN int
	for _, c := range chs {
		if c.Seq > cur {
			wantN++
		}
	}
	if n != wantN {
		t.Errorf("the restart handled %d changes, want the %d after the cursor", n, wantN)
	}
	for _, r := range rc.requests()[before:] {
		if r.Seq <= cur {
			t.Errorf("the restart sent change %d, which the cursor %d had passed", r.Seq, cur)
		}
	}
	for _, c := range chs {
		if !snd.acked(deliveryID(t, c)) {
			t.Errorf("change %d never acknowledged", c.Seq)
		}
	}
}

// Run delivers what is in the feed, polls while it is empty, delivers
// what comes, and returns ctx's error when stopped; Flush is refused
// while it runs.
func TestRun(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 2, "alice", "bob")
	rc := newReceiver(t, nil)
	const poll = 7 * time.Second
	polled := make(chan struct{})
	tick := make(chan struct{})
	wait := func(ctx context.Context, d time.Duration) error {
		if d != poll {
			t.Errorf("Run waited %v with nothing failing", d)
		}
		select {
		case polled <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-tick:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait(wait), webhook.WithPoll(poll))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	<-polled // the feed is drained
	if got, want := len(rc.requests()), len(feedAll(t, p)); got != want {
		t.Errorf("%d requests before the first poll, want %d", got, want)
	}
	if _, err := d.Flush(context.Background()); !errors.Is(err, webhook.ErrBusy) {
		t.Errorf("Flush during Run: %v, want ErrBusy", err)
	}
	if err := d.Run(context.Background()); !errors.Is(err, webhook.ErrBusy) {
		t.Errorf("a second Run: %v, want ErrBusy", err)
	}
	orders(t, p, "b", 1, "carol")
	tick <- struct{}{}
	<-polled
	all := feedAll(t, p)
	if got := len(rc.requests()); got != len(all) {
		t.Errorf("%d requests after the next poll, want %d", got, len(all))
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if s := d.Stats(); s.Delivered != uint64(len(all)) {
		t.Errorf("Stats = %+v, want %d delivered", s, len(all))
	}
}

// cursorOf forwards the cursor calls to a feed.
type cursorOf struct{ inner webhook.Feed }

func (c cursorOf) Cursor(ctx context.Context, consumer string) (uint64, error) {
	return c.inner.Cursor(ctx, consumer)
}

func (c cursorOf) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	return c.inner.SetCursor(ctx, consumer, seq)
}

// flakyFeed fails its first fails reads (all, when negative).
type flakyFeed struct {
	cursorOf
	mu    sync.Mutex
	fails int
}

var errFlaky = errors.New("feed down")

func (f *flakyFeed) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails != 0 {
		f.fails--
		return nil, errFlaky
	}
	return f.inner.Feed(ctx, after, limit)
}

// Run rides out a feed that fails for a while, waiting a backoff after
// each failure, and returns the error when it fails attempts times in a
// row.
func TestRunFeedFailures(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		st := memory.New()
		p := openProgram(t, st)
		orders(t, p, "a", 1, "alice")
		rc := newReceiver(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ws []time.Duration
		wait := func(ctx context.Context, d time.Duration) error {
			if ws = append(ws, d); len(ws) == 3 {
				cancel() // the first poll after the failures: stop
			}
			return ctx.Err()
		}
		d, err := webhook.New(&flakyFeed{cursorOf: cursorOf{p}, fails: 2}, st, consumer, rc.srv.URL, []byte(secret),
			webhook.WithWait(wait), webhook.WithClock(clock), webhook.WithRand(halves{}), webhook.WithAttempts(3), webhook.WithPoll(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, time.Hour}; !equalDurations(ws, want) {
			t.Errorf("waits %v, want %v", ws, want)
		}
		if got, want := len(rc.requests()), len(feedAll(t, p)); got != want {
			t.Errorf("%d requests, want %d", got, want)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		st := memory.New()
		p := openProgram(t, st)
		w := &waits{}
		d, err := webhook.New(&flakyFeed{cursorOf: cursorOf{p}, fails: -1}, st, consumer, "http://127.0.0.1:1/", []byte(secret),
			webhook.WithWait(w.wait), webhook.WithAttempts(3))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(context.Background()); !errors.Is(err, errFlaky) {
			t.Errorf("Run = %v, want the feed's error", err)
		}
		if got := len(w.list()); got != 2 {
			t.Errorf("%d waits, want 2 (between three failures)", got)
		}
	})
}

// backwardFeed returns a change at or before the cursor.
type backwardFeed struct{ cursorOf }

func (backwardFeed) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	return []change.Change{{Seq: after + 2, Kind: "x"}, {Seq: after + 1, Kind: "x"}}, nil
}

// A feed whose positions do not increase is damaged: nothing is sent and
// the cursor stays.
func TestFeedOutOfOrderIsCorrupt(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	rc := newReceiver(t, nil)
	d, err := webhook.New(backwardFeed{cursorOf{p}}, st, consumer, rc.srv.URL, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(context.Background()); !errors.Is(err, webhook.ErrCorrupt) {
		t.Errorf("Flush = %v, want ErrCorrupt", err)
	}
	if len(rc.requests()) != 0 {
		t.Error("requests sent from a damaged feed")
	}
	if cur, _ := p.Cursor(context.Background(), consumer); cur != 0 {
		t.Errorf("cursor %d, want 0", cur)
	}
}

// New refuses each unusable argument or option with ErrInvalidArgument,
// and its message names it: a nil option used to say only "nil option",
// and a parallel of 1<<30 was taken.
func TestNewRejects(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	ok := "http://127.0.0.1:9/hook"
	tests := []struct {
		name     string
		feed     webhook.Feed
		name2    string
		endpoint string
		secret   string
		opts     []webhook.Option
		names    string // what the error names
	}{
		{"nil feed", nil, consumer, ok, secret, nil, "feed"},
		{"empty name", p, "", ok, secret, nil, "name"},
		{"name with NUL", p, "a\x00b", ok, secret, nil, "name"},
		{"name too long", p, strings.Repeat("n", 257), ok, secret, nil, "name"},
		{"endpoint not a URL", p, consumer, "::", secret, nil, "endpoint"},
		{"endpoint without scheme", p, consumer, "example.com/hook", secret, nil, "endpoint"},
		{"ftp endpoint", p, consumer, "ftp://example.com/hook", secret, nil, "endpoint"},
		{"endpoint without host", p, consumer, "http:///hook", secret, nil, "endpoint"},
		{"short secret", p, consumer, ok, "fifteen bytes!!", nil, "secret"},
		{"zero attempts", p, consumer, ok, secret, []webhook.Option{webhook.WithAttempts(0)}, "attempts"},
		{"zero base", p, consumer, ok, secret, []webhook.Option{webhook.WithBackoff(0, time.Second)}, "backoff"},
		{"max below base", p, consumer, ok, secret, []webhook.Option{webhook.WithBackoff(time.Minute, time.Second)}, "backoff"},
		{"zero poll", p, consumer, ok, secret, []webhook.Option{webhook.WithPoll(0)}, "poll"},
		{"negative timeout", p, consumer, ok, secret, []webhook.Option{webhook.WithTimeout(-time.Second)}, "timeout"},
		{"short extra secret", p, consumer, ok, secret, []webhook.Option{webhook.WithExtraSecrets([]byte(secret), []byte("short"))}, "extra secret 2 of 5 bytes, at least 16 (WithExtraSecrets)"},
		{"zero lease", p, consumer, ok, secret, []webhook.Option{webhook.WithLease(0)}, "lease 0s, at least 1s (WithLease)"},
		{"lease under a second", p, consumer, ok, secret, []webhook.Option{webhook.WithLease(999 * time.Millisecond)}, "lease 999ms"},
		{"zero parallel", p, consumer, ok, secret, []webhook.Option{webhook.WithParallel(0)}, "parallel 0"},
		{"parallel above the maximum", p, consumer, ok, secret, []webhook.Option{webhook.WithParallel(webhook.MaxParallel + 1)}, "parallel 1025, 1 to 1024"},
		{"parallel of 1<<30", p, consumer, ok, secret, []webhook.Option{webhook.WithParallel(1 << 30)}, "parallel 1073741824"},
		{"batch too large", p, consumer, ok, secret, []webhook.Option{webhook.WithBatch(10001)}, "batch"},
		{"nil client", p, consumer, ok, secret, []webhook.Option{webhook.WithClient(nil)}, "WithClient"},
		{"nil clock", p, consumer, ok, secret, []webhook.Option{webhook.WithClock(nil)}, "WithClock"},
		{"nil wait", p, consumer, ok, secret, []webhook.Option{webhook.WithWait(nil)}, "WithWait"},
		{"nil rand", p, consumer, ok, secret, []webhook.Option{webhook.WithRand(nil)}, "WithRand"},
		{"nil logger", p, consumer, ok, secret, []webhook.Option{webhook.WithLogger(nil)}, "WithLogger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := webhook.New(tt.feed, st, tt.name2, tt.endpoint, []byte(tt.secret), tt.opts...)
			if !errors.Is(err, webhook.ErrInvalidArgument) || d != nil {
				t.Errorf("New = %v, %v; want ErrInvalidArgument", d, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.names) {
				t.Errorf("New: %q does not name %q", err, tt.names)
			}
		})
	}
	// A nil Option is refused, not called: New panicked on it.
	if d, err := webhook.New(p, st, consumer, ok, []byte(secret), webhook.WithAttempts(2), nil); !errors.Is(err, webhook.ErrInvalidArgument) ||
		d != nil || !strings.Contains(err.Error(), "option 2 of 2 is nil") {
		t.Errorf("New with a nil Option = %v, %v; want ErrInvalidArgument naming option 2 of 2", d, err)
	}
	if _, err := webhook.New(p, nil, consumer, ok, []byte(secret)); !errors.Is(err, webhook.ErrInvalidArgument) || !strings.Contains(err.Error(), "store") {
		t.Errorf("New with a nil store = %v, want ErrInvalidArgument naming the store", err)
	}
	if _, err := webhook.New(p, st, consumer, ok, []byte(secret), webhook.WithParallel(webhook.MaxParallel)); err != nil {
		t.Errorf("New with MaxParallel lanes: %v", err)
	}
}

// A redirect is a failed attempt with a client of the host's own too
// (WithClient, for a proxy or TLS settings), whose CheckRedirect is
// nil: such a client followed a 302 with a GET of the other address
// without the body, and its 200 counted as the change acknowledged,
// though the endpoint never took it.
func TestOwnClientDoesNotFollowRedirects(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			ctx := context.Background()
			st := memory.New()
			p := openProgram(t, st)
			orders(t, p, "a", 1, "alice")
			chs := feedAll(t, p)
			var (
				mu              sync.Mutex
				hook, elsewhere int
			)
			mux := http.NewServeMux()
			mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hook++
				mu.Unlock()
				http.Redirect(w, r, "/elsewhere", status)
			})
			mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				elsewhere++
				mu.Unlock()
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			own := &http.Client{Timeout: time.Minute}
			d, err := webhook.New(p, st, consumer, srv.URL+"/hook", []byte(secret), webhook.WithClient(own),
				webhook.WithWait((&waits{}).wait), webhook.WithAttempts(2))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			n := uint64(len(chs))
			if s := d.Stats(); s != (webhook.Stats{Retried: n, Dead: n}) {
				t.Errorf("Stats = %+v, want every change retried once and dead", s)
			}
			mu.Lock()
			defer mu.Unlock()
			if hook != 2*len(chs) || elsewhere != 0 {
				t.Errorf("%d requests to the endpoint, %d to the redirect's target; want %d and 0", hook, elsewhere, 2*len(chs))
			}
			if own.CheckRedirect != nil {
				t.Error("New changed the host's client")
			}
		})
	}
}

// Any 2xx acknowledges the change, as the package doc says, whatever
// becomes of the response's body: the status is the receiver's answer.
// A 200 whose body broke off (a Content-Length of 100, 5 bytes sent, the
// connection closed) used to count as a failed attempt, so a change
// acknowledged on every attempt was retried and dead-lettered with
// status 200.
func TestTwoHundredWithABrokenBodyAcknowledges(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	chs := feedAll(t, p)
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		mu.Lock()
		calls++
		mu.Unlock()
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	d, err := webhook.New(p, st, consumer, srv.URL, []byte(secret), webhook.WithWait((&waits{}).wait),
		webhook.WithAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Flush(ctx)
	if err != nil || n != len(chs) {
		t.Fatalf("Flush = %d, %v; want %d", n, err, len(chs))
	}
	if s := d.Stats(); s != (webhook.Stats{Delivered: uint64(len(chs))}) {
		t.Errorf("Stats = %+v, want %d delivered, nothing retried or dead", s, len(chs))
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != len(chs) {
		t.Errorf("%d requests, want one a change (%d)", calls, len(chs))
	}
}

// stuckCursor is a feed whose SetCursor does not answer until its ctx is
// done, as a store behind a dead connection does.
type stuckCursor struct {
	cursorOf
	stuck chan struct{} // closed at the first SetCursor
	once  sync.Once
}

func (s *stuckCursor) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	return s.inner.Feed(ctx, after, limit)
}

func (s *stuckCursor) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	s.once.Do(func() { close(s.stuck) })
	<-ctx.Done()
	return ctx.Err()
}

// Run returns once ctx is cancelled even when the store does not answer
// the cursor's write: the write outlives ctx (so that a stop keeps what
// was delivered) by at most the attempt timeout. It used to wait for the
// store for ever, so a host's shutdown hung on a dead database.
func TestRunReturnsWhenTheCursorStoreHangs(t *testing.T) {
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	rc := newReceiver(t, nil)
	feed := &stuckCursor{cursorOf: cursorOf{p}, stuck: make(chan struct{})}
	d, err := webhook.New(feed, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait((&waits{}).wait), webhook.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-feed.stuck // every change acknowledged, the cursor's write under way
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second): // a guard, not a timing: Run returns after 50ms
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

// An endpoint that answers 429 or 503 with a Retry-After header gets the
// next attempt after the wait it asks for, in seconds or as a date, at
// most the backoff's longest; a header that is neither, or another
// status, leaves the backoff. It used to be ignored: the endpoint got the
// backoff's schedule whatever it asked.
func TestRetryAfterSetsTheWait(t *testing.T) {
	answers := []struct {
		status int
		header string
	}{
		{429, "2"},                             // 2s
		{503, "Sun, 01 Mar 2026 10:00:20 GMT"}, // 20s after the clock's now
		{429, "soon"},                          // bad: the third backoff, 4s less a quarter
		{503, "86400"},                         // a day: the backoff's longest, a minute
		{500, "30"},                            // another status: the fifth backoff, 16s less a quarter
		{200, ""},
	}
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := answers[min(calls, len(answers)-1)]
		calls++
		mu.Unlock()
		if a.header != "" {
			w.Header().Set("Retry-After", a.header)
		}
		w.WriteHeader(a.status)
	}))
	t.Cleanup(srv.Close)
	feed := &staticFeed{chs: []change.Change{{Seq: 1, Kind: "points.earned", Member: "alice", Time: now}}}
	w := &waits{}
	d, err := webhook.New(feed, memory.New(), consumer, srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait(w.wait), webhook.WithRand(halves{}), webhook.WithAttempts(len(answers)),
		webhook.WithBackoff(time.Second, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1", n, err)
	}
	want := []time.Duration{2 * time.Second, 20 * time.Second, 3 * time.Second, time.Minute, 12 * time.Second}
	if got := w.list(); !equalDurations(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if s := d.Stats(); s != (webhook.Stats{Delivered: 1, Retried: 5}) {
		t.Errorf("Stats = %+v, want delivered after 5 retries", s)
	}
}

// During a rotation a Deliverer signs with the new secret and the old
// (WithExtraSecrets): the header carries a v1 signature under each, the
// new one's first, so that a receiver on either secret verifies every
// request; one on a third secret does not.
func TestExtraSecretsSign(t *testing.T) {
	newSecret, oldSecret := []byte("whsec_new_0123456789"), []byte(secret)
	var (
		mu      sync.Mutex
		headers []string
		bodies  [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		headers = append(headers, r.Header.Get(webhook.HeaderSignature))
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	feed := &staticFeed{chs: []change.Change{{Seq: 1, Kind: "points.earned", Member: "alice", Time: now}}}
	given := bytes.Clone(oldSecret)
	d, err := webhook.New(feed, memory.New(), consumer, srv.URL, newSecret, webhook.WithClock(clock),
		webhook.WithExtraSecrets(given))
	if err != nil {
		t.Fatal(err)
	}
	given[0] ^= 0xff // New copied it
	if _, err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) != 1 {
		t.Fatalf("%d requests, want 1", len(headers))
	}
	h, body := headers[0], bodies[0]
	_, oldV1, _ := strings.Cut(webhook.Sign(oldSecret, now, body), ",")
	if want := webhook.Sign(newSecret, now, body) + "," + oldV1; h != want {
		t.Errorf("signature header %q, want %q", h, want)
	}
	for _, s := range [][]byte{newSecret, oldSecret} {
		if err := webhook.Verify(body, h, s, now, webhook.DefaultTolerance); err != nil {
			t.Errorf("Verify with %q: %v", s, err)
		}
	}
	if err := webhook.Verify(body, h, []byte("whsec_a_third_secret"), now, webhook.DefaultTolerance); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("Verify with a third secret = %v, want ErrSignatureMismatch", err)
	}
}

// Stats count each change once, though a failed write of the cursor
// makes the next Flush send the batch again. Alice's order publishes
// three changes; the endpoint acknowledges all but the second, which is
// dead-lettered at its one attempt. The first Flush sends the three and
// fails to store the cursor; the second sends them again and stores it.
// The cursor moved over 2 delivered changes and 1 dead letter: Stats are
// 2 and 1 (they were 4 and 2, a count for each send).
func TestStatsCountAChangeSentAgainOnce(t *testing.T) {
	bg := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice")
	chs := feedAll(t, p)
	if len(chs) != 3 {
		t.Fatalf("feed: %d changes, want 3", len(chs))
	}
	rc := newReceiver(t, func(r request) action {
		if r.Seq == chs[1].Seq {
			return fail
		}
		return ack
	})
	feed := &cursorDown{cursorOf: cursorOf{p}}
	feed.down.Store(true)
	d, err := webhook.New(feed, st, consumer, rc.srv.URL, []byte(secret),
		webhook.WithClock(clock), webhook.WithWait((&waits{}).wait), webhook.WithAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(bg); !errors.Is(err, errCursorDown) {
		t.Fatalf("first Flush = %v, want the cursor's error", err)
	}
	if s := d.Stats(); s != (webhook.Stats{}) {
		t.Errorf("Stats after the cursor failed = %+v, want none: the cursor passed nothing", s)
	}
	feed.down.Store(false)
	if n, err := d.Flush(bg); err != nil || n != 3 {
		t.Fatalf("second Flush = %d, %v; want 3, nil", n, err)
	}
	if got := len(rc.requests()); got != 6 {
		t.Errorf("%d requests, want each change twice (6)", got)
	}
	if s, want := d.Stats(), (webhook.Stats{Delivered: 2, Dead: 1}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}
