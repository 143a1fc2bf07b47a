package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// TestOpenKnownByEachPart opens, for each part that keeps records of
// members, a member the program knows only through that part, in a
// program of stored value and that part alone (no tags, whose part would
// record the member too), on every store (PostgreSQL too when
// MEMBERSHIP_PG_DSN is set: the records are read in one round trip). Each
// is known (ErrKnownMember, naming where it was found) and nothing
// changes: no change in the feed, no opening balance. A member known only
// by a task's progress or an achievement used to be opened.
func TestOpenKnownByEachPart(t *testing.T) {
	const base = `"zone": "Asia/Shanghai",
  "events": [{"name": "visit"},
             {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
             {"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
             {"name": "pay", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "stored_value": {"recharge": "recharge", "spend": "pay", "amount": "amount"}`
	const achievements = `"benefits": {"achievements": [{"name": "regular"}]}`
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, testkit.Shanghai) // the opening's time
	before := at.Add(-24 * time.Hour)
	process := func(p *membership.Program, id, typ, amount string) error {
		ev := event.Event{ID: id, Member: "m", Type: typ, Time: before}
		if amount != "" {
			ev.Attrs = event.Attrs{"amount": event.DecString(amount)}
		}
		_, err := p.Process(context.Background(), ev)
		return err
	}
	for _, tc := range []struct {
		part, def, where string
		balance          string // the stored value the member holds
		know             func(p *membership.Program) error
	}{
		{"value", "", "ledger accounts", "5", func(p *membership.Program) error { return process(p, "r1", "recharge", "5") }},
		{"level", `"levels": {"ladder": [{"name": "bronze", "upgrade": "0", "validity": {"kind": "permanent"}}],
		   "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]}`,
			"level.member", "0", func(p *membership.Program) error { return process(p, "v1", "visit", "") }},
		{"points", `"points": {"programs": [{"name": "mall"}], "rules": [{"id": "buy", "program": "mall", "event": "order",
		   "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]}`,
			"ledger accounts", "0", func(p *membership.Program) error { return process(p, "o1", "order", "10") }},
		{"coupon", `"coupons": {"templates": [{"name": "welcome", "type": "cash", "amount": "5",
		   "use": {"validity": {"kind": "days_after", "n": 30}}}]}`,
			"coupon.members", "0", func(p *membership.Program) error {
				_, err := p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: "c1", Member: "m", At: before, Template: "welcome"})
				return err
			}},
		{"benefit", achievements, "benefit.achievements", "0", func(p *membership.Program) error {
			_, err := p.Benefits().GrantAchievement(context.Background(), benefit.GrantRequest{RequestID: "g1", Member: "m", Operator: "op", At: before, Achievement: "regular"})
			return err
		}},
		{"task", achievements + `, "tasks": {"tasks": [{"name": "two-visits", "kind": "repeat", "steps": [{"event": "visit"}], "times": 2,
		   "rewards": [{"kind": "achievement", "achievement": "regular"}]}]}`,
			"task.progress", "0", func(p *membership.Program) error { return process(p, "v1", "visit", "") }},
		{"tag", `"tags": {"attributes": [{"name": "city", "type": "string"}]}`, "tag.members", "0", func(p *membership.Program) error {
			_, err := p.Tags().SetProfile(context.Background(), tag.ProfileRequest{RequestID: "p1", Member: "m", At: before,
				Attributes: map[string]event.Value{"city": event.Str("Paris")}})
			return err
		}},
	} {
		raw := "{" + base
		if tc.def != "" {
			raw += ",\n" + tc.def
		}
		def, err := membership.ParseDefinition([]byte(raw + "}"))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(tc.part, func(t *testing.T) {
			onEveryStoreWith(t, def, nil, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				if err := tc.know(p); err != nil {
					t.Fatal(err)
				}
				feed, err := p.Feed(ctx, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.OpenMember(ctx, migrate.Member{RequestID: "open-m", Member: "m", Operator: "op", At: at,
					Value: &migrate.Value{Balance: decimal.RequireFromString("10")}})
				if !errors.Is(err, membership.ErrKnownMember) || !strings.Contains(err.Error(), tc.where) {
					t.Errorf("opening: %v; want ErrKnownMember naming %s", err, tc.where)
				}
				if after, err := p.Feed(ctx, 0, 1000); err != nil || len(after) != len(feed) {
					t.Errorf("feed after the opening: %d changes, %v; want the %d before", len(after), err, len(feed))
				}
				if a, err := p.Value().Account(ctx, "m"); err != nil || !a.Balance.Equal(decimal.RequireFromString(tc.balance)) {
					t.Errorf("stored value %s, %v; want %s", a.Balance, err, tc.balance)
				}
				// A member the program does not know is opened.
				if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "open-n", Member: "n", Operator: "op", At: at,
					Value: &migrate.Value{Balance: decimal.RequireFromString("10")}}); err != nil {
					t.Errorf("a new member: %v", err)
				}
				if err := p.Verify(ctx); err != nil {
					t.Error(err)
				}
			})
		})
	}
}
