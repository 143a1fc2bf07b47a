package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/webhook"
)

// A bolt store restored from a backup gives the positions of the history
// it lost to new changes. Each of them reaches a receiver that
// de-duplicates on the delivery ID, which drops none of them: the ID was
// the consumer's and the position's alone, so every change after the
// restore went out under an ID the receiver had acted on, was answered
// 200 and dropped. The receiver fails each ID's first attempt, so that
// every change is retried: the retry carries the ID and the change of
// the first attempt (the audit receiver checks every request of an ID
// against its first).
func TestRestoreFromABackupDeliversEveryNewChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, backup := filepath.Join(dir, "program.db"), filepath.Join(dir, "backup.db")
	// dedup is the receiver's state: what it acted on under each ID, how
	// many requests of each ID it answered, and the repeats it dropped.
	var (
		acted   = map[string]json.RawMessage{}
		answers = map[string]int{}
		dropped []uint64
	)
	rc := newAuditReceiver(t, []byte(secret), func(r request) (int, string) {
		answers[r.ID]++
		switch {
		case acted[r.ID] != nil: // seen: answered 200, not acted on again
			dropped = append(dropped, r.Seq)
			return http.StatusOK, ""
		case answers[r.ID] == 1:
			return http.StatusServiceUnavailable, ""
		}
		acted[r.ID] = r.Change
		return http.StatusOK, ""
	})
	flush := func(st store.Store) int {
		t.Helper()
		d, err := webhook.New(openProgram(t, st), st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
			webhook.WithWait((&waits{}).wait), webhook.WithAttempts(3))
		if err != nil {
			t.Fatal(err)
		}
		n, err := d.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	st, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := openProgram(t, st)
	orders(t, p, "before", 1, "alice", "bob")
	flush(st)
	kept := feedAll(t, p)
	if _, err := st.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	orders(t, p, "lost", 2, "alice", "bob")
	flush(st)
	lost := feedAll(t, p)[len(kept):]
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore as README says: the host stopped, the backup copied to the
	// store's path, the old store's log files removed, the host started.
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	wal, err := filepath.Glob(path + "-wal-*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range wal {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	st, err = bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p = openProgram(t, st)
	if cur, err := p.Cursor(ctx, consumer); err != nil || cur != kept[len(kept)-1].Seq {
		t.Fatalf("cursor after the restore %d, %v; want the backup's %d", cur, err, kept[len(kept)-1].Seq)
	}
	orders(t, p, "after", 2, "alice", "bob")
	after := feedAll(t, p)[len(kept):]
	if len(after) != len(lost) || after[0].Seq != lost[0].Seq {
		t.Fatalf("%d changes after the restore from %d; the test needs the %d lost ones' positions from %d",
			len(after), after[0].Seq, len(lost), lost[0].Seq)
	}
	before := len(rc.requests())
	if n := flush(st); n != len(after) {
		t.Errorf("Flush after the restore = %d, want %d", n, len(after))
	}
	got := rc.requests()[before:] // under the receiver's lock: its state is read after

	if len(dropped) != 0 {
		t.Errorf("the receiver dropped changes %v as repeats, want none", dropped)
	}
	for _, c := range after {
		id := deliveryID(t, c)
		if !sameChange(t, acted[id], c) {
			t.Errorf("change %d: the receiver acted on %s under %s, want %s", c.Seq, acted[id], id, changeJSON(t, c))
		}
	}
	// Each change twice (the first attempt failed), both under its ID:
	// one ID per change, each answered twice.
	ids := map[uint64][]string{}
	for _, r := range got {
		ids[r.Seq] = append(ids[r.Seq], r.ID)
	}
	want := map[uint64][]string{}
	for _, c := range after {
		id := deliveryID(t, c)
		want[c.Seq] = []string{id, id}
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("requests' IDs by position after the restore (-want +got):\n%s", diff)
	}
}

// legacyRequest is a request as legacyReceiver got it.
type legacyRequest struct {
	Header, Body string // the delivery ID in the header and in the body
	Seq          uint64
	Attempt      int
}

// legacyReceiver verifies each request and records its delivery IDs as
// sent, whatever their form; it answers what status says (200 when it
// returns 0).
type legacyReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []legacyRequest
	status func(r legacyRequest) int
}

func newLegacyReceiver(t *testing.T, status func(legacyRequest) int) *legacyReceiver {
	rc := &legacyReceiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), []byte(secret), now, webhook.DefaultTolerance)
		}
		var d webhook.Delivery
		if err == nil {
			err = json.Unmarshal(body, &d)
		}
		if err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		attempt, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
		req := legacyRequest{Header: r.Header.Get(webhook.HeaderDelivery), Body: d.ID, Seq: d.Change.Seq, Attempt: attempt}
		rc.mu.Lock()
		rc.got = append(rc.got, req)
		s := rc.status(req)
		rc.mu.Unlock()
		if s == 0 {
			s = http.StatusOK
		}
		w.WriteHeader(s)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *legacyReceiver) requests() []legacyRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]legacyRequest(nil), rc.got...)
}

// A dead letter stored by the release before the change's digest joined
// the ID holds the ID it was sent with, "<consumer>-<seq>", and keeps it:
// DeadLetters lists it, Replay sends it (in every attempt), a failed
// replay keeps it, and so does the Deliverer when it sends the change
// again from the feed because the cursor had not passed it (the old
// release died before moving it), delivered or dead-lettered again.
func TestDeadLetterOfAnEarlierReleaseKeepsItsID(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := openProgram(t, st)
	orders(t, p, "a", 1, "alice", "bob")
	chs := feedAll(t, p)
	if len(chs) < 4 {
		t.Fatalf("%d changes; the test needs 4", len(chs))
	}
	// The earlier release's form: the first 8 bytes of SHA-256("crm"),
	// by sha256sum, a dash and the position.
	legacy := func(c change.Change) string { return "9261ceef0b969e70-" + strconv.FormatUint(c.Seq, 10) }
	// Dead letters of chs[0] (the cursor passed it), chs[1] and chs[2]
	// (it had not: the old release died first), stored as the earlier
	// release stored them, after 3 attempts.
	for _, c := range chs[:3] {
		v, err := json.Marshal(webhook.DeadLetter{ID: legacy(c), Change: c, Attempts: 3,
			Status: http.StatusServiceUnavailable, Error: "status 503 Service Unavailable", At: now})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Update(ctx, func(tx store.Tx) error { return tx.Put("webhook.dead."+consumer, keys.New().U64(c.Seq), v) })
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SetCursor(ctx, consumer, chs[0].Seq); err != nil {
		t.Fatal(err)
	}
	// The endpoint fails chs[1] until told otherwise, and the first
	// attempt of chs[0]'s replay.
	var fixed bool
	rc := newLegacyReceiver(t, func(r legacyRequest) int {
		switch {
		case r.Seq == chs[1].Seq && !fixed, r.Seq == chs[0].Seq && r.Attempt == 1:
			return http.StatusServiceUnavailable
		}
		return 0
	})
	d, err := webhook.New(p, st, consumer, rc.srv.URL, []byte(secret), webhook.WithClock(clock),
		webhook.WithWait((&waits{}).wait), webhook.WithAttempts(2))
	if err != nil {
		t.Fatal(err)
	}
	dls, err := d.DeadLetters(ctx, 0, 0)
	if err != nil || len(dls) != 3 || dls[0].ID != legacy(chs[0]) {
		t.Fatalf("DeadLetters = %+v, %v; want the earlier release's 3, the first with ID %s", dls, err, legacy(chs[0]))
	}

	// Flush sends chs[1] (2 attempts, failed: 3+2 = 5 attempts in its
	// dead letter) and chs[2] (1, acknowledged: its dead letter goes)
	// under their old IDs, the later changes under DeliveryID's.
	if n, err := d.Flush(ctx); err != nil || n != len(chs)-1 {
		t.Fatalf("Flush = %d, %v; want %d", n, err, len(chs)-1)
	}
	wantIDs := func(c change.Change, id string, n int) []legacyRequest {
		var rs []legacyRequest
		for i := range n {
			rs = append(rs, legacyRequest{Header: id, Body: id, Seq: c.Seq, Attempt: i + 1})
		}
		return rs
	}
	bySeq := func(rs []legacyRequest) map[uint64][]legacyRequest {
		m := map[uint64][]legacyRequest{}
		for _, r := range rs {
			m[r.Seq] = append(m[r.Seq], r)
		}
		return m
	}
	want := map[uint64][]legacyRequest{
		chs[1].Seq: wantIDs(chs[1], legacy(chs[1]), 2),
		chs[2].Seq: wantIDs(chs[2], legacy(chs[2]), 1),
	}
	for _, c := range chs[3:] {
		want[c.Seq] = wantIDs(c, deliveryID(t, c), 1)
	}
	if diff := cmp.Diff(want, bySeq(rc.requests())); diff != "" {
		t.Errorf("Flush's requests by position (-want +got):\n%s", diff)
	}
	dls, err = d.DeadLetters(ctx, 0, 0)
	if err != nil || len(dls) != 2 || dls[0].ID != legacy(chs[0]) || dls[0].Attempts != 3 ||
		dls[1].ID != legacy(chs[1]) || dls[1].Attempts != 5 {
		t.Fatalf("dead letters after Flush: %+v, %v; want chs[0]'s and chs[1]'s, old IDs, 3 and 5 attempts", dls, err)
	}

	// Replays: chs[0]'s fails once and goes through on its retry; chs[1]'s
	// goes through. Each attempt carries the old ID.
	before := len(rc.requests())
	rc.mu.Lock()
	fixed = true
	rc.mu.Unlock()
	for _, c := range chs[:2] {
		if err := d.Replay(ctx, c.Seq); err != nil {
			t.Errorf("Replay(%d) = %v", c.Seq, err)
		}
	}
	want = map[uint64][]legacyRequest{
		chs[0].Seq: wantIDs(chs[0], legacy(chs[0]), 2),
		chs[1].Seq: wantIDs(chs[1], legacy(chs[1]), 1),
	}
	if diff := cmp.Diff(want, bySeq(rc.requests()[before:])); diff != "" {
		t.Errorf("the replays' requests by position (-want +got):\n%s", diff)
	}
	if dls, err := d.DeadLetters(ctx, 0, 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after the replays: %+v, %v; want none", dls, err)
	}
}
