package rule_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

const capBucket = "caps"

// update runs fn in a read-write transaction of s.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestUse(t *testing.T) {
	type step struct {
		At      string // wall time in the zone
		Want    string
		Granted string
		Cut     *rule.Cut
	}
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	cut := func(p rule.Period, limit, used, wanted, granted string) *rule.Cut {
		return &rule.Cut{Period: p, Limit: d(limit), Used: d(used), Wanted: d(wanted), Granted: d(granted)}
	}
	tests := []struct {
		name  string
		zone  string
		caps  rule.Caps
		steps []step
	}{
		{"day resets at midnight", "Asia/Shanghai", rule.Caps{{rule.Day, d("10")}}, []step{
			{"2026-11-24 08:00", "6", "6", nil},
			{"2026-11-24 23:59:59", "6", "4", cut(rule.Day, "10", "6", "6", "4")},
			{"2026-11-24 23:59:59", "1", "0", cut(rule.Day, "10", "10", "1", "0")},
			{"2026-11-25 00:00", "6", "6", nil},
		}},
		{"week resets on Monday", "Europe/Berlin", rule.Caps{{rule.Week, d("5")}}, []step{
			{"2026-11-23 00:00", "3", "3", nil},
			{"2026-11-29 23:59:59", "3", "2", cut(rule.Week, "5", "3", "3", "2")},
			{"2026-11-30 00:00", "3", "3", nil},
		}},
		{"week spanning a year end", "Asia/Shanghai", rule.Caps{{rule.Week, d("5")}}, []step{
			{"2026-12-31 12:00", "4", "4", nil},
			{"2027-01-03 23:59:59", "4", "1", cut(rule.Week, "5", "4", "4", "1")},
			{"2027-01-04 00:00", "4", "4", nil},
		}},
		{"month", "Europe/Berlin", rule.Caps{{rule.Month, d("100")}}, []step{
			{"2026-10-01 00:00", "60.5", "60.5", nil},
			{"2026-10-31 23:59:59", "60.5", "39.5", cut(rule.Month, "100", "60.5", "60.5", "39.5")},
			{"2026-11-01 00:00", "60.5", "60.5", nil},
		}},
		{"year", "Asia/Shanghai", rule.Caps{{rule.Year, d("1000")}}, []step{
			{"2026-01-01 00:00", "999", "999", nil},
			{"2026-12-31 23:59:59", "2", "1", cut(rule.Year, "1000", "999", "2", "1")},
			{"2027-01-01 00:00", "2", "2", nil},
		}},
		{"total never resets", "Asia/Shanghai", rule.Caps{{rule.Total, d("3")}}, []step{
			{"2026-01-01 00:00", "2", "2", nil},
			{"2030-06-01 00:00", "2", "1", cut(rule.Total, "3", "2", "2", "1")},
			{"2040-06-01 00:00", "2", "0", cut(rule.Total, "3", "3", "2", "0")},
		}},
		{"tighter of two caps cuts", "Europe/Berlin", rule.Caps{{rule.Day, d("10")}, {rule.Week, d("15")}}, []step{
			{"2026-11-23 10:00", "10", "10", nil},
			{"2026-11-24 10:00", "10", "5", cut(rule.Week, "15", "10", "10", "5")},
			{"2026-11-25 10:00", "1", "0", cut(rule.Week, "15", "15", "1", "0")},
			{"2026-11-30 10:00", "12", "10", cut(rule.Day, "10", "0", "12", "10")},
		}},
		{"want exactly at the cap", "Asia/Shanghai", rule.Caps{{rule.Day, d("10")}}, []step{
			{"2026-11-24 10:00", "10", "10", nil},
			{"2026-11-24 11:00", "0", "0", nil},
			{"2026-11-24 12:00", "0.01", "0", cut(rule.Day, "10", "10", "0.01", "0")},
		}},
		{"zero cap", "Asia/Shanghai", rule.Caps{{rule.Day, d("0")}}, []step{
			{"2026-11-24 10:00", "1", "0", cut(rule.Day, "0", "0", "1", "0")},
		}},
		{"no caps", "Asia/Shanghai", nil, []step{
			{"2026-11-24 10:00", "1000000", "1000000", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := loadZone(t, tt.zone)
			s := memory.New()
			defer s.Close()
			for i, st := range tt.steps {
				update(t, s, func(tx store.Tx) error {
					granted, cut, err := rule.Use(tx, capBucket, "m1\x00rule", tt.caps, wall(t, st.At, loc), loc, d(st.Want))
					if err != nil {
						return err
					}
					if diff := cmp.Diff(st, step{st.At, st.Want, granted.String(), cut}); diff != "" {
						t.Errorf("step %d: Use (-want +got):\n%s", i, diff)
					}
					return nil
				})
			}
		})
	}
}

func TestUseZoneBoundary(t *testing.T) {
	// 16:30 UTC is the next day in Shanghai but the same day in Berlin.
	first := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	second := time.Date(2026, 11, 24, 16, 30, 0, 0, time.UTC)
	caps := rule.Caps{{Period: rule.Day, Limit: decimal.NewFromInt(10)}}
	got := map[string]string{}
	for _, zoneName := range zones {
		loc := loadZone(t, zoneName)
		s := memory.New()
		defer s.Close()
		update(t, s, func(tx store.Tx) error {
			if _, _, err := rule.Use(tx, capBucket, "m1", caps, first, loc, decimal.NewFromInt(8)); err != nil {
				return err
			}
			g, _, err := rule.Use(tx, capBucket, "m1", caps, second, loc, decimal.NewFromInt(8))
			got[zoneName] = g.String()
			return err
		})
	}
	want := map[string]string{"Asia/Shanghai": "8", "Europe/Berlin": "2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("granted (-want +got):\n%s", diff)
	}
}

func TestUsedAndRelease(t *testing.T) {
	loc := loadZone(t, "Asia/Shanghai")
	at := wall(t, "2026-11-24 10:00", loc)
	caps := rule.Caps{{Period: rule.Day, Limit: decimal.NewFromInt(10)}, {Period: rule.Total, Limit: decimal.NewFromInt(100)}}
	s := memory.New()
	defer s.Close()
	used := func(tx store.Tx) map[rule.Period]string {
		out := map[rule.Period]string{}
		for _, p := range []rule.Period{rule.Day, rule.Week, rule.Total} {
			u, err := rule.Used(tx, capBucket, "m1", p, at, loc)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = u.String()
		}
		return out
	}
	type state map[rule.Period]string
	steps := []struct {
		name string
		do   func(tx store.Tx) error
		want state
	}{
		{"use 7", func(tx store.Tx) error {
			_, _, err := rule.Use(tx, capBucket, "m1", caps, at, loc, decimal.NewFromInt(7))
			return err
		}, state{rule.Day: "7", rule.Week: "0", rule.Total: "7"}},
		{"release 2.5", func(tx store.Tx) error {
			return rule.Release(tx, capBucket, "m1", caps, at, loc, decimal.RequireFromString("2.5"))
		}, state{rule.Day: "4.5", rule.Week: "0", rule.Total: "4.5"}},
		{"release more than used", func(tx store.Tx) error {
			return rule.Release(tx, capBucket, "m1", caps, at, loc, decimal.NewFromInt(50))
		}, state{rule.Day: "0", rule.Week: "0", rule.Total: "0"}},
		{"release with nothing used", func(tx store.Tx) error {
			return rule.Release(tx, capBucket, "m1", caps, at, loc, decimal.NewFromInt(1))
		}, state{rule.Day: "0", rule.Week: "0", rule.Total: "0"}},
	}
	for _, st := range steps {
		update(t, s, func(tx store.Tx) error {
			if err := st.do(tx); err != nil {
				return err
			}
			if diff := cmp.Diff(st.want, state(used(tx))); diff != "" {
				t.Errorf("%s: Used (-want +got):\n%s", st.name, diff)
			}
			return nil
		})
	}
	// A counter that reaches 0 is deleted.
	_ = s.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan(capBucket, nil, nil, false, func(k, v []byte) error {
			t.Errorf("counter %q = %q left behind", k, v)
			return nil
		})
	})
}

// UsedCount reads a counter of whole things: none is 0, 3 is 3, and a
// counter that is no whole number an int64 holds, or is negative, is
// store.ErrCorrupt.
func TestUsedCount(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		counter string // "" for none
		want    int64
		err     error
	}{
		{"", 0, nil}, {"3", 3, nil}, {"3.0", 3, nil},
		{"2.5", 0, store.ErrCorrupt}, {"-1", 0, store.ErrCorrupt}, {"18446744073709551616", 0, store.ErrCorrupt}, {"x", 0, store.ErrCorrupt},
	} {
		s := memory.New()
		update(t, s, func(tx store.Tx) error {
			if c.counter != "" {
				if _, _, err := rule.Use(tx, capBucket, "m1", rule.Caps{{Period: rule.Total, Limit: decimal.NewFromInt(100)}}, at, time.UTC, decimal.NewFromInt(1)); err != nil {
					return err
				}
				var ks [][]byte // the counter Use wrote
				if err := tx.Scan(capBucket, nil, nil, false, func(k, _ []byte) error { ks = append(ks, append([]byte(nil), k...)); return nil }); err != nil || len(ks) != 1 {
					t.Fatalf("the counter Use wrote: %q, %v", ks, err)
				}
				if err := tx.Put(capBucket, ks[0], []byte(c.counter)); err != nil {
					return err
				}
			}
			n, err := rule.UsedCount(tx, capBucket, "m1", rule.Total, at, time.UTC)
			if n != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Errorf("UsedCount of %q = %d, %v; want %d, %v", c.counter, n, err, c.want, c.err)
			}
			return nil
		})
	}
}

func TestUseErrors(t *testing.T) {
	loc := loadZone(t, "Asia/Shanghai")
	at := wall(t, "2026-11-24 10:00", loc)
	one := decimal.NewFromInt(1)
	good := rule.Caps{{Period: rule.Day, Limit: one}}
	bad := rule.Caps{{Period: "hour", Limit: one}}
	tests := []struct {
		name string
		call func(tx store.Tx) error
		want error
	}{
		{"use negative", func(tx store.Tx) error {
			_, _, err := rule.Use(tx, capBucket, "m1", good, at, loc, one.Neg())
			return err
		}, rule.ErrNegative},
		{"release negative", func(tx store.Tx) error {
			return rule.Release(tx, capBucket, "m1", good, at, loc, one.Neg())
		}, rule.ErrNegative},
		{"use bad caps", func(tx store.Tx) error {
			_, _, err := rule.Use(tx, capBucket, "m1", bad, at, loc, one)
			return err
		}, rule.ErrInvalidDefinition},
		{"release bad caps", func(tx store.Tx) error {
			return rule.Release(tx, capBucket, "m1", bad, at, loc, one)
		}, rule.ErrInvalidDefinition},
		{"used unknown period", func(tx store.Tx) error {
			_, err := rule.Used(tx, capBucket, "m1", "hour", at, loc)
			return err
		}, event.ErrInvalidArgument},
		{"corrupt counter", func(tx store.Tx) error {
			if err := tx.Put(capBucket, []byte("m1\x00d2026-11-24"), []byte("x")); err != nil {
				return err
			}
			_, _, err := rule.Use(tx, capBucket, "m1", good, at, loc, one)
			return err
		}, store.ErrCorrupt},
		// Use only adds and Release deletes a counter at 0: a negative one
		// is damage, which read as such gave room past the cap.
		{"negative counter", func(tx store.Tx) error {
			if err := tx.Put(capBucket, []byte("m1\x00d2026-11-24"), []byte("-5")); err != nil {
				return err
			}
			_, _, err := rule.Use(tx, capBucket, "m1", good, at, loc, one)
			return err
		}, store.ErrCorrupt},
		{"negative counter read", func(tx store.Tx) error {
			if err := tx.Put(capBucket, []byte("m1\x00d2026-11-24"), []byte("-0.5")); err != nil {
				return err
			}
			_, err := rule.Used(tx, capBucket, "m1", rule.Day, at, loc)
			return err
		}, store.ErrCorrupt},
	}
	s := memory.New()
	defer s.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sentinel := errors.New("rollback")
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if err := tt.call(tx); err != nil {
					return err
				}
				return sentinel
			})
			if err == nil || errors.Is(err, sentinel) {
				t.Fatalf("got %v, want an error", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want one wrapping %v", err, tt.want)
			}
		})
	}
}

func TestCapsCheck(t *testing.T) {
	one := decimal.NewFromInt(1)
	tests := []struct {
		name string
		caps rule.Caps
		want []string
	}{
		{"none", nil, nil},
		{"good", rule.Caps{{rule.Day, one}, {rule.Week, one}, {rule.Total, decimal.Zero}}, nil},
		{"bad", rule.Caps{{rule.Day, one}, {"hour", one}, {rule.Day, one.Neg()}}, []string{
			`[1].period: unknown period "hour" (want day, week, month, year or total)`,
			`[2].period: duplicate period "day"`,
			"[2].limit: must not be negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problems(t, tt.caps.Check())); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
	var ps rule.Problems
	ps.Add("caps", rule.Caps{{rule.Day, one.Neg()}}.Check())
	if got, want := ps.List[0].Error(), "caps[0].limit: must not be negative"; got != want {
		t.Errorf("nested = %q, want %q", got, want)
	}
}
