package tag_test

import (
	"testing"
	"time"

	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// The hand-written encoders of Stats, Change and Assigned decode to what
// json.Marshal's would, every optional field set and unset; Stats with
// tallies is left to json.Marshal.
func TestJSONMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 3, 15, 10, 0, 0, 123, testkit.Zone("Asia/Shanghai"))
	for _, c := range []struct {
		v  testkit.JSONAppender
		ok bool
	}{
		{tag.Stats{}, true},
		{tag.Stats{Recharged: testkit.Dec("200")}, true},
		{tag.Stats{FirstOrder: at, LastOrder: at.Add(time.Hour), Orders: -3, Amount: testkit.Dec("9.99"), Recharged: testkit.Dec("0.5")}, true},
		{tag.Stats{Orders: 1, Brands: map[string]tag.Tally{"b": {Orders: 1}}}, false},
		{tag.Stats{Categories: map[string]tag.Tally{"c": {}}}, false},
		{tag.Stats{Products: map[string]tag.Tally{"p": {}}}, false},
		{tag.Change{Tag: "vip", By: "rule"}, true},
		{tag.Change{Tag: "s\"t<a>f&f\u2028", Manual: true, By: "ops\\\x01", Note: "é\n"}, true},
		{tag.Assigned{Tag: "recent", By: "rule", At: at.UTC()}, true},
		{tag.Assigned{Tag: "s\"t", Manual: true, By: "ops<1>", At: at, Event: "e&1", Note: "n\u2029"}, true},
		{tag.Assigned{Tag: "x", By: "rule"}, true},
		{tag.Assigned{Tag: "x", By: "rule", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
	} {
		testkit.SameJSON(t, c.v, c.ok)
		if c.ok {
			testkit.AppendsWithoutAllocating(t, c.v)
		}
	}
}
