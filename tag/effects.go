package tag

import (
	"fmt"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"
)

// Change kinds the tag domain publishes.
const (
	// ChangeAdded is published when a member gets a tag (data: Change).
	ChangeAdded = "tag.added"
	// ChangeRemoved is published when a member loses a tag (data: Change).
	ChangeRemoved = "tag.removed"
)

// Change is the data of the tag.* changes.
type Change struct {
	Tag string `json:"tag"`
	// Manual is set for an operator's change; By is then the operator. A
	// rule's change has By "rule", as has Recompute's removal of a tag
	// the definition no longer declares.
	Manual bool   `json:"manual,omitempty"`
	By     string `json:"by"`
	Note   string `json:"note,omitempty"`
}

// AppendJSON appends c's JSON to b, as json.Marshal writes it (it
// implements engine.JSONAppender).
func (c Change) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("tag", c.Tag, false)
	o.Bool("manual", c.Manual, true)
	o.Str("by", c.By, false)
	o.Str("note", c.Note, true)
	return append(o.B, '}'), true
}

// Effect is one tag a member got or lost.
type Effect struct {
	Member string `json:"member"`
	Change
}

// Effects is what an outcome did to members' tags, in the order of its
// changes.
type Effects struct {
	Added   []Effect `json:"added,omitempty"`
	Removed []Effect `json:"removed,omitempty"`
}

// EffectsOf reads the tags an outcome (of an event, a request of any
// domain, a recompute) gave and took, so that a host does not decode the
// feed's tag changes itself. A nil outcome has no effects. The error
// of a change whose data does not decode wraps store.ErrCorrupt and the
// JSON error (change.Change.Decode's).
func EffectsOf(out *change.Outcome) (Effects, error) {
	var fx Effects
	if out == nil {
		return fx, nil
	}
	for _, c := range out.Changes {
		var list *[]Effect
		switch c.Kind {
		case ChangeAdded:
			list = &fx.Added
		case ChangeRemoved:
			list = &fx.Removed
		default:
			continue
		}
		e := Effect{Member: c.Member}
		if err := c.Decode(&e.Change); err != nil {
			return Effects{}, fmt.Errorf("tag: effects of %q: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
		}
		*list = append(*list, e)
	}
	return fx, nil
}
