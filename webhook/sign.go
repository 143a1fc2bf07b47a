package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
)

// The headers of every delivery.
const (
	// HeaderSignature carries the signature, "t=<unix seconds>,v1=<hex>"
	// (see Sign), with a v1 more for each secret of WithExtraSecrets.
	HeaderSignature = "Membership-Signature"
	// HeaderDelivery carries the delivery ID (see DeliveryID), the same
	// in every attempt and in the body.
	HeaderDelivery = "Membership-Delivery"
	// HeaderAttempt carries the attempt's number (1, 2, …) for the
	// receiver's logs. It is not signed: never decide on it.
	HeaderAttempt = "Membership-Attempt"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock, the five minutes Stripe's libraries accept.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify. A receiver answers any of them with 400 and drops the
// request.
var (
	// ErrMalformedSignature is returned for a signature header that is
	// absent or not of the form "t=<unix seconds>,v1=<hex>[,v1=…]".
	ErrMalformedSignature = errors.New("malformed signature header")
	// ErrSignatureMismatch is returned when no v1 signature of the header
	// is the HMAC of the timestamp and the body under the secret.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrTimestampOutOfTolerance is returned for a correctly signed
	// request whose timestamp is further from now than the tolerance: an
	// old request replayed, or a clock far off.
	ErrTimestampOutOfTolerance = errors.New("signature timestamp out of tolerance")
	// ErrInvalidArgument is returned for an argument that is not usable:
	// an empty secret, a tolerance that is not positive (and, from New,
	// any unusable configuration). It is event.ErrInvalidArgument, the
	// sentinel every package of the module shares.
	ErrInvalidArgument = event.ErrInvalidArgument
)

// Sign returns the value of the HeaderSignature header for body sent at
// t: "t=<t in unix seconds>,v1=<hex HMAC-SHA256 under secret of
// "<t>.<body>">", the scheme Stripe documents. Signing the timestamp with
// the body lets a receiver refuse a captured request replayed later.
func Sign(secret []byte, t time.Time, body []byte) string {
	return sign(t, body, secret)
}

// sign is Sign with a v1 signature under each of secret and more, in
// that order, as a Deliverer sends it during a rotation.
func sign(t time.Time, body []byte, secret []byte, more ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	h := "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
	for _, s := range more {
		h += ",v1=" + hex.EncodeToString(mac(s, ts, body))
	}
	return h
}

// mac is HMAC-SHA256 under secret of "<ts>.<body>".
func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery's signature header against its body, as
// received (the raw bytes, before any decoding), the secret shared with
// the sender, and now, the receiver's clock: one of the header's v1
// signatures must be the HMAC of its timestamp and the body (compared in
// constant time), and the timestamp must be within tolerance of now,
// before or after. Fields of the header other than t and v1 are ignored,
// so a sender may add schemes.
//
// It returns nil or an error wrapping ErrMalformedSignature,
// ErrSignatureMismatch, ErrTimestampOutOfTolerance or, for an empty
// secret or a tolerance that is not positive, ErrInvalidArgument. The
// signature is checked before the timestamp, so a forged request is a
// mismatch whatever its time.
func Verify(body []byte, header string, secret []byte, now time.Time, tolerance time.Duration) error {
	if err := verify(body, header, secret, now, tolerance); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// verify is Verify without the package's name, which Verify adds once.
func verify(body []byte, header string, secret []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("verify: %w: empty secret", ErrInvalidArgument)
	}
	if tolerance <= 0 {
		return fmt.Errorf("verify: %w: tolerance %v is not positive", ErrInvalidArgument, tolerance)
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // checked by parseSignature
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %v from now", ErrTimestampOutOfTolerance, at.UTC().Format(time.RFC3339), d)
	}
	return nil
}

// parseSignature splits a signature header into its timestamp (as sent,
// checked to be unix seconds) and its v1 signatures.
func parseSignature(header string) (ts string, sigs []string, err error) {
	if header == "" {
		return "", nil, fmt.Errorf("%w: empty", ErrMalformedSignature)
	}
	for field := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: field %q is not key=value", ErrMalformedSignature, field)
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: two timestamps", ErrMalformedSignature)
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil || v[0] == '+' {
				return "", nil, fmt.Errorf("%w: timestamp %q is not unix seconds", ErrMalformedSignature, v)
			}
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" {
		return "", nil, fmt.Errorf("%w: no timestamp", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: no v1 signature", ErrMalformedSignature)
	}
	return ts, sigs, nil
}
