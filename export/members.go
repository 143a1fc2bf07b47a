package export

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
)

// MemberReader reads one member's state and the program's definition;
// *membership.Program satisfies it.
type MemberReader interface {
	Member(ctx context.Context, id string, at time.Time) (membership.Member, error)
	Definition() membership.Definition
}

// MembersHeader returns the header row of Members' CSV for a definition:
// member, level, since, term_end, growth, lifetime_growth; for each point
// program in the definition's order points.<name>.available, .pending and
// .frozen; value_balance, value_recharged, value_spent, value_refunded,
// value_withdrawn; coupons_available, coupons_locked (the coupons held); and tags, the
// member's tag names separated by "|".
func MembersHeader(def membership.Definition) []string {
	h := []string{"member", "level", "since", "term_end", "growth", "lifetime_growth"}
	for _, p := range pointPrograms(def) {
		h = append(h, "points."+p+".available", "points."+p+".pending", "points."+p+".frozen")
	}
	return append(h, "value_balance", "value_recharged", "value_spent", "value_refunded",
		"value_withdrawn", "coupons_available", "coupons_locked", "tags")
}

func pointPrograms(def membership.Definition) []string {
	if def.Points == nil {
		return nil
	}
	names := make([]string, len(def.Points.Programs))
	for i, p := range def.Points.Programs {
		names[i] = p.Name
	}
	return names
}

// Members writes the state at time at of each member ids yields to w as
// CSV, one row per member (MembersHeader). The library keeps no list of
// members: the host gives the IDs, from its own records or a segment's
// pages (tag.Handle.Segment). A domain the definition leaves out has zero
// cells. It returns the rows written; an error wrapping ErrInvalidArgument
// for a nil reader, writer or ids; and the errors of the reader (naming
// the member), of w and of ctx.
func Members(ctx context.Context, w io.Writer, src MemberReader, ids iter.Seq[string], at time.Time, progress Progress) (int64, error) {
	if err := nilArg(w == nil, src == nil, ids == nil); err != nil {
		return 0, fmt.Errorf("export: members: %w", err)
	}
	programs := pointPrograms(src.Definition())
	rw := newRowWriter(w, progress)
	err := rw.header(MembersHeader(src.Definition()))
	if err == nil {
		for id := range ids {
			if err = ctx.Err(); err != nil {
				break
			}
			var m membership.Member
			if m, err = src.Member(ctx, id, at); err != nil {
				err = fmt.Errorf("member %q: %w", id, err)
				break
			}
			if err = rw.row(memberRow(m, programs), position{}); err != nil {
				break
			}
		}
	}
	if err = rw.flush(err); err != nil {
		return rw.rows(), fmt.Errorf("export: members: %w", err)
	}
	return rw.rows(), nil
}

// memberRow is a member's row.
func memberRow(m membership.Member, programs []string) []string {
	lv := m.Level
	row := []string{text(m.ID), text(lv.Level), instant(lv.Since), instant(lv.TermEnd),
		amount(lv.Growth), amount(lv.Lifetime)}
	for _, p := range programs {
		b := m.Points[p]
		row = append(row, amount(b.Available), amount(b.Pending), amount(b.Frozen))
	}
	tags := make([]string, len(m.Profile.Tags))
	for i, t := range m.Profile.Tags {
		tags[i] = t.Tag
	}
	return append(row, amount(m.Value.Balance), amount(m.Value.Recharged), amount(m.Value.Spent),
		amount(m.Value.Refunded), amount(m.Value.Withdrawn), strconv.Itoa(m.Coupons[coupon.Available]), strconv.Itoa(m.Coupons[coupon.Locked]),
		text(strings.Join(tags, "|")))
}
