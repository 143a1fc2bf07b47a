package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// An audit from the receiver's and the operator's side: what a receiver
// that verifies every request and de-duplicates on the delivery ID gets.

// Verify as a receiver meets headers: several v1 values in any order
// and place, white space around the fields, a body off by one byte, a
// timestamp half a second either side of the tolerance's edge, and a
// receiver whose secret was left empty. vecMAC is the HMAC of
// `1700000000.{"id":"x"}` under vecSecret (sign_test.go, by openssl).
func TestVerifyAsAReceiverMeetsIt(t *testing.T) {
	good := "t=1700000000,v1=" + vecMAC
	zeros := strings.Repeat("0", 64) // hex of the right length, not the MAC
	const tol = 5 * time.Minute
	at := func(d time.Duration) time.Time { return vecTime.Add(d) }
	tests := []struct {
		name   string
		body   string
		header string
		secret string
		now    time.Time
		want   error
	}{
		// Stripe's header is a list of fields: t need not come first.
		{"v1 before t", vecBody, "v1=" + vecMAC + ",t=1700000000", vecSecret, vecTime, nil},
		{"three v1, the good one in the middle", vecBody, "t=1700000000,v1=" + zeros + ",v1=" + vecMAC + ",v1=zz", vecSecret, vecTime, nil},
		{"three v1, none good", vecBody, "t=1700000000,v1=" + zeros + ",v1=zz,v1=", vecSecret, vecTime, webhook.ErrSignatureMismatch},
		{"an empty v1 alone", vecBody, "t=1700000000,v1=", vecSecret, vecTime, webhook.ErrSignatureMismatch},
		{"spaces and a tab around the fields", vecBody, "  t=1700000000 ,\tv1=" + vecMAC + " ", vecSecret, vecTime, nil},
		// A space after "=" is inside the value: " 1700000000" is not
		// unix seconds.
		{"a space after t=", vecBody, "t= 1700000000,v1=" + vecMAC, vecSecret, vecTime, webhook.ErrMalformedSignature},
		{"the body with a newline added", vecBody + "\n", good, vecSecret, vecTime, webhook.ErrSignatureMismatch},
		{"the body less its last byte", vecBody[:len(vecBody)-1], good, vecSecret, vecTime, webhook.ErrSignatureMismatch},
		{"the body with one letter's case changed", `{"iD":"x"}`, good, vecSecret, vecTime, webhook.ErrSignatureMismatch},
		// The timestamp is whole seconds: now − t is compared with the
		// tolerance, so half a second past it is out, half a second
		// short of it in, either way.
		{"half a second short of the tolerance, late", vecBody, good, vecSecret, at(tol - 500*time.Millisecond), nil},
		{"half a second past the tolerance, late", vecBody, good, vecSecret, at(tol + 500*time.Millisecond), webhook.ErrTimestampOutOfTolerance},
		{"half a second short of the tolerance, early", vecBody, good, vecSecret, at(-tol + 500*time.Millisecond), nil},
		{"half a second past the tolerance, early", vecBody, good, vecSecret, at(-tol - 500*time.Millisecond), webhook.ErrTimestampOutOfTolerance},
		// A receiver whose secret was not configured verifies nothing,
		// not even a request signed under the empty key, and says so
		// whatever the header.
		{"an empty secret and a header signed under it", vecBody, webhook.Sign(nil, vecTime, []byte(vecBody)), "", vecTime, webhook.ErrInvalidArgument},
		{"an empty secret and no header", vecBody, "", "", vecTime, webhook.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify([]byte(tt.body), tt.header, []byte(tt.secret), tt.now, tol)
			if !errors.Is(err, tt.want) { // errors.Is(nil, nil) holds
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Count(err.Error(), "webhook:") != 1 {
				t.Errorf("Verify = %q: the package named %d times, want once", err, strings.Count(err.Error(), "webhook:"))
			}
		})
	}
}

// auditReceiver is an endpoint as a host writes it: it verifies each
// request under the secret it is on (at its own clock, now, with the
// default tolerance), answers 400 to one that does not verify, and
// otherwise answers as decide says (200 when nil). It records every
// request, and the IDs it acknowledged.
type auditReceiver struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	secret   []byte
	decide   func(r request) (status int, retryAfter string)
	got      []request
	refused  []string // why each refused request did not verify
	acked    map[string]int
	bodyOfID map[string]json.RawMessage // the change each ID first came with
}

func newAuditReceiver(t testing.TB, secret []byte, decide func(request) (int, string)) *auditReceiver {
	rc := &auditReceiver{t: t, secret: secret, decide: decide, acked: map[string]int{}, bodyOfID: map[string]json.RawMessage{}}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *auditReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), rc.secret, now, webhook.DefaultTolerance); err != nil {
		rc.refused = append(rc.refused, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d, c, ok := readDelivery(rc.t, r, body)
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// A repeat carries the change it carried the first time: a receiver
	// that drops it by its ID drops nothing else.
	if first, ok := rc.bodyOfID[d.ID]; ok && string(first) != string(d.Change) {
		rc.t.Errorf("receiver: ID %s came with %s, then with %s", d.ID, first, d.Change)
	} else if !ok {
		rc.bodyOfID[d.ID] = d.Change
	}
	attempt, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
	req := request{ID: d.ID, Attempt: attempt, Seq: c.Seq, Member: c.Member, Change: d.Change}
	rc.got = append(rc.got, req)
	status, retry := http.StatusOK, ""
	if rc.decide != nil {
		status, retry = rc.decide(req)
	}
	if status/100 == 2 {
		rc.acked[req.ID]++
	}
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	w.WriteHeader(status)
}

func (rc *auditReceiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *auditReceiver) setSecret(s []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *auditReceiver) refusals() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.refused)
}

func (rc *auditReceiver) ackCount(c change.Change) int {
	id := deliveryID(rc.t, c)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.acked[id]
}

// memberNames returns n member IDs m00, m01, ….
func memberNames(n int) []string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("m%02d", i)
	}
	return ms
}

// byMember returns the seqs of each member's requests in arrival order.
func byMember(rs []request) map[string][]uint64 {
	out := map[string][]uint64{}
	for _, r := range rs {
		out[r.Member] = append(out[r.Member], r.Seq)
	}
	return out
}

// One member whose every request fails, among twelve, with one lane, a
// few and more lanes than members, batches of 7 that split members:
// every other member's change arrives once, in feed order; the failing
// member's changes each get the three attempts, all of one before the
// first of the next (its later changes wait behind it), and end as dead
// letters; the cursor passes the whole feed. Worked out by hand: 12
// members × 2 orders × (growth, points, and the level at the first) =
// 60 changes, m04's 5 of them; backoff 1s doubling, every draw 0.5, so
// the two waits of each of m04's changes are 750ms and 1.5s and no one
// else waits.
func TestOneFailingMemberKeepsItsOrderAndHoldsNoOneElse(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		for _, lanes := range []int{1, 3, 64} {
			t.Run(fmt.Sprintf("%s/%d lanes", name, lanes), func(t *testing.T) {
				oneFailingMember(t, open(), lanes)
			})
		}
	}
}

func oneFailingMember(t *testing.T, st store.Store, lanes int) {
	ctx := context.Background()
	p := openProgram(t, st)
	orders(t, p, "a", 2, memberNames(12)...)
	chs := feedAll(t, p)
	const bad, attempts = "m04", 3
	var badSeqs []uint64
	for _, c := range chs {
		if c.Member == bad {
			badSeqs = append(badSeqs, c.Seq)
		}
	}
	if len(chs) != 60 || len(badSeqs) != 5 {
		t.Fatalf("%d changes, %d of %s; the working above assumes 60 and 5", len(chs), len(badSeqs), bad)
	}
	rc := newAuditReceiver(t, []byte(secret), func(r request) (int, string) {
		if r.Member == bad {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	w := &waits{}
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock), webhook.WithWait(w.wait),
		webhook.WithRand(halves{}), webhook.WithAttempts(attempts), webhook.WithBackoff(time.Second, time.Minute),
		webhook.WithParallel(lanes), webhook.WithBatch(7))
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Flush(ctx)
	if err != nil || n != len(chs) {
		t.Fatalf("Flush = %d, %v; want %d, nil", n, err, len(chs))
	}
	got := rc.requests()
	seqs := byMember(got)
	for m, s := range seqs {
		if !slices.IsSorted(s) {
			t.Errorf("member %s: changes arrived in the order %v", m, s)
		}
	}
	// The failing member: each change three times, attempts 1, 2, 3, then
	// the next change.
	var want, gotBad []string
	for _, s := range badSeqs {
		for a := 1; a <= attempts; a++ {
			want = append(want, fmt.Sprintf("%d#%d", s, a))
		}
	}
	for _, r := range got {
		if r.Member == bad {
			gotBad = append(gotBad, fmt.Sprintf("%d#%d", r.Seq, r.Attempt))
		}
	}
	if !slices.Equal(gotBad, want) {
		t.Errorf("%s's requests (seq#attempt) %v, want %v", bad, gotBad, want)
	}
	for _, c := range chs {
		if c.Member != bad {
			if k := rc.ackCount(c); k != 1 {
				t.Errorf("change %d of %s acknowledged %d times, want once", c.Seq, c.Member, k)
			}
		}
	}
	if len(got) != len(chs)-len(badSeqs)+attempts*len(badSeqs) {
		t.Errorf("%d requests, want %d", len(got), len(chs)-len(badSeqs)+attempts*len(badSeqs))
	}
	dls, err := d.DeadLetters(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var dead []uint64
	for _, dl := range dls {
		dead = append(dead, dl.Change.Seq)
		if dl.Attempts != attempts || dl.Status != http.StatusServiceUnavailable || dl.Change.Member != bad {
			t.Errorf("dead letter %d: %d attempts, status %d, member %s; want %d, 503, %s", dl.Change.Seq, dl.Attempts, dl.Status, dl.Change.Member, attempts, bad)
		}
	}
	if !slices.Equal(dead, badSeqs) {
		t.Errorf("dead letters %v, want %s's changes %v", dead, bad, badSeqs)
	}
	var wantWaits []time.Duration
	for range badSeqs {
		wantWaits = append(wantWaits, 750*time.Millisecond, 1500*time.Millisecond)
	}
	if ws := w.list(); !equalDurations(ws, wantWaits) {
		t.Errorf("waits %v, want %v", ws, wantWaits)
	}
	if cur, err := p.Cursor(ctx, consumer); err != nil || cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, %v; want %d", cur, err, chs[len(chs)-1].Seq)
	}
	if s, want := d.Stats(), (webhook.Stats{Delivered: 55, Dead: 5, Retried: 10}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

// While one member's change waits out a backoff, the other members of
// the batch go on in their lanes: the failing member's wait returns only
// once every other member's change is acknowledged (it would wait for
// ever if they waited behind it). m04's first change fails twice and is
// taken at its third attempt; its later changes follow it, in order, and
// nothing is a dead letter. By hand: 60 changes, one batch, 64 lanes; two
// retries of m04's first change.
func TestOthersGoOnWhileOneMemberWaits(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 2, memberNames(12)...)
	chs := feedAll(t, p)
	const bad = "m04"
	var first uint64
	others := 0
	for _, c := range chs {
		if c.Member == bad && first == 0 {
			first = c.Seq
		}
		if c.Member != bad {
			others++
		}
	}
	othersDone := make(chan struct{})
	acked := 0
	rc := newAuditReceiver(t, []byte(secret), func(r request) (int, string) {
		if r.Seq == first && r.Attempt < 3 {
			return http.StatusServiceUnavailable, ""
		}
		if r.Member != bad {
			if acked++; acked == others {
				close(othersDone)
			}
		}
		return http.StatusOK, ""
	})
	var waited []time.Duration
	wait := func(ctx context.Context, d time.Duration) error {
		waited = append(waited, d) // only m04's lane waits
		select {
		case <-othersDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Second): // a guard, not a timing
			t.Error("the other members did not go on while m04 waited")
			return nil
		}
	}
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock), webhook.WithWait(wait),
		webhook.WithRand(halves{}), webhook.WithAttempts(3), webhook.WithParallel(64), webhook.WithBatch(100))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Flush(ctx); err != nil || n != len(chs) {
		t.Fatalf("Flush = %d, %v; want %d, nil", n, err, len(chs))
	}
	if want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}; !equalDurations(waited, want) {
		t.Errorf("waits %v, want %v", waited, want)
	}
	for m, s := range byMember(rc.requests()) {
		if !slices.IsSorted(s) {
			t.Errorf("member %s: changes arrived in the order %v", m, s)
		}
	}
	for _, c := range chs {
		if k := rc.ackCount(c); k != 1 {
			t.Errorf("change %d acknowledged %d times, want once", c.Seq, k)
		}
	}
	if dls, err := d.DeadLetters(ctx, 0, 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters %+v, %v; want none", dls, err)
	}
	if s, want := d.Stats(), (webhook.Stats{Delivered: 60, Retried: 2}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

// Retry-After through a Deliverer, as an endpoint sends it: a date
// already past means at once, a date decades ahead the backoff's
// longest, a header of neither form the backoff, "0" at once; a 429 on
// the last attempt makes a dead letter with its status and no wait.
// Worked out by hand with backoff 1s to 1m and every draw 0.5: the
// third backoff is 4s less a quarter, 3s.
func TestRetryAfterAsAnEndpointSendsIt(t *testing.T) {
	t.Run("delivered", func(t *testing.T) {
		answers := []answer{
			{429, "Sun, 01 Mar 2026 09:59:59 GMT"}, // a second before the clock's now: 0
			{429, "Mon, 01 Jan 2100 00:00:00 GMT"}, // decades: 1m
			{503, "in 5 seconds"},                  // neither form: 3s
			{503, "0"},                             // 0
			{200, ""},
		}
		w, d := retryAfterDeliverer(t, answers)
		if n, err := d.Flush(context.Background()); err != nil || n != 1 {
			t.Fatalf("Flush = %d, %v; want 1", n, err)
		}
		if want := []time.Duration{0, time.Minute, 3 * time.Second, 0}; !equalDurations(w.list(), want) {
			t.Errorf("waits %v, want %v", w.list(), want)
		}
		if s := d.Stats(); s != (webhook.Stats{Delivered: 1, Retried: 4}) {
			t.Errorf("Stats = %+v, want delivered after 4 retries", s)
		}
	})
	t.Run("dead on a 429", func(t *testing.T) {
		answers := []answer{
			{429, "5"}, // 5s
			{429, "5"}, // the last attempt: no wait, a dead letter
		}
		w, d := retryAfterDeliverer(t, answers)
		if n, err := d.Flush(context.Background()); err != nil || n != 1 {
			t.Fatalf("Flush = %d, %v; want 1", n, err)
		}
		if want := []time.Duration{5 * time.Second}; !equalDurations(w.list(), want) {
			t.Errorf("waits %v, want %v", w.list(), want)
		}
		dls, err := d.DeadLetters(context.Background(), 0, 0)
		if err != nil || len(dls) != 1 || dls[0].Status != http.StatusTooManyRequests || dls[0].Attempts != 2 ||
			dls[0].ID != deliveryID(t, dls[0].Change) || dls[0].Change.Seq != 1 {
			t.Errorf("dead letters %+v, %v; want change 1 after 2 attempts ending in 429", dls, err)
		}
	})
}

// answer is an endpoint's answer: a status and a Retry-After header.
type answer struct {
	status int
	header string
}

// retryAfterDeliverer is a Deliverer of one change to an endpoint that
// gives the answers in turn (the last one from then on), with as many
// attempts as answers.
func retryAfterDeliverer(t *testing.T, answers []answer) (*waits, *webhook.Deliverer) {
	calls := 0
	rc := newAuditReceiver(t, []byte(secret), func(request) (int, string) {
		a := answers[min(calls, len(answers)-1)]
		calls++
		return a.status, a.header
	})
	feed := &staticFeed{chs: []change.Change{{Seq: 1, Kind: "points.earned", Member: "alice", Time: now}}}
	w := &waits{}
	d, err := webhook.New(feed, memory.New(), consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait(w.wait), webhook.WithRand(halves{}), webhook.WithAttempts(len(answers)),
		webhook.WithBackoff(time.Second, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return w, d
}

// A 2xx acknowledges the change whatever its body: a megabyte of it (of
// which 64 KiB are read), an error in JSON under a 202, or a body that
// stops coming until the attempt's timeout ends it. Each change is sent
// once; nothing is retried or dead. The client (bodyDeadline) awaits the
// answer without the timeout, which then bounds the body alone: the
// result does not depend on how fast the machine answers.
func TestTwoHundredWithAnyBodyAcknowledges(t *testing.T) {
	for _, tt := range []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
	}{
		{"a megabyte", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}},
		{"an error under a 202", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"error":"queue full, try again"}`))
		}},
		{"a body that stalls", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the Deliverer's timeout closes it
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadAll(r.Body); err != nil {
					t.Error(err)
				}
				mu.Lock()
				calls++
				mu.Unlock()
				tt.respond(w, r)
			}))
			t.Cleanup(srv.Close)
			st := memory.New()
			p := openProgram(t, st)
			orders(t, p, "a", 1, "alice")
			chs := feedAll(t, p)
			d, err := webhook.New(p, st, consumer, srv.URL, []byte(secret), webhook.WithClock(clock),
				webhook.WithWait((&waits{}).wait), webhook.WithAttempts(3), webhook.WithTimeout(200*time.Millisecond),
				webhook.WithClient(&http.Client{Transport: bodyDeadline{}}))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := d.Flush(context.Background()); err != nil || n != len(chs) {
				t.Fatalf("Flush = %d, %v; want %d", n, err, len(chs))
			}
			if s := d.Stats(); s != (webhook.Stats{Delivered: uint64(len(chs))}) {
				t.Errorf("Stats = %+v, want %d delivered and nothing else", s, len(chs))
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != len(chs) {
				t.Errorf("%d requests, want one a change (%d)", calls, len(chs))
			}
		})
	}
}

// bodyDeadline is an http.RoundTripper on which a request's deadline (the
// Deliverer's attempt timeout) ends the response's body alone: the
// status and headers are awaited without it. TestTwoHundredWithAnyBodyAcknowledges
// is about what follows a 2xx, and with the deadline over the whole
// round trip a loaded machine took longer than 200ms to answer now and
// then, so that an attempt failed and was retried (2 of 100 runs under
// -race beside six busy loops: "Stats = {Delivered:3 Retried:1 ...}").
type bodyDeadline struct{}

func (bodyDeadline) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	resp, err := http.DefaultTransport.RoundTrip(req.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, err
	}
	body := resp.Body
	resp.Body = stopOnClose{body, context.AfterFunc(ctx, func() { body.Close() })}
	return resp, nil
}

// stopOnClose is a response body that, closed, stops its closing on the
// request's deadline.
type stopOnClose struct {
	io.ReadCloser
	stop func() bool
}

func (b stopOnClose) Close() error {
	b.stop()
	return b.ReadCloser.Close()
}

// A Deliverer that dies mid-flush (its store fails from a request on:
// it can neither store a dead letter nor renew its lease nor, so, move
// the cursor; nor release the lease) and a new one on the same store and
// consumer name, after a restart: the new one waits out the dead one's
// lease, then resumes after the cursor, sending nothing the cursor
// passed, and loses nothing: each change is acknowledged or a dead
// letter, every repeat has the ID and the change of the first send. Ten
// members, two orders each (50 changes, 5 a member), m03's every request failing
// (503), two attempts, four lanes, batches of 8; the first Deliverer
// dies at the 20th request. By hand: its lease, taken at now for 30s and
// renewed at each cursor move to now + the 10s timeout + 30s, ends at
// now+40s at the latest, so the new one finds the name held at now+39s
// and takes it at now+40s. On memory and bolt the restart opens the same
// store again; on PostgreSQL (MEMBERSHIP_PG_DSN) the new Deliverer is
// another instance's, on a second store of the schema.
func TestRestartAfterADeathLosesNothing(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		st := memory.New()
		restartAfterADeath(t, st, func() store.Store { return st })
	})
	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "program.db")
		st, err := bolt.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		restartAfterADeath(t, st, func() store.Store {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st2, err := bolt.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st2.Close() })
			return st2
		})
	})
	// On PostgreSQL the new Deliverer is another instance's: a second
	// store opened on the schema.
	onPostgres(t, func(t *testing.T, _ [2]*membership.Program, sts [2]store.Store) {
		restartAfterADeath(t, sts[0], func() store.Store { return sts[1] })
	})
}

func restartAfterADeath(t *testing.T, st store.Store, restart func() store.Store) {
	ctx := context.Background()
	p := openProgram(t, st)
	orders(t, p, "a", 2, memberNames(10)...)
	chs := feedAll(t, p)
	const bad = "m03"
	if len(chs) != 50 {
		t.Fatalf("%d changes; the working assumes 50", len(chs))
	}
	ks := &killable{Store: st}
	var sends int
	var afterDeath bool // requests from here on are the new Deliverer's
	var firstLife, secondLife []request
	rc := newAuditReceiver(t, []byte(secret), func(r request) (int, string) {
		if afterDeath {
			secondLife = append(secondLife, r)
		} else {
			firstLife = append(firstLife, r)
			if sends++; sends == 20 {
				ks.dead.Store(true)
			}
		}
		if r.Member == bad {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	opts := func(clk func() time.Time) []webhook.Option {
		return []webhook.Option{webhook.WithClock(clk), webhook.WithWait((&waits{}).wait), webhook.WithRand(halves{}),
			webhook.WithAttempts(2), webhook.WithParallel(4), webhook.WithBatch(8)}
	}
	a, err := webhook.New(p, ks, consumer, rc.srv.URL, []byte(secret), opts(clock)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Flush(ctx); !errors.Is(err, errDead) {
		t.Fatalf("the dying Deliverer's Flush = %v, want its store's error", err)
	}
	cur, err := p.Cursor(ctx, consumer)
	if err != nil {
		t.Fatal(err)
	}
	if cur == chs[len(chs)-1].Seq {
		t.Fatalf("the first Deliverer moved the cursor over the whole feed before it died; the test proves less than it says")
	}

	st = restart()
	p = openProgram(t, st)
	if got := feedAll(t, p); len(got) != len(chs) {
		t.Fatalf("the feed after the restart has %d changes, want %d", len(got), len(chs))
	}
	clk := &fakeClock{t: now.Add(39 * time.Second)}
	b, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), opts(clk.now)...)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Flush(ctx); !errors.Is(err, webhook.ErrBusy) || n != 0 {
		t.Fatalf("Flush at now+39s = %d, %v; want ErrBusy: the dead Deliverer's lease runs to now+40s", n, err)
	}
	clk.add(time.Second)
	rc.mu.Lock()
	afterDeath = true
	rc.mu.Unlock()
	n, err := b.Flush(ctx)
	if err != nil {
		t.Fatalf("Flush at now+40s = %v", err)
	}
	wantN := 0
	for _, c := range chs {
		if c.Seq > cur {
			wantN++
		}
	}
	if n != wantN {
		t.Errorf("the restart moved the cursor over %d changes, want the %d after %d", n, wantN, cur)
	}
	for _, r := range secondLife {
		if r.Seq <= cur {
			t.Errorf("the restart sent change %d, which the cursor %d had passed", r.Seq, cur)
		}
	}
	for _, life := range [][]request{firstLife, secondLife} {
		for m, s := range byMember(life) {
			if !slices.IsSorted(s) {
				t.Errorf("member %s: changes arrived in the order %v", m, s)
			}
		}
	}
	dls, err := b.DeadLetters(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	dead := map[uint64]webhook.DeadLetter{}
	for _, dl := range dls {
		dead[dl.Change.Seq] = dl
	}
	sent := map[uint64]int{}
	for _, r := range rc.requests() {
		sent[r.Seq]++
	}
	for _, c := range chs {
		acked := rc.ackCount(c) > 0
		dl, isDead := dead[c.Seq]
		switch {
		case c.Member == bad && (!isDead || acked):
			t.Errorf("change %d of %s: dead letter %v, acknowledged %v; want a dead letter", c.Seq, bad, isDead, acked)
		case c.Member != bad && (isDead || !acked):
			t.Errorf("change %d of %s: dead letter %v, acknowledged %v; want acknowledged", c.Seq, c.Member, isDead, acked)
		}
		// Its attempts: those of the sends whose dead letter was stored,
		// at least one send's two, at most every request made.
		if isDead && (dl.Attempts < 2 || dl.Attempts > sent[c.Seq] || dl.Status != http.StatusServiceUnavailable) {
			t.Errorf("dead letter %d: %d attempts of %d requests, status %d", c.Seq, dl.Attempts, sent[c.Seq], dl.Status)
		}
	}
	if len(dls) != 5 {
		t.Errorf("%d dead letters, want m03's 5", len(dls))
	}
	if cur, err := p.Cursor(ctx, consumer); err != nil || cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, %v after the restart; want %d", cur, err, chs[len(chs)-1].Seq)
	}
	if s := b.Stats(); s.Delivered+s.Dead != uint64(n) {
		t.Errorf("Stats = %+v: delivered and dead add up to %d, want the %d changes the cursor passed", s, s.Delivered+s.Dead, n)
	}
	if r := rc.refusals(); len(r) != 0 {
		t.Errorf("requests that did not verify: %v", r)
	}
}

// The package doc's rotation, end to end, with the receiver verifying
// under one secret at a time: (1) a Deliverer on the old secret; (2)
// restarted on the new one with the old in WithExtraSecrets, the
// receiver on the old at first and switched to the new between two
// attempts of one change (the retry is signed again, and verifies under
// the new); (3) restarted without the old. No request is refused on the
// way; each change is acknowledged once, the cursor carried from one
// Deliverer to the next. After it, a receiver still on the old secret
// refuses the new Deliverer's requests (they become dead letters), and
// once on the new one takes their replays. By hand: one order a member,
// 3 changes each (growth, points, the level joined); requests: alice 3,
// bob 3, carol 3 and her first again, dave 3, erin 3 refused and 3
// replayed: 19, of which 16 verify.
func TestSecretRotationEndToEnd(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	oldSecret, newSecret := []byte(secret), []byte("whsec_rotated_0123456789")
	var switchAt uint64 // the change whose first attempt switches the receiver
	var rc *auditReceiver
	rc = newAuditReceiver(t, oldSecret, func(r request) (int, string) {
		if r.Seq == switchAt && r.Attempt == 1 {
			rc.secret = newSecret // decide runs under rc.mu
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	deliverer := func(s []byte, opts ...webhook.Option) *webhook.Deliverer {
		t.Helper()
		opts = append([]webhook.Option{webhook.WithClock(clock), webhook.WithWait((&waits{}).wait), webhook.WithAttempts(2)}, opts...)
		d, err := webhook.New(p, st, consumer, rc.srv.URL, s, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	flush := func(d *webhook.Deliverer, want int) {
		t.Helper()
		if n, err := d.Flush(ctx); err != nil || n != want {
			t.Fatalf("Flush = %d, %v; want %d, nil", n, err, want)
		}
	}
	orders(t, p, "a", 1, "alice")
	flush(deliverer(oldSecret), 3)

	d2 := deliverer(newSecret, webhook.WithExtraSecrets(oldSecret))
	orders(t, p, "b", 1, "bob")
	flush(d2, 3)
	orders(t, p, "c", 1, "carol")
	all := feedAll(t, p)
	rc.mu.Lock()
	switchAt = all[len(all)-3].Seq // carol's first
	rc.mu.Unlock()
	flush(d2, 3)

	d3 := deliverer(newSecret)
	orders(t, p, "d", 1, "dave")
	flush(d3, 3)
	if r := rc.refusals(); len(r) != 0 {
		t.Fatalf("requests refused during the rotation: %v", r)
	}

	rc.setSecret(oldSecret) // a receiver that missed step 2
	orders(t, p, "e", 1, "erin")
	flush(deliverer(newSecret, webhook.WithAttempts(1)), 3)
	if r := rc.refusals(); len(r) != 3 || !strings.Contains(r[0], webhook.ErrSignatureMismatch.Error()) {
		t.Errorf("refusals %v, want erin's 3, each a signature mismatch", r)
	}
	dls, err := d3.DeadLetters(ctx, 0, 0)
	if err != nil || len(dls) != 3 || dls[0].Status != http.StatusBadRequest {
		t.Fatalf("dead letters %+v, %v; want erin's 3, refused with 400", dls, err)
	}
	rc.setSecret(newSecret)
	for _, dl := range dls {
		if err := d3.Replay(ctx, dl.Change.Seq); err != nil {
			t.Errorf("Replay(%d) = %v", dl.Change.Seq, err)
		}
	}
	all = feedAll(t, p)
	for _, c := range all {
		if k := rc.ackCount(c); k != 1 {
			t.Errorf("change %d (%s) acknowledged %d times, want once", c.Seq, c.Member, k)
		}
	}
	if got := len(rc.requests()); got != 16 { // a refused request is not recorded
		t.Errorf("%d requests verified, want 16", got)
	}
}

// A dead letter replayed after a restart carries the change byte for
// byte as its first send did (the receiver checks each ID's change
// against the first it got), with the same ID: the dead letter's JSON
// round trip keeps the time's offset, the payload and the reason. On
// bolt, reopened between the dead-lettering and the replays; one lane,
// so that the first sends arrive in feed order, as the replays do.
func TestReplayAfterARestartSendsTheSameChange(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "program.db")
	st, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := openProgram(t, st)
	orders(t, p, "a", 2, "alice", "bob")
	chs := feedAll(t, p)
	down := true
	rc := newAuditReceiver(t, []byte(secret), func(request) (int, string) {
		if down {
			return http.StatusInternalServerError, ""
		}
		return http.StatusOK, ""
	})
	open := func(st store.Store) *webhook.Deliverer {
		d, err := webhook.New(openProgram(t, st), st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
			webhook.WithWait((&waits{}).wait), webhook.WithAttempts(1), webhook.WithParallel(1))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if n, err := open(st).Flush(ctx); err != nil || n != len(chs) {
		t.Fatalf("Flush = %d, %v; want %d", n, err, len(chs))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := open(st)
	rc.mu.Lock()
	down = false
	rc.mu.Unlock()
	for _, c := range chs {
		if err := d.Replay(ctx, c.Seq); err != nil {
			t.Errorf("Replay(%d) = %v", c.Seq, err)
		}
	}
	got := rc.requests()
	if len(got) != 2*len(chs) {
		t.Fatalf("%d requests, want each change twice (%d)", len(got), 2*len(chs))
	}
	for i, c := range chs {
		first, replay := got[i], got[len(chs)+i]
		if first.Seq != c.Seq || replay.Seq != c.Seq || !sameChange(t, replay.Change, c) {
			t.Errorf("change %d: sent as %d, replayed as %d: %s; want the feed's %s", c.Seq, first.Seq, replay.Seq, replay.Change, changeJSON(t, c))
		}
	}
	if dls, err := d.DeadLetters(ctx, 0, 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after the replays: %d, %v; want none", len(dls), err)
	}
}
