package export

import (
	"errors"
	"testing"

	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// The owed_gifts cell writes a reward's place only where the order of
// those listed does not say it: the k-th listed of its level and target
// is read as its k-th gift, so a place k there goes unwritten. Counted
// per level and target: Silver's and Gold's coupons of one template, and
// a coupon and a pack of one level, do not count for each other.
func TestOwedCell(t *testing.T) {
	gift := func(lvl string, r rule.Reward) level.Gift { return level.Gift{Level: lvl, Reward: r} }
	cash := rule.Reward{Kind: rule.RewardCoupon, Template: "cash"}
	cash2 := rule.Reward{Kind: rule.RewardCoupon, Template: "cash", Count: 2}
	pack := rule.Reward{Kind: rule.RewardPack, Pack: "p"}
	tests := []struct {
		name   string
		owed   []level.Gift
		places []int
		want   string
	}{
		{"none", nil, nil, ""},
		{"one, the first", []level.Gift{gift("Silver", cash)}, []int{1}, "Silver|coupon:cash"},
		{"one, the second", []level.Gift{gift("Silver", cash2)}, []int{2}, "Silver|coupon:cash|2"},
		{"both, in order", []level.Gift{gift("Silver", cash), gift("Silver", cash2)}, []int{1, 2}, "Silver|coupon:cash;Silver|coupon:cash"},
		// The second listed first: neither is where its order puts it.
		{"both, the second first", []level.Gift{gift("Silver", cash2), gift("Silver", cash)}, []int{2, 1}, "Silver|coupon:cash|2;Silver|coupon:cash|1"},
		// Gold's first coupon is the first of Gold's listed; the pack the
		// first pack listed, after a coupon.
		{"other levels and targets", []level.Gift{gift("Silver", cash2), gift("Gold", cash), gift("Silver", pack), gift("Silver", pack)}, []int{2, 1, 1, 2},
			"Silver|coupon:cash|2;Gold|coupon:cash;Silver|pack:p;Silver|pack:p"},
		{"a pack twice, the second owed", []level.Gift{gift("Silver", pack)}, []int{2}, "Silver|pack:p|2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := owedCell(level.Status{Owed: tt.owed, OwedPlaces: tt.places})
			if err != nil || got != tt.want {
				t.Errorf("owedCell = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// A separator in a name is refused: the import would split it.
	if _, err := owedCell(level.Status{Owed: []level.Gift{gift("Sil|ver", cash)}, OwedPlaces: []int{1}}); !errors.Is(err, ErrNotPortable) {
		t.Errorf("a level holding |: %v, want ErrNotPortable", err)
	}
}
