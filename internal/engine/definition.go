package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// Errors of the definition in force.
var (
	// ErrDefinitionSuperseded is returned when a Program's definition is
	// older than the one the store records: by Open, when it is older to
	// begin with, and by every write of a Program that another instance
	// has since opened with a newer one.
	ErrDefinitionSuperseded = errors.New("the store runs a newer definition")
	// ErrDefinitionConflict is returned by Open for a definition whose
	// version the store records with other content.
	ErrDefinitionConflict = errors.New("the store runs another definition of the same version")
	// ErrDefinitionInUse is returned by Install for a definition that
	// leaves out what the store holds state of (a level members hold, a
	// point program with ledger entries, a coupon template or pack
	// issued, a scale lowered below an amount a member holds): it wraps rule.ErrInvalidDefinition too, in a
	// *rule.Problems naming each.
	ErrDefinitionInUse = errors.New("the definition leaves out what the store holds state of")
	// ErrLayout is returned by Install for a store whose data another
	// version of the engine laid out.
	ErrLayout = errors.New("the store's data is laid out by another version of the library")
)

// layoutKey is the key, in bMeta, of the version of the layout of the
// store's data; layout is this engine's. Version 2 keeps members' changes
// pending before the feed, counters per member and totals in stripes
// (issue 14); version 1 (the key absent from a store with data) did not.
var layoutKey = []byte("layout")

const layout = 2

// checkLayout records the layout in a new store and refuses a store of
// another; recorded is true when the store had recorded it before.
func checkLayout(tx store.Tx) (recorded bool, err error) {
	v, err := tx.Get(bMeta, layoutKey)
	switch {
	case err == nil:
		if len(v) != 8 || binary.BigEndian.Uint64(v) != layout {
			return true, fmt.Errorf("%w: layout %x, this version reads %d", ErrLayout, v, layout)
		}
		return true, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	// No layout recorded: a new store, or one of layout 1, which always
	// has a definition record or an event.
	for _, b := range []string{bMeta, bEvents} {
		err := tx.Scan(b, nil, nil, false, func(k, _ []byte) error {
			return fmt.Errorf("%w: layout 1 (%s %q), this version reads %d", ErrLayout, b, k, layout)
		})
		if err != nil {
			return false, err
		}
	}
	return false, tx.Put(bMeta, layoutKey, binary.BigEndian.AppendUint64(nil, layout))
}

// defKey is the key, in bMeta, of the definition in force: its version (8
// bytes) and the SHA-256 of its JSON (32 bytes).
var defKey = []byte("definition")

// definition is what the engine knows of the definition it runs.
type definition struct {
	record [8 + sha256.Size]byte
	set    bool
}

// InUse checks, in the transaction of Install, a definition about to
// replace the one the store runs against the state the store holds: it
// returns the problems of what the definition leaves out that members or
// the ledger still hold, each with its path (a *rule.Problems), or nil.
// Each domain adds one, with or without a definition of its own (a
// definition that drops the whole domain leaves out all of it).
type InUse func(tx store.Tx) error

// CheckInUse adds a check that Install runs before it replaces the
// definition the store runs.
func (e *Engine) CheckInUse(c InUse) { e.inUse = append(e.inUse, c) }

// Installed is run by Install in its transaction once the definition is
// accepted, whether or not it changes the one the store runs: replaced is
// true when it replaces another definition, false when the store ran this
// very one, or none (a new store). A domain records there what it must
// know of the definition its records were written under.
type Installed func(tx store.Tx, replaced bool) error

// OnInstall adds a function Install runs (see Installed).
func (e *Engine) OnInstall(f Installed) { e.installed = append(e.installed, f) }

// runInstalled runs the Installed functions.
func (e *Engine) runInstalled(tx store.Tx, replaced bool) error {
	for _, f := range e.installed {
		if err := f(tx, replaced); err != nil {
			return err
		}
	}
	return nil
}

// Install makes the definition of the given version and JSON the one in
// force in the store, and the engine's: a newer version replaces the
// recorded one, the same one is kept; an older version is
// ErrDefinitionSuperseded, and the same version with other content
// ErrDefinitionConflict, except version 0 (unversioned), where the last
// opened wins. A definition that replaces another must pass every InUse
// check (else ErrDefinitionInUse, and nothing changes). Once the
// definition is accepted, the Installed functions run in the same
// transaction. From then on every unit of work checks that the store still
// records this definition, and fails with ErrDefinitionSuperseded once
// another instance has installed a newer one.
func (e *Engine) Install(ctx context.Context, version uint64, def []byte) error {
	var d definition
	binary.BigEndian.PutUint64(d.record[:8], version)
	sum := sha256.Sum256(def)
	copy(d.record[8:], sum[:])
	d.set = true
	if c, ok := e.st.(store.Colocator); ok {
		if err := c.Colocate(e.memberBuckets()...); err != nil {
			return err
		}
	}
	if p, ok := e.st.(store.Packer); ok {
		// The records every event of a member reads: its erasure mark,
		// its balances and its transaction counter.
		if err := p.Pack(append([]string{bErased}, ledger.PackBuckets()...)...); err != nil {
			return err
		}
	}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		used, err := checkLayout(tx)
		if err != nil {
			return err
		}
		// Every event reads the retention horizon: a key that is there
		// (the zero time until the first pass) is a cheaper read than
		// one that is not (store/bolt checks the records around a miss).
		if _, err := tx.Get(bMeta, horizonKey); errors.Is(err, store.ErrNotFound) {
			if err := tx.Put(bMeta, horizonKey, keys.New().Time(time.Time{})); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		v, err := tx.Get(bMeta, defKey)
		switch {
		case errors.Is(err, store.ErrNotFound) && used:
			// The first Install records both at once: a store with a
			// layout and no definition lost it, and the definition it
			// ran is not known to check this one against.
			return fmt.Errorf("%w: definition record missing", ErrCorrupt)
		case errors.Is(err, store.ErrNotFound):
			if err := e.runInstalled(tx, false); err != nil {
				return err
			}
			return tx.Put(bMeta, defKey, d.record[:])
		case err != nil:
			return err
		case len(v) != len(d.record):
			return fmt.Errorf("%w: definition record", ErrCorrupt)
		}
		in := binary.BigEndian.Uint64(v[:8])
		switch {
		case bytes.Equal(v, d.record[:]):
			return e.runInstalled(tx, false)
		case version < in:
			return fmt.Errorf("%w: version %d, the store runs %d", ErrDefinitionSuperseded, version, in)
		case version == in && version != 0:
			return fmt.Errorf("%w: version %d", ErrDefinitionConflict, version)
		}
		// Checked in this transaction: an instance still on the old
		// definition cannot add state the check did not see.
		var ps rule.Problems
		for _, c := range e.inUse {
			ps.Add("", c(tx))
		}
		if err := ps.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrDefinitionInUse, err)
		}
		if err := e.runInstalled(tx, true); err != nil {
			return err
		}
		return tx.Put(bMeta, defKey, d.record[:])
	})
	if err != nil {
		return err
	}
	e.def = d
	return nil
}

// memberBuckets lists the buckets keyed by member first: the engine's,
// the ledger's and those of the MemberKeyed parts. bPending is not among
// them: the sequencer scans it whole, and a whole scan of a colocated
// bucket walks every colocated record.
func (e *Engine) memberBuckets() []string {
	names := append([]string{bErased, bAuditMember}, ledger.MemberBuckets()...)
	for _, p := range e.parts {
		if m, ok := p.(MemberKeyed); ok {
			names = append(names, m.MemberBuckets()...)
		}
	}
	return names
}

// checkDefinition fails with ErrDefinitionSuperseded when the store no
// longer records the engine's definition, and with ErrCorrupt when its
// record is gone or not one Install writes. It is one read of a key that
// changes only when a definition is installed, so instances do not
// conflict on it.
func (e *Engine) checkDefinition(tx store.Tx) error {
	if !e.def.set {
		return nil
	}
	v, err := tx.Get(bMeta, defKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Install never deletes it: damage, not a newer definition.
		return fmt.Errorf("%w: definition record missing", ErrCorrupt)
	case err != nil:
		return err
	case len(v) != len(e.def.record):
		return fmt.Errorf("%w: definition record", ErrCorrupt)
	}
	if !bytes.Equal(v, e.def.record[:]) {
		return fmt.Errorf("%w: this program's definition (version %d) was replaced", ErrDefinitionSuperseded, binary.BigEndian.Uint64(e.def.record[:8]))
	}
	return nil
}
