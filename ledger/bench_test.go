package ledger_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// benchPost posts, per store transaction, what an order does to a member's
// points and growth (a credit of a new lot with an expiry, a growth
// credit) and a spend of the points, for members m0…m999 in turn, on a
// ledger that setStripes configures.
func benchPost(b *testing.B, setStripes func(l *ledger.Ledger)) {
	st := memory.New()
	ctx := context.Background()
	ten, exp := d("10"), t0.AddDate(1, 0, 0)
	gpool := ledger.Pool(ledger.Growth, "earned")
	var legs [3][2]ledger.Leg
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := "m" + strconv.Itoa(i%1000)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		legs[0] = [2]ledger.Leg{{Account: ledger.MemberAccount(m, pts, ""), Amount: ten, Expires: exp}, {Account: issued, Amount: ten.Neg()}}
		legs[1] = [2]ledger.Leg{{Account: ledger.MemberAccount(m, ledger.Growth, ""), Amount: ten}, {Account: gpool, Amount: ten.Neg()}}
		legs[2] = [2]ledger.Leg{{Account: ledger.MemberAccount(m, pts, ""), Amount: ten.Neg()}, {Account: redeemed, Amount: ten}}
		err := st.Update(ctx, func(tx store.Tx) error {
			l := ledger.New(tx, shanghai)
			setStripes(l)
			for j, kind := range []ledger.Kind{"earned", "earned", "redeemed"} {
				if _, err := l.Post(ledger.Transaction{Time: at, Kind: kind, Legs: legs[j][:]}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPost posts with one stripe, as memory and bolt do.
func BenchmarkPost(b *testing.B) { benchPost(b, func(*ledger.Ledger) {}) }

// BenchmarkPostStripes posts with 1,024 stripes, as a store that runs
// Updates concurrently asks for.
func BenchmarkPostStripes(b *testing.B) { benchPost(b, func(l *ledger.Ledger) { l.SetStripes(1024) }) }
