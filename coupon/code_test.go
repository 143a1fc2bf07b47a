package coupon_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership/coupon"
)

func TestCodeNoCollision(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	seen := make(map[string]struct{}, n)
	for i := range n {
		c, err := coupon.NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != coupon.CodeLen {
			t.Fatalf("code %q has length %d, want %d", c, len(c), coupon.CodeLen)
		}
		if _, dup := seen[c]; dup {
			t.Fatalf("collision after %d codes: %s", i, c)
		}
		seen[c] = struct{}{}
	}
	// Every code uses the whole alphabet over so many draws, in every data
	// position (a stuck bit would leave symbols out).
	for pos := range coupon.CodeLen - 1 {
		used := map[byte]bool{}
		for c := range seen {
			used[c[pos]] = true
			if len(used) == len(coupon.Alphabet) {
				break
			}
		}
		if len(used) != len(coupon.Alphabet) {
			t.Errorf("position %d uses %d symbols, want %d", pos, len(used), len(coupon.Alphabet))
		}
	}
}

func TestCodeEverySingleTypoDetected(t *testing.T) {
	for range 300 {
		code, err := coupon.NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := coupon.ParseCode(code); err != nil || got != code {
			t.Fatalf("ParseCode(%q) = %q, %v; want itself", code, got, err)
		}
		b := []byte(code)
		for pos := range b {
			orig := b[pos]
			for i := 0; i < len(coupon.Alphabet); i++ {
				if coupon.Alphabet[i] == orig {
					continue
				}
				b[pos] = coupon.Alphabet[i]
				if _, err := coupon.ParseCode(string(b)); !errors.Is(err, coupon.ErrBadCode) {
					t.Fatalf("typo %q (of %q at %d) not detected: %v", b, code, pos, err)
				}
			}
			b[pos] = orig
		}
	}
}

func TestCodeAdjacentSwapsMostlyDetected(t *testing.T) {
	swaps, missed := 0, 0
	for range 500 {
		code, _ := coupon.NewCode(rand.Reader)
		b := []byte(code)
		for i := 0; i+1 < len(b); i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			swaps++
			if _, err := coupon.ParseCode(string(b)); err == nil {
				missed++
			}
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	// Luhn mod 32 misses only the swaps of one pair of symbol values.
	if float64(missed) > 0.02*float64(swaps) {
		t.Errorf("%d of %d adjacent swaps undetected", missed, swaps)
	}
}

func TestParseCode(t *testing.T) {
	code, err := coupon.NewCode(bytes.NewReader(bytes.Repeat([]byte{0xA5}, 10)))
	if err != nil {
		t.Fatal(err)
	}
	lower := strings.ToLower(coupon.FormatCode(code))
	tests := []struct {
		name, in string
		want     string
		err      error
	}{
		{"canonical", code, code, nil},
		{"grouped lower case", lower, code, nil},
		{"QR payload", coupon.QR(code), code, nil},
		{"spaces", " " + strings.Join(strings.Split(code, ""), " ") + " ", code, nil},
		{"too short", code[:16], "", coupon.ErrBadCode},
		{"too long", code + "0", "", coupon.ErrBadCode},
		{"symbol outside alphabet", code[:5] + "U" + code[6:], "", coupon.ErrBadCode},
		{"punctuation", code[:5] + "*" + code[6:], "", coupon.ErrBadCode},
		{"empty", "", "", coupon.ErrBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coupon.ParseCode(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("ParseCode(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseCodeReadsCrockfordLookalikes(t *testing.T) {
	// All-zero bits give zeros and ones that may be typed as O, I or L.
	code, err := coupon.NewCode(bytes.NewReader(make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if code != "00000000000000000" {
		t.Fatalf("NewCode(zeros) = %q", code)
	}
	for _, typed := range []string{"OOOOOOOOOOOOOOOOO", "oooooooo-00000000-0"} {
		if got, err := coupon.ParseCode(typed); err != nil || got != code {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", typed, got, err, code)
		}
	}
}

func TestNewCodeReaderError(t *testing.T) {
	if _, err := coupon.NewCode(bytes.NewReader(make([]byte, 9))); err == nil {
		t.Error("NewCode with 9 random bytes: no error")
	}
}
