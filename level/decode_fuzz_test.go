package level

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// The level's stored records, on arbitrary bytes: a member's state and a
// history record decode to a value whose binary record decodes to it
// again and is no longer than the bytes read (no field read from nothing;
// a member record of version 3 is written as 4, 3 bytes longer for each
// gift owed), and the bytes followed by one more do not decode (none is
// ignored), and a history record has one of the causes; or fail; never
// panic. (The caller wraps the error in store.ErrCorrupt, naming the
// record.) CI runs the seeds and testdata/fuzz; go test
// -fuzz=FuzzMemberRecord looks further.

func FuzzMemberRecord(f *testing.F) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range []memberState{
		{},
		{Level: "Gold", Since: at, TermEnd: at.AddDate(1, 0, 0), Lifetime: decimal.RequireFromString("1234.5"),
			Frozen: []Frozen{{Level: "Platinum", Since: at, Deadline: at.AddDate(0, 3, 0), Earned: decimal.RequireFromString("12")}},
			Gifted: []string{"Silver"}, Owed: []owed{{Level: "Silver", Reward: "coupon:cash", Refused: at.Add(time.Hour), Version: 2, Fingerprint: 0x44136fa355b3678a},
				{Level: "Silver", Reward: "pack:spring"}}, Plans: []Held{{Plan: "plus", Since: at, Expires: at.AddDate(0, 1, 0)}}, Seq: 7,
			Day: rule.Date{Year: 2026, Month: 3, Day: 1}, DayGrowth: decimal.RequireFromString("-2.5"), PlanChanged: at},
	} {
		f.Add(appendMember(nil, &m))
	}
	// Two gifts owed of one target, in their order (version 4: the
	// second read as place 1), and the second alone (version 6, with its
	// place).
	two := owed{Level: "Silver", Reward: "coupon:cash", Refused: at, Version: 2, Fingerprint: 3}
	second := two
	second.N = 1
	f.Add(appendMember(nil, &memberState{Level: "Gold", Owed: []owed{two, second}}))
	f.Add(appendMember(nil, &memberState{Level: "Gold", Owed: []owed{second}}))
	// Version 3, as the release before wrote it: a gift owed without its
	// last refusal.
	v3 := appendMember(nil, &memberState{Level: "Gold", Seq: 1})
	v3[0] = memberV3
	f.Add(append(append(v3, 1, 4), "Gold\x0bcoupon:cash"...))
	// A gift owed with a definition but no time of refusal: damaged.
	f.Add(appendMember(nil, &memberState{Level: "Gold", Owed: []owed{{Level: "Gold", Reward: "coupon:cash", Version: 2}}}))
	f.Add([]byte(`{"level":"Gold","lifetime":"12","owed":[{"level":"Gold","reward":"coupon:cash","refused":"2026-03-01T08:00:00+08:00","version":2,"fingerprint":300}]}`))
	f.Add([]byte(`{"level":"Gold","lifetime":"12","seq":3}`))
	f.Add([]byte(`{"owed":[],"gifted":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMember(b)
		if err != nil {
			return
		}
		if _, err := decodeMember(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeMember(%x) decodes with a byte more", b)
		}
		again := appendMember(nil, &m)
		longest := len(b)
		switch b[0] {
		case memberV1, '{':
			longest = -1 // not checked: version 1 is written as 2, with a day
		case memberV3:
			longest += 3 * len(m.Owed) // written as 4, each gift owed with a zero refusal
		}
		if longest >= 0 && len(again) > longest {
			t.Fatalf("decodeMember(%x) = %+v, which encodes longer: %x", b, m, again)
		}
		got, err := decodeMember(again)
		// A JSON record's empty list ("owed":[]) is written as none.
		if err != nil || !cmp.Equal(got, m, cmpopts.EquateEmpty()) {
			t.Fatalf("decodeMember(%x) = %+v; its record decodes as %+v, %v", b, m, got, err)
		}
	})
}

func FuzzHistoryRecord(f *testing.F) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	window := decimal.RequireFromString("1234.50")
	for _, r := range []Record{
		{Seq: 1, Time: at, Cause: CauseJoin, To: "member", Event: "b0"},
		{Seq: 4, Time: at, Cause: CauseTermEnd, From: "gold", To: "gold", Window: &window, Note: "n"},
		{Seq: 5, Time: at, Cause: CausePurchase, Event: "buy", Plan: "plus", Expires: at.AddDate(0, 1, 0)},
	} {
		f.Add(appendRecord(nil, &r))
	}
	f.Add([]byte(`{"seq":1,"cause":"join","to":"member"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if _, err := decodeRecord(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeRecord(%x) decodes with a byte more", b)
		}
		if !r.Cause.valid() {
			t.Fatalf("decodeRecord(%x) = %+v, of no cause the package has", b, r)
		}
		again := appendRecord(nil, &r)
		if b[0] != '{' && len(again) > len(b) {
			t.Fatalf("decodeRecord(%x) = %+v, which encodes longer: %x", b, r, again)
		}
		got, err := decodeRecord(again)
		if err != nil || !cmp.Equal(got, r) {
			t.Fatalf("decodeRecord(%x) = %+v; its record decodes as %+v, %v", b, r, got, err)
		}
	})
}
