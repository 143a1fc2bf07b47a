package level

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

func TestMemberRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range []memberState{
		{},
		{Level: "Gold", Since: at, TermEnd: at.AddDate(1, 0, 0), Lifetime: decimal.RequireFromString("1234.5"),
			Frozen: []Frozen{{Level: "Platinum", Since: at, Deadline: at.AddDate(0, 3, 0), Earned: decimal.RequireFromString("12")}, {Level: "Diamond", Since: at},
				// Refunds since the downgrade took more than was earned.
				{Level: "Gold", Since: at, Earned: decimal.RequireFromString("-40")}},
			Gifted: []string{"Silver", "Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash", Refused: at.Add(time.Hour), Version: 3, Fingerprint: 0x44136fa355b3678a},
				{Level: "Gold", Reward: "pack:spring"}}, Plans: []Held{{Plan: "plus", Since: at, Expires: at.AddDate(0, 1, 0)}}, Seq: 7,
			Day: rule.Date{Year: 2026, Month: 3, Day: 1}, DayGrowth: decimal.RequireFromString("-2.5"), PlanChanged: at.Add(time.Hour)},
		{Level: "Gold", Plans: []Held{{Plan: "plus", Since: at, Expires: at.AddDate(0, 1, 0)}}, Seq: 2, PlanChanged: at},
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
	// A member owed no gift is written in the second version, as earlier
	// releases wrote it; the fourth is the second with the gifts owed,
	// each with its last refusal: its time, and its definition's version
	// and fingerprint.
	m := memberState{Level: "Gold", Lifetime: decimal.RequireFromString("3"), Gifted: []string{"Silver"}, Seq: 2,
		Day: rule.Date{Year: 2026, Month: 3, Day: 1}, DayGrowth: decimal.RequireFromString("3")}
	v2 := appendMember(nil, &m)
	m.Owed = []owed{{Level: "Silver", Reward: "coupon:cash", Refused: at, Version: 2, Fingerprint: 300}}
	v4 := appendMember(nil, &m)
	owedV4 := codec.Writer{B: []byte{1}} // one gift owed
	owedV4.String("Silver")
	owedV4.String("coupon:cash")
	owedV4.Time(at)
	owedV4.Uint(2)
	owedV4.Uint(300)
	if v2[0] != memberV2 || v4[0] != memberV4 || string(v4[1:]) != string(v2[1:])+string(owedV4.B) {
		t.Errorf("records %x and %x: want version 2, and 4 with the gifts owed after the rest", v2, v4)
	}
	// The fifth is the fourth with the time of the latest plan change,
	// written once the member has bought a plan.
	m.PlanChanged = at
	v5 := appendMember(nil, &m)
	changed := codec.Writer{}
	changed.Time(at)
	if v5[0] != memberV5 || string(v5[1:]) != string(v4[1:])+string(changed.B) {
		t.Errorf("record %x: want version 5, the fourth's and the latest plan change", v5)
	}
	m.PlanChanged = time.Time{}
	// A record of the third version, written earlier, is read: its gifts
	// owed have no last refusal (the next event asks for them).
	v3 := append(append([]byte{memberV3}, v2[1:]...), 1, 6)
	v3 = append(append(v3, "Silver"...), 11)
	v3 = append(v3, "coupon:cash"...)
	want := m
	want.Owed = []owed{{Level: "Silver", Reward: "coupon:cash"}}
	if got, err := decodeMember(v3); err != nil || !cmp.Equal(want, got) {
		t.Errorf("V3 record: %+v, %v; want %+v", got, err, want)
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

// A history record reads back as written, and as its JSON (what older
// versions stored) reads; at about a third of the JSON's bytes.
func TestHistoryRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	window := decimal.RequireFromString("1234.50")
	for _, r := range []Record{
		{Seq: 1, Time: at, Cause: CauseJoin, To: "member", Event: "b0"},
		{Seq: 2, Time: at, Cause: CauseEvent, From: "member", To: "gold", TermEnd: at.AddDate(1, 0, 0), Event: "o7"},
		{Seq: 3, Time: at, Cause: CauseManual, From: "gold", To: "silver", Operator: "ops", Note: "asked for it"},
		{Seq: 4, Time: at, Cause: CauseTermEnd, From: "gold", To: "gold", Window: &window},
		{Seq: 5, Time: at, Cause: CausePurchase, Event: "buy", Plan: "plus", Expires: at.AddDate(0, 1, 0)},
		{Cause: CauseExpiry}, // all else zero
	} {
		raw := appendRecord(nil, &r)
		got, err := decodeRecord(raw)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		js, _ := json.Marshal(r)
		if old, err := decodeRecord(js); err != nil || !cmp.Equal(old, got) {
			t.Errorf("JSON record %s: %+v, %v", js, old, err)
		}
		if r.Seq == 1 && len(raw)*2 > len(js) {
			t.Errorf("a join takes %d bytes; JSON took %d", len(raw), len(js))
		}
		for n := range len(raw) {
			if _, err := decodeRecord(raw[:n]); err == nil {
				t.Errorf("record cut to %d of %d bytes decoded", n, len(raw))
			}
		}
		if _, err := decodeRecord(append(raw, 0)); err == nil {
			t.Error("record with a byte after it decoded")
		}
	}
	bad := appendRecord(nil, &Record{Seq: 1})
	for name, b := range map[string][]byte{
		"version": append([]byte{7}, bad[1:]...),
		// The window flag follows the version, the seq, 2 times and 6
		// strings, each one byte here (zero or empty): it is byte 10.
		"window": append(append(append([]byte(nil), bad[:10]...), 2), bad[11:]...),
		"json":   []byte(`{"seq":`),
	} {
		if _, err := decodeRecord(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// Every record has a cause: one without is damaged.
	if r, err := decodeRecord(appendRecord(nil, &Record{Seq: 6})); err == nil {
		t.Errorf("a record without a cause reads as %+v", r)
	}
}

// A member record with bytes after it is damaged, not read: a record of
// the second version whose version byte reads 1 lost its latest day's
// growth, and any record took bytes appended to it.
func TestMemberRecordTrailingBytes(t *testing.T) {
	m := memberState{Level: "Gold", Lifetime: decimal.RequireFromString("30"), Seq: 2,
		Day: rule.Date{Year: 2026, Month: 3, Day: 1}, DayGrowth: decimal.RequireFromString("30")}
	v2 := appendMember(nil, &m)
	asV1 := append([]byte{memberV1}, v2[1:]...)
	for name, b := range map[string][]byte{"a byte appended": append(v2[:len(v2):len(v2)], 0), "version 2 read as 1": asV1} {
		if got, err := decodeMember(b); err == nil {
			t.Errorf("%s: decodeMember(%x) = %+v; want an error", name, b, got)
		}
	}
}

// A gift owed whose definition is recorded without a time of refusal is
// damaged, in a binary record as in a JSON one: the member's record is
// store.ErrCorrupt, not read as owed since for ever nor as never
// refused.
func TestMemberRecordOwedDamaged(t *testing.T) {
	m := memberState{Level: "Gold", Lifetime: decimal.RequireFromString("3"), Seq: 2,
		Owed: []owed{{Level: "Gold", Reward: "coupon:cash", Version: 2, Fingerprint: 300}}}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"binary": appendMember(nil, &m), "json": js} {
		if err := loadStored(t, b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: loadMember = %v, want store.ErrCorrupt", name, err)
		}
	}
}

// A member record whose lifetime growth reads negative is damaged: it
// only grows from zero and is floored at zero (decrease), so no writer
// writes one. Read as it was, Status showed a lifetime of -50; it is
// store.ErrCorrupt, in a binary record as in a JSON one. (A freeze's
// growth earned since the downgrade may be negative: refunds since it
// took more than was earned; TestMemberRecordRoundTrip reads one.)
func TestMemberRecordNegativeDamaged(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for name, m := range map[string]memberState{
		"lifetime": {Level: "Gold", Since: at, Lifetime: decimal.RequireFromString("-50"), Seq: 2},
	} {
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for form, b := range map[string][]byte{"binary": appendMember(nil, &m), "json": js} {
			if err := loadStored(t, b); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("%s, %s: loadMember = %v, want store.ErrCorrupt", name, form, err)
			}
		}
	}
}

// loadStored stores b as bob's member record in a new memory store and
// returns what loadMember makes of it.
func loadStored(t *testing.T, b []byte) error {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	return st.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put(bMember, []byte("bob"), b); err != nil {
			return err
		}
		_, _, err := loadMember(tx, "bob")
		return err
	})
}
