package coupon

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets the coupon book keeps its state in. The issued counts of bStock
// and the statistics of bStats are totals that many members add to: they
// are split into stripes by member (the layout of internal/total, the
// stripe's number after the key), so that units of work for different
// members rarely write the same key, and a read merges the stripes.
const (
	bCoupons = "coupon.coupons" // id → Coupon
	bCodes   = "coupon.codes"   // code → id
	bLegacy  = "coupon.legacy"  // a migrated coupon's old code → id
	bMembers = "coupon.members" // member \0 id → state
	bOrders  = "coupon.orders"  // order \0 id → the end of the lock's hold (holdValue)
	bUsed    = "coupon.used"    // order \0 id → "": the coupons used for an order (Use, Redeem)
	bIndexed = "coupon.indexed" // member → "": every coupon the member used is in bUsed (indexUsed)
	bStock   = "coupon.stock"   // ("t\0"template / "p\0"pack, stripe) → issued
	bLimits  = "coupon.limits"  // rule.Use counters per member and template or pack
	bStats   = "coupon.stats"   // (day \0 template \0 cost centre \0 store, stripe) → Stat
)

// Book is the coupon state inside one store transaction: the coupons,
// their code, member and order indexes, stock and statistics. Its
// exported methods read; another domain's part reads a member's coupons
// with it (a member profile counts them by state). Its writes — issuing
// against stock and limits, state changes — are the coupon part's, behind
// the Handle, so that every one is idempotent and published. A write
// either does all it says or returns an error having written nothing,
// provided the caller rolls the transaction back on error (the engine
// does) — except that a refusal (ErrOutOfStock, ErrLimitReached, …) is
// decided before anything is written, so a caller may carry on after one.
type Book struct {
	tx  store.Tx
	def *Definition
	loc *time.Location
	// stripes gives the stripe of the shared totals for a member's
	// coupon; nil: stripe 0.
	stripes striper
	// segs are the claim segments the part parsed; a book without them
	// parses a claim rule's segment at each issue.
	segs segments
}

// striper gives the stripe of the totals the book shares between members
// (issued counts, statistics) for a member's coupon: the engine's unit
// (engine.Unit.Stripe), so that the engine alone decides how many there
// are.
type striper interface {
	Stripe(member string) uint16
}

// NewBook returns the book of def over tx, with days in loc, for reading.
// Coupons read through it carry the times they were stored with; Handle's
// reads put them in the program's zone.
func NewBook(tx store.Tx, def *Definition, loc *time.Location) *Book {
	return newBook(tx, def, loc, nil)
}

// newBook is NewBook for the part's writes, which keep the shared totals
// in the stripes s gives.
func newBook(tx store.Tx, def *Definition, loc *time.Location, s striper) *Book {
	if loc == nil {
		loc = time.UTC
	}
	return &Book{tx: tx, def: def, loc: loc, stripes: s}
}

// stripe returns the stripe of the shared totals for member's coupon.
func (b *Book) stripe(member string) uint16 {
	if b.stripes == nil {
		return 0
	}
	return b.stripes.Stripe(member)
}

func sep(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// Issued returns how many coupons of template (or packs, with pack set)
// have been issued: the sum of the count's stripes. A sum that is not a
// whole number an int64 holds, or is negative, is damage
// (engine.ErrCorrupt), not cut to some count.
func (b *Book) Issued(name string, pack bool) (int64, error) {
	c, err := total.Count(b.tx, bStock, stockKey(name, pack))
	if err == nil {
		err = checkIssued(c)
	}
	if err != nil {
		return 0, fmt.Errorf("issued %s: %w", name, err)
	}
	return c, nil
}

// checkIssued returns an error wrapping engine.ErrCorrupt for a negative
// issued count: issuing only adds to it, so such a count is damage, which
// would leave more stock than the template has.
func checkIssued(n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: %s: a negative count, %d", engine.ErrCorrupt, bStock, n)
	}
	return nil
}

// inUse is the coupon domain's engine.InUse check of a definition about
// to replace the one the store runs: a template or pack it leaves out
// (def nil: every one) of which coupons were issued (claimed, issued,
// given as gifts or rewards; a pack given out) is a problem at
// "coupons.templates" or "coupons.packs". A template or pack is known by
// its name: renaming one leaves out the old name. Its coupons would still
// show as available, but could be neither redeemed, locked nor proposed
// at checkout, and its statistics would lose their cost centre.
// Coupons imported by OpenMember are not counted as issued (stock), so
// this check does not see a template only imported coupons have.
func inUse(tx store.Tx, def *Definition) error {
	var ps rule.Problems
	err := total.Counts(tx, bStock, nil, nil, func(k []byte, n int64) error {
		kind, name, cut := bytes.Cut(k, []byte{0})
		if !cut || len(kind) != 1 {
			return fmt.Errorf("%w: %s key %q", engine.ErrCorrupt, bStock, k)
		}
		if err := checkIssued(n); err != nil || n == 0 {
			return err
		}
		path, what := "coupons.templates", "template"
		if kind[0] == 'p' {
			path, what = "coupons.packs", "pack"
		}
		if def != nil && defines(def, string(name), what == "pack") {
			return nil
		}
		ps.Addf(path, "%s %q has coupons issued: keep it (stock lowered to what was issued, or a claim period that has ended, stops issuing it)", what, name)
		return nil
	})
	if err != nil {
		return err
	}
	return ps.Err()
}

// defines reports whether def has the template (or pack) name.
func defines(def *Definition, name string, pack bool) bool {
	if pack {
		_, ok := def.Pack(name)
		return ok
	}
	_, ok := def.Template(name)
	return ok
}

func stockKey(name string, pack bool) []byte {
	if pack {
		return sep("p", name)
	}
	return sep("t", name)
}

// left returns what stock is left (-1: no limit).
func (b *Book) left(name string, stock int64, pack bool) (int64, error) {
	if stock == 0 {
		return -1, nil
	}
	n, err := b.Issued(name, pack)
	return max(stock-n, 0), err
}

// addIssued adds n to the issued count of a template (or pack) with stock
// (0: no limit), issued to member. Without stock the count is a
// convenience (Issued) that no rule reads: it goes to the member's stripe,
// so that members who get the template share no key. With stock every
// issue reads the whole count, so the members share it anyway (the stock
// is the rule they share): it goes to stripe 0, which keeps that read to
// one key. Issued sums the stripes whichever were written.
func (b *Book) addIssued(name string, pack bool, stock int64, member string, n int) error {
	var s uint16
	if stock == 0 {
		s = b.stripe(member)
	}
	return total.Add(b.tx, bStock, stockKey(name, pack), s, decimal.NewFromInt(int64(n)), nil)
}

func limitScope(member, name string, pack bool) string {
	if pack {
		return "p\x00" + member + "\x00" + name
	}
	return "t\x00" + member + "\x00" + name
}

func limitCaps(c ClaimRule) rule.Caps {
	var caps rule.Caps
	if c.PerMember > 0 {
		caps = append(caps, rule.Cap{Period: rule.Total, Limit: decimal.NewFromInt(int64(c.PerMember))})
	}
	if c.PerDay > 0 {
		caps = append(caps, rule.Cap{Period: rule.Day, Limit: decimal.NewFromInt(int64(c.PerDay))})
	}
	return caps
}

// checkLimits returns an error wrapping ErrLimitReached when the member
// may not get n more under c, or engine.ErrCorrupt for a damaged counter
// (rule.UsedCount); it writes nothing.
func (b *Book) checkLimits(c ClaimRule, scope string, at time.Time, n int) error {
	var used [2]int
	for i, p := range []rule.Period{rule.Total, rule.Day} {
		if (p == rule.Total && c.PerMember == 0) || (p == rule.Day && c.PerDay == 0) {
			continue
		}
		u, err := rule.UsedCount(b.tx, bLimits, scope, p, at, b.loc)
		if err != nil {
			return err
		}
		used[i] = int(min(u, math.MaxInt)) // past any limit, wherever an int is 32 bits
	}
	if room, limit := c.Room(used[0], used[1]); room >= 0 && room < n {
		return fmt.Errorf("%w: %s %d", ErrLimitReached, limit, map[string]int{"per_member": c.PerMember, "per_day": c.PerDay}[limit])
	}
	return nil
}

func (b *Book) recordLimits(c ClaimRule, scope string, at time.Time, n int) error {
	_, _, err := rule.Use(b.tx, bLimits, scope, limitCaps(c), at, b.loc, decimal.NewFromInt(int64(n)))
	return err
}

// idSource allocates coupon IDs: the engine's unit (engine.Unit.NextID),
// so that the engine alone lays IDs out.
type idSource interface {
	NextID(scope, member string) (uint64, error)
}

// idScope is the engine's ID scope of coupons.
const idScope = "coupon"

// couponID is the ID of a member's n-th coupon: "c<n>.<member>". The
// number is the member's own (engine.Unit.NextID), so that issuing to
// different members shares no counter; the member makes it unique, and
// the number, digits up to the first dot, cannot be confused with it.
func couponID(n uint64, member string) string {
	return "c" + strconv.FormatUint(n, 10) + "." + member
}

// issueReq is a request to issue coupons of one template to a member.
type issueReq struct {
	Member   string
	Template string
	// Count is the number of coupons; 0 means 1.
	Count  int
	Method Method
	At     time.Time
	// Facts are the member's level and tags, read for the template's
	// claim conditions.
	Facts Facts
	// Rand is the random source for codes and random amounts; IDs
	// allocates the coupons' IDs.
	Rand io.Reader
	IDs  idSource
}

// issue issues in.Count coupons of a template to a member, all or none.
// It refuses, writing nothing, with an error wrapping ErrUnknownTemplate,
// ErrOutsidePeriod (outside the claim period, or past a fixed validity's
// end), ErrNotEligible, ErrOutOfStock or ErrLimitReached.
func (b *Book) issue(in issueReq) ([]Coupon, error) {
	n := max(in.Count, 1)
	t, ok := b.def.Template(in.Template)
	if !ok {
		return nil, fmt.Errorf("issue %s: %w", in.Template, ErrUnknownTemplate)
	}
	fail := func(err error) ([]Coupon, error) {
		return nil, fmt.Errorf("issue %s to %s: %w", in.Template, in.Member, err)
	}
	if in.Member == "" {
		return fail(fmt.Errorf("%w: no member", ErrNotEligible))
	}
	if err := t.Claim.allows(b.segs.of(t.Name, false, t.Claim), in.Method, in.At, in.Facts); err != nil {
		return fail(err)
	}
	if err := b.issuable(t, in.At); err != nil {
		return fail(err)
	}
	left, err := b.left(t.Name, t.Stock, false)
	if err != nil {
		return nil, err
	}
	if left >= 0 && left < int64(n) {
		return fail(fmt.Errorf("%w: %d left of %d", ErrOutOfStock, left, t.Stock))
	}
	scope := limitScope(in.Member, t.Name, false)
	if err := b.checkLimits(t.Claim, scope, in.At, n); err != nil {
		return fail(err)
	}
	if err := b.recordLimits(t.Claim, scope, in.At, n); err != nil {
		return nil, err
	}
	if err := b.addIssued(t.Name, false, t.Stock, in.Member, n); err != nil {
		return nil, err
	}
	out := make([]Coupon, 0, n)
	for range n {
		c, err := b.create(t, in.Member, in.Method, "", in.At, in.Rand, in.IDs)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// issuable returns an error wrapping ErrOutsidePeriod when a coupon of t
// issued at would already be past its validity.
func (b *Book) issuable(t *Template, at time.Time) error {
	if end, ok := t.Use.Validity.Expiry(at, b.loc); ok && !at.Before(end) {
		return fmt.Errorf("%w: validity ended %s", ErrOutsidePeriod, end.Format(time.RFC3339))
	}
	return nil
}

// packReq is a request to give a pack to a member.
type packReq struct {
	Member string
	Pack   string
	Method Method
	At     time.Time
	Facts  Facts
	Rand   io.Reader
	IDs    idSource
}

// PackIssued is what a pack gave: the coupons, and what it could not give
// (in AllInvalid mode) with the count missing. It is the data of a
// pack.issued change.
type PackIssued struct {
	Pack    string     `json:"pack"`
	Coupons []Coupon   `json:"coupons"`
	Short   []PackItem `json:"short,omitempty"`
}

// issuePack gives a pack to a member under the pack's claim rule and stock
// and its mode (see PlanPack). A template counts as able to issue what is
// left of its stock while it is inside its claim period and validity, and
// nothing otherwise. It refuses, writing nothing, with an error wrapping
// ErrUnknownTemplate, ErrOutsidePeriod, ErrNotEligible, ErrOutOfStock (the
// pack's or its templates') or ErrLimitReached.
func (b *Book) issuePack(in packReq) (PackIssued, error) {
	p, ok := b.def.Pack(in.Pack)
	if !ok {
		return PackIssued{}, fmt.Errorf("issue pack %s: %w", in.Pack, ErrUnknownTemplate)
	}
	fail := func(err error) (PackIssued, error) {
		return PackIssued{}, fmt.Errorf("issue pack %s to %s: %w", in.Pack, in.Member, err)
	}
	if in.Member == "" {
		return fail(fmt.Errorf("%w: no member", ErrNotEligible))
	}
	if err := p.Claim.allows(b.segs.of(p.Name, true, p.Claim), in.Method, in.At, in.Facts); err != nil {
		return fail(err)
	}
	left, err := b.left(p.Name, p.Stock, true)
	if err != nil {
		return PackIssued{}, err
	}
	if left == 0 {
		return fail(fmt.Errorf("%w: no pack left of %d", ErrOutOfStock, p.Stock))
	}
	scope := limitScope(in.Member, p.Name, true)
	if err := b.checkLimits(p.Claim, scope, in.At, 1); err != nil {
		return fail(err)
	}
	var lerr error
	give, short, err := planPack(p, func(name string) int64 {
		t, ok := b.def.Template(name)
		if !ok || !t.Claim.Period.Contains(in.At) || b.issuable(t, in.At) != nil {
			return 0
		}
		l, err := b.left(name, t.Stock, false)
		if err != nil {
			lerr = err
		}
		return l
	})
	if lerr != nil {
		return PackIssued{}, lerr
	}
	if err != nil {
		return fail(err)
	}
	if err := b.recordLimits(p.Claim, scope, in.At, 1); err != nil {
		return PackIssued{}, err
	}
	if err := b.addIssued(p.Name, true, p.Stock, in.Member, 1); err != nil {
		return PackIssued{}, err
	}
	out := PackIssued{Pack: p.Name, Short: short}
	for _, it := range give {
		t, _ := b.def.Template(it.Template)
		if err := b.addIssued(t.Name, false, t.Stock, in.Member, it.Count); err != nil {
			return PackIssued{}, err
		}
		for range it.Count {
			c, err := b.create(t, in.Member, in.Method, p.Name, in.At, in.Rand, in.IDs)
			if err != nil {
				return PackIssued{}, err
			}
			out.Coupons = append(out.Coupons, c)
		}
	}
	return out, nil
}

// create writes a new coupon of t, with an ID from ids.
func (b *Book) create(t *Template, member string, m Method, pack string, at time.Time, r io.Reader, ids idSource) (Coupon, error) {
	seq, err := ids.NextID(idScope, member)
	if err != nil {
		return Coupon{}, err
	}
	c := Coupon{
		ID: couponID(seq, member), Template: t.Name, Member: member, Type: t.Type,
		State: Available, Method: m, Pack: pack, IssuedAt: at, Changed: at,
	}
	for try := 0; ; try++ {
		if c.Code, err = newCode(r); err != nil {
			return Coupon{}, err
		}
		if _, err := b.tx.Get(bCodes, []byte(c.Code)); errors.Is(err, store.ErrNotFound) {
			break
		} else if err != nil {
			return Coupon{}, err
		}
		if try == 8 {
			return Coupon{}, fmt.Errorf("%w: %d draws", ErrRandomSource, try+1)
		}
	}
	switch t.Type {
	case Cash:
		c.Amount = t.Amount
	case Random:
		if c.Amount, err = draw(r, t.Min, t.Max, b.def.MoneyPlaces()); err != nil {
			return Coupon{}, err
		}
	}
	if from, ok := t.Use.Validity.Begins(b.loc); ok {
		c.From = from
	}
	if end, ok := t.Use.Validity.Expiry(at, b.loc); ok {
		c.Expires = end
	}
	if err := b.tx.Put(bCodes, []byte(c.Code), []byte(c.ID)); err != nil {
		return Coupon{}, err
	}
	if err := b.save(c); err != nil {
		return Coupon{}, err
	}
	return c, b.count(at, t.Name, "", member, func(s *Stat) { s.Issued++ })
}

func (b *Book) save(c Coupon) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := b.tx.Put(bCoupons, []byte(c.ID), v); err != nil {
		return err
	}
	return b.tx.Put(bMembers, sep(c.Member, c.ID), []byte(c.State))
}

// Get returns the coupon with the ID, or an error wrapping ErrNotFound.
func (b *Book) Get(id string) (Coupon, error) {
	var c Coupon
	v, err := b.tx.Get(bCoupons, []byte(id))
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("coupon %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(v, &c); err != nil { // the key's bytes only on this path
		return c, record.Corrupt(bCoupons, []byte(id), err)
	}
	// A state, type or method no rule knows (or none) is damage, not a
	// coupon that no rule would ever use, expire or count right.
	if !c.State.valid() || !c.Type.valid() || !c.Method.valid() {
		return Coupon{}, record.Corrupt(bCoupons, []byte(id), fmt.Errorf("a coupon in state %q, of type %q, by method %q", c.State, c.Type, c.Method))
	}
	return c, nil
}

// ByCode returns the coupon with a code as typed or scanned (see
// ParseCode): an error wrapping ErrBadCode for a typo, ErrUnknownCode for
// a well-formed code no coupon has.
func (b *Book) ByCode(code string) (Coupon, error) {
	canon, err := parseCode(code)
	if err != nil && code == "" {
		return Coupon{}, err // no coupon has an empty code, an old one neither
	}
	if err != nil {
		// Not one of ours: it may be a migrated coupon's old code.
		if id, lerr := b.tx.Get(bLegacy, []byte(code)); lerr == nil {
			return b.Get(string(id))
		} else if !errors.Is(lerr, store.ErrNotFound) {
			return Coupon{}, lerr
		}
		return Coupon{}, err
	}
	id, err := b.tx.Get(bCodes, []byte(canon))
	if errors.Is(err, store.ErrNotFound) {
		// A coupon migrated from another program of this library keeps
		// its code, well-formed here too, as its old code.
		for _, c := range []string{code, canon} {
			if id, lerr := b.tx.Get(bLegacy, []byte(c)); lerr == nil {
				return b.Get(string(id))
			} else if !errors.Is(lerr, store.ErrNotFound) {
				return Coupon{}, lerr
			}
		}
		return Coupon{}, fmt.Errorf("code %s: %w", canon, ErrUnknownCode)
	}
	if err != nil {
		return Coupon{}, err
	}
	return b.Get(string(id))
}

// Coupons returns a member's coupons in issue order; with live set, only
// those available or locked.
func (b *Book) Coupons(member string, live bool) ([]Coupon, error) {
	return b.ofMember(member, func(s State) bool { return !live || s == Available || s == Locked })
}

// ofMember returns the member's coupons whose state, as the index of
// members' coupons (bMembers) holds it, keep selects, in issue order.
// The index is written with each coupon (save), so an entry that holds no
// state, or that names no coupon, another member's or one in another state,
// is damage (engine.ErrCorrupt), not a coupon listed under the wrong
// owner or state. Only the coupons keep selects are read: a member's live
// coupons are read at every checkout, and the used ones they leave out
// grow without bound.
func (b *Book) ofMember(member string, keep func(State) bool) ([]Coupon, error) {
	var states map[string]State // of the coupons kept
	cs, err := b.under(bMembers, member, func(id, v []byte) (bool, error) {
		s := State(v)
		if !s.valid() {
			return false, fmt.Errorf("%w: %s of %q: coupon %q in state %q", engine.ErrCorrupt, bMembers, member, id, v)
		}
		if !keep(s) {
			return false, nil
		}
		if states == nil {
			states = map[string]State{}
		}
		states[string(id)] = s
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Member != member || c.State != states[c.ID] {
			return nil, fmt.Errorf("%w: %s: member %q's coupon %s, %s, is %q's, %s", engine.ErrCorrupt, bMembers, member, c.ID, states[c.ID], c.Member, c.State)
		}
	}
	return cs, nil
}

// Held returns a member's live coupons with their templates, for
// Evaluate and Best. Coupons of templates no longer in the definition are
// left out.
func (b *Book) Held(member string) ([]Held, error) {
	cs, err := b.Coupons(member, true)
	if err != nil {
		return nil, err
	}
	out := make([]Held, 0, len(cs))
	for _, c := range cs {
		if t, ok := b.def.Template(c.Template); ok {
			out = append(out, Held{Coupon: c, Template: t})
		}
	}
	return out, nil
}

func (b *Book) held(member, id string) (Held, error) {
	c, err := b.Get(id)
	if err != nil {
		return Held{}, err
	}
	if c.Member != member {
		return Held{}, fmt.Errorf("coupon %s: %w", id, ErrNotFound)
	}
	t, ok := b.def.Template(c.Template)
	if !ok {
		return Held{}, fmt.Errorf("coupon %s: %w %s", id, ErrUnknownTemplate, c.Template)
	}
	return Held{Coupon: c, Template: t}, nil
}

// lock locks the member's coupons ids for order o, after checking that
// they apply to it and may be combined, and returns each one's amount off
// and the total; until is when the lock's hold runs out (zero: none), which
// the order index keeps for each coupon (holdValue). Locking the same
// coupons for the same order again is allowed and gives the same result.
// It returns an error wrapping ErrInvalidOrder, ErrNotFound (an unknown
// coupon or another member's), ErrState (a coupon not available, or one
// locked for the order before that ids leaves out), ErrNotCombinable or
// ErrNotApplicable (with the reason).
// Its errors do not name the lock: Handle.Lock, its one caller, does.
func (b *Book) lock(o Order, ids []string, until time.Time) ([]Applied, decimal.Decimal, error) {
	dp := b.def.MoneyPlaces()
	if err := o.check(true, dp); err != nil {
		return nil, decimal.Zero, err
	}
	if len(ids) == 0 {
		return nil, decimal.Zero, fmt.Errorf("%w: no coupon", ErrNotFound)
	}
	// The order's coupons are locked together, so that the stacking rules
	// hold for the order as a whole: those an earlier lock of it holds
	// must be named again (an order is one member's, so another member's
	// lock of it is refused here too).
	prefix := sep(o.ID, "")
	err := b.tx.Scan(bOrders, prefix, store.PrefixEnd(prefix), false, func(k, _ []byte) error {
		if id := string(k[len(prefix):]); !slices.Contains(ids, id) {
			return fmt.Errorf("%w: the order holds %s, locked before: lock the order's coupons in one request", ErrState, id)
		}
		return nil
	})
	if err == nil {
		err = b.indexUsed(o.Member)
	}
	if err == nil {
		err = b.tx.Scan(bUsed, prefix, store.PrefixEnd(prefix), false, func(k, _ []byte) error {
			return fmt.Errorf("%w: the order used %s already", ErrState, k[len(prefix):])
		})
	}
	if err != nil {
		return nil, decimal.Zero, err
	}
	hs := make([]Held, 0, len(ids))
	for _, id := range ids {
		h, err := b.held(o.Member, id)
		if err != nil {
			return nil, decimal.Zero, err
		}
		if h.Coupon.State != Available && !(h.Coupon.State == Locked && h.Coupon.Order == o.ID) {
			return nil, decimal.Zero, fmt.Errorf("%s: %w: %s", id, ErrState, h.Coupon.State)
		}
		hs = append(hs, h)
	}
	applied, total, err := combine(o, hs, dp)
	if err != nil {
		return nil, decimal.Zero, err
	}
	byID := map[string]Held{}
	for _, h := range hs {
		if err := h.Coupon.notBefore(o.Time, b.loc); err != nil {
			return nil, decimal.Zero, err
		}
		byID[h.Coupon.ID] = h
	}
	for _, a := range applied {
		c := byID[a.Coupon].Coupon
		c.State, c.Order, c.Store, c.AmountOff, c.Changed = Locked, o.ID, o.Store, a.AmountOff, o.Time
		if err := b.save(c); err != nil {
			return nil, decimal.Zero, err
		}
		if err := b.tx.Put(bOrders, sep(o.ID, c.ID), holdValue(until)); err != nil {
			return nil, decimal.Zero, err
		}
	}
	return applied, total, nil
}

// holdValue is the order index's value for a coupon locked until until,
// when the lock's hold runs out (zero: a lock without a hold). Each lock
// of an order writes it anew, so the index says which hold is the
// coupon's: that of its latest lock.
func holdValue(until time.Time) []byte {
	return keys.New().Time(until)
}

// holdRanOut reports whether a hold running out at at releases a coupon
// whose order index value is v: when its latest lock's hold ends by at.
// A hold that ran out before a later lock of the same order (after a
// release, or locking the coupons anew) releases nothing of it. An empty
// value is a lock made before the index kept holds: any hold of its order
// releases it, as it did then. A value holdEnd does not read is an error.
func holdRanOut(v []byte, at time.Time) (bool, error) {
	until, legacy, err := holdEnd(v)
	if legacy || err != nil {
		return legacy, err
	}
	return !until.IsZero() && !until.After(at), nil
}

// holdEnd reads an order index value (holdValue): the end of the lock's
// hold (zero: none), or legacy for an empty value, a lock made before
// the index kept holds. A value of another length, or an instant
// holdValue does not write (keys.InRange), is engine.ErrCorrupt, not
// read as a hold that ended in 1677 or by its first eight bytes.
func holdEnd(v []byte) (until time.Time, legacy bool, err error) {
	switch len(v) {
	case 0:
		return time.Time{}, true, nil
	case 8:
		until = keys.U64Time(keys.U64(v, 0))
		if until.IsZero() || keys.InRange(until) {
			return until, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%w: %s value %x is no hold's end", engine.ErrCorrupt, bOrders, v)
}

// locked returns the coupons locked for an order, in issue order.
func (b *Book) locked(order string) ([]Coupon, error) {
	return b.under(bOrders, order, func(_, _ []byte) (bool, error) { return true, nil })
}

// under loads the coupons indexed in bucket under owner (keys owner, NUL,
// coupon ID) whose entry (ID and index value) passes keep, in issue order
// (compareIDs: the index holds them in byte order, "c10.m" before
// "c2.m"). IDs are collected first: the scan must not read other records
// while it runs. An entry naming no coupon is damage (engine.ErrCorrupt):
// the indexes are written with the coupons, which are never deleted.
func (b *Book) under(bucket, owner string, keep func(id, v []byte) (bool, error)) ([]Coupon, error) {
	var ids []string
	prefix := sep(owner, "")
	err := b.tx.Scan(bucket, prefix, store.PrefixEnd(prefix), false, func(k, v []byte) error {
		ok, err := keep(k[len(prefix):], v)
		if ok {
			ids = append(ids, string(k[len(prefix):]))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ids, compareIDs)
	out := make([]Coupon, 0, len(ids))
	for _, id := range ids {
		c, err := b.Get(id)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s %q names no coupon: %v", engine.ErrCorrupt, bucket, sep(owner, id), err)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// use marks the coupons locked for order as used at at, and returns them.
// It returns an error wrapping ErrNotFound when no coupon is locked for
// the order.
func (b *Book) use(order string, at time.Time) ([]Coupon, error) {
	cs, err := b.locked(order)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: none locked", ErrNotFound)
	}
	for _, c := range cs {
		if err := c.notBefore(at, b.loc); err != nil {
			return nil, err
		}
	}
	for i, c := range cs {
		if err := b.tx.Delete(bOrders, sep(order, c.ID)); err != nil {
			return nil, err
		}
		if cs[i], err = b.markUsed(c, at); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func (b *Book) markUsed(c Coupon, at time.Time) (Coupon, error) {
	c.State, c.Changed = Used, at
	if err := b.save(c); err != nil {
		return c, err
	}
	if err := b.tx.Put(bUsed, sep(c.Order, c.ID), nil); err != nil {
		return c, err
	}
	return c, b.count(at, c.Template, c.Store, c.Member, func(s *Stat) {
		s.Used++
		s.AmountOff = s.AmountOff.Add(c.AmountOff)
	})
}

// release makes the coupons locked for order available again (or expired,
// when their validity ended meanwhile), and returns them. It returns an
// error wrapping ErrNotFound when no coupon is locked for the order.
func (b *Book) release(order string, at time.Time) ([]Coupon, error) {
	cs, err := b.locked(order)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if err := c.notBefore(at, b.loc); err != nil {
			return nil, err
		}
	}
	return b.unlock(order, cs, at)
}

// holdRunsOut releases the coupons locked for order whose hold runs out by
// at (holdRanOut), as release does, and returns them; none is not an
// error.
func (b *Book) holdRunsOut(order string, at time.Time) ([]Coupon, error) {
	cs, err := b.under(bOrders, order, func(_, v []byte) (bool, error) { return holdRanOut(v, at) })
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return b.unlock(order, cs, at)
}

// unlock is release's work on the coupons cs locked for order.
func (b *Book) unlock(order string, cs []Coupon, at time.Time) ([]Coupon, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("release order %s: %w: none locked", order, ErrNotFound)
	}
	for i, c := range cs {
		if err := b.tx.Delete(bOrders, sep(order, c.ID)); err != nil {
			return nil, err
		}
		c.State, c.Order, c.Store, c.AmountOff, c.Changed = Available, "", "", decimal.Decimal{}, at
		if !c.Expires.IsZero() && !at.Before(c.Expires) {
			c.State = Expired
			if err := b.count(c.Expires, c.Template, "", c.Member, func(s *Stat) { s.Expired++ }); err != nil {
				return nil, err
			}
		}
		if err := b.save(c); err != nil {
			return nil, err
		}
		cs[i] = c
	}
	return cs, nil
}

// redeem redeems a coupon by code at a store (核销) against order o, in one
// step: the coupon goes from available to used. An order without a member
// is taken as the coupon owner's. It returns the coupon and its amount
// off, or an error wrapping ErrBadCode, ErrUnknownCode, ErrNotFound
// (another member's coupon), ErrState (see usedFor too), ErrNotCombinable
// (with the coupons used for the order), ErrInvalidOrder or
// ErrNotApplicable (with the reason, including a redemption method the
// template does not allow, and a coupon that adds nothing to those used
// for the order).
//
// With coupons used for the order before, the order's coupons take off
// together what Combine gives them, as if locked in one checkout,
// whatever order they come in: the earlier ones keep the amounts they
// recorded (they are used, published and counted), and this one takes
// what Combine gives the whole set less those amounts. So a discount
// redeemed after a cash coupon comes off what the cash left, and a cash
// coupon redeemed after a discount takes what makes the order's total
// the combination's.
func (b *Book) redeem(code string, via Redemption, o Order) (Coupon, Applied, error) {
	c, err := b.ByCode(code)
	if err != nil {
		return Coupon{}, Applied{}, err
	}
	if o.Member == "" {
		o.Member = c.Member
	}
	dp := b.def.MoneyPlaces()
	if err := o.check(true, dp); err != nil {
		return Coupon{}, Applied{}, err
	}
	h, err := b.held(o.Member, c.ID)
	if err != nil {
		return Coupon{}, Applied{}, fmt.Errorf("code %s: %w", c.Code, err)
	}
	if c.State != Available {
		return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w: %s", c.ID, ErrState, c.State)
	}
	if rs := h.Template.Redemption; len(rs) > 0 && !slices.Contains(rs, via) {
		return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w: %s (%s)", c.ID, ErrNotApplicable, ReasonRedemption, via)
	}
	a := evaluate(o, []Held{h}, scopes{}, dp)[0]
	if !a.OK() {
		return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w: %s", c.ID, ErrNotApplicable, a.Reasons[0])
	}
	// The stacking rules hold for the order as a whole: with the coupons
	// used for it before (redeemed, or locked and used), and never while
	// coupons are locked for it.
	prior, err := b.usedFor(o)
	if err != nil {
		return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w", c.ID, err)
	}
	if len(prior) > 0 {
		all := make([]Held, 0, len(prior)+1)
		recorded := decimal.Zero
		for _, p := range prior {
			all = append(all, settled(p))
			recorded = recorded.Add(p.Coupon.AmountOff)
		}
		_, total, err := combine(o, append(all, h), dp)
		if err != nil {
			return Coupon{}, Applied{}, fmt.Errorf("coupon %s for %s with the coupons used for it: %w", c.ID, o.ID, err)
		}
		// Never negative: the earlier coupons may have recorded more than
		// the combination gives them (used before this rule, each alone).
		if a.AmountOff = total.Sub(recorded); !a.AmountOff.IsPositive() {
			return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w: %s with the coupons used for %s", c.ID, ErrNotApplicable, ReasonNothingOff, o.ID)
		}
	}
	if err := c.notBefore(o.Time, b.loc); err != nil {
		return Coupon{}, Applied{}, fmt.Errorf("coupon %s: %w", c.ID, err)
	}
	c.Order, c.Store, c.AmountOff = o.ID, o.Store, a.AmountOff
	c, err = b.markUsed(c, o.Time)
	return c, a, err
}

// settled returns h, a coupon used for an order, as Combine counts it
// with the order's other coupons: its state and validity were checked when
// it was used, at the time of that request, and are not checked again at
// a later redemption's (a coupon used at 23:50 counts for its order at
// 00:10). Its store, scenario, products and minimum are checked on the
// order, as for any combination.
func settled(h Held) Held {
	h.Coupon.State, h.Coupon.IssuedAt, h.Coupon.From, h.Coupon.Expires = Available, time.Time{}, time.Time{}, time.Time{}
	return h
}

// usedFor returns the coupons used for order o before, with their
// templates. It returns an error wrapping ErrState when coupons are locked
// for o (its checkout is under way: Use uses them), or when a coupon used
// for it is another member's (an order is one member's), and one wrapping
// engine.ErrCorrupt when the index lists a coupon that was not used for o.
func (b *Book) usedFor(o Order) ([]Held, error) {
	prefix := sep(o.ID, "")
	locked := false
	err := b.tx.Scan(bOrders, prefix, store.PrefixEnd(prefix), false, func([]byte, []byte) error {
		locked = true
		return store.StopScan
	})
	if err != nil {
		return nil, err
	}
	if locked {
		return nil, fmt.Errorf("%w: coupons are locked for order %s", ErrState, o.ID)
	}
	if err := b.indexUsed(o.Member); err != nil {
		return nil, err
	}
	var ids []string
	err = b.tx.Scan(bUsed, prefix, store.PrefixEnd(prefix), false, func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix):]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	hs := make([]Held, 0, len(ids))
	for _, id := range ids {
		c, err := b.Get(id)
		if err != nil {
			return nil, err
		}
		if c.State != Used || c.Order != o.ID {
			return nil, fmt.Errorf("%w: %s lists %s for order %s, a coupon %s for order %q", engine.ErrCorrupt, bUsed, id, o.ID, c.State, c.Order)
		}
		if c.Member != o.Member {
			return nil, fmt.Errorf("%w: order %s used %s, another member's coupon", ErrState, o.ID, id)
		}
		t, ok := b.def.Template(c.Template)
		if !ok {
			return nil, fmt.Errorf("coupon %s: %w %s", id, ErrUnknownTemplate, c.Template)
		}
		hs = append(hs, Held{Coupon: c, Template: t})
	}
	return hs, nil
}

// indexUsed makes sure that bUsed lists every coupon member used. A store
// an earlier version of the library wrote holds used coupons (their
// orders recorded) that bUsed, added later, does not list: the member's
// first Redeem or Lock since lists them and marks the member in
// bIndexed, so that it is done once per member, a scan of the member's
// coupons. Coupons used after that are listed as they are used
// (markUsed). An order another member used a coupon for before is known
// once that member's coupons are listed.
func (b *Book) indexUsed(member string) error {
	if _, err := b.tx.Get(bIndexed, []byte(member)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	cs, err := b.ofMember(member, func(s State) bool { return s == Used })
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Order == "" {
			return fmt.Errorf("%w: coupon %s is used for no order", engine.ErrCorrupt, c.ID)
		}
		if err := b.tx.Put(bUsed, sep(c.Order, c.ID), nil); err != nil {
			return err
		}
	}
	return b.tx.Put(bIndexed, []byte(member), nil)
}

// expire expires the coupon at at if it is still available and its
// validity has ended; changed is false otherwise (used, revoked, locked or
// still valid coupons are left alone).
func (b *Book) expire(id string, at time.Time) (c Coupon, changed bool, err error) {
	c, err = b.Get(id)
	if errors.Is(err, ErrNotFound) {
		return c, false, nil
	}
	if err != nil || c.State != Available || c.Expires.IsZero() || at.Before(c.Expires) {
		return c, false, err
	}
	c.State, c.Changed = Expired, at
	if err := b.save(c); err != nil {
		return c, false, err
	}
	return c, true, b.count(at, c.Template, "", c.Member, func(s *Stat) { s.Expired++ })
}

// revoke revokes an available or locked coupon (an operator's action),
// with a note. It returns an error wrapping ErrNotFound or ErrState. An
// available coupon whose validity ended by at is expired, whether or not
// its expiry was performed yet (Advance), so that the answer does not
// depend on when Advance ran.
func (b *Book) revoke(id string, at time.Time, note string) (Coupon, error) {
	c, err := b.Get(id)
	if err != nil {
		return c, err
	}
	if c.State != Available && c.State != Locked {
		return c, fmt.Errorf("%w: %s", ErrState, c.State)
	}
	if c.State == Available && !c.Expires.IsZero() && !at.Before(c.Expires) {
		return c, fmt.Errorf("%w: %s at %s", ErrState, Expired, c.Expires.In(b.loc).Format(time.RFC3339))
	}
	if err := c.notBefore(at, b.loc); err != nil {
		return c, err
	}
	if c.State == Locked {
		if err := b.tx.Delete(bOrders, sep(c.Order, c.ID)); err != nil {
			return c, err
		}
	}
	c.State, c.Changed, c.Note, c.Order, c.Store, c.AmountOff = Revoked, at, note, "", "", decimal.Decimal{}
	if err := b.save(c); err != nil {
		return c, err
	}
	return c, b.count(at, c.Template, "", c.Member, func(s *Stat) { s.Revoked++ })
}

// Stat is the counts and amount off of coupons over a period.
type Stat struct {
	Issued    int64           `json:"issued"`
	Used      int64           `json:"used"`
	Expired   int64           `json:"expired"`
	Revoked   int64           `json:"revoked"`
	AmountOff decimal.Decimal `json:"amount_off"`
}

func (s *Stat) add(o Stat) {
	s.Issued += o.Issued
	s.Used += o.Used
	s.Expired += o.Expired
	s.Revoked += o.Revoked
	s.AmountOff = s.AmountOff.Add(o.AmountOff)
}

// count updates the statistics of (day of at, template, the template's
// cost centre in the definition in force, store) in the stripe of member,
// whose coupon it counts. The cost centre is in the key so that a version
// moving a template to another one leaves the days before it where they
// were counted.
func (b *Book) count(at time.Time, template, storeID, member string, f func(*Stat)) error {
	day := rule.DateOf(at, b.loc).String()
	cc := ""
	if t, ok := b.def.Template(template); ok {
		cc = t.CostCentre
	}
	k := statKey(day, template, cc, storeID)
	k = total.Key(k, nil, b.stripe(member)) // k, then the stripe's suffix
	var s Stat
	v, err := b.tx.Get(bStats, k)
	switch {
	case err == nil:
		if err := record.Decode(bStats, k, v, &s); err != nil {
			return err
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	f(&s)
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.tx.Put(bStats, k, raw)
}

// statKey is the key of a statistics counter before its stripe's suffix:
// day \0 template \0 cost centre \0 store. The store comes last, so that
// it reads whole whatever it holds; a key of three parts (day \0
// template \0 store) is a counter written before the cost centre was
// kept, read under the template's cost centre in force.
func statKey(day, template, cc, storeID string) []byte {
	k := make([]byte, 0, len(day)+len(template)+len(cc)+len(storeID)+6) // three separators, then the stripe's suffix
	k = append(append(k, day...), 0)
	k = append(append(k, template...), 0)
	k = append(append(k, cc...), 0)
	return append(k, storeID...)
}

// StatsQuery selects statistics: the days From to To (inclusive, in the
// program's zone; zero: unbounded; To not before From) and, when set, one
// template, store or cost centre.
type StatsQuery struct {
	From       rule.Date `json:"from,omitzero"`
	To         rule.Date `json:"to,omitzero"`
	Template   string    `json:"template,omitempty"`
	Store      string    `json:"store,omitempty"`
	CostCentre string    `json:"cost_centre,omitempty"`
}

// check returns an error wrapping event.ErrInvalidArgument, naming the
// field, for a From or To that is not a date or a To before From.
func (q StatsQuery) check() error {
	switch {
	case !q.From.IsZero() && !q.From.Valid():
		return fmt.Errorf("%w: from: %s is not a date", event.ErrInvalidArgument, q.From)
	case !q.To.IsZero() && !q.To.Valid():
		return fmt.Errorf("%w: to: %s is not a date", event.ErrInvalidArgument, q.To)
	case !q.From.IsZero() && !q.To.IsZero() && q.To.Compare(q.From) < 0:
		return fmt.Errorf("%w: to: %s is before from %s", event.ErrInvalidArgument, q.To, q.From)
	}
	return nil
}

// StatRow is the statistics of one template at one store ("" for what
// happens at no store: issuing, expiry, revocation).
type StatRow struct {
	Template   string `json:"template"`
	Store      string `json:"store,omitempty"`
	CostCentre string `json:"cost_centre,omitempty"`
	Stat
}

// Report is the statistics of a period: one row per template and store
// (in that order), the sums per template, per store and per cost centre,
// and the total.
type Report struct {
	Rows         []StatRow       `json:"rows"`
	ByTemplate   map[string]Stat `json:"by_template"`
	ByStore      map[string]Stat `json:"by_store"`
	ByCostCentre map[string]Stat `json:"by_cost_centre"`
	Total        Stat            `json:"total"`
}

// Stats sums the daily statistics the query selects, merging their
// stripes; its cost is the number of (day, template, store) counters in
// the period, times the stripes written for each. A From or To that is
// not a date (rule.Date.Valid), or a To before From, is an error wrapping
// event.ErrInvalidArgument that names the field.
func (b *Book) Stats(q StatsQuery) (Report, error) {
	r := Report{ByTemplate: map[string]Stat{}, ByStore: map[string]Stat{}, ByCostCentre: map[string]Stat{}}
	if err := q.check(); err != nil {
		return r, err
	}
	var start, end []byte
	if !q.From.IsZero() {
		start = []byte(q.From.String())
	}
	if !q.To.IsZero() {
		end = []byte(q.To.AddDays(1).String())
	}
	rows := map[[3]string]*StatRow{}
	err := b.tx.Scan(bStats, start, end, false, func(k, v []byte) error {
		base, ok := total.Base(k)
		parts := bytes.SplitN(base, []byte{0}, 4)
		if !ok || len(parts) < 3 {
			return fmt.Errorf("%w: malformed stats key %q", engine.ErrCorrupt, k)
		}
		tpl, cc, st := string(parts[1]), "", string(parts[2])
		if len(parts) == 4 {
			cc, st = string(parts[2]), string(parts[3])
		} else if t, ok := b.def.Template(tpl); ok {
			cc = t.CostCentre // a counter from before the cost centre was kept
		}
		if (q.Template != "" && tpl != q.Template) || (q.Store != "" && st != q.Store) || (q.CostCentre != "" && cc != q.CostCentre) {
			return nil
		}
		var s Stat
		if err := record.Decode(bStats, k, v, &s); err != nil {
			return err
		}
		row := rows[[3]string{tpl, st, cc}]
		if row == nil {
			row = &StatRow{Template: tpl, Store: st, CostCentre: cc}
			rows[[3]string{tpl, st, cc}] = row
		}
		row.add(s)
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, row := range rows {
		r.Rows = append(r.Rows, *row)
		addTo(r.ByTemplate, row.Template, row.Stat)
		addTo(r.ByStore, row.Store, row.Stat)
		addTo(r.ByCostCentre, row.CostCentre, row.Stat)
		r.Total.add(row.Stat)
	}
	sortRows(r.Rows)
	return r, nil
}

func addTo(m map[string]Stat, k string, s Stat) {
	t := m[k]
	t.add(s)
	m[k] = t
}

func sortRows(rs []StatRow) {
	slices.SortFunc(rs, func(a, b StatRow) int {
		return cmp.Or(cmp.Compare(a.Template, b.Template), cmp.Compare(a.Store, b.Store), cmp.Compare(a.CostCentre, b.CostCentre))
	})
}
