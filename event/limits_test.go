package event_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

func TestCheckIDAndText(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		id, txt error // nil: accepted
	}{
		{"plain", "ann", nil, nil},
		{"unicode", "张三-№1", nil, nil},
		{"256 bytes", strings.Repeat("a", 256), nil, nil},
		{"257 bytes", strings.Repeat("a", 257), event.ErrTooLarge, nil},
		{"1024 bytes", strings.Repeat("a", 1024), event.ErrTooLarge, nil},
		{"1025 bytes", strings.Repeat("a", 1025), event.ErrTooLarge, event.ErrTooLarge},
		{"invalid UTF-8", "ann\xff", event.ErrInvalidText, event.ErrInvalidText},
		{"truncated rune", "\xe5\xbc", event.ErrInvalidText, event.ErrInvalidText},
		{"NUL", "a\x00b", event.ErrInvalidText, event.ErrInvalidText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := event.CheckID(tt.s); !is(err, tt.id) {
				t.Errorf("CheckID = %v; want %v", err, tt.id)
			}
			if err := event.CheckText(tt.s); !is(err, tt.txt) {
				t.Errorf("CheckText = %v; want %v", err, tt.txt)
			}
		})
	}
	// An empty ID is no limit's, but it is refused all the same: the
	// error wraps ErrInvalidArgument, which a host calling CheckID tests.
	if err := event.CheckID(""); !errors.Is(err, event.ErrInvalidArgument) || err.Error() != "empty" {
		t.Errorf("CheckID(\"\") = %v; want \"empty\", wrapping ErrInvalidArgument", err)
	}
	if err := event.CheckText(""); err != nil {
		t.Errorf("CheckText(\"\") = %v", err)
	}
}

// is reports whether err wraps target, or is nil when target is.
func is(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}

func TestCheckTime(t *testing.T) {
	for _, tt := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1899, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		// 1900-01-01 00:00 at +08:00 is still 1899 in UTC.
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("+08", 8*3600)), false},
		{time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(3026, 11, 24, 0, 0, 0, 0, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Time{}, false},
		{time.Unix(0, 0), true},
	} {
		err := event.CheckTime(tt.t)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, event.ErrTimeRange)) {
			t.Errorf("CheckTime(%v) = %v; want ok %v", tt.t, err, tt.ok)
		}
	}
}

func TestCheckValue(t *testing.T) {
	list := func(n int, item string) event.Value {
		s := make([]string, n)
		for i := range s {
			s[i] = item
		}
		return event.List(s...)
	}
	for _, tt := range []struct {
		name string
		v    event.Value
		want error
	}{
		{"string", event.Str("ok"), nil},
		{"long string", event.Str(strings.Repeat("x", 1025)), event.ErrTooLarge},
		{"bad string", event.Str("\xff"), event.ErrInvalidText},
		{"256 items", list(256, "x"), nil},
		{"257 items", list(257, "x"), event.ErrTooLarge},
		{"bad item", event.List("a", "b\x00"), event.ErrInvalidText},
		{"40 digits", event.Dec(decimal.RequireFromString("123456789012345678901234567890.1234567890")), nil},
		{"41 digits", event.Dec(decimal.RequireFromString("123456789012345678901234567890.12345678901")), event.ErrTooLarge},
		{"1e40", event.Dec(decimal.New(1, 39)), nil},
		{"1e41", event.Dec(decimal.New(1, 40)), event.ErrTooLarge},
		{"1e-40", event.Dec(decimal.New(1, -40)), nil},
		{"1e-41", event.Dec(decimal.New(1, -41)), event.ErrTooLarge},
		{"zero time", event.At(time.Time{}), nil},
		{"far time", event.At(time.Date(3026, 1, 1, 0, 0, 0, 0, time.UTC)), event.ErrTimeRange},
		{"integer", event.Int(1 << 62), nil},
	} {
		if err := event.CheckValue(tt.v); !is(err, tt.want) {
			t.Errorf("%s: CheckValue = %v; want %v", tt.name, err, tt.want)
		}
	}
}

// Type.Check refuses what is beyond the limits, naming each field, along
// with its other problems.
func TestTypeCheckLimits(t *testing.T) {
	e := ev
	e.ID = strings.Repeat("i", 257)
	e.Member = "m\xff"
	e.Time = time.Date(3026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Attrs = event.Attrs{"amount": event.Dec(decimal.New(1, 50)), "store": event.Str("s\x00"), "tags": event.List("ok", strings.Repeat("t", 1025))}
	err := order.Check(e)
	for _, want := range []error{event.ErrTooLarge, event.ErrInvalidText, event.ErrTimeRange} {
		if !errors.Is(err, want) {
			t.Errorf("Check = %v; want it to wrap %v", err, want)
		}
	}
	for _, field := range []string{"id:", "member:", "time:", "attrs.amount:", "attrs.store:", "attrs.tags: [1]:"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Check = %v; want it to name %s", err, field)
		}
	}
	if err := order.Check(ev); err != nil {
		t.Errorf("Check of a good event: %v", err)
	}
}

type inner struct {
	Code string    `json:"code"`
	When time.Time `json:"when"`
}

type request struct {
	RequestID string                 `json:"request_id"`
	Member    string                 `json:"member"`
	Note      string                 `json:"note,omitempty"`
	Skipped   string                 `json:"-"`
	Lines     []inner                `json:"lines"`
	Ptr       *inner                 `json:"ptr,omitempty"`
	Attrs     map[string]event.Value `json:"attrs"`
	Any       any                    `json:"any"`
	Amount    decimal.Decimal        `json:"amount"`
	private   string
}

func TestCheckRequest(t *testing.T) {
	good := request{RequestID: "r", Member: strings.Repeat("m", 256), Note: strings.Repeat("n", 1024), Skipped: "\xff", private: "\xff",
		Lines: []inner{{Code: "c", When: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}, Attrs: map[string]event.Value{"a": event.Str("x")}, Any: inner{}}
	if err := event.CheckRequest(good); err != nil {
		t.Errorf("CheckRequest(good) = %v", err)
	}
	if err := event.CheckRequest(&good); err != nil {
		t.Errorf("CheckRequest(&good) = %v", err)
	}
	bad := good
	bad.Member = strings.Repeat("m", 257)
	bad.Note = "\xff"
	bad.Lines = []inner{{}, {Code: "c\x00"}, {When: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}}
	bad.Ptr = &inner{Code: strings.Repeat("c", 1025)}
	bad.Attrs = map[string]event.Value{"a": event.List("\xff"), "b\xff": event.Str("")}
	bad.Any = map[string]string{"k": "\xfe"}
	err := event.CheckRequest(bad)
	if !errors.Is(err, event.ErrInvalidArgument) {
		t.Fatalf("CheckRequest(bad) = %v; want ErrInvalidArgument", err)
	}
	for _, field := range []string{"member:", "note:", "lines[1].code:", "lines[2].when:", "ptr.code:", "attrs.a: [0]:", "attrs: key:", "any.k:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("CheckRequest(bad) = %v; want it to name %s", err, field)
		}
	}
	if err := event.CheckRequest("plain\xff"); !errors.Is(err, event.ErrInvalidText) {
		t.Errorf("CheckRequest of a bad string = %v", err)
	}
	if err := event.CheckQuery("m\xff", time.Time{}); !errors.Is(err, event.ErrInvalidArgument) || !errors.Is(err, event.ErrInvalidText) {
		t.Errorf("CheckQuery(bad member) = %v", err)
	}
	if err := event.CheckQuery("m", time.Date(3026, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, event.ErrInvalidArgument) || !errors.Is(err, event.ErrTimeRange) {
		t.Errorf("CheckQuery(far time) = %v", err)
	}
}

func TestPageSize(t *testing.T) {
	for _, tt := range []struct {
		limit, want int
		ok          bool
	}{
		{0, 50, true},
		{1, 1, true},
		{1000, 1000, true},
		{1001, 1000, true},
		{1 << 40, 1000, true},
		{-1, 0, false},
		{-1 << 40, 0, false},
	} {
		got, err := event.PageSize(tt.limit, 50, 1000)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("PageSize(%d, 50, 1000) = %d, %v; want %d", tt.limit, got, err, tt.want)
		}
		if !tt.ok && (!errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), "limit")) {
			t.Errorf("PageSize(%d, 50, 1000) = %d, %v; want ErrInvalidArgument naming the limit", tt.limit, got, err)
		}
	}
}
