package level

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets the level state lives in.
const (
	bMember = "level.member" // member → memberState
	bCount  = "level.count"  // level or plan name → members holding it
	// bDay (member, date → net growth earned that day) shares the members'
	// bucket: a member's day keys sort right after the member's record,
	// newest first, so an event's two writes usually dirty one page of a
	// bolt file, not two. Member IDs hold no NUL byte, so no member key is
	// a day key.
	bDay     = bMember
	bHistory = "level.history" // member, seq → Record
	bOrder   = "level.order"   // member, order → order
	bCaps    = "level.caps"    // the growth rules' cap counters (rule.Use)
)

// memberState is a member's level state. The growth balance itself is the
// member's ledger account of asset growth.
type memberState struct {
	// Level is the current ladder level ("" without a ladder).
	Level string `json:"level,omitempty"`
	// Since is when the current term started (at a level change, a term
	// end, or the event that started the term of a level a version made
	// timed).
	Since time.Time `json:"since,omitzero"`
	// TermEnd is when the current term ends (zero: permanent).
	TermEnd time.Time `json:"term_end,omitzero"`
	// Lifetime is the net growth ever earned, never re-based.
	Lifetime decimal.Decimal `json:"lifetime"`
	// Frozen lists the frozen levels.
	Frozen []Frozen `json:"frozen,omitempty"`
	// Gifted lists the levels whose gifts the member has had.
	Gifted []string `json:"gifted,omitempty"`
	// Owed lists the rewards of those gifts that were refused (a coupon
	// out of stock): the member's events (payOwed) try them again when
	// something may have changed since (owed.due).
	Owed []owed `json:"owed,omitempty"`
	// Plans lists the paid plans the member holds.
	Plans []Held `json:"plans,omitempty"`
	// PlanChanged is the latest time of the member's plan records (a
	// purchase, an expiry): a unit dated before it reads the plans held
	// then from the history (plansAt), one dated from it on only Plans.
	// Zero in a record of an earlier release, which did not keep it.
	PlanChanged time.Time `json:"plan_changed,omitzero"`
	// Seq is the number of the last history record. Numbers are not
	// reused: a late plan purchase removes a record (see reinstate).
	Seq uint64 `json:"seq,omitempty"`
	// Day and DayGrowth are the net growth of the latest day the member's
	// growth changed (a date in the program's zone). That day is kept in
	// the member's record, which every event writes anyway, so a day's
	// events add to it without a record of their own; the day records hold
	// the earlier days (see addDay).
	Day       rule.Date       `json:"day,omitzero"`
	DayGrowth decimal.Decimal `json:"day_growth,omitzero"`
}

// Held is a paid plan a member holds until Expires.
type Held struct {
	Plan    string    `json:"plan"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
}

// hasGift reports whether the member has had the gifts of level.
func (m *memberState) hasGift(level string) bool {
	for _, g := range m.Gifted {
		if g == level {
			return true
		}
	}
	return false
}

// owed is a reward of a level's upgrade gift refused when the member
// reached the level, known by its target (rule.Reward.Target) and its
// place among the level's gifts of that target (N: 0 for the first), so
// that two gifts of one target (a coupon's template with counts 1 and 2,
// a pack listed twice) are owed and paid each as itself.
type owed struct {
	Level  string `json:"level"`
	Reward string `json:"reward"`
	// N is the gift's place among the level's gifts of its target. The
	// records before member version 6 and the JSON ones have it not:
	// numberOwed gives it from their order.
	N int `json:"-"`
	// Refused is when it was last refused, and Version and Fingerprint
	// the definition in force then (engine.Unit.Definition): an event
	// asks for it again only once another definition is in force or on a
	// later day (due). All are zero for one owed by a record that had
	// them not (before this release, or opened by migrate): the next
	// event asks for it.
	Refused     time.Time `json:"refused,omitzero"`
	Version     uint64    `json:"version,omitempty"`
	Fingerprint uint64    `json:"fingerprint,omitempty"`
}

// check refuses a damaged entry: one with a definition but no time of
// refusal.
func (o owed) check() error {
	if o.Refused.IsZero() && (o.Version != 0 || o.Fingerprint != 0) {
		return fmt.Errorf("gift owed %s of %s: definition %d (%x) without a time of refusal", o.Reward, o.Level, o.Version, o.Fingerprint)
	}
	return nil
}

// due reports whether an event at at, under the definition of version
// and fingerprint, asks again for o: when something may have changed
// since its last refusal. Another definition may have restocked the
// coupon or changed its claim rule, and a later day (in loc, the
// program's zone) may open its claim period or a new period of its claim
// limit. One with no refusal recorded is due.
func (o owed) due(at time.Time, loc *time.Location, version, fingerprint uint64) bool {
	return o.Refused.IsZero() || o.Version != version || o.Fingerprint != fingerprint ||
		rule.DateOf(at, loc).Compare(rule.DateOf(o.Refused, loc)) > 0
}

// owedGift returns the reward of the level's gifts that o names: the
// o.N-th of its target; ok is false when the definition no longer gives
// it (the member's next event drops it).
func (d Definition) owedGift(o owed) (Gift, bool) {
	if i := d.Index(o.Level); i >= 0 {
		n := 0
		for _, r := range d.Ladder[i].Gifts {
			if r.Target() != o.Reward {
				continue
			}
			if n == o.N {
				return Gift{Level: o.Level, Reward: r}, true
			}
			n++
		}
	}
	return Gift{}, false
}

// place returns the place of gifts[i] among the gifts of its target
// (owed.N).
func place(gifts []rule.Reward, i int) int {
	t, n := gifts[i].Target(), 0
	for _, r := range gifts[:i] {
		if r.Target() == t {
			n++
		}
	}
	return n
}

// numberOwed gives each gift owed the place of its order among those of
// its level and target (orderPlace): a record of a member version before
// 6 (or JSON) lists them so, without their place. Its rewards were owed
// each for one of the level's gifts, in the gifts' order (the releases
// before did not tell two of a target apart), so the second of a target
// owed is the level's second gift of it; one owed of a level that gives
// two of its target is taken for the first, as those releases paid it.
func numberOwed(os []owed) {
	for i := range os {
		os[i].N = orderPlace(os, i)
	}
}

// numberedOwed reports whether each gift owed has the place of its order
// (orderPlace): whether a record of a member version before 6 keeps
// their places.
func numberedOwed(os []owed) bool {
	for i := range os {
		if os[i].N != orderPlace(os, i) {
			return false
		}
	}
	return true
}

// orderPlace returns the number of gifts owed before os[i] of its level
// and target.
func orderPlace(os []owed, i int) int {
	n := 0
	for _, o := range os[:i] {
		if o.Level == os[i].Level && o.Reward == os[i].Reward {
			n++
		}
	}
	return n
}

// droppedGift returns the payload of ChangeGiftDropped for o: the reward
// as the definition gives it, or, one it no longer gives, as o names it
// (rule.Reward.Target): its kind and what it grants, the amount and count
// being the definition's, which no longer has them.
func (d Definition) droppedGift(o owed) Gift {
	if g, ok := d.owedGift(o); ok {
		return g
	}
	kind, name, _ := strings.Cut(o.Reward, ":")
	r := rule.Reward{Kind: rule.RewardKind(kind)}
	switch r.Kind {
	case rule.RewardPoints:
		r.Program = name
	case rule.RewardCoupon:
		r.Template = name
	case rule.RewardPack:
		r.Pack = name
	case rule.RewardAchievement:
		r.Achievement = name
	}
	return Gift{Level: o.Level, Reward: r}
}

// giftAt is a level's gift with its place among the level's gifts of
// its target (owed.N), which a refusal keeps owed.
type giftAt struct {
	Gift
	n int
}

// gifts appends to dst the rewards that reaching l grants, and marks them
// granted: all of l's gifts the first time, or every time for a level
// that grants them every time; else only those refused before (owed),
// matched with l's gifts by target and place (one the definition no
// longer gives is dropped).
func (m *memberState) gifts(l Level, dst []giftAt) []giftAt {
	var due []owed // l's rewards owed, taken out of m.Owed
	if len(m.Owed) > 0 {
		var kept []owed
		for _, o := range m.Owed {
			if o.Level == l.Name {
				due = append(due, o)
			} else {
				kept = append(kept, o)
			}
		}
		m.Owed = kept
	}
	if len(l.Gifts) == 0 {
		return dst
	}
	first := !m.hasGift(l.Name)
	if first {
		m.Gifted = append(m.Gifted, l.Name)
	}
	for i, r := range l.Gifts {
		n := place(l.Gifts, i)
		if first || l.GiftEveryTime || slices.ContainsFunc(due, func(o owed) bool { return o.Reward == r.Target() && o.N == n }) {
			dst = append(dst, giftAt{Gift{Level: l.Name, Reward: r}, n})
		}
	}
	return dst
}

// held returns the plan the member holds and its index, or -1.
func (m *memberState) held(plan string) (Held, int) {
	for i, h := range m.Plans {
		if h.Plan == plan {
			return h, i
		}
	}
	return Held{}, -1
}

// Cause says why a level changed.
type Cause string

// The causes of level changes.
const (
	// CauseJoin records a member's entry level when first seen.
	CauseJoin Cause = "join"
	// CauseEvent is an upgrade by growth an event earned.
	CauseEvent Cause = "event"
	// CauseTermEnd is a term end (kept or downgraded).
	CauseTermEnd Cause = "term_end"
	// CauseUnfreeze is a return to a frozen level.
	CauseUnfreeze Cause = "unfreeze"
	// CausePurchase is a plan bought or renewed.
	CausePurchase Cause = "purchase"
	// CauseExpiry is a plan that ran out.
	CauseExpiry Cause = "expiry"
	// CauseManual is a level set by an operator.
	CauseManual Cause = "manual"
)

// valid reports whether c is one of the causes (CauseOpening included).
func (c Cause) valid() bool {
	switch c {
	case CauseJoin, CauseEvent, CauseTermEnd, CauseUnfreeze, CausePurchase, CauseExpiry, CauseManual, CauseOpening:
		return true
	}
	return false
}

// Record is one entry of a member's level history.
type Record struct {
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Cause Cause     `json:"cause"`
	// From and To are the levels before and after (equal for a kept term).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// TermEnd is the end of the term that starts (zero: permanent).
	TermEnd time.Time `json:"term_end,omitzero"`
	// Event is the event or operator request that caused it.
	Event string `json:"event,omitempty"`
	// Operator and Note say who set a level by hand and why.
	Operator string `json:"operator,omitempty"`
	Note     string `json:"note,omitempty"`
	// Window is the retention window's net growth at a term end, negative
	// when refunds in it took more than it earned.
	Window *decimal.Decimal `json:"window,omitempty"`
	// Plan and Expires describe a plan bought, renewed or expired.
	Plan    string    `json:"plan,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// AppendJSON appends r's JSON to b, as json.Marshal writes it, without
// reflection. The store keeps history records in binary form (see
// appendRecord); this is the record's JSON for those who want it.
func (r *Record) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Uint("seq", r.Seq, false)
	o.Time("time", r.Time, false)
	o.Str("cause", string(r.Cause), false)
	o.Str("from", r.From, true)
	o.Str("to", r.To, true)
	o.Time("term_end", r.TermEnd, true)
	o.Str("event", r.Event, true)
	o.Str("operator", r.Operator, true)
	o.Str("note", r.Note, true)
	if r.Window != nil {
		o.Dec("window", *r.Window, false)
	}
	o.Str("plan", r.Plan, true)
	o.Time("expires", r.Expires, true)
	return append(o.B, '}'), true
}

// order is what growth rules granted for one order, for refunds.
type order struct {
	// Amount is the order's amount.
	Amount decimal.Decimal `json:"amount"`
	// Refunded is the amount refunded so far.
	Refunded decimal.Decimal `json:"refunded"`
	// Grants are the grants per rule.
	Grants []grant `json:"grants"`
}

// grant is what one rule granted for an order and how much of it was
// reversed.
type grant struct {
	Rule     string          `json:"rule"`
	Time     time.Time       `json:"time"`
	Granted  decimal.Decimal `json:"granted"`
	Reversed decimal.Decimal `json:"reversed"`
}

// loadMember returns a member's state; ok is false for a member never
// seen.
func loadMember(tx store.Tx, member string) (m memberState, ok bool, err error) {
	var s scratch
	return s.load(tx, member)
}

// scratch holds the buffers a member's key and record are built in (the
// store copies what it keeps): the part keeps one per unit of work, so
// that reading and writing the member's state on every event allocates
// neither.
type scratch struct{ key, rec []byte }

// load returns a member's state; ok is false for a member never seen.
func (s *scratch) load(tx store.Tx, member string) (m memberState, ok bool, err error) {
	s.key = append(s.key[:0], member...)
	raw, err := tx.Get(bMember, s.key)
	if errors.Is(err, store.ErrNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if m, err = decodeMember(raw); err != nil {
		return m, false, record.Corrupt(bMember, s.key, err)
	}
	return m, true, nil
}

// save stores a member's state.
func (s *scratch) save(tx store.Tx, member string, m *memberState) error {
	s.key = append(s.key[:0], member...)
	s.rec = appendMember(s.rec[:0], m)
	return tx.Put(bMember, s.key, s.rec)
}

// addCount adds delta to the number of members holding name (a level or a
// plan): an engine total (Unit.AddTotal).
func addCount(u *engine.Unit, member, name string, delta int64) error {
	return u.AddTotal(bCount, []byte(name), member, decimal.NewFromInt(delta))
}

// count returns the number of members holding name (a level or a plan).
func count(tx store.Tx, name string) (int64, error) {
	return engine.Count(tx, bCount, []byte(name))
}

// inUse is the level domain's engine.InUse check of a definition about to
// replace the one the store runs: a level or paid plan it leaves out (def
// nil: every one) that members hold is a problem at "levels". A level is
// known by its name: renaming one leaves out the old name. Members at a
// level the ladder no longer has would keep it for ever (no retention
// threshold, mode or validity to end its term by), and every later event
// of theirs would fail to catch up with its term end.
func inUse(tx store.Tx, def *Definition) error {
	var names []string
	err := tx.Scan(bCount, nil, nil, false, func(k, _ []byte) error {
		base, ok := total.Base(k)
		if !ok {
			return fmt.Errorf("%w: %s key %q", engine.ErrCorrupt, bCount, k)
		}
		if n := string(base); !slices.Contains(names, n) {
			names = append(names, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var ps rule.Problems
	for _, name := range names {
		if def != nil {
			if _, ok := def.Plan(name); ok || def.Index(name) >= 0 {
				continue
			}
		}
		n, err := count(tx, name)
		if err != nil {
			return err
		}
		if n > 0 {
			ps.Addf("levels", "%q is held by %d member(s): move them to a level the definition keeps first (Handle.Set), or keep it", name, n)
		}
	}
	return ps.Err()
}

// dayKey orders a member's days newest first, so today's key sits next
// to the member's record (see bDay) however many days came before.
func dayKey(member string, d rule.Date) []byte {
	n := uint32(d.Year)<<9 | uint32(d.Month)<<5 | uint32(d.Day)
	return binary.BigEndian.AppendUint32(keys.New().Str(member), ^n)
}

// addDay adds amount to the member's net growth of the day of t in loc:
// to m.DayGrowth when that day is m.Day, or when it is a later day (m's
// previous day then moves to its day record); to the day's record when it
// is an earlier day (an event that arrives late). The caller saves m. A
// day's growth past the limit on decimals is an error (checkLimit), with
// nothing changed.
func addDay(tx store.Tx, member string, m *memberState, t time.Time, loc *time.Location, amount decimal.Decimal) error {
	d := rule.DateOf(t, loc)
	switch c := d.Compare(m.Day); {
	case c == 0:
		sum := codec.Add(m.DayGrowth, amount)
		if err := checkDayLimit(member, d, sum); err != nil {
			return err
		}
		m.DayGrowth = sum
		return nil
	case c < 0 && !m.Day.IsZero():
		return addDayRecord(tx, member, d, amount)
	}
	if err := checkDayLimit(member, d, amount); err != nil {
		return err
	}
	if !m.Day.IsZero() && !m.DayGrowth.IsZero() {
		if err := addDayRecord(tx, member, m.Day, m.DayGrowth); err != nil {
			return err
		}
	}
	m.Day, m.DayGrowth = d, amount
	return nil
}

// checkLimit returns an error wrapping event.ErrTooLarge when what, a
// growth total of member's that a change would leave (the balance, the
// lifetime growth, a day's growth), is past the limit on decimals every
// amount keeps to: a total of amounts that each keep to it may not, and
// an opening (migrate.Member) refuses one past it.
func checkLimit(member, what string, d decimal.Decimal) error {
	if err := engine.CheckLimit(d); err != nil {
		return fmt.Errorf("level: member %q's %s would be %s: %w", member, what, d, err)
	}
	return nil
}

// checkDayLimit is checkLimit for member's growth of day, which it names
// only on error: it runs for every change of growth.
func checkDayLimit(member string, day rule.Date, sum decimal.Decimal) error {
	if engine.CheckLimit(sum) == nil {
		return nil
	}
	return checkLimit(member, "growth of "+day.String(), sum)
}

// addDayRecord adds amount to the record of the member's day d; a sum
// past the limit on decimals is an error (checkLimit), with nothing
// written.
func addDayRecord(tx store.Tx, member string, d rule.Date, amount decimal.Decimal) error {
	k := dayKey(member, d)
	raw, err := tx.Get(bDay, k)
	switch {
	case errors.Is(err, store.ErrNotFound):
		raw = nil
	case err != nil:
		return err
	}
	var buf [16]byte
	rec, sum, err := codec.SumAmount(buf[:0], raw, amount)
	if err != nil { // raw is no amount record
		return record.Corrupt(bDay, k, err)
	}
	if err := checkDayLimit(member, d, sum); err != nil {
		return err
	}
	if sum.IsZero() {
		return tx.Delete(bDay, k)
	}
	return tx.Put(bDay, k, rec)
}

// earned returns the net growth member m earned on the days from from
// (inclusive) to to (exclusive), both day starts in loc; a zero to is
// unbounded. Its cost is the number of days with growth in the range.
func earned(tx store.Tx, member string, m *memberState, from, to time.Time, loc *time.Location) (decimal.Decimal, error) {
	// Newest first: the range runs from the day before to back to from.
	start := keys.New().Str(member)
	if !to.IsZero() {
		start = append(dayKey(member, rule.DateOf(to, loc)), 0) // just after to
	}
	end := store.PrefixEnd(dayKey(member, rule.DateOf(from, loc))) // from included
	sum := decimal.Zero
	err := tx.Scan(bDay, start, end, false, func(k, v []byte) error {
		d, err := codec.ParseAmount(v)
		if err != nil {
			return record.Corrupt(bDay, k, err)
		}
		sum = sum.Add(d)
		return nil
	})
	if !m.Day.IsZero() && m.Day.Compare(rule.DateOf(from, loc)) >= 0 && (to.IsZero() || m.Day.Compare(rule.DateOf(to, loc)) < 0) {
		sum = sum.Add(m.DayGrowth)
	}
	return sum, err
}

// growthDays returns member m's net growth per day from from on, oldest
// first, days of no growth left out. Its cost is the number of days with
// growth from from on.
func growthDays(tx store.Tx, member string, m *memberState, from rule.Date) ([]GrowthDay, error) {
	prefix := keys.New().Str(member)
	var out []GrowthDay
	err := tx.Scan(bDay, prefix, store.PrefixEnd(dayKey(member, from)), false, func(k, v []byte) error {
		d, ok := dayOfKey(k, len(prefix))
		if !ok {
			return record.Corrupt(bDay, k, errors.New("not a day's key"))
		}
		amt, err := codec.ParseAmount(v)
		if err != nil {
			return record.Corrupt(bDay, k, err)
		}
		if !amt.IsZero() {
			out = append(out, GrowthDay{Day: d, Growth: amt})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out) // the keys run newest first
	if !m.Day.IsZero() && m.Day.Compare(from) >= 0 && !m.DayGrowth.IsZero() {
		out = append(out, GrowthDay{Day: m.Day, Growth: m.DayGrowth}) // the latest day
	}
	return out, nil
}

// dayOfKey returns the date of a day key (dayKey) whose member prefix is
// n bytes long; ok is false for a key that is not one.
func dayOfKey(k []byte, n int) (d rule.Date, ok bool) {
	if len(k) != n+4 {
		return d, false
	}
	v := ^binary.BigEndian.Uint32(k[n:])
	d = rule.Date{Year: int(v >> 9), Month: time.Month(v >> 5 & 0xF), Day: int(v & 0x1F)}
	return d, d.Valid()
}

// appendHistory stores r as the member's next history record, setting
// r.Seq and m.Seq.
func appendHistory(tx store.Tx, member string, m *memberState, r *Record) error {
	m.Seq++
	if (r.Cause == CausePurchase || r.Cause == CauseExpiry) && r.Time.After(m.PlanChanged) {
		// The latest, not the last: a late purchase is dated before
		// records it follows.
		m.PlanChanged = r.Time
	}
	r.Seq = m.Seq
	return tx.Put(bHistory, keys.New().Str(member).U64(r.Seq), appendRecord(nil, r))
}

// lapsedRun looks in the member's history for the last run of plan (from
// the purchase that bought it anew to its expiry) and returns it, with the
// key of its expiry record, when that expiry has been performed and the
// run held the plan at at: bought at or before at, expiring after it. The
// history is read newest first, back to the run's start.
func lapsedRun(tx store.Tx, member, plan string, at time.Time) (key []byte, run Held, ok bool, err error) {
	p := keys.New().Str(member)
	err = tx.Scan(bHistory, p, store.PrefixEnd(p), true, func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return record.Corrupt(bHistory, k, err)
		}
		switch {
		case r.Plan != plan:
			return nil
		case key == nil && (r.Cause != CauseExpiry || !at.Before(r.Expires)):
			return store.StopScan // held at at by no run that expired since
		case key == nil:
			key, run = append([]byte(nil), k...), Held{Plan: plan, Expires: r.Expires}
			return nil
		case r.Cause == CauseExpiry:
			return store.StopScan // the run before
		case r.Cause == CausePurchase:
			run.Since = r.Time // the earliest purchase of the run bought it anew
		}
		return nil
	})
	ok = key != nil && !run.Since.IsZero() && !run.Since.After(at)
	return key, run, ok, err
}

// levelAt returns the level a member held at at, a time before their
// current level (held) started: their history, read newest first back to
// the last level change dated at or before at, says which. Level changes
// are never dated before the one they follow (a late upgrade or set
// takes effect when the current level started), so the first one found
// is the one in force at at. Before the member's first level (their join,
// or their opening) at is given that level: an event dated before the
// member was first seen is judged on the level they were first seen at.
// Plans' records are passed over.
func levelAt(tx store.Tx, member string, at time.Time, held string) (string, error) {
	level := held
	p := keys.New().Str(member)
	err := tx.Scan(bHistory, p, store.PrefixEnd(p), true, func(k, v []byte) error {
		r, err := decodeRecord(v)
		switch {
		case err != nil:
			return record.Corrupt(bHistory, k, err)
		case r.Cause == CausePurchase || r.Cause == CauseExpiry:
			return nil
		case r.To == "":
			return record.Corrupt(bHistory, k, fmt.Errorf("level change %s to no level", r.Cause))
		case !r.Time.After(at) || r.From == "":
			level = r.To
			return store.StopScan
		}
		level = r.From // what the member left then
		return nil
	})
	return level, err
}

// plansAt returns the paid plans a member held at at, a time before
// their latest plan change (those that expired since first): the plans
// held now that were bought by then (Held.Since), and the runs of the
// history that held it. Plan records are not in time order (a late
// purchase, an expiry Advance performs after later events), so the
// whole history is read. A run starts with the purchase that bought the
// plan anew, the first after the plan's last expiry (renewals keep its
// start, as Held.Since; a late purchase that reinstates a run removes
// its expiry, see reinstate), and ends at its expiry. Level records are
// passed over.
func plansAt(tx store.Tx, member string, at time.Time, held []Held) ([]string, error) {
	var (
		open []Held // runs not expired yet: plan and start
		out  []string
	)
	add := func(plan string, since, until time.Time) {
		if !since.After(at) && (until.IsZero() || at.Before(until)) && !slices.Contains(out, plan) {
			out = append(out, plan)
		}
	}
	p := keys.New().Str(member)
	err := tx.Scan(bHistory, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return record.Corrupt(bHistory, k, err)
		}
		if r.Cause != CausePurchase && r.Cause != CauseExpiry {
			return nil
		}
		i := slices.IndexFunc(open, func(h Held) bool { return h.Plan == r.Plan })
		switch {
		case r.Cause == CausePurchase && i < 0:
			open = append(open, Held{Plan: r.Plan, Since: r.Time})
		case r.Cause == CauseExpiry && (i < 0 || r.Expires.IsZero()):
			return record.Corrupt(bHistory, k, fmt.Errorf("expiry of plan %q never bought or at no time", r.Plan))
		case r.Cause == CauseExpiry:
			add(r.Plan, open[i].Since, r.Expires)
			open = slices.Delete(open, i, i+1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, h := range held {
		add(h.Plan, h.Since, h.Expires)
	}
	return out, nil
}

// history returns up to limit of the member's history records after seq
// after, oldest first.
func history(tx store.Tx, member string, after uint64, limit int) ([]Record, error) {
	if after == math.MaxUint64 {
		return nil, nil // no Seq comes after it (and after+1 wraps to 0)
	}
	p := keys.New().Str(member)
	var out []Record
	err := tx.Scan(bHistory, p.U64(after+1), store.PrefixEnd(p), false, func(k, v []byte) error {
		if len(out) == limit {
			return store.StopScan
		}
		r, err := decodeRecord(v)
		if err != nil {
			return record.Corrupt(bHistory, k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func orderKey(member, order string) []byte { return keys.New().Str(member).Str(order) }

// loadOrder returns what growth rules granted for a member's order.
func loadOrder(tx store.Tx, member, id string) (o order, ok bool, err error) {
	ok, err = record.Get(tx, bOrder, orderKey(member, id), &o)
	return o, ok, err
}

// saveOrder stores what growth rules granted for a member's order.
func saveOrder(tx store.Tx, member, id string, o *order) error {
	return record.Put(tx, bOrder, orderKey(member, id), o)
}
