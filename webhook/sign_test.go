package webhook_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/webhook"
)

const (
	vecSecret = "whsec_0123456789abcdef"
	vecBody   = `{"id":"x"}`
	// vecMAC is HMAC-SHA256 of `1700000000.{"id":"x"}` under vecSecret, as
	// `openssl dgst -sha256 -hmac` computes it.
	vecMAC = "770060346ddf9638ee9bbc8d6403946c9480679bbe3216ada9c05ceb9db9010e"
)

var vecTime = time.Unix(1700000000, 0)

func TestSignIsStripesScheme(t *testing.T) {
	got := webhook.Sign([]byte(vecSecret), vecTime, []byte(vecBody))
	if want := "t=1700000000,v1=" + vecMAC; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	// The timestamp is unix seconds whatever the zone or the fraction.
	at := vecTime.Add(999 * time.Millisecond).In(time.FixedZone("X", 8*3600))
	if got2 := webhook.Sign([]byte(vecSecret), at, []byte(vecBody)); got2 != got {
		t.Errorf("Sign at %v = %q, want %q", at, got2, got)
	}
}

// A delivery ID is the consumer's hash, the position and the change's
// digest. Worked out with sha256sum: 9261ceef0b969e70 is the first 8
// bytes of SHA-256("crm"); ff74ac4d9003c09e those of the SHA-256 of
// {"seq":42,"kind":"points.earned","member":"alice","time":"2026-03-01T10:00:00Z","data":{"amount":"5"}},
// the change's JSON with its time in UTC.
func TestDeliveryID(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	c := change.Change{Seq: 42, Kind: "points.earned", Member: "alice",
		Time: time.Date(2026, 3, 1, 18, 0, 0, 0, shanghai), Data: json.RawMessage(`{"amount":"5"}`)}
	id := func(consumer string, c change.Change) string {
		t.Helper()
		id, err := webhook.DeliveryID(consumer, c)
		if err != nil {
			t.Fatalf("DeliveryID(%q, %d) = %v", consumer, c.Seq, err)
		}
		return id
	}
	if got, want := id("crm", c), "9261ceef0b969e70-42-ff74ac4d9003c09e"; got != want {
		t.Errorf("DeliveryID = %q, want %q", got, want)
	}
	// The instant counts, not the zone the feed gives it in.
	utc := c
	utc.Time = c.Time.UTC()
	if id("crm", utc) != id("crm", c) {
		t.Error("the change in UTC has another delivery ID")
	}
	if id("crm2", c) == id("crm", c) {
		t.Error("two consumers share a delivery ID")
	}
	// Another change at the same position (a store restored from a
	// backup gives it out again): a payload one digit apart, another
	// member, another instant.
	for name, other := range map[string]func(*change.Change){
		"payload": func(c *change.Change) { c.Data = json.RawMessage(`{"amount":"6"}`) },
		"member":  func(c *change.Change) { c.Member = "bob" },
		"time":    func(c *change.Change) { c.Time = c.Time.Add(time.Nanosecond) },
	} {
		o := c
		other(&o)
		if id("crm", o) == id("crm", c) {
			t.Errorf("another %s at position 42 shares the delivery ID", name)
		}
	}
	bad := c
	bad.Data = json.RawMessage(`{"amount":`)
	if got, err := webhook.DeliveryID("crm", bad); !errors.Is(err, webhook.ErrCorrupt) || got != "" {
		t.Errorf("DeliveryID of a change whose data is no JSON = %q, %v; want ErrCorrupt", got, err)
	}
}

func TestVerify(t *testing.T) {
	good := "t=1700000000,v1=" + vecMAC
	other := webhook.Sign([]byte("another secret of 16+ bytes"), vecTime, []byte(vecBody))
	tests := []struct {
		name      string
		body      string
		header    string
		secret    string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", vecBody, good, vecSecret, vecTime, time.Minute, nil},
		{"spaces after commas", vecBody, "t=1700000000, v1=" + vecMAC, vecSecret, vecTime, time.Minute, nil},
		{"rotation: one of two v1 matches", vecBody, other + ",v1=" + vecMAC, vecSecret, vecTime, time.Minute, nil},
		{"other schemes ignored", vecBody, good + ",v0=abc", vecSecret, vecTime, time.Minute, nil},
		{"exactly the tolerance late", vecBody, good, vecSecret, vecTime.Add(time.Minute), time.Minute, nil},
		{"exactly the tolerance early", vecBody, good, vecSecret, vecTime.Add(-time.Minute), time.Minute, nil},
		{"a second too late", vecBody, good, vecSecret, vecTime.Add(time.Minute + time.Second), time.Minute, webhook.ErrTimestampOutOfTolerance},
		{"a second too early", vecBody, good, vecSecret, vecTime.Add(-time.Minute - time.Second), time.Minute, webhook.ErrTimestampOutOfTolerance},
		{"body changed", `{"id":"y"}`, good, vecSecret, vecTime, time.Minute, webhook.ErrSignatureMismatch},
		{"timestamp changed", vecBody, "t=1700000001,v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrSignatureMismatch},
		{"wrong secret", vecBody, good, "whsec_0123456789abcdeF", vecTime, time.Minute, webhook.ErrSignatureMismatch},
		{"forged and old: mismatch first", `{"id":"y"}`, good, vecSecret, vecTime.Add(time.Hour), time.Minute, webhook.ErrSignatureMismatch},
		{"v1 not hex", vecBody, "t=1700000000,v1=zz", vecSecret, vecTime, time.Minute, webhook.ErrSignatureMismatch},
		{"v1 truncated", vecBody, "t=1700000000,v1=" + vecMAC[:62], vecSecret, vecTime, time.Minute, webhook.ErrSignatureMismatch},
		{"empty header", vecBody, "", vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"no timestamp", vecBody, "v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"two timestamps", vecBody, "t=1700000000,t=1700000000,v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"timestamp not a number", vecBody, "t=soon,v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"timestamp with a plus", vecBody, "t=+1700000000,v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"empty timestamp", vecBody, "t=,v1=" + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"no v1", vecBody, "t=1700000000", vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"not key=value", vecBody, "t=1700000000," + vecMAC, vecSecret, vecTime, time.Minute, webhook.ErrMalformedSignature},
		{"empty secret", vecBody, good, "", vecTime, time.Minute, webhook.ErrInvalidArgument},
		{"zero tolerance", vecBody, good, vecSecret, vecTime, 0, webhook.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify([]byte(tt.body), tt.header, []byte(tt.secret), tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) { // errors.Is(nil, nil) holds
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
