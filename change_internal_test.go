package membership

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Change.encode must produce what json.Marshal would decode to, for every
// field and for strings that need escaping.
func TestChangeEncodeMatchesJSON(t *testing.T) {
	for _, c := range []Change{
		{Seq: 1, Kind: "points.earned", Time: time.Date(2026, 11, 24, 2, 0, 0, 5, time.UTC)},
		{Seq: 1 << 60, Kind: "k\"\\\n\x01ü", Member: "m\t1", Event: "e<>&", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Data: json.RawMessage(`{"amount":"1.5"}`), Reason: &rule.Reason{Rule: "r", Inputs: map[string]string{"a": "1"}, Raw: decimal.RequireFromString("2.5")}},
		{Seq: 2, Kind: "x", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: &rule.Reason{}},
		{Seq: 3, Kind: "points.earned", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: &rule.Reason{
			Rule: "buy", Formula: "amount × 1.5 + 10", Inputs: map[string]string{"z\"": "1", "amount": "200.00"}, Note: "cut\n",
			Cut: &rule.Cut{Period: rule.Day, Limit: decimal.RequireFromString("100"), Used: decimal.RequireFromString("90"),
				Wanted: decimal.RequireFromString("-20.5"), Granted: decimal.RequireFromString("10")}}},
	} {
		raw, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		var got, want Change
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("encode produced invalid JSON %s: %v", raw, err)
		}
		std, _ := json.Marshal(c)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded (-json.Marshal +encode):\n%s", diff)
		}
	}
}
