package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/webhook"
)

// The Program satisfies the interface the Deliverer reads through.
var _ webhook.Feed = (*membership.Program)(nil)

const (
	secret   = "whsec_test_0123456789"
	consumer = "crm"
)

// now is the time of every test's clock.
var now = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// openProgram opens testkit.OrderDef (growth and one point per yuan of
// an order) on st.
func openProgram(t testing.TB, st store.Store) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, testkit.OrderDef())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// orders processes n orders for each member, a member's all before the
// next member's, with IDs unique for tag: each puts changes on the feed.
func orders(t testing.TB, p *membership.Program, tag string, n int, members ...string) {
	t.Helper()
	for _, m := range members {
		for i := range n {
			testkit.MustProcess(t, p, event.Event{
				ID: fmt.Sprintf("%s-%s-%d", tag, m, i), Member: m, Type: "order",
				Time:  time.Date(2026, 2, 1, 10, i, 0, 0, p.Location()),
				Attrs: event.Attrs{"amount": event.DecString(strconv.Itoa(10 + i))},
			})
		}
	}
}

// feedAll reads the whole feed.
func feedAll(t testing.TB, p *membership.Program) []change.Change {
	t.Helper()
	chs, err := p.Feed(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return chs
}

// waits is a fake wait: it records each duration and returns at once
// (ctx's error once ctx is done).
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.ds = append(w.ds, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}

// halves is a jitter source whose every draw is r = 0.5: 8 bytes
// 0x80 00 … 00.
type halves struct{}

func (halves) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
		if i%8 == 0 {
			p[i] = 0x80
		}
	}
	return len(p), nil
}

// request is one request as the receiver got it.
type request struct {
	ID      string
	Attempt int
	Seq     uint64
	Member  string
	Change  json.RawMessage // the body's change, as sent
}

// action is what the receiver does with a request.
type action int

const (
	ack  action = iota // 200
	fail               // 503
	hang               // answer nothing until the client gives up
	drop               // hijack the connection and close it
	redirect
)

// receiver is a test endpoint: it checks each request's signature and
// body, records it, and answers as decide says (ack when nil).
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	decide func(r request) action
	got    []request // in arrival order
	acked  map[string]int
}

func newReceiver(t testing.TB, decide func(request) action) *receiver {
	rc := &receiver{t: t, decide: decide, acked: map[string]int{}}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), []byte(secret), now, time.Second); err != nil {
		rc.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d, c, ok := readDelivery(rc.t, r, body)
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.t.Errorf("receiver: Content-Type %q", ct)
	}
	attempt, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
	req := request{ID: d.ID, Attempt: attempt, Seq: c.Seq, Member: c.Member, Change: d.Change}
	rc.mu.Lock()
	rc.got = append(rc.got, req)
	a := ack
	if rc.decide != nil {
		a = rc.decide(req)
	}
	if a == ack {
		rc.acked[req.ID]++
	}
	rc.mu.Unlock()
	switch a {
	case ack:
		w.WriteHeader(http.StatusOK)
	case fail:
		w.WriteHeader(http.StatusServiceUnavailable)
	case hang:
		<-r.Context().Done() // the client timed out and closed the connection
	case drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			rc.t.Errorf("receiver: hijack: %v", err)
			return
		}
		conn.Close()
	case redirect:
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}
}

// requests returns what the receiver got, in arrival order.
func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// sender is an http.RoundTripper that counts, per delivery ID, the
// requests the Deliverer sent and the 2xx answers it got.
type sender struct {
	mu   sync.Mutex
	sent map[string]int
	ok   map[string]int
}

func newSender() *sender { return &sender{sent: map[string]int{}, ok: map[string]int{}} }

func (s *sender) RoundTrip(req *http.Request) (*http.Response, error) {
	id := req.Header.Get(webhook.HeaderDelivery)
	s.mu.Lock()
	s.sent[id]++
	s.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && resp.StatusCode/100 == 2 {
		s.mu.Lock()
		s.ok[id]++
		s.mu.Unlock()
	}
	return resp, err
}

func (s *sender) client() *http.Client {
	return &http.Client{Transport: s, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func (s *sender) acked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok[id] > 0
}

// changeJSON is c as the Deliverer sends it.
func changeJSON(t testing.TB, c change.Change) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameChange reports whether a received change is the feed's change c.
func sameChange(t testing.TB, got json.RawMessage, c change.Change) bool {
	t.Helper()
	return bytes.Equal(got, changeJSON(t, c))
}

// bySeq indexes changes by feed position.
func bySeq(chs []change.Change) map[uint64]change.Change {
	m := make(map[uint64]change.Change, len(chs))
	for _, c := range chs {
		m[c.Seq] = c
	}
	return m
}

// deliveryID is webhook.DeliveryID of c to consumer; an error fails t
// (with Error, so that a receiver's goroutine may call it too).
func deliveryID(t testing.TB, c change.Change) string {
	t.Helper()
	id, err := webhook.DeliveryID(consumer, c)
	if err != nil {
		t.Errorf("DeliveryID of change %d: %v", c.Seq, err)
	}
	return id
}

// delivery is a delivery's body: its ID and the change it carries.
type delivery struct {
	ID     string          `json:"id"`
	Change json.RawMessage `json:"change"`
}

// readDelivery decodes a delivery's body, and fails the test unless its
// header and body carry the change's delivery ID; ok is false when the
// body does not decode.
func readDelivery(t testing.TB, r *http.Request, body []byte) (d delivery, c change.Change, ok bool) {
	t.Helper()
	if err := json.Unmarshal(body, &d); err != nil || json.Unmarshal(d.Change, &c) != nil {
		t.Errorf("receiver: body %s: %v", body, err)
		return d, c, false
	}
	if id := r.Header.Get(webhook.HeaderDelivery); id != d.ID || id != deliveryID(t, c) {
		t.Errorf("receiver: header ID %q, body ID %q, change %d: want %q in both", id, d.ID, c.Seq, deliveryID(t, c))
	}
	return d, c, true
}
