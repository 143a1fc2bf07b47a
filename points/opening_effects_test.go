package points_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
)

// TestEffectsOfOpening checks that the points a member migrated in brings
// (Program.OpenMember) are not read as earned: 500 spendable (published
// as points.opened) and 40 pending (published as points.pending) were
// credited by no earning rule and no reward.
func TestEffectsOfOpening(t *testing.T) {
	p := testkit.OpenMemory(t, ptsDef(nil))
	at := ptsAt("2026-03-10 10:00")
	out, err := p.OpenMember(context.Background(), migrate.Member{RequestID: "m1", Member: "erin", Operator: "ops", At: at,
		Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("500")}},
			Pending: []migrate.Lot{{Amount: dec("40"), Release: ptsAt("2026-03-13 10:00")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fx, err := points.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.Changes) != 2 || fx.Changes[0].Kind != points.ChangeOpened || fx.Changes[1].Kind != points.ChangePending {
		t.Fatalf("changes %+v; want points.opened and points.pending", fx.Changes)
	}
	if len(fx.Earned) != 0 {
		t.Errorf("an opening earned %+v; want nothing", fx.Earned)
	}
}
