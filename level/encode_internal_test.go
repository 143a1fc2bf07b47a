package level

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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

// A time out of the years 1678 to 2261 (keys.InRange) is damage: the
// binary record holds nanoseconds since 1970 in 64 bits, and those of
// 0000-01-01 overflow, so a JSON record refused at that time was read as
// it was and written back as refused on 1753-08-29 (the fuzzer's find).
// Each of the record's times is refused so, as store.ErrCorrupt, in a
// JSON record as in a binary one, whose reader holds a few seconds
// outside the range: math.MinInt64/1e9 seconds (-9223372036, truncated),
// 1677-09-21T00:12:44Z, is one second before keys.minUnix
// (math.MinInt64/1e9 + 1). Times well inside the ends, 1678-01-01 and
// 2261-12-31, are read back as the same instants.
func TestMemberRecordTimeOutOfRange(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	refused := `{"level":"Gold","lifetime":"3","owed":[{"level":"Gold","reward":"coupon:cash","refused":%q,"version":2}]}`
	for _, tt := range []struct {
		name, json string
	}{
		{"refused in year 0", fmt.Sprintf(refused, "0000-01-01T00:00:00Z")},
		{"refused in year 9999", fmt.Sprintf(refused, "9999-01-01T00:00:00Z")},
		{"since", `{"level":"Gold","lifetime":"3","since":"1500-06-01T00:00:00Z"}`},
		{"term end", `{"level":"Gold","lifetime":"3","since":"2026-03-01T00:00:00Z","term_end":"2300-03-01T00:00:00Z"}`},
		{"frozen deadline", `{"level":"Gold","lifetime":"3","frozen":[{"level":"Platinum","since":"2026-03-01T00:00:00Z","deadline":"3026-03-01T00:00:00Z","earned":"1"}]}`},
		{"plan since", `{"level":"Gold","lifetime":"3","plans":[{"plan":"plus","since":"0001-01-02T00:00:00Z","expires":"2027-03-01T00:00:00Z"}]}`},
		{"plan change", `{"level":"Gold","lifetime":"3","plan_changed":"2262-04-12T00:00:00Z"}`},
	} {
		if err := loadStored(t, []byte(tt.json)); !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: loadMember = %v, want store.ErrCorrupt, out of range", tt.name, err)
		}
	}
	// Binary: the earliest instant the codec reads but InRange refuses.
	early := time.Unix(math.MinInt64/1_000_000_000, 0).UTC()
	m := memberState{Level: "Gold", Since: at, Lifetime: decimal.RequireFromString("3"), Seq: 1, PlanChanged: early}
	if err := loadStored(t, appendMember(nil, &m)); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("binary, plan change %v: loadMember = %v, want store.ErrCorrupt", early, err)
	}
	// Near the range's ends: read back, the same instants.
	first, last := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC)
	in := memberState{Level: "Gold", Since: first, TermEnd: last, Lifetime: decimal.RequireFromString("3"), Seq: 1,
		Owed: []owed{{Level: "Gold", Reward: "coupon:cash", Refused: last, Version: 2}}}
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for form, b := range map[string][]byte{"binary": appendMember(nil, &in), "json": js} {
		got, err := decodeMember(b)
		if err != nil || !got.Since.Equal(first) || !got.TermEnd.Equal(last) || !got.Owed[0].Refused.Equal(last) {
			t.Errorf("%s: decodeMember = %+v, %v; want since %v, term end and refusal %v", form, got, err, first, last)
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

// Each gift owed keeps its place among its level's gifts of its target
// (owed.N), so that two of a target (a coupon's template with counts 1
// and 2) are paid each as itself. A record lists the gifts owed in an
// order; the release before wrote no place, and each of a level and
// target it lists is read as the next place (the first 0, the second 1):
// so it owed them, one per refused gift in the gifts' order. A record
// whose places are those of its order is written in the form before
// (version 4, or 5 with a plan change): the release before reads it the
// same. One that is not (only the second of a target owed, or the
// second listed before the first) is written as version 6: version 5
// with each gift owed followed by its place.
func TestMemberRecordOwedPlace(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	base := memberState{Level: "Gold", Lifetime: decimal.RequireFromString("3"), Gifted: []string{"Silver"}, Seq: 2}
	cash := func(n int) owed {
		return owed{Level: "Silver", Reward: "coupon:cash", N: n, Refused: at, Version: 2, Fingerprint: 300}
	}
	pack := owed{Level: "Silver", Reward: "pack:p", Refused: at, Version: 2, Fingerprint: 300}
	for _, c := range []struct {
		name    string
		owed    []owed
		changed time.Time // PlanChanged
		version byte
	}{
		{"one of a target", []owed{cash(0)}, time.Time{}, memberV4},
		{"two of a target in order", []owed{cash(0), pack, cash(1)}, time.Time{}, memberV4},
		{"in order, a plan bought", []owed{cash(0), cash(1)}, at, memberV5},
		{"the second alone", []owed{pack, cash(1)}, time.Time{}, memberV6},
		{"the second first", []owed{cash(1), cash(0)}, time.Time{}, memberV6},
		{"the second alone, a plan bought", []owed{cash(1)}, at, memberV6},
	} {
		m := base
		m.Owed, m.PlanChanged = c.owed, c.changed
		b := appendMember(nil, &m)
		if b[0] != c.version {
			t.Errorf("%s: version %d, want %d", c.name, b[0], c.version)
		}
		if got, err := decodeMember(b); err != nil || !cmp.Equal(m, got) {
			t.Errorf("%s: read back as %+v, %v", c.name, got, err)
		}
	}

	// Version 6, byte by byte: version 5's fields, each gift owed with
	// its place after its definition.
	m := base
	m.Owed = []owed{cash(1)}
	v6 := appendMember(nil, &m)
	m.Owed = nil
	w := codec.Writer{B: appendMember(nil, &m)[1:]} // version 2's fields
	w.Uint(1)
	w.String("Silver")
	w.String("coupon:cash")
	w.Time(at)
	w.Uint(2)
	w.Uint(300)
	w.Uint(1) // the place
	w.Time(time.Time{})
	if string(v6) != string(append([]byte{memberV6}, w.B...)) {
		t.Errorf("version 6 record %x, want %x", v6, append([]byte{memberV6}, w.B...))
	}

	// Records of the releases before: version 3 (no refusal) and 4 (a
	// refusal), and JSON, two gifts owed of one target, the first of
	// another between: places 0, (0), 1.
	v4 := codec.Writer{B: appendMember(nil, &base)}
	v4.B[0] = memberV4
	v3 := codec.Writer{B: slices.Clone(v4.B)}
	v3.B[0] = memberV3
	v4.Uint(3)
	v3.Uint(3)
	for _, o := range []owed{cash(0), pack, cash(0)} {
		v4.String(o.Level)
		v4.String(o.Reward)
		v4.Time(o.Refused)
		v4.Uint(o.Version)
		v4.Uint(o.Fingerprint)
		v3.String(o.Level)
		v3.String(o.Reward)
	}
	js := []byte(`{"level":"Gold","lifetime":"3","gifted":["Silver"],"seq":2,"owed":[` +
		`{"level":"Silver","reward":"coupon:cash"},{"level":"Silver","reward":"pack:p"},{"level":"Silver","reward":"coupon:cash"}]}`)
	for name, c := range map[string]struct {
		b    []byte
		want []owed
	}{
		"version 4": {v4.B, []owed{cash(0), pack, cash(1)}},
		"version 3": {v3.B, []owed{{Level: "Silver", Reward: "coupon:cash"}, {Level: "Silver", Reward: "pack:p"}, {Level: "Silver", Reward: "coupon:cash", N: 1}}},
		"JSON":      {js, []owed{{Level: "Silver", Reward: "coupon:cash"}, {Level: "Silver", Reward: "pack:p"}, {Level: "Silver", Reward: "coupon:cash", N: 1}}},
	} {
		got, err := decodeMember(c.b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(c.want, got.Owed); diff != "" {
			t.Errorf("%s: owed (-want +got):\n%s", name, diff)
		}
	}

	// One gift owed twice, of one level, target and place, would be paid
	// twice: the record is damaged.
	m = base
	m.Owed = []owed{cash(1), cash(1)}
	if err := loadStored(t, appendMember(nil, &m)); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("a gift owed twice: loadMember = %v, want store.ErrCorrupt", err)
	}
	// A place past any level's gifts is damaged too (int on any platform).
	big := slices.Clone(v6)
	big = append(big[:len(big)-2], 0x80, 0x80, 0x80, 0x80, 0x08, 0) // 1<<31, then the zero plan change
	if got, err := decodeMember(big); err == nil || !strings.Contains(err.Error(), "gift owed coupon:cash of Silver at place 2147483648") {
		t.Errorf("place 1<<31: %+v, %v; want an error naming the place", got, err)
	}
}

// A history record's time out of the years 1678 to 2261 is damage too, as
// in the member record above: a JSON record of a change at 0000-01-01 was
// read as it was and encodes as 1753-08-29. Each of its three times is
// refused; times at the range's ends read back as the same instants.
func TestHistoryRecordTimeOutOfRange(t *testing.T) {
	for _, tt := range []struct {
		name, json string
	}{
		{"time in year 0", `{"seq":1,"cause":"join","to":"member","time":"0000-01-01T00:00:00Z"}`},
		{"term end in 2300", `{"seq":2,"cause":"event","from":"member","to":"gold","time":"2026-03-01T00:00:00Z","term_end":"2300-04-01T00:00:00Z"}`},
		{"expiry in 1600", `{"seq":3,"cause":"purchase","to":"gold","time":"2026-03-01T00:00:00Z","plan":"plus","expires":"1600-01-01T00:00:00Z"}`},
	} {
		if _, err := decodeRecord([]byte(tt.json)); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: decodeRecord = %v, want out of range", tt.name, err)
		}
	}
	early := time.Unix(math.MinInt64/1_000_000_000, 0).UTC() // one second before keys.InRange
	if _, err := decodeRecord(appendRecord(nil, &Record{Seq: 1, Time: early, Cause: CauseJoin, To: "member"})); err == nil {
		t.Errorf("binary, time %v: decodeRecord read it", early)
	}
	first, last := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC)
	r := Record{Seq: 5, Time: first, Cause: CausePurchase, To: "gold", TermEnd: last, Plan: "plus", Expires: last}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for form, b := range map[string][]byte{"binary": appendRecord(nil, &r), "json": js} {
		got, err := decodeRecord(b)
		if err != nil || !got.Time.Equal(first) || !got.TermEnd.Equal(last) || !got.Expires.Equal(last) {
			t.Errorf("%s: decodeRecord = %+v, %v; want time %v, term end and expiry %v", form, got, err, first, last)
		}
	}
}
