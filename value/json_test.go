package value_test

import (
	"testing"

	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/value"
)

// Change's hand-written encoder decodes to what json.Marshal's would.
func TestChangeJSONMatchesMarshal(t *testing.T) {
	for _, c := range []value.Change{
		{},
		{Amount: testkit.Dec("12.50"), Balance: testkit.Dec("-0.01")},
		{Amount: testkit.Dec("123456789012345678901234567890.5"), Balance: testkit.Dec("1e-20")},
	} {
		testkit.SameJSON(t, c, true)
	}
	// Amounts of every day (not of thirty digits) take no allocation.
	testkit.AppendsWithoutAllocating(t, value.Change{Amount: testkit.Dec("12.50"), Balance: testkit.Dec("1234.5")})
}
