package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

// Erasure (the right to erasure of PIPL and GDPR): Unit.Erase removes what
// the parts keep of a member that may hold personal data (each part that
// is an Eraser removes its own), blanks the notes of the member's ledger
// entries, and marks the member erased. From then on an event for the
// member is refused before any part runs, and a request naming the member
// (or whose unit changes it) is refused, both with an error wrapping
// ErrErased. Due work goes on (points and coupons still expire, terms
// still end), since the ledger must still balance.
//
// On a store that runs Updates concurrently (store.Striper), a member's
// first event or request also writes an empty record there, "not erased":
// its later ones then read a key of their own. Were the bucket empty, every
// event's read of its member's absent key would land in the one gap where
// the next bucket's keys begin (PostgreSQL guards the index page a read
// looked at), and the events inserted there would conflict with all.
const bErased = "erased" // member → time of the erasure (8 bytes, keys.Builder.Time), or empty: not erased

// ErrErased is wrapped by the refusal of an event or a request for a
// member whose personal data was erased.
var ErrErased = errors.New("member erased")

// Eraser is a part that keeps personal data of a member (profile
// attributes, operator notes), or keeps what of the member waits on an
// operator: Erase removes the one and closes the other (no request can
// once the member is erased), inside the erasure's unit, keeping every
// amount and reference the ledger and the part's rules need. The unit's
// Ref names the erasure's request and operator.
type Eraser interface {
	Erase(u *Unit, member string) error
}

// AddEraser adds an Eraser that is no part: that of a domain the
// definition leaves out, whose records a version before may have written
// (a tag domain dropped while members held profile attributes), so that
// an erasure still erases them.
func (e *Engine) AddEraser(er Eraser) { e.erasers = append(e.erasers, er) }

// Erase erases member's personal data: every Eraser part's and AddEraser's, the notes
// of the member's ledger entries (see ledger.Ledger.BlankNotes) and what
// the errors of the member's refused audit entries quote
// (eraseAuditQuotes); then it
// marks the member erased at the unit's time. A member already erased is
// refused with ErrErased (Apply refuses it first, for a request naming
// the member).
func (u *Unit) Erase(member string) error {
	if member == "" {
		return errors.New("erase: no member")
	}
	if ok, err := isErased(u.tx, member); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %q", ErrErased, member)
	}
	for _, p := range u.e.parts {
		if er, ok := p.(Eraser); ok {
			if err := er.Erase(u, member); err != nil {
				return err
			}
		}
	}
	for _, er := range u.e.erasers {
		if err := er.Erase(u, member); err != nil {
			return err
		}
	}
	if _, err := u.led.BlankNotes(member); err != nil {
		return err
	}
	if err := eraseAuditQuotes(u.tx, member); err != nil {
		return err
	}
	u.erasing = member
	return u.tx.Put(bErased, []byte(member), keys.New().Time(u.at))
}

// isErased reports whether member was erased.
func isErased(tx store.Tx, member string) (bool, error) {
	return isErasedKey(tx, []byte(member))
}

// isErasedKey is isErased with the member's ID given as a key.
func isErasedKey(tx store.Tx, member []byte) (bool, error) {
	erased, _, err := erasedMark(tx, member)
	return erased, err
}

// erasedMark reads member's record in bErased: erased when it holds the
// erasure's time, known when there is a record at all (an empty one says
// not erased).
func erasedMark(tx store.Tx, member []byte) (erased, known bool, err error) {
	if len(member) == 0 {
		return false, false, nil
	}
	v, err := tx.Get(bErased, member)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, false, nil
	case err != nil:
		return false, false, err
	case len(v) == 0:
		return false, true, nil
	case len(v) != 8:
		return false, false, fmt.Errorf("%w: erasure record of %q", ErrCorrupt, member)
	}
	return true, true, nil
}

// markKnown writes member's empty record in bErased (see bErased), new:
// inserted unread where the store can (store.Inserter).
func markKnown(tx store.Tx, member []byte) error {
	if ins, ok := tx.(store.Inserter); ok && ins.Fresh(bErased, member) {
		return ins.Insert(bErased, member, []byte{})
	}
	return tx.Put(bErased, member, []byte{})
}

// checkErased returns an error wrapping ErrErased when member was erased.
func checkErased(tx store.Tx, member string) error {
	return checkErasedKey(tx, []byte(member))
}

// checkErasedKey is checkErased with the member's ID given as a key.
func checkErasedKey(tx store.Tx, member []byte) error {
	ok, err := isErasedKey(tx, member)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("member %q: %w", member, ErrErased)
	}
	return nil
}

// checkChanged refuses a unit that changed an erased member other than
// the one it erases: a request that names no member but finds one (a
// coupon by its code, an adjustment by its ID). checked is a member the
// unit already found not erased (the request's own), not read again: a
// miss costs a lookup in every level of a store.
func (u *Unit) checkChanged(checked string) error {
	if m := u.out.Member; m != "" && m != u.erasing && m != checked {
		if err := checkErased(u.tx, m); err != nil {
			return err
		}
	}
	seen := u.out.Member
	for _, c := range u.out.Changes {
		if c.Member == "" || c.Member == seen || c.Member == u.erasing || c.Member == checked {
			continue
		}
		seen = c.Member
		if err := checkErased(u.tx, c.Member); err != nil {
			return err
		}
	}
	return nil
}

// Erased returns the time member was erased at, in the engine's zone
// (ok false if never).
func (e *Engine) Erased(ctx context.Context, member string) (at time.Time, ok bool, err error) {
	err = e.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(bErased, []byte(member))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(v) == 0 {
			return nil // known, not erased
		}
		if len(v) != 8 {
			return fmt.Errorf("%w: erasure record of %q", ErrCorrupt, member)
		}
		at, ok = keys.U64Time(keys.U64(v, 0)).In(e.loc), true
		return nil
	})
	return at, ok, err
}
