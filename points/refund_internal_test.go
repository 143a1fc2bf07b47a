package points

import (
	"testing"

	"github.com/shopspring/decimal"
)

// TestReversalParts: what a refund reverses of a grant is taken from the
// lot while it holds points, then charged as spent, and what had lapsed
// (expired or voided) counts last and is never charged. Each case's parts
// are worked by hand: spent room = granted − held − lapsed − (reversed −
// forgiven), lapsed room = lapsed − forgiven.
func TestReversalParts(t *testing.T) {
	for _, tc := range []struct {
		name                                             string
		delta, granted, held, lapsed, reversed, forgiven string
		fromLot, spent, gone                             string
	}{
		// Nothing spent, nothing lapsed: all from the lot.
		{"held", "100", "100", "100", "0", "0", "0", "100", "0", "0"},
		// All 100 expired: spent room 100 − 0 − 100 − 0 = 0.
		{"all expired", "100", "100", "0", "100", "0", "0", "0", "0", "100"},
		// All 100 spent: spent room 100.
		{"all spent", "100", "100", "0", "0", "0", "0", "0", "100", "0"},
		// 60 spent, 40 expired: spent room 60, the rest lapsed.
		{"spent and expired", "100", "100", "0", "40", "0", "0", "0", "60", "40"},
		// Partial (30 of 100) of the same: spent first.
		{"partial: spent first", "30", "100", "0", "40", "0", "0", "0", "30", "0"},
		// Next 50 (80 in all): spent room 100 − 0 − 40 − 30 = 30, 20 lapsed.
		{"partial: then lapsed", "50", "100", "0", "40", "30", "0", "0", "30", "20"},
		// Last 20: spent room 100 − 0 − 40 − (80 − 20) = 0; lapsed room 20.
		{"partial: lapsed last", "20", "100", "0", "40", "80", "20", "0", "0", "20"},
		// 40 held, 60 spent, nothing lapsed, half refunded: 40 from the
		// lot, 10 spent.
		{"lot then spent", "50", "100", "40", "0", "0", "0", "40", "10", "0"},
		// 20 held, 30 spent, 50 expired; full refund: 20 from the lot,
		// spent room 100 − 20 − 50 − 0 = 30, 50 lapsed.
		{"lot, spent, expired", "100", "100", "20", "50", "0", "0", "20", "30", "50"},
		// Earlier refund took 20 from the lot; then 20 expired, 60 had been
		// spent: spent room 100 − 0 − 20 − 20 = 60, lapsed 20.
		{"after an earlier refund from the lot", "80", "100", "0", "20", "20", "0", "0", "60", "20"},
		// Whole-point scale does not matter: a program of one decimal.
		{"decimals", "12.5", "12.5", "0.5", "4.5", "0", "0", "0.5", "7.5", "4.5"},
		// A redemption returned to the lot after an earlier refund charged
		// it as spent: the lot holds more than the grant has left, so the
		// share comes from the lot.
		{"returned after a charge", "50", "100", "100", "0", "50", "0", "50", "0", "0"},
		// Records that disagree (a share above the grant): spent room
		// 50 − 0 − 10 − 0 = 40, 60 left but only 10 lapsed; the excess
		// counts as spent, as before lapsed points were known.
		{"inconsistent records", "100", "50", "0", "10", "0", "0", "0", "90", "10"},
		{"nothing to reverse", "0", "100", "0", "100", "0", "0", "0", "0", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decimal.RequireFromString
			fromLot, spent, gone := reversalParts(d(tc.delta), d(tc.granted), d(tc.held), d(tc.lapsed), d(tc.reversed), d(tc.forgiven))
			if !fromLot.Equal(d(tc.fromLot)) || !spent.Equal(d(tc.spent)) || !gone.Equal(d(tc.gone)) {
				t.Errorf("reversalParts = %s, %s, %s; want %s, %s, %s", fromLot, spent, gone, tc.fromLot, tc.spent, tc.gone)
			}
			if sum := fromLot.Add(spent).Add(gone); !sum.Equal(d(tc.delta)) && d(tc.delta).IsPositive() {
				t.Errorf("parts sum to %s, want %s", sum, tc.delta)
			}
		})
	}
}
