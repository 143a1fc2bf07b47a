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
	type blanked struct {
		k []byte
		r Record
	}
	var recs []blanked
	tx := u.Tx()
	err := tx.Scan(bHistory, pre, store.PrefixEnd(pre), false, func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return record.Corrupt(bHistory, k, err)
		}
		if r.Note != "" {
			r.Note = ""
			recs = append(recs, blanked{k: append([]byte(nil), k...), r: r})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Written once the scan has ended, as a store's Scan requires.
	for _, b := range recs {
		if err := tx.Put(bHistory, b.k, appendRecord(nil, &b.r)); err != nil {
			return err
		}
	}
	return nil
}
