package level

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func TestMemberRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range []memberState{
		{},
		{Level: "Gold", Since: at, TermEnd: at.AddDate(1, 0, 0), Lifetime: decimal.RequireFromString("1234.5"),
			Frozen: []Frozen{{Level: "Platinum", Since: at, Deadline: at.AddDate(0, 3, 0), Earned: decimal.RequireFromString("12")}, {Level: "Diamond", Since: at}},
			Gifted: []string{"Silver", "Gold"}, Plans: []Held{{Plan: "plus", Since: at, Expires: at.AddDate(0, 1, 0)}}, Seq: 7,
			Day: rule.Date{Year: 2026, Month: 3, Day: 1}, DayGrowth: decimal.RequireFromString("-2.5")},
	} {
		got, err := decodeMember(appendMember(nil, &m))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		raw, _ := json.Marshal(m)
		if got, err := decodeMember(raw); err != nil || !cmp.Equal(m, got) {
			t.Errorf("JSON record: %v, %+v", err, got)
		}
	}
	if _, err := decodeMember([]byte{memberV1, 5}); err == nil {
		t.Error("truncated record decoded")
	}
	// A record of the first version has no latest day.
	w := codec.Writer{B: []byte{memberV1}}
	w.String("Gold")
	w.Time(time.Time{})
	w.Time(time.Time{})
	w.Decimal(decimal.RequireFromString("3"))
	w.Uint(0)
	w.Uint(0)
	w.Uint(0)
	w.Uint(3)
	if m, err := decodeMember(w.B); err != nil || m.Level != "Gold" || m.Seq != 3 || !m.Day.IsZero() {
		t.Errorf("V1 record: %+v, %v", m, err)
	}
}
