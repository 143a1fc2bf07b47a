package points_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// TestRecordVersions: a day, an order or a review that holds a field the
// release before this one does not know (Day.Voided, a grant's Charged,
// Review.Frozen) is written in version 2, its first byte 2, which that
// release's decoder refuses: it read these records with record.Get,
// json.Unmarshal alone, and wrote them back without the field (a day
// voided losing its Voided at the member's next order that day). Its
// instances now report such a record as damage and write nothing while a
// deploy rolls. One without those fields stays version 1, plain JSON,
// which both releases read. Both read back here with every field.
//
// Risk control freezes a day at 100 earned. o-9 earns 50 on 9 March (L9,
// permanent); on 10 March o-1 earns 60 (L1), 40 of which are redeemed,
// and o-2 earns 60 (L2) at 10:00: the day reaches 120 and freezes, its
// review taking the points at 10:00; bob voids the day at 12:00. On 11
// March o-1 is refunded in full: its 20 voided are lapsed, its 40 spent
// are taken from L9 (charged), the only spendable lot.
func TestRecordVersions(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, refundDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
	}))
	if err != nil {
		t.Fatal(err)
	}
	lot := func(out []*change.Outcome) string {
		t.Helper()
		pc, _ := ptsChange(t, out[0], points.ChangeEarned)
		return pc.Lot
	}
	day := func(date string) []byte { return keys.New().Str("mall").Str("m").Str(date) }
	review := keys.New().Str("mall").Str("2026-03-10").Str("m")
	// version checks the first byte of the record at bucket/key, and what
	// the earlier release's decoder, json.Unmarshal into the record's
	// type, makes of it: an error for version 2, the record for 1.
	version := func(bucket string, key []byte, v any, want byte) {
		t.Helper()
		err := st.View(ctx, func(tx store.Tx) error {
			raw, err := tx.Get(bucket, key)
			if err != nil {
				return err
			}
			got := raw[0]
			if got == '{' {
				got = 1
			}
			if got != want {
				t.Errorf("%s %q of version %d, want %d: %q", bucket, key, got, want, raw)
			}
			if err := json.Unmarshal(raw, v); (err != nil) != (want == 2) {
				t.Errorf("%s %q: the earlier release's decoder: %v; want an error only for version 2", bucket, key, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	l9 := lot(mustProcess(t, p, refundBuy("9", "forever", "50", "2026-03-09 10:00")))
	l1 := lot(mustProcess(t, p, refundBuy("1", "short", "60", "2026-03-10 09:00")))
	settleRedeem("40", "2026-03-10 09:30")(t, p)
	out := mustProcess(t, p, refundBuy("2", "short", "60", "2026-03-10 10:00"))
	if fc, _ := ptsChange(t, out[0], points.ChangeFrozen); !fc.Amount.Equal(dec("80")) {
		t.Fatalf("frozen %s, want 80 (L1's 20, L2's 60)", fc.Amount)
	}
	l2 := lot(out)
	version("points.day", day("2026-03-09"), &points.Day{}, 1)
	version("points.day", day("2026-03-10"), &points.Day{}, 1) // frozen, not voided yet
	version("points.review", review, &points.Review{}, 2)
	version("points.order", []byte("o-1"), &points.Order{}, 1)

	if _, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "void", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-10 12:00")}); err != nil {
		t.Fatal(err)
	}
	version("points.day", day("2026-03-10"), &points.Day{}, 2)
	version("points.day", day("2026-03-09"), &points.Day{}, 1)

	settleRefund("rf", "o-1", "60", "2026-03-11 09:00")(t, p)
	version("points.order", []byte("o-1"), &points.Order{}, 2)
	version("points.order", []byte("o-2"), &points.Order{}, 1)
	version("points.order", []byte("o-9"), &points.Order{}, 1)

	// Each reads back here, version 2 with its field.
	h := p.Points()
	d, err := h.Day(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-10"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{l1, l2}, d.Voided); diff != "" {
		t.Errorf("Day.Voided (-want +got):\n%s", diff)
	}
	if d, err := h.Day(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-09"}); err != nil || !d.Earned.Equal(dec("50")) {
		t.Errorf("day of 9 March: %+v, %v; want 50 earned", d, err)
	}
	rv, err := h.Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-10"})
	if err != nil || !rv.Frozen.Equal(ptsAt("2026-03-10 10:00")) || rv.State != points.ReviewVoided {
		t.Errorf("review: %+v, %v; want voided, Frozen at 10:00", rv, err)
	}
	o, found, err := h.Order(ctx, "o-1")
	if err != nil || !found || len(o.Grants) != 1 || len(o.Grants[0].Charged) != 1 {
		t.Fatalf("order o-1: %+v, %v, %v; want one grant charging one lot", o, found, err)
	}
	if c := o.Grants[0].Charged[0]; c.Lot != l9 || !c.Amount.Equal(dec("40")) {
		t.Errorf("o-1 charged %s to %s, want 40 to %s", c.Amount, c.Lot, l9)
	}
	if o, found, err := h.Order(ctx, "o-9"); err != nil || !found || !o.Amount.Equal(dec("50")) {
		t.Errorf("order o-9: %+v, %v, %v; want 50", o, found, err)
	}
}
