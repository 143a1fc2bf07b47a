package level

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

func zone(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func at(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, zone(t)); err == nil {
			return v
		}
	}
	t.Fatalf("bad wall time %q", s)
	return time.Time{}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func saveMember(tx store.Tx, member string, m *memberState) error {
	var s scratch
	return s.save(tx, member, m)
}

func updateStore(t *testing.T, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestMemberState(t *testing.T) {
	loc := zone(t)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	updateStore(t, st, func(tx store.Tx) error {
		var m memberState
		// The last grant arrives late, for a day before the latest one.
		for _, g := range []struct {
			at, amount string
		}{{"2026-03-15 23:59", "10"}, {"2026-03-16 00:00", "5"}, {"2026-04-01", "7"}, {"2026-04-01 12:00", "-2"}, {"2027-03-16", "100"}, {"2026-05-01", "3"}} {
			if err := addDay(tx, "m1", &m, at(t, g.at), loc, dec(g.amount)); err != nil {
				return err
			}
		}
		if m.Day != (rule.Date{Year: 2027, Month: 3, Day: 16}) || !m.DayGrowth.Equal(dec("100")) {
			t.Errorf("latest day = %v %s, want 2027-03-16 100", m.Day, m.DayGrowth)
		}
		var m10 memberState
		if err := addDay(tx, "m10", &m10, at(t, "2026-04-01"), loc, dec("1000")); err != nil {
			return err
		}
		if err := saveMember(tx, "m10", &m10); err != nil {
			return err
		}
		for i := range 5 {
			if err := appendHistory(tx, "m1", &m, &Record{Cause: CauseEvent, To: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		if err := saveMember(tx, "m1", &m); err != nil {
			return err
		}
		// Counts are engine totals in the members' stripes (7 here).
		for _, c := range []struct {
			member, name string
			n            int64
		}{{"m1", "Gold", 1}, {"m2", "Gold", 1}, {"m3", "Silver", 1}, {"m1", "Gold", -1}} {
			if err := total.Add(tx, bCount, []byte(c.name), total.Stripe(c.member, 7), decimal.NewFromInt(c.n), nil); err != nil {
				return err
			}
		}
		return nil
	})
	err := st.View(context.Background(), func(tx store.Tx) error {
		m, ok, err := loadMember(tx, "m1")
		if err != nil || !ok || m.Seq != 5 {
			t.Errorf("Load = %+v, %v, %v", m, ok, err)
		}
		// The window [2026-03-16, 2027-03-16): 5 + 7 − 2 + 3 (late).
		g, err := earned(tx, "m1", &m, at(t, "2026-03-16"), at(t, "2027-03-16"), loc)
		if err != nil {
			return err
		}
		if !g.Equal(dec("13")) {
			t.Errorf("Earned = %s, want 13", g)
		}
		// The latest day is in the member's record, not a day record.
		if g, _ = earned(tx, "m1", &m, at(t, "2027-03-16"), time.Time{}, loc); !g.Equal(dec("100")) {
			t.Errorf("Earned from 2027-03-16 = %s, want 100", g)
		}
		if g, _ = earned(tx, "m1", &memberState{}, at(t, "2027-03-16"), time.Time{}, loc); !g.IsZero() {
			t.Errorf("Earned from 2027-03-16 in day records = %s, want 0", g)
		}
		if g, _ = earned(tx, "m1", &m, at(t, "2026-01-01"), at(t, "2026-03-16"), loc); !g.Equal(dec("10")) {
			t.Errorf("Earned before 2026-03-16 = %s, want 10", g)
		}
		page, err := history(tx, "m1", 2, 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].Seq != 3 || page[1].To != "3" {
			t.Errorf("History page = %+v", page)
		}
		for name, want := range map[string]int64{"Gold": 1, "Silver": 1, "Bronze": 0} {
			if n, _ := count(tx, name); n != want {
				t.Errorf("Count(%s) = %d, want %d", name, n, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGrowthDays reads a member's days back, oldest first, from a day on:
// the day records and the latest day in the member's record; another
// member's (m10, whose ID starts with m1's) are not among them. A damaged
// day key or amount is store.ErrCorrupt.
func TestGrowthDays(t *testing.T) {
	loc := zone(t)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	var m memberState
	updateStore(t, st, func(tx store.Tx) error {
		for _, g := range []struct {
			member, at, amount string
		}{{"m1", "2026-03-15 23:59", "10"}, {"m1", "2026-03-16", "5"}, {"m1", "2026-04-01", "7"}, {"m1", "2026-04-01 12:00", "-2"},
			{"m1", "2027-03-16", "100"}, {"m1", "2026-05-01", "3"}, {"m1", "2026-06-01", "4"}, {"m1", "2026-06-01", "-4"}} {
			if err := addDay(tx, g.member, &m, at(t, g.at), loc, dec(g.amount)); err != nil {
				return err
			}
		}
		var m10 memberState
		return addDay(tx, "m10", &m10, at(t, "2026-03-01"), loc, dec("1"))
	})
	day := func(s string) rule.Date {
		d, err := rule.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	read := func(from string) (got []string, err error) {
		err = st.View(context.Background(), func(tx store.Tx) error {
			days, err := growthDays(tx, "m1", &m, day(from))
			for _, d := range days {
				got = append(got, d.Day.String()+" "+d.Growth.String())
			}
			return err
		})
		return got, err
	}
	// 2026-06-01 nets to zero: its record is gone, and no day is listed.
	for from, want := range map[string][]string{
		"2026-01-01": {"2026-03-15 10", "2026-03-16 5", "2026-04-01 5", "2026-05-01 3", "2027-03-16 100"},
		"2026-04-01": {"2026-04-01 5", "2026-05-01 3", "2027-03-16 100"},
		"2027-03-16": {"2027-03-16 100"},
		"2027-03-17": nil,
	} {
		got, err := read(from)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("from %s (-want +got):\n%s", from, d)
		}
	}
	for _, c := range []struct {
		name       string
		key, value []byte
		was        string // the record's amount before, "" for none
	}{
		{"short key", append(keys.New().Str("m1"), 1), []byte("5"), ""},
		{"bad amount", dayKey("m1", day("2026-04-01")), []byte{0xff}, "5"},
	} {
		updateStore(t, st, func(tx store.Tx) error { return tx.Put(bDay, c.key, c.value) })
		if _, err := read("2026-01-01"); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: %v, want store.ErrCorrupt", c.name, err)
		}
		updateStore(t, st, func(tx store.Tx) error {
			if err := tx.Delete(bDay, c.key); err != nil || c.was == "" {
				return err
			}
			return addDayRecord(tx, "m1", day("2026-04-01"), dec(c.was))
		})
	}
}

// The gifts a reach of a level grants: all of them the first time or, for
// a level that grants them every time, each time; after that only those
// owed (refused before), matched by target and place among the level's
// gifts of that target, the others of the level staying given. An owed
// reward the level no longer gives is dropped. Of two coupons of one
// template (counts 1 and 2) and a pack listed twice, each is its own: the
// second of a target owed (N 1) grants the second (count 2, the second
// pack), and each grant carries its place for a refusal to owe again.
func TestMemberGifts(t *testing.T) {
	cash := rule.Reward{Kind: rule.RewardCoupon, Template: "cash"}
	cash2 := rule.Reward{Kind: rule.RewardCoupon, Template: "cash", Count: 2}
	pack := rule.Reward{Kind: rule.RewardPack, Pack: "p"}
	pts := rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}
	gold := Level{Name: "Gold", Gifts: []rule.Reward{pts, cash}}
	every := Level{Name: "Gold", Gifts: []rule.Reward{pts, cash}, GiftEveryTime: true}
	none := Level{Name: "Gold"}
	twice := Level{Name: "Gold", Gifts: []rule.Reward{cash, pts, cash2, pack, pack}}
	at := func(r rule.Reward, n int) giftAt { return giftAt{Gift{"Gold", r}, n} }
	tests := []struct {
		name       string
		m          memberState
		l          Level
		want       []giftAt
		wantGifted []string
		wantOwed   []owed
	}{
		{"first reach", memberState{}, gold, []giftAt{at(pts, 0), at(cash, 0)}, []string{"Gold"}, nil},
		{"had them", memberState{Gifted: []string{"Gold"}}, gold, nil, []string{"Gold"}, nil},
		{"one owed", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Silver", Reward: "pack:p"}, {Level: "Gold", Reward: "coupon:cash"}}}, gold,
			[]giftAt{at(cash, 0)}, []string{"Gold"}, []owed{{Level: "Silver", Reward: "pack:p"}}},
		{"owed no longer given", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:old"}}}, gold, nil, []string{"Gold"}, nil},
		{"owed, gifts gone", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash"}}}, none, nil, []string{"Gold"}, nil},
		{"owed at a place no longer given", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash", N: 1}}}, gold, nil, []string{"Gold"}, nil},
		{"every time", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash"}}}, every,
			[]giftAt{at(pts, 0), at(cash, 0)}, []string{"Gold"}, nil},
		{"two of a target, first reach", memberState{}, twice,
			[]giftAt{at(cash, 0), at(pts, 0), at(cash2, 1), at(pack, 0), at(pack, 1)}, []string{"Gold"}, nil},
		{"two of a target, the second owed", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash", N: 1}, {Level: "Gold", Reward: "pack:p", N: 1}}}, twice,
			[]giftAt{at(cash2, 1), at(pack, 1)}, []string{"Gold"}, nil},
		{"two of a target, both owed", memberState{Gifted: []string{"Gold"}, Owed: []owed{{Level: "Gold", Reward: "coupon:cash", N: 1}, {Level: "Gold", Reward: "coupon:cash"}}}, twice,
			[]giftAt{at(cash, 0), at(cash2, 1)}, []string{"Gold"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			got := m.gifts(tt.l, nil)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(giftAt{})); diff != "" {
				t.Errorf("gifts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGifted, m.Gifted); diff != "" {
				t.Errorf("gifted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOwed, m.Owed); diff != "" {
				t.Errorf("owed (-want +got):\n%s", diff)
			}
		})
	}
}

// ChangeGiftDropped's payload: a reward the definition still gives as
// it gives it (the points' amount of today's Gold, the count of the gift
// at the place owed), one it no longer gives (at that place) as its
// target names it, without amount or count.
func TestDroppedGift(t *testing.T) {
	pts := rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}
	cash2 := rule.Reward{Kind: rule.RewardCoupon, Template: "cash2", Count: 2}
	cash3 := rule.Reward{Kind: rule.RewardCoupon, Template: "cash2", Count: 3}
	def := Definition{Ladder: []Level{{Name: "Gold", Gifts: []rule.Reward{pts, cash2, cash3}}}}
	tests := []struct {
		owed owed
		want rule.Reward
	}{
		{owed{Level: "Gold", Reward: "points:mall"}, pts},
		// Two gifts of template cash2, counts 2 and 3: each by its place.
		{owed{Level: "Gold", Reward: "coupon:cash2"}, cash2},
		{owed{Level: "Gold", Reward: "coupon:cash2", N: 1}, cash3},
		{owed{Level: "Gold", Reward: "coupon:cash2", N: 2}, rule.Reward{Kind: rule.RewardCoupon, Template: "cash2"}}, // no third
		{owed{Level: "Gold", Reward: "points:mall", N: 1}, rule.Reward{Kind: rule.RewardPoints, Program: "mall"}},
		{owed{Level: "Gold", Reward: "points:club"}, rule.Reward{Kind: rule.RewardPoints, Program: "club"}},
		{owed{Level: "Gold", Reward: "coupon:cash"}, rule.Reward{Kind: rule.RewardCoupon, Template: "cash"}},
		{owed{Level: "Gold", Reward: "pack:spring"}, rule.Reward{Kind: rule.RewardPack, Pack: "spring"}},
		{owed{Level: "Gold", Reward: "achievement:first"}, rule.Reward{Kind: rule.RewardAchievement, Achievement: "first"}},
		{owed{Level: "Gold", Reward: "growth"}, rule.Reward{Kind: rule.RewardGrowth}},
		{owed{Level: "Silver", Reward: "points:mall"}, rule.Reward{Kind: rule.RewardPoints, Program: "mall"}}, // a level gone
	}
	for _, tt := range tests {
		got := def.droppedGift(tt.owed)
		if diff := cmp.Diff(Gift{Level: tt.owed.Level, Reward: tt.want}, got); diff != "" {
			t.Errorf("%s of %s (-want +got):\n%s", tt.owed.Reward, tt.owed.Level, diff)
		}
		if got.Reward.Target() != tt.owed.Reward {
			t.Errorf("%s of %s: target %s", tt.owed.Reward, tt.owed.Level, got.Reward.Target())
		}
	}
}

// An event asks again for a gift owed only when something may have
// changed since its last refusal, at 23:30 on 15 January in Shanghai
// under version 2 (fingerprint 0xab): another definition in force, or a
// later day in the program's zone. One with no refusal recorded (a
// record of an earlier release, an opening) is asked for at once.
func TestOwedDue(t *testing.T) {
	loc := zone(t)
	last := owed{Level: "Gold", Reward: "coupon:cash", Refused: at(t, "2026-01-15 23:30"), Version: 2, Fingerprint: 0xab}
	for _, c := range []struct {
		name        string
		o           owed
		at          string
		version, fp uint64
		want        bool
	}{
		{"same day, same definition", last, "2026-01-15 23:59", 2, 0xab, false},
		{"same instant", last, "2026-01-15 23:30", 2, 0xab, false},
		{"an earlier day (a late event)", last, "2026-01-14 12:00", 2, 0xab, false},
		{"the next day in the zone", last, "2026-01-16 00:00", 2, 0xab, true},
		{"another version", last, "2026-01-15 23:40", 3, 0xcd, true},
		{"another unversioned content", owed{Level: "Gold", Reward: "coupon:cash", Refused: at(t, "2026-01-15 23:30"), Fingerprint: 0xab},
			"2026-01-15 23:40", 0, 0xcd, true},
		{"no refusal recorded", owed{Level: "Gold", Reward: "coupon:cash"}, "2026-01-15 23:40", 2, 0xab, true},
	} {
		if got := c.o.due(at(t, c.at), loc, c.version, c.fp); got != c.want {
			t.Errorf("%s: due = %v, want %v", c.name, got, c.want)
		}
	}
	// The day is the zone's: refused at 07:00 on the 15th in Shanghai
	// (23:00 UTC on the 14th), an event at 09:00 there (01:00 UTC on the
	// 15th, a later day in UTC) falls on the same day.
	early := owed{Level: "Gold", Reward: "coupon:cash", Refused: at(t, "2026-01-15 07:00"), Version: 2, Fingerprint: 0xab}
	if early.due(at(t, "2026-01-15 09:00"), loc, 2, 0xab) {
		t.Error("09:00 on the day of a refusal at 07:00 in Shanghai: due, want not")
	}
}

// levelAt reads a member's history back from the newest record to the
// level change in force at a time: carol joined Silver at 08:00 on 1
// March, bought a plan at 09:00, reached Gold at 10:00, had a term end
// keep Gold at 12:00 and was set back to Silver at 14:00 (her current
// level). A plan's records are passed over; a time before her join is
// given the level she joined at; a change dated at the time counts (it
// is in force from then); dave, whose record and history were damaged,
// gets ErrCorrupt, never a guess.
func TestLevelAt(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	updateStore(t, st, func(tx store.Tx) error {
		var m memberState
		for _, r := range []Record{
			{Time: at(t, "2026-03-01 08:00"), Cause: CauseJoin, To: "Silver"},
			{Time: at(t, "2026-03-01 09:00"), Cause: CausePurchase, Plan: "Plus", Expires: at(t, "2026-04-01 09:00")},
			{Time: at(t, "2026-03-01 10:00"), Cause: CauseEvent, From: "Silver", To: "Gold"},
			{Time: at(t, "2026-03-01 12:00"), Cause: CauseTermEnd, From: "Gold", To: "Gold"},
			{Time: at(t, "2026-03-01 13:00"), Cause: CauseExpiry, Plan: "Plus", Expires: at(t, "2026-03-01 13:00")},
			{Time: at(t, "2026-03-01 14:00"), Cause: CauseManual, From: "Gold", To: "Silver"},
		} {
			if err := appendHistory(tx, "carol", &m, &r); err != nil {
				return err
			}
		}
		var d memberState
		if err := appendHistory(tx, "dave", &d, &Record{Time: at(t, "2026-03-01 08:00"), Cause: CauseJoin, To: "Silver"}); err != nil {
			return err
		}
		if err := appendHistory(tx, "dave", &d, &Record{Time: at(t, "2026-03-01 10:00"), Cause: CauseEvent, From: "Silver"}); err != nil {
			return err
		}
		return tx.Put(bHistory, keys.New().Str("erin").U64(1), []byte{historyV1, 1})
	})
	for _, c := range []struct {
		member, at, want string
		corrupt          bool
	}{
		{member: "carol", at: "2026-03-01 07:00", want: "Silver"},
		{member: "carol", at: "2026-03-01 08:00", want: "Silver"},
		{member: "carol", at: "2026-03-01 09:59", want: "Silver"},
		{member: "carol", at: "2026-03-01 10:00", want: "Gold"},
		{member: "carol", at: "2026-03-01 13:30", want: "Gold"},
		{member: "carol", at: "2026-03-01 14:00", want: "Silver"},
		{member: "dave", at: "2026-03-01 09:00", corrupt: true},   // a change to no level
		{member: "erin", at: "2026-03-01 09:00", corrupt: true},   // a record cut short
		{member: "frank", at: "2026-03-01 09:00", want: "Bronze"}, // no history: the level held
	} {
		if err := st.View(context.Background(), func(tx store.Tx) error {
			got, err := levelAt(tx, c.member, at(t, c.at), "Bronze")
			switch {
			case c.corrupt && !errors.Is(err, store.ErrCorrupt):
				t.Errorf("%s at %s: %q, %v; want ErrCorrupt", c.member, c.at, got, err)
			case !c.corrupt && (err != nil || got != c.want):
				t.Errorf("%s at %s: %q, %v; want %q", c.member, c.at, got, err, c.want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// plansAt reads a member's whole history for the plans held at a time:
// carol joined at 08:00 on 1 March, bought Plus at 09:00 (to 1 April
// 09:00) and Extra on 5 March (to 5 April), let Plus expire, bought it
// anew on 10 April (to 10 May) and renewed it on 20 April (to 10 June);
// Extra's expiry of 5 April was performed after those (Advance ran late),
// so her history is not in time order and her latest plan change is the
// renewal of 20 April, not the expiry written last. She holds Plus since
// 10 April. A plan counts from its purchase and up to, not at, its
// expiry instant; between Plus's runs she held only Extra, then nothing.
// dave's expiry of a plan never bought and erin's record cut short are
// ErrCorrupt, never a guess; frank, whose plan came with no history,
// holds it from its Since.
func TestPlansAt(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	var carol memberState
	updateStore(t, st, func(tx store.Tx) error {
		for _, r := range []Record{
			{Time: at(t, "2026-03-01 08:00"), Cause: CauseJoin, To: "Silver"},
			{Time: at(t, "2026-03-01 09:00"), Cause: CausePurchase, Plan: "Plus", Expires: at(t, "2026-04-01 09:00")},
			{Time: at(t, "2026-03-05 00:00"), Cause: CausePurchase, Plan: "Extra", Expires: at(t, "2026-04-05 00:00")},
			{Time: at(t, "2026-04-01 09:00"), Cause: CauseExpiry, Plan: "Plus", Expires: at(t, "2026-04-01 09:00")},
			{Time: at(t, "2026-04-10 00:00"), Cause: CausePurchase, Plan: "Plus", Expires: at(t, "2026-05-10 00:00")},
			{Time: at(t, "2026-04-20 00:00"), Cause: CausePurchase, Plan: "Plus", Expires: at(t, "2026-06-10 00:00")},
			{Time: at(t, "2026-04-05 00:00"), Cause: CauseExpiry, Plan: "Extra", Expires: at(t, "2026-04-05 00:00")},
		} {
			if err := appendHistory(tx, "carol", &carol, &r); err != nil {
				return err
			}
		}
		var d memberState
		if err := appendHistory(tx, "dave", &d, &Record{Time: at(t, "2026-04-01 09:00"), Cause: CauseExpiry, Plan: "Plus", Expires: at(t, "2026-04-01 09:00")}); err != nil {
			return err
		}
		return tx.Put(bHistory, keys.New().Str("erin").U64(1), []byte{historyV1, 1})
	})
	if want := at(t, "2026-04-20 00:00"); !carol.PlanChanged.Equal(want) {
		t.Errorf("carol's latest plan change %v, want %v", carol.PlanChanged, want)
	}
	carolHolds := []Held{{Plan: "Plus", Since: at(t, "2026-04-10 00:00"), Expires: at(t, "2026-06-10 00:00")}}
	frankHolds := []Held{{Plan: "Plus", Since: at(t, "2026-03-01 00:00"), Expires: at(t, "2026-04-01 00:00")}}
	for _, c := range []struct {
		member, at string
		held       []Held
		want       []string
		corrupt    bool
	}{
		{member: "carol", at: "2026-03-01 08:59", held: carolHolds},
		{member: "carol", at: "2026-03-01 09:00", held: carolHolds, want: []string{"Plus"}},
		{member: "carol", at: "2026-03-10 00:00", held: carolHolds, want: []string{"Plus", "Extra"}},
		{member: "carol", at: "2026-04-01 09:00", held: carolHolds, want: []string{"Extra"}},
		{member: "carol", at: "2026-04-04 23:59", held: carolHolds, want: []string{"Extra"}},
		{member: "carol", at: "2026-04-05 00:00", held: carolHolds},
		{member: "carol", at: "2026-04-09 23:59", held: carolHolds},
		{member: "carol", at: "2026-04-10 00:00", held: carolHolds, want: []string{"Plus"}},
		{member: "carol", at: "2026-04-15 00:00", held: carolHolds, want: []string{"Plus"}},
		{member: "dave", at: "2026-03-10 00:00", corrupt: true}, // an expiry never bought
		{member: "erin", at: "2026-03-10 00:00", corrupt: true}, // a record cut short
		{member: "frank", at: "2026-02-28 23:59", held: frankHolds},
		{member: "frank", at: "2026-03-10 00:00", held: frankHolds, want: []string{"Plus"}},
	} {
		if err := st.View(context.Background(), func(tx store.Tx) error {
			got, err := plansAt(tx, c.member, at(t, c.at), c.held)
			switch {
			case c.corrupt && !errors.Is(err, store.ErrCorrupt):
				t.Errorf("%s at %s: %q, %v; want ErrCorrupt", c.member, c.at, got, err)
			case !c.corrupt && (err != nil || !cmp.Equal(got, c.want)):
				t.Errorf("%s at %s: %q, %v; want %q", c.member, c.at, got, err, c.want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
