package membership

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	_ "time/tzdata" // program zones must load on hosts without a zoneinfo database

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Sentinel errors of the root package. Errors from the domain packages
// (ledger.ErrInsufficientBalance, coupon.ErrOutOfStock, …) are wrapped and
// pass through errors.Is as well. The same sentinels are in package event,
// where the domain packages wrap them.
var (
	// ErrUnknownEventType is returned for an event of an undeclared type.
	ErrUnknownEventType = event.ErrUnknownType
	// ErrInvalidEvent is returned for an event that fails validation; the
	// error also wraps the specific cause and names the field.
	ErrInvalidEvent = event.ErrInvalidEvent
	// ErrEventConflict is returned for an event ID or request ID already
	// used with different content.
	ErrEventConflict = event.ErrConflict
	// ErrInsufficientBalance is returned when a debit exceeds a balance.
	ErrInsufficientBalance = ledger.ErrInsufficientBalance
	// ErrInvalidArgument is returned for a malformed request (an empty
	// member, a negative amount, a missing operator, …).
	ErrInvalidArgument = event.ErrInvalidArgument
	// ErrRefundExceedsOrder is returned for a refund event that would take
	// what was refunded of an order past the amount the points or growth
	// rules recorded for it: it changes nothing in any domain and its ID
	// stays free (see package points and package level, Refunds).
	ErrRefundExceedsOrder = event.ErrRefundExceedsOrder
	// ErrDefinitionSuperseded is returned by Open for a definition older
	// than the one the store runs, and by every write of a Program whose
	// definition another instance has since replaced (Definition.Version).
	// A record of the definition in force that is damaged or gone is
	// store.ErrCorrupt instead, for the writes and for Open.
	ErrDefinitionSuperseded = engine.ErrDefinitionSuperseded
	// ErrDefinitionConflict is returned by Open for a definition whose
	// version the store runs with other content.
	ErrDefinitionConflict = engine.ErrDefinitionConflict
	// ErrDefinitionInUse is returned by Open for a definition that would
	// replace the one the store runs but leaves out what members or the
	// ledger still hold: a level or paid plan a member holds, a point
	// program with ledger entries, a coupon template or pack issued, a
	// scale lowered below an amount a member holds (see
	// Definition.Version). It wraps rule.ErrInvalidDefinition too, in a
	// *rule.Problems naming each with its path.
	ErrDefinitionInUse = engine.ErrDefinitionInUse
	// ErrStoreLayout is returned by Open for a store whose data is laid
	// out as another version of the library lays it out.
	ErrStoreLayout = engine.ErrLayout
	// ErrTooOld is returned, wrapped with ErrInvalidEvent or
	// ErrInvalidArgument, for an event or request whose time is before the
	// idempotency window (see Retention).
	ErrTooOld = event.ErrTooOld
	// ErrFeedPruned is returned by Feed for a position whose changes
	// retention has pruned (see Retention).
	ErrFeedPruned = engine.ErrPruned
	// ErrCorrupt is wrapped by the error of a read that finds a record of
	// the program's own that does not decode (an input journal's record,
	// an event's or a change's record, a counter, a domain's record such
	// as a coupon or a member's level): damage, or data another program
	// wrote. It is store.ErrCorrupt, so it covers the damage the store's
	// own checks find (store/bolt's checksums) too, and ledger.ErrCorrupt
	// (a ledger record that does not decode, an invariant violated) wraps
	// it.
	ErrCorrupt = engine.ErrCorrupt
)

// Option configures Open.
type Option func(*Program)

// WithClock sets the clock the scheduler reads. The default reads the wall
// clock; rules never do.
func WithClock(now func() time.Time) Option { return func(p *Program) { p.clock = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(p *Program) { p.log = l } }

// WithRand sets the random source used for coupon codes and random amounts
// (default crypto/rand.Reader).
func WithRand(r io.Reader) Option { return func(p *Program) { p.rand = r } }

// Retention says how long a Program keeps what only idempotency and the
// change feed need; Advance prunes the rest, once a day of the time it is
// given, so that a store stops growing when its member count does. The
// ledger, points lots, coupons, levels and everything a balance, a
// statement, a query or a due item reads are kept for ever.
//
// A zero field takes its default; a negative one keeps those records for
// ever.
type Retention struct {
	// Window is the idempotency window (default 35 days). Each retention
	// pass of Advance (once a day of the time it is given) moves the
	// horizon to Window before the pass's time, and prunes the records of
	// the events and operator requests whose time is before it. An event
	// or request whose time is before the horizon is refused with an error
	// wrapping ErrTooOld (and ErrInvalidEvent or ErrInvalidArgument),
	// whether or not it was processed before: a retry of a pruned event is
	// refused, never applied twice. A retry is the same event, its time
	// included: an ID whose record is pruned is not remembered, so the
	// same ID with a time inside the window is another event, and taken
	// (TestIdempotencyWindowRetries). A host that may deliver an event later
	// than Window after the last Advance sets a longer Window. A negative Window keeps every record, and
	// then every feed record too (a repeated event's outcome names them).
	Window time.Duration
	// Feed is how long the change feed keeps changes (default 35 days,
	// and never less than Window): Advance prunes, from the head of the
	// feed, the changes older than that which every consumer's cursor
	// (SetCursor) has passed. A consumer that keeps no cursor is not
	// waited for: Feed from a position already pruned returns an error
	// wrapping ErrFeedPruned. A consumer retired keeps its cursor, and
	// holds the feed from there, until DeleteCursor removes it. A negative Feed keeps the whole feed. The
	// changes of an event or request are kept while its record is, even
	// where they are dated before it (a term end due weeks before that
	// the event performed first, Advance having lagged), so that its
	// retry inside Window returns its first outcome.
	Feed time.Duration
}

// WithRetention sets how long records that only idempotency and the feed
// need are kept (see Retention).
func WithRetention(r Retention) Option { return func(p *Program) { p.retention = r } }

// Program is a membership program opened on a store: it validates and
// applies events, performs due work and reads the change feed; each
// domain's operator calls and queries are on its handle (Points, Coupons,
// Levels, …). It is safe for concurrent use.
type Program struct {
	eng       *engine.Engine
	def       Definition
	defJSON   []byte // def as Open recorded it: Definition decodes a copy
	loc       *time.Location
	types     map[string]event.Type
	clock     func() time.Time
	log       *slog.Logger
	rand      io.Reader
	retention Retention
	parts
	// journal is WithJournal's; replay maps each journaled action to the
	// call that makes it again (replay.go).
	journal bool
	replay  map[string]replayer
}

// Open validates def, records it in st as the definition in force (see
// Definition.Version) and returns a program on st. The program keeps a
// copy of def: editing def, or what Definition returns, after Open
// changes none of its rules. The store holds all
// state. Several Programs may share a store that runs concurrent writers
// (store/postgres: one Program per application instance); store/memory
// and store/bolt belong to one process. Errors wrap ErrInvalidArgument,
// rule.ErrInvalidDefinition, ErrDefinitionSuperseded,
// ErrDefinitionConflict, ErrDefinitionInUse, ErrStoreLayout or the
// store's; a nil Option is refused with ErrInvalidArgument.
func Open(st store.Store, def Definition, opts ...Option) (*Program, error) {
	if st == nil {
		return nil, fmt.Errorf("membership: open: %w: nil store", ErrInvalidArgument)
	}
	// The program keeps a copy of its own: the caller's definition shares
	// slices, maps and pointers with it, and an edit made after Open would
	// reach the rules unvalidated.
	raw, err := json.Marshal(def)
	if err != nil {
		// A value JSON cannot hold (a time past the year 9999) is a
		// problem Validate names with its path.
		if verr := def.Validate(); verr != nil {
			return nil, fmt.Errorf("membership: open: %w", verr)
		}
		return nil, fmt.Errorf("membership: open: %w: %w", rule.ErrInvalidDefinition, err)
	}
	if def, err = copyDefinition(raw); err != nil {
		return nil, fmt.Errorf("membership: open: %w", err)
	}
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("membership: open: %w", err)
	}
	loc, _ := time.LoadLocation(def.Zone)
	p := &Program{
		def:     def,
		defJSON: raw,
		loc:     loc,
		types:   map[string]event.Type{},
		clock:   time.Now,
		log:     slog.New(slog.DiscardHandler),
		rand:    rand.Reader,
	}
	for i, o := range opts {
		if o == nil {
			// A host building its options conditionally may pass a nil
			// one: an error naming it, not a nil call's panic.
			return nil, fmt.Errorf("membership: open: %w: option %d of %d is nil", ErrInvalidArgument, i+1, len(opts))
		}
		o(p)
	}
	for _, t := range def.Events {
		p.types[t.Name] = t
	}
	p.eng = engine.New(st, loc, engine.Options{Log: p.log, Rand: p.rand,
		Retention: engine.Retention{Window: p.retention.Window, Feed: p.retention.Feed}})
	if p.journal {
		if err := p.eng.EnableJournal(); err != nil {
			return nil, fmt.Errorf("membership: open: %w: %w", ErrInvalidArgument, err)
		}
	}
	p.compose()
	p.replay = p.replayers()
	// Open has no context of its own: recording the definition is one
	// short transaction.
	if err := p.eng.Install(context.Background(), def.Version, raw); err != nil {
		return nil, fmt.Errorf("membership: open: %w", err)
	}
	return p, nil
}

// Definition returns a copy of the program's definition: editing it
// changes nothing of the program's (open another Program with the edited
// definition to change the rules).
func (p *Program) Definition() Definition {
	d, err := copyDefinition(p.defJSON)
	if err != nil {
		return p.def // not reached: Open decoded these very bytes
	}
	return d
}

// copyDefinition decodes raw, a definition json.Marshal wrote, into a
// Definition that shares nothing with the one it was written from.
func copyDefinition(raw []byte) (Definition, error) {
	var d Definition
	if err := json.Unmarshal(raw, &d); err != nil {
		return Definition{}, fmt.Errorf("%w: the definition does not decode as it encodes: %w", rule.ErrInvalidDefinition, err)
	}
	return d, nil
}

// Location returns the program's time zone: every day, week, month and
// year boundary is computed in it, and every time the program returns is
// in it.
func (p *Program) Location() *time.Location { return p.loc }

// check validates an event against its declared type.
func (p *Program) check(ev event.Event) error {
	t, ok := p.types[ev.Type]
	if !ok {
		return fmt.Errorf("%w: type: %w %q", ErrInvalidEvent, event.ErrUnknownType, ev.Type)
	}
	if err := t.Check(ev); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	return p.eng.Check(ev)
}

// Process validates ev and applies every rule it triggers in one store
// transaction, returning what changed. An invalid event (unknown type,
// missing, mistyped or undeclared attribute, an attribute below its
// declared minimum (event.Attr.Min), no ID, member or time, or one beyond
// the limits of event.MaxIDBytes: an ID, a string or a list too long, text
// that is not UTF-8, a time outside the years event.MinYear to
// event.MaxYear, a derived expiry the store cannot hold) returns an error
// wrapping ErrInvalidEvent and the cause, naming the field, and writes
// nothing. A rule that reads an optional attribute the event lacks is
// skipped, and the outcome says so (change.RuleSkipped); the event's other
// rules apply. The same event ID again returns the first outcome with
// Duplicate set and changes nothing, even where the definition now in
// force would refuse it (a newer version dropped its type or an
// attribute); the same ID with different content (event.Event.Same)
// returns ErrEventConflict. A rule that refuses the
// event (a stored-value spend beyond the balance) returns its error and
// writes nothing. A Program whose definition another instance has replaced
// with a newer version returns ErrDefinitionSuperseded (see
// Definition.Version).
func (p *Program) Process(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	if err := p.check(ev); err != nil {
		switch out, rerr := p.retried(ctx, ev); {
		case rerr != nil:
			err = rerr
		case out != nil:
			return out, nil
		}
		return nil, fmt.Errorf("membership: process %q: %w", ev.ID, err)
	}
	out, err := p.eng.Process(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("membership: process %q: %w", ev.ID, err)
	}
	return out, nil
}

// ProcessBatch processes events in order in one store transaction, for bulk
// imports: every event is validated first (the error names the index), and
// if any event fails, nothing of the batch is written. Events already
// processed are returned as duplicates.
func (p *Program) ProcessBatch(ctx context.Context, evs []event.Event) ([]*change.Outcome, error) {
	var errs []error
	for i, ev := range evs {
		if err := p.check(ev); err != nil {
			// A retry of an event processed before is answered with its
			// first outcome in the batch's transaction.
			switch out, rerr := p.retried(ctx, ev); {
			case rerr != nil:
				// The store's error, not a refusal: the event may have
				// been processed.
				errs = append(errs, fmt.Errorf("events[%d] (%q): %w", i, ev.ID, rerr))
			case out == nil:
				errs = append(errs, fmt.Errorf("events[%d] (%q): %w", i, ev.ID, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("membership: process batch: %w", err)
	}
	outs, err := p.eng.ProcessBatch(ctx, evs)
	if err != nil {
		return nil, fmt.Errorf("membership: process batch: %w", err)
	}
	return outs, nil
}

// retried returns the first outcome of ev, an event the definition
// refuses, when the same event was processed before (nil when it was
// not): a version installed since may refuse a retry of an event an
// earlier one took (a type or attribute dropped, a minimum or a scale
// raised), and the retry still returns the first outcome. An event whose
// ID, member or time the limits refuse is never looked up.
func (p *Program) retried(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	if event.CheckID(ev.ID) != nil || event.CheckID(ev.Member) != nil || ev.Time.IsZero() || event.CheckTime(ev.Time) != nil {
		return nil, nil
	}
	return p.eng.Recorded(ctx, ev)
}

// view runs fn in a read-only transaction with a ledger.
func (p *Program) view(ctx context.Context, fn func(tx store.Tx, led *ledger.Ledger) error) error {
	return p.eng.View(ctx, time.Time{}, func(u *engine.Unit) error { return fn(u.Tx(), u.Ledger()) })
}

// Feed returns up to limit changes after position after (0: from the
// start), in order; a limit of 0 means 1,000, one above 10,000 returns
// 10,000, and a negative one wraps ErrInvalidArgument (see "Paged
// queries" in the package doc) and nothing is read or written. A host
// keeps the Seq of the last change it has sent and asks again from there,
// so nothing is lost if it crashes between the commit and the send;
// SetCursor stores that position in the program.
//
// Changes are ordered in the feed member by member: each member's in the
// order their units of work committed, and those of different members in
// the order the feed took them in, which Feed does first (it writes).
// Units for different members share no key
// this way, so instances writing one database do not conflict on the feed.
//
// A position past the feed's head (the position of the last change
// committed before the call), which no Feed gave out, wraps
// ErrInvalidArgument and names after; it is found from the head's
// counter, without reading the feed. The head itself gives an empty page,
// and a position behind what retention pruned wraps ErrFeedPruned.
//
// A change that does not decode, or a record whose changes do not fit its
// position (stored under a key that is no position, or overlapping the
// record before), is damage: the error wraps ErrCorrupt.
func (p *Program) Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error) {
	limit, err := event.PageSize(limit, 1000, 10000)
	if err != nil {
		return nil, fmt.Errorf("membership: feed after %d: %w", after, err)
	}
	out, err := p.eng.Feed(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("membership: feed after %d: %w", after, err)
	}
	return out, nil
}

// Cursor returns the feed position stored for consumer (0 if none). A
// consumer name that is empty or beyond the limits on strings (see
// event.MaxTextBytes) wraps ErrInvalidArgument, as in SetCursor.
func (p *Program) Cursor(ctx context.Context, consumer string) (uint64, error) {
	n, err := p.eng.Cursor(ctx, consumer)
	if err != nil {
		return 0, fmt.Errorf("membership: cursor: %w", err)
	}
	return n, nil
}

// SetCursor stores consumer's feed position, after it has sent every
// change up to seq. A consumer name that is empty or beyond the limits on
// strings wraps ErrInvalidArgument, and so does a seq past the feed's head
// (the position of the last change committed before the call, which Feed
// returns last): such a cursor would count as having passed changes not
// written yet, which retention would then prune before the consumer read
// them. The error names seq and the head, and nothing is written. The head
// is read in the transaction that writes the cursor, so on a store that
// several instances write (store/postgres) a seq that any Feed returned is
// accepted. A seq before the stored one is taken too (the consumer reads
// again from there; package webhook's Deliverer may move its cursor
// back): retention then keeps what follows it, and a seq behind what
// retention has already pruned makes Feed from it wrap ErrFeedPruned.
func (p *Program) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if err := p.eng.SetCursor(ctx, consumer, seq); err != nil {
		return fmt.Errorf("membership: set cursor: %w", err)
	}
	return nil
}

// DeleteCursor retires a feed consumer: it removes consumer's stored
// position, so that retention no longer waits for it to pass the changes
// after it (see Retention.Feed). A consumer that has no cursor is left as
// it is, with no error; a name that is empty or beyond the limits on
// strings wraps ErrInvalidArgument, as in SetCursor, and nothing is
// written. Cursor then returns 0, and a consumer that comes back (a
// SetCursor, a Feed from 0) finds the changes retention has pruned since
// gone: Feed from a position behind them wraps ErrFeedPruned.
func (p *Program) DeleteCursor(ctx context.Context, consumer string) error {
	if err := p.eng.DeleteCursor(ctx, consumer); err != nil {
		return fmt.Errorf("membership: delete cursor: %w", err)
	}
	return nil
}

// Verify checks every ledger invariant (see ledger.Verify).
func (p *Program) Verify(ctx context.Context) error {
	return p.eng.Store().View(ctx, ledger.Verify)
}

// Check is the operators' integrity check: the store's own check when it
// has one (a [store.Checker]: store/bolt checks its file's pages and every
// record's checksum; store/memory and store/postgres have none), then
// [Program.Verify]. The store's problems come first, as Verify would only
// meet them again. It returns nil when both pass, or an error wrapping
// [store.ErrCorrupt] (damage the store found) or [ledger.ErrCorrupt] (an
// invariant violated; it wraps store.ErrCorrupt too), or ctx's error or
// the store's.
func (p *Program) Check(ctx context.Context) error {
	if c, ok := p.eng.Store().(store.Checker); ok {
		if err := c.Check(ctx); err != nil {
			return fmt.Errorf("membership: check: %w", err)
		}
	}
	if err := p.Verify(ctx); err != nil {
		return fmt.Errorf("membership: check: %w", err)
	}
	return nil
}

// checkAsset refuses an asset the definition does not have, rather than
// answering it with zeros: a points asset of a point program the
// definition lacks wraps ErrInvalidArgument and points.ErrUnknownProgram;
// an asset other than growth, stored value or a point program's wraps
// ErrInvalidArgument. Both name the field "asset".
func (p *Program) checkAsset(a ledger.Asset) error {
	if prog, ok := a.PointsProgram(); ok {
		if p.def.Points != nil {
			if _, ok := p.def.Points.Program(prog); ok {
				return nil
			}
		}
		return fmt.Errorf("%w: asset: %w %q", ErrInvalidArgument, points.ErrUnknownProgram, prog)
	}
	if a == ledger.Growth || a == ledger.Value {
		return nil
	}
	return fmt.Errorf("%w: asset: %q is not %q, %q or a point program's (ledger.Points)", ErrInvalidArgument, a, ledger.Growth, ledger.Value)
}

// Balance returns a member account's balance, or a pool's (Member empty,
// Sub naming the pool). A malformed member ID, or an account that names
// neither a member nor a pool (Member and Sub both empty), wraps
// ErrInvalidArgument and names the field; so does an asset the
// definition does not have (see Totals).
func (p *Program) Balance(ctx context.Context, a ledger.Account) (bal decimal.Decimal, err error) {
	if err := event.CheckRequest(a); err != nil {
		return bal, fmt.Errorf("membership: balance: %w", err)
	}
	if err := p.checkAsset(a.Asset); err != nil {
		return bal, fmt.Errorf("membership: balance: %w", err)
	}
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		bal, err = led.Balance(a)
		return err
	})
	return bal, queryErr("balance", err)
}

// Statement returns a page of an account's statement (see ledger.Query:
// a Limit of 0 means 50, one above 1,000 means 1,000). A malformed member
// ID, an account that names neither a member nor a pool, an asset the
// definition does not have (see Totals), a bad cursor, a negative Limit,
// a To before From or a time out of range wraps ErrInvalidArgument (the
// account, the cursor, the limit and the range also ledger.ErrInvalid)
// and names the field.
func (p *Program) Statement(ctx context.Context, q ledger.Query) (page ledger.Page, err error) {
	if err := event.CheckRequest(q); err != nil {
		return page, fmt.Errorf("membership: statement: %w", err)
	}
	if err := p.checkAsset(q.Account.Asset); err != nil {
		return page, fmt.Errorf("membership: statement: %w", err)
	}
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		page, err = led.Statement(q)
		return err
	})
	for i := range page.Entries {
		page.Entries[i].Time = page.Entries[i].Time.In(p.loc) // times come back in the program's zone
	}
	return page, queryErr("statement", err)
}

// Totals returns the net amount per kind moved into member accounts of
// asset over the days from..to ("2006-01-02", inclusive, in the program's
// zone; empty: unbounded), summed over every member from the ledger's
// daily totals (for a point program, Points().Reconciliation's figures,
// with what went out negative). One member's points per kind over a
// period of times is points.Handle.Totals (p.Points().Totals), not this.
//
// A day not of that form ("2025-3-1", "2025-13-01"), or a to before from,
// wraps ErrInvalidArgument and ledger.ErrInvalid and names the argument
// (from or to). An asset the
// definition does not have is refused naming "asset", not answered with
// no totals: a point program it lacks (ledger.Points("zzz")) wraps
// ErrInvalidArgument and points.ErrUnknownProgram, an asset other than
// ledger.Growth, ledger.Value or a point program's wraps
// ErrInvalidArgument.
func (p *Program) Totals(ctx context.Context, asset ledger.Asset, from, to string) (totals map[ledger.Kind]decimal.Decimal, err error) {
	if err := p.checkAsset(asset); err != nil {
		return nil, fmt.Errorf("membership: totals: %w", err)
	}
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		totals, err = led.Totals(asset, from, to)
		return err
	})
	return totals, queryErr("totals", err)
}

// queryErr returns the error of a ledger read: what the ledger refuses as
// malformed (ledger.ErrInvalid) is the query's, so it wraps
// ErrInvalidArgument too.
func queryErr(what string, err error) error {
	if errors.Is(err, ledger.ErrInvalid) {
		return fmt.Errorf("membership: %s: %w: %w", what, ErrInvalidArgument, err)
	}
	return err
}
