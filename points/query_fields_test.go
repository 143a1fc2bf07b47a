package points_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
)

// TestQueryFieldsNamedAsJSON: a query's field beyond the limits on input
// is named in lower case, as its JSON name reads, like the fields the
// Handle's own checks name (sub, kinds, at). The limits' check
// (event.CheckRequest) names a field by its JSON tag, else by its Go
// name, and the query types had no tags: a Statement's From in 1899 read
// "From: …" where Totals' read "from: …". Each message is written out by
// hand: the call ("points: statement of m"), "invalid argument", the
// field, then event.CheckTime's "time outside of the supported range:
// <time> is not from 1900-01-01 to 2099-12-31" or event.ErrInvalidText's
// "not valid UTF-8 or contains a NUL byte". Two fields out of range are
// both named, one a line, in the order of the query's fields.
func TestQueryFieldsNamedAsJSON(t *testing.T) {
	ctx := context.Background()
	h := callsSetup(t).Points()
	early := time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC)
	late := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	const (
		earlyRange = "time outside of the supported range: 1899-12-31T23:59:59Z is not from 1900-01-01 to 2099-12-31"
		lateRange  = "time outside of the supported range: 2100-01-01T00:00:00Z is not from 1900-01-01 to 2099-12-31"
		badText    = "not valid UTF-8 or contains a NUL byte"
	)
	statement := func(q points.StatementQuery) error {
		q.Program, q.Member = "mall", "m"
		_, err := h.Statement(ctx, q)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
		also error
	}{
		{"Statement from in 1899", statement(points.StatementQuery{From: early}),
			"points: statement of m: invalid argument: from: " + earlyRange, event.ErrTimeRange},
		{"Statement to in 2100", statement(points.StatementQuery{To: late}),
			"points: statement of m: invalid argument: to: " + lateRange, event.ErrTimeRange},
		{"Statement from in 1899 and to in 2100", statement(points.StatementQuery{From: early, To: late}),
			"points: statement of m: invalid argument: from: " + earlyRange + "\nto: " + lateRange, event.ErrTimeRange},
		{"Statement cursor with a NUL", statement(points.StatementQuery{Cursor: "c\x00"}),
			"points: statement of m: invalid argument: cursor: " + badText, event.ErrInvalidText},
		{"Totals from in 1899", func() error {
			_, err := h.Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m", From: early})
			return err
		}(), "points: totals of m: invalid argument: from: " + earlyRange, event.ErrTimeRange},
		{"Balance at in 2100", func() error {
			_, err := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: late})
			return err
		}(), "points: balance of m: invalid argument: at: " + lateRange, event.ErrTimeRange},
		{"Split at in 2100", func() error {
			_, err := h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("10"), At: late})
			return err
		}(), "points: split for m: invalid argument: at: " + lateRange, event.ErrTimeRange},
		{"Expiring from in 2100", func() error {
			_, err := h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: late, Days: 1})
			return err
		}(), "points: expiring points of m: invalid argument: from: " + lateRange, event.ErrTimeRange},
		{"Redemption ref with a NUL", func() error {
			_, err := h.Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "r\x00"})
			return err
		}(), `points: redemption "r\x00": invalid argument: ref: ` + badText, event.ErrInvalidText},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.name, tc.err, tc.want)
		}
		if !errors.Is(tc.err, event.ErrInvalidArgument) || !errors.Is(tc.err, tc.also) {
			t.Errorf("%s: %v, want it to wrap event.ErrInvalidArgument and %v", tc.name, tc.err, tc.also)
		}
	}
}
