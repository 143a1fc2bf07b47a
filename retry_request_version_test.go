package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/tag"
)

// retryDefs returns the retail program in two versions for the operator
// requests' retries: full has the level Diamond, the manual tag "staff",
// the profile attribute "city", the achievement "helper", a money scale
// of 2 for coupons, two winback-30 coupons a member and adjustments
// approved above 100; reduced (the version after full) drops Diamond,
// staff, city and helper, and lowers the scale to 1, the coupons to one
// a member and the approval threshold to 10.
func retryDefs(t *testing.T) (full, reduced membership.Definition) {
	t.Helper()
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(version uint64, edit func(m map[string]any)) membership.Definition {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = version
		m["tags"].(map[string]any)["attributes"] = []any{map[string]any{"name": "city", "type": "string"}}
		m["benefits"].(map[string]any)["achievements"] = []any{map[string]any{"name": "helper"}}
		m["coupons"].(map[string]any)["money_scale"] = 2
		m["points"].(map[string]any)["programs"].([]any)[0].(map[string]any)["approval_above"] = "100"
		if edit != nil {
			edit(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		def, err := membership.ParseDefinition(b)
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	drop := func(list []any, key, name string) []any {
		var out []any
		for _, x := range list {
			if x.(map[string]any)[key] != name {
				out = append(out, x)
			}
		}
		return out
	}
	full = parse(1, nil)
	reduced = parse(2, func(m map[string]any) {
		lv := m["levels"].(map[string]any)
		lv["ladder"] = drop(lv["ladder"].([]any), "name", "Diamond")
		pts := m["points"].(map[string]any)
		pts["rules"] = drop(pts["rules"].([]any), "id", "spend-diamond")
		pts["programs"].([]any)[0].(map[string]any)["approval_above"] = "10"
		ben := m["benefits"].(map[string]any)
		ben["benefits"] = drop(ben["benefits"].([]any), "name", "birthday-cake")
		for _, b := range ben["benefits"].([]any) {
			if b.(map[string]any)["name"] == "free-delivery" {
				b.(map[string]any)["levels"] = []any{"Platinum"}
			}
		}
		delete(ben, "achievements")
		tg := m["tags"].(map[string]any)
		delete(tg, "manual")
		delete(tg, "attributes")
		cp := m["coupons"].(map[string]any)
		cp["money_scale"] = 1
		for _, tpl := range cp["templates"].([]any) {
			if tpl.(map[string]any)["name"] == "winback-30" {
				tpl.(map[string]any)["claim"].(map[string]any)["per_member"] = 1
			}
		}
	})
	return full, reduced
}

// retryStores returns the stores of the retry tests by name: memory,
// PostgreSQL when MEMBERSHIP_PG_DSN is set, and bolt, whose function
// opens the same file each time it is called (after a Close), as a
// program restarting on a new version does.
func retryStores(t *testing.T) map[string]func() store.Store {
	stores := scaleStores(t)
	path := filepath.Join(t.TempDir(), "m.db")
	stores["bolt"] = func() store.Store {
		st, err := bolt.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	return stores
}

// restart opens st's program again on def: on bolt the file is closed and
// opened again first.
func restart(t *testing.T, name string, st *store.Store, newStore func() store.Store, def membership.Definition) *membership.Program {
	t.Helper()
	if name == "bolt" {
		if err := (*st).Close(); err != nil {
			t.Fatal(err)
		}
		*st = newStore()
	}
	p, err := membership.Open(*st, def)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// retryRequests are the operator requests of the retry tests, each with
// what the reduced version refuses it with (nil: it is checked inside
// the unit of work, after its record, and was answered before).
type retryRequest struct {
	name    string
	refused error
	call    func(p *membership.Program) (*change.Outcome, error)
}

func retryRequests(t *testing.T, ctx context.Context) []retryRequest {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var coupons []string // m4's winback coupons, from the first claim on
	claim := func(id string) func(p *membership.Program) (*change.Outcome, error) {
		return func(p *membership.Program) (*change.Outcome, error) {
			r, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: "m4", Operator: "ann", At: at(1),
				Template: "winback-30", Method: coupon.Operator})
			if err == nil && coupons == nil {
				coupons = append(coupons, r.Coupons[0].ID)
			}
			return r.Outcome, err
		}
	}
	return []retryRequest{
		{"level set", level.ErrUnknownLevel, func(p *membership.Program) (*change.Outcome, error) {
			return p.Levels().Set(ctx, level.SetRequest{RequestID: "L1", Member: "m1", Operator: "ann", Note: "vip", At: at(1), Level: "Diamond"})
		}},
		{"tag add", tag.ErrUnknownTag, func(p *membership.Program) (*change.Outcome, error) {
			return p.Tags().Add(ctx, tag.ManualRequest{RequestID: "T1", Member: "m2", Operator: "ann", At: at(1), Tag: "staff"})
		}},
		{"profile", tag.ErrUnknownAttribute, func(p *membership.Program) (*change.Outcome, error) {
			return p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "P1", Member: "m2", At: at(2),
				Attributes: map[string]event.Value{"city": event.Str("sh")}})
		}},
		{"achievement", benefit.ErrUnknownAchievement, func(p *membership.Program) (*change.Outcome, error) {
			return p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "A1", Member: "m3", Operator: "ann", At: at(1), Achievement: "helper"})
		}},
		{"first claim", nil, claim("C1")},
		{"second claim", coupon.ErrLimitReached, claim("C2")},
		{"lock", coupon.ErrInvalidOrder, func(p *membership.Program) (*change.Outcome, error) {
			r, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "K1", Coupons: coupons,
				Order: coupon.Order{ID: "o1", Member: "m4", Time: at(2), Lines: []coupon.Line{{Product: "tea", Amount: dec("200.05")}}}})
			return r.Outcome, err
		}},
		{"adjust", nil, func(p *membership.Program) (*change.Outcome, error) {
			r, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "J1", Member: "m5", Operator: "ann", Note: "goodwill", At: at(1),
				Program: "mall", Amount: dec("50")})
			return r.Outcome, err
		}},
		{"open", tag.ErrUnknownAttribute, func(p *membership.Program) (*change.Outcome, error) {
			return p.OpenMember(ctx, migrate.Member{RequestID: "O1", Member: "m6", Operator: "ann", At: at(1),
				Tags: []string{"staff"}, Profile: map[string]string{"city": "sh"}})
		}},
		{"erase", nil, func(p *membership.Program) (*change.Outcome, error) {
			return p.Erase(ctx, membership.EraseRequest{RequestID: "E1", Member: "m7", Operator: "ann", At: at(1)})
		}},
	}
}

// The retry of an operator request returns its first outcome, Duplicate
// set, after the program restarts on a version that would refuse the
// request, as the retry of an event does (TestRetryAfterAVersionRefusesIt):
// the level, tag, profile attribute and achievement the requests name
// are dropped, the coupons' money scale (an order line of 200.05) and
// claim limit (m4's second coupon) lowered, the threshold above which an
// adjustment waits for approval lowered below m5's 50. Before, the
// requests whose handle checks the definition before the unit of work
// (level set, tag add, profile, achievement, lock, opening) were refused
// with the domain's error, which a host reads as never applied; those
// checked inside it (the claim, the adjustment, the erasure) were answered.
// A new request, and other content under a request's ID, are refused as
// before, and nothing is written. On bolt the file is closed and opened
// again.
func TestRequestRetryAfterAVersionRefusesIt(t *testing.T) {
	ctx := context.Background()
	full, reduced := retryDefs(t)
	for name, newStore := range retryStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			t.Cleanup(func() { st.Close() })
			p, err := membership.Open(st, full)
			if err != nil {
				t.Fatal(err)
			}
			reqs := retryRequests(t, ctx)
			firsts := make([]*change.Outcome, len(reqs))
			for i, r := range reqs {
				if firsts[i], err = r.call(p); err != nil {
					t.Fatalf("%s under version 1: %v", r.name, err)
				}
			}
			// Diamond is held by no one once m1 is set back to Silver, so
			// version 2 may drop it.
			if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "L2", Member: "m1", Operator: "ann", Note: "back", At: t0.Add(time.Hour), Level: "Silver"}); err != nil {
				t.Fatal(err)
			}
			p = restart(t, name, &st, newStore, reduced)
			before := testkit.Dump(t, st, everyBucket...)
			for i, r := range reqs {
				again, err := r.call(p)
				if err != nil || again == nil || !again.Duplicate {
					t.Errorf("retry of %s under version 2: %v, %v; want its first outcome", r.name, again, err)
					continue
				}
				again.Duplicate = false
				if diff := cmp.Diff(firsts[i], again); diff != "" {
					t.Errorf("retry of %s: outcome (-first +again):\n%s", r.name, diff)
				}
			}
			// A batch of openings answers the retried row and refuses the new one.
			row := func(id, member string) migrate.Member {
				return migrate.Member{RequestID: id, Member: member, Operator: "ann", At: t0.Add(time.Minute),
					Tags: []string{"staff"}, Profile: map[string]string{"city": "sh"}}
			}
			outs, errs, err := p.OpenMembers(ctx, []migrate.Member{row("O1", "m6"), row("O2", "m8")}, false)
			if err != nil || outs[0] == nil || !outs[0].Duplicate || errs[0] != nil || !errors.Is(errs[1], tag.ErrUnknownAttribute) {
				t.Errorf("openings O1 (retry) and O2 (new) under version 2: %v, %v, %v; want O1's first outcome and O2 refused", outs, errs, err)
			}
			// A new request, or other content under a request's ID, is
			// refused as before.
			at := t0.Add(time.Minute)
			for _, set := range []level.SetRequest{
				{RequestID: "L3", Member: "m1", Operator: "ann", Note: "vip", At: at, Level: "Diamond"},
				{RequestID: "L1", Member: "m1", Operator: "ann", Note: "other", At: at, Level: "Diamond"},
			} {
				if _, err := p.Levels().Set(ctx, set); !errors.Is(err, level.ErrUnknownLevel) {
					t.Errorf("set %s to Diamond under version 2: %v; want ErrUnknownLevel", set.RequestID, err)
				}
			}
			if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "T1", Member: "m2", Operator: "bob", At: at, Tag: "staff"}); !errors.Is(err, tag.ErrUnknownTag) {
				t.Errorf("T1 with another operator under version 2: %v; want ErrUnknownTag", err)
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
				t.Errorf("the retries wrote (-before +after):\n%s", diff)
			}
		})
	}
}

// A request refused under one version is not recorded: retried under a
// version that allows it, it is applied, not answered with its refusal.
// Under reduced (version 1) the level set, tag, profile, achievement and
// opening name what it lacks, the second claim is over its limit of one
// and the lock's order line finer than its scale; under full (version 2)
// each is applied, Duplicate unset, and its retry then returns that
// outcome. Passes as it is: the two refusals in the unit of work write
// their audit entry, never a request record.
func TestRequestRefusedThenAllowedByANewVersion(t *testing.T) {
	ctx := context.Background()
	full, reduced := retryDefs(t)
	reduced.Version, full.Version = 1, 2
	for name, newStore := range retryStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			t.Cleanup(func() { st.Close() })
			p, err := membership.Open(st, reduced)
			if err != nil {
				t.Fatal(err)
			}
			reqs := retryRequests(t, ctx)
			for _, r := range reqs {
				_, err := r.call(p)
				if r.refused == nil && err != nil || r.refused != nil && !errors.Is(err, r.refused) {
					t.Fatalf("%s under version 1: %v; want %v", r.name, err, r.refused)
				}
			}
			p = restart(t, name, &st, newStore, full)
			for _, r := range reqs {
				out, err := r.call(p)
				switch {
				case r.refused == nil:
					if err != nil || !out.Duplicate {
						t.Errorf("%s, applied under version 1, again under version 2: %v, %v; want its first outcome", r.name, out, err)
					}
					continue
				case err != nil || out.Duplicate:
					t.Errorf("%s, refused under version 1, under version 2: %v, %v; want it applied", r.name, out, err)
					continue
				}
				again, err := r.call(p)
				if err != nil || !again.Duplicate {
					t.Errorf("retry of %s under version 2: %v, %v; want its first outcome", r.name, again, err)
				}
			}
			if s, err := p.Levels().Status(ctx, "m1"); err != nil || s.Level != "Diamond" {
				t.Errorf("m1's level: %q, %v; want Diamond", s.Level, err)
			}
			if cs, err := p.Coupons().Live(ctx, "m4"); err != nil || len(cs) != 2 {
				t.Errorf("m4's live coupons: %d, %v; want 2", len(cs), err)
			}
		})
	}
}
