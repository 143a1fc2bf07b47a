package rule_test

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // the zones the tests use, whatever the host has

	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// zones are the program zones every calendar test runs in.
var zones = []string{"Asia/Shanghai", "Europe/Berlin"}

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// wall parses "2006-01-02 15:04:05" (seconds optional) in loc.
func wall(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, loc); err == nil {
			return v
		}
	}
	t.Fatalf("bad wall time %q", s)
	return time.Time{}
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("bad decimal %q", s)
	}
	return d
}

// problems returns the problems of err, one string each, or nil.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not a *rule.Problems", err)
	}
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("error %v does not wrap ErrInvalidDefinition", err)
	}
	var out []string
	for _, p := range ps.List {
		out = append(out, p.Error())
	}
	return out
}
