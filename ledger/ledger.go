// Package ledger is the immutable, double-entry journal behind every balance
// in a membership program: points of each point program, growth, and stored
// value (余额).
//
// # Accounts and transactions
//
// Each [Asset] has member accounts (a member's points, growth or money, and
// sub-accounts such as pending or frozen points) and program-side pool
// accounts (issued, redeemed, expired, voided, adjusted, …). A [Transaction]
// is a set of legs whose amounts sum to zero per asset, so the sum over all
// accounts of an asset is always zero and nothing appears or vanishes.
// Member accounts never go negative; pool accounts are counters and may.
// Statements are kept per member account: a transaction's pool legs are
// stored inside its member entries, so posting costs one record per member
// leg, and pools are read through balances and daily totals.
//
// # One member per transaction
//
// A transaction holds the accounts of one member at most, plus pools, and a
// posting writes only that member's keys and the shared totals, which are
// split into stripes. So postings for different members do not write the
// same keys, and a store that runs them concurrently rarely sees them
// conflict:
//
//   - Transaction numbers are per member: each member's transactions are
//     numbered 1, 2, 3, … by a counter of the member's own, and those
//     between pools only by a counter of theirs. A number names a
//     transaction together with its member; what is built from it (entry
//     sequence numbers, generated lot IDs, record keys) belongs to one
//     account and needs no more.
//   - A pool's balance and the daily totals are kept in stripes, the one a
//     posting adds to chosen by its member's hash or by the store's
//     transaction (store.StripeChooser: store/postgres picks its
//     connection's, see [Ledger.SetStripes]), and their readers sum every
//     stripe.
//   - A pool's entries carry no running balance (their [Entry].Balance is
//     zero): it would need the pool's whole balance.
//
// # Lots
//
// Every credit to a member account of an asset that keeps lots
// ([Asset.HasLots]: points and stored value) is a [Lot] with a grant time
// and an optional expiry. A debit takes the unexpired lots by earliest
// expiry, then earliest grant, and reports what it took from each ([Take]),
// so a reversal can return the amounts to the lots they came from. A debit
// may also name one lot (an expiry, a restore); one naming a lot past its
// expiry takes nothing from what the account's other debits in the
// transaction may spend (only unexpired lots are). A lot's identity survives a
// move between a member's accounts (pending → available, available →
// frozen).
//
// # Records
//
// Every event writes entries and lots, so their stored values hold only
// what their keys do not say: an entry's key is its account, time and
// sequence number, a lot's its account, expiry, grant and ID, and the lot
// ID index keeps just the expiry and grant that complete the lot's key.
// Values are versioned binary records (encode.go); one of another version
// is reported as corrupt ([ErrCorrupt]), never guessed at. So is a member
// account's balance that reads negative (Balance, Accounts, and a posting
// to the account, which would otherwise take it for an insufficient
// balance): member accounts never go below zero.
//
// # Use
//
// A [Ledger] is bound to one store transaction ([New]); the domain packages
// post through it inside the transaction that applies an event, so the
// journal commits or rolls back with everything else. [Verify] checks every
// invariant over the whole journal and reports the problems together: a
// record it cannot read is one of them, named by bucket and key, and the
// check goes on without it, skipping only the checks that need what it
// holds.
//
// Reads check what they are given rather than answer a malformed query
// with nothing: [Ledger.Balance] and [Ledger.Statement] refuse an account
// that names neither a member nor a pool, [Ledger.Totals] a day not of the
// form "2006-01-02" ([CheckDate]), each with an error wrapping [ErrInvalid]
// that names the field.
package ledger

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Sentinel errors.
var (
	// ErrInsufficientBalance is returned when a debit exceeds what the
	// account (or the named lot) holds and may spend at that time.
	ErrInsufficientBalance = errors.New("ledger: insufficient balance")
	// ErrUnbalanced is returned for a transaction whose legs do not sum to
	// zero for each asset.
	ErrUnbalanced = errors.New("ledger: unbalanced transaction")
	// ErrInvalid is returned for a malformed transaction or query.
	ErrInvalid = errors.New("ledger: invalid")
	// ErrUnknownLot is returned for a debit naming a lot the account does
	// not hold.
	ErrUnknownLot = errors.New("ledger: unknown lot")
	// ErrCorrupt is wrapped by each problem Verify reports and by the
	// error of a read that finds a ledger record that does not decode. It
	// wraps store.ErrCorrupt: the ledger's records are damaged.
	ErrCorrupt = fmt.Errorf("ledger: invariant violated: %w", store.ErrCorrupt)
)

// Asset is what an account holds: points of one point program, growth, or
// stored value.
type Asset string

// The non-points assets.
const (
	Growth Asset = "growth"
	Value  Asset = "value"
)

// HasLots reports whether the asset's member accounts keep lots. Growth
// does not: it never expires (a level term re-bases it) and is never spent
// from a particular credit, so a growth account is a plain balance and
// posting to it writes no lot records. Its credits and debits name no lot
// and no expiry, and its debits are covered by the balance.
func (a Asset) HasLots() bool { return a != Growth }

// Points returns the asset of the named point program.
func Points(program string) Asset { return Asset("points:" + program) }

// PointsProgram returns the point program of a points asset.
func (a Asset) PointsProgram() (string, bool) {
	return strings.CutPrefix(string(a), "points:")
}

// Account identifies a member account (Member set) or a program-side pool
// (Member empty, Sub naming the pool).
type Account struct {
	Asset  Asset  `json:"asset"`
	Member string `json:"member,omitempty"`
	// Sub names a member's sub-account ("" is the main, spendable one) or a
	// pool.
	Sub string `json:"sub,omitempty"`
}

// MemberAccount returns a member's account of asset; sub is "" for the main
// account or names a sub-account such as "pending".
func MemberAccount(member string, asset Asset, sub string) Account {
	return Account{Asset: asset, Member: member, Sub: sub}
}

// Pool returns the program-side account of asset named name.
func Pool(asset Asset, name string) Account { return Account{Asset: asset, Sub: name} }

// IsMember reports whether a is a member account.
func (a Account) IsMember() bool { return a.Member != "" }

// String returns the account as text: member/M/asset[/sub] for a member
// account, pool/asset/name for a pool.
func (a Account) String() string {
	if a.IsMember() {
		s := "member/" + a.Member + "/" + string(a.Asset)
		if a.Sub != "" {
			s += "/" + a.Sub
		}
		return s
	}
	return "pool/" + string(a.Asset) + "/" + a.Sub
}

// check returns an error wrapping ErrInvalid, naming the field, for an
// account a query cannot read: no asset, a NUL byte in a name, or neither a
// member nor a pool (an empty Member with an empty Sub).
func (a Account) check() error {
	switch {
	case a.Asset == "":
		return errf(ErrInvalid, "account %q: asset: empty", a)
	case !a.valid() && a.Member == "" && a.Sub == "":
		return errf(ErrInvalid, "account %q: member: empty, and no pool named (sub: empty)", a)
	case !a.valid():
		return errf(ErrInvalid, "account %q: asset, member or sub holds a NUL byte", a)
	}
	return nil
}

// CheckDate checks a day a query takes ([Ledger.Totals]): empty, or an
// existing date of the form "2006-01-02" ("2025-3-1" and "2025-13-01" are
// not). The error wraps ErrInvalid and names the form.
func CheckDate(s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return errf(ErrInvalid, "%q is not a date (YYYY-MM-DD)", s)
	}
	return nil
}

func (a Account) valid() bool {
	ok := func(s string) bool { return !strings.ContainsRune(s, 0) }
	return a.Asset != "" && ok(string(a.Asset)) && ok(a.Member) && ok(a.Sub) && (a.IsMember() || a.Sub != "")
}

// Kind says what a transaction did (earned, redeemed, expired, …). The
// domain packages define their kinds.
type Kind string

// Ref says what a transaction refers to. The domain packages fill it;
// each field is empty where it does not apply.
type Ref struct {
	// Event is the ID of the event whose processing posted the
	// transaction (a grant, a refund's reversal, a risk control's block);
	// empty for a request or due work.
	Event string `json:"event,omitempty"`
	// Order is the order a redemption, its reversal or a refund's
	// reversal refers to (the request's reference, the refunded order).
	// A grant names only its event: the order an event's grant came from
	// is kept by the points and level parts, which a refund reads.
	Order string `json:"order,omitempty"`
	// Operator is who made the request (an adjustment, a review, a
	// redemption made for a member), or approved it.
	Operator string `json:"operator,omitempty"`
	// Note is the request's note or reason; due work's transactions say
	// "due <kind>" (an expiry, a term end, a release).
	Note string `json:"note,omitempty"`
}

// Leg moves Amount into Account (negative: out of it).
type Leg struct {
	Account Account         `json:"account"`
	Amount  decimal.Decimal `json:"amount"`
	// Lot, on a member credit, names the lot to add to: an existing lot of
	// the account (a reversal, a restore) or a new lot with this ID. Empty
	// makes a new lot with a generated ID, "<transaction id>.<leg index>"
	// (unique within the member's accounts: numbers count per member);
	// a credit may name such an ID only of an earlier transaction (a lot
	// moving between a member's accounts keeps its ID), since a generated
	// ID is taken as new without looking it up. On a member debit it names the
	// only lot to take from (expired or not); empty takes unexpired lots by
	// earliest expiry, then earliest grant.
	Lot string `json:"lot,omitempty"`
	// Expires is a new lot's expiry (zero: never).
	Expires time.Time `json:"expires,omitzero"`
	// Granted orders a new lot among lots of the same expiry; zero means
	// the transaction's time.
	Granted time.Time `json:"granted,omitzero"`
}

// Transaction is a balanced set of legs.
type Transaction struct {
	// ID is the transaction's number, set by Post: numbers count per
	// member (see the package comment).
	ID   uint64    `json:"id"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	Ref  Ref       `json:"ref,omitzero"`
	Legs []Leg     `json:"legs"`
}

// Entry is one leg as recorded in an account's statement, with a member
// account's balance after it.
type Entry struct {
	// Seq orders the account's entries by posting: the transaction's
	// number and the leg's place in it (Txn<<12 | place). Like Txn, it is
	// unique within the account, not across members.
	Seq uint64 `json:"seq"`
	// Txn is the transaction's number, counted per member (a transaction
	// between pools only has a counter of its own).
	Txn     uint64          `json:"txn"`
	Time    time.Time       `json:"time"`
	Kind    Kind            `json:"kind"`
	Account Account         `json:"account"`
	Amount  decimal.Decimal `json:"amount"`
	// Balance is a member account's balance after the entry. It is zero
	// for an entry of a pool: a pool's running balance would need its
	// whole balance, which every member's postings share; read a pool's
	// balance with Ledger.Balance.
	Balance decimal.Decimal `json:"balance"`
	Lot     string          `json:"lot,omitempty"`
	Ref     Ref             `json:"ref,omitzero"`
}

// Lot is a credit to a member account and what remains of it.
type Lot struct {
	ID       string          `json:"id"`
	Account  Account         `json:"account"`
	Amount   decimal.Decimal `json:"amount"`   // remaining
	Original decimal.Decimal `json:"original"` // credited in all
	Expires  time.Time       `json:"expires,omitzero"`
	Granted  time.Time       `json:"granted"`
}

// Take is what a debit took from one lot.
type Take struct {
	Account Account         `json:"account"`
	Lot     string          `json:"lot"`
	Amount  decimal.Decimal `json:"amount"`
	Expires time.Time       `json:"expires,omitzero"`
	Granted time.Time       `json:"granted"`
}

// Posted is the result of a posting.
type Posted struct {
	// Txn is the transaction's number, counted per member.
	Txn     uint64  `json:"txn"`
	Entries []Entry `json:"entries"`
	// Takes lists, for the member debits, what came from each lot.
	Takes []Take `json:"takes,omitempty"`
	// Lots lists the lots the member credits created or added to.
	Lots []Lot `json:"lots,omitempty"`
}

func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
