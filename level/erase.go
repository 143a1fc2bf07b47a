package level

import (
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/store"
)

var _ engine.Eraser = (*part)(nil)

// Erase blanks the notes of the member's level history (the reasons an
// operator gave for a level set, free text that may hold personal data),
// and drops the rewards of upgrade gifts owed to the member, each
// published as ChangeGiftDropped (those the definition no longer gives
// too): GrantOwed and the member's events are
// refused once the member is erased, so nothing could grant them. The
// level, term, growth, plans, the levels gifted and every history
// record's cause, levels, times, event and operator are kept.
func (p *part) Erase(u *engine.Unit, member string) error {
	if err := p.dropOwed(u, member); err != nil {
		return err
	}
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

// dropOwed drops what is owed to member, publishing each reward as
// ChangeGiftDropped, those the definition no longer gives (not listed in
// Status.Owed) included: a host keeping what is owed from ChangeOwed
// closes them all.
func (p *part) dropOwed(u *engine.Unit, member string) error {
	vm, _, err := p.view(u, member)
	if err != nil || len(vm.Owed) == 0 {
		return err
	}
	m := cloneMember(vm)
	m.Owed = nil
	if err := p.save(u, member, &m); err != nil {
		return err
	}
	return p.drop(u, member, vm.Owed, "owed gift dropped by the member's erasure")
}
