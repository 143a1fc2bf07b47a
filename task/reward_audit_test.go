package task_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/task"
)

// A coupon pack a task gives is published with the task's reason, as a
// coupon a task gives is (package doc: the rewards' changes name the task
// as their rule): each coupon.issued of the pack and its
// coupon.pack_issued have the rule "task.share" and the completing
// event's inputs, with the pack (and the method and mode) added. Before,
// they had the pack's and the templates' own reasons ("pack.mixed",
// "coupon.welcome") and nothing in them named the task. A pack an event
// gift gives is published with the gift's reason in the same way.
//
// The pack is in all-invalid mode, its formula-30 coupon of a stock of 1:
// the first share gets both coupons; the second share gets the welcome
// coupon alone (the pack goes on while a template can issue), its
// pack.issued naming formula-30 as short and saying so in the note; both
// completions stand with their 10 points. So m holds 3 coupons and 20
// points.
func TestTaskPackRewardNamesTheTask(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{
		{Kind: rule.RewardPack, Pack: "mixed"},
		{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")},
	}})
	def.Coupons.Templates[1].Stock, def.Coupons.Templates[1].Claim = 1, coupon.ClaimRule{}
	def.Coupons.Packs = append(def.Coupons.Packs, coupon.Pack{Name: "mixed", Mode: coupon.AllInvalid,
		Items: []coupon.PackItem{{Template: "welcome", Count: 1}, {Template: "formula-30", Count: 1}}})
	def.Coupons.Gifts = []coupon.Gift{{Event: "checkin", Pack: "starter"}}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Minute), nil),
				engEvent("c1", "m", "checkin", at.Add(2*time.Minute), nil))
			type reason struct {
				Kind, Rule, Note string
				Inputs           map[string]string
			}
			reasons := func(out *change.Outcome) []reason {
				var rs []reason
				for _, c := range out.Changes {
					if c.Kind == coupon.ChangeIssued || c.Kind == coupon.ChangePackIssued {
						rs = append(rs, reason{c.Kind, c.Reason.Rule, c.Reason.Note, c.Reason.Inputs})
					}
				}
				return rs
			}
			ev := func(id, typ string, kv ...string) map[string]string {
				in := map[string]string{"event": id, "type": typ, "step": "0"}
				for i := 0; i < len(kv); i += 2 {
					in[kv[i]] = kv[i+1]
				}
				return in
			}
			coupon1 := func(id string) reason {
				return reason{coupon.ChangeIssued, "task.share", "task share", ev(id, "share", "pack", "mixed")}
			}
			pack := func(id, note string) reason {
				return reason{coupon.ChangePackIssued, "task.share", note, ev(id, "share", "pack", "mixed", "method", "task", "mode", "all_invalid")}
			}
			gift := func(kv ...string) map[string]string {
				in := map[string]string{"event": "checkin", "pack": "starter"}
				for i := 0; i < len(kv); i += 2 {
					in[kv[i]] = kv[i+1]
				}
				return in
			}
			giftCoupon := reason{coupon.ChangeIssued, "coupons.gifts[0]", "", gift()}
			want := [][]reason{
				{coupon1("s1"), coupon1("s1"), pack("s1", "task share")},
				{coupon1("s2"), pack("s2", "task share; some templates ran out; the pack holds what was left")},
				{giftCoupon, giftCoupon, {coupon.ChangePackIssued, "coupons.gifts[0]", "", gift("method", "system", "mode", "any_invalid")}},
			}
			var got [][]reason
			for _, out := range outs {
				got = append(got, reasons(out))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reasons of the coupon changes per event (-want +got):\n%s", diff)
			}
			var short coupon.PackIssued
			if cs := outs[1].ChangesOf(coupon.ChangePackIssued); len(cs) != 1 || cs[0].Decode(&short) != nil ||
				!cmp.Equal(short.Short, []coupon.PackItem{{Template: "formula-30", Count: 1}}) || len(short.Coupons) != 1 {
				t.Errorf("second pack = %+v; want the welcome coupon, formula-30 short", short)
			}
			st, err := p.Tasks().Progress(context.Background(), "m")
			if err != nil || st[0].Completions != 2 {
				t.Errorf("status = %+v, %v; want 2 completions", st, err)
			}
			// 3 coupons of the task's packs and the gift's 2.
			if cs, bal := couponsOf(t, p, "m"), pointsOf(t, p, "m"); len(cs) != 5 || !bal.Equal(dec("20")) {
				t.Errorf("m holds %d coupons and %s points; want 5 and 20", len(cs), bal)
			}
		})
	}
}

// A coupon reward that package coupon refuses for any of its causes
// leaves the completion and the task's other rewards standing, and the
// refusal is published with its cause and the task's reason. Each task
// completes on every share; the first share's coupon is issued (but where
// noted), the second's refused:
//   - per member: a claim limit of one coupon per member;
//   - not eligible: the template's claim needs the tag M, which m does not
//     have (so the first share's is refused too);
//   - claim period: the template's claim period ends 30 s after the first
//     share, before the second;
//   - two of a stock of 3: the reward is two coupons, which are issued all
//     or none; after the first share's two, one is left;
//   - any-invalid pack: a pack of welcome and formula-30 (stock 1) in
//     any-invalid mode stops once formula-30 is out, though the pack has
//     stock left.
//
// Each share earns the 10 points.
func TestTaskCouponRewardRefusedForEachCause(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	pts := rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}
	tests := []struct {
		name   string
		reward rule.Reward
		edit   func(d *coupon.Definition)
		// causes: the refusal's cause per share ("": issued).
		causes  []string
		coupons int
	}{
		{"per member", rule.Reward{Kind: rule.RewardCoupon, Template: "formula-30"},
			func(d *coupon.Definition) { d.Templates[1].Claim = coupon.ClaimRule{PerMember: 1} },
			[]string{"", "limit_reached"}, 1},
		{"not eligible", rule.Reward{Kind: rule.RewardCoupon, Template: "formula-30"},
			func(d *coupon.Definition) {},
			[]string{"not_eligible", "not_eligible"}, 0},
		{"claim period", rule.Reward{Kind: rule.RewardCoupon, Template: "formula-30"},
			func(d *coupon.Definition) {
				d.Templates[1].Claim = coupon.ClaimRule{Period: rule.Window{To: at.Add(30 * time.Second)}}
			},
			[]string{"", "outside_period"}, 1},
		{"two of a stock of 3", rule.Reward{Kind: rule.RewardCoupon, Template: "formula-30", Count: 2},
			func(d *coupon.Definition) { d.Templates[1].Stock, d.Templates[1].Claim = 3, coupon.ClaimRule{} },
			[]string{"", "out_of_stock"}, 2},
		{"any-invalid pack", rule.Reward{Kind: rule.RewardPack, Pack: "mixed"},
			func(d *coupon.Definition) {
				d.Templates[1].Stock, d.Templates[1].Claim = 1, coupon.ClaimRule{}
				d.Packs = append(d.Packs, coupon.Pack{Name: "mixed", Stock: 10, Mode: coupon.AnyInvalid,
					Items: []coupon.PackItem{{Template: "welcome", Count: 1}, {Template: "formula-30", Count: 1}}})
			},
			[]string{"", "out_of_stock"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{tc.reward, pts}})
			tc.edit(def.Coupons)
			p := testkit.OpenMemory(t, def)
			outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Minute), nil))
			for i, out := range outs {
				if n := len(out.ChangesOf(task.ChangeCompleted)); n != 1 {
					t.Errorf("share %d: %d completions, want 1", i+1, n)
				}
				refused := out.ChangesOf(coupon.ChangeClaimRefused)
				var r coupon.Refusal
				switch {
				case tc.causes[i] == "" && len(refused) != 0:
					t.Errorf("share %d: refused %s", i+1, refused[0].Data)
				case tc.causes[i] != "" && (len(refused) != 1 || refused[0].Decode(&r) != nil || r.Cause != tc.causes[i] || refused[0].Reason.Rule != "task.share"):
					t.Errorf("share %d: refusals %+v (%+v); want one, %s, by task.share", i+1, refused, r, tc.causes[i])
				}
			}
			if cs, bal := couponsOf(t, p, "m"), pointsOf(t, p, "m"); len(cs) != tc.coupons || !bal.Equal(dec("20")) {
				t.Errorf("m holds %d coupons and %s points; want %d and 20", len(cs), bal, tc.coupons)
			}
		})
	}
}

// A reward that fails for another reason than a refusal fails the event,
// which then changes nothing: not the progress, the completion and its
// counters (the day limit's, the latest completion, the day's count), nor
// the rewards granted before it (the points, posted first). The task
// needs two check-ins, once a day, and gives 10 points then a formula-30
// coupon. m completes it on 2 March (c1, c2) and checks in on 3 March
// (c3, 1 of 2); the template's issued count is then damaged, so c4, which
// would complete the task again, fails with store.ErrCorrupt and every
// bucket reads as before. Once the count is repaired, c4 is taken (not a
// duplicate) and completes the task: 2 completions, 20 points, 2 coupons.
func TestTaskRewardErrorUndoesTheEvent(t *testing.T) {
	ctx := context.Background()
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, shanghai) }
	def := engDef(task.Task{Name: "pair", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"),
		Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}},
		Rewards: []rule.Reward{
			{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")},
			{Kind: rule.RewardCoupon, Template: "formula-30"},
		}})
	def.Coupons.Templates[1].Claim = coupon.ClaimRule{}
	buckets := []string{"coupon.coupons", "coupon.members", "coupon.codes", "coupon.stats", "coupon.stock", "due", "events", "feed", "ids",
		"ledger.bal", "ledger.day", "ledger.entry", "ledger.lot", "ledger.txn", "points.expiry",
		"task.daily", "task.done", "task.last", "task.limits", "task.progress"}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			p, err := membership.Open(st, def)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, engEvent("c1", "m", "checkin", day(2, 9), nil), engEvent("c2", "m", "checkin", day(2, 10), nil),
				engEvent("c3", "m", "checkin", day(3, 9), nil))
			stock := map[string][]byte{}
			err = st.View(ctx, func(tx store.Tx) error {
				return tx.Scan("coupon.stock", nil, nil, false, func(k, v []byte) error {
					stock[string(k)] = append([]byte(nil), v...)
					return nil
				})
			})
			if err != nil || len(stock) == 0 {
				t.Fatalf("issued counts %v, %v; want the template's", stock, err)
			}
			testkit.Overwrite(t, st, "coupon.stock", []byte("damaged"))
			before := testkit.Dump(t, st, buckets...)
			c4 := engEvent("c4", "m", "checkin", day(3, 10), nil)
			if _, err := p.Process(ctx, c4); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Process(c4) with the issued count damaged: %v; want store.ErrCorrupt", err)
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, buckets...)); diff != "" {
				t.Errorf("a failed event wrote (-before +after):\n%s", diff)
			}
			err = st.Update(ctx, func(tx store.Tx) error {
				for k, v := range stock {
					if err := tx.Put("coupon.stock", []byte(k), v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Process(ctx, c4)
			if err != nil || out.Duplicate || len(out.ChangesOf(task.ChangeCompleted)) != 1 {
				t.Fatalf("Process(c4) repaired: %+v, %v; want a completion, not a duplicate", out, err)
			}
			s, err := p.Tasks().Progress(ctx, "m")
			if err != nil || s[0].Completions != 2 || s[0].Done != 0 {
				t.Errorf("status = %+v, %v; want 2 completions", s, err)
			}
			if cs, bal := couponsOf(t, p, "m"), pointsOf(t, p, "m"); len(cs) != 2 || !bal.Equal(dec("20")) {
				t.Errorf("m holds %d coupons and %s points; want 2 and 20", len(cs), bal)
			}
		})
	}
}
