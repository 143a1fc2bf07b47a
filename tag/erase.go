package tag

import (
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/store"
)

var (
	_ engine.Eraser = (*part)(nil)
	_ engine.Eraser = eraser{}
)

// Erase removes the member's profile attributes and blanks the notes of
// the member's manual tags (free text that may hold personal data). The
// tags themselves, who gave them and when, and the order statistics
// (counts and amounts the tag rules read) are kept; the rules, evaluated
// after the erasure as after any change (the part is a Follower), take a
// rule's tag that a removed attribute gave (TestTagIndexInStepOnEveryPath).
func (p *part) Erase(u *engine.Unit, member string) error { return erase(u, member) }

// eraser erases what a version before wrote of a member under a
// definition that leaves the domain out (New with a nil definition).
type eraser struct{}

func (eraser) Erase(u *engine.Unit, member string) error { return erase(u, member) }

// erase is Erase.
func erase(u *engine.Unit, member string) error {
	if err := u.Tx().Delete(bAttrs, []byte(member)); err != nil {
		return err
	}
	pre := pair(member, "")
	_, err := record.Rewrite(u.Tx(), bAssigned, pre, store.PrefixEnd(pre), func(a *Assigned) bool {
		if a.Note == "" {
			return false
		}
		a.Note = ""
		return true
	})
	return err
}
