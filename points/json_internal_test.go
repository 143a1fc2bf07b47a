package points

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/engine"
	"github.com/shopspring/decimal"
)

// The hand-written payload encoders (Change's and the due payload's)
// decode to what json.Marshal's would, with every optional field set and
// unset; the kinds Change leaves to json.Marshal are encoded by it.
func TestPayloadJSONMatchesMarshal(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2027, 11, 30, 16, 0, 0, 1, time.UTC)
	for _, data := range []any{
		Change{Program: "mall", Amount: d("0")},
		Change{Program: "m\\", Amount: d("12"), Lot: "2.0", Expires: at, Ref: "o1", Date: "2026-11-24", Wanted: d("5"),
			Shortfall: d("1"), Lapsed: d("2"), Settled: d("4"), To: "air", ToAmount: d("3.25"), Operator: "ops"},
		Change{Program: "mall", Amount: d("-3"), Lots: []LotAmount{{Lot: "1.0", Amount: d("3"), Expires: at}}, Ref: "o\"2"},
		Change{Program: "mall", Amount: d("100"), Split: &Split{Order: d("2"), Points: d("100"), PointsMoney: d("1"), Cash: d("1")}},
		Change{Program: "mall", Amount: d("-7"), Adjustment: &Adjustment{ID: "a", Amount: d("-7"), State: AdjustmentPending, Requested: at}},
		duePayload{Program: "mall", Member: "m\"1", Lot: "2.0"},
		duePayload{Program: "mall", Member: "m1", Lot: "2.0", Date: "2026-11-24"},
	} {
		raw, err := engine.MarshalData(data)
		if err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(data)
		var got, want map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", raw, err)
		}
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%T decoded (-json.Marshal +AppendJSON):\n%s", data, diff)
		}
		if c, ok := data.(Change); ok {
			enc, err := c.encode(nil)
			if err != nil || string(enc) != string(raw) {
				t.Errorf("encode = %s, %v; want %s", enc, err, raw)
			}
		}
	}
}
