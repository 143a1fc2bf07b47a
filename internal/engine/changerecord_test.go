package engine

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// testPayload is a change payload that writes its own JSON, as the
// domains' payloads do; its encoding must decode like json.Marshal's.
type testPayload struct {
	Program string          `json:"program"`
	Member  string          `json:"member,omitempty"`
	Amount  decimal.Decimal `json:"amount"`
	Wanted  decimal.Decimal `json:"wanted,omitzero"`
	Expires time.Time       `json:"expires,omitzero"`
	Kind    string          `json:"kind"`
}

func (p testPayload) AppendJSON(b []byte) ([]byte, bool) {
	o := JSONObject{B: append(b, '{')}
	o.Str("program", p.Program, false)
	o.Str("member", p.Member, true)
	o.Dec("amount", p.Amount, false)
	o.Dec("wanted", p.Wanted, true)
	o.Time("expires", p.Expires, true)
	o.Str("kind", p.Kind, false)
	return append(o.B, '}'), true
}

// A change read back from its feed record is the change written, for
// every field and for strings that need escaping; a payload passed as a
// value is encoded in place, and the record's bounds say where.
func TestChangeRecordRoundTrip(t *testing.T) {
	for _, c := range []change.Change{
		{Seq: 1, Kind: "points.earned", Time: time.Date(2026, 11, 24, 2, 0, 0, 5, time.UTC)},
		{Seq: 1 << 60, Kind: "k\"\\\n\x01ü", Member: "m\t1", Event: "e<>&", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Data: json.RawMessage(`{"amount":"1.5"}`), Reason: &rule.Reason{Rule: "r", Inputs: map[string]string{"a": "1"}, Raw: decimal.RequireFromString("2.5")}},
		{Seq: 2, Kind: "x", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: &rule.Reason{}},
		{Seq: 3, Kind: "points.earned", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: &rule.Reason{
			Rule: "buy", Formula: "amount × 1.5 + 10", Inputs: map[string]string{"z\"": "1", "amount": "200.00"}, Note: "cut\n",
			Cut: &rule.Cut{Period: rule.Day, Limit: decimal.RequireFromString("100"), Used: decimal.RequireFromString("90"),
				Wanted: decimal.RequireFromString("-20.5"), Granted: decimal.RequireFromString("10")}}},
	} {
		rec, d0, d1, err := appendChange([]byte("prefix"), &c, nil)
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
		if at, err := changeTime(rec[6:]); err != nil || !at.Equal(c.Time) {
			t.Errorf("changeTime = %v, %v; want %v", at, err, c.Time)
		}
		// Every cut short of the whole record is reported corrupt, not
		// read as another change.
		for n := range len(rec) - 6 - len(c.Data) {
			if _, err := decodeChange(rec[6 : 6+n]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("record cut to %d bytes: %v", n, err)
			}
		}
		// changeTime reads up to the time: cut before its end, corrupt.
		r := codec.Reader{B: rec[7:]}
		r.Uint()
		r.SkipString()
		r.SkipString()
		r.Time()
		timeEnd := len(rec) - len(r.B)
		for n := range timeEnd - 6 {
			if _, err := changeTime(rec[6 : 6+n]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("record cut to %d bytes: changeTime %v", n, err)
			}
		}
	}
	data := testPayload{Amount: decimal.RequireFromString("1"), Kind: "earned"}
	rec, d0, d1, err := appendChange(nil, &change.Change{Seq: 9, Kind: "growth.changed", Time: time.Unix(0, 0)}, func(b []byte) ([]byte, error) { return AppendData(b, data) })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := MarshalData(data)
	if string(rec[d0:d1]) != string(want) {
		t.Errorf("payload in place = %s, want %s", rec[d0:d1], want)
	}
}

// A payload written with JSONObject decodes to what json.Marshal's would,
// with every optional field set and unset. (The domains' own payloads are
// checked against json.Marshal in their packages.)
func TestJSONObjectMatchesMarshal(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2027, 11, 30, 16, 0, 0, 1, time.UTC)
	for _, data := range []testPayload{
		{Program: "mall", Amount: d("0")},
		{Program: "m\\", Member: "m\"1<", Amount: d("12.5"), Wanted: d("-3"), Expires: at, Kind: "k\n"},
		{Program: "", Amount: d("-0.01"), Wanted: d("0.00"), Kind: "earned"},
	} {
		raw, err := MarshalData(data)
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
			t.Errorf("%+v decoded (-json.Marshal +AppendJSON):\n%s", data, diff)
		}
	}
}

// AppendJSONString decodes to the string it was given, whatever needs
// escaping and wherever it sits.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"", "\\", "a\"b\\c", "\x00\x1f\n\t", "\"start", "end\\", "ü€😀", "mid\x7fdle", "a\u2028b"} {
		b := AppendJSONString([]byte("x"), s)
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil || got != s || b[0] != 'x' {
			t.Errorf("AppendJSONString(%q) = %s: %q, %v", s, b, got, err)
		}
	}
}

// An audit entry's hand-written encoding decodes to what json.Marshal's
// would, every optional field set and unset, and to the same entry.
func TestAuditEntryJSONMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 3, 15, 2, 0, 0, 7, time.UTC)
	for _, a := range []AuditEntry{
		{Time: at, Action: "member.open", Request: "r", Result: AuditAccepted},
		{Time: at, Operator: "o\"p", Action: "a<b>", Member: "m&1", Request: "r\\1", Result: AuditRefused, Error: "bad\n\x01\u2028é"},
	} {
		raw := a.AppendJSON([]byte("x"))
		if raw[0] != 'x' {
			t.Fatalf("AppendJSON lost the prefix: %s", raw)
		}
		raw = raw[1:]
		std, _ := json.Marshal(a)
		var got, want map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", raw, err)
		}
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded (-json.Marshal +AppendJSON):\n%s", diff)
		}
		var back AuditEntry
		if err := json.Unmarshal(raw, &back); err != nil || !back.Time.Equal(a.Time) {
			t.Fatalf("decoded %+v, %v", back, err)
		}
		back.Time = a.Time
		if diff := cmp.Diff(a, back); diff != "" {
			t.Errorf("entry (-want +got):\n%s", diff)
		}
		buf := make([]byte, 0, 512)
		if n := testing.AllocsPerRun(100, func() { buf = a.AppendJSON(buf[:0]) }); n != 0 {
			t.Errorf("AppendJSON allocates %.0f times, want 0", n)
		}
	}
}

// A change record is damaged, not misread, when its reason's flags hold
// a bit appendChange never sets (a reason's bits without its own: the
// reason's fields were read as the payload), or its inputs name one
// input twice (the second replaced the first).
func TestChangeRecordMisreadRefused(t *testing.T) {
	head := func(flags byte) codec.Writer {
		w := codec.Writer{B: []byte{changeV1}}
		w.Uint(1)
		w.String("points.earned")
		w.String("m1")
		w.Time(time.Unix(1, 0))
		w.String("e1")
		w.B = append(w.B, flags)
		return w
	}
	unknown := head(reasonSet | 1<<5)
	unknown.String("rule")
	unknown.String("formula")
	unknown.Uint(0)          // inputs
	unknown.String("")       // note
	noSet := head(reasonRaw) // raw without the reason
	noSet.B = append(noSet.B, `{"a":1}`...)
	twice := head(reasonSet)
	twice.String("rule")
	twice.String("formula")
	twice.Uint(2)
	twice.String("a")
	twice.String("1")
	twice.String("a")
	twice.String("2")
	twice.String("") // note
	for name, b := range map[string][]byte{"unknown flag": unknown.B, "raw without reason": noSet.B, "input twice": twice.B} {
		if c, err := decodeChange(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeChange(%x) = %+v, %v; want ErrCorrupt", name, b, c, err)
		}
	}
}
