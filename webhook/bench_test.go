package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// BenchmarkDeliver measures deliveries a second to a local endpoint that
// acknowledges at once: one op is one change sent, signed, acknowledged
// and passed by the cursor (the feed read in batches of 100, 64 members,
// 4 lanes at once).
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(b, st)
	members := make([]string, 64)
	for i := range members {
		members[i] = fmt.Sprint("m", i)
	}
	per := b.N/(2*len(members)) + 1 // an order makes two changes (growth, points)
	orders(b, p, "a", per, members...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	d, err := webhook.New(p, st, consumer, srv.URL, []byte(secret), webhook.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n, err := d.Flush(ctx)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/delivery")
}
