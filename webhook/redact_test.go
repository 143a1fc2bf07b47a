package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// A transport error names the endpoint by its scheme and host: its text,
// kept in a dead letter's Error and logged at Warn and Error, named the
// URL, whose password Go masks but not a token in the path or the query
// (Slack-style URLs). The error stays a *url.Error over the transport's,
// so errors.As and errors.Is reach a refused connection's *net.OpError
// and a timeout's context.DeadlineExceeded through Replay's error.
func TestTransportErrorNamesTheEndpointWithoutPathOrQuery(t *testing.T) {
	const secretParts = "/services/T0/B0/PATHSECRET?token=QUERYSECRET"
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// The body read, the server watches the connection: the
		// attempt's timeout closes it, which ends r's context.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // nothing listens at its address any more
	for _, tt := range []struct {
		name  string
		host  string // host:port of the server
		under func(error) bool
	}{
		{"refused", refused.Listener.Addr().String(), func(err error) bool {
			var op *net.OpError
			return errors.As(err, &op) && op.Op == "dial"
		}},
		{"timeout", hang.Listener.Addr().String(), func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			origin := "http://" + tt.host
			// The password too: Go would show the user and "***".
			endpoint := "http://USERNAME:PASSSECRET@" + tt.host + secretParts
			var logs bytes.Buffer
			feed := &staticFeed{chs: []change.Change{{Seq: 1, Kind: "points.earned", Member: "alice", Time: now}}}
			d, err := webhook.New(feed, memory.New(), consumer, endpoint, []byte(secret), webhook.WithClock(clock),
				webhook.WithWait((&waits{}).wait), webhook.WithAttempts(2), webhook.WithTimeout(100*time.Millisecond),
				webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := d.Flush(ctx); err != nil || n != 1 {
				t.Fatalf("Flush = %d, %v; want 1", n, err)
			}
			dls, err := d.DeadLetters(ctx, 0, 0)
			if err != nil || len(dls) != 1 {
				t.Fatalf("DeadLetters = %+v, %v; want 1", dls, err)
			}
			// url.Error's text: the operation, the URL quoted, the error.
			if want := `Post "` + origin + `": `; !strings.HasPrefix(dls[0].Error, want) {
				t.Errorf("dead letter's Error %q, want it to begin %q", dls[0].Error, want)
			}
			err = d.Replay(ctx, 1)
			if !errors.Is(err, webhook.ErrUndelivered) {
				t.Fatalf("Replay = %v, want ErrUndelivered", err)
			}
			var ue *url.Error
			if !errors.As(err, &ue) || ue.Op != "Post" || ue.URL != origin || !tt.under(err) {
				t.Errorf("Replay = %v; want a *url.Error of Post to %s over the transport's error", err, origin)
			}
			// The first attempt's warning, the dead letter's error, the
			// replay's warning and its error, and the dead letter after it.
			dls, _ = d.DeadLetters(ctx, 0, 0)
			all := logs.String() + err.Error()
			for _, dl := range dls {
				all += dl.Error
			}
			for _, s := range []string{"USERNAME", "PASSSECRET", "***", "services", "PATHSECRET", "QUERYSECRET"} {
				if strings.Contains(all, s) {
					t.Errorf("%q in what was logged or kept:\n%s", s, all)
				}
			}
			if n := strings.Count(logs.String(), origin); n < 3 {
				t.Errorf("the endpoint %s named %d times in the logs, want at least 3 (two warnings, a dead letter):\n%s", origin, n, logs.String())
			}
		})
	}
}
