package benefit

import (
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/store"
)

var (
	_ engine.Eraser = (*part)(nil)
	_ engine.Eraser = eraser{}
)

// Erase blanks the notes of the member's achievements (an operator's
// reason for a grant, free text that may hold personal data); the grants
// themselves are kept.
func (p *part) Erase(u *engine.Unit, member string) error { return erase(u, member) }

// eraser erases what a version before wrote of a member under a
// definition that leaves the domain out (New with a nil definition).
type eraser struct{}

func (eraser) Erase(u *engine.Unit, member string) error { return erase(u, member) }

// erase is Erase.
func erase(u *engine.Unit, member string) error {
	pre := []byte(member + "\x00")
	_, err := record.Rewrite(u.Tx(), bAchievements, pre, store.PrefixEnd(pre), func(g *Grant) bool {
		if g.Note == "" {
			return false
		}
		g.Note = ""
		return true
	})
	return err
}
