package membership

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A definition an earlier release accepted and recorded as the one in
// force, with an exchange rate beyond the limit on decimals (it checked
// only that the rate was positive), is refused by Open at its path with
// rule.ErrInvalidDefinition and event.ErrTooLarge, not a panic, and
// changes nothing: the same version with the rate corrected is
// ErrDefinitionConflict, as any other content of a recorded version is,
// and a newer version with it is taken.
func TestStoredDefinitionBeyondTheLimits(t *testing.T) {
	def := func(version uint64, rate decimal.Decimal) Definition {
		return Definition{Version: version, Zone: "UTC", Points: &points.Definition{
			Programs:  []points.Program{{Name: "shop"}, {Name: "park"}},
			Exchanges: []points.Exchange{{From: "shop", To: "park", Rate: rate}},
		}}
	}
	st := memory.New()
	p, err := Open(st, def(1, decimal.NewFromInt(2)))
	if err != nil {
		t.Fatal(err)
	}
	// Recorded as an earlier release's Open did, without the check.
	old := def(2, decimal.New(1, 70000))
	raw, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.eng.Install(context.Background(), old.Version, raw); err != nil {
		t.Fatal(err)
	}
	_, err = Open(st, old)
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errors.Is(err, event.ErrTooLarge) ||
		!strings.Contains(err.Error(), "points.exchanges[0].rate: beyond the program's size limit") {
		t.Errorf("Open of the recorded definition: %v; want rule.ErrInvalidDefinition and event.ErrTooLarge at points.exchanges[0].rate", err)
	}
	if _, err := Open(st, def(2, decimal.NewFromInt(2))); !errors.Is(err, ErrDefinitionConflict) {
		t.Errorf("Open of version 2 with the rate corrected: %v; want ErrDefinitionConflict", err)
	}
	if _, err := Open(st, def(3, decimal.NewFromInt(2))); err != nil {
		t.Errorf("Open of version 3 with the rate corrected: %v", err)
	}
}
