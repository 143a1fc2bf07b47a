package coupon

import (
	"fmt"
	"io"
	"strings"
)

// Alphabet is the coupon code alphabet: Crockford's base32, the digits and
// the letters without I, L, O and U, so that a code read aloud or typed
// from a receipt is not mistaken.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// CodeLen is the length of a coupon code: 16 random symbols (80 bits) and
// one check symbol.
const CodeLen = 17

const dataLen = CodeLen - 1

// QRPrefix starts the payload of a coupon's QR code.
const QRPrefix = "MBC:"

// symbol maps a typed byte to its symbol value, or -1.
var symbol = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		c := Alphabet[i]
		t[c] = int8(i)
		if c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = int8(i)
		}
	}
	// Crockford's reading of the letters left out.
	for _, r := range [][2]byte{{'O', '0'}, {'o', '0'}, {'I', '1'}, {'i', '1'}, {'L', '1'}, {'l', '1'}} {
		t[r[0]] = t[r[1]]
	}
	return t
}()

// check returns the Luhn mod 32 check symbol value of data symbol values:
// any single changed symbol, and most swaps of neighbours, change it.
func check(vals []int8) int8 {
	sum, factor := 0, 2
	for i := len(vals) - 1; i >= 0; i-- {
		a := factor * int(vals[i])
		sum += a/32 + a%32
		factor = 3 - factor
	}
	return int8((32 - sum%32) % 32)
}

// NewCode draws a new code from r (crypto/rand in production): 80 random
// bits in 16 symbols and a check symbol. It returns r's error, if any.
func NewCode(r io.Reader) (string, error) {
	c, err := newCode(r)
	if err != nil {
		return "", fmt.Errorf("coupon: %w", err)
	}
	return c, nil
}

// newCode is NewCode for the book, whose caller names the package.
func newCode(r io.Reader) (string, error) {
	var buf [10]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return "", fmt.Errorf("new code: %w", err)
	}
	var vals [dataLen]int8
	// 80 bits → 16 groups of 5 bits.
	var acc uint64
	bits, j := 0, 0
	for _, b := range buf {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			vals[j] = int8(acc >> bits & 31)
			j++
		}
	}
	out := make([]byte, CodeLen)
	for i, v := range vals {
		out[i] = Alphabet[v]
	}
	out[dataLen] = Alphabet[check(vals[:])]
	return string(out), nil
}

// ParseCode returns the canonical form of a code as typed or scanned:
// case, hyphens and spaces are ignored, O reads as 0 and I and L as 1, and
// a QR payload (QRPrefix + code) gives its code. It returns an error
// wrapping ErrBadCode for a code of the wrong length, with a symbol
// outside the alphabet, or whose check symbol does not match (a typo).
func ParseCode(s string) (string, error) {
	c, err := parseCode(s)
	if err != nil {
		return "", fmt.Errorf("coupon: %w", err)
	}
	return c, nil
}

// parseCode is ParseCode for the book and the handle, which name the
// package.
func parseCode(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), QRPrefix)
	vals := make([]int8, 0, CodeLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == ' ' {
			continue
		}
		v := symbol[c]
		if v < 0 {
			return "", fmt.Errorf("code %q: %w: symbol %q", s, ErrBadCode, c)
		}
		vals = append(vals, v)
	}
	if len(vals) != CodeLen {
		return "", fmt.Errorf("code %q: %w: %d symbols, want %d", s, ErrBadCode, len(vals), CodeLen)
	}
	if check(vals[:dataLen]) != vals[dataLen] {
		return "", fmt.Errorf("code %q: %w: check symbol does not match", s, ErrBadCode)
	}
	out := make([]byte, CodeLen)
	for i, v := range vals {
		out[i] = Alphabet[v]
	}
	return string(out), nil
}

// QR returns the payload to encode in a coupon's QR code.
func QR(code string) string { return QRPrefix + code }

// FormatCode groups a code for print: "ABCD-EFGH-JKMN-PQRST".
func FormatCode(code string) string {
	if len(code) != CodeLen {
		return code
	}
	return code[0:4] + "-" + code[4:8] + "-" + code[8:12] + "-" + code[12:]
}
