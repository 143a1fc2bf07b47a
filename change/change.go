// Package change describes what a program's calls changed: the [Outcome]
// of one event, operator request or due item, and the [Change]s it
// published to the change feed. Every domain package returns outcomes of
// this form and documents the payloads of the change kinds it publishes;
// the root package's Program.Feed reads the same changes back from a
// cursor.
package change

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// Outcome says what one event (or operator request, or due item) changed
// and why. An outcome a call returns is the caller's: the program keeps
// nothing of it (a retry's outcome is read back from the store), so
// editing it, its entries or its changes' Data and Reason changes nothing
// a retry or the change feed returns.
type Outcome struct {
	// Event is the event's ID or the operator request's RequestID.
	Event  string    `json:"event"`
	Member string    `json:"member,omitempty"`
	Time   time.Time `json:"time"`
	// Duplicate is set when the event or request had been applied before:
	// the outcome is the first one and nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
	// Entries are the ledger entries written; nil when none.
	Entries []ledger.Entry `json:"entries,omitempty"`
	// Changes are the changes published to the change feed, each with the
	// rule, inputs and caps that produced it; nil when none. A retry's
	// outcome equals the first field by field, Duplicate aside.
	Changes []Change `json:"changes,omitempty"`
}

// ChangesOf returns the outcome's changes of one kind.
func (o *Outcome) ChangesOf(kind string) []Change {
	var out []Change
	for _, c := range o.Changes {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// Change is one committed change, as published in the change feed.
type Change struct {
	// Seq is the change's position in the feed (1, 2, …). A change gets
	// it when the feed takes it in (Program.Feed, Program.Advance), after
	// its unit of work committed, so it is 0 in an outcome.
	Seq    uint64    `json:"seq"`
	Kind   string    `json:"kind"`
	Member string    `json:"member,omitempty"`
	Time   time.Time `json:"time"`
	// Event is the ID of the event (or operator request) that caused it;
	// empty for due work.
	Event string `json:"event,omitempty"`
	// Data is the kind's payload (decode with Decode); the domain package
	// that publishes a kind documents its payload type.
	Data json.RawMessage `json:"data,omitempty"`
	// Reason says why: the rule, the formula's inputs, a cap that cut.
	Reason *rule.Reason `json:"reason,omitempty"`
}

// Decode unmarshals the change's data into v. Data that is no JSON, or
// does not fit v (a change of another kind, damaged, or written by another
// version of the library), is an error wrapping store.ErrCorrupt; a v that
// is not a non-nil pointer, one wrapping event.ErrInvalidArgument. The
// domains' EffectsOf return these errors, wrapped.
func (c Change) Decode(v any) error {
	err := json.Unmarshal(c.Data, v)
	var iu *json.InvalidUnmarshalError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &iu):
		return fmt.Errorf("change: decode: %w: %w", event.ErrInvalidArgument, err)
	}
	return fmt.Errorf("change: decode data: %w: %w", store.ErrCorrupt, err)
}

// RuleSkipped is the kind of the change a part publishes for a rule that
// applies to an event but did not run because the event lacks an
// attribute the rule reads (an optional attribute left out, such as the
// base of a growth or points formula). The event's other rules, and the
// other parts, apply as usual. Its payload is a [Skip]; its Reason names
// the rule, its formula and, in Note, why.
const RuleSkipped = "rule.skipped"

// MemberErased is the kind of the change membership.Program.Erase
// publishes when it erases a member's personal data (no payload): the
// systems the feed reaches erase the member too, and package webhook drops
// the member's dead letters, which hold the member's earlier changes.
const MemberErased = "member.erased"

// Skip is the payload of a RuleSkipped change.
type Skip struct {
	// Part is the domain whose rule was skipped: "growth" or "points".
	Part string `json:"part"`
	// Rule is the rule's ID.
	Rule string `json:"rule"`
	// Attribute is the absent attribute.
	Attribute string `json:"attribute"`
}
