package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// exampleDef earns one point per yuan of an order.
const exampleDef = `{
  "zone": "Asia/Shanghai",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  }
}`

// A host sends its program's changes to its CRM: a Deliverer on the
// program's feed and store, here flushed once (a host starts Run in a
// goroutine instead). The receiver checks each request's signature and
// de-duplicates by delivery ID.
func Example() {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(exampleDef))
	if err != nil {
		panic(err)
	}
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		panic(err)
	}
	for i, m := range []string{"alice", "bob"} {
		_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("o", i), Member: m, Type: "order",
			Time:  time.Date(2026, 5, 1, 10, 0, 0, 0, p.Location()),
			Attrs: event.Attrs{"amount": event.DecString("99")}})
		if err != nil {
			panic(err)
		}
	}

	secret := []byte("whsec_shared_with_the_crm")
	var mu sync.Mutex
	seen := map[string]bool{} // the receiver's record of delivery IDs acted on
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get(webhook.HeaderSignature)
		if err := webhook.Verify(body, sig, secret, time.Now(), webhook.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var d webhook.Delivery
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[d.ID] { // act once per delivery ID
			seen[d.ID] = true
			fmt.Println(d.Change.Seq, d.Change.Member, d.Change.Kind)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer crm.Close()

	d, err := webhook.New(p, st, "crm", crm.URL, secret, webhook.WithParallel(1))
	if err != nil {
		panic(err)
	}
	n, err := d.Flush(ctx)
	if err != nil {
		panic(err)
	}
	cursor, _ := p.Cursor(ctx, "crm")
	fmt.Printf("%d changes sent, cursor %d, %+v\n", n, cursor, d.Stats())
	// Output:
	// 1 alice points.earned
	// 2 bob points.earned
	// 2 changes sent, cursor 2, {Delivered:2 Retried:0 Dead:0 Replayed:0}
}

// A receiver verifies every request before reading it: the signature
// over the raw body and the timestamp, within a tolerance of its clock.
func ExampleVerify() {
	secret := []byte("whsec_shared_with_the_crm")
	body := []byte(`{"id":"9261ceef0b969e70-1","change":{"seq":1,"kind":"points.earned"}}`)
	sent := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	header := webhook.Sign(secret, sent, body) // what the Deliverer sets
	fmt.Println(header[:13])

	fmt.Println(webhook.Verify(body, header, secret, sent.Add(time.Minute), webhook.DefaultTolerance))
	tampered := []byte(strings.Replace(string(body), `"seq":1`, `"seq":2`, 1))
	err := webhook.Verify(tampered, header, secret, sent.Add(time.Minute), webhook.DefaultTolerance)
	fmt.Println(errors.Is(err, webhook.ErrSignatureMismatch))
	err = webhook.Verify(body, header, secret, sent.Add(time.Hour), webhook.DefaultTolerance)
	fmt.Println(errors.Is(err, webhook.ErrTimestampOutOfTolerance))
	// Output:
	// t=1777600800,
	// <nil>
	// true
	// true
}

// staticFeed is a feed of fixed changes, for the dead-letter example.
type staticFeed struct {
	chs    []change.Change
	cursor uint64
}

func (f *staticFeed) Feed(_ context.Context, after uint64, limit int) ([]change.Change, error) {
	var out []change.Change
	for _, c := range f.chs {
		if c.Seq > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *staticFeed) Cursor(context.Context, string) (uint64, error) { return f.cursor, nil }

func (f *staticFeed) SetCursor(_ context.Context, _ string, seq uint64) error {
	f.cursor = seq
	return nil
}

// An endpoint that is down gets each change the attempts allowed; then
// the change is a dead letter, which the operator lists and replays once
// the endpoint is back.
func ExampleDeliverer_Replay() {
	ctx := context.Background()
	var mu sync.Mutex
	up := false
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer endpoint.Close()
	feed := &staticFeed{chs: []change.Change{
		{Seq: 1, Kind: "points.earned", Member: "alice", Time: time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)},
	}}
	noWait := func(ctx context.Context, d time.Duration) error { return ctx.Err() } // no real backoff here
	d, err := webhook.New(feed, memory.New(), "crm", endpoint.URL, []byte("whsec_shared_with_the_crm"),
		webhook.WithAttempts(3), webhook.WithWait(noWait))
	if err != nil {
		panic(err)
	}
	if _, err := d.Flush(ctx); err != nil {
		panic(err)
	}
	dls, _ := d.DeadLetters(ctx, 0, 0)
	for _, dl := range dls {
		fmt.Println(dl.Change.Seq, dl.Change.Member, dl.Attempts, dl.Status, "cursor", feed.cursor)
	}

	mu.Lock()
	up = true
	mu.Unlock()
	fmt.Println(d.Replay(ctx, dls[0].Change.Seq))
	dls, _ = d.DeadLetters(ctx, 0, 0)
	fmt.Println(len(dls), "dead letters", d.Stats())
	// Output:
	// 1 alice 3 502 cursor 1
	// <nil>
	// 0 dead letters {0 2 1 1}
}
