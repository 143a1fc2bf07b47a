package coupon

import (
	"errors"
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

var (
	_ engine.Opener   = (*part)(nil)
	_ engine.Recorder = (*part)(nil)
)

// CheckOpen checks a member's opening coupons without the store: each
// template is the definition's, an expiry is after the row's time and
// within the supported range (event.CheckTime), and an old code is an ID
// (event.CheckID) that no other coupon of the row has.
func (c *part) CheckOpen(m *migrate.Member) error {
	for i, mc := range m.Coupons {
		f := fmt.Sprintf("coupons[%d]", i)
		if _, ok := c.def.Template(mc.Template); !ok {
			return migrate.Field(f+".template", fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrUnknownTemplate, mc.Template))
		}
		if !mc.Expires.IsZero() {
			if !mc.Expires.After(m.At) {
				return migrate.Field(f+".expires", fmt.Errorf("%w: %s is not after the row's time", event.ErrInvalidArgument, mc.Expires))
			}
			if err := event.CheckTime(mc.Expires); err != nil {
				return migrate.Field(f+".expires", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
			}
		}
		if mc.Code == "" {
			continue
		}
		if err := event.CheckID(mc.Code); err != nil {
			return migrate.Field(f+".code", fmt.Errorf("%w: %w", event.ErrInvalidArgument, err))
		}
		for j := range i {
			if m.Coupons[j].Code == mc.Code {
				return migrate.Field(f+".code", fmt.Errorf("%w: code %q is coupons[%d]'s too", event.ErrInvalidArgument, mc.Code, j))
			}
		}
	}
	return nil
}

// Open gives a member the coupons held in the system migrated from (the
// row passed CheckOpen), each available, of method Migrated (published as
// ChangeIssued), with a new code, and the expiry given (or as the
// template's validity says from the row's time). An old code is kept as
// the coupon's Legacy, and ByCode finds the coupon by it; one another
// coupon already has (as its old code, or as its code: ByCode would find
// that coupon) is refused. Stock and per-member limits do not
// apply: the coupons were issued before. The engine refuses a member who
// holds (or held) a coupon already (MemberRecords) before Open runs.
func (c *part) Open(u *engine.Unit, m *migrate.Member) error {
	if len(m.Coupons) == 0 {
		return nil
	}
	b := c.book(u)
	for i, mc := range m.Coupons {
		f := fmt.Sprintf("coupons[%d]", i)
		t, _ := c.def.Template(mc.Template) // CheckOpen found it
		if mc.Code != "" {
			if _, err := u.Tx().Get(bLegacy, []byte(mc.Code)); err == nil {
				return migrate.Field(f+".code", fmt.Errorf("%w: code %q is another coupon's", event.ErrInvalidArgument, mc.Code))
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			// A code of this library's form that a coupon of the program
			// has: ByCode finds that coupon first.
			if canon, err := ParseCode(mc.Code); err == nil {
				if _, err := u.Tx().Get(bCodes, []byte(canon)); err == nil {
					return migrate.Field(f+".code", fmt.Errorf("%w: code %q is the code of a coupon of the program", event.ErrInvalidArgument, mc.Code))
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		cp, err := b.create(t, m.Member, Migrated, "", u.At(), u.Rand(), u)
		if err != nil {
			return err
		}
		if !mc.Expires.IsZero() || mc.Code != "" {
			if !mc.Expires.IsZero() {
				cp.Expires = mc.Expires
			}
			cp.Legacy = mc.Code
			if err := b.save(cp); err != nil {
				return err
			}
		}
		if mc.Code != "" {
			if err := u.Tx().Put(bLegacy, []byte(mc.Code), []byte(cp.ID)); err != nil {
				return err
			}
		}
		if err := c.issued(u, cp, &rule.Reason{Rule: migrate.Rule, Inputs: map[string]string{"method": string(Migrated)}}); err != nil {
			return err
		}
	}
	return nil
}
