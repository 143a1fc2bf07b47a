package level

import (
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/store"
)

var _ engine.Eraser = (*part)(nil)

// Erase blanks the notes of the member's level history (the reasons an
// operator gave for a level set, free text that may hold personal data).
// The level, term, growth, plans and every history record's cause, levels,
// times, event and operator are kept.
func (p *part) Erase(u *engine.Unit, member string) error {
	pre := keys.New().Str(member)
	_, err := record.Rewrite(u.Tx(), bHistory, pre, store.PrefixEnd(pre), func(r *Record) bool {
		if r.Note == "" {
			return false
		}
		r.Note = ""
		return true
	})
	return err
}
