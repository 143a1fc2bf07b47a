package webhook

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		base, max time.Duration
		n         int
		r         uint64 // the fraction r/2⁶⁴
		want      time.Duration
	}{
		{"first wait, r=0: half the base", s, time.Minute, 1, 0, 500 * time.Millisecond},
		{"first wait, r=½", s, time.Minute, 1, 1 << 63, 750 * time.Millisecond},
		{"second doubles", s, time.Minute, 2, 1 << 63, 1500 * time.Millisecond},
		{"fifth: base·16", s, time.Minute, 5, 0, 8 * s},
		{"capped at max", s, 10 * s, 5, 1 << 63, 7500 * time.Millisecond},
		{"far attempts stay at max without overflow", s, 10 * s, 200, 0, 5 * s},
		{"huge max, far attempt", s, 1 << 62, 100, 0, 1 << 61},
		{"no overflow near the largest Duration", 3 << 61, 1<<63 - 1, 3, 0, (1<<63 - 1) / 2},
		{"r near 1 on 2 ns: the half, as a nanosecond is not split", 2 * time.Nanosecond, time.Second, 1, 1<<64 - 1, 1 * time.Nanosecond},
		{"r near 1: all but a nanosecond", s, time.Minute, 1, 1<<64 - 1, s - 1},
		{"r=¼", 4 * s, time.Minute, 1, 1 << 62, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.base, tt.max, tt.n, tt.r); got != tt.want {
				t.Errorf("backoff(%v, %v, %d, %v) = %v, want %v", tt.base, tt.max, tt.n, tt.r, got, tt.want)
			}
		})
	}
}

// A 429 or 503 answer's Retry-After sets the next wait, in either form of
// RFC 9110 §10.2.3, at most the backoff's longest; anything else leaves
// the backoff.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) // a Sunday
	const longest = 5 * time.Minute
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
		asked  bool
	}{
		{"delay-seconds", 503, "120", 2 * time.Minute, true},
		{"429 too", 429, "7", 7 * time.Second, true},
		{"zero: at once", 429, "0", 0, true},
		{"spaces around", 503, " 7 ", 7 * time.Second, true},
		{"IMF-fixdate", 503, "Sun, 01 Mar 2026 10:00:30 GMT", 30 * time.Second, true},
		{"RFC 850 date", 503, "Sunday, 01-Mar-26 10:01:00 GMT", time.Minute, true},
		{"asctime date", 429, "Sun Mar  1 10:02:00 2026", 2 * time.Minute, true},
		{"a date past: at once", 503, "Sun, 01 Mar 2026 09:00:00 GMT", 0, true},
		{"the longest to the second", 503, "300", longest, true},
		{"a thousand days: capped", 503, "86400000", longest, true},
		{"more digits than a uint64: capped", 429, "99999999999999999999999", longest, true},
		{"a date in 9999: capped", 503, "Fri, 31 Dec 9999 23:59:59 GMT", longest, true},
		{"not a number or a date", 503, "soon", 0, false},
		{"negative", 503, "-5", 0, false},
		{"a fraction", 429, "1.5", 0, false},
		{"a sign", 429, "+5", 0, false},
		{"empty", 503, "", 0, false},
		{"another status", 500, "120", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, asked := retryAfter(tt.status, tt.header, now, longest)
			if got != tt.want || asked != tt.asked {
				t.Errorf("retryAfter(%d, %q) = %v, %v; want %v, %v", tt.status, tt.header, got, asked, tt.want, tt.asked)
			}
		})
	}
	// Below a second, the cap still holds.
	if got, _ := retryAfter(503, "1", now, 500*time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("retryAfter(503, 1) with a longest of 500ms = %v, want 500ms", got)
	}
}
