package task

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// A progress record, on arbitrary bytes: it reads as progress whose
// record (as the part writes it, with the task's fingerprint) reads as it
// again, and the bytes followed by one more do not read (none is
// ignored); or it fails with an error wrapping store.ErrCorrupt; never
// panics. A record may encode longer than the bytes read: a field it
// lacks reads as zero and is written. The task's fingerprint is one the
// part knows, and so is a legacy one: progress carrying neither restarts
// (reads as zero). CI runs the seeds and testdata/fuzz; go test
// -fuzz=FuzzProgressRecord looks further.
func FuzzProgressRecord(f *testing.F) {
	tk := Task{Name: "both", Kind: All, Steps: []Step{{Event: "order"}, {Event: "review"}}}
	p := newPart(Definition{Tasks: []Task{tk}})
	p.legacy = map[string]string{tk.Name: p.fps[tk.Name]}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for _, r := range []progressRecord{
		{Progress: Progress{Steps: []int{1, 0}, Started: at, Updated: at}, Fingerprint: p.fps[tk.Name]},
		{Progress: Progress{Steps: []int{1, 0}, Started: at, Updated: at.Add(time.Hour), Fits: [][]int{{0, 1}, nil}}, Fingerprint: p.fps[tk.Name]},
		// Damage: both steps done, yet not completed.
		{Progress: Progress{Steps: []int{1, 1}, Started: at, Updated: at}, Fingerprint: p.fps[tk.Name]},
		{Progress: Progress{Steps: []int{0, 1}, Updated: at}}, // written before fingerprints
		{Progress: Progress{Steps: []int{3}}, Fingerprint: "0123456789abcdef0123456789abcdef"},
	} {
		b, err := json.Marshal(r) // as the part writes it
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	k := []byte("m1\x00both")
	read := func(t *testing.T, b []byte) (Progress, error) {
		st := memory.New()
		defer st.Close()
		ctx := context.Background()
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(bProgress, k, b) }); err != nil {
			t.Fatal(err)
		}
		var got Progress
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = p.progress(tx, tk, k)
			return err
		})
		return got, err
	}
	opts := []cmp.Option{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		cmpopts.EquateEmpty()} // "fits": [] is written as no fits
	f.Fuzz(func(t *testing.T, b []byte) {
		pr, err := read(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("progress record %q: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		if _, err := read(t, append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("progress record %q reads with a byte more", b)
		}
		if pr.Steps == nil {
			return // restarts: the part writes no such record (Task.Step counts every step)
		}
		again, err := json.Marshal(progressRecord{Progress: pr, Fingerprint: p.fps[tk.Name]})
		if err != nil {
			t.Fatalf("progress record %q reads as %+v, which does not encode: %v", b, pr, err)
		}
		got, err := read(t, again)
		if err != nil || !cmp.Equal(got, pr, opts...) {
			t.Fatalf("progress record %q = %+v; its record %s reads as %+v, %v", b, pr, again, got, err)
		}
	})
}
