package membership

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// A change read back from its feed record is the change written, for
// every field and for strings that need escaping; a payload passed as a
// value is encoded in place, and the record's bounds say where.
func TestChangeRecordRoundTrip(t *testing.T) {
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
		rec, d0, d1, err := c.appendRecord([]byte("prefix"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec[:6]) != "prefix" || string(rec[d0:d1]) != string(c.Data) {
			t.Errorf("record %q: data at [%d:%d]", rec, d0, d1)
		}
		got, err := decodeChange(rec[6:])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("decoded (-written +read):\n%s", diff)
		}
		// Every cut short of the whole record is reported corrupt, not
		// read as another change.
		for n := range len(rec) - 6 - len(c.Data) {
			if _, err := decodeChange(rec[6 : 6+n]); !errors.Is(err, errCorruptRecord) {
				t.Errorf("record cut to %d bytes: %v", n, err)
			}
		}
	}
	data := GrowthChange{Amount: decimal.RequireFromString("1"), Kind: "earned"}
	rec, d0, d1, err := Change{Seq: 9, Kind: ChangeGrowthChanged, Time: time.Unix(0, 0)}.appendRecord(nil, func(b []byte) ([]byte, error) { return appendData(b, data) })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := marshalData(data)
	if string(rec[d0:d1]) != string(want) {
		t.Errorf("payload in place = %s, want %s", rec[d0:d1], want)
	}
}

// The hand-written payload encoders decode to what json.Marshal's would,
// with every optional field set and unset.
func TestPayloadJSONMatchesMarshal(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2027, 11, 30, 16, 0, 0, 1, time.UTC)
	for _, data := range []any{
		GrowthChange{Amount: d("12.5"), Balance: d("0"), Lifetime: d("-3"), Kind: "earned"},
		GrowthChange{Amount: d("-1"), Balance: d("2"), Lifetime: d("3"), Kind: "k\"<", Rule: "r\n", Shortfall: d("0.01")},
		PointsChange{Program: "mall", Amount: d("0")},
		PointsChange{Program: "m\\", Amount: d("12"), Lot: "2.0", Expires: at, Ref: "o1", Date: "2026-11-24", Wanted: d("5"),
			Shortfall: d("1"), To: "air", ToAmount: d("3.25"), Operator: "ops"},
		ptsDue{Program: "mall", Member: "m\"1", Lot: "2.0"},
		ptsDue{Program: "mall", Member: "m1", Lot: "2.0", Date: "2026-11-24"},
	} {
		raw, err := marshalData(data)
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
			t.Errorf("%T decoded (-json.Marshal +appendJSON):\n%s", data, diff)
		}
	}
}

// appendJSONString decodes to the string it was given, whatever needs
// escaping and wherever it sits.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"", "\\", "a\"b\\c", "\x00\x1f\n\t", "\"start", "end\\", "ü€😀", "mid\x7fdle", "a\u2028b"} {
		b := appendJSONString([]byte("x"), s)
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil || got != s || b[0] != 'x' {
			t.Errorf("appendJSONString(%q) = %s: %q, %v", s, b, got, err)
		}
	}
}
