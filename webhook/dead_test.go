package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// Changes the endpoint refuses become dead letters that survive a
// restart; the operator lists them, replays them once the endpoint is
// fixed, or discards them.
func TestDeadLettersSurviveARestartAndReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "program.db")
	st, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := openProgram(t, st)
	orders(t, p, "a", 2, "alice", "bob")
	chs := feedAll(t, p)
	var bobs []change.Change
	for _, c := range chs {
		if c.Member == "bob" {
			bobs = append(bobs, c)
		}
	}
	if len(bobs) < 3 {
		t.Fatalf("bob has %d changes; the test needs 3", len(bobs))
	}
	var broken atomic.Bool
	broken.Store(true)
	rc := newReceiver(t, func(r request) action {
		if r.Member == "bob" && broken.Load() {
			return fail
		}
		return ack
	})
	open := func(st store.Store) *webhook.Deliverer {
		d, err := webhook.New(openProgram(t, st), st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
			webhook.WithWait((&waits{}).wait), webhook.WithAttempts(3), webhook.WithParallel(2))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := open(st)
	if n, err := d.Flush(ctx); err != nil || n != len(chs) {
		t.Fatalf("Flush = %d, %v; want %d, nil", n, err, len(chs))
	}
	want := webhook.Stats{Delivered: uint64(len(chs) - len(bobs)), Retried: 2 * uint64(len(bobs)), Dead: uint64(len(bobs))}
	if s := d.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if cur, _ := p.Cursor(ctx, consumer); cur != chs[len(chs)-1].Seq {
		t.Errorf("cursor %d, want %d: a dead letter counts as done", cur, chs[len(chs)-1].Seq)
	}
	check := func(d *webhook.Deliverer, attempts int) {
		t.Helper()
		dls, err := d.DeadLetters(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != len(bobs) {
			t.Fatalf("%d dead letters, want %d", len(dls), len(bobs))
		}
		for i, dl := range dls {
			c := bobs[i]
			if dl.ID != deliveryID(t, c) || dl.Attempts != attempts || dl.Status != http.StatusServiceUnavailable ||
				!dl.At.Equal(now) || !strings.Contains(dl.Error, "503") || !sameChange(t, changeJSON(t, dl.Change), c) {
				t.Errorf("dead letter %d = %+v, want change %d after %d attempts ending in 503", i, dl, c.Seq, attempts)
			}
		}
		// Paging by position.
		page, err := d.DeadLetters(ctx, 0, 1)
		if err != nil || len(page) != 1 || page[0].Change.Seq != bobs[0].Seq {
			t.Errorf("first page of 1: %+v, %v", page, err)
		}
		rest, err := d.DeadLetters(ctx, bobs[0].Seq, 100)
		if err != nil || len(rest) != len(bobs)-1 || rest[0].Change.Seq != bobs[1].Seq {
			t.Errorf("after %d: %+v, %v", bobs[0].Seq, rest, err)
		}
		// A negative limit used to mean 100; it is refused, naming the
		// limit (event.PageSize). A huge one is clamped to 1,000.
		if _, err := d.DeadLetters(ctx, 0, -1); !errors.Is(err, webhook.ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("limit -1: %v; want ErrInvalidArgument naming the limit", err)
		}
		if all, err := d.DeadLetters(ctx, 0, 1<<40); err != nil || len(all) != len(bobs) {
			t.Errorf("limit 2^40: %d, %v; want %d", len(all), err, len(bobs))
		}
	}
	check(d, 3)

	// Restart: the store closed and opened again, a new program and
	// deliverer; the dead letters are there, and nothing is sent again.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	before := len(rc.requests())
	d = open(st)
	check(d, 3)
	if n, err := d.Flush(ctx); err != nil || n != 0 || len(rc.requests()) != before {
		t.Errorf("Flush after the restart = %d, %v, %d requests; want nothing sent", n, err, len(rc.requests())-before)
	}

	// A replay while the endpoint still fails keeps the letter, with the
	// attempts added.
	if err := d.Replay(ctx, bobs[0].Seq); !errors.Is(err, webhook.ErrUndelivered) {
		t.Errorf("Replay while broken = %v, want ErrUndelivered", err)
	}
	dls, _ := d.DeadLetters(ctx, 0, 1)
	if len(dls) != 1 || dls[0].Attempts != 6 {
		t.Errorf("after a failed replay: %+v, want 6 attempts", dls)
	}

	// Fixed: replay the first two, discard the rest.
	broken.Store(false)
	before = len(rc.requests())
	for _, c := range bobs[:2] {
		if err := d.Replay(ctx, c.Seq); err != nil {
			t.Errorf("Replay(%d) = %v", c.Seq, err)
		}
	}
	got := rc.requests()[before:]
	if len(got) != 2 || got[0].Seq != bobs[0].Seq || got[1].Seq != bobs[1].Seq ||
		got[0].ID != deliveryID(t, bobs[0]) {
		t.Errorf("replays sent %+v, want bob's first two changes, with their delivery IDs", got)
	}
	for _, c := range bobs[2:] {
		if err := d.Discard(ctx, c.Seq); err != nil {
			t.Errorf("Discard(%d) = %v", c.Seq, err)
		}
	}
	if n := len(rc.requests()) - before; n != 2 {
		t.Errorf("%d requests, want the 2 replays (Discard sends nothing)", n)
	}
	if dls, err := d.DeadLetters(ctx, 0, 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after replay and discard: %+v, %v; want none", dls, err)
	}
	if s := d.Stats(); s != (webhook.Stats{Replayed: 2, Retried: 2}) {
		t.Errorf("Stats after the restart = %+v, want 2 replayed and the failed replay's 2 retries", s)
	}
	if err := d.Replay(ctx, bobs[0].Seq); !errors.Is(err, webhook.ErrNoDeadLetter) {
		t.Errorf("Replay of a replayed letter = %v, want ErrNoDeadLetter", err)
	}
	if err := d.Discard(ctx, bobs[0].Seq); !errors.Is(err, webhook.ErrNoDeadLetter) {
		t.Errorf("Discard of a replayed letter = %v, want ErrNoDeadLetter", err)
	}
}

// Damaged dead letters are errors, never a panic or a silent misread.
func TestDamagedDeadLetters(t *testing.T) {
	ctx := context.Background()
	// crmHash and otherHash are the first 8 bytes of the SHA-256 of
	// "crm" and "other", by sha256sum: the IDs' consumer part.
	const crmHash, otherHash = "9261ceef0b969e70", "d9298a10d1b07358"
	own7 := deliveryID(t, change.Change{Seq: 7})
	digest := own7[len(crmHash+"-7-"):] // the change's, 16 hex digits
	for _, tt := range []struct {
		name  string
		key   []byte
		value string
	}{
		{"not JSON", keys.New().U64(7), "{"},
		{"another position", keys.New().U64(7), `{"id":"` + deliveryID(t, change.Change{Seq: 8}) + `","change":{"seq":8},"attempts":1}`},
		{"the ID of another position", keys.New().U64(7), `{"id":"` + crmHash + "-8-" + digest + `","change":{"seq":7},"attempts":1}`},
		{"another consumer's ID", keys.New().U64(7), `{"id":"` + otherHash + "-7-" + digest + `","change":{"seq":7},"attempts":1}`},
		// An earlier release's form (no digest) is taken for this
		// consumer and position only.
		{"another consumer's ID of the earlier form", keys.New().U64(7), `{"id":"` + otherHash + `-7","change":{"seq":7},"attempts":1}`},
		{"an ID of the earlier form of another position", keys.New().U64(7), `{"id":"` + crmHash + `-70","change":{"seq":7},"attempts":1}`},
		{"a digest cut short", keys.New().U64(7), `{"id":"` + own7[:len(own7)-1] + `","change":{"seq":7},"attempts":1}`},
		{"a digest in capitals", keys.New().U64(7), `{"id":"` + crmHash + "-7-" + strings.ToUpper(digest) + `","change":{"seq":7},"attempts":1}`},
		{"no attempts", keys.New().U64(7), `{"id":"` + own7 + `","change":{"seq":7}}`},
		{"short key", []byte{7}, `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := memory.New()
			err := st.Update(ctx, func(tx store.Tx) error {
				return tx.Put("webhook.dead."+consumer, tt.key, []byte(tt.value))
			})
			if err != nil {
				t.Fatal(err)
			}
			d, err := webhook.New(openProgram(t, st), st, consumer, "http://127.0.0.1:9/", []byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			// The consumer is named once: the decoding named it too,
			// and the message read "webhook: crm: …: webhook: crm: …".
			once := func(err error) bool { return strings.Count(err.Error(), "webhook: "+consumer+":") == 1 }
			if _, err := d.DeadLetters(ctx, 0, 0); !errors.Is(err, webhook.ErrCorrupt) || !errors.Is(err, store.ErrCorrupt) || !once(err) {
				t.Errorf("DeadLetters = %v, want ErrCorrupt naming the consumer once", err)
			}
			if len(tt.key) == 8 {
				if err := d.Replay(ctx, 7); !errors.Is(err, webhook.ErrCorrupt) || !once(err) {
					t.Errorf("Replay = %v, want ErrCorrupt naming the consumer once", err)
				}
			}
		})
	}
}

// A member's erasure (membership.Program.Erase) drops the member's dead
// letters, which hold the member's changes as they were, once its change
// is delivered or dead-lettered; another member's stay, and so does the
// erasure's own, which holds no personal data.
func TestErasureDropsTheMembersDeadLetters(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 2, "alice", "bob", "carol")
	// alice's first change, bob's changes but his erasure, and all of
	// carol's fail.
	rc := newReceiver(t, func(r request) action {
		erasure := strings.Contains(string(r.Change), `"kind":"`+change.MemberErased+`"`)
		if r.Member == "alice" && r.Seq == 1 || r.Member == "bob" && !erasure || r.Member == "carol" {
			return fail
		}
		return ack
	})
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait((&waits{}).wait), webhook.WithAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	// dead counts the dead letters by member, and the erasures apart.
	dead := func() map[string]int {
		t.Helper()
		dls, err := d.DeadLetters(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, dl := range dls {
			k := dl.Change.Member
			if dl.Change.Kind == change.MemberErased {
				k += " erased"
			}
			n[k]++
		}
		return n
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := dead()
	if before["alice"] != 1 || before["bob"] == 0 || before["carol"] != before["bob"] {
		t.Fatalf("dead letters before the erasures: %v; the test needs alice's one, and bob's and carol's", before)
	}
	for _, m := range []string{"bob", "carol"} {
		if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-" + m, Member: m, Operator: "dpo",
			At: time.Date(2026, 2, 2, 10, 0, 0, 0, p.Location())}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"alice": 1, "carol erased": 1}
	if diff := cmp.Diff(want, dead()); diff != "" {
		t.Errorf("dead letters after bob's and carol's erasures (-want +got):\n%s", diff)
	}
}
