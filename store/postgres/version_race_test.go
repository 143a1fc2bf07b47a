package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// both runs f(0) and f(1) at once and returns their errors.
func both(f func(i int) error) [2]error {
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// versionDef is a ladder of Member and, when gold, Gold at 500, with
// growth from orders.
func versionDef(version uint64, gold bool, scale int32) membership.Definition {
	ladder := []level.Level{{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}}}
	if gold {
		ladder = append(ladder, level.Level{Name: "Gold", Upgrade: testkit.Dec("500"), Validity: rule.Validity{Kind: rule.Permanent}})
	}
	return membership.Definition{
		Version: version,
		Zone:    "Asia/Shanghai",
		Events:  []mevent.Type{{Name: "order", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		Levels: &level.Definition{Ladder: ladder, Rounding: rule.Rounding{Scale: scale},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}}},
	}
}

// Two instances open other definitions at once, round after round, each
// on a store of its own: of two of one version, one opens and the other
// gets ErrDefinitionConflict; of two versions, the newer is in force
// after both (the older opened first and was replaced, or was refused
// with ErrDefinitionSuperseded), and the instance on the older refuses to
// write.
func TestOpenOtherDefinitionsAtOnce(t *testing.T) {
	ctx := context.Background()
	programs, stores := openPrograms(t, 2, versionDef(1, true, 0))
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, programs[0].Location())
	order := func(p *membership.Program, id string) error {
		_, err := p.Process(ctx, mevent.Event{ID: id, Member: "ann", Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("1")}})
		return err
	}
	version := uint64(1)
	for round := range 10 {
		// One version, two contents (the growth scale 1 or 2).
		version++
		var ps [2]*membership.Program
		errs := both(func(i int) error {
			var err error
			ps[i], err = membership.Open(stores[i], versionDef(version, true, int32(i+1)))
			return err
		})
		won := -1
		for i, err := range errs {
			switch {
			case err == nil:
				won = i
			case !errors.Is(err, membership.ErrDefinitionConflict):
				t.Errorf("round %d: open %d of version %d: %v, want nil or ErrDefinitionConflict", round, i, version, err)
			}
		}
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: two definitions of version %d: %v; want one opened, one refused", round, version, errs)
		}
		if err := order(ps[won], fmt.Sprintf("o%d", round)); err != nil {
			t.Errorf("round %d: the instance that opened: %v", round, err)
		}

		// Two versions at once.
		older, newer := version+1, version+2
		version = newer
		errs = both(func(i int) error {
			var err error
			ps[i], err = membership.Open(stores[i], versionDef(older+uint64(i), true, 0))
			return err
		})
		if errs[1] != nil {
			t.Fatalf("round %d: open of version %d: %v", round, newer, errs[1])
		}
		if errs[0] != nil && !errors.Is(errs[0], membership.ErrDefinitionSuperseded) {
			t.Errorf("round %d: open of version %d beside %d: %v, want nil or ErrDefinitionSuperseded", round, older, newer, errs[0])
		}
		if errs[0] == nil {
			if err := order(ps[0], fmt.Sprintf("p%d", round)); !errors.Is(err, membership.ErrDefinitionSuperseded) {
				t.Errorf("round %d: a write on version %d once %d opened: %v", round, older, newer, err)
			}
		}
		if err := order(ps[1], fmt.Sprintf("q%d", round)); err != nil {
			t.Errorf("round %d: a write on version %d: %v", round, newer, err)
		}
	}
}

// An instance on version 1 moves a member up to Gold while another opens
// a version 2 without Gold, round after round: one of them goes through,
// never both (a member at a level the ladder lacks). The order's
// instance is refused with ErrDefinitionSuperseded or the open with
// ErrDefinitionInUse.
func TestOpenLeavingOutWhileAMemberReachesIt(t *testing.T) {
	ctx := context.Background()
	version := uint64(1)
	programs, stores := openPrograms(t, 2, versionDef(version, true, 0))
	p := programs[0]
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, p.Location())
	for round := range 10 {
		member := fmt.Sprintf("m%d", round)
		var without *membership.Program
		errs := both(func(i int) error {
			if i == 0 {
				_, err := p.Process(ctx, mevent.Event{ID: member, Member: member, Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("600")}})
				return err
			}
			var err error
			without, err = membership.Open(stores[1], versionDef(version+1, false, 0))
			return err
		})
		switch {
		case errs[0] == nil && errors.Is(errs[1], membership.ErrDefinitionInUse):
			// The order first: move the member down, under the version in force.
			if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "down-" + member, Member: member, Operator: "ops", Note: "Gold goes", At: at.Add(time.Hour), Level: "Member"}); err != nil {
				t.Fatal(err)
			}
		case errors.Is(errs[0], membership.ErrDefinitionSuperseded) && errs[1] == nil:
			s, err := without.Levels().Status(ctx, member)
			if err != nil {
				t.Fatal(err)
			}
			if s.Level != "" && s.Level != "Member" {
				t.Errorf("round %d: %s is at %q under version %d", round, member, s.Level, version+1)
			}
			version += 2 // Gold back, for the next round
			var err2 error
			if p, err2 = membership.Open(stores[0], versionDef(version, true, 0)); err2 != nil {
				t.Fatal(err2)
			}
		default:
			t.Fatalf("round %d: the order %v, the open %v; want one through and the other refused", round, errs[0], errs[1])
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}
