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
