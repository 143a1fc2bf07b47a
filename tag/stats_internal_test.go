package tag

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

// sameAsUnmarshal checks parseStats against encoding/json on raw: when
// parseStats reads it, json.Unmarshal reads it too, to the same Stats.
func sameAsUnmarshal(t *testing.T, raw []byte) (parsed bool) {
	t.Helper()
	var fast, std Stats
	if !parseStats(raw, &fast) {
		if diff := cmp.Diff(Stats{}, fast); diff != "" {
			t.Errorf("parseStats(%s) declined but wrote (-zero +got):\n%s", raw, diff)
		}
		return false
	}
	if err := json.Unmarshal(raw, &std); err != nil {
		t.Fatalf("parseStats read %s, json.Unmarshal refuses it: %v", raw, err)
	}
	if diff := cmp.Diff(std, fast); diff != "" {
		t.Errorf("parseStats(%s) (-json.Unmarshal +parseStats):\n%s", raw, diff)
	}
	return true
}

// parseStats reads every record AppendJSON writes as encoding/json does,
// declines the records with tallies, and declines or agrees with
// encoding/json on records written otherwise.
func TestParseStatsMatchesUnmarshal(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	d := decimal.RequireFromString
	for _, s := range []Stats{
		{},
		{Amount: d("12.5"), Recharged: d("200")},
		{FirstOrder: time.Date(2026, 3, 15, 10, 0, 0, 123, sh), LastOrder: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Orders: 7, Amount: d("-0.01"), Recharged: d("1e-5")},
		{LastOrder: time.Date(2026, 4, 1, 0, 0, 0, 500000000, sh), Orders: -1},
	} {
		raw, _ := s.AppendJSON(nil)
		if !sameAsUnmarshal(t, raw) {
			t.Errorf("parseStats declined AppendJSON's %s", raw)
		}
		std, _ := json.Marshal(s)
		if !sameAsUnmarshal(t, std) {
			t.Errorf("parseStats declined json.Marshal's %s", std)
		}
	}
	withTallies, _ := json.Marshal(Stats{Orders: 1, Brands: map[string]Tally{"b": {Orders: 1}}})
	for _, raw := range []string{
		string(withTallies),
		`{"amount":"1","recharged":"2"} `,
		`{ "amount":"1","recharged":"2"}`,
		`{"recharged":"2","amount":"1"}`,
		`{"amount":"1"}`,
		`{"amount":"1","recharged":"2","brands":{}}`,
		`{"orders":+3,"amount":"1","recharged":"2"}`,
		`{"orders":03,"amount":"1","recharged":"2"}`,
		`{"orders":1.0,"amount":"1","recharged":"2"}`,
		`{"amount":"\u0031","recharged":"2"}`,
		`{"amount":1,"recharged":"2"}`,
		`{"amount":"1e3","recharged":".5"}`,
		`{"first_order":"2026-03-15T10:00:00.000+08:00","amount":"1","recharged":"2"}`,
		`{"first_order":"2026-03-15T10:00:00+00:00","amount":"1","recharged":"2"}`,
		`{"first_order":"2026-03-15T10:00:00Z","amount":"1","recharged":"2"}`,
		`{"first_order":"2026-03-15 10:00:00Z","amount":"1","recharged":"2"}`,
		`{"amount":"1","recharged":"2"}x`,
		`null`,
		``,
	} {
		sameAsUnmarshal(t, []byte(raw))
	}
}

// FuzzParseStats: whatever parseStats reads, encoding/json reads the same.
func FuzzParseStats(f *testing.F) {
	f.Add([]byte(`{"first_order":"2026-03-15T10:00:00.5+08:00","orders":3,"amount":"9.99","recharged":"0"}`))
	f.Add([]byte(`{"amount":"1","recharged":"2"}`))
	f.Fuzz(func(t *testing.T, raw []byte) { sameAsUnmarshal(t, raw) })
}
